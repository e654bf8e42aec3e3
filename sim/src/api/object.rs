//! Graph objects read, changed and deleted by id (`/{version}/{id}`): the model
//! says which kind of object an id names (a template, a phone number, …) and
//! answers with it; this module renders each kind as Graph does.
//! `GET /{template-id}` (`fields=quality_score` or the template),
//! `GET /{phone-number-id}` and `GET /{waba-id}` (their `fields`), `POST
//! /{phone-number-id}` `{"pin"}` (the two-step PIN), `DELETE /{id}`.

use axum::Json;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::call::Call;
use super::error::Graph;
use super::extract::{GraphObject, JsonBody, wrong_method};
use super::numbers;
use crate::model::numbers::{Fields, PHONE_NUMBER_DEFAULT, WABA_DEFAULT};
use crate::model::templates::quality_name;
use crate::model::{Command, PhoneNumberId, Refusal, Reply, Surface};

/// `GET|POST|DELETE /{version}/{id}`.
pub(crate) async fn object(
    call: Call<Graph>,
    GraphObject(id): GraphObject,
    headers: HeaderMap,
    body: JsonBody,
) -> Response {
    let phone_number_id = call
        .request
        .query_value("phone_number_id")
        .map(PhoneNumberId::from);
    match call.method().clone() {
        Method::POST => super::phone::handle(call, id, body.0, super::phone::set_pin_call),
        Method::GET => {
            let fields = call.request.query_value("fields");
            let command = Command::GetObject {
                credential: call.credential.clone(),
                id,
                fields: Fields::parse(fields.as_deref()),
                phone_number_id,
            };
            let base_url = super::media::base_url(&headers);
            call.run(command, |reply| {
                get_answer(reply, fields.as_deref(), &base_url)
            })
        }
        Method::DELETE => {
            let command = Command::DeleteObject {
                credential: call.credential.clone(),
                id,
                phone_number_id,
            };
            call.run(command, |reply| match reply {
                Reply::Done => Json(json!({"success": true})).into_response(),
                other => super::unexpected(&other),
            })
        }
        method => {
            let command = Command::Unsupported {
                surface: Surface::Graph,
                credential: call.credential.clone(),
                refusal: Refusal::Request(wrong_method(&method, "GET, POST or DELETE")),
            };
            call.run(command, super::templates::json_answer)
        }
    }
}

/// The answer to a `GET` of an object, with the `fields` asked for (`base_url`:
/// where the simulator was reached, for a media's URL).
fn get_answer(reply: Reply, fields: Option<&str>, base_url: &str) -> Response {
    let wants = |field: &str| fields.is_some_and(|f| f.split(',').any(|f| f.trim() == field));
    match reply {
        Reply::Template { template, unix_now } => {
            let quality = json!({"score": quality_name(template.quality), "date": unix_now});
            Json(if wants("quality_score") {
                json!({"quality_score": quality, "id": template.id})
            } else {
                super::templates::template_json(&template, quality)
            })
            .into_response()
        }
        Reply::PhoneNumber(number) => {
            let fields = Fields::parse(fields);
            Json(numbers::phone_number_json(
                &number,
                &fields.or(PHONE_NUMBER_DEFAULT),
            ))
            .into_response()
        }
        Reply::Waba(waba) => {
            let fields = Fields::parse(fields);
            Json(numbers::waba_json(&waba, &fields.or(WABA_DEFAULT))).into_response()
        }
        Reply::Media(info) => super::media::media_json(&info, base_url),
        other => super::unexpected(&other),
    }
}
