//! The number's account calls on the Cloud API: registration (the `register`
//! action) and the two-step verification PIN (reset after a compromise).
//!
//! Registration is asked once per `register` action. An error answer (100 not
//! available, 133016 rate limited, 133005 wrong PIN, ...) is logged and not
//! retried: the operator sends another `register` later. Only a 5xx or no answer
//! is retried, once.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Flaw;
use crate::send::{Failure, Platform, error_failure};

/// Immediate retries flaw `register-loop` makes after a register error.
const REGISTER_LOOP_RETRIES: u32 = 12;

/// The wait before the one retry of a register request that got a 5xx or no answer.
const REGISTER_RETRY_WAIT: Duration = Duration::from_millis(200);

/// Whether a register request that failed with `failure` after `retries` retries
/// is tried again: once if the platform did not answer or answered 5xx; never
/// after an error answer. Flaw `register-loop` retries every failure, up to 12 times.
pub(crate) fn register_retry(failure: &Failure, retries: u32, flaw: Option<Flaw>) -> bool {
    if flaw == Some(Flaw::RegisterLoop) {
        return retries < REGISTER_LOOP_RETRIES;
    }
    let transient = failure.http_status.is_none_or(|status| status >= 500);
    transient && retries == 0
}

/// The two-step verification PIN of reset number `counter` of `phone_number_id`:
/// six digits, deterministic (a hash of both), never logged.
pub(crate) fn derive_pin(phone_number_id: &str, counter: u64) -> String {
    let digest = Sha256::new()
        .chain_update(b"wasim-reference two-step PIN\0")
        .chain_update(phone_number_id.as_bytes())
        .chain_update(counter.to_le_bytes())
        .finalize();
    let number = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]) % 1_000_000;
    format!("{number:06}")
}

/// Reads a `{"success": true}` answer; anything else is a failure.
pub(crate) fn read_success(status: u16, body: &[u8]) -> Result<(), Failure> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        return Err(error_failure(status, &json));
    }
    if json.get("success").and_then(Value::as_bool) == Some(true) {
        Ok(())
    } else {
        let mut failure = error_failure(status, &json);
        failure.detail = format!("HTTP {status} without \"success\": true");
        Err(failure)
    }
}

/// Registers `phone_number_id` with `pin`:
/// `POST {graph}/v23.0/{id}/register` `{"messaging_product": "whatsapp", "pin"}`,
/// under [`register_retry`]. Logs one line per request outcome (never the PIN).
pub(crate) async fn register(
    platform: &Platform,
    phone_number_id: &str,
    pin: &str,
) -> Result<(), Failure> {
    let body = json!({"messaging_product": "whatsapp", "pin": pin});
    let path = format!("{phone_number_id}/register");
    let mut retries = 0;
    loop {
        let result = platform
            .post_graph(&path, &body)
            .await
            .and_then(|(status, bytes)| read_success(status, &bytes));
        let failure = match result {
            Ok(()) => {
                println!("register {phone_number_id}: registered");
                return Ok(());
            }
            Err(failure) => failure,
        };
        if !register_retry(&failure, retries, platform.flaw()) {
            println!(
                "register {phone_number_id}: failed ({}), not retrying; waiting for the operator",
                failure.detail
            );
            return Err(failure);
        }
        retries += 1;
        if platform.flaw() == Some(Flaw::RegisterLoop) {
            println!(
                "register {phone_number_id}: retry {retries} at once ({}) (flaw register-loop)",
                failure.detail
            );
        } else {
            println!(
                "register {phone_number_id}: retry {retries} in {} ms ({})",
                REGISTER_RETRY_WAIT.as_millis(),
                failure.detail
            );
            tokio::time::sleep(REGISTER_RETRY_WAIT).await;
        }
    }
}

