//! The integration's memory and the rules it follows, free of I/O: de-duplication,
//! status ranking, the marketing cap, opt-outs, the customer service window and
//! paused templates. (What waits to be sent, and what holds it back, is in
//! `outbox.rs`.)
//!
//! Time here is the simulator's virtual time as webhooks tell it: `now` is the
//! largest webhook timestamp seen.

use std::collections::{BTreeMap, BTreeSet};

use crate::Flaw;
use crate::outbox::Message;

/// Seconds in the 24 hours both the marketing cap and the service window last.
pub(crate) const DAY_S: u64 = 24 * 60 * 60;

/// Most resends of one template in a chain of 131049 failures (flaw `resend-after-cap`).
pub(crate) const RESENDS_MAX: u32 = 3;

/// Error code: the per-user marketing limit.
pub(crate) const CODE_MARKETING_LIMIT: u64 = 131_049;

/// Most resends of one media message after 131053 (flaw `media-resend-loop`).
pub(crate) const MEDIA_RESENDS_MAX: u32 = 5;

/// Error code: the platform could not fetch or accept the media.
pub(crate) const CODE_MEDIA_FAILED: u64 = 131_053;

/// Most received media files waiting to be archived (older ones are dropped).
pub(crate) const MEDIA_PENDING_MAX: usize = 100;

/// Error code: the user stopped marketing messages.
pub(crate) const CODE_STOPPED_MARKETING: u64 = 131_050;

/// Error code: the template is paused.
pub(crate) const CODE_TEMPLATE_PAUSED: u64 = 132_015;

/// Error code: the template is disabled.
pub(crate) const CODE_TEMPLATE_DISABLED: u64 = 132_016;

/// A message's status: `accepted` when the send was taken, then what webhooks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum StatusKind {
    /// The Cloud API took the send; no status webhook yet.
    Accepted,
    /// `sent`.
    Sent,
    /// `delivered`.
    Delivered,
    /// `read`.
    Read,
    /// `failed` (terminal).
    Failed,
}

impl StatusKind {
    /// A webhook status name (`accepted` is not one).
    pub(crate) fn parse(name: &str) -> Option<StatusKind> {
        match name {
            "sent" => Some(StatusKind::Sent),
            "delivered" => Some(StatusKind::Delivered),
            "read" => Some(StatusKind::Read),
            "failed" => Some(StatusKind::Failed),
            _ => None,
        }
    }

    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StatusKind::Accepted => "accepted",
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Failed => "failed",
        }
    }

    /// Progress rank: accepted 0 < sent 1 < delivered 2 < read 3 (failed has none).
    fn rank(self) -> Option<u8> {
        match self {
            StatusKind::Accepted => Some(0),
            StatusKind::Sent => Some(1),
            StatusKind::Delivered => Some(2),
            StatusKind::Read => Some(3),
            StatusKind::Failed => None,
        }
    }
}

/// The status to keep when `incoming` arrives for a message at `current`.
///
/// Highest rank wins and nothing regresses; `failed` is terminal and overrides
/// accepted/sent/delivered but never `read`. Flaw `status-regress` keeps whatever
/// arrived last.
pub(crate) fn combine(
    current: Option<StatusKind>,
    incoming: StatusKind,
    flaw: Option<Flaw>,
) -> StatusKind {
    if flaw == Some(Flaw::StatusRegress) {
        return incoming;
    }
    let Some(current) = current else {
        return incoming;
    };
    match (current.rank(), incoming.rank()) {
        (None, _) => current,
        (Some(3), None) => current,
        (Some(_), None) => incoming,
        (Some(have), Some(new)) if new > have => incoming,
        (Some(_), Some(_)) => current,
    }
}

/// A user's message, as the webhook told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InboundMessage {
    /// Its wamid.
    pub(crate) id: String,
    /// The user's wa_id.
    pub(crate) from: String,
    /// Unix seconds (virtual), if it parsed.
    pub(crate) timestamp: Option<u64>,
    /// The message `type`.
    pub(crate) kind: String,
    /// The media id, for image, document, audio, video and sticker messages.
    pub(crate) media_id: Option<String>,
}

/// A status webhook for one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusUpdate {
    /// The message's wamid.
    pub(crate) id: String,
    /// The new status.
    pub(crate) kind: StatusKind,
    /// The recipient's wa_id.
    pub(crate) recipient_id: String,
    /// Unix seconds (virtual), if it parsed.
    pub(crate) timestamp: Option<u64>,
    /// `errors[].code` (on `failed`).
    pub(crate) error_codes: Vec<u64>,
}

