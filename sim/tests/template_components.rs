//! Templates with real components (issue 20): a created template keeps its header,
//! body, footer and buttons, lists answer them as created (Graph and 360dialog), and
//! a send is checked against them: 132000 for a count, 132012 for a format, 132018
//! for a button component that names no button of the template
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>).

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::http::{Client, assert_graph_error, details, graph_post, send, start, start_with};
use support::{ANA, TOKEN, US_KEY};
use wasim_sim::WorldSpec;
use wasim_sim::state::AppState;

const TEMPLATES: &str = "/v23.0/100000000000001/message_templates";

/// A send of template `name` with `components` to Ana.
fn template_send(name: &str, components: Value) -> Value {
    json!({"messaging_product": "whatsapp", "to": ANA, "type": "template",
           "template": {"name": name, "language": {"code": "en_US"}, "components": components}})
}

/// What the default world's `new_arrivals` (IMAGE header, NAMED body, URL button
/// with a variable, copy code, quick reply) takes.
fn new_arrivals_parameters() -> Value {
    json!([
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/summer.jpg"}}]},
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": "collection", "text": "summer"},
            {"type": "text", "parameter_name": "first_name", "text": "Ana"},
            {"type": "text", "parameter_name": "code", "text": "NEW10"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "summer"}]},
        {"type": "button", "sub_type": "copy_code", "index": "1", "parameters": [{"type": "coupon_code", "coupon_code": "NEW10"}]}
    ])
}

/// `new_arrivals_parameters` with the value at `pointer` replaced (`Null` removes
/// an array item).
fn new_arrivals_with(pointer: &str, value: Value) -> Value {
    let mut components = new_arrivals_parameters();
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    match (components.pointer_mut(parent).expect("a parent"), value) {
        (Value::Array(items), Value::Null) => {
            items.remove(last.parse::<usize>().expect("an index"));
        }
        (_, value) => *components.pointer_mut(pointer).expect("a field") = value,
    }
    components
}

/// A marketing template of every component kind, as Meta's creation example
/// writes one, but with named parameters.
fn rich_template(name: &str) -> Value {
    json!({
        "name": name, "language": "en_US", "category": "MARKETING", "parameter_format": "NAMED",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Our {{sale}} is on!",
             "example": {"header_text_named_params": [{"param_name": "sale", "example": "Summer Sale"}]}},
            {"type": "BODY", "text": "Shop now through {{end_date}} and use code {{code}}.",
             "example": {"body_text_named_params": [
                {"param_name": "end_date", "example": "the end of August"},
                {"param_name": "code", "example": "25OFF"}]}},
            {"type": "FOOTER", "text": "Use the buttons below to manage your subscriptions"},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Unsubscribe"},
                {"type": "URL", "text": "Shop Now", "url": "https://shop.example.com/promo/{{1}}", "example": ["summer2024"]},
                {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "16467043595"}]}
        ]
    })
}

