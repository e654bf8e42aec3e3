//! Template quality, pausing and pacing
//! (<https://developers.facebook.com/docs/whatsapp/template-quality>,
//! <https://developers.facebook.com/docs/whatsapp/template-pausing>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-pacing>).
//!
//! - **Pausing**: a template whose quality reaches `RED` is paused: 3 h the first
//!   time, 6 h the second, disabled the third (`pause_hours`). Sends while paused get
//!   132015 at once, after disablement 132016. A pause ends on its own (status
//!   `APPROVED`, `other_info.title = UNPAUSE`), except a pause decided by pacing,
//!   which needs a manual unpause (`POST /{template-id}/unpause`).
//! - **Pacing**: a marketing template that is new, was unpaused, or is not `GREEN`
//!   (a utility template likewise, but only within 7 days after one of the WABA's
//!   utility templates was paused) sends `pacing_threshold` messages normally;
//!   later sends answer `held_for_quality_assessment` and wait. Within
//!   `pacing_decision_ms` the held messages are released (`GREEN`, then their
//!   statuses) or, when the sent ones drew too much negative feedback
//!   (`pacing_bad_ratio`), the template is paused and each held message fails
//!   with 132015.
//!
//! Feedback is drawn per sent message from the template's `negative` ratio on the
//! world's seeded feedback stream; QA can force any step through the control API.

use serde_json::{Value, json};

use super::components::{Components, ParameterFormat};
use super::error::{PlatformError, code};
use super::fields::FieldError;
use super::id::{TemplateId, WabaId};
use super::payload;
use super::refusal::{Object, Refusal};
use super::rng::Ratio;
use super::secret::Secret;
use super::spec::{Category, Quality, TemplateStatus};
use super::state::{StatusKind, Timer};
use super::time::{HOUR_MS, SimTime};
use super::webhooks::Route;
use super::{Effect, Reply, TemplateList, World};
use crate::trace::TraceEvent;

/// Days after a utility template's pause in which utility templates may be paced.
pub const UTILITY_PACING_DAYS: u64 = 7;

/// A template's pacing round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Messages sent normally in this round.
    pub sent: u32,
    /// Held messages: wamid and whether each would then be delivered or fail.
    pub(crate) held: Vec<(u64, super::send::Fate)>,
    /// The round's number (timers of earlier rounds are stale).
    pub round: u64,
}

/// What happens to a template send that passed every other rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Send normally.
    Send,
    /// Hold for the pacing decision.
    Hold,
}

/// How a pacing round ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacingOutcome {
    /// Good feedback: held messages are sent.
    Release,
    /// Bad feedback: the template is paused; held messages fail with 132015.
    Pause,
}

/// Runtime template state kept beside its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateLife {
    /// Pauses so far.
    pub pauses: u32,
    /// The pause's number when paused (timers of other pauses are stale).
    pub pause_epoch: u64,
    /// Whether the current pause needs a manual unpause (decided by pacing).
    pub manual_unpause: bool,
    /// Unpaused since its last pacing decision: pacing applies again.
    pub unpaused: bool,
    /// Created in this world (pacing applies to new templates).
    pub created: bool,
    /// The share of recipients who react badly (block, report).
    pub negative: Option<Ratio>,
    /// The pacing round in progress, if any.
    pub pacing: Option<Pacing>,
    /// Sent messages and negative reactions in the current quality window.
    pub window: (u32, u32),
}

impl World {
    fn template_index(&self, name: &str) -> Option<usize> {
        self.templates.iter().position(|t| t.name == name)
    }

    /// The code a send of template `index` is refused with at once, if paused or
    /// disabled.
    pub(crate) fn template_refusal(&self, index: usize) -> Option<u32> {
        match self.templates[index].status {
            TemplateStatus::Paused => Some(code::TEMPLATE_PAUSED),
            TemplateStatus::Disabled => Some(code::TEMPLATE_DISABLED),
            _ => None,
        }
    }

