//! The harness's own control API under `/_wasim/`.
//!
//! It is privileged (it redirects webhooks, resets the world and shows every
//! credential), so every control request, whatever its path or method, passes
//! [`guard`] first:
//! 1. with a control token configured (required off loopback), the request carries
//!    it in `X-Wasim-Control-Token`;
//! 2. without one (a loopback server), `Host` names a loopback host: a web page
//!    whose own name was rebound to 127.0.0.1 (DNS rebinding) is refused;
//! 3. no `Origin` but a loopback one: browsers send `Origin` with every cross-site
//!    POST, so a page cannot drive the API (CSRF);
//! 4. a `POST` is `application/json`, or the form type `curl -d` sends when no
//!    `Origin` says a browser sent it.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::error::ControlError;
use super::extract::{self, AnyJsonBody};
use crate::model::fields;
use crate::model::spec::ApiKind;
use crate::model::{
    Command, InboundContent, MAGIC_RECIPIENTS, PhoneNumberId, Reply, TRANSIENT_RECIPIENTS, WaId,
    Wamid, World,
};
use crate::state::AppState;
use crate::trace::TraceEvent;

/// The header carrying the control token.
pub const CONTROL_TOKEN_HEADER: &str = "X-Wasim-Control-Token";

/// Every control path, as listed on unknown paths.
pub const PATHS: &[&str] = &[
    "GET /_wasim/health",
    "GET /_wasim/world",
    "GET /_wasim/clock",
    "POST /_wasim/clock/advance {\"seconds\": N}",
    "POST /_wasim/inbound {\"from\": wa_id, \"text\": \"...\"} (or button_reply, list_reply, button, image, document, audio, video, sticker, location, contacts, reaction; optional context, phone_number_id)",
    "POST /_wasim/ecosystem/marketing {\"to\": wa_id, \"count\": N}",
    "GET /_wasim/trace",
    "GET /_wasim/webhooks",
    "POST /_wasim/webhooks/config {\"callback_url\", \"partner_url\", \"batch_max\"}",
    "POST /_wasim/webhooks/verify",
    "POST /_wasim/webhooks/faults {\"duplicate\": \"1/10\", ...}",
    "POST /_wasim/webhooks/heal",
    "POST /_wasim/events {\"event\": \"template.status_update\"}",
    "POST /_wasim/templates/{name} {\"quality\": \"RED\"} | {\"negative\": \"1/2\"} | {\"decide\": \"release\"} | {\"pause\": true} | {\"unpause\": true}",
    "GET /_wasim/account",
    "POST /_wasim/account {\"incident\": \"disable_templates\"} (or enable_templates, violation, restrict, terminate, reinstate, compromise, tier, invite_partner_user, remove_partner_user)",
    "POST /_wasim/reset",
];

/// Most seconds one `clock/advance` may move (one year).
pub const ADVANCE_SECONDS_MAX: f64 = 365.0 * 24.0 * 3600.0;

/// The control routes.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/_wasim/health", get(health))
        .route("/_wasim/world", get(world))
        .route("/_wasim/clock", get(clock))
        .route("/_wasim/clock/advance", post(advance))
        .route("/_wasim/inbound", post(inbound))
        .route("/_wasim/ecosystem/marketing", post(ecosystem_marketing))
        .route("/_wasim/trace", get(trace))
        .route("/_wasim/reset", post(reset))
        .route("/_wasim/webhooks", get(super::webhooks::status))
        .route("/_wasim/webhooks/config", post(super::webhooks::config))
        .route("/_wasim/webhooks/verify", post(super::webhooks::verify))
        .route("/_wasim/webhooks/faults", post(super::webhooks::faults))
        .route("/_wasim/webhooks/heal", post(super::webhooks::heal))
        .route("/_wasim/events", post(super::webhooks::event))
        .route("/_wasim/templates/{name}", post(super::templates::control))
        .route("/_wasim/account", get(account).post(incident))
        .route_layer(middleware::from_fn_with_state(state, require_guard))
        .method_not_allowed_fallback(wrong_method)
}

/// The answer for an unknown control path.
pub fn unknown(path: &str) -> ControlError {
    ControlError {
        status: StatusCode::NOT_FOUND,
        message: format!("unknown control path {path}"),
        valid_paths: Some(PATHS),
    }
}

