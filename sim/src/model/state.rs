//! The state records of the world: recipients, messages and timers.

use std::collections::BTreeMap;

use super::country;
use super::policy::Policy;
use super::rng::{SimRng, Stream};
use super::spec::{Category, WorldSpec};
use super::time::SimTime;

/// A person the business can message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// WhatsApp id.
    pub wa_id: String,
    /// ISO country.
    pub country: String,
    /// Profile name.
    pub name: String,
    /// Stopped marketing messages from this business (131050).
    pub opted_out: bool,
    /// For Turkish users: accepted the updated terms, so messages get delivered.
    pub terms_accepted: bool,
    /// Gets other businesses' background marketing drawn from the seed (generated
    /// recipients only; named ones get it only through the control API).
    pub background_ecosystem: bool,
    /// Other businesses' marketing added through the control API.
    pub ecosystem_marketing: Vec<SimTime>,
    /// This business's marketing counted toward the limit: (time, wamid).
    pub counted_marketing: Vec<(SimTime, String)>,
    /// When the user last wrote to the business.
    pub last_inbound_at: Option<SimTime>,
    /// Until when a reply to marketing exempts marketing from counting (2025-07).
    pub marketing_reply_window_until: Option<SimTime>,
    /// Whether the business's latest message to the user was a marketing template.
    pub last_business_message_marketing: bool,
    /// Open conversations by pricing category: (conversation id, expiry).
    pub conversations: BTreeMap<&'static str, (String, SimTime)>,
    /// Times this business's marketing to the user failed with 131049.
    pub cap_failures: Vec<SimTime>,
    /// Until when the user is blocked after repeated retries while capped.
    pub blocked_until: Option<SimTime>,
}

impl Recipient {
    fn new(wa_id: String, country: String, name: String) -> Self {
        Recipient {
            wa_id,
            country,
            name,
            opted_out: false,
            terms_accepted: true,
            background_ecosystem: false,
            ecosystem_marketing: Vec::new(),
            counted_marketing: Vec::new(),
            last_inbound_at: None,
            marketing_reply_window_until: None,
            last_business_message_marketing: false,
            conversations: BTreeMap::new(),
            cap_failures: Vec::new(),
            blocked_until: None,
        }
    }

    /// True while the customer service window opened by the user's last message is open.
    pub fn service_window_open(&self, now: SimTime, hours: u64) -> bool {
        self.last_inbound_at
            .is_some_and(|at| at.plus_hours(hours) > now)
    }
}

/// A message status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// Sent to the user's device.
    Sent,
    /// Delivered to the device.
    Delivered,
    /// Read by the user.
    Read,
    /// Failed.
    Failed,
}

impl StatusKind {
    /// The status as written in webhooks.
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Failed => "failed",
        }
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageContent {
    /// Free-form text.
    Text,
    /// A template.
    Template {
        /// Template name.
        name: String,
        /// Category.
        category: Category,
    },
}

/// How a message is priced, fixed when it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billing {
    /// Conversation id.
    pub conversation_id: String,
    /// Conversation expiry.
    pub conversation_expires_at: SimTime,
    /// Pricing category (`marketing`, `utility`, `authentication`, `service`).
    pub category: &'static str,
    /// Whether the message is charged.
    pub billable: bool,
    /// Pricing type (`regular` or `free_customer_service`; PMP only).
    pub pricing_type: &'static str,
}

/// A message the business sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The wamid.
    pub id: String,
    /// Sending phone number id.
    pub phone_number_id: String,
    /// Recipient WhatsApp id.
    pub to: String,
    /// What it carries.
    pub content: MessageContent,
    /// When it was accepted.
    pub accepted_at: SimTime,
    /// Statuses reached, in order.
    pub statuses: Vec<(SimTime, StatusKind)>,
    /// How it is priced, if it gets sent.
    pub billing: Option<Billing>,
    /// `biz_opaque_callback_data` of the send, echoed in statuses.
    pub callback_data: Option<String>,
    /// The error code of its `failed` status, once failed.
    pub failure_code: Option<u32>,
    /// Status timers still pending for it.
    pub pending_timers: u32,
    pub(crate) pricing_model: &'static str,
}

/// A model timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A message reaches a status.
    Status {
        message_id: String,
        status: StatusKind,
        error_code: Option<u32>,
    },
    /// A webhook attempt, release, burst end or heal.
    Webhook(super::webhooks::WebhookTimer),
    /// A template's pacing round is decided.
    PacingDecision { template: usize, round: u64 },
    /// A template's timed pause ends (if it is still pause `epoch`).
    TemplateUnpause { template: usize, epoch: u64 },
    /// A new template's review ends.
    TemplateReview { template: usize },
    /// An account restriction ends (if it is still restriction `epoch`).
    RestrictionEnds { epoch: u64 },
    /// An unknown origin sends with a stolen key (compromise `epoch`).
    UnknownOriginSend { epoch: u64 },
}

/// The recipients of a world: the named ones, then `count` generated from the seed.
pub(crate) fn generate_recipients(
    spec: &WorldSpec,
    policy: &Policy,
    seed: u64,
) -> BTreeMap<String, Recipient> {
    let mut recipients = BTreeMap::new();
    for named in &spec.recipients.named {
        let country = named
            .country
            .clone()
            .unwrap_or_else(|| country::country_of(&named.wa_id).to_owned());
        let name = named.name.clone().unwrap_or_else(|| "Test User".to_owned());
        let mut recipient = Recipient::new(named.wa_id.clone(), country, name);
        recipient.opted_out = named.opted_out;
        recipients.insert(named.wa_id.clone(), recipient);
    }
    let mut rng = SimRng::new(seed, Stream::World);
    let weights: Vec<(&String, u32)> = spec
        .recipients
        .countries
        .iter()
        .map(|(c, w)| (c, *w))
        .collect();
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return recipients;
    }
    const ATTEMPTS_MAX: u32 = 64;
    for index in 0..spec.recipients.count {
        let mut pick = rng.between(0, total - 1);
        let country = weights
            .iter()
            .find(|(_, w)| {
                let w = u64::from(*w);
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map_or("US", |(c, _)| c.as_str());
        let Some((prefix, digits)) = country::number_shape(country) else {
            continue;
        };
        let wa_id = (0..ATTEMPTS_MAX).find_map(|_| {
            let area = match country {
                "US" => country::US_AREA_CODES[rng.index(country::US_AREA_CODES.len())],
                "CA" => "416",
                _ => "",
            };
            let candidate = format!("{prefix}{area}{}", rng.digits(digits));
            (!recipients.contains_key(&candidate)).then_some(candidate)
        });
        let Some(wa_id) = wa_id else { continue };
        let mut recipient = Recipient::new(
            wa_id.clone(),
            country.to_owned(),
            format!("User {}", index + 1),
        );
        recipient.opted_out = rng.chance(spec.recipients.opted_out_ratio);
        recipient.terms_accepted =
            country != "TR" || rng.chance(policy.turkey_terms_accepted_ratio);
        recipient.background_ecosystem = true;
        recipients.insert(wa_id, recipient);
    }
    recipients
}
