//! Every HTTP surface in process: requests go through `wasim_sim::api::router` by
//! `tower::ServiceExt::oneshot`, with no socket, and answers are read to the last
//! byte.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use wasim_sim::state::AppState;
use wasim_sim::{ServeConfig, WorldSpec};

use super::{PARTNER_PASSWORD, PARTNER_USER, TOKEN, US_PHONE};

/// A fresh default world with the manual clock.
pub fn start() -> Arc<AppState> {
    start_with("")
}

/// A fresh world from a world file, with the manual clock.
pub fn start_with(toml: &str) -> Arc<AppState> {
    let spec = WorldSpec::from_toml(toml).expect("the test world file is valid");
    AppState::start(ServeConfig::new(spec)).expect("the test world builds")
}

/// What came back: status, headers (the content type apart) and raw body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The value of header `name` as text, if present and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; fails the test if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text; fails the test if it is not UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the body is UTF-8")
    }

    /// The string at JSON `pointer` in the body; fails the test without one.
    pub fn string(&self, pointer: &str) -> String {
        let body = self.json();
        let string = body.pointer(pointer).and_then(Value::as_str);
        string
            .unwrap_or_else(|| panic!("no string at {pointer} in {body}"))
            .to_owned()
    }
}

/// A request with `headers`; a `body`, if any, goes as `application/json`.
pub fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Request<Body> {
    match body {
        Some(body) => {
            let mut headers = headers.to_vec();
            headers.push((header::CONTENT_TYPE.as_str(), "application/json"));
            raw_request(method, path, &headers, body)
        }
        None => raw_request(method, path, headers, ""),
    }
}

/// A request with exactly `headers` and `body`, no content type added: for
/// requests that are wrong on purpose.
pub fn raw_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Body::from(body.to_owned()))
        .expect("a valid request")
}

/// Sends `request` to `state`'s router and reads the whole answer.
pub async fn call(state: &Arc<AppState>, request: Request<Body>) -> Answer {
    let response = wasim_sim::api::router(state.clone())
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII content type").to_owned());
    let body = response.into_body().collect().await;
    let body = body.expect("the body is readable").to_bytes().to_vec();
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

/// A client of one surface: the state it calls and the credential it presents.
#[derive(Debug, Clone)]
pub struct Client {
    state: Arc<AppState>,
    header: Option<(&'static str, String)>,
}

impl Client {
    /// No credential (the control API, or a call to be refused).
    pub fn anonymous(state: &Arc<AppState>) -> Client {
        Client {
            state: state.clone(),
            header: None,
        }
    }

    /// `Authorization: Bearer token`: Graph, or the Partner API with a token.
    pub fn bearer(state: &Arc<AppState>, token: &str) -> Client {
        Client::with(state, "authorization", format!("Bearer {token}"))
    }

    /// `X-API-Key: key`: the Partner API with its key.
    pub fn api_key(state: &Arc<AppState>, key: &str) -> Client {
        Client::with(state, "X-API-Key", key.to_owned())
    }

    /// `D360-API-KEY: key`: 360dialog with a channel key.
    pub fn d360(state: &Arc<AppState>, key: &str) -> Client {
        Client::with(state, "D360-API-KEY", key.to_owned())
    }

    fn with(state: &Arc<AppState>, name: &'static str, value: String) -> Client {
        Client {
            state: state.clone(),
            header: Some((name, value)),
        }
    }

    /// A call with a JSON `body`, if any.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let headers: Vec<(&str, &str)> = self
            .header
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let body = body.map(Value::to_string);
        call(
            &self.state,
            request(method, path, &headers, body.as_deref()),
        )
        .await
    }

    /// A GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    /// A POST of `body`.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(body)).await
    }

    /// A POST without a body.
    pub async fn post_empty(&self, path: &str) -> Answer {
        self.call("POST", path, None).await
    }

    /// A DELETE.
    pub async fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path, None).await
    }
}

/// A client presenting `Authorization: Bearer token`, or no credential.
pub fn client(state: &Arc<AppState>, token: Option<&str>) -> Client {
    match token {
        Some(token) => Client::bearer(state, token),
        None => Client::anonymous(state),
    }
}

/// A Graph POST of `body` presenting `token` (or none).
pub async fn graph_post(
    state: &Arc<AppState>,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Answer {
    client(state, token).post(path, body).await
}

/// A Cloud API send of `body` from the US number with the world's token.
pub async fn send(state: &Arc<AppState>, body: &Value) -> Answer {
    let path = format!("/v23.0/{US_PHONE}/messages");
    graph_post(state, &path, Some(TOKEN), body).await
}

/// A 360dialog send of `body` with `key` (or none).
pub async fn d360_post(state: &Arc<AppState>, key: Option<&str>, body: &Value) -> Answer {
    match key {
        Some(key) => Client::d360(state, key).post("/messages", body).await,
        None => Client::anonymous(state).post("/messages", body).await,
    }
}

/// A control API GET.
pub async fn control_get(state: &Arc<AppState>, path: &str) -> Answer {
    Client::anonymous(state).get(path).await
}

/// A control API POST of `body`.
pub async fn control_post(state: &Arc<AppState>, path: &str, body: &Value) -> Answer {
    Client::anonymous(state).post(path, body).await
}

/// A control API POST that must answer 200; its JSON answer.
pub async fn control_ok(state: &Arc<AppState>, path: &str, body: &Value) -> Value {
    let answer = control_post(state, path, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text());
    answer.json()
}

/// A Partner Hub login of the world's user with `password`.
pub async fn login(state: &Arc<AppState>, password: &str) -> Answer {
    let body = json!({"username": PARTNER_USER, "password": password});
    Client::anonymous(state).post("/api/v2/token", &body).await
}

/// A Partner API token for the world's user; fails the test unless the login works.
pub async fn partner_token(state: &Arc<AppState>) -> String {
    let answer = login(state, PARTNER_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.string("/access_token")
}

/// The trace as JSON Lines text, and its records parsed.
pub async fn trace(state: &Arc<AppState>) -> (String, Vec<Value>) {
    let answer = control_get(state, "/_wasim/trace").await;
    assert_eq!(answer.status, StatusCode::OK);
    let text = answer.text();
    let records = text
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad trace line ({e}): {line}"))
        })
        .collect();
    (text, records)
}

