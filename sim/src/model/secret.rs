//! Secrets (tokens, keys, passwords): held as values, never shown in `Debug`.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::trace::fingerprint;

/// A credential. `Debug` prints its fingerprint; the value is reachable only through
/// [`Secret::expose`], so it cannot slip into a log line by accident. It serializes
/// as its value: only `GET /_wasim/world` does that, on purpose.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for comparing and signing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its fingerprint, for traces and logs.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.fingerprint())
    }
}

/// A URL without what may hold secrets: user info and query become fingerprints.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.split_once('/') {
                Some((authority, path)) => (authority, Some(path)),
                None => (rest, None),
            };
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => format!("{}@{host}", fingerprint(user_info)),
                None => authority.to_owned(),
            };
            match path {
                Some(path) => format!("{scheme}://{authority}/{path}"),
                None => format!("{scheme}://{authority}"),
            }
        }
        None => base.to_owned(),
    };
    match query {
        Some(query) => format!("{base}?{}", fingerprint(query)),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_a_fingerprint_and_never_the_secret() {
        let secret = Secret::from("wasim_test_access_token");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("wasim_test_access_token"), "{shown}");
        assert!(shown.contains(&fingerprint("wasim_test_access_token")));
        assert_eq!(secret.expose(), "wasim_test_access_token");
    }

    #[test]
    fn urls_lose_user_info_and_query_but_keep_host_and_path() {
        assert_eq!(
            redact_url("http://127.0.0.1:3000/webhook"),
            "http://127.0.0.1:3000/webhook"
        );
        let redacted = redact_url("http://user:pw_secret@host:1/hook?token=qs_secret");
        assert!(
            !redacted.contains("pw_secret") && !redacted.contains("qs_secret"),
            "{redacted}"
        );
        assert!(
            redacted.starts_with("http://fp_") && redacted.contains("@host:1/hook?fp_"),
            "{redacted}"
        );
    }
}
