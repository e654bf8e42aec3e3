//! One signed sample webhook of each kind the simulator knows, for `wasim trigger`.
//!
//! [`build`] makes the exact bytes a receiver would get and the signature header
//! that goes with them, from a world's ids and secrets:
//! - Meta events (`messages.*`, `statuses.*`, `template.*`, `account_update`) use
//!   Meta's envelope, `X-Hub-Signature-256: sha256=<hex>` keyed with the app secret
//!   (reference §6.1, §6.6);
//! - `partner.*` events use 360dialog's partner webhook body `{id, event, data}` with
//!   `x-360dialog-signature: <hex>` keyed with the partner webhook secret (§9.5, §9.8).
//!
//! Everything is deterministic: timestamps are the world epoch plus a fixed offset,
//! ids are fixed, so the same world always gives the same bytes and signatures.
//! A world whose policy puts business-scoped user ids on webhooks (`2026-04`) gets
//! them here too, the same ones the running world would send (§13).

use serde_json::{Value, json};

use super::sign::{
    META_SIGNATURE_HEADER, PARTNER_SIGNATURE_HEADER, ascii_json, hmac_hex, meta_signature,
};
use crate::model::bsuid;
use crate::model::country::country_of;
use crate::model::error::{ERROR_HREF, async_details_of, code, title_of};
use crate::model::payload::{iso_8601, long_date};
use crate::model::spec::{Category, NamedRecipientSpec, PhoneNumberSpec, TemplateSpec, WorldSpec};

/// Every event `build` knows: (name, one-line description).
pub const EVENTS: &[(&str, &str)] = &[
    (
        "messages.text",
        "inbound text from the first named recipient (Ana) to the first number",
    ),
    (
        "statuses.sent",
        "status `sent` of an outbound marketing template, with conversation and CBP pricing",
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

/// Why a sample webhook could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// No event of that name.
    #[error("unknown event `{0}`; valid events: {names} (`wasim trigger --list` describes them)", names = event_names())]
    UnknownEvent(String),
    /// The world lacks what the event needs (what, in words).
    #[error("{0}")]
    Lacks(&'static str),
    /// The world's policy is invalid.
    #[error("{0}")]
    Policy(#[from] crate::model::FieldError),
}

fn event_names() -> String {
    EVENTS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The wamid of the outbound message every `statuses.*` event is about.
pub const OUTBOUND_MESSAGE_ID: &str = "wamid.HBgLtrigger0001";

/// The wamid of the inbound `messages.text` message.
pub const INBOUND_MESSAGE_ID: &str = "wamid.HBgLtrigger0002";

/// How a trigger payload is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Meta: `X-Hub-Signature-256: sha256=<hex>`, keyed with the app secret.
    Meta,
    /// 360dialog partner webhooks: `x-360dialog-signature: <hex>`, keyed with the
    /// partner webhook secret.
    Partner,
}

impl Signing {
    /// The name of the header carrying the signature.
    pub fn header(self) -> &'static str {
        match self {
            Signing::Meta => META_SIGNATURE_HEADER,
            Signing::Partner => PARTNER_SIGNATURE_HEADER,
        }
    }

    /// What signs it, for messages (never the secret itself).
    pub fn key_name(self) -> &'static str {
        match self {
            Signing::Meta => "the app secret",
            Signing::Partner => "the partner webhook secret",
        }
    }
}

/// One webhook ready to post: the exact body and its signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerPayload {
    /// The event name (`statuses.sent`).
    pub event: &'static str,
    /// The body, ASCII-only JSON ([`ascii_json`]); the signature covers exactly these bytes.
    pub body: Vec<u8>,
    /// How it is signed.
    pub signing: Signing,
    /// The signature header's value (`sha256=<hex>` for Meta, bare hex for partner events).
    pub signature: String,
}

impl TriggerPayload {
    /// The headers to post with the body, in order: content type, the body's length
    /// (some receivers refuse a webhook without `Content-Length`, reference §13, so it
    /// is never left to the transport), then the signature.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("Content-Type", "application/json".to_owned()),
            ("Content-Length", self.body.len().to_string()),
            (self.signing.header(), self.signature.clone()),
        ]
    }

    /// The POST of this webhook to `url` with `client`: every header of
    /// [`TriggerPayload::headers`] and exactly the signed body.
    pub fn request(&self, client: &reqwest::Client, url: reqwest::Url) -> reqwest::RequestBuilder {
        let mut request = client.post(url);
        for (name, value) in self.headers() {
            request = request.header(name, value);
        }
        request.body(self.body.clone())
    }
}

