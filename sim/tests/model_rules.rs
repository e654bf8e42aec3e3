//! Each send-time platform rule, tested against the pure model: every test fails if
//! its rule is removed.

mod support;

use support::model::*;
use wasim_sim::model::partner::{PartnerCall, PartnerCredential};
use wasim_sim::model::{Command, Refusal, Reply, SimTime, StatusKind};
use wasim_sim::trace::TraceEvent;

#[test]
fn marketing_to_a_user_capped_by_other_businesses_fails_with_131049_after_a_200() {
    let mut world = world();
    ecosystem(&mut world, T0, PRIYA_IN, 2);
    let id = marketing(&mut world, T0, US_NUMBER, PRIYA_IN);
    assert_eq!(outcome(&mut world, hours(1), &id), Some(131_049));
    assert_eq!(statuses(&world, &id), vec![StatusKind::Failed]);
}

#[test]
fn marketing_below_the_cap_is_delivered_and_counted() {
    let mut world = world();
    ecosystem(&mut world, T0, PRIYA_IN, 1);
    let id = marketing(&mut world, T0, US_NUMBER, PRIYA_IN);
    assert_eq!(outcome(&mut world, hours(1), &id), None);
    assert_eq!(world.marketing_in_window(PRIYA_IN, hours(1)), 2);
}

#[test]
fn the_cap_window_rolls_over_so_a_user_can_be_reached_again_a_day_later() {
    let mut world = world();
    ecosystem(&mut world, T0, PRIYA_IN, 2);
    let capped = marketing(&mut world, T0, US_NUMBER, PRIYA_IN);
    assert_eq!(outcome(&mut world, hours(1), &capped), Some(131_049));
    let later = marketing(&mut world, hours(25), US_NUMBER, PRIYA_IN);
    assert_eq!(outcome(&mut world, hours(26), &later), None);
}

#[test]
fn in_2024_05_an_open_marketing_conversation_exempts_further_marketing() {
    let mut world = world();
    ecosystem(&mut world, T0, ANA_BR, 1);
    let first = marketing(&mut world, T0, US_NUMBER, ANA_BR);
    // Window now holds 2 = cap, but the conversation the first opened is still open.
    let second = marketing(&mut world, hours(2), US_NUMBER, ANA_BR);
    assert_eq!(outcome(&mut world, hours(3), &first), None);
    assert_eq!(outcome(&mut world, hours(3), &second), None);
    assert_eq!(
        world.marketing_in_window(ANA_BR, hours(3)),
        2,
        "the exempt message must not count"
    );
}

#[test]
fn in_2025_07_every_marketing_message_counts_so_the_second_is_capped() {
    let mut world = world_with("[policy]\nprofile = \"2025-07\"\n");
    ecosystem(&mut world, T0, ANA_BR, 1);
    let first = marketing(&mut world, T0, US_NUMBER, ANA_BR);
    let second = marketing(&mut world, hours(2), US_NUMBER, ANA_BR);
    assert_eq!(outcome(&mut world, hours(3), &first), None);
    assert_eq!(outcome(&mut world, hours(3), &second), Some(131_049));
}

#[test]
fn in_2025_07_a_reply_to_marketing_opens_a_window_where_marketing_does_not_count() {
    let mut world = world_with("[policy]\nprofile = \"2025-07\"\n");
    ecosystem(&mut world, T0, ANA_BR, 1);
    let first = marketing(&mut world, T0, US_NUMBER, ANA_BR);
    assert_eq!(outcome(&mut world, hours(1), &first), None);
    inbound(&mut world, hours(1), ANA_BR);
    let inside = marketing(&mut world, hours(2), US_NUMBER, ANA_BR);
    assert_eq!(outcome(&mut world, hours(3), &inside), None);
    assert_eq!(world.marketing_in_window(ANA_BR, hours(3)), 2);
}

