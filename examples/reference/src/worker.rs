//! The one worker that acts on webhooks and actions, in the order they came.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::Flaw;
use crate::action::{Action, Template, text_body};
use crate::send::{Graph, Unpause};
use crate::state::{Decision, InboundOutcome, Sent, State, StatusOutcome, TemplateChange};
use crate::webhook::Event;

/// The text every new inbound message is answered with.
pub(crate) const REPLY_TEXT: &str = "Thanks, we got your message.";

/// The state, and which reset it belongs to.
#[derive(Debug)]
pub(crate) struct Shared {
    /// What the integration remembers.
    pub(crate) state: State,
    /// Bumped by every reset; work queued before a reset is dropped.
    pub(crate) generation: u64,
}

impl Shared {
    /// Fresh memory.
    pub(crate) fn new(flaw: Option<Flaw>) -> Shared {
        Shared {
            state: State::new(flaw),
            generation: 0,
        }
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

/// Acts on queued jobs one at a time.
#[derive(Debug)]
pub(crate) struct Worker {
    shared: SharedState,
    graph: Graph,
}

impl Worker {
    /// A worker over `shared`, sending through `graph`.
    pub(crate) fn new(shared: SharedState, graph: Graph) -> Worker {
        Worker { shared, graph }
    }

    /// Runs until the queue closes.
    pub(crate) async fn run(self, mut queue: UnboundedReceiver<Queued>) {
        while let Some(Queued { generation, job }) = queue.recv().await {
            if !self.current(generation) {
                continue;
            }
            match job {
                Job::Events(events) => {
                    for event in events {
                        if !self.current(generation) {
                            break;
                        }
                        self.event(generation, event).await;
                    }
                }
                Job::Action(action, timestamp) => {
                    lock(&self.shared).state.observe(timestamp);
                    self.action(generation, action).await;
                }
            }
        }
    }

    fn current(&self, generation: u64) -> bool {
        lock(&self.shared).generation == generation
    }

    async fn event(&self, generation: u64, event: Event) {
        match event {
            Event::Inbound(message) => {
                let (outcome, decision) = {
                    let mut shared = lock(&self.shared);
                    let outcome = shared.state.on_inbound(&message);
                    (outcome, shared.state.text_decision(&message.from))
                };
                let (id, from) = (&message.id, &message.from);
                match (outcome, decision) {
                    (InboundOutcome::Duplicate, _) => {
                        println!("duplicate inbound {id} from {from}: ignored");
                    }
                    (InboundOutcome::New, Decision::Skip(reason)) => {
                        println!("inbound {id} ({}) from {from}", message.kind);
                        println!("skip reply to {from}: {reason}");
                    }
                    (InboundOutcome::New, Decision::Send) => {
                        println!("inbound {id} ({}) from {from}", message.kind);
                        let what = format!("reply to {from}");
                        println!("{what}");
                        let body = text_body(from, REPLY_TEXT);
                        self.deliver(generation, from, &body, Sent::Text, &what)
                            .await;
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
                if let Some(resend) = resend {
                    println!(
                        "resend {} to {} after 131049 (resend {})",
                        resend.template.name, resend.to, resend.resends
                    );
                    self.send_template(generation, &resend.to, &resend.template, resend.resends)
                        .await;
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

    /// Asks the Cloud API to unpause template `name` (flaw `auto-unpause`) and
    /// logs the answer. The template stays unusable until an `APPROVED` webhook.
    async fn unpause(&self, name: &str, id: Option<&str>) {
        let Some(id) = id else {
            println!("unpause {name}: no message_template_id in the webhook (flaw auto-unpause)");
            return;
        };
        println!("unpause {id} ({name}) at once (flaw auto-unpause)");
        match self.graph.unpause(id).await {
            Ok(Unpause::Success) => println!("unpause {id}: success"),
            Ok(Unpause::Refused(reason)) => println!("unpause {id}: refused ({reason})"),
            Err(failure) => println!("unpause {id}: failed ({})", failure.detail),
        }
    }

    async fn action(&self, generation: u64, action: Action) {
        match action {
            Action::Template { to, template } => {
                self.send_template(generation, &to, &template, 0).await;
            }
            Action::Text { to, text } => {
                let decision = lock(&self.shared).state.text_decision(&to);
                match decision {
                    Decision::Skip(reason) => println!("skip send_text to {to}: {reason}"),
                    Decision::Send => {
                        let what = format!("send_text to {to}");
                        println!("{what}");
                        let body = text_body(&to, &text);
                        self.deliver(generation, &to, &body, Sent::Text, &what)
                            .await;
                    }
                }
            }
            Action::SetAccessToken { token } => {
                if self.graph.flaw() == Some(Flaw::StaleToken) {
                    println!("ignore the new access token (flaw stale-token)");
                } else {
                    self.graph.set_token(token);
                    println!("access token replaced; the old one is no longer used");
                }
            }
            Action::Campaign { to, template } => {
                println!("send_campaign {} to {} users", template.name, to.len());
                for recipient in &to {
                    if !self.current(generation) {
                        println!("send_campaign {}: state was reset, stopping", template.name);
                        return;
                    }
                    self.send_template(generation, recipient, &template, 0)
                        .await;
                }
            }
        }
    }

    /// Sends `template` to `to` unless the template is paused or the user is
    /// capped or opted out.
    async fn send_template(&self, generation: u64, to: &str, template: &Template, resends: u32) {
        let name = &template.name;
        let decision = lock(&self.shared).state.template_decision(name, to);
        match decision {
            Decision::Skip(reason) => println!("skip send_template {name} to {to}: {reason}"),
            Decision::Send => {
                let what = format!("send_template {name} to {to}");
                println!("{what}");
                let sent = Sent::Template {
                    template: template.clone(),
                    resends,
                };
                self.deliver(generation, to, &template.body(to), sent, &what)
                    .await;
            }
        }
    }

    /// Sends `body` and remembers the accepted message. A held message is left to
    /// the platform (flaw `resend-held` sends it once more); a template refused
    /// as paused or disabled is remembered as unusable.
    async fn deliver(&self, generation: u64, to: &str, body: &Value, sent: Sent, what: &str) {
        let mut resent = false;
        loop {
            if !self.current(generation) {
                return;
            }
            let result = self
                .graph
                .send(body, what, || self.current(generation))
                .await;
            let mut shared = lock(&self.shared);
            if shared.generation != generation {
                println!("{what}: answered after a reset, not recorded");
                return;
            }
            let accepted = match result {
                Ok(accepted) => accepted,
                Err(failure) => {
                    if let (Sent::Template { template, .. }, Some(code)) = (&sent, failure.code) {
                        let change = shared.state.on_template_refused(&template.name, code);
                        if change != TemplateChange::Unchanged {
                            log_template_change(&template.name, &format!("refused {code}"), change);
                        }
                    }
                    return;
                }
            };
            let wamid = &accepted.wamid;
            shared.state.record_sent(wamid, to, sent.clone());
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
