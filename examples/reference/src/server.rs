//! The HTTP surface: the webhook endpoint and the driver hooks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::action::Action;
use crate::state::State as Memory;
use crate::webhook::{self, SIGNATURE_HEADER, SignatureError};
use crate::worker::{Job, Queue, SharedState, lock};
use crate::{Config, Flaw};

/// How long flaw `slow-ack` waits before answering a webhook post.
const SLOW_ACK: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone)]
struct App {
    config: Arc<Config>,
    shared: SharedState,
    queue: Queue,
}

/// The routes, over `shared` state, feeding `queue`.
pub(crate) fn router(config: Arc<Config>, shared: SharedState, queue: Queue) -> Router {
    Router::new()
        .route("/webhook", get(verify).post(receive))
        .route("/wasim/actions", post(action))
        .route("/wasim/messages/{wamid}", get(message))
        .route("/wasim/reset", post(reset))
        .with_state(App {
            config,
            shared,
            queue,
        })
}

/// The answer to Meta's verification handshake.
pub(crate) fn handshake(
    query: &BTreeMap<String, String>,
    verify_token: &str,
    flaw: Option<Flaw>,
) -> (StatusCode, String) {
    if flaw == Some(Flaw::NoHandshake) {
        return (StatusCode::OK, String::new());
    }
    let get = |key: &str| query.get(key).map(String::as_str);
    match (
        get("hub.mode"),
        get("hub.verify_token"),
        get("hub.challenge"),
    ) {
        (Some("subscribe"), Some(token), Some(challenge)) if token == verify_token => {
            (StatusCode::OK, challenge.to_owned())
        }
        _ => (StatusCode::FORBIDDEN, "verification refused".to_owned()),
    }
}

/// Whether a post with signature check `result` is taken (flaw `no-signature-check`
/// takes every post).
pub(crate) fn signature_verdict(
    result: Result<(), SignatureError>,
    flaw: Option<Flaw>,
) -> Result<(), SignatureError> {
    if flaw == Some(Flaw::NoSignatureCheck) {
        Ok(())
    } else {
        result
    }
}

/// How long to wait before acknowledging a webhook post.
pub(crate) fn ack_delay(flaw: Option<Flaw>) -> Duration {
    if flaw == Some(Flaw::SlowAck) {
        SLOW_ACK
    } else {
        Duration::ZERO
    }
}

async fn verify(State(app): State<App>, Query(query): Query<BTreeMap<String, String>>) -> Response {
    let (status, body) = handshake(&query, &app.config.verify_token, app.config.flaw);
    println!("verification handshake: {}", status.as_u16());
    (status, body).into_response()
}

async fn receive(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    let checked = webhook::verify_signature(&app.config.app_secret, &body, header);
    if let Err(error) = signature_verdict(checked, app.config.flaw) {
        println!("refuse webhook: {}", error.reason());
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    if let Err(error) = checked {
        println!(
            "take webhook despite {} (flaw no-signature-check)",
            error.reason()
        );
    }
    match webhook::parse_envelope(&body) {
        Ok(events) => {
            if !app.queue.push(Job::Events(events)) {
                return (StatusCode::INTERNAL_SERVER_ERROR, "worker stopped").into_response();
            }
        }
        Err(error) => println!("ignore webhook: {error}"),
    }
    let delay = ack_delay(app.config.flaw);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    StatusCode::OK.into_response()
}

async fn action(State(app): State<App>, body: Bytes) -> Response {
    match Action::parse(&body) {
        Err(error) => {
            println!("refuse action: {error}");
            (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
        }
        Ok(action) => {
            if app
                .queue
                .push(Job::Action(action, crate::action::timestamp(&body)))
            {
                Json(json!({"accepted": true})).into_response()
            } else {
                let error = "worker stopped";
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": error})),
                )
                    .into_response()
            }
        }
    }
}

async fn message(State(app): State<App>, Path(wamid): Path<String>) -> Response {
    match lock(&app.shared).state.message_status(&wamid) {
        Some(status) => Json(json!({"id": wamid, "status": status.name()})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("unknown message {wamid}")})),
        )
            .into_response(),
    }
}

