//! The credentials the integration presents, as the operator and key rotations
//! change them: the Cloud API access token and 360dialog's channel key.
//!
//! Secrets never reach a log line: [`fingerprint`] names one instead.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};

use crate::{Config, Flaw};

/// A short, stable name for `secret` that does not reveal it: `fp:` and the first
/// 8 hex digits of its SHA-256.
pub(crate) fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    format!("fp:{}", hex::encode(&digest[..4]))
}

/// What a change of credential did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyChange {
    /// Later requests (queued ones included) present the new credential.
    Replaced,
    /// The new credential is ignored by a flaw (`stale-token`, `stale-channel-key`).
    IgnoredByFlaw,
}

struct Current {
    access_token: String,
    channel_key: Option<String>,
    /// The channel key the integration started with (flaw `stale-channel-key`).
    first_channel_key: Option<String>,
}

/// The current credentials, shared by every sender.
pub(crate) struct Keys {
    current: Mutex<Current>,
    flaw: Option<Flaw>,
}

impl Keys {
    /// The credentials `config` starts with.
    pub(crate) fn new(config: &Config) -> Keys {
        Keys {
            current: Mutex::new(Current {
                access_token: config.access_token.clone(),
                channel_key: config.d360_api_key.clone(),
                first_channel_key: config.d360_api_key.clone(),
            }),
            flaw: config.flaw,
        }
    }

    /// Back to the credentials `config` starts with (`POST /wasim/reset`).
    pub(crate) fn reset(&self, config: &Config) {
        let fresh = Keys::new(config);
        let fresh = fresh
            .current
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        self.with(|current| *current = fresh);
    }

    fn with<T>(&self, f: impl FnOnce(&mut Current) -> T) -> T {
        f(&mut self.current.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The access token Cloud API calls present.
    pub(crate) fn access_token(&self) -> String {
        self.with(|current| current.access_token.clone())
    }

    /// Uses `token` for Cloud API calls from now on (flaw `stale-token` ignores it).
    pub(crate) fn set_access_token(&self, token: String) -> KeyChange {
        if self.flaw == Some(Flaw::StaleToken) {
            return KeyChange::IgnoredByFlaw;
        }
        self.with(|current| current.access_token = token);
        KeyChange::Replaced
    }

    /// The channel key 360dialog sends present: the current one (flaw
    /// `stale-channel-key`: the first one), if any.
    pub(crate) fn channel_key(&self) -> Option<String> {
        self.with(|current| {
            if self.flaw == Some(Flaw::StaleChannelKey) {
                current.first_channel_key.clone()
            } else {
                current.channel_key.clone()
            }
        })
    }

    /// Makes `key` the channel key (a rotation, or the operator handed it over):
    /// every later send presents it, including sends already queued. Flaw
    /// `stale-channel-key` keeps presenting the first key.
    pub(crate) fn set_channel_key(&self, key: String) -> KeyChange {
        self.with(|current| current.channel_key = Some(key));
        if self.flaw == Some(Flaw::StaleChannelKey) {
            KeyChange::IgnoredByFlaw
        } else {
            KeyChange::Replaced
        }
    }
}

/// Only fingerprints are shown.
impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (token, key) = self.with(|current| {
            (
                fingerprint(&current.access_token),
                current.channel_key.as_deref().map(fingerprint),
            )
        });
        f.debug_struct("Keys")
            .field("access_token", &token)
            .field("channel_key", &key)
            .field("flaw", &self.flaw)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::KeyChange::{IgnoredByFlaw, Replaced};
    use super::*;
    use crate::config::tests::{full, read};

    fn keys(flaw: Option<Flaw>) -> Keys {
        let mut config = read(&full()).expect("config");
        config.flaw = flaw;
        Keys::new(&config)
    }

    #[test]
    fn a_fingerprint_is_short_stable_and_not_the_secret() {
        let print = fingerprint("channel-key-1");
        assert_eq!(print, fingerprint("channel-key-1"));
        assert_ne!(print, fingerprint("channel-key-2"));
        assert_eq!(print.len(), 11);
        assert!(!print.contains("channel"));
    }

    #[test]
    fn a_new_channel_key_is_presented_from_then_on() {
        let keys = keys(None);
        assert_eq!(keys.channel_key().as_deref(), Some("channel-key-1"));
        assert_eq!(keys.set_channel_key("k2".to_owned()), Replaced);
        assert_eq!(keys.channel_key().as_deref(), Some("k2"));
        assert_eq!(keys.set_access_token("t2".to_owned()), Replaced);
        assert_eq!(keys.access_token(), "t2");
        let shown = format!("{keys:?}");
        assert!(!shown.contains("k2") && !shown.contains("t2\""), "{shown}");
    }

    #[test]
    fn flaw_stale_channel_key_keeps_presenting_the_first_key_and_only_that() {
        let keys = keys(Some(Flaw::StaleChannelKey));
        assert_eq!(keys.set_channel_key("k2".to_owned()), IgnoredByFlaw);
        assert_eq!(keys.channel_key().as_deref(), Some("channel-key-1"));
        // The access token still changes.
        assert_eq!(keys.set_access_token("t2".to_owned()), Replaced);
        assert_eq!(keys.access_token(), "t2");
    }

    #[test]
    fn flaw_stale_token_keeps_the_first_token_and_only_that() {
        let keys = keys(Some(Flaw::StaleToken));
        assert_eq!(keys.set_access_token("t2".to_owned()), IgnoredByFlaw);
        assert_eq!(keys.access_token(), "token");
        assert_eq!(keys.set_channel_key("k2".to_owned()), Replaced);
        assert_eq!(keys.channel_key().as_deref(), Some("k2"));
    }
}
