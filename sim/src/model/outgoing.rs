//! A send request, parsed at the edge: [`parse`] reads a Cloud API message body
//! (`POST /{phone-number-id}/messages`, and 360dialog's `POST /messages`, which
//! takes the same body) into an [`Outgoing`], checking what can be checked
//! without the world: required fields, types and lengths
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages>,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates>). The
//! model then applies the platform's rules to it ([`super::send`]).

use serde_json::{Map, Value};

use super::error::{PlatformError, code};
use super::freeform::{self, InteractiveKind, MediaKind, MediaSource, invalid, missing};
use super::id::WaId;
use super::policy::ParameterErrors;
use super::refusal::RequestError;
use super::template_parameters::{self, SentComponent};

/// Longest text body accepted (Meta: 4096 characters).
pub const TEXT_BODY_CHARS_MAX: usize = 4_096;

/// Longest `biz_opaque_callback_data` accepted (Meta: 512 characters).
pub const CALLBACK_DATA_CHARS_MAX: usize = 512;

/// The message types Meta knows but wasim does not simulate yet.
const UNSIMULATED_TYPES: &[&str] = &["template_carousel"];

/// Types that only arrive from users (in `messages` webhooks): a send of one is
/// an unsupported message type (131051).
const INBOUND_ONLY_TYPES: &[&str] = &[
    "button",
    "errors",
    "order",
    "system",
    "unknown",
    "unsupported",
];

/// A send request that is well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `to` as sent (`contacts[].input` in the answer).
    pub input: String,
    /// The recipient: `to` with its punctuation removed.
    pub wa_id: WaId,
    /// `recipients::encode(wa_id)`: the key of the user's rate and reach state.
    pub(crate) key: u64,
    /// What is sent.
    pub content: OutgoingContent,
    /// `biz_opaque_callback_data`, echoed in status webhooks.
    pub callback_data: Option<String>,
    /// `context.message_id`: the message this one replies to.
    pub context: Option<String>,
}

/// What a send carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingContent {
    /// A free-form text message.
    Text,
    /// A template message: which template, and the parameters the send gives it.
    Template {
        /// The template's name.
        name: String,
        /// Its language code.
        language: String,
        /// Its header, body and button parameters.
        components: Vec<SentComponent>,
    },
    /// An image, audio, video, document or sticker.
    Media {
        /// Which kind.
        kind: MediaKind,
        /// By uploaded id or by link.
        source: MediaSource,
    },
    /// An interactive message.
    Interactive {
        /// Which kind.
        kind: InteractiveKind,
        /// The media of its header, if the header is media.
        header_media: Option<(MediaKind, MediaSource)>,
    },
    /// A location.
    Location,
    /// One or more contact cards.
    Contacts {
        /// How many.
        count: u32,
    },
    /// A reaction to a message (an empty emoji removes it).
    Reaction {
        /// The wamid reacted to.
        message_id: String,
        /// The emoji, or empty.
        emoji: String,
    },
}

impl OutgoingContent {
    /// The send's `type`.
    pub fn message_type(&self) -> &'static str {
        match self {
            OutgoingContent::Text => "text",
            OutgoingContent::Template { .. } => "template",
            OutgoingContent::Media { kind, .. } => kind.name(),
            OutgoingContent::Interactive { .. } => "interactive",
            OutgoingContent::Location => "location",
            OutgoingContent::Contacts { .. } => "contacts",
            OutgoingContent::Reaction { .. } => "reaction",
        }
    }

    /// The media the message carries, if any (its own or its header's).
    pub fn media(&self) -> Option<(MediaKind, &MediaSource)> {
        match self {
            OutgoingContent::Media { kind, source } => Some((*kind, source)),
            OutgoingContent::Interactive {
                header_media: Some((kind, source)),
                ..
            } => Some((*kind, source)),
            OutgoingContent::Template { components, .. } => SentComponent::header_media(components),
            _ => None,
        }
    }
}