    /// Whether a send of template `index` that passed every other rule is sent or
    /// held at `now` (and counts it toward the pacing threshold).
    pub(crate) fn template_gate(&mut self, index: usize, now: SimTime) -> Gate {
        let template = &self.templates[index];
        let new_or_unpaused = template.life.created || template.life.unpaused;
        let eligible = match template.category {
            Category::Marketing => new_or_unpaused || template.quality != Quality::Green,
            Category::Utility => {
                self.utility_paused_at
                    .is_some_and(|at| now < at.plus_ms(UTILITY_PACING_DAYS * 24 * HOUR_MS))
                    && (new_or_unpaused || template.quality != Quality::Green)
            }
            Category::Authentication => false,
        };
        if !eligible {
            return Gate::Send;
        }
        let threshold = self.policy.pacing_threshold;
        if self.templates[index].life.pacing.is_none() {
            self.pacing_rounds += 1;
            self.templates[index].life.pacing = Some(Pacing {
                round: self.pacing_rounds,
                ..Pacing::default()
            });
        }
        let Some(pacing) = self.templates[index].life.pacing.as_mut() else {
            return Gate::Send;
        };
        if pacing.sent < threshold && pacing.held.is_empty() {
            pacing.sent += 1;
            Gate::Send
        } else {
            Gate::Hold
        }
    }

