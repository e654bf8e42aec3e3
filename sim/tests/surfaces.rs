//! Socketless tests of every HTTP surface (Graph, 360dialog, control) through the router.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::http::{
    Client, assert_graph_error, assert_unknown_object, call, client, control_get, control_post,
    d360_post, details, graph_post, graph_request, message, partner_token, send, start, start_with,
    trace, traced,
};
use support::{ANA, PRIYA, TOKEN, US_KEY, US_PHONE, template, text};
use wasim_sim::api::extract::BODY_BYTES_MAX;
use wasim_sim::state::AppState;
use wasim_sim::{ServeConfig, WorldSpec};

const MESSAGES: &str = "/v23.0/110000000000001/messages";
const WRONG_TOKEN: &str = "not_the_token_7f3a9c";

// ---------------------------------------------------------------- Graph: success

#[tokio::test]
async fn a_template_send_answers_contacts_and_an_accepted_message_status() {
    let state = start();
    let answer = send(&state, &template(ANA, "spring_sale")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["messaging_product"], "whatsapp", "{body}");
    assert_eq!(
        body["contacts"],
        json!([{"input": ANA, "wa_id": ANA}]),
        "{body}"
    );
    let messages = body["messages"].as_array().expect("messages array");
    assert_eq!(messages.len(), 1, "{body}");
    let id = messages[0]["id"].as_str().expect("message id");
    assert!(id.starts_with("wamid."), "{body}");
    assert_eq!(messages[0]["message_status"], "accepted", "{body}");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["messaging_product", "contacts", "messages"],
        "{body}"
    );
}

#[tokio::test]
async fn a_text_send_answers_a_wamid_without_message_status() {
    let state = start();
    let answer = send(&state, &text(ANA, "hello")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["contacts"][0]["wa_id"], ANA);
    let message = body["messages"][0].as_object().expect("one message");
    assert!(message["id"].as_str().expect("id").starts_with("wamid."));
    assert!(!message.contains_key("message_status"), "{body}");
}

#[tokio::test]
async fn the_version_segment_is_optional_but_must_look_like_a_version() {
    let state = start();
    let answer = graph_post(
        &state,
        "/110000000000001/messages",
        Some(TOKEN),
        &template(ANA, "spring_sale"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(
        answer.json()["messages"][0]["id"]
            .as_str()
            .expect("id")
            .starts_with("wamid.")
    );

    let answer = graph_post(
        &state,
        "/v23/110000000000001/messages",
        Some(TOKEN),
        &template(ANA, "spring_sale"),
    )
    .await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 2500);
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("/v23/110000000000001/messages"),
        "{error}"
    );
}

#[tokio::test]
async fn a_formatted_phone_number_is_echoed_as_input_and_normalised_into_wa_id() {
    let state = start();
    let answer = send(&state, &template("+55 11 98765-4321", "spring_sale")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json()["contacts"],
        json!([{"input": "+55 11 98765-4321", "wa_id": ANA}])
    );
}

// ---------------------------------------------------------------- Graph: auth

#[tokio::test]
async fn a_missing_bearer_gets_oauth_error_190_with_http_401() {
    let state = start();
    let answer = graph_post(&state, MESSAGES, None, &template(ANA, "spring_sale")).await;
    let error = assert_graph_error(&answer, StatusCode::UNAUTHORIZED, 190);
    assert_eq!(
        error["message"],
        wasim_sim::model::error::title_of(190),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_bearer_gets_oauth_error_190_with_http_401() {
    let state = start();
    let answer = graph_post(
        &state,
        MESSAGES,
        Some(WRONG_TOKEN),
        &template(ANA, "spring_sale"),
    )
    .await;
    assert_graph_error(&answer, StatusCode::UNAUTHORIZED, 190);
}

#[tokio::test]
async fn a_non_bearer_authorization_scheme_gets_190() {
    let state = start();
    let request = Request::builder()
        .method("POST")
        .uri(MESSAGES)
        .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(template(ANA, "spring_sale").to_string()))
        .expect("a valid request");
    let answer = call(&state, request).await;
    assert_graph_error(&answer, StatusCode::UNAUTHORIZED, 190);
}

#[tokio::test]
async fn a_wrong_token_with_a_malformed_body_still_gets_190_because_auth_comes_first() {
    let state = start();
    let answer = call(
        &state,
        graph_request("POST", MESSAGES, Some(WRONG_TOKEN), Some("{not json")),
    )
    .await;
    assert_graph_error(&answer, StatusCode::UNAUTHORIZED, 190);

    let request = Request::builder()
        .method("POST")
        .uri(MESSAGES)
        .header(header::AUTHORIZATION, format!("Bearer {WRONG_TOKEN}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hello"))
        .expect("a valid request");
    let answer = call(&state, request).await;
    assert_graph_error(&answer, StatusCode::UNAUTHORIZED, 190);
}

// ---------------------------------------------------------------- Graph: bodies

#[tokio::test]
async fn malformed_json_gets_100_with_http_400_and_details_naming_json() {
    let state = start();
    let answer = call(
        &state,
        graph_request(
            "POST",
            MESSAGES,
            Some(TOKEN),
            Some("{\"messaging_product\": "),
        ),
    )
    .await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(details(&error).contains("JSON"), "{error}");
}

#[tokio::test]
async fn an_empty_body_gets_100_with_http_400() {
    let state = start();
    let answer = call(
        &state,
        graph_request("POST", MESSAGES, Some(TOKEN), Some("")),
    )
    .await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(details(&error).contains("JSON"), "{error}");
}

#[tokio::test]
async fn a_text_plain_content_type_gets_100_with_http_415() {
    let state = start();
    let request = Request::builder()
        .method("POST")
        .uri(MESSAGES)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(template(ANA, "spring_sale").to_string()))
        .expect("a valid request");
    let answer = call(&state, request).await;
    let error = assert_graph_error(&answer, StatusCode::UNSUPPORTED_MEDIA_TYPE, 100);
    assert!(details(&error).contains("text/plain"), "{error}");
}

