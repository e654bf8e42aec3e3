//! Scenario files (`scenarios/*.toml`): a world, a timeline of steps and the checks
//! that judge what the integration did.
//!
//! ```toml
//! name = "cap-naive-retry"
//! description = "A user capped by other businesses' marketing; the integration must not retry"
//! profile = "2024-05"          # optional: the policy profile
//! seed = 7                     # optional: the root seed
//! checks = ["CAP-001"]         # optional: default every check in the catalog
//! drain = "2h"                 # optional: virtual time played after the last step (default 1h)
//! settle = "2s"                # optional: wall time the integration must be quiet between steps
//! [world]                      # optional: a world file's fields, overriding the default world
//! recipients.count = 100
//!
//! [[step]]
//! ecosystem_marketing = { to = "919812345678", count = 2 }
//! [[step]]
//! action = { action = "send_template", to = "919812345678", template = { name = "spring_sale", language = "en_US" } }
//! [[step]]
//! advance = "2h"
//! ```
//!
//! Each step is a table with exactly one of: `inbound` (as `POST /_wasim/inbound`),
//! `ecosystem_marketing` (`{to, count}`), `advance` (a duration: `90s`, `15m`, `2h`,
//! `1d`), `faults` (a webhook fault profile), `heal = true`, `verify = true` (the
//! webhook handshake), `rotate_access_token = true`, `template` (`{name, quality |
//! negative | decide | category | pause | unpause}`, as
//! `POST /_wasim/templates/{name}`), or
//! `incident` (`{incident = "disable_templates" | "enable_templates" | "violation" |
//! "restrict" | "terminate" | "reinstate" | "compromise" | "tier" | "quality" |
//! "marketing_on_cloud_api" |
//! "invite_partner_user" | "remove_partner_user", ...}`, as `POST /_wasim/account`),
//! or `action` (a driver action, posted to the integration's `/wasim/actions`). A
//! bad file is refused with the file, the step and the field.
//!
//! `surface = "d360"` asks the integration to send through 360dialog's messaging
//! API (`WASIM_SURFACE`) and points the partner webhook at its `/partner-webhook`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::duration;
use serde_json::Value;
use wasim_sim::model::fields::{self, FieldError};
use wasim_sim::model::policy::PROFILES;
use wasim_sim::model::spec::WorldError;
use wasim_sim::model::webhooks::faults::FaultProfile;
use wasim_sim::model::{InboundContent, TemplateControl, WorldSpec};

/// Default virtual time played after the last step.
pub const DRAIN_DEFAULT_MS: u64 = 3_600_000;

/// Longest quiet period a scenario may ask for between steps (60 s).
pub const SETTLE_MS_MAX: u64 = 60_000;

pub use crate::duration::DURATION_MS_MAX;

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (`cap-naive-retry`).
    pub name: String,
    /// One line on what it exercises.
    pub description: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The world: the default with the scenario's overrides, profile and seed.
    pub world: WorldSpec,
    /// The scenario's `[world]` table as written (what [`Scenario::to_toml`]
    /// writes back); none when it runs on the default world.
    pub world_overrides: Option<toml::Table>,
    /// The policy profile, if the scenario names one.
    pub profile: Option<String>,
    /// The timeline.
    pub steps: Vec<Step>,
    /// Ids of the checks that judge it; `None` means the whole catalog.
    pub checks: Option<Vec<String>>,
    /// Virtual milliseconds played after the last step.
    pub drain_ms: u64,
    /// The least wall time the integration must be quiet before the next step (for
    /// scenarios where a correct integration waits, such as a backoff).
    pub settle_ms: Option<u64>,
    /// Which messaging API the integration is asked to send through.
    pub surface: SendSurface,
}

/// Which messaging API a scenario expects sends through (`WASIM_SURFACE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendSurface {
    /// Meta's Cloud API (`$WASIM_GRAPH_URL`, bearer token).
    #[default]
    Graph,
    /// 360dialog's messaging API (`$WASIM_D360_URL`, `D360-API-KEY`), with the
    /// Partner API and partner webhooks.
    D360,
}

impl SendSurface {
    /// `graph` or `d360`.
    pub fn name(self) -> &'static str {
        match self {
            SendSurface::Graph => "graph",
            SendSurface::D360 => "d360",
        }
    }
}