    /// Holds message `message_id` of template `index` for the pacing decision.
    pub(crate) fn hold(
        &mut self,
        index: usize,
        now: SimTime,
        message: u64,
        message_id: &str,
        fate: super::send::Fate,
        effects: &mut Vec<Effect>,
    ) {
        let decision_ms = self.policy.pacing_decision_ms;
        let Some(pacing) = self.templates[index].life.pacing.as_mut() else {
            return;
        };
        let first = pacing.held.is_empty();
        pacing.held.push((message, fate));
        let round = pacing.round;
        let held = pacing.held.len();
        let template = self.templates[index].name.clone();
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::MessageHeld {
                message_id: message_id.to_owned(),
                template: template.clone(),
                held,
            },
        });
        if first {
            self.schedule(
                now.plus_ms(decision_ms),
                Timer::PacingDecision {
                    template: index,
                    round,
                },
            );
        }
    }

    /// Decides template `index`'s pacing round (a timer, or forced through the
    /// control API).
    pub(crate) fn decide_pacing(
        &mut self,
        at: SimTime,
        index: usize,
        round: u64,
        forced: Option<PacingOutcome>,
        effects: &mut Vec<Effect>,
    ) -> Result<PacingOutcome, Refusal> {
        match &self.templates[index].life.pacing {
            None => {
                return Err(Refusal::Invalid(format!(
                    "template `{}` is not being paced",
                    self.templates[index].name
                )));
            }
            Some(pacing) if pacing.round != round => {
                return Err(Refusal::Invalid("stale pacing round".to_owned()));
            }
            Some(_) => {}
        }
        // Taken, not cloned: the round ends here, and `held` may list every
        // message of a campaign.
        let pacing = self.templates[index].life.pacing.take().unwrap_or_default();
        let outcome = forced.unwrap_or_else(|| {
            let negative = self.templates[index]
                .life
                .negative
                .unwrap_or(self.policy.template_negative_ratio);
            let negatives = (0..pacing.sent)
                .filter(|_| self.feedback_rng.chance(negative))
                .count() as u64;
            let bad = self.policy.pacing_bad_ratio;
            let sent = u64::from(pacing.sent.max(1));
            if negatives * u64::from(bad.denominator) >= sent * u64::from(bad.numerator)
                && bad.numerator > 0
            {
                PacingOutcome::Pause
            } else {
                PacingOutcome::Release
            }
        });
        let template = self.templates[index].name.clone();
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::PacingDecided {
                template: template.clone(),
                outcome: match outcome {
                    PacingOutcome::Release => "released",
                    PacingOutcome::Pause => "paused",
                }
                .to_owned(),
                held: pacing.held.len(),
                sent: pacing.sent,
            },
        });
        self.templates[index].life.unpaused = false;
        self.templates[index].life.created = false;
        match outcome {
            PacingOutcome::Release => {
                self.set_quality(at, index, Quality::Green, effects);
                for (message, fate) in pacing.held {
                    super::send::release(self, at, message, fate);
                }
            }
            PacingOutcome::Pause => {
                self.pause_template(at, index, true, effects);
                for (message, _) in pacing.held {
                    self.schedule(
                        at,
                        Timer::Status {
                            message,
                            status: StatusKind::Failed,
                            error_code: Some(code::TEMPLATE_PAUSED),
                        },
                    );
                }
                self.set_quality(at, index, Quality::Red, effects);
            }
        }
        Ok(outcome)
    }

    /// Changes template `index`'s quality; `RED` pauses it (unless pacing decided).
    pub(crate) fn set_quality(
        &mut self,
        at: SimTime,
        index: usize,
        quality: Quality,
        effects: &mut Vec<Effect>,
    ) {
        let previous = self.templates[index].quality;
        if previous == quality {
            return;
        }
        self.templates[index].quality = quality;
        let template = &self.templates[index];
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::TemplateQuality {
                template: template.name.clone(),
                previous: quality_name(previous).to_owned(),
                quality: quality_name(quality).to_owned(),
            },
        });
        let value = payload::template_quality(template, previous, quality);
        self.emit_account_change(at, "message_template_quality_update", value);
        if quality == Quality::Red && self.templates[index].status == TemplateStatus::Approved {
            self.pause_template(at, index, false, effects);
        }
    }

    /// Pauses template `index`: 3 h, then 6 h, then disabled (`pause_hours`).
    pub(crate) fn pause_template(
        &mut self,
        at: SimTime,
        index: usize,
        by_pacing: bool,
        effects: &mut Vec<Effect>,
    ) {
        let pause_hours = self.policy.pause_hours.clone();
        let template = &mut self.templates[index];
        if matches!(
            template.status,
            TemplateStatus::Paused | TemplateStatus::Disabled
        ) {
            return;
        }
        template.life.pauses += 1;
        template.life.pause_epoch += 1;
        let pauses = template.life.pauses as usize;
        let disabled = pauses > pause_hours.len();
        let (event, title, description) = payload::pause_notice(pauses, pause_hours.len());
        if disabled {
            template.status = TemplateStatus::Disabled;
        } else {
            template.status = TemplateStatus::Paused;
            template.life.manual_unpause = by_pacing;
        }
        let epoch = template.life.pause_epoch;
        let category = template.category;
        let name = template.name.clone();
        let until = (!disabled && !by_pacing)
            .then(|| at.plus_ms(pause_hours[pauses - 1].saturating_mul(HOUR_MS)));
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::TemplateStatus {
                template: name,
                event: event.to_owned(),
                detail: match (disabled, until) {
                    (true, _) => "disabled: sends now fail with 132016".to_owned(),
                    (false, Some(until)) => format!(
                        "{title}: sends fail with 132015 until +{} h",
                        (until.as_ms() - at.as_ms()) / HOUR_MS
                    ),
                    (false, None) => {
                        format!("{title} by pacing: sends fail with 132015 until unpaused by hand")
                    }
                },
            },
        });
        let mut value = self.template_status_value(index, event);
        value["other_info"] = json!({"title": title, "description": description});
        if disabled {
            value["disable_info"] = json!({"disable_date": self.unix_seconds(at)});
        }
        self.emit_account_change(at, "message_template_status_update", value);
        if category == Category::Utility {
            self.utility_paused_at = Some(at);
        }
        if let Some(until) = until {
            self.schedule(
                until,
                Timer::TemplateUnpause {
                    template: index,
                    epoch,
                },
            );
        }
    }

    /// Ends template `index`'s pause (its time is up, or by hand).
    pub(crate) fn unpause_template(
        &mut self,
        at: SimTime,
        index: usize,
        effects: &mut Vec<Effect>,
    ) -> Result<(), Refusal> {
        let template = &mut self.templates[index];
        if template.status != TemplateStatus::Paused {
            return Err(Refusal::Invalid(format!(
                "template `{}` is not paused (status {:?})",
                template.name, template.status
            )));
        }
        template.status = TemplateStatus::Approved;
        template.life.unpaused = true;
        template.life.manual_unpause = false;
        template.life.pause_epoch += 1;
        let name = template.name.clone();
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::TemplateStatus {
                template: name,
                event: "APPROVED".to_owned(),
                detail: "UNPAUSE: the template can be sent again (and may be paced)".to_owned(),
            },
        });
        let mut value = self.template_status_value(index, "APPROVED");
        value["other_info"] = json!({
            "title": "UNPAUSE",
            "description": "Your WhatsApp message template has been unpaused.",
        });
        self.emit_account_change(at, "message_template_status_update", value);
        // Quality is reset from recent feedback: unknown until measured again.
        self.set_quality(at, index, Quality::Unknown, effects);
        Ok(())
    }

    /// A pause's timer: unpause unless the template was unpaused or paused anew.
    pub(crate) fn pause_ended(
        &mut self,
        at: SimTime,
        index: usize,
        epoch: u64,
        effects: &mut Vec<Effect>,
    ) {
        if self.templates[index].life.pause_epoch == epoch {
            let _ = self.unpause_template(at, index, effects);
        }
    }

    fn template_status_value(&self, index: usize, event: &str) -> Value {
        payload::template_status(&self.templates[index], event)
    }

    pub(crate) fn emit_account_change(&mut self, at: SimTime, field: &str, value: Value) {
        let body =
            payload::account_envelope(&self.spec.waba.id, self.unix_seconds(at), field, value);
        self.emit_change(field.to_owned(), Route::Waba, body);
    }

    /// A control command on a template, by name.
    pub(crate) fn template_control(
        &mut self,
        at: SimTime,
        name: &str,
        control: TemplateControl,
        effects: &mut Vec<Effect>,
    ) -> Result<String, Refusal> {
        let index = self
            .template_index(name)
            .ok_or_else(|| Refusal::not_found(Object::Template, name))?;
        match control {
            TemplateControl::Quality(quality) => {
                self.set_quality(at, index, quality, effects);
                Ok(format!("quality {}", quality_name(quality)))
            }
            TemplateControl::Negative(ratio) => {
                self.templates[index].life.negative = Some(ratio);
                Ok(format!("negative feedback {ratio}"))
            }
            TemplateControl::Decide(outcome) => {
                let round = self.templates[index]
                    .life
                    .pacing
                    .as_ref()
                    .map(|p| p.round)
                    .ok_or_else(|| {
                        Refusal::Invalid(format!("template `{name}` is not being paced"))
                    })?;
                self.decide_pacing(at, index, round, Some(outcome), effects)
                    .map(|o| format!("pacing decided: {o:?}"))
            }
            TemplateControl::Pause => {
                self.pause_template(at, index, false, effects);
                Ok("paused".to_owned())
            }
            TemplateControl::Unpause => self
                .unpause_template(at, index, effects)
                .map(|()| "unpaused".to_owned()),
            TemplateControl::Category(category) => {
                Ok(self.recategorize(at, index, category, effects))
            }
        }
    }

    /// Re-categorises template `index` as Meta's automated review may after
    /// approval, and says so in `template_category_update` (the completed
    /// change's shape:
    /// <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/template_category_update>).
    /// Messages already accepted keep their category; the impending-change notice
    /// (`correct_category`) is not simulated.
    fn recategorize(
        &mut self,
        at: SimTime,
        index: usize,
        category: Category,
        effects: &mut Vec<Effect>,
    ) -> String {
        let previous = self.templates[index].category;
        if previous == category {
            return format!("category already {}", category.name());
        }
        self.templates[index].category = category;
        let template = &self.templates[index];
        let detail = format!("category {} → {}", previous.name(), category.name());
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::TemplateStatus {
                template: template.name.clone(),
                event: "CATEGORY_UPDATE".to_owned(),
                detail: detail.clone(),
            },
        });
        let value = payload::template_category(template, previous);
        self.emit_account_change(at, "template_category_update", value);
        detail
    }

    /// Unpauses a template by its id (`POST /{template-id}/unpause`): `{"success":
    /// true}`, or `{"success": false, "reason": …}` when it is not paused.
    pub(crate) fn unpause_by_id(
        &mut self,
        at: SimTime,
        id: &TemplateId,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        let index = self
            .templates
            .iter()
            .position(|t| t.id == id.as_str())
            .ok_or_else(|| Refusal::not_found(Object::Template, id.as_str()))?;
        Ok(Reply::Json(
            match self.unpause_template(at, index, effects) {
                Ok(()) => json!({"success": true}),
                Err(refusal) => json!({"success": false, "reason": refusal.to_string()}),
            },
        ))
    }

    /// The WABA's templates as a list answers them (deleted ones left out).
    pub(crate) fn template_list(&self) -> TemplateList {
        TemplateList {
            waba_id: WabaId::from(self.spec.waba.id.as_str()),
            unix_now: self.unix_seconds(self.now),
            templates: self
                .templates
                .iter()
                .filter(|t| t.status != TemplateStatus::Deleted)
                .cloned()
                .collect(),
        }
    }
}