async fn wrong_method(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(refused) = guard(&state, request.method(), request.headers()) {
        return refused;
    }
    ControlError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
        valid_paths: Some(PATHS),
    }
    .into_response()
}

async fn require_guard(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = guard(&state, request.method(), request.headers()) {
        return refused;
    }
    next.run(request).await
}

/// Shortest control token accepted (characters): a token is the only protection of
/// a control API served beyond loopback.
pub const CONTROL_TOKEN_CHARS_MIN: usize = 16;

/// The answer refusing a control request, if it must be refused (see the module
/// docs for the rules).
pub(crate) fn guard(state: &AppState, method: &Method, headers: &HeaderMap) -> Option<Response> {
    let refuse = |status: StatusCode, message: String| {
        Some(
            ControlError {
                status,
                message,
                valid_paths: None,
            }
            .into_response(),
        )
    };
    match state.control_token() {
        Some(expected) => {
            let presented = extract::header(headers, CONTROL_TOKEN_HEADER).unwrap_or_default();
            // Digests compared, so the time taken says nothing of the token.
            if Sha256::digest(presented.as_bytes()) != Sha256::digest(expected.as_bytes()) {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "missing or wrong {CONTROL_TOKEN_HEADER}: pass the token given to --control-token"
                    ),
                );
            }
        }
        None => {
            // A request with no `Host` at all is not a browser's (HTTP/1.1 requires
            // it and browsers always send it): in-process callers leave it out.
            let host = extract::header(headers, header::HOST.as_str());
            if let Some(host) = host.filter(|host| !is_loopback_host(host)) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "the control API answers only requests to a loopback host (Host was `{host}`): call it as 127.0.0.1 or localhost, or serve it with --control-token"
                    ),
                );
            }
        }
    }
    let origin = extract::header(headers, header::ORIGIN.as_str());
    if let Some(origin) = &origin {
        let host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if !is_loopback_host(host) {
            return refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "the control API refuses requests a web page makes (Origin `{origin}`): call it from a script or curl"
                ),
            );
        }
    }
    if *method == Method::POST {
        let content_type = extract::header(headers, header::CONTENT_TYPE.as_str());
        let essence = content_type
            .as_deref()
            .and_then(|text| text.split(';').next())
            .map(|e| e.trim().to_ascii_lowercase());
        let json = essence
            .as_deref()
            .is_some_and(|e| e == "application/json" || e.ends_with("+json"));
        let curl_default = origin.is_none()
            && essence
                .as_deref()
                .is_none_or(|e| e == "application/x-www-form-urlencoded");
        if !json && !curl_default {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "a control POST must be JSON: send -H 'Content-Type: application/json' (got `{}`)",
                    content_type.unwrap_or_default()
                ),
            );
        }
    }
    None
}

/// Whether `host` (a `Host` header or an origin's authority: name or address, and
/// an optional port) is this machine's loopback: `localhost` (and `*.localhost`,
/// which resolve nowhere else), 127.0.0.0/8 or `[::1]`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn world(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.read(|sim| world_json(&sim.world)))
}

