//! The Marketing Messages API (`POST /{phone-number-id}/marketing_messages`): what
//! it takes, what it refuses, how its messages are priced, and the WABA setting
//! that closes Cloud API's `/messages` to marketing.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::http::{self, Client, assert_graph_error};
use support::model::{
    ANA_BR, T0, TOKEN, US_NUMBER, events, hours, inbound, meta_values, status_webhook,
    template_body, text_body, world, world_with,
};
use support::{ANA, US_PHONE, WABA, order_update, template, text};
use wasim_sim::model::spec::Category;
use wasim_sim::model::{Command, Reply, SendEndpoint, TemplateControl, World};
use wasim_sim::trace::TraceEvent;

/// The WABA setting `disable_marketing_messages_on_cloud_api`, in a world file.
const MARKETING_OFF: &str = "[waba]\nmarketing_on_cloud_api = false\n";

/// A `login_code` (authentication) send body, its code filled.
fn login_code(to: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
        "template": {"name": "login_code", "language": {"code": "en_US"},
          "components": [{"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
                         {"type": "button", "sub_type": "url", "index": "0",
                          "parameters": [{"type": "text", "text": "123456"}]}]}})
}

/// Sends `body` through `/marketing_messages` of the model: the reply and the
/// trace events.
fn marketing_send(
    world: &mut World,
    body: &Value,
) -> (Result<Reply, wasim_sim::model::Refusal>, Vec<TraceEvent>) {
    let outcome = world.apply(
        T0,
        Command::graph_send_to(SendEndpoint::MarketingMessages, TOKEN, US_NUMBER, body),
    );
    let traced = events(&outcome.effects).into_iter().cloned().collect();
    (outcome.reply, traced)
}

/// The pricing of the `sent` status webhook of the message `body` was accepted
/// as, sent through `/marketing_messages` (to a user who wrote first, so every
/// profile delivers it).
fn priced(world: &mut World, body: &Value) -> Value {
    inbound(world, T0, ANA_BR);
    let (reply, _) = marketing_send(world, body);
    let Ok(Reply::Sent { message_id, .. }) = reply else {
        panic!("not accepted: {reply:?}");
    };
    let effects = world.advance(hours(1));
    status_webhook(&effects, message_id.as_str()).expect("a status webhook")["pricing"].clone()
}

#[test]
fn a_marketing_template_is_accepted_with_its_message_status_and_traced_as_the_endpoint_s() {
    let mut world = world();
    let (reply, traced) = marketing_send(&mut world, &template_body(ANA_BR, "spring_sale"));
    assert!(
        matches!(
            reply,
            Ok(Reply::Sent {
                message_status: Some("accepted"),
                ..
            })
        ),
        "{reply:?}"
    );
    let surfaces: Vec<&str> = traced
        .iter()
        .filter_map(|event| match event {
            TraceEvent::MessageAccepted {
                surface, category, ..
            } => {
                assert_eq!(*category, "MARKETING");
                Some(*surface)
            }
            _ => None,
        })
        .collect();
    assert_eq!(surfaces, ["graph_marketing_messages"]);
}

#[test]
fn its_status_webhooks_are_priced_marketing_lite_under_per_message_pricing_only() {
    let body = template_body(ANA_BR, "spring_sale");
    let cases = [
        ("2025-07", "PMP", "marketing_lite"),
        ("2026-04", "PMP", "marketing_lite"),
        ("2024-05", "CBP", "marketing"),
    ];
    for (profile, model, category) in cases {
        let mut world = world_with(&format!("[policy]\nprofile = \"{profile}\"\n"));
        let pricing = priced(&mut world, &body);
        assert_eq!(pricing["pricing_model"], model, "{profile}: {pricing}");
        assert_eq!(pricing["category"], category, "{profile}: {pricing}");
        assert_eq!(pricing["billable"], true, "{profile}: {pricing}");
    }
    // The same template through `/messages` stays `marketing`.
    let mut world = world_with("[policy]\nprofile = \"2025-07\"\n");
    inbound(&mut world, T0, ANA_BR);
    let id = support::model::accepted(&mut world, T0, US_NUMBER, body);
    let effects = world.advance(hours(1));
    let status = status_webhook(&effects, &id).expect("a status webhook");
    assert_eq!(status["pricing"]["category"], "marketing", "{status}");
}

