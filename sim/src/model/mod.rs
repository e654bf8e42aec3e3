//! The pure, deterministic core of the simulated platform.
//!
//! `World` holds all simulated state. It is driven by three calls, in the sans-IO
//! style of quinn-proto and str0m:
//! - [`World::apply`]`(now, command)` handles one input and returns an [`Outcome`]
//!   (a reply plus effects);
//! - [`World::next_deadline`] says when the next timer is due;
//! - [`World::advance`]`(now)` fires every timer due by `now`, each at its own time.
//!
//! Nothing here reads the wall clock, spawns tasks or touches the network: time is an
//! argument and randomness comes from seeded ChaCha streams ([`rng`]).

pub mod account;
pub mod bsuid;
pub mod bucket;
pub mod country;
pub mod error;
pub mod policy;
pub mod rng;
pub mod secret;
pub mod spec;
pub mod time;
pub mod timers;

pub mod webhooks;

mod inbound;
mod marketing;
pub mod partner;
pub(crate) mod payload;
mod recipients;
pub mod registration;
mod send;
mod state;
pub mod templates;

pub use self::account::Incident;
pub use self::inbound::InboundContent;
pub use self::templates::{PacingOutcome, TemplateControl, TemplateLife};
pub use self::webhooks::{
    CopyKind, D360Scope, D360Webhook, Destination, FaultProfile, Route, Verification,
    WEBHOOKS_PENDING_MAX, WebhookBody, WebhookStats, retry_delay_ms,
};

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

pub use self::error::PlatformError;
pub use self::policy::Policy;
pub use self::recipients::{Activity, Recipient};
pub use self::spec::WorldSpec;
pub use self::state::{Message, MessageContent, StatusKind};
pub use self::time::{ClockMode, SimTime};

use self::bucket::{Bucket, BucketShape};
use self::rng::{SimRng, Stream};
use self::spec::{ApiKind, Category, PhoneNumberSpec, Quality, TemplateStatus};
use self::state::Timer;
use self::timers::TimerQueue;
use crate::trace::TraceEvent;

/// Most timers pending at once; a send that would exceed it is refused with 131000
/// rather than letting memory grow without bound.
pub const TIMERS_PENDING_MAX: usize = 2_000_000;

/// Most messages `POST /_wasim/ecosystem/marketing` adds in one call.
pub const ECOSYSTEM_COUNT_MAX: u32 = 1_000;

/// Which API surface a command came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Meta's Cloud API (Graph).
    Graph,
    /// 360dialog's messaging API.
    D360,
}

impl Surface {
    /// The name used in the trace.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Graph => "graph",
            Surface::D360 => "d360",
        }
    }
}

