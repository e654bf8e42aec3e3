//! A template's components as created: header, body, footer and buttons, with
//! Meta's limits
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components>,
//! authentication templates:
//! <https://developers.facebook.com/docs/whatsapp/business-management-api/authentication-templates>).
//!
//! - **Header** (at most one): `TEXT` of at most 60 characters with at most one
//!   placeholder, or `IMAGE`, `VIDEO`, `DOCUMENT` (an `example.header_handle` is
//!   required), or `LOCATION`.
//! - **Body** (required): at most 1024 characters, with `{{1}}`, `{{2}}`, … under
//!   `parameter_format: POSITIONAL` (the default) or `{{name}}` under `NAMED`. A text
//!   with placeholders needs an example value for each (`body_text`,
//!   `body_text_named_params`; `header_text`, `header_text_named_params` for a header).
//!   Authentication templates have Meta's preset body (`add_security_recommendation`),
//!   whose one placeholder is the code.
//! - **Footer**: at most 60 characters, no placeholders; authentication footers carry
//!   `code_expiration_minutes` (1 to 90) instead.
//! - **Buttons**: at most 10; `QUICK_REPLY`, `URL` (at most 2, a variable only at the
//!   end of the url, with its example), `PHONE_NUMBER` (at most 1), `COPY_CODE` (at
//!   most 1, marketing only) with labels of at most 25 characters; `OTP`
//!   (`COPY_CODE`, `ONE_TAP`, `ZERO_TAP`) only, and exactly one, in authentication
//!   templates.
//!
//! What a send must give for each component is [`ParameterNeed`]; the check of a send
//! against it is in `template_parameters`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::{PlatformError, code};
use super::freeform::MediaKind;
use super::spec::Category;

/// Longest body text.
pub const BODY_CHARS_MAX: usize = 1_024;
/// Longest header text.
pub const HEADER_TEXT_CHARS_MAX: usize = 60;
/// Longest footer text.
pub const FOOTER_CHARS_MAX: usize = 60;
/// Longest button label.
pub const BUTTON_TEXT_CHARS_MAX: usize = 25;
/// Most buttons in a template.
pub const BUTTONS_MAX: usize = 10;
/// Most URL buttons in a template.
pub const URL_BUTTONS_MAX: usize = 2;
/// Longest button url.
pub const URL_CHARS_MAX: usize = 2_000;
/// Longest phone number of a `PHONE_NUMBER` button.
pub const PHONE_NUMBER_CHARS_MAX: usize = 20;
/// Longest copy-code example (and code sent).
pub const COPY_CODE_CHARS_MAX: usize = 15;
/// Longest example value or media handle kept (bounds what a template stores).
pub const EXAMPLE_CHARS_MAX: usize = 2_000;
/// Most `code_expiration_minutes` of an authentication footer.
pub const CODE_EXPIRATION_MINUTES_MAX: u64 = 90;

/// How a template's header and body name their placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParameterFormat {
    /// `{{1}}`, `{{2}}`, …: parameters are given in order.
    #[default]
    Positional,
    /// `{{first_name}}`: each parameter carries its `parameter_name`.
    Named,
}

impl ParameterFormat {
    /// The format as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            ParameterFormat::Positional => "POSITIONAL",
            ParameterFormat::Named => "NAMED",
        }
    }
}

/// What a header shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFormat {
    /// Text, with at most one placeholder.
    Text,
    /// Media given at send time.
    Media(MediaKind),
    /// A location given at send time.
    Location,
}

impl HeaderFormat {
    /// The `format` as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            HeaderFormat::Text => "TEXT",
            HeaderFormat::Media(MediaKind::Image) => "IMAGE",
            HeaderFormat::Media(MediaKind::Video) => "VIDEO",
            HeaderFormat::Media(_) => "DOCUMENT",
            HeaderFormat::Location => "LOCATION",
        }
    }
}

/// A header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Its format.
    pub format: HeaderFormat,
    /// The text of a `TEXT` header.
    pub text: Option<String>,
    /// Its placeholders' names (`1` for `{{1}}`).
    pub placeholders: Vec<String>,
    /// Example values (one per placeholder), or media handles.
    pub examples: Vec<String>,
}

/// The body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// Its text; `None` for an authentication template's preset body.
    pub text: Option<String>,
    /// Its placeholders' names, in order of first appearance.
    pub placeholders: Vec<String>,
    /// Example values, one per placeholder.
    pub examples: Vec<String>,
    /// An authentication body's `add_security_recommendation`.
    pub add_security_recommendation: Option<bool>,
}

