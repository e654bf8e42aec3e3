//! A user writes to the business: text, interactive replies (button and list),
//! quick-reply template buttons, media (image, document, audio, video, sticker),
//! a location, contacts and reactions. Every inbound message opens the user's
//! customer service window, as on the platform. Media a user sends is stored
//! like an upload (see [`super::media`]): its id is in the webhook and can be
//! read, downloaded and deleted through the media endpoints.
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/text>
//! and the sibling pages of each type (`…/messages/image`, `…/location`,
//! `…/contacts`, `…/reaction`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::fields::{self, FieldError};
use super::id::{PhoneNumberId, WaId, Wamid};
use super::media::{self, Media, MediaKind, MediaOrigin, NewMedia};
use super::received::Received;
use super::refusal::{Object, Refusal};
use super::webhooks::Route;
use super::{Effect, Reply, World, payload};
use crate::model::SimTime;
use crate::trace::TraceEvent;

/// Most contacts one inbound `contacts` message carries (a bound of the
/// simulator's).
pub const CONTACTS_MAX: usize = 20;

/// The fields a contact card may have (Meta's contacts webhook reference).
const CONTACT_FIELDS: [&str; 7] = [
    "addresses",
    "birthday",
    "emails",
    "name",
    "org",
    "phones",
    "urls",
];

/// A media file a user sends: its kind, type, bytes and the fields its message
/// carries.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMedia {
    /// `image`, `document`, `audio`, `video` or `sticker`.
    pub kind: MediaKind,
    /// Its MIME type (one the kind takes).
    pub mime_type: String,
    /// Its bytes; `None` stores a small placeholder of the type
    /// ([`media::placeholder`]).
    pub data: Option<Bytes>,
    /// `caption` (image, video, document).
    pub caption: Option<String>,
    /// `filename` (document).
    pub filename: Option<String>,
    /// `voice` (audio): a voice note the user recorded.
    pub voice: bool,
    /// `animated` (sticker).
    pub animated: bool,
}

/// What a user sends.
#[derive(Debug, Clone, PartialEq)]
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
    /// An image, document, audio, video or sticker.
    Media(InboundMedia),
    /// A location.
    Location {
        /// Degrees, -90 to 90.
        latitude: f64,
        /// Degrees, -180 to 180.
        longitude: f64,
        /// The place's name.
        name: Option<String>,
        /// Its address.
        address: Option<String>,
    },
    /// Contact cards (Meta's contact objects: `name.formatted_name` and any of
    /// `addresses`, `birthday`, `emails`, `org`, `phones`, `urls`), passed on
    /// as given.
    Contacts(Vec<Value>),
    /// A reaction to a message the business sent.
    Reaction {
        /// The wamid reacted to.
        message_id: Wamid,
        /// The emoji; `None` removes the reaction.
        emoji: Option<String>,
    },
}

