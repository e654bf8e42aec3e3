//! Checks on what a sender must not do (sources: Meta's per-user limit, error code and throughput pages, cited per check).

use wasim_reports::Severity;
use wasim_sim::TraceEvent;

use super::{Check, Evidence, Judgement, group};

/// Hours after a 131049 in which marketing to that user is a naive retry.
pub const CAP_QUIET_HOURS: u64 = 24;

/// Most sends to one user at one virtual instant once a rate limit refused one.
pub const RATE_SENDS_MAX: usize = 5;

/// Most requests with one refused credential at one virtual instant.
pub const AUTH_REQUESTS_MAX: usize = 3;

/// CAP-001.
pub const NO_RESEND_AFTER_CAP: Check = Check {
    id: "CAP-001",
    severity: Severity::Must,
    rule: "No marketing template to a user within 24 h after a 131049 for that user",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/per-user-limits",
    rationale: "131049 means the user already got enough marketing from all businesses; \
                Meta says repeated retries can block the user for up to 24 hours. Wait.",
    judge: no_resend_after_cap,
};

fn no_resend_after_cap(evidence: &Evidence<'_>) -> Judgement {
    let capped: Vec<(u64, u64, &str)> = evidence
        .events()
        .filter_map(|(record, event)| match event {
            TraceEvent::Status {
                to,
                error_code: Some(131_049),
                ..
            } => Some((record.seq, record.at_ms, to.as_str())),
            _ => None,
        })
        .collect();
    if capped.is_empty() {
        return Judgement::NotApplicable("no message failed with 131049".to_owned());
    }
    let quiet_ms = CAP_QUIET_HOURS * 3_600_000;
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        if let TraceEvent::MessageAccepted { to, category, .. } = event
            && *category == "MARKETING"
            && let Some((seq, ..)) = capped.iter().find(|(seq, at, user)| {
                *user == to && record.seq > *seq && record.at_ms < at + quiet_ms
            })
        {
            proof.push(*seq);
            proof.push(record.seq);
        }
    }
    Judgement::unless_proven(
        format!("{} capped user(s) left alone for 24 h", capped.len()),
        "marketing sent again to a user within 24 h of their 131049",
        proof,
    )
}

/// CAP-002.
pub const NO_MARKETING_AFTER_OPT_OUT: Check = Check {
    id: "CAP-002",
    severity: Severity::Must,
    rule: "No marketing template to a user after a 131050 (they stopped marketing)",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes",
    rationale: "131050 means the user chose to stop marketing from this business; \
                keep sending and the business's quality and limits suffer.",
    judge: no_marketing_after_opt_out,
};

fn no_marketing_after_opt_out(evidence: &Evidence<'_>) -> Judgement {
    let stopped: Vec<(u64, &str)> = evidence
        .events()
        .filter_map(|(record, event)| match event {
            TraceEvent::Status {
                to,
                error_code: Some(131_050),
                ..
            } => Some((record.seq, to.as_str())),
            TraceEvent::MessageRejected {
                to: Some(to),
                code: 131_050,
                ..
            } => Some((record.seq, to.as_str())),
            _ => None,
        })
        .collect();
    if stopped.is_empty() {
        return Judgement::NotApplicable("no message failed with 131050".to_owned());
    }
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        if let TraceEvent::MessageAccepted { to, category, .. } = event
            && *category == "MARKETING"
            && let Some((seq, _)) = stopped
                .iter()
                .find(|(seq, user)| *user == to && record.seq > *seq)
        {
            proof.push(*seq);
            proof.push(record.seq);
        }
    }
    Judgement::unless_proven(
        format!("{} opted-out user(s) left alone", stopped.len()),
        "marketing sent again to a user who stopped marketing",
        proof,
    )
}

/// WIN-001.
pub const NO_TEXT_OUTSIDE_WINDOW: Check = Check {
    id: "WIN-001",
    severity: Severity::Must,
    rule: "No free-form message outside the 24 h customer service window (131047)",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes",
    rationale: "Outside the window only templates may be sent; a free-form message \
                fails with 131047 (re-engagement) and never reaches the user.",
    judge: no_text_outside_window,
};