/// The footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// Its text; `None` for an authentication footer.
    pub text: Option<String>,
    /// An authentication footer's `code_expiration_minutes`.
    pub code_expiration_minutes: Option<u64>,
}

/// A one-time-password button's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpType {
    /// Copies the code.
    CopyCode,
    /// One-tap autofill.
    OneTap,
    /// Zero-tap autofill.
    ZeroTap,
}

impl OtpType {
    /// The `otp_type` as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            OtpType::CopyCode => "COPY_CODE",
            OtpType::OneTap => "ONE_TAP",
            OtpType::ZeroTap => "ZERO_TAP",
        }
    }
}

/// A button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    /// Sends its text (or the payload given at send time) back.
    QuickReply {
        /// Label.
        text: String,
    },
    /// Opens a url; a variable at its end is given at send time.
    Url {
        /// Label.
        text: String,
        /// The url, maybe ending in `{{1}}`.
        url: String,
        /// The example of a url with a variable.
        example: Option<String>,
    },
    /// Calls a number.
    PhoneNumber {
        /// Label.
        text: String,
        /// The number.
        phone_number: String,
    },
    /// Copies a code given at send time.
    CopyCode {
        /// Example code.
        example: String,
    },
    /// An authentication template's one-time-password button; the code is given at
    /// send time.
    Otp {
        /// Its kind.
        otp_type: OtpType,
        /// Its fields as created (`text`, `autofill_text`, `supported_apps`, …).
        fields: Map<String, Value>,
    },
}

impl Button {
    /// The `type` as the API writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Button::QuickReply { .. } => "QUICK_REPLY",
            Button::Url { .. } => "URL",
            Button::PhoneNumber { .. } => "PHONE_NUMBER",
            Button::CopyCode { .. } => "COPY_CODE",
            Button::Otp { .. } => "OTP",
        }
    }

    /// What a send gives this button.
    pub fn need(&self) -> ButtonNeed {
        let (sub_type, parameter, required) = match self {
            Button::QuickReply { .. } => ("quick_reply", Some(ParameterNeed::Payload), false),
            Button::Url { example, .. } => (
                "url",
                example.as_ref().map(|_| ParameterNeed::Text),
                example.is_some(),
            ),
            Button::PhoneNumber { .. } => ("phone_number", None, false),
            Button::CopyCode { .. } => ("copy_code", Some(ParameterNeed::CouponCode), true),
            // Meta's authentication sends give the code as a url button's text.
            Button::Otp { .. } => ("url", Some(ParameterNeed::Text), true),
        };
        ButtonNeed {
            sub_type,
            parameter,
            required,
        }
    }
}

/// What a send gives one button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonNeed {
    /// The `sub_type` a send names it with.
    pub sub_type: &'static str,
    /// The one parameter it takes, if any.
    pub parameter: Option<ParameterNeed>,
    /// Whether a send must give it (a url variable, a code).
    pub required: bool,
}

/// The kind of value one parameter must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterNeed {
    /// `text` (or `currency`, `date_time` in a body or text header).
    Text,
    /// Media of this kind, by id or link.
    Media(MediaKind),
    /// A location.
    Location,
    /// A quick-reply `payload`.
    Payload,
    /// A copy-code `coupon_code`.
    CouponCode,
}

impl ParameterNeed {
    /// The parameter `type` a send gives for it.
    pub fn name(self) -> &'static str {
        match self {
            ParameterNeed::Text => "text",
            ParameterNeed::Media(kind) => kind.name(),
            ParameterNeed::Location => "location",
            ParameterNeed::Payload => "payload",
            ParameterNeed::CouponCode => "coupon_code",
        }
    }
}

/// A template's components.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Components {
    /// How placeholders are named.
    pub parameter_format: ParameterFormat,
    /// The header, if any.
    pub header: Option<Header>,
    /// The body.
    pub body: Body,
    /// The footer, if any.
    pub footer: Option<Footer>,
    /// The buttons, in order (a send names them by index).
    pub buttons: Vec<Button>,
}

/// A creation refusal: 100 with Meta's wording.
fn invalid(details: String) -> PlatformError {
    PlatformError::new(code::INVALID_PARAMETER, details)
}

/// Template components Meta documents that wasim does not simulate.
fn not_simulated(what: String) -> PlatformError {
    invalid(format!(
        "{what} is valid on the platform but not simulated by wasim."
    ))
}

