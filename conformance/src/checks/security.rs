//! Keys, account incidents and registration (sources: the 360dialog partner newsletter of 9 May 2024, 360dialog's key and partner webhook pages, Meta's registration pages, cited per check): only
//! the newest channel key is used once one is generated; a disruption (a key
//! rotation, a halt, a template block) loses and repeats no campaign message;
//! nothing is sent as a template while 360dialog has disabled template messaging;
//! a compromise is answered in the newsletter's order (halt, new key, 2FA reset,
//! wait, resume with the new key); a refused registration is not hammered into the
//! 72-hour block.

use std::collections::BTreeMap;

use serde_json::Value;
use wasim_reports::Severity;
use wasim_sim::{TraceEvent, TraceRecord};

use super::{Check, Evidence, Judgement, group};

/// Requests a sender may still make with a channel key after replacing it: sends
/// already in flight when the new key arrived (one per concurrent sender; two
/// allows a worker and a retry).
pub const REVOKED_KEY_GRACE: usize = 2;

/// Register requests per number in one virtual instant before it is a loop (one
/// more for each further time the driver asked to register at that instant).
pub const REGISTER_PER_INSTANT_MAX: usize = 2;

/// KEY-002.
pub const OLD_CHANNEL_KEY_DROPPED: Check = Check {
    id: "KEY-002",
    severity: Severity::Must,
    rule: "Once a new channel key is generated, stop presenting the old one (at most 2 requests already in flight)",
    reference: "https://docs.360dialog.com/docs/api-key; 360dialog partner newsletter, 9 May 2024",
    rationale: "Generating a 360dialog key revokes every earlier key at once; a worker that \
                keeps the old key fails every send and, during a compromise, shows that \
                the leaked key is still wired in.",
    judge: old_channel_key_dropped,
};

/// CAMP-001.
pub const CAMPAIGN_EXACTLY_ONCE: Check = Check {
    id: "CAMP-001",
    severity: Severity::Must,
    rule: "Through a key rotation, halt or template block, every campaign recipient gets the template exactly once",
    reference: "https://docs.360dialog.com/docs/api-key; 360dialog partner newsletter, 9 May 2024",
    rationale: "Disruptions are where sends get dropped (a 401 with a revoked key that is \
                never retried) or doubled (a campaign restarted from the top); both reach \
                real people.",
    judge: campaign_exactly_once,
};

/// TPL-005.
pub const NO_TEMPLATES_WHILE_DISABLED: Check = Check {
    id: "TPL-005",
    severity: Severity::Must,
    rule: "After template_messaging_disabled, send no template until template_messaging_enabled",
    reference: "https://docs.360dialog.com/partner/onboarding/webhook-events-and-setup/webhook-events-partner-and-messaging-api; 360dialog partner newsletter, 9 May 2024",
    rationale: "360dialog disables template messaging for flagged WABAs; sending on regardless \
                only collects refusals and keeps the account on the fraud radar.",
    judge: no_templates_while_disabled,
};

/// SEC-001.
pub const COMPROMISE_HALT: Check = Check {
    id: "SEC-001",
    severity: Severity::Must,
    rule: "On a compromise, halt at once: no send until the account is secured (new key and new PIN)",
    reference: "360dialog partner newsletter, 9 May 2024",
    rationale: "\"Refrain from sending messages from the compromised WABA\": every send while \
                the key is in unknown hands risks a ban of the whole account.",
    judge: compromise_halt,
};

/// SEC-002.
pub const COMPROMISE_NEW_KEY: Check = Check {
    id: "SEC-002",
    severity: Severity::Must,
    rule: "On a compromise, generate a new channel key and never present the compromised one again",
    reference: "360dialog partner newsletter, 9 May 2024; https://docs.360dialog.com/docs/api-key",
    rationale: "\"Reset the API Key immediately to prevent unauthorized messages\": only the \
                newest key works, so a new one locks the unknown origin out.",
    judge: compromise_new_key,
};

