//! End to end, on real sockets: how wasim delivers webhooks. A receiver records every
//! request (method, path, query, headers, body) and answers as each test configures
//! it; wasim serves on 127.0.0.1 and is driven through its public HTTP surfaces.
//!
//! Covered: the verification handshake, signatures on every attempt (duplicates
//! included), forged posts, fault profiles from a world file and from the control
//! API (and their healing and validation), 360dialog client webhooks with custom
//! headers, partner signatures, batching, and a receiver that drops the connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use wasim_sim::trace::fingerprint;
use wasim_sim::webhook::sign::{hmac_hex, verify_meta_signature};
use wasim_sim::{ServeConfig, WorldSpec};

const TOKEN: &str = "wasim_test_access_token";
const APP_SECRET: &str = "wasim_test_app_secret";
const VERIFY_TOKEN: &str = "wasim_test_verify_token";
const PARTNER_SECRET: &str = "wasim_test_partner_secret";
const US_PHONE: &str = "110000000000001";
const DE_PHONE: &str = "110000000000002";
const US_KEY: &str = "wasim_test_d360_key_us";
const DE_KEY: &str = "wasim_test_d360_key_de";
const ANA: &str = "5511987654321";
const PRIYA: &str = "919812345678";
const SAM: &str = "14155550123";
const LENA: &str = "4915112345678";
const DENIZ: &str = "905321234567";
/// Magic recipient: delivered, then read.
const DELIVERED_THEN_READ: &str = "999000000";

/// How many times (50 ms apart) to poll for something that happens in the background.
const POLLS_MAX: usize = 100;

// ---------------------------------------------------------------------------
// The receiver
// ---------------------------------------------------------------------------

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header value"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the webhook body is JSON")
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the webhook body is UTF-8")
    }

    /// Whether the body carries a valid `X-Hub-Signature-256` made with the app secret.
    fn meta_signed(&self) -> bool {
        self.header("X-Hub-Signature-256")
            .is_some_and(|signature| verify_meta_signature(APP_SECRET, &self.body, signature))
    }

    /// The first `statuses[]` entry: `(wamid, status)`, if this is a status webhook.
    fn status(&self) -> Option<(String, String)> {
        let status = self.json()["entry"][0]["changes"][0]["value"]["statuses"]
            .get(0)
            .cloned()?;
        Some((
            status["id"].as_str()?.to_owned(),
            status["status"].as_str()?.to_owned(),
        ))
    }

    /// The first inbound message id, if this is a messages webhook.
    fn message_id(&self) -> Option<String> {
        self.json()["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            .as_str()
            .map(str::to_owned)
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
struct Behaviour {
    /// Status for POSTs, and for GETs that are not an accepted handshake.
    status: u16,
    /// Answer 401 to a POST whose `X-Hub-Signature-256` is missing or wrong.
    verify_meta: bool,
    /// Echo `hub.challenge` on a GET with `hub.mode=subscribe` and the right token.
    echo_challenge: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            status: 200,
            verify_meta: false,
            echo_challenge: true,
        }
    }
}

/// A recording HTTP receiver, serving every path.
#[derive(Debug, Clone, Default)]
struct Receiver {
    behaviour: Arc<Mutex<Behaviour>>,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(
            &mut self
                .behaviour
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    fn all(&self) -> Vec<Received> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The POSTs to `path`, in arrival order.
    fn posts(&self, path: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.method == Method::POST && r.path == path)
            .collect()
    }