/// What the control API can do to a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateControl {
    /// Set its quality (`RED` pauses it).
    Quality(Quality),
    /// Set the share of recipients who react badly.
    Negative(Ratio),
    /// Decide its pacing round now.
    Decide(PacingOutcome),
    /// Pause it (escalating as a low-quality pause would).
    Pause,
    /// Unpause it.
    Unpause,
    /// Re-categorise it (`template_category_update`): sends from now on are of
    /// the new category.
    Category(Category),
}

/// The fields a template control accepts, as named in errors.
const CONTROLS: &str = "\"quality\": \"GREEN|YELLOW|RED|UNKNOWN\", \"negative\": \"N/D\", \"decide\": \"release|pause\", \"category\": \"MARKETING|UTILITY|AUTHENTICATION\", \"pause\": true or \"unpause\": true";

impl TemplateControl {
    /// Reads one control from an object of exactly one field
    /// (`{"quality": "RED"}`); the error names the field.
    pub fn from_json(
        object: &serde_json::Map<String, Value>,
    ) -> Result<TemplateControl, FieldError> {
        let [(key, value)] = object.iter().collect::<Vec<_>>()[..] else {
            return Err(FieldError::new(
                "",
                format!("pass exactly one of {CONTROLS}"),
            ));
        };
        let wrong = |problem: String| Err(FieldError::new(key.as_str(), problem));
        match (key.as_str(), value) {
            ("quality", Value::String(q)) => match q.as_str() {
                "GREEN" => Ok(TemplateControl::Quality(Quality::Green)),
                "YELLOW" => Ok(TemplateControl::Quality(Quality::Yellow)),
                "RED" => Ok(TemplateControl::Quality(Quality::Red)),
                "UNKNOWN" => Ok(TemplateControl::Quality(Quality::Unknown)),
                other => wrong(format!(
                    "expected GREEN, YELLOW, RED or UNKNOWN, got `{other}`"
                )),
            },
            ("negative", Value::String(ratio)) => match ratio.parse::<Ratio>() {
                Ok(ratio) => Ok(TemplateControl::Negative(ratio)),
                Err(error) => wrong(error.to_string()),
            },
            ("decide", Value::String(outcome)) => match outcome.as_str() {
                "release" => Ok(TemplateControl::Decide(PacingOutcome::Release)),
                "pause" => Ok(TemplateControl::Decide(PacingOutcome::Pause)),
                other => wrong(format!("expected release or pause, got `{other}`")),
            },
            ("category", Value::String(category)) => match category.as_str() {
                "MARKETING" => Ok(TemplateControl::Category(Category::Marketing)),
                "UTILITY" => Ok(TemplateControl::Category(Category::Utility)),
                "AUTHENTICATION" => Ok(TemplateControl::Category(Category::Authentication)),
                other => wrong(format!(
                    "expected MARKETING, UTILITY or AUTHENTICATION, got `{other}`"
                )),
            },
            ("pause", Value::Bool(true)) => Ok(TemplateControl::Pause),
            ("unpause", Value::Bool(true)) => Ok(TemplateControl::Unpause),
            (_, value) => wrong(format!(
                "unexpected {value}; pass exactly one of {CONTROLS}"
            )),
        }
    }

