//! 360dialog's Partner API (a new channel key) and its webhooks (`/partner-webhook`).
//!
//! Partner API authentication: `X-API-Key` when `WASIM_PARTNER_API_KEY` is set;
//! otherwise a bearer token from `POST /token` (`WASIM_PARTNER_USERNAME`,
//! `WASIM_PARTNER_PASSWORD`), kept until it expires (in virtual time). A call
//! refused with 401 gets one new token and one retry; a login refused with 401
//! fails the operation at once. Nothing is ever retried in a loop (except by flaw
//! `partner-auth-loop`).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};

use crate::send::{Auth, post_json};
use crate::webhook::{SignatureError, verify_hex_hmac};
use crate::{Config, Flaw};

/// The header carrying 360dialog's partner webhook signature.
pub(crate) const SIGNATURE_HEADER: &str = "x-360dialog-signature";

/// The header a Partner API key goes in.
const API_KEY_HEADER: &str = "X-API-Key";

/// New tokens and retries flaw `partner-auth-loop` makes after Partner 401s.
const AUTH_LOOP_RETRIES: u32 = 50;

/// Checks `header`: the lowercase hex HMAC-SHA256 of `body` keyed with `secret`,
/// bare or after `sha256=`, compared in constant time.
pub(crate) fn verify_signature(
    secret: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = header.strip_prefix("sha256=").unwrap_or(header);
    verify_hex_hmac(secret, body, hex_digest)
}

/// What a partner webhook says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PartnerEventKind {
    /// `template_messaging_disabled`: hold templates.
    TemplateMessagingDisabled,
    /// `template_messaging_enabled`: send the held templates, then go on.
    TemplateMessagingEnabled,
    /// Anything else (`account_violation`, `channel_live`, ...): noted, ignored.
    Other(String),
}

/// One partner webhook: `{"id"?, "event", "data": {channel}}`. Every part is
/// optional; what is missing is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartnerEvent {
    /// The event's id (duplicates share it).
    pub(crate) id: Option<String>,
    /// What happened.
    pub(crate) kind: PartnerEventKind,
    /// `data.id`: the channel it is about.
    pub(crate) channel_id: Option<String>,
    /// `data.waba_account.id`: the WABA it is about.
    pub(crate) waba_id: Option<String>,
}

impl PartnerEvent {
    /// The event name, for log lines.
    pub(crate) fn name(&self) -> &str {
        match &self.kind {
            PartnerEventKind::TemplateMessagingDisabled => "template_messaging_disabled",
            PartnerEventKind::TemplateMessagingEnabled => "template_messaging_enabled",
            PartnerEventKind::Other(name) => name,
        }
    }

    /// Whether the event is about our channel or our WABA. It is, if it names
    /// either; it is not, if it names only ids that are known not to be ours; and
    /// when nothing can be compared (no ids in the event, or ours unknown), it is
    /// taken as ours.
    pub(crate) fn concerns(&self, channel_id: Option<&str>, waba_id: Option<&str>) -> bool {
        let compare = |theirs: Option<&String>, ours: Option<&str>| match (theirs, ours) {
            (Some(theirs), Some(ours)) => Some(theirs == ours),
            _ => None,
        };
        let comparisons = [
            compare(self.channel_id.as_ref(), channel_id),
            compare(self.waba_id.as_ref(), waba_id),
        ];
        comparisons.contains(&Some(true)) || comparisons.iter().all(Option::is_none)
    }
}

/// Reads a partner webhook body; the error (the body is not JSON) is one line.
/// Anything else is lenient: a missing part is `None`, a missing event `Other`.
pub(crate) fn parse_event(body: &[u8]) -> Result<PartnerEvent, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("body is not JSON: {error}"))?;
    let text = |value: Option<&Value>| match value {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    let data = value.get("data");
    let kind = match value.get("event").and_then(Value::as_str) {
        Some("template_messaging_disabled") => PartnerEventKind::TemplateMessagingDisabled,
        Some("template_messaging_enabled") => PartnerEventKind::TemplateMessagingEnabled,
        Some(other) => PartnerEventKind::Other(other.to_owned()),
        None => PartnerEventKind::Other("(no event)".to_owned()),
    };
    Ok(PartnerEvent {
        id: text(value.get("id")),
        kind,
        channel_id: text(data.and_then(|data| data.get("id"))),
        waba_id: text(data.and_then(|data| data.pointer("/waba_account/id"))),
    })
}