#[test]
fn users_and_numbers_in_the_eea_uk_japan_and_korea_are_exempt_from_the_limit() {
    let mut world = world();
    ecosystem(&mut world, T0, LENA_DE, 10);
    let to_germany = marketing(&mut world, T0, US_NUMBER, LENA_DE);
    ecosystem(&mut world, T0, PRIYA_IN, 10);
    // Turkey first: once the German number's message opens a marketing conversation
    // with this business, further marketing would be exempt in 2024-05.
    let from_turkey = marketing(&mut world, T0, TR_NUMBER, PRIYA_IN);
    let from_germany = marketing(&mut world, T0, DE_NUMBER, PRIYA_IN);
    world.advance(hours(1));
    assert_eq!(
        world.message(&to_germany).expect("exists").failure_code,
        None
    );
    assert_eq!(
        world.message(&from_germany).expect("exists").failure_code,
        None
    );
    assert_eq!(
        world.message(&from_turkey).expect("exists").failure_code,
        Some(131_049)
    );
}

#[test]
fn repeated_retries_to_a_capped_user_block_that_user_beyond_the_window() {
    let mut world = world();
    ecosystem(&mut world, T0, PRIYA_IN, 2);
    let mut blocked = false;
    for hour in 0..3 {
        let outcome = world.apply(
            hours(hour),
            Command::graph_send(TOKEN, US_NUMBER, &template_body(PRIYA_IN, "spring_sale")),
        );
        blocked |= outcome.effects.iter().any(|effect| {
            matches!(
                effect,
                wasim_sim::model::Effect::Trace {
                    event: TraceEvent::RecipientBlocked { .. },
                    ..
                }
            )
        });
    }
    assert!(blocked, "three failures within 24 h must block the user");
    // At hour 25 the ecosystem messages have left the window, but the block (from hour 2) holds.
    let during_block = marketing(&mut world, hours(25), US_NUMBER, PRIYA_IN);
    assert_eq!(
        outcome(&mut world, hours(25).plus_ms(60_000), &during_block),
        Some(131_049)
    );
    // Another user is not affected.
    let other = marketing(&mut world, hours(25), US_NUMBER, ANA_BR);
    assert_eq!(outcome(&mut world, hours(26), &other), None);
    let after_block = marketing(&mut world, hours(27), US_NUMBER, PRIYA_IN);
    assert_eq!(outcome(&mut world, hours(28), &after_block), None);
}

#[test]
fn without_enough_retries_there_is_no_block() {
    let mut world = world();
    ecosystem(&mut world, T0, PRIYA_IN, 2);
    for hour in 0..2 {
        let id = marketing(&mut world, hours(hour), US_NUMBER, PRIYA_IN);
        assert_eq!(
            outcome(&mut world, hours(hour).plus_ms(60_000), &id),
            Some(131_049)
        );
    }
    let next_day = marketing(&mut world, hours(25), US_NUMBER, PRIYA_IN);
    assert_eq!(outcome(&mut world, hours(26), &next_day), None);
}

#[test]
fn the_us_marketing_pause_applies_from_the_2025_profiles_only() {
    let mut paused = world_with("[policy]\nprofile = \"2025-07\"\n");
    let id = marketing(&mut paused, T0, US_NUMBER, SAM_US);
    assert_eq!(outcome(&mut paused, hours(1), &id), Some(131_049));
    let utility = accepted(
        &mut paused,
        T0,
        US_NUMBER,
        serde_json::json!({"messaging_product": "whatsapp", "to": SAM_US, "type": "template",
            "template": {"name": "order_update", "language": {"code": "en_US"},
              "components": [{"type": "body", "parameters": [{"type": "text", "text": "A1"}]}]}}),
    );
    assert_eq!(
        outcome(&mut paused, hours(1), &utility),
        None,
        "only marketing is paused"
    );
    let mut before = world();
    let id = marketing(&mut before, T0, US_NUMBER, SAM_US);
    assert_eq!(outcome(&mut before, hours(1), &id), None);
}

#[test]
fn a_user_who_stopped_marketing_gets_131050() {
    let mut world = world_with(
        "[recipients]\ncount = 0\n[[recipients.named]]\nwa_id = \"5511900000001\"\nopted_out = true\n",
    );
    let id = marketing(&mut world, T0, US_NUMBER, "5511900000001");
    assert_eq!(outcome(&mut world, hours(1), &id), Some(131_050));
}

