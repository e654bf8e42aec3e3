//! A webhook body serialized once, when its delivery is emitted, and shared from
//! then on: the trace's `webhook_emitted` record, the pending delivery and every
//! attempt hold the same bytes, the deliverer signs and posts them, and the trace
//! writer embeds them as they are. Reading a field means parsing the text, which
//! only checks, tests and the fault model do.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A webhook body as compact JSON (`serde_json::to_string`, UTF-8, nothing escaped
/// beyond what JSON requires). Cloning shares the text.
#[derive(Clone)]
pub struct WebhookBody(Arc<str>);

thread_local! {
    /// Where bodies are written before their one exact-size copy: serializing
    /// straight into a growing `String` reallocated each body three or four times
    /// (a third of a status webhook's cost in the `campaign` bench).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl WebhookBody {
    /// Serializes `body` once: a [`Value`] or a typed payload give the same text when
    /// their fields are in the same order.
    pub fn new<T: Serialize + ?Sized>(body: &T) -> WebhookBody {
        WebhookBody::write(|out| serde_json::to_writer(out, body))
    }

    /// The body `write` writes as JSON text (for bodies written piece by piece,
    /// such as `payload::write_status_webhook`).
    pub fn write(write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>) -> WebhookBody {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            write(scratch).expect("webhook bodies serialize");
            let text = std::str::from_utf8(scratch).expect("webhook bodies are UTF-8");
            WebhookBody(Arc::from(text))
        })
    }

    /// The body as written in the trace.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The body parsed, for reading its fields (a copy; not for hot paths).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.as_str()).expect("a webhook body is JSON")
    }

    /// The bytes posted and signed: the body with every non-ASCII character
    /// escaped as `\uXXXX` (lowercase hex, surrogate pairs outside the BMP), as
    /// Meta does; the same as escaping while serializing.
    pub fn ascii_bytes(&self) -> Vec<u8> {
        ascii_escape(self.as_str()).into_bytes()
    }
}

/// `text` (JSON) with every non-ASCII character escaped as `\uXXXX`. Outside
/// strings JSON is ASCII, so escaping after serializing is the same as escaping
/// while serializing.
pub fn ascii_escape(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut units = [0u16; 2];
    for character in text.chars() {
        if character.is_ascii() {
            out.push(character);
        } else {
            for unit in character.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

impl From<&Value> for WebhookBody {
    fn from(value: &Value) -> WebhookBody {
        WebhookBody::new(value)
    }
}

impl From<Value> for WebhookBody {
    fn from(value: Value) -> WebhookBody {
        WebhookBody::new(&value)
    }
}

impl PartialEq for WebhookBody {
    fn eq(&self, other: &WebhookBody) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.as_str() == other.as_str()
    }
}

impl Eq for WebhookBody {}

impl fmt::Debug for WebhookBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for WebhookBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WebhookBody {
    /// Embedded as it is by `serde_json` (other serializers get it parsed). The text
    /// is checked here rather than on every emit; `TraceRecord::to_json_line`, the
    /// trace writer's path, appends it without the check.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_is_serde_json_s_and_the_posted_bytes_are_ascii_json_s() {
        let value = json!({"z": 1, "a": {"text": "Grüße 👋", "n": [1, 2.5, null]}});
        let body = WebhookBody::from(&value);
        assert_eq!(
            body.as_str(),
            serde_json::to_string(&value).expect("serializes")
        );
        assert_eq!(
            body.ascii_bytes(),
            br#"{"z":1,"a":{"text":"Gr\u00fc\u00dfe \ud83d\udc4b","n":[1,2.5,null]}}"#
        );
        assert_eq!(body.to_value(), value);
    }

    #[test]
    fn it_is_embedded_raw_in_a_record() {
        let value = json!({"b": "é", "a": [true]});
        let record = json!({"kind": "x", "body": value});
        let body = WebhookBody::from(&value);
        #[derive(Serialize)]
        struct Record<'a> {
            kind: &'a str,
            body: &'a WebhookBody,
        }
        let with_body = Record {
            kind: "x",
            body: &body,
        };
        assert_eq!(
            serde_json::to_string(&with_body).expect("serializes"),
            serde_json::to_string(&record).expect("serializes")
        );
        assert_eq!(
            serde_json::to_value(&with_body).expect("to a value"),
            record
        );
    }
}
