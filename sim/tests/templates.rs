//! Template quality, pausing and pacing as model rules
//! (<https://developers.facebook.com/docs/whatsapp/template-quality>,
//! <https://developers.facebook.com/docs/whatsapp/template-pausing>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-pacing>).

mod support;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::model::*;
use wasim_sim::model::spec::Quality;
use wasim_sim::model::{
    Command, Effect, PacingOutcome, Refusal, Reply, SimTime, StatusKind, TemplateControl, World,
};
use wasim_sim::trace::TraceEvent;

fn control(world: &mut World, at: SimTime, name: &str, control: TemplateControl) -> Vec<Effect> {
    let outcome = world.apply(
        at,
        Command::TemplateControl {
            name: name.to_owned(),
            control,
        },
    );
    assert!(
        matches!(outcome.reply, Ok(Reply::Message(_))),
        "{:?}",
        outcome.reply
    );
    outcome.effects
}

/// The bodies of the template webhooks among `effects`, as (field, value).
fn template_webhooks(effects: &[Effect]) -> Vec<(String, Value)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Webhook(d) if d.field.starts_with("message_template") => Some((
                d.field.to_string(),
                d.body.to_value()["entry"][0]["changes"][0]["value"].clone(),
            )),
            _ => None,
        })
        .collect()
}

fn order_update(to: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": "order_update", "language": {"code": "en_US"},
             "components": [{"type": "body", "parameters": [{"type": "text", "text": "A1"}]}]}})
}

fn rejected_code(reply: &Result<Reply, Refusal>) -> Option<u32> {
    match reply {
        Err(Refusal::Platform(error)) => Some(error.code),
        _ => None,
    }
}

#[test]
fn red_pauses_3_hours_then_6_hours_then_disables() {
    let mut world = world();
    let effects = control(
        &mut world,
        SimTime::ZERO,
        "spring_sale",
        TemplateControl::Quality(Quality::Red),
    );
    let hooks = template_webhooks(&effects);
    assert_eq!(hooks[0].0, "message_template_quality_update");
    assert_eq!(hooks[1].1["event"], "PAUSED");
    assert_eq!(hooks[1].1["other_info"]["title"], "FIRST_PAUSE");
    let reply = send_from(
        &mut world,
        hours(1),
        US_NUMBER,
        template_body(LENA_DE, "spring_sale"),
    );
    assert_eq!(rejected_code(&reply), Some(132_015));
    // The pause ends on its own after 3 h.
    let effects = world.advance(hours(3));
    let hooks = template_webhooks(&effects);
    assert_eq!(hooks[0].1["event"], "APPROVED");
    assert_eq!(hooks[0].1["other_info"]["title"], "UNPAUSE");
    assert!(matches!(
        send_from(
            &mut world,
            hours(3),
            US_NUMBER,
            template_body(LENA_DE, "spring_sale")
        ),
        Ok(Reply::Sent { .. })
    ));
    let effects = control(
        &mut world,
        hours(4),
        "spring_sale",
        TemplateControl::Quality(Quality::Red),
    );
    let paused = template_webhooks(&effects);
    assert!(
        paused
            .iter()
            .any(|(_, v)| v["other_info"]["title"] == "SECOND_PAUSE")
    );
    assert!(
        template_webhooks(&world.advance(hours(9))).is_empty(),
        "6 h, not 5"
    );
    assert!(
        template_webhooks(&world.advance(hours(10)))
            .iter()
            .any(|(_, v)| v["event"] == "APPROVED")
    );
    let effects = control(
        &mut world,
        hours(11),
        "spring_sale",
        TemplateControl::Quality(Quality::Red),
    );
    let disabled = template_webhooks(&effects);
    let value = &disabled
        .iter()
        .find(|(_, v)| v["event"] == "DISABLED")
        .expect("disabled")
        .1;
    assert_eq!(value["other_info"]["title"], "DISABLED");
    assert!(value["disable_info"]["disable_date"].is_u64());
    let reply = send_from(
        &mut world,
        hours(12),
        US_NUMBER,
        template_body(LENA_DE, "spring_sale"),
    );
    assert_eq!(rejected_code(&reply), Some(132_016));
    assert!(
        template_webhooks(&world.advance(hours(100))).is_empty(),
        "disabled for good"
    );
}

