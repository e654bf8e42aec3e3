//! Message sends, on the Cloud API or on 360dialog's messaging API, retried by
//! the policy; and the Cloud API's other calls (`post_graph`).
//!
//! Throughput (130429) and pair-rate (131056) errors are retried at most 3 times,
//! after 200, 400 and 800 ms; a bad credential (HTTP 401, code 190, or 360dialog's
//! `Invalid api_key`) and every other error (a paused or disabled template's
//! 132015/132016, 360dialog's template block among them) are not retried. One
//! exception: a send refused with 401 while its credential was replaced in the
//! meantime (a key rotation finished while it was in flight) is retried once, with
//! the new credential.
//!
//! The client can also ask to unpause a template (`POST /{template-id}/unpause`,
//! once, never retried); only flaw `auto-unpause` does.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::Surface;
use crate::keys::Keys;
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
/// The header 360dialog's messaging API reads the channel key from.
pub(crate) const D360_KEY_HEADER: &str = "D360-API-KEY";

/// What kind of failure a send met, for the retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// 130429 or 131056: back off and retry.
    RateLimited,
    /// HTTP 401 or code 190 (360dialog's `Invalid api_key` too): the credential
    /// is bad; retrying it cannot help.
    BadToken,
    /// 360dialog refused a template send with its own 400/403: template messaging
    /// is disabled for the WABA. Hold the template until it is enabled again.
    TemplateBlocked,
    /// Anything else (including no answer): not retried.
    Other,
}

impl FailureClass {
    /// Classifies an error answer by its HTTP status and Graph `error.code`.
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
        (FailureClass::BadToken | FailureClass::TemplateBlocked | FailureClass::Other, _) => None,
    }
}

/// The `message_status` of a send the pacing of its template holds.
const HELD: &str = "held_for_quality_assessment";

/// A send the platform took.
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
    /// The answer was 360dialog's own error (`{"meta": {"success": false, ...}}`),
    /// not Meta's.
    pub(crate) from_360dialog: bool,
    /// One line saying what happened.
    pub(crate) detail: String,
}

impl Failure {
    /// A failure before any request was made.
    fn local(detail: &str) -> Failure {
        Failure {
            http_status: None,
            code: None,
            from_360dialog: false,
            detail: detail.to_owned(),
        }
    }

    /// How the retry policy treats this failure of a send; `template`: the send
    /// was a template.
    pub(crate) fn class(&self, template: bool) -> FailureClass {
        if template && self.from_360dialog && matches!(self.http_status, Some(400 | 403)) {
            return FailureClass::TemplateBlocked;
        }
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

/// How a request authenticates.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// A header of its own (`D360-API-KEY`, `X-API-Key`).
    Header(&'static str, &'a str),
    /// Nothing.
    None,
}

/// Posts `body` as JSON to `url`; the status and raw answer, or a failure if
/// there was no (readable) answer.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: String,
    auth: Auth<'_>,
) -> Result<(u16, Vec<u8>), Failure> {
    let request = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body);
    exchange(request, auth).await
}

/// `GET url`; the status and raw answer, or a failure if there was no
/// (readable) answer.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    auth: Auth<'_>,
) -> Result<(u16, Vec<u8>), Failure> {
    exchange(client.get(url), auth).await
}

/// Sends `request` presenting `auth`; the status and raw answer.
async fn exchange(
    mut request: reqwest::RequestBuilder,
    auth: Auth<'_>,
) -> Result<(u16, Vec<u8>), Failure> {
    request = match auth {
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Header(name, value) => request.header(name, value),
        Auth::None => request,
    };
    let response = request.send().await.map_err(|error| Failure {
        detail: format!("no answer: {}", error.without_url()),
        ..Failure::local("")
    })?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|error| Failure {
        http_status: Some(status),
        detail: format!("HTTP {status}, unreadable body: {}", error.without_url()),
        ..Failure::local("")
    })?;
    Ok((status, bytes.to_vec()))
}

/// An HTTP client with the integration's request timeout.
pub(crate) fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// The credential one send presented (never printed).
#[derive(Clone, PartialEq, Eq)]
enum Presented {
    Bearer(String),
    ChannelKey(String),
}