/// SEC-003.
pub const COMPROMISE_PIN_RESET: Check = Check {
    id: "SEC-003",
    severity: Severity::Must,
    rule: "On a compromise, reset the two-step verification PIN before messaging resumes",
    reference: "360dialog partner newsletter, 9 May 2024; https://developers.facebook.com/docs/whatsapp/cloud-api/reference/two-step-verification",
    rationale: "\"Reset the 2FA of the WhatsApp Account\": whoever took the key may also hold \
                the PIN and re-register the number elsewhere.",
    judge: compromise_pin_reset,
};

/// SEC-004.
pub const COMPROMISE_RESUME: Check = Check {
    id: "SEC-004",
    severity: Severity::Must,
    rule: "After a compromise, resume only once the resume period has passed since securing, and then do resume",
    reference: "360dialog partner newsletter, 9 May 2024",
    rationale: "\"Resume messaging after a period of time, once the account is secured, with \
                the newly generated API key\": resuming at once defeats the wait, never \
                resuming loses the held messages.",
    judge: compromise_resume,
};

/// REG-001.
pub const NO_REGISTER_LOOP: Check = Check {
    id: "REG-001",
    severity: Severity::Must,
    rule: "Do not retry a refused registration in a loop: at most 2 register requests per instant and never into the 72-hour block (133016)",
    reference: "https://developers.facebook.com/docs/whatsapp/cloud-api/reference/registration; https://docs.360dialog.com/whatsapp-api/whatsapp-api; 360dialog partner newsletter, 9 May 2024",
    rationale: "Register and deregister share a limit of 10 requests per 72 hours; a loop \
                burns it and blocks the number for three days, missing the day a country \
                opens or a migration window.",
    judge: no_register_loop,
};

/// Whether a request is a send: a `/messages` request that is not a read
/// receipt the platform took (its `message_marked_read` record comes just
/// before the request's). A read receipt messages nobody, so it is no send to
/// halt.
fn is_send(path: &str, previous: Option<&TraceEvent>) -> bool {
    path.ends_with("/messages") && !matches!(previous, Some(TraceEvent::MessageMarkedRead { .. }))
}

fn old_channel_key_dropped(evidence: &Evidence<'_>) -> Judgement {
    let replacements: Vec<(u64, &str)> = evidence
        .events()
        .filter_map(|(record, event)| match event {
            TraceEvent::ApiKeyReplaced { old, .. } => Some((record.seq, old.as_str())),
            _ => None,
        })
        .collect();
    if replacements.is_empty() {
        return Judgement::NotApplicable("no channel key was replaced".to_owned());
    }
    let mut proof = Vec::new();
    let mut over = 0usize;
    for (replaced_at, old) in &replacements {
        let uses: Vec<u64> = evidence
            .events()
            .filter(|(record, _)| record.seq > *replaced_at)
            .filter_map(|(record, event)| match event {
                TraceEvent::Request {
                    surface,
                    credential: Some(credential),
                    ..
                } if *surface == "d360" && credential == old => Some(record.seq),
                _ => None,
            })
            .collect();
        if uses.len() > REVOKED_KEY_GRACE {
            over += uses.len();
            proof.push(*replaced_at);
            proof.extend(uses.iter().take(3));
            proof.extend(uses.last());
        }
    }
    Judgement::unless_proven(
        format!(
            "{} key replacement(s); the old key was presented at most {REVOKED_KEY_GRACE} times after each",
            replacements.len()
        ),
        format!(
            "{over} request(s) presented a replaced channel key after the new one was generated"
        ),
        proof,
    )
}

/// The driver actions of the trace: (seq, name, body).
fn actions<'a>(evidence: &Evidence<'a>) -> Vec<(u64, &'a str, &'a Value)> {
    evidence
        .events()
        .filter_map(|(record, event)| match event {
            TraceEvent::DriverAction { action, body } => Some((record.seq, action.as_str(), body)),
            _ => None,
        })
        .collect()
}