/// A world pacing after 2 sends, with spring_sale YELLOW and the given feedback.
fn paced_world(negative: &str) -> World {
    let mut world = world_with("[policy]\npacing_threshold = 2\n");
    control(
        &mut world,
        SimTime::ZERO,
        "spring_sale",
        TemplateControl::Quality(Quality::Yellow),
    );
    control(
        &mut world,
        SimTime::ZERO,
        "spring_sale",
        TemplateControl::Negative(negative.parse().expect("a ratio")),
    );
    world
}

/// Sends spring_sale to every person; returns (wamid, held?) for each.
fn campaign(world: &mut World, at: SimTime) -> Vec<(String, bool)> {
    PEOPLE
        .iter()
        .map(
            |to| match send_from(world, at, US_NUMBER, template_body(to, "spring_sale")) {
                Ok(Reply::Sent {
                    message_id,
                    message_status,
                    ..
                }) => (
                    message_id.into_string(),
                    message_status == Some("held_for_quality_assessment"),
                ),
                other => panic!("send to {to}: {other:?}"),
            },
        )
        .collect()
}

#[test]
fn pacing_holds_past_the_threshold_then_releases_on_good_feedback() {
    let mut world = paced_world("0/1");
    let sends = campaign(&mut world, SimTime::ZERO);
    let held: Vec<bool> = sends.iter().map(|(_, held)| *held).collect();
    assert_eq!(held, vec![false, false, true, true, true, true]);
    let (held_id, _) = &sends[2];
    world.advance(SimTime::from_ms(1_799_999));
    assert!(
        statuses(&world, held_id).is_empty(),
        "held until the decision"
    );
    let effects = world.advance(SimTime::from_ms(1_800_000));
    let hooks = template_webhooks(&effects);
    assert_eq!(hooks[0].1["new_quality_score"], "GREEN");
    world.advance(hours(2));
    for (id, _) in &sends {
        assert!(
            statuses(&world, id).contains(&StatusKind::Sent),
            "{id} released"
        );
    }
    // GREEN and decided: no more pacing.
    assert!(!campaign(&mut world, hours(3)).iter().any(|(_, held)| *held));
}

#[test]
fn pacing_pauses_on_bad_feedback_and_drops_every_held_message_with_132015() {
    let mut world = paced_world("1/1");
    let sends = campaign(&mut world, SimTime::ZERO);
    let effects = world.advance(SimTime::from_ms(1_800_000));
    let hooks = template_webhooks(&effects);
    let paused = hooks
        .iter()
        .find(|(_, v)| v["event"] == "PAUSED")
        .expect("paused");
    assert_eq!(paused.1["other_info"]["title"], "FIRST_PAUSE");
    assert!(hooks.iter().any(|(_, v)| v["new_quality_score"] == "RED"));
    for (id, held) in &sends {
        let failure = world.message(id).expect("kept").failure_code;
        if *held {
            assert_eq!(failure, Some(132_015), "{id} dropped");
            assert_eq!(statuses(&world, id), vec![StatusKind::Failed]);
        } else {
            assert_ne!(failure, Some(132_015));
        }
    }
    // A pacing pause waits for a manual unpause.
    assert!(template_webhooks(&world.advance(hours(48))).is_empty());
    let reply = send_from(
        &mut world,
        hours(48),
        US_NUMBER,
        template_body(LENA_DE, "spring_sale"),
    );
    assert_eq!(rejected_code(&reply), Some(132_015));
    let template_id = world.templates()[0].id.clone();
    let outcome = world.apply(
        hours(49),
        Command::UnpauseTemplate {
            credential: Some(TOKEN.into()),
            template_id: template_id.into(),
        },
    );
    assert_eq!(outcome.reply, Ok(Reply::Json(json!({"success": true}))));
}

#[test]
fn sends_refused_for_other_reasons_do_not_count_toward_the_pacing_threshold() {
    let mut world = world_with("[policy]\npacing_threshold = 1\n");
    control(
        &mut world,
        SimTime::ZERO,
        "spring_sale",
        TemplateControl::Quality(Quality::Yellow),
    );
    let refused = send_from(
        &mut world,
        SimTime::ZERO,
        US_NUMBER,
        template_body("999131056", "spring_sale"),
    );
    assert_eq!(rejected_code(&refused), Some(131_056));
    let status = |reply: Result<Reply, Refusal>| match reply {
        Ok(Reply::Sent { message_status, .. }) => message_status,
        other => panic!("{other:?}"),
    };
    let first = send_from(
        &mut world,
        SimTime::ZERO,
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    );
    assert_eq!(status(first), Some("accepted"));
    let second = send_from(
        &mut world,
        SimTime::ZERO,
        US_NUMBER,
        template_body(PRIYA_IN, "spring_sale"),
    );
    assert_eq!(status(second), Some("held_for_quality_assessment"));
}