/// An input to the model.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send a message. `phone_number_id` comes from the Graph path; the 360dialog
    /// surface finds the number from its key.
    SendMessage {
        /// Which surface.
        surface: Surface,
        /// The credential presented (bearer token or `D360-API-KEY`), if any.
        credential: Option<String>,
        /// The phone number id of the Graph path.
        phone_number_id: Option<String>,
        /// The parsed JSON body.
        body: Value,
    },
    /// A user writes to the business.
    Inbound {
        /// The user's WhatsApp id.
        from: String,
        /// What the user sent.
        content: InboundContent,
        /// The business number written to (default: the first).
        phone_number_id: Option<String>,
        /// The wamid of the business message replied to (`context.id`); for button
        /// and list replies it defaults to the latest message sent to the user.
        context: Option<String>,
    },
    /// Other businesses' marketing reaches a user.
    EcosystemMarketing {
        /// The user's WhatsApp id.
        to: String,
        /// How many messages (1 to [`ECOSYSTEM_COUNT_MAX`]).
        count: u32,
    },
    /// A webhook delivery attempt finished (reported by the delivery engine).
    WebhookAttemptFinished {
        /// Delivery id.
        delivery_id: u64,
        /// Attempt number, from 1.
        attempt: u32,
        /// Which copy was posted.
        copy: CopyKind,
        /// `meta`, `d360` or `partner`.
        destination: &'static str,
        /// The trace record the attempt was posted right after ([`WebhookDelivery::after_seq`]).
        after_seq: u64,
        /// Target URL (redacted).
        url: String,
        /// The receiver's HTTP status, if it answered.
        http_status: Option<u16>,
        /// Wall milliseconds the attempt took.
        latency_ms: u64,
        /// Why there was no answer.
        error: Option<String>,
    },
    /// A webhook could not be sent at all.
    WebhookSkipped {
        /// Delivery id.
        delivery_id: u64,
        /// Which copy was not posted.
        copy: CopyKind,
        /// Why.
        reason: String,
    },
    /// Start a verification handshake with the app callback (§6.5); the reply says
    /// what to send.
    VerifyWebhook,
    /// A verification handshake finished (reported by the shell).
    WebhookVerified {
        /// Handshake id.
        verification_id: u64,
        /// The callback URL (redacted).
        url: String,
        /// The receiver's HTTP status, if it answered.
        http_status: Option<u16>,
        /// Whether it echoed the challenge.
        echoed: bool,
        /// Wall milliseconds the handshake took.
        latency_ms: u64,
        /// What went wrong, if anything.
        error: Option<String>,
    },
    /// Set where webhooks go and how they are batched (control API). `None` leaves a
    /// setting alone; `Some(None)` clears a URL.
    ConfigureWebhooks {
        /// The Meta app callback URL.
        callback_url: Option<Option<String>>,
        /// The 360dialog partner webhook URL.
        partner_url: Option<Option<String>>,
        /// Changes per post at most (1 to [`webhooks::BATCH_MAX`]) and how long a
        /// batch gathers, in milliseconds (1 to [`webhooks::faults::FAULT_HOLD_MS_MAX`]).
        batch: Option<(u32, u64)>,
    },
    /// Store a 360dialog client webhook (`/v1/configs/webhook`, `/waba_webhook`).
    SetD360Webhook {
        /// The `D360-API-KEY` presented.
        credential: Option<String>,
        /// Channel or WABA.
        scope: D360Scope,
        /// The webhook.
        webhook: D360Webhook,
    },
    /// Set the webhook fault profile from now; `None` heals at once.
    SetWebhookFaults {
        /// The profile.
        profile: Option<FaultProfile>,
    },
    /// A control action on a template (quality, feedback, pacing decision, pause).
    TemplateControl {
        /// The template's name.
        name: String,
        /// What to do.
        control: TemplateControl,
    },
    /// Create a template (`POST /{waba-id}/message_templates`,
    /// `POST /v1/configs/templates`); it goes through review.
    CreateTemplate {
        /// Which surface.
        surface: Surface,
        /// The bearer token or `D360-API-KEY` presented.
        credential: Option<String>,
        /// The WABA id of the Graph path.
        waba_id: Option<String>,
        /// The JSON body.
        body: Value,
    },
    /// Delete a template by name (every language).
    DeleteTemplate {
        /// Which surface.
        surface: Surface,
        /// The bearer token or `D360-API-KEY` presented.
        credential: Option<String>,
        /// The WABA id of the Graph path.
        waba_id: Option<String>,
        /// The template's name.
        name: String,
    },
    /// Register, deregister or set the PIN of a phone number (Cloud API).
    PhoneCall {
        /// The bearer token presented.
        credential: Option<String>,
        /// The phone number id of the path.
        phone_number_id: String,
        /// The call.
        call: registration::PhoneCall,
    },
    /// `POST /api/v2/token`: a Partner API bearer token.
    PartnerToken {
        /// The partner's user name.
        username: String,
        /// Its password.
        password: String,
    },
    /// An authenticated Partner API call.
    PartnerCall {
        /// The bearer token or partner API key presented.
        credential: Option<partner::PartnerCredential>,
        /// The partner id of the path.
        partner_id: String,
        /// The call.
        call: partner::PartnerCall,
    },
    /// `POST /{template-id}/unpause` on the Cloud API.
    UnpauseTemplate {
        /// The bearer token presented.
        credential: Option<String>,
        /// The template id of the path.
        template_id: String,
    },
    /// Replace the Cloud API access token with a new one (a compromised token is
    /// reset): the old one is refused with 190 from now on.
    RotateAccessToken,
    /// Something happens to the account (a flag, ban, compromise, tier change...).
    Incident(Incident),
    /// Emit one change (a template, account or partner event) through the pipeline.
    EmitEvent {
        /// Whom it is for.
        route: Route,
        /// The webhook field (`message_template_status_update`, or the partner event).
        field: String,
        /// The body.
        body: Value,
    },
}

/// The model's answer to a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A send was accepted.
    Sent {
        /// `contacts[].input`: the number as sent.
        input: String,
        /// `contacts[].wa_id`.
        wa_id: String,
        /// The wamid.
        message_id: String,
        /// `message_status`, for templates.
        message_status: Option<&'static str>,
    },
    /// The credential was missing, wrong or revoked.
    Unauthorized,
    /// A platform error, answered synchronously.
    Rejected(PlatformError),
    /// Refused by 360dialog before the platform saw it (template messaging disabled):
    /// answered in 360dialog's shape.
    Blocked {
        /// The HTTP status.
        http_status: u16,
        /// The `developer_message`.
        message: String,
    },
    /// An inbound message was received.
    InboundReceived {
        /// Its wamid.
        message_id: String,
    },
    /// A verification handshake to perform.
    Verify(Verification),
    /// The access token was replaced by this one.
    AccessTokenRotated(secret::Secret),
    /// A 360dialog webhook was stored.
    D360WebhookSet(D360Webhook),
    /// A JSON answer (`{"success": true}`).
    Json(Value),
    /// The Partner API's answer.
    Partner(partner::PartnerReply),
    /// A template was created (in review); its id.
    TemplateCreated(String),
    /// Done, with a word on what was done.
    Message(String),
    /// A control command named something that does not exist.
    NotFound(String),
    /// A control command was malformed.
    Invalid(String),
    /// Done; nothing to answer.
    Done,
}

