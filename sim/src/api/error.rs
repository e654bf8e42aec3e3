//! Error answers, one shape per wire dialect.
//!
//! - Graph (Cloud API): `{"error": {message, type, code, error_data, fbtrace_id}}`
//!   (reference §1.5); 190 keeps the observed bare message (§1.6).
//! - 360dialog: `{"meta": {success, http_code, developer_message}}` for its own
//!   layer (§9.3); Meta errors pass through in Graph's shape.
//! - Control: `{"error": {"message": …}}`, with `valid_paths` on unknown paths.

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::model::PlatformError;
use crate::model::error::code;

/// A Graph error answer.
#[derive(Debug, Clone)]
pub struct GraphError {
    /// The platform error.
    pub error: PlatformError,
    /// HTTP status.
    pub status: u16,
    /// The support trace id.
    pub fbtrace_id: String,
}

impl GraphError {
    /// An answer for `error` with its usual HTTP status.
    pub fn new(error: PlatformError, fbtrace_id: String) -> Self {
        GraphError {
            status: error.http_status(),
            error,
            fbtrace_id,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let e = &self.error;
        if e.code == code::ACCESS_TOKEN {
            return json!({"error": {
                "message": e.title, "type": "OAuthException", "code": e.code, "fbtrace_id": self.fbtrace_id,
            }});
        }
        json!({"error": {
            "message": format!("(#{}) {}", e.code, e.title),
            "type": "OAuthException",
            "code": e.code,
            "error_data": {"messaging_product": "whatsapp", "details": e.details},
            "fbtrace_id": self.fbtrace_id,
        }})
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

/// A Graph-style trace id derived from the seed and a sequence number (deterministic).
pub fn fbtrace_id(seed: u64, seq: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(seq.to_le_bytes())
        .finalize();
    digest
        .iter()
        .take(23)
        .map(|b| char::from(ALPHABET[usize::from(*b) % 64]))
        .collect()
}

/// Graph's answer to a path it does not know.
pub fn graph_unknown_path(method: &Method, path: &str) -> GraphError {
    let error = PlatformError {
        code: code::UNKNOWN_PATH,
        title: format!("Unknown path components: {path}"),
        details: format!(
            "{method} {path} is not a Cloud API path wasim serves; send to /{{version}}/{{phone-number-id}}/messages."
        ),
    };
    GraphError {
        status: 400,
        error,
        fbtrace_id: fbtrace_id(0, 0),
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
