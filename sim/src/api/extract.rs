//! Reading requests: JSON bodies with a size limit and a content-type check, read
//! into a `Result` that travels inside the command (so a credential error still
//! wins over a bad body), the credentials of each surface, and the object id of a
//! Graph path.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::Value;

use crate::model::RequestError;
pub use crate::model::refusal::{BODY_BYTES_MAX, BODY_READ_SECONDS_MAX};
use crate::state::AppState;

/// A request body read as JSON: at most [`BODY_BYTES_MAX`] bytes, a JSON content
/// type (or none). Never rejects: what went wrong is the `Err`.
#[derive(Debug)]
pub(crate) struct JsonBody(pub(crate) Result<Value, RequestError>);

/// A request body read as JSON whatever its content type says (the control API and
/// the Partner API accept `curl -d`'s form type).
#[derive(Debug)]
pub(crate) struct AnyJsonBody(pub(crate) Result<Value, RequestError>);

/// A request body read as [`JsonBody`] is, except that an empty body is `None`
/// (a Graph POST whose parameters are all optional).
#[derive(Debug)]
pub(crate) struct OptionalJsonBody(pub(crate) Result<Option<Value>, RequestError>);

impl<S: Send + Sync> FromRequest<S> for OptionalJsonBody {
    type Rejection = Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        Ok(OptionalJsonBody(read_optional_json(request, true).await))
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        Ok(JsonBody(read_json(request, true).await))
    }
}

impl<S: Send + Sync> FromRequest<S> for AnyJsonBody {
    type Rejection = Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        Ok(AnyJsonBody(read_json(request, false).await))
    }
}

impl JsonBody {
    /// The body if the request's method is `allowed` (`allowed_words` names the
    /// methods the path serves, for the refusal).
    pub(crate) fn when(
        self,
        method: &Method,
        allowed: Method,
        allowed_words: &'static str,
    ) -> Result<Value, RequestError> {
        if *method == allowed {
            self.0
        } else {
            Err(wrong_method(method, allowed_words))
        }
    }
}

/// The refusal of a method a path does not serve.
pub(crate) fn wrong_method(method: &Method, allowed: &'static str) -> RequestError {
    RequestError::Method {
        method: method.to_string(),
        allowed,
    }
}

async fn read_json(request: Request, check_type: bool) -> Result<Value, RequestError> {
    read_optional_json(request, check_type)
        .await?
        .ok_or_else(|| RequestError::Malformed("the body is empty".to_owned()))
}

/// The body as JSON, `None` when empty.
async fn read_optional_json(
    request: Request,
    check_type: bool,
) -> Result<Option<Value>, RequestError> {
    let (parts, body) = request.into_parts();
    if let Some(content_type) = parts.headers.get(CONTENT_TYPE).filter(|_| check_type) {
        let text = content_type.to_str().unwrap_or("");
        let essence = text
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(RequestError::ContentType(text.to_owned()));
        }
    }
    // A body announced as too large is refused before a byte of it is read.
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > BODY_BYTES_MAX as u64) {
        return Err(RequestError::TooLarge);
    }
    let read = axum::body::to_bytes(body, BODY_BYTES_MAX);
    let bytes = tokio::time::timeout(Duration::from_secs(BODY_READ_SECONDS_MAX), read)
        .await
        .map_err(|_| RequestError::Slow)?
        .map_err(|_| RequestError::TooLarge)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RequestError::Malformed(e.to_string()))
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

/// The object id of a Graph path, served with its version segment
/// (`/v23.0/{id}/register`) and without (`/{id}/register`), as Meta does and as
/// clients use it. A path that is not a Graph path after all (a control path
/// `/_wasim/…`, a versioned route whose first segment is not a version, an
/// unversioned route whose id is one) is answered as an unknown path.
#[derive(Debug)]
pub(crate) struct GraphObject(pub(crate) String);

impl FromRequestParts<Arc<AppState>> for GraphObject {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let unknown = |parts: &Parts| {
            super::unknown_path_answer(state, &parts.headers, &parts.method, parts.uri.path())
        };
        let Ok(Path(mut params)) =
            Path::<BTreeMap<String, String>>::from_request_parts(parts, state).await
        else {
            return Err(unknown(parts));
        };
        let id = params.remove("id").unwrap_or_default();
        let graph_path = match params.remove("version") {
            Some(version) => version != "_wasim" && super::graph::is_version(&version),
            None => id != "_wasim" && !super::graph::is_version(&id),
        };
        if graph_path {
            Ok(GraphObject(id))
        } else {
            Err(unknown(parts))
        }
    }
}
