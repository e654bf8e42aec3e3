//! Phone numbers, the WABA, business profiles and webhook subscriptions (issue 20,
//! point 5): `GET /{phone-number-id}`, `GET /{waba-id}`, `GET
//! /{waba-id}/phone_numbers`, `GET|POST /{phone-number-id}/whatsapp_business_profile`
//! and `GET|POST|DELETE /{waba-id}/subscribed_apps`. The rules against the model,
//! the wire shapes through the router, and what the subscription does to webhook
//! delivery on a real socket.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::http::{
    Answer, Client, account_incident, assert_graph_error, assert_unknown_object, control_get,
    control_ok, details, start, start_with,
};
use support::model::{T0, world, world_with};
use support::{
    ANA, DE_KEY, DE_PHONE, TOKEN, TR_PHONE, US_PHONE, VERIFY_TOKEN, WABA, Wasim, text, text_of,
};
use wasim_sim::model::numbers::{Fields, PhoneNumberView};
use wasim_sim::model::spec::Quality;
use wasim_sim::model::{Command, Effect, Incident, Reply, World};
use wasim_sim::trace::TraceEvent;

/// The world's token, on the router.
fn graph(state: &std::sync::Arc<wasim_sim::state::AppState>) -> Client {
    Client::bearer(state, TOKEN)
}

/// The keys of a JSON object, in order.
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// A 200 answer's JSON; fails the test otherwise.
fn ok(answer: &Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

/// Asserts Graph's answer to a field the node type lacks, exactly as Graph words it.
fn assert_nonexisting_field(answer: &Answer, field: &str, node: &str) {
    let body = answer.json();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], 100, "{body}");
    assert_eq!(body["error"]["type"], "OAuthException", "{body}");
    assert_eq!(
        body["error"]["message"],
        format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node})"),
        "{body}"
    );
}

/// The number `id` as the model reads it (`GET /{id}` through `World::apply`).
fn number(world: &mut World, id: &str) -> PhoneNumberView {
    let outcome = world.apply(
        T0,
        Command::GetObject {
            credential: Some(TOKEN.into()),
            id: id.to_owned(),
            fields: Fields::default(),
            phone_number_id: None,
        },
    );
    match outcome.reply {
        Ok(Reply::PhoneNumber(view)) => *view,
        other => panic!("a phone number: {other:?}"),
    }
}

/// The `phone_number_quality_update` values among `effects`.
fn quality_updates(effects: &[Effect]) -> Vec<Value> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Webhook(delivery) if delivery.field == "phone_number_quality_update" => {
                Some(delivery.body.to_value()["entry"][0]["changes"][0]["value"].clone())
            }
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[test]
fn a_number_reads_its_quality_tier_registration_platform_and_throughput_from_the_model() {
    let mut world = world_with(
        "[waba]\nmessaging_limit = 2000\n\
         [[waba.phone_numbers]]\nid = \"1\"\ndisplay_phone_number = \"15550100001\"\ncountry = \"US\"\n\
         channel_id = \"c1\"\nd360_api_key = \"k1\"\nquality = \"YELLOW\"\nverified_name = \"Ana's Bakery\"\npin = \"123456\"\n\
         [[waba.phone_numbers]]\nid = \"2\"\ndisplay_phone_number = \"4930901820\"\ncountry = \"DE\"\n\
         channel_id = \"c2\"\nd360_api_key = \"k2\"\napi = \"on_premises\"\n\
         [[waba.phone_numbers]]\nid = \"3\"\ndisplay_phone_number = \"902125550101\"\ncountry = \"TR\"\n\
         channel_id = \"c3\"\nd360_api_key = \"k3\"\nregistered = false\n",
    );
    let cloud = number(&mut world, "1");
    assert_eq!(cloud.display_phone_number, "+1 555-010-0001");
    assert_eq!(cloud.verified_name, "Ana's Bakery");
    assert_eq!(cloud.quality, Quality::Yellow);
    assert_eq!(cloud.messaging_limit_tier, "TIER_2K");
    assert_eq!(cloud.platform_type, "CLOUD_API");
    assert_eq!(cloud.throughput_level, "STANDARD");
    assert_eq!(cloud.status, "CONNECTED");
    assert!(cloud.pin_enabled);
    let on_premises = number(&mut world, "2");
    assert_eq!(on_premises.platform_type, "ON_PREMISE");
    assert_eq!(on_premises.throughput_level, "NOT_APPLICABLE");
    assert_eq!(
        on_premises.verified_name, "Wasim Demo Shop",
        "the client's name by default"
    );
    assert!(!on_premises.pin_enabled);
    let unregistered = number(&mut world, "3");
    assert_eq!(unregistered.platform_type, "NOT_APPLICABLE");
    assert_eq!(unregistered.status, "DISCONNECTED");

    let mut fast = world_with("[policy]\nthroughput_mps = 1000\n");
    assert_eq!(number(&mut fast, US_PHONE).throughput_level, "HIGH");
}

