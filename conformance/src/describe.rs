//! Trace records in words: one line each, and the timeline lane each belongs to.
//! Used for proofs and the reports' timelines. Never shows a secret: the trace
//! holds only fingerprints.

use serde_json::Value;
use wasim_reports::{Lane, Tone};
use wasim_sim::TraceEvent;

/// The record's kind as written in the trace (`message_accepted`).
pub fn kind(event: &TraceEvent) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// One line on what happened.
pub fn summarize(event: &TraceEvent) -> String {
    match event {
        TraceEvent::WorldBuilt { seed, profile, .. } => {
            format!("world built (seed {seed}, policy {profile})")
        }
        TraceEvent::WorldReset => "world reset".to_owned(),
        TraceEvent::Request {
            surface,
            method,
            path,
            http_status,
            error_code,
            credential,
        } => {
            let code = error_code
                .map(|c| format!(" error {c}"))
                .unwrap_or_default();
            let credential = credential
                .as_deref()
                .map(|c| format!(" with {c}"))
                .unwrap_or_default();
            format!("{surface} {method} {path}{credential} → {http_status}{code}")
        }
        TraceEvent::MessageAccepted {
            message_id,
            surface,
            to,
            message_type,
            template,
            category,
            media,
            ..
        } => match (template, media) {
            (Some(template), _) => format!(
                "{} template {template} to {to} accepted as {message_id}{}",
                category.to_lowercase(),
                endpoint(surface)
            ),
            (None, Some(media)) => {
                format!("{message_type} ({media}) to {to} accepted as {message_id}")
            }
            (None, None) => format!("{message_type} to {to} accepted as {message_id}"),
        },
        TraceEvent::MessageRejected {
            surface,
            to,
            code,
            title,
            template,
            ..
        } => format!(
            "{}{} rejected: {code} {title}",
            send(template.as_deref(), to.as_deref()),
            endpoint(surface)
        ),
        TraceEvent::MessageHeld {
            message_id,
            template,
            held,
        } => format!("{message_id} ({template}) held for quality assessment ({held} held)"),
        TraceEvent::PacingDecided {
            template,
            outcome,
            held,
            sent,
        } => format!("pacing of {template} decided: {outcome} ({sent} sent, {held} held)"),
        TraceEvent::TemplateQuality {
            template,
            previous,
            quality,
        } => format!("template {template} quality {previous} → {quality}"),
        TraceEvent::TemplateStatus {
            template,
            event,
            detail,
        } => format!("template {template} {event}: {detail}"),
        TraceEvent::MarketingCounted {
            to,
            window_count,
            cap,
            ..
        } => format!("marketing to {to} counted ({window_count} of {cap} in the window)"),
        TraceEvent::RecipientBlocked { to, until_ms } => {
            format!("{to} blocked for marketing until +{}", clock(*until_ms))
        }
        TraceEvent::Status {
            message_id,
            to,
            status,
            error_code,
        } => match error_code {
            Some(code) => format!("{message_id} to {to}: {status} ({code})"),
            None => format!("{message_id} to {to}: {status}"),
        },
        TraceEvent::WebhookEmitted {
            delivery_id,
            field,
            changes,
            ..
        } => format!("webhook {delivery_id} emitted ({field}, {changes} change(s))"),
        TraceEvent::WebhookAttempt {
            delivery_id,
            attempt,
            copy,
            http_status,
            error,
            ..
        } => {
            let answer = match (http_status, error) {
                (Some(status), _) => format!("answered {status}"),
                (None, Some(error)) => format!("failed: {error}"),
                (None, None) => "no answer".to_owned(),
            };
            let copy = if *copy == "original" {
                String::new()
            } else {
                format!(" ({copy} copy)")
            };
            format!("webhook {delivery_id} attempt {attempt}{copy} {answer}")
        }
        TraceEvent::WebhookRetryScheduled {
            delivery_id,
            attempt,
            due_ms,
        } => format!(
            "webhook {delivery_id} attempt {attempt} scheduled at +{}",
            clock(*due_ms)
        ),
        TraceEvent::WebhookDropped {
            delivery_id,
            attempts,
            reason,
        } => format!("webhook {delivery_id} dropped after {attempts} attempt(s): {reason}"),
        TraceEvent::WebhookFault {
            delivery_id,
            fault,
            detail,
        } => format!("webhook {delivery_id} {fault}: {detail}"),
        TraceEvent::WebhookFaultsSet { .. } => "webhook fault phase began".to_owned(),
        TraceEvent::WebhookHealed { released } => {
            format!("webhook delivery healed ({released} held posted)")
        }
        TraceEvent::WebhookVerification {
            echoed,
            http_status,
            error,
            ..
        } => match (echoed, http_status) {
            (true, _) => "verification handshake: challenge echoed".to_owned(),
            (false, Some(status)) => format!(
                "verification handshake failed: answered {status}{}",
                error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
            (false, None) => format!(
                "verification handshake failed: {}",
                error.as_deref().unwrap_or("no answer")
            ),
        },
        TraceEvent::WebhookConfigured { scope, url, .. } => format!(
            "{scope} webhook set to {}",
            url.as_deref().unwrap_or("nothing")
        ),
        TraceEvent::WebhookSkipped {
            delivery_id,
            reason,
        } => format!("webhook {delivery_id} not sent: {reason}"),
        TraceEvent::Inbound {
            message_id,
            from,
            message_type,
            ..
        } => format!("{from} wrote ({message_type}) {message_id}"),
        TraceEvent::MessageMarkedRead {
            message_id,
            from,
            after_ms,
            typing,
            ..
        } => format!(
            "{message_id} from {from} marked read after {}{}",
            clock(*after_ms),
            if *typing { ", typing shown" } else { "" }
        ),
        TraceEvent::MediaDownloaded {
            media_id,
            url_expires_s,
            outcome,
        } => format!("media {media_id}'s URL (expiring at unix {url_expires_s}): {outcome}"),
        TraceEvent::EcosystemMarketing { to, count } => {
            format!("other businesses sent {count} marketing message(s) to {to}")
        }
        TraceEvent::AccessTokenRotated { old, new } => {
            format!("access token reset: {old} refused from now, {new} valid")
        }
        TraceEvent::PhoneRegistration {
            phone_number_id,
            action,
            error_code,
        } => match error_code {
            Some(code) => format!("{action} of {phone_number_id} refused: {code}"),
            None => format!("{action} of {phone_number_id} done"),
        },
        TraceEvent::PartnerTokenIssued { token, .. } => {
            format!("partner token {token} issued")
        }
        TraceEvent::ApiKeyReplaced {
            channel_id,
            old,
            new,
        } => format!("channel {channel_id} key replaced: {old} refused from now, {new} valid"),
        TraceEvent::CredentialHandedOver { credential } => {
            format!("the integration was given access token {credential}")
        }
        TraceEvent::ScenarioStep { index, text } => format!("step {index}: {text}"),
        TraceEvent::IntegrationState {
            message_id,
            status,
            http_status,
        } => match (status, http_status) {
            (Some(status), _) => format!("the integration reports {message_id} as {status}"),
            (None, Some(code)) => format!("the integration answered {code} for {message_id}"),
            (None, None) => format!("the integration did not answer for {message_id}"),
        },
        TraceEvent::DriverAction { action, body } => {
            let to = match body.get("to") {
                Some(serde_json::Value::Array(list)) => format!(" to {} recipient(s)", list.len()),
                Some(serde_json::Value::String(to)) => format!(" to {to}"),
                _ => String::new(),
            };
            format!("driver action {action}{to}")
        }
        TraceEvent::SendBlocked {
            message_type,
            to,
            http_status,
            ..
        } => format!(
            "{message_type} to {} blocked by 360dialog → {http_status} (template messaging disabled)",
            to.as_deref().unwrap_or("?")
        ),
        TraceEvent::AccountIncident {
            incident, detail, ..
        } => format!("account incident {incident}: {detail}"),
        TraceEvent::UnknownOriginSend {
            credential,
            to,
            http_status,
            ..
        } => format!("an unknown origin sent to {to} with key {credential} → {http_status}"),
        TraceEvent::ClockAdvanced { from_ms, to_ms } => format!(
            "clock advanced from +{} to +{}",
            clock(*from_ms),
            clock(*to_ms)
        ),
    }
}

/// A send in words: `send of spring_sale to 5511987654321`, or `send to ?` when
/// neither the template nor the recipient is known.
pub fn send(template: Option<&str>, to: Option<&str>) -> String {
    let template = template.map(|t| format!(" of {t}")).unwrap_or_default();
    format!("send{template} to {}", to.unwrap_or("?"))
}

/// The endpoint a send went through, in words, when it is not `/messages`: the
/// trace's surface `graph_marketing_messages` is the Marketing Messages API.
fn endpoint(surface: &str) -> &'static str {
    if surface.ends_with("_marketing_messages") {
        " through /marketing_messages"
    } else {
        ""
    }
}

