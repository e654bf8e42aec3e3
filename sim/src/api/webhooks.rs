//! The control API's webhook paths: where webhooks go, the verification handshake,
//! fault profiles, and emitting catalog events through the delivery pipeline.
//!
//! - `GET /_wasim/webhooks`: endpoints (URLs redacted), batching, the fault profile
//!   in force, counters (`lost` = dropped + skipped + overflowed) and what is pending.
//! - `POST /_wasim/webhooks/config` `{callback_url?, partner_url?, batch_max?}`:
//!   setting `callback_url` performs the verification handshake, as Meta does.
//! - `POST /_wasim/webhooks/verify`: the handshake, now.
//! - `POST /_wasim/webhooks/faults` `{duplicate?, reorder?, ...}`: a fault profile
//!   from now (`{}` means clean); `POST /_wasim/webhooks/heal` ends the fault phase.
//! - `POST /_wasim/events` `{"event": NAME}`: one `wasim trigger` event, delivered
//!   like any other webhook (signed, retried, faulted).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::control::{apply, control_json, read_object};
use super::error::ControlError;
use super::extract::AnyJsonBody;
use crate::model::fields;
use crate::model::numbers::HandshakeReport;
use crate::model::secret::redact_url;
use crate::model::webhooks::samples::{self, Audience};
use crate::model::{Command, FaultProfile, Route};
use crate::state::AppState;

pub(crate) async fn status(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.read(|sim| {
        let world = &sim.world;
        let endpoints = world.webhook_endpoints();
        let d360_channel: serde_json::Map<String, Value> = endpoints
            .d360_channel
            .iter()
            .map(|(phone, webhook)| {
                (
                    phone.clone(),
                    json!({"url": redact_url(&webhook.url), "headers": webhook.header_fingerprints()}),
                )
            })
            .collect();
        let stats = world.webhook_stats();
        let mut counters = serde_json::to_value(stats).unwrap_or_else(|_| json!({}));
        counters["lost"] = json!(stats.lost());
        json!({
            "callback_url": endpoints.callback_url.as_deref().map(redact_url),
            "partner_url": endpoints.partner_url.as_deref().map(redact_url),
            "d360_channel_webhooks": d360_channel,
            "d360_waba_webhook": endpoints.d360_waba.as_ref().map(|w| json!({"url": redact_url(&w.url), "headers": w.header_fingerprints()})),
            "waba_subscription": {
                "subscribed": endpoints.subscription.subscribed,
                "override_callback_uri": endpoints.subscription.override_callback_uri.as_deref().map(redact_url),
            },
            "batch_max": world.webhook_batching().0,
            "batch_window_ms": world.webhook_batching().1,
            "batching": world.webhooks_batching(),
            "faults": world.webhook_faults().map(FaultProfile::to_json),
            "pending": world.webhooks_pending(),
            "held": world.webhooks_held(),
            "counters": counters,
        })
    }))
}

fn url_setting(value: Option<&Value>, name: &str) -> Result<Option<Option<String>>, ControlError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Some(Some(url.clone())))
        }
        Some(other) => Err(ControlError::bad_request(format!(
            "{name}: expected an http:// or https:// URL (or null to clear), got {other}"
        ))),
    }
}

fn handshake_json(outcome: &HandshakeReport) -> Value {
    json!({
        "echoed": outcome.echoed,
        "http_status": outcome.http_status,
        "latency_ms": outcome.latency_ms,
        "error": outcome.error,
    })
}

pub(crate) async fn config(
    State(state): State<Arc<AppState>>,
    body: AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    for key in object.keys() {
        if ![
            "callback_url",
            "partner_url",
            "batch_max",
            "batch_window_ms",
        ]
        .contains(&key.as_str())
        {
            return Err(ControlError::bad_request(format!(
                "unknown field `{key}`, expected callback_url, partner_url, batch_max or batch_window_ms"
            )));
        }
    }
    let callback_url = url_setting(object.get("callback_url"), "callback_url")?;
    let partner_url = url_setting(object.get("partner_url"), "partner_url")?;
    let whole = |name: &str| -> Result<Option<u64>, ControlError> {
        object
            .get(name)
            .map(|value| {
                value.as_u64().ok_or_else(|| {
                    ControlError::bad_request(format!(
                        "{name}: expected a whole number, got {value}"
                    ))
                })
            })
            .transpose()
    };
    let (current_max, current_window) = state.read(|sim| sim.world.webhook_batching());
    let batch = match (whole("batch_max")?, whole("batch_window_ms")?) {
        (None, None) => None,
        (max, window) => Some((
            max.map_or(current_max, |m| u32::try_from(m).unwrap_or(u32::MAX)),
            window.unwrap_or(current_window),
        )),
    };
    let verify = matches!(callback_url, Some(Some(_)));
    state.flush_webhooks().await;
    apply(
        &state,
        Command::ConfigureWebhooks {
            callback_url,
            partner_url,
            batch,
        },
    )
    .await?;
    let mut answer = json!({"success": true});
    if verify {
        let outcome = state.verify_webhook().await.map_err(ControlError::from)?;
        answer["verification"] = handshake_json(&outcome);
    }
    Ok(Json(answer))
}

pub(crate) async fn verify(
    State(state): State<Arc<AppState>>,
) -> Result<Json<Value>, ControlError> {
    let outcome = state.verify_webhook().await.map_err(ControlError::from)?;
    Ok(Json(handshake_json(&outcome)))
}

pub(crate) async fn faults(
    State(state): State<Arc<AppState>>,
    body: AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    let profile = FaultProfile::from_json("faults", &Value::Object(object))
        .map_err(|e| ControlError::bad_request(e.to_string()))?;
    let shown = profile.to_json();
    apply(
        &state,
        Command::SetWebhookFaults {
            profile: Some(profile),
        },
    )
    .await?;
    Ok(Json(json!({"success": true, "faults": shown})))
}

pub(crate) async fn heal(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ControlError> {
    apply(&state, Command::SetWebhookFaults { profile: None })
        .await
        .map(control_json)
}

pub(crate) async fn event(
    State(state): State<Arc<AppState>>,
    body: AnyJsonBody,
) -> Result<Json<Value>, ControlError> {
    let object = read_object(body)?;
    let name =
        fields::string(&object, "event").map_err(|e| ControlError::bad_request(e.to_string()))?;
    let sample = state
        .read(|sim| samples::sample(&name, sim.world.spec()))
        .map_err(|e| ControlError::bad_request(e.to_string()))?;
    let route = match sample.audience {
        Audience::Partner => Route::Partner,
        Audience::Meta => match sample
            .body
            .pointer("/entry/0/changes/0/value/metadata/phone_number_id")
            .and_then(Value::as_str)
        {
            Some(phone) => Route::Number(phone.to_owned()),
            None => Route::Waba,
        },
    };
    let (name, field, body) = (sample.name, sample.field.to_owned(), sample.body);
    apply(&state, Command::EmitEvent { route, field, body }).await?;
    Ok(Json(json!({"success": true, "event": name})))
}
