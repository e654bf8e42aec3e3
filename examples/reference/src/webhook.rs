//! Meta's webhook posts: the signature check and the events inside the envelope.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::state::{InboundMessage, StatusKind, StatusUpdate};

/// The header carrying Meta's signature.
pub(crate) const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Why a webhook post was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    Missing,
    /// Not `sha256=<hex>`.
    Malformed,
    /// A well-formed signature of some other body or key.
    Wrong,
}

impl SignatureError {
    /// A short reason for the log line.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing signature",
            SignatureError::Malformed => "malformed signature",
            SignatureError::Wrong => "wrong signature",
        }
    }
}

/// Checks `header` (`sha256=<hex HMAC-SHA256 of body>`) in constant time.
pub(crate) fn verify_signature(
    secret: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header.trim().strip_prefix("sha256=");
    verify_hex_hmac(secret, body, hex_digest.ok_or(SignatureError::Malformed)?)
}

/// Checks that `hex_digest` is the hex HMAC-SHA256 of `body` keyed with `secret`,
/// in constant time (Meta's signature and 360dialog's partner signature alike).
pub(crate) fn verify_hex_hmac(
    secret: &str,
    body: &[u8],
    hex_digest: &str,
) -> Result<(), SignatureError> {
    let digest = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&digest).map_err(|_| SignatureError::Wrong)
}

/// One thing a webhook post told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A user wrote.
    Inbound(InboundMessage),
    /// A message we sent changed status.
    Status(StatusUpdate),
    /// A template's status changed (`message_template_status_update`).
    TemplateStatus {
        /// The template's name (`message_template_name`).
        name: String,
        /// The template's id (`message_template_id`, an integer on the wire), as
        /// digits; `None` if absent or not a non-negative integer.
        id: Option<String>,
        /// What happened, upper case: `PAUSED`, `APPROVED`, `DISABLED`, ...
        event: String,
    },
    /// An entry's `time` (account-level changes carry one): virtual now moves to it.
    Clock(u64),
    /// Something we do not act on (one line saying what).
    Ignored(String),
}

/// Every event in a Meta envelope, in order: all entries (an entry's `time` first),
/// all changes, all messages and statuses. Parts that do not parse become
/// [`Event::Ignored`], so one bad change does not lose the rest of a batch.
pub(crate) fn parse_envelope(body: &[u8]) -> Result<Vec<Event>, String> {
    let envelope: Value =
        serde_json::from_slice(body).map_err(|error| format!("body is not JSON: {error}"))?;
    let entries = envelope
        .get("entry")
        .and_then(Value::as_array)
        .ok_or("no entry[] array")?;
    let mut events = Vec::new();
    for entry in entries {
        if let Some(time) = entry.get("time").and_then(Value::as_u64) {
            events.push(Event::Clock(time));
        }
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            events.push(Event::Ignored("entry without changes[]".to_owned()));
            continue;
        };
        for change in changes {
            change_events(change, &mut events);
        }
    }
    Ok(events)
}

