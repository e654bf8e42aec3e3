//! The one worker that acts on webhooks and actions, in the order they came, and
//! sends what the outbox holds, one message at a time.
//!
//! Jobs come first: between two sends the worker takes every queued job, so a
//! driver action (a key rotation, a compromise) or a webhook takes effect in the
//! middle of a running campaign. Sends wait in the outbox while a job runs, so no
//! send overlaps a key rotation: none is lost to the switch, none is sent twice.
//! While a send waits to be retried (a rate-limit backoff) the worker goes on
//! taking webhooks, so statuses are not held up behind it; driver actions wait
//! until the send is done, and so does everything queued after one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::account;
use crate::action::Action;
use crate::config::Surface;
use crate::keys::{KeyChange, fingerprint};
use crate::outbox::{
    Compromise, Message, Origin, Outbox, Outgoing, Progress, SecuringStep, Take, TemplateMessaging,
    Trigger,
};
use crate::partner::{Partner, PartnerEvent, PartnerEventKind};
use crate::send::{FailureClass, Platform, Unpause};
use crate::state::{Decision, InboundOutcome, State, StatusOutcome, TemplateChange};
use crate::webhook::Event;
use crate::{Config, Flaw};

/// The text every new inbound message is answered with.
pub(crate) const REPLY_TEXT: &str = "Thanks, we got your message.";

/// The state, and which reset it belongs to.
#[derive(Debug)]
pub(crate) struct Shared {
    /// What the integration remembers.
    pub(crate) state: State,
    /// What waits to be sent.
    pub(crate) outbox: Outbox,
    /// Bumped by every reset; work queued before a reset is dropped.
    pub(crate) generation: u64,
}

impl Shared {
    /// Fresh memory.
    pub(crate) fn new(flaw: Option<Flaw>) -> Shared {
        Shared {
            state: State::new(flaw),
            outbox: Outbox::new(flaw),
            generation: 0,
        }
    }

    /// Forgets everything (the memory and the outbox) and starts a new generation.
    pub(crate) fn reset(&mut self, flaw: Option<Flaw>) {
        self.state = State::new(flaw);
        self.outbox = Outbox::new(flaw);
        self.generation += 1;
    }
}

/// The state as the server and the worker share it.
pub(crate) type SharedState = Arc<Mutex<Shared>>;

/// Locks `shared`, surviving a poisoned lock (the state stays usable).
pub(crate) fn lock(shared: &SharedState) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Work for the worker.
#[derive(Debug)]
pub(crate) enum Job {
    /// The events of one webhook post.
    Events(Vec<Event>),
    /// A driver action, with the virtual time it was given at.
    Action(Action, Option<u64>),
    /// One partner webhook.
    Partner(PartnerEvent),
}

/// A job and the generation it was queued in.
#[derive(Debug)]
pub(crate) struct Queued {
    generation: u64,
    job: Job,
}

/// The sending end of the worker's queue.
#[derive(Debug, Clone)]
pub(crate) struct Queue {
    shared: SharedState,
    sender: UnboundedSender<Queued>,
}

impl Queue {
    /// A queue feeding a worker over `sender`.
    pub(crate) fn new(shared: SharedState, sender: UnboundedSender<Queued>) -> Queue {
        Queue { shared, sender }
    }

    /// Queues `job`; false if the worker is gone.
    pub(crate) fn push(&self, job: Job) -> bool {
        let generation = lock(&self.shared).generation;
        self.sender.send(Queued { generation, job }).is_ok()
    }
}

/// The worker's queue, with the jobs put aside while a send waited.
#[derive(Debug)]
struct Inbox {
    receiver: UnboundedReceiver<Queued>,
    /// Jobs taken during a retry wait but not acted on (a driver action and
    /// everything after it), in order; they come before the queue.
    deferred: VecDeque<Queued>,
}

/// What the inbox gave.
enum Next {
    Job(Queued),
    Empty,
    Closed,
}

impl Inbox {
    fn try_next(&mut self) -> Next {
        if let Some(queued) = self.deferred.pop_front() {
            return Next::Job(queued);
        }
        match self.receiver.try_recv() {
            Ok(queued) => Next::Job(queued),
            Err(TryRecvError::Empty) => Next::Empty,
            Err(TryRecvError::Disconnected) => Next::Closed,
        }
    }
}

/// Acts on queued jobs one at a time, and sends from the outbox in between.
#[derive(Debug)]
pub(crate) struct Worker {
    config: Arc<Config>,
    shared: SharedState,
    platform: Platform,
    partner: Option<Partner>,
    /// PIN resets so far (each new PIN is derived from this count).
    pin_resets: AtomicU64,
    /// The queue, once `run` has it.
    inbox: tokio::sync::Mutex<Option<Inbox>>,
    /// The reset generation the credentials belong to.
    credentials_of: AtomicU64,
}

impl Worker {
    /// A worker over `shared`, sending through `platform`, generating keys
    /// through `partner` (if the Partner API is configured).
    pub(crate) fn new(
        config: Arc<Config>,
        shared: SharedState,
        platform: Platform,
        partner: Option<Partner>,
    ) -> Worker {
        Worker {
            config,
            shared,
            platform,
            partner,
            pin_resets: AtomicU64::new(0),
            inbox: tokio::sync::Mutex::new(None),
            credentials_of: AtomicU64::new(0),
        }
    }

