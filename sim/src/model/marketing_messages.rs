//! The Marketing Messages API (formerly MM Lite): `POST /{phone-number-id}/marketing_messages`
//! takes the body of a template send on `/messages`, and only marketing templates
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/send-marketing-messages>).
//! A send through it takes the same send path as `/messages` ([`super::send`]:
//! pacing, the per-user limit, statuses); this module holds what differs by
//! endpoint: which bodies and templates each takes, the WABA setting that closes
//! `/messages` to marketing (`disable_marketing_messages_on_cloud_api`), and the
//! pricing category of the endpoint's status webhooks (`marketing_lite`).

use serde_json::Value;

use super::Surface;
use super::error::{PlatformError, code};
use super::outgoing::{self, Outgoing, SendRequestError};
use super::policy::PricingModel;
use super::refusal::RequestError;
use super::spec::Category;

/// The `product_policy` values the endpoint takes (Meta's v23.0 OpenAPI spec,
/// `MarketingMessageRequestPayload`); wasim checks the value and, every number
/// being onboarded, never falls back to Cloud API.
const PRODUCT_POLICIES: &[&str] = &["CLOUD_API_FALLBACK", "STRICT"];

/// Which send endpoint a message came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendEndpoint {
    /// `/messages`: every kind of message.
    Messages,
    /// `/marketing_messages`: marketing templates only.
    MarketingMessages,
}

impl SendEndpoint {
    /// The trace's `surface` for a send through this endpoint of `surface`: the
    /// surface's own name for `/messages` (so traces of `/messages` sends are as
    /// they were), `graph_marketing_messages` for the Marketing Messages API.
    pub(crate) fn trace_surface(self, surface: Surface) -> &'static str {
        match (self, surface) {
            (SendEndpoint::Messages, surface) => surface.name(),
            (SendEndpoint::MarketingMessages, Surface::Graph) => "graph_marketing_messages",
            (SendEndpoint::MarketingMessages, Surface::D360) => "d360_marketing_messages",
        }
    }

    /// Why a template of `category` named `name` cannot be sent through this
    /// endpoint of `surface`, if it cannot: a utility or authentication template on
    /// `/marketing_messages` answers 131055 (Meta's send page above; 360dialog's
    /// expected errors of the MM API), and a marketing template on Cloud API's
    /// `/messages` answers 131063 when the WABA has turned marketing off there
    /// (the code from pywa's `errors.py`; Meta's wording is unconfirmed).
    pub(crate) fn template_refusal(
        self,
        surface: Surface,
        category: Category,
        name: &str,
        marketing_on_cloud_api: bool,
    ) -> Option<PlatformError> {
        match (self, category) {
            (SendEndpoint::MarketingMessages, Category::Marketing) => None,
            (SendEndpoint::MarketingMessages, other) => Some(PlatformError::new(
                code::METHOD_NOT_ALLOWED,
                format!(
                    "Template {name} is a {} template; /marketing_messages sends only MARKETING templates. Send it through /messages.",
                    other.name()
                ),
            )),
            (SendEndpoint::Messages, Category::Marketing)
                if surface == Surface::Graph && !marketing_on_cloud_api =>
            {
                Some(PlatformError::new(
                    code::MARKETING_OFF_CLOUD_API,
                    format!(
                        "Marketing template {name} cannot be sent through /messages: the WABA has disabled marketing messages on Cloud API (disable_marketing_messages_on_cloud_api). Send it through /marketing_messages."
                    ),
                ))
            }
            (SendEndpoint::Messages, _) => None,
        }
    }

    /// The pricing category of a delivered message priced `category` by the
    /// send path: under per-message pricing a marketing message sent through the
    /// Marketing Messages API is `marketing_lite` (Meta's status webhook
    /// reference, from 2025-07-01). Under conversation-based pricing, which ended
    /// before the API's general availability, it stays `marketing`.
    pub(crate) fn pricing_category(
        self,
        category: &'static str,
        pricing_model: PricingModel,
    ) -> &'static str {
        match (self, pricing_model, category) {
            (SendEndpoint::MarketingMessages, PricingModel::Pmp, "marketing") => "marketing_lite",
            _ => category,
        }
    }
}

/// Parses a body posted to `/marketing_messages`: a template send, or why not.
/// Any other `type` (or none, which reads as text) answers 100 before the rest of
/// the body is read; `product_policy` and `message_activity_sharing` are checked
/// for their type and otherwise not simulated.
pub fn parse(body: Result<Value, RequestError>) -> Result<Outgoing, SendRequestError> {
    let body = body.map_err(SendRequestError::Unreadable)?;
    let invalid = |details: String| SendRequestError::Invalid {
        error: PlatformError::new(code::INVALID_PARAMETER, details),
        to: body.get("to").and_then(Value::as_str).map(str::to_owned),
    };
    if body.is_object() {
        match body.get("type") {
            Some(Value::String(kind)) if kind == "template" => {}
            other => {
                let kind = other.map_or_else(|| "none (read as text)".to_owned(), Value::to_string);
                return Err(invalid(format!(
                    "Only template messages can be sent through /marketing_messages: param type must be \"template\", got {kind}. Send other messages through /messages."
                )));
            }
        }
        match body.get("product_policy") {
            None => {}
            Some(Value::String(policy)) if PRODUCT_POLICIES.contains(&policy.as_str()) => {}
            Some(other) => {
                return Err(invalid(format!(
                    "Param product_policy must be one of {{CLOUD_API_FALLBACK, STRICT}}, got {other}."
                )));
            }
        }
        if let Some(sharing) = body.get("message_activity_sharing")
            && !sharing.is_boolean()
        {
            return Err(invalid(format!(
                "Param message_activity_sharing must be a boolean, got {sharing}."
            )));
        }
    }
    outgoing::parse_read(Ok(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_template_body_parses_and_every_other_answers_100() {
        let template = json!({"messaging_product": "whatsapp", "to": "5511987654321",
            "type": "template", "template": {"name": "spring_sale", "language": {"code": "en_US"}},
            "product_policy": "STRICT", "message_activity_sharing": false});
        assert!(parse(Ok(template)).is_ok());
        let cases = [
            json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "text", "text": {"body": "hi"}}),
            json!({"messaging_product": "whatsapp", "to": "5511987654321", "text": {"body": "hi"}}),
            json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "template",
                   "template": {"name": "x", "language": {"code": "en"}}, "product_policy": "LOOSE"}),
            json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "template",
                   "template": {"name": "x", "language": {"code": "en"}}, "message_activity_sharing": "yes"}),
        ];
        for body in cases {
            match parse(Ok(body.clone())) {
                Err(SendRequestError::Invalid { error, to }) => {
                    assert_eq!(error.code, 100, "{body}");
                    assert_eq!(to.as_deref(), Some("5511987654321"), "{body}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn marketing_lite_is_the_category_of_the_endpoint_under_per_message_pricing_only() {
        let mm = SendEndpoint::MarketingMessages;
        assert_eq!(
            mm.pricing_category("marketing", PricingModel::Pmp),
            "marketing_lite"
        );
        assert_eq!(
            mm.pricing_category("marketing", PricingModel::Cbp),
            "marketing"
        );
        assert_eq!(
            SendEndpoint::Messages.pricing_category("marketing", PricingModel::Pmp),
            "marketing"
        );
    }
}