/// Never shows the secret.
impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Presented {
    fn auth(&self) -> Auth<'_> {
        match self {
            Presented::Bearer(token) => Auth::Bearer(token),
            Presented::ChannelKey(key) => Auth::Header(D360_KEY_HEADER, key),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Presented::Bearer(_) => "access token",
            Presented::ChannelKey(_) => "channel key",
        }
    }
}

/// The platform as the integration uses it: sends on the configured surface, and
/// Cloud API calls with the current access token.
#[derive(Debug, Clone)]
pub(crate) struct Platform {
    client: reqwest::Client,
    /// `WASIM_GRAPH_URL`, without a trailing slash.
    graph_url: String,
    /// Where sends go.
    surface: Surface,
    /// The messages endpoint of the surface.
    messages_url: String,
    keys: Arc<Keys>,
    flaw: Option<Flaw>,
    /// The credential the platform last refused (401): no send presents it
    /// again until the operator or a rotation replaces it.
    refused: Arc<std::sync::Mutex<Option<Presented>>>,
}

impl Platform {
    /// A client for `config`'s number, presenting `keys`.
    pub(crate) fn new(config: &Config, keys: Arc<Keys>) -> anyhow::Result<Platform> {
        let messages_url = match config.surface {
            Surface::Graph => config.messages_url(),
            Surface::D360 => config.d360_messages_url().ok_or_else(|| {
                anyhow::anyhow!("WASIM_SURFACE is d360 but WASIM_D360_URL is unset")
            })?,
        };
        Ok(Platform {
            client: http_client()?,
            graph_url: config.graph_url.clone(),
            surface: config.surface,
            messages_url,
            keys,
            flaw: config.flaw,
            refused: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    /// Forgets rotated and refused credentials: back to those `config` starts
    /// with (`POST /wasim/reset`).
    pub(crate) fn reset(&self, config: &Config) {
        self.keys.reset(config);
        *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The credentials this client presents.
    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Whether `presented` was refused before, so sending with it again would only
    /// repeat the refusal (a hot loop of one request per recipient). The flaws that
    /// keep using a refused or replaced credential skip this guard.
    fn known_refused(&self, presented: &Presented) -> bool {
        if matches!(
            self.flaw,
            Some(Flaw::HotLoopAuth | Flaw::StaleToken | Flaw::StaleChannelKey)
        ) {
            return false;
        }
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            == Some(presented)
    }

    /// The credential a send presents now, if there is one.
    fn credential(&self) -> Option<Presented> {
        match self.surface {
            Surface::Graph => Some(Presented::Bearer(self.keys.access_token())),
            Surface::D360 => self.keys.channel_key().map(Presented::ChannelKey),
        }
    }

    /// Sends `body` under the retry policy; `what` names it in log lines.
    /// Between attempts `pause(delay)` waits (the worker takes webhooks
    /// meanwhile) and answers whether the send is still wanted (false after a
    /// reset). The accepted message on success.
    pub(crate) async fn send<F: Future<Output = bool>>(
        &self,
        body: &Value,
        what: &str,
        pause: impl Fn(Duration) -> F,
    ) -> Result<Accepted, Failure> {
        let template = body.get("type").and_then(Value::as_str) == Some("template");
        let mut retries = 0;
        let mut retried_with_new_credential = false;
        loop {
            let Some(presented) = self.credential() else {
                let failure = Failure::local(
                    "no 360dialog channel key (WASIM_D360_API_KEY, set_d360_api_key or rotate_key)",
                );
                println!("{what}: not sent: {}", failure.detail);
                return Err(failure);
            };
            if self.known_refused(&presented) {
                let failure = Failure::local(
                    "its credential was refused before; waiting for a new one (set_access_token, set_d360_api_key or rotate_key)",
                );
                println!("{what}: not sent: {}", failure.detail);
                return Err(failure);
            }
            let failure = match self.post_message(body, &presented).await {
                Ok(accepted) => return Ok(accepted),
                Err(failure) => failure,
            };
            let class = failure.class(template);
            if class == FailureClass::BadToken {
                *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(presented.clone());
            }
            if class == FailureClass::BadToken
                && !retried_with_new_credential
                && let Some(current) = self.credential()
                && current != presented
            {
                println!(
                    "{what}: {} refused ({}) but replaced meanwhile: retrying once with the new one",
                    presented.name(),
                    failure.detail
                );
                retried_with_new_credential = true;
                continue;
            }
            let Some(delay) = retry_delay(class, retries, self.flaw) else {
                match (class, retries) {
                    (FailureClass::BadToken, 0) => println!(
                        "{what}: {} refused ({}), not retrying",
                        presented.name(),
                        failure.detail
                    ),
                    (FailureClass::TemplateBlocked, _) => println!(
                        "{what}: template messaging blocked ({}), not retrying",
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
            retries += 1;
            println!(
                "{what}: retry {retries} in {} ms ({})",
                delay.as_millis(),
                failure.detail
            );
            if !pause(delay).await {
                println!("{what}: no longer wanted, dropping the retry");
                return Err(failure);
            }
        }
    }

    /// One send attempt presenting `presented`.
    async fn post_message(&self, body: &Value, presented: &Presented) -> Result<Accepted, Failure> {
        let (status, bytes) = self.post_to_messages(body, presented).await?;
        read_answer(status, &bytes)
    }

    /// Posts `body` to the surface's messages endpoint presenting `presented`.
    async fn post_to_messages(
        &self,
        body: &Value,
        presented: &Presented,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let url = &self.messages_url;
        post_json(&self.client, url, body.to_string(), presented.auth()).await
    }

    /// Posts `body` to the Cloud API at `{graph_url}/v23.0/{path}` with the current
    /// access token; the status and raw answer.
    pub(crate) async fn post_graph(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let url = format!("{}/v23.0/{path}", self.graph_url);
        let token = self.keys.access_token();
        post_json(&self.client, &url, body.to_string(), Auth::Bearer(&token)).await
    }

    /// Asks once (no retries) to unpause template `template_id` (its digits):
    /// `POST {graph_url}/v23.0/{template_id}/unpause` with body `{}`. The answer
    /// says whether it was unpaused; a failure is an error answer or no answer.
    pub(crate) async fn unpause(&self, template_id: &str) -> Result<Unpause, Failure> {
        let (status, bytes) = self
            .post_graph(&format!("{template_id}/unpause"), &json!({}))
            .await?;
        read_unpause_answer(status, &bytes)
    }

    /// Marks inbound message `message_id` read, once (no retry): a read receipt
    /// on the send path, with the credential sends present.
    pub(crate) async fn mark_read(&self, message_id: &str) -> Result<(), Failure> {
        let body =
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id});
        let presented = self.usable_credential()?;
        let (status, bytes) = self.post_to_messages(&body, &presented).await?;
        expect_success(status, &bytes).map(|_| ())
    }

    /// A fresh download URL for media `media_id`: `GET /{media-id}` on the Cloud
    /// API (or on 360dialog's messaging API with the channel key).
    pub(crate) async fn media_url(&self, media_id: &str) -> Result<String, Failure> {
        let presented = self.usable_credential()?;
        let url = match self.surface {
            Surface::Graph => format!("{}/v23.0/{media_id}", self.graph_url),
            Surface::D360 => self
                .messages_url
                .replacen("/messages", &format!("/{media_id}"), 1),
        };
        let (status, bytes) = get(&self.client, &url, presented.auth()).await?;
        let answer = expect_success(status, &bytes)?;
        answer["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Failure::local("the media answer has no url"))
    }

    /// Downloads `url` (a media URL) with the credential sends present; the
    /// file's size in bytes.
    pub(crate) async fn download(&self, url: &str) -> Result<usize, Failure> {
        let presented = self.usable_credential()?;
        let (status, bytes) = get(&self.client, url, presented.auth()).await?;
        if status == 200 {
            Ok(bytes.len())
        } else {
            Err(error_failure(
                status,
                &serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ))
        }
    }

    /// The credential to present, unless there is none or it was refused before.
    fn usable_credential(&self) -> Result<Presented, Failure> {
        match self.credential() {
            None => Err(Failure::local("no credential to present")),
            Some(presented) if self.known_refused(&presented) => Err(Failure::local(
                "its credential was refused before; waiting for a new one",
            )),
            Some(presented) => Ok(presented),
        }
    }

    /// The flaw the client was built with.
    pub(crate) fn flaw(&self) -> Option<Flaw> {
        self.flaw
    }
}

/// The JSON of a 200 answer, or the failure an error answer describes.
fn expect_success(status: u16, body: &[u8]) -> Result<Value, Failure> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if status == 200 {
        Ok(json)
    } else {
        Err(error_failure(status, &json))
    }
}

/// The message a success answer accepted (and whether pacing holds it), or the
/// failure an error answer describes. Both surfaces answer a success in the Cloud
/// API's shape.
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
            detail: format!("HTTP {status} without messages[0].id"),
            ..Failure::local("")
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
            detail: format!("HTTP {status} without a boolean `success`"),
            ..Failure::local("")
        }),
    }
}

/// The failure an error answer describes: Graph's `{"error": {"code", "message"}}`,
/// or 360dialog's own `{"meta": {"http_code", "developer_message"}}`.
pub(crate) fn error_failure(status: u16, json: &Value) -> Failure {
    if json.get("error").is_none()
        && let Some(meta) = json.get("meta")
    {
        let message = meta
            .get("developer_message")
            .and_then(Value::as_str)
            .unwrap_or("no developer_message");
        return Failure {
            http_status: Some(status),
            code: None,
            from_360dialog: true,
            detail: format!("HTTP {status} from 360dialog: {message}").replace('\n', " "),
        };
    }
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
        from_360dialog: false,
        detail: detail.replace('\n', " "),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    use super::*;
    use crate::config::tests::{full, read};
    use crate::testing::{self, header, serve_locally};

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
        for flaw in Flaw::ALL.iter().copied().map(Some).chain([None]) {
            assert!(delays(FailureClass::TemplateBlocked, flaw).is_empty());
        }
    }