    /// The GETs to `path`, in arrival order.
    fn gets(&self, path: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.method == Method::GET && r.path == path)
            .collect()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = reqwest::Url::parse(&format!("http://receiver.test{uri}")).expect("a request URI");
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let received = Received {
        method: method.clone(),
        path: uri.path().to_owned(),
        query,
        headers,
        body,
    };
    let behaviour = receiver
        .behaviour
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let answer = if method == Method::GET {
        let accepted = behaviour.echo_challenge
            && received.query("hub.mode") == Some("subscribe")
            && received.query("hub.verify_token") == Some(VERIFY_TOKEN);
        match received.query("hub.challenge") {
            Some(challenge) if accepted => (StatusCode::OK, challenge.to_owned()),
            _ => (status_code(behaviour.status), "not verified".to_owned()),
        }
    } else if behaviour.verify_meta && !received.meta_signed() {
        (StatusCode::UNAUTHORIZED, "bad signature".to_owned())
    } else {
        (status_code(behaviour.status), String::new())
    };
    receiver
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(received);
    answer.into_response()
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).expect("a valid status code")
}

/// Starts a receiver; returns it and its base URL.
async fn start_receiver(behaviour: Behaviour) -> (Receiver, String) {
    let receiver = Receiver::default();
    receiver.set(|b| *b = behaviour);
    let app = Router::new().fallback(receive).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("receiver address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the receiver serves");
    });
    (receiver, format!("http://{addr}"))
}

/// Starts wasim on 127.0.0.1:0; returns its base URL.
async fn start_wasim(config: ServeConfig) -> String {
    let (ready, bound) = oneshot::channel::<SocketAddr>();
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
    tokio::spawn(async move {
        let served = wasim_sim::serve(addr, config, move |local, _state| {
            let _ = ready.send(local);
        })
        .await;
        if let Err(error) = served {
            panic!("wasim stopped: {error}");
        }
    });
    format!("http://{}", bound.await.expect("wasim reports its address"))
}

// ---------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------

/// wasim, a receiver, and a client for both.
#[derive(Debug)]
struct Harness {
    base: String,
    receiver: Receiver,
    receiver_base: String,
    client: reqwest::Client,
}

impl Harness {
    /// The default world; Meta webhooks go to `<receiver>/webhook`.
    async fn start() -> Harness {
        Harness::start_with(WorldSpec::default(), Some("/webhook"), Behaviour::default()).await
    }

    /// `spec` served with the app callback at `callback_path` of the receiver (or none).
    async fn start_with(
        spec: WorldSpec,
        callback_path: Option<&str>,
        behaviour: Behaviour,
    ) -> Harness {
        let (receiver, receiver_base) = start_receiver(behaviour).await;
        let mut config = ServeConfig::new(spec);
        config.webhook_url = callback_path.map(|path| format!("{receiver_base}{path}"));
        let base = start_wasim(config).await;
        Harness {
            base,
            receiver,
            receiver_base,
            client: client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.receiver_base)
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, Value) {
        request(&self.client, &self.base, method, path, headers, body).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.request(Method::GET, path, &[], None).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request(Method::POST, path, &[], Some(body)).await
    }

    /// A control call that must answer 200.
    async fn control(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    async fn advance(&self, seconds: u64) {
        self.control("/_wasim/clock/advance", &json!({"seconds": seconds}))
            .await;
    }

    /// A text from `from` to `phone`; returns the inbound wamid.
    async fn inbound(&self, from: &str, phone: &str) -> String {
        let answer = self
            .control(
                "/_wasim/inbound",
                &json!({"from": from, "text": "hi", "phone_number_id": phone}),
            )
            .await;
        answer["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {answer}"))
            .to_owned()
    }