fn campaign_exactly_once(evidence: &Evidence<'_>) -> Judgement {
    let disrupted = evidence.events().any(|(_, event)| match event {
        TraceEvent::ApiKeyReplaced { .. } => true,
        TraceEvent::AccountIncident { incident, .. } => {
            incident == "disable_templates" || incident == "compromise"
        }
        _ => false,
    });
    if !disrupted {
        return Judgement::NotApplicable(
            "no key rotation, compromise or template block to get through".to_owned(),
        );
    }
    // Each (recipient, template) must be accepted as many times as actions
    // asked for it: counting, not attributing, because a second request for the
    // same pair may come while the first is still queued.
    let mut asks: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    let mut accepted: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::DriverAction { action, body }
                if action == "send_campaign" || action == "send_template" =>
            {
                let template = body["template"]["name"].as_str().unwrap_or_default();
                let to: Vec<&str> = match &body["to"] {
                    Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                    Value::String(to) => vec![to.as_str()],
                    _ => Vec::new(),
                };
                for to in to {
                    let key = (to.to_owned(), template.to_owned());
                    if !asks.contains_key(&key) {
                        order.push(key.clone());
                    }
                    asks.entry(key).or_default().push(record.seq);
                }
            }
            TraceEvent::MessageAccepted {
                to,
                template: Some(template),
                ..
            } => {
                let key = (to.clone(), template.clone());
                if asks.contains_key(&key) {
                    accepted.entry(key).or_default().push(record.seq);
                }
            }
            _ => {}
        }
    }
    if asks.is_empty() {
        return Judgement::NotApplicable(
            "the integration was asked to send no campaign".to_owned(),
        );
    }
    let mut twice = Vec::new();
    let mut missing = Vec::new();
    let mut proof = Vec::new();
    for key in &order {
        let asked = &asks[key];
        let sent = accepted.get(key).map_or(&[][..], Vec::as_slice);
        if sent.len() < asked.len() {
            missing.push(key.0.clone());
            proof.push(asked[sent.len()]);
        } else if sent.len() > asked.len() {
            twice.push(key.0.clone());
            proof.extend(sent.iter().take(asked.len() + 1));
        }
    }
    let total: usize = asks.values().map(Vec::len).sum();
    if twice.is_empty() && missing.is_empty() {
        return Judgement::Pass(format!(
            "all {total} campaign message(s) accepted exactly once"
        ));
    }
    proof.sort_unstable();
    proof.dedup();
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{} never sent (first: {})",
            missing.len(),
            missing[0]
        ));
    }
    if !twice.is_empty() {
        parts.push(format!(
            "{} sent more than once (first: {})",
            twice.len(),
            twice[0]
        ));
    }
    Judgement::Fail {
        message: format!("of {total} campaign message(s): {}", parts.join("; ")),
        proof,
    }
}

fn no_templates_while_disabled(evidence: &Evidence<'_>) -> Judgement {
    let mut disabled_at: Option<u64> = None;
    let mut known_from: Option<u64> = None;
    let mut windows = 0usize;
    let mut proof = Vec::new();
    let mut sends = 0usize;
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::AccountIncident { incident, .. } if incident == "disable_templates" => {
                disabled_at = Some(record.seq);
                known_from = None;
                windows += 1;
            }
            TraceEvent::AccountIncident { incident, .. } if incident == "enable_templates" => {
                disabled_at = None;
                known_from = None;
            }
            TraceEvent::WebhookAttempt {
                destination,
                http_status: Some(status),
                after_seq,
                ..
            } if *destination == "partner"
                && (200..300).contains(status)
                && disabled_at.is_some_and(|at| *after_seq >= at)
                && known_from.is_none() =>
            {
                known_from = Some(record.seq);
            }
            TraceEvent::MessageAccepted {
                message_type,
                surface,
                ..
            }
            | TraceEvent::SendBlocked {
                message_type,
                surface,
                ..
            } if known_from.is_some() && *message_type == "template" && *surface == "d360" => {
                sends += 1;
                if proof.is_empty() {
                    proof.extend(disabled_at);
                    proof.extend(known_from);
                }
                proof.push(record.seq);
            }
            _ => {}
        }
    }
    if windows == 0 {
        return Judgement::NotApplicable("template messaging was never disabled".to_owned());
    }
    if sends == 0 {
        Judgement::Pass(format!(
            "no template sent while template messaging was disabled ({windows} time(s))"
        ))
    } else {
        Judgement::Fail {
            message: format!(
                "{sends} template send(s) after the template_messaging_disabled webhook was acknowledged"
            ),
            proof,
        }
    }
}

