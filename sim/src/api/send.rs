//! The send, shared by the Cloud API (`POST /{phone-number-id}/messages`, and
//! `/marketing_messages` for marketing templates) and 360dialog's messaging API
//! (`POST /messages`, same body): the body is parsed here
//! into an [`crate::model::Outgoing`] (or the reason it is not one), the model
//! decides, and an accepted send is answered as Graph answers it.

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::call::{Call, Dialect};
use super::extract::JsonBody;
use crate::model::secret::Secret;
use crate::model::{Command, PhoneNumberId, Reply, SendEndpoint, Surface};

/// Sends through `surface`'s `endpoint` (the Graph path's number, or the key's
/// on 360dialog).
pub(crate) fn send<D: Dialect<Credential = Secret>>(
    call: Call<D>,
    (endpoint, surface): (SendEndpoint, Surface),
    phone_number_id: Option<PhoneNumberId>,
    body: JsonBody,
) -> Response {
    let command = Command::posted(
        endpoint,
        surface,
        call.credential.clone(),
        phone_number_id,
        body.when(call.method(), Method::POST, "POST"),
    );
    call.run(command, sent)
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

fn sent(reply: Reply) -> Response {
    if matches!(reply, Reply::Done) {
        // A read receipt.
        return (StatusCode::OK, Json(serde_json::json!({"success": true}))).into_response();
    }
    let Reply::Sent {
        input,
        wa_id,
        message_id,
        message_status,
    } = reply
    else {
        debug_assert!(false, "a send got a non-send reply: {reply:?}");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = SentAnswer {
        messaging_product: "whatsapp",
        contacts: [SentContact {
            input: &input,
            wa_id: wa_id.as_str(),
        }],
        messages: [SentMessage {
            id: message_id.as_str(),
            message_status,
        }],
    };
    (StatusCode::OK, Json(body)).into_response()
}