#[test]
fn a_quality_incident_flags_and_unflags_the_number_with_phone_number_quality_update() {
    let mut world = world();
    let red = Incident::Quality {
        phone_number_id: Some(DE_PHONE.to_owned()),
        quality: Quality::Red,
    };
    let effects = support::model::incident(&mut world, T0, red);
    let flagged = number(&mut world, DE_PHONE);
    assert_eq!((flagged.quality, flagged.status), (Quality::Red, "FLAGGED"));
    assert_eq!(number(&mut world, US_PHONE).quality, Quality::Green);
    let updates = quality_updates(&effects);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0]["event"], "FLAGGED");
    assert_eq!(updates[0]["display_phone_number"], "4930901820");
    assert_eq!(updates[0]["current_limit"], "TIER_10K");
    assert!(effects.iter().any(|e| matches!(
        e.event(),
        Some(TraceEvent::AccountIncident { incident, .. }) if incident == "quality"
    )));

    let yellow = Incident::Quality {
        phone_number_id: Some(DE_PHONE.to_owned()),
        quality: Quality::Yellow,
    };
    let effects = support::model::incident(&mut world, T0, yellow);
    assert_eq!(quality_updates(&effects)[0]["event"], "UNFLAGGED");
    let unflagged = number(&mut world, DE_PHONE);
    assert_eq!(
        (unflagged.quality, unflagged.status),
        (Quality::Yellow, "CONNECTED")
    );
    let green = Incident::Quality {
        phone_number_id: Some(DE_PHONE.to_owned()),
        quality: Quality::Green,
    };
    let effects = support::model::incident(&mut world, T0, green);
    assert!(
        quality_updates(&effects).is_empty(),
        "YELLOW to GREEN is no legacy quality event"
    );
}

/// The fields a number is answered with when none are asked for, alone or listed
/// (as pywa documents the answer and Meta's example list shows it).
const NUMBER_DEFAULT_FIELDS: [&str; 7] = [
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "id",
];

// ---------------------------------------------------------------------------
// GET /{phone-number-id}, GET /{waba-id}
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_phone_number_answers_meta_s_default_fields() {
    let state = start();
    let body = ok(&graph(&state).get(&format!("/v23.0/{US_PHONE}")).await);
    assert_eq!(keys(&body), NUMBER_DEFAULT_FIELDS);
    assert_eq!(
        body,
        json!({"verified_name": "Wasim Demo Shop", "code_verification_status": "VERIFIED",
               "display_phone_number": "+1 555-010-0001", "quality_rating": "GREEN",
               "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"},
               "id": US_PHONE})
    );
    let unversioned = ok(&graph(&state).get(&format!("/{DE_PHONE}")).await);
    assert_eq!(unversioned["display_phone_number"], "+49 30901820");
}

#[tokio::test]
async fn fields_select_and_order_the_answer_and_id_is_always_there() {
    let state = start();
    let path = format!(
        "/v23.0/{US_PHONE}?fields=status,throughput,messaging_limit_tier,whatsapp_business_manager_messaging_limit,platform_type,code_verification_status,name_status,certificate"
    );
    let body = ok(&graph(&state).get(&path).await);
    assert_eq!(
        keys(&body),
        vec![
            "status",
            "throughput",
            "messaging_limit_tier",
            "whatsapp_business_manager_messaging_limit",
            "platform_type",
            "code_verification_status",
            "name_status",
            "id"
        ],
        "asked order, an unsimulated field left out, id last: {body}"
    );
    assert_eq!(body["status"], "CONNECTED");
    assert_eq!(body["throughput"], json!({"level": "STANDARD"}));
    assert_eq!(body["messaging_limit_tier"], "TIER_10K");
    assert_eq!(
        body["whatsapp_business_manager_messaging_limit"],
        "TIER_10K"
    );
    assert_eq!(body["platform_type"], "CLOUD_API");
    assert_eq!(body["code_verification_status"], "VERIFIED");
    assert_eq!(body["name_status"], "APPROVED");
    let with_id = ok(&graph(&state)
        .get(&format!("/v23.0/{US_PHONE}?fields=id,%20quality_rating"))
        .await);
    assert_eq!(keys(&with_id), vec!["id", "quality_rating"]);
}