/// Builds the webhook for `event` from `spec`'s ids and secrets. An unknown event
/// or a world lacking what the event needs is an error that says what to do.
pub fn build(event: &str, spec: &WorldSpec) -> Result<TriggerPayload, TriggerError> {
    let (name, body, signing) = event_body(event, spec)?;
    let body = ascii_json(&body);
    let signature = match signing {
        Signing::Meta => meta_signature(spec.app_secret.expose(), &body),
        Signing::Partner => hmac_hex(spec.partner.webhook_secret.expose(), &body),
    };
    Ok(TriggerPayload {
        event: name,
        body,
        signing,
        signature,
    })
}

/// The body of `event` as JSON, with its catalog name and how it is signed.
pub fn event_body(
    event: &str,
    spec: &WorldSpec,
) -> Result<(&'static str, Value, Signing), TriggerError> {
    let Some(&(name, _)) = EVENTS.iter().find(|(name, _)| *name == event) else {
        return Err(TriggerError::UnknownEvent(event.to_owned()));
    };
    let (body, signing) = match name {
        "messages.text" => (inbound_text(spec)?, Signing::Meta),
        "statuses.sent" => (status(spec, Status::Sent)?, Signing::Meta),
        "statuses.delivered" => (status(spec, Status::Delivered)?, Signing::Meta),
        "statuses.read" => (status(spec, Status::Read)?, Signing::Meta),
        "statuses.failed" => (status(spec, Status::Failed)?, Signing::Meta),
        "template.status_update" => (template_status_update(spec)?, Signing::Meta),
        "template.quality_update" => (template_quality_update(spec)?, Signing::Meta),
        "account_update" => (account_update(spec), Signing::Meta),
        "partner.channel_created" => (partner(spec, "channel_created", 1)?, Signing::Partner),
        "partner.channel_live" => (partner(spec, "channel_live", 2)?, Signing::Partner),
        "partner.template_messaging_disabled" => (
            partner(spec, "template_messaging_disabled", 3)?,
            Signing::Partner,
        ),
        "partner.template_messaging_enabled" => (
            partner(spec, "template_messaging_enabled", 4)?,
            Signing::Partner,
        ),
        other => unreachable!("EVENTS lists `{other}` but build does not handle it"),
    };
    Ok((name, body, signing))
}

/// Meta's envelope around one `messages` change: the one the simulator posts.
fn envelope(spec: &WorldSpec, field: &str, value: Value) -> Value {
    crate::model::payload::envelope(&spec.waba.id, field, value)
}

/// Meta's envelope around one account-level change: `time` (unix int) on the entry
/// and no `metadata` in the value (reference §6.1).
fn account_envelope(spec: &WorldSpec, field: &str, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": spec.waba.id,
            "time": spec.epoch_unix_s,
            "changes": [{"value": value, "field": field}],
        }],
    })
}

fn first_phone(spec: &WorldSpec) -> Result<&PhoneNumberSpec, TriggerError> {
    spec.waba.phone_numbers.first().ok_or(TriggerError::Lacks(
        "the world has no phone numbers (waba.phone_numbers is empty)",
    ))
}

fn metadata(phone: &PhoneNumberSpec) -> Value {
    json!({"display_phone_number": phone.display_phone_number, "phone_number_id": phone.id})
}

/// The first named recipient, or Ana if the world names none.
fn recipient(spec: &WorldSpec) -> (String, String) {
    match spec.recipients.named.first() {
        Some(NamedRecipientSpec { wa_id, name, .. }) => (
            wa_id.clone(),
            name.clone().unwrap_or_else(|| "Test User".to_owned()),
        ),
        None => ("5511987654321".to_owned(), "Ana".to_owned()),
    }
}

/// The BSUID of `wa_id` if the world's policy puts BSUIDs on webhooks (§13): the one
/// the running world derives (same seed, WABA and country).
fn user_id(spec: &WorldSpec, wa_id: &str) -> Result<Option<String>, TriggerError> {
    if !spec.policy(None)?.bsuid {
        return Ok(None);
    }
    let country = spec
        .recipients
        .named
        .iter()
        .find(|named| named.wa_id == wa_id)
        .and_then(|named| named.country.clone())
        .unwrap_or_else(|| country_of(wa_id).to_owned());
    Ok(Some(bsuid::derive(
        spec.seed,
        &spec.waba.id,
        &country,
        wa_id,
    )))
}

