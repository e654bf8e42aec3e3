//! End to end: a receiver that answers 500 gets the webhook again, in virtual time,
//! once it recovers; every attempt is signed and traced.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use wasim_sim::webhook::sign::verify_meta_signature;
use wasim_sim::{ServeConfig, WorldSpec};

#[derive(Clone, Default)]
struct Receiver {
    healthy: Arc<AtomicBool>,
    bodies: Arc<Mutex<Vec<(Bytes, bool)>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get("X-Hub-Signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let signed = verify_meta_signature("wasim_test_app_secret", &body, signature);
    receiver
        .bodies
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((body, signed));
    if receiver.healthy.load(Ordering::SeqCst) {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

async fn post_json(client: &reqwest::Client, url: String, body: Value) -> Value {
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("wasim answers");
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON")
}

#[tokio::test]
async fn a_receiver_answering_500_gets_the_webhook_again_once_it_recovers() {
    let receiver = Receiver::default();
    let app = Router::new()
        .route("/webhook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver_addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });

    let mut config = ServeConfig::new(WorldSpec::default());
    config.webhook_url = Some(format!("http://{receiver_addr}/webhook"));
    let (ready, bound) = oneshot::channel::<SocketAddr>();
    tokio::spawn(async move {
        let _ = wasim_sim::serve(
            "127.0.0.1:0".parse().expect("addr"),
            config,
            move |addr, _| {
                let _ = ready.send(addr);
            },
        )
        .await;
    });
    let base = format!("http://{}", bound.await.expect("wasim starts"));
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    post_json(
        &client,
        format!("{base}/_wasim/inbound"),
        json!({"from": "5511987654321", "text": "hi"}),
    )
    .await;
    post_json(
        &client,
        format!("{base}/_wasim/clock/advance"),
        json!({"seconds": 60}),
    )
    .await;
    let failed_attempts = receiver
        .bodies
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    assert!(
        failed_attempts >= 3,
        "retries within the first minute: {failed_attempts}"
    );

    receiver.healthy.store(true, Ordering::SeqCst);
    post_json(
        &client,
        format!("{base}/_wasim/clock/advance"),
        json!({"seconds": 3600}),
    )
    .await;
    post_json(
        &client,
        format!("{base}/_wasim/clock/advance"),
        json!({"seconds": 3600}),
    )
    .await;

    let bodies = receiver
        .bodies
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(
        bodies.len(),
        failed_attempts + 1,
        "exactly one more attempt after recovery"
    );
    assert!(
        bodies
            .iter()
            .all(|(body, signed)| *signed && body == &bodies[0].0),
        "every attempt is the same signed body"
    );

    let trace = client
        .get(format!("{base}/_wasim/trace"))
        .send()
        .await
        .expect("trace")
        .text()
        .await
        .expect("text");
    let attempts: Vec<Value> = trace
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON line"))
        .filter(|record| record["kind"] == "webhook_attempt")
        .collect();
    let numbers: Vec<u64> = attempts
        .iter()
        .map(|a| a["attempt"].as_u64().expect("number"))
        .collect();
    assert_eq!(numbers, (1..=bodies.len() as u64).collect::<Vec<_>>());
    assert_eq!(attempts.last().expect("attempts")["http_status"], 200);
    assert!(
        attempts[..attempts.len() - 1]
            .iter()
            .all(|a| a["http_status"] == 500)
    );
}
