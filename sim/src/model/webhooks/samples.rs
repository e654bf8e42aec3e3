//! One sample webhook of each kind the simulator sends, from a world's ids: what
//! `wasim trigger` posts and `POST /_wasim/events` emits. Each is written by the
//! same payload writers the running world uses ([`super::super::payload`]), so a
//! sample and the real thing cannot drift apart.
//!
//! Everything is deterministic: timestamps are the world epoch plus a fixed offset
//! and the message ids are fixed, so the same world always gives the same body. A
//! world whose policy puts business-scoped user ids on webhooks (`2026-04`) gets
//! them here too, the same ones the running world would send.

use serde_json::Value;

use super::super::country::country_of;
use super::super::error::code;
use super::super::fields::FieldError;
use super::super::payload::{self, ChannelStanding, InboundView, StatusSource};
use super::super::policy::PricingModel;
use super::super::spec::{Category, NamedRecipientSpec, PhoneNumberSpec, Quality, WorldSpec};
use super::super::state::{Billing, Message, MessageContent, StatusKind};
use super::super::time::{HOUR_MS, SimTime};
use super::super::{Template, bsuid};
use super::WebhookBody;

/// Every sample: (name, one-line description).
pub const EVENTS: &[(&str, &str)] = &[
    (
        "messages.text",
        "inbound text from the first named recipient (Ana) to the first number",
    ),
    (
        "statuses.sent",
        "status `sent` of an outbound marketing template, with conversation and pricing",
    ),
    (
        "statuses.delivered",
        "status `delivered` of the same message",
    ),
    ("statuses.read", "status `read` of the same message"),
    (
        "statuses.failed",
        "status `failed` with error 131049 (per-user marketing limit)",
    ),
    (
        "template.status_update",
        "message_template_status_update: the marketing template PAUSED (FIRST_PAUSE)",
    ),
    (
        "template.quality_update",
        "message_template_quality_update: the marketing template GREEN -> YELLOW",
    ),
    (
        "account_update",
        "account_update: DISABLED_UPDATE with ban_info (waba_ban_state DISABLE)",
    ),
    (
        "partner.channel_created",
        "360dialog partner webhook: channel_created for the first number's channel",
    ),
    (
        "partner.channel_live",
        "360dialog partner webhook: channel_live for the first number's channel",
    ),
    (
        "partner.template_messaging_disabled",
        "360dialog partner webhook: template messaging disabled for the channel",
    ),
    (
        "partner.template_messaging_enabled",
        "360dialog partner webhook: template messaging enabled again for the channel",
    ),
];

/// The wamid of the outbound message every `statuses.*` sample is about.
pub const OUTBOUND_MESSAGE_ID: &str = "wamid.HBgLtrigger0001";

/// The wamid of the inbound `messages.text` sample.
pub const INBOUND_MESSAGE_ID: &str = "wamid.HBgLtrigger0002";

/// Whom a sample is for, which says how it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Meta's app callback: signed with the app secret.
    Meta,
    /// 360dialog's partner webhook: signed with the partner webhook secret.
    Partner,
}

/// A sample: its name in [`EVENTS`], its body, whom it is for, and the webhook
/// field (Meta's `changes[].field`, or the partner event's name).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`statuses.sent`).
    pub name: &'static str,
    /// The body as the simulator posts it.
    pub body: Value,
    /// Whom it is for.
    pub audience: Audience,
    /// The webhook field or partner event.
    pub field: &'static str,
}

