//! A user writes to the business: text, interactive replies (button and list) and
//! quick-reply template buttons. Every inbound message opens the user's customer
//! service window, as on the platform.
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/text>

use serde_json::{Value, json};

use super::fields::{self, FieldError};
use super::id::{PhoneNumberId, WaId, Wamid};
use super::received::Received;
use super::refusal::{Object, Refusal};
use super::webhooks::Route;
use super::{Effect, Reply, World, payload};
use crate::model::SimTime;
use crate::trace::TraceEvent;

/// What a user sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundContent {
    /// A text message.
    Text(String),
    /// A tap on a reply button of an interactive message (`interactive.button_reply`).
    ButtonReply {
        /// The button's id.
        id: String,
        /// Its label.
        title: String,
    },
    /// A choice from an interactive list (`interactive.list_reply`).
    ListReply {
        /// The row's id.
        id: String,
        /// Its title.
        title: String,
        /// Its description, if the row had one.
        description: Option<String>,
    },
    /// A tap on a template's quick-reply button (`type: "button"`).
    Button {
        /// The button's payload.
        payload: String,
        /// Its label.
        text: String,
    },
}

impl InboundContent {
    /// The kinds of message, as the control API and scenario files name them.
    pub const KINDS: [&'static str; 4] = ["text", "button_reply", "list_reply", "button"];

    /// Reads the message of an inbound request (`{"text": "hi"}`,
    /// `{"button_reply": {"id", "title"}}`, `{"list_reply": {"id", "title",
    /// "description"?}}`, `{"button": {"payload", "text"}}`); other fields of
    /// `object` are the caller's. The error names the field.
    pub fn from_json(
        object: &serde_json::Map<String, Value>,
    ) -> Result<InboundContent, FieldError> {
        let kind = fields::one_of(object, &Self::KINDS)?;
        if kind == "text" {
            return fields::string(object, "text").map(InboundContent::Text);
        }
        let inner = fields::object(&object[kind], kind)?;
        let content = match kind {
            "button_reply" => InboundContent::ButtonReply {
                id: fields::string(inner, "id").map_err(|e| e.within(kind))?,
                title: fields::string(inner, "title").map_err(|e| e.within(kind))?,
            },
            "list_reply" => InboundContent::ListReply {
                id: fields::string(inner, "id").map_err(|e| e.within(kind))?,
                title: fields::string(inner, "title").map_err(|e| e.within(kind))?,
                description: fields::optional_string(inner, "description")
                    .map_err(|e| e.within(kind))?,
            },
            _ => InboundContent::Button {
                payload: fields::string(inner, "payload").map_err(|e| e.within(kind))?,
                text: fields::string(inner, "text").map_err(|e| e.within(kind))?,
            },
        };
        Ok(content)
    }

    /// The message as [`InboundContent::from_json`] reads it: one field.
    pub fn to_json(&self) -> (&'static str, Value) {
        match self {
            InboundContent::Text(text) => ("text", json!(text)),
            InboundContent::ButtonReply { id, title } => {
                ("button_reply", json!({"id": id, "title": title}))
            }
            InboundContent::ListReply {
                id,
                title,
                description,
            } => {
                let mut reply = json!({"id": id, "title": title});
                if let Some(description) = description {
                    reply["description"] = json!(description);
                }
                ("list_reply", reply)
            }
            InboundContent::Button { payload, text } => {
                ("button", json!({"payload": payload, "text": text}))
            }
        }
    }

    /// The message `type` in the webhook.
    pub fn message_type(&self) -> &'static str {
        match self {
            InboundContent::Text(_) => "text",
            InboundContent::ButtonReply { .. } | InboundContent::ListReply { .. } => "interactive",
            InboundContent::Button { .. } => "button",
        }
    }

    /// Replies to a business message must name it (`context`).
    fn needs_context(&self) -> bool {
        !matches!(self, InboundContent::Text(_))
    }

    /// Characters of what the user typed or tapped.
    fn chars(&self) -> usize {
        match self {
            InboundContent::Text(text) => text.chars().count(),
            InboundContent::ButtonReply { title, .. } | InboundContent::ListReply { title, .. } => {
                title.chars().count()
            }
            InboundContent::Button { text, .. } => text.chars().count(),
        }
    }