/// What the trace shows of one compromise response.
struct Response<'a> {
    notice: &'a TraceRecord,
    resume_after_ms: u64,
    compromised_key: Option<String>,
    new_key: Option<&'a TraceRecord>,
    pin_reset: Option<&'a TraceRecord>,
    /// Send requests after the notice.
    sends: Vec<&'a TraceRecord>,
}

impl Response<'_> {
    /// The record at which both the key and the PIN were reset.
    fn secured(&self) -> Option<&TraceRecord> {
        match (self.new_key, self.pin_reset) {
            (Some(key), Some(pin)) => Some(if key.seq > pin.seq { key } else { pin }),
            _ => None,
        }
    }
}

fn compromise_response<'a>(evidence: &Evidence<'a>) -> Option<Response<'a>> {
    let (notice_seq, _, body) = actions(evidence)
        .into_iter()
        .find(|(_, name, _)| *name == "account_compromised")?;
    let notice = evidence.record(notice_seq)?;
    let channel = body["channel_id"].as_str().unwrap_or_default();
    let phone = body["phone_number_id"].as_str().unwrap_or_default();
    let resume_after_ms = body["resume_after_s"]
        .as_u64()
        .unwrap_or(0)
        .saturating_mul(1000);
    let mut compromised_key = None;
    let mut new_key = None;
    let mut pin_reset = None;
    let mut sends = Vec::new();
    let mut previous = None;
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::UnknownOriginSend { credential, .. } if compromised_key.is_none() => {
                compromised_key = Some(credential.clone());
            }
            _ if record.seq <= notice_seq => {}
            TraceEvent::ApiKeyReplaced {
                channel_id, old, ..
            } if channel_id == channel && new_key.is_none() => {
                new_key = Some(record);
                compromised_key.get_or_insert_with(|| old.clone());
            }
            TraceEvent::PhoneRegistration {
                phone_number_id,
                action,
                error_code: None,
            } if phone_number_id == phone && action == "set_pin" && pin_reset.is_none() => {
                pin_reset = Some(record);
            }
            TraceEvent::Request { path, .. } if is_send(path, previous) => sends.push(record),
            _ => {}
        }
        previous = Some(event);
    }
    Some(Response {
        notice,
        resume_after_ms,
        compromised_key,
        new_key,
        pin_reset,
        sends,
    })
}

fn no_compromise() -> Judgement {
    Judgement::NotApplicable("the integration was not told of a compromise".to_owned())
}

fn compromise_halt(evidence: &Evidence<'_>) -> Judgement {
    let Some(response) = compromise_response(evidence) else {
        return no_compromise();
    };
    let secured = response.secured().map(|r| r.seq);
    let early: Vec<u64> = response
        .sends
        .iter()
        .filter(|r| secured.is_none_or(|at| r.seq < at))
        .map(|r| r.seq)
        .collect();
    if early.is_empty() {
        return Judgement::Pass(match secured {
            Some(_) => "nothing was sent between the notice and securing the account".to_owned(),
            None => "nothing was sent after the notice".to_owned(),
        });
    }
    let mut proof = vec![response.notice.seq];
    proof.extend(early.iter().take(4));
    proof.extend(secured);
    Judgement::Fail {
        message: format!(
            "{} send request(s) after the compromise notice, before the account was secured{}",
            early.len(),
            if secured.is_none() {
                " (it never was)"
            } else {
                ""
            }
        ),
        proof,
    }
}

