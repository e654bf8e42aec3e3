//! Criterion bench `http`: the Cloud API send path in process, with no socket.
//!
//! `POST /v23.0/110000000000001/messages` with the default bearer token and a
//! marketing template body goes through `wasim_sim::api::router(state)` by
//! `tower::ServiceExt::oneshot`: routing, body read and JSON parse, authentication,
//! the model under the lock, the `request` trace record and the JSON answer (read
//! to the last byte). The state is `AppState::start` on the default world with the
//! manual clock, on a current-thread tokio runtime.
//!
//! Recipients rotate over the world's generated ones (so the pair-rate limit is not
//! what is measured), and every 80 sends the clock is advanced by one virtual
//! second outside the timing (so the 80 msg/s throughput bucket never refuses; the
//! timers that fall due are fired there too). Every 10 000 sends, also outside the
//! timing, the state is started afresh, so the world and its trace stop growing
//! and the figure does not depend on how long criterion runs.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, Throughput};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;
use wasim_sim::model::WorldSpec;
use wasim_sim::state::{AppState, ServeConfig, wall_now};

const PATH: &str = "/v23.0/110000000000001/messages";
const BEARER: &str = "Bearer wasim_test_access_token";
/// Sends between clock moves: the default throughput per second.
const SENDS_PER_SECOND: u64 = 80;
/// Sends between fresh states (a multiple of `SENDS_PER_SECOND`).
const SENDS_PER_STATE: u64 = 10_000;

fn start(runtime: &tokio::runtime::Runtime) -> (Arc<AppState>, axum::Router) {
    let state: Arc<AppState> = runtime.block_on(async {
        AppState::start(ServeConfig::new(WorldSpec::default())).expect("the default world")
    });
    let router = wasim_sim::api::router(state.clone());
    (state, router)
}

/// Requests answered other than 200 in `state`'s trace.
fn refused(state: &AppState) -> usize {
    state.read(|sim| {
        sim.trace
            .records()
            .filter(|r| {
                matches!(
                    &r.event,
                    wasim_sim::TraceEvent::Request { http_status, .. } if *http_status != 200
                )
            })
            .count()
    })
}

/// The request bodies, one per generated recipient, serialized once.
fn bodies(state: &AppState) -> Vec<Vec<u8>> {
    state.read(|sim| {
        sim.world
            .recipients()
            .filter(|r| r.background_ecosystem())
            .map(|r| {
                serde_json::to_vec(&json!({
                    "messaging_product": "whatsapp", "to": r.wa_id(), "type": "template",
                    "template": {"name": "spring_sale", "language": {"code": "en_US"}},
                }))
                .expect("JSON serializes")
            })
            .collect()
    })
}

fn request(body: &[u8]) -> Request<Body> {
    Request::post(PATH)
        .header("authorization", BEARER)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a valid request")
}

/// Sends one request and reads the whole answer; returns its status.
async fn send(router: &axum::Router, request: Request<Body>) -> StatusCode {
    let response = router.clone().oneshot(request).await;
    let response = response.expect("the router is infallible");
    let status = response.status();
    let collected = response.into_body().collect().await;
    std::hint::black_box(collected.expect("the body reads").to_bytes());
    status
}

fn http(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (mut state, mut router) = start(&runtime);
    let bodies = bodies(&state);
    let mut refused_total = 0;
    let mut next = 0usize;

    // Once, outside the timing: the path answers 200 with a wamid.
    let status = runtime.block_on(send(&router, request(&bodies[0])));
    assert_eq!(status, StatusCode::OK, "the send was not accepted");
    next += 1;

    let mut group = c.benchmark_group("http");
    group.throughput(Throughput::Elements(1));
    group.bench_function("graph_template_send", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                if (next as u64).is_multiple_of(SENDS_PER_STATE) {
                    refused_total += refused(&state);
                    (state, router) = start(&runtime);
                }
                if (next as u64).is_multiple_of(SENDS_PER_SECOND) {
                    runtime
                        .block_on(state.advance_by(1_000))
                        .expect("the clock advances");
                }
                let request = request(&bodies[next % bodies.len()]);
                next += 1;
                let start = wall_now();
                let status = runtime.block_on(send(&router, request));
                elapsed += wall_now().duration_since(start);
                debug_assert_eq!(status, StatusCode::OK);
            }
            elapsed
        });
    });
    group.finish();
    let refused = refused_total + refused(&state);
    eprintln!("http: {next} sends, {refused} answered other than 200");
    assert_eq!(
        refused, 0,
        "some sends were refused: the bench measured rejections"
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    http(&mut criterion);
    criterion.final_summary();
}
