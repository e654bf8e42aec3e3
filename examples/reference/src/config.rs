//! The integration's settings, read from the environment the runner sets.

use std::fmt;

use crate::Flaw;

/// What the integration needs to talk to the simulated platform.
#[derive(Clone)]
pub struct Config {
    /// Base URL for Cloud API calls (`WASIM_GRAPH_URL`), without a trailing slash.
    pub graph_url: String,
    /// Bearer token for Cloud API calls (`WASIM_ACCESS_TOKEN`).
    pub access_token: String,
    /// The business number messages are sent from (`WASIM_PHONE_NUMBER_ID`).
    pub phone_number_id: String,
    /// The key webhook signatures are made with (`WASIM_APP_SECRET`).
    pub app_secret: String,
    /// The token the verification handshake must present (`WASIM_VERIFY_TOKEN`).
    pub verify_token: String,
    /// The port to listen on, on 127.0.0.1 (`WASIM_WEBHOOK_PORT`).
    pub port: u16,
    /// The one rule to break, if any.
    pub flaw: Option<Flaw>,
}

impl Config {
    /// Reads the settings from the `WASIM_*` environment variables.
    ///
    /// The error is one line naming the first missing (or invalid) variable.
    pub fn from_env(flaw: Option<Flaw>) -> Result<Config, String> {
        Config::from_lookup(flaw, |name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    fn from_lookup(
        flaw: Option<Flaw>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let required = |name: &str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| format!("missing environment variable {name}"))
        };
        let graph_url = required("WASIM_GRAPH_URL")?
            .trim_end_matches('/')
            .to_owned();
        let access_token = required("WASIM_ACCESS_TOKEN")?;
        let phone_number_id = required("WASIM_PHONE_NUMBER_ID")?;
        let app_secret = required("WASIM_APP_SECRET")?;
        let verify_token = required("WASIM_VERIFY_TOKEN")?;
        let port_text = required("WASIM_WEBHOOK_PORT")?;
        let port = port_text.trim().parse::<u16>().map_err(|_| {
            format!("invalid environment variable WASIM_WEBHOOK_PORT: `{port_text}` is not a port")
        })?;
        Ok(Config {
            graph_url,
            access_token,
            phone_number_id,
            app_secret,
            verify_token,
            port,
            flaw,
        })
    }

    /// The Cloud API messages endpoint.
    pub(crate) fn messages_url(&self) -> String {
        format!("{}/v23.0/{}/messages", self.graph_url, self.phone_number_id)
    }
}

/// Secrets are never printed.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("graph_url", &self.graph_url)
            .field("access_token", &"<redacted>")
            .field("phone_number_id", &self.phone_number_id)
            .field("app_secret", &"<redacted>")
            .field("verify_token", &"<redacted>")
            .field("port", &self.port)
            .field("flaw", &self.flaw)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn full() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([
            ("WASIM_GRAPH_URL", "http://127.0.0.1:8099/"),
            ("WASIM_ACCESS_TOKEN", "token"),
            ("WASIM_PHONE_NUMBER_ID", "110000000000001"),
            ("WASIM_APP_SECRET", "secret"),
            ("WASIM_VERIFY_TOKEN", "verify"),
            ("WASIM_WEBHOOK_PORT", "3555"),
        ])
    }

    fn read(env: &BTreeMap<&'static str, &'static str>) -> Result<Config, String> {
        Config::from_lookup(None, |name| env.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn a_full_environment_reads() {
        let config = read(&full()).expect("complete");
        assert_eq!(
            config.messages_url(),
            "http://127.0.0.1:8099/v23.0/110000000000001/messages"
        );
        assert_eq!(config.port, 3555);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("token\"") && !shown.contains("secret\""),
            "{shown}"
        );
    }

    #[test]
    fn the_error_names_the_missing_variable() {
        for name in full().keys() {
            let mut env = full();
            env.remove(name);
            let error = read(&env).expect_err("incomplete");
            assert!(error.contains(name), "{error}");
        }
        let mut env = full();
        env.insert("WASIM_WEBHOOK_PORT", "http");
        assert!(
            read(&env)
                .expect_err("bad port")
                .contains("WASIM_WEBHOOK_PORT")
        );
    }
}
