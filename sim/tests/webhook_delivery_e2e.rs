//! End to end, on real sockets: how wasim delivers webhooks. A receiver records every
//! request (method, path, query, headers, body) and answers as each test configures
//! it; wasim serves on 127.0.0.1 and is driven through its public HTTP surfaces.
//!
//! Covered: the verification handshake, signatures on every attempt (duplicates
//! included), forged posts, fault profiles from a world file and from the control
//! API (and their healing and validation), 360dialog client webhooks with custom
//! headers, partner signatures, batching, a receiver that drops the connection, and
//! one that answers 500 until it recovers.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::Method;
use serde_json::{Value, json};
use support::socket::{attempts_of, records_of};
use support::{
    ANA, APP_SECRET, DE_KEY, DE_PHONE, DELIVERED_THEN_READ, DENIZ, LENA, PARTNER_SECRET, PRIYA,
    Received, SAM, SPRING_SALE, US_KEY, US_PHONE, VERIFY_TOKEN, Wasim, template,
};
use tokio::io::AsyncReadExt;
use wasim_sim::WorldSpec;
use wasim_sim::trace::fingerprint;
use wasim_sim::webhook::sign::hmac_hex;

/// How many times (50 ms apart) to poll for something that happens in the background.
const POLLS_MAX: usize = 100;

/// 360dialog's client webhook setting.
const D360_CONFIG: &str = "/v1/configs/webhook";

/// The `D360-API-KEY` header presenting `key`.
fn d360_key(key: &str) -> [(&str, &str); 1] {
    [("D360-API-KEY", key)]
}

/// Whether `trace` records a fault of kind `fault`.
fn faulted(trace: &[Value], fault: &str) -> bool {
    records_of(trace, "webhook_fault")
        .iter()
        .any(|r| r["fault"] == fault)
}

/// Whether `trace` records an attempt to `destination` that was answered 200.
fn acknowledged(trace: &[Value], destination: &str) -> bool {
    records_of(trace, "webhook_attempt")
        .iter()
        .any(|r| r["destination"] == destination && r["http_status"] == 200)
}

