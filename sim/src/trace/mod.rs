//! The trace: the append-only event log every check and report reads.
//!
//! Records are past-tense facts stamped with a sequence number and the virtual time
//! they happened at. Secrets never enter a record: credentials appear only as
//! `fingerprint`s.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde::Serialize;
use serde_json::Value;

mod body;
mod fingerprint;

pub use self::body::{WebhookBody, ascii_escape};
pub use self::fingerprint::{fingerprint, redact_secrets, set_fingerprint_key};

/// What happened. Serialized with `kind` set to the variant's snake_case name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A world was built from its spec.
    WorldBuilt {
        /// Root seed.
        seed: u64,
        /// Policy profile name.
        profile: String,
        /// Number of recipients.
        recipients: usize,
        /// Unix seconds of virtual time zero.
        epoch_unix_s: u64,
    },
    /// The world was reset to a fresh copy.
    WorldReset,
    /// An HTTP request reached one of the surfaces.
    Request {
        /// `graph`, `d360` or `control`.
        surface: &'static str,
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Fingerprint of the credential presented, if any.
        credential: Option<String>,
        /// The HTTP status answered.
        http_status: u16,
        /// The platform error code answered, if any.
        error_code: Option<u32>,
    },
    /// A send was accepted (HTTP 200 with a wamid).
    MessageAccepted {
        /// The wamid.
        message_id: String,
        /// `graph` or `d360` for `/messages`; `graph_marketing_messages` for the
        /// Marketing Messages API (`/{phone-number-id}/marketing_messages`).
        surface: &'static str,
        /// Sending phone number id.
        phone_number_id: String,
        /// Recipient WhatsApp id.
        to: String,
        /// `text`, `template`, `image`, `interactive`, `reaction`, ….
        message_type: &'static str,
        /// The wamid this message replies to (`context`), if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        /// The media sent (`id …` or `link …` without its query), for media
        /// messages and interactive messages with a media header.
        #[serde(skip_serializing_if = "Option::is_none")]
        media: Option<String>,
        /// Template name, for templates.
        template: Option<String>,
        /// Template category or `SERVICE` for free-form.
        category: &'static str,
        /// `message_status` answered, for templates.
        message_status: Option<&'static str>,
    },
    /// A send was rejected synchronously.
    MessageRejected {
        /// `graph` or `d360` for `/messages`; `graph_marketing_messages` for the
        /// Marketing Messages API (`/{phone-number-id}/marketing_messages`).
        surface: &'static str,
        /// Sending phone number id, if known.
        phone_number_id: Option<String>,
        /// Recipient, if parsed.
        to: Option<String>,
        /// The template, for template sends.
        template: Option<String>,
        /// Platform error code.
        code: u32,
        /// Error title.
        title: String,
    },
    /// Pacing held a template message for quality assessment.
    MessageHeld {
        /// The wamid.
        message_id: String,
        /// The template.
        template: String,
        /// Messages held in this round so far.
        held: usize,
    },
    /// A pacing round ended: held messages released, or the template paused.
    PacingDecided {
        /// The template.
        template: String,
        /// `released` or `paused`.
        outcome: String,
        /// Messages held.
        held: usize,
        /// Messages sent before the hold.
        sent: u32,
    },
    /// A template's quality changed.
    TemplateQuality {
        /// The template.
        template: String,
        /// The quality before.
        previous: String,
        /// The quality now.
        quality: String,
    },
    /// A template's status changed (`PAUSED`, `APPROVED` after a pause, `DISABLED`).
    TemplateStatus {
        /// The template.
        template: String,
        /// The status event.
        event: String,
        /// What it means for sends.
        detail: String,
    },
    /// A marketing template counted toward the recipient's per-user limit.
    MarketingCounted {
        /// The wamid.
        message_id: String,
        /// Recipient.
        to: String,
        /// Counted marketing in the window, this message included.
        window_count: u32,
        /// The profile's cap.
        cap: u32,
    },
    /// A recipient was blocked after repeated retries while capped.
    RecipientBlocked {
        /// Recipient.
        to: String,
        /// Virtual time the block ends.
        until_ms: u64,
    },
    /// A message reached a status.
    Status {
        /// The wamid.
        message_id: String,
        /// Recipient.
        to: String,
        /// `sent`, `delivered`, `read` or `failed`.
        status: &'static str,
        /// Error code, for `failed`.
        error_code: Option<u32>,
    },
    /// A webhook was emitted for delivery.
    WebhookEmitted {
        /// Delivery id.
        delivery_id: u64,
        /// Webhook field (`messages`).
        field: Cow<'static, str>,
        /// Whom it is for: `number:<id>`, `waba` or `partner`.
        route: String,
        /// Changes batched in this post.
        changes: u32,
        /// The payload as posted (serialized once, shared with the delivery;
        /// written into the trace as it is).
        body: WebhookBody,
    },
    /// One delivery attempt of a webhook finished.
    WebhookAttempt {
        /// Delivery id.
        delivery_id: u64,
        /// Attempt number, from 1.
        attempt: u32,
        /// `original`, `duplicate` or `forged`.
        copy: &'static str,
        /// `meta`, `d360` or `partner`.
        destination: &'static str,
        /// The record this attempt was posted right after: its outcome is recorded
        /// when the answer comes, but the post happened here (the runner's reports
        /// put it back in this place).
        after_seq: u64,
        /// Target URL (user info and query fingerprinted).
        url: String,
        /// The receiver's HTTP status, if it answered.
        http_status: Option<u16>,
        /// Why the attempt failed without an answer.
        error: Option<String>,
    },
    /// A failed delivery will be attempted again.
    WebhookRetryScheduled {
        /// Delivery id.
        delivery_id: u64,
        /// The coming attempt's number.
        attempt: u32,
        /// Virtual time it is due.
        due_ms: u64,
    },
    /// A delivery was given up: no more attempts.
    WebhookDropped {
        /// Delivery id.
        delivery_id: u64,
        /// Attempts made.
        attempts: u32,
        /// Why it was given up.
        reason: String,
    },
    /// A fault profile acted on a delivery: `delayed`, `held`, `reordered`,
    /// `released`, `burst`, `duplicated` or `forged`.
    WebhookFault {
        /// Delivery id.
        delivery_id: u64,
        /// The fault.
        fault: String,
        /// What it did.
        detail: String,
    },
    /// A webhook fault profile was set.
    WebhookFaultsSet {
        /// The profile, every field shown.
        profile: Value,
    },
    /// The fault phase ended: delivery is clean again.
    WebhookHealed {
        /// Held deliveries posted at the heal.
        released: u32,
    },
    /// A verification handshake (GET with `hub.challenge`) finished.
    WebhookVerification {
        /// Handshake id.
        verification_id: u64,
        /// The callback URL (user info and query fingerprinted).
        url: String,
        /// Fingerprint of the verify token presented.
        verify_token: String,
        /// The receiver's HTTP status, if it answered.
        http_status: Option<u16>,
        /// Whether it answered 200 with the challenge.
        echoed: bool,
        /// What went wrong, if anything.
        error: Option<String>,
    },
    /// Where webhooks go was set.
    WebhookConfigured {
        /// `app`, `partner`, `d360_channel` or `d360_waba`.
        scope: String,
        /// The number whose key set it (360dialog scopes).
        phone_number_id: Option<String>,
        /// The URL (user info and query fingerprinted); none when cleared.
        url: Option<String>,
        /// Custom header names with fingerprints of their values.
        headers: Vec<String>,
    },
    /// A webhook was not sent.
    WebhookSkipped {
        /// Delivery id.
        delivery_id: u64,
        /// Why.
        reason: String,
    },
    /// A user wrote to the business.
    Inbound {
        /// The wamid.
        message_id: String,
        /// The user.
        from: String,
        /// The business number written to.
        phone_number_id: String,
        /// `text`, `interactive` or `button`.
        message_type: String,
        /// The business message replied to, if any.
        context: Option<String>,
        /// Characters of text (or of the tapped title).
        text_chars: usize,
    },
    /// The business marked a message it received as read (a read receipt on the
    /// send path).
    MessageMarkedRead {
        /// `graph` or `d360`.
        surface: &'static str,
        /// The business number.
        phone_number_id: String,
        /// The wamid marked read.
        message_id: String,
        /// The user who sent it.
        from: String,
        /// Virtual milliseconds between its arrival and the receipt.
        after_ms: u64,
        /// Whether a typing indicator was shown with it.
        typing: bool,
    },
    /// A media URL was fetched (the download `GET /{media-id}`'s `url` points at).
    MediaDownloaded {
        /// The media id the URL names.
        media_id: String,
        /// When the URL expires, in unix seconds (which URL of the media it was).
        url_expires_s: u64,
        /// `downloaded`, `expired` (the URL is past its 5 minutes) or `refused`
        /// (a bad credential, a forged URL, media deleted or of another number).
        outcome: &'static str,
    },
    /// Other businesses' marketing reached a user.
    EcosystemMarketing {
        /// The user.
        to: String,
        /// How many messages.
        count: u32,
    },
    /// The Cloud API access token was replaced; the old one is refused from now on.
    AccessTokenRotated {
        /// Fingerprint of the old token.
        old: String,
        /// Fingerprint of the new one.
        new: String,
    },
    /// A register, deregister or PIN call on a phone number.
    PhoneRegistration {
        /// The number.
        phone_number_id: String,
        /// `register`, `deregister` or `set_pin`.
        action: String,
        /// The error answered, if any.
        error_code: Option<u32>,
    },
    /// A Partner API bearer token was issued.
    PartnerTokenIssued {
        /// Its fingerprint.
        token: String,
        /// Virtual time it expires.
        expires_ms: u64,
    },
    /// A channel's 360dialog API key was replaced (generated anew or revoked):
    /// every earlier key is refused from now on.
    ApiKeyReplaced {
        /// The channel.
        channel_id: String,
        /// Fingerprint of the key before.
        old: String,
        /// Fingerprint of the key now (a revoked placeholder after a delete).
        new: String,
    },
    /// The integration was given a credential (the `set_access_token` driver action).
    CredentialHandedOver {
        /// Fingerprint of the credential given.
        credential: String,
    },
    /// The scenario runner played a step.
    ScenarioStep {
        /// The step's index in the scenario, from 1.
        index: usize,
        /// The step in words.
        text: String,
    },
    /// The integration said what it knows of a message (`GET /wasim/messages/{id}`
    /// on its driver hook), asked by the runner at the end of a scenario.
    IntegrationState {
        /// The wamid.
        message_id: String,
        /// The status it reported; none when it did not know the message.
        status: Option<String>,
        /// Its HTTP answer; none when it did not answer.
        http_status: Option<u16>,
    },
    /// The runner gave the integration a driver action (secrets replaced by their
    /// fingerprints).
    DriverAction {
        /// The action's name (`send_campaign`).
        action: String,
        /// The action as sent, without secrets.
        body: Value,
    },
    /// A send was refused before the platform saw it: 360dialog has disabled
    /// template messaging for the WABA.
    SendBlocked {
        /// `d360`.
        surface: &'static str,
        /// Sending phone number id.
        phone_number_id: String,
        /// Recipient, if parsed.
        to: Option<String>,
        /// `text` or `template`.
        message_type: &'static str,
        /// The HTTP status answered.
        http_status: u16,
        /// Why.
        reason: String,
    },
    /// Something happened to the account: a flag, restriction, violation, ban,
    /// reinstatement, compromise, tier change or partner user change.
    AccountIncident {
        /// `disable_templates`, `enable_templates`, `violation`, `restrict`,
        /// `restriction_lifted`, `terminate`, `reinstate`, `compromise`, `tier`,
        /// `invite_partner_user`, `remove_partner_user`.
        incident: String,
        /// The phone number it concerns, if one.
        phone_number_id: Option<String>,
        /// In words.
        detail: String,
    },
    /// Someone other than the integration sent with a channel's key (a compromise).
    UnknownOriginSend {
        /// The number the key belongs to.
        phone_number_id: String,
        /// Fingerprint of the key used.
        credential: String,
        /// Recipient.
        to: String,
        /// The HTTP status the platform answered.
        http_status: u16,
        /// The wamid, if accepted.
        message_id: Option<String>,
    },
    /// Virtual time was moved forward on request.
    ClockAdvanced {
        /// Time before.
        from_ms: u64,
        /// Time after.
        to_ms: u64,
    },
}

