//! What a template send gives (`template.components[]`: header, body and button
//! parameters) and its check against the template's [`Components`]
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates>,
//! codes: <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>).
//!
//! Components are checked in order (header, body, then each button by index); within
//! one, the count before the types:
//! - **132000** a component gets more or fewer parameters than its placeholders (a
//!   required component left out gets none): a header or body, a url button with a
//!   variable, a copy-code or OTP button.
//! - **132012** a parameter's format does not match the template: text where the
//!   header is `IMAGE` (or media where it is text), a `parameter_name` under
//!   `POSITIONAL`, one missing, unknown or repeated under `NAMED`, a quick-reply
//!   parameter that is not a `payload`.
//! - **132018** a button component names no button of the template: its `index` is
//!   past the template's buttons, its `sub_type` is not the button's, or it is given
//!   twice (Meta: "There was an issue with the parameters in your template"; which
//!   code the platform picks here is unconfirmed).
//!
//! Header media by id must exist like any media sent by id (131009, see `send`).

use serde_json::{Map, Value};

use super::components::{ButtonNeed, Components, HeaderFormat, ParameterFormat, ParameterNeed};
use super::error::{PlatformError, code};
use super::freeform::{self, MediaKind, MediaSource};

/// Most components one send may give (a header, a body and ten buttons).
pub const SENT_COMPONENTS_MAX: usize = 12;

/// Where a sent component goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentTarget {
    /// The header.
    Header,
    /// The body.
    Body,
    /// A button, by `sub_type` (lower case) and `index`.
    Button {
        /// `quick_reply`, `url`, `copy_code`, …
        sub_type: String,
        /// Its position among the template's buttons.
        index: usize,
    },
}

/// One component of a send: `{"type": "body", "parameters": […]}`, and for a button
/// its `sub_type` and `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentComponent {
    /// Where it goes.
    pub target: SentTarget,
    /// Its parameters.
    pub parameters: Vec<SentParameter>,
}

/// What one parameter is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentValue {
    /// `text`, `currency` or `date_time`: text in the message.
    Text,
    /// Media, by id or link.
    Media(MediaKind, MediaSource),
    /// A location.
    Location,
    /// A quick-reply `payload`.
    Payload,
    /// A copy-code `coupon_code`.
    CouponCode,
    /// Another type Meta documents (`product`, `action`, …), not simulated here.
    Other(String),
}

impl SentValue {
    fn name(&self) -> &str {
        match self {
            SentValue::Text => "text",
            SentValue::Media(kind, _) => kind.name(),
            SentValue::Location => "location",
            SentValue::Payload => "payload",
            SentValue::CouponCode => "coupon_code",
            SentValue::Other(name) => name,
        }
    }

    fn fits(&self, need: ParameterNeed) -> bool {
        match (self, need) {
            (SentValue::Text, ParameterNeed::Text)
            | (SentValue::Location, ParameterNeed::Location)
            | (SentValue::Payload, ParameterNeed::Payload)
            | (SentValue::CouponCode, ParameterNeed::CouponCode) => true,
            (SentValue::Media(kind, _), ParameterNeed::Media(needed)) => *kind == needed,
            _ => false,
        }
    }
}

/// One parameter of a send: its `type`, and its `parameter_name` when named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentParameter {
    /// Its value's kind.
    pub value: SentValue,
    /// Its `parameter_name` (named parameters).
    pub name: Option<String>,
}

impl SentComponent {
    /// The header media a send gives, if any.
    pub fn header_media(components: &[SentComponent]) -> Option<(MediaKind, &MediaSource)> {
        components
            .iter()
            .filter(|c| c.target == SentTarget::Header)
            .flat_map(|c| &c.parameters)
            .find_map(|p| match &p.value {
                SentValue::Media(kind, source) => Some((*kind, source)),
                _ => None,
            })
    }
}

/// Reads `template.components` of a send: 131008 for a missing `type`, `sub_type`
/// or `index`, 100 for a wrong shape (Meta's parameter errors).
pub fn parse(components: &[Value]) -> Result<Vec<SentComponent>, PlatformError> {
    if components.len() > SENT_COMPONENTS_MAX {
        return Err(PlatformError::new(
            code::INVALID_PARAMETER,
            format!(
                "Param template['components'] must have at most {SENT_COMPONENTS_MAX} items, got {}.",
                components.len()
            ),
        ));
    }
    components
        .iter()
        .enumerate()
        // A footer takes no parameters: Meta documents none, and it is ignored.
        .filter(|(_, c)| {
            c.get("type")
                .and_then(Value::as_str)
                .is_none_or(|kind| !kind.eq_ignore_ascii_case("footer"))
        })
        .map(|(position, component)| parse_component(position, component))
        .collect()
}

fn invalid(details: String) -> PlatformError {
    PlatformError::new(code::INVALID_PARAMETER, details)
}