/// The events of one `entry[].changes[]` item.
fn change_events(change: &Value, events: &mut Vec<Event>) {
    let field = change.get("field").and_then(Value::as_str).unwrap_or("");
    if !matches!(field, "messages" | "message_template_status_update") {
        events.push(Event::Ignored(format!("change field `{field}`")));
        return;
    }
    let Some(value) = change.get("value") else {
        events.push(Event::Ignored("change without value".to_owned()));
        return;
    };
    if field == "message_template_status_update" {
        events.push(template_status(value).unwrap_or_else(Event::Ignored));
        return;
    }
    for message in array(value, "messages") {
        events.push(inbound(message).map_or_else(Event::Ignored, Event::Inbound));
    }
    for status in array(value, "statuses") {
        events.push(status_update(status).map_or_else(Event::Ignored, Event::Status));
    }
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn string(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Unix seconds, sent as a string (numbers accepted too).
fn timestamp(value: &Value) -> Option<u64> {
    match value.get("timestamp")? {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

fn inbound(message: &Value) -> Result<InboundMessage, String> {
    let id = string(message, "id").ok_or("inbound message without id")?;
    let from = string(message, "from").ok_or_else(|| format!("inbound {id} without from"))?;
    let kind = string(message, "type").unwrap_or_else(|| "unknown".to_owned());
    let media_id = match kind.as_str() {
        "image" | "document" | "audio" | "video" | "sticker" => message
            .get(kind.as_str())
            .and_then(|media| string(media, "id")),
        _ => None,
    };
    Ok(InboundMessage {
        timestamp: timestamp(message),
        kind,
        id,
        from,
        media_id,
    })
}

fn status_update(status: &Value) -> Result<StatusUpdate, String> {
    let id = string(status, "id").ok_or("status without id")?;
    let name = string(status, "status").unwrap_or_default();
    let kind = StatusKind::parse(&name).ok_or_else(|| format!("status `{name}` for {id}"))?;
    let error_codes = array(status, "errors")
        .iter()
        .filter_map(|error| error.get("code").and_then(Value::as_u64))
        .collect();
    Ok(StatusUpdate {
        recipient_id: string(status, "recipient_id").unwrap_or_default(),
        timestamp: timestamp(status),
        id,
        kind,
        error_codes,
    })
}

fn template_status(value: &Value) -> Result<Event, String> {
    let name = string(value, "message_template_name")
        .ok_or("template status update without message_template_name")?;
    let event = string(value, "event")
        .ok_or_else(|| format!("template status update of {name} without event"))?;
    Ok(Event::TemplateStatus {
        name,
        id: template_id(value),
        event: event.to_ascii_uppercase(),
    })
}

/// `message_template_id` as a string of digits: Meta sends an integer (too large
/// for some JSON readers, so a string of digits is accepted too).
fn template_id(value: &Value) -> Option<String> {
    match value.get("message_template_id")? {
        Value::Number(number) => number.as_u64().map(|id| id.to_string()),
        Value::String(text) => {
            let text = text.trim();
            (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The event of a template status change.
    fn template_status(name: &str, id: &str, event: &str) -> Event {
        Event::TemplateStatus {
            name: name.to_owned(),
            id: Some(id.to_owned()),
            event: event.to_owned(),
        }
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        format!("sha256={}", crate::testing::hmac_hex(secret, body))
    }

    #[test]
    fn only_the_right_signature_of_the_exact_body_passes() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let good = sign("s3cret", body);
        assert_eq!(verify_signature("s3cret", body, Some(&good)), Ok(()));
        assert_eq!(
            verify_signature("s3cret", body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature("s3cret", body, Some(good.trim_start_matches("sha256="))),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature("other", body, Some(&good)),
            Err(SignatureError::Wrong)
        );
        assert_eq!(
            verify_signature("s3cret", b"{}", Some(&good)),
            Err(SignatureError::Wrong)
        );
    }

    #[test]
    fn every_entry_and_change_of_a_batch_is_read_in_order() {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "1", "changes": [
                    {"field": "messages", "value": {"messages": [
                        {"from": "551", "id": "wamid.in1", "timestamp": "1717405200", "type": "text", "text": {"body": "hi"}}
                    ]}},
                    {"field": "messages", "value": {"statuses": [
                        {"id": "wamid.out1", "status": "read", "timestamp": "1717405260", "recipient_id": "551"},
                        {"id": "wamid.out2", "status": "failed", "timestamp": "1717405270", "recipient_id": "919",
                         "errors": [{"code": 131049, "title": "limit"}]}
                    ]}}
                ]},
                {"id": "1", "changes": [
                    {"field": "account_update", "value": {}},
                    {"field": "messages", "value": {"statuses": [
                        {"id": "wamid.out3", "status": "deleted", "timestamp": "1"}
                    ]}}
                ]}
            ]
        });
        let events = parse_envelope(body.to_string().as_bytes()).expect("valid");
        assert_eq!(events.len(), 5, "{events:?}");
        assert_eq!(
            events[0],
            Event::Inbound(InboundMessage {
                id: "wamid.in1".to_owned(),
                from: "551".to_owned(),
                timestamp: Some(1_717_405_200),
                kind: "text".to_owned(),
                media_id: None,
            })
        );
        let Event::Status(read) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (read.kind, read.timestamp),
            (StatusKind::Read, Some(1_717_405_260))
        );
        let Event::Status(failed) = &events[2] else {
            panic!("{events:?}")
        };
        assert_eq!(failed.kind, StatusKind::Failed);
        assert_eq!(failed.error_codes, vec![131_049]);
        assert_eq!(failed.recipient_id, "919");
        assert!(matches!(events[3], Event::Ignored(_)));
        assert!(matches!(events[4], Event::Ignored(_)));
    }

    fn account_change(time: u64, field: &str, value: &Value) -> Value {
        json!({"id": "1", "time": time, "changes": [{"field": field, "value": value}]})
    }

    #[test]
    fn template_status_updates_are_read_and_their_entry_time_moves_the_clock() {
        let paused = json!({
            "event": "PAUSED", "message_template_id": 1_689_556_908_129_832_u64,
            "message_template_name": "spring_sale", "message_template_language": "en_US",
            "reason": "NONE", "message_template_category": "MARKETING",
            "other_info": {"title": "FIRST_PAUSE", "description": "paused"}
        });
        let approved = json!({
            "event": "APPROVED", "message_template_id": 1,
            "message_template_name": "order_update", "message_template_language": "en_US",
            "reason": "NONE", "other_info": {"title": "UNPAUSE"}
        });
        let quality = json!({
            "previous_quality_score": "GREEN", "new_quality_score": "RED",
            "message_template_id": 1, "message_template_name": "spring_sale",
            "message_template_language": "en_US"
        });
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [
                account_change(1_751_247_548, "message_template_status_update", &paused),
                account_change(1_751_247_549, "message_template_quality_update", &quality),
                account_change(1_751_258_348, "message_template_status_update", &approved),
                account_change(1_751_258_349, "message_template_status_update", &json!({"event": "PAUSED"})),
            ]
        });
        let events = parse_envelope(body.to_string().as_bytes()).expect("valid");
        assert_eq!(events.len(), 8, "{events:?}");
        assert_eq!(events[0], Event::Clock(1_751_247_548));
        let paused_event = template_status("spring_sale", "1689556908129832", "PAUSED");
        assert_eq!(events[1], paused_event);
        assert_eq!(events[2], Event::Clock(1_751_247_549));
        assert!(
            matches!(&events[3], Event::Ignored(what) if what.contains("message_template_quality_update")),
            "{events:?}"
        );
        assert_eq!(events[4], Event::Clock(1_751_258_348));
        let approved_event = template_status("order_update", "1", "APPROVED");
        assert_eq!(events[5], approved_event);
        assert_eq!(events[6], Event::Clock(1_751_258_349));
        assert!(
            matches!(events[7], Event::Ignored(_)),
            "no name: {events:?}"
        );
    }

    #[test]
    fn the_template_id_is_read_as_digits_from_an_integer_or_a_string() {
        let id_of = |id: Option<Value>| {
            let mut value = json!({"event": "paused", "message_template_name": "spring_sale"});
            if let Some(id) = id {
                value["message_template_id"] = id;
            }
            let body =
                json!({"entry": [account_change(1, "message_template_status_update", &value)]});
            let events = parse_envelope(body.to_string().as_bytes()).expect("valid");
            match &events[..] {
                [Event::Clock(1), Event::TemplateStatus { name, id, event }] => {
                    assert_eq!((name.as_str(), event.as_str()), ("spring_sale", "PAUSED"));
                    id.clone()
                }
                other => panic!("{other:?}"),
            }
        };
        let digits = |text: &str| Some(text.to_owned());
        assert_eq!(
            id_of(Some(json!(1_689_556_908_129_832_u64))),
            digits("1689556908129832")
        );
        assert_eq!(id_of(Some(json!(u64::MAX))), digits(&u64::MAX.to_string()));
        assert_eq!(
            id_of(Some(json!("1689556908129832"))),
            digits("1689556908129832")
        );
        assert_eq!(id_of(Some(json!(" 42 "))), digits("42"));
        // No id, or one that is not a non-negative integer: the event still counts.
        assert_eq!(id_of(None), None);
        for bad in [
            json!(-5),
            json!(1.5),
            json!(""),
            json!("12a"),
            json!("../x"),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(id_of(Some(bad.clone())), None, "{bad}");
        }
    }

    #[test]
    fn an_inbound_media_message_carries_its_media_id() {
        let body = json!({"entry": [{"changes": [{"field": "messages", "value": {"messages": [
            {"from": "551", "id": "wamid.img", "type": "image", "image": {"id": "7001", "mime_type": "image/jpeg"}},
            {"from": "551", "id": "wamid.loc", "type": "location", "location": {"id": "x"}}
        ]}}]}]});
        let events = parse_envelope(body.to_string().as_bytes()).expect("valid");
        let ids: Vec<Option<String>> = events
            .iter()
            .map(|event| match event {
                Event::Inbound(message) => message.media_id.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, vec![Some("7001".to_owned()), None]);
    }

    #[test]
    fn a_body_that_is_not_an_envelope_is_an_error() {
        assert!(parse_envelope(b"not json").is_err());
        assert!(parse_envelope(b"{}").is_err());
    }
}