    /// The type-named part of the message object: `text`, `interactive` (a
    /// button or list reply as [`InboundContent::to_json`] names it) or `button`.
    pub(crate) fn fields(&self) -> (&'static str, Value) {
        match self {
            InboundContent::Text(body) => ("text", json!({"body": body})),
            InboundContent::ButtonReply { .. } | InboundContent::ListReply { .. } => {
                let (kind, reply) = self.to_json();
                ("interactive", json!({"type": kind, kind: reply}))
            }
            InboundContent::Button { .. } => self.to_json(),
        }
    }
}

impl World {
    pub(super) fn inbound(
        &mut self,
        now: SimTime,
        from: &WaId,
        content: InboundContent,
        phone_number_id: Option<&PhoneNumberId>,
        context: Option<Wamid>,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        let from = from.as_str();
        let Some(phone) = self
            .phone(phone_number_id.map(PhoneNumberId::as_str))
            .map(|p| p.spec.clone())
        else {
            return Err(Refusal::not_found(
                Object::PhoneNumber,
                phone_number_id
                    .map(PhoneNumberId::as_str)
                    .unwrap_or_default(),
            ));
        };
        if !self.recipients.contains(from) {
            return Err(Refusal::not_found(Object::Recipient, from));
        }
        let context = match context {
            Some(id) => match self.message(id.as_str()) {
                Some(message) if message.to == from => Some(id.into_string()),
                Some(_) => {
                    return Err(Refusal::Invalid(format!(
                        "context: message `{id}` was not sent to `{from}`"
                    )));
                }
                None => return Err(Refusal::not_found(Object::Message, id.into_string())),
            },
            None if content.needs_context() => {
                let latest = self
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.to == from && m.phone_number_id == phone.id);
                match latest {
                    Some(message) => Some(message.id.clone()),
                    None => {
                        return Err(Refusal::Invalid(format!(
                            "context: a reply ({}) answers a business message, but none was sent to `{from}` from {}; send one first or pass \"context\": wamid",
                            content.message_type(),
                            phone.id
                        )));
                    }
                }
            }
            None => None,
        };
        let window_hours = self.policy.customer_service_window_hours;
        let name = match self.recipients.get(from) {
            Some(recipient) => recipient.name().into_owned(),
            None => return Err(Refusal::not_found(Object::Recipient, from)),
        };
        let Some(recipient) = self.recipients.activity_mut(from) else {
            return Err(Refusal::not_found(Object::Recipient, from));
        };
        recipient.last_inbound_at = Some(now);
        // A reply to marketing opens a window in which marketing does not count
        // (2025-07: https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/per-user-limits).
        if recipient.last_business_message_marketing {
            recipient.marketing_reply_window_until = Some(now.plus_hours(window_hours));
        }
        let (number, message_id) = self.next_message();
        self.received.remember(Received {
            id: message_id.clone(),
            number,
            from: from.to_owned(),
            phone_number_id: phone.id.clone(),
            at: now,
            message_type: content.message_type(),
            read_at: None,
        });
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::Inbound {
                message_id: message_id.clone(),
                from: from.to_owned(),
                phone_number_id: phone.id.clone(),
                message_type: content.message_type().to_owned(),
                context: context.clone(),
                text_chars: content.chars(),
            },
        });
        // BSUIDs (2026-04): `contacts[].user_id` and `messages[].from_user_id`
        // (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids).
        let user_id = self.business_scoped_user_id(from);
        let view = payload::InboundView {
            display_phone_number: &phone.display_phone_number,
            phone_number_id: &phone.id,
            from,
            name: &name,
            user_id: user_id.as_deref(),
            message_id: &message_id,
            timestamp: self.unix_seconds(now),
            context: context.as_deref(),
        };
        let value = payload::inbound(&view, &content);
        let body = payload::envelope(&self.spec.waba.id, "messages", value);
        self.emit_change("messages", Route::Number(phone.id), body);
        Ok(Reply::InboundReceived {
            message_id: Wamid::from(message_id),
        })
    }
}
