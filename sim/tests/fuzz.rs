//! A standing fuzzer of the whole router, in process (no sockets: each request is
//! one `tower::ServiceExt::oneshot` on the router). Generated and mutated requests
//! on every surface (Cloud API, 360dialog messaging and Partner API, control API):
//! methods, paths, queries, headers, credentials and bodies, including control
//! bodies with extreme numbers. Every answer must come without a panic, without a
//! 5xx, in JSON, and as an error in its surface's shape. After every epoch the
//! world still answers (health, the world read); every 10,000 cases and after the
//! last, it also takes a reset and then a send on each messaging surface.
//!
//! - `WASIM_FUZZ_SEED` (default 18): the seed; same seed, same requests.
//! - `WASIM_FUZZ_CASES` (default 100000, what CI runs): how many requests.
//! - `WASIM_FUZZ_CASE=N`: replay case N alone (its epoch up to it), printing it.
//! - `WASIM_FUZZ_THREADS` (default: the cores, at most 4): epochs run side by side.
//!
//! Cases run in epochs of [`EPOCH`] on a fresh server each (every third epoch
//! with a control token), so a case's world is its epoch's earlier cases and
//! nothing else: a failure is replayed by rerunning its epoch up to it. A fresh
//! world per epoch also bounds memory and time (sends, trace and webhook backlog
//! grow with an epoch, never with the run).
//!
//! The long run and its figures are in `benches/README.md` ("Router fuzzer").

/// The fuzzer's parts, in `sim/tests/fuzz/`.
mod fuzz {
    pub(crate) mod check;
    pub(crate) mod generate;
    pub(crate) mod routes;
}

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use futures_util::FutureExt as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use wasim_sim::state::AppState;
use wasim_sim::{ServeConfig, WorldSpec};

use fuzz::check::{Answer, check};
use fuzz::generate::{self, Case, Facts, Learned};
use fuzz::routes::ROUTES;

/// Cases per epoch (one fresh server each).
const EPOCH: u64 = 1_000;

/// Epochs between two full liveness probes (every 10,000 cases).
const PROBE_EVERY: u64 = 10;

/// Longest one request may take before it counts as hanging. Generous: a clock
/// advance over a week of webhook retries to a closed port takes seconds in a
/// debug build, and is slow, not stuck.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Trace records the fuzzed server keeps: small, so the window's eviction is
/// exercised often and a whole-trace `GET /_wasim/trace` stays cheap.
const TRACE_RECORDS: usize = 4096;

/// The run, as the environment asks for it.
#[derive(Debug, Clone, Copy)]
struct Run {
    seed: u64,
    cases: u64,
    only: Option<u64>,
    threads: usize,
    /// One past the last case run.
    end: u64,
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim().replace('_', "");
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, got `{text}`")),
    )
}

impl Run {
    fn from_env() -> Run {
        let only = env_number("WASIM_FUZZ_CASE");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let cases = env_number("WASIM_FUZZ_CASES").unwrap_or(100_000);
        Run {
            seed: env_number("WASIM_FUZZ_SEED").unwrap_or(18),
            cases,
            end: only.map_or(cases, |index| index + 1),
            only,
            threads: if only.is_some() {
                1
            } else {
                env_number("WASIM_FUZZ_THREADS")
                    .map_or(cores.min(4), |n| usize::try_from(n).unwrap_or(1))
                    .max(1)
            },
        }
    }
}

/// What went wrong, with everything needed to see and replay it.
#[derive(Debug)]
struct Failure {
    seed: u64,
    index: u64,
    reason: String,
    case: Option<Case>,
    answer: Option<Answer>,
    secrets: Vec<String>,
}

/// Replaces every secret in `text` with its fingerprint.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 6).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if text.contains(secret.as_str()) {
            let shown = format!("<secret {}>", wasim_sim::model::secret::fingerprint(secret));
            text = text.replace(secret.as_str(), &shown);
        }
    }
    text
}