#[derive(Debug, Clone)]
struct Tracked {
    status: StatusKind,
    to: String,
    sent: Option<Message>,
}

/// Whether to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Go ahead.
    Send,
    /// Do not; why, in a few words.
    Skip(String),
}

/// What an inbound message means for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InboundOutcome {
    /// A new message: reply (if the window allows).
    New,
    /// Seen before: no side effect.
    Duplicate,
}

/// What a status webhook changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StatusOutcome {
    /// Seen before (same wamid and status): no side effect.
    Duplicate,
    /// Applied.
    Recorded {
        /// The status now kept for the message.
        stored: StatusKind,
        /// Set when a 131049 capped the recipient: until when (unix seconds).
        capped_until: Option<u64>,
        /// Set when a 131050 opted the recipient out.
        opted_out: bool,
        /// A naive resend (only with flaws `resend-after-cap` and
        /// `media-resend-loop`).
        resend: Option<Resend>,
    },
}

/// A message to send again (flaws `resend-after-cap`, `media-resend-loop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resend {
    /// The recipient.
    pub(crate) to: String,
    /// What to send, its resend count including this one.
    pub(crate) sent: Message,
}

/// What a template status webhook or a refused template send changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateChange {
    /// The template is paused or disabled: no more sends until it is approved.
    Unusable,
    /// The template was approved (unpaused): it may be sent again.
    Usable,
    /// Nothing: the event or error does not say whether the template can be sent.
    Unchanged,
    /// Nothing, though it should have (flaw `ignore-pause`).
    IgnoredByFlaw,
}

/// Everything the integration remembers.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    flaw: Option<Flaw>,
    now: Option<u64>,
    seen_inbound: BTreeSet<String>,
    seen_status: BTreeSet<(String, StatusKind)>,
    messages: BTreeMap<String, Tracked>,
    last_inbound: BTreeMap<String, u64>,
    capped_until: BTreeMap<String, u64>,
    opted_out: BTreeSet<String>,
    unusable_templates: BTreeSet<String>,
    seen_partner_events: BTreeSet<String>,
    /// Media users sent, waiting to be archived: the media id and the download
    /// URL fetched for it (valid for 5 minutes), oldest first.
    media_pending: Vec<(String, String)>,
}

impl State {
    /// Empty memory, following the rules except `flaw`.
    pub(crate) fn new(flaw: Option<Flaw>) -> State {
        State {
            flaw,
            ..State::default()
        }
    }

    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    /// Virtual now: the largest webhook timestamp seen (0 before any).
    pub(crate) fn now(&self) -> u64 {
        self.now.unwrap_or(0)
    }

    /// Moves virtual now forward to `timestamp` (a webhook's or an action's).
    pub(crate) fn observe(&mut self, timestamp: Option<u64>) {
        if let Some(timestamp) = timestamp {
            self.now = Some(self.now().max(timestamp));
        }
    }

    /// Takes an inbound message: dedupes it by id and opens the user's window.
    pub(crate) fn on_inbound(&mut self, message: &InboundMessage) -> InboundOutcome {
        self.observe(message.timestamp);
        let new = self.seen_inbound.insert(message.id.clone());
        if !new && !self.has(Flaw::NoDedupe) {
            return InboundOutcome::Duplicate;
        }
        let at = message.timestamp.unwrap_or(self.now());
        let last = self.last_inbound.entry(message.from.clone()).or_insert(at);
        *last = (*last).max(at);
        InboundOutcome::New
    }

    /// Takes a partner webhook's event id: whether it is new (a duplicate delivery
    /// has no second effect; flaw `no-dedupe` takes it again).
    pub(crate) fn on_partner_event(&mut self, id: &str) -> bool {
        self.seen_partner_events.insert(id.to_owned()) || self.has(Flaw::NoDedupe)
    }

