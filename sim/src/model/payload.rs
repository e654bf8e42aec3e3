//! Webhook payloads in Meta's shapes
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks>
//! and each field's reference page).

use serde::Serialize;
use serde_json::{Map, Value};

use super::Template;
use super::error::{ERROR_HREF, async_details_of, title_of};
use super::inbound::InboundContent;
use super::spec::{Category, PhoneNumberSpec, Quality, WorldSpec};
use super::state::{Message, StatusKind};
use super::templates::quality_name;

/// Meta's envelope around one change.
pub(crate) fn envelope(waba_id: &str, field: &str, value: Value) -> Value {
    // Built by moving `value` in: `json!` would copy it through `to_value`.
    let mut change = Map::new();
    change.insert("value".to_owned(), value);
    change.insert("field".to_owned(), Value::String(field.to_owned()));
    let mut entry = Map::new();
    entry.insert("id".to_owned(), Value::String(waba_id.to_owned()));
    entry.insert(
        "changes".to_owned(),
        Value::Array(vec![Value::Object(change)]),
    );
    let mut root = Map::new();
    root.insert(
        "object".to_owned(),
        Value::String("whatsapp_business_account".to_owned()),
    );
    root.insert("entry".to_owned(), Value::Array(vec![Value::Object(entry)]));
    Value::Object(root)
}

/// `value.contacts[]` of a status webhook when BSUIDs are shown
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>).
#[derive(Debug, Serialize)]
struct StatusContact<'a> {
    profile: Profile<'a>,
    wa_id: &'a str,
    user_id: &'a str,
}

#[derive(Debug, Serialize)]
struct Profile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// One `statuses[]` object.
#[derive(Debug, Serialize)]
pub(crate) struct StatusObject<'a> {
    id: &'a str,
    status: &'static str,
    timestamp: UnixSeconds,
    recipient_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<[StatusError; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<Conversation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing: Option<Pricing>,
}

#[derive(Debug, Serialize)]
struct StatusError {
    code: u32,
    title: &'static str,
    message: &'static str,
    error_data: ErrorData,
    href: &'static str,
}

#[derive(Debug, Serialize)]
struct ErrorData {
    details: &'static str,
}

#[derive(Debug, Serialize)]
struct Conversation<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_timestamp: Option<UnixSeconds>,
    origin: Origin,
}

/// A unix time written as a JSON string of its digits, as Meta writes
/// timestamps (`"1715241600"`), without allocating the text.
#[derive(Debug, Clone, Copy)]
struct UnixSeconds(u64);

impl Serialize for UnixSeconds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[derive(Debug, Serialize)]
struct Origin {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Serialize)]
struct Pricing {
    billable: bool,
    pricing_model: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    category: &'static str,
}

/// Where a status webhook comes from and whom it names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatusSource<'a> {
    /// The WABA id (`entry[].id`).
    pub(crate) waba_id: &'a str,
    /// The business number's display number and id.
    pub(crate) display_phone_number: &'a str,
    pub(crate) phone_number_id: &'a str,
    /// The recipient's BSUID and profile name, when the policy shows BSUIDs.
    pub(crate) user: Option<(&'a str, Option<&'a str>)>,
}