async fn reset(State(app): State<App>) -> Response {
    {
        let mut shared = lock(&app.shared);
        shared.state = Memory::new(app.config.flaw);
        shared.generation += 1;
    }
    println!("reset: all state forgotten");
    Json(json!({"reset": true})).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::body::Body;
    use axum::http::Request;
    use hmac::{Hmac, Mac};
    use http_body_util::BodyExt;
    use sha2::Sha256;
    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
    use tower::ServiceExt;

    use super::*;
    use crate::worker::{Queued, Shared};

    fn config(flaw: Option<Flaw>) -> Arc<Config> {
        Arc::new(Config {
            graph_url: "http://127.0.0.1:1".to_owned(),
            access_token: "token".to_owned(),
            phone_number_id: "110000000000001".to_owned(),
            app_secret: "s3cret".to_owned(),
            verify_token: "verify".to_owned(),
            port: 0,
            flaw,
        })
    }

    fn app(flaw: Option<Flaw>) -> (Router, UnboundedReceiver<Queued>) {
        let shared = Arc::new(Mutex::new(Shared::new(flaw)));
        let (sender, receiver) = unbounded_channel();
        let queue = Queue::new(shared.clone(), sender);
        (router(config(flaw), shared, queue), receiver)
    }

    async fn call(router: &Router, request: Request<Body>) -> (StatusCode, String) {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn post(uri: &str, body: &str, signature: Option<String>) -> Request<Body> {
        let mut request = Request::post(uri);
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        request.body(Body::from(body.to_owned())).expect("request")
    }

    fn sign(body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("any key");
        mac.update(body.as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const ENVELOPE: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.1","status":"sent","timestamp":"1717405200","recipient_id":"55"}]}}]}]}"#;

    #[test]
    fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
        let good = query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1158201444"),
            ("hub.verify_token", "verify"),
        ]);
        assert_eq!(
            handshake(&good, "verify", None),
            (StatusCode::OK, "1158201444".to_owned())
        );
        let mut wrong = good.clone();
        wrong.insert("hub.verify_token".to_owned(), "nope".to_owned());
        assert_eq!(handshake(&wrong, "verify", None).0, StatusCode::FORBIDDEN);
        let mut unsubscribe = good.clone();
        unsubscribe.insert("hub.mode".to_owned(), "unsubscribe".to_owned());
        assert_eq!(
            handshake(&unsubscribe, "verify", None).0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            handshake(&BTreeMap::new(), "verify", None).0,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn flaw_no_handshake_answers_200_empty() {
        let good = query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1158201444"),
            ("hub.verify_token", "verify"),
        ]);
        for query in [good, BTreeMap::new()] {
            assert_eq!(
                handshake(&query, "verify", Some(Flaw::NoHandshake)),
                (StatusCode::OK, String::new())
            );
        }
    }

    #[test]
    fn only_flaw_no_signature_check_takes_bad_signatures_and_only_slow_ack_waits() {
        for flaw in Flaw::ALL.iter().copied().map(Some).chain([None]) {
            let taken = signature_verdict(Err(SignatureError::Missing), flaw).is_ok();
            assert_eq!(taken, flaw == Some(Flaw::NoSignatureCheck), "{flaw:?}");
            assert!(signature_verdict(Ok(()), flaw).is_ok());
            let waits = !ack_delay(flaw).is_zero();
            assert_eq!(waits, flaw == Some(Flaw::SlowAck), "{flaw:?}");
        }
        assert_eq!(ack_delay(Some(Flaw::SlowAck)), Duration::from_millis(1500));
    }

    #[tokio::test]
    async fn a_signed_webhook_is_queued_and_a_forged_one_refused() {
        let (router, mut jobs) = app(None);
        let (status, _) = call(&router, post("/webhook", ENVELOPE, Some(sign(ENVELOPE)))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(jobs.try_recv().is_ok());
        for signature in [None, Some(sign("{}")), Some("sha256=zz".to_owned())] {
            let (status, _) = call(&router, post("/webhook", ENVELOPE, signature)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(jobs.try_recv().is_err(), "no side effect");
        }
    }

    #[tokio::test]
    async fn flaw_no_signature_check_queues_a_forged_webhook() {
        let (router, mut jobs) = app(Some(Flaw::NoSignatureCheck));
        let (status, _) = call(&router, post("/webhook", ENVELOPE, None)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(jobs.try_recv().is_ok());
    }

    #[tokio::test]
    async fn the_handshake_route_reads_hub_parameters() {
        let (router, _jobs) = app(None);
        let uri = "/webhook?hub.mode=subscribe&hub.challenge=abc123&hub.verify_token=verify";
        let request = Request::get(uri).body(Body::empty()).expect("request");
        assert_eq!(
            call(&router, request).await,
            (StatusCode::OK, "abc123".to_owned())
        );
        let uri = "/webhook?hub.mode=subscribe&hub.challenge=abc123&hub.verify_token=x";
        let request = Request::get(uri).body(Body::empty()).expect("request");
        assert_eq!(call(&router, request).await.0, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn actions_are_accepted_or_refused_in_one_line() {
        let (router, mut jobs) = app(None);
        let body = r#"{"action":"send_text","to":"55","text":"Your order shipped"}"#;
        let (status, answer) = call(&router, post("/wasim/actions", body, None)).await;
        assert_eq!(
            (status, answer.as_str()),
            (StatusCode::OK, r#"{"accepted":true}"#)
        );
        assert!(jobs.try_recv().is_ok());
        let (status, answer) = call(&router, post("/wasim/actions", "{", None)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!answer.contains('\n'), "{answer}");
        assert!(jobs.try_recv().is_err());
    }

    #[tokio::test]
    async fn unknown_messages_are_404_and_reset_answers_200() {
        let (router, _jobs) = app(None);
        let request = Request::get("/wasim/messages/wamid.nope")
            .body(Body::empty())
            .expect("request");
        assert_eq!(call(&router, request).await.0, StatusCode::NOT_FOUND);
        let (status, _) = call(&router, post("/wasim/reset", "", None)).await;
        assert_eq!(status, StatusCode::OK);
    }
}
