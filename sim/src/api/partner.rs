//! 360dialog's Partner API under `/api/v2` (first part): `POST /token`,
//! `GET /partners/{partner_id}/channels` (`limit`, `offset`, `filters` JSON), and
//! `POST|GET|DELETE /partners/{partner_id}/channels/{channel_id}/api_keys`.
//! Errors in the partner shape:
//! `{"meta": {"success": false, "http_code": N, "developer_message": "..."}}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract;
use crate::model::partner::{PAGE_LIMIT_MAX, Page, PartnerCall, PartnerCredential, PartnerReply};
use crate::model::{Command, Reply};
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

/// The credential of a Partner API call: `X-API-Key` if present, else the bearer.
fn credential(headers: &HeaderMap) -> Option<PartnerCredential> {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|key| PartnerCredential::ApiKey(key.trim().to_owned()))
        .or_else(|| extract::bearer(headers).map(PartnerCredential::Bearer))
}

/// Runs `call` (or answers its parse error) and records the request.
fn run(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    partner_id: String,
    call: Result<PartnerCall, Response>,
) -> Response {
    let credential = credential(headers);
    let secret = credential.as_ref().map(|c| c.secret().to_owned());
    // Credentials first, as the platform does: a bad body from a stranger is a 401.
    let refused = state.read(|sim| {
        sim.world
            .authenticate_partner(sim.world.now(), credential.as_ref(), &partner_id)
            .err()
    });
    let response = match (refused, call) {
        (Some(reply), _) => answer(Reply::Partner(reply)),
        (None, Err(response)) => response,
        (None, Ok(call)) => answer(state.apply(Command::PartnerCall {
            credential,
            partner_id,
            call,
        })),
    };
    record(state, method, uri, secret.as_deref(), &response);
    response
}

/// `call` if the request's method is `allowed`, else the 405 to answer.
#[allow(
    clippy::result_large_err,
    reason = "the error is the answer itself, built once per request"
)]
fn only(
    method: &Method,
    uri: &Uri,
    allowed: Method,
    call: PartnerCall,
) -> Result<PartnerCall, Response> {
    if *method == allowed {
        Ok(call)
    } else {
        Err(not_allowed(method, uri, allowed.as_str()))
    }
}

fn not_allowed(method: &Method, uri: &Uri, allowed: &str) -> Response {
    error(
        405,
        format!("{method} is not allowed on {}; use {allowed}", uri.path()),
    )
}

