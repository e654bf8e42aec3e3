//! 360dialog's messaging surface, with `D360-API-KEY` auth: `POST /messages`
//! (Cloud-API shaped bodies), and the client webhook settings (reference §9.4):
//! `POST|GET /v1/configs/webhook` for the key's channel and `POST|GET /waba_webhook`
//! for its WABA, each `{url, headers}`. A missing, wrong or revoked key gets
//! 360dialog's 401.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::error::D360Error;
use super::extract;
use crate::model::secret::Secret;
use crate::model::spec::TemplateStatus;
use crate::model::{Command, D360Scope, D360Webhook, Reply, Surface};
use crate::state::AppState;

/// Most custom headers one webhook may carry.
pub const WEBHOOK_HEADERS_MAX: usize = 20;

/// Longest webhook URL accepted.
pub const WEBHOOK_URL_CHARS_MAX: usize = 2048;

/// The 360dialog messaging routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/messages", any(send))
        .route("/v1/configs/webhook", any(channel_webhook))
        .route("/waba_webhook", any(waba_webhook))
        .route("/v1/configs/templates", any(templates))
        .route("/v1/configs/templates/{name}", any(delete_template))
}

async fn send(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    super::graph::send(&state, Surface::D360, None, method, uri, headers, body).await
}

async fn channel_webhook(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    webhook_setting(&state, D360Scope::Channel, method, uri, headers, body).await
}

async fn waba_webhook(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    webhook_setting(&state, D360Scope::Waba, method, uri, headers, body).await
}

/// 360dialog's template status words (lowercase).
fn status_word(status: TemplateStatus) -> &'static str {
    match status {
        TemplateStatus::Approved => "approved",
        TemplateStatus::Pending => "submitted",
        TemplateStatus::Rejected => "rejected",
        TemplateStatus::Paused => "paused",
        TemplateStatus::Disabled => "disabled",
        TemplateStatus::Deleted => "deleted",
    }
}

fn platform_answer(error: crate::model::PlatformError) -> Response {
    let status = axum::http::StatusCode::from_u16(error.http_status())
        .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({"meta": {"success": false, "http_code": error.http_status(), "developer_message": format!("({}) {}: {}", error.code, error.title, error.details)}})),
    )
        .into_response()
}

/// `GET|POST /v1/configs/templates`: list (360dialog's shape) or create.
async fn templates(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let credential = extract::header(&headers, "D360-API-KEY");
    let response = match method {
        Method::GET => state.read(|sim| match sim.world.d360_phone_for_key(credential.as_deref()) {
            Err(_) => D360Error::invalid_key().into_response(),
            Ok(_) => {
                let list: Vec<Value> = sim
                    .world
                    .templates()
                    .iter()
                    .filter(|t| t.status != TemplateStatus::Deleted)
                    .map(|t| {
                        json!({
                            "name": t.name, "language": t.language, "category": t.category.name(),
                            "components": super::templates::components_json(t), "status": status_word(t.status),
                            "namespace": sim.world.spec().waba.id, "rejected_reason": if t.status == TemplateStatus::Rejected { "INCORRECT_CATEGORY" } else { "NONE" },
                            "quality_score": {"score": crate::model::templates::quality_name(t.quality)},
                        })
                    })
                    .collect();
                let count = list.len();
                Json(json!({"count": count, "filters": {}, "limit": 1000, "offset": 0, "sort": ["id"], "total": count, "waba_templates": list})).into_response()
            }
        }),
        Method::POST => match extract::read_json(&headers, body).await {
            Err(error) => bad_request(error.details()).into_response(),
            Ok(body) => match state.apply(Command::CreateTemplate {
                surface: Surface::D360,
                credential: credential.clone(),
                waba_id: None,
                body: body.clone(),
            }) {
                Reply::TemplateCreated(id) => (
                    axum::http::StatusCode::CREATED,
                    Json(json!({
                        "id": id, "name": body["name"], "language": body["language"],
                        "category": body["category"], "components": body["components"],
                        "status": "submitted",
                    })),
                )
                    .into_response(),
                Reply::Unauthorized => D360Error::invalid_key().into_response(),
                Reply::Rejected(error) => platform_answer(error),
                other => bad_request(format!("unexpected {other:?}")).into_response(),
            },
        },
        _ => D360Error {
            status: 405,
            message: format!("{method} is not allowed on {}; use GET or POST", uri.path()),
        }
        .into_response(),
    };
    state.flush_webhooks().await;
    super::record_request(
        &state,
        Surface::D360.name(),
        &method,
        &uri,
        credential.as_deref(),
        response.status().as_u16(),
    );
    response
}

