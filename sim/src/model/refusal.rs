//! Why the model refused a command, as a value. Each surface renders a [`Refusal`]
//! in its own wire shape from one table (`api::error`): the model says *what* went
//! wrong, never how Graph, 360dialog or the control API spell it.

use std::fmt;

use super::error::PlatformError;

/// Largest request body accepted, in bytes (256 KiB; Meta publishes no figure).
pub const BODY_BYTES_MAX: usize = 256 * 1024;

/// Longest a request body may take to arrive once its headers have, in seconds.
pub const BODY_READ_SECONDS_MAX: u64 = 10;

/// Why a request could not be read: it travels inside the command, so the model
/// decides whether a credential error wins over it (it does, as on the platform).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A method the path does not serve; `allowed` lists the ones it does.
    #[error("{method} is not allowed; use {allowed}")]
    Method {
        /// The method used.
        method: String,
        /// The methods the path serves (`POST`, `GET or POST`).
        allowed: &'static str,
    },
    /// Over [`BODY_BYTES_MAX`].
    #[error("Request body exceeds the limit of {BODY_BYTES_MAX} bytes.")]
    TooLarge,
    /// A content type other than JSON.
    #[error("Content-Type must be application/json, got '{0}'.")]
    ContentType(String),
    /// Not valid JSON.
    #[error("Request body is not valid JSON: {0}.")]
    Malformed(String),
    /// The body did not arrive within [`BODY_READ_SECONDS_MAX`].
    #[error("Request body did not arrive within {BODY_READ_SECONDS_MAX} s.")]
    Slow,
    /// A media upload over the world's `limits.media_upload_bytes_max`.
    #[error(
        "The upload exceeds the limit of {limit_bytes} bytes (limits.media_upload_bytes_max of the world file)."
    )]
    UploadTooLarge {
        /// The limit in force.
        limit_bytes: u64,
    },
    /// A media upload whose body is not a readable `multipart/form-data` form.
    #[error("The upload must be a multipart/form-data form (messaging_product, file, type): {0}.")]
    Form(String),
}

impl RequestError {
    /// A one-line explanation that says what to do.
    pub fn details(&self) -> String {
        self.to_string()
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            RequestError::Method { .. } => 405,
            RequestError::TooLarge => 413,
            RequestError::ContentType(_) => 415,
            RequestError::Malformed(_) => 400,
            RequestError::Slow => 408,
            RequestError::UploadTooLarge { .. } => 413,
            RequestError::Form(_) => 400,
        }
    }
}

/// The kinds of object a request may name that may not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// A business phone number.
    PhoneNumber,
    /// A WhatsApp Business Account.
    Waba,
    /// A message template.
    Template,
    /// A message (wamid).
    Message,
    /// A WhatsApp user (wa_id).
    Recipient,
    /// A 360dialog channel.
    Channel,
    /// A Partner API user.
    PartnerUser,
    /// A media file (upload or inbound).
    Media,
}

impl Object {
    /// The object in words (`phone number`).
    pub fn word(self) -> &'static str {
        match self {
            Object::PhoneNumber => "phone number",
            Object::Waba => "WABA",
            Object::Template => "template",
            Object::Message => "message",
            Object::Recipient => "recipient",
            Object::Channel => "channel",
            Object::PartnerUser => "user",
            Object::Media => "media",
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A refusal: the answer to a command that did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request could not be read.
    #[error("{0}")]
    Request(RequestError),
    /// The credential was missing, wrong, revoked or expired (why, in words).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The caller may not act on what it named.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Something the request names does not exist.
    #[error("unknown {object} `{id}`")]
    NotFound {
        /// What kind of thing.
        object: Object,
        /// The id or name given.
        id: String,
    },
    /// A second one of something that must be unique.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A field or setting is wrong; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A platform error (code, title, details).
    #[error("({}) {}: {}", .0.code, .0.title, .0.details)]
    Platform(PlatformError),
    /// 360dialog refused before the platform saw it (template messaging disabled).
    #[error("blocked ({http_status}): {message}")]
    Blocked {
        /// The HTTP status answered.
        http_status: u16,
        /// The developer message.
        message: String,
    },
}

impl Refusal {
    /// `id` of kind `object` does not exist.
    pub fn not_found(object: Object, id: impl Into<String>) -> Refusal {
        Refusal::NotFound {
            object,
            id: id.into(),
        }
    }

    /// The platform error `code` with `details`.
    pub fn platform(code: u32, details: impl Into<String>) -> Refusal {
        Refusal::Platform(PlatformError::new(code, details))
    }
}

impl From<PlatformError> for Refusal {
    fn from(error: PlatformError) -> Refusal {
        Refusal::Platform(error)
    }
}

impl From<RequestError> for Refusal {
    fn from(error: RequestError) -> Refusal {
        Refusal::Request(error)
    }
}

impl From<super::fields::FieldError> for Refusal {
    fn from(error: super::fields::FieldError) -> Refusal {
        Refusal::Invalid(error.to_string())
    }
}