async fn users(
    State(state): State<Arc<AppState>>,
    Path(partner_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = match method {
        Method::GET => Ok(PartnerCall::ListUsers),
        Method::POST => match extract::read_json_any_type(&headers, body).await {
            Err(e) => Err(error(400, e.details())),
            Ok(body) => {
                let email = body.get("email").and_then(Value::as_str).unwrap_or("");
                let role = body.get("role").and_then(Value::as_str).unwrap_or("member");
                if !email.contains('@') {
                    Err(error(
                        400,
                        "email: expected {\"email\": \"name@example.com\", \"role\": \"member\"}",
                    ))
                } else if role != "admin" && role != "member" {
                    Err(error(
                        400,
                        format!("role: expected admin or member, got `{role}`"),
                    ))
                } else {
                    Ok(PartnerCall::InviteUser {
                        email: email.to_owned(),
                        role: role.to_owned(),
                    })
                }
            }
        },
        _ => Err(not_allowed(&method, &uri, "GET or POST")),
    };
    run(&state, &method, &uri, &headers, partner_id, call)
}

async fn user(
    State(state): State<Arc<AppState>>,
    Path((partner_id, user_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let call = only(
        &method,
        &uri,
        Method::DELETE,
        PartnerCall::RemoveUser { user_id },
    );
    run(&state, &method, &uri, &headers, partner_id, call)
}

async fn compliance(
    State(state): State<Arc<AppState>>,
    Path((partner_id, waba_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let call = only(
        &method,
        &uri,
        Method::GET,
        PartnerCall::Compliance { waba_id },
    );
    run(&state, &method, &uri, &headers, partner_id, call)
}

fn error(status: u16, message: impl Into<String>) -> Response {
    let message = message.into();
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        code,
        Json(
            json!({"meta": {"success": false, "http_code": status, "developer_message": message}}),
        ),
    )
        .into_response()
}

fn answer(reply: Reply) -> Response {
    match reply {
        Reply::Partner(PartnerReply::Ok(status, body)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            Json(body),
        )
            .into_response(),
        Reply::Partner(PartnerReply::Error(status, message)) => error(status, message),
        other => error(500, format!("unexpected {other:?}")),
    }
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
        "partner",
        method,
        uri,
        credential,
        response.status().as_u16(),
    );
}

async fn token(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = if method != Method::POST {
        error(
            405,
            format!("{method} is not allowed on {}; use POST", uri.path()),
        )
    } else {
        match extract::read_json_any_type(&headers, body).await {
            Err(e) => error(400, e.details()),
            Ok(body) => {
                let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
                match (field("username"), field("password")) {
                    (Some(username), Some(password)) => {
                        answer(state.apply(Command::PartnerToken { username, password }))
                    }
                    _ => error(
                        400,
                        "expected {\"username\": \"...\", \"password\": \"...\"}",
                    ),
                }
            }
        }
    };
    record(&state, &method, &uri, None, &response);
    response
}

/// `limit`, `offset`, `sort` and `filters` of a list call; the error names the
/// parameter.
fn page(query: Option<&str>) -> Result<Page, String> {
    let params: BTreeMap<String, String> = query
        .map(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), percent_decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let number = |name: &str, default: u64| -> Result<u64, String> {
        params.get(name).map_or(Ok(default), |v| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: expected a whole number, got `{v}`"))
        })
    };
    let limit = number("limit", 20)?;
    if !(1..=PAGE_LIMIT_MAX).contains(&limit) {
        return Err(format!(
            "limit: expected 1 to {PAGE_LIMIT_MAX}, got {limit}"
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
        return Err(format!(
            "sort: expected a field path such as `id` or `-created_at`, got `{sort}`"
        ));
    }
    let filters = match params.get("filters") {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(filters)) => filters,
            Ok(other) => return Err(format!("filters: expected a JSON object, got {other}")),
            Err(e) => return Err(format!("filters: not valid JSON ({e})")),
        },
    };
    Ok(Page {
        limit,
        offset,
        sort,
        filters,
    })
}

/// Decodes `%XX` escapes and `+` (query strings).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 3 <= bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn channels(
    State(state): State<Arc<AppState>>,
    Path(partner_id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let call = list_call(&method, &uri, query.as_deref(), PartnerCall::ListChannels);
    run(&state, &method, &uri, &headers, partner_id, call)
}

async fn clients(
    State(state): State<Arc<AppState>>,
    Path(partner_id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let call = list_call(&method, &uri, query.as_deref(), PartnerCall::ListClients);
    run(&state, &method, &uri, &headers, partner_id, call)
}

/// A `GET` list call with its page, or the 405/400 to answer.
#[allow(
    clippy::result_large_err,
    reason = "the error is the answer itself, built once per request"
)]
fn list_call(
    method: &Method,
    uri: &Uri,
    query: Option<&str>,
    call: fn(Page) -> PartnerCall,
) -> Result<PartnerCall, Response> {
    if method == Method::GET {
        page(query).map(call).map_err(|message| error(400, message))
    } else {
        Err(not_allowed(method, uri, "GET"))
    }
}

async fn webhook_url(
    State(state): State<Arc<AppState>>,
    Path(partner_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = match method {
        Method::GET => Ok(PartnerCall::GetWebhookUrl),
        Method::POST => match extract::read_json_any_type(&headers, body).await {
            Err(e) => Err(error(400, e.details())),
            Ok(body) => match body.get("webhook_url").and_then(Value::as_str) {
                Some(url)
                    if (url.starts_with("http://") || url.starts_with("https://"))
                        && reqwest::Url::parse(url).is_ok() =>
                {
                    Ok(PartnerCall::SetWebhookUrl {
                        url: url.to_owned(),
                    })
                }
                _ => Err(error(
                    400,
                    "webhook_url: expected {\"webhook_url\": \"https://...\"}",
                )),
            },
        },
        _ => Err(not_allowed(&method, &uri, "GET or POST")),
    };
    run(&state, &method, &uri, &headers, partner_id, call)
}

async fn api_keys(
    State(state): State<Arc<AppState>>,
    Path((partner_id, channel_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let call = match method {
        Method::POST => Ok(PartnerCall::CreateKey { channel_id }),
        Method::GET => Ok(PartnerCall::ListKeys { channel_id }),
        Method::DELETE => Ok(PartnerCall::DeleteKeys { channel_id }),
        _ => Err(not_allowed(&method, &uri, "GET, POST or DELETE")),
    };
    run(&state, &method, &uri, &headers, partner_id, call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("%7B%22id%22%3A%22x%22%7D"), "{\"id\":\"x\"}");
        assert_eq!(percent_decode("a+b%2"), "a b%2");
    }

    #[test]
    fn bad_pages_name_the_parameter() {
        assert!(page(Some("limit=0")).unwrap_err().starts_with("limit:"));
        assert!(page(Some("offset=x")).unwrap_err().starts_with("offset:"));
        assert!(
            page(Some("filters=%7Bnope"))
                .unwrap_err()
                .starts_with("filters:")
        );
        let page = page(Some(
            "limit=5&offset=1&sort=-setup_info.phone_number&filters=%7B%22status%22%3A%22running%22%7D",
        ))
        .unwrap();
        assert_eq!((page.limit, page.offset, page.filters.len()), (5, 1, 1));
        assert_eq!(page.sort, "-setup_info.phone_number");
        assert!(
            super::page(Some("sort=-"))
                .unwrap_err()
                .starts_with("sort:")
        );
    }
}
