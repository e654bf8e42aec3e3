//! Templates on the Cloud API surface (reference §4, §5): read a template's
//! quality (`GET /{version}/{template-id}?fields=quality_score`), list the WABA's
//! templates (`GET /{version}/{waba-id}/message_templates`, with `summary` when
//! asked), create and delete them there, and unpause one
//! (`POST /{version}/{template-id}/unpause`), with `Authorization: Bearer`.
//! And the control API's `POST /_wasim/templates/{name}`, for QA to replay an
//! incident: set a template's quality or feedback, decide its pacing, pause or
//! unpause it.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::control::{control_reply, read_object};
use super::error::{ControlError, GraphError, fbtrace_id};
use super::extract;
use crate::model::error::code;
use crate::model::rng::Ratio;
use crate::model::spec::Quality;
use crate::model::spec::TemplateStatus;
use crate::model::templates::quality_name;
use crate::model::{Command, PacingOutcome, PlatformError, Reply, Surface, TemplateControl};
use crate::state::AppState;

fn graph_error(state: &AppState, error: PlatformError) -> Response {
    let trace_id = state.read(|sim| fbtrace_id(sim.world.seed(), sim.trace.len() as u64));
    GraphError::new(error, trace_id).into_response()
}

fn record(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    credential: Option<&str>,
    response: &Response,
) {
    super::record_request(
        state,
        "graph",
        method,
        uri,
        credential,
        response.status().as_u16(),
    );
}

