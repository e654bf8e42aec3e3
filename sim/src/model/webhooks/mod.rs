//! Webhooks in the model: where each change goes, how changes become posts, the
//! faults a profile asks for, and whether and when a failed post is attempted
//! again. The delivery engine (`crate::webhook`) only posts; every attempt's
//! outcome comes back here as a command. Sources:
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks>,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput>,
//! <https://docs.360dialog.com/docs/waba-basics/waba-integration/onprem-greater-than-cloudapi-migration>.
//!
//! The pipeline, all in virtual time and drawn from the seeded webhook stream:
//! 1. [`World::emit_change`] puts one change (one envelope) in the outbox.
//! 2. At the end of each command or timer instant the outbox is flushed. With
//!    batching on, changes to one route gather for `batch_window_ms` (at most
//!    `batch_max` of them) into one post; each post gets a delivery id, a
//!    `webhook_emitted` record and a place in the pending set.
//! 3. A fault profile may delay a delivery's first attempt, hold it back so a later
//!    one overtakes it, gather it into a burst, post it twice, or follow it with a
//!    forged copy. Each fault is a `webhook_fault` record.
//! 4. A delivery not acknowledged with a 2xx is retried with exponential backoff
//!    (`webhook_retry_initial_ms`, doubling, at most `webhook_retry_interval_max_ms`
//!    apart) until `webhook_retry_window_hours` after it was emitted or
//!    `webhook_attempts_max` attempts; then it is dropped, and the drop is traced.

pub mod faults;
pub mod samples;

use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;

pub use self::faults::FaultProfile;
use super::fields::FieldError;
use super::policy::{D360WebhookPrecedence, Policy};
use super::refusal::Refusal;
use super::rng::SimRng;
use super::secret::{Secret, redact_url};
use super::state::Timer;
use super::time::{HOUR_MS, SimTime};
use super::{Effect, WebhookDelivery, World};
use crate::trace::TraceEvent;
pub use crate::trace::WebhookBody;

/// Most deliveries awaiting acknowledgement at once; a delivery emitted beyond it is
/// lost, and the loss is traced and counted.
pub const WEBHOOKS_PENDING_MAX: usize = 1_000_000;

/// Most changes one post may batch (Meta: "up to 1000 updates").
pub const BATCH_MAX: u32 = 1000;

/// Whom a change is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    /// A `messages` change of one business number.
    Number(String),
    /// A WABA-level change (templates, account).
    Waba,
    /// A 360dialog partner event.
    Partner,
}

impl Route {
    /// The route as written in the trace.
    pub fn name(&self) -> String {
        match self {
            // Not `format!`: one per delivery.
            Route::Number(id) => ["number:", id].concat(),
            Route::Waba => "waba".to_owned(),
            Route::Partner => "partner".to_owned(),
        }
    }
}

/// A 360dialog client webhook (`{url, headers}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct D360Webhook {
    /// Where deliveries go.
    pub url: String,
    /// Custom headers sent with every delivery, in the order given.
    pub headers: Vec<(String, Secret)>,
}

impl D360Webhook {
    /// As 360dialog answers it: `{url, headers}`.
    pub fn to_json(&self) -> Value {
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.expose().to_owned())))
            .collect();
        json!({"url": self.url, "headers": headers})
    }

    /// Header names with fingerprints of their values, for the trace.
    pub fn header_fingerprints(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(name, value)| format!("{name}={}", value.fingerprint()))
            .collect()
    }
}

/// Which 360dialog webhook a configuration call sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum D360Scope {
    /// `/v1/configs/webhook`: the channel (phone number) of the key.
    Channel,
    /// `/waba_webhook`: every number of the key's WABA.
    Waba,
}

impl D360Scope {
    /// The scope as written in the trace.
    pub fn name(self) -> &'static str {
        match self {
            D360Scope::Channel => "d360_channel",
            D360Scope::Waba => "d360_waba",
        }
    }
}

/// Where webhooks go. Kept across `POST /_wasim/reset`: it is wiring, not world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// The Meta app's callback URL (signed with the app secret).
    pub callback_url: Option<String>,
    /// The 360dialog partner webhook URL (signed with the partner secret).
    pub partner_url: Option<String>,
    /// 360dialog channel webhooks by phone number id.
    pub d360_channel: BTreeMap<String, D360Webhook>,
    /// The 360dialog WABA webhook.
    pub d360_waba: Option<D360Webhook>,
    /// Whether the Meta app gets the WABA's webhooks, and the WABA's verified
    /// alternate callback URL for its `messages` webhooks
    /// (`/{waba-id}/subscribed_apps`).
    pub subscription: super::numbers::Subscription,
}