/// The placeholders of `text` (`{{1}}` → `1`, `{{first_name}}` → `first_name`), in
/// order of first appearance, each once; `Err` names one that is not closed.
pub fn placeholders(text: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("a placeholder `{{` is not closed with `}}`".to_owned());
        };
        let name = after[..end].trim().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Whether `name` is a named parameter Meta takes: lowercase letters, digits and
/// underscores, starting with a letter.
fn is_parameter_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Reads one component's fields, naming them as Meta's errors do
/// (`components[1]['text']`).
struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn at(&self, key: &str) -> String {
        format!("{}['{key}']", self.path)
    }

    /// A string of at most `max` characters; `None` when absent.
    fn string(&self, key: &str, max: usize) -> Result<Option<&'a str>, PlatformError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Err(invalid(format!(
                "Param {} must not be empty.",
                self.at(key)
            ))),
            Some(Value::String(text)) if text.chars().count() > max => Err(invalid(format!(
                "Param {} must be at most {max} characters long.",
                self.at(key)
            ))),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(invalid(format!(
                "Param {} must be a string, got {other}.",
                self.at(key)
            ))),
        }
    }

    /// A string that must be there.
    fn required(&self, key: &str, max: usize) -> Result<&'a str, PlatformError> {
        self.string(key, max)?
            .ok_or_else(|| invalid(format!("The parameter {} is required.", self.at(key))))
    }

    /// A word compared without case (`"body"` reads as `BODY`).
    fn word(&self, key: &str) -> Result<String, PlatformError> {
        Ok(self.required(key, 64)?.to_ascii_uppercase())
    }

    /// The `example` object's entry `key`.
    fn example(&self, key: &str) -> Option<&'a Value> {
        self.object.get("example").and_then(|e| e.get(key))
    }
}

/// Example strings: every item a string of at most [`EXAMPLE_CHARS_MAX`].
fn example_strings(items: &[Value], path: &str) -> Result<Vec<String>, PlatformError> {
    items
        .iter()
        .map(|item| match item {
            Value::String(text)
                if !text.trim().is_empty() && text.chars().count() <= EXAMPLE_CHARS_MAX =>
            {
                Ok(text.clone())
            }
            other => Err(invalid(format!(
                "Param {path} must hold non-empty strings of at most {EXAMPLE_CHARS_MAX} characters, got {other}."
            ))),
        })
        .collect()
}

impl Components {
    /// Reads the `components` of a template creation (Meta's shape), for a template
    /// of `category` with `parameter_format`; refusals are 100 saying what is wrong.
    pub fn parse(
        category: Category,
        parameter_format: ParameterFormat,
        components: &[Value],
    ) -> Result<Components, PlatformError> {
        let mut parsed = Components {
            parameter_format,
            ..Components::default()
        };
        let mut seen: Vec<String> = Vec::new();
        for (index, component) in components.iter().enumerate() {
            let path = format!("components[{index}]");
            let Some(object) = component.as_object() else {
                return Err(invalid(format!("Param {path} must be an object.")));
            };
            let fields = Fields { object, path };
            let kind = fields.word("type")?;
            if seen.contains(&kind) {
                return Err(invalid(format!(
                    "Param {}: a template has at most one {kind} component.",
                    fields.path
                )));
            }
            match kind.as_str() {
                "HEADER" => parsed.header = Some(parsed.header_of(&fields)?),
                "BODY" => parsed.body = parsed.body_of(category, &fields)?,
                "FOOTER" => parsed.footer = Some(footer_of(category, &fields)?),
                "BUTTONS" => parsed.buttons = buttons_of(category, &fields)?,
                "CAROUSEL" | "LIMITED_TIME_OFFER" | "CALL_PERMISSION_REQUEST" => {
                    return Err(not_simulated(format!("A {kind} component")));
                }
                other => {
                    return Err(invalid(format!(
                        "Param {}['type'] must be HEADER, BODY, FOOTER or BUTTONS, got {other}.",
                        fields.path
                    )));
                }
            }
            seen.push(kind);
        }
        if !seen.iter().any(|kind| kind == "BODY") {
            return Err(invalid(
                "Param components must include a BODY component.".to_owned(),
            ));
        }
        let otp = parsed
            .buttons
            .iter()
            .filter(|b| matches!(b, Button::Otp { .. }))
            .count();
        if category == Category::Authentication && (otp != 1 || parsed.buttons.len() != 1) {
            return Err(invalid(
                "Param components: an AUTHENTICATION template needs exactly one button, of type OTP.".to_owned(),
            ));
        }
        Ok(parsed)
    }