    /// The retry delays under `flaw` of a rate limit, a bad token and any other
    /// failure.
    fn delays_by_class(flaw: Option<Flaw>) -> [Vec<Duration>; 3] {
        [
            FailureClass::RateLimited,
            FailureClass::BadToken,
            FailureClass::Other,
        ]
        .map(|class| delays(class, flaw))
    }

    #[test]
    fn flaw_hot_loop_rate_retries_rate_limits_50_times_at_once() {
        let at_once = vec![Duration::ZERO; 50];
        let delays = delays_by_class(Some(Flaw::HotLoopRate));
        assert_eq!(delays, [at_once, Vec::new(), Vec::new()]);
    }

    #[test]
    fn flaw_hot_loop_auth_retries_a_bad_token_50_times_at_once() {
        let [rate_limited, bad_token, other] = delays_by_class(Some(Flaw::HotLoopAuth));
        assert_eq!(bad_token, vec![Duration::ZERO; 50]);
        assert_eq!(rate_limited.len(), 3);
        assert!(other.is_empty());
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
        assert_eq!(failure.class(false), FailureClass::RateLimited);
        let failure = read_answer(401, b"not json").expect_err("error");
        assert_eq!(failure.class(false), FailureClass::BadToken);
        assert!(read_answer(200, b"{}").is_err());
    }