/// A read receipt (`{"status": "read", "message_id"}` on the send path): marks a
/// message the business received as read, optionally showing a typing indicator
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/mark-message-as-read>,
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/typing-indicators>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReceipt {
    /// The wamid marked read.
    pub message_id: String,
    /// Whether `typing_indicator: {"type": "text"}` was asked for.
    pub typing: bool,
}

/// What a body posted to the send path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendPath {
    /// Send a message.
    Message(Result<Outgoing, SendRequestError>),
    /// Mark a received message read.
    Read(Result<ReadReceipt, SendRequestError>),
}

/// Why a send request was not taken, before any rule of the platform applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendRequestError {
    /// The body could not be read (method, size, type, JSON).
    #[error("{0}")]
    Unreadable(RequestError),
    /// The body is JSON but not a valid send: the platform's error, and the
    /// recipient if the body named one.
    #[error("({}) {}", .error.code, .error.details)]
    Invalid {
        /// The error to answer.
        error: PlatformError,
        /// `to`, when it is a string.
        to: Option<String>,
    },
}

/// A parameter error of a send body (code 100, 131008 or 131009 from the parse, the
/// specific text in its details) as `style` answers it: `Live` as code 100 with
/// that text as the message and no details (so no `error_data`), `Table` as
/// parsed. Other codes pass unchanged. Sources: `Policy::parameter_errors`.
pub(crate) fn parameter_error(error: PlatformError, style: ParameterErrors) -> PlatformError {
    let parameter = matches!(
        error.code,
        code::INVALID_PARAMETER | code::PARAMETER_MISSING | code::PARAMETER_INVALID
    );
    match style {
        ParameterErrors::Live if parameter => PlatformError {
            code: code::INVALID_PARAMETER,
            title: error.details,
            details: String::new(),
        },
        _ => error,
    }
}

impl Outgoing {
    /// A template send with no parameters (the unknown origin of a compromise
    /// sends these). `None` when `to` is not a phone number.
    pub fn template(to: &str, name: &str, language: &str) -> Option<Outgoing> {
        let key = recipient_key(to)?;
        Some(Outgoing {
            input: to.to_owned(),
            wa_id: WaId::from(to),
            key,
            content: OutgoingContent::Template {
                name: name.to_owned(),
                language: language.to_owned(),
                components: Vec::new(),
            },
            callback_data: None,
            context: None,
        })
    }
}

/// The key of a wa_id of 7 to 15 digits.
fn recipient_key(wa_id: &str) -> Option<u64> {
    super::recipients::encode(wa_id).filter(|_| (7..=15).contains(&wa_id.len()))
}

/// A read body posted to the send path: a read receipt when it has `status`,
/// else a send.
pub fn parse_send_path(body: Result<Value, RequestError>) -> SendPath {
    match body {
        Ok(body) if body.get("status").is_some() => SendPath::Read(
            parse_read_receipt(&body)
                .map_err(|error| SendRequestError::Invalid { error, to: None }),
        ),
        body => SendPath::Message(parse_read(body)),
    }
}

/// Parses `{"messaging_product": "whatsapp", "status": "read", "message_id",
/// "typing_indicator"?}`.
pub fn parse_read_receipt(body: &Value) -> Result<ReadReceipt, PlatformError> {
    let object = messaging_product(body)?;
    match body.get("status") {
        Some(Value::String(status)) if status == "read" => {}
        Some(other) => {
            return Err(invalid(format!(
                "Param status must be \"read\" to mark a message as read, got {other}."
            )));
        }
        None => return Err(missing("status")),
    }
    let message_id = freeform::required_string(object, "", "message_id", 256)?.to_owned();
    let typing = match body.get("typing_indicator") {
        None | Some(Value::Null) => false,
        Some(indicator) => match indicator.get("type") {
            Some(Value::String(kind)) if kind == "text" => true,
            _ => {
                return Err(invalid(
                    "Param typing_indicator must be {\"type\": \"text\"}.".to_owned(),
                ));
            }
        },
    };
    Ok(ReadReceipt { message_id, typing })
}