    /// The placeholders of `text` in this template's format, with the examples the
    /// component gives for them (`positional` and `named` are the example keys).
    fn text_placeholders(
        &self,
        fields: &Fields<'_>,
        text: &str,
        (positional, named): (&str, &str),
    ) -> Result<(Vec<String>, Vec<String>), PlatformError> {
        let at = fields.at("text");
        let names = placeholders(text).map_err(|why| invalid(format!("Param {at}: {why}.")))?;
        if names.is_empty() {
            return Ok((names, Vec::new()));
        }
        let examples = match self.parameter_format {
            ParameterFormat::Positional => {
                let expected: Vec<String> = (1..=names.len()).map(|n| n.to_string()).collect();
                let mut sorted = names.clone();
                sorted.sort_by_key(|name| name.parse::<usize>().unwrap_or(usize::MAX));
                if sorted != expected {
                    return Err(invalid(format!(
                        "Param {at}: under parameter_format POSITIONAL the placeholders must be {{{{1}}}} to {{{{{}}}}}, got {}.",
                        names.len(),
                        names
                            .iter()
                            .map(|n| format!("{{{{{n}}}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                // body_text nests its values in one more array than header_text.
                let values = match fields.example(positional) {
                    Some(Value::Array(outer)) if positional == "body_text" => {
                        outer.first().and_then(Value::as_array)
                    }
                    Some(Value::Array(values)) => Some(values),
                    _ => None,
                };
                let path = format!("{}['example']['{positional}']", fields.path);
                let values = example_strings(values.map_or(&[][..], Vec::as_slice), &path)?;
                // Examples are in placeholder number order.
                values
            }
            ParameterFormat::Named => {
                if let Some(bad) = names.iter().find(|n| !is_parameter_name(n)) {
                    return Err(invalid(format!(
                        "Param {at}: under parameter_format NAMED each placeholder must be lowercase letters, digits and underscores, got {{{{{bad}}}}}."
                    )));
                }
                let path = format!("{}['example']['{named}']", fields.path);
                let items = fields.example(named).and_then(Value::as_array);
                let mut values = Vec::new();
                for name in &names {
                    let example = items.and_then(|items| {
                        items
                            .iter()
                            .find(|item| item["param_name"].as_str() == Some(name))
                    });
                    let example = example.map(|item| item["example"].clone());
                    let value = example_strings(example.as_slice(), &path)?;
                    values.extend(value);
                }
                values
            }
        };
        if examples.len() != names.len() {
            let key = match self.parameter_format {
                ParameterFormat::Positional => positional,
                ParameterFormat::Named => named,
            };
            return Err(invalid(format!(
                "Param {at} has {} parameters, so {}['example']['{key}'] must give an example for each, got {}.",
                names.len(),
                fields.path,
                examples.len()
            )));
        }
        Ok((names, examples))
    }

    fn header_of(&self, fields: &Fields<'_>) -> Result<Header, PlatformError> {
        let format = match fields.word("format")?.as_str() {
            "TEXT" => HeaderFormat::Text,
            "IMAGE" => HeaderFormat::Media(MediaKind::Image),
            "VIDEO" => HeaderFormat::Media(MediaKind::Video),
            "DOCUMENT" => HeaderFormat::Media(MediaKind::Document),
            "LOCATION" => HeaderFormat::Location,
            "GIF" | "PRODUCT" => {
                return Err(not_simulated(format!(
                    "A {} header",
                    fields.word("format")?
                )));
            }
            other => {
                return Err(invalid(format!(
                    "Param {} must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION, got {other}.",
                    fields.at("format")
                )));
            }
        };
        let mut header = Header {
            format,
            text: None,
            placeholders: Vec::new(),
            examples: Vec::new(),
        };
        match format {
            HeaderFormat::Text => {
                let text = fields.required("text", HEADER_TEXT_CHARS_MAX)?;
                let (names, examples) = self.text_placeholders(
                    fields,
                    text,
                    ("header_text", "header_text_named_params"),
                )?;
                if names.len() > 1 {
                    return Err(invalid(format!(
                        "Param {} supports 1 parameter, got {}.",
                        fields.at("text"),
                        names.len()
                    )));
                }
                header.text = Some(text.to_owned());
                (header.placeholders, header.examples) = (names, examples);
            }
            HeaderFormat::Media(_) => {
                let path = format!("{}['example']['header_handle']", fields.path);
                let handles = fields.example("header_handle").and_then(Value::as_array);
                header.examples = example_strings(handles.map_or(&[][..], Vec::as_slice), &path)?;
                if header.examples.is_empty() {
                    return Err(invalid(format!(
                        "The parameter {path} is required: a {} header needs a sample media handle.",
                        format.name()
                    )));
                }
            }
            HeaderFormat::Location => {}
        }
        Ok(header)
    }

    fn body_of(&self, category: Category, fields: &Fields<'_>) -> Result<Body, PlatformError> {
        if category == Category::Authentication {
            if fields.object.contains_key("text") {
                return Err(invalid(format!(
                    "Param {}: an AUTHENTICATION template's body text is preset; pass add_security_recommendation, not text.",
                    fields.at("text")
                )));
            }
            let recommendation = match fields.object.get("add_security_recommendation") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(flag)) => Some(*flag),
                Some(other) => {
                    return Err(invalid(format!(
                        "Param {} must be a boolean, got {other}.",
                        fields.at("add_security_recommendation")
                    )));
                }
            };
            return Ok(Body {
                text: None,
                placeholders: vec!["1".to_owned()],
                examples: Vec::new(),
                add_security_recommendation: recommendation,
            });
        }
        let text = fields.required("text", BODY_CHARS_MAX)?;
        let (placeholders, examples) =
            self.text_placeholders(fields, text, ("body_text", "body_text_named_params"))?;
        Ok(Body {
            text: Some(text.to_owned()),
            placeholders,
            examples,
            add_security_recommendation: None,
        })
    }

    /// Stand-in components for a template declared only by its parameter counts (world
    /// files before components): its name followed by `{{1}}`, `{{2}}`, … with examples.
    pub fn stand_in(name: &str, body_parameters: u32, header_parameters: u32) -> Components {
        let numbered = |count: u32| -> (String, Vec<String>, Vec<String>) {
            let mut text = name.to_owned();
            for n in 1..=count {
                text.push_str(&format!(" {{{{{n}}}}}"));
            }
            let names = (1..=count).map(|n| n.to_string()).collect();
            let examples = (1..=count).map(|n| format!("example {n}")).collect();
            (text, names, examples)
        };
        let header = (header_parameters > 0).then(|| {
            let (text, placeholders, examples) = numbered(header_parameters);
            Header {
                format: HeaderFormat::Text,
                text: Some(text),
                placeholders,
                examples,
            }
        });
        let (text, placeholders, examples) = numbered(body_parameters);
        Components {
            parameter_format: ParameterFormat::Positional,
            header,
            body: Body {
                text: Some(text),
                placeholders,
                examples,
                add_security_recommendation: None,
            },
            footer: None,
            buttons: Vec::new(),
        }
    }

    /// Parameters the body takes.
    pub fn body_parameters(&self) -> usize {
        self.body.placeholders.len()
    }

    /// Parameters the header takes.
    pub fn header_parameters(&self) -> usize {
        match &self.header {
            None => 0,
            Some(Header {
                format: HeaderFormat::Text,
                placeholders,
                ..
            }) => placeholders.len(),
            Some(_) => 1,
        }
    }

    /// What a send gives the header: one need per parameter.
    pub fn header_needs(&self) -> Vec<ParameterNeed> {
        match self.header.as_ref().map(|h| h.format) {
            None => Vec::new(),
            Some(HeaderFormat::Text) => vec![ParameterNeed::Text; self.header_parameters()],
            Some(HeaderFormat::Media(kind)) => vec![ParameterNeed::Media(kind)],
            Some(HeaderFormat::Location) => vec![ParameterNeed::Location],
        }
    }

    /// The components in Meta's shape, as a list answers them.
    pub fn to_json(&self) -> Value {
        let mut components = Vec::new();
        if let Some(header) = &self.header {
            let mut value = json!({"type": "HEADER", "format": header.format.name()});
            if let Some(text) = &header.text {
                value["text"] = json!(text);
            }
            if matches!(header.format, HeaderFormat::Media(_)) {
                value["example"] = json!({"header_handle": header.examples});
            } else if !header.placeholders.is_empty() {
                value["example"] =
                    self.examples_json(&header.placeholders, &header.examples, "header");
            }
            components.push(value);
        }
        let mut body = json!({"type": "BODY"});
        if let Some(text) = &self.body.text {
            body["text"] = json!(text);
            if !self.body.placeholders.is_empty() {
                body["example"] =
                    self.examples_json(&self.body.placeholders, &self.body.examples, "body");
            }
        }
        if let Some(flag) = self.body.add_security_recommendation {
            body["add_security_recommendation"] = json!(flag);
        }
        components.push(body);
        if let Some(footer) = &self.footer {
            let mut value = json!({"type": "FOOTER"});
            if let Some(text) = &footer.text {
                value["text"] = json!(text);
            }
            if let Some(minutes) = footer.code_expiration_minutes {
                value["code_expiration_minutes"] = json!(minutes);
            }
            components.push(value);
        }
        if !self.buttons.is_empty() {
            let buttons: Vec<Value> = self.buttons.iter().map(button_json).collect();
            components.push(json!({"type": "BUTTONS", "buttons": buttons}));
        }
        Value::Array(components)
    }

    /// `example` of a text with placeholders (`body_text: [[…]]`, `header_text: […]`,
    /// `*_text_named_params: [{param_name, example}]`).
    fn examples_json(&self, names: &[String], examples: &[String], component: &str) -> Value {
        match self.parameter_format {
            ParameterFormat::Positional if component == "body" => {
                json!({"body_text": [examples]})
            }
            ParameterFormat::Positional => json!({format!("{component}_text"): examples}),
            ParameterFormat::Named => {
                let named: Vec<Value> = names
                    .iter()
                    .zip(examples)
                    .map(|(name, example)| json!({"param_name": name, "example": example}))
                    .collect();
                json!({format!("{component}_text_named_params"): named})
            }
        }
    }
}

fn button_json(button: &Button) -> Value {
    let kind = button.type_name();
    match button {
        Button::QuickReply { text } => json!({"type": kind, "text": text}),
        Button::Url { text, url, example } => {
            let mut value = json!({"type": kind, "text": text, "url": url});
            if let Some(example) = example {
                value["example"] = json!([example]);
            }
            value
        }
        Button::PhoneNumber { text, phone_number } => {
            json!({"type": kind, "text": text, "phone_number": phone_number})
        }
        Button::CopyCode { example } => json!({"type": kind, "example": example}),
        Button::Otp { otp_type, fields } => {
            let mut value = Value::Object(fields.clone());
            value["type"] = json!(kind);
            value["otp_type"] = json!(otp_type.name());
            value
        }
    }
}

fn footer_of(category: Category, fields: &Fields<'_>) -> Result<Footer, PlatformError> {
    if category != Category::Authentication {
        let text = fields.required("text", FOOTER_CHARS_MAX)?;
        if text.contains("{{") {
            return Err(invalid(format!(
                "Param {} cannot have parameters.",
                fields.at("text")
            )));
        }
        return Ok(Footer {
            text: Some(text.to_owned()),
            code_expiration_minutes: None,
        });
    }
    let minutes = match fields.object.get("code_expiration_minutes") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64() {
            Some(minutes @ 1..=CODE_EXPIRATION_MINUTES_MAX) => Some(minutes),
            _ => {
                return Err(invalid(format!(
                    "Param {} must be an integer from 1 to {CODE_EXPIRATION_MINUTES_MAX}, got {value}.",
                    fields.at("code_expiration_minutes")
                )));
            }
        },
    };
    Ok(Footer {
        text: None,
        code_expiration_minutes: minutes,
    })
}

fn buttons_of(category: Category, fields: &Fields<'_>) -> Result<Vec<Button>, PlatformError> {
    let path = fields.at("buttons");
    let items = match fields.object.get("buttons") {
        Some(Value::Array(items)) if (1..=BUTTONS_MAX).contains(&items.len()) => items,
        _ => {
            return Err(invalid(format!(
                "Param {path} must be an array of 1 to {BUTTONS_MAX} buttons."
            )));
        }
    };
    let mut buttons = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            return Err(invalid(format!("Param {path}[{index}] must be an object.")));
        };
        let button = Fields {
            object,
            path: format!("{path}[{index}]"),
        };
        buttons.push(button_of(category, &button)?);
    }
    let count = |kind: &str| buttons.iter().filter(|b| b.type_name() == kind).count();
    for (kind, most) in [
        ("URL", URL_BUTTONS_MAX),
        ("PHONE_NUMBER", 1),
        ("COPY_CODE", 1),
    ] {
        if count(kind) > most {
            return Err(invalid(format!(
                "Param {path}: a template has at most {most} {kind} button(s), got {}.",
                count(kind)
            )));
        }
    }
    Ok(buttons)
}

fn button_of(category: Category, fields: &Fields<'_>) -> Result<Button, PlatformError> {
    let kind = fields.word("type")?;
    let label = || {
        fields
            .required("text", BUTTON_TEXT_CHARS_MAX)
            .map(str::to_owned)
    };
    if (kind == "OTP") != (category == Category::Authentication) {
        return Err(invalid(format!(
            "Param {}['type']: OTP buttons are for AUTHENTICATION templates, which take no other button; got {kind} in a {} template.",
            fields.path,
            category.name()
        )));
    }
    match kind.as_str() {
        "QUICK_REPLY" => Ok(Button::QuickReply { text: label()? }),
        "URL" => {
            let text = label()?;
            let url = fields.required("url", URL_CHARS_MAX)?;
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(invalid(format!(
                    "Param {} must be an http or https URL, got \"{url}\".",
                    fields.at("url")
                )));
            }
            let variables = placeholders(url)
                .map_err(|why| invalid(format!("Param {}: {why}.", fields.at("url"))))?;
            let example = match variables.as_slice() {
                [] => None,
                [_] if url.ends_with("}}") && url.matches("{{").count() == 1 => {
                    let path = format!("{}['example']", fields.path);
                    let example = match fields.object.get("example") {
                        Some(Value::Array(items)) if items.len() == 1 => {
                            example_strings(items, &path)?.pop()
                        }
                        Some(Value::String(text)) => {
                            example_strings(&[Value::String(text.clone())], &path)?.pop()
                        }
                        _ => None,
                    };
                    Some(example.ok_or_else(|| {
                        invalid(format!(
                            "The parameter {path} is required: a url with a variable needs one example."
                        ))
                    })?)
                }
                _ => {
                    return Err(invalid(format!(
                        "Param {} supports one variable, appended to the end of the url, got \"{url}\".",
                        fields.at("url")
                    )));
                }
            };
            Ok(Button::Url {
                text,
                url: url.to_owned(),
                example,
            })
        }
        "PHONE_NUMBER" => Ok(Button::PhoneNumber {
            text: label()?,
            phone_number: fields
                .required("phone_number", PHONE_NUMBER_CHARS_MAX)?
                .to_owned(),
        }),
        "COPY_CODE" => {
            if category != Category::Marketing {
                return Err(invalid(format!(
                    "Param {}['type']: COPY_CODE buttons are for MARKETING templates.",
                    fields.path
                )));
            }
            Ok(Button::CopyCode {
                example: fields.required("example", COPY_CODE_CHARS_MAX)?.to_owned(),
            })
        }
        "OTP" => {
            let otp_type = match fields.word("otp_type")?.as_str() {
                "COPY_CODE" => OtpType::CopyCode,
                "ONE_TAP" => OtpType::OneTap,
                "ZERO_TAP" => OtpType::ZeroTap,
                other => {
                    return Err(invalid(format!(
                        "Param {} must be COPY_CODE, ONE_TAP or ZERO_TAP, got {other}.",
                        fields.at("otp_type")
                    )));
                }
            };
            fields.string("text", BUTTON_TEXT_CHARS_MAX)?;
            // Kept as created, bounded by the request body's size.
            let mut kept = fields.object.clone();
            kept.remove("type");
            kept.remove("otp_type");
            Ok(Button::Otp {
                otp_type,
                fields: kept,
            })
        }
        "FLOW"
        | "MPM"
        | "SPM"
        | "CATALOG"
        | "VOICE_CALL"
        | "APP"
        | "CALL_PERMISSION_REQUEST"
        | "REQUEST_CONTACT_INFO" => Err(not_simulated(format!("A {kind} button"))),
        other => Err(invalid(format!(
            "Param {}['type'] must be QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE or OTP, got {other}.",
            fields.path
        ))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A marketing template with an IMAGE header, named body parameters and a
    /// quick-reply and a URL button.
    pub(crate) fn promo_json() -> Value {
        json!([
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1n"]}},
            {"type": "BODY", "text": "Hi {{first_name}}, use {{code}}.",
             "example": {"body_text_named_params": [
                {"param_name": "first_name", "example": "Ana"},
                {"param_name": "code", "example": "X1"}]}},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Not interested"},
                {"type": "URL", "text": "Shop", "url": "https://shop.example/{{1}}", "example": ["new"]}]}
        ])
    }

