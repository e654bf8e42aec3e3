//! What real client libraries require of the wire (pywa 4.5.0,
//! <https://pypi.org/project/pywa/>; whatsapp-api-js 6.3.0,
//! <https://www.npmjs.com/package/whatsapp-api-js>; issue 9), checked
//! on the requests a receiver actually gets from a wasim on 127.0.0.1 and on the
//! answers wasim gives:
//! - webhook bodies are ASCII-only JSON (lowercase `\uXXXX`, surrogate pairs outside
//!   the BMP) and `X-Hub-Signature-256` signs exactly the bytes sent;
//! - every webhook POST, and every `wasim trigger` POST, carries `Content-Length`
//!   and is not chunked;
//! - policy `2026-04` puts business-scoped user ids on webhooks, older profiles
//!   never do;
//! - every error object, in a Graph answer or a status webhook's `errors[]`, has a
//!   non-empty `message` beside its `code`;
//! - the verification handshake sends all three `hub.*` parameters.

mod support;

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::{Value, json};
use support::{
    ANA, APP_SECRET, DE_KEY, DE_PHONE, LENA, PARTNER_SECRET, PRIYA, Received, SPRING_SALE,
    US_PHONE, VERIFY_TOKEN, WABA, Wasim, template, text,
};
use wasim_sim::WorldSpec;
use wasim_sim::api::error::GraphError;
use wasim_sim::model::error::code;
use wasim_sim::model::{PlatformError, bsuid};
use wasim_sim::webhook::sign::{hmac_hex, meta_signature, verify_meta_signature};
use wasim_sim::webhook::trigger::{self, EVENTS, Signing};

/// Text with characters in the BMP (ü, ß, é) and outside it (👋, 𝄞).
const NON_ASCII: &str = "Grüße, café 👋 𝄞";

// ---------------------------------------------------------------------------
// ASCII-escaped bodies, signed as sent
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_bodies_arrive_ascii_escaped_and_signed_over_exactly_those_bytes() {
    let wasim = Wasim::start().await;
    wasim.inbound_text(ANA, NON_ASCII).await;
    let hooks = wasim.webhooks();
    assert_eq!(hooks.len(), 1, "one inbound webhook");
    let hook = &hooks[0];
    let body = &hook.body[..];
    assert!(
        body.is_ascii(),
        "the body has raw non-ASCII bytes: {}",
        String::from_utf8_lossy(body)
    );
    let text = std::str::from_utf8(body).expect("ASCII is UTF-8");
    // Lowercase hex, one escape per BMP character, a surrogate pair beyond it.
    for escape in [
        "Gr\\u00fc\\u00dfe",
        "caf\\u00e9",
        "\\ud83d\\udc4b",
        "\\ud834\\udd1e",
    ] {
        assert!(text.contains(escape), "no `{escape}` in {text}");
    }
    assert!(
        !text.contains("\\u00FC") && !text.contains("\\uD83D"),
        "uppercase hex: {text}"
    );
    assert_eq!(
        hook.json()["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"],
        NON_ASCII,
        "the escaped body decodes to what the user wrote"
    );
    // The signature covers the bytes received, not another serialization of them.
    let signature = hook
        .header("X-Hub-Signature-256")
        .expect("an X-Hub-Signature-256 header");
    assert_eq!(signature, meta_signature(APP_SECRET, body));
    let utf8 = serde_json::to_vec(&hook.json()).expect("serializes");
    assert_ne!(utf8, body, "raw UTF-8 JSON differs from what was sent");
    assert!(
        !verify_meta_signature(APP_SECRET, &utf8, signature),
        "the signature must not match a raw UTF-8 serialization"
    );
}

#[test]
fn wasim_trigger_bodies_are_ascii_escaped_and_signed_as_built() {
    let spec = WorldSpec::from_toml(
        "[[recipients.named]]\nwa_id = \"5511987654321\"\nname = \"Zoë 🌸\"\n",
    )
    .expect("a valid world");
    for event in ["messages.text", "statuses.sent"] {
        let payload = trigger::build(event, &spec).expect("builds");
        assert!(payload.body.is_ascii(), "{event}");
        assert_eq!(payload.signature, meta_signature(APP_SECRET, &payload.body));
    }
    let payload = trigger::build("messages.text", &spec).expect("builds");
    let text = String::from_utf8(payload.body).expect("ASCII");
    assert!(text.contains("Zo\\u00eb \\ud83c\\udf38"), "{text}");
}

