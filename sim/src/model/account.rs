//! The account's health and what happens to it: 360dialog disabling and
//! re-enabling template messaging for a flagged WABA, Meta's violations,
//! restrictions and bans, a compromise (an unknown origin sends with the channel's
//! key until it is replaced), messaging-tier and number-quality changes, and the
//! countries Cloud API serves from a date.
//!
//! Each incident changes what sends answer and emits the webhooks the platform
//! sends for it: 360dialog's partner events (`template_messaging_disabled`,
//! `account_violation`, ...) and Meta's `account_update`,
//! `phone_number_quality_update` and `business_capability_update`.
//!
//! Sources: the 360dialog partner newsletter, 2024-05-09 (flagged WABAs, a compromise, Turkey);
//! <https://docs.360dialog.com/partner/onboarding/webhook-events-and-setup/webhook-events-partner-and-messaging-api>;
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update>;
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/phone_number_quality_update>;
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/business_capability_update>.

use serde_json::{Value, json};

use super::error::{PlatformError, code};
use super::fields::{self, FieldError};
use super::outgoing::{Outgoing, SendRequestError};
use super::refusal::{Object, Refusal};
use super::secret::Secret;
use super::send::Sender;
use super::spec::{Category, Quality};
use super::state::Timer;
use super::templates::quality_name;
use super::time::SimTime;
use super::webhooks::Route;
use super::{Effect, Recipient, Reply, Surface, World, send};
use crate::trace::TraceEvent;

/// The messaging tiers and the unique users a day each allows
/// (<https://developers.facebook.com/docs/whatsapp/messaging-limits>).
pub const TIERS: &[(&str, u32)] = &[
    ("TIER_250", 250),
    ("TIER_2K", 2_000),
    ("TIER_10K", 10_000),
    ("TIER_100K", 100_000),
    ("TIER_UNLIMITED", u32::MAX),
];

/// The restriction types Meta documents, calling variants aside
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update>).
pub const RESTRICTION_TYPES: &[&str] = &[
    "RESTRICTED_BIZ_INITIATED_MESSAGING",
    "RESTRICTED_CUSTOMER_INITIATED_MESSAGING",
    "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
    "RESTRICTED_UTILITY_TEMPLATES",
    "RESTRICTED_DIRECT_SEND_UTILITY_TEMPLATES",
];

/// Default seconds between an unknown origin's sends during a compromise.
pub const COMPROMISE_EVERY_S: u64 = 300;

/// Default number of sends an unknown origin attempts during a compromise.
pub const COMPROMISE_SENDS: u32 = 12;

/// Refused sends after which the unknown origin gives up.
const COMPROMISE_REFUSALS_MAX: u32 = 3;

/// Longest restriction an incident may ask for, in hours (one year).
pub const INCIDENT_HOURS_MAX: u64 = 365 * 24;

/// Longest an unknown origin may wait between its sends, in seconds (one day).
pub const COMPROMISE_EVERY_S_MAX: u64 = 24 * 3600;

/// Most sends one unknown origin may make.
pub const COMPROMISE_SENDS_MAX: u32 = 10_000;

/// The user id named as `requester` of `security` webhooks.
pub const SECURITY_REQUESTER: &str = "100000000000099";