impl InboundContent {
    /// The kinds of message, as the control API and scenario files name them.
    pub const KINDS: [&'static str; 12] = [
        "text",
        "button_reply",
        "list_reply",
        "button",
        "image",
        "document",
        "audio",
        "video",
        "sticker",
        "location",
        "contacts",
        "reaction",
    ];

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
        if kind == "contacts" {
            return contacts_from_json(&object[kind]).map_err(|e| e.within(kind));
        }
        let inner = fields::object(&object[kind], kind)?;
        if let Some(media) = MediaKind::from_name(kind) {
            return media_from_json(media, inner)
                .map(InboundContent::Media)
                .map_err(|e| e.within(kind));
        }
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
            "location" => location_from_json(inner).map_err(|e| e.within(kind))?,
            "reaction" => {
                fields::known(inner, &["message_id", "emoji"]).map_err(|e| e.within(kind))?;
                InboundContent::Reaction {
                    message_id: Wamid::from(
                        fields::string(inner, "message_id").map_err(|e| e.within(kind))?,
                    ),
                    emoji: fields::optional_string(inner, "emoji").map_err(|e| e.within(kind))?,
                }
            }
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
            InboundContent::Media(media) => {
                let mut object = Map::new();
                object.insert("mime_type".to_owned(), json!(media.mime_type));
                if let Some(data) = &media.data {
                    object.insert("data".to_owned(), json!(BASE64.encode(data)));
                }
                if let Some(caption) = &media.caption {
                    object.insert("caption".to_owned(), json!(caption));
                }
                if let Some(filename) = &media.filename {
                    object.insert("filename".to_owned(), json!(filename));
                }
                match media.kind {
                    MediaKind::Audio if media.voice => {
                        object.insert("voice".to_owned(), json!(true));
                    }
                    MediaKind::Sticker => {
                        object.insert("animated".to_owned(), json!(media.animated));
                    }
                    _ => {}
                }
                (media.kind.name(), Value::Object(object))
            }
            InboundContent::Location {
                latitude,
                longitude,
                name,
                address,
            } => (
                "location",
                location_json(*latitude, *longitude, name, address),
            ),
            InboundContent::Contacts(contacts) => ("contacts", json!(contacts)),
            InboundContent::Reaction { message_id, emoji } => {
                let mut reaction = json!({"message_id": message_id});
                if let Some(emoji) = emoji {
                    reaction["emoji"] = json!(emoji);
                }
                ("reaction", reaction)
            }
        }
    }

    /// The message `type` in the webhook.
    pub fn message_type(&self) -> &'static str {
        match self {
            InboundContent::Text(_) => "text",
            InboundContent::ButtonReply { .. } | InboundContent::ListReply { .. } => "interactive",
            InboundContent::Button { .. } => "button",
            InboundContent::Media(media) => media.kind.name(),
            InboundContent::Location { .. } => "location",
            InboundContent::Contacts(_) => "contacts",
            InboundContent::Reaction { .. } => "reaction",
        }
    }

    /// Replies to a business message must name it (`context`).
    fn needs_context(&self) -> bool {
        matches!(
            self,
            InboundContent::ButtonReply { .. }
                | InboundContent::ListReply { .. }
                | InboundContent::Button { .. }
        )
    }

    /// Characters of what the user typed or tapped (a media's caption).
    fn chars(&self) -> usize {
        match self {
            InboundContent::Text(text) => text.chars().count(),
            InboundContent::ButtonReply { title, .. } | InboundContent::ListReply { title, .. } => {
                title.chars().count()
            }
            InboundContent::Button { text, .. } => text.chars().count(),
            InboundContent::Media(media) => {
                media.caption.as_deref().map_or(0, |c| c.chars().count())
            }
            InboundContent::Location { .. }
            | InboundContent::Contacts(_)
            | InboundContent::Reaction { .. } => 0,
        }
    }

    /// The type-named part of the message object: `text`, `interactive` (a
    /// button or list reply as [`InboundContent::to_json`] names it), `button`,
    /// the media's kind (with `stored`, the media as stored: `id`, `mime_type`,
    /// `sha256` and the kind's own fields), `location`, `contacts` or
    /// `reaction`.
    pub(crate) fn fields(&self, stored: Option<&Media>) -> (&'static str, Value) {
        match self {
            InboundContent::Text(body) => ("text", json!({"body": body})),
            InboundContent::ButtonReply { .. } | InboundContent::ListReply { .. } => {
                let (kind, reply) = self.to_json();
                ("interactive", json!({"type": kind, kind: reply}))
            }
            InboundContent::Media(media) => {
                let mut object = Map::new();
                if let Some(caption) = &media.caption {
                    object.insert("caption".to_owned(), json!(caption));
                }
                if let Some(filename) = &media.filename {
                    object.insert("filename".to_owned(), json!(filename));
                }
                object.insert("mime_type".to_owned(), json!(media.mime_type));
                if let Some(stored) = stored {
                    object.insert("sha256".to_owned(), json!(stored.sha256));
                    object.insert("id".to_owned(), json!(stored.id));
                }
                match media.kind {
                    MediaKind::Audio => {
                        object.insert("voice".to_owned(), json!(media.voice));
                    }
                    MediaKind::Sticker => {
                        object.insert("animated".to_owned(), json!(media.animated));
                    }
                    _ => {}
                }
                (media.kind.name(), Value::Object(object))
            }
            InboundContent::Button { .. }
            | InboundContent::Location { .. }
            | InboundContent::Contacts(_)
            | InboundContent::Reaction { .. } => self.to_json(),
        }
    }
}

/// `{latitude, longitude, name?, address?}`, coordinates as JSON numbers (as
/// Meta's location webhook writes them).
fn location_json(
    latitude: f64,
    longitude: f64,
    name: &Option<String>,
    address: &Option<String>,
) -> Value {
    let mut location = json!({"latitude": latitude, "longitude": longitude});
    if let Some(name) = name {
        location["name"] = json!(name);
    }
    if let Some(address) = address {
        location["address"] = json!(address);
    }
    location
}

fn location_from_json(object: &Map<String, Value>) -> Result<InboundContent, FieldError> {
    fields::known(object, &["latitude", "longitude", "name", "address"])?;
    let degrees = |field: &str, bound: f64| match object.get(field) {
        Some(value) => value
            .as_f64()
            .filter(|d| (-bound..=bound).contains(d))
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("expected a number of degrees from -{bound} to {bound}, got {value}"),
                )
            }),
        None => Err(FieldError::new(field, "missing")),
    };
    Ok(InboundContent::Location {
        latitude: degrees("latitude", 90.0)?,
        longitude: degrees("longitude", 180.0)?,
        name: fields::optional_string(object, "name")?,
        address: fields::optional_string(object, "address")?,
    })
}

