//! The account's standing and what changes it: 360dialog's template block, Meta's
//! restrictions, bans and violations, and messaging tiers; and the control API's
//! `/_wasim/account`, which plays them.
//!
//! Model rules are driven through `World::apply`/`World::advance` (webhooks observed
//! as `Effect::Webhook`); wire shapes through the router, in process.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::http::{
    account_incident, control_get, d360_post, send, start, start_with, trace, traced,
};
use support::model::*;
use support::{EPOCH, SPRING_SALE, template};
use wasim_sim::Outcome;
use wasim_sim::model::partner::{Page, PartnerCall};
use wasim_sim::model::{Command, Destination, Effect, Incident, Refusal, Reply, SimTime, World};
use wasim_sim::trace::TraceEvent;

/// Where the partner's webhooks go in [`partner_world`].
const PARTNER_URL: &str = "http://partner.test/hook";

const BLOCKED_BODY: &str =
    r#"{"meta":{"success":false,"http_code":403,"developer_message":"The endpoint is blocked"}}"#;

/// A world (webhooks to [`RECEIVER_URL`]) whose partner events go to [`PARTNER_URL`];
/// `before` is world-file text put ahead of the `[partner]` table.
fn partner_world(before: &str) -> World {
    world_with(&format!(
        "{before}\n[partner]\nwebhook_url = \"{PARTNER_URL}\"\n"
    ))
}

/// The restriction on business-initiated messaging.
const BIZ_INITIATED: &str = "RESTRICTED_BIZ_INITIATED_MESSAGING";

/// A restriction of `kind` for `hours`.
fn restrict(kind: &str, hours: u64) -> Incident {
    Incident::Restrict {
        restriction_type: kind.to_owned(),
        hours,
    }
}

/// The bodies of the partner events `event` among `effects`, each checked to go to
/// the partner webhook URL and to name its event.
fn partner_events(effects: &[Effect], event: &str) -> Vec<Value> {
    let partner = Destination::Partner {
        url: PARTNER_URL.to_owned(),
    };
    let bodies = bodies_to(effects, event, &partner);
    for body in &bodies {
        assert_eq!(body["event"], event, "{body}");
    }
    bodies
}

/// The default world's numbers as displayed, in order.
const DISPLAY_NUMBERS: [&str; 3] = ["15550100001", "4930901820", "902125550101"];

/// The string under `key` in each of `values`, in order.
fn strings<'a>(values: &'a [Value], key: &str) -> Vec<&'a str> {
    values.iter().filter_map(|v| v[key].as_str()).collect()
}

/// The answer to a Cloud API `spring_sale` send from the US number to `to`.
fn spring_sale(world: &mut World, at: SimTime, to: &str) -> Result<Reply, Refusal> {
    send_from(world, at, US_NUMBER, template_body(to, "spring_sale"))
}

/// The answer to a Cloud API text "hi" from the US number to `to`.
fn hi(world: &mut World, at: SimTime, to: &str) -> Result<Reply, Refusal> {
    send_from(world, at, US_NUMBER, text_body(to, "hi"))
}

/// 360dialog's refusal of a blocked endpoint, with `http_status` and `message`.
fn endpoint_blocked(http_status: u16, message: &str) -> Result<Reply, Refusal> {
    let message = message.to_owned();
    Err(Refusal::Blocked {
        http_status,
        message,
    })
}

/// A send on 360dialog's surface with `key`.
fn d360_send(world: &mut World, at: SimTime, key: &str, body: Value) -> Outcome {
    world.apply(at, Command::d360_send(key, &body))
}

fn compliance(world: &mut World, at: SimTime) -> Value {
    partner(
        world,
        at,
        PartnerCall::Compliance {
            waba_id: WABA.into(),
        },
    )
    .1
}