    /// The control as [`TemplateControl::from_json`] reads it.
    pub fn to_json(&self) -> Value {
        match self {
            TemplateControl::Quality(quality) => json!({"quality": quality_name(*quality)}),
            TemplateControl::Negative(ratio) => json!({"negative": ratio.to_string()}),
            TemplateControl::Decide(PacingOutcome::Release) => json!({"decide": "release"}),
            TemplateControl::Decide(PacingOutcome::Pause) => json!({"decide": "pause"}),
            TemplateControl::Pause => json!({"pause": true}),
            TemplateControl::Unpause => json!({"unpause": true}),
            TemplateControl::Category(category) => json!({"category": category.name()}),
        }
    }
}

/// A quality as the API writes it.
pub fn quality_name(quality: Quality) -> &'static str {
    match quality {
        Quality::Green => "GREEN",
        Quality::Yellow => "YELLOW",
        Quality::Red => "RED",
        Quality::Unknown => "UNKNOWN",
    }
}

/// A template id as the webhooks write it: an integer when it is digits.
impl World {
    /// One more message of template `index` went out: its recipient's reaction is
    /// drawn, and at the end of each `quality_window` the quality is recomputed
    /// (`GREEN`, `YELLOW` at `quality_yellow_ratio`, `RED` at `quality_red_ratio`,
    /// which pauses the template).
    pub(crate) fn template_feedback(
        &mut self,
        at: SimTime,
        index: usize,
        effects: &mut Vec<Effect>,
    ) {
        let negative = self.templates[index]
            .life
            .negative
            .unwrap_or(self.policy.template_negative_ratio);
        let bad = self.feedback_rng.chance(negative);
        let window = self.policy.quality_window.max(1);
        let (sent, negatives) = &mut self.templates[index].life.window;
        *sent += 1;
        *negatives += u32::from(bad);
        if *sent < window {
            return;
        }
        let (sent, negatives) = (u64::from(*sent), u64::from(*negatives));
        self.templates[index].life.window = (0, 0);
        let reaches = |ratio: Ratio| {
            ratio.numerator > 0
                && negatives * u64::from(ratio.denominator) >= sent * u64::from(ratio.numerator)
        };
        let quality = if reaches(self.policy.quality_red_ratio) {
            Quality::Red
        } else if reaches(self.policy.quality_yellow_ratio) {
            Quality::Yellow
        } else {
            Quality::Green
        };
        self.set_quality(at, index, quality, effects);
    }
}