#[test]
fn what_is_not_a_marketing_template_is_refused_with_its_code_and_traced() {
    let cases = [
        ("a text", text_body(ANA_BR, "hi"), 100),
        (
            "a body with no type (read as text)",
            json!({"messaging_product": "whatsapp", "to": ANA_BR, "text": {"body": "hi"}}),
            100,
        ),
        ("a utility template", order_update(ANA_BR), 131_055),
        ("an authentication template", login_code(ANA_BR), 131_055),
    ];
    for (what, body, code) in cases {
        let mut world = world();
        let (reply, traced) = marketing_send(&mut world, &body);
        assert_eq!(
            support::model::refusal(&reply),
            (code, 400),
            "{what}: {reply:?}"
        );
        let rejected: Vec<(&str, u32)> = traced
            .iter()
            .filter_map(|event| match event {
                TraceEvent::MessageRejected { surface, code, .. } => Some((*surface, *code)),
                _ => None,
            })
            .collect();
        assert_eq!(rejected, [("graph_marketing_messages", code)], "{what}");
    }
}

#[tokio::test]
async fn the_graph_path_answers_as_meta_documents_it_with_and_without_its_version() {
    let state = http::start();
    let client = Client::bearer(&state, TOKEN);
    for path in [
        format!("/v23.0/{US_PHONE}/marketing_messages"),
        format!("/{US_PHONE}/marketing_messages"),
    ] {
        let answer = client.post(&path, &template(ANA, "spring_sale")).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text());
        let body = answer.json();
        assert_eq!(body["messaging_product"], "whatsapp", "{body}");
        assert_eq!(body["contacts"][0]["wa_id"], ANA, "{body}");
        assert_eq!(body["messages"][0]["message_status"], "accepted", "{body}");
    }
    let path = format!("/v23.0/{US_PHONE}/marketing_messages");
    let refused = client.post(&path, &text(ANA, "hi")).await;
    let error = assert_graph_error(&refused, StatusCode::BAD_REQUEST, 100);
    // Parameter errors speak as the live API does: the reason is the message.
    assert!(
        support::http::message(&error).contains("Only template messages"),
        "{error}"
    );
    let utility = client.post(&path, &order_update(ANA)).await;
    assert_graph_error(&utility, StatusCode::BAD_REQUEST, 131_055);
    let anonymous = Client::anonymous(&state)
        .post(&path, &template(ANA, "spring_sale"))
        .await;
    assert_graph_error(&anonymous, StatusCode::UNAUTHORIZED, 190);
}

#[test]
fn with_marketing_off_cloud_api_messages_refuses_marketing_with_131063_and_the_endpoint_sends_it() {
    let mut world = world_with(MARKETING_OFF);
    let on_messages = support::model::send_from(
        &mut world,
        T0,
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    );
    assert_eq!(support::model::refusal(&on_messages), (131_063, 400));
    // Other categories and free-form still go through `/messages`.
    inbound(&mut world, T0, ANA_BR);
    for body in [order_update(ANA_BR), text_body(ANA_BR, "hi")] {
        let reply = support::model::send_from(&mut world, T0, US_NUMBER, body.clone());
        assert!(support::model::is_sent(&reply), "{body}: {reply:?}");
    }
    let (reply, _) = marketing_send(&mut world, &template_body(ANA_BR, "spring_sale"));
    assert!(support::model::is_sent(&reply), "{reply:?}");
    // Without the setting, `/messages` sends marketing as before.
    let mut open = world_with("");
    let reply = support::model::send_from(
        &mut open,
        T0,
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    );
    assert!(support::model::is_sent(&reply), "{reply:?}");
}

#[test]
fn the_setting_closes_cloud_api_only_and_360dialog_s_messages_still_sends_marketing() {
    let mut world = world_with(MARKETING_OFF);
    let reply = world
        .apply(
            T0,
            Command::d360_send(support::US_KEY, &template_body(ANA_BR, "spring_sale")),
        )
        .reply;
    assert!(support::model::is_sent(&reply), "{reply:?}");
}

