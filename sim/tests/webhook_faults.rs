//! Webhook routing, batching and fault profiles as model policy: tested without
//! sockets by playing the delivery engine (`support::model::drive`).

mod support;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::model::*;
use wasim_sim::model::webhooks::faults::FaultProfile;
use wasim_sim::model::{
    Command, CopyKind, D360Scope, D360Webhook, Destination, Effect, InboundContent, Refusal, Reply,
    Route, SimTime, Wamid, WebhookBody, WebhookDelivery, World, WorldSpec,
};
use wasim_sim::trace::TraceEvent;

fn profile(json: Value) -> FaultProfile {
    FaultProfile::from_json("faults", &json).expect("a valid test profile")
}

fn set_faults(world: &mut World, at: SimTime, json: Value) -> Vec<Effect> {
    let outcome = world.apply(
        at,
        Command::SetWebhookFaults {
            profile: Some(profile(json)),
        },
    );
    assert_eq!(outcome.reply, Ok(Reply::Done));
    outcome.effects
}

/// The default world with the fault profile `faults` set from the start.
fn world_with_faults(faults: Value) -> World {
    let mut world = world();
    set_faults(&mut world, T0, faults);
    world
}

/// `count` inbound messages from the named and generated recipients, one per
/// `spacing_ms`, their effects in order.
fn inbound_burst(world: &mut World, count: usize, spacing_ms: u64) -> Vec<Effect> {
    let senders: Vec<String> = world
        .recipients()
        .filter(|r| !r.wa_id().starts_with("999"))
        .take(count)
        .map(|r| r.wa_id())
        .collect();
    let mut effects = Vec::new();
    for (i, from) in senders.iter().enumerate() {
        let at = SimTime::from_ms(i as u64 * spacing_ms);
        effects.extend(world.apply(at, inbound_text(from, "hi")).effects);
    }
    effects
}

fn posts(effects: &[Effect]) -> Vec<&WebhookDelivery> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Webhook(delivery) => Some(delivery),
            _ => None,
        })
        .collect()
}

/// `from` writes `content` to the first number, in reply to `context` if any.
fn inbound_from(from: &str, content: InboundContent, context: Option<Wamid>) -> Command {
    Command::Inbound {
        from: from.into(),
        content,
        phone_number_id: None,
        context,
    }
}

