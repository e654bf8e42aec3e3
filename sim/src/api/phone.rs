//! Registration on the Cloud API surface
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/reference/registration>,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/reference/two-step-verification>):
//! `POST /{version}/{phone-number-id}/register` `{"messaging_product", "pin"}`,
//! `POST /{version}/{phone-number-id}/deregister`, and `POST
//! /{version}/{phone-number-id}` `{"pin"}` to set the two-step verification PIN.

use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::call::Call;
use super::error::Graph;
use super::extract::{GraphObject, JsonBody};
use crate::model::error::code;
use crate::model::registration::PhoneCall;
use crate::model::secret::Secret;
use crate::model::{Command, PhoneNumberId, PlatformError, Refusal, Reply};

/// Runs the phone call `make` reads from the body of a `POST`.
pub(crate) fn handle(
    call: Call<Graph>,
    phone_number_id: String,
    body: Result<Value, crate::model::RequestError>,
    make: fn(&Value) -> Result<PhoneCall, PlatformError>,
) -> Response {
    let phone_call = body
        .map_err(Refusal::Request)
        .and_then(|body| make(&body).map_err(Refusal::Platform));
    let command = Command::PhoneCall {
        credential: call.credential.clone(),
        phone_number_id: PhoneNumberId::from(phone_number_id),
        call: phone_call,
    };
    call.run(command, |reply| match reply {
        Reply::Json(body) => Json(body).into_response(),
        other => super::unexpected(&other),
    })
}

fn pin_of(body: &Value) -> Result<Secret, PlatformError> {
    match body.get("pin") {
        Some(Value::String(pin)) => Ok(Secret::from(pin.as_str())),
        Some(other) => Err(PlatformError::new(
            code::INVALID_PARAMETER,
            format!(
                "Param pin must be a 6-digit string, got a {}.",
                json_kind(other)
            ),
        )),
        None => Err(PlatformError::new(
            code::INVALID_PARAMETER,
            "The parameter pin is required.",
        )),
    }
}

/// What kind of JSON value `value` is (a PIN of the wrong kind is named by its
/// kind, never echoed).
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
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
    call: Call<Graph>,
    GraphObject(id): GraphObject,
    body: JsonBody,
) -> Response {
    let body = body.when(call.method(), Method::POST, "POST");
    handle(call, id, body, register_call)
}

/// `POST /{version}/{phone-number-id}/deregister` (no body).
pub(crate) async fn deregister(call: Call<Graph>, GraphObject(id): GraphObject) -> Response {
    let body = if *call.method() == Method::POST {
        Ok(Value::Null)
    } else {
        Err(super::extract::wrong_method(call.method(), "POST"))
    };
    handle(call, id, body, deregister_call)
}
