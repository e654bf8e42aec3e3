//! Registration on the Cloud API surface (reference §8.1, §8.2):
//! `POST /{version}/{phone-number-id}/register` `{"messaging_product", "pin"}`,
//! `POST /{version}/{phone-number-id}/deregister`, and `POST
//! /{version}/{phone-number-id}` `{"pin"}` to set the two-step verification PIN.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{GraphError, fbtrace_id};
use super::extract;
use crate::model::error::code;
use crate::model::registration::PhoneCall;
use crate::model::{Command, PlatformError, Reply};
use crate::state::AppState;

/// Runs `call` built from the JSON body, answering in Graph's dialect, and records
/// the request.
pub(crate) async fn handle(
    state: &AppState,
    phone_number_id: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    make: fn(&Value) -> Result<PhoneCall, PlatformError>,
) -> Response {
    let credential = extract::bearer(&headers);
    let trace_id = state.read(|sim| fbtrace_id(sim.world.seed(), sim.trace.len() as u64));
    let response = if method != Method::POST {
        GraphError::new(
            PlatformError::new(
                code::INVALID_PARAMETER,
                format!("Unsupported {method} request. Use POST."),
            ),
            trace_id,
        )
        .into_response()
    } else {
        let body = if uri.path().ends_with("/deregister") {
            Ok(Value::Null)
        } else {
            extract::read_json(&headers, body)
                .await
                .map_err(|e| PlatformError::new(code::INVALID_PARAMETER, e.details()))
        };
        let reply = body.and_then(|body| make(&body)).map(|call| {
            state.apply(Command::PhoneCall {
                credential: credential.clone(),
                phone_number_id,
                call,
            })
        });
        match reply {
            Ok(Reply::Json(body)) => Json(body).into_response(),
            Ok(Reply::Rejected(error)) | Err(error) => {
                GraphError::new(error, trace_id).into_response()
            }
            Ok(other) => {
                GraphError::new(PlatformError::new(131_000, format!("{other:?}")), trace_id)
                    .into_response()
            }
        }
    };
    super::record_request(
        state,
        "graph",
        &method,
        &uri,
        credential.as_deref(),
        response.status().as_u16(),
    );
    response
}

fn pin_of(body: &Value) -> Result<String, PlatformError> {
    match body.get("pin") {
        Some(Value::String(pin)) => Ok(pin.clone()),
        Some(other) => Err(PlatformError::new(
            code::INVALID_PARAMETER,
            format!("Param pin must be a 6-digit string, got {other}."),
        )),
        None => Err(PlatformError::new(
            code::INVALID_PARAMETER,
            "The parameter pin is required.",
        )),
    }
}

fn register_call(body: &Value) -> Result<PhoneCall, PlatformError> {
    if body.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(PlatformError::new(
            code::INVALID_PARAMETER,
            "The parameter messaging_product is required and must be \"whatsapp\".",
        ));
    }
    pin_of(body).map(|pin| PhoneCall::Register { pin })
}

fn deregister_call(_: &Value) -> Result<PhoneCall, PlatformError> {
    Ok(PhoneCall::Deregister)
}

/// The `SetPin` call of a `POST /{version}/{phone-number-id}` body.
pub(crate) fn set_pin_call(body: &Value) -> Result<PhoneCall, PlatformError> {
    pin_of(body).map(|pin| PhoneCall::SetPin { pin })
}

/// `POST /{version}/{phone-number-id}/register`.
pub(crate) async fn register(
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
    handle(&state, id, method, uri, headers, body, register_call).await
}

/// `POST /{version}/{phone-number-id}/deregister`.
pub(crate) async fn deregister(
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
    handle(&state, id, method, uri, headers, body, deregister_call).await
}
