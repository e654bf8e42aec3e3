//! A fake platform for tests: the Cloud API, 360dialog's messaging API and its
//! Partner API on one local port, recording every request; and a harness that
//! runs the whole integration (routes and worker) against it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

use crate::config::tests::{full, read};
use crate::keys::Keys;
use crate::send::Platform;
use crate::{Config, Flaw};

/// One request the fake saw.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// `token`, `api_keys`, `d360 send`, `graph send`, `register`, `pin`.
    pub(crate) route: &'static str,
    /// `x-api-key:K`, `bearer:T`, `key:K`, or empty.
    pub(crate) credential: String,
    /// The JSON body.
    pub(crate) body: Value,
    /// The status answered.
    pub(crate) status: u16,
}

/// What the fake platform holds.
#[derive(Debug)]
pub(crate) struct FakeState {
    /// Every request, in order.
    pub(crate) requests: Vec<Seen>,
    /// Whether `/token` takes the login.
    pub(crate) login_ok: bool,
    /// Tokens issued (`tok-1`, `tok-2`, ...).
    pub(crate) tokens: u32,
    /// Tokens numbered below this are refused.
    pub(crate) first_valid_token: u32,
    /// The Partner API key taken.
    pub(crate) partner_api_key: String,
    /// The one channel key 360dialog takes.
    pub(crate) channel_key: String,
    /// Channel keys generated (`key-1`, `key-2`, ...).
    pub(crate) keys_issued: u32,
    /// 360dialog refuses template sends with its 403.
    pub(crate) templates_blocked: bool,
    /// The access token the Cloud API takes.
    pub(crate) access_token: String,
    /// The answer to every register request.
    pub(crate) register: (u16, &'static str),
    /// Messages accepted.
    pub(crate) messages: u32,
}

/// The fake platform.
#[derive(Debug, Clone)]
pub(crate) struct Fake {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    state: Arc<Mutex<FakeState>>,
}

type Shared = Arc<Mutex<FakeState>>;

/// The Partner API's key generation path.
const API_KEYS: &str = "/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys";

fn credential(headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(key) = header("x-api-key") {
        format!("x-api-key:{key}")
    } else if let Some(key) = header("d360-api-key") {
        format!("key:{key}")
    } else if let Some(auth) = header("authorization") {
        format!("bearer:{}", auth.trim_start_matches("Bearer "))
    } else {
        String::new()
    }
}

fn meta(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({"meta": {"success": false, "http_code": status, "developer_message": message}}),
    )
}

fn answer(
    state: &Shared,
    route: &'static str,
    headers: &HeaderMap,
    body: &Bytes,
    decide: impl FnOnce(&mut FakeState, &str, &Value) -> (u16, Value),
) -> Response {
    let credential = credential(headers);
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let (status, answer) = decide(&mut state, &credential, &body);
    state.requests.push(Seen {
        route,
        credential,
        body,
        status,
    });
    (
        StatusCode::from_u16(status).expect("status"),
        answer.to_string(),
    )
        .into_response()
}

fn accepted(state: &mut FakeState, body: &Value) -> (u16, Value) {
    state.messages += 1;
    let to = body["to"].as_str().unwrap_or("");
    (
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
               "messages": [{"id": format!("wamid.{}", state.messages)}]}),
    )
}

async fn token(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&state, "token", &headers, &body, |state, _, _| {
        if !state.login_ok {
            return meta(401, "Invalid username or password");
        }
        state.tokens += 1;
        (
            200,
            json!({"access_token": format!("tok-{}", state.tokens), "token_type": "bearer", "expires_in": 3600}),
        )
    })
}