/// Writes the body of a status webhook to `out`: Meta's envelope around one
/// `messages` change with one `statuses[]` object (`status` of `message`, see
/// [`status`]), fields in the order Meta writes them. The envelope's fixed keys
/// and values are written as literal text; only the ids, the contact and the
/// status object go through serde_json, which spares a third of the work of
/// serializing the whole shape field by field (a 7-day campaign writes 236 k of
/// these). The tests hold it to the bytes `json!` gives.
pub(crate) fn write_status_webhook(
    out: &mut Vec<u8>,
    source: &StatusSource<'_>,
    status: &StatusObject<'_>,
    message: &Message,
) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"object":"whatsapp_business_account","entry":[{"id":"#);
    serde_json::to_writer(&mut *out, source.waba_id)?;
    out.extend_from_slice(
        br#","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"#,
    );
    serde_json::to_writer(&mut *out, source.display_phone_number)?;
    out.extend_from_slice(br#","phone_number_id":"#);
    serde_json::to_writer(&mut *out, source.phone_number_id)?;
    out.push(b'}');
    if let Some((user_id, name)) = source.user {
        out.extend_from_slice(br#","contacts":["#);
        let contact = StatusContact {
            profile: Profile { name },
            wa_id: &message.to,
            user_id,
        };
        serde_json::to_writer(&mut *out, &contact)?;
        out.push(b']');
    }
    out.extend_from_slice(br#","statuses":["#);
    serde_json::to_writer(&mut *out, status)?;
    out.extend_from_slice(br#"]},"field":"messages"}]}]}"#);
    Ok(())
}

/// One `statuses[]` object. `with_billing` puts `conversation` and `pricing` on it
/// (on `sent` and on the first of `delivered`/`read`); `recipient_user_id` is the
/// recipient's BSUID when the policy shows them (`2026-04`). Sources:
/// <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/status>,
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>.
pub(crate) fn status<'a>(
    message: &'a Message,
    status: StatusKind,
    error_code: Option<u32>,
    unix_seconds: u64,
    epoch_unix_s: u64,
    with_billing: bool,
    recipient_user_id: Option<&'a str>,
) -> StatusObject<'a> {
    let mut object = StatusObject {
        id: &message.id,
        status: status.name(),
        timestamp: UnixSeconds(unix_seconds),
        recipient_id: &message.to,
        recipient_user_id,
        biz_opaque_callback_data: message.callback_data.as_deref(),
        errors: None,
        conversation: None,
        pricing: None,
    };
    if status == StatusKind::Failed {
        let code = error_code.unwrap_or(131_000);
        let title = title_of(code);
        object.errors = Some([StatusError {
            code,
            title,
            message: title,
            error_data: ErrorData {
                details: async_details_of(code),
            },
            href: ERROR_HREF,
        }]);
    } else if let Some(billing) = message.billing.as_ref().filter(|_| with_billing) {
        let expiration_timestamp = (status == StatusKind::Sent)
            .then(|| UnixSeconds(epoch_unix_s + billing.conversation_expires_at.as_ms() / 1000));
        object.conversation = Some(Conversation {
            id: &billing.conversation_id,
            expiration_timestamp,
            origin: Origin {
                kind: billing.category,
            },
        });
        object.pricing = Some(Pricing {
            billable: billing.billable,
            pricing_model: message.pricing_model,
            kind: (message.pricing_model == "PMP").then_some(billing.pricing_type),
            category: billing.category,
        });
    }
    object
}

/// Meta's envelope around one account-level change (templates, account, security):
/// `time` (unix seconds) on the entry and no `metadata`, as in Meta's examples
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update>).
pub(crate) fn account_envelope(
    waba_id: &str,
    time_unix_s: u64,
    field: &str,
    value: Value,
) -> Value {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "time": time_unix_s,
            "changes": [{"value": value, "field": field}],
        }],
    })
}

/// A template id as Meta writes `message_template_id`: an integer (our ids are
/// digits; a world file's other ids pass through as text).
fn template_id_number(id: &str) -> Value {
    id.parse::<u64>()
        .map_or_else(|_| Value::String(id.to_owned()), Value::from)
}