fn inbound_text(spec: &WorldSpec) -> Result<Value, TriggerError> {
    let phone = first_phone(spec)?;
    let (wa_id, name) = recipient(spec);
    let user_id = user_id(spec, &wa_id)?;
    let mut contact = json!({"profile": {"name": name}, "wa_id": wa_id});
    let mut message = json!({"from": wa_id});
    if let Some(user_id) = &user_id {
        contact["user_id"] = json!(user_id);
        message["from_user_id"] = json!(user_id);
    }
    message["id"] = json!(INBOUND_MESSAGE_ID);
    message["timestamp"] = json!(spec.epoch_unix_s.to_string());
    message["type"] = json!("text");
    message["text"] = json!({"body": "Hi! Is the spring sale still on?"});
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(phone),
        "contacts": [contact],
        "messages": [message],
    });
    Ok(envelope(spec, "messages", value))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Sent,
    Delivered,
    Read,
    Failed,
}

/// A `statuses[]` webhook for the outbound marketing template [`OUTBOUND_MESSAGE_ID`].
/// `sent` carries `conversation` (with `expiration_timestamp`) and `pricing`,
/// `delivered` carries them without the expiration, as the model does under the
/// default `2024-05` profile (CBP); `read` has neither because `delivered` showed them.
fn status(spec: &WorldSpec, status: Status) -> Result<Value, TriggerError> {
    let phone = first_phone(spec)?;
    let (wa_id, profile_name) = recipient(spec);
    let user_id = user_id(spec, &wa_id)?;
    let (name, offset_s) = match status {
        Status::Sent => ("sent", 1),
        Status::Delivered => ("delivered", 3),
        Status::Read => ("read", 30),
        Status::Failed => ("failed", 1),
    };
    let mut object = json!({
        "id": OUTBOUND_MESSAGE_ID,
        "status": name,
        "timestamp": (spec.epoch_unix_s + offset_s).to_string(),
        "recipient_id": wa_id,
    });
    if let Some(user_id) = &user_id {
        object["recipient_user_id"] = json!(user_id);
    }
    let fields = object.as_object_mut().expect("a JSON object");
    match status {
        Status::Failed => {
            let failure = code::ECOSYSTEM_ENGAGEMENT;
            let title = title_of(failure);
            fields.insert(
                "errors".to_owned(),
                json!([{
                    "code": failure,
                    "title": title,
                    "message": title,
                    "error_data": {"details": async_details_of(failure)},
                    "href": ERROR_HREF,
                }]),
            );
        }
        Status::Sent | Status::Delivered => {
            let mut conversation = json!({"id": "trigger0conversation000000000001"});
            if status == Status::Sent {
                let expires = spec.epoch_unix_s + 24 * 3600;
                conversation["expiration_timestamp"] = json!(expires.to_string());
            }
            conversation["origin"] = json!({"type": "marketing"});
            fields.insert("conversation".to_owned(), conversation);
            fields.insert(
                "pricing".to_owned(),
                json!({"billable": true, "pricing_model": "CBP", "category": "marketing"}),
            );
        }
        Status::Read => {}
    }
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(phone),
    });
    if let Some(user_id) = &user_id {
        value["contacts"] = json!([bsuid::status_contact(Some(&profile_name), &wa_id, user_id)]);
    }
    value["statuses"] = json!([object]);
    Ok(envelope(spec, "messages", value))
}

/// The first marketing template, else the first template.
fn template(spec: &WorldSpec) -> Result<(&TemplateSpec, u64), TriggerError> {
    let templates = &spec.waba.templates;
    let (index, template) = templates
        .iter()
        .enumerate()
        .find(|(_, t)| t.category == Category::Marketing)
        .or_else(|| templates.iter().enumerate().next())
        .ok_or(TriggerError::Lacks(
            "the world has no templates (waba.templates is empty)",
        ))?;
    let id = template.id.parse::<u64>().map_err(|_| {
        crate::model::FieldError::new(
            format!("waba.templates[{index}].id"),
            format!(
                "expected digits (Meta sends message_template_id as an integer), found `{}`",
                template.id
            ),
        )
    })?;
    Ok((template, id))
}