    /// Takes a status webhook: dedupes it by (wamid, status), keeps the highest
    /// status, and remembers caps (131049) and opt-outs (131050).
    pub(crate) fn on_status(&mut self, update: &StatusUpdate) -> StatusOutcome {
        self.observe(update.timestamp);
        let new = self.seen_status.insert((update.id.clone(), update.kind));
        if !new && !self.has(Flaw::NoDedupe) {
            return StatusOutcome::Duplicate;
        }
        let flaw = self.flaw;
        let tracked = self
            .messages
            .entry(update.id.clone())
            .or_insert_with(|| Tracked {
                status: update.kind,
                to: update.recipient_id.clone(),
                sent: None,
            });
        tracked.status = combine(Some(tracked.status), update.kind, flaw);
        let stored = tracked.status;
        let to = if update.recipient_id.is_empty() {
            tracked.to.clone()
        } else {
            update.recipient_id.clone()
        };
        let sent = tracked.sent.clone();
        let mut capped_until = None;
        let mut opted_out = false;
        let mut resend = None;
        if update.kind == StatusKind::Failed && !to.is_empty() {
            if update.error_codes.contains(&CODE_MARKETING_LIMIT) {
                let until = update.timestamp.unwrap_or(self.now()) + DAY_S;
                let kept = self.capped_until.entry(to.clone()).or_insert(until);
                *kept = (*kept).max(until);
                capped_until = Some(*kept);
                if let (true, Some(Message::Template { template, resends })) =
                    (self.has(Flaw::ResendAfterCap), sent.clone())
                    && resends < RESENDS_MAX
                {
                    resend = Some(Resend {
                        to: to.clone(),
                        sent: Message::Template {
                            template,
                            resends: resends + 1,
                        },
                    });
                }
            }
            // 131053: the same media fails the same way; only the flaw resends it.
            if update.error_codes.contains(&CODE_MEDIA_FAILED)
                && let (true, Some(Message::Media { media, resends })) =
                    (self.has(Flaw::MediaResendLoop), sent)
                && resends < MEDIA_RESENDS_MAX
            {
                resend = Some(Resend {
                    to: to.clone(),
                    sent: Message::Media {
                        media,
                        resends: resends + 1,
                    },
                });
            }
            if update.error_codes.contains(&CODE_STOPPED_MARKETING) {
                self.opted_out.insert(to);
                opted_out = true;
            }
        }
        StatusOutcome::Recorded {
            stored,
            capped_until,
            opted_out,
            resend,
        }
    }

    /// Takes a `message_template_status_update`: `PAUSED` and `DISABLED` make the
    /// template unusable, `APPROVED` (an unpause) usable again; other events change
    /// nothing.
    pub(crate) fn on_template_status(&mut self, name: &str, event: &str) -> TemplateChange {
        let usable = match event {
            "PAUSED" | "DISABLED" => false,
            "APPROVED" => true,
            _ => return TemplateChange::Unchanged,
        };
        self.set_template_usable(name, usable)
    }

    /// Takes an error answer to a send of template `name`: 132015 (paused) and
    /// 132016 (disabled) make it unusable; other codes change nothing.
    pub(crate) fn on_template_refused(&mut self, name: &str, code: u64) -> TemplateChange {
        if matches!(code, CODE_TEMPLATE_PAUSED | CODE_TEMPLATE_DISABLED) {
            self.set_template_usable(name, false)
        } else {
            TemplateChange::Unchanged
        }
    }

    fn set_template_usable(&mut self, name: &str, usable: bool) -> TemplateChange {
        if self.has(Flaw::IgnorePause) {
            return TemplateChange::IgnoredByFlaw;
        }
        if usable {
            self.unusable_templates.remove(name);
            TemplateChange::Usable
        } else {
            self.unusable_templates.insert(name.to_owned());
            TemplateChange::Unusable
        }
    }

    /// Whether a template status `event` makes the integration ask the Cloud API
    /// to unpause the template at once (flaw `auto-unpause`, on `PAUSED`). The
    /// correct integration never does: it waits for the `APPROVED` webhook.
    pub(crate) fn requests_unpause(&self, event: &str) -> bool {
        self.has(Flaw::AutoUnpause) && event == "PAUSED"
    }

    /// Whether a send answered `held_for_quality_assessment` is sent once more
    /// (flaw `resend-held`). The correct integration waits: the platform sends the
    /// held message or drops it (132015) by itself.
    pub(crate) fn resends_held(&self) -> bool {
        self.has(Flaw::ResendHeld)
    }