/// The template `name` in a Graph list of the default WABA.
async fn listed(state: &Arc<AppState>, name: &str) -> Value {
    let answer = Client::bearer(state, TOKEN).get(TEMPLATES).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    body["data"]
        .as_array()
        .and_then(|data| data.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not listed: {body}"))
        .clone()
}

/// Creates `body` on Graph and lets its review end (the default world approves).
async fn create_approved(state: &Arc<AppState>, body: &Value) {
    let created = graph_post(state, TEMPLATES, Some(TOKEN), body).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    state.advance_by(300_000).await.expect("advance");
}

#[tokio::test]
async fn a_created_template_is_listed_with_its_components_on_graph_and_360dialog() {
    let state = start();
    let body = rich_template("summer_promo");
    create_approved(&state, &body).await;
    let template = listed(&state, "summer_promo").await;
    assert_eq!(template["components"], body["components"], "{template}");
    assert_eq!(template["parameter_format"], "NAMED");
    assert_eq!(template["status"], "APPROVED");
    let d360 = Client::d360(&state, US_KEY)
        .get("/v1/configs/templates")
        .await;
    let items = d360.json()["waba_templates"].clone();
    let item = items
        .as_array()
        .and_then(|items| items.iter().find(|t| t["name"] == "summer_promo"))
        .unwrap_or_else(|| panic!("listed on 360dialog: {items}"));
    assert_eq!(item["components"], body["components"]);
    assert_eq!(item["parameter_format"], "NAMED");
}

#[tokio::test]
async fn lower_case_types_are_read_and_listed_in_meta_s_upper_case() {
    let state = start();
    let body = json!({"name": "pickup_ready", "language": "en_US", "category": "UTILITY",
        "components": [
            {"type": "header", "format": "location"},
            {"type": "body", "text": "Your order {{1}} is ready at the store above.",
             "example": {"body_text": [["A-7"]]}}]});
    create_approved(&state, &body).await;
    let template = listed(&state, "pickup_ready").await;
    assert_eq!(
        template["components"][0],
        json!({"type": "HEADER", "format": "LOCATION"})
    );
    assert_eq!(template["components"][1]["type"], "BODY");
    assert_eq!(template["parameter_format"], "POSITIONAL");
    let location = json!([
        {"type": "header", "parameters": [{"type": "location", "location": {"latitude": 1.0, "longitude": 2.0}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "A-7"}]}]);
    let answer = send(&state, &template_send("pickup_ready", location)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn the_default_world_s_templates_have_real_components() {
    let state = start();
    let arrivals = listed(&state, "new_arrivals").await;
    assert_eq!(arrivals["parameter_format"], "NAMED");
    assert_eq!(arrivals["components"][0]["format"], "IMAGE");
    let buttons: Vec<&Value> = arrivals["components"][3]["buttons"]
        .as_array()
        .map(|b| b.iter().map(|b| &b["type"]).collect())
        .unwrap_or_default();
    assert_eq!(buttons, ["URL", "COPY_CODE", "QUICK_REPLY"]);
    let login = listed(&state, "login_code").await;
    assert_eq!(
        login["components"][2]["buttons"][0],
        json!({"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"})
    );
    let order = listed(&state, "order_update").await;
    assert_eq!(
        order["components"][0]["example"],
        json!({"body_text": [["A-1001"]]})
    );
}

#[tokio::test]
async fn a_send_giving_every_component_its_parameters_is_accepted() {
    let state = start();
    let arrivals = template_send("new_arrivals", new_arrivals_parameters());
    let mut with_payload = arrivals.clone();
    with_payload["template"]["components"]
        .as_array_mut()
        .expect("components")
        .push(
            json!({"type": "BUTTON", "sub_type": "QUICK_REPLY", "index": 2,
                     "parameters": [{"type": "payload", "payload": "not-interested"}]}),
        );
    let login = template_send(
        "login_code",
        json!([
            {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "482913"}]}]),
    );
    for body in [arrivals, with_payload, login] {
        let answer = send(&state, &body).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}: {}", answer.text());
    }
}

#[tokio::test]
async fn each_parameter_mismatch_gets_its_code_and_names_the_component() {
    let state = start();
    // new_arrivals' parameters with one value changed (`Null` removes an item).
    #[rustfmt::skip]
    let arrivals = [
        // 132000: counts, a required component left out.
        ("/0", Value::Null, 132_000, "header"),
        ("/1/parameters/2", Value::Null, 132_000, "body"),
        ("/2", Value::Null, 132_000, "button at index 0 (URL)"),
        ("/3", Value::Null, 132_000, "button at index 1 (COPY_CODE)"),
        // 132012: formats.
        ("/0/parameters/0", json!({"type": "text", "text": "Summer"}), 132_012, "header: parameter 1 is text"),
        ("/0/parameters/0", json!({"type": "video", "video": {"link": "https://cdn.example.com/a.mp4"}}), 132_012, "takes image"),
        ("/1/parameters/0/parameter_name", json!("season"), 132_012, "`season`"),
        ("/1/parameters/0/parameter_name", Value::Null, 132_012, "no parameter_name"),
        ("/3/parameters/0", json!({"type": "text", "text": "NEW10"}), 132_012, "takes coupon_code"),
        // 132018: a button component that names no button of the template.
        ("/2/index", json!("7"), 132_018, "index 7"),
        ("/2/sub_type", json!("quick_reply"), 132_018, "sub_type quick_reply"),
    ];
    let login_body_only = json!([{"type": "body", "parameters": [{"type": "text", "text": "4"}]}]);
    let named_order = json!([{"type": "body", "parameters": [
        {"type": "text", "parameter_name": "order", "text": "A-1"}]}]);
    let past_buttons = json!([{"type": "button", "sub_type": "url", "index": "5"}]);
    let cases = arrivals
        .into_iter()
        .map(|(pointer, value, code, names)| {
            (
                "new_arrivals",
                new_arrivals_with(pointer, value),
                code,
                names,
            )
        })
        .chain([
            (
                "login_code",
                login_body_only,
                132_000,
                "button at index 0 (OTP)",
            ),
            ("order_update", named_order, 132_012, "POSITIONAL"),
            ("spring_sale", past_buttons, 132_018, "2 button(s)"),
        ]);
    for (name, components, code, names) in cases {
        let body = template_send(name, components);
        let error = assert_graph_error(&send(&state, &body).await, StatusCode::BAD_REQUEST, code);
        assert!(
            details(&error).contains(names),
            "{body}: expected details naming `{names}`, got {error}"
        );
    }
}