    /// After a reset (`POST /wasim/reset`), forgets rotated, refused and cached
    /// credentials and PIN resets too, before acting on anything else.
    fn catch_up_reset(&self) {
        let generation = lock(&self.shared).generation;
        if self.credentials_of.swap(generation, Ordering::SeqCst) != generation {
            self.platform.reset(&self.config);
            if let Some(partner) = &self.partner {
                partner.reset();
            }
            self.pin_resets.store(0, Ordering::SeqCst);
            println!("reset: credentials back to those configured");
        }
    }

    /// Runs until the queue closes: every queued job first, then one send, then
    /// again; waits for a job when there is nothing to send.
    pub(crate) async fn run(self, queue: UnboundedReceiver<Queued>) {
        *self.inbox.lock().await = Some(Inbox {
            receiver: queue,
            deferred: VecDeque::new(),
        });
        loop {
            let next = match self.inbox.lock().await.as_mut() {
                Some(inbox) => inbox.try_next(),
                None => Next::Closed,
            };
            match next {
                Next::Job(queued) => {
                    self.job(queued).await;
                    continue;
                }
                Next::Closed => return,
                Next::Empty => {}
            }
            if self.send_next().await {
                continue;
            }
            let queued = match self.inbox.lock().await.as_mut() {
                Some(inbox) => inbox.receiver.recv().await,
                None => None,
            };
            match queued {
                Some(queued) => self.job(queued).await,
                None => return,
            }
        }
    }

    /// Waits `delay` before `item` is sent again, acting meanwhile on webhooks
    /// (a status must not wait behind a backoff); a driver action, and whatever
    /// comes after it, is put aside until the send is done. Whether the send is
    /// still wanted: no reset meanwhile, and its rules still allow it (a webhook
    /// taken during the wait may have paused its template or capped its user).
    async fn pause(&self, delay: Duration, generation: u64, item: &Outgoing) -> bool {
        let timer = tokio::time::sleep(delay);
        tokio::pin!(timer);
        loop {
            let queued = {
                let mut guard = self.inbox.lock().await;
                let Some(inbox) = guard.as_mut() else {
                    break;
                };
                if !inbox.deferred.is_empty() {
                    drop(guard);
                    (&mut timer).await;
                    break;
                }
                let queued = if timer.is_elapsed() {
                    // Time is up: take what is already queued, then retry.
                    match inbox.receiver.try_recv() {
                        Ok(queued) => Some(queued),
                        Err(_) => break,
                    }
                } else {
                    tokio::select! {
                        () = &mut timer => None,
                        queued = inbox.receiver.recv() => match queued {
                            None => break,
                            some => some,
                        },
                    }
                };
                match queued {
                    None => continue,
                    Some(queued) if matches!(queued.job, Job::Action(..)) => {
                        inbox.deferred.push_back(queued);
                        continue;
                    }
                    Some(queued) => queued,
                }
            };
            self.job(queued).await;
        }
        if !self.current(generation) {
            return false;
        }
        match self.decision(item) {
            Decision::Send => true,
            Decision::Skip(reason) => {
                println!("no retry of {}: {reason}", item.what());
                false
            }
        }
    }

    /// Whether `item` may be sent now: text only inside the service window; a
    /// template not while paused, nor to a capped or opted-out user.
    fn decision(&self, item: &Outgoing) -> Decision {
        let shared = lock(&self.shared);
        match &item.message {
            Message::Text(_) | Message::Media { .. } | Message::Buttons { .. } => {
                shared.state.text_decision(&item.to)
            }
            Message::Template { template, .. } => {
                shared.state.template_decision(&template.name, &item.to)
            }
        }
    }

    fn current(&self, generation: u64) -> bool {
        lock(&self.shared).generation == generation
    }

    fn now(&self) -> u64 {
        lock(&self.shared).state.now()
    }

    fn has(&self, flaw: Flaw) -> bool {
        self.config.flaw == Some(flaw)
    }

    fn push(&self, item: Outgoing) {
        lock(&self.shared).outbox.push(item);
    }

    async fn job(&self, Queued { generation, job }: Queued) {
        self.catch_up_reset();
        if !self.current(generation) {
            return;
        }
        match job {
            Job::Events(events) => {
                for event in events {
                    if !self.current(generation) {
                        break;
                    }
                    self.event(event).await;
                }
            }
            Job::Action(action, timestamp) => {
                lock(&self.shared).state.observe(timestamp);
                self.action(action).await;
            }
            Job::Partner(event) => self.partner_event(&event),
        }
        self.resume_if_due();
    }

    /// Resumes sends if a secured account's wait is over (virtual time comes only
    /// with actions and webhooks, so this is asked after each).
    fn resume_if_due(&self) {
        let mut shared = lock(&self.shared);
        let now = shared.state.now();
        if let Some(queued) = shared.outbox.resume_if_due(now) {
            println!("resume sends at {now}: {queued} queued");
        }
    }

