//! The integration's settings, read from the environment the runner sets.

use std::fmt;
use std::str::FromStr;

use crate::Flaw;

/// Where message sends go (`WASIM_SURFACE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Surface {
    /// Meta's Cloud API: `POST $WASIM_GRAPH_URL/v23.0/{phone-number-id}/messages`
    /// with `Authorization: Bearer <access token>` (the default).
    #[default]
    Graph,
    /// 360dialog's messaging API: `POST $WASIM_D360_URL/messages` with
    /// `D360-API-KEY: <channel key>`.
    D360,
}

impl Surface {
    /// The name `WASIM_SURFACE` takes.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Graph => "graph",
            Surface::D360 => "d360",
        }
    }
}

impl FromStr for Surface {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "graph" => Ok(Surface::Graph),
            "d360" => Ok(Surface::D360),
            other => Err(format!("`{other}` is not a surface (graph or d360)")),
        }
    }
}

/// What the integration needs to talk to the simulated platform.
///
/// The Cloud API settings are required; everything about 360dialog is optional,
/// and a missing variable only disables the feature that needs it.
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
    /// Where message sends go (`WASIM_SURFACE`: `graph`, the default, or `d360`).
    pub surface: Surface,
    /// Base URL of 360dialog's messaging API (`WASIM_D360_URL`), without a
    /// trailing slash. Required when the surface is `d360`.
    pub d360_url: Option<String>,
    /// The channel key 360dialog sends start with (`WASIM_D360_API_KEY`).
    pub d360_api_key: Option<String>,
    /// Our 360dialog channel (`WASIM_CHANNEL_ID`): whose key `rotate_key` and a
    /// compromise replace, and which partner webhooks concern us.
    pub channel_id: Option<String>,
    /// Our WhatsApp Business Account (`WASIM_WABA_ID`): which partner webhooks
    /// concern us.
    pub waba_id: Option<String>,
    /// Base URL of 360dialog's Partner API (`WASIM_PARTNER_URL`, e.g.
    /// `http://127.0.0.1:8099/api/v2`), without a trailing slash.
    pub partner_url: Option<String>,
    /// Our partner id in Partner API paths (`WASIM_PARTNER_ID`).
    pub partner_id: Option<String>,
    /// Partner API login for a bearer token (`WASIM_PARTNER_USERNAME`).
    pub partner_username: Option<String>,
    /// Partner API password for a bearer token (`WASIM_PARTNER_PASSWORD`).
    pub partner_password: Option<String>,
    /// Partner API key, sent as `X-API-Key` and preferred over a bearer token
    /// (`WASIM_PARTNER_API_KEY`).
    pub partner_api_key: Option<String>,
    /// The key partner webhook signatures are made with (`WASIM_PARTNER_SECRET`);
    /// without it `/partner-webhook` refuses every post.
    pub partner_secret: Option<String>,
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
    pub(crate) fn from_lookup(
        flaw: Option<Flaw>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let optional = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let required = |name: &str| {
            optional(name).ok_or_else(|| format!("missing environment variable {name}"))
        };
        let url = |value: String| value.trim().trim_end_matches('/').to_owned();
        let graph_url = url(required("WASIM_GRAPH_URL")?);
        let access_token = required("WASIM_ACCESS_TOKEN")?;
        let phone_number_id = required("WASIM_PHONE_NUMBER_ID")?;
        let app_secret = required("WASIM_APP_SECRET")?;
        let verify_token = required("WASIM_VERIFY_TOKEN")?;
        let port_text = required("WASIM_WEBHOOK_PORT")?;
        let port = port_text.trim().parse::<u16>().map_err(|_| {
            format!("invalid environment variable WASIM_WEBHOOK_PORT: `{port_text}` is not a port")
        })?;
        let surface = match optional("WASIM_SURFACE") {
            None => Surface::Graph,
            Some(text) => text
                .parse()
                .map_err(|error| format!("invalid environment variable WASIM_SURFACE: {error}"))?,
        };
        let d360_url = optional("WASIM_D360_URL").map(url);
        if surface == Surface::D360 && d360_url.is_none() {
            return Err(
                "missing environment variable WASIM_D360_URL (WASIM_SURFACE is d360)".to_owned(),
            );
        }
        let id = |name: &str| optional(name).map(|value| value.trim().to_owned());
        Ok(Config {
            graph_url,
            access_token,
            phone_number_id,
            app_secret,
            verify_token,
            port,
            surface,
            d360_url,
            d360_api_key: optional("WASIM_D360_API_KEY"),
            channel_id: id("WASIM_CHANNEL_ID"),
            waba_id: id("WASIM_WABA_ID"),
            partner_url: optional("WASIM_PARTNER_URL").map(url),
            partner_id: id("WASIM_PARTNER_ID"),
            partner_username: optional("WASIM_PARTNER_USERNAME"),
            partner_password: optional("WASIM_PARTNER_PASSWORD"),
            partner_api_key: optional("WASIM_PARTNER_API_KEY"),
            partner_secret: optional("WASIM_PARTNER_SECRET"),
            flaw,
        })
    }

    /// The Cloud API messages endpoint.
    pub(crate) fn messages_url(&self) -> String {
        format!("{}/v23.0/{}/messages", self.graph_url, self.phone_number_id)
    }

    /// 360dialog's messages endpoint, if `WASIM_D360_URL` is set.
    pub(crate) fn d360_messages_url(&self) -> Option<String> {
        self.d360_url
            .as_ref()
            .map(|base| format!("{base}/messages"))
    }
}

