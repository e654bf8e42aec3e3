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
mod auth;
pub mod bsuid;
pub mod bucket;
pub mod command;
pub mod components;
pub mod country;
pub mod error;
pub mod fields;
pub mod id;
pub mod media;
pub mod outgoing;
pub mod policy;
pub mod refusal;
pub mod rng;
pub mod secret;
pub mod spec;
pub mod time;
pub mod timers;

pub mod webhooks;

pub mod freeform;
mod inbound;
mod marketing;
pub mod marketing_messages;
pub mod numbers;
mod object;
pub mod partner;
pub(crate) mod payload;
pub mod received;
mod recipients;
pub mod registration;
mod send;
mod state;
mod status;
pub mod template_parameters;
pub mod templates;

pub use self::account::Incident;
pub use self::command::{Command, Effect, Outcome, Reply, Surface, TemplateList, WebhookDelivery};
pub use self::fields::FieldError;
pub use self::id::{ChannelId, MediaId, PartnerId, PhoneNumberId, TemplateId, WaId, WabaId, Wamid};
pub use self::inbound::{CONTACTS_MAX, InboundContent, InboundMedia};
pub use self::marketing_messages::SendEndpoint;
pub use self::media::{Media, MediaInfo, MediaKind, media_kind_accepts};
pub use self::outgoing::{Outgoing, OutgoingContent, SendRequestError};
pub use self::refusal::{Object, Refusal, RequestError};
pub use self::templates::{PacingOutcome, TemplateControl, TemplateLife};
pub use self::webhooks::{
    CopyKind, D360Scope, D360Webhook, Destination, FaultProfile, Route, Verification,
    WEBHOOKS_PENDING_MAX, WebhookBody, WebhookStats, retry_delay_ms,
};

use std::collections::{BTreeMap, VecDeque};

pub use self::error::PlatformError;
pub use self::policy::Policy;
pub use self::recipients::{Activity, Recipient};
pub use self::spec::WorldSpec;
pub use self::state::{Message, MessageContent, StatusKind};
pub use self::time::{ClockMode, SimTime};

use self::bucket::{Bucket, BucketShape};
use self::rng::{SimRng, Stream};
use self::send::Sender;
use self::spec::{Category, PhoneNumberSpec, Quality, TemplateStatus};
use self::state::Timer;
use self::timers::TimerQueue;
use crate::trace::TraceEvent;

/// Most timers pending at once; a send that would exceed it is refused with 131000
/// rather than letting memory grow without bound.
pub const TIMERS_PENDING_MAX: usize = 2_000_000;

/// Most messages `POST /_wasim/ecosystem/marketing` adds in one call.
pub const ECOSYSTEM_COUNT_MAX: u32 = 1_000;

/// A business phone number.
#[derive(Debug, Clone)]
pub struct PhoneNumber {
    /// Its spec (ids, country, key).
    pub spec: PhoneNumberSpec,
    throughput: Bucket,
}

/// A message template.
#[derive(Debug, Clone, PartialEq)]
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
    /// Its header, body, footer and buttons, which a send is checked against.
    pub components: components::Components,
    /// Pauses, pacing and feedback.
    pub life: TemplateLife,
}