#[tokio::test]
async fn an_unknown_field_is_graph_s_nonexisting_field_error_for_each_node_type() {
    let state = start();
    let client = graph(&state);
    for (path, field, node_type) in [
        (
            format!("/v23.0/{US_PHONE}?fields=id,colour"),
            "colour",
            "WhatsAppBusinessPhoneNumber",
        ),
        (
            format!("/v23.0/{WABA}?fields=display_phone_number"),
            "display_phone_number",
            "WhatsAppBusinessAccount",
        ),
        (
            format!("{}?fields=about,colour", profile_path(US_PHONE)),
            "colour",
            "WhatsAppBusinessProfile",
        ),
        (
            format!("/v23.0/{WABA}/phone_numbers?fields=colour"),
            "colour",
            "WhatsAppBusinessPhoneNumber",
        ),
    ] {
        let answer = client.get(&path).await;
        assert_nonexisting_field(&answer, field, node_type);
    }
}

#[tokio::test]
async fn edges_on_the_wrong_kind_of_node_are_nonexisting_fields_and_unknown_ids_unknown_objects() {
    let state = start();
    let client = graph(&state);
    for (path, edge, node) in [
        (US_PHONE, "phone_numbers", "WhatsAppBusinessPhoneNumber"),
        (US_PHONE, "subscribed_apps", "WhatsAppBusinessPhoneNumber"),
        (WABA, "whatsapp_business_profile", "WhatsAppBusinessAccount"),
    ] {
        let answer = client.get(&format!("/v23.0/{path}/{edge}")).await;
        assert_nonexisting_field(&answer, edge, node);
    }
    for path in [
        "/v23.0/199999999999999".to_owned(),
        "/v23.0/199999999999999/phone_numbers".to_owned(),
        "/v23.0/199999999999999/whatsapp_business_profile".to_owned(),
        "/v23.0/199999999999999/subscribed_apps".to_owned(),
    ] {
        let answer = client.get(&path).await;
        assert_unknown_object(&answer, "get", "199999999999999");
    }
}

#[tokio::test]
async fn the_waba_answers_its_defaults_and_the_fields_asked_for() {
    let state = start();
    let client = graph(&state);
    let body = ok(&client.get(&format!("/v23.0/{WABA}")).await);
    assert_eq!(
        keys(&body),
        vec!["id", "name", "timezone_id", "message_template_namespace"]
    );
    assert_eq!(body["id"], WABA);
    assert_eq!(body["name"], "Wasim Demo Shop");
    assert_eq!(body["timezone_id"], "1");
    let namespace = body["message_template_namespace"]
        .as_str()
        .expect("a namespace");
    assert_eq!(
        namespace.split('_').map(str::len).collect::<Vec<_>>(),
        vec![8, 4, 4, 4, 12]
    );
    let asked = ok(&client
        .get(&format!(
            "/v23.0/{WABA}?fields=currency,account_review_status,ownership_type"
        ))
        .await);
    assert_eq!(
        asked,
        json!({"currency": "USD", "account_review_status": "APPROVED", "id": WABA})
    );
    let apps = ok(&client
        .get(&format!("/v23.0/{WABA}?fields=subscribed_apps"))
        .await);
    assert_eq!(
        apps["subscribed_apps"]["data"][0]["whatsapp_business_api_data"]["id"], "140000000000001",
        "{apps}"
    );
    ok(&client
        .delete(&format!("/v23.0/{WABA}/subscribed_apps"))
        .await);
    let none = ok(&client
        .get(&format!("/v23.0/{WABA}?fields=subscribed_apps"))
        .await);
    assert_eq!(none["subscribed_apps"], json!({"data": []}));
    let named =
        start_with("[waba]\nname = \"Lena's Shoes\"\ncurrency = \"EUR\"\ntimezone_id = \"47\"\n");
    let body = ok(&graph(&named)
        .get(&format!("/v23.0/{WABA}?fields=name,currency,timezone_id"))
        .await);
    assert_eq!(
        body,
        json!({"name": "Lena's Shoes", "currency": "EUR", "timezone_id": "47", "id": WABA})
    );
}