/// The ids and credentials of the world, for `GET /_wasim/world`.
fn world_json(world: &World) -> Value {
    let phone_numbers: Vec<Value> = world
        .phone_numbers()
        .iter()
        .map(|p| {
            json!({
                "id": p.spec.id,
                "display_phone_number": p.spec.display_phone_number,
                "country": p.spec.country,
                "api": match p.spec.api { ApiKind::Cloud => "cloud", ApiKind::OnPremises => "on_premises" },
                "channel_id": p.spec.channel_id,
                "d360_api_key": p.spec.d360_api_key,
                "registered": p.spec.registered,
                "quality_rating": p.spec.quality,
                "throughput_mps": world.policy().throughput_mps,
            })
        })
        .collect();
    let templates: Vec<Value> = world
        .templates()
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "language": t.language, "category": t.category,
                "status": t.status, "quality": t.quality,
                "body_parameters": t.components.body_parameters(), "header_parameters": t.components.header_parameters(),
                "parameter_format": t.components.parameter_format.name(), "components": t.components.to_json(),
            })
        })
        .collect();
    let named: Vec<&str> = world
        .spec()
        .recipients
        .named
        .iter()
        .map(|n| n.wa_id.as_str())
        .collect();
    let sample: Vec<Value> = named
        .iter()
        .filter_map(|wa_id| world.recipient(wa_id))
        .chain(
            world
                .recipients()
                .filter(|r| !named.contains(&r.wa_id().as_str()))
                .take(20),
        )
        .map(|r| json!({"wa_id": r.wa_id(), "country": r.country(), "name": r.name(), "opted_out": r.opted_out()}))
        .collect();
    let magic: Vec<Value> = MAGIC_RECIPIENTS
        .iter()
        .chain(TRANSIENT_RECIPIENTS)
        .map(|(wa_id, outcome)| json!({"wa_id": wa_id, "outcome": outcome}))
        .collect();
    json!({
        "seed": world.seed(),
        "policy": world.policy(),
        "epoch_unix_s": world.spec().epoch_unix_s,
        "access_token": world.spec().access_token,
        "app_secret": world.spec().app_secret,
        "verify_token": world.spec().verify_token,
        "partner_id": world.spec().partner.id,
        "partner_username": world.spec().partner.username,
        "partner_password": world.spec().partner.password,
        "partner_api_key": world.spec().partner.api_key,
        "partner_webhook_secret": world.spec().partner.webhook_secret,
        "client_id": world.spec().client.id,
        "wabas": [{
            "id": world.spec().waba.id,
            "messaging_limit": world.spec().waba.messaging_limit,
            "phone_numbers": phone_numbers,
            "templates": templates,
        }],
        "recipients_total": world.recipients_total(),
        "recipients": sample,
        "magic_recipients": magic,
    })
}

async fn clock(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"now_ms": state.now().as_ms(), "mode": state.clock_mode().to_string()}))
}

/// Applies `command` and answers once the webhooks it caused have been attempted:
/// what a control call makes happen has happened when it answers.
pub(crate) async fn apply(state: &AppState, command: Command) -> Result<Reply, ControlError> {
    let reply = state.apply(command);
    state.flush_webhooks().await;
    reply.map_err(ControlError::from)
}

/// The body as a JSON object, or the 400 to answer.
pub(crate) fn read_object(body: AnyJsonBody) -> Result<Map<String, Value>, ControlError> {
    match body.0 {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ControlError::bad_request("the body must be a JSON object")),
        Err(error) => Err(ControlError {
            status: StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            message: error.details(),
            valid_paths: None,
        }),
    }
}

/// A field error as the control API answers it.
fn bad_field(error: fields::FieldError) -> ControlError {
    ControlError::bad_request(error.to_string())
}

async fn advance(
    State(state): State<Arc<AppState>>,
    body: AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    let seconds = object
        .get("seconds")
        .and_then(Value::as_f64)
        .ok_or_else(|| {
            ControlError::bad_request("seconds: expected a number, e.g. {\"seconds\": 60}")
        })?;
    if !(0.0..=ADVANCE_SECONDS_MAX).contains(&seconds) {
        return Err(ControlError::bad_request(format!(
            "seconds: expected 0 to {ADVANCE_SECONDS_MAX}, got {seconds}"
        )));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "bounded and non-negative above"
    )]
    let ms = (seconds * 1000.0).round() as u64;
    let now = state
        .advance_by(ms)
        .await
        .map_err(|e| ControlError::bad_request(e.to_string()))?;
    Ok(Json(json!({"now_ms": now.as_ms()})))
}

/// The success answer of a control call.
pub(crate) fn control_json(reply: Reply) -> Json<Value> {
    Json(match reply {
        Reply::InboundReceived { message_id } => json!({"id": message_id}),
        Reply::Message(done) => json!({"success": true, "done": done}),
        _ => json!({"success": true}),
    })
}