fn compromise_new_key(evidence: &Evidence<'_>) -> Judgement {
    let Some(response) = compromise_response(evidence) else {
        return no_compromise();
    };
    let Some(new_key) = response.new_key else {
        return Judgement::Fail {
            message: "no new channel key was generated after the compromise notice".to_owned(),
            proof: vec![response.notice.seq],
        };
    };
    let old = response.compromised_key.as_deref();
    let reused: Vec<u64> = evidence
        .events()
        .filter(|(record, _)| record.seq > response.notice.seq)
        .filter_map(|(record, event)| match event {
            TraceEvent::Request {
                credential: Some(credential),
                surface,
                ..
            } if *surface == "d360" && Some(credential.as_str()) == old => Some(record.seq),
            _ => None,
        })
        .collect();
    if reused.is_empty() {
        Judgement::Pass(format!(
            "a new key was generated {} after the notice and the compromised key was not presented again",
            crate::duration::words(new_key.at_ms - response.notice.at_ms)
        ))
    } else {
        let mut proof = vec![response.notice.seq, new_key.seq];
        proof.extend(reused.iter().take(4));
        Judgement::failed(
            format!(
                "the compromised key was presented {} time(s) after the notice",
                reused.len()
            ),
            proof,
        )
    }
}

fn compromise_pin_reset(evidence: &Evidence<'_>) -> Judgement {
    let Some(response) = compromise_response(evidence) else {
        return no_compromise();
    };
    let first_send = response.sends.first().map(|r| r.seq);
    match response.pin_reset {
        None => Judgement::Fail {
            message: "the two-step verification PIN was not reset after the compromise notice"
                .to_owned(),
            proof: vec![response.notice.seq],
        },
        Some(pin) if first_send.is_some_and(|send| send < pin.seq) => Judgement::Fail {
            message: "messaging resumed before the PIN was reset".to_owned(),
            proof: vec![response.notice.seq, first_send.unwrap_or(0), pin.seq],
        },
        Some(_) => Judgement::Pass("the PIN was reset before any send".to_owned()),
    }
}

fn compromise_resume(evidence: &Evidence<'_>) -> Judgement {
    let Some(response) = compromise_response(evidence) else {
        return no_compromise();
    };
    // Without a full securing, the period runs from the last step taken.
    let from = response
        .secured()
        .or(response.new_key)
        .or(response.pin_reset)
        .unwrap_or(response.notice);
    let allowed_ms = from.at_ms + response.resume_after_ms;
    let after: Vec<&TraceRecord> = response
        .sends
        .iter()
        .copied()
        .filter(|r| r.seq > from.seq)
        .collect();
    let early: Vec<u64> = after
        .iter()
        .filter(|r| r.at_ms < allowed_ms)
        .map(|r| r.seq)
        .collect();
    let period = crate::duration::words(response.resume_after_ms);
    if !early.is_empty() {
        let mut proof = vec![response.notice.seq, from.seq];
        proof.extend(early.iter().take(4));
        proof.dedup();
        return Judgement::Fail {
            message: format!(
                "{} send request(s) within the {period} resume period after securing",
                early.len()
            ),
            proof,
        };
    }
    match after.first() {
        None => Judgement::Fail {
            message: format!("messaging never resumed after the {period} resume period"),
            proof: vec![response.notice.seq, from.seq],
        },
        Some(first) => Judgement::Pass(format!(
            "messaging resumed {} after securing (resume period {period})",
            crate::duration::words(first.at_ms - from.at_ms)
        )),
    }
}

