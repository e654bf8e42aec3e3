//! 360dialog's messaging surface: `POST /messages` with `D360-API-KEY`, Cloud-API
//! shaped bodies. A missing, wrong or revoked key gets 360dialog's 401.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::any;

use crate::model::Surface;
use crate::shell::AppState;

/// The 360dialog messaging routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/messages", any(send))
}

async fn send(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    super::graph::send(&state, Surface::D360, None, method, uri, headers, body).await
}
