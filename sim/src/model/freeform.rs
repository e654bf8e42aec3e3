//! The free-form message types besides text, parsed at the edge like the rest of a
//! send ([`super::outgoing`]): media (`image`, `audio`, `video`, `document`,
//! `sticker`, by uploaded `id` or by `link`), `interactive` (`button`, `list`,
//! `cta_url`, `location_request_message`), `location`, `contacts` and `reaction`.
//! Each is checked as Meta documents it: required fields and the length and count
//! limits of
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-reply-buttons-messages>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-list-messages>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-cta-url-messages>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/location-request-messages>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/image-messages>
//! (and the pages of each other type), with 131008 for a missing field and 131009
//! for a value out of bounds, as the rest of the send does; the send path answers
//! them as the policy's `parameter_errors` says (code 100 with the text as the
//! message, by default: `outgoing::parameter_error`).

use serde_json::{Map, Value};

use super::error::{PlatformError, code};
use super::outgoing::OutgoingContent;

/// Longest caption of an image, video or document (1,024 characters).
pub const CAPTION_CHARS_MAX: usize = 1_024;
/// Longest body of a reply-buttons, CTA URL or location-request message.
pub const INTERACTIVE_BODY_CHARS_MAX: usize = 1_024;
/// Longest body of a list message (4,096 characters).
pub const LIST_BODY_CHARS_MAX: usize = 4_096;
/// Longest header or footer text of an interactive message.
pub const HEADER_FOOTER_CHARS_MAX: usize = 60;
/// Most reply buttons in a message.
pub const REPLY_BUTTONS_MAX: usize = 3;
/// Longest reply button title, list button label or CTA display text.
pub const BUTTON_TITLE_CHARS_MAX: usize = 20;
/// Longest reply button id.
pub const BUTTON_ID_CHARS_MAX: usize = 256;
/// Most sections of a list, and most rows over all its sections.
pub const LIST_SECTIONS_MAX: usize = 10;
/// Most rows over all the sections of a list.
pub const LIST_ROWS_MAX: usize = 10;
/// Longest list row or section title.
pub const ROW_TITLE_CHARS_MAX: usize = 24;
/// Longest list row id.
pub const ROW_ID_CHARS_MAX: usize = 200;
/// Longest list row description.
pub const ROW_DESCRIPTION_CHARS_MAX: usize = 72;

pub use super::media::MediaKind;

/// Whether a send of `kind` may carry a `caption`.
fn takes_caption(kind: MediaKind) -> bool {
    matches!(
        kind,
        MediaKind::Image | MediaKind::Video | MediaKind::Document
    )
}

/// How a send names its media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// An uploaded media id (`POST /{phone-number-id}/media`).
    Id(String),
    /// A link the platform downloads (http or https).
    Link(String),
}

impl MediaSource {
    /// How the trace names the media: `id 123`, or `link` and the address
    /// without its query or fragment (a signed link's query can be a secret).
    pub fn traced(&self) -> String {
        match self {
            MediaSource::Id(id) => format!("id {id}"),
            MediaSource::Link(link) => {
                let end = link.find(['?', '#']).unwrap_or(link.len());
                format!("link {}", &link[..end])
            }
        }
    }
}

/// The interactive messages simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractiveKind {
    /// Reply buttons.
    Button,
    /// A list of rows in sections.
    List,
    /// A call-to-action URL button.
    CtaUrl,
    /// A request for the user's location.
    LocationRequest,
}

impl InteractiveKind {
    /// The `interactive.type` of the kind.
    pub fn name(self) -> &'static str {
        match self {
            InteractiveKind::Button => "button",
            InteractiveKind::List => "list",
            InteractiveKind::CtaUrl => "cta_url",
            InteractiveKind::LocationRequest => "location_request_message",
        }
    }
}

/// Interactive types Meta documents that wasim does not simulate.
const UNSIMULATED_INTERACTIVE: &[&str] = &[
    "address_message",
    "call_permission_request",
    "carousel",
    "catalog_message",
    "flow",
    "order_details",
    "order_status",
    "product",
    "product_list",
    "voice_call",
];

pub(crate) fn missing(parameter: &str) -> PlatformError {
    PlatformError::new(
        code::PARAMETER_MISSING,
        format!("The parameter {parameter} is required."),
    )
}

pub(crate) fn invalid(details: String) -> PlatformError {
    PlatformError::new(code::PARAMETER_INVALID, details)
}

/// A kind of message Meta documents that wasim does not simulate (100, saying so).
pub(crate) fn not_simulated(what: String) -> PlatformError {
    PlatformError::new(
        code::INVALID_PARAMETER,
        format!("{what} is valid on the platform but not simulated by wasim."),
    )
}

/// A path into the body, as Meta names parameters (`interactive['body']['text']`).
fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}['{key}']")
    }
}