async fn inbound(
    State(state): State<Arc<AppState>>,
    body: AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    let command = Command::Inbound {
        from: WaId::from(fields::string(&object, "from").map_err(bad_field)?),
        content: InboundContent::from_json(&object).map_err(bad_field)?,
        phone_number_id: fields::optional_string(&object, "phone_number_id")
            .map_err(bad_field)?
            .map(PhoneNumberId::from),
        context: fields::optional_string(&object, "context")
            .map_err(bad_field)?
            .map(Wamid::from),
    };
    // The inbound webhook is part of this call: answer once it has been attempted.
    apply(&state, command).await.map(control_json)
}

async fn ecosystem_marketing(
    State(state): State<Arc<AppState>>,
    body: AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    let to = WaId::from(fields::string(&object, "to").map_err(bad_field)?);
    let count = fields::optional_whole(&object, "count", 0..=u64::from(u32::MAX))
        .map_err(bad_field)?
        .map_or(1, |count| u32::try_from(count).unwrap_or(u32::MAX));
    apply(&state, Command::EcosystemMarketing { to, count })
        .await
        .map(control_json)
}

/// `GET /_wasim/account`: the account's standing (the Partner API's compliance view).
async fn account(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.read(|sim| sim.world.compliance()))
}

/// `POST /_wasim/account` `{"incident": "disable_templates", ...}`: plays an incident.
async fn incident(
    State(state): State<Arc<AppState>>,
    body: AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    let incident = crate::model::Incident::from_json(&Value::Object(object)).map_err(bad_field)?;
    apply(&state, Command::Incident(incident))
        .await
        .map(control_json)
}

/// Records serialized per hold of the world's lock while a trace is streamed.
const TRACE_SLICE: usize = 1024;

/// `GET /_wasim/trace[?since=SEQ][&limit=N]`: the records in memory from `since`
/// (default the oldest kept), at most `limit` of them (default all), as JSON Lines,
/// streamed a slice at a time so the world's lock is never held for the whole body
/// and the body is never built whole. `X-Wasim-Trace-First` is the oldest `seq` in
/// memory (older ones went: `--trace FILE` keeps them); `X-Wasim-Trace-Next` is the
/// `since` of the next page.
async fn trace(
    State(state): State<Arc<AppState>>,
    query: Result<Query<TraceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ControlError> {
    let Query(query) = query.map_err(|rejection| {
        ControlError::bad_request(format!(
            "{}: pass ?since=SEQ&limit=N (both optional)",
            rejection.body_text()
        ))
    })?;
    let (first, len) = state.read(|sim| (sim.trace.first_seq(), sim.trace.len()));
    let from = query.since.unwrap_or(0).max(first as u64);
    let end = match query.limit {
        Some(limit) => from.saturating_add(limit).min(len as u64),
        None => len as u64,
    };
    let slices = futures_util::stream::unfold(from, move |cursor| {
        let state = state.clone();
        async move {
            if cursor >= end {
                return None;
            }
            let (text, next) = state.read(|sim| {
                let mut text = String::new();
                let mut next = cursor;
                let wanted = usize::try_from(end - cursor)
                    .unwrap_or(usize::MAX)
                    .min(TRACE_SLICE);
                for record in sim
                    .trace
                    .since(usize::try_from(cursor).unwrap_or(usize::MAX))
                    .take(wanted)
                {
                    text.push_str(&record.to_json_line());
                    next = record.seq + 1;
                }
                // Records dropped meanwhile: nothing more from here.
                (text, if next == cursor { end } else { next })
            });
            Some((Ok::<_, std::convert::Infallible>(text), next))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                HeaderName::from_static("x-wasim-trace-first"),
                first.to_string(),
            ),
            (
                HeaderName::from_static("x-wasim-trace-next"),
                end.to_string(),
            ),
        ],
        axum::body::Body::from_stream(slices),
    )
        .into_response())
}

/// The query of `GET /_wasim/trace`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceQuery {
    since: Option<u64>,
    limit: Option<u64>,
}

async fn reset(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ControlError> {
    state.flush_webhooks().await;
    state
        .reset()
        .map_err(|e| ControlError::bad_request(e.to_string()))?;
    state.with_sim(|sim, _| {
        sim.record(TraceEvent::Request {
            surface: "control",
            method: "POST".to_owned(),
            path: "/_wasim/reset".to_owned(),
            credential: None,
            http_status: 200,
            error_code: None,
        })
    });
    Ok(Json(json!({"success": true})))
}