#[test]
fn free_form_text_needs_an_open_customer_service_window() {
    let mut world = world();
    let outside = accepted(&mut world, T0, US_NUMBER, text_body(ANA_BR, "hi"));
    assert_eq!(outcome(&mut world, hours(1), &outside), Some(131_047));
    inbound(&mut world, hours(1), ANA_BR);
    let inside = accepted(&mut world, hours(2), US_NUMBER, text_body(ANA_BR, "hi"));
    assert_eq!(outcome(&mut world, hours(3), &inside), None);
    let expired = accepted(&mut world, hours(26), US_NUMBER, text_body(ANA_BR, "hi"));
    assert_eq!(outcome(&mut world, hours(27), &expired), Some(131_047));
}

#[test]
fn the_sync_reengagement_surface_rejects_at_once() {
    let mut world = world_with("[policy]\nreengagement_surface = \"sync\"\n");
    let code = rejected_code(send_from(
        &mut world,
        T0,
        US_NUMBER,
        text_body(ANA_BR, "hi"),
    ));
    assert_eq!(code, 131_047);
}

#[test]
fn throughput_above_80_messages_per_second_gets_130429_until_time_passes() {
    let mut world = world();
    let recipients: Vec<String> = world.recipients().take(81).map(|r| r.wa_id()).collect();
    for to in &recipients[..80] {
        accepted(&mut world, T0, US_NUMBER, template_body(to, "spring_sale"));
    }
    let over = send_from(
        &mut world,
        T0,
        US_NUMBER,
        template_body(&recipients[80], "spring_sale"),
    );
    assert_eq!(rejected_code(over), 130_429);
    // Another number has its own throughput.
    accepted(
        &mut world,
        T0,
        TR_NUMBER,
        template_body(&recipients[80], "spring_sale"),
    );
    accepted(
        &mut world,
        SimTime::from_ms(1_000),
        US_NUMBER,
        template_body(&recipients[79], "spring_sale"),
    );
}

#[test]
fn the_pair_rate_limit_allows_a_burst_of_45_then_one_per_6_seconds() {
    let mut world = world();
    for _ in 0..45 {
        accepted(
            &mut world,
            T0,
            US_NUMBER,
            template_body(ANA_BR, "spring_sale"),
        );
    }
    let to_ana = |ms: u64, world: &mut wasim_sim::World| {
        send_from(
            world,
            SimTime::from_ms(ms),
            US_NUMBER,
            template_body(ANA_BR, "spring_sale"),
        )
    };
    assert_eq!(rejected_code(to_ana(1, &mut world)), 131_056);
    accepted(
        &mut world,
        SimTime::from_ms(1),
        US_NUMBER,
        template_body(PRIYA_IN, "spring_sale"),
    );
    // Then one per 6 seconds: not a millisecond earlier.
    assert_eq!(rejected_code(to_ana(5_999, &mut world)), 131_056);
    accepted(
        &mut world,
        SimTime::from_ms(6_000),
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    );
    assert_eq!(rejected_code(to_ana(11_999, &mut world)), 131_056);
    accepted(
        &mut world,
        SimTime::from_ms(12_000),
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    );
}

#[test]
fn the_messaging_limit_caps_unique_users_reached_outside_a_window_per_day() {
    let mut world = world_with("[waba]\nmessaging_limit = 2\n");
    let first = marketing(&mut world, T0, US_NUMBER, ANA_BR);
    let second = marketing(&mut world, T0, US_NUMBER, PRIYA_IN);
    let again = marketing(&mut world, T0, US_NUMBER, ANA_BR);
    let third = marketing(&mut world, T0, US_NUMBER, SAM_US);
    world.advance(hours(1));
    for id in [&first, &second, &again] {
        assert_eq!(world.message(id).expect("exists").failure_code, None);
    }
    assert_eq!(
        world.message(&third).expect("exists").failure_code,
        Some(131_048)
    );
    let next_day = marketing(&mut world, hours(25), US_NUMBER, SAM_US);
    assert_eq!(outcome(&mut world, hours(26), &next_day), None);
}

