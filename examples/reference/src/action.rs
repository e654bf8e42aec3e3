//! The driver hook's actions (`POST /wasim/actions`).
//!
//! Every action is a JSON object with `"action"` naming it and, from the runner,
//! `"timestamp"`: the virtual unix seconds it was given at. A malformed action is
//! refused with one line naming the field at fault.

use serde_json::{Map, Value, json};

/// A template to send: name, language and optional body parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    /// The template's name.
    pub(crate) name: String,
    /// Its language code (`en_US`).
    pub(crate) language: String,
    /// Body parameters, in order (none: no `components`).
    pub(crate) parameters: Vec<String>,
}

impl Template {
    /// The Cloud API send body for this template to `to`.
    pub(crate) fn body(&self, to: &str) -> Value {
        let mut template = json!({"name": self.name, "language": {"code": self.language}});
        if !self.parameters.is_empty() {
            let parameters: Vec<Value> = self
                .parameters
                .iter()
                .map(|text| json!({"type": "text", "text": text}))
                .collect();
            template["components"] = json!([{"type": "body", "parameters": parameters}]);
        }
        json!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": template})
    }
}

/// The Cloud API send body for free-form text `text` to `to`.
pub(crate) fn text_body(to: &str, text: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}})
}

/// Media to send by link: `image`, `document`, `audio`, `video` or `sticker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Media {
    /// The message type (`document`).
    pub(crate) kind: String,
    /// Where the platform fetches it.
    pub(crate) link: String,
    /// An optional caption.
    pub(crate) caption: Option<String>,
    /// An optional file name (documents).
    pub(crate) filename: Option<String>,
}

impl Media {
    /// The kinds the Cloud API sends by link.
    const KINDS: &[&str] = &["image", "document", "audio", "video", "sticker"];

    /// The Cloud API send body for this media to `to`.
    pub(crate) fn body(&self, to: &str) -> Value {
        let mut media = json!({"link": self.link});
        if let Some(caption) = &self.caption {
            media["caption"] = json!(caption);
        }
        if let Some(filename) = &self.filename {
            media["filename"] = json!(filename);
        }
        json!({"messaging_product": "whatsapp", "to": to, "type": self.kind, self.kind.as_str(): media})
    }
}

/// The Cloud API send body for reply buttons (`(id, title)` each) under `text` to `to`.
pub(crate) fn buttons_body(to: &str, text: &str, buttons: &[(String, String)]) -> Value {
    let buttons: Vec<Value> = buttons
        .iter()
        .map(|(id, title)| json!({"type": "reply", "reply": {"id": id, "title": title}}))
        .collect();
    json!({"messaging_product": "whatsapp", "to": to, "type": "interactive",
           "interactive": {"type": "button", "body": {"text": text}, "action": {"buttons": buttons}}})
}

/// What the driver asks the integration to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// `send_template`: one template (unless the user is capped or opted out).
    Template {
        /// The recipient's wa_id.
        to: String,
        /// What to send.
        template: Template,
    },
    /// `send_text`: free-form text (only inside the customer service window).
    Text {
        /// The recipient's wa_id.
        to: String,
        /// The text.
        text: String,
    },
    /// `send_media`: media by link (only inside the customer service window).
    Media {
        /// The recipient's wa_id.
        to: String,
        /// What to send.
        media: Media,
    },
    /// `send_buttons`: a message with reply buttons (only inside the window).
    Buttons {
        /// The recipient's wa_id.
        to: String,
        /// The message's text.
        text: String,
        /// The buttons: id and title each.
        buttons: Vec<(String, String)>,
    },
    /// `set_access_token`: the operator replaced the access token; use this one.
    SetAccessToken {
        /// The new token.
        token: String,
    },
    /// `send_campaign`: one template to each recipient, in order.
    Campaign {
        /// The recipients' wa_ids.
        to: Vec<String>,
        /// What to send.
        template: Template,
    },
    /// `set_d360_api_key`: the operator handed over a new channel key; use this one.
    SetD360ApiKey {
        /// The new key.
        key: String,
    },
    /// `rotate_key`: generate a new channel key through the Partner API and switch
    /// to it.
    RotateKey {
        /// The channel (`None`: ours, `WASIM_CHANNEL_ID`).
        channel_id: Option<String>,
    },
    /// `account_compromised`: halt sends, rotate the channel key, reset the PIN,
    /// and resume `resume_after_s` after both succeeded.
    AccountCompromised {
        /// The compromised number (`None`: ours, `WASIM_PHONE_NUMBER_ID`).
        phone_number_id: Option<String>,
        /// Its channel (`None`: ours, `WASIM_CHANNEL_ID`).
        channel_id: Option<String>,
        /// Virtual seconds to wait after securing before sending again.
        resume_after_s: u64,
    },
    /// `tick`: virtual time moved (the action's timestamp); run what is due.
    Tick,
    /// `register`: register the number on the Cloud API with its PIN.
    Register {
        /// The number (`None`: ours, `WASIM_PHONE_NUMBER_ID`).
        phone_number_id: Option<String>,
        /// The two-step verification PIN.
        pin: String,
    },
}