    async fn event(&self, event: Event) {
        match event {
            Event::Inbound(message) => {
                let outcome = lock(&self.shared).state.on_inbound(&message);
                let (id, from) = (&message.id, &message.from);
                match outcome {
                    InboundOutcome::Duplicate => {
                        println!("duplicate inbound {id} from {from}: ignored");
                    }
                    InboundOutcome::New => {
                        println!("inbound {id} ({}) from {from}", message.kind);
                        self.mark_read(id).await;
                        if let Some(media_id) = &message.media_id {
                            self.media_received(media_id).await;
                        }
                        self.push(Outgoing::text(from, REPLY_TEXT, Origin::Reply));
                    }
                }
            }
            Event::Status(update) => {
                let outcome = lock(&self.shared).state.on_status(&update);
                let (id, kind) = (&update.id, update.kind.name());
                let StatusOutcome::Recorded {
                    stored,
                    capped_until,
                    opted_out,
                    resend,
                } = outcome
                else {
                    println!("duplicate status {id} {kind}: ignored");
                    return;
                };
                println!("status {id} {kind}: now {}", stored.name());
                let to = &update.recipient_id;
                if let Some(until) = capped_until {
                    println!("cap {to} until {until} (131049)");
                }
                if opted_out {
                    println!("opt-out {to} for good (131050)");
                }
                if let Some(item) =
                    resend.and_then(|resend| Outgoing::resend(&resend.to, resend.sent))
                {
                    println!("{} after failing (flaw)", item.what());
                    self.push(item);
                }
            }
            Event::TemplateStatus { name, id, event } => {
                let (change, unpause) = {
                    let mut shared = lock(&self.shared);
                    let change = shared.state.on_template_status(&name, &event);
                    (change, shared.state.requests_unpause(&event))
                };
                log_template_change(&name, &event, change);
                if unpause {
                    self.unpause(&name, id.as_deref()).await;
                }
            }
            Event::Clock(time) => lock(&self.shared).state.observe(Some(time)),
            Event::Ignored(what) => println!("ignore {what}"),
        }
    }

    /// Marks inbound message `id` read (not with flaw `no-mark-read`); a refusal
    /// is logged, not retried.
    async fn mark_read(&self, id: &str) {
        if self.has(Flaw::NoMarkRead) {
            return;
        }
        match self.platform.mark_read(id).await {
            Ok(()) => println!("marked {id} read"),
            Err(failure) => println!("mark {id} read: failed ({})", failure.detail),
        }
    }

    /// Media a user sent: its URL is read at once (the metadata tells what it
    /// is), the file is archived in the background at the next `tick`.
    async fn media_received(&self, media_id: &str) {
        match self.platform.media_url(media_id).await {
            Ok(url) => {
                println!("media {media_id}: archived at the next tick");
                lock(&self.shared).state.media_received(media_id, url);
            }
            Err(failure) => println!("media {media_id}: no URL ({})", failure.detail),
        }
    }

    /// Downloads every media file waiting. A URL lasts 5 minutes: when the one
    /// kept has expired, a new one is fetched with `GET /{media-id}` (flaw
    /// `stale-media-url` retries the old one twice and gives up).
    async fn archive_media(&self) {
        let pending = lock(&self.shared).state.take_pending_media();
        for (id, url) in pending {
            let mut outcome = self.platform.download(&url).await;
            if let Err(failure) = &outcome {
                println!("media {id}: download failed ({})", failure.detail);
                if self.has(Flaw::StaleMediaUrl) {
                    for _ in 0..2 {
                        outcome = self.platform.download(&url).await;
                    }
                } else {
                    outcome = match self.platform.media_url(&id).await {
                        Ok(url) => self.platform.download(&url).await,
                        Err(failure) => Err(failure),
                    };
                }
            }
            match outcome {
                Ok(bytes) => println!("media {id}: archived ({bytes} bytes)"),
                Err(failure) => println!("media {id}: not archived ({})", failure.detail),
            }
        }
    }

    /// Acts on a partner webhook: template messaging disabled or enabled for our
    /// channel or WABA; anything else is noted and ignored.
    fn partner_event(&self, event: &PartnerEvent) {
        let name = event.name();
        let mut shared = lock(&self.shared);
        if let Some(id) = &event.id
            && !shared.state.on_partner_event(id)
        {
            println!("duplicate partner webhook {id} ({name}): ignored");
            return;
        }
        let ours = event.concerns(
            self.config.channel_id.as_deref(),
            self.config.waba_id.as_deref(),
        );
        if !ours {
            println!("partner webhook {name} for another channel: ignored");
            return;
        }
        match &event.kind {
            PartnerEventKind::TemplateMessagingDisabled => {
                match shared.outbox.disable_templates() {
                    TemplateMessaging::IgnoredByFlaw => println!(
                        "partner webhook {name}: ignored, templates keep going (flaw ignore-template-disabled)"
                    ),
                    _ => println!(
                        "partner webhook {name}: holding templates until template messaging is enabled"
                    ),
                }
            }
            PartnerEventKind::TemplateMessagingEnabled => {
                if let TemplateMessaging::Enabled(released) = shared.outbox.enable_templates() {
                    println!("partner webhook {name}: sending {released} held templates first");
                }
            }
            PartnerEventKind::Other(_) => println!("partner webhook {name}: noted, no action"),
        }
    }