/// At most `max` characters of `bytes`, escaped, with the length said when cut.
fn shown(bytes: &[u8], max: usize) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.escape_debug().to_string(),
        Err(_) => bytes.escape_ascii().to_string(),
    };
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}… (cut: {} bytes in all)", bytes.len())
    }
}

fn describe(case: &Case) -> String {
    let mut text = format!("  {} {}\n", case.method, shown(case.uri.as_bytes(), 300));
    for (name, value) in &case.headers {
        let _ = writeln!(text, "  {name}: {}", shown(value.as_bytes(), 200));
    }
    let _ = writeln!(
        text,
        "  body ({} bytes): {}",
        case.body.len(),
        shown(&case.body, 2000)
    );
    let _ = write!(text, "  mutations: {:?}", case.mutations);
    text
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = format!(
            "router fuzzer: case {} of seed {}: {}\n",
            self.index, self.seed, self.reason
        );
        if let Some(case) = &self.case {
            let _ = writeln!(text, "request:\n{}", describe(case));
        }
        if let Some(answer) = &self.answer {
            let _ = writeln!(
                text,
                "answer:\n  {}\n  content-type: {:?}\n  body ({} bytes): {}",
                answer.status,
                answer.content_type,
                answer.body.len(),
                shown(&answer.body, 2000)
            );
        }
        let _ = write!(
            text,
            "replay: WASIM_FUZZ_SEED={} WASIM_FUZZ_CASE={} cargo test -p wasim-sim --test fuzz -- the_router_survives_generated_requests --nocapture",
            self.seed, self.index
        );
        f.write_str(&redact(&text, &self.secrets))
    }
}

thread_local! {
    /// The first panic on this thread since it was last taken (a handler's, or a
    /// task's the runtime swallowed: the runtimes here run their tasks on the
    /// thread that drives them).
    static PANICKED: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.with(|p| {
                p.borrow_mut().get_or_insert_with(|| info.to_string());
            });
            previous(info);
        }));
    });
}

fn take_panic() -> Option<String> {
    PANICKED.with(|p| p.borrow_mut().take())
}

/// The answer of `router` to `request`, read whole; a panic or a hang is the error.
async fn answer(router: &Router, request: Request<Body>) -> Result<Answer, String> {
    let run = async move {
        let response = router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("the body failed: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Answer {
            status,
            content_type,
            body,
        })
    };
    let outcome = tokio::time::timeout(CASE_TIMEOUT, AssertUnwindSafe(run).catch_unwind()).await;
    let panicked = take_panic();
    match outcome {
        Err(_) => Err(format!("no answer within {CASE_TIMEOUT:?}")),
        Ok(Err(_)) => Err(format!(
            "panicked: {}",
            panicked.unwrap_or_else(|| "(no message)".to_owned())
        )),
        Ok(Ok(answer)) => match panicked {
            Some(message) => Err(format!("a task panicked: {message}")),
            None => answer,
        },
    }
}

fn request_of(case: &Case) -> Option<Request<Body>> {
    let mut builder = Request::builder()
        .method(case.method.clone())
        .uri(case.uri.as_str());
    for (name, value) in &case.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(case.body.clone())).ok()
}

/// What a run saw.
#[derive(Debug, Default)]
struct Stats {
    cases: u64,
    /// Requests that cannot be written on the wire (a URI `http` refuses).
    unsendable: u64,
    per_route: BTreeMap<usize, u64>,
    per_status: BTreeMap<u16, u64>,
    per_mutation: BTreeMap<&'static str, u64>,
    epochs: u64,
    /// The slowest answer and its case.
    slowest: (Duration, u64),
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.cases += other.cases;
        self.unsendable += other.unsendable;
        self.epochs += other.epochs;
        for (k, v) in other.per_route {
            *self.per_route.entry(k).or_default() += v;
        }
        for (k, v) in other.per_status {
            *self.per_status.entry(k).or_default() += v;
        }
        self.slowest = self.slowest.max(other.slowest);
        for (k, v) in other.per_mutation {
            *self.per_mutation.entry(k).or_default() += v;
        }
    }
}