#[test]
fn utility_templates_are_paced_only_within_7_days_of_a_utility_pause() {
    let mut world = world_with("[policy]\npacing_threshold = 1\n");
    control(
        &mut world,
        SimTime::ZERO,
        "order_update",
        TemplateControl::Quality(Quality::Yellow),
    );
    let held = |world: &mut World, at: SimTime| {
        PEOPLE.iter().take(3).any(|to| {
            matches!(
                send_from(world, at, US_NUMBER, order_update(to)),
                Ok(Reply::Sent {
                    message_status: Some("held_for_quality_assessment"),
                    ..
                })
            )
        })
    };
    assert!(!held(&mut world, SimTime::ZERO), "no utility pause yet");
    control(
        &mut world,
        hours(1),
        "order_update",
        TemplateControl::Quality(Quality::Red),
    );
    world.advance(hours(4));
    assert!(
        held(&mut world, hours(5)),
        "unpaused within 7 days of a utility pause"
    );
    control(
        &mut world,
        hours(5),
        "order_update",
        TemplateControl::Decide(PacingOutcome::Release),
    );
    control(
        &mut world,
        hours(6),
        "order_update",
        TemplateControl::Quality(Quality::Yellow),
    );
    assert!(held(&mut world, hours(7)), "still within 7 days");
    control(
        &mut world,
        hours(7),
        "order_update",
        TemplateControl::Decide(PacingOutcome::Release),
    );
    control(
        &mut world,
        hours(8),
        "order_update",
        TemplateControl::Quality(Quality::Yellow),
    );
    assert!(
        !held(&mut world, hours(1 + 7 * 24 + 1)),
        "7 days after the pause"
    );
}

#[test]
fn template_webhooks_have_the_reference_shapes() {
    let mut world = world();
    let effects = control(
        &mut world,
        SimTime::ZERO,
        "spring_sale",
        TemplateControl::Quality(Quality::Red),
    );
    let bodies: Vec<Value> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Webhook(d) => Some(d.body.to_value()),
            _ => None,
        })
        .collect();
    let time = bodies[0]["entry"][0]["time"].clone();
    assert!(time.is_u64(), "account-level entries carry time");
    assert_eq!(
        bodies[0],
        json!({"object": "whatsapp_business_account", "entry": [{"id": "100000000000001", "time": time,
            "changes": [{"value": {"previous_quality_score": "GREEN", "new_quality_score": "RED",
                "message_template_id": 120_000_000_000_001_u64, "message_template_name": "spring_sale",
                "message_template_language": "en_US"}, "field": "message_template_quality_update"}]}]})
    );
    assert_eq!(
        bodies[1]["entry"][0]["changes"][0],
        json!({"value": {"event": "PAUSED", "message_template_id": 120_000_000_000_001_u64,
                "message_template_name": "spring_sale", "message_template_language": "en_US",
                "reason": "NONE", "message_template_category": "MARKETING",
                "other_info": {"title": "FIRST_PAUSE",
                    "description": "Your WhatsApp message template has been paused because of low quality."}},
               "field": "message_template_status_update"})
    );
}

