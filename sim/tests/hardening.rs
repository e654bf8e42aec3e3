//! The simulator as a hostile caller meets it: the control API's guard (token,
//! Host, Origin, content type), bodies that are too large or never arrive, paths
//! that do not decode, numbers that would overflow, and webhook endpoints that do
//! not answer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use support::socket::serve_locally;
use support::text_of;
use wasim_sim::state::AppState;
use wasim_sim::{ServeConfig, WorldSpec};

const CONTROL_TOKEN: &str = "a-control-token-of-32-characters";

fn start(token: Option<&str>) -> Arc<AppState> {
    let mut config = ServeConfig::new(WorldSpec::default());
    config.control_token = token.map(str::to_owned);
    AppState::start(config).expect("the default world builds")
}

/// Status and body (as JSON) of `request`.
async fn call(state: &Arc<AppState>, request: Request<Body>) -> (StatusCode, Value) {
    let answer = support::http::call(state, request).await;
    (answer.status, answer.json())
}

/// Sends a request with exactly `headers` and `body`: (status, JSON body).
async fn exchange(
    state: &Arc<AppState>,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    call(state, request(method, path, headers, body)).await
}

/// A request with exactly `headers` and `body` (no content type added).
fn request(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    support::http::raw_request(method.as_str(), path, headers, body)
}

const JSON: (&str, &str) = ("content-type", "application/json");
const INBOUND: &str = r#"{"from": "5511987654321", "text": "hi"}"#;

// ------------------------------------------------------------------ control guard

#[tokio::test]
async fn an_empty_or_short_control_token_is_refused_at_start() {
    for token in ["", "short"] {
        let mut config = ServeConfig::new(WorldSpec::default());
        config.control_token = Some(token.to_owned());
        let error = wasim_sim::server::start("127.0.0.1:0".parse().expect("an address"), config)
            .await
            .expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains("control token") && message.contains("at least 16 characters"),
            "{message}"
        );
    }
    let mut config = ServeConfig::new(WorldSpec::default());
    config.control_token = Some(CONTROL_TOKEN.to_owned());
    let running = wasim_sim::server::start("127.0.0.1:0".parse().expect("an address"), config)
        .await
        .expect("a long token is taken");
    running.stop().await.expect("stops");
}

#[tokio::test]
async fn a_foreign_host_is_refused_and_a_loopback_host_answered() {
    let state = start(None);
    for host in ["attacker.example", "attacker.example:8080", "10.0.0.7:8080"] {
        let (status, body) =
            exchange(&state, Method::GET, "/_wasim/world", &[("host", host)], "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}: {body}");
        assert!(
            text_of(&body["error"]["message"]).contains("loopback"),
            "{body}"
        );
    }
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "wasim.localhost",
    ] {
        let (status, body) =
            exchange(&state, Method::GET, "/_wasim/world", &[("host", host)], "").await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
}

#[tokio::test]
async fn a_page_s_cross_site_post_is_refused_whatever_its_content_type() {
    let state = start(None);
    // What a web page can send without a preflight: text/plain or a form, with its
    // Origin, to a loopback Host it rebound or to 127.0.0.1 itself.
    for (origin, content_type) in [
        ("https://attacker.example", "text/plain"),
        (
            "https://attacker.example",
            "application/x-www-form-urlencoded",
        ),
        ("null", "application/json"),
    ] {
        let (status, body) = exchange(
            &state,
            Method::POST,
            "/_wasim/webhooks/config",
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", origin),
                ("content-type", content_type),
            ],
            r#"{"callback_url": "http://attacker.example/steal"}"#,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{origin} {content_type}: {body}"
        );
    }
    let (_, webhooks) = exchange(&state, Method::GET, "/_wasim/webhooks", &[], "").await;
    assert_eq!(webhooks["callback_url"], Value::Null, "nothing was applied");
}