/// A fresh server for `epoch`: every third one requires a control token.
fn server(epoch: u64) -> (Arc<AppState>, Router, Option<String>) {
    let token = (epoch % 3 == 2).then(|| format!("fuzz-control-token-{epoch:012}"));
    let mut config = ServeConfig::new(WorldSpec::default());
    config.control_token = token.clone();
    config.trace_records_max = TRACE_RECORDS;
    // Webhooks go to loopback ports nothing listens on; nothing should wait long.
    config.webhook_timeout = Duration::from_secs(2);
    let state = AppState::start(config).expect("the default world builds");
    let router = wasim_sim::api::router(state.clone());
    (state, router, token)
}

/// Headers every control request of the epoch carries.
fn control_request(method: Method, path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("x-wasim-control-token", token);
    }
    builder
        .body(Body::from(body.to_owned()))
        .expect("a valid request")
}

fn json_of(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.body).unwrap_or(Value::Null)
}

/// What later cases of the epoch may use from this answer.
fn learn(case: &Case, answer: &Answer, facts: &Facts, learned: &mut Learned) {
    if !answer.status.is_success() || answer.body.len() > 8192 {
        return;
    }
    let path = case
        .uri
        .split_once('?')
        .map_or(case.uri.as_str(), |(p, _)| p);
    if path == "/_wasim/reset" {
        // A fresh world: the keys of the spec again, no token, no messages.
        *learned = Learned::fresh(facts, learned.control_token.take());
        return;
    }
    let body = json_of(answer);
    if let Some(id) = body.pointer("/messages/0/id").and_then(Value::as_str) {
        Learned::remember(&mut learned.wamids, id);
    }
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    if let Some(id) = text("id").filter(|id| id.starts_with("wamid.")) {
        Learned::remember(&mut learned.wamids, id);
    }
    if let (Some(token), Some(_)) = (text("access_token"), text("token_type")) {
        learned.partner_bearer = Some(token.to_owned());
    }
    if let Some(key) = text("api_key")
        && let Some(i) = facts
            .channel_ids
            .iter()
            .position(|c| path.contains(&format!("/channels/{c}/")))
    {
        learned.d360_keys[i] = key.to_owned();
    }
    if let (Some(id), Some(_)) = (text("id"), text("email")) {
        Learned::remember(&mut learned.user_ids, id);
    }
    if let (Some(id), Some("PENDING" | "submitted")) = (text("id"), text("status")) {
        Learned::remember(&mut learned.template_ids, id);
    }
}