/// Where one attempt is posted and how it proves where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Meta's app callback: `X-Hub-Signature-256` with the app secret.
    Meta {
        /// The callback URL.
        url: String,
    },
    /// A 360dialog client webhook: the custom headers, no signature.
    D360(D360Webhook),
    /// The 360dialog partner webhook: `x-360dialog-signature` with the partner secret.
    Partner {
        /// The partner webhook URL.
        url: String,
    },
}

impl Destination {
    /// The URL posted to.
    pub fn url(&self) -> &str {
        match self {
            Destination::Meta { url } | Destination::Partner { url } => url,
            Destination::D360(webhook) => &webhook.url,
        }
    }

    /// `meta`, `d360` or `partner`.
    pub fn kind(&self) -> &'static str {
        match self {
            Destination::Meta { .. } => "meta",
            Destination::D360(_) => "d360",
            Destination::Partner { .. } => "partner",
        }
    }

    /// Whether a receiver can tell a genuine post from a forged one here.
    fn authenticates(&self) -> bool {
        match self {
            Destination::Meta { .. } | Destination::Partner { .. } => true,
            Destination::D360(webhook) => !webhook.headers.is_empty(),
        }
    }
}

/// Which copy of a delivery an attempt posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    /// The delivery itself; its outcome decides retries.
    Original,
    /// A second post of the same attempt (fault `duplicate`).
    Duplicate,
    /// A forged post a correct receiver refuses (fault `forged`).
    Forged,
}

impl CopyKind {
    /// The copy as written in the trace.
    pub fn name(self) -> &'static str {
        match self {
            CopyKind::Original => "original",
            CopyKind::Duplicate => "duplicate",
            CopyKind::Forged => "forged",
        }
    }
}

/// Webhook timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WebhookTimer {
    /// Post attempt `attempt` of a delivery (a retry, or a delayed first attempt).
    Attempt { delivery_id: u64, attempt: u32 },
    /// A reordered delivery waited its longest: post it.
    Release { delivery_id: u64 },
    /// A burst gathered its longest: post it.
    BurstEnd { burst: u64 },
    /// The fault profile set as `epoch` heals.
    Heal { epoch: u64 },
    /// A batch's window closed: post it.
    BatchEnd { batch: u64 },
}

/// Counters over the world's life, for `GET /_wasim/webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookStats {
    /// Changes emitted (one per status, inbound message or event).
    pub changes: u64,
    /// Deliveries (posts) they were batched into.
    pub deliveries: u64,
    /// Attempts posted, copies included.
    pub attempts: u64,
    /// Deliveries acknowledged with a 2xx.
    pub acknowledged: u64,
    /// Original attempts not acknowledged.
    pub failed_attempts: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Deliveries given up after their window or attempts.
    pub dropped: u64,
    /// Deliveries never posted: no URL, or the delivery queue refused them.
    pub skipped: u64,
    /// Deliveries lost because too many awaited acknowledgement.
    pub overflowed: u64,
    /// Delayed first attempts.
    pub delayed: u64,
    /// Deliveries overtaken by a later one.
    pub reordered: u64,
    /// Deliveries posted in a burst.
    pub burst: u64,
    /// Duplicate posts.
    pub duplicated: u64,
    /// Forged posts.
    pub forged: u64,
    /// Forged posts the receiver acknowledged (it should refuse them).
    pub forged_accepted: u64,
    /// Verification handshakes performed.
    pub verifications: u64,
    /// Handshakes in which the receiver echoed the challenge.
    pub verifications_echoed: u64,
}

impl WebhookStats {
    /// Deliveries that will never be acknowledged: dropped, skipped or overflowed.
    pub fn lost(&self) -> u64 {
        self.dropped + self.skipped + self.overflowed
    }
}

/// A change waiting in the outbox.
#[derive(Debug, Clone)]
struct Change {
    field: Cow<'static, str>,
    route: Route,
    body: ChangeBody,
}

/// A change's body: a tree, or already serialized (a typed payload, written
/// straight to text). Batching edits `entry[]`, so a change to be batched is made a
/// tree; every other body is serialized once, when its delivery is emitted.
#[derive(Debug, Clone)]
pub(crate) enum ChangeBody {
    Tree(Value),
    Serialized(WebhookBody),
}

impl From<Value> for ChangeBody {
    fn from(tree: Value) -> ChangeBody {
        ChangeBody::Tree(tree)
    }
}

impl From<WebhookBody> for ChangeBody {
    fn from(body: WebhookBody) -> ChangeBody {
        ChangeBody::Serialized(body)
    }
}

impl ChangeBody {
    fn into_tree(self) -> Value {
        match self {
            ChangeBody::Tree(tree) => tree,
            ChangeBody::Serialized(body) => body.to_value(),
        }
    }