fn parse_component(position: usize, component: &Value) -> Result<SentComponent, PlatformError> {
    let path = format!("template['components'][{position}]");
    let word = |key: &str| component.get(key).and_then(Value::as_str);
    let Some(kind) = word("type") else {
        return Err(freeform::missing(&format!("{path}['type']")));
    };
    // Meta documents lower case; clients send upper case too (pywa 4.5.0: "BODY").
    let target = match kind.to_ascii_lowercase().as_str() {
        "header" => SentTarget::Header,
        "body" => SentTarget::Body,
        "button" => {
            let Some(sub_type) = word("sub_type") else {
                return Err(freeform::missing(&format!("{path}['sub_type']")));
            };
            // Meta documents the index as a string; its own examples and pywa send a
            // number.
            let index = match component.get("index") {
                None | Some(Value::Null) => {
                    return Err(freeform::missing(&format!("{path}['index']")));
                }
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
                Some(_) => None,
            };
            let Some(index) = index.and_then(|i| usize::try_from(i).ok()) else {
                return Err(invalid(format!(
                    "Param {path}['index'] must be a button's position: 0, 1, …"
                )));
            };
            SentTarget::Button {
                sub_type: sub_type.to_ascii_lowercase(),
                index,
            }
        }
        other => {
            return Err(invalid(format!(
                "Param {path}['type'] must be header, body or button, got '{other}'."
            )));
        }
    };
    let parameters = match component.get("parameters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(parameters)) => parameters
            .iter()
            .enumerate()
            .map(|(p, parameter)| parse_parameter(&format!("{path}['parameters'][{p}]"), parameter))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(format!(
                "Param {path}['parameters'] must be an array, got {other}."
            )));
        }
    };
    Ok(SentComponent { target, parameters })
}

fn parse_parameter(path: &str, parameter: &Value) -> Result<SentParameter, PlatformError> {
    let Some(object) = parameter.as_object() else {
        return Err(invalid(format!("Param {path} must be an object.")));
    };
    let Some(kind) = object.get("type").and_then(Value::as_str) else {
        return Err(freeform::missing(&format!("{path}['type']")));
    };
    let kind = kind.to_ascii_lowercase();
    let value = match kind.as_str() {
        "text" => {
            string_value(object, path, "text")?;
            SentValue::Text
        }
        "currency" | "date_time" => {
            required_value(object, path, &kind)?;
            SentValue::Text
        }
        "image" | "video" | "document" => {
            let media_kind = match kind.as_str() {
                "image" => MediaKind::Image,
                "video" => MediaKind::Video,
                _ => MediaKind::Document,
            };
            let Some(media) = required_value(object, path, &kind)?.as_object() else {
                return Err(invalid(format!(
                    "Param {path}['{kind}'] must be an object."
                )));
            };
            let source =
                freeform::media_object(media, media_kind, &format!("{path}['{kind}']"), false)?;
            SentValue::Media(media_kind, source)
        }
        "location" => {
            required_value(object, path, "location")?;
            SentValue::Location
        }
        "payload" => {
            string_value(object, path, "payload")?;
            SentValue::Payload
        }
        "coupon_code" => {
            string_value(object, path, "coupon_code")?;
            SentValue::CouponCode
        }
        _ => SentValue::Other(kind),
    };
    let name = match object.get("parameter_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => {
            return Err(invalid(format!(
                "Param {path}['parameter_name'] must be a string, got {other}."
            )));
        }
    };
    Ok(SentParameter { value, name })
}

fn required_value<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a Value, PlatformError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(freeform::missing(&format!("{path}['{key}']"))),
        Some(value) => Ok(value),
    }
}

fn string_value(object: &Map<String, Value>, path: &str, key: &str) -> Result<(), PlatformError> {
    match required_value(object, path, key)? {
        Value::String(_) => Ok(()),
        other => Err(invalid(format!(
            "Param {path}['{key}'] must be a string, got {other}."
        ))),
    }
}

/// `(#132000)`: `what` got `given` parameters where it takes `expected`, in Meta's
/// words.
fn count_mismatch(what: &str, given: usize, expected: usize) -> PlatformError {
    PlatformError::new(
        code::TEMPLATE_PARAM_COUNT,
        format!(
            "{what}: number of localizable_params ({given}) does not match the expected number of params ({expected})"
        ),
    )
}

fn format_mismatch(details: String) -> PlatformError {
    PlatformError::new(code::TEMPLATE_PARAM_FORMAT, details)
}

fn no_such_button(details: String) -> PlatformError {
    PlatformError::new(code::TEMPLATE_PARAM_VALIDATION, details)
}