/// The body as an object whose `messaging_product` is `whatsapp`.
fn messaging_product(body: &Value) -> Result<&Map<String, Value>, PlatformError> {
    let Some(object) = body.as_object() else {
        return Err(PlatformError::new(
            code::INVALID_PARAMETER,
            "The request body must be a JSON object.",
        ));
    };
    match object.get("messaging_product") {
        None => Err(PlatformError::new(
            code::INVALID_PARAMETER,
            "The parameter messaging_product is required.",
        )),
        Some(Value::String(product)) if product == "whatsapp" => Ok(object),
        Some(other) => Err(PlatformError::new(
            code::INVALID_PARAMETER,
            format!("Param messaging_product must be \"whatsapp\", got {other}."),
        )),
    }
}

/// A read body parsed into a send, or the error to answer (with the recipient, if
/// the body named one).
pub fn parse_read(body: Result<Value, RequestError>) -> Result<Outgoing, SendRequestError> {
    let body = body.map_err(SendRequestError::Unreadable)?;
    parse(&body).map_err(|error| SendRequestError::Invalid {
        error,
        to: body.get("to").and_then(Value::as_str).map(str::to_owned),
    })
}

/// Parses a send body; the error is the platform's answer.
pub fn parse(body: &Value) -> Result<Outgoing, PlatformError> {
    let object = messaging_product(body)?;
    if let Some(kind) = object.get("recipient_type")
        && kind != "individual"
    {
        return Err(invalid(format!(
            "recipient_type {kind} is not supported; use \"individual\"."
        )));
    }
    let input = match object.get("to") {
        None | Some(Value::Null) => return Err(missing("to")),
        Some(Value::String(to)) => to.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "Param to must be a string of digits, got {other}."
            )));
        }
    };
    let wa_id: String = if input.bytes().all(|b| b.is_ascii_digit()) {
        input.clone()
    } else {
        input
            .chars()
            .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
            .collect()
    };
    let Some(key) = recipient_key(&wa_id) else {
        return Err(invalid(format!(
            "Param to must be a phone number of 7 to 15 digits with its country code, got \"{input}\"."
        )));
    };
    let callback_data = match object.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(data)) if data.chars().count() <= CALLBACK_DATA_CHARS_MAX => {
            Some(data.clone())
        }
        Some(_) => {
            return Err(invalid(format!(
                "biz_opaque_callback_data must be a string of at most {CALLBACK_DATA_CHARS_MAX} characters."
            )));
        }
    };
    let kind = match object.get("type") {
        None => "text",
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return Err(invalid(format!(
                "Param type must be a string, got {other}."
            )));
        }
    };
    let context = match freeform::object_of(object, "", "context")? {
        None => None,
        Some(context) => {
            Some(freeform::required_string(context, "context", "message_id", 256)?.to_owned())
        }
    };
    let content = match kind {
        "text" => text(object)?,
        "template" => template(object.get("template"))?,
        "interactive" => freeform::interactive(object)?,
        "location" => freeform::location(object)?,
        "contacts" => freeform::contacts(object)?,
        "reaction" => freeform::reaction(object)?,
        other if MediaKind::from_name(other).is_some() => {
            let media = MediaKind::from_name(other).expect("checked");
            freeform::media(object, media)?
        }
        other if INBOUND_ONLY_TYPES.contains(&other) => {
            return Err(PlatformError::new(
                code::UNSUPPORTED_MESSAGE_TYPE,
                format!(
                    "Message type '{other}' is not supported in a send; it only arrives from users."
                ),
            ));
        }
        other if UNSIMULATED_TYPES.contains(&other) => {
            return Err(freeform::not_simulated(format!("Message type '{other}'")));
        }
        other => {
            return Err(PlatformError::new(
                code::INVALID_PARAMETER,
                format!(
                    "Param type must be one of {{audio, contacts, document, image, interactive, location, reaction, sticker, template, text, video}}, got '{other}'."
                ),
            ));
        }
    };
    Ok(Outgoing {
        input,
        wa_id: WaId::from(wa_id),
        key,
        content,
        callback_data,
        context,
    })
}