    fn serialize(self) -> WebhookBody {
        match self {
            ChangeBody::Tree(tree) => WebhookBody::from(&tree),
            ChangeBody::Serialized(body) => body,
        }
    }
}

/// A batch gathering changes.
#[derive(Debug, Clone)]
struct OpenBatch {
    id: u64,
    change: Change,
    count: u32,
}

/// Batching: the setting and the batches gathering.
#[derive(Debug, Default)]
struct Batching {
    max: u32,
    window_ms: u64,
    open: BTreeMap<(Route, Cow<'static, str>), OpenBatch>,
    opened: u64,
}

/// A delivery waiting for acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PendingWebhook {
    first_at: SimTime,
    field: Cow<'static, str>,
    route: Route,
    /// Shared with the trace and every attempt: never copied.
    body: WebhookBody,
}

#[derive(Debug, Clone)]
struct ActiveFaults {
    profile: FaultProfile,
    epoch: u64,
}

/// Everything the world keeps about webhooks.
#[derive(Debug)]
pub(crate) struct WebhookState {
    pub(crate) endpoints: Endpoints,
    batch: Batching,
    faults: Option<ActiveFaults>,
    faults_epoch: u64,
    outbox: Vec<Change>,
    pending: BTreeMap<u64, PendingWebhook>,
    /// Deliveries held for reordering, oldest first.
    held: Vec<u64>,
    /// The burst being gathered: its number and deliveries.
    burst: Option<(u64, Vec<u64>)>,
    bursts: u64,
    stats: WebhookStats,
    rng: SimRng,
    delivery_counter: u64,
    verification_counter: u64,
}

impl WebhookState {
    pub(crate) fn new(
        endpoints: Endpoints,
        (batch_max, batch_window_ms): (u32, u64),
        faults: Option<FaultProfile>,
        rng: SimRng,
    ) -> Self {
        WebhookState {
            endpoints,
            batch: Batching {
                max: batch_max,
                window_ms: batch_window_ms,
                ..Batching::default()
            },
            faults: faults
                .filter(|p| !p.is_clean())
                .map(|profile| ActiveFaults { profile, epoch: 0 }),
            faults_epoch: 0,
            outbox: Vec::new(),
            pending: BTreeMap::new(),
            held: Vec::new(),
            burst: None,
            bursts: 0,
            stats: WebhookStats::default(),
            rng,
            delivery_counter: 0,
            verification_counter: 0,
        }
    }
}

/// Checks a batching setting `(batch_max, batch_window_ms)`; the error names the field.
pub fn check_batching((max, window_ms): (u32, u64)) -> Result<(u32, u64), FieldError> {
    if !(1..=BATCH_MAX).contains(&max) {
        return Err(FieldError::new(
            "batch_max",
            format!("expected 1 to {BATCH_MAX}, got {max}"),
        ));
    }
    if !(1..=faults::FAULT_HOLD_MS_MAX).contains(&window_ms) {
        return Err(FieldError::new(
            "batch_window_ms",
            format!(
                "expected 1 to {}, got {window_ms}",
                faults::FAULT_HOLD_MS_MAX
            ),
        ));
    }
    Ok((max, window_ms))
}

/// The delay before attempt `next_attempt` (2 or later).
pub fn retry_delay_ms(policy: &Policy, next_attempt: u32) -> u64 {
    let doublings = next_attempt.saturating_sub(2).min(63);
    policy
        .webhook_retry_initial_ms
        .saturating_mul(1u64 << doublings)
        .min(policy.webhook_retry_interval_max_ms)
}

/// What a verification handshake needs: the shell performs the GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Handshake id, unique in the world.
    pub id: u64,
    /// The callback URL.
    pub url: String,
    /// The verify token to present.
    pub verify_token: Secret,
    /// The challenge the receiver must echo.
    pub challenge: String,
}

fn fault_event(at: SimTime, delivery_id: u64, fault: &str, detail: String) -> Effect {
    Effect::Trace {
        at,
        event: TraceEvent::WebhookFault {
            delivery_id,
            fault: fault.to_owned(),
            detail,
        },
    }
}

impl World {
    /// Puts one change in the outbox; it is posted when the current instant ends.
    /// The body is a tree (`Value`) or already serialized text (a typed payload).
    pub(crate) fn emit_change(
        &mut self,
        field: impl Into<Cow<'static, str>>,
        route: Route,
        body: impl Into<ChangeBody>,
    ) {
        self.webhooks.outbox.push(Change {
            field: field.into(),
            route,
            body: body.into(),
        });
    }