fn no_register_loop(evidence: &Evidence<'_>) -> Judgement {
    let calls: Vec<(&TraceRecord, &str, Option<u32>)> = evidence
        .events()
        .filter_map(|(record, event)| match event {
            TraceEvent::PhoneRegistration {
                phone_number_id,
                action,
                error_code,
            } if action == "register" || action == "deregister" => {
                Some((record, phone_number_id.as_str(), *error_code))
            }
            _ => None,
        })
        .collect();
    if calls.is_empty() {
        return Judgement::NotApplicable("no register or deregister request".to_owned());
    }
    let blocked: Vec<u64> = calls
        .iter()
        .filter(|(_, _, code)| *code == Some(133_016))
        .map(|(r, _, _)| r.seq)
        .collect();
    let bursts = group(
        calls
            .iter()
            .map(|(record, phone, _)| ((*phone, record.at_ms), record.seq)),
    );
    // Asked three times at once, a correct integration registers three times.
    let asks = group(evidence.events().filter_map(|(record, event)| match event {
        TraceEvent::DriverAction { action, body } if action == "register" => Some((
            (
                body["phone_number_id"].as_str().unwrap_or_default(),
                record.at_ms,
            ),
            (),
        )),
        _ => None,
    }));
    let mut proof: Vec<u64> = Vec::new();
    for (instant, seqs) in &bursts {
        let asked = asks.get(instant).map_or(0, Vec::len);
        if seqs.len() > REGISTER_PER_INSTANT_MAX + asked.saturating_sub(1) {
            proof.extend(seqs.iter().take(3));
            proof.extend(seqs.last());
        }
    }
    proof.extend(blocked.iter().take(2));
    let refused = calls.iter().filter(|(_, _, code)| code.is_some()).count();
    Judgement::unless_proven(
        format!(
            "{} register request(s), {refused} refused, none repeated in a loop",
            calls.len()
        ),
        format!(
            "register retried in a loop: {} request(s), {} answered 133016 (blocked for 72 hours)",
            calls.len(),
            blocked.len()
        ),
        proof,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checks::verdict::*;

    fn request(surface: &'static str, path: &str, credential: &str, status: u16) -> TraceEvent {
        TraceEvent::Request {
            surface,
            method: "POST".to_owned(),
            path: path.to_owned(),
            credential: Some(credential.to_owned()),
            http_status: status,
            error_code: None,
        }
    }

    fn replaced(old: &str, new: &str) -> TraceEvent {
        TraceEvent::ApiKeyReplaced {
            channel_id: "ch1".to_owned(),
            old: old.to_owned(),
            new: new.to_owned(),
        }
    }

    fn action(name: &str, body: Value) -> TraceEvent {
        TraceEvent::DriverAction {
            action: name.to_owned(),
            body,
        }
    }

    fn accepted(to: &str) -> TraceEvent {
        TraceEvent::MessageAccepted {
            message_id: format!("wamid.{to}"),
            surface: "d360",
            phone_number_id: "p1".to_owned(),
            to: to.to_owned(),
            message_type: "template",
            reply_to: None,
            media: None,
            template: Some("spring_sale".to_owned()),
            category: "MARKETING",
            message_status: Some("accepted"),
        }
    }

    fn incident(name: &str) -> TraceEvent {
        TraceEvent::AccountIncident {
            incident: name.to_owned(),
            phone_number_id: None,
            detail: String::new(),
        }
    }

    #[test]
    fn key_002_allows_requests_in_flight_and_fails_a_stale_worker() {
        let mut events = vec![
            (0, request("d360", "/messages", "old", 200)),
            (0, replaced("old", "new")),
            (0, request("d360", "/messages", "old", 401)),
            (0, request("d360", "/messages", "new", 200)),
        ];
        assert!(passes(&OLD_CHANNEL_KEY_DROPPED, events.clone()));
        for _ in 0..3 {
            events.push((1, request("d360", "/messages", "old", 401)));
        }
        let Judgement::Fail { proof, .. } = judge(&OLD_CHANNEL_KEY_DROPPED, events) else {
            panic!("a stale key must fail");
        };
        assert_eq!(proof[0], 1, "the replacement is cited first");
        assert!(not_applicable(&OLD_CHANNEL_KEY_DROPPED, vec![]));
    }

    #[test]
    fn camp_001_finds_missing_and_doubled_recipients_after_a_disruption() {
        let campaign = action(
            "send_campaign",
            json!({"to": ["a", "b", "c"], "template": {"name": "spring_sale"}}),
        );
        let good = vec![
            (0, campaign.clone()),
            (0, accepted("a")),
            (0, replaced("old", "new")),
            (0, accepted("b")),
            (0, accepted("c")),
        ];
        assert!(passes(&CAMPAIGN_EXACTLY_ONCE, good.clone()));
        let mut doubled = good.clone();
        doubled.push((1, accepted("a")));
        let Judgement::Fail { message, .. } = judge(&CAMPAIGN_EXACTLY_ONCE, doubled) else {
            panic!("a second copy must fail");
        };
        assert!(message.contains("more than once (first: a)"), "{message}");
        let lost: Vec<_> = good
            .into_iter()
            .filter(|(_, e)| *e != accepted("c"))
            .collect();
        let Judgement::Fail { message, .. } = judge(&CAMPAIGN_EXACTLY_ONCE, lost) else {
            panic!("a lost message must fail");
        };
        assert!(message.contains("never sent (first: c)"), "{message}");
        // Asked twice before the first copy went out: two copies are right.
        let mut asked_twice = vec![
            (0, campaign.clone()),
            (0, replaced("old", "new")),
            (0, campaign.clone()),
        ];
        for to in ["a", "a", "b", "c", "b", "c"] {
            asked_twice.push((0, accepted(to)));
        }
        assert!(passes(&CAMPAIGN_EXACTLY_ONCE, asked_twice.clone()));
        asked_twice.push((0, accepted("c")));
        assert!(proof(&CAMPAIGN_EXACTLY_ONCE, asked_twice).is_some());
        // Without a disruption the rule does not apply (skipping users is allowed).
        assert!(not_applicable(
            &CAMPAIGN_EXACTLY_ONCE,
            vec![(0, campaign), (0, accepted("a"))]
        ));
    }

    fn partner_ack(after_seq: u64) -> TraceEvent {
        super::super::verdict::acknowledged(
            1,
            "partner",
            after_seq,
            "http://127.0.0.1/partner-webhook",
        )
    }

    #[test]
    fn tpl_005_counts_template_sends_between_the_acknowledged_disable_and_the_enable() {
        let blocked = TraceEvent::SendBlocked {
            surface: "d360",
            phone_number_id: "p1".to_owned(),
            to: Some("a".to_owned()),
            message_type: "template",
            http_status: 403,
            reason: String::new(),
        };
        let held = vec![
            (0, incident("disable_templates")),
            (0, partner_ack(0)),
            (60, incident("enable_templates")),
            (60, accepted("a")),
        ];
        assert!(passes(&NO_TEMPLATES_WHILE_DISABLED, held));
        let sent = vec![
            (0, incident("disable_templates")),
            (0, partner_ack(0)),
            (1, blocked),
            (60, incident("enable_templates")),
        ];
        let Judgement::Fail { proof, .. } = judge(&NO_TEMPLATES_WHILE_DISABLED, sent) else {
            panic!("a template send while disabled must fail");
        };
        assert_eq!(proof, vec![0, 1, 2]);
    }

    fn pin_set() -> TraceEvent {
        TraceEvent::PhoneRegistration {
            phone_number_id: "p1".to_owned(),
            action: "set_pin".to_owned(),
            error_code: None,
        }
    }

    fn notice() -> TraceEvent {
        action(
            "account_compromised",
            json!({"phone_number_id": "p1", "channel_id": "ch1", "resume_after_s": 3600}),
        )
    }

    fn judge_all(events: &[(u64, TraceEvent)]) -> Vec<bool> {
        [
            &COMPROMISE_HALT,
            &COMPROMISE_NEW_KEY,
            &COMPROMISE_PIN_RESET,
            &COMPROMISE_RESUME,
        ]
        .iter()
        .map(|check| passes(check, events.to_vec()))
        .collect()
    }

    #[test]
    fn the_compromise_checks_judge_each_step_of_the_response() {
        let send = |key: &str| request("d360", "/messages", key, 200);
        let hour = 3_600_000;
        let correct = vec![
            (0, send("old")),
            (10, notice()),
            (10, replaced("old", "new")),
            (10, pin_set()),
            (10 + hour, send("new")),
        ];
        assert_eq!(judge_all(&correct), vec![true; 4]);
        // Keeps sending before securing.
        let mut keep = correct.clone();
        keep.insert(2, (10, send("old")));
        assert_eq!(judge_all(&keep), vec![false, false, false, true]);
        // Never generates a key: the old key is used on resume.
        let no_key: Vec<_> = vec![(10, notice()), (10, pin_set()), (10 + hour, send("old"))];
        assert!(!judge_all(&no_key)[1]);
        // Never resets the PIN.
        let no_pin: Vec<_> = correct
            .iter()
            .filter(|(_, e)| *e != pin_set())
            .cloned()
            .collect();
        assert!(!judge_all(&no_pin)[2]);
        // Resumes at once after securing.
        let mut early = correct.clone();
        early[4].0 = 11;
        assert_eq!(judge_all(&early), vec![true, true, true, false]);
        // Never resumes.
        let never: Vec<_> = correct[..4].to_vec();
        assert!(!judge_all(&never)[3]);
        assert!(not_applicable(&COMPROMISE_HALT, vec![(0, send("old"))]));
        // A read receipt the platform took is no send to halt; a refused one is.
        let receipt = TraceEvent::MessageMarkedRead {
            surface: "d360",
            phone_number_id: "p1".to_owned(),
            message_id: "wamid.in".to_owned(),
            from: "a".to_owned(),
            after_ms: 0,
            typing: false,
        };
        let mut read = correct.clone();
        read.splice(2..2, [(10, receipt), (10, send("new"))]);
        assert!(passes(&COMPROMISE_HALT, read));
        let mut refused = correct.clone();
        refused.insert(2, (10, request("d360", "/messages", "new", 400)));
        assert!(!passes(&COMPROMISE_HALT, refused));
    }

    fn register(code: Option<u32>) -> TraceEvent {
        TraceEvent::PhoneRegistration {
            phone_number_id: "p1".to_owned(),
            action: "register".to_owned(),
            error_code: code,
        }
    }

    #[test]
    fn reg_001_allows_one_retry_per_instant_and_fails_a_loop() {
        let calm = vec![(0, register(Some(100))), (86_400_000, register(None))];
        assert!(passes(&NO_REGISTER_LOOP, calm));
        let mut looped: Vec<_> = (0..10).map(|_| (0, register(Some(100)))).collect();
        looped.push((0, register(Some(133_016))));
        let Judgement::Fail { message, .. } = judge(&NO_REGISTER_LOOP, looped) else {
            panic!("a loop must fail");
        };
        assert!(message.contains("1 answered 133016"), "{message}");
    }

    #[test]
    fn reg_001_allows_a_register_per_driver_ask_at_that_instant() {
        let ask = || TraceEvent::DriverAction {
            action: "register".to_owned(),
            body: json!({"action": "register", "phone_number_id": "p1", "pin": "246810"}),
        };
        let mut asked: Vec<_> = (0..3).map(|_| (0, ask())).collect();
        asked.extend((0..3).map(|_| (0, register(Some(133_005)))));
        assert!(passes(&NO_REGISTER_LOOP, asked.clone()));
        // One request beyond one per ask plus a retry is a loop again.
        asked.extend((0..2).map(|_| (0, register(Some(133_005)))));
        assert!(proof(&NO_REGISTER_LOOP, asked).is_some());
    }
}