/// A webhook the model wants posted.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// Delivery id, unique in the world.
    pub id: u64,
    /// Virtual time this attempt is due.
    pub at: SimTime,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// The webhook field (`messages`).
    pub field: Cow<'static, str>,
    /// The payload, serialized once and shared with the trace.
    pub body: WebhookBody,
    /// Where it goes and how it is authenticated.
    pub destination: Destination,
    /// Which copy this post is.
    pub copy: CopyKind,
    /// The sequence number of the trace record this post was queued right after (set
    /// by [`crate::Sim`]); its outcome arrives later, but this is where it happened.
    pub after_seq: u64,
}

impl WebhookDelivery {
    /// The command that reports how this attempt ended: the answer's status
    /// (none when nothing answered), its latency, and what went wrong below HTTP.
    pub fn finished(
        &self,
        url: String,
        http_status: Option<u16>,
        latency_ms: u64,
        error: Option<String>,
    ) -> Command {
        Command::WebhookAttemptFinished {
            delivery_id: self.id,
            attempt: self.attempt,
            copy: self.copy,
            destination: self.destination.kind(),
            after_seq: self.after_seq,
            url,
            http_status,
            latency_ms,
            error,
        }
    }
}

/// An effect of a command or timer: data for the shell to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append this record to the trace.
    Trace {
        /// When it happened.
        at: SimTime,
        /// What happened.
        event: TraceEvent,
    },
    /// Post this webhook.
    Webhook(WebhookDelivery),
}

/// The result of [`World::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The answer.
    pub reply: Reply,
    /// What the shell must carry out.
    pub effects: Vec<Effect>,
}

/// A business phone number.
#[derive(Debug, Clone)]
pub struct PhoneNumber {
    /// Its spec (ids, country, key).
    pub spec: PhoneNumberSpec,
    throughput: Bucket,
}

/// A message template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Template id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Category.
    pub category: Category,
    /// Review status.
    pub status: TemplateStatus,
    /// Quality rating.
    pub quality: Quality,
    /// Body parameters a send must supply.
    pub body_parameters: u32,
    /// Header parameters a send must supply.
    pub header_parameters: u32,
    /// Pauses, pacing and feedback.
    pub life: TemplateLife,
}

/// Magic recipients: numbers that always produce one outcome (see the README).
pub const MAGIC_RECIPIENTS: &[(&str, &str)] = &[
    ("999000000", "delivered, then read"),
    ("999000001", "delivered, never read"),
    (
        "999000002",
        "read at once: the delivered webhook is skipped",
    ),
    (
        "999000003",
        "sent, never delivered (like a Turkish user who has not accepted the terms)",
    ),
    ("999131026", "failed 131026 (undeliverable)"),
    (
        "999131047",
        "failed 131047 (re-engagement), even inside a service window",
    ),
    ("999131049", "failed 131049 (per-user marketing limit)"),
    ("999131050", "failed 131050 (user stopped marketing)"),
    ("999130429", "rejected at once with 130429 (throughput)"),
    (
        "999131056",
        "rejected at once with 131056 (pair rate limit)",
    ),
];

/// The whole simulated platform state.
#[derive(Debug)]
pub struct World {
    spec: WorldSpec,
    seed: u64,
    policy: Policy,
    phone_numbers: Vec<PhoneNumber>,
    templates: Vec<Template>,
    recipients: recipients::Recipients,
    /// Messages in the order of their number (the counter in their wamid), so in
    /// wamid order; appended as they are accepted.
    messages: Vec<Message>,
    timers: TimerQueue<Timer>,
    /// By (phone number index, `recipients::encode` of the user's wa_id).
    pair_buckets: BTreeMap<(usize, u64), Bucket>,
    /// Last time each user (`recipients::encode`d) was reached outside a service
    /// window, for the messaging limit.
    business_initiated: BTreeMap<u64, SimTime>,
    business_initiated_log: VecDeque<(SimTime, u64)>,
    webhooks: webhooks::WebhookState,
    partner: partner::PartnerState,
    account: account::AccountState,
    registration: Vec<registration::RegistrationLog>,
    /// When one of the WABA's utility templates was last paused (utility pacing).
    utility_paused_at: Option<SimTime>,
    pacing_rounds: u64,
    feedback_rng: SimRng,
    lifecycle_rng: SimRng,
    ids_rng: SimRng,
    incidents_rng: SimRng,
    message_counter: u64,
    now: SimTime,
}

