//! Error answers, one shape per wire dialect, and one table per surface that
//! turns the model's [`Refusal`]s into it (the way stripe-mock keeps one error
//! table): every refusal of a surface is spelled here and nowhere else.
//!
//! - Graph (Cloud API): `{"error": {message, type, code, error_data, fbtrace_id}}`
//!   (<https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>);
//!   190 and 2500 keep the captured bare message, an unknown object id answers a
//!   `GraphMethodException` with `error_subcode` 33 ([`GraphShape`]), and every
//!   answer has its own `fbtrace_id`.
//! - 360dialog: `{"meta": {success, http_code, developer_message}}` for its own
//!   layer (<https://docs.360dialog.com/docs/support/api-error-message-list>); on its
//!   messaging API, Meta's errors pass through in Graph's shape.
//! - 360dialog Partner API: the same `meta` shape, with its own statuses.
//! - Control: `{"error": {"message": …}}`, with `valid_paths` on unknown paths.

use axum::Json;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::call::{Dialect, ErrorCode, RequestLine};
use super::extract;
use crate::model::error::code;
use crate::model::partner::PartnerCredential;
use crate::model::secret::Secret;
use crate::model::{Object, PlatformError, Refusal, RequestError};

/// A Graph error answer.
#[derive(Debug, Clone)]
pub struct GraphError {
    /// The platform error.
    pub error: PlatformError,
    /// HTTP status.
    pub status: u16,
    /// The support trace id.
    pub fbtrace_id: String,
    /// How Graph spells it.
    pub shape: GraphShape,
}

/// How Graph spells an error. The Cloud API's own errors carry "(#code) title" and
/// their details in `error_data`; Graph's own layer answers with its message alone
/// (captured answers: 190, 2500), and an object it cannot load with a
/// `GraphMethodException` and a subcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphShape {
    /// `OAuthException`, message "(#code) title", `error_data` when there are
    /// details (a parameter error of the live API has none).
    Platform,
    /// `OAuthException`, the title alone as the message, no `error_data`.
    Bare,
    /// `GraphMethodException` with `error_subcode`, the title as the message.
    Method {
        /// The subcode (33: the object does not exist or cannot be loaded).
        subcode: u32,
    },
}

impl GraphShape {
    /// The shape Graph gives `code`: 190 and 2500 bare, the rest the Cloud API's own.
    pub fn of(code: u32) -> GraphShape {
        match code {
            code::ACCESS_TOKEN | code::UNKNOWN_PATH => GraphShape::Bare,
            _ => GraphShape::Platform,
        }
    }
}

/// The subcode of "Object with ID '…' does not exist" (captured answers).
pub const SUBCODE_UNKNOWN_OBJECT: u32 = 33;

impl GraphError {
    /// An answer for `error` with its usual HTTP status and shape (190 and 2500
    /// bare, the rest as the Cloud API's own errors).
    pub fn new(error: PlatformError, fbtrace_id: String) -> Self {
        GraphError {
            status: error.http_status(),
            shape: GraphShape::of(error.code),
            error,
            fbtrace_id,
        }
    }

    /// Graph's answer for an object id it does not know (`method` lowercased, as
    /// Graph writes it): HTTP 400, `GraphMethodException`, code 100, subcode 33.
    pub fn unknown_object(method: &Method, id: &str, fbtrace_id: String) -> Self {
        let message = format!(
            "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
            method.as_str().to_ascii_lowercase()
        );
        GraphError {
            status: 400,
            error: PlatformError {
                code: code::INVALID_PARAMETER,
                title: message,
                details: String::new(),
            },
            fbtrace_id,
            shape: GraphShape::Method {
                subcode: SUBCODE_UNKNOWN_OBJECT,
            },
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let e = &self.error;
        let mut error = match self.shape {
            GraphShape::Platform => json!({
                "message": format!("(#{}) {}", e.code, e.title), "type": "OAuthException", "code": e.code,
            }),
            GraphShape::Bare => {
                json!({"message": e.title, "type": "OAuthException", "code": e.code})
            }
            GraphShape::Method { subcode } => json!({
                "message": e.title, "type": "GraphMethodException", "code": e.code, "error_subcode": subcode,
            }),
        };
        if self.shape == GraphShape::Platform && !e.details.is_empty() {
            error["error_data"] = json!({"messaging_product": "whatsapp", "details": e.details});
        }
        error["fbtrace_id"] = json!(self.fbtrace_id);
        json!({ "error": error })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, Json(self.body())).into_response();
        response.extensions_mut().insert(ErrorCode(self.error.code));
        response
    }
}

