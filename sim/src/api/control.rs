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
use serde_json::{Map, Value, json};

use super::error::ControlError;
use super::extract;
use crate::model::{Command, InboundContent, Reply};
use crate::state::AppState;
use crate::trace::TraceEvent;

/// The header carrying the control token.
pub const CONTROL_TOKEN_HEADER: &str = "X-Wasim-Control-Token";

/// Every control path, as listed on unknown paths.
pub const PATHS: &[&str] = &[
    "GET /_wasim/health",
    "GET /_wasim/world",
    "GET /_wasim/clock",
    "POST /_wasim/clock/advance {\"seconds\": N}",
    "POST /_wasim/inbound {\"from\": wa_id, \"text\": \"...\"} (or button_reply, list_reply, button; optional context, phone_number_id)",
    "POST /_wasim/ecosystem/marketing {\"to\": wa_id, \"count\": N}",
    "GET /_wasim/trace",
    "GET /_wasim/webhooks",
    "POST /_wasim/webhooks/config {\"callback_url\", \"partner_url\", \"batch_max\"}",
    "POST /_wasim/webhooks/verify",
    "POST /_wasim/webhooks/faults {\"duplicate\": \"1/10\", ...}",
    "POST /_wasim/webhooks/heal",
    "POST /_wasim/events {\"event\": \"template.status_update\"}",
    "POST /_wasim/templates/{name} {\"quality\": \"RED\"} | {\"negative\": \"1/2\"} | {\"decide\": \"release\"} | {\"pause\": true} | {\"unpause\": true}",
    "GET /_wasim/account",
    "POST /_wasim/account {\"incident\": \"disable_templates\"} (or enable_templates, violation, restrict, terminate, reinstate, compromise, tier, invite_partner_user, remove_partner_user)",
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
        .route("/_wasim/webhooks", get(super::webhooks::status))
        .route("/_wasim/webhooks/config", post(super::webhooks::config))
        .route("/_wasim/webhooks/verify", post(super::webhooks::verify))
        .route("/_wasim/webhooks/faults", post(super::webhooks::faults))
        .route("/_wasim/webhooks/heal", post(super::webhooks::heal))
        .route("/_wasim/events", post(super::webhooks::event))
        .route("/_wasim/templates/{name}", post(super::templates::control))
        .route("/_wasim/account", get(account).post(incident))
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

pub(crate) async fn read_object(
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ControlError> {
    match extract::read_json_any_type(headers, body).await {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ControlError::bad_request("the body must be a JSON object")),
        Err(error) => Err(ControlError::bad_request(error.details())),
    }
}

pub(crate) fn string_field(
    object: &Map<String, Value>,
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

pub(crate) fn control_reply(reply: Reply) -> Result<Json<Value>, ControlError> {
    match reply {
        Reply::InboundReceived { message_id } => Ok(Json(json!({"id": message_id}))),
        Reply::Done => Ok(Json(json!({"success": true}))),
        Reply::Message(done) => Ok(Json(json!({"success": true, "done": done}))),
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
    let content = inbound_content(&object)?;
    let phone_number_id = optional_string(&object, "phone_number_id")?;
    let context = optional_string(&object, "context")?;
    let reply = state.apply(Command::Inbound {
        from,
        content,
        phone_number_id,
        context,
    });
    // The inbound webhook is part of this call: answer once it has been attempted.
    state.flush_webhooks().await;
    control_reply(reply)
}

/// The kinds of inbound message, as named in errors.
const INBOUND_KINDS: &str = "\"text\": \"...\", \"button_reply\": {\"id\", \"title\"}, \"list_reply\": {\"id\", \"title\", \"description\"?} or \"button\": {\"payload\", \"text\"}";

fn inbound_content(object: &Map<String, Value>) -> Result<InboundContent, ControlError> {
    let kinds: Vec<&str> = ["text", "button_reply", "list_reply", "button"]
        .into_iter()
        .filter(|kind| object.contains_key(*kind))
        .collect();
    let kind = match kinds.as_slice() {
        [kind] => *kind,
        [] => {
            return Err(ControlError::bad_request(format!(
                "missing the message: pass one of {INBOUND_KINDS}"
            )));
        }
        _ => {
            return Err(ControlError::bad_request(format!(
                "pass only one of {INBOUND_KINDS}; got {}",
                kinds.join(", ")
            )));
        }
    };
    if kind == "text" {
        return Ok(InboundContent::Text(string_field(object, "text")?));
    }
    let Some(Value::Object(inner)) = object.get(kind) else {
        return Err(ControlError::bad_request(format!(
            "field `{kind}` must be an object; pass one of {INBOUND_KINDS}"
        )));
    };
    let field = |name: &str| {
        string_field(inner, name)
            .map_err(|e| ControlError::bad_request(format!("{kind}: {}", e.message)))
    };
    Ok(match kind {
        "button_reply" => InboundContent::ButtonReply {
            id: field("id")?,
            title: field("title")?,
        },
        "list_reply" => InboundContent::ListReply {
            id: field("id")?,
            title: field("title")?,
            description: optional_string(inner, "description")
                .map_err(|e| ControlError::bad_request(format!("list_reply: {}", e.message)))?,
        },
        _ => InboundContent::Button {
            payload: field("payload")?,
            text: field("text")?,
        },
    })
}

pub(crate) fn optional_string(
    object: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ControlError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => string_field(object, name).map(Some),
    }
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

/// `GET /_wasim/account`: the account's standing (the Partner API's compliance view).
async fn account(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.read(|sim| sim.world.compliance()))
}

/// `POST /_wasim/account` `{"incident": "disable_templates", ...}`: plays an incident.
async fn incident(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(&headers, body).await?;
    let incident = crate::model::Incident::from_json(&Value::Object(object))
        .map_err(ControlError::bad_request)?;
    let reply = state.apply(Command::Incident(incident));
    state.flush_webhooks().await;
    match reply {
        Reply::Message(done) => Ok(Json(json!({"success": true, "done": done}))),
        other => control_reply(other),
    }
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
            surface: "control",
            method: "POST".to_owned(),
            path: "/_wasim/reset".to_owned(),
            credential: None,
            http_status: 200,
            error_code: None,
        })
    });
    Ok(Json(json!({"success": true})))
}