#[tokio::test]
async fn tier_quality_registration_and_a_ban_show_up_in_the_number_reads() {
    let state = start();
    let client = graph(&state);
    let read = async |path: &str| ok(&client.get(path).await);
    let fields = "?fields=quality_rating,status,messaging_limit_tier,platform_type";
    let us = format!("/v23.0/{US_PHONE}{fields}");
    control_ok(
        &state,
        "/_wasim/account",
        &json!({"incident": "tier", "tier": "TIER_100K"}),
    )
    .await;
    control_ok(
        &state,
        "/_wasim/account",
        &json!({"incident": "quality", "quality": "RED"}),
    )
    .await;
    let body = read(&us).await;
    assert_eq!(body["messaging_limit_tier"], "TIER_100K");
    assert_eq!(body["quality_rating"], "RED");
    assert_eq!(body["status"], "FLAGGED");
    let listed = read(&format!("/v23.0/{WABA}/phone_numbers{fields}")).await;
    assert_eq!(listed["data"][0]["quality_rating"], "RED");
    assert_eq!(listed["data"][1]["quality_rating"], "GREEN");
    assert!(
        listed["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|n| n["messaging_limit_tier"] == "TIER_100K"),
        "{listed}"
    );
    let account = control_get(&state, "/_wasim/account").await.json();
    assert_eq!(account["phone_numbers"][0]["quality_rating"], "RED");

    let deregistered = client
        .post_empty(&format!("/v23.0/{DE_PHONE}/deregister"))
        .await;
    ok(&deregistered);
    let de = read(&format!("/v23.0/{DE_PHONE}{fields}")).await;
    assert_eq!(de["status"], "DISCONNECTED");
    assert_eq!(de["platform_type"], "NOT_APPLICABLE");

    let terminated = account_incident(&state, &json!({"incident": "terminate"})).await;
    ok(&terminated);
    let tr = read(&format!("/v23.0/{TR_PHONE}{fields}")).await;
    assert_eq!(tr["status"], "BANNED");
}

// ---------------------------------------------------------------------------
// GET /{waba-id}/phone_numbers
// ---------------------------------------------------------------------------

#[tokio::test]
async fn phone_numbers_lists_every_number_with_the_list_defaults() {
    let state = start();
    let body = ok(&graph(&state)
        .get(&format!("/v23.0/{WABA}/phone_numbers"))
        .await);
    let data = body["data"].as_array().expect("data");
    let ids: Vec<&str> = data.iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids, vec![US_PHONE, DE_PHONE, TR_PHONE]);
    assert_eq!(keys(&data[0]), NUMBER_DEFAULT_FIELDS);
    assert!(body["paging"]["cursors"]["before"].is_string(), "{body}");
    assert!(
        body["paging"].get("next").is_none(),
        "one page holds them all: {body}"
    );
}