/// The Partner API's key generation: the partner API key, or a token not yet
/// refused; answers the channel's new key, which replaces the old one.
fn issue_key(state: &mut FakeState, credential: &str, channel_id: &str) -> (u16, Value) {
    let valid = if let Some(key) = credential.strip_prefix("x-api-key:") {
        key == state.partner_api_key
    } else if let Some(token) = credential.strip_prefix("bearer:tok-") {
        token
            .parse::<u32>()
            .is_ok_and(|n| n >= state.first_valid_token && n <= state.tokens)
    } else {
        false
    };
    if !valid {
        return meta(401, "Invalid token");
    }
    state.keys_issued += 1;
    state.channel_key = format!("key-{}", state.keys_issued);
    (
        201,
        json!({"id": format!("{channel_id}-key"), "address": "https://waba-v2.360dialog.io",
           "api_key": state.channel_key, "app_id": "110000000000001"}),
    )
}

async fn api_keys(
    State(state): State<Shared>,
    Path((_, channel_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let issue = |state: &mut FakeState, credential: &str, _: &Value| {
        issue_key(state, credential, &channel_id)
    };
    answer(&state, "api_keys", &headers, &body, issue)
}

/// 360dialog's send: the current channel key only, and no template while
/// templates are blocked.
fn d360_decision(state: &mut FakeState, credential: &str, body: &Value) -> (u16, Value) {
    if credential.strip_prefix("key:") != Some(state.channel_key.as_str()) {
        return meta(401, "Invalid api_key");
    }
    if state.templates_blocked && body["type"] == "template" {
        return meta(403, "Template messaging is disabled for this WABA");
    }
    accepted(state, body)
}

async fn d360_send(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&state, "d360 send", &headers, &body, d360_decision)
}

/// The Cloud API's send: the access token only.
fn graph_decision(state: &mut FakeState, credential: &str, body: &Value) -> (u16, Value) {
    if credential.strip_prefix("bearer:") != Some(state.access_token.as_str()) {
        return (
            401,
            json!({"error": {"message": "Invalid OAuth access token", "code": 190}}),
        );
    }
    accepted(state, body)
}

async fn graph_send(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&state, "graph send", &headers, &body, graph_decision)
}

async fn register(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&state, "register", &headers, &body, |state, _, _| {
        let (status, body) = state.register;
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    })
}

async fn pin(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&state, "pin", &headers, &body, |_, _, _| {
        (200, json!({"success": true}))
    })
}