fn contacts_from_json(value: &Value) -> Result<InboundContent, FieldError> {
    let Value::Array(contacts) = value else {
        return Err(FieldError::new(
            "",
            format!(
                "expected an array of contacts such as [{{\"name\": {{\"formatted_name\": \"Ana\"}}, \"phones\": [{{\"phone\": \"+1 555 0100\"}}]}}], got {value}"
            ),
        ));
    };
    if contacts.is_empty() || contacts.len() > CONTACTS_MAX {
        return Err(FieldError::new(
            "",
            format!(
                "expected 1 to {CONTACTS_MAX} contacts, got {}",
                contacts.len()
            ),
        ));
    }
    for (index, contact) in contacts.iter().enumerate() {
        let at = |e: FieldError| e.within(&index.to_string());
        let card = fields::object(contact, "").map_err(at)?;
        fields::known(card, &CONTACT_FIELDS).map_err(at)?;
        let name = card
            .get("name")
            .ok_or_else(|| at(FieldError::new("name", "missing")))?;
        let name = fields::object(name, "name").map_err(at)?;
        fields::string(name, "formatted_name").map_err(|e| at(e.within("name")))?;
        for list in ["addresses", "emails", "phones", "urls"] {
            match card.get(list) {
                None => {}
                Some(Value::Array(items)) if items.iter().all(Value::is_object) => {}
                Some(other) => {
                    return Err(at(FieldError::new(
                        list,
                        format!("expected an array of objects, got {other}"),
                    )));
                }
            }
        }
    }
    Ok(InboundContent::Contacts(contacts.clone()))
}

fn media_from_json(
    kind: MediaKind,
    object: &Map<String, Value>,
) -> Result<InboundMedia, FieldError> {
    let mut known = vec!["mime_type", "data"];
    match kind {
        MediaKind::Image | MediaKind::Video => known.push("caption"),
        MediaKind::Document => known.extend(["caption", "filename"]),
        MediaKind::Audio => known.push("voice"),
        MediaKind::Sticker => known.push("animated"),
    }
    fields::known(object, &known)?;
    let mime_type = fields::optional_string(object, "mime_type")?
        .unwrap_or_else(|| kind.default_mime().to_owned());
    if !kind.accepts(&mime_type) {
        let types: Vec<&str> = kind.mime_types().collect();
        return Err(FieldError::new(
            "mime_type",
            format!(
                "expected one of {} for {}, got \"{mime_type}\"",
                types.join(", "),
                kind.name()
            ),
        ));
    }
    let data = match object.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let bytes = BASE64.decode(text.trim()).map_err(|e| {
                FieldError::new(
                    "data",
                    format!("expected base64 (standard alphabet, padded): {e}"),
                )
            })?;
            Some(Bytes::from(bytes))
        }
        Some(other) => {
            return Err(FieldError::new(
                "data",
                format!("expected the file's bytes in base64, got {other}"),
            ));
        }
    };
    let flag = |field: &str| match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(other) => Err(FieldError::new(
            field,
            format!("expected true or false, got {other}"),
        )),
    };
    let animated = match flag("animated")? {
        Some(animated) => animated,
        None => data.as_deref().is_some_and(media::is_animated_webp),
    };
    if let Some(data) = &data {
        media::check_size(kind, &mime_type, data)
            .map_err(|refusal| FieldError::new("data", refusal.to_string()))?;
    }
    Ok(InboundMedia {
        kind,
        mime_type,
        data,
        caption: fields::optional_string(object, "caption")?,
        filename: fields::optional_string(object, "filename")?,
        voice: flag("voice")?.unwrap_or(false),
        animated,
    })
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
        if let InboundContent::Reaction { message_id, .. } = &content {
            match self.message(message_id.as_str()) {
                Some(message) if message.to == from => {}
                Some(_) => {
                    return Err(Refusal::Invalid(format!(
                        "reaction.message_id: message `{message_id}` was not sent to `{from}`"
                    )));
                }
                None => {
                    return Err(Refusal::not_found(Object::Message, message_id.as_str()));
                }
            }
        }
        // A media file the user sends is stored first: past the world's media
        // bound nothing happens (no window opens, no webhook).
        let stored = match &content {
            InboundContent::Media(media) => {
                let bytes = media.data.clone().unwrap_or_else(|| {
                    Bytes::from(media::placeholder(&media.mime_type, media.animated))
                });
                let id = self.store_media(
                    now,
                    NewMedia {
                        phone_number_id: PhoneNumberId::from(phone.id.as_str()),
                        kind: media.kind,
                        mime_type: media.mime_type.clone(),
                        animated: media.animated,
                        filename: media.filename.clone(),
                        origin: MediaOrigin::Inbound,
                        bytes,
                    },
                )?;
                self.media(id.as_str()).cloned()
            }
            _ => None,
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
            media: stored.as_ref(),
        };
        let value = payload::inbound(&view, &content);
        let body = payload::envelope(&self.spec.waba.id, "messages", value);
        self.emit_change("messages", Route::Number(phone.id), body);
        Ok(Reply::InboundReceived {
            message_id: Wamid::from(message_id),
        })
    }
}