fn pause_titles(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Trace {
                event: TraceEvent::TemplateStatus { event, .. },
                ..
            } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the threshold, feedback and forced steps, every held message ends
    /// exactly once, released (`sent`) or dropped (132015), and pauses escalate
    /// PAUSED → APPROVED → PAUSED → APPROVED → DISABLED without skipping a step.
    #[test]
    fn held_messages_end_once_and_pauses_escalate_in_order(
        threshold in 0..4u32,
        negative in (0..3u32, 1..4u32),
        rounds in prop::collection::vec((0..6usize, prop::bool::ANY, prop::bool::ANY), 1..6),
    ) {
        let mut world = world_with(&format!("[policy]\npacing_threshold = {threshold}\n"));
        let mut log = Vec::new();
        log.extend(control(&mut world, SimTime::ZERO, "spring_sale", TemplateControl::Quality(Quality::Yellow)));
        let ratio = format!("{}/{}", negative.0.min(negative.1), negative.1);
        log.extend(control(&mut world, SimTime::ZERO, "spring_sale", TemplateControl::Negative(ratio.parse().expect("ratio"))));
        let mut now = SimTime::ZERO;
        let mut held = Vec::new();
        for (sends, red, unpause) in rounds {
            for to in PEOPLE.iter().take(sends) {
                if let Ok(Reply::Sent { message_id, message_status: Some("held_for_quality_assessment"), .. }) = send_from(&mut world, now, US_NUMBER, template_body(to, "spring_sale")) {
                    let message_id = message_id.into_string();
                    held.push(message_id);
                }
            }
            if red {
                let outcome = world.apply(now, Command::TemplateControl { name: "spring_sale".to_owned(), control: TemplateControl::Quality(Quality::Red) });
                log.extend(outcome.effects);
            }
            now = now.plus_hours(10);
            log.extend(world.advance(now));
            if unpause {
                let id = world.templates()[0].id.clone();
                log.extend(world.apply(now, Command::UnpauseTemplate { credential: Some(TOKEN.into()), template_id: id.into() }).effects);
            }
        }
        log.extend(world.advance(now.plus_hours(100)));
        for id in &held {
            let seen = statuses(&world, id);
            let released = seen.contains(&StatusKind::Sent);
            let dropped = world.message(id).and_then(|m| m.failure_code) == Some(132_015);
            prop_assert!(released != dropped, "{} released={} dropped={} {:?}", id, released, dropped, seen);
        }
        let titles = pause_titles(&log);
        let mut pauses = 0;
        let mut paused = false;
        for title in &titles {
            match title.as_str() {
                "PAUSED" => { prop_assert!(!paused, "paused twice without an unpause: {:?}", titles); paused = true; pauses += 1; }
                "APPROVED" => { prop_assert!(paused, "unpaused while not paused: {:?}", titles); paused = false; }
                "DISABLED" => { prop_assert_eq!(pauses, 2, "disabled before the second pause: {:?}", titles); }
                other => prop_assert!(false, "unexpected {}", other),
            }
        }
        prop_assert!(pauses <= 2, "{:?}", titles);
    }
}

#[test]
fn review_rejects_by_the_seeded_ratio_and_deleting_drops_held_messages() {
    let mut world =
        world_with("[policy]\ntemplate_rejection_ratio = \"1/1\"\npacing_threshold = 0\n");
    let create = |world: &mut World, name: &str| {
        world.apply(
            SimTime::ZERO,
            Command::CreateTemplate {
                surface: wasim_sim::model::Surface::Graph,
                credential: Some(TOKEN.into()),
                waba_id: Some("100000000000001".into()),
                body: Ok(
                    json!({"name": name, "language": "en_US", "category": "MARKETING",
                    "components": [{"type": "BODY", "text": "Sale!"}]}),
                ),
            },
        )
    };
    assert!(matches!(
        create(&mut world, "flash_sale").reply,
        Ok(Reply::TemplateCreated(_))
    ));
    let effects = world.advance(SimTime::from_ms(300_000));
    let hooks = template_webhooks(&effects);
    assert_eq!(hooks[0].1["event"], "REJECTED");
    assert_eq!(hooks[0].1["reason"], "INCORRECT_CATEGORY");
    let reply = send_from(
        &mut world,
        hours(1),
        US_NUMBER,
        template_body(ANA_BR, "flash_sale"),
    );
    assert_eq!(rejected_code(&reply), Some(132_001));
    // A YELLOW template paced from its first send; deleting it drops what is held.
    control(
        &mut world,
        hours(1),
        "spring_sale",
        TemplateControl::Quality(Quality::Yellow),
    );
    let Ok(Reply::Sent {
        message_id,
        message_status,
        ..
    }) = send_from(
        &mut world,
        hours(1),
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    )
    else {
        panic!("sent");
    };
    assert_eq!(message_status, Some("held_for_quality_assessment"));
    let outcome = world.apply(
        hours(1),
        Command::DeleteTemplate {
            surface: wasim_sim::model::Surface::Graph,
            credential: Some(TOKEN.into()),
            waba_id: Some("100000000000001".into()),
            name: "spring_sale".to_owned(),
        },
    );
    assert_eq!(outcome.reply, Ok(Reply::Message("deleted".to_owned())));
    world.advance(hours(2));
    assert_eq!(
        world
            .message(message_id.as_str())
            .and_then(|m| m.failure_code),
        Some(132_001)
    );
}

