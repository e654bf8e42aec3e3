//! Fingerprints: what a trace, log or report shows in place of a secret.
//!
//! A fingerprint is HMAC-SHA256 of the secret under a key, cut to 48 bits
//! (`fp_` and 12 hex digits). Keyed, a short secret (a 6-digit PIN, a custom
//! webhook header, a URL password) cannot be found again by hashing a dictionary
//! against a shared trace. The key comes from the shell
//! ([`set_fingerprint_key`]): the `wasim` CLI keeps one per machine, printed
//! nowhere, so the same machine gives the same fingerprints (traces stay
//! byte-identical run to run) and other machines cannot reverse them. Code that
//! sets no key gets a built-in one.

use std::cell::RefCell;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The key fingerprints are made with, once set.
static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// The key used when none was set: fingerprints are then stable everywhere, and
/// reversible by whoever tries a dictionary against this public key.
const BUILT_IN_KEY: [u8; 32] = *b"wasim built-in fingerprint key!!";

/// Sets the fingerprint key for this process; the first call wins (false after).
pub fn set_fingerprint_key(key: [u8; 32]) -> bool {
    KEY.set(key).is_ok()
}

/// Secrets fingerprinted last on this thread, newest first: (secret, whether the
/// set key was used, fingerprint).
type Recent = Vec<(String, bool, String)>;

/// How many recent fingerprints a thread keeps.
const RECENT_MAX: usize = 8;

thread_local! {
    /// Every request fingerprints its credential, nearly always one of a few:
    /// an HMAC per request was a sixth of a send's cost over HTTP.
    static RECENT: RefCell<Recent> = const { RefCell::new(Vec::new()) };
}

/// A short, stable fingerprint of a secret: `fp_` and 12 hex digits of its keyed
/// HMAC-SHA256.
pub fn fingerprint(secret: &str) -> String {
    let keyed = KEY.get().is_some();
    let known = RECENT.with_borrow(|recent| {
        recent
            .iter()
            .find(|(held, with_key, _)| held == secret && *with_key == keyed)
            .map(|(_, _, print)| print.clone())
    });
    if let Some(print) = known {
        return print;
    }
    let key = KEY.get().unwrap_or(&BUILT_IN_KEY);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(secret.as_bytes());
    let digest = mac.finalize().into_bytes();
    let print = format!("fp_{}", hex::encode(&digest[..6]));
    RECENT.with_borrow_mut(|recent| {
        recent.insert(0, (secret.to_owned(), keyed, print.clone()));
        recent.truncate(RECENT_MAX);
    });
    print
}

/// Names of JSON fields that hold secrets (compared without case; `*_token`,
/// `*_key`, `*_secret` and `*password*` too).
const SECRET_FIELDS: &[&str] = &["pin", "token", "key", "secret", "password", "authorization"];

/// Whether a field named `name` holds a secret.
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_FIELDS.iter().any(|secret| {
        name == *secret
            || name.ends_with(&format!("_{secret}"))
            || (*secret == "password" && name.contains("password"))
    })
}

/// `value` with every string of a secret-bearing field (`pin`, `access_token`,
/// `api_key`, `password`, …, at any depth) replaced by its fingerprint: what a
/// trace records of a body that carries credentials.
pub fn redact_secrets(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        Value::String(text) if is_secret_field(name) => {
                            Value::String(fingerprint(text))
                        }
                        Value::Number(number) if is_secret_field(name) => {
                            Value::String(fingerprint(&number.to_string()))
                        }
                        other => redact_secrets(other),
                    };
                    (name.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_secrets).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn fingerprints_are_short_stable_and_do_not_contain_the_secret() {
        let print = fingerprint("wasim_test_access_token");
        assert_eq!(print, fingerprint("wasim_test_access_token"));
        assert_eq!(print.len(), 15);
        assert!(!print.contains("wasim"));
        assert_ne!(print, fingerprint("another"));
    }

    #[test]
    fn secret_fields_are_fingerprinted_at_any_depth_and_others_kept() {
        let body = serde_json::json!({
            "action": "register", "pin": "123456", "phone_number_id": "110",
            "nested": [{"access_token": "tok_secret", "D360-API-KEY": "k", "api_key": "key_secret",
                        "partner_password": "pw", "to": "5511987654321", "code": 246_810}],
        });
        let redacted = redact_secrets(&body);
        let text = redacted.to_string();
        for secret in ["123456", "tok_secret", "key_secret", "\"pw\""] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert_eq!(redacted["pin"], fingerprint("123456"));
        assert_eq!(redacted["nested"][0]["partner_password"], fingerprint("pw"));
        assert_eq!(redacted["phone_number_id"], "110");
        assert_eq!(redacted["nested"][0]["to"], "5511987654321");
        assert_eq!(redacted["nested"][0]["code"], 246_810);
    }

    #[test]
    fn a_fingerprint_is_keyed_not_a_plain_hash() {
        // The unsalted hash a dictionary would be checked against.
        let plain = format!(
            "fp_{}",
            &hex::encode(Sha256::digest("123456".as_bytes()))[..12]
        );
        assert_ne!(fingerprint("123456"), plain);
    }
}
