//! Registering numbers: the countries Cloud API serves from a date (Turkey from
//! 2024-05-28 under `2024-05`), and the two-step verification PIN, whose change
//! Meta reports in a `security` webhook.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::http::{graph_post, start, start_with, trace};
use support::model::*;
use wasim_sim::model::registration::PhoneCall;
use wasim_sim::model::{Command, Refusal, Reply, SimTime, StatusKind, World};

/// 2024-05-27T09:00:00Z: a day before Cloud API opens in Turkey under `2024-05`.
const BEFORE_TURKEY: u64 = 1_716_800_400;

/// 2024-05-28T00:00:00Z: Cloud API opens in Turkey under `2024-05`.
const TURKEY_OPENS: u64 = 1_716_854_400;

/// The default numbers, the Turkish one not registered yet.
const UNREGISTERED_TR: &str = r#"
[[waba.phone_numbers]]
id = "110000000000001"
display_phone_number = "15550100001"
country = "US"
channel_id = "wasimCH01"
d360_api_key = "wasim_test_d360_key_us"

[[waba.phone_numbers]]
id = "110000000000003"
display_phone_number = "902125550101"
country = "TR"
channel_id = "wasimCH03"
d360_api_key = "wasim_test_d360_key_tr"
registered = false
"#;

/// The default world before Cloud API opens in Turkey, its Turkish number not
/// registered, under `profile`.
fn turkey_world(profile: &str) -> World {
    world_with(&format!(
        "epoch_unix_s = {BEFORE_TURKEY}\n[policy]\nprofile = \"{profile}\"\n{UNREGISTERED_TR}"
    ))
}

/// A phone-number call on `phone` with the world's token.
fn phone_call(phone: &str, call: PhoneCall) -> Command {
    Command::PhoneCall {
        credential: Some(TOKEN.into()),
        phone_number_id: phone.into(),
        call: Ok(call),
    }
}

/// Registers `phone` with PIN 123456; the answer.
fn register(world: &mut World, at: SimTime, phone: &str) -> Result<Reply, Refusal> {
    let pin = "123456".into();
    world
        .apply(at, phone_call(phone, PhoneCall::Register { pin }))
        .reply
}

/// Whether the answer is Graph's `{"success": true}`.
fn is_json_success(reply: &Result<Reply, Refusal>) -> bool {
    matches!(reply, Ok(Reply::Json(body)) if body == &json!({"success": true}))
}

#[test]
fn before_cloud_api_opens_in_turkey_sends_there_fail_131026_and_numbers_cannot_register() {
    let mut world = turkey_world("2024-05");
    let id = accepted(&mut world, T0, US_NUMBER, order_update(DENIZ_TR));
    let effects = world.advance(hours(1));
    assert_eq!(
        world.message(&id).expect("exists").failure_code,
        Some(131_026)
    );
    assert_eq!(statuses(&world, &id), [StatusKind::Failed]);
    let failed = status_webhook(&effects, &id).expect("a failed status webhook");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131_026);

    let refused = register(&mut world, hours(1), TR_NUMBER);
    let Err(Refusal::Platform(error)) = &refused else {
        panic!("registration was not refused: {refused:?}");
    };
    assert_eq!(error.code, 100);
    assert!(error.details.contains("TR"), "{}", error.details);
    assert!(error.details.contains("2024-05-28"), "{}", error.details);
    // A US number is not affected.
    assert!(is_json_success(&register(&mut world, hours(1), US_NUMBER)));

    // One second before it opens: still closed.
    let opens_at = seconds(TURKEY_OPENS - BEFORE_TURKEY);
    let just_before = opens_at.minus_ms(1000);
    world.advance(just_before);
    assert!(matches!(
        register(&mut world, just_before, TR_NUMBER),
        Err(Refusal::Platform(_))
    ));
    let after = opens_at.plus_ms(60_000);
    world.advance(after);
    assert!(is_json_success(&register(&mut world, after, TR_NUMBER)));
    let later = accepted(&mut world, after, US_NUMBER, order_update(DENIZ_TR));
    world.advance(after.plus_hours(1));
    let message = world.message(&later).expect("exists");
    assert_eq!(message.failure_code, None);
    assert_eq!(
        message.statuses.first().map(|s| s.1),
        Some(StatusKind::Sent)
    );
    // The number registered after the date can send.
    assert!(is_sent(&send_from(
        &mut world,
        after.plus_hours(1),
        TR_NUMBER,
        order_update(ANA_BR)
    )));
}