    #[test]
    fn answers_are_read_in_360dialogs_shapes() {
        // 360dialog's 401 for a missing or revoked key: an auth failure.
        let invalid =
            br#"{"meta":{"success":false,"http_code":401,"developer_message":"Invalid api_key"}}"#;
        let failure = read_answer(401, invalid).expect_err("error");
        assert!(failure.from_360dialog);
        assert!(failure.detail.contains("Invalid api_key"), "{failure:?}");
        for template in [false, true] {
            assert_eq!(failure.class(template), FailureClass::BadToken);
        }
        // Its template block: only a template send is held for it.
        for status in [400_u16, 403] {
            let body = format!(
                r#"{{"meta":{{"success":false,"http_code":{status},"developer_message":"Template messaging is disabled for this WABA"}}}}"#
            );
            let failure = read_answer(status, body.as_bytes()).expect_err("error");
            assert_eq!(failure.class(true), FailureClass::TemplateBlocked);
            assert_eq!(failure.class(false), FailureClass::Other);
        }
        // Meta's errors pass through in Graph's envelope and status.
        let failure = read_answer(
            400,
            br#"{"error":{"message":"(#132015) Template is Paused","type":"OAuthException","code":132015}}"#,
        )
        .expect_err("error");
        assert!(!failure.from_360dialog);
        assert_eq!(failure.code, Some(132_015));
        assert_eq!(failure.class(true), FailureClass::Other);
        assert_eq!(
            read_answer(
                200,
                br#"{"messaging_product":"whatsapp","contacts":[{"input":"55","wa_id":"55"}],"messages":[{"id":"wamid.D"}]}"#
            ),
            Ok(Accepted {
                wamid: "wamid.D".to_owned(),
                held: false
            })
        );
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
        assert_eq!(failure.class(false), FailureClass::BadToken);
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
            assert_eq!(failure.class(true), FailureClass::Other);
            for flaw in Flaw::ALL.iter().copied().map(Some).chain([None]) {
                assert!(delays(failure.class(true), flaw).is_empty(), "{flaw:?}");
            }
        }
    }

    /// A 360dialog messages endpoint that takes only key `valid` and records the
    /// key of every request; on the first request it lets `on_first` run (to
    /// change the integration's key while that send is in flight).
    async fn d360(
        valid: &'static str,
        on_first: impl Fn() + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let record = seen.clone();
        let on_first = Arc::new(on_first);
        let app = Router::new().route(
            "/messages",
            post(move |headers: HeaderMap| {
                let record = record.clone();
                let on_first = on_first.clone();
                async move {
                    let key = header(&headers, D360_KEY_HEADER);
                    let first = {
                        let mut seen = record.lock().expect("lock");
                        seen.push(key.clone());
                        seen.len() == 1
                    };
                    if first {
                        on_first();
                    }
                    if key == valid {
                        (StatusCode::OK, r#"{"messages":[{"id":"wamid.OK"}]}"#)
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            r#"{"meta":{"success":false,"http_code":401,"developer_message":"Invalid api_key"}}"#,
                        )
                    }
                }
            }),
        );
        (serve_locally(app).await, seen)
    }

    fn platform(url: &str, flaw: Option<Flaw>) -> Platform {
        let mut config = read(&full()).expect("config");
        config.d360_url = Some(url.to_owned());
        config.flaw = flaw;
        testing::platform(&config)
    }

    /// Sends a text to 55 as `what`, never pausing; the outcome.
    async fn send_hi(platform: &Platform, what: &str) -> Result<Accepted, Failure> {
        let body = crate::action::text_body("55", "hi");
        platform.send(&body, what, |_| async { true }).await
    }

    /// A platform (under `flaw`) on a 360dialog that takes only key `k2`, whose
    /// channel key turns to `k2` while its first send is in flight; and the keys
    /// 360dialog saw.
    async fn rotated_in_flight(flaw: Option<Flaw>) -> (Platform, Arc<Mutex<Vec<String>>>) {
        let keys_slot = Arc::new(Mutex::new(None::<Platform>));
        let slot = keys_slot.clone();
        let (url, seen) = d360("k2", move || {
            if let Some(platform) = slot.lock().expect("lock").as_ref() {
                platform.keys().set_channel_key("k2".to_owned());
            }
        })
        .await;
        let platform = platform(&url, flaw);
        *keys_slot.lock().expect("lock") = Some(platform.clone());
        (platform, seen)
    }

    #[tokio::test]
    async fn a_send_refused_while_the_key_was_rotated_is_retried_once_with_the_new_key() {
        let (platform, seen) = rotated_in_flight(None).await;
        let accepted = send_hi(&platform, "test").await;
        assert_eq!(accepted.map(|a| a.wamid), Ok("wamid.OK".to_owned()));
        assert_eq!(*seen.lock().expect("lock"), ["channel-key-1", "k2"]);
    }

    #[tokio::test]
    async fn a_send_refused_with_an_unchanged_key_is_not_retried() {
        let (url, seen) = d360("k2", || {}).await;
        let platform = platform(&url, None);
        let failure = send_hi(&platform, "test").await.expect_err("401");
        assert_eq!(failure.class(false), FailureClass::BadToken);
        assert_eq!(seen.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn flaw_stale_channel_key_presents_the_first_key_and_its_401_drops_the_send() {
        let (platform, seen) = rotated_in_flight(Some(Flaw::StaleChannelKey)).await;
        assert!(send_hi(&platform, "first").await.is_err());
        assert!(send_hi(&platform, "second").await.is_err());
        assert_eq!(
            *seen.lock().expect("lock"),
            ["channel-key-1", "channel-key-1"]
        );
    }

    #[tokio::test]
    async fn flaw_hot_loop_auth_also_loops_on_360dialogs_401() {
        let (url, seen) = d360("k2", || {}).await;
        let platform = platform(&url, Some(Flaw::HotLoopAuth));
        assert!(send_hi(&platform, "test").await.is_err());
        assert_eq!(seen.lock().expect("lock").len(), 51);
    }
}