#[tokio::test]
async fn a_json_content_type_with_a_charset_is_accepted() {
    let state = start();
    let request = Request::builder()
        .method("POST")
        .uri(MESSAGES)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(template(ANA, "spring_sale").to_string()))
        .expect("a valid request");
    let answer = call(&state, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn a_body_over_the_size_limit_gets_100_with_http_413() {
    let state = start();
    let mut body = text(ANA, "x").to_string();
    // Pad with whitespace (valid JSON) to one byte over the limit.
    body.push_str(&" ".repeat(BODY_BYTES_MAX + 1 - body.len()));
    assert_eq!(body.len(), BODY_BYTES_MAX + 1);
    let answer = call(
        &state,
        graph_request("POST", MESSAGES, Some(TOKEN), Some(&body)),
    )
    .await;
    let error = assert_graph_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, 100);
    assert!(
        details(&error).contains(&BODY_BYTES_MAX.to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn a_body_at_exactly_the_size_limit_is_read() {
    let state = start();
    let mut body = text(ANA, "x").to_string();
    body.push_str(&" ".repeat(BODY_BYTES_MAX - body.len()));
    let answer = call(
        &state,
        graph_request("POST", MESSAGES, Some(TOKEN), Some(&body)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn a_missing_to_gets_100_naming_it_or_131008_by_the_table() {
    let mut body = template(ANA, "spring_sale");
    body.as_object_mut().expect("object").remove("to");
    let answer = send(&start(), &body).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert_eq!(message(&error), "(#100) The parameter to is required.");
    let table = start_with("[policy]\nparameter_errors = \"table\"\n");
    let answer = send(&table, &body).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 131_008);
    assert_eq!(details(&error), "The parameter to is required.");
}

#[tokio::test]
async fn a_missing_messaging_product_gets_100() {
    let state = start();
    let mut body = template(ANA, "spring_sale");
    body.as_object_mut()
        .expect("object")
        .remove("messaging_product");
    let answer = send(&state, &body).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert_eq!(
        message(&error),
        "(#100) The parameter messaging_product is required."
    );
    assert!(error.get("error_data").is_none(), "{error}");
}

#[tokio::test]
async fn an_invalid_to_gets_100_naming_it_or_131009_by_the_table() {
    let answer = send(&start(), &template("abc", "spring_sale")).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(message(&error).contains("abc"), "{error}");
    let table = start_with("[policy]\nparameter_errors = \"table\"\n");
    let answer = send(&table, &template("abc", "spring_sale")).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 131_009);
    assert!(details(&error).contains("abc"), "{error}");
}

#[tokio::test]
async fn an_unknown_message_type_gets_100() {
    let state = start();
    let body = json!({"messaging_product": "whatsapp", "to": ANA, "type": "carrier_pigeon"});
    let answer = send(&state, &body).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(message(&error).contains("carrier_pigeon"), "{error}");
}

#[tokio::test]
async fn a_flow_message_gets_100_saying_it_is_not_simulated() {
    let state = start();
    let body = json!({
        "messaging_product": "whatsapp", "to": ANA, "type": "interactive",
        "interactive": {"type": "flow", "body": {"text": "Book"},
                        "action": {"name": "flow", "parameters": {}}},
    });
    let answer = send(&state, &body).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(message(&error).contains("not simulated"), "{error}");
}

#[tokio::test]
async fn an_unknown_template_name_gets_132001_with_http_404() {
    let state = start();
    let answer = send(&state, &template(ANA, "no_such_template")).await;
    let error = assert_graph_error(&answer, StatusCode::NOT_FOUND, 132_001);
    assert!(details(&error).contains("no_such_template"), "{error}");
}

#[tokio::test]
async fn a_template_missing_its_body_parameter_gets_132000() {
    let state = start();
    let answer = send(&state, &template(ANA, "order_update")).await;
    assert_graph_error(&answer, StatusCode::BAD_REQUEST, 132_000);

    let mut body = template(ANA, "order_update");
    body["template"]["components"] =
        json!([{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}]);
    let answer = send(&state, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["messages"][0]["message_status"], "accepted");
}

#[tokio::test]
async fn a_get_on_a_messages_path_gets_a_graph_error_not_an_empty_405() {
    let state = start();
    let answer = Client::bearer(&state, TOKEN).get(MESSAGES).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(details(&error).contains("GET"), "{error}");

    let answer = Client::bearer(&state, TOKEN)
        .get("/110000000000001/messages")
        .await;
    assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);

    let answer = Client::anonymous(&state).get(MESSAGES).await;
    assert_graph_error(&answer, StatusCode::UNAUTHORIZED, 190);
}

#[tokio::test]
async fn an_unknown_graph_path_gets_2500_bare_each_with_its_own_trace_id() {
    let state = start();
    let mut trace_ids = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let answer = call(
            &state,
            graph_request(
                "POST",
                "/v23.0/110000000000001/block_users",
                Some(TOKEN),
                Some("{}"),
            ),
        )
        .await;
        let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 2500);
        assert_eq!(
            error["message"], "Unknown path components: /v23.0/110000000000001/block_users",
            "{error}"
        );
        trace_ids.insert(error["fbtrace_id"].as_str().expect("a trace id").to_owned());
    }
    // Refusals through the model draw from the same sequence.
    let refused = send(&state, &json!({"to": ANA})).await;
    let error = assert_graph_error(&refused, StatusCode::BAD_REQUEST, 100);
    trace_ids.insert(error["fbtrace_id"].as_str().expect("a trace id").to_owned());
    assert_eq!(trace_ids.len(), 4, "{trace_ids:?}");
}

#[tokio::test]
async fn an_unknown_phone_number_id_gets_graph_s_method_exception_with_subcode_33() {
    let state = start();
    let answer = graph_post(
        &state,
        "/v23.0/199999999999999/messages",
        Some(TOKEN),
        &template(ANA, "spring_sale"),
    )
    .await;
    assert_unknown_object(&answer, "post", "199999999999999");
    let answer = client(&state, Some(TOKEN))
        .get("/v23.0/199999999999999")
        .await;
    assert_unknown_object(&answer, "get", "199999999999999");
}

// ---------------------------------------------------------------- 360dialog

#[tokio::test]
async fn a_360dialog_send_with_its_key_answers_in_the_cloud_api_shape() {
    let state = start();
    let answer = d360_post(&state, Some(US_KEY), &template(ANA, "spring_sale")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["messaging_product"], "whatsapp", "{body}");
    assert_eq!(
        body["contacts"],
        json!([{"input": ANA, "wa_id": ANA}]),
        "{body}"
    );
    assert!(
        body["messages"][0]["id"]
            .as_str()
            .expect("id")
            .starts_with("wamid."),
        "{body}"
    );
    assert_eq!(body["messages"][0]["message_status"], "accepted", "{body}");
}

#[tokio::test]
async fn a_360dialog_send_without_or_with_a_wrong_key_gets_its_own_401() {
    let state = start();
    let expected =
        r#"{"meta":{"success":false,"http_code":401,"developer_message":"Invalid api_key"}}"#;
    for key in [None, Some("wrong_key"), Some(TOKEN)] {
        let answer = d360_post(&state, key, &template(ANA, "spring_sale")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "key {key:?}");
        assert_eq!(answer.text(), expected, "key {key:?}");
    }
}

#[tokio::test]
async fn a_360dialog_send_validates_the_body_like_the_cloud_api() {
    let state = start();
    let answer = d360_post(&state, Some(US_KEY), &template("abc", "spring_sale")).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(
        message(&error).starts_with("(#100) Param to must be"),
        "{error}"
    );
}

// ---------------------------------------------------------------- Control API

#[tokio::test]
async fn health_answers_ok() {
    let state = start();
    let answer = control_get(&state, "/_wasim/health").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn the_world_lists_credentials_numbers_templates_and_recipients() {
    let state = start();
    let answer = control_get(&state, "/_wasim/world").await;
    assert_eq!(answer.status, StatusCode::OK);
    let world = answer.json();
    assert_eq!(world["access_token"], TOKEN, "{world}");
    assert_eq!(world["app_secret"], "wasim_test_app_secret", "{world}");
    assert_eq!(world["verify_token"], "wasim_test_verify_token", "{world}");
    for field in ["partner_id", "partner_username", "partner_password"] {
        assert!(
            world[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} in {world}"
        );
    }
    let waba = &world["wabas"][0];
    assert!(
        waba["id"].as_str().is_some_and(|v| !v.is_empty()),
        "{world}"
    );

    let numbers = waba["phone_numbers"].as_array().expect("phone numbers");
    for number in numbers {
        for field in [
            "id",
            "display_phone_number",
            "country",
            "channel_id",
            "d360_api_key",
        ] {
            assert!(
                number[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} in {number}"
            );
        }
    }
    let countries: Vec<&str> = numbers
        .iter()
        .filter_map(|n| n["country"].as_str())
        .collect();
    assert!(countries.contains(&"DE"), "{countries:?}");
    assert!(countries.contains(&"TR"), "{countries:?}");
    assert!(
        numbers
            .iter()
            .any(|n| n["id"] == US_PHONE && n["d360_api_key"] == US_KEY),
        "{numbers:?}"
    );

    let templates = waba["templates"].as_array().expect("templates");
    for template in templates {
        for field in ["id", "name", "language", "category", "status", "quality"] {
            assert!(
                template[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} in {template}"
            );
        }
    }
    let categories: Vec<&str> = templates
        .iter()
        .filter_map(|t| t["category"].as_str())
        .collect();
    for category in ["MARKETING", "UTILITY", "AUTHENTICATION"] {
        assert!(categories.contains(&category), "{categories:?}");
    }
    assert!(
        templates
            .iter()
            .any(|t| t["name"] == "spring_sale" && t["language"] == "en_US"),
        "{templates:?}"
    );

    let recipients = world["recipients"].as_array().expect("recipients");
    assert!(!recipients.is_empty());
    for recipient in recipients {
        assert!(recipient["wa_id"].as_str().is_some(), "{recipient}");
        assert!(recipient["country"].as_str().is_some(), "{recipient}");
    }
    assert!(
        recipients.iter().any(|r| r["wa_id"] == ANA),
        "{recipients:?}"
    );
    assert!(
        world["recipients_total"]
            .as_u64()
            .is_some_and(|n| n >= 10_000),
        "{}",
        world["recipients_total"]
    );
}

#[tokio::test]
async fn the_clock_starts_at_zero_in_manual_mode_and_advances_on_request() {
    let state = start();
    let answer = control_get(&state, "/_wasim/clock").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"now_ms": 0, "mode": "manual"}));

    let answer = control_post(&state, "/_wasim/clock/advance", &json!({"seconds": 60})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"now_ms": 60_000}));

    let answer = control_post(&state, "/_wasim/clock/advance", &json!({"seconds": 0.5})).await;
    assert_eq!(answer.json(), json!({"now_ms": 60_500}));

    let answer = control_get(&state, "/_wasim/clock").await;
    assert_eq!(answer.json()["now_ms"], 60_500);
}