/// Something that happens to the account, from a scenario step or the control API
/// (`POST /_wasim/account`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incident {
    /// 360dialog flags the WABA and disables its template messaging (partner
    /// webhook `template_messaging_disabled` per channel).
    DisableTemplates,
    /// 360dialog re-enables template messaging (`template_messaging_enabled`).
    EnableTemplates,
    /// Meta records a policy violation (`ACCOUNT_VIOLATION`, partner
    /// `account_violation`); sends are not affected.
    Violation {
        /// `violation_type`, e.g. `SCAM`.
        violation_type: String,
    },
    /// Meta restricts the account for `hours` (`ACCOUNT_RESTRICTION`, partner
    /// `account_restriction`). Under `RESTRICTED_BIZ_INITIATED_MESSAGING` templates
    /// and free-form outside the window are refused with 368; under
    /// `RESTRICTED_CUSTOMER_INITIATED_MESSAGING` free-form replies are.
    Restrict {
        /// `restriction_type`.
        restriction_type: String,
        /// How long, in hours.
        hours: u64,
    },
    /// Meta disables the account (`DISABLED_UPDATE` with `waba_ban_state` `DISABLE`):
    /// every send is refused with 131031 and the channels show `terminated`.
    Terminate,
    /// Meta reinstates it (`DISABLED_UPDATE`, `REINSTATE`); restrictions end too.
    Reinstate,
    /// An unknown origin starts sending marketing templates with the channel's
    /// current key, every `every_s` seconds, `sends` times or until the key is
    /// replaced.
    Compromise {
        /// The number whose key leaked (default: the first).
        phone_number_id: Option<String>,
        /// Seconds between its sends.
        every_s: u64,
        /// How many sends it attempts.
        sends: u32,
    },
    /// The WABA's messaging tier changes (`phone_number_quality_update` per number,
    /// `business_capability_update`).
    Tier {
        /// `TIER_250`, `TIER_2K`, `TIER_10K`, `TIER_100K` or `TIER_UNLIMITED`.
        tier: String,
    },
    /// A number's quality rating changes. Falling to `RED` flags it
    /// (`phone_number_quality_update` `FLAGGED`, status `FLAGGED`); leaving `RED`
    /// unflags it (`UNFLAGGED`): Meta's legacy quality events.
    Quality {
        /// The number (default: the first).
        phone_number_id: Option<String>,
        /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
        quality: Quality,
    },
    /// The WABA's setting `disable_marketing_messages_on_cloud_api` changes:
    /// with `enabled` false, marketing templates sent through Cloud API's
    /// `/messages` answer 131063 (the world file's `[waba] marketing_on_cloud_api`).
    /// No webhook tells of it (none is documented).
    MarketingOnCloudApi {
        /// Whether `/messages` takes marketing templates.
        enabled: bool,
    },
    /// A partner user is invited (Partner API user management, our shape).
    InvitePartnerUser {
        /// The user's email.
        email: String,
    },
    /// A partner user is removed: its password and bearer tokens stop working.
    RemovePartnerUser {
        /// The user's email.
        email: String,
    },
}