    /// Takes the changes of the instant that just ended out of the outbox. Without
    /// batching each becomes a delivery at once; with `batch_max` > 1, changes to
    /// one route and field gather for up to `batch_window_ms` (or until `batch_max`
    /// of them) and leave as one post whose `entry[]` holds them all.
    pub(crate) fn flush_outbox(&mut self, at: SimTime, effects: &mut Vec<Effect>) {
        // Drained and handed back, so the outbox keeps its allocation.
        let mut changes = std::mem::take(&mut self.webhooks.outbox);
        let batch_max = self.webhooks.batch.max.max(1);
        for mut change in changes.drain(..) {
            self.webhooks.stats.changes += 1;
            let batchable = batch_max > 1 && change.route != Route::Partner && {
                let tree = change.body.into_tree();
                let enveloped = tree.get("entry").is_some_and(Value::is_array);
                change.body = ChangeBody::Tree(tree);
                enveloped
            };
            if !batchable {
                self.emit_delivery(at, change, 1, effects);
                continue;
            }
            let key = (change.route.clone(), change.field.clone());
            if let Some(open) = self.webhooks.batch.open.get_mut(&key) {
                if let (ChangeBody::Tree(open_body), ChangeBody::Tree(body)) =
                    (&mut open.change.body, &change.body)
                    && let (Some(entries), Some(more)) = (
                        open_body.get_mut("entry").and_then(Value::as_array_mut),
                        body.get("entry").and_then(Value::as_array),
                    )
                {
                    entries.extend(more.iter().cloned());
                }
                open.count += 1;
                if open.count >= batch_max
                    && let Some(full) = self.webhooks.batch.open.remove(&key)
                {
                    self.emit_delivery(at, full.change, full.count, effects);
                }
                continue;
            }
            self.webhooks.batch.opened += 1;
            let batch = self.webhooks.batch.opened;
            self.webhooks.batch.open.insert(
                key,
                OpenBatch {
                    id: batch,
                    change,
                    count: 1,
                },
            );
            let window = self.webhooks.batch.window_ms;
            self.schedule(
                at.plus_ms(window),
                Timer::Webhook(WebhookTimer::BatchEnd { batch }),
            );
        }
        if self.webhooks.outbox.is_empty() {
            self.webhooks.outbox = changes;
        }
    }

