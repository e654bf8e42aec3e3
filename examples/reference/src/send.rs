//! The Cloud API client: one send, retried by the policy.
//!
//! Throughput (130429) and pair-rate (131056) errors are retried at most 3 times,
//! after 200, 400 and 800 ms; a bad token (HTTP 401 / code 190) and every other
//! error (a paused or disabled template's 132015/132016 among them) are not retried.
//!
//! The client can also ask to unpause a template (`POST /{template-id}/unpause`,
//! once, never retried); only flaw `auto-unpause` does.

use std::time::Duration;

use serde_json::Value;

use crate::{Config, Flaw};

/// Error code: throughput limit.
const CODE_THROUGHPUT: u64 = 130_429;
/// Error code: pair rate limit.
const CODE_PAIR_RATE: u64 = 131_056;
/// Error code: bad access token.
const CODE_ACCESS_TOKEN: u64 = 190;

/// Waits before the 1st, 2nd and 3rd retry of a rate-limited send.
const RATE_BACKOFF_MS: [u64; 3] = [200, 400, 800];
/// Immediate retries a hot-loop flaw makes.
const HOT_LOOP_RETRIES: u32 = 50;
/// Most time one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of failure a send met, for the retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// 130429 or 131056: back off and retry.
    RateLimited,
    /// HTTP 401 or code 190: the token is bad; retrying cannot help.
    BadToken,
    /// Anything else (including no answer): not retried.
    Other,
}

impl FailureClass {
    /// Classifies an error answer.
    pub(crate) fn of(http_status: Option<u16>, code: Option<u64>) -> FailureClass {
        match (http_status, code) {
            (_, Some(CODE_THROUGHPUT | CODE_PAIR_RATE)) => FailureClass::RateLimited,
            (Some(401), _) | (_, Some(CODE_ACCESS_TOKEN)) => FailureClass::BadToken,
            _ => FailureClass::Other,
        }
    }
}

/// How long to wait before retry number `retries + 1`, or `None` to give up.
pub(crate) fn retry_delay(
    class: FailureClass,
    retries: u32,
    flaw: Option<Flaw>,
) -> Option<Duration> {
    match (class, flaw) {
        (FailureClass::RateLimited, Some(Flaw::HotLoopRate))
        | (FailureClass::BadToken, Some(Flaw::HotLoopAuth)) => {
            (retries < HOT_LOOP_RETRIES).then_some(Duration::ZERO)
        }
        (FailureClass::RateLimited, _) => usize::try_from(retries)
            .ok()
            .and_then(|i| RATE_BACKOFF_MS.get(i))
            .map(|ms| Duration::from_millis(*ms)),
        (FailureClass::BadToken | FailureClass::Other, _) => None,
    }
}

/// The `message_status` of a send the pacing of its template holds.
const HELD: &str = "held_for_quality_assessment";

/// A send the Cloud API took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// The message's wamid.
    pub(crate) wamid: String,
    /// `message_status` was `held_for_quality_assessment`: template pacing holds
    /// the message, and will send it or drop it (132015) later. Not a failure.
    pub(crate) held: bool,
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The HTTP status, if there was an answer.
    pub(crate) http_status: Option<u16>,
    /// `error.code`, if the answer had one.
    pub(crate) code: Option<u64>,
    /// One line saying what happened.
    pub(crate) detail: String,
}

impl Failure {
    fn class(&self) -> FailureClass {
        FailureClass::of(self.http_status, self.code)
    }
}

/// What the Cloud API answered to an unpause request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unpause {
    /// `{"success": true}`: the template is unpaused.
    Success,
    /// `{"success": false, "reason": ...}`: refused, and why.
    Refused(String),
}

/// The Cloud API as the integration uses it.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    client: reqwest::Client,
    /// `WASIM_GRAPH_URL`, without a trailing slash.
    base_url: String,
    /// The messages endpoint of our number.
    url: String,
    token: std::sync::Arc<std::sync::Mutex<String>>,
    flaw: Option<Flaw>,
}

