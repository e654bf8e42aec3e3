//! Templates on the Cloud API surface
//! (<https://developers.facebook.com/docs/whatsapp/template-quality>,
//! <https://developers.facebook.com/docs/whatsapp/template-pausing>): read a template's
//! quality (`GET /{version}/{template-id}?fields=quality_score`), list the WABA's
//! templates (`GET /{version}/{waba-id}/message_templates`, with `summary` when
//! asked), create and delete them there, and unpause one
//! (`POST /{version}/{template-id}/unpause`), with `Authorization: Bearer`.
//! And the control API's `POST /_wasim/templates/{name}`, for QA to replay an
//! incident: set a template's quality or feedback, decide its pacing, pause or
//! unpause it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::call::{Call, RequestLine};
use super::control::{apply, read_object};
use super::error::{ControlError, Graph};
use super::extract::{GraphObject, JsonBody, wrong_method};
use crate::model::templates::quality_name;
use crate::model::{
    Command, Refusal, Reply, Surface, Template, TemplateControl, TemplateId, WabaId,
};
use crate::state::AppState;

/// Templates a WABA may have, as `summary.message_template_limit` reports it.
pub const TEMPLATES_PER_WABA_MAX: u32 = 250;

/// `POST /{version}/{template-id}/unpause`.
pub(crate) async fn unpause(call: Call<Graph>, GraphObject(id): GraphObject) -> Response {
    let command = if *call.method() == Method::POST {
        Command::UnpauseTemplate {
            credential: call.credential.clone(),
            template_id: TemplateId::from(id),
        }
    } else {
        Command::Unsupported {
            surface: Surface::Graph,
            credential: call.credential.clone(),
            refusal: Refusal::Request(wrong_method(call.method(), "POST")),
        }
    };
    call.run(command, json_answer)
}

pub(crate) fn json_answer(reply: Reply) -> Response {
    match reply {
        Reply::Json(body) => Json(body).into_response(),
        Reply::Message(_) | Reply::Done => Json(json!({"success": true})).into_response(),
        other => super::unexpected(&other),
    }
}

pub(crate) fn template_json(template: &Template, quality: Value) -> Value {
    json!({
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "category": template.category.name(),
        "status": template.status,
        "parameter_format": template.components.parameter_format.name(),
        "components": template.components.to_json(),
        "quality_score": quality,
    })
}

/// The `summary` fields a template list was asked for (`?summary=total_count,…`),
/// with their values: Meta adds the object only when asked.
fn summary_json(request: &RequestLine, count: usize) -> Option<Value> {
    let asked = request.query_value("summary")?;
    let mut summary = serde_json::Map::new();
    for field in asked.split(',').map(str::trim) {
        let value = match field {
            "total_count" | "message_template_count" => json!(count),
            // Meta's limit for a WABA whose business is not verified; 250 per WABA:
            // https://docs.360dialog.com/partner/messaging/template-messages.
            "message_template_limit" => json!(TEMPLATES_PER_WABA_MAX),
            "are_translations_complete" => json!(true),
            _ => continue,
        };
        summary.insert(field.to_owned(), value);
    }
    Some(Value::Object(summary))
}

/// `GET|POST|DELETE /{version}/{waba-id}/message_templates`: list, create (into
/// review), delete by `?name=`.
pub(crate) async fn list(
    call: Call<Graph>,
    GraphObject(id): GraphObject,
    body: JsonBody,
) -> Response {
    let credential = call.credential.clone();
    let waba_id = Some(WabaId::from(id));
    match call.method().clone() {
        Method::GET => {
            let request = call.request.clone();
            let command = Command::ListTemplates {
                surface: Surface::Graph,
                credential,
                waba_id,
            };
            call.run(command, move |reply| match reply {
                Reply::Templates(list) => {
                    let data: Vec<Value> = list
                        .templates
                        .iter()
                        .map(|t| {
                            let quality =
                                json!({"score": quality_name(t.quality), "date": list.unix_now});
                            template_json(t, quality)
                        })
                        .collect();
                    let count = data.len();
                    let mut body = json!({"data": data});
                    if let Some(summary) = summary_json(&request, count) {
                        body["summary"] = summary;
                    }
                    Json(body).into_response()
                }
                other => super::unexpected(&other),
            })
        }
        Method::POST => {
            let body = body.0.map_err(Refusal::Request);
            let category = body
                .as_ref()
                .ok()
                .map_or(Value::Null, |b| b["category"].clone());
            let command = Command::CreateTemplate {
                surface: Surface::Graph,
                credential,
                waba_id,
                body,
            };
            call.run(command, move |reply| match reply {
                Reply::TemplateCreated(id) => {
                    Json(json!({"id": id, "status": "PENDING", "category": category}))
                        .into_response()
                }
                other => super::unexpected(&other),
            })
        }
        Method::DELETE => {
            let name = call.request.query_value("name").unwrap_or_default();
            let command = Command::DeleteTemplate {
                surface: Surface::Graph,
                credential,
                waba_id,
                name,
            };
            call.run(command, json_answer)
        }
        method => {
            let command = Command::Unsupported {
                surface: Surface::Graph,
                credential,
                refusal: Refusal::Request(wrong_method(&method, "GET, POST or DELETE")),
            };
            call.run(command, json_answer)
        }
    }
}

/// `POST /_wasim/templates/{name}`.
pub(crate) async fn control(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: super::extract::AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    let control = TemplateControl::from_json(&object)
        .map_err(|e| ControlError::bad_request(e.to_string()))?;
    match apply(&state, Command::TemplateControl { name, control }).await? {
        Reply::Message(done) => Ok(Json(json!({"success": true, "done": done}))),
        other => Ok(super::control::control_json(other)),
    }
}
