//! 360dialog's Partner API under `/api/v2`: `POST /token`, the channel and client
//! lists (`limit`, `offset`, `sort`, `filters` JSON), a channel's API keys
//! (`POST|GET|DELETE /partners/{partner_id}/channels/{channel_id}/api_keys`), the
//! partner webhook URL, partner users and a WABA's compliance. Credentials are
//! checked before anything else of a request, as the platform does: a bad body
//! from a stranger is a 401. Errors in the partner shape:
//! `{"meta": {"success": false, "http_code": N, "developer_message": "..."}}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::Value;

use super::call::{Call, percent_decode};
use super::error::Partner;
use super::extract::{AnyJsonBody, wrong_method};
use crate::model::fields::{self, FieldError};
use crate::model::partner::{PAGE_LIMIT_MAX, Page, PartnerCall};
use crate::model::secret::Secret;
use crate::model::{ChannelId, Command, PartnerId, Refusal, Reply, WabaId};
use crate::state::AppState;

/// The Partner API routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v2/token", any(token))
        .route("/api/v2/partners/{partner_id}/channels", any(channels))
        .route(
            "/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys",
            any(api_keys),
        )
        .route("/api/v2/partners/{partner_id}/clients", any(clients))
        .route(
            "/api/v2/partners/{partner_id}/webhook_url",
            any(webhook_url),
        )
        .route("/api/v2/partners/{partner_id}/users", any(users))
        .route("/api/v2/partners/{partner_id}/users/{user_id}", any(user))
        .route(
            "/api/v2/partners/{partner_id}/waba_accounts/{waba_id}/compliance",
            any(compliance),
        )
}

/// Runs `call` (or its refusal, once the credential is checked) for `partner_id`.
fn run(request: Call<Partner>, partner_id: String, call: Result<PartnerCall, Refusal>) -> Response {
    let command = Command::PartnerCall {
        credential: request.credential.clone(),
        partner_id: PartnerId::from(partner_id),
        call,
    };
    request.run(command, answer)
}

fn answer(reply: Reply) -> Response {
    match reply {
        Reply::Json(body) => Json(body).into_response(),
        Reply::Created(body) => (StatusCode::CREATED, Json(body)).into_response(),
        other => super::unexpected(&other),
    }
}

/// Runs `call` for `partner_id` when the request's method is `allowed`.
fn run_only(
    request: Call<Partner>,
    partner_id: String,
    allowed: Method,
    call: PartnerCall,
) -> Response {
    let call = if *request.method() == allowed {
        Ok(call)
    } else {
        Err(Refusal::Request(wrong_method(
            request.method(),
            allowed_words(&allowed),
        )))
    };
    run(request, partner_id, call)
}

/// `get` for a GET; for a POST, what `post` reads from its JSON object body.
fn get_or_post(
    request: &Call<Partner>,
    body: AnyJsonBody,
    get: PartnerCall,
    post: impl FnOnce(serde_json::Map<String, Value>) -> Result<PartnerCall, Refusal>,
) -> Result<PartnerCall, Refusal> {
    match request.method().clone() {
        Method::GET => Ok(get),
        Method::POST => object_body(body).and_then(post),
        method => Err(Refusal::Request(wrong_method(&method, "GET or POST"))),
    }
}

fn allowed_words(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::DELETE => "DELETE",
        _ => "POST",
    }
}

/// A JSON object body, or why it is not one.
fn object_body(body: AnyJsonBody) -> Result<serde_json::Map<String, Value>, Refusal> {
    match body.0.map_err(Refusal::Request)? {
        Value::Object(object) => Ok(object),
        other => Err(Refusal::Invalid(format!(
            "expected a JSON object, got {other}"
        ))),
    }
}

async fn users(
    request: Call<Partner>,
    Path(partner_id): Path<String>,
    body: AnyJsonBody,
) -> Response {
    let call = get_or_post(&request, body, PartnerCall::ListUsers, |body| {
        let email = body.get("email").and_then(Value::as_str).unwrap_or("");
        let role = body.get("role").and_then(Value::as_str).unwrap_or("member");
        if !email.contains('@') {
            Err(Refusal::Invalid(
                "email: expected {\"email\": \"name@example.com\", \"role\": \"member\"}"
                    .to_owned(),
            ))
        } else if role != "admin" && role != "member" {
            Err(Refusal::Invalid(format!(
                "role: expected admin or member, got `{role}`"
            )))
        } else {
            Ok(PartnerCall::InviteUser {
                email: email.to_owned(),
                role: role.to_owned(),
            })
        }
    });
    run(request, partner_id, call)
}

async fn user(
    request: Call<Partner>,
    Path((partner_id, user_id)): Path<(String, String)>,
) -> Response {
    let call = PartnerCall::RemoveUser { user_id };
    run_only(request, partner_id, Method::DELETE, call)
}

async fn compliance(
    request: Call<Partner>,
    Path((partner_id, waba_id)): Path<(String, String)>,
) -> Response {
    let waba_id = WabaId::from(waba_id);
    run_only(
        request,
        partner_id,
        Method::GET,
        PartnerCall::Compliance { waba_id },
    )
}