    /// May template `name` go to `to`? Not while the template is paused or
    /// disabled, not to an opted-out user, nor to a capped one before the cap ends.
    pub(crate) fn template_decision(&self, name: &str, to: &str) -> Decision {
        if self.unusable_templates.contains(name) {
            return Decision::Skip("template paused".to_owned());
        }
        if self.opted_out.contains(to) && !self.has(Flaw::IgnoreOptOut) {
            return Decision::Skip("opted out (131050)".to_owned());
        }
        if let Some(until) = self.capped_until.get(to)
            && self.now() < *until
            && !self.has(Flaw::ResendAfterCap)
        {
            return Decision::Skip(format!("capped until {until} (131049), now {}", self.now()));
        }
        Decision::Send
    }

    /// May free-form text go to `to`? Only inside the 24 h customer service window.
    pub(crate) fn text_decision(&self, to: &str) -> Decision {
        if self.has(Flaw::TextOutsideWindow) {
            return Decision::Send;
        }
        match self.last_inbound.get(to) {
            None => Decision::Skip("window closed (no inbound message)".to_owned()),
            Some(last) if self.now().saturating_sub(*last) < DAY_S => Decision::Send,
            Some(last) => Decision::Skip(format!(
                "window closed (last inbound {last}, now {})",
                self.now()
            )),
        }
    }

    /// Remembers media a user sent, to archive it later (at most
    /// [`MEDIA_PENDING_MAX`]: the oldest is dropped first).
    pub(crate) fn media_received(&mut self, media_id: &str, url: String) {
        if self.media_pending.len() >= MEDIA_PENDING_MAX {
            self.media_pending.remove(0);
        }
        self.media_pending.push((media_id.to_owned(), url));
    }

    /// The media waiting to be archived (id and URL), taken.
    pub(crate) fn take_pending_media(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.media_pending)
    }

    /// Remembers a message the Cloud API accepted.
    pub(crate) fn record_sent(&mut self, wamid: &str, to: &str, sent: Message) {
        let tracked = self
            .messages
            .entry(wamid.to_owned())
            .or_insert_with(|| Tracked {
                status: StatusKind::Accepted,
                to: to.to_owned(),
                sent: None,
            });
        tracked.to = to.to_owned();
        tracked.sent = Some(sent);
    }

    /// The status kept for `wamid`, if we sent it or saw a status for it.
    pub(crate) fn message_status(&self, wamid: &str) -> Option<StatusKind> {
        self.messages.get(wamid).map(|tracked| tracked.status)
    }
}

#[cfg(test)]
mod tests {
    use super::InboundOutcome::{Duplicate, New};
    use super::*;
    use crate::action::{Media, Template};

    const T0: u64 = 1_717_405_200;
    const SALE: &str = "spring_sale";

    fn spring_sale() -> Template {
        Template {
            name: SALE.to_owned(),
            language: "en_US".to_owned(),
            parameters: Vec::new(),
        }
    }

    fn inbound(id: &str, from: &str, at: u64) -> InboundMessage {
        InboundMessage {
            id: id.to_owned(),
            from: from.to_owned(),
            timestamp: Some(at),
            kind: "text".to_owned(),
            media_id: None,
        }
    }

    fn status(id: &str, kind: StatusKind, at: u64, to: &str, codes: &[u64]) -> StatusUpdate {
        StatusUpdate {
            id: id.to_owned(),
            kind,
            timestamp: Some(at),
            recipient_id: to.to_owned(),
            error_codes: codes.to_vec(),
        }
    }

    /// Whether the decision is to skip the send.
    fn skipped(decision: Decision) -> bool {
        matches!(decision, Decision::Skip(_))
    }

    /// Whether the status was recorded (whatever it changed).
    fn recorded(outcome: StatusOutcome) -> bool {
        matches!(outcome, StatusOutcome::Recorded { .. })
    }

    /// Records `wamid` as a `spring_sale` sent to `to`, the `resends`th in its chain.
    fn sent_spring_sale(state: &mut State, wamid: &str, to: &str, resends: u32) {
        let template = spring_sale();
        state.record_sent(wamid, to, Message::Template { template, resends });
    }

    /// Moves virtual now by a status webhook for an unrelated message.
    fn tick(state: &mut State, at: u64) {
        state.on_status(&status(
            &format!("wamid.tick{at}"),
            StatusKind::Sent,
            at,
            "1",
            &[],
        ));
    }

    use StatusKind::{Accepted, Delivered, Failed, Read, Sent as SentS};

    #[test]
    fn the_highest_status_wins_and_nothing_regresses() {
        let order = [Accepted, SentS, Delivered, Read];
        for (i, have) in order.iter().enumerate() {
            for (j, new) in order.iter().enumerate() {
                let expected = if j > i { *new } else { *have };
                assert_eq!(
                    combine(Some(*have), *new, None),
                    expected,
                    "{have:?}+{new:?}"
                );
            }
        }
        assert_eq!(combine(None, SentS, None), SentS);
    }