/// Polls the trace (bounded) until a record satisfies `wanted`.
async fn wait_for_record(wasim: &Wasim, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..POLLS_MAX {
        if let Some(record) = wasim.trace().await.into_iter().find(|r| wanted(r)) {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {what} in the trace: {}", wasim.trace_text().await);
}

// ---------------------------------------------------------------------------
// 1. The verification handshake
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_runs_at_start_and_on_demand_and_reports_a_refusing_receiver() {
    let wasim = Wasim::serve().await;

    // At start: wasim verifies the callback it was given, in the background.
    let record = wait_for_record(&wasim, "echoed webhook_verification", |r| {
        r["kind"] == "webhook_verification" && r["echoed"] == true
    })
    .await;
    assert_eq!(record["http_status"], 200, "{record}");
    assert_eq!(record["error"], Value::Null, "{record}");
    let gets = wasim.receiver.gets("/webhook");
    assert_eq!(gets.len(), 1, "{gets:?}");
    let handshake = &gets[0];
    assert_eq!(handshake.query("hub.mode"), Some("subscribe"));
    assert_eq!(handshake.query("hub.verify_token"), Some(VERIFY_TOKEN));
    let challenge = handshake.query("hub.challenge").expect("a challenge");
    assert!(
        !challenge.is_empty() && challenge.chars().all(|c| c.is_ascii_digit()),
        "{challenge}"
    );

    // On demand.
    let answer = wasim.control("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(answer["echoed"], true, "{answer}");
    assert_eq!(answer["http_status"], 200, "{answer}");
    assert_eq!(answer["error"], Value::Null, "{answer}");
    assert!(answer["latency_ms"].is_u64(), "{answer}");
    let gets = wasim.receiver.gets("/webhook");
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_ne!(
        gets[0].query("hub.challenge"),
        gets[1].query("hub.challenge"),
        "the challenge is not fresh"
    );

    // A receiver refusing the handshake.
    wasim.receiver.set(|b| {
        b.echo_challenge = false;
        b.status = 403;
    });
    let answer = wasim.control("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(answer["echoed"], false, "{answer}");
    assert_eq!(answer["http_status"], 403, "{answer}");
    assert!(answer["error"].is_string(), "{answer}");

    // A receiver answering 200 without the challenge does not pass either.
    wasim.receiver.set(|b| b.status = 200);
    let answer = wasim.control("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(answer["echoed"], false, "{answer}");
    assert_eq!(answer["http_status"], 200, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("hub.challenge")),
        "{answer}"
    );

    // Traced, counted, and the verify token only as a fingerprint.
    let verifications = wasim.records("webhook_verification").await;
    let outcomes: Vec<(Value, Value)> = verifications
        .iter()
        .map(|r| (r["echoed"].clone(), r["http_status"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (json!(true), json!(200)),
            (json!(true), json!(200)),
            (json!(false), json!(403)),
            (json!(false), json!(200)),
        ],
        "{verifications:?}"
    );
    for record in &verifications {
        assert_eq!(
            record["verify_token"],
            fingerprint(VERIFY_TOKEN),
            "{record}"
        );
        assert!(
            record["verify_token"]
                .as_str()
                .is_some_and(|fp| fp.starts_with("fp_")),
            "{record}"
        );
    }
    let trace = wasim.trace_text().await;
    assert!(
        !trace.contains(VERIFY_TOKEN),
        "the verify token is in the trace"
    );
    let counters = &wasim.webhook_status().await["counters"];
    assert_eq!(counters["verifications"], 4, "{counters}");
    assert_eq!(counters["verifications_echoed"], 2, "{counters}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_a_callback_url_performs_the_handshake_and_answers_its_outcome() {
    let wasim = Wasim::start_with_callback(WorldSpec::default(), None, None).await;
    // No callback at start: no handshake, and an on-demand one is refused.
    let (status, answer) = wasim.post("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(wasim.receiver.all().is_empty());

    let answer = wasim
        .control(
            "/_wasim/webhooks/config",
            &json!({"callback_url": wasim.url("/hook")}),
        )
        .await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["verification"]["echoed"], true, "{answer}");
    assert_eq!(answer["verification"]["http_status"], 200, "{answer}");
    assert_eq!(answer["verification"]["error"], Value::Null, "{answer}");
    let gets = wasim.receiver.gets("/hook");
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].query("hub.verify_token"), Some(VERIFY_TOKEN));

    // Setting only batching or the partner URL performs no handshake.
    let answer = wasim
        .control(
            "/_wasim/webhooks/config",
            &json!({"partner_url": wasim.url("/partner")}),
        )
        .await;
    assert!(answer.get("verification").is_none(), "{answer}");
    assert_eq!(wasim.receiver.all().len(), 1);

    // And the callback now takes webhooks.
    let wamid = wasim.inbound_to(ANA, US_PHONE).await;
    let posts = wasim.receiver.posts("/hook");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].message_id().as_deref(), Some(wamid.as_str()));
    assert!(posts[0].meta_signed());

    wasim
        .assert_any_record("webhook_configured", |r| r["scope"] == "app")
        .await;
    assert!(!wasim.trace_text().await.contains(VERIFY_TOKEN));
}

// ---------------------------------------------------------------------------
// 2. Duplicates are signed like originals
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_webhook_arrives_twice_identical_and_validly_signed() {
    let wasim = Wasim::start().await;
    let answer = wasim
        .control("/_wasim/webhooks/faults", &json!({"duplicate": "1/1"}))
        .await;
    assert_eq!(answer["faults"]["duplicate"], "1/1", "{answer}");

    let wamid = wasim.inbound_to(ANA, US_PHONE).await;
    let posts = wasim.receiver.posts("/webhook");
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].body, posts[1].body);
    for post in &posts {
        assert!(post.meta_signed(), "bad signature on {}", post.text());
        assert_eq!(post.message_id().as_deref(), Some(wamid.as_str()));
        assert_eq!(post.header("Content-Type"), Some("application/json"));
    }

    let trace = wasim.trace().await;
    let emitted = records_of(&trace, "webhook_emitted");
    assert_eq!(emitted.len(), 1, "{emitted:?}");
    let attempts = attempts_of(&trace, &emitted[0]["delivery_id"]);
    let copies: Vec<(&str, &Value)> = attempts
        .iter()
        .map(|a| (a["copy"].as_str().expect("a copy"), &a["http_status"]))
        .collect();
    assert_eq!(
        copies,
        [("original", &json!(200)), ("duplicate", &json!(200))],
        "{attempts:?}"
    );
    assert!(faulted(&trace, "duplicated"), "no duplicated fault traced");
    let counters = &wasim.webhook_status().await["counters"];
    assert_eq!(counters["duplicated"], 1, "{counters}");
    assert_eq!(counters["acknowledged"], 1, "{counters}");
}

