//! What waits to be sent, and what holds it back, free of I/O.
//!
//! Every send — a reply, `send_text`, `send_template`, each recipient of a
//! campaign — is queued here and sent in order, one at a time, so that a driver
//! action or a webhook takes effect between two sends of a running campaign:
//!
//! - while 360dialog has template messaging disabled for our WABA, templates are
//!   held in order (free-form text still goes) and sent once each, in the same
//!   order, when it is enabled again;
//! - from the moment a compromise is noticed until `resume_after_s` virtual
//!   seconds after the account was secured (new channel key and new two-step
//!   PIN), nothing is sent at all; everything stays queued.
//!
//! Time is virtual: `now` comes from action and webhook timestamps.

use std::collections::VecDeque;

use serde_json::Value;

use crate::Flaw;
use crate::action::{Media, Template, buttons_body, text_body};

/// What a queued send carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// Free-form text.
    Text(String),
    /// A template; `resends` counts earlier resends in its chain (flaw
    /// `resend-after-cap`).
    Template {
        /// What to send.
        template: Template,
        /// Resends before this one.
        resends: u32,
    },
    /// Media by link; `resends` counts earlier resends after 131053 (flaw
    /// `media-resend-loop`).
    Media {
        /// What to send.
        media: Media,
        /// Resends before this one.
        resends: u32,
    },
    /// Text with reply buttons (`(id, title)` each).
    Buttons {
        /// The text.
        text: String,
        /// The buttons.
        buttons: Vec<(String, String)>,
    },
}

/// Why a send was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The answer to an inbound message.
    Reply,
    /// A `send_text` action.
    SendText,
    /// A `send_template` action.
    SendTemplate,
    /// One recipient of campaign number `n` (`send_campaign`).
    Campaign(u64),
    /// A naive resend after 131049 (flaw `resend-after-cap`) or 131053 (flaw
    /// `media-resend-loop`).
    Resend,
    /// A `send_media` or `send_buttons` action.
    SendFreeForm,
}

/// One queued send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    /// The recipient's wa_id.
    pub(crate) to: String,
    /// What to send.
    pub(crate) message: Message,
    /// Why.
    pub(crate) origin: Origin,
}

impl Outgoing {
    /// Free-form `text` to `to`.
    pub(crate) fn text(to: &str, text: &str, origin: Origin) -> Outgoing {
        Outgoing {
            to: to.to_owned(),
            message: Message::Text(text.to_owned()),
            origin,
        }
    }

    /// `template` to `to`.
    pub(crate) fn template(
        to: &str,
        template: &Template,
        resends: u32,
        origin: Origin,
    ) -> Outgoing {
        Outgoing {
            to: to.to_owned(),
            message: Message::Template {
                template: template.clone(),
                resends,
            },
            origin,
        }
    }

    /// `message` (media or buttons) to `to`, asked for by the driver.
    pub(crate) fn free_form(to: &str, message: Message) -> Outgoing {
        Outgoing {
            to: to.to_owned(),
            message,
            origin: Origin::SendFreeForm,
        }
    }

    /// `message` to `to` once more (a naive resend): templates and media only.
    pub(crate) fn resend(to: &str, message: Message) -> Option<Outgoing> {
        matches!(message, Message::Template { .. } | Message::Media { .. }).then(|| Outgoing {
            to: to.to_owned(),
            message,
            origin: Origin::Resend,
        })
    }

    /// Whether this is a template send.
    pub(crate) fn is_template(&self) -> bool {
        matches!(self.message, Message::Template { .. })
    }

    /// The send body (the same on both surfaces).
    pub(crate) fn body(&self) -> Value {
        match &self.message {
            Message::Text(text) => text_body(&self.to, text),
            Message::Template { template, .. } => template.body(&self.to),
            Message::Media { media, .. } => media.body(&self.to),
            Message::Buttons { text, buttons } => buttons_body(&self.to, text, buttons),
        }
    }

    /// What is remembered of it once accepted: what it carried.
    pub(crate) fn sent(&self) -> Message {
        self.message.clone()
    }