    #[test]
    fn failed_overrides_progress_except_read_and_is_terminal() {
        for have in [Accepted, SentS, Delivered] {
            assert_eq!(combine(Some(have), Failed, None), Failed);
        }
        assert_eq!(combine(Some(Read), Failed, None), Read);
        for new in [SentS, Delivered, Read] {
            assert_eq!(combine(Some(Failed), new, None), Failed);
        }
    }

    #[test]
    fn flaw_status_regress_keeps_the_latest_status() {
        let flaw = Some(Flaw::StatusRegress);
        assert_eq!(combine(Some(Read), SentS, flaw), SentS);
        assert_eq!(combine(Some(Failed), Delivered, flaw), Delivered);
        let mut correct = State::new(None);
        let mut flawed = State::new(flaw);
        for state in [&mut correct, &mut flawed] {
            state.record_sent("wamid.1", "55", Message::Text("hi".to_owned()));
            state.on_status(&status("wamid.1", Read, T0 + 5, "55", &[]));
            state.on_status(&status("wamid.1", SentS, T0 + 1, "55", &[]));
        }
        assert_eq!(correct.message_status("wamid.1"), Some(Read));
        assert_eq!(flawed.message_status("wamid.1"), Some(SentS));
    }

    #[test]
    fn a_sent_message_is_accepted_until_a_status_arrives() {
        let mut state = State::new(None);
        assert_eq!(state.message_status("wamid.1"), None);
        state.record_sent("wamid.1", "55", Message::Text("hi".to_owned()));
        assert_eq!(state.message_status("wamid.1"), Some(Accepted));
        state.on_status(&status("wamid.1", Delivered, T0, "55", &[]));
        assert_eq!(state.message_status("wamid.1"), Some(Delivered));
        // A status for a message we did not send is still remembered.
        state.on_status(&status("wamid.other", SentS, T0, "56", &[]));
        assert_eq!(state.message_status("wamid.other"), Some(SentS));
    }

    #[test]
    fn duplicate_inbound_messages_have_no_second_effect() {
        let mut state = State::new(None);
        assert_eq!(state.on_inbound(&inbound("wamid.in", "55", T0)), New);
        assert_eq!(state.on_inbound(&inbound("wamid.in", "55", T0)), Duplicate);
        assert_eq!(state.on_inbound(&inbound("wamid.in2", "55", T0)), New);
    }

    #[test]
    fn flaw_no_dedupe_processes_duplicates_again() {
        let mut state = State::new(Some(Flaw::NoDedupe));
        assert_eq!(state.on_inbound(&inbound("wamid.in", "55", T0)), New);
        assert_eq!(state.on_inbound(&inbound("wamid.in", "55", T0)), New);
        let update = status("wamid.1", Delivered, T0, "55", &[]);
        assert!(recorded(state.on_status(&update)));
        assert!(recorded(state.on_status(&update)));
    }

    #[test]
    fn a_partner_event_is_taken_once_unless_flaw_no_dedupe() {
        let mut state = State::new(None);
        assert!(state.on_partner_event("wasimEV0003"));
        assert!(!state.on_partner_event("wasimEV0003"));
        assert!(state.on_partner_event("wasimEV0004"));
        let mut flawed = State::new(Some(Flaw::NoDedupe));
        assert!(flawed.on_partner_event("wasimEV0003"));
        assert!(flawed.on_partner_event("wasimEV0003"));
    }

    #[test]
    fn duplicate_statuses_are_dropped_by_id_and_status() {
        let mut state = State::new(None);
        let delivered = status("wamid.1", Delivered, T0, "55", &[]);
        assert!(recorded(state.on_status(&delivered)));
        assert_eq!(state.on_status(&delivered), StatusOutcome::Duplicate);
        assert!(matches!(
            state.on_status(&status("wamid.1", Read, T0, "55", &[])),
            StatusOutcome::Recorded { stored: Read, .. }
        ));
    }

    #[test]
    fn now_is_the_largest_webhook_timestamp() {
        let mut state = State::new(None);
        assert_eq!(state.now(), 0);
        tick(&mut state, T0 + 100);
        tick(&mut state, T0 + 50);
        assert_eq!(state.now(), T0 + 100);
        state.on_inbound(&inbound("wamid.in", "55", T0 + 200));
        assert_eq!(state.now(), T0 + 200);
    }