// ---------------------------------------------------------------------------
// Content-Length, never chunked
// ---------------------------------------------------------------------------

/// Fails unless `request` carries exactly one `Content-Length`, equal to its body's
/// length, and no `Transfer-Encoding`.
fn assert_fixed_length(what: &str, request: &Received) {
    assert_eq!(
        request.header_values("content-length"),
        vec![request.body.len().to_string()],
        "{what}: one Content-Length equal to the body's {} bytes",
        request.body.len()
    );
    assert!(
        request.header_values("transfer-encoding").is_empty(),
        "{what}: Transfer-Encoding {:?}",
        request.header_values("transfer-encoding")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_webhook_post_carries_content_length_and_is_never_chunked() {
    let wasim = Wasim::start().await;
    // A 360dialog channel webhook with a custom header, and the partner webhook.
    let d360 = json!({"url": format!("{}/d360", wasim.receiver_base), "headers": {"X-Channel-Auth": "s3cret"}});
    let (status, _) = wasim
        .call(
            Method::POST,
            "/v1/configs/webhook",
            &[("D360-API-KEY", DE_KEY)],
            Some(&d360),
        )
        .await;
    assert_eq!(status, 200);
    wasim
        .control(
            "/_wasim/webhooks/config",
            &json!({"partner_url": format!("{}/partner", wasim.receiver_base)}),
        )
        .await;
    wasim.inbound_text(ANA, NON_ASCII).await;
    wasim.send(US_PHONE, &text(ANA, "Olá 👋")).await;
    wasim.send(DE_PHONE, &template(LENA, SPRING_SALE)).await;
    wasim
        .send(US_PHONE, &template("999131049", SPRING_SALE))
        .await;
    wasim
        .control(
            &format!("/_wasim/templates/{SPRING_SALE}"),
            &json!({"pause": true}),
        )
        .await;
    wasim
        .control("/_wasim/account", &json!({"incident": "disable_templates"}))
        .await;
    // Duplicated and forged copies, then batches of several changes in one post.
    wasim
        .control(
            "/_wasim/webhooks/faults",
            &json!({"duplicate": "1/1", "forged": "1/1"}),
        )
        .await;
    wasim.inbound_text(PRIYA, "hi").await;
    wasim.control("/_wasim/webhooks/heal", &json!({})).await;
    wasim
        .control("/_wasim/webhooks/config", &json!({"batch_max": 10}))
        .await;
    wasim.send(US_PHONE, &text(ANA, "one")).await;
    wasim.send(US_PHONE, &text(ANA, "two")).await;
    wasim.advance(3600).await;

    let posts: Vec<Received> = wasim
        .receiver
        .all()
        .into_iter()
        .filter(|r| r.method == Method::POST)
        .collect();
    let paths: BTreeSet<&str> = posts.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        BTreeSet::from(["/d360", "/partner", "/webhook"]),
        "posts reached every kind of destination"
    );
    assert!(
        posts
            .iter()
            .any(|r| !r.meta_signed() && r.path == "/webhook"),
        "a forged copy was posted"
    );
    assert!(
        posts.iter().any(|r| r.json()["entry"]
            .as_array()
            .is_some_and(|entries| entries.len() > 1)),
        "a batched post was made"
    );
    for (index, post) in posts.iter().enumerate() {
        assert_fixed_length(&format!("POST #{index} to {}", post.path), post);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wasim_trigger_post_carries_content_length_and_is_never_chunked() {
    let (receiver, base) = support::start_receiver().await;
    let spec = WorldSpec::default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let url = reqwest::Url::parse(&format!("{base}/webhook")).expect("a URL");
    for (event, _) in EVENTS {
        let payload = trigger::build(event, &spec).expect("builds");
        let headers = payload.headers();
        assert!(
            headers.contains(&("Content-Length", payload.body.len().to_string())),
            "{event}: the headers the CLI sends name the length: {headers:?}"
        );
        let response = payload
            .request(&client, url.clone())
            .send()
            .await
            .expect("the receiver answers");
        assert_eq!(response.status().as_u16(), 200, "{event}");
    }
    let posts = receiver.webhooks();
    assert_eq!(posts.len(), EVENTS.len(), "one post per event");
    for ((event, _), post) in EVENTS.iter().zip(&posts) {
        assert_fixed_length(&format!("wasim trigger {event}"), post);
        let payload = trigger::build(event, &spec).expect("builds");
        assert_eq!(post.body, payload.body, "{event}: the exact bytes built");
        match payload.signing {
            Signing::Meta => assert!(post.meta_signed(), "{event}"),
            Signing::Partner => assert_eq!(
                post.header("x-360dialog-signature"),
                Some(hmac_hex(PARTNER_SECRET, &post.body).as_str()),
                "{event}"
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// Business-scoped user ids
// ---------------------------------------------------------------------------

/// Inbound messages and statuses to named users, a magic user and a non-user.
async fn bsuid_script(spec: WorldSpec, profile: Option<&str>) -> Vec<Value> {
    let wasim = Wasim::start_with(spec, profile).await;
    wasim.inbound_text(ANA, "hi").await;
    wasim.send(US_PHONE, &text(ANA, "hello")).await;
    wasim.inbound_text(ANA, "again").await;
    wasim.inbound_text(LENA, "hallo").await;
    wasim.send(DE_PHONE, &template(LENA, SPRING_SALE)).await;
    wasim.send(US_PHONE, &template(PRIYA, SPRING_SALE)).await;
    wasim
        .send(US_PHONE, &template("999000000", SPRING_SALE))
        .await;
    wasim
        .send(US_PHONE, &template("999131049", SPRING_SALE))
        .await;
    wasim
        .send(US_PHONE, &template("999131026", SPRING_SALE))
        .await;
    wasim.advance(24 * 3600).await;
    wasim.webhooks().iter().map(Received::json).collect()
}

fn value_of(body: &Value) -> &Value {
    &body["entry"][0]["changes"][0]["value"]
}

/// (wa_id, BSUID) pairs a webhook names, checking the fields agree with each other.
fn bsuids_in(body: &Value) -> Option<(String, String)> {
    let value = value_of(body);
    if let Some(message) = value["messages"].get(0) {
        let contact = &value["contacts"][0];
        let user_id = contact["user_id"].as_str()?;
        assert_eq!(message["from_user_id"], user_id, "{body}");
        assert_eq!(contact["wa_id"], message["from"], "{body}");
        return Some((message["from"].as_str()?.to_owned(), user_id.to_owned()));
    }
    let status = value["statuses"].get(0)?;
    let user_id = status["recipient_user_id"].as_str()?;
    let contacts = value["contacts"]
        .as_array()
        .expect("contacts on a status with a BSUID");
    assert_eq!(contacts.len(), 1, "{body}");
    assert_eq!(contacts[0]["user_id"], user_id, "{body}");
    assert_eq!(contacts[0]["wa_id"], status["recipient_id"], "{body}");
    assert!(
        contacts[0]["profile"].is_object(),
        "pywa reads contacts[].profile: {body}"
    );
    Some((
        status["recipient_id"].as_str()?.to_owned(),
        user_id.to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_2026_04_inbound_and_status_webhooks_carry_a_stable_bsuid_per_user() {
    let spec = WorldSpec::default();
    let webhooks = bsuid_script(spec.clone(), Some("2026-04")).await;
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut inbound = 0;
    let mut statuses = 0;
    for body in &webhooks {
        let value = value_of(body);
        let status = value["statuses"].get(0);
        let undeliverable = status.is_some_and(|s| s["errors"][0]["code"] == 131_026);
        match bsuids_in(body) {
            Some(pair) => {
                if status.is_some() {
                    statuses += 1;
                } else {
                    inbound += 1;
                }
                seen.push(pair);
            }
            None => assert!(
                undeliverable,
                "only a 131026 (not a WhatsApp user) lacks a BSUID: {body}"
            ),
        }
        if undeliverable {
            assert!(value.get("contacts").is_none(), "{body}");
            assert!(
                status.is_some_and(|s| s.get("recipient_user_id").is_none()),
                "{body}"
            );
        }
    }
    assert!(
        inbound >= 3 && statuses >= 8,
        "{inbound} inbound, {statuses} statuses"
    );
    let failed_with_bsuid = webhooks.iter().any(|body| {
        value_of(body)["statuses"][0]["errors"][0]["code"] == 131_049 && bsuids_in(body).is_some()
    });
    assert!(
        failed_with_bsuid,
        "a failed 131049 status carries the BSUID fields"
    );
    // One BSUID per user, in Meta's format, with the user's country, derived from
    // the seed and the business.
    let users: BTreeSet<&str> = seen.iter().map(|(wa_id, _)| wa_id.as_str()).collect();
    assert_eq!(
        users,
        BTreeSet::from([ANA, LENA, PRIYA, "999000000", "999131049"])
    );
    for (wa_id, user_id) in &seen {
        assert!(bsuid::is_well_formed(user_id), "{user_id}");
        let country = match wa_id.as_str() {
            ANA => "BR",
            LENA => "DE",
            PRIYA => "IN",
            _ => "ZZ",
        };
        assert!(
            user_id.starts_with(&format!("{country}.")),
            "{wa_id}: {user_id}"
        );
        assert_eq!(
            user_id,
            &bsuid::derive(spec.seed, WABA, country, wa_id),
            "{wa_id}"
        );
    }
    let distinct: BTreeSet<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(distinct.len(), users.len(), "one BSUID per user: {seen:?}");
    // The same world gives the same ids; another business or seed, other ones.
    assert_eq!(
        bsuid_script(spec, Some("2026-04")).await,
        webhooks,
        "the same world and requests give the same webhooks"
    );
    let other_business =
        WorldSpec::from_toml("[waba]\nid = \"100000000000009\"\n").expect("a valid world");
    let other_seed = WorldSpec::from_toml("seed = 2\n").expect("a valid world");
    for spec in [other_business, other_seed] {
        let others: BTreeSet<String> = bsuid_script(spec, Some("2026-04"))
            .await
            .iter()
            .filter_map(bsuids_in)
            .map(|(_, id)| id)
            .collect();
        assert!(!others.is_empty());
        assert!(
            others.iter().all(|id| !distinct.contains(id.as_str())),
            "BSUIDs are scoped to the business and the seed: {others:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_profiles_and_the_default_send_no_bsuid_fields() {
    for profile in [None, Some("2024-05"), Some("2025-07")] {
        let webhooks = bsuid_script(WorldSpec::default(), profile).await;
        assert!(
            webhooks.len() >= 12,
            "{profile:?}: {} webhooks",
            webhooks.len()
        );
        for body in &webhooks {
            let text = body.to_string();
            assert!(!text.contains("user_id"), "{profile:?}: {text}");
            let value = value_of(body);
            if value.get("statuses").is_some() {
                assert!(value.get("contacts").is_none(), "{profile:?}: {text}");
            }
        }
    }
    let wasim = Wasim::start().await;
    let (status, world) = wasim.graph(Method::GET, "/_wasim/world", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        world["policy"]["profile"], "2024-05",
        "2026-04 is not the default"
    );
    assert_eq!(world["policy"]["bsuid"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_file_can_turn_bsuids_on_for_an_older_profile() {
    let spec = WorldSpec::from_toml("[policy]\nprofile = \"2025-07\"\nbsuid = true\n")
        .expect("a valid world");
    let webhooks = bsuid_script(spec, None).await;
    assert!(webhooks.iter().any(|body| bsuids_in(body).is_some()));
}

// ---------------------------------------------------------------------------
// `message` in every error object
// ---------------------------------------------------------------------------

#[test]
fn every_code_the_model_emits_answers_with_a_non_empty_message() {
    assert!(code::ALL.len() >= 20, "{:?}", code::ALL);
    for &code in code::ALL {
        let answer = GraphError::new(
            PlatformError::new(code, "what happened"),
            "trace".to_owned(),
        );
        let body = answer.body();
        let error = &body["error"];
        assert_eq!(error["code"], code, "{body}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| !m.trim().is_empty()),
            "{code}: no message in {body}"
        );
        assert!(error["type"].is_string(), "{body}");
        assert!(error["fbtrace_id"].is_string(), "{body}");
        if code == code::ACCESS_TOKEN || code == code::UNKNOWN_PATH {
            assert!(error.get("error_data").is_none(), "{body}");
        } else {
            assert_eq!(error["error_data"]["details"], "what happened", "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_graph_error_wasim_answers_has_a_code_and_a_message() {
    let wasim = Wasim::start().await;
    let mut codes = BTreeSet::new();
    for (what, _, answer) in wasim.graph_errors().await {
        let error = &answer["error"];
        let code = error["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: no code in {answer}"));
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| !m.trim().is_empty()),
            "{what}: no message in {answer}"
        );
        codes.insert(code);
    }
    assert_eq!(
        codes,
        BTreeSet::from([100, 190, 2500, 130_429, 131_056, 132_001, 133_005]),
        "the errors answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_status_webhook_error_has_code_title_message_and_details() {
    let spec = WorldSpec::from_toml("[waba]\nmessaging_limit = 1\n").expect("a valid world");
    let wasim = Wasim::start_with(spec, None).await;
    for to in ["999131026", "999131047", "999131049", "999131050"] {
        wasim.send(US_PHONE, &template(to, SPRING_SALE)).await;
    }
    // Free-form outside the window (131047) and past the messaging limit (131048).
    wasim.send(US_PHONE, &text(PRIYA, "hi")).await;
    for to in [ANA, LENA] {
        wasim.send(US_PHONE, &template(to, SPRING_SALE)).await;
    }
    wasim.advance(24 * 3600).await;
    let mut codes = BTreeSet::new();
    for hook in wasim.webhooks() {
        let body = hook.json();
        let Some(status) = value_of(&body)["statuses"].get(0) else {
            continue;
        };
        if status["status"] != "failed" {
            assert!(status.get("errors").is_none(), "{body}");
            continue;
        }
        let errors = status["errors"]
            .as_array()
            .expect("errors[] on a failed status");
        assert_eq!(errors.len(), 1, "{body}");
        let error = &errors[0];
        let code = error["code"].as_u64().expect("a numeric code");
        for field in ["title", "message"] {
            assert!(
                error[field].as_str().is_some_and(|t| !t.trim().is_empty()),
                "{code}: no {field} in {body}"
            );
        }
        assert!(
            error["error_data"]["details"]
                .as_str()
                .is_some_and(|t| !t.trim().is_empty()),
            "{code}: no error_data.details in {body}"
        );
        if code == 131_050 {
            // As captured: one text for all three, without a final period.
            let text = "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business";
            assert_eq!(error["title"], text, "{body}");
            assert_eq!(error["message"], text, "{body}");
            assert_eq!(error["error_data"]["details"], text, "{body}");
        }
        codes.insert(code);
    }
    for expected in [131_026, 131_047, 131_048, 131_049, 131_050] {
        assert!(codes.contains(&expected), "no failed {expected}: {codes:?}");
    }
}

// ---------------------------------------------------------------------------
// The verification handshake
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_sends_hub_mode_subscribe_the_verify_token_and_a_challenge() {
    let wasim = Wasim::start().await;
    let outcome = wasim
        .state()
        .verify_webhook()
        .await
        .expect("a callback is set");
    assert!(outcome.echoed, "{outcome:?}");
    let gets = wasim.receiver.handshakes();
    assert_eq!(gets.len(), 1, "one handshake");
    let get = &gets[0];
    assert_eq!(get.path, "/webhook");
    let hub: Vec<(&str, &str)> = get
        .query
        .iter()
        .filter(|(key, _)| key.starts_with("hub."))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let names: BTreeSet<&str> = hub.iter().map(|(key, _)| *key).collect();
    assert_eq!(
        names,
        BTreeSet::from(["hub.mode", "hub.verify_token", "hub.challenge"]),
        "all three hub parameters: {hub:?}"
    );
    assert_eq!(hub.len(), 3, "each once: {hub:?}");
    assert_eq!(get.query("hub.mode"), Some("subscribe"));
    assert_eq!(get.query("hub.verify_token"), Some(VERIFY_TOKEN));
    assert!(
        get.query("hub.challenge").is_some_and(|c| !c.is_empty()),
        "{hub:?}"
    );
}