/// The value at `object[key]` as `pick` reads it (`what` it must be, in words);
/// `None` when absent or null.
fn field<'a, T>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
    what: &str,
    pick: impl Fn(&'a Value) -> Option<T>,
) -> Result<Option<T>, PlatformError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => pick(value).map(Some).ok_or_else(|| {
            invalid(format!(
                "Param {} must be {what}, got {value}.",
                at(path, key)
            ))
        }),
    }
}

/// The object at `object[key]`; `None` when absent or null.
pub(crate) fn object_of<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, PlatformError> {
    field(object, path, key, "an object", Value::as_object)
}

/// The object at `object[key]`, which must be there.
fn required_object<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a Map<String, Value>, PlatformError> {
    object_of(object, path, key)?.ok_or_else(|| missing(&at(path, key)))
}

/// The string at `object[key]`, at most `max` characters; `None` when absent.
fn string_of<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
    max: usize,
) -> Result<Option<&'a str>, PlatformError> {
    match field(object, path, key, "a string", Value::as_str)? {
        Some(text) if text.chars().count() > max => Err(invalid(format!(
            "Param {} must be at most {max} characters long.",
            at(path, key)
        ))),
        text => Ok(text),
    }
}

/// The non-empty string at `object[key]`, which must be there.
pub(crate) fn required_string<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
    max: usize,
) -> Result<&'a str, PlatformError> {
    match string_of(object, path, key, max)? {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ => Err(missing(&at(path, key))),
    }
}

/// The array at `object[key]`, with `min..=max` items.
fn array_of<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
    (min, max): (usize, usize),
) -> Result<&'a [Value], PlatformError> {
    let items = match object.get(key) {
        None | Some(Value::Null) => return Err(missing(&at(path, key))),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid(format!(
                "Param {} must be an array, got {other}.",
                at(path, key)
            )));
        }
    };
    if items.len() < min || items.len() > max {
        return Err(invalid(format!(
            "Param {} must have {min} to {max} items, got {}.",
            at(path, key),
            items.len()
        )));
    }
    Ok(items)
}

/// Item `index` of an array, which must be an object.
fn item<'a>(
    items: &'a [Value],
    path: &str,
    index: usize,
) -> Result<&'a Map<String, Value>, PlatformError> {
    items[index]
        .as_object()
        .ok_or_else(|| invalid(format!("Param {path}[{index}] must be an object.")))
}

/// An http(s) link: anything else cannot be downloaded.
fn link(text: &str, parameter: &str) -> Result<String, PlatformError> {
    let lower = text.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(text.to_owned()),
        _ => Err(invalid(format!(
            "Param {parameter} must be an http or https URL, got \"{text}\"."
        ))),
    }
}

/// A media object (`{"id"}` or `{"link"}`, with a caption and filename where the
/// kind takes them) at `path`.
pub(crate) fn media_object(
    object: &Map<String, Value>,
    kind: MediaKind,
    path: &str,
    with_caption: bool,
) -> Result<MediaSource, PlatformError> {
    let id = string_of(object, path, "id", 256)?;
    let url = string_of(object, path, "link", 2_048)?;
    if with_caption {
        if takes_caption(kind) {
            string_of(object, path, "caption", CAPTION_CHARS_MAX)?;
        }
        if kind == MediaKind::Document {
            string_of(object, path, "filename", 240)?;
        }
    }
    match (id, url) {
        (Some(id), None) if !id.is_empty() => Ok(MediaSource::Id(id.to_owned())),
        (None, Some(url)) => Ok(MediaSource::Link(link(url, &at(path, "link"))?)),
        (Some(_), Some(_)) => Err(invalid(format!(
            "Param {path} must have either id or link, not both."
        ))),
        _ => Err(missing(&format!("{path}['id'] or {path}['link']"))),
    }
}

/// A media send of `kind` (`{"type": "image", "image": {…}}`).
pub(crate) fn media(
    body: &Map<String, Value>,
    kind: MediaKind,
) -> Result<OutgoingContent, PlatformError> {
    let name = kind.name();
    let object = required_object(body, "", name).map_err(|_| missing(name))?;
    let source = media_object(object, kind, name, true)?;
    Ok(OutgoingContent::Media { kind, source })
}