    /// How log lines name it: `send_template spring_sale to 55`, `reply to 55`, ...
    pub(crate) fn what(&self) -> String {
        let to = &self.to;
        match (&self.message, self.origin) {
            (Message::Text(_), Origin::Reply) => format!("reply to {to}"),
            (Message::Text(_), _) => format!("send_text to {to}"),
            (Message::Media { media, .. }, Origin::Resend) => {
                format!("resend {} {} to {to}", media.kind, media.link)
            }
            (Message::Media { media, .. }, _) => {
                format!("send_media {} {} to {to}", media.kind, media.link)
            }
            (Message::Buttons { .. }, _) => format!("send_buttons to {to}"),
            (Message::Template { template, .. }, Origin::Campaign(n)) => {
                format!("campaign {n} {} to {to}", template.name)
            }
            (Message::Template { template, .. }, Origin::Resend) => {
                format!("resend {} to {to}", template.name)
            }
            (Message::Template { template, .. }, _) => {
                format!("send_template {} to {to}", template.name)
            }
        }
    }
}

/// What [`Outbox::take`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Take {
    /// Send this now.
    Send(Outgoing),
    /// This template was moved aside until template messaging is enabled again.
    Held(Outgoing),
    /// Nothing to send now: the queue is empty, or sends are halted.
    Nothing,
}

/// What a template-messaging notice changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateMessaging {
    /// Disabled: templates are held from now on.
    Disabled,
    /// Enabled: this many held templates are queued again, first in line.
    Enabled(usize),
    /// Nothing, though it should have (flaw `ignore-template-disabled`).
    IgnoredByFlaw,
}

/// A step that secures a compromised account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecuringStep {
    /// Generate a new key for the channel (`None`: no channel id is known).
    RotateKey {
        /// The channel.
        channel_id: Option<String>,
    },
    /// Set a new two-step verification PIN on the number.
    ResetPin {
        /// The number.
        phone_number_id: String,
    },
}

/// When securing steps are asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// Right after the `account_compromised` notice.
    Notice,
    /// At a `tick` (a step that failed is tried again then).
    Tick,
}

/// How far securing got after a step succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Steps remain.
    Pending,
    /// Secured at `at`; sends resume at `resume_at`: `resume_after_s` later, and
    /// one second more (timestamps are rounded down to whole seconds).
    Secured {
        /// When both steps had succeeded.
        at: u64,
        /// When sends resume.
        resume_at: u64,
    },
    /// Secured at `at` and sends resumed at once (flaw `compromise-resume-early`).
    ResumedAtOnce {
        /// When both steps had succeeded.
        at: u64,
    },
    /// No compromise is being secured.
    Idle,
}

/// A compromise being secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Compromise {
    phone_number_id: String,
    channel_id: Option<String>,
    resume_after_s: u64,
    key_rotated: bool,
    pin_reset: bool,
}

impl Compromise {
    /// A compromise of `phone_number_id` (and `channel_id`'s key); sends resume
    /// `resume_after_s` virtual seconds after securing.
    pub(crate) fn new(
        phone_number_id: String,
        channel_id: Option<String>,
        resume_after_s: u64,
    ) -> Compromise {
        Compromise {
            phone_number_id,
            channel_id,
            resume_after_s,
            key_rotated: false,
            pin_reset: false,
        }
    }
}

/// Where the account stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Account {
    /// Sends go out.
    Normal,
    /// A compromise was noticed; steps remain.
    Securing(Compromise),
    /// Secured; sends resume at `resume_at`.
    Secured { resume_at: u64 },
}

/// A campaign, kept for flaw `resend-on-rotation`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Campaign {
    number: u64,
    to: Vec<String>,
    template: Template,
}

/// The queue of sends and what holds it back.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    flaw: Option<Flaw>,
    queue: VecDeque<Outgoing>,
    held_templates: Vec<Outgoing>,
    templates_disabled: bool,
    /// A compromise notice arrived and its action is not yet processed.
    halt_noticed: bool,
    account: Account,
    campaigns: u64,
    last_campaign: Option<Campaign>,
}

impl Outbox {
    /// An empty outbox, following the rules except `flaw`.
    pub(crate) fn new(flaw: Option<Flaw>) -> Outbox {
        Outbox {
            flaw,
            queue: VecDeque::new(),
            held_templates: Vec::new(),
            templates_disabled: false,
            halt_noticed: false,
            account: Account::Normal,
            campaigns: 0,
            last_campaign: None,
        }
    }

    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    /// Queues `item` last.
    pub(crate) fn push(&mut self, item: Outgoing) {
        self.queue.push_back(item);
    }

