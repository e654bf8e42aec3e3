//! A real wasim on 127.0.0.1 with a recording webhook receiver, for tests that judge
//! what goes over the wire: the responses wasim answers and the exact requests its
//! webhooks arrive as (method, path, query, headers, body bytes).

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different subset"
)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wasim_sim::server::Running;
use wasim_sim::state::AppState;
use wasim_sim::webhook::sign::verify_meta_signature;
use wasim_sim::{ServeConfig, WorldSpec};

pub const TOKEN: &str = "wasim_test_access_token";
pub const APP_SECRET: &str = "wasim_test_app_secret";
pub const VERIFY_TOKEN: &str = "wasim_test_verify_token";
pub const WABA: &str = "100000000000001";
pub const US_PHONE: &str = "110000000000001";
pub const DE_PHONE: &str = "110000000000002";
/// Brazil.
pub const ANA: &str = "5511987654321";
/// India.
pub const PRIYA: &str = "919812345678";
/// Germany.
pub const LENA: &str = "4915112345678";
/// The marketing template.
pub const SPRING_SALE: &str = "spring_sale";
pub const SPRING_SALE_ID: &str = "120000000000001";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// The value of query parameter `name`, if present.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of header `name`, in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("an ASCII header value").to_owned())
            .collect()
    }

    /// The single value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header value"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the webhook body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Whether `X-Hub-Signature-256` is a valid signature of exactly these bytes.
    pub fn meta_signed(&self) -> bool {
        self.header("X-Hub-Signature-256")
            .is_some_and(|signature| verify_meta_signature(APP_SECRET, &self.body, signature))
    }

    /// `entry[0].changes[0].field` of a Meta webhook.
    pub fn field(&self) -> String {
        self.json()["entry"][0]["changes"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A recording HTTP receiver serving every path: answers 200 to every POST, and to
/// a GET with `hub.mode=subscribe` and the world's verify token it answers
/// `hub.challenge`.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn all(&self) -> Vec<Received> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The POSTs to `/webhook` (Meta webhooks), in arrival order.
    pub fn webhooks(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.method == Method::POST && r.path == "/webhook")
            .collect()
    }

    /// The GETs (handshakes), in arrival order.
    pub fn handshakes(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.method == Method::GET)
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
    let answer = if method == Method::GET {
        let accepted = received.query("hub.mode") == Some("subscribe")
            && received.query("hub.verify_token") == Some(VERIFY_TOKEN);
        match received.query("hub.challenge") {
            Some(challenge) if accepted => (StatusCode::OK, challenge.to_owned()),
            _ => (StatusCode::FORBIDDEN, "not verified".to_owned()),
        }
    } else {
        (StatusCode::OK, String::new())
    };
    receiver
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(received);
    answer.into_response()
}

/// Starts a receiver on 127.0.0.1:0; returns it and its base URL.
pub async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
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

/// A running wasim (manual clock) whose Meta webhooks go to `<receiver>/webhook`.
#[derive(Debug)]
pub struct Wasim {
    pub base: String,
    pub receiver: Receiver,
    pub receiver_base: String,
    running: Running,
    client: reqwest::Client,
}

impl Wasim {
    /// The default world under its default policy profile.
    pub async fn start() -> Wasim {
        Wasim::start_with(WorldSpec::default(), None).await
    }

    /// `spec` under `policy` (a profile name), or the world's own profile.
    pub async fn start_with(spec: WorldSpec, policy: Option<&str>) -> Wasim {
        let (receiver, receiver_base) = start_receiver().await;
        let mut config = ServeConfig::new(spec);
        config.policy = policy.map(str::to_owned);
        config.webhook_url = Some(format!("{receiver_base}/webhook"));
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
        let running = wasim_sim::server::start(addr, config)
            .await
            .expect("wasim starts");
        Wasim {
            base: format!("http://{}", running.addr),
            receiver,
            receiver_base,
            running,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
        }
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.running.state
    }

    /// Sends a request to wasim; answers (status, raw body).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Bytes) {
        let bearer = bearer.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|value| ("Authorization", value))
            .into_iter()
            .collect();
        self.request(method, path, &headers, body).await
    }

    /// Sends a request with `headers` to wasim; answers (status, raw body) once
    /// every webhook it caused has been attempted.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, Bytes) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
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
        self.settle().await;
        (status, bytes)
    }

    /// A Graph call with the world's access token; answers (status, JSON body).
    pub async fn graph(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.graph_as(Some(TOKEN), method, path, body).await
    }

    /// A Graph call presenting `bearer`; answers (status, JSON body).
    pub async fn graph_as(
        &self,
        bearer: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, bytes) = self.raw(method, path, bearer, body).await;
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{path} answered non-JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, value)
    }

    /// A send from `phone` that must be accepted; returns the whole answer.
    pub async fn send(&self, phone: &str, body: &Value) -> Value {
        let path = format!("/v23.0/{phone}/messages");
        let (status, answer) = self.graph(Method::POST, &path, Some(body)).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// A control call that must answer 200.
    pub async fn control(&self, path: &str, body: &Value) -> Value {
        let (status, bytes) = self.raw(Method::POST, path, None, Some(body)).await;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// A text from `from` to the first number.
    pub async fn inbound_text(&self, from: &str, text: &str) -> Value {
        self.control("/_wasim/inbound", &json!({"from": from, "text": text}))
            .await
    }

    /// Moves the virtual clock; every webhook due is attempted before this returns.
    pub async fn advance(&self, seconds: u64) {
        self.control("/_wasim/clock/advance", &json!({"seconds": seconds}))
            .await;
    }

    /// Waits until every queued webhook has been attempted.
    pub async fn settle(&self) {
        self.running.state.flush_webhooks().await;
    }

    /// The Meta webhooks received so far.
    pub fn webhooks(&self) -> Vec<Received> {
        self.receiver.webhooks()
    }
}

/// A template send body.
pub fn template(to: &str, name: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": name, "language": {"code": "en_US"}}})
}

/// A text send body.
pub fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}})
}