/// `message_template_status_update` PAUSED for the first time (reference §5.3). The
/// `other_info` description is ours: Meta documents only the unpause wording.
fn template_status_update(spec: &WorldSpec) -> Result<Value, TriggerError> {
    let (template, id) = template(spec)?;
    let value = json!({
        "event": "PAUSED",
        "message_template_id": id,
        "message_template_name": template.name,
        "message_template_language": template.language,
        "reason": "NONE",
        "message_template_category": template.category.name(),
        "other_info": {
            "title": "FIRST_PAUSE",
            "description": "Your WhatsApp message template has been paused for 3 hours because of low quality.",
        },
    });
    Ok(account_envelope(
        spec,
        "message_template_status_update",
        value,
    ))
}

/// `message_template_quality_update` GREEN to YELLOW (reference §5.4).
fn template_quality_update(spec: &WorldSpec) -> Result<Value, TriggerError> {
    let (template, id) = template(spec)?;
    let value = json!({
        "previous_quality_score": "GREEN",
        "new_quality_score": "YELLOW",
        "message_template_id": id,
        "message_template_name": template.name,
        "message_template_language": template.language,
    });
    Ok(account_envelope(
        spec,
        "message_template_quality_update",
        value,
    ))
}

/// `account_update` DISABLED_UPDATE with `ban_info` (reference §6.8): the one whose
/// whole shape Meta documents; the ban date is the world epoch's date, written the
/// way Meta's example writes it ("June 3, 2024").
fn account_update(spec: &WorldSpec) -> Value {
    let value = json!({
        "event": "DISABLED_UPDATE",
        "ban_info": {
            "waba_ban_state": "DISABLE",
            "waba_ban_date": long_date(spec.epoch_unix_s),
        },
    });
    account_envelope(spec, "account_update", value)
}

