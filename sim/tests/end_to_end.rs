//! End-to-end tests on real sockets: wasim serving on 127.0.0.1, a webhook receiver
//! recording every POST, and an HTTP client driving both through the public API.

use std::net::SocketAddr;
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

const TOKEN: &str = "wasim_test_access_token";
const APP_SECRET: &str = "wasim_test_app_secret";
const US_PHONE: &str = "110000000000001";
const DE_PHONE: &str = "110000000000002";
const TR_PHONE: &str = "110000000000003";
const ANA: &str = "5511987654321";
const PRIYA: &str = "919812345678";
const TITLE_131049: &str =
    "This message was not delivered to maintain healthy ecosystem engagement.";

/// One webhook POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Webhook {
    headers: HeaderMap,
    body: Bytes,
}

impl Webhook {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the webhook body is JSON")
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the webhook body is UTF-8")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header value"))
    }

    /// The first `statuses[]` entry, if this is a status webhook.
    fn status(&self) -> Option<Value> {
        self.json()["entry"][0]["changes"][0]["value"]["statuses"]
            .get(0)
            .cloned()
    }
}

type Inbox = Arc<Mutex<Vec<Webhook>>>;

async fn record(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inbox
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Webhook { headers, body });
    StatusCode::OK
}

/// A running wasim with a webhook receiver, and a client for both.
struct Harness {
    base: String,
    inbox: Inbox,
    client: reqwest::Client,
}

impl Harness {
    async fn start() -> Harness {
        let inbox = Inbox::default();
        let receiver = Router::new()
            .route("/webhook", post(record))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let receiver_addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move {
            axum::serve(listener, receiver)
                .await
                .expect("the receiver serves");
        });

        let mut config = ServeConfig::new(WorldSpec::default());
        config.webhook_url = Some(format!("http://{receiver_addr}/webhook"));
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
        let addr = bound.await.expect("wasim reports its address");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        Harness {
            base: format!("http://{addr}"),
            inbox,
            client,
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Vec<u8>) {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => self.client.get(url),
            "POST" => self.client.post(url),
            other => panic!("unexpected method {other}"),
        };
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("wasim answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("a readable body");
        (status, bytes.to_vec())
    }