    /// Asks the Cloud API to unpause template `name` (flaw `auto-unpause`) and
    /// logs the answer. The template stays unusable until an `APPROVED` webhook.
    async fn unpause(&self, name: &str, id: Option<&str>) {
        let Some(id) = id else {
            println!("unpause {name}: no message_template_id in the webhook (flaw auto-unpause)");
            return;
        };
        println!("unpause {id} ({name}) at once (flaw auto-unpause)");
        match self.platform.unpause(id).await {
            Ok(Unpause::Success) => println!("unpause {id}: success"),
            Ok(Unpause::Refused(reason)) => println!("unpause {id}: refused ({reason})"),
            Err(failure) => println!("unpause {id}: failed ({})", failure.detail),
        }
    }

    async fn action(&self, action: Action) {
        match action {
            Action::Template { to, template } => {
                self.push(Outgoing::template(&to, &template, 0, Origin::SendTemplate));
            }
            Action::Text { to, text } => self.push(Outgoing::text(&to, &text, Origin::SendText)),
            Action::Media { to, media } => self.push(Outgoing::free_form(
                &to,
                Message::Media { media, resends: 0 },
            )),
            Action::Buttons { to, text, buttons } => {
                self.push(Outgoing::free_form(&to, Message::Buttons { text, buttons }));
            }
            Action::Campaign { to, template } => {
                let number = lock(&self.shared).outbox.push_campaign(&to, &template);
                println!(
                    "send_campaign {} (campaign {number}) to {} users",
                    template.name,
                    to.len()
                );
            }
            Action::SetAccessToken { token } => {
                match self.platform.keys().set_access_token(token) {
                    KeyChange::Replaced => {
                        println!("access token replaced; the old one is no longer used");
                    }
                    KeyChange::IgnoredByFlaw => {
                        println!("ignore the new access token (flaw stale-token)");
                    }
                }
            }
            Action::SetD360ApiKey { key } => {
                let print = fingerprint(&key);
                match self.platform.keys().set_channel_key(key) {
                    KeyChange::Replaced => {
                        println!("channel key replaced ({print}); every later send presents it")
                    }
                    KeyChange::IgnoredByFlaw => println!(
                        "channel key {print} handed over, sends keep the first key (flaw stale-channel-key)"
                    ),
                }
            }
            Action::RotateKey { channel_id } => self.rotate_key(channel_id).await,
            Action::AccountCompromised {
                phone_number_id,
                channel_id,
                resume_after_s,
            } => {
                self.compromised(phone_number_id, channel_id, resume_after_s)
                    .await;
            }
            Action::Tick => {
                self.secure(Trigger::Tick).await;
                self.archive_media().await;
            }
            Action::Register {
                phone_number_id,
                pin,
            } => {
                let phone = phone_number_id.unwrap_or_else(|| self.config.phone_number_id.clone());
                println!("register {phone}");
                // The outcome is logged; an error waits for the operator's next action.
                let _ = account::register(&self.platform, &phone, &pin).await;
            }
        }
    }

    /// `rotate_key`: a new key for the channel, used by every later send (queued
    /// ones included).
    async fn rotate_key(&self, channel_id: Option<String>) {
        let Some(channel) = channel_id.or_else(|| self.config.channel_id.clone()) else {
            println!("rotate_key: no channel id (none in the action, WASIM_CHANNEL_ID unset)");
            return;
        };
        if !self.new_channel_key("rotate_key", &channel).await {
            return;
        }
        if let Some((name, count)) = lock(&self.shared).outbox.on_key_rotated() {
            println!(
                "rotate_key: sending campaign {name} again from its start, {count} sends (flaw resend-on-rotation)"
            );
        }
    }

    /// Generates a new key for `channel` and switches to it; whether it worked.
    async fn new_channel_key(&self, why: &str, channel: &str) -> bool {
        let Some(partner) = &self.partner else {
            println!(
                "{why}: cannot generate a key for channel {channel}: the Partner API is not \
                 configured (WASIM_PARTNER_URL, WASIM_PARTNER_ID)"
            );
            return false;
        };
        match partner.generate_key(channel, self.now()).await {
            Err(error) => {
                println!("{why}: new key for channel {channel} failed: {error}");
                false
            }
            Ok(key) => {
                let print = fingerprint(&key);
                match self.platform.keys().set_channel_key(key) {
                    KeyChange::Replaced => println!(
                        "{why}: channel {channel} has a new key ({print}); every later send presents it"
                    ),
                    KeyChange::IgnoredByFlaw => println!(
                        "{why}: channel {channel} has a new key ({print}); sends keep the first key (flaw stale-channel-key)"
                    ),
                }
                true
            }
        }
    }

    /// `account_compromised`: sends are already halted (the server did it when the
    /// notice arrived); rotate the key, reset the PIN, and let the resume wait.
    async fn compromised(
        &self,
        phone_number_id: Option<String>,
        channel_id: Option<String>,
        resume_after_s: u64,
    ) {
        let phone = phone_number_id.unwrap_or_else(|| self.config.phone_number_id.clone());
        let channel = channel_id.or_else(|| self.config.channel_id.clone());
        let compromise = Compromise::new(phone.clone(), channel, resume_after_s);
        let halted = lock(&self.shared).outbox.notice_compromise(compromise);
        if halted {
            println!(
                "account_compromised {phone}: sends halted; new channel key and PIN, then \
                 {resume_after_s} s before sending again"
            );
        } else {
            println!(
                "account_compromised {phone}: sends go on; key and PIN at the next tick \
                 (flaw compromise-keep-sending)"
            );
        }
        self.secure(Trigger::Notice).await;
    }