    /// One post of `changes` changes: traced, tracked, and dispatched.
    fn emit_delivery(
        &mut self,
        at: SimTime,
        change: Change,
        changes: u32,
        effects: &mut Vec<Effect>,
    ) {
        self.webhooks.delivery_counter += 1;
        let delivery_id = self.webhooks.delivery_counter;
        self.webhooks.stats.deliveries += 1;
        // Serialized once: the trace, the pending delivery and every attempt share it.
        let body = change.body.serialize();
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::WebhookEmitted {
                delivery_id,
                field: change.field.clone(),
                route: change.route.name(),
                changes,
                body: body.clone(),
            },
        });
        if self.webhooks.pending.len() >= WEBHOOKS_PENDING_MAX {
            self.webhooks.stats.overflowed += 1;
            effects.push(Effect::Trace {
                at,
                event: TraceEvent::WebhookDropped {
                    delivery_id,
                    attempts: 0,
                    reason: format!(
                        "{WEBHOOKS_PENDING_MAX} deliveries already await acknowledgement"
                    ),
                },
            });
            return;
        }
        self.webhooks.pending.insert(
            delivery_id,
            PendingWebhook {
                first_at: at,
                field: change.field,
                route: change.route,
                body,
            },
        );
        self.dispatch_first(at, delivery_id, effects);
    }

    /// The first attempt of a new delivery, through the fault profile.
    fn dispatch_first(&mut self, at: SimTime, delivery_id: u64, effects: &mut Vec<Effect>) {
        let Some(active) = self.webhooks.faults.clone() else {
            self.post(at, delivery_id, 1, effects);
            return;
        };
        let profile = &active.profile;
        let rng = &mut self.webhooks.rng;
        if rng.chance(profile.delay) {
            let by = rng.between(1, profile.delay_max_ms);
            self.webhooks.stats.delayed += 1;
            effects.push(fault_event(
                at,
                delivery_id,
                "delayed",
                format!("first attempt delayed by {by} ms"),
            ));
            self.schedule(
                at.plus_ms(by),
                Timer::Webhook(WebhookTimer::Attempt {
                    delivery_id,
                    attempt: 1,
                }),
            );
            return;
        }
        if rng.chance(profile.reorder) {
            self.webhooks.held.push(delivery_id);
            effects.push(fault_event(
                at,
                delivery_id,
                "held",
                format!(
                    "held until a later delivery overtakes it, at most {} ms",
                    profile.reorder_hold_ms
                ),
            ));
            self.schedule(
                at.plus_ms(profile.reorder_hold_ms),
                Timer::Webhook(WebhookTimer::Release { delivery_id }),
            );
            return;
        }
        let gathering = self.webhooks.burst.is_some();
        if gathering || self.webhooks.rng.chance(profile.burst) {
            let (burst, size) = match &mut self.webhooks.burst {
                Some((burst, members)) => {
                    members.push(delivery_id);
                    (*burst, members.len())
                }
                None => {
                    self.webhooks.bursts += 1;
                    let burst = self.webhooks.bursts;
                    self.webhooks.burst = Some((burst, vec![delivery_id]));
                    self.schedule(
                        at.plus_ms(profile.burst_hold_ms),
                        Timer::Webhook(WebhookTimer::BurstEnd { burst }),
                    );
                    (burst, 1)
                }
            };
            effects.push(fault_event(
                at,
                delivery_id,
                "burst",
                format!(
                    "gathered into burst {burst} ({size} of {})",
                    profile.burst_size
                ),
            ));
            if size >= profile.burst_size as usize {
                self.release_burst(at, effects);
            }
            return;
        }
        self.post(at, delivery_id, 1, effects);
    }

    /// Posts attempt `attempt` of a pending delivery to its current destination;
    /// with faults active, a first attempt may be duplicated or shadowed by a forgery,
    /// and deliveries held for reordering follow it.
    fn post(&mut self, at: SimTime, delivery_id: u64, attempt: u32, effects: &mut Vec<Effect>) {
        self.post_one(at, delivery_id, attempt, effects);
        let held = std::mem::take(&mut self.webhooks.held);
        for held_id in held {
            self.webhooks.stats.reordered += 1;
            effects.push(fault_event(
                at,
                held_id,
                "reordered",
                format!("posted after delivery {delivery_id}, which overtook it"),
            ));
            self.post_one(at, held_id, 1, effects);
        }
    }

    fn post_one(&mut self, at: SimTime, delivery_id: u64, attempt: u32, effects: &mut Vec<Effect>) {
        let Some(pending) = self.webhooks.pending.get(&delivery_id) else {
            return;
        };
        let Some(destination) = self.destination(&pending.route) else {
            let reason = match pending.route {
                Route::Partner => {
                    "no partner webhook URL configured (world file `partner.webhook_url` or POST /_wasim/webhooks/config)"
                }
                _ if !self.webhooks.endpoints.subscription.subscribed => {
                    "the app is not subscribed to the WABA's webhooks (POST /{waba-id}/subscribed_apps subscribes it)"
                }
                _ => {
                    "no webhook URL configured (pass --webhook-url, or POST /_wasim/webhooks/config, or set a 360dialog webhook)"
                }
            };
            self.webhooks.pending.remove(&delivery_id);
            self.webhooks.stats.skipped += 1;
            effects.push(Effect::Trace {
                at,
                event: TraceEvent::WebhookSkipped {
                    delivery_id,
                    reason: reason.to_owned(),
                },
            });
            return;
        };
        let delivery = WebhookDelivery {
            id: delivery_id,
            at,
            attempt,
            field: pending.field.clone(),
            body: pending.body.clone(),
            destination,
            copy: CopyKind::Original,
            after_seq: 0,
        };
        let faults = self.webhooks.faults.as_ref().map(|a| a.profile.clone());
        let mut copies = Vec::new();
        if let Some(profile) = faults.filter(|_| attempt == 1) {
            if self.webhooks.rng.chance(profile.duplicate) {
                self.webhooks.stats.duplicated += 1;
                effects.push(fault_event(
                    at,
                    delivery_id,
                    "duplicated",
                    "first attempt posted twice".to_owned(),
                ));
                copies.push(WebhookDelivery {
                    copy: CopyKind::Duplicate,
                    ..delivery.clone()
                });
            }
            if self.webhooks.rng.chance(profile.forged) && delivery.destination.authenticates() {
                self.webhooks.stats.forged += 1;
                let token = self.webhooks.rng.token(16);
                let body = forge(&delivery.body, &token);
                effects.push(fault_event(
                    at,
                    delivery_id,
                    "forged",
                    "followed by a forged copy with a wrong signature".to_owned(),
                ));
                copies.push(WebhookDelivery {
                    copy: CopyKind::Forged,
                    body,
                    ..delivery.clone()
                });
            }
        }
        self.webhooks.stats.attempts += 1 + copies.len() as u64;
        effects.push(Effect::Webhook(delivery));
        effects.extend(copies.into_iter().map(Effect::Webhook));
    }

    fn release_burst(&mut self, at: SimTime, effects: &mut Vec<Effect>) {
        let Some((_, members)) = self.webhooks.burst.take() else {
            return;
        };
        self.webhooks.stats.burst += members.len() as u64;
        for delivery_id in members {
            self.post(at, delivery_id, 1, effects);
        }
    }

    /// Where a route's deliveries go now: a 360dialog webhook, if set, takes the
    /// number's and WABA's changes; otherwise Meta's, if the app is subscribed to
    /// the WABA: a number's `messages` changes to the WABA's alternate callback URL
    /// if one is set, everything else to the app callback (Meta sends template and
    /// account webhooks to the app callback whatever the override:
    /// <https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks/override>).
    fn destination(&self, route: &Route) -> Option<Destination> {
        let endpoints = &self.webhooks.endpoints;
        let subscription = &endpoints.subscription;
        let meta = |alternate: Option<&String>| {
            subscription
                .subscribed
                .then(|| alternate.or(endpoints.callback_url.as_ref()))
                .flatten()
                .map(|url| Destination::Meta { url: url.clone() })
        };
        match route {
            Route::Partner => endpoints
                .partner_url
                .clone()
                .map(|url| Destination::Partner { url }),
            Route::Waba => endpoints
                .d360_waba
                .clone()
                .map(Destination::D360)
                .or_else(|| meta(None)),
            Route::Number(id) => {
                let channel = endpoints.d360_channel.get(id).cloned();
                let waba = endpoints.d360_waba.clone();
                let d360 = match self.policy.d360_webhook_precedence {
                    D360WebhookPrecedence::Waba => waba.or(channel),
                    D360WebhookPrecedence::Channel => channel.or(waba),
                };
                d360.map(Destination::D360)
                    .or_else(|| meta(subscription.override_callback_uri.as_ref()))
            }
        }
    }

    pub(crate) fn fire_webhook_timer(
        &mut self,
        at: SimTime,
        timer: WebhookTimer,
        effects: &mut Vec<Effect>,
    ) {
        match timer {
            WebhookTimer::Attempt {
                delivery_id,
                attempt,
            } => self.post(at, delivery_id, attempt, effects),
            WebhookTimer::Release { delivery_id } => {
                if let Some(index) = self.webhooks.held.iter().position(|id| *id == delivery_id) {
                    self.webhooks.held.remove(index);
                    effects.push(fault_event(
                        at,
                        delivery_id,
                        "released",
                        "no later delivery overtook it within reorder_hold_ms".to_owned(),
                    ));
                    self.post(at, delivery_id, 1, effects);
                }
            }
            WebhookTimer::BurstEnd { burst } => {
                if self
                    .webhooks
                    .burst
                    .as_ref()
                    .is_some_and(|(b, _)| *b == burst)
                {
                    self.release_burst(at, effects);
                }
            }
            WebhookTimer::BatchEnd { batch } => {
                let key = self
                    .webhooks
                    .batch
                    .open
                    .iter()
                    .find(|(_, open)| open.id == batch)
                    .map(|(key, _)| key.clone());
                if let Some(open) = key.and_then(|key| self.webhooks.batch.open.remove(&key)) {
                    self.emit_delivery(at, open.change, open.count, effects);
                }
            }
            WebhookTimer::Heal { epoch } => {
                if self
                    .webhooks
                    .faults
                    .as_ref()
                    .is_some_and(|a| a.epoch == epoch)
                {
                    self.heal(at, effects);
                }
            }
        }
    }

    /// Sets (or, with `None`, clears) the fault profile from `at`.
    pub(crate) fn set_faults(
        &mut self,
        at: SimTime,
        profile: Option<FaultProfile>,
        effects: &mut Vec<Effect>,
    ) {
        match profile.filter(|p| !p.is_clean()) {
            None => self.heal(at, effects),
            Some(profile) => {
                self.webhooks.faults_epoch += 1;
                let epoch = self.webhooks.faults_epoch;
                effects.push(Effect::Trace {
                    at,
                    event: TraceEvent::WebhookFaultsSet {
                        profile: profile.to_json(),
                    },
                });
                if let Some(seconds) = profile.heal_after_s {
                    self.schedule(
                        at.plus_ms(seconds.saturating_mul(1000)),
                        Timer::Webhook(WebhookTimer::Heal { epoch }),
                    );
                }
                self.webhooks.faults = Some(ActiveFaults { profile, epoch });
            }
        }
    }

    /// Ends the fault phase: delivery is clean from now; held deliveries are posted.
    fn heal(&mut self, at: SimTime, effects: &mut Vec<Effect>) {
        let was_faulty = self.webhooks.faults.take().is_some();
        let held = std::mem::take(&mut self.webhooks.held);
        let burst = self
            .webhooks
            .burst
            .take()
            .map(|(_, members)| members)
            .unwrap_or_default();
        if !was_faulty && held.is_empty() && burst.is_empty() {
            return;
        }
        let released = u32::try_from(held.len() + burst.len()).unwrap_or(u32::MAX);
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::WebhookHealed { released },
        });
        self.webhooks.stats.burst += burst.len() as u64;
        for delivery_id in held.into_iter().chain(burst) {
            self.post_one(at, delivery_id, 1, effects);
        }
    }

    /// The fault profile in force, if any.
    pub fn webhook_faults(&self) -> Option<&FaultProfile> {
        self.webhooks.faults.as_ref().map(|a| &a.profile)
    }

    /// Judges one attempt's outcome: done, retry later, or give up. Copies are only
    /// counted: the original decides.
    pub(crate) fn webhook_attempt_finished(
        &mut self,
        now: SimTime,
        delivery_id: u64,
        attempt: u32,
        copy: CopyKind,
        http_status: Option<u16>,
        effects: &mut Vec<Effect>,
    ) {
        let acknowledged = http_status.is_some_and(|status| (200..300).contains(&status));
        match copy {
            CopyKind::Duplicate => return,
            CopyKind::Forged => {
                if acknowledged {
                    self.webhooks.stats.forged_accepted += 1;
                }
                return;
            }
            CopyKind::Original => {}
        }
        let Some(pending) = self.webhooks.pending.get(&delivery_id) else {
            return;
        };
        if acknowledged {
            self.webhooks.pending.remove(&delivery_id);
            self.webhooks.stats.acknowledged += 1;
            return;
        }
        self.webhooks.stats.failed_attempts += 1;
        let next_attempt = attempt.saturating_add(1);
        let next_at = now.plus_ms(retry_delay_ms(&self.policy, next_attempt));
        let window_end = pending.first_at.plus_ms(
            self.policy
                .webhook_retry_window_hours
                .saturating_mul(HOUR_MS),
        );
        let reason = if attempt >= self.policy.webhook_attempts_max {
            Some(format!("{attempt} attempts made (webhook_attempts_max)"))
        } else if next_at > window_end {
            Some(format!(
                "retry window of {} h ended",
                self.policy.webhook_retry_window_hours
            ))
        } else {
            None
        };
        let event = if let Some(reason) = reason {
            self.webhooks.pending.remove(&delivery_id);
            self.webhooks.stats.dropped += 1;
            TraceEvent::WebhookDropped {
                delivery_id,
                attempts: attempt,
                reason,
            }
        } else {
            self.webhooks.stats.retries += 1;
            self.schedule(
                next_at,
                Timer::Webhook(WebhookTimer::Attempt {
                    delivery_id,
                    attempt: next_attempt,
                }),
            );
            TraceEvent::WebhookRetryScheduled {
                delivery_id,
                attempt: next_attempt,
                due_ms: next_at.as_ms(),
            }
        };
        effects.push(Effect::Trace { at: now, event });
    }

    /// A delivery the shell could not post at all (queue full) is not retried.
    pub(crate) fn webhook_skipped(&mut self, delivery_id: u64, copy: CopyKind) {
        if copy == CopyKind::Original && self.webhooks.pending.remove(&delivery_id).is_some() {
            self.webhooks.stats.skipped += 1;
        }
    }

    /// Starts a verification handshake with the app callback.
    pub(crate) fn start_verification(&mut self) -> Result<Verification, Refusal> {
        let Some(url) = self.webhooks.endpoints.callback_url.clone() else {
            return Err(Refusal::Invalid("no webhook callback URL to verify: pass --webhook-url or POST /_wasim/webhooks/config {\"callback_url\": ...}".to_owned()));
        };
        let verify_token = self.spec.verify_token.clone();
        Ok(self.next_verification(url, verify_token))
    }

    /// A new handshake with `url`, presenting `verify_token`, with a seeded
    /// challenge.
    pub(crate) fn next_verification(&mut self, url: String, verify_token: Secret) -> Verification {
        self.webhooks.verification_counter += 1;
        Verification {
            id: self.webhooks.verification_counter,
            url,
            verify_token,
            challenge: self.webhooks.rng.digits(10),
        }
    }

    /// Records a handshake's outcome.
    pub(crate) fn verification_finished(&mut self, echoed: bool) {
        self.webhooks.stats.verifications += 1;
        if echoed {
            self.webhooks.stats.verifications_echoed += 1;
        }
    }

    /// Sets where webhooks go (control API); traces each change.
    pub(crate) fn configure_webhooks(
        &mut self,
        at: SimTime,
        callback_url: Option<Option<String>>,
        partner_url: Option<Option<String>>,
        batch: Option<(u32, u64)>,
        effects: &mut Vec<Effect>,
    ) {
        let mut record = |scope: &str, url: &Option<String>| {
            effects.push(Effect::Trace {
                at,
                event: TraceEvent::WebhookConfigured {
                    scope: scope.to_owned(),
                    phone_number_id: None,
                    url: url.as_deref().map(redact_url),
                    headers: Vec::new(),
                },
            });
        };
        if let Some(url) = callback_url {
            record("app", &url);
            self.webhooks.endpoints.callback_url = url;
        }
        if let Some(url) = partner_url {
            record("partner", &url);
            self.webhooks.endpoints.partner_url = url;
        }
        if let Some((max, window_ms)) = batch {
            self.webhooks.batch.max = max;
            self.webhooks.batch.window_ms = window_ms;
        }
    }

    /// Stores a 360dialog client webhook for `phone_number_id`'s channel or WABA.
    pub(crate) fn set_d360_webhook(
        &mut self,
        at: SimTime,
        scope: D360Scope,
        phone_number_id: &str,
        webhook: D360Webhook,
        effects: &mut Vec<Effect>,
    ) {
        effects.push(Effect::Trace {
            at,
            event: TraceEvent::WebhookConfigured {
                scope: scope.name().to_owned(),
                phone_number_id: Some(phone_number_id.to_owned()),
                url: Some(redact_url(&webhook.url)),
                headers: webhook.header_fingerprints(),
            },
        });
        match scope {
            D360Scope::Channel => {
                self.webhooks
                    .endpoints
                    .d360_channel
                    .insert(phone_number_id.to_owned(), webhook);
            }
            D360Scope::Waba => self.webhooks.endpoints.d360_waba = Some(webhook),
        }
    }

    /// The 360dialog webhook of `phone_number_id`'s channel or WABA, if set.
    pub fn d360_webhook(&self, scope: D360Scope, phone_number_id: &str) -> Option<&D360Webhook> {
        match scope {
            D360Scope::Channel => self.webhooks.endpoints.d360_channel.get(phone_number_id),
            D360Scope::Waba => self.webhooks.endpoints.d360_waba.as_ref(),
        }
    }

    /// Where webhooks go.
    pub fn webhook_endpoints(&self) -> &Endpoints {
        &self.webhooks.endpoints
    }

    /// Carries where webhooks go over from an older world (reset keeps the wiring).
    pub fn keep_endpoints(&mut self, endpoints: Endpoints) {
        self.webhooks.endpoints = endpoints;
    }

    /// Deliveries awaiting acknowledgement.
    pub fn webhooks_pending(&self) -> usize {
        self.webhooks.pending.len()
    }

    /// Deliveries held back by a reorder or burst fault.
    pub fn webhooks_held(&self) -> usize {
        self.webhooks.held.len() + self.webhooks.burst.as_ref().map_or(0, |(_, m)| m.len())
    }

    /// The webhook counters.
    pub fn webhook_stats(&self) -> &WebhookStats {
        &self.webhooks.stats
    }

    /// Changes per post at most (1: no batching) and how long a batch gathers.
    pub fn webhook_batching(&self) -> (u32, u64) {
        (self.webhooks.batch.max, self.webhooks.batch.window_ms)
    }

    /// Changes gathering in open batches.
    pub fn webhooks_batching(&self) -> usize {
        self.webhooks
            .batch
            .open
            .values()
            .map(|b| b.count as usize)
            .sum()
    }
}