/// One step of a scenario's timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A user writes to the business.
    Inbound {
        /// The user.
        from: String,
        /// What they send.
        content: InboundContent,
        /// The business number written to (default: the integration's).
        phone_number_id: Option<String>,
    },
    /// Other businesses' marketing reaches a user.
    EcosystemMarketing {
        /// The user.
        to: String,
        /// How many messages.
        count: u32,
    },
    /// Virtual time moves on; due timers fire.
    Advance {
        /// Milliseconds.
        ms: u64,
    },
    /// A webhook fault phase starts.
    Faults(FaultProfile),
    /// The fault phase ends.
    Heal,
    /// The webhook verification handshake, now.
    Verify,
    /// The access token is reset; the integration's token stops working.
    RotateAccessToken,
    /// A driver action, posted to the integration.
    Action(Value),
    /// Something happens to the account (`POST /_wasim/account`).
    Incident(wasim_sim::model::Incident),
    /// A template's quality, feedback, pacing or pause is set (QA replaying an
    /// incident: `POST /_wasim/templates/{name}`).
    Template {
        /// The template's name.
        name: String,
        /// What to do.
        control: TemplateControl,
    },
}

/// A JSON value as TOML (nulls dropped).
fn toml_value(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().filter_map(toml_value).collect()),
        Value::Object(map) => toml::Value::Table(
            map.iter()
                .filter_map(|(k, v)| toml_value(v).map(|v| (k.clone(), v)))
                .collect(),
        ),
    })
}

impl Step {
    /// The step as a scenario file writes it: `{"advance": "2h"}`.
    pub fn to_json(&self) -> Value {
        use serde_json::json;
        match self {
            Step::Inbound {
                from,
                content,
                phone_number_id,
            } => {
                let mut inbound = json!({"from": from});
                let (kind, message) = content.to_json();
                inbound[kind] = message;
                if let Some(id) = phone_number_id {
                    inbound["phone_number_id"] = json!(id);
                }
                json!({"inbound": inbound})
            }
            Step::EcosystemMarketing { to, count } => {
                json!({"ecosystem_marketing": {"to": to, "count": count}})
            }
            Step::Advance { ms } => json!({"advance": format!("{ms}ms")}),
            Step::Faults(profile) => {
                let defaults = FaultProfile::default().to_json();
                let mut fields = serde_json::Map::new();
                for (key, value) in profile.to_json().as_object().into_iter().flatten() {
                    if defaults.get(key) != Some(value) && !value.is_null() {
                        fields.insert(key.clone(), value.clone());
                    }
                }
                json!({"faults": fields})
            }
            Step::Heal => json!({"heal": true}),
            Step::Verify => json!({"verify": true}),
            Step::RotateAccessToken => json!({"rotate_access_token": true}),
            Step::Incident(incident) => json!({"incident": incident.to_json()}),
            Step::Action(action) => json!({"action": action}),
            Step::Template { name, control } => {
                let mut template = control.to_json();
                template["name"] = json!(name);
                json!({"template": template})
            }
        }
    }