#[test]
fn magic_recipients_produce_their_documented_outcome() {
    let mut world = world();
    let cases = [
        ("999131026", 131_026),
        ("999131047", 131_047),
        ("999131049", 131_049),
        ("999131050", 131_050),
    ];
    for (hour, (wa_id, code)) in (0u64..).zip(cases) {
        let id = marketing(&mut world, hours(hour), US_NUMBER, wa_id);
        assert_eq!(
            outcome(&mut world, hours(hour + 1), &id),
            Some(code),
            "{wa_id}"
        );
    }
    assert_eq!(
        rejected_code(send_from(
            &mut world,
            hours(5),
            US_NUMBER,
            template_body("999130429", "spring_sale")
        )),
        130_429
    );
    assert_eq!(
        rejected_code(send_from(
            &mut world,
            hours(5),
            US_NUMBER,
            template_body("999131056", "spring_sale")
        )),
        131_056
    );
    let read = marketing(&mut world, hours(5), US_NUMBER, "999000000");
    let unread = marketing(&mut world, hours(5), US_NUMBER, "999000001");
    let at_once = marketing(&mut world, hours(5), US_NUMBER, "999000002");
    let sent_only = marketing(&mut world, hours(5), US_NUMBER, "999000003");
    world.advance(hours(6));
    assert_eq!(
        statuses(&world, &read),
        vec![StatusKind::Sent, StatusKind::Delivered, StatusKind::Read]
    );
    assert_eq!(
        statuses(&world, &unread),
        vec![StatusKind::Sent, StatusKind::Delivered]
    );
    assert_eq!(
        statuses(&world, &at_once),
        vec![StatusKind::Sent, StatusKind::Read]
    );
    assert_eq!(statuses(&world, &sent_only), vec![StatusKind::Sent]);
}

#[test]
fn numbers_the_world_does_not_know_are_undeliverable() {
    let mut world = world();
    let id = marketing(&mut world, T0, US_NUMBER, "5511900000999");
    assert_eq!(outcome(&mut world, hours(1), &id), Some(131_026));
}

#[test]
fn turkish_users_who_have_not_accepted_the_terms_only_ever_show_sent() {
    let mut world = world();
    let waiting: Vec<String> = world
        .recipients()
        .filter(|r| r.country() == "TR" && !r.terms_accepted() && !r.opted_out())
        .take(1)
        .map(|r| r.wa_id())
        .collect();
    let to = waiting
        .first()
        .expect("the default world has Turkish users who have not accepted the terms");
    let id = accepted(
        &mut world,
        T0,
        DE_NUMBER,
        serde_json::json!({"messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": "login_code", "language": {"code": "en_US"},
              "components": [{"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
                             {"type": "button", "sub_type": "url", "index": "0",
                              "parameters": [{"type": "text", "text": "123456"}]}]}}),
    );
    world.advance(hours(2));
    assert_eq!(statuses(&world, &id), vec![StatusKind::Sent]);
}

#[test]
fn statuses_arrive_in_lifecycle_order_on_seeded_timers() {
    let mut world = world();
    let ids: Vec<String> = (0..40)
        .map(|i| {
            let to = world
                .recipients()
                .filter(|r| r.country() == "IN" && !r.opted_out())
                .nth(i)
                .expect("enough")
                .wa_id()
                .clone();
            accepted(&mut world, T0, DE_NUMBER, template_body(&to, "spring_sale"))
        })
        .collect();
    world.advance(hours(2));
    let mut skipped_delivered = 0;
    for id in &ids {
        let message = world.message(id).expect("exists");
        let times: Vec<SimTime> = message.statuses.iter().map(|(t, _)| *t).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "statuses out of time order: {times:?}"
        );
        let kinds = statuses(&world, id);
        assert_eq!(kinds[0], StatusKind::Sent);
        if kinds == vec![StatusKind::Sent, StatusKind::Read] {
            skipped_delivered += 1;
        }
    }
    assert!(
        skipped_delivered > 0,
        "with read_with_delivery_ratio 1/5 some reads skip delivered"
    );
}

