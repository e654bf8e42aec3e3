//! Graph paths without their version segment (`/{phone-number-id}/messages`,
//! `/{waba-id}/message_templates`, `/{id}/register`, …). Graph serves them at the
//! app's default version
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates>) and
//! client libraries (pywa, whatsapp-api-js) call them so, so every Cloud API route
//! answers the same with and without `/v23.0`. And the
//! single-segment `/{id}` route must not swallow the paths that are not Graph's.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::http::{client, start};
use support::{
    ANA, DE_PHONE, ORDER_UPDATE_ID, SPRING_SALE, SPRING_SALE_ID, TOKEN, US_PHONE, WABA, template,
    text_of,
};
use wasim_sim::state::AppState;

/// A call presenting `token` (or no credential); answers (status, JSON body).
async fn call(
    state: &Arc<AppState>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let answer = client(state, token).call(method, path, body.as_ref()).await;
    (answer.status, answer.json())
}

/// A Graph call with the world's token; answers (status, JSON body).
async fn graph(
    state: &Arc<AppState>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call(state, method, path, Some(TOKEN), body).await
}

/// The same Graph call on two fresh worlds, versioned on one and unversioned on
/// the other: same status, same body.
async fn same_with_and_without_version(method: &str, path: &str, body: Option<Value>) -> Value {
    let versioned = graph(&start(), method, &format!("/v23.0{path}"), body.clone()).await;
    let unversioned = graph(&start(), method, path, body).await;
    assert_eq!(
        unversioned, versioned,
        "{method} {path} must answer as {method} /v23.0{path} does"
    );
    assert!(
        versioned.0.is_success(),
        "{method} /v23.0{path} answered {versioned:?}"
    );
    unversioned.1
}

#[tokio::test]
async fn every_graph_read_answers_the_same_without_its_version() {
    let listed =
        same_with_and_without_version("GET", &format!("/{WABA}/message_templates"), None).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(4), "{listed}");

    let template = same_with_and_without_version("GET", &format!("/{ORDER_UPDATE_ID}"), None).await;
    assert_eq!(template["name"], "order_update", "{template}");

    let quality = same_with_and_without_version(
        "GET",
        &format!("/{ORDER_UPDATE_ID}?fields=quality_score"),
        None,
    )
    .await;
    assert_eq!(quality["quality_score"]["score"], "GREEN", "{quality}");
}

#[tokio::test]
async fn every_graph_write_works_without_its_version() {
    let pin = json!({"messaging_product": "whatsapp", "pin": "123456"});
    let registered =
        same_with_and_without_version("POST", &format!("/{DE_PHONE}/register"), Some(pin)).await;
    assert_eq!(registered, json!({"success": true}));

    let pin_set = same_with_and_without_version(
        "POST",
        &format!("/{DE_PHONE}"),
        Some(json!({"pin": "654321"})),
    )
    .await;
    assert_eq!(pin_set, json!({"success": true}));

    let deregistered =
        same_with_and_without_version("POST", &format!("/{DE_PHONE}/deregister"), None).await;
    assert_eq!(deregistered, json!({"success": true}));

    let winter_sale = json!({"name": "winter_sale", "language": "en_US", "category": "MARKETING",
                          "components": [{"type": "BODY", "text": "Winter sale!"}]});
    let created = same_with_and_without_version(
        "POST",
        &format!("/{WABA}/message_templates"),
        Some(winter_sale),
    )
    .await;
    assert_eq!(created["status"], "PENDING", "{created}");

    let send = template(ANA, SPRING_SALE);
    let sent =
        same_with_and_without_version("POST", &format!("/{US_PHONE}/messages"), Some(send)).await;
    assert!(
        text_of(&sent["messages"][0]["id"]).starts_with("wamid."),
        "{sent}"
    );
}

#[tokio::test]
async fn deleting_and_unpausing_templates_work_without_the_version() {
    let state = start();
    let path = format!("/{WABA}/message_templates?name=login_code");
    let (status, deleted) = graph(&state, "DELETE", &path, None).await;
    assert_eq!(
        (status, deleted),
        (StatusCode::OK, json!({"success": true}))
    );

    let (status, _) = call(
        &state,
        "POST",
        "/_wasim/templates/spring_sale",
        None,
        Some(json!({"pause": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, unpaused) =
        graph(&state, "POST", &format!("/{SPRING_SALE_ID}/unpause"), None).await;
    assert_eq!(
        (status, unpaused),
        (StatusCode::OK, json!({"success": true}))
    );
}

#[tokio::test]
async fn unversioned_requests_are_traced_on_the_graph_surface_with_their_path() {
    let state = start();
    graph(&state, "GET", &format!("/{WABA}/message_templates"), None).await;
    let trace = state.read(|sim| sim.trace.to_jsonl());
    let request: Value = trace
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON Lines"))
        .find(|record| record["kind"] == "request")
        .expect("the request is traced");
    assert_eq!(request["surface"], "graph", "{request}");
    assert_eq!(
        request["path"],
        format!("/{WABA}/message_templates"),
        "{request}"
    );
    assert_eq!(request["http_status"], 200, "{request}");
}

#[tokio::test]
async fn the_unversioned_routes_do_not_swallow_other_paths() {
    let state = start();
    // A version where an id belongs: Graph's unknown-path error, not an object lookup.
    for path in [
        "/v23.0/register",
        "/v23.0/message_templates",
        "/v23.0/unpause",
    ] {
        let (status, body) = graph(&state, "POST", path, Some(json!({}))).await;
        assert_eq!(body["error"]["code"], 2500, "POST {path}: {status} {body}");
    }
    // Control paths stay the control API's (its 404 lists the valid paths).
    for path in ["/_wasim", "/_wasim/register", "/_wasim/message_templates"] {
        let (status, body) = call(&state, "GET", path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {body}");
        assert!(
            body["error"]["valid_paths"].is_array(),
            "GET {path}: {body}"
        );
    }
    // 360dialog's own single-segment paths stay 360dialog's.
    let (status, body) = call(&state, "POST", "/messages", None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["meta"]["developer_message"], "Invalid api_key",
        "{body}"
    );
    let (status, body) = call(&state, "GET", "/waba_webhook", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // An id Graph does not know is Graph's "does not exist", with or without version.
    let (_, body) = graph(&state, "GET", "/999999999999999", None).await;
    assert_eq!(body["error"]["code"], 100, "{body}");
    assert_eq!(body["error"]["type"], "GraphMethodException", "{body}");
    assert_eq!(body["error"]["error_subcode"], 33, "{body}");
}

#[tokio::test]
async fn template_lists_carry_components_and_the_summary_asked_for() {
    let state = start();
    let summary = "summary=total_count%2Cmessage_template_limit";
    let path = format!("/{WABA}/message_templates?fields=name,components&{summary}");
    let (status, body) = graph(&state, "GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["summary"],
        json!({"total_count": 4, "message_template_limit": 250}),
        "{body}"
    );
    let order_update = body["data"]
        .as_array()
        .and_then(|data| data.iter().find(|t| t["name"] == "order_update"))
        .expect("order_update is listed");
    assert_eq!(order_update["parameter_format"], "POSITIONAL");
    assert_eq!(
        order_update["components"][0],
        json!({"type": "BODY", "text": "Your order {{1}} has shipped and is on its way.",
               "example": {"body_text": [["A-1001"]]}})
    );
    // Without `summary` there is none, as on Graph.
    let (_, plain) = graph(&state, "GET", &format!("/{WABA}/message_templates"), None).await;
    assert!(plain.get("summary").is_none(), "{plain}");
}