    /// Whether the step needs the integration's driver hook.
    pub fn needs_driver(&self) -> bool {
        matches!(self, Step::Action(_))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Inbound { from, content, .. } => match content {
                InboundContent::Text(text) => write!(f, "user {from} writes \"{text}\""),
                InboundContent::ButtonReply { title, .. } => {
                    write!(f, "user {from} taps the reply button \"{title}\"")
                }
                InboundContent::ListReply { title, .. } => {
                    write!(f, "user {from} picks \"{title}\" from a list")
                }
                InboundContent::Button { text, .. } => {
                    write!(f, "user {from} taps the template button \"{text}\"")
                }
                InboundContent::Media(media) => {
                    write!(
                        f,
                        "user {from} sends {} ({})",
                        media.kind.name(),
                        media.mime_type
                    )
                }
                InboundContent::Location {
                    latitude,
                    longitude,
                    ..
                } => {
                    write!(f, "user {from} shares the location {latitude}, {longitude}")
                }
                InboundContent::Contacts(contacts) => {
                    write!(f, "user {from} shares {} contact(s)", contacts.len())
                }
                InboundContent::Reaction { message_id, emoji } => match emoji {
                    Some(emoji) => write!(f, "user {from} reacts {emoji} to {message_id}"),
                    None => write!(f, "user {from} removes a reaction from {message_id}"),
                },
            },
            Step::EcosystemMarketing { to, count } => write!(
                f,
                "other businesses send {count} marketing message(s) to {to}"
            ),
            Step::Advance { ms } => write!(f, "virtual time advances by {}", duration::words(*ms)),
            Step::Faults(profile) => {
                let shown: Vec<String> = profile
                    .to_json()
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, v)| !matches!(v, Value::Null) && *v != "0/1")
                    .filter(|(k, _)| !k.ends_with("_ms") && *k != "burst_size")
                    .map(|(k, v)| {
                        format!("{k} {}", v.as_str().map_or(v.to_string(), str::to_owned))
                    })
                    .collect();
                write!(f, "webhook faults begin: {}", shown.join(", "))
            }
            Step::Heal => write!(f, "webhook delivery heals"),
            Step::Incident(incident) => write!(f, "{}", incident_words(incident)),
            Step::Template { name, control } => match control {
                TemplateControl::Quality(quality) => write!(
                    f,
                    "template {name} quality becomes {}",
                    wasim_sim::model::templates::quality_name(*quality)
                ),
                TemplateControl::Negative(ratio) => {
                    write!(f, "{ratio} of template {name}'s recipients react badly")
                }
                TemplateControl::Decide(outcome) => {
                    write!(f, "template {name}'s pacing is decided now: {outcome:?}")
                }
                TemplateControl::Pause => write!(f, "template {name} is paused"),
                TemplateControl::Unpause => write!(f, "template {name} is unpaused"),
                TemplateControl::Category(category) => {
                    write!(f, "template {name} is re-categorised {}", category.name())
                }
            },
            Step::Verify => write!(f, "the platform verifies the webhook (GET handshake)"),
            Step::RotateAccessToken => {
                write!(f, "the access token is reset; the old one stops working")
            }
            Step::Action(action) if action["action"] == "set_access_token" => write!(
                f,
                "the operator gives the integration the current access token"
            ),
            Step::Action(action) if action["to"].is_null() => {
                let kind = action["action"].as_str().unwrap_or("?");
                write!(f, "driver asks the integration to {kind}")
            }
            Step::Action(action) => {
                let kind = action["action"].as_str().unwrap_or("?");
                let to = match &action["to"] {
                    Value::Array(list) => format!("{} users", list.len()),
                    Value::String(to) => to.clone(),
                    _ => "?".to_owned(),
                };
                match action["template"]["name"].as_str() {
                    Some(template) => write!(
                        f,
                        "driver asks the integration to {kind} {template} to {to}"
                    ),
                    None => write!(f, "driver asks the integration to {kind} to {to}"),
                }
            }
        }
    }
}

fn incident_words(incident: &wasim_sim::model::Incident) -> String {
    use wasim_sim::model::Incident;
    match incident {
        Incident::DisableTemplates => {
            "360dialog flags the WABA and disables template messaging".to_owned()
        }
        Incident::EnableTemplates => "360dialog enables template messaging again".to_owned(),
        Incident::Violation { violation_type } => {
            format!("Meta records a policy violation ({violation_type})")
        }
        Incident::Restrict {
            restriction_type,
            hours,
        } => format!("Meta restricts the account: {restriction_type} for {hours} h"),
        Incident::Terminate => "Meta disables the account".to_owned(),
        Incident::Reinstate => "Meta reinstates the account".to_owned(),
        Incident::Compromise { every_s, .. } => format!(
            "the account is compromised: an unknown origin sends with the channel key every {every_s} s"
        ),
        Incident::Tier { tier } => format!("the messaging tier becomes {tier}"),
        Incident::MarketingOnCloudApi { enabled: true } => {
            "the WABA sends marketing through /messages again".to_owned()
        }
        Incident::MarketingOnCloudApi { enabled: false } => {
            "the WABA disables marketing messages on Cloud API's /messages".to_owned()
        }
        Incident::Quality {
            phone_number_id,
            quality,
        } => format!(
            "the quality rating of {} becomes {}",
            phone_number_id.as_deref().unwrap_or("the first number"),
            wasim_sim::model::templates::quality_name(*quality)
        ),
        Incident::InvitePartnerUser { email } => format!("partner user {email} is invited"),
        Incident::RemovePartnerUser { email } => format!("partner user {email} is removed"),
    }
}

/// Why a scenario file was refused: `file: step 3: inbound.from: …`.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// Where in it and what was expected.
    pub message: String,
}

const TOP_FIELDS: &[&str] = &[
    "name",
    "description",
    "profile",
    "seed",
    "checks",
    "drain",
    "settle",
    "world",
    "surface",
    "step",
];