impl Graph {
    /// A client for `config`'s number.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Graph> {
        Ok(Graph {
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()?,
            base_url: config.graph_url.clone(),
            url: config.messages_url(),
            token: std::sync::Arc::new(std::sync::Mutex::new(config.access_token.clone())),
            flaw: config.flaw,
        })
    }

    /// Sends `body` under the retry policy; `what` names it in log lines, and
    /// `still_wanted` is asked before each retry (false after a reset).
    /// The accepted message on success.
    pub(crate) async fn send(
        &self,
        body: &Value,
        what: &str,
        still_wanted: impl Fn() -> bool,
    ) -> Result<Accepted, Failure> {
        let mut retries = 0;
        loop {
            let failure = match self.post(body).await {
                Ok(accepted) => return Ok(accepted),
                Err(failure) => failure,
            };
            let class = failure.class();
            let Some(delay) = retry_delay(class, retries, self.flaw) else {
                match (class, retries) {
                    (FailureClass::BadToken, 0) => println!(
                        "{what}: access token refused ({}), not retrying",
                        failure.detail
                    ),
                    (_, 0) => println!("{what}: failed ({}), not retrying", failure.detail),
                    _ => println!(
                        "{what}: giving up after {retries} retries ({})",
                        failure.detail
                    ),
                }
                return Err(failure);
            };
            if !still_wanted() {
                println!("{what}: state was reset, dropping the retry");
                return Err(failure);
            }
            retries += 1;
            println!(
                "{what}: retry {retries} in {} ms ({})",
                delay.as_millis(),
                failure.detail
            );
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }

    /// Asks once (no retries) to unpause template `template_id` (its digits):
    /// `POST {graph_url}/v23.0/{template_id}/unpause` with body `{}`. The answer
    /// says whether it was unpaused; a failure is an error answer or no answer.
    pub(crate) async fn unpause(&self, template_id: &str) -> Result<Unpause, Failure> {
        let url = format!("{}/v23.0/{template_id}/unpause", self.base_url);
        let (status, bytes) = self.post_raw(&url, "{}".to_owned()).await?;
        read_unpause_answer(status, &bytes)
    }

    /// Uses `token` from now on (the operator replaced the old one).
    pub(crate) fn set_token(&self, token: String) {
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token;
    }

    /// The flaw the client was built with.
    pub(crate) fn flaw(&self) -> Option<Flaw> {
        self.flaw
    }

    fn current_token(&self) -> String {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// One attempt.
    async fn post(&self, body: &Value) -> Result<Accepted, Failure> {
        let url = self.url.clone();
        let (status, bytes) = self.post_raw(&url, body.to_string()).await?;
        read_answer(status, &bytes)
    }

    /// Posts `body` as JSON with the current token; the status and raw answer.
    async fn post_raw(&self, url: &str, body: String) -> Result<(u16, Vec<u8>), Failure> {
        let response = self
            .client
            .post(url)
            .bearer_auth(self.current_token())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|error| Failure {
                http_status: None,
                code: None,
                detail: format!("no answer: {}", error.without_url()),
            })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|error| Failure {
            http_status: Some(status),
            code: None,
            detail: format!("HTTP {status}, unreadable body: {}", error.without_url()),
        })?;
        Ok((status, bytes.to_vec()))
    }
}

/// The message a success answer accepted (and whether pacing holds it), or the
/// failure an error answer describes.
pub(crate) fn read_answer(status: u16, body: &[u8]) -> Result<Accepted, Failure> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        let held = json
            .pointer("/messages/0/message_status")
            .and_then(Value::as_str)
            == Some(HELD);
        let wamid = json
            .pointer("/messages/0/id")
            .and_then(Value::as_str)
            .map(|wamid| Accepted {
                wamid: wamid.to_owned(),
                held,
            });
        return wamid.ok_or_else(|| Failure {
            http_status: Some(status),
            code: None,
            detail: format!("HTTP {status} without messages[0].id"),
        });
    }
    Err(error_failure(status, &json))
}

/// What an unpause answer says: `{"success": true}`, or `{"success": false,
/// "reason": ...}`; an error answer (or a success without `success`) is a failure.
pub(crate) fn read_unpause_answer(status: u16, body: &[u8]) -> Result<Unpause, Failure> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        return Err(error_failure(status, &json));
    }
    match json.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(Unpause::Success),
        Some(false) => {
            let reason = json
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("no reason given");
            Ok(Unpause::Refused(reason.replace('\n', " ")))
        }
        None => Err(Failure {
            http_status: Some(status),
            code: None,
            detail: format!("HTTP {status} without a boolean `success`"),
        }),
    }
}