    /// Queues `template` to each of `to`, in order, as a new campaign; its number.
    pub(crate) fn push_campaign(&mut self, to: &[String], template: &Template) -> u64 {
        self.campaigns += 1;
        let number = self.campaigns;
        for recipient in to {
            self.push(Outgoing::template(
                recipient,
                template,
                0,
                Origin::Campaign(number),
            ));
        }
        self.last_campaign = Some(Campaign {
            number,
            to: to.to_vec(),
            template: template.clone(),
        });
        number
    }

    /// Templates held while template messaging is disabled, in order.
    #[cfg(test)]
    pub(crate) fn held_templates(&self) -> &[Outgoing] {
        &self.held_templates
    }

    /// Whether nothing may be sent now (a compromise is being secured, or was
    /// secured less than `resume_after_s` ago).
    pub(crate) fn halted(&self) -> bool {
        if self.has(Flaw::CompromiseKeepSending) {
            return false;
        }
        self.halt_noticed || self.account != Account::Normal
    }

    /// The next send, unless sends are halted. A template met while template
    /// messaging is disabled is moved aside ([`Take::Held`]).
    pub(crate) fn take(&mut self) -> Take {
        if self.halted() {
            return Take::Nothing;
        }
        match self.queue.pop_front() {
            None => Take::Nothing,
            Some(item) if item.is_template() && self.templates_disabled => {
                self.held_templates.push(item.clone());
                Take::Held(item)
            }
            Some(item) => Take::Send(item),
        }
    }

    /// 360dialog disabled template messaging for our WABA (partner webhook).
    pub(crate) fn disable_templates(&mut self) -> TemplateMessaging {
        if self.has(Flaw::IgnoreTemplateDisabled) {
            return TemplateMessaging::IgnoredByFlaw;
        }
        self.templates_disabled = true;
        TemplateMessaging::Disabled
    }

    /// 360dialog refused template send `item` because template messaging is
    /// disabled: hold it (first of the held), and hold every later template too.
    /// Flaw `ignore-template-disabled` drops it and keeps sending templates.
    pub(crate) fn hold_blocked(&mut self, item: Outgoing) -> TemplateMessaging {
        if self.has(Flaw::IgnoreTemplateDisabled) {
            return TemplateMessaging::IgnoredByFlaw;
        }
        self.templates_disabled = true;
        self.held_templates.push(item);
        TemplateMessaging::Disabled
    }

    /// 360dialog enabled template messaging again: the held templates are queued
    /// first, in their order, each once.
    pub(crate) fn enable_templates(&mut self) -> TemplateMessaging {
        self.templates_disabled = false;
        let released = self.held_templates.len();
        for item in self.held_templates.drain(..).rev() {
            self.queue.push_front(item);
        }
        TemplateMessaging::Enabled(released)
    }

    /// Halts sends the moment a compromise notice arrives, before its action is
    /// processed (flaw `compromise-keep-sending` does not).
    pub(crate) fn halt_at_once(&mut self) {
        self.halt_noticed = true;
    }

    /// Starts securing `compromise` (a new notice restarts it). Whether sends are
    /// halted.
    pub(crate) fn notice_compromise(&mut self, compromise: Compromise) -> bool {
        self.account = Account::Securing(compromise);
        self.halt_noticed = false;
        self.halted()
    }

    /// The steps still to do, asked at `trigger`. A step a flaw skips is never
    /// asked; flaw `compromise-keep-sending` asks none until a tick.
    pub(crate) fn securing_steps(&self, trigger: Trigger) -> Vec<SecuringStep> {
        let Account::Securing(compromise) = &self.account else {
            return Vec::new();
        };
        if trigger == Trigger::Notice && self.has(Flaw::CompromiseKeepSending) {
            return Vec::new();
        }
        let mut steps = Vec::new();
        if !compromise.key_rotated && !self.has(Flaw::CompromiseNoKey) {
            steps.push(SecuringStep::RotateKey {
                channel_id: compromise.channel_id.clone(),
            });
        }
        if !compromise.pin_reset && !self.has(Flaw::CompromiseNoPin) {
            steps.push(SecuringStep::ResetPin {
                phone_number_id: compromise.phone_number_id.clone(),
            });
        }
        steps
    }