#[test]
fn disabling_templates_emits_a_partner_event_per_channel_and_blocks_only_360dialog_templates() {
    let mut world = partner_world("");
    inbound(&mut world, T0, ANA_BR);
    let effects = incident(&mut world, T0, Incident::DisableTemplates);
    let disabled = partner_events(&effects, "template_messaging_disabled");
    let channels: Vec<&str> = disabled
        .iter()
        .filter_map(|e| e["data"]["id"].as_str())
        .collect();
    assert_eq!(
        channels,
        ["wasimCH01", "wasimCH02", "wasimCH03"],
        "{disabled:?}"
    );
    for event in &disabled {
        assert_eq!(event["created_at"], "2024-06-03T09:00:00Z", "{event}");
        assert_eq!(
            event["data"]["waba_account"]["template_messaging"], "disabled",
            "{event}"
        );
        assert!(event["data"]["phone_number"].is_string(), "{event}");
    }
    let ids: Vec<&str> = disabled.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2],
        "event ids are unique: {ids:?}"
    );
    assert!(
        events(&effects).iter().any(|e| matches!(
            e,
            TraceEvent::AccountIncident { incident, .. } if incident == "disable_templates"
        )),
        "the incident is traced"
    );

    // A 360dialog template send is blocked by 360dialog, and traced as such.
    let blocked = d360_send(
        &mut world,
        T0,
        US_KEY,
        template_body(PRIYA_IN, "spring_sale"),
    );
    assert_eq!(
        blocked.reply,
        endpoint_blocked(403, "The endpoint is blocked")
    );
    let traced: Vec<&TraceEvent> = events(&blocked.effects);
    assert!(
        traced.iter().any(|e| matches!(
            e,
            TraceEvent::SendBlocked { surface, phone_number_id, to, message_type, http_status: 403, .. }
                if *surface == "d360" && phone_number_id == US_NUMBER
                    && to.as_deref() == Some(PRIYA_IN) && *message_type == "template"
        )),
        "{traced:?}"
    );
    assert!(
        !traced
            .iter()
            .any(|e| matches!(e, TraceEvent::MessageAccepted { .. })),
        "{traced:?}"
    );
    // Free-form text inside the service window still goes.
    let text = d360_send(&mut world, T0, US_KEY, text_body(ANA_BR, "still here"));
    assert!(is_sent(&text.reply), "{:?}", text.reply);
    // The Cloud API is not 360dialog: a Graph template send is not blocked.
    assert!(is_sent(&spring_sale(&mut world, T0, PRIYA_IN)));
    assert_eq!(compliance(&mut world, T0)["template_messaging"], "disabled");

    let effects = incident(&mut world, hours(1), Incident::EnableTemplates);
    let enabled = partner_events(&effects, "template_messaging_enabled");
    assert_eq!(enabled.len(), 3, "{enabled:?}");
    assert_eq!(
        enabled[0]["data"]["waba_account"]["template_messaging"],
        "enabled"
    );
    let again = d360_send(
        &mut world,
        hours(1),
        US_KEY,
        template_body(PRIYA_IN, "spring_sale"),
    );
    assert!(is_sent(&again.reply), "{:?}", again.reply);
    assert_eq!(
        compliance(&mut world, hours(1))["template_messaging"],
        "enabled"
    );
}

#[test]
fn with_template_block_free_form_text_is_blocked_too() {
    let mut world = partner_world("[policy]\ntemplate_block_free_form = true\n");
    inbound(&mut world, T0, ANA_BR);
    incident(&mut world, T0, Incident::DisableTemplates);
    let text = d360_send(&mut world, T0, US_KEY, text_body(ANA_BR, "hello"));
    assert_eq!(text.reply, endpoint_blocked(403, "The endpoint is blocked"));
    assert!(events(&text.effects).iter().any(|e| matches!(
        e,
        TraceEvent::SendBlocked { message_type, .. } if *message_type == "text"
    )));
    // Without the override the same text goes (the default is false).
    let mut default = partner_world("");
    inbound(&mut default, T0, ANA_BR);
    incident(&mut default, T0, Incident::DisableTemplates);
    assert!(is_sent(
        &d360_send(&mut default, T0, US_KEY, text_body(ANA_BR, "hello")).reply
    ));
}