/// `POST /{version}/{template-id}/unpause`.
pub(crate) async fn unpause(
    State(state): State<Arc<AppState>>,
    params: super::GraphParams,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let id = match super::graph_object_id(&state, params, &headers, &method, &uri).await {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let credential = extract::bearer(&headers);
    let response = if method == Method::POST {
        match state.apply(Command::UnpauseTemplate {
            credential: credential.clone(),
            template_id: id,
        }) {
            Reply::Message(_) => Json(json!({"success": true})).into_response(),
            Reply::Invalid(reason) => {
                Json(json!({"success": false, "reason": reason})).into_response()
            }
            Reply::Rejected(error) => graph_error(&state, error),
            other => graph_error(&state, PlatformError::new(131_000, format!("{other:?}"))),
        }
    } else {
        graph_error(
            &state,
            PlatformError::new(
                code::INVALID_PARAMETER,
                format!("Unsupported {method} request. Use POST to unpause."),
            ),
        )
    };
    state.flush_webhooks().await;
    record(&state, &method, &uri, credential.as_deref(), &response);
    response
}

/// `GET /{version}/{id}`: a template (`fields=quality_score` or its summary);
/// `POST` with `{"pin"}` on a phone number sets its two-step PIN.
pub(crate) async fn object(
    State(state): State<Arc<AppState>>,
    params: super::GraphParams,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = match super::graph_object_id(&state, params, &headers, &method, &uri).await {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    if method == Method::POST {
        return super::phone::handle(
            &state,
            id,
            method,
            uri,
            headers,
            body,
            super::phone::set_pin_call,
        )
        .await;
    }
    let credential = extract::bearer(&headers);
    let response = state.read(|sim| {
        let world = &sim.world;
        world.check_access_token(credential.as_deref())?;
        let Some(template) = world.templates().iter().find(|t| t.id == id) else {
            return Err(PlatformError::new(
                code::INVALID_PARAMETER,
                format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
            ));
        };
        let date = world.spec().epoch_unix_s + world.now().as_ms() / 1000;
        let quality = json!({"score": quality_name(template.quality), "date": date});
        let wants_quality = uri.query().is_some_and(|q| q.contains("quality_score"));
        Ok(if wants_quality {
            json!({"quality_score": quality, "id": template.id})
        } else {
            template_json(template, quality)
        })
    });
    let response = match (method == Method::GET, response) {
        (false, _) => graph_error(
            &state,
            PlatformError::new(
                code::INVALID_PARAMETER,
                format!("Unsupported {method} request."),
            ),
        ),
        (true, Ok(body)) => Json(body).into_response(),
        (true, Err(error)) => graph_error(&state, error),
    };
    record(&state, &method, &uri, credential.as_deref(), &response);
    response
}

fn template_json(template: &crate::model::Template, quality: Value) -> Value {
    json!({
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "category": template.category.name(),
        "status": template.status,
        "parameter_format": "POSITIONAL",
        "components": components_json(template),
        "quality_score": quality,
    })
}

/// A template's components in Meta's shape (clients such as pywa read them, and
/// refuse a placeholder without its example). The model keeps only how many
/// header and body parameters a template takes, not its texts, so the texts are
/// stand-ins: the template's name followed by `{{1}}`, `{{2}}`, … with examples.
pub(crate) fn components_json(template: &crate::model::Template) -> Value {
    let text = |count: u32| {
        let mut text = template.name.clone();
        for n in 1..=count {
            text.push_str(&format!(" {{{{{n}}}}}"));
        }
        text
    };
    let examples =
        |count: u32| -> Vec<String> { (1..=count).map(|n| format!("example {n}")).collect() };
    let mut components = Vec::new();
    if template.header_parameters > 0 {
        components.push(json!({
            "type": "HEADER",
            "format": "TEXT",
            "text": text(template.header_parameters),
            "example": {"header_text": examples(template.header_parameters)},
        }));
    }
    let mut body = json!({"type": "BODY", "text": text(template.body_parameters)});
    if template.body_parameters > 0 {
        body["example"] = json!({"body_text": [examples(template.body_parameters)]});
    }
    components.push(body);
    Value::Array(components)
}

/// The `summary` fields a template list was asked for (`?summary=total_count,…`),
/// with their values: Meta adds the object only when asked.
fn summary_json(uri: &Uri, count: usize) -> Option<Value> {
    let asked = query_value(uri, "summary")?;
    let mut summary = serde_json::Map::new();
    for field in asked.split(',').map(str::trim) {
        let value = match field {
            "total_count" | "message_template_count" => json!(count),
            // Meta's limit for a WABA whose business is not verified (reference §9.7).
            "message_template_limit" => json!(TEMPLATES_PER_WABA_MAX),
            "are_translations_complete" => json!(true),
            _ => continue,
        };
        summary.insert(field.to_owned(), value);
    }
    Some(Value::Object(summary))
}

/// Templates a WABA may have, as `summary.message_template_limit` reports it.
pub const TEMPLATES_PER_WABA_MAX: u32 = 250;

/// `GET|POST|DELETE /{version}/{waba-id}/message_templates`: list, create (into
/// review), delete by `?name=`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    params: super::GraphParams,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = match super::graph_object_id(&state, params, &headers, &method, &uri).await {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let credential = extract::bearer(&headers);
    let response = match method {
        Method::GET => list_templates(&state, credential.as_deref(), &id, &uri),
        Method::POST => match extract::read_json(&headers, body).await {
            Err(error) => graph_error(
                &state,
                PlatformError::new(code::INVALID_PARAMETER, error.details()),
            ),
            Ok(body) => match state.apply(Command::CreateTemplate {
                surface: Surface::Graph,
                credential: credential.clone(),
                waba_id: Some(id.clone()),
                body: body.clone(),
            }) {
                Reply::TemplateCreated(id) => Json(json!({
                    "id": id, "status": "PENDING", "category": body["category"],
                }))
                .into_response(),
                Reply::Rejected(error) => graph_error(&state, error),
                other => graph_error(&state, PlatformError::new(131_000, format!("{other:?}"))),
            },
        },
        Method::DELETE => {
            let name = query_value(&uri, "name").unwrap_or_default();
            match state.apply(Command::DeleteTemplate {
                surface: Surface::Graph,
                credential: credential.clone(),
                waba_id: Some(id.clone()),
                name,
            }) {
                Reply::Message(_) => Json(json!({"success": true})).into_response(),
                Reply::Rejected(error) => graph_error(&state, error),
                other => graph_error(&state, PlatformError::new(131_000, format!("{other:?}"))),
            }
        }
        _ => graph_error(
            &state,
            PlatformError::new(
                code::INVALID_PARAMETER,
                format!("Unsupported {method} request."),
            ),
        ),
    };
    state.flush_webhooks().await;
    record(&state, &method, &uri, credential.as_deref(), &response);
    response
}

/// A query parameter's value (percent-decoding `+`, `%20` and `%2C` only: template
/// names are `[a-z0-9_]`, field lists are comma-separated names).
fn query_value(uri: &Uri, key: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| {
            v.replace('+', " ")
                .replace("%20", " ")
                .replace("%2C", ",")
                .replace("%2c", ",")
        })
}