#[tokio::test]
async fn the_waba_answers_its_setting_as_disable_marketing_messages_on_cloud_api() {
    for (toml, disabled) in [("", false), (MARKETING_OFF, true)] {
        let state = http::start_with(toml);
        let answer = Client::bearer(&state, TOKEN)
            .get(&format!(
                "/v23.0/{WABA}?fields=disable_marketing_messages_on_cloud_api"
            ))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(
            answer.json(),
            json!({"disable_marketing_messages_on_cloud_api": disabled, "id": WABA}),
            "{toml}"
        );
    }
}

#[tokio::test]
async fn the_control_api_turns_the_setting_on_and_off_mid_run() {
    let state = http::start();
    let off = json!({"incident": "marketing_on_cloud_api", "enabled": false});
    let played = http::account_incident(&state, &off).await;
    assert_eq!(played.status, StatusCode::OK, "{}", played.text());
    let refused = http::send(&state, &template(ANA, "spring_sale")).await;
    assert_graph_error(&refused, StatusCode::BAD_REQUEST, 131_063);
    let on = json!({"incident": "marketing_on_cloud_api", "enabled": true});
    let played = http::account_incident(&state, &on).await;
    assert_eq!(played.status, StatusCode::OK, "{}", played.text());
    let sent = http::send(&state, &template(ANA, "spring_sale")).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    for bad in [
        json!({"incident": "marketing_on_cloud_api"}),
        json!({"incident": "marketing_on_cloud_api", "enabled": "no"}),
    ] {
        let answer = http::account_incident(&state, &bad).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.text()
        );
    }
}

#[test]
fn a_utility_template_re_categorised_as_marketing_mid_campaign_moves_to_the_endpoint() {
    let mut world = world_with(MARKETING_OFF);
    inbound(&mut world, T0, ANA_BR);
    // Before: a utility template goes through `/messages`, not the endpoint.
    let (reply, _) = marketing_send(&mut world, &order_update(ANA_BR));
    assert_eq!(support::model::refusal(&reply).0, 131_055, "{reply:?}");
    let before = support::model::accepted(&mut world, T0, US_NUMBER, order_update(ANA_BR));
    let outcome = world.apply(
        T0,
        Command::TemplateControl {
            name: "order_update".to_owned(),
            control: TemplateControl::Category(Category::Marketing),
        },
    );
    assert_eq!(
        outcome.reply,
        Ok(Reply::Message("category UTILITY → MARKETING".to_owned()))
    );
    let mut effects = outcome.effects;
    effects.extend(world.advance(hours(1)));
    let values = meta_values(&effects, "template_category_update");
    assert_eq!(
        values,
        [json!({
            "message_template_id": 120_000_000_000_002_u64,
            "message_template_name": "order_update",
            "message_template_language": "en_US",
            "previous_category": "UTILITY",
            "new_category": "MARKETING",
        })]
    );
    // After: `/messages` refuses it as marketing (the WABA's setting), the
    // endpoint takes it; the message sent before keeps its category.
    let on_messages =
        support::model::send_from(&mut world, hours(1), US_NUMBER, order_update(ANA_BR));
    assert_eq!(support::model::refusal(&on_messages).0, 131_063);
    let (reply, traced) = marketing_send(&mut world, &order_update(ANA_BR));
    assert!(support::model::is_sent(&reply), "{reply:?}");
    assert!(
        traced.iter().any(|event| matches!(
            event,
            TraceEvent::MessageAccepted {
                category: "MARKETING",
                ..
            }
        )),
        "{traced:?}"
    );
    assert!(
        matches!(
            world.message(&before).map(|m| &m.content),
            Some(wasim_sim::model::MessageContent::Template {
                category: Category::Utility,
                ..
            })
        ),
        "the message sent before stays utility"
    );
}

#[tokio::test]
async fn the_control_api_re_categorises_a_template_and_refuses_an_unknown_category() {
    let state = http::start();
    let path = "/_wasim/templates/spring_sale";
    let answer = http::control_post(&state, path, &json!({"category": "UTILITY"})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let refused = Client::bearer(&state, TOKEN)
        .post(
            &format!("/v23.0/{US_PHONE}/marketing_messages"),
            &template(ANA, "spring_sale"),
        )
        .await;
    assert_graph_error(&refused, StatusCode::BAD_REQUEST, 131_055);
    let bad = http::control_post(&state, path, &json!({"category": "PROMOTIONAL"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
}