/// The world still answers: health, the world read, a reset (a case may have
/// terminated the account, deregistered a number, rotated a key or paused a
/// template: a send is expected to work only in a fresh world), then a template
/// send on the Cloud API and on 360dialog's.
async fn liveness(
    router: &Router,
    facts: &Facts,
    token: Option<&str>,
    full: bool,
) -> Result<(), String> {
    let call = |method: Method, path: &str, body: &str| {
        let request = control_request(method, path, token, body);
        async move { answer(router, request).await }
    };
    let health = call(Method::GET, "/_wasim/health", "").await?;
    if health.status != StatusCode::OK || json_of(&health) != json!({"status": "ok"}) {
        return Err(format!("GET /_wasim/health answered {}", health.status));
    }
    let world = call(Method::GET, "/_wasim/world", "").await?;
    if world.status != StatusCode::OK || !json_of(&world)["access_token"].is_string() {
        return Err(format!("GET /_wasim/world answered {}", world.status));
    }
    // The whole trace window reads back, record by record, in order: whatever the
    // cases put in it (odd paths, odd credentials) is written as JSON.
    let trace = call(Method::GET, "/_wasim/trace", "").await?;
    if trace.status != StatusCode::OK {
        return Err(format!("GET /_wasim/trace answered {}", trace.status));
    }
    let mut previous = None;
    for line in trace.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let record: Value = serde_json::from_slice(line)
            .map_err(|e| format!("a trace record is not JSON ({e}): {}", shown(line, 500)))?;
        let seq = record["seq"].as_u64();
        if seq.is_none() || seq <= previous {
            return Err(format!(
                "trace records out of order at {}",
                shown(line, 500)
            ));
        }
        previous = seq;
    }
    if !full {
        return Ok(());
    }
    let reset = call(Method::POST, "/_wasim/reset", "").await?;
    if reset.status != StatusCode::OK {
        return Err(format!("POST /_wasim/reset answered {}", reset.status));
    }
    let send = json!({"messaging_product": "whatsapp", "to": facts.named[0], "type": "template",
        "template": {"name": "spring_sale", "language": {"code": "en_US"}}})
    .to_string();
    let sends = [
        (
            format!("/v23.0/{}/messages", facts.phone_ids[0]),
            "authorization",
            format!("Bearer {}", facts.access_token),
        ),
        (
            "/messages".to_owned(),
            "d360-api-key",
            facts.d360_keys[0].clone(),
        ),
    ];
    for (path, name, credential) in sends {
        let request = Request::builder()
            .method(Method::POST)
            .uri(&path)
            .header("content-type", "application/json")
            .header(name, credential)
            .body(Body::from(send.clone()))
            .expect("a valid request");
        let sent = answer(router, request).await?;
        let id = json_of(&sent)
            .pointer("/messages/0/id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if sent.status != StatusCode::OK || !id.is_some_and(|id| id.starts_with("wamid.")) {
            return Err(format!(
                "a send on {path} after the reset answered {}: {}",
                sent.status,
                shown(&sent.body, 500)
            ));
        }
    }
    Ok(())
}

