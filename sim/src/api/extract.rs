//! Reading requests: bodies with a size limit and content-type check, and credentials.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

/// Largest request body accepted, in bytes (256 KiB; Meta publishes no figure).
pub const BODY_BYTES_MAX: usize = 256 * 1024;

/// Why a body could not be read as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over [`BODY_BYTES_MAX`].
    TooLarge,
    /// A content type other than JSON.
    ContentType(String),
    /// Not valid JSON.
    Malformed(String),
}

impl BodyError {
    /// A one-line explanation that says what to do.
    pub fn details(&self) -> String {
        match self {
            BodyError::TooLarge => {
                format!("Request body exceeds the limit of {BODY_BYTES_MAX} bytes.")
            }
            BodyError::ContentType(found) => {
                format!("Content-Type must be application/json, got '{found}'.")
            }
            BodyError::Malformed(why) => format!("Request body is not valid JSON: {why}."),
        }
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            BodyError::TooLarge => 413,
            BodyError::ContentType(_) => 415,
            BodyError::Malformed(_) => 400,
        }
    }
}

/// Reads `body` as JSON: at most [`BODY_BYTES_MAX`] bytes, JSON content type (or none).
pub async fn read_json(headers: &HeaderMap, body: Body) -> Result<Value, BodyError> {
    read_json_checked(headers, body, true).await
}

/// Reads `body` as JSON, ignoring its content type (the control API's leniency, so a
/// plain `curl -d` works).
pub async fn read_json_any_type(headers: &HeaderMap, body: Body) -> Result<Value, BodyError> {
    read_json_checked(headers, body, false).await
}

async fn read_json_checked(
    headers: &HeaderMap,
    body: Body,
    check_type: bool,
) -> Result<Value, BodyError> {
    if let Some(content_type) = headers.get(CONTENT_TYPE).filter(|_| check_type) {
        let text = content_type.to_str().unwrap_or("");
        let essence = text
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(BodyError::ContentType(text.to_owned()));
        }
    }
    let bytes = axum::body::to_bytes(body, BODY_BYTES_MAX)
        .await
        .map_err(|_| BodyError::TooLarge)?;
    if bytes.is_empty() {
        return Err(BodyError::Malformed("the body is empty".to_owned()));
    }
    serde_json::from_slice(&bytes).map_err(|e| BodyError::Malformed(e.to_string()))
}

/// The bearer token of `Authorization`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The value of header `name`, if present and text.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(|v| v.trim().to_owned())
}
