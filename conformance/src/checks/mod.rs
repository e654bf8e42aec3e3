//! The check catalog: each check a stable id, a severity, a one-line rule, the
//! public source of the platform rule it stems from, and a pure function over a
//! scenario's trace that passes, fails with the records that prove it, or does
//! not apply.
//!
//! - [`webhooks`]: what a receiver must do with what the platform posts
//!   (acknowledge fast, refuse forgeries, de-duplicate, never regress a status,
//!   echo the handshake).
//! - [`sending`]: what a sender must not do (resend after 131049 or 131050,
//!   free-form text outside the window, hot loops after rate or auth errors, a
//!   replaced token).
//! - [`templates`]: what to do when pacing holds messages or a template is paused.
//! - [`security`]: keys, account incidents, the compromise response, registration.
//! - [`driver`]: the sends the driver asks for are carried out, well formed.
//! - [`messages`]: inbound messages marked read, failed media not resent,
//!   expired media URLs fetched anew.

pub mod driver;
pub mod messages;
pub mod security;
pub mod sending;
pub mod templates;
pub mod webhooks;

use std::collections::BTreeMap;

use wasim_reports::{CheckResult, CheckStatus, ProofRecord, Severity};
use wasim_sim::{TraceEvent, TraceRecord};

use crate::describe;

/// How a check cites the seed newsletter, which is not online as a page of its
/// own documentation: "WhatsApp Platform Updates and Best Practices to Keep
/// Your Account Secure", sent by 360dialog to its partners.
pub const NEWSLETTER: &str = "360dialog partner newsletter, 9 May 2024";

/// Most proof records cited per failure.
pub const PROOF_MAX: usize = 6;

/// What a check sees: one scenario's trace.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Every record, in order.
    pub records: &'a [TraceRecord],
}

impl<'a> Evidence<'a> {
    /// The records with their events, in order.
    pub fn events(&self) -> impl Iterator<Item = (&'a TraceRecord, &'a TraceEvent)> + use<'a> {
        self.records.iter().map(|r| (r, &r.event))
    }

    /// The record with sequence number `seq`.
    pub fn record(&self, seq: u64) -> Option<&'a TraceRecord> {
        self.records.iter().find(|r| r.seq == seq)
    }
}

/// A check's judgement, before it is dressed for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// The rule held; what was judged.
    Pass(String),
    /// The rule was broken: why, and the sequence numbers of the proving records.
    Fail {
        /// One line.
        message: String,
        /// Proving records, in trace order.
        proof: Vec<u64>,
    },
    /// Nothing in the scenario for this rule to judge; why.
    NotApplicable(String),
}

impl Judgement {
    /// A failure proven by `proof`, put in trace order (each record once).
    pub fn failed(message: impl Into<String>, mut proof: Vec<u64>) -> Judgement {
        proof.sort_unstable();
        proof.dedup();
        Judgement::Fail {
            message: message.into(),
            proof,
        }
    }

    /// The verdict of a judge that gathers proof as it reads: a pass saying
    /// `pass` when it found none, otherwise a failure saying `failure`, proven by
    /// `proof` (see [`Judgement::failed`]).
    pub fn unless_proven(
        pass: impl Into<String>,
        failure: impl Into<String>,
        proof: Vec<u64>,
    ) -> Judgement {
        if proof.is_empty() {
            Judgement::Pass(pass.into())
        } else {
            Judgement::failed(failure, proof)
        }
    }
}

/// One check of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id (`CAP-001`).
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// The rule, one line.
    pub rule: &'static str,
    /// The public source(s) of the rule, separated by `; `: each a documentation
    /// page's `https://` address, or [`NEWSLETTER`].
    pub reference: &'static str,
    /// Why it matters, one or two sentences.
    pub rationale: &'static str,
    /// The judge.
    pub judge: fn(&Evidence<'_>) -> Judgement,
}

/// Every check, in catalog order.
pub const CATALOG: &[Check] = &[
    webhooks::ACK_FAST,
    webhooks::FORGED_REFUSED,
    webhooks::DUPLICATES_HARMLESS,
    webhooks::NO_STATUS_REGRESSION,
    webhooks::HANDSHAKE_ECHOED,
    sending::NO_RESEND_AFTER_CAP,
    sending::NO_MARKETING_AFTER_OPT_OUT,
    sending::NO_TEXT_OUTSIDE_WINDOW,
    sending::BACKOFF_AFTER_RATE_LIMIT,
    sending::NO_AUTH_HOT_LOOP,
    sending::ONLY_CURRENT_KEY,
    templates::HELD_NOT_RESENT,
    templates::PAUSED_NOT_SENT,
    templates::STOP_ON_PAUSE_WEBHOOK,
    templates::NO_REFLEX_UNPAUSE,
    security::NO_TEMPLATES_WHILE_DISABLED,
    security::OLD_CHANNEL_KEY_DROPPED,
    security::CAMPAIGN_EXACTLY_ONCE,
    security::COMPROMISE_HALT,
    security::COMPROMISE_NEW_KEY,
    security::COMPROMISE_PIN_RESET,
    security::COMPROMISE_RESUME,
    security::NO_REGISTER_LOOP,
    driver::DRIVER_SENDS_CARRIED_OUT,
    messages::INBOUND_MARKED_READ,
    messages::NO_RESEND_OF_FAILED_MEDIA,
    messages::EXPIRED_MEDIA_URL_REFETCHED,
];

/// The check called `id`.
pub fn find(id: &str) -> Option<&'static Check> {
    CATALOG.iter().find(|check| check.id == id)
}