    /// Runs the securing steps due at `trigger`; a step that fails is tried again
    /// at the next tick. Logs when the account is secured.
    async fn secure(&self, trigger: Trigger) {
        let steps = lock(&self.shared).outbox.securing_steps(trigger);
        if trigger == Trigger::Notice {
            if self.has(Flaw::CompromiseNoKey) {
                println!("account_compromised: no new channel key (flaw compromise-no-key)");
            }
            if self.has(Flaw::CompromiseNoPin) {
                println!("account_compromised: no new PIN (flaw compromise-no-pin)");
            }
        }
        for step in steps {
            let done = match &step {
                SecuringStep::RotateKey { channel_id } => {
                    self.secure_key(channel_id.as_deref()).await
                }
                SecuringStep::ResetPin { phone_number_id } => self.reset_pin(phone_number_id).await,
            };
            if !done {
                continue;
            }
            let mut shared = lock(&self.shared);
            let now = shared.state.now();
            match shared.outbox.step_done(&step, now) {
                Progress::Secured { at, resume_at } => {
                    println!("account secured at {at}; sends resume at {resume_at}");
                }
                Progress::ResumedAtOnce { at } => println!(
                    "account secured at {at}; sends resume at once (flaw compromise-resume-early)"
                ),
                Progress::Pending | Progress::Idle => {}
            }
        }
    }

    /// The key step of securing: a new channel key. With sends on the Cloud API
    /// and no Partner API configured there is no channel key to replace.
    async fn secure_key(&self, channel_id: Option<&str>) -> bool {
        if self.partner.is_none() && self.config.surface == Surface::Graph {
            println!(
                "account_compromised: no channel key to replace (Cloud API sends, no Partner API)"
            );
            return true;
        }
        match channel_id {
            Some(channel) => self.new_channel_key("account_compromised", channel).await,
            None => {
                println!(
                    "account_compromised: no channel id (none in the action, WASIM_CHANNEL_ID unset)"
                );
                false
            }
        }
    }

    /// The PIN step of securing: a new two-step verification PIN (never logged).
    async fn reset_pin(&self, phone_number_id: &str) -> bool {
        let counter = self.pin_resets.fetch_add(1, Ordering::Relaxed);
        let pin = account::derive_pin(phone_number_id, counter);
        match account::set_pin(&self.platform, phone_number_id, &pin).await {
            Ok(()) => {
                println!("account_compromised: two-step PIN of {phone_number_id} reset");
                true
            }
            Err(failure) => {
                println!(
                    "account_compromised: PIN reset of {phone_number_id} failed ({}); tried again at the next tick",
                    failure.detail
                );
                false
            }
        }
    }

    /// Sends the next message of the outbox, if one may go now; whether the
    /// outbox gave anything.
    async fn send_next(&self) -> bool {
        self.catch_up_reset();
        let (generation, take) = {
            let mut shared = lock(&self.shared);
            (shared.generation, shared.outbox.take())
        };
        match take {
            Take::Nothing => false,
            Take::Held(item) => {
                println!("hold {}: template messaging is disabled", item.what());
                true
            }
            Take::Send(item) => {
                self.send(generation, item).await;
                true
            }
        }
    }

    /// Sends `item` unless its rules say no: text only inside the service window;
    /// a template not while paused, nor to a capped or opted-out user.
    async fn send(&self, generation: u64, item: Outgoing) {
        let what = item.what();
        match self.decision(&item) {
            Decision::Skip(reason) => println!("skip {what}: {reason}"),
            Decision::Send => {
                println!("{what}");
                self.deliver(generation, item, &what).await;
            }
        }
    }

    /// Sends `item` and remembers the accepted message. A held message is left to
    /// the platform (flaw `resend-held` sends it once more); a template refused as
    /// paused or disabled is remembered as unusable; one refused by 360dialog's
    /// template block is held until template messaging is enabled.
    async fn deliver(&self, generation: u64, item: Outgoing, what: &str) {
        let body = item.body();
        let mut resent = false;
        loop {
            if !self.current(generation) {
                return;
            }
            let result = self
                .platform
                .send(&body, what, |delay| self.pause(delay, generation, &item))
                .await;
            let mut shared = lock(&self.shared);
            if shared.generation != generation {
                println!("{what}: answered after a reset, not recorded");
                return;
            }
            let accepted = match result {
                Ok(accepted) => accepted,
                Err(failure) => {
                    let Message::Template { template, .. } = &item.message else {
                        return;
                    };
                    if failure.class(true) == FailureClass::TemplateBlocked {
                        match shared.outbox.hold_blocked(item.clone()) {
                            TemplateMessaging::IgnoredByFlaw => println!(
                                "{what}: dropped; templates keep going (flaw ignore-template-disabled)"
                            ),
                            _ => println!(
                                "{what}: held until template messaging is enabled, with every later template"
                            ),
                        }
                    } else if let Some(code) = failure.code {
                        let change = shared.state.on_template_refused(&template.name, code);
                        if change != TemplateChange::Unchanged {
                            log_template_change(&template.name, &format!("refused {code}"), change);
                        }
                    }
                    return;
                }
            };
            let wamid = &accepted.wamid;
            shared.state.record_sent(wamid, &item.to, item.sent());
            if !accepted.held {
                println!("{what}: accepted {wamid}");
                return;
            }
            println!("{what}: {wamid} held for quality assessment");
            if resent || !shared.state.resends_held() {
                return;
            }
            println!("{what}: resend held {wamid} (flaw resend-held)");
            resent = true;
        }
    }
}

