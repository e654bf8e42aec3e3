//! A real wasim on 127.0.0.1 with a recording webhook receiver, for tests that judge
//! what goes over the wire: the responses wasim answers and the exact requests its
//! webhooks arrive as (method, path, query, headers, body bytes).

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

use super::{ANA, APP_SECRET, SPRING_SALE, TOKEN, US_PHONE, VERIFY_TOKEN, WABA, template, text};

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

    /// The body as JSON; fails the test if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the webhook body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text; fails the test if it is not UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the webhook body is UTF-8")
    }

    /// Whether `X-Hub-Signature-256` is a valid signature of exactly these bytes,
    /// made with the app secret.
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

    /// The first `statuses[]` entry, if this is a status webhook.
    pub fn status(&self) -> Option<Value> {
        self.json()["entry"][0]["changes"][0]["value"]["statuses"]
            .get(0)
            .cloned()
    }

    /// The first inbound message id, if this is a messages webhook.
    pub fn message_id(&self) -> Option<String> {
        self.json()["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            .as_str()
            .map(str::to_owned)
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Status for POSTs, and for GETs that are not an accepted handshake.
    pub status: u16,
    /// Answer 401 to a POST whose `X-Hub-Signature-256` is missing or wrong.
    pub verify_meta: bool,
    /// Echo `hub.challenge` on a GET with `hub.mode=subscribe` and the right token.
    pub echo_challenge: bool,
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

/// A recording HTTP receiver serving every path, answering as its [`Behaviour`]
/// says (by default: 200 to every POST, and `hub.challenge` to a GET with
/// `hub.mode=subscribe` and the world's verify token).
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    behaviour: Arc<Mutex<Behaviour>>,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Changes how the receiver answers from now on.
    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(
            &mut self
                .behaviour
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Every request so far, in arrival order.
    pub fn all(&self) -> Vec<Received> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The requests with `method` to `path` (any path with `None`), in arrival order.
    fn of(&self, method: &Method, path: Option<&str>) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.method == method && path.is_none_or(|path| r.path == path))
            .collect()
    }

    /// The POSTs to `path`, in arrival order.
    pub fn posts(&self, path: &str) -> Vec<Received> {
        self.of(&Method::POST, Some(path))
    }

    /// The GETs to `path`, in arrival order.
    pub fn gets(&self, path: &str) -> Vec<Received> {
        self.of(&Method::GET, Some(path))
    }

    /// The POSTs to `/webhook` (Meta webhooks), in arrival order.
    pub fn webhooks(&self) -> Vec<Received> {
        self.posts("/webhook")
    }

    /// The GETs to any path (handshakes), in arrival order.
    pub fn handshakes(&self) -> Vec<Received> {
        self.of(&Method::GET, None)
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
    let status = StatusCode::from_u16(behaviour.status).expect("a valid status code");
    let answer = if method == Method::GET {
        let accepted = behaviour.echo_challenge
            && received.query("hub.mode") == Some("subscribe")
            && received.query("hub.verify_token") == Some(VERIFY_TOKEN);
        match received.query("hub.challenge") {
            Some(challenge) if accepted => (StatusCode::OK, challenge.to_owned()),
            _ => (status, "not verified".to_owned()),
        }
    } else if behaviour.verify_meta && !received.meta_signed() {
        (StatusCode::UNAUTHORIZED, "bad signature".to_owned())
    } else {
        (status, String::new())
    };
    receiver
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(received);
    answer.into_response()
}

/// Serves `app` on 127.0.0.1:0 in the background; returns its base URL.
pub async fn serve_locally(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("a local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("it serves") });
    format!("http://{addr}")
}

/// Starts a receiver with the default [`Behaviour`]; returns it and its base URL.
pub async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let app = Router::new().fallback(receive).with_state(receiver.clone());
    (receiver, serve_locally(app).await)
}

/// How wasim was started.
#[derive(Debug)]
enum Server {
    /// By `wasim_sim::server::start`: the state is at hand.
    Started(Running),
    /// By `wasim_sim::serve`, as `wasim serve` starts it.
    Served,
}

/// A running wasim (manual clock), a receiver, and an HTTP client for both.
#[derive(Debug)]
pub struct Wasim {
    pub base: String,
    pub receiver: Receiver,
    pub receiver_base: String,
    server: Server,
    client: reqwest::Client,
}

impl Wasim {
    /// The default world under its default policy profile.
    pub async fn start() -> Wasim {
        Wasim::start_with(WorldSpec::default(), None).await
    }

    /// `spec` under `policy` (a profile name), or the world's own profile; Meta
    /// webhooks go to `<receiver>/webhook`.
    pub async fn start_with(spec: WorldSpec, policy: Option<&str>) -> Wasim {
        Wasim::start_with_callback(spec, policy, Some("/webhook")).await
    }

    /// `spec` under `policy`, with the app callback at `callback_path` of the
    /// receiver, or none.
    pub async fn start_with_callback(
        spec: WorldSpec,
        policy: Option<&str>,
        callback_path: Option<&str>,
    ) -> Wasim {
        let (receiver, receiver_base) = start_receiver().await;
        let mut config = ServeConfig::new(spec);
        config.policy = policy.map(str::to_owned);
        config.webhook_url = callback_path.map(|path| format!("{receiver_base}{path}"));
        let running = wasim_sim::server::start(local(), config)
            .await
            .expect("wasim starts");
        let base = format!("http://{}", running.addr);
        Wasim::new(base, receiver, receiver_base, Server::Started(running))
    }

    /// The default world served as `wasim serve` serves it (`wasim_sim::serve`,
    /// which also verifies the callback once it listens). With no hold on the state,
    /// requests wait for webhooks only as long as each handler does.
    pub async fn serve() -> Wasim {
        let (receiver, receiver_base) = start_receiver().await;
        let mut config = ServeConfig::new(WorldSpec::default());
        config.webhook_url = Some(format!("{receiver_base}/webhook"));
        let (ready, bound) = tokio::sync::oneshot::channel::<SocketAddr>();
        tokio::spawn(async move {
            let served = wasim_sim::serve(local(), config, move |addr, _state| {
                let _ = ready.send(addr);
            })
            .await;
            if let Err(error) = served {
                panic!("wasim stopped: {error}");
            }
        });
        let base = format!("http://{}", bound.await.expect("wasim reports its address"));
        Wasim::new(base, receiver, receiver_base, Server::Served)
    }

    fn new(base: String, receiver: Receiver, receiver_base: String, server: Server) -> Wasim {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        Wasim {
            base,
            receiver,
            receiver_base,
            server,
            client,
        }
    }

    /// The simulator's state; fails the test for a wasim started by [`Wasim::serve`].
    pub fn state(&self) -> &Arc<AppState> {
        match &self.server {
            Server::Started(running) => &running.state,
            Server::Served => panic!("a served wasim keeps its state to itself"),
        }
    }

    /// The receiver's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.receiver_base)
    }

    /// Sends a request with `headers` to wasim; answers (status, JSON body, or null
    /// for an empty one) once every webhook it caused has been attempted.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, Value) {
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
        (status, json_of(path, &bytes))
    }

    /// A GET without credential; answers (status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, &[], None).await
    }

    /// A POST of `body` without credential; answers (status, JSON body).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    /// A Graph call with the world's access token; answers (status, JSON body).
    pub async fn graph(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.graph_as(Some(TOKEN), method, path, body).await
    }

    /// A Graph call with the world's access token that must answer 200; its JSON body.
    pub async fn graph_ok(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.graph(method.clone(), path, body).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer
    }

    /// A Graph call presenting `bearer`; answers (status, JSON body).
    pub async fn graph_as(
        &self,
        bearer: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let bearer = bearer.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        self.call(method, path, &headers, body).await
    }

    /// Makes one Graph call for each way wasim refuses one: a wrong or missing
    /// token; bodies refused on the messages path (an unknown template, no type, a
    /// text without its text, both rate limits); a PIN mismatch after a PIN was set
    /// and malformed PINs; a wrong method, an unknown path, an unknown template to
    /// delete. Fails the test unless each is refused; answers
    /// `(method and path, status, JSON body)` per call.
    pub async fn graph_errors(&self) -> Vec<(String, u16, Value)> {
        let number = format!("/v23.0/{US_PHONE}");
        let (status, answer) = self
            .graph(Method::POST, &number, Some(&json!({"pin": "111111"})))
            .await;
        assert_eq!(status, 200, "a PIN to mismatch: {answer}");
        let messages = format!("{number}/messages");
        let mut answers = Vec::new();
        for bearer in [Some("wrong"), None] {
            let hi = text(ANA, "hi");
            answers.push(
                self.refused(bearer, Method::POST, &messages, Some(hi))
                    .await,
            );
        }
        let only_to = json!({"messaging_product": "whatsapp", "to": ANA});
        let mut no_text = only_to.clone();
        no_text["type"] = json!("text");
        let bodies = [
            template(ANA, "nope"),
            only_to,
            no_text,
            template("999130429", SPRING_SALE),
            template("999131056", SPRING_SALE),
        ];
        for body in bodies {
            answers.push(
                self.refused(Some(TOKEN), Method::POST, &messages, Some(body))
                    .await,
            );
        }
        let register = |pin: &str| json!({"messaging_product": "whatsapp", "pin": pin});
        let pins = [
            ("/register", register("222222")),
            ("/register", register("12")),
            ("", json!({"pin": "12"})),
        ];
        for (path, body) in pins {
            let path = format!("{number}{path}");
            answers.push(
                self.refused(Some(TOKEN), Method::POST, &path, Some(body))
                    .await,
            );
        }
        let templates = format!("/v23.0/{WABA}/message_templates?name=nope");
        for (method, path) in [
            (Method::GET, messages.as_str()),
            (Method::GET, "/v23.0/999999999/unknown/path"),
            (Method::DELETE, templates.as_str()),
        ] {
            answers.push(self.refused(Some(TOKEN), method, path, None).await);
        }
        answers
    }

    /// A Graph call presenting `bearer` that must be refused (4xx or 5xx); answers
    /// `(method and path, status, JSON body)`.
    async fn refused(
        &self,
        bearer: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (String, u16, Value) {
        let what = format!("{method} {path}");
        let (status, answer) = self.graph_as(bearer, method, path, body.as_ref()).await;
        assert!(status >= 400, "{what}: {status} {answer}");
        (what, status, answer)
    }

    /// A send from `phone` that must be accepted; returns the whole answer.
    pub async fn send(&self, phone: &str, body: &Value) -> Value {
        let path = format!("/v23.0/{phone}/messages");
        let (status, answer) = self.graph(Method::POST, &path, Some(body)).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// A send from `phone` that must be accepted; returns its wamid.
    pub async fn send_wamid(&self, phone: &str, body: &Value) -> String {
        let answer = self.send(phone, body).await;
        answer["messages"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no wamid in {answer}"))
            .to_owned()
    }

    /// A control call that must answer 200.
    pub async fn control(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// A text from `from` to the first number.
    pub async fn inbound_text(&self, from: &str, text: &str) -> Value {
        self.control("/_wasim/inbound", &json!({"from": from, "text": text}))
            .await
    }

    /// A text from `from` to `phone`; returns the inbound wamid.
    pub async fn inbound_to(&self, from: &str, phone: &str) -> String {
        let body = json!({"from": from, "text": "hi", "phone_number_id": phone});
        let answer = self.control("/_wasim/inbound", &body).await;
        answer["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {answer}"))
            .to_owned()
    }

    /// Moves the virtual clock; every webhook due is attempted before this returns.
    pub async fn advance(&self, seconds: u64) {
        self.control("/_wasim/clock/advance", &json!({"seconds": seconds}))
            .await;
    }

    /// Waits until every queued webhook has been attempted (a served wasim: at once).
    pub async fn settle(&self) {
        if let Server::Started(running) = &self.server {
            running.state.flush_webhooks().await;
        }
    }

    /// The Meta webhooks received so far.
    pub fn webhooks(&self) -> Vec<Received> {
        self.receiver.webhooks()
    }

    /// The control API's webhook status (`GET /_wasim/webhooks`).
    pub async fn webhook_status(&self) -> Value {
        let (status, answer) = self.get("/_wasim/webhooks").await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// The trace as JSON Lines text.
    pub async fn trace_text(&self) -> String {
        let url = format!("{}/_wasim/trace", self.base);
        let response = self.client.get(url).send().await.expect("wasim answers");
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.expect("a UTF-8 trace")
    }

    /// The trace records.
    pub async fn trace(&self) -> Vec<Value> {
        self.trace_text()
            .await
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON trace line"))
            .collect()
    }

    /// The trace records of `kind`.
    pub async fn records(&self, kind: &str) -> Vec<Value> {
        let trace = self.trace().await;
        records_of(&trace, kind).into_iter().cloned().collect()
    }

    /// Asserts that some trace record of `kind` satisfies `holds` (the failure
    /// lists them all).
    pub async fn assert_any_record(&self, kind: &str, holds: impl Fn(&Value) -> bool) {
        let records = self.records(kind).await;
        assert!(
            records.iter().any(holds),
            "no {kind} record as expected among {records:?}"
        );
    }
}

/// 127.0.0.1 on a free port.
fn local() -> SocketAddr {
    "127.0.0.1:0".parse().expect("a socket address")
}

/// `bytes` as JSON (null when empty); fails the test, naming `path`, otherwise.
fn json_of(path: &str, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| {
        panic!(
            "{path} answered non-JSON: {}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// The records of `kind` in `trace`.
pub fn records_of<'a>(trace: &'a [Value], kind: &str) -> Vec<&'a Value> {
    trace.iter().filter(|r| r["kind"] == kind).collect()
}

/// The attempts of `delivery_id` in `trace`.
pub fn attempts_of(trace: &[Value], delivery_id: &Value) -> Vec<Value> {
    trace
        .iter()
        .filter(|r| r["kind"] == "webhook_attempt" && r["delivery_id"] == *delivery_id)
        .cloned()
        .collect()
}