/// Every action name, for the error on an unknown one.
const NAMES: &str = "send_template, send_text, send_media, send_buttons, send_campaign, \
                     set_access_token, set_d360_api_key, rotate_key, account_compromised, tick, \
                     register";

/// The virtual time an action was given at (`"timestamp"`: unix seconds, a string
/// like a webhook's, or a number), if it carries one.
pub(crate) fn timestamp(body: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("timestamp")? {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

/// The fields of one action, read with errors that name the field.
struct Fields<'a> {
    action: &'a str,
    object: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn error(&self, field: &str, expected: &str) -> String {
        format!("{}: `{field}` must be {expected}", self.action)
    }

    /// A required non-empty string.
    fn string(&self, field: &str) -> Result<String, String> {
        self.optional_string(field)?
            .ok_or_else(|| self.error(field, "a non-empty string"))
    }

    /// An optional string: absent or null is `None`, present must be non-empty.
    fn optional_string(&self, field: &str) -> Result<Option<String>, String> {
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
            Some(_) => Err(self.error(field, "a non-empty string")),
        }
    }

    /// A required list of non-empty strings.
    fn strings(&self, field: &str) -> Result<Vec<String>, String> {
        let expected = "a list of non-empty strings";
        let Some(Value::Array(items)) = self.object.get(field) else {
            return Err(self.error(field, expected));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
                _ => Err(self.error(field, expected)),
            })
            .collect()
    }

    /// A non-negative whole number (or a string of digits); absent is `default`.
    fn seconds(&self, field: &str, default: u64) -> Result<u64, String> {
        let expected = "a whole number of seconds";
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(number)) => {
                number.as_u64().ok_or_else(|| self.error(field, expected))
            }
            Some(Value::String(text)) => {
                text.trim().parse().map_err(|_| self.error(field, expected))
            }
            Some(_) => Err(self.error(field, expected)),
        }
    }

    /// The object `field`, read with errors naming `field.inner`.
    fn object(&self, field: &str) -> Result<Fields<'_>, String> {
        match self.object.get(field) {
            Some(Value::Object(object)) => Ok(Fields {
                action: self.action,
                object,
            }),
            _ => Err(self.error(field, "an object")),
        }
    }

    /// `media`: `{type, link, caption?, filename?}`.
    fn media(&self) -> Result<Media, String> {
        let media = self.object("media")?;
        let named = |field: &str, error: String| {
            error.replacen(&format!("`{field}`"), &format!("`media.{field}`"), 1)
        };
        let kind = media.string("type").map_err(|e| named("type", e))?;
        if !Media::KINDS.contains(&kind.as_str()) {
            return Err(self.error("media.type", &Media::KINDS.join(", ")));
        }
        Ok(Media {
            kind,
            link: media.string("link").map_err(|e| named("link", e))?,
            caption: media
                .optional_string("caption")
                .map_err(|e| named("caption", e))?,
            filename: media
                .optional_string("filename")
                .map_err(|e| named("filename", e))?,
        })
    }

    /// `buttons`: 1 to 3 `{id, title}` objects.
    fn buttons(&self) -> Result<Vec<(String, String)>, String> {
        let expected = "a list of 1 to 3 {id, title} objects";
        let Some(Value::Array(items)) = self.object.get("buttons") else {
            return Err(self.error("buttons", expected));
        };
        if items.is_empty() || items.len() > 3 {
            return Err(self.error("buttons", expected));
        }
        items
            .iter()
            .map(|item| {
                let text = |key: &str| {
                    item.get(key)
                        .and_then(Value::as_str)
                        .filter(|text| !text.trim().is_empty())
                        .map(str::to_owned)
                };
                text("id")
                    .zip(text("title"))
                    .ok_or_else(|| self.error("buttons", expected))
            })
            .collect()
    }

    /// `template` (with `parameters` inside it or next to it).
    fn template(&self) -> Result<Template, String> {
        let Some(Value::Object(template)) = self.object.get("template") else {
            return Err(self.error("template", "an object with name and language"));
        };
        let inner = Fields {
            action: self.action,
            object: template,
        };
        let name = inner
            .string("name")
            .map_err(|_| self.error("template.name", "a non-empty string"))?;
        let language = match template.get("language") {
            Some(Value::String(code)) => Some(code),
            Some(Value::Object(language)) => match language.get("code") {
                Some(Value::String(code)) => Some(code),
                _ => None,
            },
            _ => None,
        }
        .filter(|code| !code.trim().is_empty())
        .ok_or_else(|| self.error("template.language", "a language code like en_US"))?
        .clone();
        let parameters = if template.contains_key("parameters") {
            inner
                .strings("parameters")
                .map_err(|_| self.error("template.parameters", "a list of non-empty strings"))?
        } else if self.object.contains_key("parameters") {
            self.strings("parameters")?
        } else {
            Vec::new()
        };
        Ok(Template {
            name,
            language,
            parameters,
        })
    }
}

