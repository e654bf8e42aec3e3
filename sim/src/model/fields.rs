//! Reading JSON objects field by field, with errors that name the field: the control
//! API's bodies, world and scenario files share these readers, so a mistake reads
//! the same wherever it is made (`inbound.button_reply.id: expected a non-empty
//! string, got 3`).

use serde_json::{Map, Value};

/// A field that is missing, of the wrong kind or out of range: `{field}: {problem}`
/// (just the problem when it is the object's own).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{problem}", .field, if .field.is_empty() { "" } else { ": " })]
pub struct FieldError {
    /// The field's path (`button_reply.id`); empty for the object itself.
    pub field: String,
    /// What was expected and what was found.
    pub problem: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The same error one object further out (`button_reply` → `inbound.button_reply`).
    #[must_use]
    pub fn within(mut self, outer: &str) -> FieldError {
        self.field = if self.field.is_empty() {
            outer.to_owned()
        } else {
            format!("{outer}.{}", self.field)
        };
        self
    }
}

/// `value` as an object, or the error naming `name`.
pub fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Map<String, Value>, FieldError> {
    value
        .as_object()
        .ok_or_else(|| FieldError::new(name, format!("expected an object, got {value}")))
}

/// Refuses any field of `object` not in `known`.
pub fn known(object: &Map<String, Value>, known: &[&str]) -> Result<(), FieldError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) => Err(FieldError::new(
            key.as_str(),
            format!("unknown field, expected one of {}", known.join(", ")),
        )),
    }
}

/// A required non-empty string.
pub fn string(object: &Map<String, Value>, field: &str) -> Result<String, FieldError> {
    match object.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(other) => Err(FieldError::new(
            field,
            format!("expected a non-empty string, got {other}"),
        )),
        None => Err(FieldError::new(field, "missing")),
    }
}

/// An optional non-empty string (`null` reads as absent).
pub fn optional_string(
    object: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => string(object, field).map(Some),
    }
}

/// An optional whole number within `range` (inclusive).
pub fn optional_whole(
    object: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|n| range.contains(n))
            .map(Some)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "expected a whole number from {} to {}, got {value}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// Refuses `value`, read from `field`, unless it is one of `allowed`; the error
/// calls it an unknown `what` and lists what is allowed.
pub fn listed(field: &str, what: &str, value: &str, allowed: &[&str]) -> Result<(), FieldError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(FieldError::new(
        field,
        format!(
            "unknown {what} `{value}`, expected one of {}",
            allowed.join(", ")
        ),
    ))
}

/// Exactly one of `kinds` present in `object`: its name.
pub fn one_of<'k>(object: &Map<String, Value>, kinds: &[&'k str]) -> Result<&'k str, FieldError> {
    let present: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|kind| object.contains_key(*kind))
        .collect();
    match present.as_slice() {
        [kind] => Ok(kind),
        [] => Err(FieldError::new(
            "",
            format!("expected one of {}, got none", kinds.join(", ")),
        )),
        _ => Err(FieldError::new(
            "",
            format!(
                "expected only one of {}, got {}",
                kinds.join(", "),
                present.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_field_and_its_path() {
        let value = json!({"button_reply": {"id": 3}});
        let outer = object(&value, "inbound").expect("an object");
        let inner = object(&outer["button_reply"], "button_reply").expect("an object");
        let error = string(inner, "id")
            .unwrap_err()
            .within("button_reply")
            .within("inbound");
        assert_eq!(
            error.to_string(),
            "inbound.button_reply.id: expected a non-empty string, got 3"
        );
        assert_eq!(
            string(inner, "title").unwrap_err().to_string(),
            "title: missing"
        );
        assert_eq!(
            object(&json!(1), "inbound").unwrap_err().to_string(),
            "inbound: expected an object, got 1"
        );
    }

    #[test]
    fn unknown_fields_optional_values_and_one_of() {
        let value = json!({"text": "hi", "count": 1001, "extra": true, "none": null});
        let object = object(&value, "x").expect("an object");
        assert_eq!(
            known(object, &["text", "count", "none"])
                .unwrap_err()
                .to_string(),
            "extra: unknown field, expected one of text, count, none"
        );
        assert_eq!(optional_string(object, "none"), Ok(None));
        assert_eq!(optional_string(object, "text"), Ok(Some("hi".to_owned())));
        assert!(optional_whole(object, "count", 1..=1000).is_err());
        assert_eq!(optional_whole(object, "count", 1..=1001), Ok(Some(1001)));
        assert_eq!(one_of(object, &["text", "button"]), Ok("text"));
        assert!(one_of(object, &["text", "extra"]).is_err());
        assert!(one_of(object, &["button"]).is_err());
    }
}