/// One trace record: sequence, virtual time, and the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceRecord {
    /// Position in the trace, from 0.
    pub seq: u64,
    /// Virtual milliseconds since the world epoch.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: TraceEvent,
    /// Wall milliseconds the event took (a webhook attempt's or handshake's answer):
    /// kept beside the record for checks and reports, never written with it, so
    /// the trace is the same bytes for the same inputs however fast the receiver.
    #[serde(skip)]
    pub latency_ms: Option<u64>,
}

impl TraceRecord {
    /// A record of `event` at `at_ms`, numbered `seq`, with no wall time.
    pub fn new(seq: u64, at_ms: u64, event: TraceEvent) -> TraceRecord {
        TraceRecord {
            seq,
            at_ms,
            event,
            latency_ms: None,
        }
    }
}

/// Records per chunk of the trace: 16 Ki records of ~176 B, about 2.8 MB.
const CHUNK: usize = 16 * 1024;

/// Records a trace keeps in memory by default (about 1.4 GB resident at most
/// under a send load, webhook payloads included; see `benches/soak.rs`): the
/// oldest chunks go first. `wasim serve --trace FILE` keeps every record on disk.
pub const TRACE_RECORDS_MAX: usize = 1024 * 1024;

/// The append-only trace, kept in fixed-size chunks: appending never moves the
/// records already written. (One growing `Vec` copied the whole trace at every
/// doubling and briefly held both copies: a 7-day campaign's trace is 966 k
/// records.) Sequence numbers count every record ever appended; the memory keeps
/// a window of the newest ones (at least `records_max`), dropping whole chunks
/// from the front.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Each chunk with the sequence number of its first record.
    chunks: VecDeque<(usize, Vec<TraceRecord>)>,
    len: usize,
    records_max: usize,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::with_capacity(TRACE_RECORDS_MAX)
    }
}