fn no_text_outside_window(evidence: &Evidence<'_>) -> Judgement {
    let mut free_form = 0usize;
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::MessageAccepted { message_type, .. } if *message_type != "template" => {
                free_form += 1;
            }
            TraceEvent::MessageRejected { code: 131_047, .. }
            | TraceEvent::Status {
                error_code: Some(131_047),
                ..
            } => proof.push(record.seq),
            _ => {}
        }
    }
    if !proof.is_empty() {
        return Judgement::Fail {
            message: format!(
                "{} free-form message(s) outside the window (131047)",
                proof.len()
            ),
            proof,
        };
    }
    if free_form == 0 {
        return Judgement::NotApplicable("no free-form message was sent".to_owned());
    }
    Judgement::Pass(format!(
        "{free_form} free-form message(s), all inside a window"
    ))
}

/// RATE-001.
pub const BACKOFF_AFTER_RATE_LIMIT: Check = Check {
    id: "RATE-001",
    severity: Severity::Must,
    rule: "Back off after 130429 or 131056: at most 5 sends to that user in the same instant",
    reference: "https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput; https://developers.facebook.com/docs/whatsapp/overview#rate-limits",
    rationale: "Throughput (130429) and pair-rate (131056) errors ask the sender to slow \
                down; retrying in a tight loop only burns the limit and the API quota.",
    judge: backoff_after_rate_limit,
};

fn backoff_after_rate_limit(evidence: &Evidence<'_>) -> Judgement {
    let rejected = group(evidence.events().filter_map(|(record, event)| match event {
        TraceEvent::MessageRejected {
            phone_number_id,
            to: Some(to),
            code: 130_429 | 131_056,
            ..
        } => Some((
            (phone_number_id.clone(), to.clone(), record.at_ms),
            record.seq,
        )),
        _ => None,
    }));
    if rejected.is_empty() {
        return Judgement::NotApplicable("no send was refused for a rate limit".to_owned());
    }
    let mut proof = Vec::new();
    let mut loops = Vec::new();
    for ((_, to, _), seqs) in &rejected {
        if seqs.len() > RATE_SENDS_MAX {
            loops.push(format!("{} to {to}", seqs.len()));
            proof.extend(seqs.iter().take(3));
            proof.extend(seqs.last());
        }
    }
    // A loop is named exactly when its sends are in the proof.
    Judgement::unless_proven(
        format!("{} rate-limited user(s), no hot loop", rejected.len()),
        format!(
            "sends refused for a rate limit repeated at once: {}",
            loops.join(", ")
        ),
        proof,
    )
}

/// AUTH-001.
pub const NO_AUTH_HOT_LOOP: Check = Check {
    id: "AUTH-001",
    severity: Severity::Must,
    rule: "Stop on an authentication failure: at most 3 requests with a refused credential in the same instant",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes; https://docs.360dialog.com/docs/support/api-error-message-list",
    rationale: "A refused token or key will not start working by retrying; a hot loop \
                floods the API and hides the real incident (a reset or revoked key).",
    judge: no_auth_hot_loop,
};

fn no_auth_hot_loop(evidence: &Evidence<'_>) -> Judgement {
    let refused = group(evidence.events().filter_map(|(record, event)| match event {
        TraceEvent::Request {
            http_status: 401,
            credential,
            ..
        } => Some(((credential.clone(), record.at_ms), record.seq)),
        _ => None,
    }));
    if refused.is_empty() {
        return Judgement::NotApplicable("no request was refused for its credential".to_owned());
    }
    let mut proof = Vec::new();
    let mut loops = 0usize;
    for seqs in refused.values() {
        if seqs.len() > AUTH_REQUESTS_MAX {
            loops += seqs.len();
            proof.extend(seqs.iter().take(3));
            proof.extend(seqs.last());
        }
    }
    Judgement::unless_proven(
        "refused credentials were not retried in a loop",
        format!("{loops} requests repeated a refused credential at once"),
        proof,
    )
}

