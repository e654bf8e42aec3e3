//! Meta's Cloud API surface: `POST /{version}/{phone-number-id}/messages` (and
//! `/marketing_messages`), `Authorization: Bearer`. Every route is served with its version segment and
//! without it (`/{phone-number-id}/messages`, `/{waba-id}/message_templates`, …):
//! Graph serves unversioned paths at its default version
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates>) and
//! clients (pywa, whatsapp-api-js) use them.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::any;

use super::call::Call;
use super::error::Graph;
use super::extract::{GraphObject, JsonBody};
use crate::model::{PhoneNumberId, SendEndpoint, Surface};
use crate::state::AppState;

/// The Cloud API routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/{version}/{id}/messages", any(send))
        .route("/{id}/messages", any(send))
        .route("/{version}/{id}/marketing_messages", any(send_marketing))
        .route("/{id}/marketing_messages", any(send_marketing))
        .route("/{version}/{id}/unpause", any(super::templates::unpause))
        .route("/{id}/unpause", any(super::templates::unpause))
        .route("/{version}/{id}/register", any(super::phone::register))
        .route("/{id}/register", any(super::phone::register))
        .route("/{version}/{id}/deregister", any(super::phone::deregister))
        .route("/{id}/deregister", any(super::phone::deregister))
        .route(
            "/{version}/{id}/message_templates",
            any(super::templates::list),
        )
        .route("/{id}/message_templates", any(super::templates::list))
        .route(
            "/{version}/{id}/phone_numbers",
            any(super::numbers::phone_numbers),
        )
        .route("/{id}/phone_numbers", any(super::numbers::phone_numbers))
        .route(
            "/{version}/{id}/whatsapp_business_profile",
            any(super::numbers::business_profile),
        )
        .route(
            "/{id}/whatsapp_business_profile",
            any(super::numbers::business_profile),
        )
        .route(
            "/{version}/{id}/subscribed_apps",
            any(super::numbers::subscribed_apps),
        )
        .route(
            "/{id}/subscribed_apps",
            any(super::numbers::subscribed_apps),
        )
        .route(
            "/{version}/{id}/media",
            any(super::media::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/{id}/media",
            any(super::media::upload).layer(DefaultBodyLimit::disable()),
        )
        // `model::media::DOWNLOAD_PATH` (a literal here: the fuzzer reads the
        // patterns from this file).
        .route(
            "/whatsapp_business/attachments/",
            any(super::media::download),
        )
        .route("/{version}/{id}", any(super::object::object))
        .route("/{id}", any(super::media::object_or_d360))
}

/// True for a Graph version segment such as `v23.0`.
pub(crate) fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && (major.bytes().chain(minor.bytes())).all(|b| b.is_ascii_digit())
        })
}

/// `POST /{version}/{phone-number-id}/messages`.
async fn send(call: Call<Graph>, GraphObject(phone): GraphObject, body: JsonBody) -> Response {
    let endpoint = (SendEndpoint::Messages, Surface::Graph);
    super::send::send(call, endpoint, Some(PhoneNumberId::from(phone)), body)
}

/// `POST /{version}/{phone-number-id}/marketing_messages`: the Marketing
/// Messages API
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/send-marketing-messages>).
async fn send_marketing(
    call: Call<Graph>,
    GraphObject(phone): GraphObject,
    body: JsonBody,
) -> Response {
    let endpoint = (SendEndpoint::MarketingMessages, Surface::Graph);
    super::send::send(call, endpoint, Some(PhoneNumberId::from(phone)), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_segments_are_recognised() {
        assert!(is_version("v23.0"));
        assert!(is_version("v19.10"));
        assert!(!is_version("v23"));
        assert!(!is_version("23.0"));
        assert!(!is_version("v.0"));
        assert!(!is_version("110000000000001"));
    }
}