/// The timeline lane a record belongs to, if it belongs on the timeline.
pub fn lane(event: &TraceEvent) -> Option<Lane> {
    match event {
        TraceEvent::ScenarioStep { .. }
        | TraceEvent::CredentialHandedOver { .. }
        | TraceEvent::Inbound { .. }
        | TraceEvent::EcosystemMarketing { .. } => Some(Lane::Step),
        TraceEvent::MessageAccepted { .. }
        | TraceEvent::MessageMarkedRead { .. }
        | TraceEvent::MediaDownloaded { .. }
        | TraceEvent::MessageRejected { .. }
        | TraceEvent::MessageHeld { .. }
        | TraceEvent::TemplateQuality { .. } => Some(Lane::Message),
        TraceEvent::Status { .. } => Some(Lane::Status),
        TraceEvent::WebhookAttempt { .. }
        | TraceEvent::WebhookVerification { .. }
        | TraceEvent::WebhookDropped { .. }
        | TraceEvent::WebhookSkipped { .. }
        | TraceEvent::WebhookFault { .. }
        | TraceEvent::WebhookFaultsSet { .. }
        | TraceEvent::WebhookHealed { .. } => Some(Lane::Webhook),
        TraceEvent::RecipientBlocked { .. }
        | TraceEvent::AccessTokenRotated { .. }
        | TraceEvent::ApiKeyReplaced { .. }
        | TraceEvent::SendBlocked { .. }
        | TraceEvent::AccountIncident { .. }
        | TraceEvent::UnknownOriginSend { .. }
        | TraceEvent::PacingDecided { .. }
        | TraceEvent::TemplateStatus { .. } => Some(Lane::Incident),
        TraceEvent::Request { http_status, .. } if *http_status == 401 => Some(Lane::Incident),
        _ => None,
    }
}