    #[test]
    fn a_131049_caps_the_user_for_24_hours_without_a_resend() {
        let mut state = State::new(None);
        sent_spring_sale(&mut state, "wamid.1", "919", 0);
        assert_eq!(state.template_decision(SALE, "919"), Decision::Send);
        let outcome = state.on_status(&status("wamid.1", Failed, T0, "919", &[131_049]));
        assert_eq!(
            outcome,
            StatusOutcome::Recorded {
                stored: Failed,
                capped_until: Some(T0 + DAY_S),
                opted_out: false,
                resend: None,
            }
        );
        assert!(skipped(state.template_decision(SALE, "919")));
        assert_eq!(state.template_decision(SALE, "551"), Decision::Send);
        tick(&mut state, T0 + DAY_S - 1);
        assert!(skipped(state.template_decision(SALE, "919")));
        tick(&mut state, T0 + DAY_S);
        assert_eq!(state.template_decision(SALE, "919"), Decision::Send);
    }

    #[test]
    fn flaw_resend_after_cap_resends_and_ignores_the_cap() {
        let mut state = State::new(Some(Flaw::ResendAfterCap));
        sent_spring_sale(&mut state, "wamid.1", "919", 0);
        let StatusOutcome::Recorded { resend, .. } =
            state.on_status(&status("wamid.1", Failed, T0, "919", &[131_049]))
        else {
            panic!("recorded")
        };
        assert_eq!(
            resend,
            Some(Resend {
                to: "919".to_owned(),
                sent: Message::Template {
                    template: spring_sale(),
                    resends: 1,
                },
            })
        );
        assert_eq!(state.template_decision(SALE, "919"), Decision::Send);
        // The chain of naive resends is bounded.
        sent_spring_sale(&mut state, "wamid.2", "919", RESENDS_MAX);
        let StatusOutcome::Recorded { resend, .. } =
            state.on_status(&status("wamid.2", Failed, T0 + 1, "919", &[131_049]))
        else {
            panic!("recorded")
        };
        assert_eq!(resend, None);
    }

    #[test]
    fn a_131053_resends_media_only_with_the_flaw_and_boundedly() {
        let media = Media {
            kind: "document".to_owned(),
            link: "https://files.example.invalid/r.pdf".to_owned(),
            caption: None,
            filename: None,
        };
        let failed_media = |flaw, resends| {
            let mut state = State::new(flaw);
            let sent = Message::Media {
                media: media.clone(),
                resends,
            };
            state.record_sent("wamid.m", "55", sent);
            match state.on_status(&status("wamid.m", Failed, T0, "55", &[131_053])) {
                StatusOutcome::Recorded { resend, .. } => resend,
                StatusOutcome::Duplicate => panic!("recorded"),
            }
        };
        assert_eq!(failed_media(None, 0), None);
        assert_eq!(
            failed_media(Some(Flaw::MediaResendLoop), 0),
            Some(Resend {
                to: "55".to_owned(),
                sent: Message::Media {
                    media: media.clone(),
                    resends: 1
                },
            })
        );
        assert_eq!(
            failed_media(Some(Flaw::MediaResendLoop), MEDIA_RESENDS_MAX),
            None
        );
    }

    #[test]
    fn received_media_waits_boundedly_until_taken() {
        let mut state = State::new(None);
        for n in 0..=MEDIA_PENDING_MAX {
            state.media_received(&n.to_string(), format!("https://x/{n}"));
        }
        let pending = state.take_pending_media();
        assert_eq!(pending.len(), MEDIA_PENDING_MAX);
        assert_eq!(pending[0].0, "1", "the oldest is dropped first");
        assert!(state.take_pending_media().is_empty());
    }

    #[test]
    fn a_131050_opts_the_user_out_for_good() {
        let mut state = State::new(None);
        let outcome = state.on_status(&status("wamid.1", Failed, T0, "999", &[131_050]));
        assert!(matches!(
            outcome,
            StatusOutcome::Recorded {
                opted_out: true,
                capped_until: None,
                resend: None,
                ..
            }
        ));
        tick(&mut state, T0 + 30 * DAY_S);
        assert!(skipped(state.template_decision(SALE, "999")));
    }

