//! The harness's own control API under `/_wasim/` (fixed paths from DESIGN.md).
//!
//! Loopback-only by default; when a control token is configured every call must
//! carry it in `X-Wasim-Control-Token`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::ControlError;
use super::extract;
use crate::model::{Command, Reply};
use crate::shell::AppState;
use crate::trace::TraceEvent;

/// The header carrying the control token.
pub const CONTROL_TOKEN_HEADER: &str = "X-Wasim-Control-Token";

/// Every control path, as listed on unknown paths.
pub const PATHS: &[&str] = &[
    "GET /_wasim/health",
    "GET /_wasim/world",
    "GET /_wasim/clock",
    "POST /_wasim/clock/advance {\"seconds\": N}",
    "POST /_wasim/inbound {\"from\": wa_id, \"text\": \"...\"}",
    "POST /_wasim/ecosystem/marketing {\"to\": wa_id, \"count\": N}",
    "GET /_wasim/trace",
    "POST /_wasim/reset",
];

/// Most seconds one `clock/advance` may move (one year).
pub const ADVANCE_SECONDS_MAX: f64 = 365.0 * 24.0 * 3600.0;

/// The control routes.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/_wasim/health", get(health))
        .route("/_wasim/world", get(world))
        .route("/_wasim/clock", get(clock))
        .route("/_wasim/clock/advance", post(advance))
        .route("/_wasim/inbound", post(inbound))
        .route("/_wasim/ecosystem/marketing", post(ecosystem_marketing))
        .route("/_wasim/trace", get(trace))
        .route("/_wasim/reset", post(reset))
        .route_layer(middleware::from_fn_with_state(state, require_token))
        .method_not_allowed_fallback(wrong_method)
}

/// The answer for an unknown control path.
pub fn unknown(path: &str) -> ControlError {
    ControlError {
        status: StatusCode::NOT_FOUND,
        message: format!("unknown control path {path}"),
        valid_paths: Some(PATHS),
    }
}

async fn wrong_method(request: Request) -> Response {
    ControlError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
        valid_paths: Some(PATHS),
    }
    .into_response()
}

async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = refuse_without_token(&state, request.headers()) {
        return refused;
    }
    next.run(request).await
}

/// The 401 answer when a control token is configured and `headers` lack it.
pub(crate) fn refuse_without_token(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let expected = state.control_token()?;
    let presented = extract::header(headers, CONTROL_TOKEN_HEADER);
    if presented.as_deref() == Some(expected) {
        return None;
    }
    let error = ControlError {
        status: StatusCode::UNAUTHORIZED,
        message: format!(
            "missing or wrong {CONTROL_TOKEN_HEADER}: pass the token given to --control-token"
        ),
        valid_paths: None,
    };
    Some(error.into_response())
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn world(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.read(|sim| sim.world.describe()))
}

async fn clock(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"now_ms": state.now().as_ms(), "mode": state.clock_mode().to_string()}))
}

async fn read_object(
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Map<String, Value>, ControlError> {
    match extract::read_json_any_type(headers, body).await {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ControlError::bad_request("the body must be a JSON object")),
        Err(error) => Err(ControlError::bad_request(error.details())),
    }
}

fn string_field(
    object: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<String, ControlError> {
    match object.get(name) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(other) => Err(ControlError::bad_request(format!(
            "field `{name}` must be a non-empty string, got {other}"
        ))),
        None => Err(ControlError::bad_request(format!("missing field `{name}`"))),
    }
}

async fn advance(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(&headers, body).await?;
    let seconds = object
        .get("seconds")
        .and_then(Value::as_f64)
        .ok_or_else(|| {
            ControlError::bad_request("field `seconds` must be a number, e.g. {\"seconds\": 60}")
        })?;
    if !(0.0..=ADVANCE_SECONDS_MAX).contains(&seconds) {
        return Err(ControlError::bad_request(format!(
            "`seconds` must be from 0 to {ADVANCE_SECONDS_MAX}, got {seconds}"
        )));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "bounded and non-negative above"
    )]
    let ms = (seconds * 1000.0).round() as u64;
    let now = state
        .advance_by(ms)
        .await
        .map_err(ControlError::bad_request)?;
    Ok(Json(json!({"now_ms": now.as_ms()})))
}

fn control_reply(reply: Reply) -> Result<Json<Value>, ControlError> {
    match reply {
        Reply::InboundReceived { message_id } => Ok(Json(json!({"id": message_id}))),
        Reply::Done => Ok(Json(json!({"success": true}))),
        Reply::NotFound(message) => Err(ControlError::not_found(message)),
        Reply::Invalid(message) => Err(ControlError::bad_request(message)),
        other => Err(ControlError::bad_request(format!(
            "unexpected reply {other:?}"
        ))),
    }
}

async fn inbound(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(&headers, body).await?;
    let from = string_field(&object, "from")?;
    let text = string_field(&object, "text")?;
    let phone_number_id = match object.get("phone_number_id") {
        None | Some(Value::Null) => None,
        Some(_) => Some(string_field(&object, "phone_number_id")?),
    };
    let reply = state.apply(Command::Inbound {
        from,
        text,
        phone_number_id,
    });
    // The inbound webhook is part of this call: answer once it has been attempted.
    state.flush_webhooks().await;
    control_reply(reply)
}

async fn ecosystem_marketing(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(&headers, body).await?;
    let to = string_field(&object, "to")?;
    let count = match object.get("count") {
        None => 1,
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| ControlError::bad_request("field `count` must be a whole number"))?,
    };
    control_reply(state.apply(Command::EcosystemMarketing { to, count }))
}

async fn trace(State(state): State<Arc<AppState>>) -> Response {
    let body = state.read(|sim| sim.trace.to_jsonl());
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

async fn reset(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ControlError> {
    state.flush_webhooks().await;
    state.reset().map_err(ControlError::bad_request)?;
    state.with_sim(|sim, _| {
        sim.record(TraceEvent::Request {
            surface: "control".to_owned(),
            method: "POST".to_owned(),
            path: "/_wasim/reset".to_owned(),
            credential: None,
            http_status: 200,
            error_code: None,
        })
    });
    Ok(Json(json!({"success": true})))
}