impl World {
    /// Builds a world from `spec`. `seed` and `profile` override the file's.
    pub fn new(spec: WorldSpec, seed: Option<u64>, profile: Option<&str>) -> Result<World, String> {
        let policy = spec.policy(profile)?;
        let seed = seed.unwrap_or(spec.seed);
        let throughput = throughput_shape(&policy);
        let phone_numbers = spec
            .waba
            .phone_numbers
            .iter()
            .map(|p| PhoneNumber {
                spec: p.clone(),
                throughput: Bucket::full(throughput, SimTime::ZERO),
            })
            .collect();
        let templates = spec
            .waba
            .templates
            .iter()
            .map(|t| Template {
                id: t.id.clone(),
                name: t.name.clone(),
                language: t.language.clone(),
                category: t.category,
                status: t.status,
                quality: t.quality,
                body_parameters: t.body_parameters,
                header_parameters: t.header_parameters,
                life: TemplateLife {
                    negative: t.negative,
                    ..TemplateLife::default()
                },
            })
            .collect();
        let recipients = recipients::Recipients::generate(&spec, &policy, seed);
        let faults = spec.webhook_faults()?;
        let endpoints = webhooks::Endpoints {
            callback_url: spec.webhook_url.clone(),
            partner_url: spec.partner.webhook_url.clone(),
            ..webhooks::Endpoints::default()
        };
        let webhooks = webhooks::WebhookState::new(
            endpoints,
            (spec.webhooks.batch_max, spec.webhooks.batch_window_ms),
            faults,
            SimRng::new(seed, Stream::Webhooks),
        );
        Ok(World {
            seed,
            policy,
            phone_numbers,
            templates,
            recipients,
            messages: Vec::new(),
            timers: TimerQueue::default(),
            pair_buckets: BTreeMap::new(),
            business_initiated: BTreeMap::new(),
            business_initiated_log: VecDeque::new(),
            webhooks,
            partner: partner::PartnerState::new(&spec.partner),
            account: account::AccountState::default(),
            registration: vec![
                registration::RegistrationLog::default();
                spec.waba.phone_numbers.len()
            ],
            utility_paused_at: None,
            pacing_rounds: 0,
            feedback_rng: SimRng::new(seed, Stream::Feedback),
            lifecycle_rng: SimRng::new(seed, Stream::Lifecycle),
            ids_rng: SimRng::new(seed, Stream::Ids),
            incidents_rng: SimRng::new(seed, Stream::Incidents),
            message_counter: 0,
            now: SimTime::ZERO,
            spec,
        })
    }

    /// The record that opens a trace of this world.
    pub fn built_event(&self) -> TraceEvent {
        TraceEvent::WorldBuilt {
            seed: self.seed,
            profile: self.policy.profile.clone(),
            recipients: self.recipients.len(),
            epoch_unix_s: self.spec.epoch_unix_s,
        }
    }

    /// The root seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The spec the world was built from.
    pub fn spec(&self) -> &WorldSpec {
        &self.spec
    }