/// Runs cases `from..to` of `epoch` on a fresh server; the first failure ends it.
async fn run_epoch(
    run: Run,
    epoch: u64,
    to: u64,
    facts: &Facts,
    stats: &mut Stats,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    let (_state, router, token) = server(epoch);
    let mut learned = Learned::fresh(facts, token.clone());
    let secrets = |learned: &Learned| {
        let mut secrets = facts.secrets();
        secrets.extend(learned.secrets());
        secrets
    };
    // A partner token, for the requests that use one.
    let login = json!({"username": facts.partner_username, "password": facts.partner_password});
    let request = control_request(Method::POST, "/api/v2/token", None, &login.to_string());
    if let Ok(answer) = answer(&router, request).await {
        learned.partner_bearer = json_of(&answer)["access_token"].as_str().map(str::to_owned);
    }
    stats.epochs += 1;
    for index in epoch * EPOCH..to {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let case = generate::case(run.seed, index, facts, &learned);
        let Some(request) = request_of(&case) else {
            // A URI `http` refuses (too long): no client could send it.
            stats.unsendable += 1;
            if run.only == Some(index) {
                let shown = redact(&describe(&case), &secrets(&learned));
                println!("case {index} cannot be sent:\n{shown}");
            }
            continue;
        };
        let asked = wasim_sim::state::wall_now();
        let result = answer(&router, request).await;
        stats.slowest = stats.slowest.max((asked.elapsed(), index));
        stats.cases += 1;
        *stats.per_route.entry(case.route).or_default() += 1;
        for mutation in &case.mutations {
            *stats.per_mutation.entry(mutation).or_default() += 1;
        }
        let failure =
            |reason: String, answer: Option<Answer>, case: Case, learned: &Learned| Failure {
                seed: run.seed,
                index,
                reason,
                case: Some(case),
                answer,
                secrets: secrets(learned),
            };
        let answered = match result {
            Ok(answered) => answered,
            Err(reason) => return Err(failure(reason, None, case, &learned)),
        };
        *stats
            .per_status
            .entry(answered.status.as_u16())
            .or_default() += 1;
        if let Err(reason) = check(&case.method, &case.uri, &answered) {
            return Err(failure(reason, Some(answered), case, &learned));
        }
        if run.only == Some(index) {
            let passed = Failure {
                reason: "passed (shown as WASIM_FUZZ_CASE asks)".to_owned(),
                ..failure(
                    String::new(),
                    Some(answered.clone()),
                    case.clone(),
                    &learned,
                )
            };
            println!("{passed}");
        }
        learn(&case, &answered, facts, &mut learned);
    }
    // Health and the world read after every epoch; the full probe (a reset,
    // then sends: tens of milliseconds to build the world) every
    // `PROBE_EVERY` epochs and after the run's last case.
    let full = epoch % PROBE_EVERY == PROBE_EVERY - 1 || to == run.end;
    liveness(&router, facts, token.as_deref(), full)
        .await
        .map_err(|reason| Failure {
            seed: run.seed,
            index: to.saturating_sub(1),
            reason: format!("the world stopped answering after the epoch's cases: {reason}"),
            case: None,
            answer: None,
            secrets: secrets(&learned),
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn facts() -> Facts {
    let world = wasim_sim::World::new(WorldSpec::default(), None, None).expect("the default world");
    Facts::of(&world)
}

#[test]
fn the_router_survives_generated_requests() {
    install_panic_hook();
    let run = Run::from_env();
    let facts = facts();
    let next = AtomicU64::new(run.only.map_or(0, |index| index / EPOCH));
    // Cases done, for a progress line every million in a long run.
    let done = AtomicU64::new(0);
    let end = run.end;
    let stop = AtomicBool::new(false);
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let total: Mutex<Stats> = Mutex::new(Stats::default());
    let started = wasim_sim::state::wall_now();
    std::thread::scope(|scope| {
        for _ in 0..run.threads {
            scope.spawn(|| {
                let runtime = runtime();
                let mut stats = Stats::default();
                loop {
                    let e = next.fetch_add(1, Ordering::SeqCst);
                    let from = e * EPOCH;
                    if from >= end || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let to = (from + EPOCH).min(end);
                    if let Err(failure) =
                        runtime.block_on(run_epoch(run, e, to, &facts, &mut stats, &stop))
                    {
                        stop.store(true, Ordering::Relaxed);
                        failures.lock().expect("failures").push(failure);
                        break;
                    }
                    let before = done.fetch_add(to - from, Ordering::SeqCst);
                    if (before + to - from) / 1_000_000 > before / 1_000_000 {
                        eprintln!(
                            "router fuzzer: {} cases in {:.0} s",
                            before + to - from,
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
                total.lock().expect("stats").merge(stats);
            });
        }
    });
    let elapsed = started.elapsed();
    let stats = total.into_inner().expect("stats");
    let mut failures = failures.into_inner().expect("failures");
    failures.sort_by_key(|f| f.index);
    if let Some(failure) = failures.first() {
        panic!("{failure}");
    }
    let seconds = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "router fuzzer: seed {}, {} requests in {} epochs on {} threads, {:.1} s ({:.0} requests/s); {} not sendable",
        run.seed,
        stats.cases,
        stats.epochs,
        run.threads,
        seconds,
        stats.cases as f64 / seconds,
        stats.unsendable
    );
    eprintln!("  statuses: {:?}", stats.per_status);
    eprintln!(
        "  slowest answer: case {} in {:?}",
        stats.slowest.1, stats.slowest.0
    );
    eprintln!("  mutations: {:?}", stats.per_mutation);
    if run.only.is_none() && run.cases >= 10_000 {
        for (index, route) in ROUTES.iter().enumerate() {
            assert!(
                stats.per_route.get(&index).is_some_and(|n| *n > 0),
                "no case started from route {}",
                route.pattern
            );
        }
        assert!(
            stats.unsendable * 100 < stats.cases,
            "too many requests the generator made cannot be sent: {}",
            stats.unsendable
        );
    }
}

/// Every route the router serves (as its source declares them) is in the
/// fuzzer's list: a new endpoint is fuzzed from the day it is added.
#[test]
fn every_route_of_the_router_is_in_the_fuzzer_s_list() {
    let sources = [
        include_str!("../src/api/control.rs"),
        include_str!("../src/api/d360.rs"),
        include_str!("../src/api/partner.rs"),
        include_str!("../src/api/graph.rs"),
    ];
    let mut declared = Vec::new();
    for source in sources {
        let mut rest = source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let pattern = rest
                .trim_start()
                .strip_prefix('"')
                .and_then(|p| p.split_once('"'))
                .map(|(pattern, _)| pattern)
                .expect("a route pattern literal");
            declared.push(pattern);
        }
    }
    assert!(declared.len() > 30, "found only {declared:?}");
    for pattern in &declared {
        assert!(
            ROUTES.iter().any(|r| r.pattern == *pattern),
            "route {pattern} is not in the fuzzer's list (sim/tests/fuzz/routes.rs)"
        );
    }
    for route in ROUTES.iter() {
        assert!(
            declared.contains(&route.pattern),
            "the fuzzer lists {} but the router does not serve it",
            route.pattern
        );
    }
}

/// Same seed, same requests.
#[test]
fn a_case_is_the_same_from_the_same_seed_and_index() {
    let facts = facts();
    let learned = Learned::fresh(&facts, None);
    for index in [0, 1, 999, 123_456_789] {
        let a = generate::case(7, index, &facts, &learned);
        let b = generate::case(7, index, &facts, &learned);
        assert_eq!(
            (&a.method, &a.uri, &a.headers, &a.body),
            (&b.method, &b.uri, &b.headers, &b.body)
        );
    }
    let a = generate::case(7, 5, &facts, &learned);
    let b = generate::case(8, 5, &facts, &learned);
    assert_ne!((&a.uri, &a.body), (&b.uri, &b.body), "seeds differ");
}

/// A failure message names the seed and case, shows the request with its
/// secrets as fingerprints, and says how to replay it.
#[test]
fn a_failure_says_how_to_replay_it_and_hides_secrets() {
    let facts = facts();
    let learned = Learned::fresh(&facts, None);
    let case = generate::case(3, 41, &facts, &learned);
    let mut case = case;
    case.headers.push((
        header::AUTHORIZATION,
        format!("Bearer {}", facts.access_token)
            .parse()
            .expect("a header"),
    ));
    case.body = vec![b'x'; 10_000].into();
    let failure = Failure {
        seed: 3,
        index: 41,
        reason: "a server error: 500".to_owned(),
        case: Some(case),
        answer: None,
        secrets: facts.secrets(),
    };
    let text = failure.to_string();
    assert!(text.contains("case 41 of seed 3"), "{text}");
    assert!(
        text.contains("WASIM_FUZZ_SEED=3 WASIM_FUZZ_CASE=41 cargo test -p wasim-sim --test fuzz"),
        "{text}"
    );
    assert!(!text.contains(&facts.access_token), "{text}");
    assert!(text.contains("<secret fp_"), "{text}");
    assert!(text.contains("10000 bytes in all"), "{text}");
}

/// The fuzzer never points a webhook off this machine: every URL string of every
/// body it sends names a loopback address or does not parse (no host name to
/// look up, no address to route to).
#[test]
fn webhook_urls_the_fuzzer_sends_stay_on_this_machine() {
    fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(text) => out.push(text),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let facts = facts();
    let learned = Learned::fresh(&facts, None);
    let mut urls = 0;
    for index in 0..30_000 {
        let case = generate::case(18, index, &facts, &learned);
        let Ok(body) = serde_json::from_slice::<Value>(&case.body) else {
            continue;
        };
        let mut texts = Vec::new();
        strings(&body, &mut texts);
        for text in texts.into_iter().filter(|t| t.starts_with("http")) {
            let Ok(url) = reqwest::Url::parse(text) else {
                continue;
            };
            urls += 1;
            // The URL parser writes IP hosts in their canonical form (`027.0.0.1`
            // as `23.0.0.1`); anything else is a name.
            let on_this_machine = url.host_str().is_none_or(|host| {
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
            });
            assert!(
                on_this_machine,
                "case {index} sends {text:?} (mutations {:?})",
                case.mutations
            );
        }
    }
    assert!(urls > 500, "only {urls} URLs in 30,000 cases");
}
