//! Media on the Cloud API surface
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media/>)
//! and on 360dialog's messaging API
//! (<https://docs.360dialog.com/partner/messaging/media-messages/upload-retrieve-delete-media>):
//! - `POST /{version}/{phone-number-id}/media` (and 360dialog's `POST /media`): a
//!   `multipart/form-data` form with `messaging_product`, `file` and `type`, read
//!   whole up to the world's `limits.media_upload_bytes_max`; answers `{"id"}`;
//! - `GET|DELETE /{media-id}` (Graph's through [`super::object`]; 360dialog's,
//!   with `D360-API-KEY`, through [`object_or_d360`]);
//! - `GET /whatsapp_business/attachments/?mid=…&ext=…&hash=…`: the download URL
//!   `GET /{media-id}` answers, with the bearer token (or the number's
//!   `D360-API-KEY`); the file with its MIME type as `Content-Type`.
//!
//! The URL is absolute and points at the simulator as the client reached it: the
//! request's `Host` header (`http://`; the simulator serves no TLS), `localhost`
//! when the request has none.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::handler::Handler;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::call::{Call, Dialect, RequestLine};
use super::error::{D360Error, D360Messages, Graph, GraphError};
use super::extract::{self, GraphObject, wrong_method};
use crate::model::error::code;
use crate::model::media::{
    DOWNLOAD_PATH, MediaCredential, MediaInfo, MediaUpload, MediaUrlQuery, UploadedFile,
};
use crate::model::secret::Secret;
use crate::model::{Command, PhoneNumberId, PlatformError, Refusal, Reply, RequestError, Surface};
use crate::state::AppState;

/// Longest an upload body may take to arrive once its headers have, in seconds
/// (a 100 MB file is slower than a JSON body).
pub(crate) const UPLOAD_READ_SECONDS_MAX: u64 = 120;

/// `POST /{version}/{phone-number-id}/media`.
pub(crate) async fn upload(
    call: Call<Graph>,
    GraphObject(phone): GraphObject,
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    let phone_number_id = Some(PhoneNumberId::from(phone));
    run_upload(call, Surface::Graph, phone_number_id, &state, request).await
}

/// 360dialog's `POST /media`.
pub(crate) async fn d360_upload(
    call: Call<D360Messages>,
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    run_upload(call, Surface::D360, None, &state, request).await
}

/// Reads the form of a `POST` (any other method is refused) and runs it as an
/// upload on `surface`.
async fn run_upload<D: Dialect<Credential = Secret>>(
    call: Call<D>,
    surface: Surface,
    phone_number_id: Option<PhoneNumberId>,
    state: &AppState,
    request: Request,
) -> Response {
    let upload = if call.request.method == Method::POST {
        let limit = state.read(|sim| sim.world.spec().limits.media_upload_bytes_max);
        read_upload(request, limit).await
    } else {
        Err(wrong_method(&call.request.method, "POST"))
    };
    let command = Command::UploadMedia {
        surface,
        credential: call.credential.clone(),
        phone_number_id,
        upload,
    };
    call.run(command, uploaded)
}

fn uploaded(reply: Reply) -> Response {
    match reply {
        Reply::MediaUploaded(id) => Json(json!({"id": id})).into_response(),
        other => super::unexpected(&other),
    }
}

/// The form of an upload: its `messaging_product`, `type` and first `file` part
/// (other parts are ignored), read whole within `limit` bytes.
async fn read_upload(request: Request, limit: u64) -> Result<MediaUpload, RequestError> {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .trim_start()
        .starts_with("multipart/form-data")
    {
        return Err(RequestError::Form(format!(
            "got Content-Type '{content_type}'"
        )));
    }
    let too_large = RequestError::UploadTooLarge { limit_bytes: limit };
    // A body announced as too large is refused before a byte of it is read.
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(too_large);
    }
    let read = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX));
    let bytes = tokio::time::timeout(Duration::from_secs(UPLOAD_READ_SECONDS_MAX), read)
        .await
        .map_err(|_| RequestError::Slow)?
        .map_err(|_| too_large)?;
    let request = Request::from_parts(parts, Body::from(bytes));
    let form_error =
        |error: axum::extract::multipart::MultipartError| RequestError::Form(error.body_text());
    let mut multipart = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|rejection| RequestError::Form(rejection.body_text()))?;
    let mut upload = MediaUpload::default();
    while let Some(field) = multipart.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("messaging_product") => {
                upload.messaging_product = Some(field.text().await.map_err(form_error)?);
            }
            Some("type") => upload.media_type = Some(field.text().await.map_err(form_error)?),
            Some("file") if upload.file.is_none() => {
                let content_type = field.content_type().map(str::to_owned);
                let filename = field.file_name().map(str::to_owned);
                let bytes = field.bytes().await.map_err(form_error)?;
                upload.file = Some(UploadedFile {
                    content_type,
                    filename,
                    bytes,
                });
            }
            _ => {}
        }
    }
    Ok(upload)
}