#[tokio::test]
async fn phone_numbers_pages_with_graph_cursors() {
    let state = start();
    let client = graph(&state);
    let first = client
        .call(
            "GET",
            &format!("/v23.0/{WABA}/phone_numbers?limit=2&fields=id"),
            None,
        )
        .await;
    let first = ok(&first);
    assert_eq!(first["data"], json!([{"id": US_PHONE}, {"id": DE_PHONE}]));
    assert!(first["paging"].get("previous").is_none(), "{first}");
    let next = first["paging"]["next"].as_str().expect("a next page");
    assert!(
        next.starts_with(&format!(
            "/v23.0/{WABA}/phone_numbers?fields=id&limit=2&after="
        )),
        "without a Host header the URL is this server's path: {next}"
    );
    let second = ok(&client.get(next).await);
    assert_eq!(second["data"], json!([{"id": TR_PHONE}]));
    assert!(second["paging"].get("next").is_none(), "{second}");
    let previous = second["paging"]["previous"]
        .as_str()
        .expect("a previous page");
    let back = ok(&client.get(previous).await);
    assert_eq!(back["data"], first["data"]);

    let hosted = support::http::call(
        &state,
        support::http::request(
            "GET",
            &format!("/v23.0/{WABA}/phone_numbers?limit=1"),
            &[
                ("authorization", "Bearer wasim_test_access_token"),
                ("host", "127.0.0.1:8080"),
            ],
            None,
        ),
    )
    .await;
    let hosted = ok(&hosted);
    assert!(
        text_of(&hosted["paging"]["next"]).starts_with("http://127.0.0.1:8080/v23.0/"),
        "{hosted}"
    );
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_refused_with_100() {
    let state = start();
    let client = graph(&state);
    for query in ["limit=0", "limit=many", "after=bm9wZQ%3D%3D", "before=x"] {
        let answer = client
            .get(&format!("/v23.0/{WABA}/phone_numbers?{query}"))
            .await;
        let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
        assert!(details(&error).starts_with("Param "), "{query}: {error}");
    }
    let capped = ok(&client
        .get(&format!("/v23.0/{WABA}/phone_numbers?limit=1000"))
        .await);
    assert_eq!(capped["data"].as_array().map(Vec::len), Some(3));
}

// ---------------------------------------------------------------------------
// Business profiles
// ---------------------------------------------------------------------------

/// A number's business profile, as a Graph path.
fn profile_path(phone: &str) -> String {
    format!("/v23.0/{phone}/whatsapp_business_profile")
}

/// What `GET` answers for a profile the world file leaves alone.
fn default_profile() -> Value {
    json!({"data": [{"about": "Hey there! We are on WhatsApp.", "vertical": "OTHER",
                     "messaging_product": "whatsapp"}]})
}

#[tokio::test]
async fn the_business_profile_reads_and_updates_within_meta_s_limits() {
    let state = start();
    let client = graph(&state);
    let path = profile_path(US_PHONE);
    let before = ok(&client.get(&path).await);
    assert_eq!(before, default_profile());
    let about = "a".repeat(139);
    let description = "é".repeat(512);
    let update = json!({
        "messaging_product": "whatsapp",
        "about": about,
        "address": "1 Hacker Way, Menlo Park, CA 94025",
        "description": description,
        "email": "shop@wasim.test",
        "websites": ["https://wasim.test/", "http://wasim.test/shop"],
        "vertical": "RETAIL",
        "profile_picture_handle": "4::aW1hZ2UvanBlZw==:ARa",
    });
    assert_eq!(
        ok(&client.post(&path, &update).await),
        json!({"success": true})
    );
    let after = ok(&client.get(&path).await);
    let profile = &after["data"][0];
    assert_eq!(profile["about"], about);
    assert_eq!(profile["description"], description);
    assert_eq!(profile["email"], "shop@wasim.test");
    assert_eq!(
        profile["websites"],
        json!(["https://wasim.test/", "http://wasim.test/shop"])
    );
    assert_eq!(profile["vertical"], "RETAIL");
    assert!(
        profile.get("profile_picture_url").is_none(),
        "the handle is accepted, not simulated: {profile}"
    );
    let asked = ok(&client.get(&format!("{path}?fields=email,vertical")).await);
    assert_eq!(
        asked,
        json!({"data": [{"email": "shop@wasim.test", "vertical": "RETAIL"}]})
    );
    let cleared = json!({"messaging_product": "whatsapp", "email": "", "websites": []});
    ok(&client.post(&path, &cleared).await);
    let profile = ok(&client.get(&path).await)["data"][0].clone();
    assert!(profile.get("email").is_none(), "{profile}");
    assert!(profile.get("websites").is_none(), "{profile}");
    assert_eq!(profile["vertical"], "RETAIL", "fields not sent are kept");
    // pywa clears with empty strings, websites included; a vertical reads UNDEFINED.
    let cleared = json!({"messaging_product": "whatsapp", "vertical": "", "websites": ""});
    ok(&client.post(&path, &cleared).await);
    let profile = ok(&client.get(&path).await)["data"][0].clone();
    assert_eq!(profile["vertical"], "UNDEFINED", "{profile}");
    assert_eq!(profile["about"], about, "{profile}");
    let other = ok(&client.get(&profile_path(DE_PHONE)).await);
    assert_eq!(other, before, "each number has its own profile");
}

#[tokio::test]
async fn a_profile_update_outside_the_limits_is_refused_with_100_and_changes_nothing() {
    let state = start();
    let client = graph(&state);
    let path = profile_path(US_PHONE);
    let with = |key: &str, value: Value| {
        let mut body = json!({"messaging_product": "whatsapp", "about": "kept?"});
        body[key] = value;
        body
    };
    for (body, named) in [
        (with("about", json!("a".repeat(140))), "about"),
        (with("about", json!("")), "about"),
        (with("address", json!("a".repeat(257))), "address"),
        (with("description", json!("a".repeat(513))), "description"),
        (with("email", json!("shop.wasim.test")), "email"),
        (
            with("email", json!(format!("{}@x.test", "a".repeat(122)))),
            "email",
        ),
        (
            with(
                "websites",
                json!(["https://a.test", "https://b.test", "https://c.test"]),
            ),
            "websites",
        ),
        (with("websites", json!(["wasim.test"])), "websites[0]"),
        (
            with("websites", json!([format!("https://{}", "a".repeat(250))])),
            "websites[0]",
        ),
        (with("vertical", json!("SHOES")), "vertical"),
        (with("websites", json!("https://a.test")), "websites"),
        (json!({"about": "no product"}), "messaging_product"),
    ] {
        let answer = client.post(&path, &body).await;
        let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
        assert!(details(&error).contains(named), "{named}: {error}");
    }
    assert_eq!(ok(&client.get(&path).await), default_profile());
}

#[tokio::test]
async fn a_world_file_sets_the_profile_the_verified_name_and_the_quality() {
    let state = start_with(
        "[[waba.phone_numbers]]\nid = \"110000000000001\"\ndisplay_phone_number = \"15550100001\"\n\
         country = \"US\"\nchannel_id = \"c\"\nd360_api_key = \"k\"\nverified_name = \"Sam's Diner\"\nquality = \"YELLOW\"\n\
         [waba.phone_numbers.profile]\nabout = \"Open 9 to 5\"\nemail = \"sam@diner.test\"\nvertical = \"RESTAURANT\"\n",
    );
    let client = graph(&state);
    let number = ok(&client.get(&format!("/v23.0/{US_PHONE}")).await);
    assert_eq!(number["verified_name"], "Sam's Diner");
    assert_eq!(number["quality_rating"], "YELLOW");
    let profile = ok(&client.get(&profile_path(US_PHONE)).await);
    assert_eq!(
        profile,
        json!({"data": [{"about": "Open 9 to 5", "email": "sam@diner.test",
                         "vertical": "RESTAURANT", "messaging_product": "whatsapp"}]})
    );
}

// ---------------------------------------------------------------------------
// Credentials and methods
// ---------------------------------------------------------------------------

#[tokio::test]
async fn credentials_are_checked_before_the_path_the_fields_or_the_body() {
    let state = start();
    for token in [Some("wrong"), None] {
        let client = support::http::client(&state, token);
        for (method, path, body) in [
            ("GET", format!("/v23.0/{US_PHONE}?fields=colour"), None),
            ("GET", format!("/v23.0/{WABA}"), None),
            (
                "GET",
                "/v23.0/199999999999999/phone_numbers".to_owned(),
                None,
            ),
            (
                "POST",
                format!("/v23.0/{US_PHONE}/whatsapp_business_profile"),
                Some(json!({"about": ""})),
            ),
            ("GET", format!("/v23.0/{WABA}/subscribed_apps"), None),
            (
                "POST",
                format!("/v23.0/{WABA}/subscribed_apps"),
                Some(json!({"override_callback_uri": "ftp://x"})),
            ),
            ("DELETE", format!("/v23.0/{WABA}/subscribed_apps"), None),
        ] {
            let answer = client.call(method, &path, body.as_ref()).await;
            assert_graph_error(&answer, StatusCode::UNAUTHORIZED, 190);
        }
    }
    let apps = ok(&graph(&state)
        .get(&format!("/v23.0/{WABA}/subscribed_apps"))
        .await);
    assert_eq!(
        apps["data"].as_array().map(Vec::len),
        Some(1),
        "still subscribed"
    );
}

#[tokio::test]
async fn methods_the_paths_do_not_serve_are_refused() {
    let state = start();
    let client = graph(&state);
    for (method, path) in [
        ("POST", format!("/v23.0/{WABA}/phone_numbers")),
        (
            "DELETE",
            format!("/v23.0/{US_PHONE}/whatsapp_business_profile"),
        ),
        ("PUT", format!("/v23.0/{WABA}/subscribed_apps")),
    ] {
        let answer = client.call(method, &path, None).await;
        let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
        assert!(
            details(&error).starts_with(&format!("Unsupported {method} request")),
            "{error}"
        );
    }
}

// ---------------------------------------------------------------------------
// Subscriptions: what they do to webhook delivery (a real socket)
// ---------------------------------------------------------------------------

/// The fields of the webhooks the receiver got at `path`, in order.
fn fields_at(wasim: &Wasim, path: &str) -> Vec<String> {
    wasim
        .receiver
        .posts(path)
        .iter()
        .map(support::Received::field)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_apps_lists_the_app_and_delete_stops_every_meta_webhook_until_it_resubscribes() {
    let wasim = Wasim::start().await;
    let apps = format!("/v23.0/{WABA}/subscribed_apps");
    let (status, listed) = wasim.graph(Method::GET, &apps, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed,
        json!({"data": [{"whatsapp_business_api_data": {
            "id": "140000000000001",
            "link": "https://www.facebook.com/games/?app_id=140000000000001",
            "name": "Wasim Test App"}}]})
    );
    // A 360dialog channel webhook on the German number: 360dialog's, not the app's.
    let (status, answer) = wasim
        .call(
            Method::POST,
            "/v1/configs/webhook",
            &[("D360-API-KEY", DE_KEY)],
            Some(&json!({"url": wasim.url("/d360")})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let (status, answer) = wasim.graph(Method::DELETE, &apps, None).await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let (_, listed) = wasim.graph(Method::GET, &apps, None).await;
    assert_eq!(listed, json!({"data": []}));
    wasim.inbound_text(ANA, "anyone there?").await;
    wasim
        .control(
            "/_wasim/account",
            &json!({"incident": "tier", "tier": "TIER_2K"}),
        )
        .await;
    wasim
        .control(
            "/_wasim/inbound",
            &json!({"from": ANA, "text": "hallo", "phone_number_id": DE_PHONE}),
        )
        .await;
    assert!(
        wasim.receiver.webhooks().is_empty(),
        "no Meta webhook while unsubscribed: {:?}",
        fields_at(&wasim, "/webhook")
    );
    assert_eq!(
        fields_at(&wasim, "/d360"),
        vec!["messages"],
        "360dialog's webhook still gets its number's messages"
    );
    wasim
        .assert_any_record("webhook_skipped", |r| {
            text_of(&r["reason"]).contains("not subscribed")
        })
        .await;

    let (status, answer) = wasim.graph(Method::POST, &apps, None).await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    wasim.inbound_text(ANA, "hello again").await;
    assert_eq!(fields_at(&wasim, "/webhook"), vec!["messages"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_callback_gets_the_messages_webhooks_once_its_handshake_echoes() {
    let wasim = Wasim::start().await;
    let apps = format!("/v23.0/{WABA}/subscribed_apps");
    let override_url = wasim.url("/override");
    let body = json!({"override_callback_uri": override_url, "verify_token": VERIFY_TOKEN});
    let (status, answer) = wasim.graph(Method::POST, &apps, Some(&body)).await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let handshakes = wasim.receiver.gets("/override");
    assert_eq!(handshakes.len(), 1, "one verification request");
    let handshake = &handshakes[0];
    assert_eq!(handshake.query("hub.mode"), Some("subscribe"));
    assert_eq!(handshake.query("hub.verify_token"), Some(VERIFY_TOKEN));
    assert!(
        handshake
            .query("hub.challenge")
            .is_some_and(|c| !c.is_empty())
    );
    let (_, listed) = wasim.graph(Method::GET, &apps, None).await;
    assert_eq!(
        listed["data"][0]["override_callback_uri"],
        json!(override_url)
    );
    let (_, number) = wasim
        .graph(
            Method::GET,
            &format!("/v23.0/{US_PHONE}?fields=webhook_configuration"),
            None,
        )
        .await;
    assert_eq!(
        number["webhook_configuration"],
        json!({"whatsapp_business_account": override_url, "application": wasim.url("/webhook")})
    );

    wasim.inbound_text(ANA, "to the override").await;
    wasim.send(US_PHONE, &text(ANA, "reply")).await;
    wasim.advance(60).await;
    wasim
        .control(
            "/_wasim/account",
            &json!({"incident": "quality", "quality": "RED"}),
        )
        .await;
    let overridden = fields_at(&wasim, "/override");
    assert!(
        !overridden.is_empty() && overridden.iter().all(|f| f == "messages"),
        "messages and statuses go to the override: {overridden:?}"
    );
    assert_eq!(
        fields_at(&wasim, "/webhook"),
        vec!["phone_number_quality_update"],
        "account-level webhooks stay on the app callback"
    );
    wasim
        .assert_any_record("webhook_verification", |r| {
            r["echoed"] == true && text_of(&r["url"]).ends_with("/override")
        })
        .await;

    // A plain subscription removes the override.
    let (status, _) = wasim.graph(Method::POST, &apps, None).await;
    assert_eq!(status, 200);
    let (_, listed) = wasim.graph(Method::GET, &apps, None).await;
    assert!(
        listed["data"][0].get("override_callback_uri").is_none(),
        "{listed}"
    );
    wasim.inbound_text(ANA, "back to the app").await;
    assert_eq!(
        fields_at(&wasim, "/webhook").last().map(String::as_str),
        Some("messages")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_refuses_the_override_with_2200_and_changes_nothing() {
    let wasim = Wasim::start().await;
    let apps = format!("/v23.0/{WABA}/subscribed_apps");
    let first = json!({"override_callback_uri": wasim.url("/first"), "verify_token": VERIFY_TOKEN});
    let (status, _) = wasim.graph(Method::POST, &apps, Some(&first)).await;
    assert_eq!(status, 200);
    for (url, token) in [
        (wasim.url("/second"), "not-the-receiver-s-token"),
        ("http://127.0.0.1:1/closed".to_owned(), VERIFY_TOKEN),
    ] {
        let body = json!({"override_callback_uri": url, "verify_token": token});
        let (status, answer) = wasim.graph(Method::POST, &apps, Some(&body)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], 2200, "{answer}");
        assert_eq!(
            answer["error"]["message"],
            "(#2200) Callback verification failed"
        );
    }
    assert_eq!(
        wasim.receiver.gets("/second").len(),
        1,
        "the refused URL was asked"
    );
    let (_, listed) = wasim.graph(Method::GET, &apps, None).await;
    assert_eq!(
        listed["data"][0]["override_callback_uri"],
        json!(wasim.url("/first")),
        "the earlier override stands"
    );
    wasim.inbound_text(ANA, "where does this go?").await;
    assert_eq!(fields_at(&wasim, "/first"), vec!["messages"]);
    assert!(wasim.receiver.posts("/second").is_empty());

    for bad in [
        json!({"override_callback_uri": wasim.url("/x")}),
        json!({"override_callback_uri": "not a url", "verify_token": "t"}),
    ] {
        let (status, answer) = wasim.graph(Method::POST, &apps, Some(&bad)).await;
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (400, json!(100)),
            "{answer}"
        );
    }
    assert!(
        wasim.receiver.gets("/x").is_empty(),
        "a refused body starts no handshake"
    );
}

// ---------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_answers_the_same_bytes_and_trace_for_every_numbers_endpoint() {
    let (_receiver, receiver_base) = support::start_receiver().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let state = start();
        let client = graph(&state);
        let mut answers = Vec::new();
        let override_body = json!({
            "override_callback_uri": format!("{receiver_base}/override"),
            "verify_token": VERIFY_TOKEN,
        });
        let profile = json!({"messaging_product": "whatsapp", "about": "Same bytes"});
        for (method, path, body) in [
            ("GET", format!("/v23.0/{US_PHONE}"), None),
            (
                "GET",
                format!("/v23.0/{WABA}?fields=message_template_namespace"),
                None,
            ),
            ("GET", format!("/v23.0/{WABA}/phone_numbers?limit=2"), None),
            (
                "POST",
                format!("/v23.0/{US_PHONE}/whatsapp_business_profile"),
                Some(profile),
            ),
            (
                "GET",
                format!("/v23.0/{US_PHONE}/whatsapp_business_profile"),
                None,
            ),
            (
                "POST",
                format!("/v23.0/{WABA}/subscribed_apps"),
                Some(override_body),
            ),
            ("GET", format!("/v23.0/{WABA}/subscribed_apps"), None),
            ("GET", format!("/v23.0/{US_PHONE}?fields=colour"), None),
            ("DELETE", format!("/v23.0/{WABA}/subscribed_apps"), None),
        ] {
            answers.push(client.call(method, &path, body.as_ref()).await.text());
        }
        let (trace, _) = support::http::trace(&state).await;
        runs.push((answers, trace));
    }
    assert_eq!(runs[0].0, runs[1].0, "the answers");
    assert_eq!(runs[0].1, runs[1].1, "the trace");
    assert!(
        runs[0].1.contains("\"kind\":\"webhook_verification\""),
        "the override's handshake is in the trace"
    );
}