#[test]
fn template_block_http_status_and_message_change_the_answer() {
    let mut world = partner_world(
        "[policy]\ntemplate_block_http_status = 400\ntemplate_block_message = \"Your WhatsApp for Business API has been disabled\"\n",
    );
    incident(&mut world, T0, Incident::DisableTemplates);
    let blocked = d360_send(&mut world, T0, US_KEY, template_body(ANA_BR, "spring_sale"));
    assert_eq!(
        blocked.reply,
        endpoint_blocked(400, "Your WhatsApp for Business API has been disabled")
    );
    assert!(events(&blocked.effects).iter().any(|e| matches!(
        e,
        TraceEvent::SendBlocked {
            http_status: 400,
            ..
        }
    )));
}

#[tokio::test]
async fn a_blocked_360dialog_template_send_answers_in_360dialogs_shape_over_http() {
    let disable = json!({"incident": "disable_templates"});
    let state = start();
    let answer = account_incident(&state, &disable).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let blocked = d360_post(&state, Some(US_KEY), &template(ANA_BR, SPRING_SALE)).await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN);
    assert_eq!(blocked.text(), BLOCKED_BODY);
    // On Graph the same template goes.
    let graph = send(&state, &template(ANA_BR, SPRING_SALE)).await;
    assert_eq!(graph.status, StatusCode::OK, "{}", graph.text());
    let (_, records) = trace(&state).await;
    let blocked: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "send_blocked")
        .collect();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0]["http_status"], 403);
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "request" && r["surface"] == "d360" && r["http_status"] == 403),
        "the blocked request is recorded with its status"
    );

    let status_400 = start_with("[policy]\ntemplate_block_http_status = 400\n");
    let answer = account_incident(&status_400, &disable).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let blocked = d360_post(&status_400, Some(US_KEY), &template(ANA_BR, SPRING_SALE)).await;
    assert_eq!(blocked.status, StatusCode::BAD_REQUEST);
    assert_eq!(blocked.json()["meta"]["http_code"], 400);
    assert_eq!(
        blocked.json()["meta"]["developer_message"],
        "The endpoint is blocked"
    );
}