/// Why a sample could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// No sample of that name.
    #[error("unknown event `{0}`; valid events: {names} (`wasim trigger --list` describes them)", names = names())]
    Unknown(String),
    /// The world lacks what the sample needs (what, in words).
    #[error("{0}")]
    Lacks(&'static str),
    /// The world's policy is invalid.
    #[error("{0}")]
    Policy(#[from] FieldError),
}

fn names() -> String {
    EVENTS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sample `event` of the world `spec` describes.
pub fn sample(event: &str, spec: &WorldSpec) -> Result<Sample, SampleError> {
    let Some(&(name, _)) = EVENTS.iter().find(|(name, _)| *name == event) else {
        return Err(SampleError::Unknown(event.to_owned()));
    };
    let meta = |field: &'static str, body: Value| Sample {
        name,
        body,
        audience: Audience::Meta,
        field,
    };
    Ok(match name {
        "messages.text" => meta("messages", inbound_text(spec)?),
        "statuses.sent" => meta("messages", status(spec, StatusKind::Sent)?),
        "statuses.delivered" => meta("messages", status(spec, StatusKind::Delivered)?),
        "statuses.read" => meta("messages", status(spec, StatusKind::Read)?),
        "statuses.failed" => meta("messages", status(spec, StatusKind::Failed)?),
        "template.status_update" => {
            let template = template(spec)?;
            let (event, title, description) = payload::pause_notice(1, policy_pauses(spec)?.max(1));
            let mut value = payload::template_status(&template, event);
            value["other_info"] = serde_json::json!({"title": title, "description": description});
            let field = "message_template_status_update";
            meta(field, account(spec, field, value))
        }
        "template.quality_update" => {
            let value =
                payload::template_quality(&template(spec)?, Quality::Green, Quality::Yellow);
            let field = "message_template_quality_update";
            meta(field, account(spec, field, value))
        }
        "account_update" => {
            let value = payload::ban("DISABLE", spec.epoch_unix_s);
            meta("account_update", account(spec, "account_update", value))
        }
        partner => {
            let event = partner.trim_start_matches("partner.");
            let (sequence, field) = match event {
                "channel_created" => (1, "channel_created"),
                "channel_live" => (2, "channel_live"),
                "template_messaging_disabled" => (3, "template_messaging_disabled"),
                _ => (4, "template_messaging_enabled"),
            };
            let phone = first_phone(spec)?;
            let standing = ChannelStanding {
                terminated_at_unix_s: None,
                templates_disabled: field == "template_messaging_disabled",
            };
            let data = payload::channel_event_data(payload::channel(spec, phone, standing), phone);
            Sample {
                name,
                body: payload::partner_event(sequence, field, spec.epoch_unix_s, data),
                audience: Audience::Partner,
                field,
            }
        }
    })
}

fn account(spec: &WorldSpec, field: &str, value: Value) -> Value {
    payload::account_envelope(&spec.waba.id, spec.epoch_unix_s, field, value)
}

fn policy_pauses(spec: &WorldSpec) -> Result<usize, SampleError> {
    Ok(spec.policy(None)?.pause_hours.len())
}

fn first_phone(spec: &WorldSpec) -> Result<&PhoneNumberSpec, SampleError> {
    spec.waba.phone_numbers.first().ok_or(SampleError::Lacks(
        "the world has no phone numbers (waba.phone_numbers is empty)",
    ))
}

/// The first marketing template, else the first template.
fn template(spec: &WorldSpec) -> Result<Template, SampleError> {
    let templates = &spec.waba.templates;
    templates
        .iter()
        .find(|t| t.category == Category::Marketing)
        .or_else(|| templates.first())
        .map(Template::from_spec)
        .ok_or(SampleError::Lacks(
            "the world has no templates (waba.templates is empty)",
        ))
}

/// The first named recipient, or Ana if the world names none.
fn recipient(spec: &WorldSpec) -> (String, String, Option<String>) {
    match spec.recipients.named.first() {
        Some(NamedRecipientSpec {
            wa_id,
            name,
            country,
            ..
        }) => (
            wa_id.clone(),
            name.clone().unwrap_or_else(|| "Test User".to_owned()),
            country.clone(),
        ),
        None => ("5511987654321".to_owned(), "Ana".to_owned(), None),
    }
}

/// The BSUID of `wa_id` if the world's policy puts BSUIDs on webhooks: the one
/// the running world derives (same seed, WABA and country).
fn user_id(
    spec: &WorldSpec,
    wa_id: &str,
    country: Option<&str>,
) -> Result<Option<String>, SampleError> {
    if !spec.policy(None)?.bsuid {
        return Ok(None);
    }
    let country = country.unwrap_or_else(|| country_of(wa_id));
    Ok(Some(bsuid::derive(
        spec.seed,
        &spec.waba.id,
        country,
        wa_id,
    )))
}

fn inbound_text(spec: &WorldSpec) -> Result<Value, SampleError> {
    let phone = first_phone(spec)?;
    let (wa_id, name, country) = recipient(spec);
    let user_id = user_id(spec, &wa_id, country.as_deref())?;
    let view = InboundView {
        display_phone_number: &phone.display_phone_number,
        phone_number_id: &phone.id,
        from: &wa_id,
        name: &name,
        user_id: user_id.as_deref(),
        message_id: INBOUND_MESSAGE_ID,
        timestamp: spec.epoch_unix_s,
        context: None,
        media: None,
    };
    let content = super::super::InboundContent::Text("Hi! Is the spring sale still on?".to_owned());
    Ok(payload::envelope(
        &spec.waba.id,
        "messages",
        payload::inbound(&view, &content),
    ))
}

/// A `statuses[]` webhook of the outbound marketing template [`OUTBOUND_MESSAGE_ID`],
/// as the running world writes it: `sent` with `conversation` (and its expiry) and
/// `pricing`, `delivered` with them but no expiry, `read` with neither (`delivered`
/// showed them), `failed` with its error.
fn status(spec: &WorldSpec, status: StatusKind) -> Result<Value, SampleError> {
    let phone = first_phone(spec)?;
    let policy = spec.policy(None)?;
    let template = template(spec)?;
    let (wa_id, name, country) = recipient(spec);
    let user_id = user_id(spec, &wa_id, country.as_deref())?;
    let message = Message {
        id: OUTBOUND_MESSAGE_ID.to_owned(),
        phone_number_id: phone.id.clone(),
        to: wa_id,
        content: MessageContent::Template {
            name: template.name,
            category: template.category,
        },
        accepted_at: SimTime::ZERO,
        statuses: Vec::new(),
        billing: Some(Billing {
            conversation_id: "trigger0conversation000000000001".to_owned(),
            conversation_expires_at: SimTime::ZERO.plus_ms(policy.conversation_hours * HOUR_MS),
            category: "marketing",
            billable: true,
            pricing_type: "regular",
        }),
        callback_data: None,
        failure_code: None,
        pending_timers: 0,
        number: 0,
        pricing_model: match policy.pricing_model {
            PricingModel::Cbp => "CBP",
            PricingModel::Pmp => "PMP",
        },
    };
    let (offset_s, error_code) = match status {
        StatusKind::Sent => (1, None),
        StatusKind::Delivered => (3, None),
        StatusKind::Read => (30, None),
        StatusKind::Failed => (1, Some(code::ECOSYSTEM_ENGAGEMENT)),
    };
    let object = payload::status(
        &message,
        status,
        error_code,
        spec.epoch_unix_s + offset_s,
        spec.epoch_unix_s,
        status != StatusKind::Read,
        user_id.as_deref(),
    );
    let source = StatusSource {
        waba_id: &spec.waba.id,
        display_phone_number: &phone.display_phone_number,
        phone_number_id: &phone.id,
        user: user_id.as_deref().map(|id| (id, Some(name.as_str()))),
    };
    let body =
        WebhookBody::write(|out| payload::write_status_webhook(out, &source, &object, &message));
    Ok(body.to_value())
}