/// Meta's Cloud API: bearer tokens, Graph's error shape.
#[derive(Debug)]
pub(crate) struct Graph;

impl Dialect for Graph {
    const SURFACE: &'static str = "graph";
    type Credential = Secret;

    fn credential(headers: &HeaderMap) -> Option<Secret> {
        extract::bearer(headers).map(|token| Secret::from(token.as_str()))
    }

    fn refusal(refusal: Refusal, request: &RequestLine, fbtrace_id: String) -> Response {
        let (status, error) = match refusal {
            Refusal::Platform(error) => (error.http_status(), error),
            Refusal::Request(RequestError::Method { method, allowed }) => (
                400,
                PlatformError::new(
                    code::INVALID_PARAMETER,
                    format!("Unsupported {method} request. Use {allowed}."),
                ),
            ),
            Refusal::Request(error) => (
                error.http_status(),
                PlatformError::new(code::INVALID_PARAMETER, error.details()),
            ),
            Refusal::NotFound { id, .. } => {
                return GraphError::unknown_object(&request.method, &id, fbtrace_id)
                    .into_response();
            }
            Refusal::Unauthorized(_) => (
                401,
                PlatformError::new(
                    code::ACCESS_TOKEN,
                    "The access token could not be decrypted or is not valid.",
                ),
            ),
            Refusal::Blocked {
                http_status,
                message,
            } => {
                return D360Error {
                    status: http_status,
                    message,
                }
                .into_response();
            }
            Refusal::Forbidden(message)
            | Refusal::Conflict(message)
            | Refusal::Invalid(message) => {
                (400, PlatformError::new(code::INVALID_PARAMETER, message))
            }
        };
        GraphError {
            status,
            shape: GraphShape::of(error.code),
            error,
            fbtrace_id,
        }
        .into_response()
    }
}

/// Graph's answer to a path it does not know: the message alone, without "(#2500)"
/// or `error_data` (captured answers).
pub fn graph_unknown_path(path: &str, fbtrace_id: String) -> GraphError {
    let error = PlatformError {
        code: code::UNKNOWN_PATH,
        title: format!("Unknown path components: {path}"),
        details: String::new(),
    };
    GraphError::new(error, fbtrace_id)
}

/// 360dialog's messaging API (`POST /messages`): `D-360-API-KEY`; its own
/// answers for a bad key or a blocked WABA, Meta's errors as Graph gives them.
#[derive(Debug)]
pub(crate) struct D360Messages;

impl Dialect for D360Messages {
    const SURFACE: &'static str = "d360";
    type Credential = Secret;

    fn credential(headers: &HeaderMap) -> Option<Secret> {
        D360::credential(headers)
    }

    fn refusal(refusal: Refusal, request: &RequestLine, fbtrace_id: String) -> Response {
        match refusal {
            Refusal::Unauthorized(_) | Refusal::Blocked { .. } => {
                D360::refusal(refusal, request, fbtrace_id)
            }
            other => Graph::refusal(other, request, fbtrace_id),
        }
    }
}

/// 360dialog's configuration endpoints (templates, webhooks): `D360-API-KEY`,
/// 360dialog's `meta` shape for everything.
#[derive(Debug)]
pub(crate) struct D360;

impl Dialect for D360 {
    const SURFACE: &'static str = "d360";
    type Credential = Secret;

    fn credential(headers: &HeaderMap) -> Option<Secret> {
        extract::header(headers, "D360-API-KEY").map(|key| Secret::from(key.as_str()))
    }

    fn refusal(refusal: Refusal, request: &RequestLine, _: String) -> Response {
        let (status, message) = match refusal {
            Refusal::Unauthorized(_) => return D360Error::invalid_key().into_response(),
            Refusal::Blocked {
                http_status,
                message,
            } => (http_status, message),
            Refusal::Platform(error) => (
                error.http_status(),
                format!("({}) {}: {}", error.code, error.title, error.details),
            ),
            other => meta_status(other, request),
        };
        D360Error { status, message }.into_response()
    }
}