// ---------------------------------------------------------------------------
// 3. Forged posts
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_post_is_refused_by_a_verifying_receiver_and_counted_when_accepted() {
    let wasim = Wasim::start().await;
    wasim.receiver.set(|b| b.verify_meta = true);
    wasim
        .control("/_wasim/webhooks/faults", &json!({"forged": "1/1"}))
        .await;

    let wamid = wasim.inbound_to(ANA, US_PHONE).await;
    let posts = wasim.receiver.posts("/webhook");
    assert_eq!(posts.len(), 2, "{posts:?}");
    let genuine: Vec<&Received> = posts.iter().filter(|p| p.meta_signed()).collect();
    let forged: Vec<&Received> = posts.iter().filter(|p| !p.meta_signed()).collect();
    assert_eq!(genuine.len(), 1, "{posts:?}");
    assert_eq!(forged.len(), 1, "{posts:?}");
    assert_eq!(genuine[0].message_id().as_deref(), Some(wamid.as_str()));
    let forged_id = forged[0]
        .message_id()
        .expect("the forgery is a messages webhook");
    assert_ne!(forged_id, wamid, "the forgery reuses the genuine id");
    assert!(
        forged[0].header("X-Hub-Signature-256").is_some(),
        "the forgery carries a signature header, a wrong one"
    );

    let trace = wasim.trace().await;
    let attempts = records_of(&trace, "webhook_attempt");
    assert!(
        attempts
            .iter()
            .any(|a| a["copy"] == "forged" && a["http_status"] == 401),
        "{attempts:?}"
    );
    assert!(
        attempts
            .iter()
            .any(|a| a["copy"] == "original" && a["http_status"] == 200),
        "{attempts:?}"
    );
    assert!(faulted(&trace, "forged"), "no forged fault traced");
    let counters = &wasim.webhook_status().await["counters"];
    assert!(counters["forged"].as_u64() >= Some(1), "{counters}");
    assert_eq!(counters["forged_accepted"], 0, "{counters}");
    // The refused forgery is a copy: it does not make the delivery fail or retry.
    assert_eq!(counters["failed_attempts"], 0, "{counters}");
    assert_eq!(counters["retries"], 0, "{counters}");

    // A receiver that checks nothing accepts the forgery, and wasim counts it.
    wasim.receiver.set(|b| b.verify_meta = false);
    wasim.inbound_to(LENA, US_PHONE).await;
    let counters = &wasim.webhook_status().await["counters"];
    assert_eq!(counters["forged"], 2, "{counters}");
    assert!(
        counters["forged_accepted"].as_u64() >= Some(1),
        "{counters}"
    );
}

// ---------------------------------------------------------------------------
// 4. Faults from a world file
// ---------------------------------------------------------------------------

