//! Checks on what a receiver does with webhooks (source: Meta's webhook set-up and reference pages, cited per check).

use std::collections::{BTreeMap, BTreeSet};

use wasim_reports::Severity;
use wasim_sim::TraceEvent;

use super::{Check, Evidence, Judgement, group};

/// Longest a receiver may take to acknowledge a webhook, in wall milliseconds.
/// Meta asks for a median of 250 ms and under 1% above 1 s (https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput); one second for
/// every post is the lenient reading.
pub const ACK_BUDGET_MS: u64 = 1_000;

fn is_2xx(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

/// WH-001.
pub const ACK_FAST: Check = Check {
    id: "WH-001",
    severity: Severity::Must,
    rule: "Acknowledge every genuine webhook with a 2xx within 1000 ms",
    reference: "https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput",
    rationale: "Anything but a prompt 2xx counts as a failure: the platform retries, \
                delays later webhooks and may stop delivering. Do the work after answering.",
    judge: ack_fast,
};

fn ack_fast(evidence: &Evidence<'_>) -> Judgement {
    let mut judged = 0usize;
    let mut late = Vec::new();
    for (record, event) in evidence.events() {
        if let TraceEvent::WebhookAttempt {
            copy, http_status, ..
        } = event
            && *copy != "forged"
        {
            judged += 1;
            // The latency is wall time, kept beside the record (not in the trace).
            if !is_2xx(*http_status) || record.latency_ms.unwrap_or(0) > ACK_BUDGET_MS {
                late.push(record.seq);
            }
        }
    }
    match (judged, late.len()) {
        (0, _) => Judgement::NotApplicable("no webhook was posted".to_owned()),
        (n, 0) => Judgement::Pass(format!("{n} webhook attempt(s) acknowledged in time")),
        (n, bad) => Judgement::Fail {
            message: format!(
                "{bad} of {n} webhook attempt(s) not answered 2xx within {ACK_BUDGET_MS} ms"
            ),
            proof: late,
        },
    }
}

/// WH-002.
pub const FORGED_REFUSED: Check = Check {
    id: "WH-002",
    severity: Severity::Must,
    rule: "Refuse a webhook whose signature is wrong, and act on nothing in it",
    reference: "https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks",
    rationale: "Anyone can post to a public callback URL. Verify X-Hub-Signature-256 \
                (HMAC-SHA256 of the raw body with the app secret) before trusting a byte.",
    judge: forged_refused,
};

fn forged_refused(evidence: &Evidence<'_>) -> Judgement {
    let forged: Vec<(u64, Option<u16>)> = evidence
        .events()
        .filter_map(|(record, event)| match event {
            TraceEvent::WebhookAttempt {
                copy, http_status, ..
            } if *copy == "forged" => Some((record.seq, *http_status)),
            _ => None,
        })
        .collect();
    if forged.is_empty() {
        return Judgement::NotApplicable("no forged webhook was posted".to_owned());
    }
    let accepted: Vec<u64> = forged
        .iter()
        .filter(|(_, status)| is_2xx(*status))
        .map(|(seq, _)| *seq)
        .collect();
    if accepted.is_empty() {
        Judgement::Pass(format!("{} forged post(s) refused", forged.len()))
    } else {
        Judgement::Fail {
            message: format!(
                "{} of {} forged post(s) acknowledged with 2xx",
                accepted.len(),
                forged.len()
            ),
            proof: accepted,
        }
    }
}

/// WH-003.
pub const DUPLICATES_HARMLESS: Check = Check {
    id: "WH-003",
    severity: Severity::Must,
    rule: "A webhook delivered twice causes no second side effect",
    reference: "https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks",
    rationale: "The platform retries and may deliver the same change more than once; \
                de-duplicate by message id so a user never gets two replies to one message.",
    judge: duplicates_harmless,
};

/// The driver actions that ask for one free-form message.
const FREE_FORM_ACTIONS: &[&str] = &["send_text", "send_media", "send_buttons"];

fn duplicates_harmless(evidence: &Evidence<'_>) -> Judgement {
    // Deliveries posted more than once: duplicated copies and retries.
    let mut posts: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, event) in evidence.events() {
        if let TraceEvent::WebhookAttempt {
            delivery_id, copy, ..
        } = event
            && *copy != "forged"
        {
            *posts.entry(*delivery_id).or_default() += 1;
        }
    }
    // Users whose inbound messages were among them.
    let mut repeated_senders = BTreeSet::new();
    for (_, event) in evidence.events() {
        if let TraceEvent::WebhookEmitted {
            delivery_id, body, ..
        } = event
            && posts.get(delivery_id).is_some_and(|n| *n > 1)
        {
            let body = body.to_value();
            for entry in body["entry"].as_array().into_iter().flatten() {
                for change in entry["changes"].as_array().into_iter().flatten() {
                    for message in change["value"]["messages"].as_array().into_iter().flatten() {
                        if let Some(from) = message["from"].as_str() {
                            repeated_senders.insert(from.to_owned());
                        }
                    }
                }
            }
        }
    }
    if repeated_senders.is_empty() {
        return Judgement::NotApplicable("no inbound message was delivered twice".to_owned());
    }
    let inbound = group(evidence.events().filter_map(|(_, event)| match event {
        TraceEvent::Inbound { from, .. } if repeated_senders.contains(from) => {
            Some((from.clone(), ()))
        }
        _ => None,
    }));
    // Free-form messages the driver asked for are not replies.
    let asked = group(evidence.events().filter_map(|(_, event)| match event {
        TraceEvent::DriverAction { action, body }
            if FREE_FORM_ACTIONS.contains(&action.as_str()) =>
        {
            body["to"].as_str().map(|to| (to.to_owned(), ()))
        }
        _ => None,
    }));
    let replies = group(evidence.events().filter_map(|(record, event)| match event {
        TraceEvent::MessageAccepted {
            to, message_type, ..
        } if repeated_senders.contains(to) && *message_type != "template" => {
            Some((to.clone(), record.seq))
        }
        _ => None,
    }));
    let mut proof = Vec::new();
    let mut extra = Vec::new();
    for (user, sent) in &replies {
        let messages = inbound.get(user).map_or(0, Vec::len);
        let asks = asked.get(user).map_or(0, Vec::len);
        if sent.len() > messages + asks {
            let asked = if asks > 0 {
                format!(" and {asks} driver send(s)")
            } else {
                String::new()
            };
            extra.push(format!(
                "{user}: {} replies to {messages} message(s){asked}",
                sent.len()
            ));
            proof.extend(sent.iter().skip(messages + asks));
        }
    }
    // A user is named as extra exactly when their surplus replies are in the proof.
    Judgement::unless_proven(
        format!(
            "{} user(s) got repeated deliveries and no more replies than messages",
            repeated_senders.len()
        ),
        format!(
            "duplicate deliveries caused extra replies ({})",
            extra.join("; ")
        ),
        proof,
    )
}