impl Trace {
    /// A trace that keeps at least the newest `records_max` records in memory.
    pub fn with_capacity(records_max: usize) -> Trace {
        Trace {
            chunks: VecDeque::new(),
            len: 0,
            records_max: records_max.max(1),
        }
    }

    /// Appends an event at `at_ms`.
    pub fn push(&mut self, at_ms: u64, event: TraceEvent) {
        self.push_record(TraceRecord::new(self.len as u64, at_ms, event));
    }

    /// Appends an event at `at_ms` that took `latency_ms` of wall time.
    pub fn push_measured(&mut self, at_ms: u64, event: TraceEvent, latency_ms: u64) {
        let mut record = TraceRecord::new(self.len as u64, at_ms, event);
        record.latency_ms = Some(latency_ms);
        self.push_record(record);
    }

    fn push_record(&mut self, record: TraceRecord) {
        match self.chunks.back_mut() {
            Some((_, chunk)) if chunk.len() < CHUNK => chunk.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(record);
                self.chunks.push_back((self.len, chunk));
                // Whole chunks go once the window holds enough without them.
                while self.chunks.len() > 1
                    && self.retained() - self.chunks[0].1.len() >= self.records_max
                {
                    self.chunks.pop_front();
                }
            }
        }
        self.len += 1;
    }

    /// How many records the trace has had (the next record's `seq`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `seq` of the oldest record still in memory (`len` when none is).
    pub fn first_seq(&self) -> usize {
        self.chunks.front().map_or(self.len, |(first, _)| *first)
    }

    /// How many records are in memory.
    pub fn retained(&self) -> usize {
        self.chunks.iter().map(|(_, chunk)| chunk.len()).sum()
    }

    /// Forgets every record in memory; the next record's `seq` goes on from `len`.
    pub fn clear(&mut self) {
        self.chunks = VecDeque::new();
    }

    /// The record `seq`, if it is in memory.
    pub fn get(&self, seq: usize) -> Option<&TraceRecord> {
        let index = self.chunks.partition_point(|(first, _)| *first <= seq);
        let (first, chunk) = self.chunks.get(index.checked_sub(1)?)?;
        chunk.get(seq - first)
    }

    /// Every record in memory, in order.
    pub fn records(&self) -> Records<'_> {
        self.since(0)
    }

    /// Records in memory from `seq` on (from the oldest one in memory if `seq` is
    /// older; none past the end).
    pub fn since(&self, seq: usize) -> Records<'_> {
        let from = seq.max(self.first_seq()).min(self.len);
        let index = self
            .chunks
            .partition_point(|(first, _)| *first <= from)
            .saturating_sub(1);
        let mut chunks = self.chunks.range(index..);
        let current = match chunks.next() {
            Some((first, chunk)) => chunk.get(from - first..).unwrap_or(&[]),
            None => &[][..],
        };
        Records {
            current: current.iter(),
            rest: chunks,
            remaining: self.len - from,
        }
    }

    /// The whole trace in memory as JSON Lines.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for record in self.records() {
            out.push_str(&record.to_json_line());
        }
        out
    }
}