impl Template {
    /// A template as a world file declares it, before anything happened to it.
    pub fn from_spec(spec: &spec::TemplateSpec) -> Template {
        Template {
            id: spec.id.clone(),
            name: spec.name.clone(),
            language: spec.language.clone(),
            category: spec.category,
            status: spec.status,
            quality: spec.quality,
            components: spec.components(),
            life: TemplateLife {
                negative: spec.negative,
                ..TemplateLife::default()
            },
        }
    }
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

/// Magic recipients of the transient and rate errors an integration must survive:
/// every other send to one is refused at once (the first, the third, …), so a
/// retry goes through (see the README).
pub const TRANSIENT_RECIPIENTS: &[(&str, &str)] = &[
    (
        "999131000",
        "every other send refused at once with 131000 (HTTP 500, something went wrong); the retry is accepted",
    ),
    (
        "999131057",
        "every other send refused at once with 131057 (HTTP 500, account in maintenance mode); the retry is accepted",
    ),
    (
        "999133004",
        "every other send refused at once with 133004 (HTTP 503, server temporarily unavailable); the retry is accepted",
    ),
    (
        "999000004",
        "every other send refused at once with 4 (HTTP 400, application request limit reached); the retry is accepted",
    ),
    (
        "999080007",
        "every other send refused at once with 80007 (HTTP 400, WABA rate limit); the retry is accepted",
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
    /// How many of the oldest messages were forgotten (`limits.messages_kept`).
    messages_forgotten: u64,
    /// The count of messages at which old ones are looked at again for
    /// forgetting.
    messages_forget_at: usize,
    /// Messages whose story ended (their last pending status fired) since old
    /// ones were last looked at: at `limits.messages_max`, looking again is
    /// worth it only once enough have.
    messages_ended: usize,
    timers: TimerQueue<Timer>,
    /// By (phone number index, `recipients::encode` of the user's wa_id).
    pair_buckets: BTreeMap<(usize, u64), Bucket>,
    /// Sends to each of the [`TRANSIENT_RECIPIENTS`] so far (at most one entry each).
    transient_sends: BTreeMap<&'static str, u64>,
    /// Last time each user (`recipients::encode`d) was reached outside a service
    /// window, for the messaging limit.
    business_initiated: BTreeMap<u64, SimTime>,
    business_initiated_log: VecDeque<(SimTime, u64)>,
    /// Messages users sent the business, for read receipts, reactions and replies.
    received: received::ReceivedLog,
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
    media: media::MediaStore,
    media_rng: SimRng,
    message_counter: u64,
    now: SimTime,
}

impl World {
    /// Builds a world from `spec`. `seed` and `profile` override the file's.
    pub fn new(
        spec: WorldSpec,
        seed: Option<u64>,
        profile: Option<&str>,
    ) -> Result<World, spec::WorldError> {
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
            .map(Template::from_spec)
            .collect();
        let recipients = recipients::Recipients::generate(&spec, &policy, seed);
        let faults = spec.webhook_faults()?;
        let endpoints = webhooks::Endpoints {
            callback_url: spec.webhook_url.clone(),
            partner_url: spec.partner.webhook_url.clone(),
            subscription: numbers::Subscription {
                subscribed: spec.waba.subscribed,
                override_callback_uri: None,
            },
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
            messages_forgotten: 0,
            messages_forget_at: 0,
            messages_ended: 0,
            timers: TimerQueue::default(),
            pair_buckets: BTreeMap::new(),
            transient_sends: BTreeMap::new(),
            business_initiated: BTreeMap::new(),
            business_initiated_log: VecDeque::new(),
            received: received::ReceivedLog::default(),
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
            media: media::MediaStore::default(),
            media_rng: SimRng::new(seed, Stream::Media),
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

    /// How many recipients the world has.
    pub fn recipients_total(&self) -> usize {
        self.recipients.len()
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
        // Numbers start at 1 and only inbound messages and forgotten ones skip
        // one, so message `number` sits at `number - 1 - forgotten` unless the
        // business was written to before it, and never later: look there first
        // (one read, where a search of a campaign's messages misses the cache at
        // every level).
        let last = usize::try_from(
            number
                .checked_sub(1)?
                .saturating_sub(self.messages_forgotten),
        )
        .unwrap_or(usize::MAX)
        .min(self.messages.len().checked_sub(1)?);
        if self.messages[last].number == number {
            return Some(last);
        }
        // Forgotten messages need not be the oldest (one still in play stays),
        // so the guess can fall short: search them all.
        self.messages
            .binary_search_by_key(&number, |message| message.number)
            .ok()
    }

    /// Whether one more message fits under `limits.messages_max`, after
    /// forgetting what may be forgotten.
    fn room_for_a_message(&mut self) -> bool {
        let max = self.spec.limits.messages_max as usize;
        if self.messages.len() < max {
            return true;
        }
        let kept = self.spec.limits.messages_kept as usize;
        let step = (kept / 10).max(1);
        // Each look goes through every message: at the bound, not at every
        // refused send, only once a hundredth of the bound's slack has ended.
        if self.messages_ended < (step / 10).max(1) {
            return false;
        }
        self.forget_oldest_done((self.messages.len() - kept).max(step));
        self.messages_forget_at = self.messages.len() + step;
        self.messages.len() < max
    }

    /// Forgets, once more than `limits.messages_kept` are kept (and then every
    /// tenth of that), those of the oldest messages past the bound whose story
    /// is over: every status fired, none held. A message still waiting for a
    /// status (a read ten minutes later) stays without holding back the newer
    /// ones behind it. A forgotten wamid is unknown to `context` and the probes.
    fn forget_old_messages(&mut self) {
        let kept = self.spec.limits.messages_kept as usize;
        let step = (kept / 10).max(1);
        if self.messages.len() < (kept + step).max(self.messages_forget_at) {
            return;
        }
        self.forget_oldest_done(self.messages.len() - kept);
        // The ones still in play are looked at again a tenth later, not at
        // every send.
        self.messages_forget_at = self.messages.len() + step;
    }

    /// Forgets those of the `oldest` messages whose story is over.
    fn forget_oldest_done(&mut self, oldest: usize) {
        self.messages_ended = 0;
        let before = self.messages.len();
        let mut position = 0usize;
        self.messages.retain(|m| {
            position += 1;
            position > oldest || m.pending_timers > 0 || m.statuses.is_empty()
        });
        self.messages_forgotten += (before - self.messages.len()) as u64;
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
        let reply = self.dispatch(now, command, &mut effects);
        self.flush_outbox(now, &mut effects);
        Outcome { reply, effects }
    }

    fn dispatch(
        &mut self,
        now: SimTime,
        command: Command,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Refusal> {
        match command {
            Command::SendMessage {
                endpoint,
                surface,
                credential,
                phone_number_id,
                request,
            } => {
                let phone =
                    self.authenticate(surface, credential.as_ref(), phone_number_id.as_ref())?;
                send::send(
                    self,
                    now,
                    phone,
                    Sender::Integration(surface),
                    (endpoint, request),
                    effects,
                )
            }
            Command::MarkRead {
                surface,
                credential,
                phone_number_id,
                request,
            } => self
                .authenticate(surface, credential.as_ref(), phone_number_id.as_ref())
                .and_then(|phone| self.mark_read(now, phone, surface, request, effects)),
            Command::Unsupported {
                surface,
                credential,
                refusal,
            } => {
                self.authenticate(surface, credential.as_ref(), None)?;
                Err(refusal)
            }
            Command::Inbound {
                from,
                content,
                phone_number_id,
                context,
            } => self.inbound(
                now,
                &from,
                content,
                phone_number_id.as_ref(),
                context,
                effects,
            ),
            Command::EcosystemMarketing { to, count } => {
                self.ecosystem_marketing(now, to.as_str(), count, effects)
            }
            Command::WebhookAttemptFinished(report) => {
                let (delivery_id, attempt, copy, http_status, latency_ms) = (
                    report.delivery_id,
                    report.attempt,
                    report.copy,
                    report.http_status,
                    report.latency_ms,
                );
                effects.push(Effect::TraceMeasured {
                    at: now,
                    event: report.into_event(),
                    latency_ms,
                });
                self.webhook_attempt_finished(
                    now,
                    delivery_id,
                    attempt,
                    copy,
                    http_status,
                    effects,
                );
                Ok(Reply::Done)
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
                Ok(Reply::Done)
            }
            Command::VerifyWebhook => self.start_verification().map(Reply::Verify),
            Command::WebhookVerified {
                verification_id,
                url,
                http_status,
                echoed,
                latency_ms,
                error,
            } => {
                self.verification_finished(echoed);
                effects.push(Effect::TraceMeasured {
                    at: now,
                    event: TraceEvent::WebhookVerification {
                        verification_id,
                        url,
                        verify_token: self.spec.verify_token.fingerprint(),
                        http_status,
                        echoed,
                        error,
                    },
                    latency_ms,
                });
                Ok(Reply::Done)
            }
            Command::ConfigureWebhooks {
                callback_url,
                partner_url,
                batch,
            } => {
                let batch = batch.map(webhooks::check_batching).transpose()?;
                self.configure_webhooks(now, callback_url, partner_url, batch, effects);
                Ok(Reply::Done)
            }
            Command::GetD360Webhook { credential, scope } => {
                let index = self.authenticate(Surface::D360, credential.as_ref(), None)?;
                let phone = &self.phone_numbers[index].spec.id;
                Ok(Reply::D360Webhook(self.d360_webhook(scope, phone).cloned()))
            }
            Command::SetD360Webhook {
                credential,
                scope,
                webhook,
            } => {
                let index = self.authenticate(Surface::D360, credential.as_ref(), None)?;
                let webhook = webhook?;
                let phone_number_id = self.phone_numbers[index].spec.id.clone();
                self.set_d360_webhook(now, scope, &phone_number_id, webhook.clone(), effects);
                Ok(Reply::D360Webhook(Some(webhook)))
            }
            Command::SetWebhookFaults { profile } => {
                self.set_faults(now, profile, effects);
                Ok(Reply::Done)
            }
            Command::TemplateControl { name, control } => self
                .template_control(now, &name, control, effects)
                .map(Reply::Message),
            Command::ListTemplates {
                surface,
                credential,
                waba_id,
            } => {
                self.authorize_templates(surface, credential.as_ref(), waba_id.as_ref())?;
                Ok(Reply::Templates(self.template_list()))
            }
            Command::GetObject {
                credential,
                id,
                fields,
                phone_number_id,
            } => {
                self.check_access_token(credential.as_ref())?;
                self.get_object(now, &id, &fields, phone_number_id.as_ref())
            }
            Command::DeleteObject {
                credential,
                id,
                phone_number_id,
            } => {
                self.check_access_token(credential.as_ref())?;
                self.delete_object(&id, phone_number_id.as_ref())
            }
            Command::UploadMedia {
                surface,
                credential,
                phone_number_id,
                upload,
            } => self.upload_media(
                now,
                surface,
                credential.as_ref(),
                phone_number_id.as_ref(),
                upload,
            ),
            Command::D360Media {
                credential,
                id,
                delete,
            } => {
                let phone = self.authenticate(Surface::D360, credential.as_ref(), None)?;
                let phone_id = PhoneNumberId::from(self.phone_numbers[phone].spec.id.as_str());
                let answer = if delete {
                    self.delete_media_object(&id, Some(&phone_id))
                } else {
                    self.get_media_object(now, &id, Some(&phone_id))
                };
                answer.unwrap_or_else(|| Err(Refusal::not_found(Object::Media, id)))
            }
            Command::DownloadMedia { credential, query } => {
                let answer = self.download_media(now, credential.as_ref(), &query);
                self.trace_download(now, &query, &answer, effects);
                answer
            }
            Command::CreateTemplate {
                surface,
                credential,
                waba_id,
                body,
            } => {
                self.authorize_templates(surface, credential.as_ref(), waba_id.as_ref())?;
                let index = self.create_template(now, &body?, effects)?;
                Ok(Reply::TemplateCreated(TemplateId::from(
                    self.templates[index].id.as_str(),
                )))
            }
            Command::DeleteTemplate {
                surface,
                credential,
                waba_id,
                name,
            } => {
                self.authorize_templates(surface, credential.as_ref(), waba_id.as_ref())?;
                self.delete_template(now, &name, effects)?;
                Ok(Reply::Message("deleted".to_owned()))
            }
            Command::UnpauseTemplate {
                credential,
                template_id,
            } => {
                self.check_access_token(credential.as_ref())?;
                self.unpause_by_id(now, &template_id, effects)
            }
            Command::PhoneCall {
                credential,
                phone_number_id,
                call,
            } => self
                .phone_call(now, credential.as_ref(), &phone_number_id, call, effects)
                .map(Reply::Json),
            Command::PartnerToken { username, password } => {
                self.partner_token(now, &username, &password, effects)
            }
            Command::PartnerCall {
                credential,
                partner_id,
                call,
            } => self.partner_call(now, credential.as_ref(), &partner_id, call, effects),
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
                Ok(Reply::AccessTokenRotated(token))
            }
            Command::Incident(incident) => {
                self.incident(now, incident, effects).map(Reply::Message)
            }
            Command::EmitEvent { route, field, body } => {
                if let Route::Number(id) = &route
                    && self.phone(Some(id)).is_none()
                {
                    return Err(Refusal::not_found(Object::PhoneNumber, id.as_str()));
                }
                self.emit_change(field, route, body);
                Ok(Reply::Done)
            }
            Command::ListPhoneNumbers {
                credential,
                waba_id,
                fields,
                page,
            } => self.list_phone_numbers(credential.as_ref(), &waba_id, &fields, &page),
            Command::GetBusinessProfile {
                credential,
                phone_number_id,
                fields,
            } => self.business_profile(credential.as_ref(), &phone_number_id, &fields),
            Command::UpdateBusinessProfile {
                credential,
                phone_number_id,
                update,
            } => self.update_business_profile(credential.as_ref(), &phone_number_id, update),
            Command::ListSubscribedApps {
                credential,
                waba_id,
            } => self.subscribed_apps(credential.as_ref(), &waba_id),
            Command::SubscribeApp {
                credential,
                waba_id,
                request,
            } => self.subscribe_app(now, credential.as_ref(), &waba_id, request, effects),
            Command::SubscriptionVerified {
                verification,
                report,
            } => self.subscription_verified(now, verification, report, effects),
            Command::UnsubscribeApp {
                credential,
                waba_id,
            } => self.unsubscribe_app(now, credential.as_ref(), &waba_id, effects),
        }
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
    ) -> Result<Reply, Refusal> {
        if count == 0 || count > ECOSYSTEM_COUNT_MAX {
            return Err(Refusal::Invalid(format!(
                "count: expected 1 to {ECOSYSTEM_COUNT_MAX}, got {count}"
            )));
        }
        let Some(recipient) = self.recipients.activity_mut(to) else {
            return Err(Refusal::not_found(Object::Recipient, to));
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
        Ok(Reply::Done)
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
            } => self.fire_status(at, message, status, error_code, effects),
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