/// A `location` send: latitude and longitude, an optional name and address.
pub(crate) fn location(body: &Map<String, Value>) -> Result<OutgoingContent, PlatformError> {
    let location = required_object(body, "", "location").map_err(|_| missing("location"))?;
    for (key, bound) in [("latitude", 90.0), ("longitude", 180.0)] {
        let value = match location.get(key) {
            None | Some(Value::Null) => return Err(missing(&format!("location['{key}']"))),
            Some(Value::Number(number)) => number.as_f64(),
            // Meta's examples send them as strings too.
            Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        if !value.is_some_and(|v| v.is_finite() && (-bound..=bound).contains(&v)) {
            return Err(invalid(format!(
                "Param location['{key}'] must be a number from -{bound} to {bound}."
            )));
        }
    }
    string_of(location, "location", "name", 1_000)?;
    string_of(location, "location", "address", 1_000)?;
    Ok(OutgoingContent::Location)
}

/// A `contacts` send: one or more contacts, each with `name.formatted_name`.
pub(crate) fn contacts(body: &Map<String, Value>) -> Result<OutgoingContent, PlatformError> {
    let contacts = array_of(body, "", "contacts", (1, 257)).map_err(|error| {
        if error.code == code::PARAMETER_MISSING {
            missing("contacts")
        } else {
            error
        }
    })?;
    for index in 0..contacts.len() {
        let path = format!("contacts[{index}]");
        let contact = item(contacts, "contacts", index)?;
        let name = required_object(contact, &path, "name")?;
        required_string(name, &at(&path, "name"), "formatted_name", 1_000)?;
    }
    Ok(OutgoingContent::Contacts {
        count: u32::try_from(contacts.len()).unwrap_or(u32::MAX),
    })
}

/// A `reaction` send: the wamid reacted to and an emoji (empty removes it).
pub(crate) fn reaction(body: &Map<String, Value>) -> Result<OutgoingContent, PlatformError> {
    let reaction = required_object(body, "", "reaction").map_err(|_| missing("reaction"))?;
    let message_id = required_string(reaction, "reaction", "message_id", 256)?;
    let emoji = match reaction.get("emoji") {
        None | Some(Value::Null) => return Err(missing("reaction['emoji']")),
        Some(Value::String(emoji)) if emoji.chars().count() <= 10 => emoji.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "Param reaction['emoji'] must be one emoji, or \"\" to remove a reaction; got {other}."
            )));
        }
    };
    Ok(OutgoingContent::Reaction {
        message_id: message_id.to_owned(),
        emoji,
    })
}

/// An `interactive` send of a simulated kind.
pub(crate) fn interactive(body: &Map<String, Value>) -> Result<OutgoingContent, PlatformError> {
    let path = "interactive";
    let interactive = required_object(body, "", path).map_err(|_| missing(path))?;
    let kind = match interactive.get("type") {
        None | Some(Value::Null) => return Err(missing("interactive['type']")),
        Some(Value::String(kind)) => match kind.as_str() {
            "button" => InteractiveKind::Button,
            "list" => InteractiveKind::List,
            "cta_url" => InteractiveKind::CtaUrl,
            "location_request_message" => InteractiveKind::LocationRequest,
            other if UNSIMULATED_INTERACTIVE.contains(&other) => {
                return Err(not_simulated(format!(
                    "Interactive type '{other}' (simulated: button, list, cta_url, location_request_message)"
                )));
            }
            other => {
                return Err(invalid(format!(
                    "Param interactive['type'] must be one of {{button, list, cta_url, location_request_message, flow, product, product_list, catalog_message}}, got '{other}'."
                )));
            }
        },
        Some(other) => {
            return Err(invalid(format!(
                "Param interactive['type'] must be a string, got {other}."
            )));
        }
    };
    let body_max = if kind == InteractiveKind::List {
        LIST_BODY_CHARS_MAX
    } else {
        INTERACTIVE_BODY_CHARS_MAX
    };
    let body_object = required_object(interactive, path, "body")?;
    required_string(body_object, &at(path, "body"), "text", body_max)?;
    if let Some(footer) = object_of(interactive, path, "footer")? {
        required_string(footer, &at(path, "footer"), "text", HEADER_FOOTER_CHARS_MAX)?;
    }
    let header_media = match object_of(interactive, path, "header")? {
        None => None,
        Some(header) => header_of(header, kind)?,
    };
    let action = required_object(interactive, path, "action")?;
    let action_path = at(path, "action");
    match kind {
        InteractiveKind::Button => reply_buttons(action, &action_path)?,
        InteractiveKind::List => list(action, &action_path)?,
        InteractiveKind::CtaUrl => {
            named_action(action, &action_path, "cta_url")?;
            let parameters = required_object(action, &action_path, "parameters")?;
            let parameters_path = at(&action_path, "parameters");
            required_string(
                parameters,
                &parameters_path,
                "display_text",
                BUTTON_TITLE_CHARS_MAX,
            )?;
            let url = required_string(parameters, &parameters_path, "url", 2_000)?;
            link(url, &at(&parameters_path, "url"))?;
        }
        InteractiveKind::LocationRequest => named_action(action, &action_path, "send_location")?,
    }
    Ok(OutgoingContent::Interactive { kind, header_media })
}