    #[test]
    fn flaw_ignore_opt_out_keeps_sending() {
        let mut state = State::new(Some(Flaw::IgnoreOptOut));
        state.on_status(&status("wamid.1", Failed, T0, "999", &[131_050]));
        assert_eq!(state.template_decision(SALE, "999"), Decision::Send);
        // The cap still holds: only the opt-out rule is broken.
        state.on_status(&status("wamid.2", Failed, T0, "919", &[131_049]));
        assert!(skipped(state.template_decision(SALE, "919")));
    }

    #[test]
    fn text_goes_only_inside_the_24_hour_window() {
        let mut state = State::new(None);
        assert!(skipped(state.text_decision("55")));
        state.on_inbound(&inbound("wamid.in", "55", T0));
        assert_eq!(state.text_decision("55"), Decision::Send);
        assert!(skipped(state.text_decision("56")));
        tick(&mut state, T0 + DAY_S - 1);
        assert_eq!(state.text_decision("55"), Decision::Send);
        tick(&mut state, T0 + DAY_S);
        assert!(skipped(state.text_decision("55")));
        // A late delivery of an older message does not move the window back.
        state.on_inbound(&inbound("wamid.old", "55", T0 - 10));
        assert!(skipped(state.text_decision("55")));
        state.on_inbound(&inbound("wamid.new", "55", T0 + DAY_S + 5));
        assert_eq!(state.text_decision("55"), Decision::Send);
    }

    #[test]
    fn flaw_text_outside_window_always_sends() {
        let mut state = State::new(Some(Flaw::TextOutsideWindow));
        assert_eq!(state.text_decision("55"), Decision::Send);
        state.on_inbound(&inbound("wamid.in", "55", T0));
        tick(&mut state, T0 + 2 * DAY_S);
        assert_eq!(state.text_decision("55"), Decision::Send);
    }

    #[test]
    fn a_paused_or_disabled_template_is_skipped_until_approved() {
        let mut state = State::new(None);
        assert_eq!(state.template_decision(SALE, "55"), Decision::Send);
        assert_eq!(
            state.on_template_status(SALE, "PAUSED"),
            TemplateChange::Unusable
        );
        let paused = Decision::Skip("template paused".to_owned());
        assert_eq!(state.template_decision(SALE, "55"), paused);
        assert_eq!(
            state.template_decision("order_update", "55"),
            Decision::Send
        );
        // Other events say nothing about sending.
        for event in ["FLAGGED", "PENDING", "REJECTED"] {
            assert_eq!(
                state.on_template_status(SALE, event),
                TemplateChange::Unchanged
            );
        }
        assert_eq!(state.template_decision(SALE, "55"), paused);
        assert_eq!(
            state.on_template_status(SALE, "APPROVED"),
            TemplateChange::Usable
        );
        assert_eq!(state.template_decision(SALE, "55"), Decision::Send);
        assert_eq!(
            state.on_template_status(SALE, "DISABLED"),
            TemplateChange::Unusable
        );
        assert_eq!(state.template_decision(SALE, "919"), paused);
    }

    #[test]
    fn a_132015_or_132016_answer_makes_the_template_unusable() {
        let mut state = State::new(None);
        assert_eq!(
            state.on_template_refused(SALE, 131_049),
            TemplateChange::Unchanged
        );
        assert_eq!(state.template_decision(SALE, "55"), Decision::Send);
        assert_eq!(
            state.on_template_refused(SALE, CODE_TEMPLATE_PAUSED),
            TemplateChange::Unusable
        );
        assert!(skipped(state.template_decision(SALE, "56")));
        assert_eq!(
            state.on_template_refused("order_update", CODE_TEMPLATE_DISABLED),
            TemplateChange::Unusable
        );
        assert!(skipped(state.template_decision("order_update", "55")));
        state.on_template_status(SALE, "APPROVED");
        assert_eq!(state.template_decision(SALE, "55"), Decision::Send);
    }

    #[test]
    fn flaw_ignore_pause_never_marks_a_template_unusable() {
        let mut state = State::new(Some(Flaw::IgnorePause));
        for event in ["PAUSED", "DISABLED", "APPROVED"] {
            assert_eq!(
                state.on_template_status(SALE, event),
                TemplateChange::IgnoredByFlaw
            );
        }
        for code in [CODE_TEMPLATE_PAUSED, CODE_TEMPLATE_DISABLED] {
            assert_eq!(
                state.on_template_refused(SALE, code),
                TemplateChange::IgnoredByFlaw
            );
        }
        assert_eq!(state.template_decision(SALE, "55"), Decision::Send);
        // The other template rules still hold.
        state.on_status(&status("wamid.1", Failed, T0, "999", &[131_050]));
        assert!(skipped(state.template_decision(SALE, "999")));
    }