/// A 360dialog partner webhook `{id, event, data}` whose `data` is the first number's
/// channel (reference §9.8). The channel `status` for each event is our choice:
/// the exact payloads are unconfirmed.
fn partner(spec: &WorldSpec, event: &str, sequence: u32) -> Result<Value, TriggerError> {
    let phone = first_phone(spec)?;
    let status = if event == "channel_created" {
        "created"
    } else {
        "running"
    };
    Ok(json!({
        "id": format!("wasimEV{sequence:04}"),
        "event": event,
        "data": {
            "id": phone.channel_id,
            "client_id": spec.client.id,
            "account_mode": "live",
            "status": status,
            "created_at": iso_8601(spec.epoch_unix_s),
            "client": {"id": spec.client.id, "name": spec.client.name},
            "setup_info": {
                "phone_number": phone.display_phone_number,
                "phone_name": spec.client.name,
            },
            "waba_account": {"id": spec.waba.id, "fb_account_status": "verified"},
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::payload::civil_date;
    use crate::webhook::sign::verify_meta_signature;

    fn json_of(payload: &TriggerPayload) -> Value {
        serde_json::from_slice(&payload.body).expect("the body is JSON")
    }

    #[test]
    fn every_listed_event_builds_with_an_ascii_body_and_a_valid_signature() {
        let spec = WorldSpec::default();
        for (name, description) in EVENTS {
            assert!(!description.is_empty(), "{name}");
            let payload = build(name, &spec).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(payload.event, *name);
            assert!(payload.body.is_ascii(), "{name}");
            let body = json_of(&payload);
            match payload.signing {
                Signing::Meta => {
                    assert!(!name.starts_with("partner."), "{name}");
                    assert_eq!(payload.signing.header(), "X-Hub-Signature-256");
                    assert!(verify_meta_signature(
                        "wasim_test_app_secret",
                        &payload.body,
                        &payload.signature
                    ));
                    assert!(!verify_meta_signature(
                        "wasim_test_partner_secret",
                        &payload.body,
                        &payload.signature
                    ));
                    assert_eq!(body["object"], "whatsapp_business_account", "{name}");
                    assert_eq!(body["entry"][0]["id"], "100000000000001", "{name}");
                }
                Signing::Partner => {
                    assert!(name.starts_with("partner."), "{name}");
                    assert_eq!(payload.signing.header(), "x-360dialog-signature");
                    assert_eq!(
                        payload.signature,
                        hmac_hex("wasim_test_partner_secret", &payload.body)
                    );
                    assert_eq!(
                        body["event"].as_str(),
                        name.strip_prefix("partner."),
                        "{name}"
                    );
                    assert_eq!(body["data"]["id"], "wasimCH01");
                    assert_eq!(body["data"]["client_id"], "wasimCL");
                    assert_eq!(body["data"]["setup_info"]["phone_number"], "15550100001");
                    assert_eq!(body["data"]["waba_account"]["id"], "100000000000001");
                    assert!(body["data"]["status"].is_string());
                    assert!(body["id"].is_string());
                }
            }
            let headers = payload.headers();
            assert_eq!(headers[0], ("Content-Type", "application/json".to_owned()));
            assert_eq!(
                headers[1],
                ("Content-Length", payload.body.len().to_string())
            );
            assert_eq!(
                headers[2],
                (payload.signing.header(), payload.signature.clone())
            );
        }
    }

    #[test]
    fn builds_are_deterministic_and_never_contain_a_secret() {
        let spec = WorldSpec::default();
        for (name, _) in EVENTS {
            let once = build(name, &spec).expect("builds");
            assert_eq!(once, build(name, &spec).expect("builds"), "{name}");
            let text = String::from_utf8(once.body).expect("ASCII");
            for secret in [
                "wasim_test_app_secret",
                "wasim_test_partner_secret",
                "wasim_test_access_token",
            ] {
                assert!(!text.contains(secret), "{name}");
                assert!(!once.signature.contains(secret), "{name}");
            }
        }
    }

    #[test]
    fn unknown_events_name_every_valid_event() {
        let error = build("statuses.lost", &WorldSpec::default())
            .expect_err("unknown")
            .to_string();
        assert!(error.contains("statuses.lost"), "{error}");
        for (name, _) in EVENTS {
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn the_failed_status_carries_131049_as_meta_writes_it() {
        let payload = build("statuses.failed", &WorldSpec::default()).expect("builds");
        let body = json_of(&payload);
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(body["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(
            value["metadata"],
            json!({"display_phone_number": "15550100001", "phone_number_id": "110000000000001"})
        );
        let status = &value["statuses"][0];
        assert_eq!(status["status"], "failed");
        assert_eq!(status["id"], OUTBOUND_MESSAGE_ID);
        assert_eq!(status["recipient_id"], "5511987654321");
        assert_eq!(status["timestamp"], "1717405201");
        assert!(status.get("pricing").is_none());
        let error = &status["errors"][0];
        assert_eq!(error["code"], 131_049);
        assert_eq!(
            error["title"],
            "This message was not delivered to maintain healthy ecosystem engagement."
        );
        assert_eq!(error["message"], error["title"]);
        assert_eq!(
            error["error_data"]["details"],
            "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."
        );
        assert_eq!(
            error["href"],
            "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
        );
    }

    #[test]
    fn sent_carries_conversation_and_cbp_pricing_with_string_timestamps() {
        let body = json_of(&build("statuses.sent", &WorldSpec::default()).expect("builds"));
        let status = &body["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(status["status"], "sent");
        assert!(status["timestamp"].is_string());
        assert_eq!(status["conversation"]["expiration_timestamp"], "1717491600");
        assert_eq!(status["conversation"]["origin"]["type"], "marketing");
        assert_eq!(
            status["pricing"],
            json!({"billable": true, "pricing_model": "CBP", "category": "marketing"})
        );
        let delivered =
            json_of(&build("statuses.delivered", &WorldSpec::default()).expect("builds"));
        let delivered = &delivered["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert!(
            delivered["conversation"]
                .get("expiration_timestamp")
                .is_none()
        );
        assert_eq!(delivered["pricing"]["pricing_model"], "CBP");
        let read = json_of(&build("statuses.read", &WorldSpec::default()).expect("builds"));
        let read = &read["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(read["status"], "read");
        assert!(read.get("pricing").is_none());
    }

    #[test]
    fn inbound_text_comes_from_the_first_named_recipient() {
        let body = json_of(&build("messages.text", &WorldSpec::default()).expect("builds"));
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["messaging_product"], "whatsapp");
        assert_eq!(
            value["contacts"][0],
            json!({"profile": {"name": "Ana"}, "wa_id": "5511987654321"})
        );
        let message = &value["messages"][0];
        assert_eq!(message["from"], "5511987654321");
        assert_eq!(message["id"], INBOUND_MESSAGE_ID);
        assert_eq!(message["type"], "text");
        assert_eq!(message["timestamp"], "1717405200");
    }

    #[test]
    fn account_level_events_have_time_on_the_entry_and_no_metadata() {
        let spec = WorldSpec::default();
        for (name, field) in [
            ("template.status_update", "message_template_status_update"),
            ("template.quality_update", "message_template_quality_update"),
            ("account_update", "account_update"),
        ] {
            let body = json_of(&build(name, &spec).expect("builds"));
            let entry = &body["entry"][0];
            assert_eq!(entry["time"], 1_717_405_200, "{name}");
            assert_eq!(entry["changes"][0]["field"], field, "{name}");
            assert!(entry["changes"][0]["value"].get("metadata").is_none());
        }
        let body = json_of(&build("template.status_update", &spec).expect("builds"));
        assert_eq!(
            body["entry"][0]["changes"][0]["value"],
            json!({
                "event": "PAUSED",
                "message_template_id": 120_000_000_000_001_u64,
                "message_template_name": "spring_sale",
                "message_template_language": "en_US",
                "reason": "NONE",
                "message_template_category": "MARKETING",
                "other_info": {
                    "title": "FIRST_PAUSE",
                    "description": "Your WhatsApp message template has been paused for 3 hours because of low quality.",
                },
            })
        );
        let body = json_of(&build("template.quality_update", &spec).expect("builds"));
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["previous_quality_score"], "GREEN");
        assert_eq!(value["new_quality_score"], "YELLOW");
        assert!(value["message_template_id"].is_u64());
        let body = json_of(&build("account_update", &spec).expect("builds"));
        assert_eq!(
            body["entry"][0]["changes"][0]["value"],
            json!({"event": "DISABLED_UPDATE",
                   "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "June 3, 2024"}})
        );
    }

    #[test]
    fn a_world_file_changes_ids_and_secrets() {
        let spec = WorldSpec::from_toml(
            "app_secret = \"other_app\"\nepoch_unix_s = 1700000000\n[partner]\nwebhook_secret = \"other_partner\"\n[waba]\nid = \"999\"\n",
        )
        .expect("valid");
        let meta = build("statuses.read", &spec).expect("builds");
        assert!(verify_meta_signature(
            "other_app",
            &meta.body,
            &meta.signature
        ));
        assert_eq!(json_of(&meta)["entry"][0]["id"], "999");
        let partner = build("partner.channel_live", &spec).expect("builds");
        assert_eq!(partner.signature, hmac_hex("other_partner", &partner.body));
        assert_eq!(
            json_of(&partner)["data"]["created_at"],
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn a_2026_04_world_gets_the_bsuids_the_running_world_would_send() {
        let spec = WorldSpec::from_toml("[policy]\nprofile = \"2026-04\"\n").expect("valid");
        let ana = bsuid::derive(spec.seed, &spec.waba.id, "BR", "5511987654321");
        let body = json_of(&build("messages.text", &spec).expect("builds"));
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["user_id"], ana.as_str());
        assert_eq!(value["messages"][0]["from_user_id"], ana.as_str());
        for event in [
            "statuses.sent",
            "statuses.delivered",
            "statuses.read",
            "statuses.failed",
        ] {
            let body = json_of(&build(event, &spec).expect("builds"));
            let value = &body["entry"][0]["changes"][0]["value"];
            assert_eq!(
                value["statuses"][0]["recipient_user_id"],
                ana.as_str(),
                "{event}"
            );
            assert_eq!(
                value["contacts"],
                json!([{"profile": {"name": "Ana"}, "wa_id": "5511987654321", "user_id": ana}]),
                "{event}"
            );
        }
        for (event, _) in EVENTS {
            let text = String::from_utf8(build(event, &WorldSpec::default()).expect("builds").body)
                .expect("ASCII");
            assert!(!text.contains("user_id"), "{event}: {text}");
        }
    }

    #[test]
    fn non_numeric_template_ids_are_named() {
        let mut spec = WorldSpec::default();
        spec.waba.templates[0].id = "tpl-1".to_owned();
        let error = build("template.quality_update", &spec)
            .expect_err("not numeric")
            .to_string();
        assert!(error.contains("waba.templates[0].id"), "{error}");
    }

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(1_717_405_200), (2024, 6, 3));
        assert_eq!(iso_8601(1_717_405_200), "2024-06-03T09:00:00Z");
        assert_eq!(iso_8601(1_767_225_599), "2025-12-31T23:59:59Z");
    }
}