    /// The latest virtual time the world has seen.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// A recipient by WhatsApp id.
    pub fn recipient(&self, wa_id: &str) -> Option<Recipient<'_>> {
        self.recipients.get(wa_id)
    }

    /// Every recipient, ordered by WhatsApp id.
    pub fn recipients(&self) -> impl Iterator<Item = Recipient<'_>> {
        self.recipients.iter()
    }

    /// A message by wamid.
    pub fn message(&self, id: &str) -> Option<&Message> {
        let index = self.message_index(message_number(id)?)?;
        Some(&self.messages[index]).filter(|message| message.id == id)
    }

    /// Where message `number` is in `messages`.
    fn message_index(&self, number: u64) -> Option<usize> {
        // Numbers start at 1 and only inbound messages skip one, so message
        // `number` sits at `number - 1` unless the business was written to
        // before it, and never later: look there first (one read, where a
        // search of a campaign's messages misses the cache at every level).
        let last = usize::try_from(number.checked_sub(1)?)
            .unwrap_or(usize::MAX)
            .min(self.messages.len().checked_sub(1)?);
        if self.messages[last].number == number {
            return Some(last);
        }
        self.messages[..last]
            .binary_search_by_key(&number, |message| message.number)
            .ok()
    }

    fn message_mut(&mut self, number: u64) -> Option<&mut Message> {
        let index = self.message_index(number)?;
        self.messages.get_mut(index)
    }

    /// Every message, ordered by wamid.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter()
    }

    /// The phone numbers.
    pub fn phone_numbers(&self) -> &[PhoneNumber] {
        &self.phone_numbers
    }

    /// The templates.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// Marketing messages from all businesses counted toward `wa_id`'s limit in the
    /// window ending at `at` (other businesses' and this business's counted ones).
    pub fn marketing_in_window(&self, wa_id: &str, at: SimTime) -> u32 {
        self.recipients
            .get(wa_id)
            .map_or(0, |r| marketing::window_count(self, &r, at))
    }

    /// Checks a send's credential (and, on Graph, the path's phone number) before its
    /// body is read, as the platform does: `Err` carries the rejection to answer.
    pub fn authenticate_send(
        &self,
        surface: Surface,
        credential: Option<&str>,
        phone_number_id: Option<&str>,
    ) -> Result<(), Reply> {
        send::authenticate(self, surface, credential, phone_number_id).map(|_| ())
    }

    /// Checks a Cloud API bearer token: the error is Graph's 190.
    pub fn check_access_token(&self, credential: Option<&str>) -> Result<(), PlatformError> {
        if credential == Some(self.spec.access_token.expose()) {
            Ok(())
        } else {
            Err(PlatformError::new(
                error::code::ACCESS_TOKEN,
                "The access token could not be decrypted or is not valid.",
            ))
        }
    }

    /// The phone number id a 360dialog key belongs to, or the rejection to answer.
    pub fn d360_phone_for_key(&self, credential: Option<&str>) -> Result<&str, Reply> {
        send::authenticate(self, Surface::D360, credential, None)
            .map(|index| self.phone_numbers[index].spec.id.as_str())
    }

    /// When the next timer is due.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.timers.next_deadline()
    }

    /// How many timers are pending.
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// Handles one command at `now` (earlier times are read as the latest time seen).
    pub fn apply(&mut self, now: SimTime, command: Command) -> Outcome {
        let now = now.max(self.now);
        self.now = now;
        let mut effects = Vec::new();
        let reply = match command {
            Command::SendMessage {
                surface,
                credential,
                phone_number_id,
                body,
            } => send::send(
                self,
                now,
                surface,
                credential.as_deref(),
                phone_number_id.as_deref(),
                &body,
                &mut effects,
            ),
            Command::Inbound {
                from,
                content,
                phone_number_id,
                context,
            } => self.inbound(
                now,
                &from,
                content,
                phone_number_id.as_deref(),
                context,
                &mut effects,
            ),
            Command::EcosystemMarketing { to, count } => {
                self.ecosystem_marketing(now, &to, count, &mut effects)
            }
            Command::WebhookAttemptFinished {
                delivery_id,
                attempt,
                copy,
                destination,
                after_seq,
                url,
                http_status,
                latency_ms,
                error,
            } => {
                effects.push(Effect::Trace {
                    at: now,
                    event: TraceEvent::WebhookAttempt {
                        delivery_id,
                        attempt,
                        copy: copy.name(),
                        destination,
                        after_seq,
                        url,
                        http_status,
                        latency_ms,
                        error,
                    },
                });
                self.webhook_attempt_finished(
                    now,
                    delivery_id,
                    attempt,
                    copy,
                    http_status,
                    &mut effects,
                );
                Reply::Done
            }
            Command::WebhookSkipped {
                delivery_id,
                copy,
                reason,
            } => {
                self.webhook_skipped(delivery_id, copy);
                effects.push(Effect::Trace {
                    at: now,
                    event: TraceEvent::WebhookSkipped {
                        delivery_id,
                        reason,
                    },
                });
                Reply::Done
            }
            Command::VerifyWebhook => match self.start_verification() {
                Ok(verification) => Reply::Verify(verification),
                Err(message) => Reply::Invalid(message),
            },
            Command::WebhookVerified {
                verification_id,
                url,
                http_status,
                echoed,
                latency_ms,
                error,
            } => {
                self.verification_finished(echoed);
                effects.push(Effect::Trace {
                    at: now,
                    event: TraceEvent::WebhookVerification {
                        verification_id,
                        url,
                        verify_token: self.spec.verify_token.fingerprint(),
                        http_status,
                        echoed,
                        latency_ms,
                        error,
                    },
                });
                Reply::Done
            }
            Command::ConfigureWebhooks {
                callback_url,
                partner_url,
                batch,
            } => match batch.map(webhooks::check_batching).transpose() {
                Err(message) => Reply::Invalid(message),
                Ok(batch) => {
                    self.configure_webhooks(now, callback_url, partner_url, batch, &mut effects);
                    Reply::Done
                }
            },
            Command::SetD360Webhook {
                credential,
                scope,
                webhook,
            } => match send::authenticate(self, Surface::D360, credential.as_deref(), None) {
                Err(reply) => reply,
                Ok(index) => {
                    let phone_number_id = self.phone_numbers[index].spec.id.clone();
                    self.set_d360_webhook(
                        now,
                        scope,
                        &phone_number_id,
                        webhook.clone(),
                        &mut effects,
                    );
                    Reply::D360WebhookSet(webhook)
                }
            },
            Command::SetWebhookFaults { profile } => {
                self.set_faults(now, profile, &mut effects);
                Reply::Done
            }
            Command::TemplateControl { name, control } => {
                match self.template_control(now, &name, control, &mut effects) {
                    Ok(done) => Reply::Message(done),
                    Err(message) if message.starts_with("unknown template") => {
                        Reply::NotFound(message)
                    }
                    Err(message) => Reply::Invalid(message),
                }
            }
            Command::CreateTemplate {
                surface,
                credential,
                waba_id,
                body,
            } => match self.authorize_templates(surface, credential.as_deref(), waba_id.as_deref())
            {
                Err(reply) => reply,
                Ok(()) => match self.create_template(now, &body, &mut effects) {
                    Ok(index) => Reply::TemplateCreated(self.templates[index].id.clone()),
                    Err(error) => Reply::Rejected(error),
                },
            },
            Command::DeleteTemplate {
                surface,
                credential,
                waba_id,
                name,
            } => match self.authorize_templates(surface, credential.as_deref(), waba_id.as_deref())
            {
                Err(reply) => reply,
                Ok(()) => match self.delete_template(now, &name, &mut effects) {
                    Ok(()) => Reply::Message("deleted".to_owned()),
                    Err(error) => Reply::Rejected(error),
                },
            },
            Command::UnpauseTemplate {
                credential,
                template_id,
            } => {
                if let Err(error) = self.check_access_token(credential.as_deref()) {
                    Reply::Rejected(error)
                } else {
                    match self.unpause_by_id(now, &template_id, &mut effects) {
                        None => Reply::Rejected(PlatformError::new(
                            error::code::INVALID_PARAMETER,
                            format!(
                                "Unsupported post request. Object with ID '{template_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
                            ),
                        )),
                        Some(Ok(())) => Reply::Message("unpaused".to_owned()),
                        Some(Err(reason)) => Reply::Invalid(reason),
                    }
                }
            }
            Command::PhoneCall {
                credential,
                phone_number_id,
                call,
            } => match self.phone_call(
                now,
                credential.as_deref(),
                &phone_number_id,
                call,
                &mut effects,
            ) {
                Ok(body) => Reply::Json(body),
                Err(error) => Reply::Rejected(error),
            },
            Command::PartnerToken { username, password } => {
                Reply::Partner(self.partner_token(now, &username, &password, &mut effects))
            }
            Command::PartnerCall {
                credential,
                partner_id,
                call,
            } => Reply::Partner(self.partner_call(
                now,
                credential.as_ref(),
                &partner_id,
                call,
                &mut effects,
            )),
            Command::RotateAccessToken => {
                let old = self.spec.access_token.fingerprint();
                let token = secret::Secret::from(
                    format!("wasim_rotated_{}", self.ids_rng.token(24)).as_str(),
                );
                self.spec.access_token = token.clone();
                effects.push(Effect::Trace {
                    at: now,
                    event: TraceEvent::AccessTokenRotated {
                        old,
                        new: token.fingerprint(),
                    },
                });
                Reply::AccessTokenRotated(token)
            }
            Command::Incident(incident) => match self.incident(now, incident, &mut effects) {
                Ok(detail) => Reply::Message(detail),
                Err(message) if message.starts_with("unknown") => Reply::NotFound(message),
                Err(message) => Reply::Invalid(message),
            },
            Command::EmitEvent { route, field, body } => {
                if let Route::Number(id) = &route
                    && self.phone(Some(id)).is_none()
                {
                    Reply::NotFound(format!(
                        "unknown phone_number_id `{id}`: GET /_wasim/world lists the numbers"
                    ))
                } else {
                    self.emit_change(field, route, body);
                    Reply::Done
                }
            }
        };
        self.flush_outbox(now, &mut effects);
        Outcome { reply, effects }
    }

    /// Fires every timer due by `now`, in `(time, seq)` order, each at its own time.
    pub fn advance(&mut self, now: SimTime) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Some((at, timer)) = self.timers.pop_due(now) {
            self.now = self.now.max(at);
            self.fire(at, timer, &mut effects);
            // Changes of one instant leave together (and may be batched).
            if self.timers.next_deadline() != Some(at) {
                self.flush_outbox(at, &mut effects);
            }
        }
        self.now = self.now.max(now);
        effects
    }

    /// The ids and credentials of the world, for `GET /_wasim/world`.
    pub fn describe(&self) -> Value {
        let phone_numbers: Vec<Value> = self
            .phone_numbers
            .iter()
            .map(|p| {
                json!({
                    "id": p.spec.id,
                    "display_phone_number": p.spec.display_phone_number,
                    "country": p.spec.country,
                    "api": match p.spec.api { ApiKind::Cloud => "cloud", ApiKind::OnPremises => "on_premises" },
                    "channel_id": p.spec.channel_id,
                    "d360_api_key": p.spec.d360_api_key,
                    "registered": p.spec.registered,
                    "throughput_mps": self.policy.throughput_mps,
                })
            })
            .collect();
        let templates: Vec<Value> = self
            .templates
            .iter()
            .map(|t| {
                json!({
                    "id": t.id, "name": t.name, "language": t.language, "category": t.category,
                    "status": t.status, "quality": t.quality,
                    "body_parameters": t.body_parameters, "header_parameters": t.header_parameters,
                })
            })
            .collect();
        let named: Vec<&str> = self
            .spec
            .recipients
            .named
            .iter()
            .map(|n| n.wa_id.as_str())
            .collect();
        let sample: Vec<Value> = named
            .iter()
            .filter_map(|wa_id| self.recipients.get(wa_id))
            .chain(
                self.recipients
                    .iter()
                    .filter(|r| !named.contains(&r.wa_id().as_str()))
                    .take(20),
            )
            .map(|r| json!({"wa_id": r.wa_id(), "country": r.country(), "name": r.name(), "opted_out": r.opted_out()}))
            .collect();
        let magic: Vec<Value> = MAGIC_RECIPIENTS
            .iter()
            .map(|(wa_id, outcome)| json!({"wa_id": wa_id, "outcome": outcome}))
            .collect();
        json!({
            "seed": self.seed,
            "policy": self.policy,
            "epoch_unix_s": self.spec.epoch_unix_s,
            "access_token": self.spec.access_token,
            "app_secret": self.spec.app_secret,
            "verify_token": self.spec.verify_token,
            "partner_id": self.spec.partner.id,
            "partner_username": self.spec.partner.username,
            "partner_password": self.spec.partner.password,
            "partner_api_key": self.spec.partner.api_key,
            "partner_webhook_secret": self.spec.partner.webhook_secret,
            "client_id": self.spec.client.id,
            "wabas": [{
                "id": self.spec.waba.id,
                "messaging_limit": self.spec.waba.messaging_limit,
                "phone_numbers": phone_numbers,
                "templates": templates,
            }],
            "recipients_total": self.recipients.len(),
            "recipients": sample,
            "magic_recipients": magic,
        })
    }

    /// The next message's number and wamid.
    fn next_message(&mut self) -> (u64, String) {
        self.message_counter += 1;
        let mut id = String::with_capacity(WAMID_PREFIX.len() + WAMID_NUMBER_DIGITS + 12);
        id.push_str(WAMID_PREFIX);
        let number = self.message_counter.to_string();
        id.extend(std::iter::repeat_n(
            '0',
            WAMID_NUMBER_DIGITS.saturating_sub(number.len()),
        ));
        id.push_str(&number);
        self.ids_rng.push_token(&mut id, 12);
        (self.message_counter, id)
    }

    fn phone(&self, id: Option<&str>) -> Option<&PhoneNumber> {
        match id {
            Some(id) => self.phone_numbers.iter().find(|p| p.spec.id == id),
            None => self.phone_numbers.first(),
        }
    }

    fn ecosystem_marketing(
        &mut self,
        now: SimTime,
        to: &str,
        count: u32,
        effects: &mut Vec<Effect>,
    ) -> Reply {
        if count == 0 || count > ECOSYSTEM_COUNT_MAX {
            return Reply::Invalid(format!(
                "count must be from 1 to {ECOSYSTEM_COUNT_MAX}, got {count}"
            ));
        }
        let Some(recipient) = self.recipients.activity_mut(to) else {
            return Reply::NotFound(format!(
                "unknown recipient `{to}`: GET /_wasim/world lists recipients"
            ));
        };
        recipient
            .ecosystem_marketing
            .extend(std::iter::repeat_n(now, count as usize));
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::EcosystemMarketing {
                to: to.to_owned(),
                count,
            },
        });
        Reply::Done
    }

    /// The BSUID of `wa_id` for this business, if the policy puts BSUIDs on webhooks
    /// (`2026-04`). The country is the recipient's, else the one its number implies.
    fn business_scoped_user_id(&self, wa_id: &str) -> Option<String> {
        business_scoped_user_id(
            &self.policy,
            &self.recipients,
            self.seed,
            &self.spec.waba.id,
            wa_id,
        )
    }

    fn unix_seconds(&self, at: SimTime) -> u64 {
        self.spec.epoch_unix_s + at.as_ms() / 1000
    }

    fn fire(&mut self, at: SimTime, timer: Timer, effects: &mut Vec<Effect>) {
        match timer {
            Timer::Webhook(timer) => self.fire_webhook_timer(at, timer, effects),
            Timer::PacingDecision { template, round } => {
                let _ = self.decide_pacing(at, template, round, None, effects);
            }
            Timer::TemplateUnpause { template, epoch } => {
                self.pause_ended(at, template, epoch, effects);
            }
            Timer::TemplateReview { template } => self.review_ended(at, template, effects),
            Timer::RestrictionEnds { epoch } => self.restriction_ended(at, epoch, effects),
            Timer::UnknownOriginSend { epoch } => self.unknown_origin_send(at, epoch, effects),
            Timer::Status {
                message,
                status,
                error_code,
            } => {
                let Some(index) = self.message_index(message) else {
                    debug_assert!(false, "a status timer names an unknown message");
                    return;
                };
                // A field borrow: the rest of the world is read below.
                let message = &mut self.messages[index];
                let billing_already_shown = message
                    .statuses
                    .iter()
                    .any(|(_, s)| matches!(s, StatusKind::Delivered | StatusKind::Read));
                message.statuses.push((at, status));
                if status == StatusKind::Failed {
                    message.failure_code = error_code;
                }
                message.pending_timers = message.pending_timers.saturating_sub(1);
                // Read in place: the message, its number and the recipient are
                // borrowed, not copied, and the body is written straight to text.
                let message = &*message;
                effects.push(Effect::Trace {
                    at,
                    event: TraceEvent::Status {
                        message_id: message.id.clone(),
                        to: message.to.clone(),
                        status: status.name(),
                        error_code,
                    },
                });
                let Some(phone) = self
                    .phone_numbers
                    .iter()
                    .find(|p| p.spec.id == message.phone_number_id)
                    .map(|p| &p.spec)
                else {
                    return;
                };
                // A number that is not a WhatsApp user (131026) has no BSUID.
                let user_id = (error_code != Some(error::code::UNDELIVERABLE))
                    .then(|| {
                        business_scoped_user_id(
                            &self.policy,
                            &self.recipients,
                            self.seed,
                            &self.spec.waba.id,
                            &message.to,
                        )
                    })
                    .flatten();
                let object = payload::status(
                    message,
                    status,
                    error_code,
                    self.spec.epoch_unix_s + at.as_ms() / 1000,
                    self.spec.epoch_unix_s,
                    !billing_already_shown,
                    user_id.as_deref(),
                );
                let name = user_id
                    .as_ref()
                    .and_then(|_| self.recipients.get(&message.to))
                    .map(|r| r.name());
                let user = user_id.as_deref().map(|user_id| (user_id, name.as_deref()));
                let source = payload::StatusSource {
                    waba_id: &self.spec.waba.id,
                    display_phone_number: &phone.display_phone_number,
                    phone_number_id: &phone.id,
                    user,
                };
                let body = WebhookBody::write(|out| {
                    payload::write_status_webhook(out, &source, &object, message)
                });
                let route = Route::Number(phone.id.clone());
                self.emit_change("messages", route, body);
            }
        }
    }

    fn schedule(&mut self, at: SimTime, timer: Timer) {
        if let Timer::Status { message, .. } = &timer
            && let Some(message) = self.message_mut(*message)
        {
            message.pending_timers += 1;
        }
        self.timers.push(at, timer);
    }
}