    /// A Graph send from `phone`; returns the wamid of a 200 answer.
    async fn send(&self, phone: &str, body: &Value) -> String {
        let bearer = format!("Bearer {TOKEN}");
        let path = format!("/v23.0/{phone}/messages");
        let (status, answer) = self
            .request(
                Method::POST,
                &path,
                &[("Authorization", bearer.as_str())],
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer["messages"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no wamid in {answer}"))
            .to_owned()
    }

    async fn webhooks(&self) -> Value {
        let (status, answer) = self.get("/_wasim/webhooks").await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    async fn trace_text(&self) -> String {
        let response = self
            .client
            .get(format!("{}/_wasim/trace", self.base))
            .send()
            .await
            .expect("wasim answers");
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.expect("a UTF-8 trace")
    }

    async fn trace(&self) -> Vec<Value> {
        self.trace_text()
            .await
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON trace line"))
            .collect()
    }

    /// The trace records of `kind`.
    async fn records(&self, kind: &str) -> Vec<Value> {
        self.trace()
            .await
            .into_iter()
            .filter(|r| r["kind"] == kind)
            .collect()
    }

    /// Polls the trace (bounded) until a record satisfies `wanted`.
    async fn wait_for_record(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..POLLS_MAX {
            if let Some(record) = self.trace().await.into_iter().find(|r| wanted(r)) {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {what} in the trace: {}", self.trace_text().await);
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

async fn request(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = client.request(method, format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("wasim answers");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a readable body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{path} answered non-JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, value)
}

fn spring_sale(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": {"name": "spring_sale", "language": {"code": "en_US"}},
    })
}

/// The attempts of `delivery_id` in the trace.
fn attempts_of(trace: &[Value], delivery_id: &Value) -> Vec<Value> {
    trace
        .iter()
        .filter(|r| r["kind"] == "webhook_attempt" && r["delivery_id"] == *delivery_id)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// 1. The verification handshake
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_runs_at_start_and_on_demand_and_reports_a_refusing_receiver() {
    let harness = Harness::start().await;

    // At start: wasim verifies the callback it was given, in the background.
    let record = harness
        .wait_for_record("echoed webhook_verification", |r| {
            r["kind"] == "webhook_verification" && r["echoed"] == true
        })
        .await;
    assert_eq!(record["http_status"], 200, "{record}");
    assert_eq!(record["error"], Value::Null, "{record}");
    let gets = harness.receiver.gets("/webhook");
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
    let answer = harness.control("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(answer["echoed"], true, "{answer}");
    assert_eq!(answer["http_status"], 200, "{answer}");
    assert_eq!(answer["error"], Value::Null, "{answer}");
    assert!(answer["latency_ms"].is_u64(), "{answer}");
    let gets = harness.receiver.gets("/webhook");
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_ne!(
        gets[0].query("hub.challenge"),
        gets[1].query("hub.challenge"),
        "the challenge is not fresh"
    );

    // A receiver refusing the handshake.
    harness.receiver.set(|b| {
        b.echo_challenge = false;
        b.status = 403;
    });
    let answer = harness.control("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(answer["echoed"], false, "{answer}");
    assert_eq!(answer["http_status"], 403, "{answer}");
    assert!(answer["error"].is_string(), "{answer}");

    // A receiver answering 200 without the challenge does not pass either.
    harness.receiver.set(|b| b.status = 200);
    let answer = harness.control("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(answer["echoed"], false, "{answer}");
    assert_eq!(answer["http_status"], 200, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("hub.challenge")),
        "{answer}"
    );

    // Traced, counted, and the verify token only as a fingerprint.
    let verifications = harness.records("webhook_verification").await;
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
    let trace = harness.trace_text().await;
    assert!(
        !trace.contains(VERIFY_TOKEN),
        "the verify token is in the trace"
    );
    let counters = &harness.webhooks().await["counters"];
    assert_eq!(counters["verifications"], 4, "{counters}");
    assert_eq!(counters["verifications_echoed"], 2, "{counters}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_a_callback_url_performs_the_handshake_and_answers_its_outcome() {
    let harness = Harness::start_with(WorldSpec::default(), None, Behaviour::default()).await;
    // No callback at start: no handshake, and an on-demand one is refused.
    let (status, answer) = harness.post("/_wasim/webhooks/verify", &json!({})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(harness.receiver.all().is_empty());

    let answer = harness
        .control(
            "/_wasim/webhooks/config",
            &json!({"callback_url": harness.url("/hook")}),
        )
        .await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["verification"]["echoed"], true, "{answer}");
    assert_eq!(answer["verification"]["http_status"], 200, "{answer}");
    assert_eq!(answer["verification"]["error"], Value::Null, "{answer}");
    let gets = harness.receiver.gets("/hook");
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].query("hub.verify_token"), Some(VERIFY_TOKEN));

    // Setting only batching or the partner URL performs no handshake.
    let answer = harness
        .control(
            "/_wasim/webhooks/config",
            &json!({"partner_url": harness.url("/partner")}),
        )
        .await;
    assert!(answer.get("verification").is_none(), "{answer}");
    assert_eq!(harness.receiver.all().len(), 1);

    // And the callback now takes webhooks.
    let wamid = harness.inbound(ANA, US_PHONE).await;
    let posts = harness.receiver.posts("/hook");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].message_id().as_deref(), Some(wamid.as_str()));
    assert!(posts[0].meta_signed());

    let configured = harness.records("webhook_configured").await;
    assert!(
        configured.iter().any(|r| r["scope"] == "app"),
        "{configured:?}"
    );
    assert!(!harness.trace_text().await.contains(VERIFY_TOKEN));
}

// ---------------------------------------------------------------------------
// 2. Duplicates are signed like originals
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_webhook_arrives_twice_identical_and_validly_signed() {
    let harness = Harness::start().await;
    let answer = harness
        .control("/_wasim/webhooks/faults", &json!({"duplicate": "1/1"}))
        .await;
    assert_eq!(answer["faults"]["duplicate"], "1/1", "{answer}");

    let wamid = harness.inbound(ANA, US_PHONE).await;
    let posts = harness.receiver.posts("/webhook");
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].body, posts[1].body);
    for post in &posts {
        assert!(post.meta_signed(), "bad signature on {}", post.text());
        assert_eq!(post.message_id().as_deref(), Some(wamid.as_str()));
        assert_eq!(post.header("Content-Type"), Some("application/json"));
    }

    let trace = harness.trace().await;
    let emitted: Vec<&Value> = trace
        .iter()
        .filter(|r| r["kind"] == "webhook_emitted")
        .collect();
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
    assert!(
        trace
            .iter()
            .any(|r| r["kind"] == "webhook_fault" && r["fault"] == "duplicated"),
        "no duplicated fault traced"
    );
    let counters = &harness.webhooks().await["counters"];
    assert_eq!(counters["duplicated"], 1, "{counters}");
    assert_eq!(counters["acknowledged"], 1, "{counters}");
}

// ---------------------------------------------------------------------------
// 3. Forged posts
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_post_is_refused_by_a_verifying_receiver_and_counted_when_accepted() {
    let behaviour = Behaviour {
        verify_meta: true,
        ..Behaviour::default()
    };
    let harness = Harness::start_with(WorldSpec::default(), Some("/webhook"), behaviour).await;
    harness
        .control("/_wasim/webhooks/faults", &json!({"forged": "1/1"}))
        .await;

    let wamid = harness.inbound(ANA, US_PHONE).await;
    let posts = harness.receiver.posts("/webhook");
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

    let trace = harness.trace().await;
    let attempts: Vec<&Value> = trace
        .iter()
        .filter(|r| r["kind"] == "webhook_attempt")
        .collect();
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
    assert!(
        trace
            .iter()
            .any(|r| r["kind"] == "webhook_fault" && r["fault"] == "forged"),
        "no forged fault traced"
    );
    let counters = &harness.webhooks().await["counters"];
    assert!(counters["forged"].as_u64() >= Some(1), "{counters}");
    assert_eq!(counters["forged_accepted"], 0, "{counters}");
    // The refused forgery is a copy: it does not make the delivery fail or retry.
    assert_eq!(counters["failed_attempts"], 0, "{counters}");
    assert_eq!(counters["retries"], 0, "{counters}");

    // A receiver that checks nothing accepts the forgery, and wasim counts it.
    harness.receiver.set(|b| b.verify_meta = false);
    harness.inbound(LENA, US_PHONE).await;
    let counters = &harness.webhooks().await["counters"];
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
    let harness = Harness::start_with(spec, Some("/webhook"), Behaviour::default()).await;
    let faults = &harness.webhooks().await["faults"];
    assert_eq!(faults["reorder"], "1/2", "{faults}");
    assert_eq!(faults["duplicate"], "1/3", "{faults}");

    // One message at a time, so each message's statuses follow each other on the wire.
    let mut wamids = Vec::new();
    for _ in 0..10 {
        wamids.push(
            harness
                .send(US_PHONE, &spring_sale(DELIVERED_THEN_READ))
                .await,
        );
        harness.advance(3600).await;
    }

    let trace = harness.trace().await;
    let faults: Vec<&str> = trace
        .iter()
        .filter(|r| r["kind"] == "webhook_fault")
        .filter_map(|r| r["fault"].as_str())
        .collect();
    assert!(faults.contains(&"reordered"), "{faults:?}");
    assert!(faults.contains(&"duplicated"), "{faults:?}");

    let posts = harness.receiver.posts("/webhook");
    for post in &posts {
        assert!(post.meta_signed(), "bad signature on {}", post.text());
    }
    // Every status of every message arrives (nothing is lost to the faults).
    let mut overtaken = Vec::new();
    for wamid in &wamids {
        let seen: Vec<String> = posts
            .iter()
            .filter_map(Received::status)
            .filter(|(id, _)| id == wamid)
            .map(|(_, status)| status)
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

    let counters = &harness.webhooks().await["counters"];
    assert!(counters["reordered"].as_u64() >= Some(1), "{counters}");
    assert!(counters["duplicated"].as_u64() >= Some(1), "{counters}");
    assert_eq!(counters["lost"], 0, "{counters}");
    assert_eq!(harness.webhooks().await["pending"], 0);
}

// ---------------------------------------------------------------------------
// 5. Healing
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_profile_heals_after_its_time_and_delivery_is_clean_again() {
    let harness = Harness::start().await;
    harness
        .control(
            "/_wasim/webhooks/faults",
            &json!({"duplicate": "1/1", "heal_after_s": 60}),
        )
        .await;

    harness.inbound(ANA, US_PHONE).await;
    assert_eq!(harness.receiver.posts("/webhook").len(), 2);

    // Not yet healed at 59 s.
    harness.advance(59).await;
    assert!(harness.records("webhook_healed").await.is_empty());
    assert!(!harness.webhooks().await["faults"].is_null());

    harness.advance(2).await;
    let healed = harness.records("webhook_healed").await;
    assert_eq!(healed.len(), 1, "{healed:?}");
    assert_eq!(healed[0]["at_ms"], 60_000, "{healed:?}");
    assert_eq!(harness.webhooks().await["faults"], Value::Null);

    let wamid = harness.inbound(LENA, US_PHONE).await;
    let posts: Vec<Received> = harness
        .receiver
        .posts("/webhook")
        .into_iter()
        .filter(|p| p.message_id().as_deref() == Some(wamid.as_str()))
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].meta_signed());
    assert_eq!(harness.receiver.posts("/webhook").len(), 3);
}

// ---------------------------------------------------------------------------
// 6. Invalid fault settings
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_fault_settings_are_refused_naming_the_field_and_change_nothing() {
    let harness = Harness::start().await;
    assert_eq!(harness.webhooks().await["faults"], Value::Null);

    let cases = [
        (json!({"duplicate": "3/2"}), "faults.duplicate"),
        (json!({"dupe": "1/2"}), "dupe"),
        (json!({"reorder": 0.5}), "faults.reorder"),
        (json!({"burst_size": 1}), "faults.burst_size"),
    ];
    for (body, field) in &cases {
        let (status, answer) = harness.post("/_wasim/webhooks/faults", body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {answer}");
        assert_eq!(harness.webhooks().await["faults"], Value::Null, "{body}");
    }

    // With a profile in force, a bad one leaves it in force.
    harness
        .control("/_wasim/webhooks/faults", &json!({"duplicate": "1/10"}))
        .await;
    let before = harness.webhooks().await["faults"].clone();
    assert_eq!(before["duplicate"], "1/10", "{before}");
    let (status, answer) = harness
        .post("/_wasim/webhooks/faults", &json!({"duplicate": "3/2"}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(harness.webhooks().await["faults"], before);
    assert_eq!(harness.records("webhook_faults_set").await.len(), 1);
}

// ---------------------------------------------------------------------------
// 7. 360dialog client webhooks
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_360dialog_webhook_gets_its_custom_headers_and_no_meta_signature() {
    let harness = Harness::start().await;
    let secret = "s3cret-value";
    let setting = json!({"url": harness.url("/d360"), "headers": {"X-Custom-Auth": secret}});

    let (status, answer) = harness
        .request(
            Method::POST,
            "/v1/configs/webhook",
            &[("D360-API-KEY", US_KEY)],
            Some(&setting),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, setting);
    let (status, answer) = harness
        .request(
            Method::GET,
            "/v1/configs/webhook",
            &[("D360-API-KEY", US_KEY)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, setting);

    // Refusals: a wrong key, a body without url.
    for method in [Method::POST, Method::GET] {
        let body = (method == Method::POST).then_some(&setting);
        let (status, answer) = harness
            .request(
                method.clone(),
                "/v1/configs/webhook",
                &[("D360-API-KEY", "not_a_key")],
                body,
            )
            .await;
        assert_eq!(status, 401, "{method}: {answer}");
        assert_eq!(answer["meta"]["success"], false, "{answer}");
        assert_eq!(answer["meta"]["http_code"], 401, "{answer}");
    }
    let (status, answer) = harness
        .request(
            Method::POST,
            "/v1/configs/webhook",
            &[("D360-API-KEY", US_KEY)],
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
    let wamid = harness.inbound(ANA, US_PHONE).await;
    let posts = harness.receiver.posts("/d360");
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.header("X-Custom-Auth"), Some(secret));
    assert_eq!(post.header("X-Hub-Signature-256"), None);
    assert_eq!(post.message_id().as_deref(), Some(wamid.as_str()));
    assert!(harness.receiver.posts("/webhook").is_empty());

    let trace = harness.trace().await;
    assert!(
        trace.iter().any(|r| r["kind"] == "webhook_attempt"
            && r["destination"] == "d360"
            && r["http_status"] == 200),
        "no d360 attempt traced"
    );

    // The WABA webhook, set with the German number's key, takes the German number's messages.
    let waba = json!({"url": harness.url("/waba"), "headers": {"X-Waba-Auth": "waba-value"}});
    let (status, answer) = harness
        .request(
            Method::POST,
            "/waba_webhook",
            &[("D360-API-KEY", DE_KEY)],
            Some(&waba),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = harness
        .request(
            Method::GET,
            "/waba_webhook",
            &[("D360-API-KEY", DE_KEY)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["url"], harness.url("/waba"), "{answer}");
    let wamid = harness.inbound(LENA, DE_PHONE).await;
    let posts = harness.receiver.posts("/waba");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].header("X-Waba-Auth"), Some("waba-value"));
    assert_eq!(posts[0].header("X-Hub-Signature-256"), None);
    assert_eq!(posts[0].message_id().as_deref(), Some(wamid.as_str()));
    assert_eq!(
        posts[0].json()["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"],
        DE_PHONE
    );
    assert_eq!(harness.receiver.posts("/d360").len(), 1);
    assert!(harness.receiver.posts("/webhook").is_empty());

    // The header values are secrets: never in the trace or the status answer.
    let trace = harness.trace_text().await;
    assert!(!trace.contains(secret), "the custom header value is traced");
    assert!(
        !trace.contains("waba-value"),
        "the WABA header value is traced"
    );
    let status = harness.webhooks().await.to_string();
    assert!(!status.contains(secret), "{status}");
    assert!(status.contains("X-Custom-Auth=fp_"), "{status}");
}

// ---------------------------------------------------------------------------
// 8. Partner events
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_event_is_signed_with_the_partner_secret() {
    let harness = Harness::start().await;
    harness
        .control(
            "/_wasim/webhooks/config",
            &json!({"partner_url": harness.url("/partner")}),
        )
        .await;
    let answer = harness
        .control("/_wasim/events", &json!({"event": "partner.channel_live"}))
        .await;
    assert_eq!(answer["success"], true, "{answer}");

    let posts = harness.receiver.posts("/partner");
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.json()["event"], "channel_live", "{}", post.text());
    let signature = post
        .header("x-360dialog-signature")
        .expect("a partner signature");
    assert_eq!(signature, hmac_hex(PARTNER_SECRET, &post.body));
    assert_ne!(signature, hmac_hex(APP_SECRET, &post.body));
    assert_eq!(post.header("X-Hub-Signature-256"), None);
    assert!(harness.receiver.posts("/webhook").is_empty());

    let trace = harness.trace().await;
    assert!(
        trace.iter().any(|r| r["kind"] == "webhook_attempt"
            && r["destination"] == "partner"
            && r["http_status"] == 200),
        "no partner attempt traced"
    );
}

// ---------------------------------------------------------------------------
// 9. Batching
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_of_one_instant_are_batched_into_one_signed_post() {
    let harness = Harness::start().await;
    let answer = harness
        .control(
            "/_wasim/webhooks/config",
            &json!({"batch_max": 50, "batch_window_ms": 10_000}),
        )
        .await;
    assert_eq!(answer, json!({"success": true}));

    let mut wamids = Vec::new();
    for from in [ANA, PRIYA, SAM, LENA, DENIZ] {
        wamids.push(harness.inbound(from, US_PHONE).await);
    }
    assert!(
        harness.receiver.posts("/webhook").is_empty(),
        "posted before the batch window closed"
    );
    assert_eq!(harness.webhooks().await["batching"], wamids.len());

    harness.advance(11).await;
    let posts = harness.receiver.posts("/webhook");
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

    let emitted = harness.records("webhook_emitted").await;
    assert_eq!(emitted.len(), 1, "{emitted:?}");
    assert_eq!(emitted[0]["changes"], wamids.len(), "{:?}", emitted[0]);
    assert_eq!(emitted[0]["at_ms"], 10_000, "{:?}", emitted[0]);
    let counters = &harness.webhooks().await["counters"];
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
    let base = start_wasim(ServeConfig::new(WorldSpec::default())).await;
    let (receiver, receiver_base) = start_receiver(Behaviour::default()).await;
    let harness = Harness {
        base,
        receiver,
        receiver_base,
        client: client(),
    };
    let url = format!("http://{receiver_addr}/webhook");

    // The handshake fails without a status.
    let answer = harness
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
    harness.inbound(ANA, US_PHONE).await;
    let trace = harness.trace().await;
    let emitted: Vec<&Value> = trace
        .iter()
        .filter(|r| r["kind"] == "webhook_emitted")
        .collect();
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
    harness.advance(5).await;
    let trace = harness.trace().await;
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
    let status = harness.webhooks().await;
    let counters = &status["counters"];
    assert_eq!(counters["failed_attempts"], 2, "{counters}");
    assert_eq!(counters["retries"], 2, "{counters}");
    assert_eq!(counters["lost"], 0, "{counters}");
    assert_eq!(status["pending"], 1, "{status}");
    // Handshake, attempt 1, attempt 2.
    assert!(connections.load(Ordering::SeqCst) >= 3);
    let (code, health) = harness.get("/_wasim/health").await;
    assert_eq!((code, health), (200, json!({"status": "ok"})));
}
