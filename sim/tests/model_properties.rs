//! Property tests on the model: the marketing cap is never exceeded by this business,
//! the same seed and commands give a byte-identical trace, and every accepted
//! message reaches exactly one final status.

mod support;

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::json;
use support::model::*;
use wasim_sim::Sim;
use wasim_sim::model::{Command, SimTime, StatusKind, World};
use wasim_sim::trace::TraceEvent;

/// Recipients the generated commands pick from: exempt and non-exempt, named and
/// magic ([`PEOPLE`], then one only ever delivered and one capped by other businesses).
static RECIPIENTS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    PEOPLE
        .into_iter()
        .chain(["999000003", "999131049"])
        .collect()
});
const NUMBERS: &[&str] = &[US_NUMBER, DE_NUMBER, TR_NUMBER];

#[derive(Debug, Clone)]
enum Step {
    Marketing { from: usize, to: usize },
    Utility { from: usize, to: usize },
    Text { from: usize, to: usize },
    Inbound { from: usize },
    Ecosystem { to: usize, count: u32 },
    Advance { ms: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    let number = 0..NUMBERS.len();
    let recipient = 0..RECIPIENTS.len();
    prop_oneof![
        4 => (number.clone(), recipient.clone()).prop_map(|(from, to)| Step::Marketing { from, to }),
        1 => (number.clone(), recipient.clone()).prop_map(|(from, to)| Step::Utility { from, to }),
        2 => (number, recipient.clone()).prop_map(|(from, to)| Step::Text { from, to }),
        1 => (0..4usize).prop_map(|from| Step::Inbound { from }),
        2 => (recipient, 1..3u32).prop_map(|(to, count)| Step::Ecosystem { to, count }),
        3 => prop_oneof![0..10_000u64, 0..(30 * 3_600_000u64)].prop_map(|ms| Step::Advance { ms }),
    ]
}

fn profile() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("2024-05"), Just("2025-07")]
}

fn new_sim(seed: u64, profile: &str) -> Sim {
    let spec = wasim_sim::WorldSpec::from_toml("[recipients]\ncount = 200\n").expect("valid");
    Sim::new(World::new(spec, Some(seed), Some(profile)).expect("builds"))
}

/// Runs the steps from the epoch; returns the virtual time reached.
fn run(sim: &mut Sim, steps: &[Step]) -> SimTime {
    run_from(sim, SimTime::ZERO, steps)
}

/// Runs the steps from `start`; returns the virtual time reached.
fn run_from(sim: &mut Sim, start: SimTime, steps: &[Step]) -> SimTime {
    let mut now = start;
    let send = |sim: &mut Sim, now: SimTime, from: usize, body: serde_json::Value| {
        // Refusals are part of what is generated: the properties read the trace.
        let _ = sim.apply(now, Command::graph_send(TOKEN, NUMBERS[from], &body));
    };
    for step in steps {
        match step {
            Step::Marketing { from, to } => send(
                sim,
                now,
                *from,
                template_body(RECIPIENTS[*to], "spring_sale"),
            ),
            Step::Utility { from, to } => send(
                sim,
                now,
                *from,
                json!({"messaging_product": "whatsapp", "to": RECIPIENTS[*to], "type": "template",
                       "template": {"name": "order_update", "language": {"code": "en_US"},
                         "components": [{"type": "body", "parameters": [{"type": "text", "text": "X"}]}]}}),
            ),
            Step::Text { from, to } => send(sim, now, *from, text_body(RECIPIENTS[*to], "hello")),
            Step::Inbound { from } => {
                let _ = sim.apply(now, inbound_text(RECIPIENTS[*from], "hi"));
            }
            Step::Ecosystem { to, count } => {
                let _ = sim.apply(
                    now,
                    Command::EcosystemMarketing {
                        to: RECIPIENTS[*to].into(),
                        count: *count,
                    },
                );
            }
            Step::Advance { ms } => {
                now = now.plus_ms(*ms);
                sim.advance(now);
            }
        }
    }
    now
}

/// A fresh sim that plays `steps` from the epoch, then two hours more, so every
/// timer they set has fired.
fn played(seed: u64, profile: &str, steps: &[Step]) -> Sim {
    let mut sim = new_sim(seed, profile);
    let end = run(&mut sim, steps);
    sim.advance(end.plus_hours(2));
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn this_business_never_pushes_a_user_past_the_marketing_cap(
        seed in 0..1_000u64, profile in profile(), steps in prop::collection::vec(step(), 1..60)
    ) {
        let mut sim = new_sim(seed, profile);
        let mut now = SimTime::ZERO;
        // Counted independently of the model: every marketing message a user got
        // (other businesses' as the trace records them, ours as counted), by time.
        let mut received: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
        let cap = sim.world.policy().marketing_cap;
        let window_ms = sim.world.policy().marketing_cap_window_hours * 3_600_000;
        for step in &steps {
            let before = sim.trace.records().len();
            now = run_from(&mut sim, now, std::slice::from_ref(step));
            for record in sim.trace.since(before) {
                match &record.event {
                    TraceEvent::EcosystemMarketing { to, count } => {
                        let times = received.entry(to.clone()).or_default();
                        times.extend(std::iter::repeat_n(record.at_ms, *count as usize));
                    }
                    TraceEvent::MarketingCounted { to, .. } => {
                        let times = received.entry(to.clone()).or_default();
                        times.push(record.at_ms);
                        let at = record.at_ms;
                        let in_window = times.iter().filter(|t| **t <= at && **t + window_ms > at).count();
                        prop_assert!(in_window <= cap as usize, "{to} got {in_window} marketing messages in the window > cap {cap} at {at}ms");
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn the_same_seed_and_commands_give_a_byte_identical_trace(
        seed in 0..1_000u64, profile in profile(), steps in prop::collection::vec(step(), 1..40)
    ) {
        let first = played(seed, profile, &steps);
        let second = played(seed, profile, &steps);
        prop_assert_eq!(first.trace.to_jsonl(), second.trace.to_jsonl());
    }

    #[test]
    fn every_accepted_message_reaches_exactly_one_final_status(
        seed in 0..1_000u64, profile in profile(), steps in prop::collection::vec(step(), 1..60)
    ) {
        let sim = played(seed, profile, &steps);
        prop_assert_eq!(sim.world.timers_pending(), 0);
        for message in sim.world.messages() {
            let kinds: Vec<StatusKind> = message.statuses.iter().map(|(_, s)| *s).collect();
            use StatusKind::{Delivered, Failed, Read, Sent};
            let valid = [vec![Failed], vec![Sent], vec![Sent, Delivered], vec![Sent, Delivered, Read], vec![Sent, Read]];
            prop_assert!(valid.contains(&kinds), "{} went through {:?}", message.id, kinds);
            prop_assert_eq!(message.pending_timers, 0);
            prop_assert_eq!(message.failure_code.is_some(), kinds == vec![Failed]);
        }
    }
}

#[test]
fn a_different_seed_gives_a_different_world() {
    let a = new_sim(1, "2024-05");
    let b = new_sim(2, "2024-05");
    let ids = |sim: &Sim| {
        sim.world
            .recipients()
            .map(|r| r.wa_id())
            .collect::<Vec<_>>()
    };
    assert_ne!(ids(&a), ids(&b));
}