/// `DELETE /v1/configs/templates/{name}`.
async fn delete_template(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let credential = extract::header(&headers, "D360-API-KEY");
    let response = if method == Method::DELETE {
        match state.apply(Command::DeleteTemplate {
            surface: Surface::D360,
            credential: credential.clone(),
            waba_id: None,
            name,
        }) {
            Reply::Message(_) => {
                Json(json!({"meta": {"success": true, "http_code": 200}})).into_response()
            }
            Reply::Unauthorized => D360Error::invalid_key().into_response(),
            Reply::Rejected(error) => platform_answer(error),
            other => bad_request(format!("unexpected {other:?}")).into_response(),
        }
    } else {
        D360Error {
            status: 405,
            message: format!("{method} is not allowed on {}; use DELETE", uri.path()),
        }
        .into_response()
    };
    state.flush_webhooks().await;
    super::record_request(
        &state,
        Surface::D360.name(),
        &method,
        &uri,
        credential.as_deref(),
        response.status().as_u16(),
    );
    response
}

fn bad_request(message: String) -> D360Error {
    D360Error {
        status: 400,
        message,
    }
}

/// `{url, headers}` from a settings body; errors name the field.
fn parse_webhook(body: &Value) -> Result<D360Webhook, String> {
    let Value::Object(object) = body else {
        return Err(
            "the body must be a JSON object {\"url\": \"https://...\", \"headers\": {...}}"
                .to_owned(),
        );
    };
    for key in object.keys() {
        if key != "url" && key != "headers" {
            return Err(format!("unknown field `{key}`, expected url and headers"));
        }
    }
    let url = match object.get("url") {
        Some(Value::String(url))
            if (url.starts_with("http://") || url.starts_with("https://"))
                && url.len() <= WEBHOOK_URL_CHARS_MAX
                && reqwest::Url::parse(url).is_ok() =>
        {
            url.clone()
        }
        Some(other) => {
            return Err(format!(
                "url: expected an http:// or https:// URL of at most {WEBHOOK_URL_CHARS_MAX} characters, got {other}"
            ));
        }
        None => return Err("missing field `url`".to_owned()),
    };
    let mut headers = Vec::new();
    match object.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            if given.len() > WEBHOOK_HEADERS_MAX {
                return Err(format!(
                    "headers: at most {WEBHOOK_HEADERS_MAX} headers, got {}",
                    given.len()
                ));
            }
            for (name, value) in given {
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(format!("headers: `{name}` is not a valid header name"));
                }
                let Value::String(value) = value else {
                    return Err(format!("headers.{name}: expected a string value"));
                };
                if HeaderValue::from_str(value).is_err() {
                    return Err(format!(
                        "headers.{name}: not a valid header value (visible ASCII only)"
                    ));
                }
                headers.push((name.clone(), Secret::from(value.as_str())));
            }
        }
        Some(other) => {
            return Err(format!(
                "headers: expected an object of header names to values, got {other}"
            ));
        }
    }
    Ok(D360Webhook { url, headers })
}

async fn webhook_setting(
    state: &AppState,
    scope: D360Scope,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let credential = extract::header(&headers, "D360-API-KEY");
    let parsed = if method == Method::POST {
        Some(extract::read_json(&headers, body).await)
    } else {
        None
    };
    let response: Result<Value, D360Error> = if method == Method::GET {
        state.read(
            |sim| match sim.world.d360_phone_for_key(credential.as_deref()) {
                Err(_) => Err(D360Error::invalid_key()),
                Ok(phone) => Ok(sim
                    .world
                    .d360_webhook(scope, phone)
                    .map_or_else(|| json!({"url": null, "headers": {}}), D360Webhook::to_json)),
            },
        )
    } else if let Some(parsed) = parsed {
        let authenticated =
            state.read(|sim| sim.world.d360_phone_for_key(credential.as_deref()).is_ok());
        match (authenticated, parsed) {
            (false, _) => Err(D360Error::invalid_key()),
            (true, Err(error)) => Err(bad_request(error.details())),
            (true, Ok(body)) => match parse_webhook(&body) {
                Err(message) => Err(bad_request(message)),
                Ok(webhook) => match state.apply(Command::SetD360Webhook {
                    credential: credential.clone(),
                    scope,
                    webhook,
                }) {
                    Reply::D360WebhookSet(webhook) => Ok(webhook.to_json()),
                    _ => Err(D360Error::invalid_key()),
                },
            },
        }
    } else {
        Err(D360Error {
            status: 405,
            message: format!("{method} is not allowed on {}; use GET or POST", uri.path()),
        })
    };
    let http_status = response.as_ref().map_or_else(|e| e.status, |_| 200);
    super::record_request(
        state,
        Surface::D360.name(),
        &method,
        &uri,
        credential.as_deref(),
        http_status,
    );
    match response {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}