/// The ids of the inbound messages a post carries.
fn inbound_ids(body: &WebhookBody) -> Vec<String> {
    body.to_value()["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| entry["changes"].as_array().cloned().unwrap_or_default())
        .flat_map(|change| {
            change["value"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn duplicate_and_reorder_rates_stay_within_their_seeded_expectation() {
    let mut world = world_with_faults(json!({"duplicate": "1/4", "reorder": "1/5"}));
    let first = inbound_burst(&mut world, 400, 10);
    let run = drive(&mut world, first, hours(1), |_| Some(200));
    let duplicates = run.posts_of(CopyKind::Duplicate).len();
    let reordered = run.faults("reordered");
    // 400 draws at 1/4 (sd ≈ 8.7) and, of those not held, 1/5 (sd ≈ 8): ±5 sd.
    assert!(
        (57..=143).contains(&duplicates),
        "{duplicates} duplicates of 400 at 1/4"
    );
    assert!(
        (40..=120).contains(&reordered),
        "{reordered} reordered of 400 at 1/5"
    );
    assert_eq!(
        run.faults("duplicated"),
        duplicates,
        "each duplicate is traced"
    );
    for duplicate in run.posts_of(CopyKind::Duplicate) {
        let original = run
            .posts_of(CopyKind::Original)
            .into_iter()
            .find(|d| d.id == duplicate.id)
            .expect("a duplicate has an original");
        assert_eq!(
            duplicate.body, original.body,
            "a duplicate repeats the bytes"
        );
    }
    assert_eq!(world.webhooks_pending(), 0);
}

#[test]
fn a_reordered_delivery_is_posted_right_after_the_one_that_overtakes_it() {
    let mut world = world_with_faults(json!({"reorder": "1/2"}));
    let first = inbound_burst(&mut world, 60, 1_000);
    let run = drive(&mut world, first, hours(1), |_| Some(200));
    let order: Vec<u64> = run
        .posts_of(CopyKind::Original)
        .iter()
        .map(|d| d.id)
        .collect();
    let reordered: Vec<u64> = run
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::WebhookFault {
                delivery_id, fault, ..
            } if fault == "reordered" => Some(*delivery_id),
            _ => None,
        })
        .collect();
    assert!(!reordered.is_empty(), "no delivery was reordered at 1/2");
    for (position, id) in order.iter().enumerate() {
        let overtaken = order[..position].iter().any(|earlier| earlier > id);
        assert_eq!(
            overtaken,
            reordered.contains(id),
            "delivery {id}: overtaken on the wire iff traced as reordered ({order:?})"
        );
    }
}

#[test]
fn a_held_delivery_nobody_overtakes_is_released_after_the_hold() {
    let mut world = world_with_faults(json!({"reorder": "1/1", "reorder_hold_ms": 7000}));
    let effects = world.apply(T0, inbound_text(ANA_BR, "hi")).effects;
    assert!(
        posts(&effects).is_empty(),
        "a held delivery is not posted at once"
    );
    assert_eq!(world.webhooks_held(), 1);
    assert_eq!(world.next_deadline(), Some(SimTime::from_ms(7000)));
    let released = world.advance(SimTime::from_ms(7000));
    assert_eq!(posts(&released).len(), 1);
    assert!(released.iter().any(|e| matches!(
        e,
        Effect::Trace { event: TraceEvent::WebhookFault { fault, .. }, .. } if fault == "released"
    )));
}

#[test]
fn a_delayed_first_attempt_goes_out_within_the_maximum_delay() {
    let mut world = world_with_faults(json!({"delay": "1/1", "delay_max_ms": 5000}));
    let effects = world.apply(T0, inbound_text(ANA_BR, "hi")).effects;
    assert!(posts(&effects).is_empty());
    let due = world
        .next_deadline()
        .expect("a delayed attempt is scheduled");
    assert!(due > T0 && due <= SimTime::from_ms(5000), "{due:?}");
    let later = world.advance(due);
    let later = posts(&later);
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].attempt, later[0].at), (1, due));
}

#[test]
fn a_burst_gathers_deliveries_and_posts_them_back_to_back() {
    let mut world =
        world_with_faults(json!({"burst": "1/1", "burst_size": 5, "burst_hold_ms": 60000}));
    let senders = [ANA_BR, PRIYA_IN, SAM_US, LENA_DE, "905321234567"];
    for (i, from) in senders.iter().enumerate().take(4) {
        let effects = world
            .apply(SimTime::from_ms(i as u64), inbound_text(from, "hi"))
            .effects;
        assert!(
            posts(&effects).is_empty(),
            "message {i} left before the burst filled"
        );
    }
    let effects = world
        .apply(SimTime::from_ms(4), inbound_text(senders[4], "hi"))
        .effects;
    let burst = posts(&effects);
    assert_eq!(burst.len(), 5, "the fifth delivery completes the burst");
    assert!(burst.iter().all(|d| d.at == SimTime::from_ms(4)));
    // A partial burst leaves when its hold ends.
    let effects = world
        .apply(SimTime::from_ms(10), inbound_text(ANA_BR, "again"))
        .effects;
    assert!(posts(&effects).is_empty());
    let released = world.advance(SimTime::from_ms(10 + 60_000));
    assert_eq!(posts(&released).len(), 1);
}

#[test]
fn after_the_heal_delivery_is_clean_and_held_deliveries_are_posted() {
    let mut world =
        world_with_faults(json!({"duplicate": "1/1", "reorder": "1/1", "heal_after_s": 60}));
    let held = world.apply(T0, inbound_text(ANA_BR, "hi")).effects;
    assert!(posts(&held).is_empty(), "held under reorder 1/1");
    let healed = world.advance(SimTime::from_ms(60_000));
    assert!(healed.iter().any(|e| matches!(
        e,
        Effect::Trace {
            event: TraceEvent::WebhookHealed { released: 1 },
            ..
        }
    )));
    assert_eq!(
        posts(&healed).len(),
        1,
        "the held delivery leaves at the heal"
    );
    assert!(world.webhook_faults().is_none());
    let clean = world
        .apply(SimTime::from_ms(61_000), inbound_text(ANA_BR, "hi"))
        .effects;
    let clean = posts(&clean);
    assert_eq!(clean.len(), 1, "no duplicate after the heal");
    assert_eq!(clean[0].copy, CopyKind::Original);
}