/// WH-004.
pub const NO_STATUS_REGRESSION: Check = Check {
    id: "WH-004",
    severity: Severity::Must,
    rule: "A status arriving late never lowers a message's state (read stays read)",
    reference: "https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/status",
    rationale: "Statuses can arrive out of order; a `sent` after a `read` must not \
                make the message look unread. Keep the highest status.",
    judge: no_status_regression,
};

/// A status's rank: `failed` is terminal, like `read`.
pub fn status_rank(status: &str) -> u8 {
    match status {
        "sent" => 1,
        "delivered" => 2,
        "read" | "failed" => 3,
        _ => 0,
    }
}

fn no_status_regression(evidence: &Evidence<'_>) -> Judgement {
    let reordered = evidence.events().any(|(_, event)| {
        matches!(event, TraceEvent::WebhookFault { fault, .. } if fault == "reordered")
    });
    if !reordered {
        return Judgement::NotApplicable("no status webhook was reordered".to_owned());
    }
    let mut highest: BTreeMap<&str, (u8, u64)> = BTreeMap::new();
    for (record, event) in evidence.events() {
        if let TraceEvent::Status {
            message_id, status, ..
        } = event
        {
            let rank = status_rank(status);
            let entry = highest
                .entry(message_id.as_str())
                .or_insert((rank, record.seq));
            if rank > entry.0 {
                *entry = (rank, record.seq);
            }
        }
    }
    let mut judged = 0usize;
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        if let TraceEvent::IntegrationState {
            message_id,
            status: Some(reported),
            ..
        } = event
            && let Some((rank, seq)) = highest.get(message_id.as_str())
        {
            judged += 1;
            if status_rank(reported) < *rank {
                proof.push(*seq);
                proof.push(record.seq);
            }
        }
    }
    if judged == 0 {
        return Judgement::NotApplicable(
            "the integration reported no message state (GET /wasim/messages/{id})".to_owned(),
        );
    }
    Judgement::unless_proven(
        format!("{judged} message state(s) match the highest status"),
        format!(
            "{} message(s) reported below their highest status",
            proof.len() / 2
        ),
        proof,
    )
}

