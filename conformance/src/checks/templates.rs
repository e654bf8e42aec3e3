//! Checks on template pacing and pausing (sources: Meta's template pacing and pausing pages, cited per check).

use std::collections::{BTreeMap, BTreeSet};

use wasim_reports::Severity;
use wasim_sim::TraceEvent;

use super::{Check, Evidence, Judgement};

/// TPL-001.
pub const HELD_NOT_RESENT: Check = Check {
    id: "TPL-001",
    severity: Severity::Must,
    rule: "A message held for quality assessment is neither treated as failed nor sent again",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-pacing",
    rationale: "`held_for_quality_assessment` means the platform has the message and will \
                send it or drop it (132015) within the hour; a resend doubles it if released.",
    judge: held_not_resent,
};

fn held_not_resent(evidence: &Evidence<'_>) -> Judgement {
    // Held messages still waiting: (to, template) -> (held record, wamid).
    let mut waiting: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    let mut held_count = 0usize;
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::MessageAccepted {
                message_id,
                to,
                template: Some(template),
                message_status,
                ..
            } => {
                let key = (to.clone(), template.clone());
                if let Some((held_seq, _)) = waiting.get(&key) {
                    proof.push(*held_seq);
                    proof.push(record.seq);
                }
                if message_status.as_deref() == Some("held_for_quality_assessment") {
                    held_count += 1;
                    waiting.insert(key, (record.seq, message_id.clone()));
                }
            }
            TraceEvent::MessageRejected {
                to: Some(to),
                template: Some(template),
                ..
            } => {
                if let Some((held_seq, _)) = waiting.get(&(to.clone(), template.clone())) {
                    proof.push(*held_seq);
                    proof.push(record.seq);
                }
            }
            TraceEvent::Status { message_id, .. } => {
                waiting.retain(|_, (_, held)| held != message_id);
            }
            _ => {}
        }
    }
    if held_count == 0 {
        return Judgement::NotApplicable("no message was held for quality assessment".to_owned());
    }
    Judgement::unless_proven(
        format!("{held_count} held message(s) waited for their outcome"),
        "a held message was sent again before the platform released or dropped it",
        proof,
    )
}

/// TPL-002.
pub const PAUSED_NOT_SENT: Check = Check {
    id: "TPL-002",
    severity: Severity::Must,
    rule: "Stop sending a paused or disabled template: at most one 132015/132016 per template per pause",
    reference: "https://developers.facebook.com/docs/whatsapp/template-pausing",
    rationale: "A PAUSED or DISABLED status webhook (or one 132015/132016) says the template \
                cannot be sent; keep trying and every send fails until it is unpaused.",
    judge: paused_not_sent,
};

fn paused_not_sent(evidence: &Evidence<'_>) -> Judgement {
    // Pauses so far per template, and refusals per (template, pause).
    let mut pauses: BTreeMap<&str, u32> = BTreeMap::new();
    let mut refusals: BTreeMap<(&str, u32), Vec<u64>> = BTreeMap::new();
    let mut paused_any = false;
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::TemplateStatus {
                template, event, ..
            } if event == "PAUSED" || event == "DISABLED" => {
                paused_any = true;
                *pauses.entry(template.as_str()).or_default() += 1;
            }
            TraceEvent::MessageRejected {
                template: Some(template),
                code: 132_015 | 132_016,
                ..
            } => {
                let pause = pauses.get(template.as_str()).copied().unwrap_or(0);
                refusals
                    .entry((template.as_str(), pause))
                    .or_default()
                    .push(record.seq);
            }
            _ => {}
        }
    }
    if !paused_any {
        return Judgement::NotApplicable("no template was paused or disabled".to_owned());
    }
    let mut proof = Vec::new();
    let mut repeated = Vec::new();
    for ((template, _), seqs) in &refusals {
        if seqs.len() > 1 {
            repeated.push(format!("{template}: {} refused sends", seqs.len()));
            proof.extend(seqs.iter().take(PROOF_SENDS));
        }
    }
    Judgement::unless_proven(
        "paused templates were left alone",
        format!(
            "a paused template kept being sent ({})",
            repeated.join("; ")
        ),
        proof,
    )
}

/// TPL-003.
pub const STOP_ON_PAUSE_WEBHOOK: Check = Check {
    id: "TPL-003",
    severity: Severity::Must,
    rule: "Once a PAUSED or DISABLED template webhook is acknowledged, send that template no more until it is approved again",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update",
    rationale: "The message_template_status_update webhook is the platform telling the \
                integration to stop; an integration that learns only from 132015 answers \
                still sends into every pause.",
    judge: stop_on_pause_webhook,
};