impl Incident {
    /// The names [`Incident::from_json`] accepts.
    pub const NAMES: &'static [&'static str] = &[
        "disable_templates",
        "enable_templates",
        "violation",
        "restrict",
        "terminate",
        "reinstate",
        "compromise",
        "tier",
        "quality",
        "marketing_on_cloud_api",
        "invite_partner_user",
        "remove_partner_user",
    ];

    /// The incident as [`Incident::from_json`] reads it.
    pub fn to_json(&self) -> Value {
        match self {
            Incident::DisableTemplates => json!({"incident": "disable_templates"}),
            Incident::EnableTemplates => json!({"incident": "enable_templates"}),
            Incident::Violation { violation_type } => {
                json!({"incident": "violation", "violation_type": violation_type})
            }
            Incident::Restrict {
                restriction_type,
                hours,
            } => {
                json!({"incident": "restrict", "restriction_type": restriction_type, "hours": hours})
            }
            Incident::Terminate => json!({"incident": "terminate"}),
            Incident::Reinstate => json!({"incident": "reinstate"}),
            Incident::Compromise {
                phone_number_id,
                every_s,
                sends,
            } => {
                let mut value =
                    json!({"incident": "compromise", "every_s": every_s, "sends": sends});
                if let Some(id) = phone_number_id {
                    value["phone_number_id"] = json!(id);
                }
                value
            }
            Incident::Tier { tier } => json!({"incident": "tier", "tier": tier}),
            Incident::Quality {
                phone_number_id,
                quality,
            } => {
                let mut value = json!({"incident": "quality", "quality": quality_name(*quality)});
                if let Some(id) = phone_number_id {
                    value["phone_number_id"] = json!(id);
                }
                value
            }
            Incident::MarketingOnCloudApi { enabled } => {
                json!({"incident": "marketing_on_cloud_api", "enabled": enabled})
            }
            Incident::InvitePartnerUser { email } => {
                json!({"incident": "invite_partner_user", "email": email})
            }
            Incident::RemovePartnerUser { email } => {
                json!({"incident": "remove_partner_user", "email": email})
            }
        }
    }

    /// Reads `{"incident": "restrict", "restriction_type": ..., "hours": 24}`; the
    /// error names the field.
    pub fn from_json(value: &Value) -> Result<Incident, FieldError> {
        let Some(object) = value.as_object() else {
            return Err(FieldError::new(
                "",
                "expected a JSON object such as {\"incident\": \"disable_templates\"}",
            ));
        };
        let name = object
            .get("incident")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                FieldError::new(
                    "incident",
                    format!("expected one of {}", Incident::NAMES.join(", ")),
                )
            })?;
        let known: &[&str] = match name {
            "violation" => &["violation_type"],
            "restrict" => &["restriction_type", "hours"],
            "compromise" => &["phone_number_id", "every_s", "sends"],
            "tier" => &["tier"],
            "quality" => &["phone_number_id", "quality"],
            "marketing_on_cloud_api" => &["enabled"],
            "invite_partner_user" | "remove_partner_user" => &["email"],
            _ => &[],
        };
        for key in object.keys() {
            if key != "incident" && !known.contains(&key.as_str()) {
                return Err(FieldError::new(
                    key.as_str(),
                    format!(
                        "unknown field for incident `{name}`{}",
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!(", expected {}", known.join(", "))
                        }
                    ),
                ));
            }
        }
        let text = |key: &str, default: Option<&str>| -> Result<String, FieldError> {
            match (object.get(key), default) {
                (None, Some(default)) => Ok(default.to_owned()),
                (None, None) => Err(FieldError::new(key, format!("missing (incident `{name}`)"))),
                _ => fields::string(object, key),
            }
        };
        let number = |key: &str, default: u64, max: u64| -> Result<u64, FieldError> {
            match object.get(key) {
                None => Ok(default),
                Some(value) => value
                    .as_u64()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        FieldError::new(
                            key,
                            format!("expected a whole number from 1 to {max}, got {value}"),
                        )
                    }),
            }
        };
        Ok(match name {
            "disable_templates" => Incident::DisableTemplates,
            "enable_templates" => Incident::EnableTemplates,
            "violation" => Incident::Violation {
                violation_type: text("violation_type", Some("SCAM"))?,
            },
            "restrict" => {
                let restriction_type = text(
                    "restriction_type",
                    Some("RESTRICTED_BIZ_INITIATED_MESSAGING"),
                )?;
                fields::listed(
                    "restriction_type",
                    "type",
                    &restriction_type,
                    RESTRICTION_TYPES,
                )?;
                Incident::Restrict {
                    restriction_type,
                    hours: number("hours", 24, INCIDENT_HOURS_MAX)?,
                }
            }
            "marketing_on_cloud_api" => match object.get("enabled") {
                Some(Value::Bool(enabled)) => Incident::MarketingOnCloudApi { enabled: *enabled },
                Some(other) => {
                    return Err(FieldError::new(
                        "enabled",
                        format!("expected true or false, got {other}"),
                    ));
                }
                None => {
                    return Err(FieldError::new(
                        "enabled",
                        format!("missing (incident `{name}`)"),
                    ));
                }
            },
            "terminate" => Incident::Terminate,
            "reinstate" => Incident::Reinstate,
            "compromise" => Incident::Compromise {
                phone_number_id: object
                    .get("phone_number_id")
                    .map(|_| text("phone_number_id", None))
                    .transpose()?,
                every_s: number("every_s", COMPROMISE_EVERY_S, COMPROMISE_EVERY_S_MAX)?,
                sends: u32::try_from(number(
                    "sends",
                    u64::from(COMPROMISE_SENDS),
                    u64::from(COMPROMISE_SENDS_MAX),
                )?)
                .unwrap_or(COMPROMISE_SENDS_MAX),
            },
            "tier" => {
                let tier = text("tier", None)?;
                let names: Vec<&str> = TIERS.iter().map(|(name, _)| *name).collect();
                fields::listed("tier", "tier", &tier, &names)?;
                Incident::Tier { tier }
            }
            "quality" => {
                let quality = match text("quality", None)?.as_str() {
                    "GREEN" => Quality::Green,
                    "YELLOW" => Quality::Yellow,
                    "RED" => Quality::Red,
                    "UNKNOWN" => Quality::Unknown,
                    other => {
                        return Err(FieldError::new(
                            "quality",
                            format!(
                                "unknown quality `{other}`, expected GREEN, YELLOW, RED or UNKNOWN"
                            ),
                        ));
                    }
                };
                Incident::Quality {
                    phone_number_id: object
                        .get("phone_number_id")
                        .map(|_| text("phone_number_id", None))
                        .transpose()?,
                    quality,
                }
            }
            "invite_partner_user" | "remove_partner_user" => {
                let email = text("email", None)?;
                if !email.contains('@') {
                    return Err(FieldError::new(
                        "email",
                        format!("expected an email address, got `{email}`"),
                    ));
                }
                if name == "invite_partner_user" {
                    Incident::InvitePartnerUser { email }
                } else {
                    Incident::RemovePartnerUser { email }
                }
            }
            other => {
                return Err(FieldError::new(
                    "incident",
                    format!(
                        "unknown incident `{other}`, expected one of {}",
                        Incident::NAMES.join(", ")
                    ),
                ));
            }
        })
    }
}