/// WH-005.
pub const HANDSHAKE_ECHOED: Check = Check {
    id: "WH-005",
    severity: Severity::Must,
    rule: "Answer the verification GET with 200 and exactly hub.challenge when the verify token matches",
    reference: "https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks",
    rationale: "Meta verifies the callback whenever it is set or edited; a receiver \
                that does not echo the challenge never gets subscribed.",
    judge: handshake_echoed,
};

fn handshake_echoed(evidence: &Evidence<'_>) -> Judgement {
    let handshakes: Vec<(u64, bool)> = evidence
        .events()
        .filter_map(|(record, event)| match event {
            TraceEvent::WebhookVerification { echoed, .. } => Some((record.seq, *echoed)),
            _ => None,
        })
        .collect();
    let failed: Vec<u64> = handshakes
        .iter()
        .filter(|(_, echoed)| !echoed)
        .map(|(seq, _)| *seq)
        .collect();
    match (handshakes.len(), failed.len()) {
        (0, _) => Judgement::NotApplicable("no verification handshake was made".to_owned()),
        (n, 0) => Judgement::Pass(format!("{n} handshake(s) echoed")),
        (n, bad) => Judgement::Fail {
            message: format!("{bad} of {n} handshake(s) not echoed"),
            proof: failed,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wasim_sim::TraceRecord;

    use super::*;

    fn attempt(delivery_id: u64, copy: &'static str, http_status: Option<u16>) -> TraceEvent {
        TraceEvent::WebhookAttempt {
            delivery_id,
            attempt: 1,
            copy,
            destination: "meta",
            after_seq: 0,
            url: "http://127.0.0.1:1/webhook".to_owned(),
            http_status,
            error: None,
        }
    }

    /// WH-001 over attempts that took `latency_ms` each.
    fn ack_judgement(attempts: Vec<(TraceEvent, u64)>) -> Judgement {
        let records: Vec<TraceRecord> = attempts
            .into_iter()
            .enumerate()
            .map(|(seq, (event, latency_ms))| {
                let mut record = TraceRecord::new(seq as u64, 0, event);
                record.latency_ms = Some(latency_ms);
                record
            })
            .collect();
        (ACK_FAST.judge)(&Evidence { records: &records })
    }

    use crate::checks::verdict::*;

    #[test]
    fn slow_or_failed_acknowledgements_fail_and_forgeries_do_not_count() {
        assert!(not_applicable(&ACK_FAST, vec![]));
        let fine = vec![
            (attempt(1, "original", Some(200)), 5),
            (attempt(1, "forged", Some(401)), 5000),
        ];
        assert!(matches!(ack_judgement(fine), Judgement::Pass(_)));
        let slow = vec![
            (attempt(1, "original", Some(200)), 1500),
            (attempt(2, "original", Some(500)), 1),
        ];
        assert_eq!(
            ack_judgement(slow),
            Judgement::Fail {
                message: "2 of 2 webhook attempt(s) not answered 2xx within 1000 ms".to_owned(),
                proof: vec![0, 1]
            }
        );
    }

    #[test]
    fn an_acknowledged_forgery_fails() {
        let refused = vec![(0, attempt(1, "forged", Some(401)))];
        assert!(passes(&FORGED_REFUSED, refused));
        let accepted = vec![(0, attempt(1, "forged", Some(200)))];
        assert!(proof(&FORGED_REFUSED, accepted) == Some(vec![0]));
    }

    fn inbound_emitted(delivery_id: u64, from: &str) -> TraceEvent {
        TraceEvent::WebhookEmitted {
            delivery_id,
            field: "messages".into(),
            route: "number:1".to_owned(),
            changes: 1,
            body: wasim_sim::model::WebhookBody::from(
                json!({"entry": [{"changes": [{"value": {"messages": [{"from": from, "id": "wamid.in"}]}}]}]}),
            ),
        }
    }

    fn reply(to: &str) -> TraceEvent {
        TraceEvent::MessageAccepted {
            message_id: "wamid.out".to_owned(),
            surface: "graph",
            phone_number_id: "1".to_owned(),
            to: to.to_owned(),
            message_type: "text",
            reply_to: None,
            media: None,
            template: None,
            category: "SERVICE",
            message_status: None,
        }
    }

    fn inbound(from: &str) -> TraceEvent {
        TraceEvent::Inbound {
            message_id: "wamid.in".to_owned(),
            from: from.to_owned(),
            phone_number_id: "1".to_owned(),
            message_type: "text".to_owned(),
            context: None,
            text_chars: 2,
        }
    }

    #[test]
    fn a_second_reply_to_a_duplicated_message_fails() {
        let base = vec![
            (0, inbound("55")),
            (0, inbound_emitted(1, "55")),
            (0, attempt(1, "original", Some(200))),
            (0, attempt(1, "duplicate", Some(200))),
            (0, reply("55")),
        ];
        assert!(passes(&DUPLICATES_HARMLESS, base.clone()));
        let mut twice = base;
        twice.push((0, reply("55")));
        assert!(proof(&DUPLICATES_HARMLESS, twice) == Some(vec![5]));
        let single = vec![
            (0, inbound("55")),
            (0, inbound_emitted(1, "55")),
            (0, attempt(1, "original", Some(200))),
        ];
        assert!(not_applicable(&DUPLICATES_HARMLESS, single));
    }

    #[test]
    fn a_free_form_send_the_driver_asked_for_is_not_a_second_reply() {
        let ask = TraceEvent::DriverAction {
            action: "send_media".to_owned(),
            body: json!({"action": "send_media", "to": "55"}),
        };
        let mut asked = vec![
            (0, inbound("55")),
            (0, inbound_emitted(1, "55")),
            (0, attempt(1, "original", Some(200))),
            (0, attempt(1, "duplicate", Some(200))),
            (0, reply("55")),
            (0, ask),
            (0, reply("55")),
        ];
        assert!(passes(&DUPLICATES_HARMLESS, asked.clone()));
        asked.push((0, reply("55")));
        assert_eq!(proof(&DUPLICATES_HARMLESS, asked), Some(vec![7]));
    }

    #[test]
    fn a_reported_state_below_the_highest_status_fails() {
        let status = |s: &'static str| TraceEvent::Status {
            message_id: "wamid.1".to_owned(),
            to: "55".to_owned(),
            status: s,
            error_code: None,
        };
        let reordered = TraceEvent::WebhookFault {
            delivery_id: 1,
            fault: "reordered".to_owned(),
            detail: String::new(),
        };
        let state = |s: &str| TraceEvent::IntegrationState {
            message_id: "wamid.1".to_owned(),
            status: Some(s.to_owned()),
            http_status: Some(200),
        };
        let base = vec![(0, status("sent")), (0, status("read")), (0, reordered)];
        let mut good = base.clone();
        good.push((0, state("read")));
        assert!(passes(&NO_STATUS_REGRESSION, good));
        let mut bad = base.clone();
        bad.push((0, state("sent")));
        assert!(proof(&NO_STATUS_REGRESSION, bad) == Some(vec![1, 3]));
        assert!(not_applicable(&NO_STATUS_REGRESSION, base));
    }

    #[test]
    fn a_handshake_without_the_echo_fails() {
        let handshake = |echoed| TraceEvent::WebhookVerification {
            verification_id: 1,
            url: "u".to_owned(),
            verify_token: "fp".to_owned(),
            http_status: Some(200),
            echoed,
            error: None,
        };
        assert!(passes(&HANDSHAKE_ECHOED, vec![(0, handshake(true))]));
        assert!(proof(&HANDSHAKE_ECHOED, vec![(0, handshake(false))]).is_some());
    }
}
