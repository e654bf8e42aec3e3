//! Webhook bodies and signatures as Meta makes them
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks>),
//! with the ASCII-only JSON that client libraries check the signature against
//! (whatsapp-api-js 6.3.0, <https://www.npmjs.com/package/whatsapp-api-js>).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::trace::ascii_escape;

/// The header carrying Meta's signature.
pub const META_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The header carrying 360dialog's partner webhook signature: bare lowercase hex
/// HMAC-SHA256 of the body keyed with the partner's webhook secret (the hex
/// encoding is unconfirmed).
/// <https://docs.360dialog.com/partner/onboarding/webhook-events-and-setup/signature-validation>
pub const PARTNER_SIGNATURE_HEADER: &str = "x-360dialog-signature";

/// Serializes `value` as JSON with every non-ASCII character escaped as `\uXXXX`
/// (lowercase hex, surrogate pairs outside the BMP), as Meta does.
pub fn ascii_json(value: &Value) -> Vec<u8> {
    let text = serde_json::to_string(value).expect("JSON values serialize");
    ascii_escape(&text).into_bytes()
}

/// `sha256=<hex>`: HMAC-SHA256 of `body` keyed with `secret`.
pub fn meta_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(secret, body))
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// True if `header` is a valid Meta signature of `body` (constant-time compare).
pub fn verify_meta_signature(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(digest) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_ascii_characters_are_escaped_and_the_value_survives() {
        let value = json!({"text": "Grüße 👋"});
        let bytes = ascii_json(&value);
        assert!(bytes.is_ascii());
        let text = String::from_utf8(bytes.clone()).expect("ascii");
        assert!(text.contains("\\u00fc"), "{text}");
        assert!(text.contains("\\ud83d\\udc4b"), "{text}");
        let back: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(back, value);
    }

    #[test]
    fn signatures_verify_only_with_the_right_secret_and_body() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let header = meta_signature("s3cret", body);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
        assert!(verify_meta_signature("s3cret", body, &header));
        assert!(!verify_meta_signature("other", body, &header));
        assert!(!verify_meta_signature("s3cret", b"{}", &header));
        assert!(!verify_meta_signature(
            "s3cret",
            body,
            header.trim_start_matches("sha256=")
        ));
    }

    #[test]
    fn hmac_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_hex("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