    #[test]
    fn only_flaw_resend_held_resends_a_held_message() {
        for flaw in Flaw::ALL.iter().copied().map(Some).chain([None]) {
            assert_eq!(
                State::new(flaw).resends_held(),
                flaw == Some(Flaw::ResendHeld),
                "{flaw:?}"
            );
        }
    }

    #[test]
    fn only_flaw_auto_unpause_requests_an_unpause_and_only_on_paused() {
        for flaw in Flaw::ALL.iter().copied().map(Some).chain([None]) {
            let state = State::new(flaw);
            assert_eq!(
                state.requests_unpause("PAUSED"),
                flaw == Some(Flaw::AutoUnpause),
                "{flaw:?}"
            );
            for event in ["APPROVED", "DISABLED", "REJECTED", "PENDING", "paused"] {
                assert!(!state.requests_unpause(event), "{flaw:?} {event}");
            }
        }
    }

    #[test]
    fn flaw_auto_unpause_still_treats_a_paused_template_as_unusable_until_approved() {
        let mut state = State::new(Some(Flaw::AutoUnpause));
        assert_eq!(
            state.on_template_status(SALE, "PAUSED"),
            TemplateChange::Unusable
        );
        assert!(state.requests_unpause("PAUSED"));
        assert!(skipped(state.template_decision(SALE, "55")));
        assert_eq!(
            state.on_template_status(SALE, "APPROVED"),
            TemplateChange::Usable
        );
        assert!(!state.requests_unpause("APPROVED"));
        assert_eq!(state.template_decision(SALE, "55"), Decision::Send);
    }

    /// Every decision a scripted run makes, as lines.
    fn script(flaw: Option<Flaw>) -> Vec<String> {
        let mut state = State::new(flaw);
        let mut log = Vec::new();
        let template = Message::Template {
            template: spring_sale(),
            resends: 0,
        };
        log.push(format!("{:?}", state.on_inbound(&inbound("in1", "55", T0))));
        log.push(format!("{:?}", state.on_inbound(&inbound("in1", "55", T0))));
        state.record_sent("m1", "55", Message::Text("hi".to_owned()));
        state.record_sent("m2", "919", template.clone());
        state.record_sent("m3", "999", template);
        for update in [
            status("m1", Read, T0 + 10, "55", &[]),
            status("m1", SentS, T0 + 5, "55", &[]),
            status("m1", SentS, T0 + 5, "55", &[]),
            status("m2", Failed, T0 + 20, "919", &[131_049]),
            status("m3", Failed, T0 + 20, "999", &[131_050]),
        ] {
            log.push(format!("{:?}", state.on_status(&update)));
        }
        for to in ["55", "919", "999", "14"] {
            log.push(format!(
                "{to}: {:?} {:?}",
                state.template_decision(SALE, to),
                state.text_decision(to)
            ));
        }
        tick(&mut state, T0 + DAY_S + 30);
        for to in ["55", "919", "999"] {
            log.push(format!(
                "{to}: {:?} {:?}",
                state.template_decision(SALE, to),
                state.text_decision(to)
            ));
        }
        log.push(format!("{:?}", state.message_status("m1")));
        log.push(format!("{:?}", state.on_template_status(SALE, "PAUSED")));
        log.push(format!(
            "{:?}",
            state.on_template_refused("order_update", CODE_TEMPLATE_DISABLED)
        ));
        for name in [SALE, "order_update"] {
            log.push(format!("{name}: {:?}", state.template_decision(name, "14")));
        }
        log.push(format!("{:?}", state.on_template_status(SALE, "APPROVED")));
        log.push(format!("{:?}", state.template_decision(SALE, "14")));
        log.push(format!("resends held: {}", state.resends_held()));
        for event in ["PAUSED", "APPROVED", "DISABLED"] {
            log.push(format!(
                "unpause on {event}: {}",
                state.requests_unpause(event)
            ));
        }
        log
    }

    #[test]
    fn only_the_state_level_flaws_change_state_decisions() {
        assert_eq!(
            Flaw::changing(script),
            "no-dedupe status-regress resend-after-cap ignore-opt-out text-outside-window \
             resend-held ignore-pause auto-unpause"
        );
    }
}