/// Sets the two-step verification PIN of `phone_number_id` to `pin`, once:
/// `POST {graph}/v23.0/{id}` `{"pin"}` with the current access token.
pub(crate) async fn set_pin(
    platform: &Platform,
    phone_number_id: &str,
    pin: &str,
) -> Result<(), Failure> {
    let (status, bytes) = platform
        .post_graph(phone_number_id, &json!({"pin": pin}))
        .await?;
    read_success(status, &bytes)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    use super::*;
    use crate::config::tests::{read, required};
    use crate::testing::{self, header, serve_locally};

    fn failure(http_status: Option<u16>) -> Failure {
        Failure {
            http_status,
            code: None,
            from_360dialog: false,
            detail: String::new(),
        }
    }

    #[test]
    fn only_a_5xx_or_no_answer_is_retried_and_only_once() {
        for status in [None, Some(500), Some(503)] {
            assert!(register_retry(&failure(status), 0, None), "{status:?}");
            assert!(!register_retry(&failure(status), 1, None), "{status:?}");
        }
        for status in [400, 401, 403, 429] {
            assert!(!register_retry(&failure(Some(status)), 0, None), "{status}");
        }
        // Flaws other than register-loop keep the policy.
        for flaw in Flaw::ALL.iter().filter(|f| **f != Flaw::RegisterLoop) {
            assert!(!register_retry(&failure(Some(400)), 0, Some(*flaw)));
        }
    }

    #[test]
    fn flaw_register_loop_retries_every_error_12_times() {
        let flaw = Some(Flaw::RegisterLoop);
        let retries = (0..)
            .take_while(|n| register_retry(&failure(Some(400)), *n, flaw))
            .count();
        assert_eq!(retries, 12);
    }

    #[test]
    fn a_pin_is_six_digits_and_deterministic() {
        let pins: Vec<String> = (0..20).map(|n| derive_pin("110", n)).collect();
        for pin in &pins {
            assert_eq!(pin.len(), 6, "{pin}");
            assert!(pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
        }
        assert_eq!(derive_pin("110", 3), pins[3]);
        assert_ne!(derive_pin("111", 3), pins[3]);
        let mut unique = pins.clone();
        unique.sort();
        unique.dedup();
        assert!(unique.len() > 15, "{pins:?}");
    }

    #[test]
    fn success_answers_are_read() {
        assert_eq!(read_success(200, br#"{"success":true}"#), Ok(()));
        assert!(read_success(200, br#"{"success":false}"#).is_err());
        assert!(read_success(200, b"{}").is_err());
        let failure = read_success(
            400,
            br#"{"error":{"message":"(#133005) Two step verification PIN Mismatch","code":133005}}"#,
        )
        .expect_err("error");
        assert_eq!(failure.code, Some(133_005));
    }

    /// A Cloud API that answers every register request with `status` and `body`;
    /// the bodies and bearer tokens it saw.
    async fn graph(status: u16, body: &'static str) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let app = Router::new().route(
            "/v23.0/{id}/register",
            post(move |headers: HeaderMap, request: Bytes| {
                let record = record.clone();
                async move {
                    let auth = header(&headers, "authorization");
                    let json = serde_json::from_slice(&request).unwrap_or(Value::Null);
                    record.lock().expect("lock").push((auth, json));
                    (StatusCode::from_u16(status).expect("status"), body)
                }
            }),
        );
        (serve_locally(app).await, seen)
    }

    fn platform(url: &str, flaw: Option<Flaw>) -> Platform {
        let mut config = read(&required()).expect("config");
        config.graph_url = url.to_owned();
        config.flaw = flaw;
        testing::platform(&config)
    }

    const WRONG_PIN: &str =
        r#"{"error":{"message":"(#133005) Two step verification PIN Mismatch","code":133005}}"#;

    #[tokio::test]
    async fn a_register_error_is_asked_once() {
        let (url, seen) = graph(400, WRONG_PIN).await;
        let failure = register(&platform(&url, None), "110", "123456")
            .await
            .expect_err("error");
        assert_eq!(failure.code, Some(133_005));
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, "Bearer token");
        assert_eq!(
            seen[0].1,
            json!({"messaging_product": "whatsapp", "pin": "123456"})
        );
    }

    #[tokio::test]
    async fn a_register_5xx_is_retried_once() {
        let (url, seen) = graph(503, r#"{"error":{"message":"down","code":2}}"#).await;
        assert!(
            register(&platform(&url, None), "110", "123456")
                .await
                .is_err()
        );
        assert_eq!(seen.lock().expect("lock").len(), 2);
        let (url, seen) = graph(200, r#"{"success":true}"#).await;
        assert_eq!(
            register(&platform(&url, None), "110", "123456").await,
            Ok(())
        );
        assert_eq!(seen.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn flaw_register_loop_asks_13_times_in_all() {
        let (url, seen) = graph(400, WRONG_PIN).await;
        let platform = platform(&url, Some(Flaw::RegisterLoop));
        assert!(register(&platform, "110", "123456").await.is_err());
        assert_eq!(seen.lock().expect("lock").len(), 13);
    }
}