fn list_templates(
    state: &AppState,
    credential: Option<&str>,
    waba_id: &str,
    uri: &Uri,
) -> Response {
    let body = state.read(|sim| {
        let world = &sim.world;
        world.authorize_templates_graph(credential, waba_id)?;
        let date = world.spec().epoch_unix_s + world.now().as_ms() / 1000;
        let data: Vec<Value> = world
            .templates()
            .iter()
            .filter(|t| t.status != TemplateStatus::Deleted)
            .map(|t| template_json(t, json!({"score": quality_name(t.quality), "date": date})))
            .collect();
        let count = data.len();
        let mut body = json!({"data": data});
        if let Some(summary) = summary_json(uri, count) {
            body["summary"] = summary;
        }
        Ok(body)
    });
    match body {
        Ok(body) => Json(body).into_response(),
        Err(error) => graph_error(state, error),
    }
}

/// The fields `POST /_wasim/templates/{name}` accepts, as named in errors.
const CONTROLS: &str = "\"quality\": \"GREEN|YELLOW|RED|UNKNOWN\", \"negative\": \"N/D\", \"decide\": \"release|pause\", \"pause\": true or \"unpause\": true";

/// Parses one template control from a JSON object; the error names the field.
pub fn parse_control(object: &serde_json::Map<String, Value>) -> Result<TemplateControl, String> {
    let [(key, value)] = object.iter().collect::<Vec<_>>()[..] else {
        return Err(format!("pass exactly one of {CONTROLS}"));
    };
    match (key.as_str(), value) {
        ("quality", Value::String(q)) => match q.as_str() {
            "GREEN" => Ok(TemplateControl::Quality(Quality::Green)),
            "YELLOW" => Ok(TemplateControl::Quality(Quality::Yellow)),
            "RED" => Ok(TemplateControl::Quality(Quality::Red)),
            "UNKNOWN" => Ok(TemplateControl::Quality(Quality::Unknown)),
            other => Err(format!(
                "quality: expected GREEN, YELLOW, RED or UNKNOWN, got `{other}`"
            )),
        },
        ("negative", Value::String(ratio)) => ratio
            .parse::<Ratio>()
            .map(TemplateControl::Negative)
            .map_err(|e| format!("negative: {e}")),
        ("decide", Value::String(outcome)) => match outcome.as_str() {
            "release" => Ok(TemplateControl::Decide(PacingOutcome::Release)),
            "pause" => Ok(TemplateControl::Decide(PacingOutcome::Pause)),
            other => Err(format!("decide: expected release or pause, got `{other}`")),
        },
        ("pause", Value::Bool(true)) => Ok(TemplateControl::Pause),
        ("unpause", Value::Bool(true)) => Ok(TemplateControl::Unpause),
        (key, value) => Err(format!(
            "{key}: unexpected {value}; pass exactly one of {CONTROLS}"
        )),
    }
}

/// `POST /_wasim/templates/{name}`.
pub(crate) async fn control(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(&headers, body).await?;
    let control = parse_control(&object).map_err(ControlError::bad_request)?;
    let reply = state.apply(Command::TemplateControl { name, control });
    state.flush_webhooks().await;
    match reply {
        Reply::Message(done) => Ok(Json(json!({"success": true, "done": done}))),
        other => control_reply(other),
    }
}