const STEP_KINDS: &[&str] = &[
    "inbound",
    "ecosystem_marketing",
    "advance",
    "faults",
    "heal",
    "verify",
    "rotate_access_token",
    "action",
    "template",
    "incident",
];

const ACTIONS: &[&str] = &[
    "send_template",
    "send_text",
    "send_media",
    "send_buttons",
    "send_campaign",
    "set_access_token",
    "rotate_key",
    "account_compromised",
    "register",
    "tick",
];

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.display().to_string(),
            message: format!("cannot read it: {e}"),
        })?;
        Scenario::from_toml(&text, path)
    }

    /// Parses a scenario from TOML text; `path` names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let fail = |message: String| ScenarioError {
            file: path.display().to_string(),
            message,
        };
        let table: toml::Table =
            toml::from_str(text).map_err(|e| fail(e.to_string().trim_end().to_owned()))?;
        for key in table.keys() {
            if !TOP_FIELDS.contains(&key.as_str()) {
                return Err(fail(format!(
                    "unknown field `{key}`, expected one of {}",
                    TOP_FIELDS.join(", ")
                )));
            }
        }
        let string = |key: &str| -> Result<Option<String>, ScenarioError> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(other) => Err(fail(format!(
                    "{key}: expected a non-empty string, got {other}"
                ))),
            }
        };
        let name = string("name")?.ok_or_else(|| fail("missing field `name`".to_owned()))?;
        let description = string("description")?.unwrap_or_default();
        let profile = string("profile")?;
        if let Some(profile) = &profile
            && !PROFILES.contains(&profile.as_str())
        {
            return Err(fail(format!(
                "profile: unknown profile `{profile}`, expected one of {}",
                PROFILES.join(", ")
            )));
        }
        let world_overrides = match table.get("world") {
            None => None,
            Some(toml::Value::Table(world)) => Some(world.clone()),
            Some(other) => return Err(fail(format!("world: expected a table, got {other}"))),
        };
        let mut world = match &world_overrides {
            None => WorldSpec::default(),
            Some(world) => world_spec(world).map_err(|e| fail(e.to_string()))?,
        };
        match table.get("seed") {
            None => {}
            Some(toml::Value::Integer(seed)) if *seed >= 0 => world.seed = seed.unsigned_abs(),
            Some(other) => return Err(fail(format!("seed: expected a whole number, got {other}"))),
        }
        let checks = match table.get("checks") {
            None => None,
            Some(toml::Value::Array(ids)) => Some(
                ids.iter()
                    .map(|id| match id {
                        toml::Value::String(id) => Ok(id.clone()),
                        other => Err(fail(format!(
                            "checks: expected check ids such as \"CAP-001\", got {other}"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(fail(format!(
                    "checks: expected a list of check ids, got {other}"
                )));
            }
        };
        if let Some(ids) = &checks {
            for id in ids {
                if crate::checks::find(id).is_none() {
                    return Err(fail(format!(
                        "checks: unknown check `{id}` (`wasim checks` lists them)"
                    )));
                }
            }
        }
        let drain_ms = match table.get("drain") {
            None => DRAIN_DEFAULT_MS,
            Some(toml::Value::String(text)) => {
                duration::parse(text).map_err(|e| fail(format!("drain: {e}")))?
            }
            Some(other) => {
                return Err(fail(format!(
                    "drain: expected a duration such as \"2h\", got {other}"
                )));
            }
        };
        let settle_ms = match table.get("settle") {
            None => None,
            Some(toml::Value::String(text)) => Some(
                duration::parse(text)
                    .ok()
                    .filter(|ms| *ms <= SETTLE_MS_MAX)
                    .ok_or_else(|| fail(format!("settle: expected a wall-time duration up to 60s such as \"2s\", got `{text}`")))?,
            ),
            Some(other) => return Err(fail(format!("settle: expected a duration such as \"2s\", got {other}"))),
        };
        let surface = match table.get("surface") {
            None => SendSurface::Graph,
            Some(toml::Value::String(text)) if text == "graph" => SendSurface::Graph,
            Some(toml::Value::String(text)) if text == "d360" => SendSurface::D360,
            Some(other) => {
                return Err(fail(format!(
                    "surface: expected \"graph\" or \"d360\", got {other}"
                )));
            }
        };
        let steps = match table.get("step") {
            None => Vec::new(),
            Some(toml::Value::Array(steps)) => steps
                .iter()
                .enumerate()
                .map(|(index, step)| {
                    parse_step(step).map_err(|e| fail(format!("step {}: {e}", index + 1)))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(fail(format!("step: expected [[step]] tables, got {other}")));
            }
        };
        Ok(Scenario {
            name,
            description,
            file: path.to_owned(),
            world,
            world_overrides,
            profile,
            steps,
            checks,
            drain_ms,
            settle_ms,
            surface,
        })
    }

    /// A scenario of `steps` on the default world (generated ones), judged by the
    /// whole catalog.
    pub fn generated(name: &str, description: &str, seed: u64, steps: Vec<Step>) -> Scenario {
        let world = WorldSpec {
            seed,
            ..WorldSpec::default()
        };
        Scenario {
            name: name.to_owned(),
            description: description.to_owned(),
            file: PathBuf::from(format!("{name}.toml")),
            world,
            world_overrides: None,
            profile: None,
            steps,
            checks: None,
            drain_ms: DRAIN_DEFAULT_MS,
            settle_ms: None,
            surface: SendSurface::Graph,
        }
    }

    /// Runs the scenario on the default world with `overrides` (a world file's
    /// fields), keeping its seed.
    pub fn with_world(mut self, overrides: toml::Table) -> Result<Scenario, FieldError> {
        let seed = self.world.seed;
        self.world = world_spec(&overrides)?;
        self.world.seed = seed;
        self.world_overrides = Some(overrides);
        Ok(self)
    }

    /// The scenario as a file [`Scenario::from_toml`] reads back.
    pub fn to_toml(&self) -> String {
        let mut table = toml::Table::new();
        table.insert("name".to_owned(), self.name.clone().into());
        if !self.description.is_empty() {
            table.insert("description".to_owned(), self.description.clone().into());
        }
        if let Some(profile) = &self.profile {
            table.insert("profile".to_owned(), profile.clone().into());
        }
        if self.world.seed != WorldSpec::default().seed {
            table.insert(
                "seed".to_owned(),
                toml::Value::Integer(i64::try_from(self.world.seed).unwrap_or(i64::MAX)),
            );
        }
        if let Some(checks) = &self.checks {
            table.insert(
                "checks".to_owned(),
                toml::Value::Array(checks.iter().map(|c| c.clone().into()).collect()),
            );
        }
        if self.drain_ms != DRAIN_DEFAULT_MS {
            table.insert("drain".to_owned(), format!("{}ms", self.drain_ms).into());
        }
        if let Some(settle) = self.settle_ms {
            table.insert("settle".to_owned(), format!("{settle}ms").into());
        }
        if self.surface != SendSurface::Graph {
            table.insert("surface".to_owned(), self.surface.name().into());
        }
        let steps: Vec<toml::Value> = self
            .steps
            .iter()
            .filter_map(|step| toml_value(&step.to_json()))
            .collect();
        table.insert("step".to_owned(), toml::Value::Array(steps));
        if let Some(world) = &self.world_overrides {
            let mut world = world.clone();
            // The seed is written at the top; the world's own would contradict it.
            world.remove("seed");
            if !world.is_empty() {
                table.insert("world".to_owned(), toml::Value::Table(world));
            }
        }
        toml::to_string(&table).unwrap_or_default()
    }

    /// Whether any step needs the integration's driver hook.
    pub fn needs_driver(&self) -> bool {
        self.steps.iter().any(Step::needs_driver)
    }

    /// The timeline in words, for `wasim run --explain`.
    pub fn explain(&self) -> String {
        let mut out = format!("{} ({})\n", self.name, self.file.display());
        if !self.description.is_empty() {
            out.push_str(&format!("  {}\n", self.description));
        }
        out.push_str(&format!(
            "  world: seed {}, policy {}{}\n",
            self.world.seed,
            self.profile
                .as_deref()
                .unwrap_or("from the world (default 2024-05)"),
            if self.needs_driver() {
                ", needs the driver hook (POST /wasim/actions)"
            } else {
                ""
            }
        ));
        out.push_str("  the integration starts and its webhook is verified\n");
        let mut at_ms = 0u64;
        for (index, step) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "  {:>2}. +{} {step}\n",
                index + 1,
                duration::words(at_ms)
            ));
            if let Step::Advance { ms } = step {
                at_ms += ms;
            }
        }
        out.push_str(&format!(
            "  then {} of virtual time drains due timers and webhooks\n",
            duration::words(self.drain_ms)
        ));
        let checks = match &self.checks {
            Some(ids) => ids.join(", "),
            None => "every check in the catalog".to_owned(),
        };
        out.push_str(&format!("  judged by: {checks}\n"));
        out
    }
}

/// The default world with `overrides` (a world file's fields).
fn world_spec(overrides: &toml::Table) -> Result<WorldSpec, FieldError> {
    WorldSpec::from_table(overrides).map_err(|error| match error {
        WorldError::Field(field) => field.within("world"),
        WorldError::Toml(message) => FieldError::new("world", message),
    })
}

impl Step {
    /// A step from its scenario-file form as JSON (`{"advance": "1h"}`).
    pub fn from_json(value: &Value) -> Result<Step, FieldError> {
        let table =
            toml_value(value).ok_or_else(|| FieldError::new("", format!("not a step: {value}")))?;
        parse_step(&table)
    }
}

fn parse_step(step: &toml::Value) -> Result<Step, FieldError> {
    let toml::Value::Table(table) = step else {
        return Err(FieldError::new(
            "",
            format!("expected a table such as {{ advance = \"1h\" }}, got {step}"),
        ));
    };
    let kinds: Vec<&String> = table.keys().collect();
    let [kind] = kinds.as_slice() else {
        return Err(FieldError::new(
            "",
            format!(
                "expected exactly one of {}, got {}",
                STEP_KINDS.join(", "),
                if kinds.is_empty() {
                    "none".to_owned()
                } else {
                    kinds
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    };
    let kind = kind.as_str();
    let value =
        serde_json::to_value(&table[kind]).map_err(|e| FieldError::new(kind, e.to_string()))?;
    let within = |error: FieldError| error.within(kind);
    match kind {
        "inbound" => parse_inbound(&value).map_err(within),
        "ecosystem_marketing" => {
            let object = fields::object(&value, kind)?;
            fields::known(object, &["to", "count"]).map_err(within)?;
            let count = fields::optional_whole(object, "count", 1..=1000).map_err(within)?;
            Ok(Step::EcosystemMarketing {
                to: fields::string(object, "to").map_err(within)?,
                count: count.map_or(1, |count| u32::try_from(count).unwrap_or(1)),
            })
        }
        "advance" => match &value {
            Value::String(text) => Ok(Step::Advance {
                ms: duration::parse(text).map_err(|e| FieldError::new(kind, e.to_string()))?,
            }),
            other => Err(FieldError::new(
                kind,
                format!("expected a duration such as \"2h\", got {other}"),
            )),
        },
        "faults" => FaultProfile::from_json("faults", &value).map(Step::Faults),
        "heal" | "verify" | "rotate_access_token" => match value {
            Value::Bool(true) => Ok(match kind {
                "heal" => Step::Heal,
                "verify" => Step::Verify,
                _ => Step::RotateAccessToken,
            }),
            other => Err(FieldError::new(
                kind,
                format!("expected `{kind} = true`, got {other}"),
            )),
        },
        "action" => parse_action(value).map_err(within),
        "incident" => wasim_sim::model::Incident::from_json(&value)
            .map(Step::Incident)
            .map_err(within),
        "template" => {
            let mut object = fields::object(&value, kind)?.clone();
            let name = fields::string(&object, "name").map_err(within)?;
            object.remove("name");
            let control = TemplateControl::from_json(&object).map_err(within)?;
            Ok(Step::Template { name, control })
        }
        other => Err(FieldError::new(
            "",
            format!(
                "unknown step `{other}`, expected one of {}",
                STEP_KINDS.join(", ")
            ),
        )),
    }
}

fn parse_inbound(value: &Value) -> Result<Step, FieldError> {
    let object = fields::object(value, "")?;
    let mut known = vec!["from", "phone_number_id"];
    known.extend(InboundContent::KINDS);
    fields::known(object, &known)?;
    Ok(Step::Inbound {
        from: fields::string(object, "from")?,
        content: InboundContent::from_json(object)?,
        phone_number_id: fields::optional_string(object, "phone_number_id")?,
    })
}

fn parse_action(value: Value) -> Result<Step, FieldError> {
    let object = fields::object(&value, "")?;
    let kind = fields::string(object, "action")?;
    fields::listed("action", "action", &kind, ACTIONS)?;
    match kind.as_str() {
        "set_access_token" | "tick" => {
            fields::known(object, &["action"])?;
            return Ok(Step::Action(value));
        }
        "rotate_key" => {
            fields::known(object, &["action", "channel_id"])?;
            fields::string(object, "channel_id")?;
            return Ok(Step::Action(value));
        }
        "account_compromised" => {
            fields::known(
                object,
                &["action", "phone_number_id", "channel_id", "resume_after_s"],
            )?;
            fields::string(object, "phone_number_id")?;
            fields::string(object, "channel_id")?;
            let most = DURATION_MS_MAX / 1000;
            if object
                .get("resume_after_s")
                .is_none_or(|v| v.as_u64().is_none_or(|s| s > most))
            {
                return Err(FieldError::new(
                    "resume_after_s",
                    format!("expected a whole number of seconds up to {most} (30 days)"),
                ));
            }
            return Ok(Step::Action(value));
        }
        "register" => {
            fields::known(object, &["action", "phone_number_id", "pin"])?;
            fields::string(object, "phone_number_id")?;
            let pin = fields::string(object, "pin")?;
            if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::new("pin", "expected 6 digits"));
            }
            return Ok(Step::Action(value));
        }
        _ => {}
    }
    match kind.as_str() {
        "send_campaign" => {
            let Some(Value::Array(to)) = object.get("to") else {
                return Err(FieldError::new(
                    "to",
                    "send_campaign needs a list of wa_ids",
                ));
            };
            if to.is_empty() || !to.iter().all(|t| t.as_str().is_some_and(|t| !t.is_empty())) {
                return Err(FieldError::new(
                    "to",
                    "expected a non-empty list of wa_id strings",
                ));
            }
        }
        _ => {
            fields::string(object, "to")?;
        }
    }
    match kind.as_str() {
        "send_text" => {
            fields::known(object, &["action", "to", "text"])?;
            fields::string(object, "text")?;
        }
        "send_media" => {
            fields::known(object, &["action", "to", "media"])?;
            let media = object
                .get("media")
                .ok_or_else(|| FieldError::new("media", "missing"))
                .and_then(|m| fields::object(m, "media"))?;
            let within = |e: FieldError| e.within("media");
            fields::known(media, &["type", "link", "caption", "filename"]).map_err(within)?;
            let kind = fields::string(media, "type").map_err(within)?;
            if !["image", "document", "audio", "video", "sticker"].contains(&kind.as_str()) {
                return Err(FieldError::new(
                    "media.type",
                    "expected image, document, audio, video or sticker",
                ));
            }
            fields::string(media, "link").map_err(within)?;
            fields::optional_string(media, "caption").map_err(within)?;
            fields::optional_string(media, "filename").map_err(within)?;
        }
        "send_buttons" => {
            fields::known(object, &["action", "to", "text", "buttons"])?;
            fields::string(object, "text")?;
            let buttons = match object.get("buttons") {
                Some(Value::Array(buttons)) if (1..=3).contains(&buttons.len()) => buttons,
                _ => {
                    return Err(FieldError::new(
                        "buttons",
                        "expected a list of 1 to 3 {id, title} tables",
                    ));
                }
            };
            for button in buttons {
                let button = fields::object(button, "buttons[]")?;
                fields::known(button, &["id", "title"]).map_err(|e| e.within("buttons[]"))?;
                fields::string(button, "id").map_err(|e| e.within("buttons[]"))?;
                fields::string(button, "title").map_err(|e| e.within("buttons[]"))?;
            }
        }
        _ => {
            fields::known(object, &["action", "to", "template"])?;
            let template = object
                .get("template")
                .ok_or_else(|| FieldError::new("template", "missing"))
                .and_then(|t| fields::object(t, "template"))?;
            fields::known(template, &["name", "language", "parameters"])
                .map_err(|e| e.within("template"))?;
            fields::string(template, "name").map_err(|e| e.within("template"))?;
            fields::string(template, "language").map_err(|e| e.within("template"))?;
        }
    }
    Ok(Step::Action(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::from_toml(text, Path::new("scenarios/test.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_scenario_parses_and_explains_itself() {
        let scenario = parse(
            r#"
name = "cap"
description = "capped"
profile = "2025-07"
seed = 9
checks = ["CAP-001"]
drain = "25h"
[world.recipients]
count = 10
[[step]]
ecosystem_marketing = { to = "919812345678", count = 2 }
[[step]]
action = { action = "send_template", to = "919812345678", template = { name = "spring_sale", language = "en_US" } }
[[step]]
advance = "2h"
[[step]]
inbound = { from = "919812345678", button_reply = { id = "y", title = "Yes" } }
[[step]]
faults = { duplicate = "1/2" }
[[step]]
heal = true
"#,
        )
        .unwrap();
        assert_eq!(scenario.world.seed, 9);
        assert_eq!(scenario.world.recipients.count, 10);
        assert_eq!(scenario.drain_ms, 25 * 3_600_000);
        assert_eq!(scenario.steps.len(), 6);
        assert!(scenario.needs_driver());
        let explained = scenario.explain();
        assert!(
            explained.contains("3. +0s virtual time advances by 2h"),
            "{explained}"
        );
        assert!(
            explained.contains("4. +2h user 919812345678 taps the reply button \"Yes\""),
            "{explained}"
        );
        assert!(
            explained.contains("webhook faults begin: duplicate 1/2"),
            "{explained}"
        );
    }

    #[test]
    fn inbound_media_location_contacts_and_reaction_steps_parse_explain_and_round_trip() {
        let scenario = parse(
            r#"
name = "media"
[[step]]
inbound = { from = "5511987654321", image = { caption = "Broken?", data = "iVBORw0KGgo=", mime_type = "image/png" } }
[[step]]
inbound = { from = "5511987654321", document = { filename = "invoice.pdf" } }
[[step]]
inbound = { from = "5511987654321", location = { latitude = 52.52, longitude = 13.405 } }
[[step]]
inbound = { from = "5511987654321", contacts = [{ name = { formatted_name = "Ana" } }] }
[[step]]
inbound = { from = "5511987654321", reaction = { message_id = "wamid.x", emoji = "👍" } }
"#,
        )
        .unwrap();
        assert_eq!(scenario.steps.len(), 5);
        let explained = scenario.explain();
        for expected in [
            "user 5511987654321 sends image (image/png)",
            "user 5511987654321 sends document (application/pdf)",
            "user 5511987654321 shares the location 52.52, 13.405",
            "user 5511987654321 shares 1 contact(s)",
            "user 5511987654321 reacts 👍 to wamid.x",
        ] {
            assert!(explained.contains(expected), "{expected}: {explained}");
        }
        for step in &scenario.steps {
            assert_eq!(
                &Step::from_json(&step.to_json()).expect("reads back"),
                step,
                "{}",
                step.to_json()
            );
        }
        let Step::Inbound {
            content: InboundContent::Media(image),
            ..
        } = &scenario.steps[0]
        else {
            panic!("an image step");
        };
        assert_eq!(image.data.as_deref(), Some(&b"\x89PNG\r\n\x1a\n"[..]));
    }

    #[test]
    fn errors_name_the_file_the_step_and_the_field() {
        let cases = [
            (
                "description = \"x\"",
                "scenarios/test.toml: missing field `name`",
            ),
            ("name = \"x\"\nmystery = 1", "unknown field `mystery`"),
            (
                "name = \"x\"\nprofile = \"1999\"",
                "profile: unknown profile `1999`",
            ),
            (
                "name = \"x\"\nchecks = [\"NOPE-1\"]",
                "checks: unknown check `NOPE-1`",
            ),
            (
                "name = \"x\"\n[[step]]\nadvance = \"2 weeks\"",
                "step 1: advance: unknown unit",
            ),
            (
                "name = \"x\"\n[[step]]\nadvance = \"1h\"\nheal = true",
                "step 1: expected exactly one of",
            ),
            (
                "name = \"x\"\n[[step]]\ninbound = { text = \"hi\" }",
                "step 1: inbound.from: missing",
            ),
            (
                "name = \"x\"\n[[step]]\nfaults = { duplicate = \"5/4\" }",
                "step 1: faults.duplicate",
            ),
            (
                "name = \"x\"\n[[step]]\naction = { action = \"fly\", to = \"1\" }",
                "step 1: action.action: unknown action `fly`",
            ),
            (
                "name = \"x\"\n[[step]]\naction = { action = \"send_template\", to = \"1\" }",
                "step 1: action.template: missing",
            ),
            (
                "name = \"x\"\n[world]\nseed = \"x\"",
                "world.seed: invalid type",
            ),
            (
                "name = \"x\"\n[[step]]\nadvance = \"1h\"\n[world]\nrecipients.count = \"many\"",
                "world.recipients.count: invalid type: string \"many\"",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text);
            assert!(error.contains(expected), "{text}\n→ {error}");
            assert!(error.starts_with("scenarios/test.toml: "), "{error}");
        }
    }
}