/// The trace record of something that happened to the account.
pub(crate) fn incident_record(
    at: SimTime,
    incident: &str,
    phone_number_id: Option<String>,
    detail: String,
) -> Effect {
    Effect::Trace {
        at,
        event: TraceEvent::AccountIncident {
            incident: incident.to_owned(),
            phone_number_id,
            detail,
        },
    }
}

/// An unknown origin holding a channel's key.
#[derive(Debug, Clone)]
pub(crate) struct Compromise {
    epoch: u64,
    phone: usize,
    key: Secret,
    every_ms: u64,
    left: u32,
    refused: u32,
}

/// The account's standing.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountState {
    /// 360dialog disabled template messaging.
    pub(crate) templates_disabled: bool,
    /// The restriction in force: type and expiry.
    pub(crate) restriction: Option<(String, SimTime)>,
    restriction_epoch: u64,
    /// Violations recorded, in order.
    pub(crate) violations: Vec<String>,
    /// When the account was disabled, while it is.
    pub(crate) terminated_at: Option<SimTime>,
    compromise: Option<Compromise>,
    compromise_epoch: u64,
    partner_events: u64,
}

impl World {
    /// Plays an incident; refused when it names an unknown number or user.
    pub(crate) fn incident(
        &mut self,
        now: SimTime,
        incident: Incident,
        effects: &mut Vec<Effect>,
    ) -> Result<String, Refusal> {
        let (name, phone, detail) = match incident {
            Incident::DisableTemplates => self.set_templates_disabled(now, true),
            Incident::EnableTemplates => self.set_templates_disabled(now, false),
            Incident::Violation { violation_type } => {
                self.account.violations.push(violation_type.clone());
                let extra = json!({"violation_type": violation_type});
                self.emit_partner_events(now, "account_violation", &extra);
                self.emit_account_updates(now, "ACCOUNT_VIOLATION", "violation_info", extra);
                (
                    "violation",
                    None,
                    format!("policy violation {violation_type}"),
                )
            }
            Incident::Restrict {
                restriction_type,
                hours,
            } => {
                let until = now.plus_hours(hours);
                self.account.restriction = Some((restriction_type.clone(), until));
                self.account.restriction_epoch += 1;
                self.timers.push(
                    until,
                    Timer::RestrictionEnds {
                        epoch: self.account.restriction_epoch,
                    },
                );
                let expiration = self.unix_seconds(until);
                let extra = json!({"restriction_type": restriction_type, "expiration": expiration});
                self.emit_partner_events(now, "account_restriction", &extra);
                let info = json!([extra]);
                self.emit_account_updates(now, "ACCOUNT_RESTRICTION", "restriction_info", info);
                (
                    "restrict",
                    None,
                    format!("{restriction_type} for {hours} h"),
                )
            }
            Incident::Terminate => {
                self.account.terminated_at = Some(now);
                self.emit_ban(now, "DISABLE");
                (
                    "terminate",
                    None,
                    "Meta disabled the account: every send is refused with 131031".to_owned(),
                )
            }
            Incident::Reinstate => {
                self.account.terminated_at = None;
                self.account.restriction = None;
                self.emit_ban(now, "REINSTATE");
                ("reinstate", None, "Meta reinstated the account".to_owned())
            }
            Incident::Compromise {
                phone_number_id,
                every_s,
                sends,
            } => {
                let index = match &phone_number_id {
                    None => 0,
                    Some(id) => self
                        .phone_numbers
                        .iter()
                        .position(|p| &p.spec.id == id)
                        .ok_or_else(|| Refusal::not_found(Object::PhoneNumber, id.as_str()))?,
                };
                let phone = self
                    .phone_numbers
                    .get(index)
                    .ok_or_else(|| Refusal::Invalid("the world has no phone numbers".to_owned()))?;
                let key = phone.spec.d360_api_key.clone();
                let id = phone.spec.id.clone();
                let every_ms = every_s.saturating_mul(1000);
                self.account.compromise_epoch += 1;
                let epoch = self.account.compromise_epoch;
                self.account.compromise = Some(Compromise {
                    epoch,
                    phone: index,
                    key: key.clone(),
                    every_ms,
                    left: sends,
                    refused: 0,
                });
                self.timers
                    .push(now.plus_ms(every_ms), Timer::UnknownOriginSend { epoch });
                (
                    "compromise",
                    Some(id),
                    format!(
                        "an unknown origin holds key {} and sends every {every_s} s",
                        key.fingerprint()
                    ),
                )
            }
            Incident::Tier { tier } => {
                let limit = TIERS
                    .iter()
                    .find(|(name, _)| *name == tier)
                    .map_or(self.spec.waba.messaging_limit, |(_, limit)| *limit);
                let old = tier_of(self.spec.waba.messaging_limit);
                if old == tier {
                    return Ok(format!("the messaging tier is already {tier}"));
                }
                self.spec.waba.messaging_limit = limit;
                let event = if limit >= tier_limit(old) {
                    "UPGRADE"
                } else {
                    "DOWNGRADE"
                };
                for phone in self.display_numbers() {
                    self.emit_account_change(
                        now,
                        "phone_number_quality_update",
                        json!({"display_phone_number": phone, "event": event,
                               "old_limit": old, "current_limit": tier,
                               "max_daily_conversations_per_business": tier}),
                    );
                }
                self.emit_account_change(
                    now,
                    "business_capability_update",
                    json!({"max_daily_conversations_per_business": tier,
                           "max_phone_numbers_per_waba": 25}),
                );
                ("tier", None, format!("messaging tier {old} → {tier}"))
            }
            Incident::Quality {
                phone_number_id,
                quality,
            } => {
                let index = match &phone_number_id {
                    None => 0,
                    Some(id) => self
                        .phone_index(id)
                        .ok_or_else(|| Refusal::not_found(Object::PhoneNumber, id.as_str()))?,
                };
                let phone = &mut self.phone_numbers[index].spec;
                let (id, display) = (phone.id.clone(), phone.display_phone_number.clone());
                let old = phone.quality;
                if old == quality {
                    return Ok(format!(
                        "the quality of {id} is already {}",
                        quality_name(quality)
                    ));
                }
                phone.quality = quality;
                let event = if quality == Quality::Red {
                    Some("FLAGGED")
                } else if old == Quality::Red {
                    Some("UNFLAGGED")
                } else {
                    None
                };
                if let Some(event) = event {
                    let tier = tier_of(self.spec.waba.messaging_limit);
                    self.emit_account_change(
                        now,
                        "phone_number_quality_update",
                        json!({"display_phone_number": display, "event": event,
                               "current_limit": tier,
                               "max_daily_conversations_per_business": tier}),
                    );
                }
                (
                    "quality",
                    Some(id),
                    format!(
                        "quality {} → {}{}",
                        quality_name(old),
                        quality_name(quality),
                        event.map_or_else(String::new, |e| format!(" ({e})"))
                    ),
                )
            }
            Incident::InvitePartnerUser { email } => {
                if self.partner_user_exists(&email) {
                    return Err(Refusal::Conflict(format!(
                        "partner user {email} already exists"
                    )));
                }
                let id = self.invite_partner_user(&email, "member");
                (
                    "invite_partner_user",
                    None,
                    format!("partner user {id} <{email}> invited"),
                )
            }
            Incident::MarketingOnCloudApi { enabled } => {
                self.spec.waba.marketing_on_cloud_api = enabled;
                let detail = if enabled {
                    "marketing templates are sent through /messages again"
                } else {
                    "disable_marketing_messages_on_cloud_api: marketing templates through /messages answer 131063"
                };
                ("marketing_on_cloud_api", None, detail.to_owned())
            }
            Incident::RemovePartnerUser { email } => {
                let id = self.remove_partner_user_by_email(&email)?;
                (
                    "remove_partner_user",
                    None,
                    format!("partner user {id} <{email}> removed: its tokens stop working"),
                )
            }
        };
        effects.push(incident_record(now, name, phone, detail.clone()));
        Ok(detail)
    }