#[test]
fn a_restriction_refuses_templates_with_368_until_its_hours_pass() {
    let mut world = partner_world("");
    let effects = incident(&mut world, T0, restrict(BIZ_INITIATED, 24));
    let expiration = EPOCH + 24 * 3600;
    let updates = meta_values(&effects, "account_update");
    assert_eq!(updates.len(), 3, "one per number: {updates:?}");
    for value in &updates {
        assert_eq!(value["event"], "ACCOUNT_RESTRICTION", "{value}");
        assert_eq!(
            value["restriction_info"][0]["restriction_type"], "RESTRICTED_BIZ_INITIATED_MESSAGING",
            "{value}"
        );
        assert_eq!(
            value["restriction_info"][0]["expiration"], expiration,
            "{value}"
        );
    }
    let partner = partner_events(&effects, "account_restriction");
    assert_eq!(partner.len(), 3, "{partner:?}");
    assert_eq!(partner[0]["data"]["expiration"], expiration);
    assert_eq!(
        partner[0]["data"]["restriction_type"],
        "RESTRICTED_BIZ_INITIATED_MESSAGING"
    );
    let view = compliance(&mut world, T0);
    assert_eq!(
        view["restrictions"],
        json!([{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": expiration}])
    );

    let refused = spring_sale(&mut world, T0, ANA_BR);
    assert_eq!(refusal(&refused), (368, 403));
    let d360 = d360_send(&mut world, T0, US_KEY, template_body(ANA_BR, "spring_sale"));
    assert_eq!(refusal(&d360.reply), (368, 403));
    // Free-form outside a window is business-initiated too; inside one it goes.
    assert_eq!(refusal(&hi(&mut world, T0, ANA_BR)).0, 368);
    inbound(&mut world, T0, ANA_BR);
    assert!(is_sent(&hi(&mut world, T0, ANA_BR)));

    let almost = hours(24).minus_ms(1);
    world.advance(almost);
    assert_eq!(refusal(&spring_sale(&mut world, almost, PRIYA_IN)).0, 368);
    let effects = world.advance(hours(24));
    assert!(events(&effects).iter().any(|e| matches!(
        e,
        TraceEvent::AccountIncident { incident, .. } if incident == "restriction_lifted"
    )));
    assert!(is_sent(&spring_sale(&mut world, hours(24), PRIYA_IN)));
    assert_eq!(compliance(&mut world, hours(24))["restrictions"], json!([]));
}

#[test]
fn a_customer_initiated_restriction_refuses_replies_in_the_window_but_not_templates() {
    let mut world = world();
    inbound(&mut world, T0, ANA_BR);
    incident(
        &mut world,
        T0,
        restrict("RESTRICTED_CUSTOMER_INITIATED_MESSAGING", 2),
    );
    assert_eq!(refusal(&hi(&mut world, T0, ANA_BR)).0, 368);
    assert!(is_sent(&spring_sale(&mut world, T0, ANA_BR)));
    world.advance(hours(2));
    assert!(is_sent(&hi(&mut world, hours(2), ANA_BR)));
}

#[test]
fn a_second_restriction_replaces_the_first_and_its_expiry_counts() {
    let mut world = world();
    incident(&mut world, T0, restrict(BIZ_INITIATED, 2));
    incident(&mut world, hours(1), restrict(BIZ_INITIATED, 5));
    // The first restriction's end (hour 2) must not lift the second (until hour 6).
    world.advance(hours(3));
    assert_eq!(refusal(&spring_sale(&mut world, hours(3), ANA_BR)).0, 368);
    world.advance(hours(6));
    assert!(is_sent(&spring_sale(&mut world, hours(6), ANA_BR)));
}

#[test]
fn a_terminated_account_refuses_every_send_with_131031_until_reinstated() {
    let mut world = partner_world("");
    inbound(&mut world, T0, ANA_BR);
    let effects = incident(&mut world, hours(1), Incident::Terminate);
    let bans = meta_values(&effects, "account_update");
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0]["event"], "DISABLED_UPDATE");
    assert_eq!(bans[0]["ban_info"]["waba_ban_state"], "DISABLE");
    assert_eq!(bans[0]["ban_info"]["waba_ban_date"], "June 3, 2024");

    let at = hours(1);
    let refusals = [
        refusal(&spring_sale(&mut world, at, PRIYA_IN)),
        refusal(&send_from(&mut world, at, DE_NUMBER, order_update(LENA_DE))),
        refusal(&hi(&mut world, at, ANA_BR)),
        refusal(&d360_send(&mut world, at, US_KEY, text_body(ANA_BR, "hi")).reply),
        refusal(&d360_send(&mut world, at, US_KEY, template_body(ANA_BR, "spring_sale")).reply),
    ];
    assert!(
        refusals.iter().all(|r| *r == (131_031, 403)),
        "{refusals:?}"
    );

    let (_, listed) = partner(&mut world, at, channel_list("id", 20));
    let channels = listed["partner_channels"].as_array().expect("channels");
    assert_eq!(channels.len(), 3);
    for channel in channels {
        assert_eq!(channel["status"], "terminated", "{channel}");
        assert_eq!(
            channel["terminated_at"], "2024-06-03T10:00:00Z",
            "{channel}"
        );
    }
    let (_, filtered) = partner(
        &mut world,
        at,
        PartnerCall::ListChannels(Page {
            limit: 20,
            offset: 0,
            sort: "id".to_owned(),
            filters: json!({"status": "terminated"})
                .as_object()
                .expect("object")
                .clone(),
        }),
    );
    assert_eq!(filtered["total"], 3);
    assert_eq!(compliance(&mut world, at)["status"], "terminated");

    let effects = incident(&mut world, hours(2), Incident::Reinstate);
    let reinstated = meta_values(&effects, "account_update");
    assert_eq!(reinstated.len(), 1);
    assert_eq!(reinstated[0]["event"], "DISABLED_UPDATE");
    assert_eq!(reinstated[0]["ban_info"]["waba_ban_state"], "REINSTATE");
    assert!(is_sent(&spring_sale(&mut world, hours(2), PRIYA_IN)));
    assert!(is_sent(
        &d360_send(&mut world, hours(2), US_KEY, text_body(ANA_BR, "back")).reply
    ));
    let (_, listed) = partner(&mut world, hours(2), channel_list("id", 20));
    assert_eq!(listed["partner_channels"][0]["status"], "running");
    assert!(listed["partner_channels"][0]["terminated_at"].is_null());
    assert_eq!(compliance(&mut world, hours(2))["status"], "active");
}

#[test]
fn reinstating_also_ends_a_restriction_early() {
    let mut world = world();
    incident(&mut world, T0, restrict(BIZ_INITIATED, 48));
    incident(&mut world, hours(1), Incident::Terminate);
    incident(&mut world, hours(2), Incident::Reinstate);
    assert!(is_sent(&spring_sale(&mut world, hours(2), ANA_BR)));
}

#[test]
fn a_violation_emits_account_violation_updates_and_leaves_sends_alone() {
    let mut world = partner_world("");
    let spam = Incident::Violation {
        violation_type: "SPAM".to_owned(),
    };
    let effects = incident(&mut world, T0, spam);
    let updates = meta_values(&effects, "account_update");
    assert_eq!(strings(&updates, "phone_number"), DISPLAY_NUMBERS);
    for value in &updates {
        assert_eq!(value["event"], "ACCOUNT_VIOLATION", "{value}");
        assert_eq!(value["violation_info"]["violation_type"], "SPAM", "{value}");
    }
    let partner = partner_events(&effects, "account_violation");
    assert_eq!(partner.len(), 3);
    assert_eq!(partner[0]["data"]["violation_type"], "SPAM");
    assert!(is_sent(&spring_sale(&mut world, T0, ANA_BR)));
    assert!(is_sent(
        &d360_send(
            &mut world,
            T0,
            US_KEY,
            template_body(PRIYA_IN, "spring_sale")
        )
        .reply
    ));
    let view = compliance(&mut world, T0);
    assert_eq!(view["violations"], json!(["SPAM"]));
    assert_eq!(view["status"], "active");
}

#[test]
fn a_tier_change_emits_a_quality_update_per_number_and_one_capability_update() {
    let mut world = world();
    let effects = incident(&mut world, T0, tier("TIER_100K"));
    let updates = meta_values(&effects, "phone_number_quality_update");
    assert_eq!(strings(&updates, "display_phone_number"), DISPLAY_NUMBERS);
    for value in &updates {
        assert_eq!(value["event"], "UPGRADE", "{value}");
        assert_eq!(value["old_limit"], "TIER_10K", "{value}");
        assert_eq!(value["current_limit"], "TIER_100K", "{value}");
    }
    let capability = meta_values(&effects, "business_capability_update");
    assert_eq!(capability.len(), 1);
    assert_eq!(
        capability[0]["max_daily_conversations_per_business"],
        "TIER_100K"
    );
    let (_, listed) = partner(&mut world, T0, channel_list("id", 20));
    assert_eq!(listed["partner_channels"][0]["current_limit"], "TIER_100K");

    let effects = incident(&mut world, hours(1), tier("TIER_2K"));
    let updates = meta_values(&effects, "phone_number_quality_update");
    assert_eq!(updates.len(), 3);
    for value in &updates {
        assert_eq!(value["event"], "DOWNGRADE", "{value}");
        assert_eq!(value["old_limit"], "TIER_100K", "{value}");
        assert_eq!(value["current_limit"], "TIER_2K", "{value}");
    }
    assert_eq!(meta_values(&effects, "business_capability_update").len(), 1);
    assert_eq!(
        compliance(&mut world, hours(1))["messaging_limit"],
        "TIER_2K"
    );
}

#[test]
fn a_downgraded_tier_caps_unique_users_per_day() {
    let mut world = world();
    incident(&mut world, T0, tier("TIER_250"));
    let recipients: Vec<String> = world
        .recipients()
        .filter(|r| !r.opted_out() && r.country() != "TR")
        .take(251)
        .map(|r| r.wa_id())
        .collect();
    // 40 a second stays under the 80 messages per second throughput.
    let ids: Vec<String> = (0u64..)
        .zip(&recipients)
        .map(|(n, to)| {
            let at = SimTime::from_ms(1000 * (n / 40));
            accepted(&mut world, at, US_NUMBER, order_update(to))
        })
        .collect();
    world.advance(hours(1));
    let failed: Vec<Option<u32>> = ids
        .iter()
        .map(|id| world.message(id).expect("exists").failure_code)
        .collect();
    assert!(failed[..250].iter().all(Option::is_none), "{failed:?}");
    assert_eq!(failed[250], Some(131_048));
}

#[tokio::test]
async fn the_control_api_plays_incidents_and_shows_the_account() {
    let state = start();
    let nope = account_incident(&state, &json!({"incident": "nope"})).await;
    assert_eq!(nope.status, StatusCode::BAD_REQUEST, "{}", nope.text());
    let message = nope.json()["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    for name in Incident::NAMES {
        assert!(message.contains(name), "{name} missing from {message}");
    }
    for bad in [
        json!({"incident": "tier", "tier": "TIER_1K"}),
        json!({"incident": "terminate", "hours": 1}),
        json!({"incident": "restrict", "hours": 0}),
        json!({}),
        json!(["terminate"]),
    ] {
        let answer = account_incident(&state, &bad).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.text()
        );
        assert!(answer.json()["error"]["message"].is_string(), "{bad}");
    }
    for unknown in [
        json!({"incident": "compromise", "phone_number_id": "199999999999999"}),
        json!({"incident": "remove_partner_user", "email": "nobody@wasim.test"}),
    ] {
        let answer = account_incident(&state, &unknown).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
    }

    let restrict = json!({"incident": "restrict", "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "hours": 3});
    let played = account_incident(&state, &restrict).await;
    assert_eq!(played.status, StatusCode::OK, "{}", played.text());
    assert_eq!(played.json()["success"], true);
    assert!(played.json()["done"].is_string(), "{}", played.text());

    let account = control_get(&state, "/_wasim/account").await;
    assert_eq!(account.status, StatusCode::OK);
    let view = account.json();
    assert_eq!(view["waba_id"], WABA, "{view}");
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(
        view["restrictions"][0]["expiration"],
        EPOCH + 3 * 3600,
        "{view}"
    );
    // The restriction shows on the wire: Graph answers 368 with HTTP 403.
    let refused = send(&state, &template(ANA_BR, SPRING_SALE)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], 368);
    state.advance_by(3 * 3_600_000).await.expect("advance");
    let accepted = send(&state, &template(ANA_BR, SPRING_SALE)).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
    assert_eq!(
        control_get(&state, "/_wasim/account").await.json()["restrictions"],
        json!([])
    );
    let incidents = traced(&state, "account_incident", "incident").await;
    assert_eq!(incidents, ["restrict", "restriction_lifted"]);
}

#[tokio::test]
async fn the_valid_control_paths_name_the_account_path() {
    let state = start();
    let answer = control_get(&state, "/_wasim/nope").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let paths = answer.json()["error"]["valid_paths"].to_string();
    assert!(paths.contains("/_wasim/account"), "{paths}");
}
