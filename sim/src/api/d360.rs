//! 360dialog's messaging surface, with `D360-API-KEY` auth: `POST /messages`
//! (Cloud-API shaped bodies), the templates (`/v1/configs/templates`), and the
//! client webhook settings: `POST|GET /v1/configs/webhook` for the key's channel
//! and `POST|GET /waba_webhook` for its WABA, each `{url, headers}`. A missing,
//! wrong or revoked key gets 360dialog's 401. Sources:
//! <https://docs.360dialog.com/the-basics>,
//! <https://docs.360dialog.com/docs/waba-messaging/sandbox/how-to-get-started-with-sandbox>,
//! <https://docs.360dialog.com/docs/waba-basics/waba-integration/onprem-greater-than-cloudapi-migration>,
//! <https://docs.360dialog.com/docs/support/api-error-message-list>.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::call::Call;
use super::error::{D360, D360Messages};
use super::extract::{JsonBody, wrong_method};
use crate::model::fields::FieldError;
use crate::model::secret::Secret;
use crate::model::spec::TemplateStatus;
use crate::model::{Command, D360Scope, D360Webhook, Refusal, Reply, SendEndpoint, Surface};
use crate::state::AppState;

/// Most custom headers one webhook may carry.
pub const WEBHOOK_HEADERS_MAX: usize = 20;

/// Longest webhook URL accepted.
pub const WEBHOOK_URL_CHARS_MAX: usize = 2048;