    fn parse(
        category: Category,
        format: ParameterFormat,
        components: Value,
    ) -> Result<Components, PlatformError> {
        Components::parse(category, format, components.as_array().expect("an array"))
    }

    #[test]
    fn placeholders_are_read_in_order_each_once() {
        assert_eq!(
            placeholders("Hi {{1}}, {{2}} and {{1}} again").expect("closed"),
            vec!["1", "2"]
        );
        assert_eq!(
            placeholders("Hi {{ first_name }}").expect("closed"),
            vec!["first_name"]
        );
        assert!(placeholders("Hi {{1").is_err());
    }

    #[test]
    fn a_full_marketing_template_round_trips_to_meta_s_shape() {
        let mut components = promo_json();
        components[2]["buttons"]
            .as_array_mut()
            .expect("buttons")
            .push(json!({"type": "COPY_CODE", "example": "NEW10"}));
        let parsed = parse(
            Category::Marketing,
            ParameterFormat::Named,
            components.clone(),
        )
        .expect("valid");
        assert_eq!(
            parsed.header_needs(),
            vec![ParameterNeed::Media(MediaKind::Image)]
        );
        assert_eq!(parsed.body.placeholders, vec!["first_name", "code"]);
        assert_eq!(parsed.to_json(), components);
    }