impl Fake {
    /// Serves a fresh fake platform on a free local port.
    pub(crate) async fn start() -> Fake {
        let state = Arc::new(Mutex::new(FakeState {
            requests: Vec::new(),
            login_ok: true,
            tokens: 0,
            first_valid_token: 1,
            partner_api_key: "partner-api-key".to_owned(),
            channel_key: "channel-key-1".to_owned(),
            keys_issued: 0,
            templates_blocked: false,
            access_token: "token".to_owned(),
            register: (200, r#"{"success":true}"#),
            messages: 0,
        }));
        let app = Router::new()
            .route("/api/v2/token", post(token))
            .route(API_KEYS, post(api_keys))
            .route("/messages", post(d360_send))
            .route("/v23.0/{id}/messages", post(graph_send))
            .route("/v23.0/{id}/register", post(register))
            .route("/v23.0/{id}", post(pin))
            .with_state(state.clone());
        Fake {
            url: serve_locally(app).await,
            state,
        }
    }

    /// Runs `f` on the fake's state.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Every request so far, as `route credential` (`route` without one).
    pub(crate) fn routes(&self) -> Vec<String> {
        self.with(|state| {
            state
                .requests
                .iter()
                .map(|seen| {
                    if seen.credential.is_empty() {
                        seen.route.to_owned()
                    } else {
                        format!("{} {}", seen.route, seen.credential)
                    }
                })
                .collect()
        })
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.with(|state| state.requests.clone())
    }
}

/// Serves `app` on a free local port in the background; its base URL.
pub(crate) async fn serve_locally(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The value of header `name` as text, or empty.
pub(crate) fn header(headers: &HeaderMap, name: &str) -> String {
    let value = headers.get(name).and_then(|v| v.to_str().ok());
    value.unwrap_or_default().to_owned()
}

/// The platform client for `config`, with keys of its own.
pub(crate) fn platform(config: &Config) -> Platform {
    let keys = Arc::new(Keys::new(config));
    Platform::new(config, keys).expect("platform")
}

/// The whole integration running against a fake platform.
#[derive(Debug)]
pub(crate) struct Harness {
    /// The integration's routes.
    router: Router,
    /// The platform it talks to.
    pub(crate) fake: Fake,
    config: Config,
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub(crate) fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl Harness {
    /// Starts the integration (360dialog surface, every variable set, `flaw`,
    /// then `adjust`) against a fresh fake platform.
    pub(crate) async fn start(flaw: Option<Flaw>, adjust: impl FnOnce(&mut Config)) -> Harness {
        let fake = Fake::start().await;
        let mut config = read(&full()).expect("config");
        config.graph_url = fake.url.clone();
        config.d360_url = Some(fake.url.clone());
        config.partner_url = Some(format!("{}/api/v2", fake.url));
        config.flaw = flaw;
        adjust(&mut config);
        let (router, worker) = crate::assemble(config.clone()).expect("assemble");
        tokio::spawn(worker);
        Harness {
            router,
            fake,
            config,
        }
    }

    async fn post(&self, uri: &str, body: &Value, header: Option<(&str, String)>) -> StatusCode {
        let mut request = Request::post(uri);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let request = request.body(Body::from(body.to_string())).expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        response.status()
    }

    /// Posts a driver action given at virtual time `at`.
    pub(crate) async fn act(&self, at: u64, mut action: Value) -> StatusCode {
        action["timestamp"] = json!(at.to_string());
        self.post("/wasim/actions", &action, None).await
    }

    /// Posts a signed partner webhook `{"event", "data": {our channel}}`.
    pub(crate) async fn partner_event(&self, id: &str, event: &str) -> StatusCode {
        let body = json!({"id": id, "event": event,
                          "data": {"id": "chan_1", "waba_account": {"id": "waba_1"}}});
        let secret = self.config.partner_secret.clone().expect("secret");
        let signature = hmac_hex(&secret, body.to_string().as_bytes());
        self.post(
            "/partner-webhook",
            &body,
            Some((crate::partner::SIGNATURE_HEADER, signature)),
        )
        .await
    }

    /// Posts `body` as a signed Meta webhook.
    pub(crate) async fn webhook(&self, body: &Value) -> StatusCode {
        let signature = format!(
            "sha256={}",
            hmac_hex(&self.config.app_secret, body.to_string().as_bytes())
        );
        self.post(
            "/webhook",
            body,
            Some((crate::webhook::SIGNATURE_HEADER, signature)),
        )
        .await
    }

    /// Posts a signed Meta webhook: one `sent` status at virtual time `at`.
    pub(crate) async fn status_webhook(&self, at: u64) -> StatusCode {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "messages", "value": {"statuses": [
                {"id": format!("wamid.clock{at}"), "status": "sent", "timestamp": at.to_string(), "recipient_id": "1"}
            ]}}
        ]}]});
        self.webhook(&body).await
    }

    /// Waits until the fake saw no new request for 150 ms. Fails the test when
    /// the integration is still busy after 10 s: a test that went on would judge
    /// a run that had not finished.
    pub(crate) async fn settle(&self) {
        const POLLS_MAX: usize = 200;
        let mut last = usize::MAX;
        for _ in 0..POLLS_MAX {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.fake.with(|state| state.requests.len());
            if now == last {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if self.fake.with(|state| state.requests.len()) == now {
                    return;
                }
            }
            last = now;
        }
        panic!(
            "the integration never went quiet within 10 s ({} requests so far): it loops, or settle's quiet period is too short for it",
            self.fake.with(|state| state.requests.len())
        );
    }
}