fn status_rank(status: &str) -> u8 {
    match status {
        "sent" => 0,
        "delivered" => 1,
        "read" => 2,
        other => panic!("unexpected status {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_file_fault_profile_reorders_and_duplicates_on_the_wire() {
    let spec = WorldSpec::from_toml("[webhooks.faults]\nreorder = \"1/2\"\nduplicate = \"1/3\"\n")
        .expect("the world file is valid");
    let wasim = Wasim::start_with(spec, None).await;
    let faults = &wasim.webhook_status().await["faults"];
    assert_eq!(faults["reorder"], "1/2", "{faults}");
    assert_eq!(faults["duplicate"], "1/3", "{faults}");

    // One message at a time, so each message's statuses follow each other on the wire.
    let mut wamids = Vec::new();
    for _ in 0..10 {
        wamids.push(
            wasim
                .send_wamid(US_PHONE, &template(DELIVERED_THEN_READ, SPRING_SALE))
                .await,
        );
        wasim.advance(3600).await;
    }

    let trace = wasim.trace().await;
    let faults: Vec<&str> = trace
        .iter()
        .filter(|r| r["kind"] == "webhook_fault")
        .filter_map(|r| r["fault"].as_str())
        .collect();
    assert!(faults.contains(&"reordered"), "{faults:?}");
    assert!(faults.contains(&"duplicated"), "{faults:?}");

    let posts = wasim.receiver.posts("/webhook");
    for post in &posts {
        assert!(post.meta_signed(), "bad signature on {}", post.text());
    }
    // Every status of every message arrives (nothing is lost to the faults).
    let mut overtaken = Vec::new();
    for wamid in &wamids {
        let seen: Vec<String> = posts
            .iter()
            .filter_map(Received::status)
            .filter(|status| status["id"] == wamid.as_str())
            .map(|status| status["status"].as_str().unwrap_or_default().to_owned())
            .collect();
        for expected in ["sent", "delivered", "read"] {
            assert!(
                seen.iter().any(|s| s == expected),
                "{wamid}: no {expected} in {seen:?}"
            );
        }
        let ranks: Vec<u8> = seen.iter().map(|s| status_rank(s)).collect();
        let out_of_order = ranks
            .iter()
            .enumerate()
            .any(|(i, later)| ranks[i + 1..].iter().any(|next| next < later));
        if out_of_order {
            overtaken.push((wamid.clone(), seen));
        }
    }
    assert!(
        !overtaken.is_empty(),
        "no message's statuses arrived out of order"
    );
    assert!(
        overtaken
            .iter()
            .any(|(_, seen)| seen.first().is_some_and(|s| s != "sent")),
        "no later status arrived before a sent: {overtaken:?}"
    );

    // Duplicates: the very same bytes, twice.
    let duplicated = posts
        .iter()
        .enumerate()
        .any(|(i, post)| posts[i + 1..].iter().any(|other| other.body == post.body));
    assert!(duplicated, "no body arrived twice");

    let counters = &wasim.webhook_status().await["counters"];
    assert!(counters["reordered"].as_u64() >= Some(1), "{counters}");
    assert!(counters["duplicated"].as_u64() >= Some(1), "{counters}");
    assert_eq!(counters["lost"], 0, "{counters}");
    assert_eq!(wasim.webhook_status().await["pending"], 0);
}

// ---------------------------------------------------------------------------
// 5. Healing
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_profile_heals_after_its_time_and_delivery_is_clean_again() {
    let wasim = Wasim::start().await;
    wasim
        .control(
            "/_wasim/webhooks/faults",
            &json!({"duplicate": "1/1", "heal_after_s": 60}),
        )
        .await;

    wasim.inbound_to(ANA, US_PHONE).await;
    assert_eq!(wasim.receiver.posts("/webhook").len(), 2);

    // Not yet healed at 59 s.
    wasim.advance(59).await;
    assert!(wasim.records("webhook_healed").await.is_empty());
    assert!(!wasim.webhook_status().await["faults"].is_null());

    wasim.advance(2).await;
    let healed = wasim.records("webhook_healed").await;
    assert_eq!(healed.len(), 1, "{healed:?}");
    assert_eq!(healed[0]["at_ms"], 60_000, "{healed:?}");
    assert_eq!(wasim.webhook_status().await["faults"], Value::Null);

    let wamid = wasim.inbound_to(LENA, US_PHONE).await;
    let posts: Vec<Received> = wasim
        .receiver
        .posts("/webhook")
        .into_iter()
        .filter(|p| p.message_id().as_deref() == Some(wamid.as_str()))
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].meta_signed());
    assert_eq!(wasim.receiver.posts("/webhook").len(), 3);
}