impl Check {
    /// Judges `evidence` and dresses the result for a report.
    pub fn run(&self, evidence: &Evidence<'_>) -> CheckResult {
        let (status, message, proof) = match (self.judge)(evidence) {
            Judgement::Pass(message) => (CheckStatus::Pass, message, Vec::new()),
            Judgement::NotApplicable(message) => (CheckStatus::NotApplicable, message, Vec::new()),
            Judgement::Fail { message, proof } => (CheckStatus::Fail, message, proof),
        };
        let proof = proof
            .iter()
            .take(PROOF_MAX)
            .filter_map(|seq| evidence.record(*seq))
            .map(|record| ProofRecord {
                seq: record.seq,
                at_ms: record.at_ms,
                kind: describe::kind(&record.event),
                summary: describe::summarize(&record.event),
            })
            .collect();
        CheckResult {
            id: self.id.to_owned(),
            severity: self.severity,
            rule: self.rule.to_owned(),
            reference: self.reference.to_owned(),
            status,
            message,
            proof,
        }
    }
}

/// The catalog as text, for `wasim checks`.
pub fn catalog_text() -> String {
    let mut out = String::new();
    for check in CATALOG {
        let severity = match check.severity {
            Severity::Must => "must",
            Severity::Should => "should",
        };
        out.push_str(&format!(
            "{}  [{severity}]  {}\n    {}\n    source: {}\n\n",
            check.id, check.rule, check.rationale, check.reference
        ));
    }
    out
}

/// Groups items by key, keeping each group's order (a small helper for judges).
pub(crate) fn group<K: Ord, V>(items: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, Vec<V>> {
    let mut groups: BTreeMap<K, Vec<V>> = BTreeMap::new();
    for (key, value) in items {
        groups.entry(key).or_default().push(value);
    }
    groups
}

/// Judges `check` over events numbered in order, each with its virtual time (tests).
#[cfg(test)]
pub(crate) fn judge_events(check: &Check, events: Vec<(u64, TraceEvent)>) -> Judgement {
    let records: Vec<TraceRecord> = events
        .into_iter()
        .enumerate()
        .map(|(seq, (at_ms, event))| TraceRecord::new(seq as u64, at_ms, event))
        .collect();
    (check.judge)(&Evidence { records: &records })
}

/// What the checks' tests ask of a judgement over a few events.
#[cfg(test)]
pub(crate) mod verdict {
    use super::{Check, Judgement, judge_events};
    use wasim_sim::TraceEvent;

    /// The judgement of `check` over `events` (`(at_ms, event)`, numbered from 0).
    pub(crate) fn judge(check: &Check, events: Vec<(u64, TraceEvent)>) -> Judgement {
        judge_events(check, events)
    }

    /// Whether `check` passes.
    pub(crate) fn passes(check: &Check, events: Vec<(u64, TraceEvent)>) -> bool {
        matches!(judge(check, events), Judgement::Pass(_))
    }

    /// Whether `check` does not apply.
    pub(crate) fn not_applicable(check: &Check, events: Vec<(u64, TraceEvent)>) -> bool {
        matches!(judge(check, events), Judgement::NotApplicable(_))
    }

    /// The records that prove `check` failed, if it did.
    pub(crate) fn proof(check: &Check, events: Vec<(u64, TraceEvent)>) -> Option<Vec<u64>> {
        match judge(check, events) {
            Judgement::Fail { proof, .. } => Some(proof),
            _ => None,
        }
    }

    /// A Graph send to `to` (of `template`, if any) from phone number `1`, refused
    /// with `code` and the platform's title for it.
    pub(crate) fn rejected(to: &str, template: Option<&str>, code: u32) -> TraceEvent {
        TraceEvent::MessageRejected {
            surface: "graph",
            phone_number_id: Some("1".to_owned()),
            to: Some(to.to_owned()),
            template: template.map(str::to_owned),
            code,
            title: wasim_sim::model::error::title_of(code).to_owned(),
        }
    }

    /// The first attempt of the original copy of delivery `delivery_id` to
    /// `destination` (`meta`, `partner`), posted after record `after_seq` to
    /// `url` and answered 200: an acknowledgement.
    pub(crate) fn acknowledged(
        delivery_id: u64,
        destination: &'static str,
        after_seq: u64,
        url: &str,
    ) -> TraceEvent {
        TraceEvent::WebhookAttempt {
            delivery_id,
            attempt: 1,
            copy: "original",
            destination,
            after_seq,
            url: url.to_owned(),
            http_status: Some(200),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len(), "duplicate check ids");
        for check in CATALOG {
            let (area, number) = check.id.split_once('-').expect("AREA-NNN");
            assert!(area.chars().all(|c| c.is_ascii_uppercase()), "{}", check.id);
            assert_eq!(number.len(), 3, "{}", check.id);
            for source in check.reference.split("; ") {
                let url = source.starts_with("https://")
                    && !source.contains(char::is_whitespace)
                    && source.len() > "https://".len();
                assert!(
                    url || source == NEWSLETTER,
                    "{} cites `{source}`: a public page's https:// address or `{NEWSLETTER}`",
                    check.id
                );
            }
            assert!(!check.rule.contains('\n'), "{}: one-line rule", check.id);
        }
    }

    #[test]
    fn the_catalog_text_lists_every_check() {
        let text = catalog_text();
        for check in CATALOG {
            assert!(text.contains(check.id) && text.contains(check.rule));
        }
    }
}