/// KEY-001.
pub const ONLY_CURRENT_KEY: Check = Check {
    id: "KEY-001",
    severity: Severity::Must,
    rule: "Once given a new access token, never use a replaced one again",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes; 360dialog partner newsletter, 9 May 2024",
    rationale: "After a compromise the key or token is reset and only the newest one works; \
                a process still holding the old one keeps failing and hides the incident.",
    judge: only_current_key,
};

fn only_current_key(evidence: &Evidence<'_>) -> Judgement {
    let mut replaced: Vec<&str> = Vec::new();
    // Tokens replaced before the latest handover: the integration knows better.
    let mut stale: Vec<&str> = Vec::new();
    let mut handed_over: Option<u64> = None;
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::AccessTokenRotated { old, .. } => replaced.push(old),
            TraceEvent::CredentialHandedOver { .. } => {
                handed_over.get_or_insert(record.seq);
                stale.clone_from(&replaced);
            }
            TraceEvent::Request {
                credential: Some(credential),
                ..
            } if stale.contains(&credential.as_str()) => {
                proof.push(record.seq);
            }
            _ => {}
        }
    }
    let Some(handed_over) = handed_over else {
        return Judgement::NotApplicable("the integration was not given a new token".to_owned());
    };
    if proof.is_empty() {
        Judgement::Pass("only the current token was used after each handover".to_owned())
    } else {
        let count = proof.len();
        proof.insert(0, handed_over);
        Judgement::Fail {
            message: format!(
                "{count} request(s) used a replaced token after the new one was given"
            ),
            proof,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::checks::verdict::*;

    fn failed(to: &str, code: u32) -> TraceEvent {
        TraceEvent::Status {
            message_id: "wamid.1".to_owned(),
            to: to.to_owned(),
            status: "failed",
            error_code: Some(code),
        }
    }

    fn accepted(to: &str, category: &'static str, message_type: &'static str) -> TraceEvent {
        TraceEvent::MessageAccepted {
            message_id: "wamid.2".to_owned(),
            surface: "graph",
            phone_number_id: "1".to_owned(),
            to: to.to_owned(),
            message_type,
            reply_to: None,
            media: None,
            template: Some("spring_sale".to_owned()),
            category,
            message_status: None,
        }
    }

    const HOUR: u64 = 3_600_000;

    #[test]
    fn marketing_within_24_hours_of_a_131049_fails_and_after_passes() {
        let resend = vec![
            (0, failed("91", 131_049)),
            (HOUR, accepted("91", "MARKETING", "template")),
        ];
        assert!(proof(&NO_RESEND_AFTER_CAP, resend) == Some(vec![0, 1]));
        let later = vec![
            (0, failed("91", 131_049)),
            (25 * HOUR, accepted("91", "MARKETING", "template")),
        ];
        assert!(passes(&NO_RESEND_AFTER_CAP, later));
        let utility = vec![
            (0, failed("91", 131_049)),
            (HOUR, accepted("91", "UTILITY", "template")),
        ];
        assert!(passes(&NO_RESEND_AFTER_CAP, utility));
        let other = vec![
            (0, failed("91", 131_049)),
            (HOUR, accepted("55", "MARKETING", "template")),
        ];
        assert!(passes(&NO_RESEND_AFTER_CAP, other));
        assert!(not_applicable(&NO_RESEND_AFTER_CAP, vec![]));
    }

    #[test]
    fn marketing_after_a_131050_fails_at_any_time() {
        let resend = vec![
            (0, failed("91", 131_050)),
            (100 * HOUR, accepted("91", "MARKETING", "template")),
        ];
        assert!(proof(&NO_MARKETING_AFTER_OPT_OUT, resend).is_some());
        let before = vec![
            (0, accepted("91", "MARKETING", "template")),
            (HOUR, failed("91", 131_050)),
        ];
        assert!(passes(&NO_MARKETING_AFTER_OPT_OUT, before));
    }

    #[test]
    fn any_131047_fails_the_window_rule() {
        let inside = vec![(0, accepted("91", "SERVICE", "text"))];
        assert!(passes(&NO_TEXT_OUTSIDE_WINDOW, inside));
        let outside = vec![
            (0, accepted("91", "SERVICE", "text")),
            (0, failed("91", 131_047)),
        ];
        assert!(proof(&NO_TEXT_OUTSIDE_WINDOW, outside) == Some(vec![1]));
        let sync = vec![(0, rejected("91", None, 131_047))];
        assert!(proof(&NO_TEXT_OUTSIDE_WINDOW, sync).is_some());
    }

    #[test]
    fn more_than_five_rate_limited_sends_at_one_instant_is_a_hot_loop() {
        let at_once = |count: usize| -> Vec<(u64, TraceEvent)> {
            (0..count)
                .map(|_| (0, rejected("91", None, 131_056)))
                .collect()
        };
        // Five at one instant is the most allowed; the sixth makes a hot loop.
        assert!(passes(&BACKOFF_AFTER_RATE_LIMIT, at_once(RATE_SENDS_MAX)));
        assert!(
            proof(&BACKOFF_AFTER_RATE_LIMIT, at_once(RATE_SENDS_MAX + 1)) == Some(vec![0, 1, 2, 5])
        );
        assert_eq!(RATE_SENDS_MAX, 5, "the rule's number");
        let spread: Vec<(u64, TraceEvent)> = (0..10)
            .map(|i| (i * 1000, rejected("91", None, 130_429)))
            .collect();
        assert!(passes(&BACKOFF_AFTER_RATE_LIMIT, spread));
        let hot: Vec<(u64, TraceEvent)> = (0..20)
            .map(|_| (0, rejected("91", None, 130_429)))
            .collect();
        assert!(proof(&BACKOFF_AFTER_RATE_LIMIT, hot) == Some(vec![0, 1, 2, 19]));
    }

    #[test]
    fn a_replaced_token_used_after_the_handover_fails() {
        let request = |credential: &str| TraceEvent::Request {
            surface: "graph",
            method: "POST".to_owned(),
            path: "/v23.0/1/messages".to_owned(),
            credential: Some(credential.to_owned()),
            http_status: 200,
            error_code: None,
        };
        let rotated = TraceEvent::AccessTokenRotated {
            old: "fp_old".to_owned(),
            new: "fp_new".to_owned(),
        };
        let handover = TraceEvent::CredentialHandedOver {
            credential: "fp_new".to_owned(),
        };
        let good = vec![
            (0, rotated.clone()),
            (0, request("fp_old")),
            (0, handover.clone()),
            (0, request("fp_new")),
        ];
        assert!(passes(&ONLY_CURRENT_KEY, good));
        let stale = vec![
            (0, rotated.clone()),
            (0, handover.clone()),
            (0, request("fp_old")),
        ];
        assert!(proof(&ONLY_CURRENT_KEY, stale) == Some(vec![1, 2]));
        // A second reset the integration has not been told of yet: using the token
        // it was last given is not stale (found by `wasim explore`).
        let second_reset = vec![
            (0, rotated.clone()),
            (0, handover.clone()),
            (0, request("fp_new")),
            (
                0,
                TraceEvent::AccessTokenRotated {
                    old: "fp_new".to_owned(),
                    new: "fp_newer".to_owned(),
                },
            ),
            (0, request("fp_new")),
        ];
        assert!(passes(&ONLY_CURRENT_KEY, second_reset));
        assert!(not_applicable(&ONLY_CURRENT_KEY, vec![(0, rotated)]));
    }

    #[test]
    fn repeating_a_refused_credential_at_once_is_a_hot_loop() {
        let request = || TraceEvent::Request {
            surface: "graph",
            method: "POST".to_owned(),
            path: "/v23.0/1/messages".to_owned(),
            credential: Some("fp_old".to_owned()),
            http_status: 401,
            error_code: Some(190),
        };
        assert!(passes(&NO_AUTH_HOT_LOOP, vec![(0, request())]));
        let hot: Vec<(u64, TraceEvent)> = (0..10).map(|_| (0, request())).collect();
        assert!(proof(&NO_AUTH_HOT_LOOP, hot).is_some());
        assert!(not_applicable(&NO_AUTH_HOT_LOOP, vec![]));
    }
}