/// The base of the URLs the simulator answers with: `http://` and the request's
/// `Host` (a name or address and port; anything else reads as `localhost`).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A media's fields and URL, as `GET /{media-id}` answers them. `file_size` is
/// a number: pywa 4.5.0 types it `int` and documents an integer answer, and
/// 360dialog's API reference, which relays Meta's answer, gives an integer
/// (<https://docs.360dialog.com/docs/messaging-api/api-reference/media>); Meta's
/// v23.0 OpenAPI spec quotes its one example as a string (UNCONFIRMED which).
pub(crate) fn media_json(info: &MediaInfo, base_url: &str) -> Response {
    Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{base_url}{DOWNLOAD_PATH}?{}", info.url_query),
        "mime_type": info.mime_type,
        "sha256": info.sha256,
        "file_size": info.file_size,
        "id": info.id,
    }))
    .into_response()
}

/// `/{id}` without a version: 360dialog's `GET|DELETE /{media-id}` when the
/// request carries `D360-API-KEY` and no bearer token, Graph's object otherwise.
pub(crate) async fn object_or_d360(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    let headers = request.headers();
    if headers.contains_key("d360-api-key") && !headers.contains_key(AUTHORIZATION) {
        d360_object.call(request, state).await
    } else {
        super::object::object.call(request, state).await
    }
}

/// 360dialog's `GET|DELETE /{media-id}`: the key's number's media only, answered
/// as Graph's.
async fn d360_object(
    call: Call<D360Messages>,
    // As Graph's `/{id}` reads it: `/_wasim` or a bare version is no object.
    GraphObject(id): GraphObject,
    headers: HeaderMap,
) -> Response {
    let delete = match *call.method() {
        Method::GET => false,
        Method::DELETE => true,
        ref method => {
            let command = Command::Unsupported {
                surface: Surface::D360,
                credential: call.credential.clone(),
                refusal: Refusal::Request(wrong_method(method, "GET or DELETE")),
            };
            return call.run(command, |reply| super::unexpected(&reply));
        }
    };
    let command = Command::D360Media {
        credential: call.credential.clone(),
        id,
        delete,
    };
    let base = base_url(&headers);
    call.run(command, move |reply| match reply {
        Reply::Media(info) => media_json(&info, &base),
        Reply::Done => Json(json!({"success": true})).into_response(),
        other => super::unexpected(&other),
    })
}

/// `GET /whatsapp_business/attachments/?mid=…&ext=…&hash=…`: the file.
pub(crate) async fn download(call: Call<MediaDownload>) -> Response {
    if *call.method() != Method::GET {
        // Refused once the credential is checked, as every request is.
        let (surface, credential) = match &call.credential {
            Some(MediaCredential::D360Key(key)) => (Surface::D360, Some(key.clone())),
            Some(MediaCredential::Bearer(token)) => (Surface::Graph, Some(token.clone())),
            None => (Surface::Graph, None),
        };
        let command = Command::Unsupported {
            surface,
            credential,
            refusal: Refusal::Request(wrong_method(call.method(), "GET")),
        };
        return call.run(command, |reply| super::unexpected(&reply));
    }
    let query = MediaUrlQuery {
        mid: call.request.query_value("mid"),
        ext: call.request.query_value("ext"),
        hash: call.request.query_value("hash"),
    };
    let command = Command::DownloadMedia {
        credential: call.credential.clone(),
        query,
    };
    call.run(command, |reply| match reply {
        Reply::MediaFile { mime_type, bytes } => {
            let content_type = HeaderValue::from_str(&mime_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            ([(CONTENT_TYPE, content_type)], bytes).into_response()
        }
        other => super::unexpected(&other),
    })
}

/// The download URL's dialect: Graph's bearer token or a 360dialog key; a URL
/// that is unknown, expired or not the simulator's is answered 404 with a Graph
/// error (what Meta answers is UNCONFIRMED).
#[derive(Debug)]
pub(crate) struct MediaDownload;

impl Dialect for MediaDownload {
    const SURFACE: &'static str = "graph";
    type Credential = MediaCredential;

    fn credential(headers: &HeaderMap) -> Option<MediaCredential> {
        match extract::bearer(headers) {
            Some(token) => Some(MediaCredential::Bearer(Secret::from(token.as_str()))),
            None => extract::header(headers, "D360-API-KEY")
                .map(|key| MediaCredential::D360Key(Secret::from(key.as_str()))),
        }
    }

    fn refusal(refusal: Refusal, request: &RequestLine, fbtrace_id: String) -> Response {
        let details = match refusal {
            Refusal::Unauthorized(_) => return D360Error::invalid_key().into_response(),
            Refusal::NotFound { id, .. } => {
                format!("The media {id} does not exist: it was deleted or its id expired.")
            }
            Refusal::Invalid(details) => details,
            other => return Graph::refusal(other, request, fbtrace_id),
        };
        GraphError {
            status: 404,
            ..GraphError::new(
                PlatformError::new(code::INVALID_PARAMETER, details),
                fbtrace_id,
            )
        }
        .into_response()
    }
}