impl Action {
    /// Parses a request body; the error is one line naming the field at fault.
    ///
    /// `parameters` may sit in `template` or next to it.
    pub(crate) fn parse(body: &[u8]) -> Result<Action, String> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|error| format!("malformed action: not JSON ({error})"))?;
        let Value::Object(object) = &value else {
            return Err("malformed action: expected a JSON object".to_owned());
        };
        let Some(Value::String(action)) = object.get("action") else {
            return Err(format!("malformed action: `action` must be one of {NAMES}"));
        };
        let fields = Fields { action, object };
        Ok(match action.as_str() {
            "send_template" | "send_text" | "send_media" | "send_buttons" => {
                let to = fields.string("to")?;
                match action.as_str() {
                    "send_template" => Action::Template {
                        to,
                        template: fields.template()?,
                    },
                    "send_text" => Action::Text {
                        to,
                        text: fields.string("text")?,
                    },
                    "send_media" => Action::Media {
                        to,
                        media: fields.media()?,
                    },
                    _ => Action::Buttons {
                        to,
                        text: fields.string("text")?,
                        buttons: fields.buttons()?,
                    },
                }
            }
            "send_campaign" => Action::Campaign {
                to: fields.strings("to")?,
                template: fields.template()?,
            },
            "set_access_token" => Action::SetAccessToken {
                token: fields.string("access_token")?,
            },
            "set_d360_api_key" => Action::SetD360ApiKey {
                key: fields.string("api_key")?,
            },
            "rotate_key" => Action::RotateKey {
                channel_id: fields.optional_string("channel_id")?,
            },
            "account_compromised" => Action::AccountCompromised {
                phone_number_id: fields.optional_string("phone_number_id")?,
                channel_id: fields.optional_string("channel_id")?,
                resume_after_s: fields.seconds("resume_after_s", 0)?,
            },
            "tick" => Action::Tick,
            "register" => Action::Register {
                phone_number_id: fields.optional_string("phone_number_id")?,
                pin: fields.string("pin")?,
            },
            other => {
                return Err(format!(
                    "malformed action: unknown action `{other}` (known: {NAMES})"
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_action_parses_and_builds_graphs_body() {
        let action = Action::parse(
            br#"{"action":"send_template","to":"4915112345678","template":{"name":"spring_sale","language":"en_US"}}"#,
        )
        .expect("valid");
        let Action::Template { to, template } = action else {
            panic!("{action:?}")
        };
        assert_eq!(
            template.body(&to),
            json!({"messaging_product":"whatsapp","to":"4915112345678","type":"template",
                   "template":{"name":"spring_sale","language":{"code":"en_US"}}})
        );
    }

    #[test]
    fn parameters_become_body_components_wherever_they_are_given() {
        for body in [
            r#"{"action":"send_template","to":"1","template":{"name":"order_update","language":"en_US","parameters":["x","y"]}}"#,
            r#"{"action":"send_template","to":"1","template":{"name":"order_update","language":{"code":"en_US"}},"parameters":["x","y"]}"#,
        ] {
            let Action::Template { to, template } = Action::parse(body.as_bytes()).expect(body)
            else {
                panic!("{body}")
            };
            assert_eq!(
                template.body(&to)["template"]["components"],
                json!([{"type":"body","parameters":[{"type":"text","text":"x"},{"type":"text","text":"y"}]}])
            );
        }
    }

    #[test]
    fn text_and_campaign_actions_parse() {
        assert_eq!(
            Action::parse(br#"{"action":"send_text","to":"55","text":"Your order shipped"}"#),
            Ok(Action::Text {
                to: "55".to_owned(),
                text: "Your order shipped".to_owned()
            })
        );
        let Ok(Action::Campaign { to, .. }) = Action::parse(
            br#"{"action":"send_campaign","to":["1","2"],"template":{"name":"spring_sale","language":"en_US"}}"#,
        ) else {
            panic!("campaign")
        };
        assert_eq!(to, ["1", "2"]);
        assert_eq!(
            text_body("55", "hi"),
            json!({"messaging_product":"whatsapp","to":"55","type":"text","text":{"body":"hi"}})
        );
    }

    #[test]
    fn the_key_and_account_actions_parse() {
        let cases: [(&str, Action); 8] = [
            (
                r#"{"action":"set_d360_api_key","api_key":"k2","timestamp":"1717405200"}"#,
                Action::SetD360ApiKey {
                    key: "k2".to_owned(),
                },
            ),
            (
                r#"{"action":"rotate_key","channel_id":"chan_1"}"#,
                Action::RotateKey {
                    channel_id: Some("chan_1".to_owned()),
                },
            ),
            (
                r#"{"action":"rotate_key"}"#,
                Action::RotateKey { channel_id: None },
            ),
            (
                r#"{"action":"account_compromised","phone_number_id":"110","channel_id":"chan_1","resume_after_s":3600}"#,
                Action::AccountCompromised {
                    phone_number_id: Some("110".to_owned()),
                    channel_id: Some("chan_1".to_owned()),
                    resume_after_s: 3600,
                },
            ),
            (
                r#"{"action":"account_compromised","resume_after_s":"60"}"#,
                Action::AccountCompromised {
                    phone_number_id: None,
                    channel_id: None,
                    resume_after_s: 60,
                },
            ),
            (
                r#"{"action":"tick","timestamp":"1717405200"}"#,
                Action::Tick,
            ),
            (r#"{"action":"tick"}"#, Action::Tick),
            (
                r#"{"action":"register","phone_number_id":"110","pin":"123456"}"#,
                Action::Register {
                    phone_number_id: Some("110".to_owned()),
                    pin: "123456".to_owned(),
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(Action::parse(body.as_bytes()), Ok(expected), "{body}");
        }
        assert_eq!(
            timestamp(br#"{"action":"tick","timestamp":"1717405200"}"#),
            Some(1_717_405_200)
        );
        assert_eq!(timestamp(br#"{"action":"tick"}"#), None);
    }

    #[test]
    fn malformed_actions_are_one_line_errors() {
        for body in [
            "not json",
            "{}",
            "[1]",
            r#"{"action":"launch_rocket"}"#,
            r#"{"action":"send_text","to":"55"}"#,
            r#"{"action":"send_text","to":"","text":"x"}"#,
            r#"{"action":"send_template","to":"1","template":{"name":"","language":"en_US"}}"#,
            r#"{"action":"send_campaign","to":"1","template":{"name":"a","language":"en_US"}}"#,
        ] {
            let error = Action::parse(body.as_bytes()).expect_err(body);
            assert!(!error.contains('\n'), "{error}");
        }
    }

    /// The action `body` parses to, which must be valid.
    fn valid(body: &str) -> Action {
        Action::parse(body.as_bytes()).unwrap_or_else(|error| panic!("{body}: {error}"))
    }

    #[test]
    fn media_and_buttons_actions_build_the_cloud_api_bodies() {
        let media = r#"{"action":"send_media","to":"55","media":{"type":"document","link":"https://f.example.com/r.pdf","filename":"r.pdf"}}"#;
        let Action::Media { to, media } = valid(media) else {
            panic!("{media}")
        };
        let document = json!({"link": "https://f.example.com/r.pdf", "filename": "r.pdf"});
        assert_eq!(media.body(&to)["document"], document);
        assert_eq!(media.body(&to)["type"], "document");
        let buttons = r#"{"action":"send_buttons","to":"55","text":"How can we help?","buttons":[{"id":"track","title":"Track"}]}"#;
        let Action::Buttons { to, text, buttons } = valid(buttons) else {
            panic!("{buttons}")
        };
        let reply = json!({"type": "reply", "reply": {"id": "track", "title": "Track"}});
        let interactive = &buttons_body(&to, &text, &buttons)["interactive"];
        assert_eq!(
            (
                &interactive["body"]["text"],
                &interactive["action"]["buttons"][0]
            ),
            (&json!("How can we help?"), &reply)
        );
    }

    #[test]
    fn a_malformed_action_names_the_field_at_fault() {
        for (body, field) in [
            (r#"{"action":7}"#, "`action`"),
            (r#"{"action":"set_d360_api_key"}"#, "`api_key`"),
            (r#"{"action":"set_d360_api_key","api_key":""}"#, "`api_key`"),
            (r#"{"action":"set_d360_api_key","api_key":5}"#, "`api_key`"),
            (r#"{"action":"rotate_key","channel_id":42}"#, "`channel_id`"),
            (
                r#"{"action":"rotate_key","channel_id":" "}"#,
                "`channel_id`",
            ),
            (
                r#"{"action":"account_compromised","resume_after_s":-5}"#,
                "`resume_after_s`",
            ),
            (
                r#"{"action":"account_compromised","resume_after_s":"soon"}"#,
                "`resume_after_s`",
            ),
            (
                r#"{"action":"account_compromised","phone_number_id":[]}"#,
                "`phone_number_id`",
            ),
            (r#"{"action":"register","phone_number_id":"110"}"#, "`pin`"),
            (r#"{"action":"register","pin":123456}"#, "`pin`"),
            (
                r#"{"action":"send_template","to":"1","template":{"name":"a"}}"#,
                "`template.language`",
            ),
            (
                r#"{"action":"send_template","to":"1","template":{"name":"a","language":"en_US","parameters":[1]}}"#,
                "`template.parameters`",
            ),
            (
                r#"{"action":"send_campaign","to":["1",""],"template":{"name":"a","language":"en_US"}}"#,
                "`to`",
            ),
            (r#"{"action":"send_media","to":"1"}"#, "`media`"),
            (
                r#"{"action":"send_media","to":"1","media":{"type":"gif","link":"https://x/y"}}"#,
                "`media.type`",
            ),
            (
                r#"{"action":"send_media","to":"1","media":{"type":"image"}}"#,
                "`media.link`",
            ),
            (
                r#"{"action":"send_buttons","to":"1","text":"t","buttons":[]}"#,
                "`buttons`",
            ),
            (
                r#"{"action":"send_buttons","to":"1","text":"t","buttons":[{"id":"a"}]}"#,
                "`buttons`",
            ),
            (r#"{"action":"set_access_token"}"#, "`access_token`"),
        ] {
            let error = Action::parse(body.as_bytes()).expect_err(body);
            assert!(error.contains(field), "{body}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