// ---------------------------------------------------------------------------
// 6. Invalid fault settings
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_fault_settings_are_refused_naming_the_field_and_change_nothing() {
    let wasim = Wasim::start().await;
    assert_eq!(wasim.webhook_status().await["faults"], Value::Null);

    let cases = [
        (json!({"duplicate": "3/2"}), "faults.duplicate"),
        (json!({"dupe": "1/2"}), "dupe"),
        (json!({"reorder": 0.5}), "faults.reorder"),
        (json!({"burst_size": 1}), "faults.burst_size"),
    ];
    for (body, field) in &cases {
        let (status, answer) = wasim.post("/_wasim/webhooks/faults", body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {answer}");
        assert_eq!(
            wasim.webhook_status().await["faults"],
            Value::Null,
            "{body}"
        );
    }

    // With a profile in force, a bad one leaves it in force.
    wasim
        .control("/_wasim/webhooks/faults", &json!({"duplicate": "1/10"}))
        .await;
    let before = wasim.webhook_status().await["faults"].clone();
    assert_eq!(before["duplicate"], "1/10", "{before}");
    let (status, answer) = wasim
        .post("/_wasim/webhooks/faults", &json!({"duplicate": "3/2"}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(wasim.webhook_status().await["faults"], before);
    assert_eq!(wasim.records("webhook_faults_set").await.len(), 1);
}

// ---------------------------------------------------------------------------
// 7. 360dialog client webhooks
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_360dialog_webhook_gets_its_custom_headers_and_no_meta_signature() {
    let wasim = Wasim::start().await;
    let secret = "s3cret-value";
    let setting = json!({"url": wasim.url("/d360"), "headers": {"X-Custom-Auth": secret}});

    let (status, answer) = wasim
        .call(Method::POST, D360_CONFIG, &d360_key(US_KEY), Some(&setting))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, setting);
    let (status, answer) = wasim
        .call(Method::GET, D360_CONFIG, &d360_key(US_KEY), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, setting);

    // Refusals: a wrong key, a body without url.
    for method in [Method::POST, Method::GET] {
        let body = (method == Method::POST).then_some(&setting);
        let (status, answer) = wasim
            .call(method.clone(), D360_CONFIG, &d360_key("not_a_key"), body)
            .await;
        assert_eq!(status, 401, "{method}: {answer}");
        assert_eq!(answer["meta"]["success"], false, "{answer}");
        assert_eq!(answer["meta"]["http_code"], 401, "{answer}");
    }
    let (status, answer) = wasim
        .call(
            Method::POST,
            D360_CONFIG,
            &d360_key(US_KEY),
            Some(&json!({"headers": {"X-Custom-Auth": "other"}})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["meta"]["success"], false, "{answer}");
    assert!(
        answer["meta"]["developer_message"]
            .as_str()
            .is_some_and(|m| m.contains("url")),
        "{answer}"
    );

    // An inbound message to the US number goes to the 360dialog webhook.
    let wamid = wasim.inbound_to(ANA, US_PHONE).await;
    let posts = wasim.receiver.posts("/d360");
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.header("X-Custom-Auth"), Some(secret));
    assert_eq!(post.header("X-Hub-Signature-256"), None);
    assert_eq!(post.message_id().as_deref(), Some(wamid.as_str()));
    assert!(wasim.receiver.posts("/webhook").is_empty());

    let trace = wasim.trace().await;
    assert!(acknowledged(&trace, "d360"), "no d360 attempt traced");

    // The WABA webhook, set with the German number's key, takes the German number's messages.
    let waba = json!({"url": wasim.url("/waba"), "headers": {"X-Waba-Auth": "waba-value"}});
    let (status, answer) = wasim
        .call(
            Method::POST,
            "/waba_webhook",
            &d360_key(DE_KEY),
            Some(&waba),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = wasim
        .call(Method::GET, "/waba_webhook", &d360_key(DE_KEY), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["url"], wasim.url("/waba"), "{answer}");
    let wamid = wasim.inbound_to(LENA, DE_PHONE).await;
    let posts = wasim.receiver.posts("/waba");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].header("X-Waba-Auth"), Some("waba-value"));
    assert_eq!(posts[0].header("X-Hub-Signature-256"), None);
    assert_eq!(posts[0].message_id().as_deref(), Some(wamid.as_str()));
    assert_eq!(
        posts[0].json()["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"],
        DE_PHONE
    );
    assert_eq!(wasim.receiver.posts("/d360").len(), 1);
    assert!(wasim.receiver.posts("/webhook").is_empty());

    // The header values are secrets: never in the trace or the status answer.
    let trace = wasim.trace_text().await;
    assert!(!trace.contains(secret), "the custom header value is traced");
    assert!(
        !trace.contains("waba-value"),
        "the WABA header value is traced"
    );
    let status = wasim.webhook_status().await.to_string();
    assert!(!status.contains(secret), "{status}");
    assert!(status.contains("X-Custom-Auth=fp_"), "{status}");
}

// ---------------------------------------------------------------------------
// 8. Partner events
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_event_is_signed_with_the_partner_secret() {
    let wasim = Wasim::start().await;
    wasim
        .control(
            "/_wasim/webhooks/config",
            &json!({"partner_url": wasim.url("/partner")}),
        )
        .await;
    let answer = wasim
        .control("/_wasim/events", &json!({"event": "partner.channel_live"}))
        .await;
    assert_eq!(answer["success"], true, "{answer}");

    let posts = wasim.receiver.posts("/partner");
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.json()["event"], "channel_live", "{}", post.text());
    let signature = post
        .header("x-360dialog-signature")
        .expect("a partner signature");
    assert_eq!(signature, hmac_hex(PARTNER_SECRET, &post.body));
    assert_ne!(signature, hmac_hex(APP_SECRET, &post.body));
    assert_eq!(post.header("X-Hub-Signature-256"), None);
    assert!(wasim.receiver.posts("/webhook").is_empty());

    let trace = wasim.trace().await;
    assert!(acknowledged(&trace, "partner"), "no partner attempt traced");
}