/// Longest template name: 512
/// (<https://docs.360dialog.com/partner/messaging/template-messages>).
pub const TEMPLATE_NAME_CHARS_MAX: usize = 512;

impl World {
    /// Checks a template-management credential: the bearer token with the WABA of
    /// the path on Graph, a known key on 360dialog.
    pub(crate) fn authorize_templates(
        &self,
        surface: super::Surface,
        credential: Option<&Secret>,
        waba_id: Option<&WabaId>,
    ) -> Result<(), Refusal> {
        match surface {
            super::Surface::Graph => {
                self.check_access_token(credential)?;
                match waba_id {
                    Some(id) if *id == self.spec.waba.id => Ok(()),
                    other => Err(Refusal::not_found(
                        Object::Waba,
                        other.map(WabaId::as_str).unwrap_or_default(),
                    )),
                }
            }
            super::Surface::D360 => self
                .authenticate(super::Surface::D360, credential, None)
                .map(|_| ()),
        }
    }

    /// Creates a template from a Graph-shaped body; it waits in review.
    pub(crate) fn create_template(
        &mut self,
        at: SimTime,
        body: &Value,
        effects: &mut Vec<Effect>,
    ) -> Result<usize, PlatformError> {
        let invalid = |message: String| PlatformError::new(code::INVALID_PARAMETER, message);
        let field = |name: &str| -> Result<String, PlatformError> {
            match body.get(name) {
                Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
                Some(other) => Err(invalid(format!(
                    "Param {name} must be a non-empty string, got {other}."
                ))),
                None => Err(invalid(format!("The parameter {name} is required."))),
            }
        };
        let name = field("name")?;
        if name.chars().count() > TEMPLATE_NAME_CHARS_MAX
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(invalid(format!(
                "Param name must be at most {TEMPLATE_NAME_CHARS_MAX} lowercase letters, digits and underscores, got `{name}`."
            )));
        }
        let language = field("language")?;
        let category = match field("category")?.as_str() {
            "MARKETING" => Category::Marketing,
            "UTILITY" => Category::Utility,
            "AUTHENTICATION" => Category::Authentication,
            other => {
                return Err(invalid(format!(
                    "Param category must be one of MARKETING, UTILITY, AUTHENTICATION, got `{other}`."
                )));
            }
        };
        let parameter_format = match body.get("parameter_format") {
            None | Some(Value::Null) => ParameterFormat::Positional,
            Some(Value::String(format)) if format.eq_ignore_ascii_case("POSITIONAL") => {
                ParameterFormat::Positional
            }
            Some(Value::String(format)) if format.eq_ignore_ascii_case("NAMED") => {
                ParameterFormat::Named
            }
            Some(other) => {
                return Err(invalid(format!(
                    "Param parameter_format must be POSITIONAL or NAMED, got {other}."
                )));
            }
        };
        let components = match body.get("components") {
            Some(Value::Array(components)) if !components.is_empty() => {
                Components::parse(category, parameter_format, components)?
            }
            _ => {
                return Err(invalid(
                    "The parameter components is required: a non-empty array.".to_owned(),
                ));
            }
        };
        if self.templates.iter().any(|t| {
            t.name == name && t.language == language && t.status != TemplateStatus::Deleted
        }) {
            return Err(invalid(format!(
                "Content in this language already exists: template {name} in {language}."
            )));
        }
        let id = format!("1300000000{:05}", self.templates.len() + 1);
        self.templates.push(super::Template {
            id: id.clone(),
            name: name.clone(),
            language,
            category,
            status: TemplateStatus::Pending,
            quality: Quality::Unknown,
            components,
            life: TemplateLife {
                created: true,
                ..TemplateLife::default()
            },
        });
        let index = self.templates.len() - 1;
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::TemplateStatus {
                template: name,
                event: "PENDING".to_owned(),
                detail: format!("created as {id}; in review"),
            },
        });
        self.schedule(
            at.plus_ms(self.policy.template_review_ms),
            Timer::TemplateReview { template: index },
        );
        Ok(index)
    }

    /// A review ends: approved, or rejected by the seeded rejection ratio.
    pub(crate) fn review_ended(&mut self, at: SimTime, index: usize, effects: &mut Vec<Effect>) {
        if self.templates[index].status != TemplateStatus::Pending {
            return;
        }
        let rejected = self
            .feedback_rng
            .chance(self.policy.template_rejection_ratio);
        let (status, event, reason) = if rejected {
            (TemplateStatus::Rejected, "REJECTED", "INCORRECT_CATEGORY")
        } else {
            (TemplateStatus::Approved, "APPROVED", "NONE")
        };
        self.templates[index].status = status;
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::TemplateStatus {
                template: self.templates[index].name.clone(),
                event: event.to_owned(),
                detail: format!("review ended (reason {reason})"),
            },
        });
        let mut value = self.template_status_value(index, event);
        value["reason"] = json!(reason);
        self.emit_account_change(at, "message_template_status_update", value);
    }

    /// Deletes every language of template `name`.
    pub(crate) fn delete_template(
        &mut self,
        at: SimTime,
        name: &str,
        effects: &mut Vec<Effect>,
    ) -> Result<(), PlatformError> {
        let indices: Vec<usize> = (0..self.templates.len())
            .filter(|i| {
                self.templates[*i].name == name
                    && self.templates[*i].status != TemplateStatus::Deleted
            })
            .collect();
        if indices.is_empty() {
            return Err(PlatformError::new(
                code::INVALID_PARAMETER,
                format!("Message template \"{name}\" not found."),
            ));
        }
        for index in indices {
            self.templates[index].status = TemplateStatus::Deleted;
            // Messages still held can no longer be sent.
            let held = self.templates[index]
                .life
                .pacing
                .take()
                .map(|pacing| pacing.held)
                .unwrap_or_default();
            for (message, _) in held {
                self.schedule(
                    at,
                    Timer::Status {
                        message,
                        status: StatusKind::Failed,
                        error_code: Some(code::TEMPLATE_NOT_FOUND),
                    },
                );
            }
            effects.push(Effect::Trace {
                at,
                event: TraceEvent::TemplateStatus {
                    template: name.to_owned(),
                    event: "DELETED".to_owned(),
                    detail: "deleted: sends fail with 132001".to_owned(),
                },
            });
            let mut value = self.template_status_value(index, "DELETED");
            value["reason"] = Value::Null;
            self.emit_account_change(at, "message_template_status_update", value);
        }
        Ok(())
    }
}