/// The status and developer message of a refusal in 360dialog's `meta` shape, for
/// the refusals both 360dialog surfaces spell alike.
fn meta_status(refusal: Refusal, request: &RequestLine) -> (u16, String) {
    match refusal {
        Refusal::Request(RequestError::Method { method, allowed }) => (
            405,
            format!("{method} is not allowed on {}; use {allowed}", request.path),
        ),
        Refusal::Request(error) => (error.http_status(), error.details()),
        Refusal::NotFound { object, id } => {
            let word = object.word();
            let mut capital = word[..1].to_ascii_uppercase();
            capital.push_str(&word[1..]);
            (404, format!("{capital} {id} not found"))
        }
        Refusal::Unauthorized(message) => (401, message),
        Refusal::Forbidden(message) => (403, message),
        Refusal::Conflict(message) => (409, message),
        Refusal::Invalid(message) => (400, message),
        Refusal::Platform(error) => (
            400,
            format!("({}) {}: {}", error.code, error.title, error.details),
        ),
        Refusal::Blocked {
            http_status,
            message,
        } => (http_status, message),
    }
}

/// 360dialog's Partner API: `X-API-Key` if present, else a bearer token from
/// `POST /token`; the `meta` shape.
#[derive(Debug)]
pub(crate) struct Partner;

impl Dialect for Partner {
    const SURFACE: &'static str = "partner";
    type Credential = PartnerCredential;

    fn credential(headers: &HeaderMap) -> Option<PartnerCredential> {
        extract::header(headers, "x-api-key")
            .map(|key| PartnerCredential::ApiKey(Secret::from(key.as_str())))
            .or_else(|| {
                extract::bearer(headers)
                    .map(|token| PartnerCredential::Bearer(Secret::from(token.as_str())))
            })
    }

    fn refusal(refusal: Refusal, request: &RequestLine, _: String) -> Response {
        let (status, message) = meta_status(refusal, request);
        D360Error { status, message }.into_response()
    }
}

/// 360dialog's own error answer.
#[derive(Debug, Clone)]
pub struct D360Error {
    /// HTTP status.
    pub status: u16,
    /// The developer message (`Invalid api_key`).
    pub message: String,
}

impl D360Error {
    /// The 401 for a missing, wrong or revoked key.
    pub fn invalid_key() -> Self {
        D360Error {
            status: 401,
            message: "Invalid api_key".to_owned(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"meta": {"success": false, "http_code": self.status, "developer_message": self.message}})
    }
}

impl IntoResponse for D360Error {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

/// A control API error answer.
#[derive(Debug, Clone)]
pub struct ControlError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do.
    pub message: String,
    /// The valid paths, on unknown paths.
    pub valid_paths: Option<&'static [&'static str]>,
}

impl From<Refusal> for ControlError {
    /// The control API's table: unknown names are 404s that say where the valid
    /// ones are listed, everything else a 400 (409 for a duplicate).
    fn from(refusal: Refusal) -> ControlError {
        match refusal {
            Refusal::NotFound { object, id } => {
                let hint = match object {
                    Object::Recipient => ": GET /_wasim/world lists the recipients",
                    Object::PhoneNumber => ": GET /_wasim/world lists the phone numbers",
                    Object::Template => ": GET /_wasim/world lists the templates",
                    Object::Message => ": name a wamid the business sent",
                    Object::Waba | Object::Channel => ": GET /_wasim/world lists them",
                    Object::PartnerUser | Object::Media => "",
                };
                ControlError::not_found(format!("unknown {object} `{id}`{hint}"))
            }
            Refusal::Conflict(message) => ControlError {
                status: StatusCode::CONFLICT,
                message,
                valid_paths: None,
            },
            Refusal::Invalid(message) => ControlError::bad_request(message),
            other => ControlError::bad_request(other.to_string()),
        }
    }
}

impl ControlError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ControlError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            valid_paths: None,
        }
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ControlError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            valid_paths: None,
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let mut error = json!({"message": self.message});
        if let Some(paths) = self.valid_paths {
            error["valid_paths"] = json!(paths);
        }
        (self.status, Json(json!({"error": error}))).into_response()
    }
}