// ---------------------------------------------------------------------------
// 9. Batching
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_of_one_instant_are_batched_into_one_signed_post() {
    let wasim = Wasim::start().await;
    let answer = wasim
        .control(
            "/_wasim/webhooks/config",
            &json!({"batch_max": 50, "batch_window_ms": 10_000}),
        )
        .await;
    assert_eq!(answer, json!({"success": true}));

    let mut wamids = Vec::new();
    for from in [ANA, PRIYA, SAM, LENA, DENIZ] {
        wamids.push(wasim.inbound_to(from, US_PHONE).await);
    }
    assert!(
        wasim.receiver.posts("/webhook").is_empty(),
        "posted before the batch window closed"
    );
    assert_eq!(wasim.webhook_status().await["batching"], wamids.len());

    wasim.advance(11).await;
    let posts = wasim.receiver.posts("/webhook");
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert!(post.meta_signed(), "bad signature on {}", post.text());
    let body = post.json();
    let entries = body["entry"].as_array().expect("an entry array");
    assert_eq!(entries.len(), wamids.len(), "{body}");
    let ids: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["changes"][0]["value"]["messages"][0]["id"].as_str())
        .collect();
    assert_eq!(ids, wamids, "{body}");

    let emitted = wasim.records("webhook_emitted").await;
    assert_eq!(emitted.len(), 1, "{emitted:?}");
    assert_eq!(emitted[0]["changes"], wamids.len(), "{:?}", emitted[0]);
    assert_eq!(emitted[0]["at_ms"], 10_000, "{:?}", emitted[0]);
    let counters = &wasim.webhook_status().await["counters"];
    assert_eq!(counters["changes"], wamids.len(), "{counters}");
    assert_eq!(counters["deliveries"], 1, "{counters}");
}