    /// Disables or enables template messaging again, as 360dialog does, and tells
    /// the partner; answers the incident's name, number and description.
    fn set_templates_disabled(
        &mut self,
        now: SimTime,
        disabled: bool,
    ) -> (&'static str, Option<String>, String) {
        self.account.templates_disabled = disabled;
        let (name, event, detail) = if disabled {
            (
                "disable_templates",
                "template_messaging_disabled",
                "360dialog disabled template messaging for the WABA",
            )
        } else {
            (
                "enable_templates",
                "template_messaging_enabled",
                "360dialog enabled template messaging again",
            )
        };
        self.emit_partner_events(now, event, &json!({}));
        (name, None, detail.to_owned())
    }

    /// Posts an `account_update` change with `event` for every number, `info`
    /// under `info_key`.
    fn emit_account_updates(&mut self, now: SimTime, event: &str, info_key: &str, info: Value) {
        for phone in self.display_numbers() {
            let mut value = json!({"phone_number": phone, "event": event});
            value[info_key] = info.clone();
            self.emit_account_change(now, "account_update", value);
        }
    }

    fn display_numbers(&self) -> Vec<String> {
        self.phone_numbers
            .iter()
            .map(|p| p.spec.display_phone_number.clone())
            .collect()
    }

    fn emit_ban(&mut self, now: SimTime, state: &str) {
        let value = super::payload::ban(state, self.unix_seconds(now));
        self.emit_account_change(now, "account_update", value);
    }