#[test]
fn quality_follows_the_feedback_of_each_window_of_sent_messages() {
    let mut world = world_with("[policy]\nquality_window = 4\n");
    control(
        &mut world,
        SimTime::ZERO,
        "order_update",
        TemplateControl::Negative("1/1".parse().expect("ratio")),
    );
    let mut effects = Vec::new();
    for (i, to) in PEOPLE.iter().take(3).enumerate() {
        let outcome = world.apply(
            SimTime::from_ms(i as u64 * 10_000),
            Command::graph_send(TOKEN, US_NUMBER, &order_update(to)),
        );
        effects.extend(outcome.effects);
    }
    assert!(
        template_webhooks(&effects).is_empty(),
        "the window is not full yet"
    );
    // An undeliverable message draws no feedback (it is accepted, then fails).
    accepted(
        &mut world,
        SimTime::from_ms(40_000),
        US_NUMBER,
        order_update("999131026"),
    );
    let outcome = world.apply(
        SimTime::from_ms(50_000),
        Command::graph_send(TOKEN, US_NUMBER, &order_update(PEOPLE[3])),
    );
    let hooks = template_webhooks(&outcome.effects);
    assert_eq!(
        hooks[0].1["new_quality_score"], "RED",
        "4 of 4 reacted badly"
    );
    assert_eq!(hooks[1].1["event"], "PAUSED");
    // With no bad reactions quality stays GREEN: no webhook at all.
    let mut world = world_with("[policy]\nquality_window = 2\n");
    control(
        &mut world,
        SimTime::ZERO,
        "order_update",
        TemplateControl::Negative("0/1".parse().expect("ratio")),
    );
    for to in PEOPLE.iter().take(4) {
        let outcome = world.apply(
            SimTime::ZERO,
            Command::graph_send(TOKEN, US_NUMBER, &order_update(to)),
        );
        assert!(template_webhooks(&outcome.effects).is_empty());
    }
}

/// Every template webhook the model sends, in one snapshot: quality updates,
/// FIRST_PAUSE, UNPAUSE, SECOND_PAUSE, DISABLED (with disable_info), a review's
/// APPROVED and a DELETED (reason null), compared with Meta's shapes
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update>,
/// <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_quality_update>)
/// when the snapshot was reviewed.
#[test]
fn every_template_webhook_payload_matches_its_snapshot() {
    let mut world = world();
    let mut effects = Vec::new();
    let red = TemplateControl::Quality(Quality::Red);
    effects.extend(control(&mut world, SimTime::ZERO, "spring_sale", red));
    effects.extend(world.advance(hours(3)));
    effects.extend(control(&mut world, hours(4), "spring_sale", red));
    effects.extend(world.advance(hours(10)));
    effects.extend(control(&mut world, hours(11), "spring_sale", red));
    let create = world.apply(
        hours(12),
        Command::CreateTemplate {
            surface: wasim_sim::model::Surface::Graph,
            credential: Some(TOKEN.into()),
            waba_id: Some("100000000000001".into()),
            body: Ok(
                json!({"name": "flash_sale", "language": "en_US", "category": "MARKETING",
                "components": [{"type": "BODY", "text": "Sale ends {{1}}", "example": {"body_text": [["Sunday"]]}}]}),
            ),
        },
    );
    effects.extend(create.effects);
    effects.extend(world.advance(hours(13)));
    let delete = world.apply(
        hours(14),
        Command::DeleteTemplate {
            surface: wasim_sim::model::Surface::Graph,
            credential: Some(TOKEN.into()),
            waba_id: Some("100000000000001".into()),
            name: "flash_sale".to_owned(),
        },
    );
    effects.extend(delete.effects);
    let bodies: Vec<Value> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Webhook(d) if d.field.starts_with("message_template") => {
                Some(d.body.to_value())
            }
            _ => None,
        })
        .collect();
    insta::assert_snapshot!(
        "template_webhooks",
        serde_json::to_string_pretty(&bodies).expect("JSON")
    );
}