/// One line saying what a template event (`PAUSED`, `refused 132015`, ...) changed.
fn log_template_change(name: &str, cause: &str, change: TemplateChange) {
    match change {
        TemplateChange::Unusable => println!("template {name} {cause}: unusable until approved"),
        TemplateChange::Usable => println!("template {name} {cause}: usable again"),
        TemplateChange::Unchanged => println!("template {name} {cause}: no change"),
        TemplateChange::IgnoredByFlaw => {
            println!("template {name} {cause}: ignored (flaw ignore-pause)");
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::{Value, json};

    use super::*;
    use crate::testing::Harness;

    const T0: u64 = 1_717_405_200;

    /// Fails the test unless the integration took the post (a 2xx answer).
    fn taken(status: StatusCode) {
        assert!(status.is_success(), "{status}");
    }

    /// Posts a signed partner event; fails the test unless it is taken.
    async fn partner_event(harness: &Harness, id: &str, event: &str) {
        taken(harness.partner_event(id, event).await);
    }

    fn campaign(to: &[&str]) -> Value {
        json!({"action": "send_campaign", "to": to,
               "template": {"name": "spring_sale", "language": "en_US"}})
    }

    fn template(to: &str) -> Value {
        json!({"action": "send_template", "to": to,
               "template": {"name": "order_update", "language": "en_US"}})
    }

    fn rotate() -> Value {
        json!({"action": "rotate_key", "channel_id": "chan_1"})
    }

    fn compromise(resume_after_s: u64) -> Value {
        json!({"action": "account_compromised", "phone_number_id": "110000000000001",
               "channel_id": "chan_1", "resume_after_s": resume_after_s})
    }

    /// Every request from `from` on: `send TO STATUS CREDENTIAL` for a send,
    /// `read WAMID STATUS` for a read receipt, else `ROUTE STATUS`.
    fn transcript(harness: &Harness, from: usize) -> Vec<String> {
        harness
            .fake
            .requests()
            .into_iter()
            .skip(from)
            .map(|seen| {
                if seen.route.ends_with("send") && seen.body["status"] == "read" {
                    format!(
                        "read {} {}",
                        seen.body["message_id"].as_str().unwrap_or("?"),
                        seen.status
                    )
                } else if seen.route.ends_with("send") {
                    format!(
                        "send {} {} {}",
                        seen.body["to"].as_str().unwrap_or("?"),
                        seen.status,
                        seen.credential
                    )
                } else {
                    format!("{} {}", seen.route, seen.status)
                }
            })
            .collect()
    }

    fn count(harness: &Harness) -> usize {
        harness.fake.requests().len()
    }

    /// A campaign to 1, 2, 3, a rotation (posted right behind the campaign, or
    /// once it is done when `settled`), then one more template.
    async fn rotation_run(flaw: Option<Flaw>, settled: bool) -> Vec<String> {
        let harness = Harness::start(flaw, |_| {}).await;
        taken(harness.act(T0, campaign(&["1", "2", "3"])).await);
        if settled {
            harness.settle().await;
        }
        taken(harness.act(T0, rotate()).await);
        harness.settle().await;
        taken(harness.act(T0 + 1, template("4")).await);
        harness.settle().await;
        transcript(&harness, 0)
    }

    #[tokio::test]
    async fn a_rotation_during_or_after_a_campaign_loses_nothing_and_doubles_nothing() {
        for settled in [false, true] {
            rotation_is_clean(&rotation_run(None, settled).await);
        }
    }

    fn rotation_is_clean(lines: &[String]) {
        let rotation = lines
            .iter()
            .position(|line| line == "api_keys 201")
            .expect("a key was generated");
        for to in ["1", "2", "3", "4"] {
            let sends: Vec<&String> = lines
                .iter()
                .filter(|line| line.starts_with(&format!("send {to} ")))
                .collect();
            assert_eq!(sends.len(), 1, "{to}: {lines:?}");
            assert!(sends[0].contains(" 200 "), "{lines:?}");
        }
        // Before the rotation the first key, after it only the new one.
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("send") {
                let key = if i < rotation {
                    "key:channel-key-1"
                } else {
                    "key:key-1"
                };
                assert!(line.ends_with(key), "{i}: {lines:?}");
            }
        }
        assert_eq!(
            lines.last().map(String::as_str),
            Some("send 4 200 key:key-1")
        );
    }

    #[tokio::test]
    async fn flaw_stale_channel_key_sends_with_the_revoked_key_and_drops_the_message() {
        let lines = rotation_run(Some(Flaw::StaleChannelKey), true).await;
        assert!(lines.contains(&"api_keys 201".to_owned()), "{lines:?}");
        let last: Vec<&String> = lines.iter().filter(|l| l.starts_with("send 4 ")).collect();
        assert_eq!(last, ["send 4 401 key:channel-key-1"], "{lines:?}");
    }

    #[tokio::test]
    async fn flaw_resend_on_rotation_sends_the_campaign_again() {
        let lines = rotation_run(Some(Flaw::ResendOnRotation), true).await;
        let copies = |to: &str| {
            lines
                .iter()
                .filter(|line| line.starts_with(&format!("send {to} 200")))
                .count()
        };
        for to in ["1", "2", "3"] {
            assert_eq!(copies(to), 2, "{to}: {lines:?}");
        }
        assert_eq!(copies("4"), 1, "{lines:?}");
    }

    async fn inbound(harness: &Harness, from: &str, at: u64) {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "messages", "value": {"messages": [
                {"from": from, "id": format!("wamid.in{from}{at}"), "timestamp": at.to_string(), "type": "text", "text": {"body": "hi"}}
            ]}}
        ]}]});
        taken(harness.webhook(&body).await);
    }

    /// Template messaging disabled (360dialog blocks templates too), a campaign,
    /// an inbound message to reply to; then enabled again, twice.
    async fn disabled_run(flaw: Option<Flaw>) -> (Vec<String>, Vec<String>) {
        let harness = Harness::start(flaw, |_| {}).await;
        harness.fake.with(|state| state.templates_blocked = true);
        partner_event(&harness, "ev1", "template_messaging_disabled").await;
        harness.settle().await;
        taken(harness.act(T0, campaign(&["1", "2"])).await);
        inbound(&harness, "55", T0).await;
        taken(harness.act(T0, template("1")).await);
        harness.settle().await;
        let disabled = transcript(&harness, 0);
        let mark = count(&harness);
        harness.fake.with(|state| state.templates_blocked = false);
        for _ in 0..2 {
            partner_event(&harness, "ev2", "template_messaging_enabled").await;
        }
        harness.settle().await;
        (disabled, transcript(&harness, mark))
    }

    #[tokio::test]
    async fn templates_wait_while_disabled_and_go_once_in_order_when_enabled() {
        let (disabled, enabled) = disabled_run(None).await;
        assert_eq!(
            disabled,
            [
                "read wamid.in551717405200 200",
                "send 55 200 key:channel-key-1"
            ]
        );
        assert_eq!(
            enabled,
            [
                "send 1 200 key:channel-key-1",
                "send 2 200 key:channel-key-1",
                "send 1 200 key:channel-key-1",
            ]
        );
    }

    #[tokio::test]
    async fn flaw_ignore_template_disabled_keeps_sending_templates() {
        let (disabled, enabled) = disabled_run(Some(Flaw::IgnoreTemplateDisabled)).await;
        assert_eq!(
            disabled,
            [
                "read wamid.in551717405200 200",
                "send 1 403 key:channel-key-1",
                "send 2 403 key:channel-key-1",
                "send 55 200 key:channel-key-1",
                "send 1 403 key:channel-key-1",
            ]
        );
        assert!(enabled.is_empty(), "{enabled:?}");
    }

    #[tokio::test]
    async fn a_template_blocked_by_360dialog_is_held_not_retried() {
        let harness = Harness::start(None, |_| {}).await;
        harness.fake.with(|state| state.templates_blocked = true);
        taken(harness.act(T0, campaign(&["1", "2", "3"])).await);
        harness.settle().await;
        assert_eq!(transcript(&harness, 0), ["send 1 403 key:channel-key-1"]);
        harness.fake.with(|state| state.templates_blocked = false);
        partner_event(&harness, "ev9", "template_messaging_enabled").await;
        harness.settle().await;
        assert_eq!(
            transcript(&harness, 1),
            [
                "send 1 200 key:channel-key-1",
                "send 2 200 key:channel-key-1",
                "send 3 200 key:channel-key-1",
            ]
        );
    }

    /// The phases of a compromise: before it (one send), the notice with a
    /// campaign behind it, a tick before the wait is over, then a webhook after it.
    async fn compromise_run(flaw: Option<Flaw>) -> [Vec<String>; 4] {
        let harness = Harness::start(flaw, |_| {}).await;
        taken(harness.act(T0, template("1")).await);
        harness.settle().await;
        let mut marks = vec![count(&harness)];
        taken(harness.act(T0 + 10, compromise(3600)).await);
        taken(harness.act(T0 + 10, campaign(&["2", "3"])).await);
        harness.settle().await;
        marks.push(count(&harness));
        taken(harness.act(T0 + 100, json!({"action": "tick"})).await);
        harness.settle().await;
        marks.push(count(&harness));
        taken(harness.status_webhook(T0 + 10 + 3600 + 1).await);
        harness.settle().await;
        let all = transcript(&harness, 0);
        let phase = |from: usize, to: usize| all[from..to].to_vec();
        [
            phase(0, marks[0]),
            phase(marks[0], marks[1]),
            phase(marks[1], marks[2]),
            phase(marks[2], all.len()),
        ]
    }

    #[tokio::test]
    async fn a_compromise_halts_secures_and_resumes_only_after_the_wait() {
        let [before, notice, tick, after] = compromise_run(None).await;
        assert_eq!(before, ["send 1 200 key:channel-key-1"]);
        assert_eq!(notice, ["api_keys 201", "pin 200"]);
        assert!(tick.is_empty(), "{tick:?}");
        assert_eq!(after, ["send 2 200 key:key-1", "send 3 200 key:key-1"]);
    }

    #[tokio::test]
    async fn the_pin_is_six_digits_and_sent_with_the_access_token() {
        let harness = Harness::start(None, |_| {}).await;
        taken(harness.act(T0, compromise(60)).await);
        harness.settle().await;
        let pins: Vec<_> = harness
            .fake
            .requests()
            .into_iter()
            .filter(|seen| seen.route == "pin")
            .collect();
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].credential, "bearer:token");
        let pin = pins[0].body["pin"].as_str().expect("pin");
        assert!(
            pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()),
            "{pin}"
        );
    }

    #[tokio::test]
    async fn flaw_compromise_keep_sending_sends_between_the_notice_and_securing() {
        let [_, notice, tick, after] = compromise_run(Some(Flaw::CompromiseKeepSending)).await;
        assert_eq!(
            notice,
            [
                "send 2 200 key:channel-key-1",
                "send 3 200 key:channel-key-1"
            ]
        );
        assert_eq!(tick, ["api_keys 201", "pin 200"]);
        assert!(after.is_empty(), "{after:?}");
    }

    #[tokio::test]
    async fn flaw_compromise_no_key_secures_without_a_new_key() {
        let [_, notice, tick, after] = compromise_run(Some(Flaw::CompromiseNoKey)).await;
        assert_eq!(notice, ["pin 200"]);
        assert!(tick.is_empty(), "{tick:?}");
        assert_eq!(
            after,
            [
                "send 2 200 key:channel-key-1",
                "send 3 200 key:channel-key-1"
            ]
        );
    }

    #[tokio::test]
    async fn flaw_compromise_no_pin_secures_without_a_new_pin() {
        let [_, notice, tick, after] = compromise_run(Some(Flaw::CompromiseNoPin)).await;
        assert_eq!(notice, ["api_keys 201"]);
        assert!(tick.is_empty(), "{tick:?}");
        assert_eq!(after, ["send 2 200 key:key-1", "send 3 200 key:key-1"]);
    }

    #[tokio::test]
    async fn flaw_compromise_resume_early_sends_as_soon_as_secured() {
        let [_, notice, tick, after] = compromise_run(Some(Flaw::CompromiseResumeEarly)).await;
        assert_eq!(
            notice,
            [
                "api_keys 201",
                "pin 200",
                "send 2 200 key:key-1",
                "send 3 200 key:key-1"
            ]
        );
        assert!(tick.is_empty() && after.is_empty(), "{tick:?} {after:?}");
    }

    #[tokio::test]
    async fn a_failed_securing_step_is_tried_again_at_a_tick() {
        let harness = Harness::start(None, |config| config.partner_api_key = None).await;
        // No API key and the login refused: the key step fails, once.
        harness.fake.with(|state| state.login_ok = false);
        taken(harness.act(T0, compromise(0)).await);
        taken(harness.act(T0, template("2")).await);
        harness.settle().await;
        assert_eq!(transcript(&harness, 0), ["token 401", "pin 200"]);
        harness.fake.with(|state| state.login_ok = true);
        taken(harness.act(T0 + 5, json!({"action": "tick"})).await);
        harness.settle().await;
        assert_eq!(transcript(&harness, 2), ["token 200", "api_keys 201"]);
        // Secured at T0 + 5 with no wait: sends go from the next second on.
        let tick = json!({"action": "tick"});
        taken(harness.act(T0 + 6, tick).await);
        harness.settle().await;
        assert_eq!(transcript(&harness, 4), ["send 2 200 key:key-1"]);
    }

    #[tokio::test]
    async fn a_register_error_is_asked_once_and_flaw_register_loop_asks_13_times() {
        for (flaw, expected) in [(None, 1), (Some(Flaw::RegisterLoop), 13)] {
            let harness = Harness::start(flaw, |_| {}).await;
            harness.fake.with(|state| {
                state.register = (
                    400,
                    r#"{"error":{"message":"(#133016) Account register deregister rate limit exceeded","code":133016}}"#,
                );
            });
            let action = json!({"action": "register", "phone_number_id": "110000000000001", "pin": "123456"});
            taken(harness.act(T0, action).await);
            harness.settle().await;
            assert_eq!(transcript(&harness, 0), vec!["register 400"; expected]);
        }
    }

    #[tokio::test]
    async fn a_handed_over_channel_key_is_used_for_queued_and_later_sends() {
        let harness = Harness::start(None, |_| {}).await;
        harness
            .fake
            .with(|state| state.channel_key = "k-operator".to_owned());
        taken(
            harness
                .act(
                    T0,
                    json!({"action": "set_d360_api_key", "api_key": "k-operator"}),
                )
                .await,
        );
        taken(harness.act(T0, template("1")).await);
        harness.settle().await;
        assert_eq!(transcript(&harness, 0), ["send 1 200 key:k-operator"]);
    }

    #[tokio::test]
    async fn on_the_cloud_api_surface_sends_present_the_access_token() {
        let harness = Harness::start(None, |config| config.surface = Surface::Graph).await;
        taken(harness.act(T0, template("1")).await);
        harness.settle().await;
        assert_eq!(transcript(&harness, 0), ["send 1 200 bearer:token"]);
        let sends = harness.fake.requests();
        assert_eq!(sends[0].route, "graph send");
    }
}
