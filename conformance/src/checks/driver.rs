//! Whether the integration carries out what the driver asks of it. A send the
//! driver asks for that the platform refuses as malformed is the
//! integration's failure, judged here with the platform's answer as proof,
//! rather than a harness error when a later step needs that message.

use wasim_reports::Severity;
use wasim_sim::TraceEvent;

use super::{Check, Evidence, Judgement};
use crate::describe;

/// Error codes that say the request itself was built wrong: invalid or missing
/// parameter, parameter value, template parameter count, unknown template or
/// language, parameter format, template parameter validation.
pub const MALFORMED_CODES: &[u32] = &[100, 131_008, 131_009, 132_000, 132_001, 132_012, 132_018];

/// The driver actions that ask for a send.
const SEND_ACTIONS: &[&str] = &[
    "send_template",
    "send_text",
    "send_campaign",
    "send_media",
    "send_buttons",
];

/// DRV-001.
pub const DRIVER_SENDS_CARRIED_OUT: Check = Check {
    id: "DRV-001",
    severity: Severity::Must,
    rule: "Carry out every send the driver asks for with a well-formed request: none refused as malformed (100, 131008, 131009, 132000, 132001, 132012, 132018)",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes",
    rationale: "A template sent without its parameters (132000) or with a wrong name or \
                language (132001) never reaches the user; the send the business wanted \
                silently did not happen.",
    judge: driver_sends_carried_out,
};

fn driver_sends_carried_out(evidence: &Evidence<'_>) -> Judgement {
    let mut asked = 0usize;
    let mut last_ask = None;
    let mut proof = Vec::new();
    let mut refused = 0usize;
    let mut first = None;
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::DriverAction { action, .. } if SEND_ACTIONS.contains(&action.as_str()) => {
                asked += 1;
                last_ask = Some(record.seq);
            }
            TraceEvent::MessageRejected {
                code,
                title,
                to,
                template,
                ..
            } if MALFORMED_CODES.contains(code) => {
                let Some(ask) = last_ask else { continue };
                if !proof.contains(&ask) {
                    proof.push(ask);
                }
                proof.push(record.seq);
                refused += 1;
                first.get_or_insert_with(|| {
                    let send = describe::send(template.as_deref(), to.as_deref());
                    format!("{code} {title} ({send})")
                });
            }
            _ => {}
        }
    }
    match (asked, first) {
        (0, _) => Judgement::NotApplicable("the driver asked for no send".to_owned()),
        (n, None) => Judgement::Pass(format!(
            "{n} driver send action(s); no send refused as malformed"
        )),
        (n, Some(first)) => Judgement::Fail {
            message: format!(
                "{refused} send(s) for {n} driver send action(s) refused as malformed; first: {first}"
            ),
            proof,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checks::{judge_events, verdict};

    fn ask(to: &str) -> TraceEvent {
        TraceEvent::DriverAction {
            action: "send_template".to_owned(),
            body: json!({"action": "send_template", "to": to}),
        }
    }

    fn rejected(code: u32) -> TraceEvent {
        verdict::rejected("5511987654321", Some("order_update"), code)
    }

    #[test]
    fn a_send_refused_as_malformed_fails_with_the_ask_and_the_answer_as_proof() {
        let judgement = judge_events(
            &DRIVER_SENDS_CARRIED_OUT,
            vec![(0, ask("5511987654321")), (0, rejected(132_000))],
        );
        let Judgement::Fail { message, proof } = judgement else {
            panic!("expected a failure: {judgement:?}");
        };
        assert_eq!(proof, vec![0, 1]);
        assert!(message.contains("132000"), "{message}");
        assert!(message.starts_with("1 send(s)"), "{message}");
    }

    #[test]
    fn refusals_that_are_not_about_the_request_pass() {
        // 130429 (throughput) and 131056 (pair rate) are the platform's limits.
        let judgement = judge_events(
            &DRIVER_SENDS_CARRIED_OUT,
            vec![
                (0, ask("1")),
                (0, rejected(130_429)),
                (0, rejected(131_056)),
            ],
        );
        assert!(matches!(judgement, Judgement::Pass(_)), "{judgement:?}");
    }

    #[test]
    fn without_a_driver_send_it_does_not_apply() {
        let judgement = judge_events(&DRIVER_SENDS_CARRIED_OUT, vec![(0, rejected(132_000))]);
        assert!(
            matches!(judgement, Judgement::NotApplicable(_)),
            "{judgement:?}"
        );
    }
}
