//! Webhook payloads in Meta's shapes (reference §6).

use serde_json::{Map, Value, json};

use super::error::{ERROR_HREF, async_details_of, title_of};
use super::state::{Message, StatusKind};

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

/// One `statuses[]` object. `with_billing` puts `conversation` and `pricing` on it
/// (on `sent` and on the first of `delivered`/`read`); `recipient_user_id` is the
/// recipient's BSUID when the policy shows them (`2026-04`, reference §13).
pub(crate) fn status(
    message: &Message,
    status: StatusKind,
    error_code: Option<u32>,
    unix_seconds: u64,
    epoch_unix_s: u64,
    with_billing: bool,
    recipient_user_id: Option<&str>,
) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), json!(message.id));
    object.insert("status".to_owned(), json!(status.name()));
    object.insert("timestamp".to_owned(), json!(unix_seconds.to_string()));
    object.insert("recipient_id".to_owned(), json!(message.to));
    if let Some(user_id) = recipient_user_id {
        object.insert("recipient_user_id".to_owned(), json!(user_id));
    }
    if let Some(data) = &message.callback_data {
        object.insert("biz_opaque_callback_data".to_owned(), json!(data));
    }
    if status == StatusKind::Failed {
        let code = error_code.unwrap_or(131_000);
        let title = title_of(code);
        object.insert(
            "errors".to_owned(),
            json!([{
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": async_details_of(code)},
                "href": ERROR_HREF,
            }]),
        );
    } else if let Some(billing) = message.billing.as_ref().filter(|_| with_billing) {
        let mut conversation = Map::new();
        conversation.insert("id".to_owned(), json!(billing.conversation_id));
        if status == StatusKind::Sent {
            let expires = epoch_unix_s + billing.conversation_expires_at.as_ms() / 1000;
            conversation.insert(
                "expiration_timestamp".to_owned(),
                json!(expires.to_string()),
            );
        }
        conversation.insert("origin".to_owned(), json!({"type": billing.category}));
        object.insert("conversation".to_owned(), Value::Object(conversation));
        let mut pricing = Map::new();
        pricing.insert("billable".to_owned(), json!(billing.billable));
        pricing.insert("pricing_model".to_owned(), json!(message.pricing_model));
        if message.pricing_model == "PMP" {
            pricing.insert("type".to_owned(), json!(billing.pricing_type));
        }
        pricing.insert("category".to_owned(), json!(billing.category));
        object.insert("pricing".to_owned(), Value::Object(pricing));
    }
    Value::Object(object)
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
    use crate::model::state::MessageContent;

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

    /// pywa raises on an error object without `code` and `message` (reference §13).
    #[test]
    fn every_failed_status_error_carries_code_title_message_and_details() {
        for &code in code::ALL {
            let object = status(
                &message(),
                StatusKind::Failed,
                Some(code),
                1_717_405_200,
                1_717_405_200,
                true,
                None,
            );
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
        let object = status(
            &message(),
            StatusKind::Sent,
            None,
            1,
            0,
            false,
            Some("BR.00000000000000000001"),
        );
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
        let without = status(&message(), StatusKind::Sent, None, 1, 0, false, None);
        assert!(without.get("recipient_user_id").is_none());
    }
}