#[test]
fn a_forged_copy_carries_a_new_message_id_and_is_never_retried() {
    let mut world = world_with_faults(json!({"forged": "1/1"}));
    let first = world.apply(T0, inbound_text(ANA_BR, "hi")).effects;
    let run = drive(&mut world, first, hours(1), |d| match d.copy {
        CopyKind::Forged => Some(401),
        _ => Some(200),
    });
    let forged = run.posts_of(CopyKind::Forged);
    let original = run.posts_of(CopyKind::Original);
    assert_eq!(
        (forged.len(), original.len()),
        (1, 1),
        "refusing a forgery costs no retry"
    );
    assert_ne!(inbound_ids(&forged[0].body), inbound_ids(&original[0].body));
    assert_eq!(world.webhook_stats().forged, 1);
    assert_eq!(world.webhook_stats().forged_accepted, 0);
    // A receiver that takes the forgery is counted.
    let first = world
        .apply(SimTime::from_ms(1), inbound_text(ANA_BR, "hi"))
        .effects;
    drive(&mut world, first, hours(1), |_| Some(200));
    assert_eq!(world.webhook_stats().forged_accepted, 1);
}

#[test]
fn the_same_seed_gives_the_same_faults_and_another_seed_others() {
    let run = |seed: u64| {
        let spec = WorldSpec::from_toml(&format!(
            "seed = {seed}\nwebhook_url = \"{RECEIVER_URL}\"\n[webhooks.faults]\nduplicate = \"1/3\"\nreorder = \"1/4\"\ndelay = \"1/5\"\nforged = \"1/6\"\n"
        ))
        .expect("valid");
        let mut world = World::new(spec, None, None).expect("builds");
        let first = inbound_burst(&mut world, 50, 100);
        let run = drive(&mut world, first, hours(1), |_| Some(200));
        format!("{:?}", run.posts)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn batching_gathers_changes_over_the_window_up_to_the_maximum() {
    let mut world = world_with("[webhooks]\nbatch_max = 3\nbatch_window_ms = 1000\n");
    let effects = inbound_burst(&mut world, 4, 10);
    let now = posts(&effects);
    assert_eq!(now.len(), 1, "three changes fill a batch at once");
    assert_eq!(
        now[0].body.to_value()["entry"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(inbound_ids(&now[0].body).len(), 3);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Trace {
            event: TraceEvent::WebhookEmitted { changes: 3, .. },
            ..
        }
    )));
    assert_eq!(world.webhooks_batching(), 1);
    let later = world.advance(SimTime::from_ms(30 + 1000));
    let later = posts(&later);
    assert_eq!(later.len(), 1, "the fourth leaves when its window closes");
    assert_eq!(later[0].at, SimTime::from_ms(30 + 1000));
}

#[test]
fn routes_follow_the_360dialog_webhooks_and_their_precedence() {
    let d360 = |url: &str| D360Webhook {
        url: url.to_owned(),
        headers: vec![("X-Auth".to_owned(), "h".into())],
    };
    let destination = |world: &mut World| {
        let effects = world.apply(T0, inbound_text(ANA_BR, "hi")).effects;
        posts(&effects)[0].destination.clone()
    };
    for (precedence, expected) in [("waba", "http://waba/"), ("channel", "http://channel/")] {
        let mut world = world_with(&format!(
            "[policy]\nd360_webhook_precedence = \"{precedence}\"\n"
        ));
        assert!(matches!(destination(&mut world), Destination::Meta { .. }));
        for (scope, url, key) in [
            (
                D360Scope::Channel,
                "http://channel/",
                "wasim_test_d360_key_us",
            ),
            (D360Scope::Waba, "http://waba/", "wasim_test_d360_key_de"),
        ] {
            let reply = world
                .apply(
                    T0,
                    Command::SetD360Webhook {
                        credential: Some(key.into()),
                        scope,
                        webhook: Ok(d360(url)),
                    },
                )
                .reply;
            assert_eq!(reply, Ok(Reply::D360Webhook(Some(d360(url)))));
        }
        assert_eq!(destination(&mut world), Destination::D360(d360(expected)));
    }
    let mut world = world();
    let reply = world
        .apply(
            T0,
            Command::SetD360Webhook {
                credential: Some("wrong".into()),
                scope: D360Scope::Channel,
                webhook: Ok(d360("http://x/")),
            },
        )
        .reply;
    assert!(matches!(reply, Err(Refusal::Unauthorized(_))), "{reply:?}");
}

#[test]
fn a_partner_event_without_a_partner_url_is_skipped_and_counted() {
    let mut world = world();
    let outcome = world.apply(
        T0,
        Command::EmitEvent {
            route: Route::Partner,
            field: "channel_live".to_owned(),
            body: json!({"id": "e1", "event": "channel_live", "data": {}}),
        },
    );
    assert!(posts(&outcome.effects).is_empty());
    assert!(outcome.effects.iter().any(|e| matches!(
        e,
        Effect::Trace { event: TraceEvent::WebhookSkipped { reason, .. }, .. } if reason.contains("partner webhook URL")
    )));
    assert_eq!(world.webhook_stats().lost(), 1);
}

#[test]
fn interactive_replies_answer_the_latest_business_message_and_open_the_window() {
    let mut world = world();
    let yes = || InboundContent::ButtonReply {
        id: "yes".to_owned(),
        title: "Yes".to_owned(),
    };
    let button = |context: Option<Wamid>| inbound_from(ANA_BR, yes(), context);
    let reply = world.apply(T0, button(None)).reply;
    assert!(
        matches!(&reply, Err(Refusal::Invalid(m)) if m.starts_with("context:")),
        "{reply:?}"
    );
    let wamid = accepted(
        &mut world,
        T0,
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    );
    let effects = world.apply(SimTime::from_ms(10), button(None)).effects;
    let post = posts(&effects)[0].clone();
    let message = &post.body.to_value()["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["type"], "interactive");
    assert_eq!(
        message["interactive"],
        json!({"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}})
    );
    assert_eq!(
        message["context"],
        json!({"from": "15550100001", "id": wamid})
    );
    assert!(
        world
            .recipient(ANA_BR)
            .and_then(|r| r.activity().last_inbound_at)
            .is_some()
    );

    let express = InboundContent::ListReply {
        id: "row1".to_owned(),
        title: "Express".to_owned(),
        description: Some("Next day".to_owned()),
    };
    let context = Some(wamid.as_str().into());
    let list = world.apply(SimTime::from_ms(20), inbound_from(ANA_BR, express, context));
    let post = posts(&list.effects)[0].clone();
    assert_eq!(
        post.body.to_value()["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"],
        json!({"type": "list_reply", "list_reply": {"id": "row1", "title": "Express", "description": "Next day"}})
    );
    let stop = InboundContent::Button {
        payload: "STOP".to_owned(),
        text: "Stop promotions".to_owned(),
    };
    let quick = world.apply(SimTime::from_ms(30), inbound_from(ANA_BR, stop, None));
    let post = posts(&quick.effects)[0].clone();
    let message = &post.body.to_value()["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["type"], "button");
    assert_eq!(
        message["button"],
        json!({"payload": "STOP", "text": "Stop promotions"})
    );
    let hi = InboundContent::Text("hi".to_owned());
    let other = inbound_from(PRIYA_IN, hi, Some(wamid.into()));
    let reply = world.apply(SimTime::from_ms(40), other).reply;
    assert!(matches!(reply, Err(Refusal::Invalid(m)) if m.contains("was not sent to")));
}

#[test]
fn bad_webhook_settings_in_a_world_file_name_the_field() {
    let cases = [
        (
            "[webhooks.faults]\nduplicate = \"x\"\n",
            "webhooks.faults.duplicate",
        ),
        (
            "[webhooks.faults]\nburst_size = 0\n",
            "webhooks.faults.burst_size",
        ),
        (
            "[webhooks.faults]\nmystery = \"1/2\"\n",
            "unknown field `mystery`",
        ),
        ("[webhooks]\nbatch_max = 0\n", "webhooks.batch_max"),
        (
            "[webhooks]\nbatch_max = 5\nbatch_window_ms = 0\n",
            "webhooks.batch_window_ms",
        ),
        ("[webhooks]\nbatching = 5\n", "batching"),
    ];
    for (toml, expected) in cases {
        let error = WorldSpec::from_toml(toml).expect_err(toml).to_string();
        assert!(error.contains(expected), "{toml}: {error}");
    }
}

fn ratio() -> impl Strategy<Value = String> {
    (0..4u32, 1..5u32).prop_map(|(n, d)| format!("{}/{}", n.min(d), d))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Under any fault profile and any receiver, every change the model emits is
    /// in some delivery; every delivery is attempted until acknowledged, dropped
    /// at its window's end, or never held forever; the trace has one attempt record
    /// per post; original attempts are numbered 1, 2, 3…
    #[test]
    fn under_any_fault_profile_every_change_is_attempted_until_acknowledged_or_dropped(
        delay in ratio(), reorder in ratio(), burst in ratio(), duplicate in ratio(), forged in ratio(),
        burst_size in 2..6u32, holds in (1..120_000u64, 1..120_000u64, 1..120_000u64),
        heal in prop::option::of(1..3600u64),
        batch_max in 1..4u32,
        messages in 1..25usize,
        answers in prop::collection::vec(prop_oneof![Just(Some(200u16)), Just(Some(500)), Just(None)], 1..12),
    ) {
        let mut world = world_with(&format!(
            "[policy]\nwebhook_retry_window_hours = 2\n[webhooks]\nbatch_max = {batch_max}\n"
        ));
        let mut first = set_faults(&mut world, T0, json!({
            "delay": delay, "reorder": reorder, "burst": burst, "duplicate": duplicate, "forged": forged,
            "burst_size": burst_size, "delay_max_ms": holds.0, "reorder_hold_ms": holds.1,
            "burst_hold_ms": holds.2, "heal_after_s": heal,
        }));
        first.extend(inbound_burst(&mut world, messages, 500));
        let mut next = 0usize;
        let run = drive(&mut world, first, hours(24 * 10), |_| {
            next += 1;
            answers[next % answers.len()]
        });
        prop_assert_eq!(world.webhooks_pending(), 0, "a delivery was left pending");
        prop_assert_eq!(world.webhooks_held(), 0, "a delivery was held forever");
        prop_assert_eq!(world.webhooks_batching(), 0, "a change was left in a batch");
        let delivered: usize = run.posts_of(CopyKind::Original).iter().filter(|d| d.attempt == 1)
            .map(|d| inbound_ids(&d.body).len()).sum();
        prop_assert_eq!(delivered, messages, "every change goes out in some first attempt");
        let attempt_records = run.events.iter().filter(|e| matches!(e, TraceEvent::WebhookAttempt { .. })).count();
        prop_assert_eq!(attempt_records, run.posts.len(), "one trace record per post");
        for id in run.emitted() {
            let attempts: Vec<&(WebhookDelivery, Option<u16>)> = run.posts.iter()
                .filter(|(d, _)| d.id == id && d.copy == CopyKind::Original).collect();
            let numbers: Vec<u32> = attempts.iter().map(|(d, _)| d.attempt).collect();
            let expected: Vec<u32> = (1..=u32::try_from(numbers.len()).expect("few")).collect();
            prop_assert_eq!(&numbers, &expected, "delivery {} attempts", id);
            let acknowledged = attempts.iter().filter(|(_, s)| s.is_some_and(|s| (200..300).contains(&s))).count();
            let dropped = run.events.iter().filter(|e| matches!(e, TraceEvent::WebhookDropped { delivery_id, .. } if *delivery_id == id)).count();
            prop_assert_eq!(acknowledged + dropped, 1, "delivery {} ended {} times", id, acknowledged + dropped);
            if dropped == 1 {
                let (last, _) = attempts.last().expect("a dropped delivery was attempted");
                prop_assert!(last.at <= hours(2).plus_ms(holds.0 + holds.1 + holds.2 + 3_600_000 * 2),
                    "attempted long after its window: {:?}", last.at);
            }
        }
    }
}