/// Checks a header or body's parameters: count, kinds, and names under `format`
/// (named parameters apply to text only).
fn check_text_parameters(
    what: &str,
    given: &[SentParameter],
    needs: &[ParameterNeed],
    names: &[String],
    format: ParameterFormat,
) -> Result<(), PlatformError> {
    if given.len() != needs.len() {
        return Err(count_mismatch(what, given.len(), needs.len()));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (position, (parameter, need)) in given.iter().zip(needs).enumerate() {
        let number = position + 1;
        if !parameter.value.fits(*need) {
            return Err(format_mismatch(format!(
                "{what}: parameter {number} is {}, but the template's {what} takes {}",
                parameter.value.name(),
                need.name()
            )));
        }
        let named = format == ParameterFormat::Named && *need == ParameterNeed::Text;
        match (&parameter.name, named) {
            (Some(name), false) => {
                return Err(format_mismatch(format!(
                    "{what}: parameter {number} has parameter_name `{name}`, but the template's parameter_format is POSITIONAL"
                )));
            }
            (None, true) => {
                return Err(format_mismatch(format!(
                    "{what}: parameter {number} has no parameter_name, but the template's parameter_format is NAMED ({})",
                    names.join(", ")
                )));
            }
            (Some(name), true) if !names.contains(name) || seen.contains(&name.as_str()) => {
                return Err(format_mismatch(format!(
                    "{what}: parameter_name `{name}` is not one of the template's parameters ({}), or is given twice",
                    names.join(", ")
                )));
            }
            (Some(name), true) => seen.push(name),
            (None, false) => {}
        }
    }
    Ok(())
}

impl Components {
    /// Checks what a send gives against these components: 132000, 132012 or 132018
    /// as the module says.
    pub fn check_send(&self, sent: &[SentComponent]) -> Result<(), PlatformError> {
        let mut header: Option<&SentComponent> = None;
        let mut body: Option<&SentComponent> = None;
        let mut buttons: Vec<Option<&SentComponent>> = vec![None; self.buttons.len()];
        for component in sent {
            let slot = match &component.target {
                SentTarget::Header => &mut header,
                SentTarget::Body => &mut body,
                SentTarget::Button { sub_type, index } => {
                    let Some(button) = self.buttons.get(*index) else {
                        return Err(no_such_button(format!(
                            "button at index {index}: the template has {} button(s)",
                            self.buttons.len()
                        )));
                    };
                    let need = button.need();
                    if *sub_type != need.sub_type {
                        return Err(no_such_button(format!(
                            "button at index {index}: sub_type {sub_type} does not match the template's {} button (sub_type {})",
                            button.type_name(),
                            need.sub_type
                        )));
                    }
                    &mut buttons[*index]
                }
            };
            if slot.replace(component).is_some() {
                return Err(no_such_button(format!(
                    "{}: the component is given twice",
                    target_name(&component.target)
                )));
            }
        }
        let none: &[SentParameter] = &[];
        let header_names = self
            .header
            .as_ref()
            .filter(|h| h.format == HeaderFormat::Text)
            .map_or(&[][..], |h| h.placeholders.as_slice());
        check_text_parameters(
            "header",
            header.map_or(none, |c| &c.parameters),
            &self.header_needs(),
            header_names,
            self.parameter_format,
        )?;
        let body_needs = vec![ParameterNeed::Text; self.body_parameters()];
        // An authentication body's one parameter is the code, never named.
        let body_format = if self.body.text.is_none() {
            ParameterFormat::Positional
        } else {
            self.parameter_format
        };
        check_text_parameters(
            "body",
            body.map_or(none, |c| &c.parameters),
            &body_needs,
            &self.body.placeholders,
            body_format,
        )?;
        for (index, (button, given)) in self.buttons.iter().zip(&buttons).enumerate() {
            let what = format!("button at index {index} ({})", button.type_name());
            check_button(&what, button.need(), *given)?;
        }
        Ok(())
    }
}

fn target_name(target: &SentTarget) -> String {
    match target {
        SentTarget::Header => "header".to_owned(),
        SentTarget::Body => "body".to_owned(),
        SentTarget::Button { index, .. } => format!("button at index {index}"),
    }
}

fn check_button(
    what: &str,
    need: ButtonNeed,
    given: Option<&SentComponent>,
) -> Result<(), PlatformError> {
    let Some(given) = given else {
        return match need.parameter {
            Some(_) if need.required => Err(count_mismatch(what, 0, 1)),
            _ => Ok(()),
        };
    };
    let expected = usize::from(need.parameter.is_some());
    if given.parameters.len() != expected {
        return Err(count_mismatch(what, given.parameters.len(), expected));
    }
    match (need.parameter, given.parameters.first()) {
        (Some(kind), Some(parameter)) if !parameter.value.fits(kind) => {
            Err(format_mismatch(format!(
                "{what}: the parameter is {}, but the button takes {}",
                parameter.value.name(),
                kind.name()
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::Category;
    use serde_json::json;

    fn template(category: Category, format: ParameterFormat, components: Value) -> Components {
        Components::parse(category, format, components.as_array().expect("an array"))
            .expect("a valid template")
    }

    fn promo() -> Components {
        let components = crate::model::components::tests::promo_json();
        template(Category::Marketing, ParameterFormat::Named, components)
    }

    fn sent(components: Value) -> Vec<SentComponent> {
        parse(components.as_array().expect("an array")).expect("well-formed")
    }

    fn good_promo() -> Value {
        json!([
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/a.jpg"}}]},
            {"type": "body", "parameters": [
                {"type": "text", "parameter_name": "code", "text": "X1"},
                {"type": "text", "parameter_name": "first_name", "text": "Ana"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "new"}]}
        ])
    }

    #[test]
    fn a_send_that_gives_every_component_its_parameters_passes() {
        promo()
            .check_send(&sent(good_promo()))
            .expect("named parameters in any order, header media, url variable");
        let mut with_payload = good_promo();
        with_payload.as_array_mut().expect("an array").push(
            json!({"type": "BUTTON", "sub_type": "QUICK_REPLY", "index": 0, "parameters": [{"type": "payload", "payload": "stop"}]}),
        );
        promo()
            .check_send(&sent(with_payload))
            .expect("an optional quick-reply payload, upper case, numeric index");
    }

    #[test]
    fn each_mismatch_gets_its_code_and_names_the_component() {
        let edit = |pointer: &str, value: Value| {
            let mut body = good_promo();
            *body.pointer_mut(pointer).expect("a field") = value;
            body
        };
        let without = |index: usize| {
            let mut body = good_promo();
            body.as_array_mut().expect("an array").remove(index);
            body
        };
        let cases = [
            (without(0), 132_000, "header"),
            (without(1), 132_000, "body"),
            (without(2), 132_000, "button at index 1 (URL)"),
            (edit("/1/parameters/1", Value::Null), 132_000, "body"),
            (
                edit("/0/parameters/0", json!({"type": "text", "text": "x"})),
                132_012,
                "header",
            ),
            (
                edit("/1/parameters/0/parameter_name", json!("coupon")),
                132_012,
                "coupon",
            ),
            (
                edit("/1/parameters/0/parameter_name", Value::Null),
                132_012,
                "no parameter_name",
            ),
            (edit("/2/index", json!("5")), 132_018, "index 5"),
            (
                edit("/2/sub_type", json!("quick_reply")),
                132_018,
                "sub_type quick_reply",
            ),
            (
                edit(
                    "/2/parameters/0",
                    json!({"type": "payload", "payload": "p"}),
                ),
                132_012,
                "button at index 1",
            ),
        ];
        for (body, expected, names) in cases {
            let mut body = body;
            if let Some(parameters) = body
                .pointer_mut("/1/parameters")
                .and_then(Value::as_array_mut)
            {
                parameters.retain(|p| !p.is_null());
            }
            let error = promo()
                .check_send(&sent(body.clone()))
                .expect_err("refused");
            assert_eq!(error.code, expected, "{body}: {error:?}");
            assert!(error.details.contains(names), "{body}: {}", error.details);
        }
    }

    #[test]
    fn a_parameter_name_under_positional_is_a_format_mismatch() {
        let order = Components::stand_in("order_update", 1, 0);
        let named = sent(json!([{"type": "body", "parameters": [
            {"type": "text", "parameter_name": "order", "text": "A-1"}]}]));
        assert_eq!(order.check_send(&named).expect_err("named").code, 132_012);
        let currency = sent(json!([{"type": "body", "parameters": [
            {"type": "currency", "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 1000}}]}]));
        order
            .check_send(&currency)
            .expect("currency is text in a body");
    }

    #[test]
    fn malformed_components_are_refused_before_any_template_is_looked_up() {
        let cases = [
            (json!([{"parameters": []}]), 131_008),
            (json!([{"type": "button", "index": "0"}]), 131_008),
            (json!([{"type": "button", "sub_type": "url"}]), 131_008),
            (
                json!([{"type": "button", "sub_type": "url", "index": "first"}]),
                100,
            ),
            (
                json!([{"type": "body", "parameters": [{"type": "text"}]}]),
                131_008,
            ),
            (
                json!([{"type": "body", "parameters": [{"type": "text", "text": 5}]}]),
                100,
            ),
            (
                json!([{"type": "header", "parameters": [{"type": "image", "image": {}}]}]),
                131_008,
            ),
            (json!([{"type": "carousel"}]), 100),
        ];
        for (components, expected) in cases {
            let error = parse(components.as_array().expect("an array")).expect_err("refused");
            assert_eq!(error.code, expected, "{components}: {error:?}");
        }
    }
}