/// `message_template_status_update`'s value for `event` of `template`
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update>);
/// callers add `other_info`, `disable_info` or a `reason` other than `NONE`.
pub(crate) fn template_status(template: &Template, event: &str) -> Value {
    serde_json::json!({
        "event": event,
        "message_template_id": template_id_number(&template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "reason": "NONE",
        "message_template_category": template.category.name(),
    })
}

/// What a pause says: the status event, `other_info.title` and its description.
/// The `pauses`-th pause of a template that may be paused `pauses_max` times before
/// it is disabled (<https://developers.facebook.com/docs/whatsapp/template-pausing>; the
/// descriptions are ours: Meta documents only the unpause wording).
pub(crate) fn pause_notice(
    pauses: usize,
    pauses_max: usize,
) -> (&'static str, &'static str, &'static str) {
    if pauses > pauses_max {
        (
            "DISABLED",
            "DISABLED",
            "Your WhatsApp message template has been disabled after repeated pauses.",
        )
    } else {
        (
            "PAUSED",
            if pauses == 1 {
                "FIRST_PAUSE"
            } else {
                "SECOND_PAUSE"
            },
            "Your WhatsApp message template has been paused because of low quality.",
        )
    }
}

/// `message_template_quality_update`'s value
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_quality_update>).
pub(crate) fn template_quality(template: &Template, previous: Quality, quality: Quality) -> Value {
    serde_json::json!({
        "previous_quality_score": quality_name(previous),
        "new_quality_score": quality_name(quality),
        "message_template_id": template_id_number(&template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
    })
}

/// `template_category_update`'s value for a completed change from `previous` to
/// the template's category
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/template_category_update>).
pub(crate) fn template_category(template: &Template, previous: Category) -> Value {
    serde_json::json!({
        "message_template_id": template_id_number(&template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "previous_category": previous.name(),
        "new_category": template.category.name(),
    })
}

/// `account_update`'s value for a ban state (`DISABLE`, `REINSTATE`) on a date, the
/// way Meta's example writes it
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update>).
pub(crate) fn ban(state: &str, unix_s: u64) -> Value {
    serde_json::json!({
        "event": "DISABLED_UPDATE",
        "ban_info": {"waba_ban_state": state, "waba_ban_date": long_date(unix_s)},
    })
}

/// A 360dialog partner webhook body `{id, event, created_at, data}` (the exact
/// payloads are unconfirmed).
/// <https://docs.360dialog.com/partner/onboarding/webhook-events-and-setup/webhook-events-partner-and-messaging-api>
pub(crate) fn partner_event(
    sequence: u64,
    event: &str,
    created_at_unix_s: u64,
    data: Value,
) -> Value {
    serde_json::json!({
        "id": format!("wasimEV{sequence:06}"),
        "event": event,
        "created_at": iso_8601(created_at_unix_s),
        "data": data,
    })
}

/// What a channel's Partner API object says of the account's standing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChannelStanding {
    /// When the account was disabled, while it is.
    pub(crate) terminated_at_unix_s: Option<u64>,
    /// Whether 360dialog disabled template messaging.
    pub(crate) templates_disabled: bool,
}

/// A channel (one business number) as 360dialog's Partner API lists it and its
/// partner events carry it
/// (<https://docs.360dialog.com/partner/waba-management/using-the-partner-api-to-manage-clients-and-channels>).
pub(crate) fn channel(
    spec: &WorldSpec,
    phone: &PhoneNumberSpec,
    standing: ChannelStanding,
) -> Value {
    let terminated_at = standing.terminated_at_unix_s.map(iso_8601);
    serde_json::json!({
        "id": phone.channel_id,
        "client_id": spec.client.id,
        "account_mode": "live",
        "status": if terminated_at.is_some() { "terminated" } else { "running" },
        "terminated_at": terminated_at,
        "current_limit": super::account::tier_of(spec.waba.messaging_limit),
        "current_quality_rating": quality_name(phone.quality),
        "setup_info": {"phone_number": phone.display_phone_number, "phone_name": spec.client.name},
        "waba_account": {
            "id": spec.waba.id,
            "fb_account_status": "verified",
            "template_messaging": if standing.templates_disabled { "disabled" } else { "enabled" },
        },
        "client": {"id": spec.client.id, "name": spec.client.name},
    })
}

/// A channel as a partner event's `data` carries it: with its number.
pub(crate) fn channel_event_data(channel: Value, phone: &PhoneNumberSpec) -> Value {
    let mut data = channel;
    data["phone_number"] = Value::String(phone.display_phone_number.clone());
    data
}