fn stop_on_pause_webhook(evidence: &Evidence<'_>) -> Judgement {
    // Deliveries announcing a pause: delivery id -> template.
    let mut announcing: BTreeMap<u64, String> = BTreeMap::new();
    // Templates whose pause the integration has acknowledged: template -> ack seq.
    let mut told: BTreeMap<String, u64> = BTreeMap::new();
    // Templates acknowledged with no integration request answered since: the
    // first send of one may have been in flight already (a retry due that very
    // moment) and is not held against the integration.
    let mut in_flight: BTreeSet<String> = BTreeSet::new();
    let mut announced = 0usize;
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::WebhookEmitted {
                delivery_id,
                field,
                body,
                ..
            } if field == "message_template_status_update" => {
                let body = body.to_value();
                for entry in body["entry"].as_array().into_iter().flatten() {
                    for change in entry["changes"].as_array().into_iter().flatten() {
                        let value = &change["value"];
                        if matches!(value["event"].as_str(), Some("PAUSED" | "DISABLED"))
                            && let Some(name) = value["message_template_name"].as_str()
                        {
                            announcing.insert(*delivery_id, name.to_owned());
                        }
                    }
                }
            }
            TraceEvent::WebhookAttempt {
                delivery_id,
                copy,
                http_status: Some(200..=299),
                ..
            } if *copy == "original" => {
                if let Some(template) = announcing.remove(delivery_id) {
                    announced += 1;
                    in_flight.insert(template.clone());
                    told.insert(template, record.seq);
                }
            }
            TraceEvent::TemplateStatus {
                template, event, ..
            } if event == "APPROVED" => {
                told.remove(template);
            }
            TraceEvent::MessageAccepted {
                template: Some(template),
                ..
            }
            | TraceEvent::MessageRejected {
                template: Some(template),
                ..
            } => {
                if in_flight.remove(template) {
                    continue;
                }
                if let Some(ack) = told.get(template) {
                    proof.push(*ack);
                    proof.push(record.seq);
                }
            }
            TraceEvent::Request { surface, .. } if *surface != "control" => in_flight.clear(),
            _ => {}
        }
    }
    if announced == 0 {
        return Judgement::NotApplicable("no pause webhook was acknowledged".to_owned());
    }
    Judgement::unless_proven(
        format!("{announced} pause webhook(s) heeded"),
        "a template was sent after its PAUSED/DISABLED webhook was acknowledged",
        proof,
    )
}

/// How soon after a pacing pause an unpause counts as a reflex, in virtual ms.
pub const REFLEX_MS: u64 = 60_000;

/// TPL-004.
pub const NO_REFLEX_UNPAUSE: Check = Check {
    id: "TPL-004",
    severity: Severity::Must,
    rule: "A template paused by pacing is unpaused only deliberately, never by reflex within a minute",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-pacing; https://developers.facebook.com/docs/whatsapp/template-pausing",
    rationale: "A pacing pause means recipients reacted badly; unpausing at once by API \
                sends the same content again and heads for a second pause and disablement.",
    judge: no_reflex_unpause,
};

fn no_reflex_unpause(evidence: &Evidence<'_>) -> Judgement {
    let mut pauses: Vec<(u64, u64)> = Vec::new();
    let mut proof = Vec::new();
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::TemplateStatus { event, detail, .. }
                if event == "PAUSED" && detail.contains("by pacing") =>
            {
                pauses.push((record.seq, record.at_ms));
            }
            TraceEvent::Request { method, path, .. }
                if method == "POST" && path.ends_with("/unpause") =>
            {
                if let Some((seq, _)) = pauses
                    .iter()
                    .rev()
                    .find(|(_, at)| record.at_ms < at + REFLEX_MS)
                {
                    proof.push(*seq);
                    proof.push(record.seq);
                }
            }
            _ => {}
        }
    }
    if pauses.is_empty() {
        return Judgement::NotApplicable("no template was paused by pacing".to_owned());
    }
    Judgement::unless_proven(
        format!(
            "{} pacing pause(s) left for a person to review",
            pauses.len()
        ),
        "a template paused by pacing was unpaused by API within a minute",
        proof,
    )
}