#[tokio::test]
async fn a_clock_advance_with_a_bad_body_gets_a_400_json_error() {
    let state = start();
    for body in [
        json!({"seconds": "x"}),
        json!({"seconds": -1}),
        json!({}),
        json!([60]),
        json!({"seconds": 1.0e12}),
    ] {
        let answer = control_post(&state, "/_wasim/clock/advance", &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        let error = answer.json();
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body} -> {error}"
        );
    }
    let request = Request::builder()
        .method("POST")
        .uri("/_wasim/clock/advance")
        .body(Body::from("{oops"))
        .expect("a valid request");
    let answer = call(&state, request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.json()["error"]["message"].is_string());

    let answer = control_get(&state, "/_wasim/clock").await;
    assert_eq!(
        answer.json()["now_ms"],
        0,
        "a refused advance moved the clock"
    );
}

#[tokio::test]
async fn a_control_body_without_a_json_content_type_is_still_read() {
    let state = start();
    let request = Request::builder()
        .method("POST")
        .uri("/_wasim/clock/advance")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(r#"{"seconds": 2}"#))
        .expect("a valid request");
    let answer = call(&state, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"now_ms": 2_000}));
}

#[tokio::test]
async fn inbound_from_a_known_recipient_answers_a_wamid_and_from_an_unknown_one_404() {
    let state = start();
    let answer = control_post(
        &state,
        "/_wasim/inbound",
        &json!({"from": ANA, "text": "hi"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    let object = body.as_object().expect("object");
    assert_eq!(object.len(), 1, "{body}");
    assert!(
        body["id"].as_str().expect("id").starts_with("wamid."),
        "{body}"
    );

    let answer = control_post(
        &state,
        "/_wasim/inbound",
        &json!({"from": "123456789", "text": "hi"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
    assert!(answer.json()["error"]["message"].is_string());

    let answer = control_post(&state, "/_wasim/inbound", &json!({"from": ANA})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
}

#[tokio::test]
async fn an_inbound_message_opens_the_service_window_for_free_form_text() {
    let state = start();
    let answer = control_post(
        &state,
        "/_wasim/inbound",
        &json!({"from": ANA, "text": "hi"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = send(&state, &text(ANA, "hello back")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.json()["messages"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let answer = control_post(&state, "/_wasim/clock/advance", &json!({"seconds": 60})).await;
    assert_eq!(answer.status, StatusCode::OK);
    let (_, records) = trace(&state).await;
    let statuses: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "status" && r["message_id"] == id.as_str())
        .collect();
    assert!(!statuses.is_empty(), "no status for {id}");
    assert!(
        statuses.iter().all(|s| s["status"] != "failed"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn ecosystem_marketing_needs_a_positive_count_and_a_known_recipient() {
    let state = start();
    let answer = control_post(
        &state,
        "/_wasim/ecosystem/marketing",
        &json!({"to": PRIYA, "count": 0}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert!(answer.json()["error"]["message"].is_string());

    let answer = control_post(
        &state,
        "/_wasim/ecosystem/marketing",
        &json!({"to": "123456789", "count": 1}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
    assert!(answer.json()["error"]["message"].is_string());

    let answer = control_post(
        &state,
        "/_wasim/ecosystem/marketing",
        &json!({"to": PRIYA, "count": 2}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"success": true}));
}

#[tokio::test]
async fn an_unknown_control_path_gets_404_listing_the_valid_paths() {
    let state = start();
    let answer = control_get(&state, "/_wasim/nope").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let body = answer.json();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/_wasim/nope")),
        "{body}"
    );
    let paths: Vec<&str> = body["error"]["valid_paths"]
        .as_array()
        .expect("valid_paths")
        .iter()
        .map(|p| p.as_str().expect("string path"))
        .collect();
    assert_eq!(paths, wasim_sim::api::control::PATHS, "{body}");
    for fixed in [
        "GET /_wasim/health",
        "GET /_wasim/world",
        "GET /_wasim/clock",
        "GET /_wasim/trace",
        "POST /_wasim/reset",
    ] {
        assert!(paths.contains(&fixed), "{fixed} missing from {paths:?}");
    }
    for prefix in [
        "POST /_wasim/clock/advance",
        "POST /_wasim/inbound",
        "POST /_wasim/ecosystem/marketing",
    ] {
        assert!(
            paths.iter().any(|p| p.starts_with(prefix)),
            "{prefix} missing from {paths:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_control_path_gets_405_listing_the_valid_paths() {
    let state = start();
    let answer = control_post(&state, "/_wasim/health", &json!({})).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    let body = answer.json();
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["valid_paths"].is_array(), "{body}");
}

#[tokio::test]
async fn the_trace_is_json_lines_with_seq_at_ms_and_kind_on_every_line() {
    let state = start();
    send(&state, &template(ANA, "spring_sale")).await;
    send(&state, &template("abc", "spring_sale")).await;
    control_post(&state, "/_wasim/clock/advance", &json!({"seconds": 5})).await;
    let answer = control_get(&state, "/_wasim/trace").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type.as_deref(), Some("application/x-ndjson"));
    let text = answer.text();
    assert!(text.ends_with('\n'), "{text}");
    let mut last_seq = None;
    for line in text.lines() {
        let record: Value = serde_json::from_str(line).expect("each line is JSON");
        let seq = record["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("no seq: {line}"));
        assert!(record["at_ms"].is_u64(), "no at_ms: {line}");
        assert!(record["kind"].is_string(), "no kind: {line}");
        assert_eq!(
            seq,
            last_seq.map_or(0, |s| s + 1),
            "seq out of order: {line}"
        );
        last_seq = Some(seq);
    }
    let (_, records) = trace(&state).await;
    let kinds: Vec<&str> = records.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"world_built"), "{kinds:?}");
    for kind in [
        "request",
        "message_accepted",
        "message_rejected",
        "status",
        "clock_advanced",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn reset_succeeds_and_puts_the_clock_back_to_zero() {
    let state = start();
    control_post(&state, "/_wasim/clock/advance", &json!({"seconds": 120})).await;
    let answer = control_get(&state, "/_wasim/clock").await;
    assert_eq!(answer.json()["now_ms"], 120_000);

    let answer = control_post(&state, "/_wasim/reset", &json!({})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"success": true}));

    let answer = control_get(&state, "/_wasim/clock").await;
    assert_eq!(answer.json(), json!({"now_ms": 0, "mode": "manual"}));
    let (_, records) = trace(&state).await;
    assert!(
        records.iter().any(|r| r["kind"] == "world_reset"),
        "no world_reset record"
    );
}

// ---------------------------------------------------------------- Secrets

#[tokio::test]
async fn the_trace_never_contains_a_secret_only_credential_fingerprints() {
    let state = start();
    assert_eq!(
        send(&state, &template(ANA, "spring_sale")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        d360_post(&state, Some(US_KEY), &template(ANA, "spring_sale"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        d360_post(&state, Some(WRONG_TOKEN), &template(ANA, "spring_sale"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        graph_post(
            &state,
            MESSAGES,
            Some(WRONG_TOKEN),
            &template(ANA, "spring_sale")
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        control_post(
            &state,
            "/_wasim/inbound",
            &json!({"from": ANA, "text": "hi"})
        )
        .await
        .status,
        StatusCode::OK
    );
    control_post(&state, "/_wasim/clock/advance", &json!({"seconds": 60})).await;

    let (text, records) = trace(&state).await;
    for secret in [
        TOKEN,
        US_KEY,
        "wasim_test_app_secret",
        "wasim_test_verify_token",
        "wasim_test_partner_password",
        WRONG_TOKEN,
    ] {
        assert!(!text.contains(secret), "the trace contains {secret}");
    }
    let requests: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "request" && (r["surface"] == "graph" || r["surface"] == "d360"))
        .collect();
    assert_eq!(requests.len(), 4, "{requests:?}");
    for request in &requests {
        let credential = request["credential"]
            .as_str()
            .unwrap_or_else(|| panic!("no credential fingerprint: {request}"));
        assert!(credential.starts_with("fp_"), "{request}");
    }
    let prints: Vec<&str> = requests
        .iter()
        .filter_map(|r| r["credential"].as_str())
        .collect();
    assert_eq!(prints[0], wasim_sim::trace::fingerprint(TOKEN));
    assert_eq!(prints[1], wasim_sim::trace::fingerprint(US_KEY));
    assert_eq!(prints[2], prints[3], "one wrong token, one fingerprint");
    assert_ne!(prints[0], prints[2]);
}

// ---------------------------------------------------------------- Rate limits

#[tokio::test]
async fn the_81st_send_in_one_instant_gets_130429_and_a_second_later_sends_work_again() {
    let state = start();
    for n in 0..80 {
        let to = if n % 2 == 0 { ANA } else { PRIYA };
        let answer = send(&state, &template(to, "spring_sale")).await;
        assert_eq!(answer.status, StatusCode::OK, "send {n}: {}", answer.text());
    }
    let answer = send(&state, &template(ANA, "spring_sale")).await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 130_429);
    assert_eq!(error["message"], "(#130429) Rate limit hit");

    let answer = control_get(&state, "/_wasim/clock").await;
    assert_eq!(
        answer.json()["now_ms"],
        0,
        "the manual clock moved on its own"
    );

    let answer = control_post(&state, "/_wasim/clock/advance", &json!({"seconds": 1})).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = send(&state, &template(ANA, "spring_sale")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn the_46th_send_to_one_recipient_in_one_instant_gets_131056() {
    let state = start();
    for n in 0..45 {
        let answer = send(&state, &template(ANA, "spring_sale")).await;
        assert_eq!(answer.status, StatusCode::OK, "send {n}: {}", answer.text());
    }
    let answer = send(&state, &template(ANA, "spring_sale")).await;
    assert_graph_error(&answer, StatusCode::BAD_REQUEST, 131_056);
    // Another recipient is not affected.
    let answer = send(&state, &template(PRIYA, "spring_sale")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn magic_recipients_get_their_rate_limit_error_at_once() {
    let state = start();
    let answer = send(&state, &template("999131056", "spring_sale")).await;
    assert_graph_error(&answer, StatusCode::BAD_REQUEST, 131_056);
    let answer = send(&state, &template("999130429", "spring_sale")).await;
    assert_graph_error(&answer, StatusCode::BAD_REQUEST, 130_429);
    let answer = send(&state, &text("999130429", "hi")).await;
    assert_graph_error(&answer, StatusCode::BAD_REQUEST, 130_429);
}

#[tokio::test]
async fn transient_magic_recipients_refuse_every_other_send_so_a_retry_goes_through() {
    let state = start();
    let cases = [
        (
            "999131000",
            StatusCode::INTERNAL_SERVER_ERROR,
            131_000,
            "(#131000) Something went wrong",
        ),
        (
            "999131057",
            StatusCode::INTERNAL_SERVER_ERROR,
            131_057,
            "(#131057) Account in maintenance mode",
        ),
        (
            "999133004",
            StatusCode::SERVICE_UNAVAILABLE,
            133_004,
            "(#133004) Server temporarily unavailable",
        ),
        (
            "999000004",
            StatusCode::BAD_REQUEST,
            4,
            "(#4) Application request limit reached",
        ),
        (
            "999080007",
            StatusCode::BAD_REQUEST,
            80_007,
            "(#80007) Rate limit issues",
        ),
    ];
    for (to, http, code, text) in cases {
        // Two messages, each refused once and accepted on its retry.
        for _ in 0..2 {
            let first = send(&state, &template(to, "spring_sale")).await;
            let error = assert_graph_error(&first, http, code);
            assert_eq!(message(&error), text);
            let retry = send(&state, &template(to, "spring_sale")).await;
            assert_eq!(retry.status, StatusCode::OK, "{to}: {}", retry.text());
        }
    }
    let codes = traced(&state, "message_rejected", "title").await;
    assert_eq!(codes.len(), 2 * cases.len(), "{codes:?}");
    let world = control_get(&state, "/_wasim/world").await.json();
    for (to, ..) in cases {
        assert!(
            world["magic_recipients"]
                .as_array()
                .is_some_and(|listed| listed.iter().any(|m| m["wa_id"] == to)),
            "{to} is listed"
        );
    }
}

#[tokio::test]
async fn a_send_to_the_sending_number_itself_gets_131021_at_once() {
    let state = start();
    // US_PHONE is +1 555 010 0001; punctuation does not hide it.
    for to in ["15550100001", "+1 555-010-0001"] {
        let answer = send(&state, &text(to, "hi me")).await;
        let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 131_021);
        assert_eq!(error["message"], "(#131021) Recipient cannot be sender");
    }
    let rejected = traced(&state, "message_rejected", "title").await;
    assert_eq!(rejected, vec!["Recipient cannot be sender"; 2]);
    assert!(
        traced(&state, "message_accepted", "message_id")
            .await
            .is_empty()
    );
    // Another number of the WABA is a recipient like any other.
    let answer = send(&state, &template("4930901820", "spring_sale")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn control_paths_that_end_in_messages_are_not_taken_for_graph_paths() {
    let state = start();
    for path in ["/_wasim/messages", "/_wasim/x/messages"] {
        let answer = control_post(&state, path, &json!({})).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(answer.json()["error"]["valid_paths"].is_array(), "{path}");
    }
}

#[tokio::test]
async fn with_a_control_token_every_control_path_requires_it() {
    let mut config = ServeConfig::new(WorldSpec::default());
    config.control_token = Some("ctl_token_123".to_owned());
    let state = AppState::start(config).expect("builds");
    for path in ["/_wasim/world", "/_wasim/nope"] {
        let refused = control_get(&state, path).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(refused.text().contains("X-Wasim-Control-Token"));
        assert!(
            !refused.text().contains("valid_paths"),
            "{path} leaked the path list"
        );
    }
    let request = Request::builder()
        .uri("/_wasim/world")
        .header("X-Wasim-Control-Token", "ctl_token_123")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&state, request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn webhook_urls_enter_the_trace_without_user_info_or_query() {
    let mut config = ServeConfig::new(WorldSpec::default());
    // Nothing listens on port 9: the attempt fails, and is traced with a redacted URL.
    config.webhook_url = Some("http://user:pw_secret@127.0.0.1:9/hook?token=qs_secret".to_owned());
    let state = AppState::start(config).expect("builds");
    let inbound = control_post(
        &state,
        "/_wasim/inbound",
        &json!({"from": ANA, "text": "hi"}),
    )
    .await;
    assert_eq!(inbound.status, StatusCode::OK);
    let (text, records) = trace(&state).await;
    assert!(
        !text.contains("pw_secret") && !text.contains("qs_secret"),
        "{text}"
    );
    let attempt = records
        .iter()
        .find(|r| r["kind"] == "webhook_attempt")
        .expect("the inbound webhook was attempted");
    assert!(
        attempt["url"]
            .as_str()
            .is_some_and(|u| u.contains("127.0.0.1:9/hook"))
    );
    assert!(attempt["http_status"].is_null());
    assert!(attempt["error"].is_string());
}

fn new_template(name: &str) -> Value {
    json!({"name": name, "language": "en_US", "category": "UTILITY",
           "components": [{"type": "BODY", "text": "Your code is {{1}}", "example": {"body_text": [["42"]]}}]})
}

#[tokio::test]
async fn templates_are_created_into_review_listed_read_unpaused_and_deleted_on_graph() {
    let state = start();
    let path = "/v23.0/100000000000001/message_templates";
    let created = graph_post(&state, path, Some(TOKEN), &new_template("shipping_code")).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    assert_eq!(created.json()["status"], "PENDING");
    let again = graph_post(&state, path, Some(TOKEN), &new_template("shipping_code")).await;
    assert_graph_error(&again, StatusCode::BAD_REQUEST, 100);
    let bad = graph_post(&state, path, Some(TOKEN), &json!({"name": "Bad Name", "language": "en_US", "category": "UTILITY", "components": [{"type": "BODY", "text": "x"}]})).await;
    assert!(details(&assert_graph_error(&bad, StatusCode::BAD_REQUEST, 100)).contains("name"));
    let refused = graph_post(&state, path, Some(WRONG_TOKEN), &new_template("x1")).await;
    assert_graph_error(&refused, StatusCode::UNAUTHORIZED, 190);
    // Sending before review ends: 132001.
    let body = json!({"messaging_product": "whatsapp", "to": ANA, "type": "template",
        "template": {"name": "shipping_code", "language": {"code": "en_US"},
          "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]}});
    assert_graph_error(&send(&state, &body).await, StatusCode::NOT_FOUND, 132_001);
    state.advance_by(300_000).await.expect("advance");
    assert_eq!(send(&state, &body).await.status, StatusCode::OK);
    let listed = Client::bearer(&state, TOKEN).get(path).await;
    let names: Vec<String> = listed.json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["name"].as_str().unwrap_or(""),
                t["status"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        names.contains(&"shipping_code:APPROVED".to_owned()),
        "{names:?}"
    );
    let quality = Client::bearer(&state, TOKEN)
        .get(&format!("/v23.0/{id}?fields=quality_score"))
        .await;
    assert_eq!(quality.json()["quality_score"]["score"], "UNKNOWN");
    assert!(quality.json()["quality_score"]["date"].is_u64());
    let not_paused = graph_post(
        &state,
        &format!("/v23.0/{id}/unpause"),
        Some(TOKEN),
        &json!({}),
    )
    .await;
    assert_eq!(not_paused.json()["success"], false);
    control_post(
        &state,
        "/_wasim/templates/shipping_code",
        &json!({"pause": true}),
    )
    .await;
    let unpaused = graph_post(
        &state,
        &format!("/v23.0/{id}/unpause"),
        Some(TOKEN),
        &json!({}),
    )
    .await;
    assert_eq!(unpaused.json(), json!({"success": true}));
    let deleted = Client::bearer(&state, TOKEN)
        .delete(&format!("{path}?name=shipping_code"))
        .await;
    assert_eq!(deleted.json(), json!({"success": true}));
    assert_graph_error(&send(&state, &body).await, StatusCode::NOT_FOUND, 132_001);
    let events = traced(&state, "template_status", "event").await;
    assert_eq!(
        events,
        vec!["PENDING", "APPROVED", "PAUSED", "APPROVED", "DELETED"]
    );
}

#[tokio::test]
async fn templates_are_managed_on_360dialog_with_the_channel_key() {
    let state = start();
    let created = Client::d360(&state, "wasim_test_d360_key_us")
        .post("/v1/configs/templates", &new_template("pickup_code"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["status"], "submitted");
    let wrong = Client::d360(&state, "nope")
        .get("/v1/configs/templates")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let listed = Client::d360(&state, "wasim_test_d360_key_us")
        .get("/v1/configs/templates")
        .await;
    let body = listed.json();
    assert_eq!(
        body["count"],
        body["waba_templates"].as_array().map(Vec::len).unwrap_or(0)
    );
    assert!(
        body["waba_templates"]
            .as_array()
            .expect("list")
            .iter()
            .any(|t| t["name"] == "pickup_code" && t["status"] == "submitted")
    );
    let deleted = Client::d360(&state, "wasim_test_d360_key_us")
        .delete("/v1/configs/templates/pickup_code")
        .await;
    assert_eq!(deleted.json()["meta"]["success"], true);
    let missing = Client::d360(&state, "wasim_test_d360_key_us")
        .delete("/v1/configs/templates/pickup_code")
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.json()["meta"]["success"], false);
}

#[tokio::test]
async fn a_partner_lists_channels_rotates_a_key_and_the_old_key_is_refused() {
    let state = start();
    let token = partner_token(&state).await;
    let partner = Client::bearer(&state, &token);
    let listed = partner
        .get("/api/v2/partners/wasimPA/channels?limit=2")
        .await;
    let body = listed.json();
    assert_eq!(
        (body["count"].clone(), body["total"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(body["partner_channels"][0]["id"], "wasimCH01");
    let filtered = partner
        .get("/api/v2/partners/wasimPA/channels?filters=%7B%22id%22%3A%22wasimCH02%22%7D")
        .await;
    assert_eq!(filtered.json()["total"], 1);
    // Before: the old key sends.
    let old = "wasim_test_d360_key_us";
    assert_eq!(
        d360_post(&state, Some(old), &template(ANA, "spring_sale"))
            .await
            .status,
        StatusCode::OK
    );
    let created = partner
        .post_empty("/api/v2/partners/wasimPA/channels/wasimCH01/api_keys")
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let new = created.string("/api_key");
    let refused = d360_post(&state, Some(old), &template(ANA, "spring_sale")).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "only the newest key works"
    );
    assert_eq!(
        d360_post(&state, Some(&new), &template(PRIYA, "spring_sale"))
            .await
            .status,
        StatusCode::OK
    );
    // A second key revokes the first new one too.
    let newer = partner
        .post_empty("/api/v2/partners/wasimPA/channels/wasimCH01/api_keys")
        .await;
    let newer = newer.string("/api_key");
    assert_eq!(
        d360_post(&state, Some(&new), &template(ANA, "order_update"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let keys = partner
        .get("/api/v2/partners/wasimPA/channels/wasimCH01/api_keys")
        .await;
    let listed_keys = keys.text();
    assert!(
        !listed_keys.contains(&newer),
        "keys are listed as fingerprints, never in clear"
    );
    let deleted = partner
        .delete("/api/v2/partners/wasimPA/channels/wasimCH01/api_keys")
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(
        d360_post(&state, Some(&newer), &template(ANA, "spring_sale"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let (text, records) = trace(&state).await;
    assert!(
        !text.contains(&newer) && !text.contains(&token),
        "no key or token in the trace"
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r["kind"] == "api_key_replaced")
            .count(),
        3
    );
}

#[tokio::test]
async fn partner_api_errors_use_the_partner_shape() {
    let state = start();
    let bad_login = Client::anonymous(&state)
        .post(
            "/api/v2/token",
            &json!({"username": "partner@wasim.test", "password": "nope"}),
        )
        .await;
    assert_eq!(bad_login.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad_login.json()["meta"]["success"], false);
    let none = Client::anonymous(&state)
        .get("/api/v2/partners/wasimPA/channels")
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let token = partner_token(&state).await;
    let partner = Client::bearer(&state, &token);
    let other = partner.get("/api/v2/partners/otherPA/channels").await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(
        other.json()["meta"]["developer_message"]
            .as_str()
            .unwrap_or("")
            .contains("Permission denied for partner otherPA")
    );
    let bad_page = partner
        .get("/api/v2/partners/wasimPA/channels?limit=0")
        .await;
    assert_eq!(bad_page.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_page.json()["meta"]["http_code"], 400);
    let unknown = partner
        .post_empty("/api/v2/partners/wasimPA/channels/nope/api_keys")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    state.advance_by(24 * 3_600_000).await.expect("advance");
    let expired = partner.get("/api/v2/partners/wasimPA/channels").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.json()["meta"]["developer_message"]
            .as_str()
            .unwrap_or("")
            .contains("expired")
    );
}

#[tokio::test]
async fn a_partner_sets_its_webhook_url_and_lists_its_clients() {
    let state = start();
    let token = partner_token(&state).await;
    let partner = Client::bearer(&state, &token);
    let path = "/api/v2/partners/wasimPA/webhook_url";
    let empty = partner.get(path).await;
    assert_eq!(empty.json(), json!({"webhook_url": null}));
    let bad = partner.post(path, &json!({"webhook_url": "ftp://x"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let set = partner
        .post(path, &json!({"webhook_url": "http://127.0.0.1:9/partner"}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let got = partner.get(path).await;
    assert_eq!(
        got.json(),
        json!({"webhook_url": "http://127.0.0.1:9/partner"})
    );
    let status = control_get(&state, "/_wasim/webhooks").await;
    assert_eq!(status.json()["partner_url"], "http://127.0.0.1:9/partner");
    let clients = partner.get("/api/v2/partners/wasimPA/clients").await;
    assert_eq!(clients.json()["clients"][0]["id"], "wasimCL");
    let refused = Client::bearer(&state, "wrong")
        .get("/api/v2/partners/wasimPA/clients")
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn registration_sets_the_pin_refuses_a_wrong_one_and_limits_requests() {
    let state = start();
    let register = |pin: &str| json!({"messaging_product": "whatsapp", "pin": pin});
    let base = "/v23.0/110000000000001";
    // 2FA is off by default: the first registration's PIN becomes the PIN.
    let first = graph_post(
        &state,
        &format!("{base}/register"),
        Some(TOKEN),
        &register("123456"),
    )
    .await;
    assert_eq!(first.json(), json!({"success": true}), "{}", first.text());
    let wrong = graph_post(
        &state,
        &format!("{base}/register"),
        Some(TOKEN),
        &register("654321"),
    )
    .await;
    assert_graph_error(&wrong, StatusCode::BAD_REQUEST, 133_005);
    let bad = graph_post(
        &state,
        &format!("{base}/register"),
        Some(TOKEN),
        &register("12ab"),
    )
    .await;
    assert_graph_error(&bad, StatusCode::BAD_REQUEST, 100);
    let refused = graph_post(
        &state,
        &format!("{base}/register"),
        Some(WRONG_TOKEN),
        &register("123456"),
    )
    .await;
    assert_graph_error(&refused, StatusCode::UNAUTHORIZED, 190);
    // The PIN can be changed, and then the new one is needed.
    let set = graph_post(&state, base, Some(TOKEN), &json!({"pin": "222222"})).await;
    assert_eq!(set.json(), json!({"success": true}), "{}", set.text());
    let old_pin = graph_post(
        &state,
        &format!("{base}/register"),
        Some(TOKEN),
        &register("123456"),
    )
    .await;
    assert_graph_error(&old_pin, StatusCode::BAD_REQUEST, 133_005);
    // Deregistered, the number cannot send: 133010.
    let gone = graph_post(
        &state,
        &format!("{base}/deregister"),
        Some(TOKEN),
        &json!({}),
    )
    .await;
    assert_eq!(gone.json(), json!({"success": true}));
    let error = assert_graph_error(
        &send(&state, &template(ANA, "spring_sale")).await,
        StatusCode::BAD_REQUEST,
        133_010,
    );
    assert_eq!(error["message"], "(#133010) Account not registered");
    // Register/deregister requests so far: 5 (a malformed PIN counts, a refused token
    // does not); the 11th within 72 h is 133016 and blocks.
    for _ in 0..5 {
        graph_post(
            &state,
            &format!("{base}/register"),
            Some(TOKEN),
            &register("222222"),
        )
        .await;
    }
    let limited = graph_post(
        &state,
        &format!("{base}/register"),
        Some(TOKEN),
        &register("222222"),
    )
    .await;
    assert_graph_error(&limited, StatusCode::BAD_REQUEST, 133_016);
    state.advance_by(71 * 3_600_000).await.expect("advance");
    let blocked = graph_post(
        &state,
        &format!("{base}/register"),
        Some(TOKEN),
        &register("222222"),
    )
    .await;
    assert_graph_error(&blocked, StatusCode::BAD_REQUEST, 133_016);
    state.advance_by(2 * 3_600_000).await.expect("advance");
    let again = graph_post(
        &state,
        &format!("{base}/register"),
        Some(TOKEN),
        &register("222222"),
    )
    .await;
    assert_eq!(again.json(), json!({"success": true}), "{}", again.text());
    assert_eq!(
        send(&state, &template(ANA, "spring_sale")).await.status,
        StatusCode::OK
    );
    let (text, _) = trace(&state).await;
    assert!(
        !text.contains("222222") && !text.contains("123456"),
        "no PIN in the trace"
    );
}

#[tokio::test]
async fn on_premises_numbers_cannot_register_after_15_may_2024() {
    // The same On-Premises number in a world whose clock starts at `epoch`.
    let world_at = |epoch: u64| {
        let spec = WorldSpec::from_toml(&format!(
            r#"
epoch_unix_s = {epoch}
[[waba.phone_numbers]]
id = "110000000000009"
display_phone_number = "15550100009"
country = "US"
api = "on_premises"
channel_id = "wasimCH09"
d360_api_key = "k9"
"#
        ))
        .expect("a world");
        AppState::start(ServeConfig::new(spec)).expect("builds")
    };
    let register = json!({"messaging_product": "whatsapp", "pin": "123456"});
    // 2024-05-14 23:59:59 UTC, a second before registrations close: it registers.
    let before = world_at(1_715_731_199);
    let answer = graph_post(
        &before,
        "/v23.0/110000000000009/register",
        Some(TOKEN),
        &register,
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    // 2024-05-15 00:00:00 UTC on, it is refused.
    let from = world_at(1_715_731_200);
    let answer = graph_post(
        &from,
        "/v23.0/110000000000009/register",
        Some(TOKEN),
        &register,
    )
    .await;
    let error = assert_graph_error(&answer, StatusCode::BAD_REQUEST, 100);
    assert!(details(&error).contains("On-Premises"), "{error}");
}