    /// One partner event per channel of the WABA, `extra` merged into `data`.
    fn emit_partner_events(&mut self, now: SimTime, event: &str, extra: &Value) {
        for index in 0..self.phone_numbers.len() {
            self.account.partner_events += 1;
            let mut data = super::payload::channel_event_data(
                self.channel_object(index),
                &self.phone_numbers[index].spec,
            );
            if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
                for (key, value) in extra {
                    data.insert(key.clone(), value.clone());
                }
            }
            let body = super::payload::partner_event(
                self.account.partner_events,
                event,
                self.unix_seconds(now),
                data,
            );
            self.emit_change(event.to_owned(), Route::Partner, body);
        }
    }

    /// A restriction ends if it is still restriction `epoch`.
    pub(crate) fn restriction_ended(&mut self, at: SimTime, epoch: u64, effects: &mut Vec<Effect>) {
        if epoch != self.account.restriction_epoch {
            return;
        }
        if let Some((kind, _)) = self.account.restriction.take() {
            effects.push(incident_record(
                at,
                "restriction_lifted",
                None,
                format!("{kind} expired"),
            ));
        }
    }

    /// The unknown origin's next send with the key it holds.
    pub(crate) fn unknown_origin_send(
        &mut self,
        at: SimTime,
        epoch: u64,
        effects: &mut Vec<Effect>,
    ) {
        // A later compromise replaces an earlier one and its timers.
        if self
            .account
            .compromise
            .as_ref()
            .is_none_or(|c| c.epoch != epoch)
        {
            return;
        }
        let Some(mut compromise) = self.account.compromise.take() else {
            return;
        };
        if compromise.left == 0 || compromise.refused >= COMPROMISE_REFUSALS_MAX {
            return;
        }
        compromise.left -= 1;
        let to = self.incident_recipient();
        let template = self
            .templates
            .iter()
            .find(|t| t.category == Category::Marketing)
            .or(self.templates.first())
            .map(|t| (t.name.clone(), t.language.clone()));
        let phone_number_id = self.phone_numbers[compromise.phone].spec.id.clone();
        if let (Some(to), Some((name, language))) = (to, template) {
            let request = Outgoing::template(&to, &name, &language).ok_or_else(|| {
                SendRequestError::Invalid {
                    error: PlatformError::new(code::PARAMETER_INVALID, "not a phone number"),
                    to: Some(to.clone()),
                }
            });
            let reply = self
                .authenticate(Surface::D360, Some(&compromise.key), None)
                .and_then(|phone| {
                    send::send(
                        self,
                        at,
                        phone,
                        Sender::UnknownOrigin(Surface::D360),
                        (super::marketing_messages::SendEndpoint::Messages, request),
                        effects,
                    )
                });
            let (http_status, message_id) = match &reply {
                Ok(Reply::Sent { message_id, .. }) => (200, Some(message_id.to_string())),
                Err(Refusal::Unauthorized(_)) => (401, None),
                Err(Refusal::Platform(error)) => (error.http_status(), None),
                Err(Refusal::Blocked { http_status, .. }) => (*http_status, None),
                _ => (400, None),
            };
            if http_status == 401 {
                compromise.refused += 1;
            }
            effects.push(Effect::Trace {
                at,
                event: TraceEvent::UnknownOriginSend {
                    phone_number_id,
                    credential: compromise.key.fingerprint(),
                    to,
                    http_status,
                    message_id,
                },
            });
        }
        if compromise.left > 0 && compromise.refused < COMPROMISE_REFUSALS_MAX {
            self.timers.push(
                at.plus_ms(compromise.every_ms),
                Timer::UnknownOriginSend { epoch },
            );
        }
        self.account.compromise = Some(compromise);
    }

    /// A generated recipient for the unknown origin, drawn from the incident stream.
    fn incident_recipient(&mut self) -> Option<String> {
        let generated = self
            .recipients
            .iter()
            .filter(|r| r.background_ecosystem())
            .count();
        // Generated people if there are any, else everyone.
        let in_pool = |r: &Recipient<'_>| generated == 0 || r.background_ecosystem();
        let size = if generated == 0 {
            self.recipients.len()
        } else {
            generated
        };
        if size == 0 {
            return None;
        }
        let pick = self.incidents_rng.index(size);
        self.recipients
            .iter()
            .filter(in_pool)
            .nth(pick)
            .map(|r| r.wa_id())
    }

    /// Whether Cloud API serves `country` at `now` (Turkey from May 2024: the
    /// 360dialog partner newsletter, 2024-05-09).
    pub(crate) fn cloud_api_serves(&self, country: &str, now: SimTime) -> bool {
        self.policy
            .cloud_api_available_from
            .get(country)
            .is_none_or(|from| self.unix_seconds(now) >= *from)
    }

    /// The refusal of a send by the account's standing, if any: a disabled account
    /// (131031), a restriction (368), or 360dialog's template block.
    pub(crate) fn account_refusal(
        &self,
        surface: Surface,
        template: bool,
        in_service_window: bool,
    ) -> Option<Refusal> {
        if self.account.terminated_at.is_some() {
            return Some(Refusal::platform(
                code::ACCOUNT_LOCKED,
                "The WhatsApp Business Account is disabled for policy violations.",
            ));
        }
        if let Some((kind, _)) = &self.account.restriction {
            let blocked = match kind.as_str() {
                "RESTRICTED_BIZ_INITIATED_MESSAGING" => template || !in_service_window,
                "RESTRICTED_CUSTOMER_INITIATED_MESSAGING" => !template && in_service_window,
                _ => false,
            };
            if blocked {
                return Some(Refusal::platform(
                    code::POLICY_BLOCKED,
                    format!("The account is restricted ({kind}) for policy violations."),
                ));
            }
        }
        if surface == Surface::D360
            && self.account.templates_disabled
            && (template || self.policy.template_block_free_form)
        {
            return Some(Refusal::Blocked {
                http_status: self.policy.template_block_http_status,
                message: self.policy.template_block_message.clone(),
            });
        }
        None
    }

    /// The account's standing as the Partner API shows it (our shape: 360dialog
    /// documents no API for it, so the real compliance fields are UNCONFIRMED).
    pub(crate) fn compliance(&self) -> Value {
        let restriction = self.account.restriction.as_ref().map(|(kind, until)| {
            json!({"restriction_type": kind, "expiration": self.unix_seconds(*until)})
        });
        json!({
            "waba_id": self.spec.waba.id,
            "status": if self.account.terminated_at.is_some() { "terminated" } else { "active" },
            "template_messaging": if self.account.templates_disabled { "disabled" } else { "enabled" },
            "restrictions": restriction.into_iter().collect::<Vec<_>>(),
            "violations": self.account.violations,
            "messaging_limit": tier_of(self.spec.waba.messaging_limit),
            "phone_numbers": self.phone_numbers.iter().map(|p| json!({
                "id": p.spec.id,
                "display_phone_number": p.spec.display_phone_number,
                "registered": p.spec.registered,
                "api": match p.spec.api { super::spec::ApiKind::Cloud => "cloud", super::spec::ApiKind::OnPremises => "on_premises" },
                "quality_rating": quality_name(p.spec.quality),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The tier name of a messaging limit (the nearest tier at or below it).
pub fn tier_of(limit: u32) -> &'static str {
    TIERS
        .iter()
        .rev()
        .find(|(_, at)| limit >= *at)
        .map_or("TIER_NOT_SET", |(name, _)| name)
}

fn tier_limit(tier: &str) -> u32 {
    TIERS
        .iter()
        .find(|(name, _)| *name == tier)
        .map_or(0, |(_, limit)| *limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `body` is refused with, in words.
    fn refused(body: serde_json::Value) -> String {
        Incident::from_json(&body)
            .expect_err("a refused incident")
            .to_string()
    }

    #[test]
    fn incidents_read_from_json_with_field_named_errors() {
        assert_eq!(
            Incident::from_json(&json!({"incident": "restrict", "hours": 2})),
            Ok(Incident::Restrict {
                restriction_type: "RESTRICTED_BIZ_INITIATED_MESSAGING".to_owned(),
                hours: 2
            })
        );
        assert!(refused(json!({"incident": "tier", "tier": "TIER_1K"})).starts_with("tier:"));
        assert!(
            refused(json!({"incident": "terminate", "hours": 1})).contains("hours: unknown field")
        );
        assert!(refused(json!({"incident": "nope"})).contains("disable_templates"));
        assert!(refused(json!({"incident": "compromise", "every_s": 0})).starts_with("every_s:"));
    }

    #[test]
    fn tiers_name_their_limits() {
        assert_eq!(tier_of(10_000), "TIER_10K");
        assert_eq!(tier_of(9_999), "TIER_2K");
        assert_eq!(tier_of(u32::MAX), "TIER_UNLIMITED");
        assert_eq!(tier_of(10), "TIER_NOT_SET");
    }
}