#[test]
fn under_2025_07_cloud_api_serves_turkey_already() {
    let mut world = turkey_world("2025-07");
    let id = accepted(&mut world, T0, US_NUMBER, order_update(DENIZ_TR));
    world.advance(hours(1));
    let message = world.message(&id).expect("exists");
    assert_eq!(message.failure_code, None);
    assert_eq!(
        message.statuses.first().map(|s| s.1),
        Some(StatusKind::Sent)
    );
    assert!(is_json_success(&register(&mut world, hours(1), TR_NUMBER)));
}

#[tokio::test]
async fn registering_a_turkish_cloud_number_early_answers_error_100_naming_tr_over_http() {
    let state = start_with(&format!(
        "epoch_unix_s = {BEFORE_TURKEY}\n{UNREGISTERED_TR}"
    ));
    let path = format!("/v23.0/{TR_NUMBER}/register");
    let register = json!({"messaging_product": "whatsapp", "pin": "123456"});
    let answer = graph_post(&state, &path, Some(TOKEN), &register).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    let error = &answer.json()["error"];
    assert_eq!(error["code"], 100, "{error}");
    assert!(
        error["error_data"]["details"]
            .as_str()
            .is_some_and(|d| d.contains("TR")),
        "{error}"
    );
    state
        .advance_by((TURKEY_OPENS - BEFORE_TURKEY) * 1000)
        .await
        .expect("advance");
    let answer = graph_post(&state, &path, Some(TOKEN), &register).await;
    assert_eq!(answer.json(), json!({"success": true}), "{}", answer.text());
}

#[test]
fn setting_the_pin_emits_a_security_webhook_with_pin_changed() {
    let mut world = world();
    let set_pin = |pin: &str| phone_call(DE_NUMBER, PhoneCall::SetPin { pin: pin.into() });
    let outcome = world.apply(T0, set_pin("654321"));
    assert!(is_json_success(&outcome.reply), "{:?}", outcome.reply);
    let security = meta_values(&outcome.effects, "security");
    assert_eq!(security.len(), 1, "{security:?}");
    assert_eq!(security[0]["event"], "PIN_CHANGED");
    assert_eq!(security[0]["display_phone_number"], "4930901820");
    assert!(!security[0].to_string().contains("654321"), "no PIN in it");
    // A malformed PIN changes nothing and says nothing.
    let outcome = world.apply(T0, set_pin("12ab"));
    assert!(matches!(outcome.reply, Err(Refusal::Platform(_))));
    assert!(meta_values(&outcome.effects, "security").is_empty());
}

#[tokio::test]
async fn setting_the_pin_over_http_emits_the_security_webhook() {
    let state = start();
    let answer = graph_post(
        &state,
        &format!("/v23.0/{US_NUMBER}"),
        Some(TOKEN),
        &json!({"pin": "314159"}),
    )
    .await;
    assert_eq!(answer.json(), json!({"success": true}), "{}", answer.text());
    let (text, records) = trace(&state).await;
    let security: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "webhook_emitted" && r["field"] == "security")
        .collect();
    assert_eq!(security.len(), 1, "{security:?}");
    let value = &security[0]["body"]["entry"][0]["changes"][0]["value"];
    assert_eq!(value["event"], "PIN_CHANGED", "{value}");
    assert_eq!(value["display_phone_number"], "15550100001", "{value}");
    assert!(!text.contains("314159"), "no PIN in the trace");
}