    /// `step` succeeded at virtual time `now`. Once every step a flaw does not
    /// skip succeeded, the account is secured at `now`.
    pub(crate) fn step_done(&mut self, step: &SecuringStep, now: u64) -> Progress {
        let flaw = self.flaw;
        let Account::Securing(compromise) = &mut self.account else {
            return Progress::Idle;
        };
        match step {
            SecuringStep::RotateKey { .. } => compromise.key_rotated = true,
            SecuringStep::ResetPin { .. } => compromise.pin_reset = true,
        }
        let key_done = compromise.key_rotated || flaw == Some(Flaw::CompromiseNoKey);
        let pin_done = compromise.pin_reset || flaw == Some(Flaw::CompromiseNoPin);
        if !(key_done && pin_done) {
            return Progress::Pending;
        }
        if flaw == Some(Flaw::CompromiseResumeEarly) {
            self.account = Account::Normal;
            return Progress::ResumedAtOnce { at: now };
        }
        // Timestamps are whole seconds, rounded down: one second more makes sure
        // the whole period has passed, however far into its second securing was.
        let resume_at = now
            .saturating_add(compromise.resume_after_s)
            .saturating_add(1);
        self.account = Account::Secured { resume_at };
        Progress::Secured { at: now, resume_at }
    }

    /// Resumes sends if the account was secured and `now` reached the resume time;
    /// how many sends are queued then.
    pub(crate) fn resume_if_due(&mut self, now: u64) -> Option<usize> {
        match self.account {
            Account::Secured { resume_at } if now >= resume_at => {
                self.account = Account::Normal;
                Some(self.queue.len())
            }
            _ => None,
        }
    }

