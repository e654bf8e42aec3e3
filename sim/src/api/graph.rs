//! Meta's Cloud API surface: `POST /{version}/{phone-number-id}/messages`,
//! `Authorization: Bearer`. Every route is served with its version segment and
//! without it (`/{phone-number-id}/messages`, `/{waba-id}/message_templates`, …):
//! Graph serves unversioned paths at its default version and clients use them
//! (reference §13).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;

use super::error::{D360Error, GraphError, fbtrace_id, graph_unknown_path};
use super::extract::{self, BodyError};
use crate::model::error::code;
use crate::model::{Command, PlatformError, Reply, Surface};
use crate::state::AppState;
use crate::trace::{TraceEvent, fingerprint};

/// The Cloud API routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/{version}/{phone_number_id}/messages", any(send_versioned))
        .route("/{phone_number_id}/messages", any(send_unversioned))
        .route("/{version}/{id}/unpause", any(super::templates::unpause))
        .route("/{id}/unpause", any(super::templates::unpause))
        .route("/{version}/{id}/register", any(super::phone::register))
        .route("/{id}/register", any(super::phone::register))
        .route("/{version}/{id}/deregister", any(super::phone::deregister))
        .route("/{id}/deregister", any(super::phone::deregister))
        .route(
            "/{version}/{id}/message_templates",
            any(super::templates::list),
        )
        .route("/{id}/message_templates", any(super::templates::list))
        .route("/{version}/{id}", any(super::templates::object))
        .route("/{id}", any(super::templates::object))
}

/// True for a Graph version segment such as `v23.0`.
pub(crate) fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && (major.bytes().chain(minor.bytes())).all(|b| b.is_ascii_digit())
        })
}

async fn send_versioned(
    State(state): State<Arc<AppState>>,
    Path((version, phone_number_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if version == "_wasim" {
        return super::control::unknown(uri.path()).into_response();
    }
    if !is_version(&version) {
        return graph_unknown_path(&method, uri.path()).into_response();
    }
    send(
        &state,
        Surface::Graph,
        Some(phone_number_id),
        method,
        uri,
        headers,
        body,
    )
    .await
}

async fn send_unversioned(
    State(state): State<Arc<AppState>>,
    Path(phone_number_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if phone_number_id == "_wasim" {
        return super::control::unknown(uri.path()).into_response();
    }
    if is_version(&phone_number_id) {
        return graph_unknown_path(&method, uri.path()).into_response();
    }
    send(
        &state,
        Surface::Graph,
        Some(phone_number_id),
        method,
        uri,
        headers,
        body,
    )
    .await
}

/// The send pipeline both messaging surfaces share: method, body, one model
/// command, the answer in the surface's dialect, one `request` trace record.
pub(crate) async fn send(
    state: &AppState,
    surface: Surface,
    phone_number_id: Option<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let credential = match surface {
        Surface::Graph => extract::bearer(&headers),
        Surface::D360 => extract::header(&headers, "D360-API-KEY"),
    };
    let parsed = if method == Method::POST {
        Some(extract::read_json(&headers, body).await)
    } else {
        None
    };
    let path = uri.path().to_owned();
    // Hashed before the lock: every call of every connection waits on it.
    let credential_fingerprint = credential.as_deref().map(fingerprint);
    state.with_sim(|sim, now| {
        // The trace id of an error answer; a success needs none.
        let (seed, seq) = (sim.world.seed(), sim.trace.len() as u64);
        let trace_id = move || fbtrace_id(seed, seq);
        let authenticated =
            sim.world
                .authenticate_send(surface, credential.as_deref(), phone_number_id.as_deref());
        let (response, error_code, deliveries) = match (authenticated, parsed) {
            (Err(rejection), _) => {
                let (response, code) = answer(rejection, trace_id);
                (response, code, Vec::new())
            }
            (Ok(()), None) => {
                let error = PlatformError::new(
                    code::INVALID_PARAMETER,
                    format!("Unsupported {method} request. Use POST to send a message."),
                );
                let code = error.code;
                (
                    GraphError::new(error, trace_id()).into_response(),
                    Some(code),
                    Vec::new(),
                )
            }
            (Ok(()), Some(Err(body_error))) => {
                let answer = body_error_answer(&body_error, trace_id());
                (
                    answer.into_response(),
                    Some(code::INVALID_PARAMETER),
                    Vec::new(),
                )
            }
            (Ok(()), Some(Ok(body))) => {
                let command = Command::SendMessage {
                    surface,
                    credential: credential.clone(),
                    phone_number_id: phone_number_id.clone(),
                    body,
                };
                let (reply, deliveries) = sim.apply(now, command);
                let (response, code) = answer(reply, trace_id);
                (response, code, deliveries)
            }
        };
        sim.record(TraceEvent::Request {
            surface: surface.name(),
            method: method.to_string(),
            path,
            credential: credential_fingerprint,
            http_status: response.status().as_u16(),
            error_code,
        });
        // Queued under the lock, so webhooks keep the model's order.
        state.queue(sim, deliveries);
        response
    })
}

fn body_error_answer(error: &BodyError, trace_id: String) -> GraphError {
    GraphError {
        status: error.http_status(),
        error: PlatformError::new(code::INVALID_PARAMETER, error.details()),
        fbtrace_id: trace_id,
    }
}

/// A send's success answer, serialised straight from the reply's fields.
#[derive(Serialize)]
struct SentAnswer<'a> {
    messaging_product: &'static str,
    contacts: [SentContact<'a>; 1],
    messages: [SentMessage<'a>; 1],
}

#[derive(Serialize)]
struct SentContact<'a> {
    input: &'a str,
    wa_id: &'a str,
}

#[derive(Serialize)]
struct SentMessage<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_status: Option<&'a str>,
}

fn answer(reply: Reply, trace_id: impl FnOnce() -> String) -> (Response, Option<u32>) {
    match reply {
        Reply::Sent {
            input,
            wa_id,
            message_id,
            message_status,
        } => {
            let body = SentAnswer {
                messaging_product: "whatsapp",
                contacts: [SentContact {
                    input: &input,
                    wa_id: &wa_id,
                }],
                messages: [SentMessage {
                    id: &message_id,
                    message_status,
                }],
            };
            ((StatusCode::OK, axum::Json(body)).into_response(), None)
        }
        Reply::Unauthorized => (D360Error::invalid_key().into_response(), None),
        Reply::Blocked {
            http_status,
            message,
        } => (
            D360Error {
                status: http_status,
                message,
            }
            .into_response(),
            None,
        ),
        Reply::Rejected(error) => {
            let code = error.code;
            (
                GraphError::new(error, trace_id()).into_response(),
                Some(code),
            )
        }
        other => {
            debug_assert!(false, "a send got a non-send reply: {other:?}");
            let error = PlatformError::new(131_000, "Something went wrong.");
            (
                GraphError::new(error, trace_id()).into_response(),
                Some(131_000),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_segments_are_recognised() {
        assert!(is_version("v23.0"));
        assert!(is_version("v19.10"));
        assert!(!is_version("v23"));
        assert!(!is_version("23.0"));
        assert!(!is_version("v.0"));
        assert!(!is_version("110000000000001"));
    }
}