/// How a timeline record reads: what the scenario injected on purpose (webhook
/// faults and fault phases, forged copies, incidents it plays), what went wrong
/// (a refused send, a failed status, an unanswered webhook, a refused
/// credential), or routine.
pub fn tone(event: &TraceEvent) -> Tone {
    match event {
        TraceEvent::WebhookFault { .. }
        | TraceEvent::WebhookFaultsSet { .. }
        | TraceEvent::WebhookHealed { .. }
        | TraceEvent::AccessTokenRotated { .. }
        | TraceEvent::AccountIncident { .. }
        | TraceEvent::UnknownOriginSend { .. } => Tone::Injected,
        TraceEvent::WebhookAttempt {
            copy, http_status, ..
        } => {
            if *copy == "forged" {
                // A refused forgery is the receiver doing its job.
                if http_status.is_some_and(|s| (200..300).contains(&s)) {
                    Tone::Problem
                } else {
                    Tone::Injected
                }
            } else if http_status.is_some_and(|s| (200..300).contains(&s)) {
                Tone::Normal
            } else {
                Tone::Problem
            }
        }
        TraceEvent::WebhookVerification { echoed, .. } => {
            if *echoed {
                Tone::Normal
            } else {
                Tone::Problem
            }
        }
        TraceEvent::Status { error_code, .. } => {
            if error_code.is_some() {
                Tone::Problem
            } else {
                Tone::Normal
            }
        }
        TraceEvent::MessageRejected { .. }
        | TraceEvent::RecipientBlocked { .. }
        | TraceEvent::SendBlocked { .. }
        | TraceEvent::WebhookDropped { .. }
        | TraceEvent::WebhookSkipped { .. } => Tone::Problem,
        TraceEvent::Request { http_status, .. } if *http_status == 401 => Tone::Problem,
        _ => Tone::Normal,
    }
}

/// What a webhook body carries, in a few words: `statuses sent (wamid.X)`,
/// `message text from 5511987654321`, `message_template_status_update PAUSED
/// spring_sale`, `partner template_messaging_disabled`.
pub fn carried(field: &str, body: &Value) -> String {
    const LISTED_MAX: usize = 3;
    if let Some(event) = body["event"].as_str() {
        return format!("partner {event}");
    }
    let mut parts: Vec<String> = Vec::new();
    let mut more = 0usize;
    let changes = body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| entry["changes"].as_array().into_iter().flatten());
    for change in changes {
        let value = &change["value"];
        let field = change["field"].as_str().unwrap_or(field);
        let mut items: Vec<String> = Vec::new();
        for status in value["statuses"].as_array().into_iter().flatten() {
            items.push(format!(
                "status {} ({})",
                status["status"].as_str().unwrap_or("?"),
                status["id"].as_str().unwrap_or("?")
            ));
        }
        for message in value["messages"].as_array().into_iter().flatten() {
            items.push(format!(
                "message {} from {}",
                message["type"].as_str().unwrap_or("?"),
                message["from"].as_str().unwrap_or("?")
            ));
        }
        for error in value["errors"].as_array().into_iter().flatten() {
            items.push(format!("error {}", error["code"]));
        }
        if items.is_empty() {
            let event = value["event"].as_str().unwrap_or_default();
            let template = value["message_template_name"].as_str().unwrap_or_default();
            let quality = value["new_quality_score"].as_str().unwrap_or_default();
            let words: Vec<&str> = [field, event, quality, template]
                .into_iter()
                .filter(|w| !w.is_empty())
                .collect();
            items.push(words.join(" "));
        }
        for item in items {
            if parts.len() < LISTED_MAX {
                parts.push(item);
            } else {
                more += 1;
            }
        }
    }
    if more > 0 {
        parts.push(format!("{more} more"));
    }
    if parts.is_empty() {
        field.to_owned()
    } else {
        parts.join(", ")
    }
}

/// Virtual milliseconds as `HH:MM:SS.mmm` (days fold into hours).
pub fn clock(ms: u64) -> String {
    let hours = ms / 3_600_000;
    let minutes = ms / 60_000 % 60;
    let seconds = ms / 1_000 % 60;
    format!("{hours:02}:{minutes:02}:{seconds:02}.{:03}", ms % 1_000)
}