/// Refused sends cited per failure.
const PROOF_SENDS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::checks::verdict::*;

    fn accepted(id: &str, to: &str, status: &'static str) -> TraceEvent {
        TraceEvent::MessageAccepted {
            message_id: id.to_owned(),
            surface: "graph",
            phone_number_id: "1".to_owned(),
            to: to.to_owned(),
            message_type: "template",
            reply_to: None,
            media: None,
            template: Some("spring_sale".to_owned()),
            category: "MARKETING",
            message_status: Some(status),
        }
    }

    fn status(id: &str, status: &'static str) -> TraceEvent {
        TraceEvent::Status {
            message_id: id.to_owned(),
            to: "55".to_owned(),
            status,
            error_code: None,
        }
    }

    #[test]
    fn resending_a_held_message_before_its_outcome_fails() {
        let held = "held_for_quality_assessment";
        let resent = vec![
            (0, accepted("w1", "55", held)),
            (0, accepted("w2", "55", "accepted")),
        ];
        assert!(proof(&HELD_NOT_RESENT, resent) == Some(vec![0, 1]));
        let after = vec![
            (0, accepted("w1", "55", held)),
            (1, status("w1", "sent")),
            (2, accepted("w2", "55", "accepted")),
        ];
        assert!(passes(&HELD_NOT_RESENT, after));
        let others = vec![
            (0, accepted("w1", "55", held)),
            (0, accepted("w2", "91", held)),
        ];
        assert!(passes(&HELD_NOT_RESENT, others));
        let none = vec![(0, accepted("w1", "55", "accepted"))];
        assert!(not_applicable(&HELD_NOT_RESENT, none));
    }

    fn paused(event: &str) -> TraceEvent {
        TraceEvent::TemplateStatus {
            template: "spring_sale".to_owned(),
            event: event.to_owned(),
            detail: String::new(),
        }
    }

    fn refused(code: u32) -> TraceEvent {
        rejected("55", Some("spring_sale"), code)
    }

    #[test]
    fn sending_after_an_acknowledged_pause_webhook_fails() {
        let emitted = TraceEvent::WebhookEmitted {
            delivery_id: 7,
            field: "message_template_status_update".into(),
            route: "waba".to_owned(),
            changes: 1,
            body: wasim_sim::model::WebhookBody::from(
                serde_json::json!({"entry": [{"changes": [{"value": {
                "event": "PAUSED", "message_template_name": "spring_sale"}}]}]}),
            ),
        };
        let ack = super::super::verdict::acknowledged(7, "meta", 0, "");
        let request = TraceEvent::Request {
            surface: "graph",
            method: "POST".to_owned(),
            path: "/v23.0/1/messages".to_owned(),
            credential: None,
            http_status: 200,
            error_code: None,
        };
        let after = vec![
            (0, emitted.clone()),
            (0, ack.clone()),
            (0, request.clone()),
            (1, refused(132_015)),
        ];
        assert!(proof(&STOP_ON_PAUSE_WEBHOOK, after) == Some(vec![1, 3]));
        // A send already in flight when the webhook was acknowledged (the next
        // thing the integration did) is not held against it; the one after is.
        let mut racing = vec![
            (0, emitted.clone()),
            (0, ack.clone()),
            (1, refused(132_015)),
        ];
        assert!(passes(&STOP_ON_PAUSE_WEBHOOK, racing.clone()));
        racing.push((1, request.clone()));
        racing.push((1, refused(132_015)));
        assert!(proof(&STOP_ON_PAUSE_WEBHOOK, racing) == Some(vec![1, 4]));
        let approved = vec![
            (0, emitted.clone()),
            (0, ack.clone()),
            (1, paused("APPROVED")),
            (2, accepted("w", "55", "accepted")),
        ];
        assert!(passes(&STOP_ON_PAUSE_WEBHOOK, approved));
        assert!(not_applicable(&STOP_ON_PAUSE_WEBHOOK, vec![(0, emitted)]));
    }

    #[test]
    fn an_unpause_right_after_a_pacing_pause_fails() {
        let pause = TraceEvent::TemplateStatus {
            template: "spring_sale".to_owned(),
            event: "PAUSED".to_owned(),
            detail: "FIRST_PAUSE by pacing: sends fail with 132015 until unpaused by hand"
                .to_owned(),
        };
        let unpause = TraceEvent::Request {
            surface: "graph",
            method: "POST".to_owned(),
            path: "/v23.0/120000000000001/unpause".to_owned(),
            credential: None,
            http_status: 200,
            error_code: None,
        };
        let reflex = vec![(0, pause.clone()), (10, unpause.clone())];
        assert!(proof(&NO_REFLEX_UNPAUSE, reflex) == Some(vec![0, 1]));
        let later = vec![(0, pause.clone()), (REFLEX_MS, unpause)];
        assert!(passes(&NO_REFLEX_UNPAUSE, later));
        assert!(not_applicable(&NO_REFLEX_UNPAUSE, vec![]));
    }

    #[test]
    fn one_refusal_per_pause_passes_and_more_fail() {
        let once = vec![
            (0, paused("PAUSED")),
            (0, refused(132_015)),
            (1, paused("APPROVED")),
            (2, paused("PAUSED")),
            (2, refused(132_015)),
        ];
        assert!(passes(&PAUSED_NOT_SENT, once));
        let again = vec![
            (0, paused("PAUSED")),
            (0, refused(132_015)),
            (1, refused(132_015)),
        ];
        assert!(proof(&PAUSED_NOT_SENT, again) == Some(vec![1, 2]));
        assert!(not_applicable(
            &PAUSED_NOT_SENT,
            vec![(0, refused(132_015))]
        ));
    }
}