    /// A Graph send from `phone`; returns the wamid of a 200 answer.
    async fn send(&self, phone: &str, body: &Value) -> String {
        let path = format!("/v23.0/{phone}/messages");
        let (status, bytes) = self.request("POST", &path, Some(TOKEN), Some(body)).await;
        let answer: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
        assert_eq!(status, 200, "{answer}");
        answer["messages"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no wamid in {answer}"))
            .to_owned()
    }

    async fn control(&self, path: &str, body: &Value) -> Value {
        let (status, bytes) = self.request("POST", path, None, Some(body)).await;
        let answer: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    async fn advance(&self, seconds: u64) {
        self.control("/_wasim/clock/advance", &json!({"seconds": seconds}))
            .await;
    }

    async fn trace(&self) -> Vec<Value> {
        let (status, bytes) = self.request("GET", "/_wasim/trace", None, None).await;
        assert_eq!(status, 200);
        std::str::from_utf8(&bytes)
            .expect("UTF-8 trace")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON trace line"))
            .collect()
    }

    fn received(&self) -> Vec<Webhook> {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The status webhooks received for `wamid`, in arrival order.
    fn statuses_of(&self, wamid: &str) -> Vec<(Webhook, Value)> {
        self.received()
            .into_iter()
            .filter_map(|webhook| {
                let status = webhook.status()?;
                (status["id"] == wamid).then_some((webhook, status))
            })
            .collect()
    }

    /// Asserts every trace `webhook_emitted` record whose status is for `wamid` has a
    /// `webhook_attempt` answered 200; returns how many there were.
    async fn assert_attempts_succeeded(&self, wamid: &str) -> usize {
        let trace = self.trace().await;
        let deliveries: Vec<u64> = trace
            .iter()
            .filter(|r| {
                r["kind"] == "webhook_emitted"
                    && r["body"]["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] == wamid
            })
            .map(|r| r["delivery_id"].as_u64().expect("delivery id"))
            .collect();
        for id in &deliveries {
            let attempts: Vec<&Value> = trace
                .iter()
                .filter(|r| r["kind"] == "webhook_attempt" && r["delivery_id"] == *id)
                .collect();
            assert_eq!(attempts.len(), 1, "delivery {id}: {attempts:?}");
            assert_eq!(attempts[0]["http_status"], 200, "{:?}", attempts[0]);
            assert_eq!(attempts[0]["attempt"], 1, "{:?}", attempts[0]);
        }
        deliveries.len()
    }
}

/// Checks what every Meta webhook must carry: a valid signature, a Content-Length,
/// an ASCII-only JSON body and Meta's envelope.
fn assert_meta_webhook(webhook: &Webhook) {
    let signature = webhook
        .header("X-Hub-Signature-256")
        .unwrap_or_else(|| panic!("no signature on {}", webhook.text()));
    assert!(
        verify_meta_signature(APP_SECRET, &webhook.body, signature),
        "bad signature {signature} on {}",
        webhook.text()
    );
    assert!(
        !verify_meta_signature("another_secret", &webhook.body, signature),
        "the signature verifies with any secret"
    );
    let length = webhook
        .header("Content-Length")
        .unwrap_or_else(|| panic!("no Content-Length on {}", webhook.text()));
    assert_eq!(
        length.parse::<usize>().expect("a numeric Content-Length"),
        webhook.body.len()
    );
    assert_eq!(webhook.header("Content-Type"), Some("application/json"));
    assert!(
        webhook.body.is_ascii(),
        "non-ASCII body: {}",
        webhook.text()
    );
    let body = webhook.json();
    assert_eq!(body["object"], "whatsapp_business_account", "{body}");
    assert_eq!(
        body["entry"][0]["changes"][0]["field"], "messages",
        "{body}"
    );
    assert_eq!(
        body["entry"][0]["changes"][0]["value"]["messaging_product"], "whatsapp",
        "{body}"
    );
}

fn spring_sale(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {"name": "spring_sale", "language": {"code": "en_US"}},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketing_template_is_reported_sent_then_delivered_in_signed_ascii_webhooks() {
    let harness = Harness::start().await;
    let wamid = harness.send(US_PHONE, &spring_sale(ANA)).await;
    assert!(wamid.starts_with("wamid."), "{wamid}");
    assert!(
        harness.statuses_of(&wamid).is_empty(),
        "a status arrived before the clock moved"
    );

    harness.advance(3600).await;

    let statuses = harness.statuses_of(&wamid);
    let names: Vec<&str> = statuses
        .iter()
        .map(|(_, s)| s["status"].as_str().expect("status name"))
        .collect();
    assert!(
        names == ["sent", "delivered"] || names == ["sent", "delivered", "read"],
        "statuses {names:?}"
    );
    let mut last_timestamp = 0u64;
    for (webhook, status) in &statuses {
        assert_meta_webhook(webhook);
        assert_eq!(status["recipient_id"], ANA, "{status}");
        let metadata = &webhook.json()["entry"][0]["changes"][0]["value"]["metadata"];
        assert_eq!(metadata["phone_number_id"], US_PHONE, "{metadata}");
        let timestamp: u64 = status["timestamp"]
            .as_str()
            .expect("a string timestamp")
            .parse()
            .expect("unix seconds");
        assert!(timestamp >= last_timestamp, "timestamps go back: {status}");
        last_timestamp = timestamp;
    }
    let sent = &statuses[0].1;
    assert_eq!(sent["pricing"]["category"], "marketing", "{sent}");
    assert_eq!(
        sent["conversation"]["origin"]["type"], "marketing",
        "{sent}"
    );
    assert!(sent.get("errors").is_none(), "{sent}");

    assert_eq!(
        harness.assert_attempts_succeeded(&wamid).await,
        statuses.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketing_over_the_per_user_limit_fails_131049_in_a_status_webhook_unless_sent_from_the_eea()
 {
    let harness = Harness::start().await;
    let answer = harness
        .control(
            "/_wasim/ecosystem/marketing",
            &json!({"to": PRIYA, "count": 2}),
        )
        .await;
    assert_eq!(answer, json!({"success": true}));

    // The Turkish number is subject to the limit: accepted now, failed later.
    let capped = harness.send(TR_PHONE, &spring_sale(PRIYA)).await;
    assert!(capped.starts_with("wamid."), "{capped}");
    harness.advance(3600).await;

    let statuses = harness.statuses_of(&capped);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let (webhook, failed) = &statuses[0];
    assert_meta_webhook(webhook);
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["recipient_id"], PRIYA, "{failed}");
    assert_eq!(failed["errors"][0]["code"], 131_049, "{failed}");
    assert_eq!(failed["errors"][0]["title"], TITLE_131049, "{failed}");
    assert!(
        failed["errors"][0]["error_data"]["details"].is_string(),
        "{failed}"
    );
    assert!(failed.get("pricing").is_none(), "{failed}");
    assert_eq!(
        webhook.json()["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"],
        TR_PHONE
    );
    assert_eq!(harness.assert_attempts_succeeded(&capped).await, 1);

    // The German number is exempt (EEA sender): the same send is delivered.
    let exempt = harness.send(DE_PHONE, &spring_sale(PRIYA)).await;
    harness.advance(3600).await;
    let statuses = harness.statuses_of(&exempt);
    let names: Vec<&str> = statuses
        .iter()
        .map(|(_, s)| s["status"].as_str().expect("status name"))
        .collect();
    assert_eq!(names.first(), Some(&"sent"), "{names:?}");
    assert!(!names.contains(&"failed"), "{names:?}");
    for (webhook, _) in &statuses {
        assert_meta_webhook(webhook);
    }
    assert_eq!(
        harness.assert_attempts_succeeded(&exempt).await,
        statuses.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_text_arrives_ascii_escaped_and_parses_back_to_the_original() {
    let harness = Harness::start().await;
    let original = "Grüße 👋";
    let answer = harness
        .control("/_wasim/inbound", &json!({"from": ANA, "text": original}))
        .await;
    let wamid = answer["id"].as_str().expect("a wamid").to_owned();
    assert!(wamid.starts_with("wamid."), "{answer}");

    // `inbound` answers after the webhook was attempted: no waiting needed.
    let received = harness.received();
    let webhook = received
        .iter()
        .find(|w| {
            w.json()["entry"][0]["changes"][0]["value"]["messages"][0]["id"] == wamid.as_str()
        })
        .unwrap_or_else(|| panic!("no messages webhook for {wamid} in {received:?}"));
    assert_meta_webhook(webhook);
    let raw = webhook.text();
    assert!(raw.contains("\\u00fc"), "{raw}");
    assert!(raw.contains("\\u00df"), "{raw}");
    assert!(raw.contains("\\ud83d\\udc4b"), "{raw}");
    let value = &webhook.json()["entry"][0]["changes"][0]["value"];
    let message = &value["messages"][0];
    assert_eq!(message["type"], "text", "{value}");
    assert_eq!(message["from"], ANA, "{value}");
    assert_eq!(message["text"]["body"], original, "{value}");
    assert_eq!(value["contacts"][0]["wa_id"], ANA, "{value}");
    assert_eq!(value["contacts"][0]["profile"]["name"], "Ana", "{value}");
    assert_eq!(value["metadata"]["phone_number_id"], US_PHONE, "{value}");

    let trace = harness.trace().await;
    let delivery = trace
        .iter()
        .find(|r| {
            r["kind"] == "webhook_emitted"
                && r["body"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
                    == wamid.as_str()
        })
        .expect("the inbound webhook is traced")["delivery_id"]
        .clone();
    assert!(
        trace.iter().any(|r| r["kind"] == "webhook_attempt"
            && r["delivery_id"] == delivery
            && r["http_status"] == 200),
        "no successful attempt for delivery {delivery}"
    );
}