/// The key a key-generation answer carries: `{"api_key", ...}` (HTTP 201), or
/// `{"api_keys": [...]}` (the last one).
pub(crate) fn read_new_key(status: u16, body: &[u8]) -> Result<String, String> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        return Err(partner_error(status, &json));
    }
    let key = json.get("api_key").or_else(|| {
        json.get("api_keys")
            .and_then(Value::as_array)
            .and_then(|keys| keys.last())
            .and_then(|key| key.get("api_key"))
    });
    match key.and_then(Value::as_str) {
        Some(key) if !key.is_empty() => Ok(key.to_owned()),
        _ => Err(format!("HTTP {status} without api_key")),
    }
}

/// One line for a Partner API error answer
/// (`{"meta": {"http_code", "developer_message"}}`).
fn partner_error(status: u16, json: &Value) -> String {
    let message = json
        .pointer("/meta/developer_message")
        .and_then(Value::as_str)
        .unwrap_or("no developer_message");
    format!("HTTP {status}: {message}").replace('\n', " ")
}

/// A bearer token and when it expires (virtual unix seconds, if known).
struct Token {
    value: String,
    expires_at: Option<u64>,
}

/// Why no token came back.
enum TokenError {
    /// `/token` answered 401: wrong password, or the user was removed.
    Refused(String),
    /// Anything else.
    Failed(String),
}

/// How Partner API calls authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMode {
    /// `X-API-Key`.
    ApiKey,
    /// `Authorization: Bearer` with a token from `/token`.
    Bearer,
    /// No credentials are configured.
    Missing,
}

/// 360dialog's Partner API as the integration uses it.
pub(crate) struct Partner {
    client: reqwest::Client,
    /// `WASIM_PARTNER_URL`, without a trailing slash.
    base_url: String,
    partner_id: String,
    api_key: Option<String>,
    login: Option<(String, String)>,
    flaw: Option<Flaw>,
    token: Mutex<Option<Token>>,
}