    #[test]
    fn an_authentication_template_takes_the_preset_body_and_one_otp_button() {
        let components = json!([
            {"type": "BODY", "add_security_recommendation": true},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}
        ]);
        let parsed = parse(
            Category::Authentication,
            ParameterFormat::Positional,
            components.clone(),
        )
        .expect("valid");
        assert_eq!(parsed.body_parameters(), 1);
        assert_eq!(
            parsed.buttons[0].need(),
            ButtonNeed {
                sub_type: "url",
                parameter: Some(ParameterNeed::Text),
                required: true
            }
        );
        assert_eq!(parsed.to_json(), components);
    }

    #[test]
    fn invalid_components_are_refused_with_100_naming_the_field() {
        let long = "x".repeat(BODY_CHARS_MAX + 1);
        let cases = [
            (json!([{"type": "FOOTER", "text": "f"}]), "BODY"),
            (json!([{"type": "BODY", "text": long}]), "1024"),
            (json!([{"type": "BODY", "text": "Hi {{1}}"}]), "example"),
            (
                json!([{"type": "BODY", "text": "Hi {{2}}", "example": {"body_text": [["a"]]}}]),
                "{{1}}",
            ),
            (
                json!([{"type": "BODY", "text": "Hi {{name}}", "example": {"body_text": [["a"]]}}]),
                "POSITIONAL",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "BODY", "text": "c"}]),
                "at most one",
            ),
            (
                json!([{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "b"}]),
                "header_handle",
            ),
            (
                json!([{"type": "HEADER", "format": "TEXT", "text": "{{1}} {{2}}", "example": {"header_text": ["a", "b"]}}, {"type": "BODY", "text": "b"}]),
                "supports 1",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "FOOTER", "text": "x".repeat(61)}]),
                "60",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "x".repeat(26)}]}]),
                "25",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "BUTTONS", "buttons": vec![json!({"type": "QUICK_REPLY", "text": "q"}); 11]}]),
                "1 to 10",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "u", "url": "https://x.example/{{1}}/y", "example": ["a"]}]}]),
                "end of the url",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "u", "url": "https://x.example/{{1}}"}]}]),
                "example",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]}]),
                "OTP",
            ),
            (
                json!([{"type": "BODY", "text": "b"}, {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "f"}]}]),
                "not simulated",
            ),
        ];
        for (components, expected) in cases {
            let error = parse(
                Category::Marketing,
                ParameterFormat::Positional,
                components.clone(),
            )
            .expect_err("refused");
            assert_eq!(error.code, 100, "{components}");
            assert!(
                error.details.contains(expected),
                "{components}: {}",
                error.details
            );
        }
        let named = parse(
            Category::Utility,
            ParameterFormat::Named,
            json!([{"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["a"]]}}]),
        )
        .expect_err("a number under NAMED");
        assert!(named.details.contains("NAMED"), "{}", named.details);
        let authentication = parse(
            Category::Authentication,
            ParameterFormat::Positional,
            json!([{"type": "BODY", "add_security_recommendation": true}]),
        )
        .expect_err("no OTP button");
        assert!(
            authentication.details.contains("OTP"),
            "{}",
            authentication.details
        );
    }

    #[test]
    fn stand_ins_take_the_counts_they_were_declared_with() {
        let components = Components::stand_in("order_update", 2, 1);
        assert_eq!(
            (components.body_parameters(), components.header_parameters()),
            (2, 1)
        );
        assert_eq!(components.to_json()[1]["text"], "order_update {{1}} {{2}}");
        assert_eq!(
            components.to_json()[1]["example"],
            json!({"body_text": [["example 1", "example 2"]]})
        );
    }
}