#[test]
fn status_webhooks_carry_conversation_and_pricing_once_per_profile() {
    let mut world = world();
    let id = marketing(&mut world, T0, US_NUMBER, "999000000");
    let effects = world.advance(hours(1));
    let statuses: Vec<serde_json::Value> = effects
        .iter()
        .filter_map(|effect| match effect {
            wasim_sim::model::Effect::Webhook(delivery) => Some(
                delivery.body.to_value()["entry"][0]["changes"][0]["value"]["statuses"][0].clone(),
            ),
            _ => None,
        })
        .filter(|status| status["id"] == id.as_str())
        .collect();
    assert_eq!(statuses.len(), 3);
    assert_eq!(statuses[0]["status"], "sent");
    assert_eq!(statuses[0]["pricing"]["pricing_model"], "CBP");
    assert_eq!(statuses[0]["conversation"]["origin"]["type"], "marketing");
    assert!(statuses[0]["conversation"]["expiration_timestamp"].is_string());
    assert!(
        statuses[1]["pricing"].is_object(),
        "delivered carries pricing"
    );
    assert!(statuses[1]["conversation"]["expiration_timestamp"].is_null());
    assert!(
        statuses[2]["pricing"].is_null(),
        "read must not repeat pricing shown on delivered"
    );
    assert!(statuses[0]["timestamp"].is_string());

    let mut pmp = world_with("[policy]\nprofile = \"2025-07\"\n");
    inbound(&mut pmp, T0, ANA_BR);
    let reply = accepted(&mut pmp, T0, US_NUMBER, text_body(ANA_BR, "thanks"));
    let effects = pmp.advance(hours(1));
    let sent = effects
        .iter()
        .find_map(|effect| match effect {
            wasim_sim::model::Effect::Webhook(delivery) => {
                let status =
                    &delivery.body.to_value()["entry"][0]["changes"][0]["value"]["statuses"][0];
                (status["id"] == reply.as_str() && status["status"] == "sent")
                    .then(|| status.clone())
            }
            _ => None,
        })
        .expect("a sent webhook");
    assert_eq!(sent["pricing"]["pricing_model"], "PMP");
    assert_eq!(sent["pricing"]["type"], "free_customer_service");
    assert_eq!(sent["pricing"]["billable"], false);
}

#[test]
fn failed_statuses_carry_meta_error_objects() {
    let mut world = world();
    let id = marketing(&mut world, T0, US_NUMBER, "999131049");
    let effects = world.advance(hours(1));
    let failed = status_webhook(&effects, &id).expect("a failed webhook");
    assert_eq!(failed["status"], "failed");
    let error = &failed["errors"][0];
    assert_eq!(error["code"], 131_049);
    assert_eq!(error["title"], support::TITLE_131049);
    assert_eq!(error["message"], error["title"]);
    assert!(
        error["error_data"]["details"]
            .as_str()
            .is_some_and(|d| d.contains("healthy ecosystem"))
    );
    assert!(error["href"].is_string());
    assert!(failed["pricing"].is_null());
}

#[test]
fn a_revoked_or_wrong_360dialog_key_is_unauthorized() {
    fn send(world: &mut wasim_sim::World, key: &str) -> Result<Reply, Refusal> {
        world
            .apply(
                T0,
                Command::d360_send(key, &template_body(ANA_BR, "spring_sale")),
            )
            .reply
    }
    let mut world = world();
    let current = "wasim_test_d360_key_us";
    let reply = send(&mut world, current);
    assert!(
        matches!(reply, Ok(Reply::Sent { .. })),
        "the current key sends: {reply:?}"
    );
    // Generating a new key for the channel revokes the one before it.
    let created = world
        .apply(
            T0,
            Command::PartnerCall {
                credential: Some(PartnerCredential::ApiKey(
                    "wasim_test_partner_api_key".into(),
                )),
                partner_id: "wasimPA".into(),
                call: Ok(PartnerCall::CreateKey {
                    channel_id: "wasimCH01".into(),
                }),
            },
        )
        .reply;
    assert!(created.is_ok(), "a new key: {created:?}");
    for (key, what) in [(current, "revoked"), ("not-a-key", "wrong")] {
        let reply = send(&mut world, key);
        assert!(
            matches!(reply, Err(Refusal::Unauthorized(_))),
            "a {what} key: {reply:?}"
        );
    }
}