    /// A `rotate_key` rotation succeeded. Nothing changes for the queue (the new
    /// key applies to every later send). Flaw `resend-on-rotation` queues the
    /// running or last campaign again from its start: its name and how many sends.
    pub(crate) fn on_key_rotated(&mut self) -> Option<(String, usize)> {
        if !self.has(Flaw::ResendOnRotation) {
            return None;
        }
        let campaign = self.last_campaign.clone()?;
        self.queue
            .retain(|item| item.origin != Origin::Campaign(campaign.number));
        for recipient in &campaign.to {
            self.push(Outgoing::template(
                recipient,
                &campaign.template,
                0,
                Origin::Campaign(campaign.number),
            ));
        }
        Some((campaign.template.name, campaign.to.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_717_405_200;

    fn sale() -> Template {
        Template {
            name: "spring_sale".to_owned(),
            language: "en_US".to_owned(),
            parameters: Vec::new(),
        }
    }

    fn recipients(list: &[&str]) -> Vec<String> {
        list.iter().map(|to| (*to).to_owned()).collect()
    }

    /// Takes until nothing is left to send now; one line per take.
    fn drain(outbox: &mut Outbox) -> Vec<String> {
        let mut log = Vec::new();
        loop {
            match outbox.take() {
                Take::Send(item) => log.push(format!("send {}", item.what())),
                Take::Held(item) => log.push(format!("hold {}", item.what())),
                Take::Nothing => return log,
            }
        }
    }

    fn compromise(resume_after_s: u64) -> Compromise {
        Compromise::new("110".to_owned(), Some("chan_1".to_owned()), resume_after_s)
    }

    fn rotate() -> SecuringStep {
        SecuringStep::RotateKey {
            channel_id: Some("chan_1".to_owned()),
        }
    }

    fn pin() -> SecuringStep {
        SecuringStep::ResetPin {
            phone_number_id: "110".to_owned(),
        }
    }

    #[test]
    fn sends_go_out_in_the_order_they_were_queued() {
        let mut outbox = Outbox::new(None);
        outbox.push(Outgoing::text("55", "hi", Origin::Reply));
        outbox.push_campaign(&recipients(&["1", "2"]), &sale());
        outbox.push(Outgoing::template("3", &sale(), 0, Origin::SendTemplate));
        assert_eq!(
            drain(&mut outbox),
            [
                "send reply to 55",
                "send campaign 1 spring_sale to 1",
                "send campaign 1 spring_sale to 2",
                "send send_template spring_sale to 3",
            ]
        );
    }

    #[test]
    fn templates_are_held_in_order_while_disabled_and_text_still_goes() {
        let mut outbox = Outbox::new(None);
        assert_eq!(outbox.disable_templates(), TemplateMessaging::Disabled);
        outbox.push_campaign(&recipients(&["1", "2"]), &sale());
        outbox.push(Outgoing::text("55", "hi", Origin::SendText));
        outbox.push(Outgoing::template("1", &sale(), 0, Origin::SendTemplate));
        assert_eq!(
            drain(&mut outbox),
            [
                "hold campaign 1 spring_sale to 1",
                "hold campaign 1 spring_sale to 2",
                "send send_text to 55",
                "hold send_template spring_sale to 1",
            ]
        );
        assert_eq!(outbox.held_templates().len(), 3);
        // Enabled: each held template goes once, in order, before later sends.
        outbox.push(Outgoing::text("55", "later", Origin::SendText));
        assert_eq!(outbox.enable_templates(), TemplateMessaging::Enabled(3));
        assert_eq!(
            drain(&mut outbox),
            [
                "send campaign 1 spring_sale to 1",
                "send campaign 1 spring_sale to 2",
                "send send_template spring_sale to 1",
                "send send_text to 55",
            ]
        );
        assert!(outbox.held_templates().is_empty());
        assert_eq!(outbox.enable_templates(), TemplateMessaging::Enabled(0));
    }

    #[test]
    fn a_template_blocked_by_360dialog_is_held_with_the_ones_after_it() {
        let mut outbox = Outbox::new(None);
        outbox.push_campaign(&recipients(&["1", "2", "3"]), &sale());
        let Take::Send(first) = outbox.take() else {
            panic!("first")
        };
        assert_eq!(
            outbox.hold_blocked(first.clone()),
            TemplateMessaging::Disabled
        );
        assert_eq!(
            drain(&mut outbox),
            [
                "hold campaign 1 spring_sale to 2",
                "hold campaign 1 spring_sale to 3"
            ]
        );
        assert_eq!(outbox.held_templates()[0], first);
        outbox.enable_templates();
        assert_eq!(drain(&mut outbox).len(), 3);
    }

    #[test]
    fn flaw_ignore_template_disabled_keeps_sending_templates() {
        let mut outbox = Outbox::new(Some(Flaw::IgnoreTemplateDisabled));
        assert_eq!(outbox.disable_templates(), TemplateMessaging::IgnoredByFlaw);
        outbox.push_campaign(&recipients(&["1", "2"]), &sale());
        let Take::Send(first) = outbox.take() else {
            panic!("sent")
        };
        assert_eq!(outbox.hold_blocked(first), TemplateMessaging::IgnoredByFlaw);
        assert_eq!(drain(&mut outbox), ["send campaign 1 spring_sale to 2"]);
        assert!(outbox.held_templates().is_empty());
        // The compromise halt still holds: only the template rule is broken.
        outbox.push(Outgoing::text("55", "hi", Origin::SendText));
        outbox.halt_at_once();
        assert_eq!(outbox.take(), Take::Nothing);
    }

    #[test]
    fn a_compromise_halts_everything_until_resume_after_s_past_securing() {
        let mut outbox = Outbox::new(None);
        outbox.push_campaign(&recipients(&["1", "2", "3"]), &sale());
        assert_eq!(drain_one(&mut outbox), "send campaign 1 spring_sale to 1");
        // The notice halts at once, before its action is processed.
        outbox.halt_at_once();
        assert!(outbox.halted());
        outbox.push(Outgoing::text("55", "hi", Origin::Reply));
        assert_eq!(outbox.take(), Take::Nothing);
        assert!(outbox.notice_compromise(compromise(3600)));
        assert_eq!(outbox.securing_steps(Trigger::Notice), [rotate(), pin()]);
        assert_eq!(outbox.step_done(&rotate(), T0), Progress::Pending);
        assert_eq!(outbox.take(), Take::Nothing);
        assert_eq!(outbox.securing_steps(Trigger::Tick), [pin()]);
        assert_eq!(outbox.step_done(&pin(), T0 + 5), secured(T0 + 5, 3600));
        assert!(outbox.securing_steps(Trigger::Tick).is_empty());
        // At T0 + 3605 the hour may be short by a fraction of a second.
        assert_eq!(outbox.resume_if_due(T0 + 3605), None);
        assert_eq!(outbox.take(), Take::Nothing);
        assert_eq!(outbox.resume_if_due(T0 + 3606), Some(3));
        assert!(!outbox.halted());
        assert_eq!(
            drain(&mut outbox),
            [
                "send campaign 1 spring_sale to 2",
                "send campaign 1 spring_sale to 3",
                "send reply to 55",
            ]
        );
        assert_eq!(outbox.resume_if_due(T0 + 9999), None);
    }

    /// An outbox under `flaw` that took a compromise notice (a 60 s wait); fails the
    /// test unless it halted.
    fn halted_by_a_notice(flaw: Flaw) -> Outbox {
        let mut outbox = Outbox::new(Some(flaw));
        outbox.notice_compromise(compromise(60));
        assert!(outbox.halted());
        outbox
    }

    /// Secured at `at` after a compromise whose wait is `wait_s`: sends resume the
    /// second after the wait.
    fn secured(at: u64, wait_s: u64) -> Progress {
        Progress::Secured {
            at,
            resume_at: at + wait_s + 1,
        }
    }

    fn drain_one(outbox: &mut Outbox) -> String {
        match outbox.take() {
            Take::Send(item) => format!("send {}", item.what()),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_step_is_asked_again_at_the_next_tick_and_sends_stay_halted() {
        let mut outbox = Outbox::new(None);
        outbox.notice_compromise(compromise(60));
        assert_eq!(outbox.securing_steps(Trigger::Notice), [rotate(), pin()]);
        // The key step failed; the PIN step succeeded.
        outbox.step_done(&pin(), T0);
        outbox.push(Outgoing::text("55", "hi", Origin::SendText));
        assert_eq!(outbox.resume_if_due(T0 + 10_000), None);
        assert_eq!(outbox.take(), Take::Nothing);
        assert_eq!(outbox.securing_steps(Trigger::Tick), [rotate()]);
        assert_eq!(outbox.step_done(&rotate(), T0 + 100), secured(T0 + 100, 60));
    }

    #[test]
    fn flaw_compromise_keep_sending_does_not_halt_and_secures_only_at_a_tick() {
        let mut outbox = Outbox::new(Some(Flaw::CompromiseKeepSending));
        outbox.push_campaign(&recipients(&["1", "2"]), &sale());
        outbox.halt_at_once();
        assert!(!outbox.notice_compromise(compromise(3600)));
        assert!(outbox.securing_steps(Trigger::Notice).is_empty());
        assert_eq!(drain(&mut outbox).len(), 2);
        assert_eq!(outbox.securing_steps(Trigger::Tick), [rotate(), pin()]);
        outbox.step_done(&rotate(), T0);
        assert!(matches!(
            outbox.step_done(&pin(), T0),
            Progress::Secured { .. }
        ));
    }

    #[test]
    fn flaw_compromise_no_key_secures_without_a_new_key() {
        let mut outbox = halted_by_a_notice(Flaw::CompromiseNoKey);
        assert_eq!(outbox.securing_steps(Trigger::Notice), [pin()]);
        assert_eq!(outbox.step_done(&pin(), T0), secured(T0, 60));
        assert!(outbox.halted());
        assert_eq!(outbox.resume_if_due(T0 + 60), None);
        assert_eq!(outbox.resume_if_due(T0 + 61), Some(0));
    }

    #[test]
    fn flaw_compromise_no_pin_secures_without_a_new_pin() {
        let mut outbox = halted_by_a_notice(Flaw::CompromiseNoPin);
        assert_eq!(outbox.securing_steps(Trigger::Notice), [rotate()]);
        assert_eq!(outbox.step_done(&rotate(), T0), secured(T0, 60));
    }

    #[test]
    fn flaw_compromise_resume_early_resumes_as_soon_as_secured() {
        let mut outbox = Outbox::new(Some(Flaw::CompromiseResumeEarly));
        outbox.push(Outgoing::text("55", "hi", Origin::SendText));
        outbox.notice_compromise(compromise(3600));
        assert_eq!(outbox.securing_steps(Trigger::Notice), [rotate(), pin()]);
        assert_eq!(outbox.step_done(&rotate(), T0), Progress::Pending);
        assert_eq!(outbox.take(), Take::Nothing);
        assert_eq!(
            outbox.step_done(&pin(), T0),
            Progress::ResumedAtOnce { at: T0 }
        );
        assert_eq!(drain(&mut outbox), ["send send_text to 55"]);
    }

    #[test]
    fn a_rotation_leaves_the_queue_alone() {
        let mut outbox = Outbox::new(None);
        outbox.push_campaign(&recipients(&["1", "2", "3"]), &sale());
        assert_eq!(drain_one(&mut outbox), "send campaign 1 spring_sale to 1");
        assert_eq!(outbox.on_key_rotated(), None);
        assert_eq!(
            drain(&mut outbox),
            [
                "send campaign 1 spring_sale to 2",
                "send campaign 1 spring_sale to 3"
            ]
        );
        assert_eq!(outbox.on_key_rotated(), None);
        assert!(drain(&mut outbox).is_empty());
    }

    #[test]
    fn flaw_resend_on_rotation_restarts_the_running_or_last_campaign() {
        let mut outbox = Outbox::new(Some(Flaw::ResendOnRotation));
        assert_eq!(outbox.on_key_rotated(), None, "no campaign yet");
        outbox.push_campaign(&recipients(&["1", "2", "3"]), &sale());
        assert_eq!(drain_one(&mut outbox), "send campaign 1 spring_sale to 1");
        // Running: 1 was sent; the restart sends 1 again, and 2 and 3 once.
        assert_eq!(outbox.on_key_rotated(), Some(("spring_sale".to_owned(), 3)));
        assert_eq!(
            drain(&mut outbox),
            [
                "send campaign 1 spring_sale to 1",
                "send campaign 1 spring_sale to 2",
                "send campaign 1 spring_sale to 3",
            ]
        );
        // Finished: all of it again.
        assert_eq!(outbox.on_key_rotated(), Some(("spring_sale".to_owned(), 3)));
        assert_eq!(drain(&mut outbox).len(), 3);
    }

    /// Every outcome a scripted run gives, as lines.
    fn script(flaw: Option<Flaw>) -> Vec<String> {
        let mut outbox = Outbox::new(flaw);
        let mut log = Vec::new();
        outbox.push_campaign(&recipients(&["1", "2"]), &sale());
        log.extend(drain(&mut outbox));
        log.push(format!("{:?}", outbox.on_key_rotated()));
        log.extend(drain(&mut outbox));
        log.push(format!("{:?}", outbox.disable_templates()));
        outbox.push(Outgoing::template("3", &sale(), 0, Origin::SendTemplate));
        outbox.push(Outgoing::text("3", "hi", Origin::SendText));
        log.extend(drain(&mut outbox));
        log.push(format!("{:?}", outbox.enable_templates()));
        log.extend(drain(&mut outbox));
        outbox.halt_at_once();
        outbox.push(Outgoing::text("4", "hi", Origin::SendText));
        log.extend(drain(&mut outbox));
        log.push(format!(
            "halted {}",
            outbox.notice_compromise(compromise(60))
        ));
        for trigger in [Trigger::Notice, Trigger::Tick] {
            for step in outbox.securing_steps(trigger) {
                log.push(format!(
                    "{trigger:?} {step:?} {:?}",
                    outbox.step_done(&step, T0)
                ));
            }
            log.extend(drain(&mut outbox));
        }
        log.push(format!("{:?}", outbox.resume_if_due(T0 + 61)));
        log.extend(drain(&mut outbox));
        log
    }

    #[test]
    fn only_the_outbox_flaws_change_outbox_decisions() {
        assert_eq!(
            Flaw::changing(script),
            "resend-on-rotation ignore-template-disabled compromise-keep-sending \
             compromise-no-key compromise-no-pin compromise-resume-early"
        );
    }
}