/// The failure a Graph error answer (`{"error": {"code", "message"}}`) describes.
fn error_failure(status: u16, json: &Value) -> Failure {
    let code = json.pointer("/error/code").and_then(Value::as_u64);
    let message = json
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("no error message");
    let detail = match code {
        Some(code) => format!("HTTP {status}, code {code}: {message}"),
        None => format!("HTTP {status}: {message}"),
    };
    Failure {
        http_status: Some(status),
        code,
        detail: detail.replace('\n', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays(class: FailureClass, flaw: Option<Flaw>) -> Vec<Duration> {
        (0..)
            .map_while(|retries| retry_delay(class, retries, flaw))
            .collect()
    }

    #[test]
    fn errors_are_classified_by_code_and_status() {
        assert_eq!(
            FailureClass::of(Some(400), Some(130_429)),
            FailureClass::RateLimited
        );
        assert_eq!(
            FailureClass::of(Some(400), Some(131_056)),
            FailureClass::RateLimited
        );
        assert_eq!(
            FailureClass::of(Some(401), Some(190)),
            FailureClass::BadToken
        );
        assert_eq!(FailureClass::of(Some(401), None), FailureClass::BadToken);
        assert_eq!(
            FailureClass::of(Some(400), Some(190)),
            FailureClass::BadToken
        );
        assert_eq!(FailureClass::of(Some(400), Some(100)), FailureClass::Other);
        assert_eq!(FailureClass::of(None, None), FailureClass::Other);
    }

    #[test]
    fn rate_limits_back_off_three_times_and_nothing_else_retries() {
        let ms = |list: &[u64]| {
            list.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            delays(FailureClass::RateLimited, None),
            ms(&[200, 400, 800])
        );
        assert!(delays(FailureClass::BadToken, None).is_empty());
        assert!(delays(FailureClass::Other, None).is_empty());
        // Flaws that do not touch sending keep the policy.
        for flaw in Flaw::ALL
            .iter()
            .filter(|f| !matches!(f, Flaw::HotLoopRate | Flaw::HotLoopAuth))
        {
            assert_eq!(
                delays(FailureClass::RateLimited, Some(*flaw)),
                ms(&[200, 400, 800])
            );
            assert!(delays(FailureClass::BadToken, Some(*flaw)).is_empty());
        }
    }

    #[test]
    fn flaw_hot_loop_rate_retries_rate_limits_50_times_at_once() {
        let flaw = Some(Flaw::HotLoopRate);
        assert_eq!(
            delays(FailureClass::RateLimited, flaw),
            vec![Duration::ZERO; 50]
        );
        assert!(delays(FailureClass::BadToken, flaw).is_empty());
        assert!(delays(FailureClass::Other, flaw).is_empty());
    }

    #[test]
    fn flaw_hot_loop_auth_retries_a_bad_token_50_times_at_once() {
        let flaw = Some(Flaw::HotLoopAuth);
        assert_eq!(
            delays(FailureClass::BadToken, flaw),
            vec![Duration::ZERO; 50]
        );
        assert_eq!(delays(FailureClass::RateLimited, flaw).len(), 3);
        assert!(delays(FailureClass::Other, flaw).is_empty());
    }

    #[test]
    fn answers_are_read_in_graphs_shapes() {
        assert_eq!(
            read_answer(
                200,
                br#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.X","message_status":"accepted"}]}"#
            ),
            Ok(Accepted {
                wamid: "wamid.X".to_owned(),
                held: false
            })
        );
        assert_eq!(
            read_answer(200, br#"{"messages":[{"id":"wamid.T"}]}"#),
            Ok(Accepted {
                wamid: "wamid.T".to_owned(),
                held: false
            })
        );
        let failure = read_answer(
            400,
            br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}"#,
        )
        .expect_err("error");
        assert_eq!(failure.code, Some(130_429));
        assert_eq!(failure.class(), FailureClass::RateLimited);
        let failure = read_answer(401, b"not json").expect_err("error");
        assert_eq!(failure.class(), FailureClass::BadToken);
        assert!(read_answer(200, b"{}").is_err());
    }

    #[test]
    fn a_held_answer_is_accepted_and_marked_held() {
        let answer = br#"{"messaging_product":"whatsapp","contacts":[{"input":"55","wa_id":"55"}],"messages":[{"id":"wamid.H","message_status":"held_for_quality_assessment"}]}"#;
        assert_eq!(
            read_answer(200, answer),
            Ok(Accepted {
                wamid: "wamid.H".to_owned(),
                held: true
            })
        );
    }

    #[test]
    fn unpause_answers_are_read_as_success_refusal_or_failure() {
        assert_eq!(
            read_unpause_answer(200, br#"{"success": true}"#),
            Ok(Unpause::Success)
        );
        assert_eq!(
            read_unpause_answer(
                200,
                br#"{"success": false, "reason": "template is not paused"}"#
            ),
            Ok(Unpause::Refused("template is not paused".to_owned()))
        );
        assert_eq!(
            read_unpause_answer(200, br#"{"success": false}"#),
            Ok(Unpause::Refused("no reason given".to_owned()))
        );
        let failure = read_unpause_answer(
            400,
            br#"{"error":{"message":"(#100) Unknown template","type":"OAuthException","code":100}}"#,
        )
        .expect_err("error");
        assert_eq!((failure.http_status, failure.code), (Some(400), Some(100)));
        assert!(failure.detail.contains("Unknown template"), "{failure:?}");
        let failure = read_unpause_answer(401, b"").expect_err("error");
        assert_eq!(failure.class(), FailureClass::BadToken);
        assert!(read_unpause_answer(200, b"{}").is_err());
        assert!(read_unpause_answer(200, br#"{"success": "yes"}"#).is_err());
    }

    #[test]
    fn a_paused_or_disabled_template_is_refused_once_and_not_retried() {
        for code in [132_015_u64, 132_016] {
            let body = format!(
                r#"{{"error":{{"message":"(#{code}) Template is Paused","type":"OAuthException","code":{code}}}}}"#
            );
            let failure = read_answer(400, body.as_bytes()).expect_err("error");
            assert_eq!(failure.code, Some(code));
            assert_eq!(failure.class(), FailureClass::Other);
            for flaw in Flaw::ALL.iter().copied().map(Some).chain([None]) {
                assert!(delays(failure.class(), flaw).is_empty(), "{flaw:?}");
            }
        }
    }
}
