//! The HTTP surface: Meta's webhook endpoint, 360dialog's partner webhook
//! endpoint, and the driver hooks.

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
use crate::partner;
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
        .route("/partner-webhook", post(receive_partner))
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

/// The action as flaw `drop-parameters` carries it out: templates lose their
/// body parameters.
fn drop_parameters(action: Action, flaw: Option<Flaw>) -> Action {
    if flaw != Some(Flaw::DropParameters) {
        return action;
    }
    match action {
        Action::Template { to, mut template } => {
            template.parameters.clear();
            Action::Template { to, template }
        }
        Action::Campaign { to, mut template } => {
            template.parameters.clear();
            Action::Campaign { to, template }
        }
        other => other,
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

/// `POST /partner-webhook`: 360dialog's partner events, signed with
/// `x-360dialog-signature` (hex HMAC-SHA256 keyed with `WASIM_PARTNER_SECRET`).
/// A bad or missing signature is 401 (so is every post when no secret is
/// configured), a body that is not JSON 400; otherwise 200 at once, and the event
/// is acted on by the worker.
async fn receive_partner(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = app.config.partner_secret.as_deref() else {
        println!("refuse partner webhook: WASIM_PARTNER_SECRET is unset, cannot verify it");
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    };
    let header = headers
        .get(partner::SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    if let Err(error) = partner::verify_signature(secret, &body, header) {
        println!("refuse partner webhook: {}", error.reason());
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    match partner::parse_event(&body) {
        Err(error) => {
            println!("refuse partner webhook: {error}");
            (StatusCode::BAD_REQUEST, "body is not JSON").into_response()
        }
        Ok(event) => {
            if app.queue.push(Job::Partner(event)) {
                StatusCode::OK.into_response()
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "worker stopped").into_response()
            }
        }
    }
}

async fn action(State(app): State<App>, body: Bytes) -> Response {
    match Action::parse(&body).map(|action| drop_parameters(action, app.config.flaw)) {
        Err(error) => {
            println!("refuse action: {error}");
            (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
        }
        Ok(action) => {
            if matches!(action, Action::AccountCompromised { .. }) {
                // Halt before answering: no send starts after the notice was taken.
                lock(&app.shared).outbox.halt_at_once();
            }
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
    lock(&app.shared).reset(app.config.flaw);
    println!("reset: all state forgotten");
    Json(json!({"reset": true})).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
    use tower::ServiceExt;

    use super::*;
    use crate::testing::hmac_hex;
    use crate::worker::{Queued, Shared};

    fn config(flaw: Option<Flaw>) -> Arc<Config> {
        let mut env = crate::config::tests::full();
        env.insert("WASIM_GRAPH_URL", "http://127.0.0.1:1");
        env.insert("WASIM_APP_SECRET", "s3cret");
        let mut config = crate::config::tests::read(&env).expect("config");
        config.flaw = flaw;
        Arc::new(config)
    }

    /// The routes over `config`, the state they share with the worker, and the far
    /// end of the worker's queue.
    fn served(config: Arc<Config>) -> (Router, Arc<Mutex<Shared>>, UnboundedReceiver<Queued>) {
        let shared = Arc::new(Mutex::new(Shared::new(config.flaw)));
        let (sender, receiver) = unbounded_channel();
        let queue = Queue::new(shared.clone(), sender);
        (router(config, shared.clone(), queue), shared, receiver)
    }

    fn app(flaw: Option<Flaw>) -> (Router, UnboundedReceiver<Queued>) {
        let (router, _, jobs) = served(config(flaw));
        (router, jobs)
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
        format!("sha256={}", hmac_hex("s3cret", body.as_bytes()))
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

    fn sign_partner(body: &str) -> String {
        hmac_hex("partner-webhook-secret", body.as_bytes())
    }

    fn post_partner(body: &str, signature: Option<String>) -> Request<Body> {
        let mut request = Request::post("/partner-webhook");
        if let Some(signature) = signature {
            request = request.header(partner::SIGNATURE_HEADER, signature);
        }
        request.body(Body::from(body.to_owned())).expect("request")
    }

    const PARTNER_EVENT: &str = r#"{"id":"ev1","event":"template_messaging_disabled","data":{"id":"chan_1","waba_account":{"id":"waba_1"}}}"#;

    #[tokio::test]
    async fn a_signed_partner_webhook_is_queued_and_others_refused() {
        let (router, mut jobs) = app(None);
        for signature in [
            sign_partner(PARTNER_EVENT),
            format!("sha256={}", sign_partner(PARTNER_EVENT)),
        ] {
            let (status, _) = call(&router, post_partner(PARTNER_EVENT, Some(signature))).await;
            assert_eq!(status, StatusCode::OK);
            assert!(jobs.try_recv().is_ok());
        }
        for signature in [
            None,
            Some(sign_partner("{}")),
            Some("zz".to_owned()),
            Some(sign(PARTNER_EVENT)),
        ] {
            let (status, _) = call(&router, post_partner(PARTNER_EVENT, signature)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(jobs.try_recv().is_err(), "no side effect");
        }
        let (status, _) = call(
            &router,
            post_partner("not json", Some(sign_partner("not json"))),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(jobs.try_recv().is_err());
        // Lenient: JSON without data is taken.
        let body = r#"{"event":"account_violation"}"#;
        let (status, _) = call(&router, post_partner(body, Some(sign_partner(body)))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(jobs.try_recv().is_ok());
    }

    #[tokio::test]
    async fn without_a_partner_secret_every_partner_webhook_is_refused() {
        let mut config = (*config(None)).clone();
        config.partner_secret = None;
        let (routes, _, mut jobs) = served(Arc::new(config));
        let (status, _) = call(
            &routes,
            post_partner(PARTNER_EVENT, Some(sign_partner(PARTNER_EVENT))),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(jobs.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_compromise_notice_halts_sends_before_it_is_answered() {
        let (routes, shared, _jobs) = served(config(None));
        assert!(!lock(&shared).outbox.halted());
        let body = r#"{"action":"account_compromised","phone_number_id":"110","channel_id":"chan_1","resume_after_s":3600}"#;
        let (status, _) = call(&routes, post("/wasim/actions", body, None)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(lock(&shared).outbox.halted());
        // A malformed notice halts nothing.
        let (routes, shared, _jobs) = served(config(None));
        let body = r#"{"action":"account_compromised","resume_after_s":"soon"}"#;
        let (status, answer) = call(&routes, post("/wasim/actions", body, None)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer.contains("resume_after_s"), "{answer}");
        assert!(!lock(&shared).outbox.halted());
    }

    #[tokio::test]
    async fn the_new_actions_are_accepted_and_tick_always_is() {
        let (router, mut jobs) = app(None);
        for body in [
            r#"{"action":"tick"}"#,
            r#"{"action":"tick","timestamp":"1717405200"}"#,
            r#"{"action":"rotate_key","channel_id":"chan_1","timestamp":"1717405200"}"#,
            r#"{"action":"register","phone_number_id":"110","pin":"123456"}"#,
            r#"{"action":"set_d360_api_key","api_key":"k2"}"#,
        ] {
            let (status, _) = call(&router, post("/wasim/actions", body, None)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(jobs.try_recv().is_ok());
        }
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