impl Partner {
    /// Forgets the bearer token it holds (`POST /wasim/reset`).
    pub(crate) fn reset(&self) {
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// A client for `config`, or `None` if `WASIM_PARTNER_URL` or
    /// `WASIM_PARTNER_ID` is unset (the Partner API is not used then).
    pub(crate) fn new(config: &Config) -> anyhow::Result<Option<Partner>> {
        let (Some(base_url), Some(partner_id)) = (&config.partner_url, &config.partner_id) else {
            return Ok(None);
        };
        let login = match (&config.partner_username, &config.partner_password) {
            (Some(username), Some(password)) => Some((username.clone(), password.clone())),
            _ => None,
        };
        Ok(Some(Partner {
            client: crate::send::http_client()?,
            base_url: base_url.clone(),
            partner_id: partner_id.clone(),
            api_key: config.partner_api_key.clone(),
            login,
            flaw: config.flaw,
            token: Mutex::new(None),
        }))
    }

    /// The API key when one is configured, else a bearer token (flaw
    /// `partner-auth-loop`: a bearer token whenever a login is configured).
    pub(crate) fn auth_mode(&self) -> AuthMode {
        let bearer_first = self.flaw == Some(Flaw::PartnerAuthLoop);
        match (self.api_key.is_some(), self.login.is_some()) {
            (_, true) if bearer_first => AuthMode::Bearer,
            (true, _) => AuthMode::ApiKey,
            (false, true) => AuthMode::Bearer,
            (false, false) => AuthMode::Missing,
        }
    }

    /// Generates a new key for `channel_id` (every earlier key is revoked at
    /// once): `POST /partners/{partner_id}/channels/{channel_id}/api_keys`. `now`
    /// is virtual time (a cached token's expiry is checked against it). The error
    /// is one line.
    pub(crate) async fn generate_key(&self, channel_id: &str, now: u64) -> Result<String, String> {
        let url = format!(
            "{}/partners/{}/channels/{channel_id}/api_keys",
            self.base_url, self.partner_id
        );
        let (status, bytes) = self.post(&url, "{}", now).await?;
        read_new_key(status, &bytes)
    }

    /// Posts `body` to `url` with the Partner API credentials.
    async fn post(&self, url: &str, body: &str, now: u64) -> Result<(u16, Vec<u8>), String> {
        match self.auth_mode() {
            AuthMode::Missing => Err("no Partner API credentials (WASIM_PARTNER_API_KEY, or \
                                      WASIM_PARTNER_USERNAME and WASIM_PARTNER_PASSWORD)"
                .to_owned()),
            AuthMode::ApiKey => {
                let key = self.api_key.as_deref().unwrap_or_default();
                post_json(
                    &self.client,
                    url,
                    body.to_owned(),
                    Auth::Header(API_KEY_HEADER, key),
                )
                .await
                .map_err(|failure| failure.detail)
            }
            AuthMode::Bearer => self.post_with_bearer(url, body, now).await,
        }
    }

    /// Posts with a bearer token: the cached one if still valid at `now`, else a
    /// new one. A 401 gets one new token and one retry; a 401 from `/token` ends
    /// the operation. Flaw `partner-auth-loop` fetches and retries up to 50 times.
    async fn post_with_bearer(
        &self,
        url: &str,
        body: &str,
        now: u64,
    ) -> Result<(u16, Vec<u8>), String> {
        let looping = self.flaw == Some(Flaw::PartnerAuthLoop);
        let refresh_limit = if looping { AUTH_LOOP_RETRIES } else { 1 };
        let mut refreshes = 0;
        let mut token = self.cached_token(now);
        loop {
            let value = match token.take() {
                Some(value) => value,
                None => match self.fetch_token(now).await {
                    Ok(value) => value,
                    Err(TokenError::Refused(detail)) if looping && refreshes < refresh_limit => {
                        refreshes += 1;
                        println!(
                            "Partner API login refused ({detail}): asking again at once (flaw partner-auth-loop)"
                        );
                        continue;
                    }
                    Err(TokenError::Refused(detail)) => {
                        return Err(format!(
                            "Partner API login refused ({detail}); giving up on the bearer token"
                        ));
                    }
                    Err(TokenError::Failed(detail)) => {
                        return Err(format!("Partner API token request failed ({detail})"));
                    }
                },
            };
            let (status, bytes) =
                post_json(&self.client, url, body.to_owned(), Auth::Bearer(&value))
                    .await
                    .map_err(|failure| failure.detail)?;
            if status == 401 && refreshes < refresh_limit {
                refreshes += 1;
                self.forget_token();
                if looping {
                    println!(
                        "Partner API refused the token (401): new token and retry {refreshes} at once (flaw partner-auth-loop)"
                    );
                } else {
                    println!("Partner API refused the token (401): one new token, one retry");
                }
                continue;
            }
            return Ok((status, bytes));
        }
    }

    fn with_token<T>(&self, f: impl FnOnce(&mut Option<Token>) -> T) -> T {
        f(&mut self.token.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn cached_token(&self, now: u64) -> Option<String> {
        self.with_token(|token| {
            token
                .as_ref()
                .filter(|token| token.expires_at.is_none_or(|at| now < at))
                .map(|token| token.value.clone())
        })
    }

    fn forget_token(&self) {
        self.with_token(|token| *token = None);
    }

    /// `POST /token` with the login; keeps and returns the new token.
    async fn fetch_token(&self, now: u64) -> Result<String, TokenError> {
        let Some((username, password)) = &self.login else {
            return Err(TokenError::Failed("no Partner API login".to_owned()));
        };
        let url = format!("{}/token", self.base_url);
        let body = json!({"username": username, "password": password}).to_string();
        let (status, bytes) = post_json(&self.client, &url, body, Auth::None)
            .await
            .map_err(|failure| TokenError::Failed(failure.detail))?;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 401 {
            return Err(TokenError::Refused(partner_error(status, &json)));
        }
        if !(200..300).contains(&status) {
            return Err(TokenError::Failed(partner_error(status, &json)));
        }
        let Some(value) = json.get("access_token").and_then(Value::as_str) else {
            return Err(TokenError::Failed(format!(
                "HTTP {status} without access_token"
            )));
        };
        let expires_at = json
            .get("expires_in")
            .and_then(Value::as_u64)
            .filter(|_| now > 0)
            .map(|seconds| now.saturating_add(seconds));
        self.with_token(|token| {
            *token = Some(Token {
                value: value.to_owned(),
                expires_at,
            });
        });
        Ok(value.to_owned())
    }
}

/// Secrets are never printed.
impl fmt::Debug for Partner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Partner")
            .field("base_url", &self.base_url)
            .field("partner_id", &self.partner_id)
            .field("auth", &self.auth_mode())
            .field("flaw", &self.flaw)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{full, read};
    use crate::testing::{Fake, FakeState, hmac_hex as sign};

    #[test]
    fn the_signature_is_bare_hex_or_sha256_prefixed_and_anything_else_is_refused() {
        use SignatureError::{Malformed, Missing, Wrong};
        let body = br#"{"event":"template_messaging_disabled"}"#;
        let good = sign("partner-secret", body);
        assert_eq!(good, good.to_lowercase());
        let check = |header| verify_signature("partner-secret", body, header);
        assert_eq!(check(Some(&good)), Ok(()));
        let prefixed = format!("sha256={good}");
        assert_eq!(check(Some(&prefixed)), Ok(()));
        assert_eq!(check(None), Err(Missing));
        assert_eq!(check(Some("not hex")), Err(Malformed));
        assert_eq!(check(Some("")), Err(Wrong));
        let other_secret = verify_signature("other-secret", body, Some(&good));
        assert_eq!(other_secret, Err(Wrong));
        let other_body = verify_signature("partner-secret", b"{}", Some(&good));
        assert_eq!(other_body, Err(Wrong));
    }

    #[test]
    fn partner_webhooks_are_read_leniently() {
        let body = json!({
            "id": "wasimEV0003", "event": "template_messaging_disabled",
            "data": {"id": "chan_1", "waba_account": {"id": "waba_1"}, "setup_info": {"phone_number": "+1 555"}}
        });
        assert_eq!(
            parse_event(body.to_string().as_bytes()),
            Ok(PartnerEvent {
                id: Some("wasimEV0003".to_owned()),
                kind: PartnerEventKind::TemplateMessagingDisabled,
                channel_id: Some("chan_1".to_owned()),
                waba_id: Some("waba_1".to_owned()),
            })
        );
        let event = parse_event(br#"{"event":"template_messaging_enabled"}"#).expect("json");
        assert_eq!(event.kind, PartnerEventKind::TemplateMessagingEnabled);
        assert_eq!((event.channel_id, event.waba_id), (None, None));
        let event =
            parse_event(br#"{"event":"account_violation","data":{"id":"chan_1"}}"#).expect("json");
        assert_eq!(event.name(), "account_violation");
        assert_eq!(
            parse_event(b"[]").expect("json").kind,
            PartnerEventKind::Other("(no event)".to_owned())
        );
        let error = parse_event(b"event=x").expect_err("not JSON");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn an_event_concerns_us_if_it_names_our_channel_or_waba() {
        let event = |channel: Option<&str>, waba: Option<&str>| PartnerEvent {
            id: None,
            kind: PartnerEventKind::TemplateMessagingDisabled,
            channel_id: channel.map(str::to_owned),
            waba_id: waba.map(str::to_owned),
        };
        let ours = (Some("chan_1"), Some("waba_1"));
        let concerns = |e: PartnerEvent| e.concerns(ours.0, ours.1);
        assert!(concerns(event(Some("chan_1"), Some("waba_1"))));
        assert!(concerns(event(Some("chan_1"), None)));
        assert!(concerns(event(None, Some("waba_1"))));
        assert!(concerns(event(Some("chan_9"), Some("waba_1"))));
        assert!(!concerns(event(Some("chan_9"), Some("waba_9"))));
        assert!(!concerns(event(Some("chan_9"), None)));
        assert!(!concerns(event(None, Some("waba_9"))));
        // Nothing to compare: taken as ours.
        assert!(concerns(event(None, None)));
        assert!(event(Some("chan_9"), None).concerns(None, None));
    }

    #[test]
    fn a_new_key_is_read_from_either_answer_shape() {
        assert_eq!(
            read_new_key(
                201,
                br#"{"id":"k","address":"https://waba-v2.360dialog.io","api_key":"new-1","app_id":"110"}"#
            ),
            Ok("new-1".to_owned())
        );
        assert_eq!(
            read_new_key(
                200,
                br#"{"api_keys":[{"api_key":"old"},{"api_key":"new-2"}]}"#
            ),
            Ok("new-2".to_owned())
        );
        assert!(read_new_key(201, b"{}").is_err());
        let error = read_new_key(
            403,
            br#"{"meta":{"success":false,"http_code":403,"developer_message":"Permission denied"}}"#,
        )
        .expect_err("error");
        assert_eq!(error, "HTTP 403: Permission denied");
    }

    /// A fresh fake, and a client of its Partner API with the API key and the
    /// login (each if asked for) under `flaw`.
    async fn started(api_key: bool, login: bool, flaw: Option<Flaw>) -> (Fake, Partner) {
        let fake = Fake::start().await;
        let mut config = read(&full()).expect("config");
        config.partner_url = Some(format!("{}/api/v2", fake.url));
        if !api_key {
            config.partner_api_key = None;
        }
        if !login {
            config.partner_username = None;
        }
        config.flaw = flaw;
        let partner = Partner::new(&config).expect("client").expect("configured");
        (fake, partner)
    }

    #[tokio::test]
    async fn an_api_key_is_preferred_and_sent_as_x_api_key() {
        let (fake, partner) = started(true, true, None).await;
        assert_eq!(partner.auth_mode(), AuthMode::ApiKey);
        let key = partner.generate_key("chan_1", 100).await.expect("key");
        assert_eq!(key, "key-1");
        assert_eq!(fake.routes(), ["api_keys x-api-key:partner-api-key"]);
    }

    #[tokio::test]
    async fn a_bearer_token_is_fetched_once_and_reused_until_it_expires() {
        let (fake, partner) = started(false, true, None).await;
        assert_eq!(partner.auth_mode(), AuthMode::Bearer);
        partner.generate_key("chan_1", 100).await.expect("key");
        partner.generate_key("chan_1", 200).await.expect("key");
        // The fake's tokens last 3600 s.
        partner
            .generate_key("chan_1", 100 + 3600)
            .await
            .expect("key");
        assert_eq!(
            fake.routes(),
            [
                "token",
                "api_keys bearer:tok-1",
                "api_keys bearer:tok-1",
                "token",
                "api_keys bearer:tok-2",
            ]
        );
    }

    /// A key request with a partner token against a fake that `setup` changed,
    /// which must fail: the fake and the error.
    async fn key_refused(setup: impl FnOnce(&mut FakeState)) -> (Fake, String) {
        let (fake, partner) = started(false, true, None).await;
        fake.with(setup);
        let error = partner.generate_key("chan_1", 100).await.expect_err("401");
        (fake, error)
    }

    #[tokio::test]
    async fn a_refused_token_gets_one_new_token_and_one_retry() {
        let (fake, partner) = started(false, true, None).await;
        fake.with(|state| state.first_valid_token = 2);
        assert_eq!(
            partner.generate_key("chan_1", 100).await,
            Ok("key-1".to_owned())
        );
        assert_eq!(
            fake.routes(),
            [
                "token",
                "api_keys bearer:tok-1",
                "token",
                "api_keys bearer:tok-2"
            ]
        );
        // Refused again after the new token: the operation fails; no loop.
        let (fake, error) = key_refused(|state| state.first_valid_token = 99).await;
        assert!(error.contains("401"), "{error}");
        assert_eq!(fake.routes().len(), 4);
    }

    #[tokio::test]
    async fn a_refused_login_fails_the_operation_with_one_request() {
        let (fake, error) = key_refused(|state| state.login_ok = false).await;
        assert!(error.contains("giving up"), "{error}");
        assert!(!error.contains('\n'));
        assert_eq!(fake.routes(), ["token"]);
    }

    #[tokio::test]
    async fn without_credentials_nothing_is_asked() {
        let (fake, partner) = started(false, false, None).await;
        assert_eq!(partner.auth_mode(), AuthMode::Missing);
        let error = partner.generate_key("chan_1", 100).await.expect_err("none");
        assert!(error.contains("WASIM_PARTNER_API_KEY"), "{error}");
        assert!(fake.routes().is_empty());
        let mut config = read(&full()).expect("config");
        config.partner_url = None;
        assert!(Partner::new(&config).expect("client").is_none());
    }

    #[tokio::test]
    async fn flaw_partner_auth_loop_uses_a_token_despite_the_key_and_retries_50_times() {
        let (fake, partner) = started(true, true, Some(Flaw::PartnerAuthLoop)).await;
        fake.with(|state| state.first_valid_token = 99);
        assert_eq!(partner.auth_mode(), AuthMode::Bearer);
        assert!(partner.generate_key("chan_1", 100).await.is_err());
        let routes = fake.routes();
        let calls = routes.iter().filter(|r| r.starts_with("api_keys")).count();
        assert_eq!(calls, 51, "{routes:?}");
        assert!(
            routes.iter().all(|r| !r.contains("x-api-key")),
            "{routes:?}"
        );
        // A refused login is asked again and again too.
        let (fake, partner) = started(true, true, Some(Flaw::PartnerAuthLoop)).await;
        fake.with(|state| state.login_ok = false);
        assert!(partner.generate_key("chan_1", 100).await.is_err());
        assert_eq!(fake.routes().len(), 51);
    }
}