/// The header of an interactive message: text, or media where the kind takes it.
fn header_of(
    header: &Map<String, Value>,
    kind: InteractiveKind,
) -> Result<Option<(MediaKind, MediaSource)>, PlatformError> {
    let path = "interactive['header']";
    let header_type = required_string(header, path, "type", 20)?;
    if header_type == "text" {
        required_string(header, path, "text", HEADER_FOOTER_CHARS_MAX)?;
        return Ok(None);
    }
    let media_kind = MediaKind::from_name(header_type)
        .filter(|k| matches!(k, MediaKind::Image | MediaKind::Video | MediaKind::Document));
    match media_kind {
        Some(media_kind)
            if kind != InteractiveKind::List && kind != InteractiveKind::LocationRequest =>
        {
            let media = required_object(header, path, header_type)?;
            let source = media_object(media, media_kind, &at(path, header_type), false)?;
            Ok(Some((media_kind, source)))
        }
        _ => Err(invalid(format!(
            "Param {path}['type'] must be {} for an interactive {} message, got '{header_type}'.",
            if matches!(
                kind,
                InteractiveKind::List | InteractiveKind::LocationRequest
            ) {
                "text"
            } else {
                "text, image, video or document"
            },
            kind.name()
        ))),
    }
}

/// `action.name` must be `name`.
fn named_action(action: &Map<String, Value>, path: &str, name: &str) -> Result<(), PlatformError> {
    let given = required_string(action, path, "name", 64)?;
    if given == name {
        Ok(())
    } else {
        Err(invalid(format!(
            "Param {path}['name'] must be \"{name}\", got \"{given}\"."
        )))
    }
}

/// One to three reply buttons, each with a unique id and title.
fn reply_buttons(action: &Map<String, Value>, path: &str) -> Result<(), PlatformError> {
    let buttons = array_of(action, path, "buttons", (1, REPLY_BUTTONS_MAX))?;
    let buttons_path = at(path, "buttons");
    let mut seen: Vec<(&str, &str)> = Vec::with_capacity(buttons.len());
    for index in 0..buttons.len() {
        let button = item(buttons, &buttons_path, index)?;
        let button_path = format!("{buttons_path}[{index}]");
        let kind = required_string(button, &button_path, "type", 20)?;
        if kind != "reply" {
            return Err(invalid(format!(
                "Param {button_path}['type'] must be \"reply\", got \"{kind}\"."
            )));
        }
        let reply = required_object(button, &button_path, "reply")?;
        let reply_path = at(&button_path, "reply");
        let id = required_string(reply, &reply_path, "id", BUTTON_ID_CHARS_MAX)?;
        let title = required_string(reply, &reply_path, "title", BUTTON_TITLE_CHARS_MAX)?;
        if seen.iter().any(|(i, t)| *i == id || *t == title) {
            return Err(invalid(format!(
                "Param {reply_path}: button ids and titles must be unique within the message."
            )));
        }
        seen.push((id, title));
    }
    Ok(())
}

/// A list: its button label, one to ten sections, one to ten rows over all.
fn list(action: &Map<String, Value>, path: &str) -> Result<(), PlatformError> {
    required_string(action, path, "button", BUTTON_TITLE_CHARS_MAX)?;
    let sections = array_of(action, path, "sections", (1, LIST_SECTIONS_MAX))?;
    let sections_path = at(path, "sections");
    let mut rows_total = 0;
    let mut ids: Vec<&str> = Vec::new();
    for index in 0..sections.len() {
        let section = item(sections, &sections_path, index)?;
        let section_path = format!("{sections_path}[{index}]");
        // A title is required once there is more than one section.
        if sections.len() > 1 {
            required_string(section, &section_path, "title", ROW_TITLE_CHARS_MAX)?;
        } else {
            string_of(section, &section_path, "title", ROW_TITLE_CHARS_MAX)?;
        }
        let rows = array_of(section, &section_path, "rows", (1, LIST_ROWS_MAX))?;
        rows_total += rows.len();
        if rows_total > LIST_ROWS_MAX {
            return Err(invalid(format!(
                "Param {sections_path}: a list has at most {LIST_ROWS_MAX} rows over all its sections."
            )));
        }
        let rows_path = at(&section_path, "rows");
        for row_index in 0..rows.len() {
            let row = item(rows, &rows_path, row_index)?;
            let row_path = format!("{rows_path}[{row_index}]");
            let id = required_string(row, &row_path, "id", ROW_ID_CHARS_MAX)?;
            required_string(row, &row_path, "title", ROW_TITLE_CHARS_MAX)?;
            string_of(row, &row_path, "description", ROW_DESCRIPTION_CHARS_MAX)?;
            if ids.contains(&id) {
                return Err(invalid(format!(
                    "Param {row_path}['id']: row ids must be unique within the list."
                )));
            }
            ids.push(id);
        }
    }
    Ok(())
}