/// What every wamid starts with; the message's number follows, zero-padded.
const WAMID_PREFIX: &str = "wamid.HBgL";
const WAMID_NUMBER_DIGITS: usize = 10;

/// The number in a wamid this world issued (checked against the full id on lookup).
fn message_number(id: &str) -> Option<u64> {
    let digits = id.strip_prefix(WAMID_PREFIX)?.get(..WAMID_NUMBER_DIGITS)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// [`World::business_scoped_user_id`] from the fields it reads, for callers that
/// hold another field of the world borrowed.
fn business_scoped_user_id(
    policy: &Policy,
    recipients: &recipients::Recipients,
    seed: u64,
    waba_id: &str,
    wa_id: &str,
) -> Option<String> {
    if !policy.bsuid {
        return None;
    }
    let country = recipients
        .get(wa_id)
        .map_or_else(|| country::country_of(wa_id), |r| r.country());
    Some(bsuid::derive(seed, waba_id, country, wa_id))
}

fn throughput_shape(policy: &Policy) -> BucketShape {
    BucketShape {
        capacity: u64::from(policy.throughput_mps),
        refill: u64::from(policy.throughput_mps),
        period_ms: 1_000,
    }
}

fn pair_shape(policy: &Policy) -> BucketShape {
    BucketShape {
        capacity: u64::from(policy.pair_burst),
        refill: 1,
        period_ms: policy.pair_interval_ms,
    }
}
