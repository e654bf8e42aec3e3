//! The HTTP surfaces, one router each, served on one address and told apart by path:
//! - [`graph`]: Meta's Cloud API (`/{version}/{phone-number-id}/messages`, and every
//!   Graph route without its version too), bearer auth;
//! - [`d360`]: 360dialog's messaging API (`/messages`), `D360-API-KEY` auth;
//! - [`partner`]: 360dialog's Partner API (`/api/v2/...`), partner bearer tokens;
//! - [`control`]: the harness's own API under `/_wasim/`, with [`webhooks`] for its
//!   webhook paths.
//!
//! Handlers parse, build one model command, call it under the lock, and answer in
//! their surface's dialect ([`error`]). They make no policy decisions.

pub mod control;
pub mod d360;
pub mod error;
pub mod extract;
pub mod graph;
pub mod partner;
pub mod phone;
pub mod templates;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Every surface on one router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(control::router(state.clone()))
        .merge(d360::router())
        .merge(partner::router())
        .merge(graph::router())
        .fallback(unknown_path)
        .with_state(state)
}

/// Records one request on a surface (`graph`, `d360`, `partner`) in the trace,
/// with the fingerprint of the credential presented and the status answered.
pub(crate) fn record_request(
    state: &AppState,
    surface: &'static str,
    method: &Method,
    uri: &Uri,
    credential: Option<&str>,
    http_status: u16,
) {
    state.with_sim(|sim, _| {
        sim.record(crate::trace::TraceEvent::Request {
            surface,
            method: method.to_string(),
            path: uri.path().to_owned(),
            credential: credential.map(crate::trace::fingerprint),
            http_status,
            error_code: None,
        });
    });
}

/// The path parameters of a Graph object route, served both with a version
/// segment (`/v23.0/{id}/register`) and without (`/{id}/register`), as Meta does
/// and as clients use it (reference §13).
pub(crate) type GraphParams = Path<BTreeMap<String, String>>;

/// The object id of a Graph route's path, or the answer when the path is not a
/// Graph path after all: a control path (`/_wasim/…`), a versioned route whose
/// first segment is not a version, or an unversioned route whose id is one
/// (`/v23.0/register`).
pub(crate) async fn graph_object_id(
    state: &Arc<AppState>,
    Path(mut params): GraphParams,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
) -> Result<String, Response> {
    let id = params.remove("id").unwrap_or_default();
    let graph_path = match params.remove("version") {
        Some(version) => version != "_wasim" && graph::is_version(&version),
        None => id != "_wasim" && !graph::is_version(&id),
    };
    if graph_path {
        Ok(id)
    } else {
        Err(unknown_path(
            State(state.clone()),
            headers.clone(),
            method.clone(),
            uri.clone(),
        )
        .await)
    }
}

/// The answer for a path no route serves: a control 404 (behind the token) under
/// `/_wasim/`, Graph's unknown-path error elsewhere.
pub(crate) async fn unknown_path(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Response {
    let path = uri.path();
    if path == "/_wasim" || path.starts_with("/_wasim/") {
        if let Some(refused) = control::refuse_without_token(&state, &headers) {
            return refused;
        }
        return control::unknown(path).into_response();
    }
    error::graph_unknown_path(&method, path).into_response()
}