/// The string `field` of each trace record of `kind`, in order.
pub async fn traced(state: &Arc<AppState>, kind: &str, field: &str) -> Vec<String> {
    let (_, records) = trace(state).await;
    let of_kind = records.iter().filter(|r| r["kind"] == kind);
    of_kind
        .filter_map(|r| r[field].as_str().map(str::to_owned))
        .collect()
}

/// Asserts a Graph error answer with `http` status and `code`, in Meta's full shape;
/// returns the `error` object. 190 and 2500 carry their message alone; the Cloud
/// API's own errors "(#code) title" with `error_data.details`, or, for a parameter
/// error as the live API answers it, "(#code) " and the specific message alone.
pub fn assert_graph_error(answer: &Answer, http: StatusCode, code: u64) -> Value {
    let error = graph_error_object(answer, http);
    let body = answer.json();
    assert_eq!(error["code"], json!(code), "{body}");
    assert_eq!(error["type"], "OAuthException", "{body}");
    let message = error["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"));
    let title = wasim_sim::model::error::title_of(u32::try_from(code).expect("small code"));
    match code {
        190 => assert!(!message.is_empty(), "{body}"),
        2500 => assert!(message.starts_with(&format!("{title}: /")), "{body}"),
        _ if error.get("error_data").is_none() => {
            let specific = message
                .strip_prefix(&format!("(#{code}) "))
                .unwrap_or_else(|| panic!("no (#{code}) in {body}"));
            assert!(!specific.is_empty() && specific != title, "{body}");
        }
        _ => {
            assert_eq!(message, format!("(#{code}) {title}"), "{body}");
            assert_eq!(
                error["error_data"]["messaging_product"], "whatsapp",
                "{body}"
            );
            let details = error["error_data"]["details"]
                .as_str()
                .unwrap_or_else(|| panic!("no details string in {body}"));
            assert!(!details.is_empty(), "{body}");
        }
    }
    if matches!(code, 190 | 2500) {
        assert!(error.get("error_data").is_none(), "{body}");
    }
    error
}

/// Asserts Graph's answer for an object id it does not know (`method` lowercased):
/// HTTP 400, `GraphMethodException`, code 100, subcode 33 and Graph's message.
pub fn assert_unknown_object(answer: &Answer, method: &str, id: &str) {
    let error = graph_error_object(answer, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert_eq!(error["type"], "GraphMethodException", "{body}");
    assert_eq!(error["code"], 100, "{body}");
    assert_eq!(error["error_subcode"], 33, "{body}");
    assert_eq!(
        error["message"],
        format!(
            "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        "{body}"
    );
    assert!(error.get("error_data").is_none(), "{body}");
}

/// The `error` object of a JSON Graph error answer with `http` status and a trace id.
fn graph_error_object(answer: &Answer, http: StatusCode) -> Value {
    let body = answer.json();
    assert_eq!(answer.status, http, "HTTP status of {body}");
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json"),
        "{body}"
    );
    let error = body
        .get("error")
        .unwrap_or_else(|| panic!("no `error` in {body}"))
        .clone();
    let trace_id = error["fbtrace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no fbtrace_id in {body}"));
    assert!(!trace_id.is_empty(), "{body}");
    error
}

/// The `message` of a Graph `error` object.
pub fn message(error: &Value) -> &str {
    error["message"].as_str().expect("message")
}

/// The `error_data.details` of a Graph `error` object.
pub fn details(error: &Value) -> &str {
    error["error_data"]["details"].as_str().expect("details")
}

/// Asserts 360dialog's error shape (`meta`) with `status`; returns the message.
pub fn assert_d360_error(answer: &Answer, status: StatusCode) -> String {
    let body = answer.json();
    assert_eq!(answer.status, status, "{body}");
    assert_eq!(body["meta"]["success"], false, "{body}");
    assert_eq!(body["meta"]["http_code"], status.as_u16(), "{body}");
    let message = body["meta"]["developer_message"]
        .as_str()
        .unwrap_or_else(|| panic!("no developer_message in {body}"));
    assert!(!message.is_empty(), "{body}");
    message.to_owned()
}

/// A Graph request presenting `token` (or none), `body` (if any) as raw text sent as
/// JSON: for bodies that are not valid JSON.
pub fn graph_request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Request<Body> {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|value| ("authorization", value.as_str()))
        .collect();
    request(method, path, &headers, body)
}

/// Plays an account incident through the control API (`POST /_wasim/account`).
pub async fn account_incident(state: &Arc<AppState>, incident: &Value) -> Answer {
    control_post(state, "/_wasim/account", incident).await
}