/// A user's inbound message as the `messages` webhook's value carries it
/// (<https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/text>): the contact
/// (with its BSUID when the policy shows them), the message with its type-named part
/// and the business message it replies to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InboundView<'a> {
    /// The business number written to: display number and id.
    pub(crate) display_phone_number: &'a str,
    pub(crate) phone_number_id: &'a str,
    /// The user, its profile name and BSUID.
    pub(crate) from: &'a str,
    pub(crate) name: &'a str,
    pub(crate) user_id: Option<&'a str>,
    /// The wamid, unix seconds, and the context's wamid.
    pub(crate) message_id: &'a str,
    pub(crate) timestamp: u64,
    pub(crate) context: Option<&'a str>,
    /// The media a media message carries, as stored.
    pub(crate) media: Option<&'a super::media::Media>,
}

/// The `messages` change value of an inbound message of `content`.
pub(crate) fn inbound(view: &InboundView<'_>, content: &InboundContent) -> Value {
    let (type_field, type_value) = content.fields(view.media);
    let mut message = serde_json::json!({"from": view.from});
    if let Some(user_id) = view.user_id {
        message["from_user_id"] = serde_json::json!(user_id);
    }
    message["id"] = serde_json::json!(view.message_id);
    message["timestamp"] = serde_json::json!(view.timestamp.to_string());
    message["type"] = serde_json::json!(content.message_type());
    if let Some(context) = view.context {
        message["context"] = serde_json::json!({"from": view.display_phone_number, "id": context});
    }
    message[type_field] = type_value;
    let mut contact = serde_json::json!({"profile": {"name": view.name}, "wa_id": view.from});
    if let Some(user_id) = view.user_id {
        contact["user_id"] = serde_json::json!(user_id);
    }
    serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": view.display_phone_number,
            "phone_number_id": view.phone_number_id,
        },
        "contacts": [contact],
        "messages": [message],
    })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// (year, month 1-12, day 1-31) of a unix time (proleptic Gregorian, UTC).