#[tokio::test]
async fn header_media_by_an_unknown_id_is_refused_as_free_form_media_is() {
    let state = start();
    let components = new_arrivals_with(
        "/0/parameters/0",
        json!({"type": "image", "image": {"id": "987654321"}}),
    );
    let error = assert_graph_error(
        &send(&state, &template_send("new_arrivals", components)).await,
        StatusCode::BAD_REQUEST,
        131_009,
    );
    assert!(details(&error).contains("987654321"), "{error}");
}

#[tokio::test]
async fn invalid_creations_are_refused_with_100_naming_what_is_wrong() {
    let state = start();
    let with = |pointer: &str, value: Value| {
        let mut body = rich_template("bad_promo");
        *body.pointer_mut(pointer).expect("a field") = value;
        body
    };
    let cases = [
        (
            with("/components/1/example", Value::Null),
            "body_text_named_params",
        ),
        (with("/parameter_format", json!("POSITIONAL")), "POSITIONAL"),
        (with("/components/0/text", json!("x".repeat(61))), "60"),
        (
            with(
                "/components/3/buttons/1/url",
                json!("https://shop.example.com/{{1}}/promo"),
            ),
            "end of the url",
        ),
        (
            with("/components/3/buttons/0/text", json!("x".repeat(26))),
            "25",
        ),
        (with("/components/0/format", json!("GIF")), "not simulated"),
        (
            with("/parameter_format", json!("FREE")),
            "POSITIONAL or NAMED",
        ),
    ];
    for (body, expected) in cases {
        let error = assert_graph_error(
            &graph_post(&state, TEMPLATES, Some(TOKEN), &body).await,
            StatusCode::BAD_REQUEST,
            100,
        );
        assert!(details(&error).contains(expected), "{body}: {error}");
    }
}

#[tokio::test]
async fn a_created_template_checks_sends_against_its_own_buttons() {
    let state = start();
    create_approved(&state, &rich_template("autumn_promo")).await;
    let named = json!([
        {"type": "header", "parameters": [{"type": "text", "parameter_name": "sale", "text": "Autumn Sale"}]},
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": "end_date", "text": "Friday"},
            {"type": "text", "parameter_name": "code", "text": "FALL"}]}]);
    let error = assert_graph_error(
        &send(&state, &template_send("autumn_promo", named.clone())).await,
        StatusCode::BAD_REQUEST,
        132_000,
    );
    assert!(
        details(&error).contains("button at index 1 (URL)"),
        "{error}"
    );
    let mut complete = named;
    complete.as_array_mut().expect("components").push(
        json!({"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "fall"}]}),
    );
    let answer = send(&state, &template_send("autumn_promo", complete)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn world_files_give_components_and_old_parameter_counts_still_work() {
    let state = start_with(
        r#"
[[waba.templates]]
id = "120000000000009"
name = "appointment"
language = "en_US"
category = "UTILITY"
parameter_format = "NAMED"
[[waba.templates.components]]
type = "BODY"
text = "See you on {{day}}."
example = { body_text_named_params = [{ param_name = "day", example = "Monday" }] }

[[waba.templates]]
id = "120000000000010"
name = "legacy_notice"
language = "en_US"
category = "UTILITY"
body_parameters = 2
"#,
    );
    let appointment = listed(&state, "appointment").await;
    assert_eq!(appointment["components"][0]["text"], "See you on {{day}}.");
    let day = json!([{"type": "body", "parameters": [{"type": "text", "parameter_name": "day", "text": "Friday"}]}]);
    let answer = send(&state, &template_send("appointment", day)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let legacy = listed(&state, "legacy_notice").await;
    assert_eq!(legacy["components"][0]["text"], "legacy_notice {{1}} {{2}}");
    let two = json!([{"type": "body", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]);
    let answer = send(&state, &template_send("legacy_notice", two)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());

    let both = "[[waba.templates]]\nid = \"1\"\nname = \"x\"\nlanguage = \"en_US\"\ncategory = \"UTILITY\"\nbody_parameters = 1\n[[waba.templates.components]]\ntype = \"BODY\"\ntext = \"hi\"\n";
    let error = WorldSpec::from_toml(both).expect_err("components and counts together");
    assert!(
        error.to_string().contains("waba.templates[0].components"),
        "{error}"
    );
    let invalid = "[[waba.templates]]\nid = \"1\"\nname = \"x\"\nlanguage = \"en_US\"\ncategory = \"UTILITY\"\n[[waba.templates.components]]\ntype = \"BODY\"\ntext = \"Hi {{1}}\"\n";
    let error = WorldSpec::from_toml(invalid).expect_err("a placeholder without its example");
    assert!(error.to_string().contains("example"), "{error}");
}