/// The records of a [`Trace`] from some position on, in order.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    current: std::slice::Iter<'a, TraceRecord>,
    rest: std::collections::vec_deque::Iter<'a, (usize, Vec<TraceRecord>)>,
    remaining: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a TraceRecord;

    fn next(&mut self) -> Option<&'a TraceRecord> {
        loop {
            if let Some(record) = self.current.next() {
                self.remaining -= 1;
                return Some(record);
            }
            self.current = self.rest.next()?.1.iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Records<'_> {}

impl std::iter::FusedIterator for Records<'_> {}

impl TraceRecord {
    /// This record as one JSON line, newline included: the bytes `serde_json` gives
    /// the record, but a webhook body (the last field of `webhook_emitted`) is
    /// appended as the text it is, without the check that embedding it through
    /// `Serialize` makes (two thirds of the cost of such a line).
    pub fn to_json_line(&self) -> String {
        let mut line = match &self.event {
            TraceEvent::WebhookEmitted {
                delivery_id,
                field,
                route,
                changes,
                body,
            } => {
                let head = EmittedHead {
                    seq: self.seq,
                    at_ms: self.at_ms,
                    kind: "webhook_emitted",
                    delivery_id: *delivery_id,
                    field,
                    route,
                    changes: *changes,
                };
                let mut line = serde_json::to_string(&head).expect("trace records serialize");
                line.pop(); // the closing brace
                line.push_str(",\"body\":");
                line.push_str(body.as_str());
                line.push('}');
                line
            }
            _ => serde_json::to_string(self).expect("trace records serialize"),
        };
        line.push('\n');
        line
    }
}

/// A `webhook_emitted` record up to its body, in the record's field order.
#[derive(Serialize)]
struct EmittedHead<'a> {
    seq: u64,
    at_ms: u64,
    kind: &'static str,
    delivery_id: u64,
    field: &'a str,
    route: &'a str,
    changes: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialize_with_seq_at_ms_and_kind() {
        let mut trace = Trace::default();
        trace.push(5, TraceEvent::WorldReset);
        let line = trace.to_jsonl();
        assert_eq!(line, "{\"seq\":0,\"at_ms\":5,\"kind\":\"world_reset\"}\n");
    }

    #[test]
    fn records_and_since_cross_chunk_boundaries_in_order() {
        let mut trace = Trace::default();
        let total = 2 * CHUNK + 3;
        for at in 0..total {
            trace.push(at as u64, TraceEvent::WorldReset);
        }
        assert_eq!(trace.len(), total);
        let seqs: Vec<u64> = trace.records().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..total as u64).collect::<Vec<_>>());
        for from in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            total - 1,
            total,
        ] {
            let since = trace.since(from);
            assert_eq!(since.len(), total - from, "from {from}");
            let seqs: Vec<u64> = since.map(|r| r.seq).collect();
            assert_eq!(
                seqs,
                (from as u64..total as u64).collect::<Vec<_>>(),
                "from {from}"
            );
        }
        assert_eq!(trace.since(total + 5).count(), 0);
        assert_eq!(trace.get(CHUNK).map(|r| r.seq), Some(CHUNK as u64));
        assert!(trace.get(total).is_none());
    }

    #[test]
    fn a_bounded_trace_keeps_the_newest_records_and_counts_every_one() {
        let mut trace = Trace::with_capacity(CHUNK);
        let total = 3 * CHUNK + 5;
        for at in 0..total {
            trace.push(at as u64, TraceEvent::WorldReset);
        }
        assert_eq!(trace.len(), total);
        assert!(trace.retained() >= CHUNK && trace.retained() <= 2 * CHUNK);
        let first = trace.first_seq();
        assert_eq!(first, total - trace.retained());
        assert!(trace.get(first - 1).is_none());
        assert_eq!(trace.get(first).map(|r| r.seq), Some(first as u64));
        assert_eq!(trace.get(total - 1).map(|r| r.seq), Some(total as u64 - 1));
        let since: Vec<u64> = trace.since(0).map(|r| r.seq).collect();
        assert_eq!(since, (first as u64..total as u64).collect::<Vec<_>>());
        assert_eq!(trace.since(total - 2).count(), 2);
        trace.clear();
        assert_eq!((trace.retained(), trace.first_seq()), (0, total));
        trace.push(0, TraceEvent::WorldReset);
        assert_eq!(trace.get(total).map(|r| r.seq), Some(total as u64));
        assert_eq!(trace.records().count(), 1);
    }

    #[test]
    fn a_webhook_emitted_line_is_the_bytes_serde_json_gives_the_record() {
        let body = WebhookBody::new(&serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"text": "Grüße \"x\""}}]}]
        }));
        let record = TraceRecord::new(
            7,
            1_500,
            TraceEvent::WebhookEmitted {
                delivery_id: 3,
                field: Cow::Borrowed("messages"),
                route: "number:110".to_owned(),
                changes: 1,
                body,
            },
        );
        let expected = serde_json::to_string(&record).expect("serializes") + "\n";
        assert_eq!(record.to_json_line(), expected);
        let parsed: Value = serde_json::from_str(&expected).expect("JSON");
        assert_eq!(parsed["body"]["entry"][0]["id"], "1");
    }
}
