//! Meta's verification handshake: `GET <callback>?hub.mode=subscribe
//! &hub.challenge=<random>&hub.verify_token=<token>`; a receiver that accepts the
//! token answers 200 with the challenge as its body
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks>).

use std::time::Duration;

use super::deliver::{Stopwatch, describe_error};
use crate::model::numbers::HandshakeReport;
use crate::model::webhooks::Verification;

/// Most bytes of a handshake answer read.
const ANSWER_BYTES_MAX: usize = 4096;

/// Performs the handshake `verification` describes.
pub async fn handshake(
    client: &reqwest::Client,
    verification: &Verification,
    timeout: Duration,
    stopwatch: Stopwatch,
) -> HandshakeReport {
    let mut url = match reqwest::Url::parse(&verification.url) {
        Ok(url) => url,
        Err(error) => {
            return HandshakeReport {
                http_status: None,
                echoed: false,
                latency_ms: 0,
                error: Some(format!("invalid callback URL: {error}")),
            };
        }
    };
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.challenge", &verification.challenge)
        .append_pair("hub.verify_token", verification.verify_token.expose());
    let started = stopwatch();
    let result = client.get(url).timeout(timeout).send().await;
    let (http_status, echoed, error) = match result {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(body) => {
                    let body = &body[..body.len().min(ANSWER_BYTES_MAX)];
                    let echoed = status == 200
                        && std::str::from_utf8(body)
                            .is_ok_and(|text| text.trim() == verification.challenge);
                    let error = (!echoed).then(|| {
                        if status == 200 {
                            "answered 200 without echoing hub.challenge as the body".to_owned()
                        } else {
                            format!("answered {status} instead of 200 with hub.challenge")
                        }
                    });
                    (Some(status), echoed, error)
                }
                Err(error) => (
                    Some(status),
                    false,
                    Some(format!(
                        "failed to read the answer: {}",
                        error.without_url()
                    )),
                ),
            }
        }
        Err(error) if error.is_timeout() => {
            (None, false, Some(format!("timed out after {timeout:?}")))
        }
        Err(error) if error.is_connect() => (None, false, Some("connection refused".to_owned())),
        Err(error) => (None, false, Some(describe_error(error))),
    };
    HandshakeReport {
        http_status,
        echoed,
        latency_ms: u64::try_from(stopwatch().duration_since(started).as_millis())
            .unwrap_or(u64::MAX),
        error,
    }
}