/// Secrets are never printed: only whether they are set.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn secret(value: Option<&String>) -> &'static str {
            if value.is_some() {
                "<redacted>"
            } else {
                "<unset>"
            }
        }
        f.debug_struct("Config")
            .field("graph_url", &self.graph_url)
            .field("access_token", &"<redacted>")
            .field("phone_number_id", &self.phone_number_id)
            .field("app_secret", &"<redacted>")
            .field("verify_token", &"<redacted>")
            .field("port", &self.port)
            .field("surface", &self.surface)
            .field("d360_url", &self.d360_url)
            .field("d360_api_key", &secret(self.d360_api_key.as_ref()))
            .field("channel_id", &self.channel_id)
            .field("waba_id", &self.waba_id)
            .field("partner_url", &self.partner_url)
            .field("partner_id", &self.partner_id)
            .field("partner_username", &self.partner_username)
            .field("partner_password", &secret(self.partner_password.as_ref()))
            .field("partner_api_key", &secret(self.partner_api_key.as_ref()))
            .field("partner_secret", &secret(self.partner_secret.as_ref()))
            .field("flaw", &self.flaw)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The required variables only.
    pub(crate) fn required() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([
            ("WASIM_GRAPH_URL", "http://127.0.0.1:8099/"),
            ("WASIM_ACCESS_TOKEN", "token"),
            ("WASIM_PHONE_NUMBER_ID", "110000000000001"),
            ("WASIM_APP_SECRET", "secret"),
            ("WASIM_VERIFY_TOKEN", "verify"),
            ("WASIM_WEBHOOK_PORT", "3555"),
        ])
    }

    /// Every variable, 360dialog's included.
    pub(crate) fn full() -> BTreeMap<&'static str, &'static str> {
        let mut env = required();
        env.extend([
            ("WASIM_SURFACE", "d360"),
            ("WASIM_D360_URL", "http://127.0.0.1:8099/"),
            ("WASIM_D360_API_KEY", "channel-key-1"),
            ("WASIM_CHANNEL_ID", "chan_1"),
            ("WASIM_WABA_ID", "waba_1"),
            ("WASIM_PARTNER_URL", "http://127.0.0.1:8099/api/v2/"),
            ("WASIM_PARTNER_ID", "partner_1"),
            ("WASIM_PARTNER_USERNAME", "ops@example.com"),
            ("WASIM_PARTNER_PASSWORD", "hunter2-password"),
            ("WASIM_PARTNER_API_KEY", "partner-api-key"),
            ("WASIM_PARTNER_SECRET", "partner-webhook-secret"),
        ]);
        env
    }

    pub(crate) fn read(env: &BTreeMap<&'static str, &'static str>) -> Result<Config, String> {
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
        assert_eq!(config.surface, Surface::D360);
        assert_eq!(
            config.d360_messages_url().as_deref(),
            Some("http://127.0.0.1:8099/messages")
        );
        assert_eq!(config.d360_api_key.as_deref(), Some("channel-key-1"));
        assert_eq!(config.channel_id.as_deref(), Some("chan_1"));
        assert_eq!(config.waba_id.as_deref(), Some("waba_1"));
        assert_eq!(config.partner_id.as_deref(), Some("partner_1"));
        assert_eq!(config.partner_username.as_deref(), Some("ops@example.com"));
        assert_eq!(config.partner_api_key.as_deref(), Some("partner-api-key"));
        let partner_url = config.partner_url.as_deref();
        assert_eq!(partner_url, Some("http://127.0.0.1:8099/api/v2"));
        let partner_secret = config.partner_secret.as_deref();
        assert_eq!(partner_secret, Some("partner-webhook-secret"));
        let shown = format!("{config:?}");
        for secret in [
            "token\"",
            "secret\"",
            "channel-key-1",
            "hunter2-password",
            "partner-api-key",
            "partner-webhook-secret",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn the_error_names_the_missing_variable() {
        for name in required().keys() {
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

    #[test]
    fn without_the_optional_variables_the_cloud_api_surface_still_reads() {
        let config = read(&required()).expect("the required ones suffice");
        assert_eq!(config.surface, Surface::Graph);
        assert_eq!(config.d360_messages_url(), None);
        assert_eq!(config.d360_api_key, None);
        assert_eq!(config.channel_id, None);
        assert_eq!(config.partner_url, None);
        assert_eq!(config.partner_secret, None);
        let shown = format!("{config:?}");
        assert!(shown.contains("<unset>"), "{shown}");
    }

    #[test]
    fn a_missing_optional_variable_disables_only_its_own_feature() {
        // Each optional variable, left out alone, is the only setting missing.
        let optional: Vec<&str> = full()
            .keys()
            .filter(|name| !required().contains_key(*name))
            .copied()
            .filter(|name| !matches!(*name, "WASIM_SURFACE" | "WASIM_D360_URL"))
            .collect();
        let complete = read(&full()).expect("complete");
        for name in optional {
            let mut env = full();
            env.remove(name);
            let config = read(&env).expect(name);
            let unset = |config: &Config| -> Vec<&'static str> {
                [
                    ("WASIM_D360_API_KEY", config.d360_api_key.is_none()),
                    ("WASIM_CHANNEL_ID", config.channel_id.is_none()),
                    ("WASIM_WABA_ID", config.waba_id.is_none()),
                    ("WASIM_PARTNER_URL", config.partner_url.is_none()),
                    ("WASIM_PARTNER_ID", config.partner_id.is_none()),
                    ("WASIM_PARTNER_USERNAME", config.partner_username.is_none()),
                    ("WASIM_PARTNER_PASSWORD", config.partner_password.is_none()),
                    ("WASIM_PARTNER_API_KEY", config.partner_api_key.is_none()),
                    ("WASIM_PARTNER_SECRET", config.partner_secret.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, unset)| unset.then_some(name))
                .collect()
            };
            assert_eq!(unset(&config), [name]);
            assert!(unset(&complete).is_empty());
            assert_eq!(config.surface, Surface::D360, "{name}");
        }
    }

    #[test]
    fn the_surface_is_graph_or_d360_and_d360_needs_its_url() {
        let mut env = required();
        env.insert("WASIM_SURFACE", "graph");
        assert_eq!(read(&env).expect("graph").surface, Surface::Graph);
        env.insert("WASIM_SURFACE", "d360");
        let error = read(&env).expect_err("no WASIM_D360_URL");
        assert!(error.contains("WASIM_D360_URL"), "{error}");
        env.insert("WASIM_D360_URL", "http://127.0.0.1:1");
        assert_eq!(read(&env).expect("d360").surface, Surface::D360);
        env.insert("WASIM_SURFACE", "whatsapp");
        let error = read(&env).expect_err("unknown surface");
        assert!(error.contains("WASIM_SURFACE"), "{error}");
        assert!(!error.contains('\n'));
    }
}