fn text(object: &Map<String, Value>) -> Result<OutgoingContent, PlatformError> {
    match object.get("text").and_then(|t| t.get("body")) {
        None | Some(Value::Null) => Err(missing("text['body']")),
        Some(Value::String(text)) if text.is_empty() => Err(missing("text['body']")),
        Some(Value::String(text)) if text.chars().count() > TEXT_BODY_CHARS_MAX => {
            Err(PlatformError::new(
                code::INVALID_PARAMETER,
                format!(
                    "Param text['body'] must be at most {TEXT_BODY_CHARS_MAX} characters long."
                ),
            ))
        }
        Some(Value::String(_)) => Ok(OutgoingContent::Text),
        Some(other) => Err(invalid(format!(
            "Param text['body'] must be a string, got {other}."
        ))),
    }
}

fn template(template: Option<&Value>) -> Result<OutgoingContent, PlatformError> {
    let Some(template) = template.and_then(Value::as_object) else {
        return Err(missing("template"));
    };
    let name = match template.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        None | Some(Value::Null) => return Err(missing("template['name']")),
        Some(other) => {
            return Err(invalid(format!(
                "Param template['name'] must be a non-empty string, got {other}."
            )));
        }
    };
    let language = match template.get("language").map(|l| l.get("code")) {
        Some(Some(Value::String(code))) if !code.is_empty() => code.clone(),
        None | Some(None) => return Err(missing("template['language']['code']")),
        Some(Some(other)) => {
            return Err(invalid(format!(
                "Param template['language']['code'] must be a language code such as \"en_US\", got {other}."
            )));
        }
    };
    let components = match template.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(components)) => template_parameters::parse(components)?,
        Some(other) => {
            return Err(invalid(format!(
                "Param template['components'] must be an array, got {other}."
            )));
        }
    };
    Ok(OutgoingContent::Template {
        name,
        language,
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::template_parameters::{SentParameter, SentTarget, SentValue};
    use serde_json::json;

    #[test]
    fn a_text_and_a_template_parse_and_to_loses_its_punctuation() {
        let text = parse(
            &json!({"messaging_product": "whatsapp", "to": "+55 11 98765-4321",
                                 "type": "text", "text": {"body": "hi"}}),
        )
        .expect("a valid text");
        assert_eq!(
            (text.input.as_str(), text.wa_id.as_str()),
            ("+55 11 98765-4321", "5511987654321")
        );
        assert_eq!(text.content, OutgoingContent::Text);
        let template = parse(
            &json!({"messaging_product": "whatsapp", "to": "5511987654321",
            "type": "template", "template": {"name": "order", "language": {"code": "en_US"},
            "components": [{"type": "BODY", "parameters": [{"type": "text", "text": "1"}]}]}}),
        )
        .expect("a valid template");
        assert_eq!(
            template.content,
            OutgoingContent::Template {
                name: "order".into(),
                language: "en_US".into(),
                components: vec![SentComponent {
                    target: SentTarget::Body,
                    parameters: vec![SentParameter {
                        value: SentValue::Text,
                        name: None
                    }]
                }]
            }
        );
    }

    #[test]
    fn a_bad_body_names_what_is_wrong_with_the_platform_s_code() {
        let cases = [
            (json!([]), 100),
            (json!({"to": "5511987654321"}), 100),
            (
                json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}),
                131_008,
            ),
            (
                json!({"messaging_product": "whatsapp", "to": "12", "text": {"body": "x"}}),
                131_009,
            ),
            (
                json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "image"}),
                131_008,
            ),
            (
                json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "order"}),
                131_051,
            ),
            (
                json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "selfie"}),
                100,
            ),
            (
                json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "template",
                       "template": {"name": "x"}}),
                131_008,
            ),
        ];
        for (body, expected) in cases {
            let error = parse(&body).expect_err("refused");
            assert_eq!(error.code, expected, "{body}: {error:?}");
        }
        let refused = parse_read(Ok(json!({"to": "5511987654321"}))).expect_err("refused");
        assert!(
            matches!(&refused, SendRequestError::Invalid { to: Some(to), .. } if to == "5511987654321"),
            "{refused:?}"
        );
    }
}
