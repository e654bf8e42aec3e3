//! The HTTP surfaces, one router each, served on one address and told apart by path:
//! - [`graph`]: Meta's Cloud API (`/{version}/{phone-number-id}/messages`, and every
//!   Graph route without its version too), bearer auth;
//! - [`d360`]: 360dialog's messaging API (`/messages`), `D360-API-KEY` auth;
//! - [`partner`]: 360dialog's Partner API (`/api/v2/...`), partner bearer tokens;
//! - [`control`]: the harness's own API under `/_wasim/`, with [`webhooks`] for its
//!   webhook paths.
//!
//! The platform surfaces share one pipeline ([`call`]): a handler extracts its
//! request ([`call::Call`], [`extract`]), builds one model command and answers in
//! its surface's dialect ([`error`]). Handlers make no policy decisions.

pub(crate) mod call;
pub mod control;
pub mod d360;
pub mod error;
pub mod extract;
pub mod graph;
pub(crate) mod media;
pub(crate) mod numbers;
pub(crate) mod object;
pub mod partner;
pub mod phone;
pub(crate) mod send;
pub mod templates;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            readable_path,
        ))
        .with_state(state)
}

/// A path whose escapes do not decode to UTF-8 names nothing any surface serves:
/// it is answered as an unknown path in its surface's shape before routing (the
/// router's own answer would be plain text).
async fn readable_path(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if path.contains('%') && String::from_utf8(call::decode_escapes(path, false)).is_err() {
        let (parts, _) = request.into_parts();
        return unknown_path_answer(&state, &parts.headers, &parts.method, parts.uri.path());
    }
    next.run(request).await
}

/// The answer for a path no route serves.
async fn unknown_path(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Response {
    unknown_path_answer(&state, &headers, &method, uri.path())
}

/// A control 404 (behind the token) under `/_wasim/`, Graph's unknown-path error
/// elsewhere.
pub(crate) fn unknown_path_answer(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
) -> Response {
    if path == "/_wasim" || path.starts_with("/_wasim/") {
        if let Some(refused) = control::guard(state, method, headers) {
            return refused;
        }
        return control::unknown(path).into_response();
    }
    let fbtrace_id = state.with_sim(|sim, _| sim.next_fbtrace_id());
    error::graph_unknown_path(path, fbtrace_id).into_response()
}

/// The answer to a reply a handler does not expect from its command: a bug, never
/// an input (the model answers each command with its own kind of reply).
pub(crate) fn unexpected(reply: &crate::model::Reply) -> Response {
    debug_assert!(false, "a handler got a reply it does not answer: {reply:?}");
    let error = crate::model::PlatformError::new(
        crate::model::error::code::GENERIC,
        "The simulator answered a request with a reply of another kind.",
    );
    error::GraphError::new(error, crate::engine::fbtrace_id(0, 0)).into_response()
}
