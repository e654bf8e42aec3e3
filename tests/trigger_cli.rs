//! `wasim trigger` end to end: the built binary posts to a small axum receiver on
//! 127.0.0.1, and its exit codes and messages are checked for every outcome.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use wasim_sim::webhook::sign::{hmac_hex, verify_meta_signature};

const APP_SECRET: &str = "wasim_test_app_secret";
const PARTNER_SECRET: &str = "wasim_test_partner_secret";

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("the webhook has a {name} header"))
            .to_str()
            .expect("an ASCII header value")
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

async fn record(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inbox
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Received { headers, body });
    StatusCode::OK
}

async fn refuse() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Starts a receiver on its own runtime in a background thread: `/webhook` records
/// and answers 200, `/fail` answers 500.
fn receiver() -> (SocketAddr, Inbox) {
    let inbox = Inbox::default();
    let app = Router::new()
        .route("/webhook", post(record))
        .route("/fail", post(refuse))
        .with_state(inbox.clone());
    let (bound, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the receiver");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the receiver");
            bound
                .send(listener.local_addr().expect("the receiver's address"))
                .expect("the test waits for the address");
            axum::serve(listener, app)
                .await
                .expect("the receiver serves");
        });
    });
    (
        addr.recv().expect("the receiver reports its address"),
        inbox,
    )
}

fn wasim(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_wasim"))
        .args(args)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .expect("run wasim");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [APP_SECRET, PARTNER_SECRET] {
        assert!(!text.contains(secret), "a secret was printed: {text}");
    }
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_sent_status_reaches_the_receiver_with_a_signature_that_verifies() {
    let (addr, inbox) = receiver();
    let url = format!("http://{addr}/webhook");
    let output = wasim(&["trigger", "statuses.sent", "--to", &url]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line = stdout(&output);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains(&url), "{line}");
    assert!(line.contains("200"), "{line}");
    assert!(line.contains(" ms"), "{line}");
    assert!(line.contains("X-Hub-Signature-256"), "{line}");

    let received = inbox.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(received.len(), 1);
    let webhook = &received[0];
    assert_eq!(webhook.header("content-type"), "application/json");
    // Some receivers (whatsapp-api-js's middleware) refuse a chunked body.
    assert_eq!(
        webhook.header("content-length"),
        webhook.body.len().to_string()
    );
    assert!(webhook.headers.get("transfer-encoding").is_none());
    assert!(verify_meta_signature(
        APP_SECRET,
        &webhook.body,
        webhook.header("x-hub-signature-256")
    ));
    let body: Value = serde_json::from_slice(&webhook.body).expect("a JSON body");
    assert_eq!(body["object"], "whatsapp_business_account");
    let status = &body["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(status["status"], "sent");
    assert_eq!(status["pricing"]["pricing_model"], "CBP");
}

#[test]
fn a_partner_event_is_signed_with_the_partner_secret() {
    let (addr, inbox) = receiver();
    let url = format!("http://{addr}/webhook");
    let output = wasim(&[
        "trigger",
        "partner.template_messaging_disabled",
        "--to",
        &url,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("x-360dialog-signature"));
    let received = inbox.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(received.len(), 1);
    let webhook = &received[0];
    assert_eq!(
        webhook.header("x-360dialog-signature"),
        hmac_hex(PARTNER_SECRET, &webhook.body)
    );
    assert!(webhook.headers.get("x-hub-signature-256").is_none());
    let body: Value = serde_json::from_slice(&webhook.body).expect("a JSON body");
    assert_eq!(body["event"], "template_messaging_disabled");
}

#[test]
fn list_names_every_event_and_exits_0() {
    let output = wasim(&["trigger", "--list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listing = stdout(&output);
    assert!(
        listing
            .lines()
            .any(|line| line.starts_with("statuses.failed ")),
        "{listing}"
    );
    assert!(listing.contains("partner.channel_live"), "{listing}");
    assert_eq!(
        listing.lines().count(),
        wasim_sim::webhook::trigger::EVENTS.len()
    );
}

#[test]
fn an_unknown_event_exits_2_naming_the_valid_ones() {
    let output = wasim(&[
        "trigger",
        "statuses.lost",
        "--to",
        "http://127.0.0.1:9/webhook",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("statuses.lost"), "{message}");
    assert!(message.contains("statuses.failed"), "{message}");
    assert!(message.contains("partner.channel_created"), "{message}");
}

#[test]
fn a_closed_port_exits_2_with_an_actionable_message() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.local_addr().expect("its address").port()
    };
    let url = format!("http://127.0.0.1:{port}/webhook");
    let output = wasim(&["trigger", "statuses.failed", "--to", &url]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.starts_with("error: failed to post"), "{message}");
    assert!(message.contains("connection refused"), "{message}");
    assert!(
        message.contains(&format!("listening on 127.0.0.1:{port}")),
        "{message}"
    );
}

#[test]
fn a_non_2xx_answer_exits_2() {
    let (addr, _inbox) = receiver();
    let url = format!("http://{addr}/fail");
    let output = wasim(&["trigger", "statuses.read", "--to", &url]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).contains("500"), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(message.contains("answered 500"), "{message}");
}

#[test]
fn print_shows_the_signed_request_without_posting() {
    let output = wasim(&["trigger", "account_update", "--print"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let (head, body) = text
        .split_once("\n\n")
        .expect("headers, a blank line, the body");
    let signature = head
        .lines()
        .find_map(|line| line.strip_prefix("X-Hub-Signature-256: "))
        .expect("the signature header");
    assert!(verify_meta_signature(
        APP_SECRET,
        body.trim_end_matches('\n').as_bytes(),
        signature
    ));
}