/// The 360dialog messaging routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/messages", any(send))
        .route(
            "/media",
            any(super::media::d360_upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/v1/configs/webhook", any(channel_webhook))
        .route("/waba_webhook", any(waba_webhook))
        .route("/v1/configs/templates", any(templates))
        .route("/v1/configs/templates/{name}", any(delete_template))
}

/// `POST /messages`.
async fn send(call: Call<D360Messages>, body: JsonBody) -> Response {
    super::send::send(call, (SendEndpoint::Messages, Surface::D360), None, body)
}

/// `GET|POST /v1/configs/webhook`.
async fn channel_webhook(call: Call<D360>, body: JsonBody) -> Response {
    webhook_setting(call, D360Scope::Channel, body)
}

/// `GET|POST /waba_webhook`.
async fn waba_webhook(call: Call<D360>, body: JsonBody) -> Response {
    webhook_setting(call, D360Scope::Waba, body)
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

/// `GET|POST /v1/configs/templates`: list (360dialog's shape) or create.
async fn templates(call: Call<D360>, body: JsonBody) -> Response {
    let credential = call.credential.clone();
    match call.method().clone() {
        Method::GET => {
            let command = Command::ListTemplates {
                surface: Surface::D360,
                credential,
                waba_id: None,
            };
            call.run(command, |reply| {
                let Reply::Templates(list) = reply else {
                    return super::unexpected(&reply);
                };
                let items: Vec<Value> = list
                    .templates
                    .iter()
                    .map(|t| {
                        json!({
                            "name": t.name, "language": t.language, "category": t.category.name(),
                            "components": t.components.to_json(), "parameter_format": t.components.parameter_format.name(), "status": status_word(t.status),
                            "namespace": list.waba_id, "rejected_reason": if t.status == TemplateStatus::Rejected { "INCORRECT_CATEGORY" } else { "NONE" },
                            "quality_score": {"score": crate::model::templates::quality_name(t.quality)},
                        })
                    })
                    .collect();
                let count = items.len();
                Json(json!({"count": count, "filters": {}, "limit": 1000, "offset": 0, "sort": ["id"], "total": count, "waba_templates": items})).into_response()
            })
        }
        Method::POST => {
            let body = body.0.map_err(Refusal::Request);
            let echoed = body.as_ref().ok().cloned().unwrap_or_default();
            let command = Command::CreateTemplate {
                surface: Surface::D360,
                credential,
                waba_id: None,
                body,
            };
            call.run(command, move |reply| match reply {
                Reply::TemplateCreated(id) => (
                    StatusCode::CREATED,
                    Json(json!({
                        "id": id, "name": echoed["name"], "language": echoed["language"],
                        "category": echoed["category"], "components": echoed["components"],
                        "status": "submitted",
                    })),
                )
                    .into_response(),
                other => super::unexpected(&other),
            })
        }
        method => unsupported(call, &method, "GET or POST"),
    }
}

/// `DELETE /v1/configs/templates/{name}`.
async fn delete_template(call: Call<D360>, Path(name): Path<String>) -> Response {
    if *call.method() != Method::DELETE {
        let method = call.method().clone();
        return unsupported(call, &method, "DELETE");
    }
    let command = Command::DeleteTemplate {
        surface: Surface::D360,
        credential: call.credential.clone(),
        waba_id: None,
        name,
    };
    call.run(command, |reply| match reply {
        Reply::Message(_) => {
            Json(json!({"meta": {"success": true, "http_code": 200}})).into_response()
        }
        other => super::unexpected(&other),
    })
}

/// A method the path does not serve: refused once the key is checked.
fn unsupported(call: Call<D360>, method: &Method, allowed: &'static str) -> Response {
    let command = Command::Unsupported {
        surface: Surface::D360,
        credential: call.credential.clone(),
        refusal: Refusal::Request(wrong_method(method, allowed)),
    };
    call.run(command, |reply| super::unexpected(&reply))
}

/// `{url, headers}` from a settings body; errors name the field.
fn parse_webhook(body: &Value) -> Result<D360Webhook, FieldError> {
    let Value::Object(object) = body else {
        return Err(FieldError::new(
            "",
            "the body must be a JSON object {\"url\": \"https://...\", \"headers\": {...}}",
        ));
    };
    crate::model::fields::known(object, &["url", "headers"])?;
    let url = match object.get("url") {
        Some(Value::String(url))
            if (url.starts_with("http://") || url.starts_with("https://"))
                && url.len() <= WEBHOOK_URL_CHARS_MAX
                && reqwest::Url::parse(url).is_ok() =>
        {
            url.clone()
        }
        Some(other) => {
            return Err(FieldError::new(
                "url",
                format!(
                    "expected an http:// or https:// URL of at most {WEBHOOK_URL_CHARS_MAX} characters, got {other}"
                ),
            ));
        }
        None => return Err(FieldError::new("url", "missing")),
    };
    let mut headers = Vec::new();
    match object.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            if given.len() > WEBHOOK_HEADERS_MAX {
                return Err(FieldError::new(
                    "headers",
                    format!("at most {WEBHOOK_HEADERS_MAX} headers, got {}", given.len()),
                ));
            }
            for (name, value) in given {
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(FieldError::new(
                        "headers",
                        format!("`{name}` is not a valid header name"),
                    ));
                }
                let Value::String(value) = value else {
                    return Err(FieldError::new(
                        format!("headers.{name}"),
                        "expected a string value",
                    ));
                };
                if HeaderValue::from_str(value).is_err() {
                    return Err(FieldError::new(
                        format!("headers.{name}"),
                        "not a valid header value (visible ASCII only)",
                    ));
                }
                headers.push((name.clone(), Secret::from(value.as_str())));
            }
        }
        Some(other) => {
            return Err(FieldError::new(
                "headers",
                format!("expected an object of header names to values, got {other}"),
            ));
        }
    }
    Ok(D360Webhook { url, headers })
}

fn webhook_setting(call: Call<D360>, scope: D360Scope, body: JsonBody) -> Response {
    let credential = call.credential.clone();
    let command = match call.method().clone() {
        Method::GET => Command::GetD360Webhook { credential, scope },
        Method::POST => Command::SetD360Webhook {
            credential,
            scope,
            webhook: body
                .0
                .map_err(Refusal::Request)
                .and_then(|body| parse_webhook(&body).map_err(Refusal::from)),
        },
        method => return unsupported(call, &method, "GET or POST"),
    };
    call.run(command, |reply| match reply {
        Reply::D360Webhook(webhook) => {
            Json(webhook.map_or_else(|| json!({"url": null, "headers": {}}), |w| w.to_json()))
                .into_response()
        }
        other => super::unexpected(&other),
    })
}