/// A forged copy: every inbound message gets a new id (so de-duplication cannot
/// hide it) and its text is marked; the signature is made wrong by the shell.
fn forge(body: &WebhookBody, token: &str) -> WebhookBody {
    let mut body = body.to_value();
    if let Some(entries) = body.get_mut("entry").and_then(Value::as_array_mut) {
        for entry in entries {
            let Some(changes) = entry.get_mut("changes").and_then(Value::as_array_mut) else {
                continue;
            };
            for change in changes {
                let Some(messages) = change
                    .pointer_mut("/value/messages")
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for message in messages {
                    message["id"] = Value::String(format!("wamid.HBgLforged{token}"));
                }
            }
        }
    }
    WebhookBody::from(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_maximum_interval() {
        let policy = Policy::default();
        let delays: Vec<u64> = (2..=6)
            .map(|attempt| retry_delay_ms(&policy, attempt))
            .collect();
        let first = policy.webhook_retry_initial_ms;
        assert_eq!(
            delays,
            vec![first, first * 2, first * 4, first * 8, first * 16]
        );
        assert_eq!(
            retry_delay_ms(&policy, 60),
            policy.webhook_retry_interval_max_ms
        );
    }

    #[test]
    fn forging_renames_inbound_messages_only() {
        let body = json!({"entry": [{"changes": [{"value": {
            "messages": [{"id": "wamid.real", "text": {"body": "hi"}}],
        }}]}]});
        let forged = forge(&WebhookBody::from(&body), "abc").to_value();
        assert_eq!(
            forged.pointer("/entry/0/changes/0/value/messages/0/id"),
            Some(&json!("wamid.HBgLforgedabc"))
        );
        let status = WebhookBody::from(json!(
            {"entry": [{"changes": [{"value": {"statuses": [{"id": "wamid.s"}]}}]}]}
        ));
        assert_eq!(forge(&status, "abc"), status);
    }
}
