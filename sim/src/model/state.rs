//! The state records of the world: messages and timers (recipients live in
//! `recipients`).

use super::spec::Category;
use super::time::SimTime;

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
    /// Another free-form type (`image`, `interactive`, `reaction`, …).
    FreeForm(&'static str),
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
    /// The number in its wamid (`World::messages` is in this order).
    pub(crate) number: u64,
    pub(crate) pricing_model: &'static str,
}

/// A model timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A message reaches a status.
    Status {
        /// The message's number (`World::messages` key).
        message: u64,
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
