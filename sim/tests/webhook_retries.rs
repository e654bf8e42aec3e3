//! Webhook retries are model policy: tested without sockets by playing the delivery
//! engine's part (report each attempt's outcome back as a command).

mod support;

use proptest::prelude::*;
use support::model::*;
use wasim_sim::model::{
    Command, CopyKind, Effect, SimTime, WebhookDelivery, World, retry_delay_ms,
};
use wasim_sim::trace::TraceEvent;

/// Everything a drive produced, by kind.
#[derive(Debug, Default)]
struct Log {
    attempts: Vec<(SimTime, u64, u32, Option<u16>)>,
    emitted: Vec<u64>,
    dropped: Vec<(u64, u32)>,
}

/// [`support::model::drive`] with a receiver that sees the virtual time, its outcome by kind.
fn drive(
    world: &mut World,
    first: Vec<Effect>,
    until: SimTime,
    mut receiver: impl FnMut(SimTime, &WebhookDelivery) -> Option<u16>,
) -> Log {
    let run = support::model::drive(world, first, until, |delivery| {
        receiver(delivery.at, delivery)
    });
    Log {
        attempts: run
            .posts
            .iter()
            .map(|(d, status)| (d.at, d.id, d.attempt, *status))
            .collect(),
        emitted: run.emitted(),
        dropped: run
            .events
            .iter()
            .filter_map(|e| match e {
                TraceEvent::WebhookDropped {
                    delivery_id,
                    attempts,
                    ..
                } => Some((*delivery_id, *attempts)),
                _ => None,
            })
            .collect(),
    }
}

fn inbound_effects(world: &mut World, at: SimTime) -> Vec<Effect> {
    world.apply(at, inbound_text(ANA_BR, "hi")).effects
}

#[test]
fn a_failed_delivery_is_retried_with_doubling_delays_in_virtual_time() {
    let mut world = world();
    let first = inbound_effects(&mut world, SimTime::ZERO);
    let policy = world.policy().clone();
    let log = drive(&mut world, first, hours(1), |_, delivery| {
        (delivery.attempt < 4).then_some(500).or(Some(200))
    });
    let times: Vec<u64> = log.attempts.iter().map(|(at, ..)| at.as_ms()).collect();
    let initial = policy.webhook_retry_initial_ms;
    assert_eq!(times, vec![0, initial, initial * 3, initial * 7]);
    assert_eq!(retry_delay_ms(&policy, 3), initial * 2);
    let attempts: Vec<u32> = log
        .attempts
        .iter()
        .map(|(_, _, attempt, _)| *attempt)
        .collect();
    assert_eq!(attempts, vec![1, 2, 3, 4]);
    assert!(log.dropped.is_empty());
    assert_eq!(
        world.webhooks_pending(),
        0,
        "an acknowledged delivery must not stay pending"
    );
}

#[test]
fn an_acknowledged_delivery_is_not_retried() {
    let mut world = world();
    let first = inbound_effects(&mut world, SimTime::ZERO);
    let log = drive(&mut world, first, hours(200), |_, _| Some(200));
    assert_eq!(log.attempts.len(), 1);
    assert_eq!(world.next_deadline(), None);
}

#[test]
fn a_receiver_that_never_answers_2xx_is_given_up_when_the_window_ends() {
    let mut world = world_with("[policy]\nwebhook_retry_window_hours = 36\n");
    let first = inbound_effects(&mut world, SimTime::ZERO);
    let log = drive(&mut world, first, hours(24 * 30), |_, _| None);
    let last = log.attempts.last().expect("attempted");
    assert!(
        last.0 <= hours(36),
        "an attempt after the 36 h window: {:?}",
        last.0
    );
    assert!(last.0 > hours(34), "retries stopped early, at {:?}", last.0);
    assert_eq!(
        log.dropped,
        vec![(last.1, last.2)],
        "the give-up is traced once with the attempts made"
    );
    assert_eq!(world.webhooks_pending(), 0);
}

#[test]
fn a_receiver_down_for_an_hour_gets_the_whole_backlog_once_it_recovers() {
    let mut world = world();
    let mut first = Vec::new();
    for minute in 0..30u64 {
        first.extend(inbound_effects(
            &mut world,
            SimTime::from_ms(minute * 60_000),
        ));
    }
    let log = drive(&mut world, first, hours(48), |at, _| {
        if at < hours(1) { Some(500) } else { Some(200) }
    });
    assert_eq!(log.emitted.len(), 30);
    for id in &log.emitted {
        assert!(
            log.attempts
                .iter()
                .any(|(at, d, _, status)| d == id && *status == Some(200) && *at >= hours(1)),
            "delivery {id} never got through after recovery"
        );
    }
    assert!(log.dropped.is_empty());
}

#[test]
fn a_webhook_that_could_not_be_sent_at_all_is_not_retried() {
    let mut world = world();
    let first = inbound_effects(&mut world, SimTime::ZERO);
    let id = first
        .iter()
        .find_map(|e| match e {
            Effect::Webhook(delivery) => Some(delivery.id),
            _ => None,
        })
        .expect("a webhook");
    world.apply(
        SimTime::ZERO,
        Command::WebhookSkipped {
            delivery_id: id,
            copy: CopyKind::Original,
            reason: "no webhook URL".to_owned(),
        },
    );
    assert_eq!(world.webhooks_pending(), 0);
    assert_eq!(world.next_deadline(), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Under any pattern of failures, every emitted webhook is attempted until it is
    /// acknowledged or its window ends, attempts are numbered 1, 2, 3… and each
    /// ends in exactly one of: a 2xx attempt, or a traced drop.
    #[test]
    fn every_webhook_is_attempted_until_acknowledged_or_dropped(
        pattern in prop::collection::vec(prop_oneof![Just(Some(200u16)), Just(Some(500)), Just(Some(404)), Just(None)], 1..40),
        webhooks in 1..8u64,
        window_hours in 1..48u64,
    ) {
        let mut world = world_with(&format!("[policy]\nwebhook_retry_window_hours = {window_hours}\n"));
        let mut first = Vec::new();
        for i in 0..webhooks {
            first.extend(inbound_effects(&mut world, SimTime::from_ms(i * 1_000)));
        }
        let mut next = 0usize;
        let log = drive(&mut world, first, hours(24 * 60), |_, _| {
            let status = pattern[next % pattern.len()];
            next += 1;
            status
        });
        prop_assert_eq!(world.webhooks_pending(), 0);
        for id in &log.emitted {
            let attempts: Vec<&(SimTime, u64, u32, Option<u16>)> = log.attempts.iter().filter(|(_, d, ..)| d == id).collect();
            let numbers: Vec<u32> = attempts.iter().map(|(_, _, n, _)| *n).collect();
            let expected: Vec<u32> = (1..=u32::try_from(numbers.len()).expect("few")).collect();
            prop_assert_eq!(&numbers, &expected);
            let acknowledged = attempts.iter().filter(|(.., s)| s.is_some_and(|s| (200..300).contains(&s))).count();
            let dropped = log.dropped.iter().filter(|(d, _)| d == id).count();
            prop_assert_eq!(acknowledged + dropped, 1, "delivery {} ended {} times", id, acknowledged + dropped);
            if acknowledged == 1 {
                prop_assert!(attempts.last().is_some_and(|(.., s)| s.is_some_and(|s| (200..300).contains(&s))), "attempted after its acknowledgement");
            }
        }
    }
}
