//! The driver hook's actions (`POST /wasim/actions`).

use serde::Deserialize;
use serde_json::{Value, json};

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
}

/// The wire shape of an action.
#[derive(Deserialize)]
#[serde(tag = "action")]
enum WireAction {
    #[serde(rename = "send_template")]
    Template {
        to: String,
        template: WireTemplate,
        #[serde(default)]
        parameters: Option<Vec<String>>,
    },
    #[serde(rename = "send_text")]
    Text { to: String, text: String },
    #[serde(rename = "set_access_token")]
    SetToken { access_token: String },
    #[serde(rename = "send_campaign")]
    Campaign {
        to: Vec<String>,
        template: WireTemplate,
        #[serde(default)]
        parameters: Option<Vec<String>>,
    },
}

#[derive(Deserialize)]
struct WireTemplate {
    name: String,
    language: WireLanguage,
    #[serde(default)]
    parameters: Option<Vec<String>>,
}

/// `"en_US"`, or Graph's own `{"code": "en_US"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireLanguage {
    Code(String),
    Object { code: String },
}

impl WireTemplate {
    fn into_template(self, outer_parameters: Option<Vec<String>>) -> Result<Template, String> {
        let language = match self.language {
            WireLanguage::Code(code) | WireLanguage::Object { code } => code,
        };
        if self.name.trim().is_empty() {
            return Err("template.name is empty".to_owned());
        }
        if language.trim().is_empty() {
            return Err("template.language is empty".to_owned());
        }
        Ok(Template {
            name: self.name,
            language,
            parameters: self.parameters.or(outer_parameters).unwrap_or_default(),
        })
    }
}

/// The virtual time an action was given at (`"timestamp"`: unix seconds, a string
/// like a webhook's, or a number), if it carries one.
pub(crate) fn timestamp(body: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("timestamp")? {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

fn recipient(to: String) -> Result<String, String> {
    if to.trim().is_empty() {
        Err("`to` is empty".to_owned())
    } else {
        Ok(to)
    }
}

impl Action {
    /// Parses a request body; the error is one line.
    ///
    /// `parameters` may sit in `template` or next to it.
    pub(crate) fn parse(body: &[u8]) -> Result<Action, String> {
        let wire: WireAction = serde_json::from_slice(body).map_err(|error| {
            format!("malformed action: {error} (expected {{\"action\": \"send_template\"|\"send_text\"|\"send_campaign\"|\"set_access_token\", ...}})")
        })?;
        Ok(match wire {
            WireAction::Template {
                to,
                template,
                parameters,
            } => Action::Template {
                to: recipient(to)?,
                template: template.into_template(parameters)?,
            },
            WireAction::Text { to, text } => Action::Text {
                to: recipient(to)?,
                text,
            },
            WireAction::SetToken { access_token } if access_token.trim().is_empty() => {
                return Err("access_token is empty".to_owned());
            }
            WireAction::SetToken { access_token } => Action::SetAccessToken {
                token: access_token,
            },
            WireAction::Campaign {
                to,
                template,
                parameters,
            } => Action::Campaign {
                to: to.into_iter().map(recipient).collect::<Result<_, _>>()?,
                template: template.into_template(parameters)?,
            },
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
    fn malformed_actions_are_one_line_errors() {
        for body in [
            "not json",
            "{}",
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
}