pub(crate) fn civil_date(unix_s: u64) -> (u64, u64, u64) {
    // Howard Hinnant's days-to-civil, for days since 1970-01-01 (non-negative here).
    let z = unix_s / 86_400 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a unix time.
pub(crate) fn iso_8601(unix_s: u64) -> String {
    let (year, month, day) = civil_date(unix_s);
    let seconds = unix_s % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// A unix time's date the way Meta's `ban_info` example writes it ("June 3, 2024").
pub(crate) fn long_date(unix_s: u64) -> String {
    let (year, month, day) = civil_date(unix_s);
    let name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"January");
    format!("{name} {day}, {year}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SimTime;
    use crate::model::error::code;
    use crate::model::state::Billing;
    use crate::model::state::MessageContent;
    use serde_json::json;

    fn to_value(object: StatusObject<'_>) -> Value {
        serde_json::to_value(object).expect("a status serializes")
    }

    fn message() -> Message {
        Message {
            id: "wamid.test".to_owned(),
            phone_number_id: "110000000000001".to_owned(),
            to: "5511987654321".to_owned(),
            content: MessageContent::Text,
            accepted_at: SimTime::ZERO,
            statuses: Vec::new(),
            billing: None,
            callback_data: None,
            failure_code: None,
            pending_timers: 0,
            number: 1,
            pricing_model: "CBP",
        }
    }

    /// pywa raises on an error object without `code` and `message` (pywa 4.5.0,
    /// <https://pypi.org/project/pywa/>).
    #[test]
    fn every_failed_status_error_carries_code_title_message_and_details() {
        let message = message();
        for &code in code::ALL {
            let object = to_value(status(
                &message,
                StatusKind::Failed,
                Some(code),
                1_717_405_200,
                1_717_405_200,
                true,
                None,
            ));
            let errors = object["errors"].as_array().expect("errors[] on failed");
            assert_eq!(errors.len(), 1, "{code}");
            let error = &errors[0];
            assert_eq!(error["code"], code, "{code}");
            for field in ["title", "message"] {
                assert!(
                    error[field].as_str().is_some_and(|text| !text.is_empty()),
                    "{code}: {field} in {error}"
                );
            }
            assert!(
                error["error_data"]["details"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty()),
                "{code}: {error}"
            );
            assert_eq!(error["href"], ERROR_HREF, "{code}");
        }
    }

    #[test]
    fn a_recipient_user_id_follows_the_recipient_id() {
        let message = message();
        let object = to_value(status(
            &message,
            StatusKind::Sent,
            None,
            1,
            0,
            false,
            Some("BR.00000000000000000001"),
        ));
        let keys: Vec<&str> = object
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "status",
                "timestamp",
                "recipient_id",
                "recipient_user_id"
            ]
        );
        let without = to_value(status(&message, StatusKind::Sent, None, 1, 0, false, None));
        assert!(without.get("recipient_user_id").is_none());
    }

    fn written(source: &StatusSource<'_>, status: &StatusObject<'_>, message: &Message) -> String {
        let mut out = Vec::new();
        write_status_webhook(&mut out, source, status, message).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    /// The written body gives the bytes Meta's field order gives (as `json!` wrote
    /// them before), with and without the optional parts.
    #[test]
    fn a_status_webhook_serializes_in_meta_s_field_order() {
        let mut message = message();
        message.callback_data = Some("cb-ü".to_owned());
        message.pricing_model = "PMP";
        message.billing = Some(Billing {
            conversation_id: "conv1".to_owned(),
            conversation_expires_at: SimTime::from_ms(86_400_000),
            category: "marketing",
            billable: true,
            pricing_type: "regular",
        });
        let source = StatusSource {
            waba_id: "100",
            display_phone_number: "+1 555",
            phone_number_id: "110",
            user: Some(("BR.1", Some("Ana"))),
        };
        let sent = status(&message, StatusKind::Sent, None, 7, 1, true, Some("BR.1"));
        let body = written(&source, &sent, &message);
        let expected = json!({"object": "whatsapp_business_account", "entry": [{"id": "100",
            "changes": [{"value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "+1 555", "phone_number_id": "110"},
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5511987654321", "user_id": "BR.1"}],
                "statuses": [{"id": "wamid.test", "status": "sent", "timestamp": "7",
                    "recipient_id": "5511987654321", "recipient_user_id": "BR.1",
                    "biz_opaque_callback_data": "cb-ü",
                    "conversation": {"id": "conv1", "expiration_timestamp": "86401",
                        "origin": {"type": "marketing"}},
                    "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular",
                        "category": "marketing"}}],
            }, "field": "messages"}]}]});
        assert_eq!(body, expected.to_string());

        message.callback_data = None;
        let source = StatusSource {
            user: Some(("BR.1", None)),
            ..source
        };
        let failed = status(
            &message,
            StatusKind::Failed,
            Some(131_026),
            7,
            1,
            true,
            None,
        );
        let body = written(&source, &failed, &message);
        let title = title_of(131_026);
        let expected = json!({"object": "whatsapp_business_account", "entry": [{"id": "100",
            "changes": [{"value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "+1 555", "phone_number_id": "110"},
                "contacts": [{"profile": {}, "wa_id": "5511987654321", "user_id": "BR.1"}],
                "statuses": [{"id": "wamid.test", "status": "failed", "timestamp": "7",
                    "recipient_id": "5511987654321",
                    "errors": [{"code": 131_026, "title": title, "message": title,
                        "error_data": {"details": async_details_of(131_026)},
                        "href": ERROR_HREF}]}],
            }, "field": "messages"}]}]});
        assert_eq!(body, expected.to_string());

        let read = status(&message, StatusKind::Read, None, 7, 1, false, None);
        let source = StatusSource {
            user: None,
            ..source
        };
        let body = written(&source, &read, &message);
        let expected = json!({"object": "whatsapp_business_account", "entry": [{"id": "100",
            "changes": [{"value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "+1 555", "phone_number_id": "110"},
                "statuses": [{"id": "wamid.test", "status": "read", "timestamp": "7",
                    "recipient_id": "5511987654321"}],
            }, "field": "messages"}]}]});
        assert_eq!(body, expected.to_string());
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