#[tokio::test]
async fn a_control_post_must_be_json_unless_it_is_curl_s_form_without_an_origin() {
    let state = start(None);
    let (status, body) = exchange(
        &state,
        Method::POST,
        "/_wasim/inbound",
        &[("content-type", "text/plain")],
        INBOUND,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(
        text_of(&body["error"]["message"]).contains("Content-Type: application/json"),
        "{body}"
    );
    for headers in [
        vec![JSON],
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![],
        vec![JSON, ("origin", "http://127.0.0.1:8080")],
    ] {
        let (status, body) =
            exchange(&state, Method::POST, "/_wasim/inbound", &headers, INBOUND).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}: {body}");
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_control_path_asks_for_the_token_first() {
    let state = start(Some(CONTROL_TOKEN));
    let (status, body) = exchange(&state, Method::DELETE, "/_wasim/world", &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"].get("valid_paths").is_none(), "{body}");
    let (status, body) = exchange(
        &state,
        Method::DELETE,
        "/_wasim/world",
        &[("x-wasim-control-token", CONTROL_TOKEN)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(body["error"]["valid_paths"].is_array(), "{body}");
    let (status, _) = exchange(
        &state,
        Method::GET,
        "/_wasim/world",
        &[("x-wasim-control-token", "a-control-token-of-32-characterX")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ------------------------------------------------------------------ bodies and paths

/// A body endpoint: its surface, method, path and the credential header it needs.
type Endpoint = (
    &'static str,
    Method,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// Every body endpoint of every surface, with the credential it needs.
fn body_endpoints() -> Vec<Endpoint> {
    let bearer = ("authorization", "Bearer wasim_test_access_token");
    let key = ("d360-api-key", "wasim_test_d360_key_us");
    let partner = ("x-api-key", "wasim_test_partner_api_key");
    vec![
        (
            "graph",
            Method::POST,
            "/v23.0/110000000000001/messages",
            vec![bearer],
        ),
        (
            "graph",
            Method::POST,
            "/v23.0/110000000000001/register",
            vec![bearer],
        ),
        (
            "graph",
            Method::POST,
            "/v23.0/110000000000001",
            vec![bearer],
        ),
        (
            "graph",
            Method::POST,
            "/v23.0/100000000000001/message_templates",
            vec![bearer],
        ),
        // 360dialog's messaging API passes Meta's answers through in Graph's shape.
        ("graph", Method::POST, "/messages", vec![key]),
        ("d360", Method::POST, "/v1/configs/webhook", vec![key]),
        ("d360", Method::POST, "/waba_webhook", vec![key]),
        ("d360", Method::POST, "/v1/configs/templates", vec![key]),
        ("partner", Method::POST, "/api/v2/token", vec![]),
        (
            "partner",
            Method::POST,
            "/api/v2/partners/wasimPA/users",
            vec![partner],
        ),
        (
            "partner",
            Method::POST,
            "/api/v2/partners/wasimPA/webhook_url",
            vec![partner],
        ),
        ("control", Method::POST, "/_wasim/inbound", vec![]),
        ("control", Method::POST, "/_wasim/clock/advance", vec![]),
        ("control", Method::POST, "/_wasim/webhooks/config", vec![]),
        ("control", Method::POST, "/_wasim/account", vec![]),
    ]
}

/// Whether `body` is an error in `surface`'s shape.
fn in_shape(surface: &str, body: &Value) -> bool {
    match surface {
        "graph" => body["error"]["code"].is_u64() && body["error"]["message"].is_string(),
        "d360" | "partner" => {
            body["meta"]["success"] == false && body["meta"]["developer_message"].is_string()
        }
        _ => body["error"]["message"].is_string(),
    }
}

#[tokio::test]
async fn an_oversized_body_is_413_in_every_surface_s_shape() {
    let state = start(None);
    let big = format!(
        "{{\"x\": \"{}\"}}",
        "a".repeat(wasim_sim::api::extract::BODY_BYTES_MAX)
    );
    for (surface, method, path, mut headers) in body_endpoints() {
        headers.push(JSON);
        let (status, body) = exchange(&state, method, path, &headers, &big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {body}");
        assert!(in_shape(surface, &body), "{path}: {body}");
    }
}

#[tokio::test]
async fn a_body_announced_larger_than_the_limit_is_refused_before_it_arrives() {
    let state = start(None);
    // Announced as 10 MB, never sent: answered at once, not after the body's timeout.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v23.0/110000000000001/messages")
        .header("authorization", "Bearer wasim_test_access_token")
        .header("content-type", "application/json")
        .header(header::CONTENT_LENGTH, "10485760")
        .body(Body::from_stream(futures_util::stream::pending::<
            Result<axum::body::Bytes, std::io::Error>,
        >()))
        .expect("a request");
    let answer = tokio::time::timeout(Duration::from_secs(30), call(&state, request))
        .await
        .expect("answered without waiting for the body");
    assert_eq!(answer.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.1);
}

#[tokio::test]
async fn a_path_that_does_not_decode_is_answered_in_its_surface_s_shape() {
    let state = start(None);
    for path in [
        "/v23.0/%ff/messages",
        "/v1/configs/templates/%ff%fe",
        "/api/v2/partners/%c3%28/channels",
    ] {
        let (status, body) = exchange(&state, Method::GET, path, &[], "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(in_shape("graph", &body), "{path}: {body}");
    }
    let (status, body) = exchange(&state, Method::GET, "/_wasim/%ff", &[], "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(in_shape("control", &body), "{body}");
}

// ------------------------------------------------------------------ numbers

#[tokio::test]
async fn numbers_that_would_overflow_are_refused_naming_the_field_and_its_bound() {
    let state = start(None);
    for (body, field) in [
        (
            json!({"incident": "restrict", "hours": 9_223_372_036_854_775_808_u64}),
            "hours",
        ),
        (
            json!({"incident": "restrict", "hours": 5_124_095_576_031_u64}),
            "hours",
        ),
        (
            json!({"incident": "compromise", "every_s": 1_u64 << 61}),
            "every_s",
        ),
        (
            json!({"incident": "compromise", "sends": 4_294_967_296_u64}),
            "sends",
        ),
    ] {
        let (status, answer) = exchange(
            &state,
            Method::POST,
            "/_wasim/account",
            &[JSON],
            &body.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{field}: expected a whole number from 1 to")),
            "{message}"
        );
    }
    let (status, answer) = exchange(
        &state,
        Method::POST,
        "/_wasim/webhooks/faults",
        &[JSON],
        r#"{"duplicate": "1/2", "heal_after_s": 18446744073709551615}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (_, account) = exchange(&state, Method::GET, "/_wasim/account", &[], "").await;
    assert!(account["restriction"].is_null(), "{account}");
}

#[test]
fn a_world_file_s_numbers_are_bounded_by_field() {
    for (toml, field) in [
        (
            "[recipients]\ncount = 4294967295\n",
            "recipients.count: expected at most",
        ),
        (
            "epoch_unix_s = 9223372036854775807\n",
            "epoch_unix_s: expected a unix time",
        ),
        (
            "[policy]\nconversation_hours = 9223372036854775807\n",
            "policy.conversation_hours: expected at most",
        ),
        (
            "[policy]\nsent_delay_ms = [5000, 10]\n",
            "policy.sent_delay_ms: expected [low, high]",
        ),
        (
            "[webhooks.faults]\nheal_after_s = 999999999\n",
            "webhooks.faults.heal_after_s: expected at most",
        ),
    ] {
        let error = WorldSpec::from_toml(toml).expect_err(toml).to_string();
        assert!(error.starts_with(field), "{toml}: {error}");
    }
}

// ------------------------------------------------------------------ webhook lanes

/// A webhook endpoint that accepts connections and never answers.
async fn silent_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}/webhook")
}

/// A partner webhook receiver that counts the posts it gets.
async fn counting_endpoint() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/partner",
        axum::routing::post(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { StatusCode::OK }
        }),
    );
    (format!("{}/partner", serve_locally(app).await), count)
}

#[tokio::test]
async fn an_endpoint_that_never_answers_does_not_hold_up_webhooks_to_another() {
    use wasim_sim::model::{Command, Route};
    let silent = silent_endpoint().await;
    let (partner, received) = counting_endpoint().await;
    let mut config = ServeConfig::new(WorldSpec::default());
    config.webhook_url = Some(silent);
    config.webhook_timeout = Duration::from_secs(120);
    let state = AppState::start(config).expect("starts");
    state
        .apply(Command::ConfigureWebhooks {
            callback_url: None,
            partner_url: Some(Some(partner)),
            batch: None,
        })
        .expect("configured");
    // First a webhook to the endpoint that never answers, then one to the partner.
    let event = |route: Route, field: &str| Command::EmitEvent {
        route,
        field: field.to_owned(),
        body: json!({"object": "whatsapp_business_account", "entry": []}),
    };
    state
        .apply(event(Route::Waba, "account_update"))
        .expect("emitted");
    state
        .apply(event(Route::Partner, "channel_live"))
        .expect("emitted");
    let delivered = async {
        while received.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), delivered)
        .await
        .expect("the partner webhook was posted while the other endpoint kept silent");
    // The silent endpoint's attempt is still in flight: nothing was reported yet, so
    // the trace keeps the order in which the attempts were queued.
    let attempts = state.read(|sim| {
        sim.trace
            .records()
            .filter(|r| matches!(r.event, wasim_sim::TraceEvent::WebhookAttempt { .. }))
            .count()
    });
    assert_eq!(attempts, 0);
}

// ------------------------------------------------------------------ connections

/// A new connection to `running`.
async fn connect(running: &wasim_sim::server::Running) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(running.addr)
        .await
        .expect("connects")
}

/// A server with small limits, on a free loopback port.
async fn small_server(connections_max: usize) -> wasim_sim::server::Running {
    let mut config = ServeConfig::new(WorldSpec::default());
    config.limits = wasim_sim::Limits {
        connections_max,
        header_read_timeout: Duration::from_millis(500),
    };
    wasim_sim::server::start("127.0.0.1:0".parse().expect("an address"), config)
        .await
        .expect("starts")
}

/// Reads until the server closes the connection (or a minute passes, which fails
/// the test instead of hanging it); returns what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut text))
        .await
        .expect("the server closed the connection")
        .expect("reads");
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let running = small_server(64).await;
    // Idle from the start.
    let mut idle = connect(&running).await;
    assert_eq!(read_to_close(&mut idle).await, "");
    // Slowloris: headers that never end.
    let mut slow = connect(&running).await;
    slow.write_all(b"GET /_wasim/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("writes");
    let answer = read_to_close(&mut slow).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // Kept alive after a request, then idle.
    let mut kept = connect(&running).await;
    kept.write_all(b"GET /_wasim/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("writes");
    let answer = read_to_close(&mut kept).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    running.stop().await.expect("stops");
}

#[tokio::test]
async fn a_connection_over_the_cap_is_answered_503_and_a_freed_slot_serves_again() {
    let running = small_server(2).await;
    let first = connect(&running).await;
    let second = connect(&running).await;
    let mut third = connect(&running).await;
    let answer = read_to_close(&mut third).await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{answer}"
    );
    assert!(answer.contains("maximum of 2 connections"), "{answer}");
    drop((first, second));
    // The slots free up once the server notices: a new client is served again.
    let client = reqwest::Client::new();
    let url = format!("http://{}/_wasim/health", running.addr);
    let served = async {
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), served)
        .await
        .expect("served once connections were freed");
    running.stop().await.expect("stops");
}

// ------------------------------------------------------------------ determinism

/// A webhook receiver that answers every post 200.
async fn answering_endpoint() -> String {
    let app =
        axum::Router::new().route("/webhook", axum::routing::any(|| async { StatusCode::OK }));
    format!("{}/webhook", serve_locally(app).await)
}

/// One session against a fresh server: webhooks with faults, sends, replies,
/// time; returns the trace as `GET /_wasim/trace` gives it.
async fn faulty_session(receiver: &str) -> String {
    let mut config = ServeConfig::new(WorldSpec::default());
    config.webhook_url = Some(receiver.to_owned());
    let state = AppState::start(config).expect("starts");
    state.verify_webhook().await.expect("verifies");
    let post = |path: &str, body: Value| request(Method::POST, path, &[JSON], &body.to_string());
    let bearer = ("authorization", "Bearer wasim_test_access_token");
    let steps = [
        post(
            "/_wasim/webhooks/faults",
            json!({"duplicate": "1/2", "reorder": "1/3", "delay": "1/2", "forged": "1/4"}),
        ),
        post(
            "/_wasim/inbound",
            json!({"from": "5511987654321", "text": "hi"}),
        ),
        request(
            Method::POST,
            "/v23.0/110000000000001/messages",
            &[JSON, bearer],
            &json!({"messaging_product": "whatsapp", "to": "5511987654321", "type": "text",
                    "text": {"body": "hello"}})
            .to_string(),
        ),
        request(
            Method::POST,
            "/v23.0/110000000000001/messages",
            &[JSON, bearer],
            &json!({"messaging_product": "whatsapp", "to": "919812345678", "type": "template",
                    "template": {"name": "spring_sale", "language": {"code": "en_US"}}})
            .to_string(),
        ),
        post("/_wasim/clock/advance", json!({"seconds": 3600})),
        post("/_wasim/webhooks/heal", json!({})),
        post("/_wasim/clock/advance", json!({"seconds": 3600})),
    ];
    for step in steps {
        let (status, body) = call(&state, step).await;
        assert!(status.is_success(), "{status}: {body}");
    }
    state.read(|sim| sim.trace.to_jsonl())
}

#[tokio::test]
async fn the_same_seed_and_requests_give_the_same_trace_bytes_with_faults_on() {
    let receiver = answering_endpoint().await;
    let first = faulty_session(&receiver).await;
    let second = faulty_session(&receiver).await;
    assert!(first.contains("webhook_attempt") && first.contains("webhook_fault"));
    assert!(
        !first.contains("latency"),
        "wall time stays out of the trace"
    );
    assert_eq!(first, second);
}

// ------------------------------------------------------------------ memory

/// Status, the two trace headers and the JSON Lines of a `GET /_wasim/trace`.
async fn trace_page(state: &Arc<AppState>, query: &str) -> (StatusCode, u64, u64, Vec<Value>) {
    let path = format!("/_wasim/trace{query}");
    let answer = support::http::call(state, request(Method::GET, &path, &[], "")).await;
    let header = |name: &str| {
        let value = answer.header(name).and_then(|v| v.parse::<u64>().ok());
        value.unwrap_or(u64::MAX)
    };
    let (first, next) = (header("x-wasim-trace-first"), header("x-wasim-trace-next"));
    let lines = answer
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    (answer.status, first, next, lines)
}

#[tokio::test]
async fn the_trace_is_paged_by_since_and_limit_and_reset_frees_it() {
    let state = start(None);
    for _ in 0..3 {
        exchange(&state, Method::POST, "/_wasim/inbound", &[JSON], INBOUND).await;
    }
    let (status, first, next, all) = trace_page(&state, "").await;
    assert_eq!((status, first), (StatusCode::OK, 0));
    assert_eq!(next, all.len() as u64);
    let (_, _, next, page) = trace_page(&state, "?since=1&limit=2").await;
    assert_eq!(page, all[1..3]);
    assert_eq!(next, 3);
    let (_, _, _, rest) = trace_page(&state, &format!("?since={next}")).await;
    assert_eq!(rest, all[3..]);
    let (status, _) = exchange(&state, Method::GET, "/_wasim/trace?sinse=1", &[], "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A reset frees the records; numbering goes on.
    exchange(&state, Method::POST, "/_wasim/reset", &[JSON], "{}").await;
    let (_, first, _, kept) = trace_page(&state, "").await;
    assert_eq!(first, all.len() as u64);
    assert_eq!(kept[0]["kind"], "world_reset");
    assert_eq!(kept[0]["seq"], all.len() as u64);
    assert!(kept.len() <= 3, "{kept:?}");
}

/// A model world built from the world file `toml`.
fn world_of(toml: &str) -> wasim_sim::model::World {
    let spec = WorldSpec::from_toml(toml).expect("a valid world file");
    wasim_sim::model::World::new(spec, None, None).expect("the world builds")
}

/// Asserts that `world` still finds every message of `ids` by its wamid.
fn assert_found(world: &wasim_sim::model::World, ids: &[wasim_sim::model::Wamid]) {
    for id in ids {
        assert!(world.message(id.as_str()).is_some(), "{id}");
    }
}

/// A utility template send to `to` at `now` (after advancing `world` there).
fn utility_send(
    world: &mut wasim_sim::model::World,
    now: wasim_sim::model::SimTime,
    to: &str,
) -> Result<wasim_sim::model::Reply, wasim_sim::model::Refusal> {
    let body = json!({"messaging_product": "whatsapp", "to": to,
                      "type": "template", "template": {"name": "order_update",
                      "language": {"code": "en_US"}, "components": [{"type": "body",
                      "parameters": [{"type": "text", "text": "x"}]}]}});
    world.advance(now);
    world
        .apply(
            now,
            wasim_sim::model::Command::graph_send(
                "wasim_test_access_token",
                "110000000000001",
                &body,
            ),
        )
        .reply
}

/// Sends 1,300 utility templates one a minute (no rate limit refuses them),
/// the `round`th to `to(round)`, and advances an hour past the last; their
/// wamids.
fn thirteen_hundred_a_minute_apart(
    world: &mut wasim_sim::model::World,
    to: impl Fn(u64) -> &'static str,
) -> Vec<wasim_sim::model::Wamid> {
    let mut ids = Vec::new();
    let mut now = wasim_sim::model::SimTime::ZERO;
    for round in 0..1_300u64 {
        now = wasim_sim::model::SimTime::from_ms(round * 60_000);
        match utility_send(world, now, to(round)) {
            Ok(wasim_sim::model::Reply::Sent { message_id, .. }) => ids.push(message_id),
            other => panic!("send {round}: {other:?}"),
        }
    }
    world.advance(now.plus_hours(1));
    ids
}

#[test]
fn a_world_keeps_its_newest_messages_and_forgets_finished_old_ones() {
    let mut world = world_of("[limits]\nmessages_kept = 1000\n");
    // Each one's story is over (sent, delivered) before the next.
    let ids = thirteen_hundred_a_minute_apart(&mut world, |_| "999000001");
    let kept = world.messages().count();
    assert!((1_000..=1_100).contains(&kept), "{kept} kept");
    assert!(
        world.message(ids[0].as_str()).is_none(),
        "the oldest is forgotten"
    );
    let newest = ids.last().expect("sent");
    assert!(
        world.message(newest.as_str()).is_some(),
        "the newest is kept"
    );
    // Every kept message is still found by its wamid.
    assert_found(&world, &ids[ids.len() - kept..]);
}

#[test]
fn a_message_still_waiting_for_its_read_does_not_keep_newer_finished_ones() {
    // Reads come 100 days after delivery: the first message, to a recipient who
    // reads, stays in play for the whole run; the rest go to one who never reads.
    let mut world = world_of(
        "[limits]\nmessages_kept = 1000\n[policy]\nread_delay_ms = [8640000000, 8640000000]\n",
    );
    let ids = thirteen_hundred_a_minute_apart(&mut world, |round| {
        if round == 0 { "999000000" } else { "999000001" }
    });
    let kept = world.messages().count();
    // The bound and its tenth of slack, and the one still in play.
    assert!((1_000..=1_101).contains(&kept), "{kept} kept");
    assert!(
        world.message(ids[0].as_str()).is_some(),
        "the message waiting for its read is kept"
    );
    assert!(
        world.message(ids[1].as_str()).is_none(),
        "a finished old one is forgotten"
    );
    assert_found(&world, &ids[ids.len() - (kept - 1)..]);
}

#[test]
fn messages_still_in_play_are_bounded_and_a_send_past_the_bound_says_which_setting() {
    use wasim_sim::model::{Reply, SimTime, World};
    // Every message waits 100 days for its read: none can be forgotten.
    let mut world = world_of(
        "[limits]\nmessages_kept = 1000\nmessages_max = 1000\n[policy]\nread_delay_ms = [8640000000, 8640000000]\n",
    );
    let send = |world: &mut World, now: SimTime| utility_send(world, now, "999000000");
    let mut now = SimTime::ZERO;
    for round in 0..1_000u64 {
        now = SimTime::from_ms(round * 60_000);
        assert!(
            matches!(send(&mut world, now), Ok(Reply::Sent { .. })),
            "send {round}"
        );
    }
    let refused = send(&mut world, now.plus_ms(60_000)).expect_err("past the bound");
    let wasim_sim::model::Refusal::Platform(error) = refused else {
        panic!("not a platform error: {refused:?}");
    };
    assert_eq!(error.code, 131_000);
    assert!(
        error.details.contains("limits.messages_max"),
        "{}",
        error.details
    );
    // Once the reads are out, the old messages go and sends are taken again.
    let later = now.plus_hours(24 * 101);
    assert!(matches!(send(&mut world, later), Ok(Reply::Sent { .. })));
    assert!(world.messages().count() <= 1_000);
}

#[test]
fn a_message_bound_below_the_kept_count_is_refused_naming_the_field() {
    let error = WorldSpec::from_toml("[limits]\nmessages_kept = 5000\nmessages_max = 4000\n")
        .expect_err("refused");
    assert!(error.to_string().contains("limits.messages_max"), "{error}");
}