/// `POST /api/v2/token` `{"username", "password"}`: no credential to check, so a
/// bad body is answered at once.
async fn token(request: Call<Partner>, body: AnyJsonBody) -> Response {
    if *request.method() != Method::POST {
        let refusal = Refusal::Request(wrong_method(request.method(), "POST"));
        return request.refuse(refusal);
    }
    let credentials = object_body(body).and_then(|body| {
        let username = fields::string(&body, "username");
        let password = fields::string(&body, "password");
        match (username, password) {
            (Ok(username), Ok(password)) => Ok((username, password)),
            _ => Err(Refusal::Invalid(
                "expected {\"username\": \"...\", \"password\": \"...\"}".to_owned(),
            )),
        }
    });
    match credentials {
        Err(refusal) => request.refuse(refusal),
        Ok((username, password)) => {
            let command = Command::PartnerToken {
                username,
                password: Secret::from(password.as_str()),
            };
            request.run(command, answer)
        }
    }
}

/// `limit`, `offset`, `sort` and `filters` of a list call; the error names the
/// parameter.
fn page(query: Option<&str>) -> Result<Page, FieldError> {
    let params: BTreeMap<String, String> = query
        .map(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), percent_decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let number = |name: &str, default: u64| -> Result<u64, FieldError> {
        params.get(name).map_or(Ok(default), |v| {
            v.parse::<u64>()
                .map_err(|_| FieldError::new(name, format!("expected a whole number, got `{v}`")))
        })
    };
    let limit = number("limit", 20)?;
    if !(1..=PAGE_LIMIT_MAX).contains(&limit) {
        return Err(FieldError::new(
            "limit",
            format!("expected 1 to {PAGE_LIMIT_MAX}, got {limit}"),
        ));
    }
    let offset = number("offset", 0)?;
    let sort = params
        .get("sort")
        .cloned()
        .unwrap_or_else(|| "id".to_owned());
    let field = sort.strip_prefix('-').unwrap_or(&sort);
    if field.is_empty()
        || !field.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    {
        return Err(FieldError::new(
            "sort",
            format!("expected a field path such as `id` or `-created_at`, got `{sort}`"),
        ));
    }
    let filters = match params.get("filters") {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(filters)) => filters,
            Ok(other) => {
                return Err(FieldError::new(
                    "filters",
                    format!("expected a JSON object, got {other}"),
                ));
            }
            Err(e) => return Err(FieldError::new("filters", format!("not valid JSON ({e})"))),
        },
    };
    Ok(Page {
        limit,
        offset,
        sort,
        filters,
    })
}

async fn channels(request: Call<Partner>, Path(partner_id): Path<String>) -> Response {
    let call = list_call(&request, PartnerCall::ListChannels);
    run(request, partner_id, call)
}

async fn clients(request: Call<Partner>, Path(partner_id): Path<String>) -> Response {
    let call = list_call(&request, PartnerCall::ListClients);
    run(request, partner_id, call)
}

/// A `GET` list call with its page.
fn list_call(
    request: &Call<Partner>,
    call: fn(Page) -> PartnerCall,
) -> Result<PartnerCall, Refusal> {
    if *request.method() != Method::GET {
        return Err(Refusal::Request(wrong_method(request.method(), "GET")));
    }
    page(request.request.query.as_deref())
        .map(call)
        .map_err(Refusal::from)
}

async fn webhook_url(
    request: Call<Partner>,
    Path(partner_id): Path<String>,
    body: AnyJsonBody,
) -> Response {
    let call = get_or_post(
        &request,
        body,
        PartnerCall::GetWebhookUrl,
        |body| match body.get("webhook_url").and_then(Value::as_str) {
            Some(url)
                if (url.starts_with("http://") || url.starts_with("https://"))
                    && reqwest::Url::parse(url).is_ok() =>
            {
                Ok(PartnerCall::SetWebhookUrl {
                    url: url.to_owned(),
                })
            }
            _ => Err(Refusal::Invalid(
                "webhook_url: expected {\"webhook_url\": \"https://...\"}".to_owned(),
            )),
        },
    );
    run(request, partner_id, call)
}

async fn api_keys(
    request: Call<Partner>,
    Path((partner_id, channel_id)): Path<(String, String)>,
) -> Response {
    let channel_id = ChannelId::from(channel_id);
    let call = match request.method().clone() {
        Method::POST => Ok(PartnerCall::CreateKey { channel_id }),
        Method::GET => Ok(PartnerCall::ListKeys { channel_id }),
        Method::DELETE => Ok(PartnerCall::DeleteKeys { channel_id }),
        method => Err(Refusal::Request(wrong_method(
            &method,
            "GET, POST or DELETE",
        ))),
    };
    run(request, partner_id, call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pages_name_the_parameter() {
        let starts = |query: &str, field: &str| {
            let error = page(Some(query)).expect_err("refused").to_string();
            assert!(error.starts_with(field), "{query}: {error}");
        };
        starts("limit=0", "limit:");
        starts("offset=x", "offset:");
        starts("filters=%7Bnope", "filters:");
        starts("sort=-", "sort:");
        let page = page(Some(
            "limit=5&offset=1&sort=-setup_info.phone_number&filters=%7B%22status%22%3A%22running%22%7D",
        ))
        .expect("a valid page");
        assert_eq!((page.limit, page.offset, page.filters.len()), (5, 1, 1));
        assert_eq!(page.sort, "-setup_info.phone_number");
    }
}