// ---------------------------------------------------------------------------
// 10. A receiver that drops the connection
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_dropping_the_connection_gets_an_error_traced_and_a_retry() {
    // Accepts, reads the request, and closes without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver_addr = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                drop(socket);
            });
        }
    });
    let wasim = Wasim::start_with_callback(WorldSpec::default(), None, None).await;
    let url = format!("http://{receiver_addr}/webhook");

    // The handshake fails without a status.
    let answer = wasim
        .control("/_wasim/webhooks/config", &json!({"callback_url": url}))
        .await;
    assert_eq!(answer["verification"]["echoed"], false, "{answer}");
    assert_eq!(
        answer["verification"]["http_status"],
        Value::Null,
        "{answer}"
    );
    assert!(answer["verification"]["error"].is_string(), "{answer}");

    // The webhook attempt fails without a status and is scheduled again.
    wasim.inbound_to(ANA, US_PHONE).await;
    let trace = wasim.trace().await;
    let emitted = records_of(&trace, "webhook_emitted");
    assert_eq!(emitted.len(), 1, "{emitted:?}");
    let delivery = &emitted[0]["delivery_id"];
    let attempts = attempts_of(&trace, delivery);
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["attempt"], 1, "{attempts:?}");
    assert_eq!(attempts[0]["copy"], "original", "{attempts:?}");
    assert_eq!(attempts[0]["http_status"], Value::Null, "{attempts:?}");
    let error = attempts[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("error sending request: "),
        "the error names its cause, not only the request: {error}"
    );
    let retries: Vec<&Value> = trace
        .iter()
        .filter(|r| r["kind"] == "webhook_retry_scheduled" && r["delivery_id"] == *delivery)
        .collect();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0]["attempt"], 2, "{retries:?}");
    assert_eq!(retries[0]["due_ms"], 5_000, "{retries:?}");

    // The retry happens when it is due, and fails the same way: still pending, not lost.
    wasim.advance(5).await;
    let trace = wasim.trace().await;
    let attempts = attempts_of(&trace, delivery);
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[1]["attempt"], 2, "{attempts:?}");
    assert_eq!(attempts[1]["http_status"], Value::Null, "{attempts:?}");
    assert!(
        trace.iter().any(|r| r["kind"] == "webhook_retry_scheduled"
            && r["delivery_id"] == *delivery
            && r["attempt"] == 3),
        "no third attempt scheduled"
    );
    let status = wasim.webhook_status().await;
    let counters = &status["counters"];
    assert_eq!(counters["failed_attempts"], 2, "{counters}");
    assert_eq!(counters["retries"], 2, "{counters}");
    assert_eq!(counters["lost"], 0, "{counters}");
    assert_eq!(status["pending"], 1, "{status}");
    // Handshake, attempt 1, attempt 2.
    assert!(connections.load(Ordering::SeqCst) >= 3);
    let (code, health) = wasim.get("/_wasim/health").await;
    assert_eq!((code, health), (200, json!({"status": "ok"})));
}

// ---------------------------------------------------------------------------
// 11. A receiver that answers 500 until it recovers
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_receiver_answering_500_gets_the_webhook_again_once_it_recovers() {
    let wasim = Wasim::start().await;
    wasim.receiver.set(|b| b.status = 500);
    wasim.inbound_text(ANA, "hi").await;
    wasim.advance(60).await;
    let failed_attempts = wasim.webhooks().len();
    assert!(
        failed_attempts >= 3,
        "retries within the first minute: {failed_attempts}"
    );

    wasim.receiver.set(|b| b.status = 200);
    wasim.advance(3600).await;
    wasim.advance(3600).await;

    let posts = wasim.webhooks();
    assert_eq!(
        posts.len(),
        failed_attempts + 1,
        "exactly one more attempt after recovery"
    );
    assert!(
        posts
            .iter()
            .all(|post| post.meta_signed() && post.body == posts[0].body),
        "every attempt is the same signed body"
    );

    let attempts = wasim.records("webhook_attempt").await;
    let numbers: Vec<u64> = attempts
        .iter()
        .map(|a| a["attempt"].as_u64().expect("number"))
        .collect();
    assert_eq!(numbers, (1..=posts.len() as u64).collect::<Vec<_>>());
    assert_eq!(attempts.last().expect("attempts")["http_status"], 200);
    assert!(
        attempts[..attempts.len() - 1]
            .iter()
            .all(|a| a["http_status"] == 500)
    );
}
