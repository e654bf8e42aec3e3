//! The delivery worker: posts each attempt the model asks for, in order, and reports every
//! attempt back to the model as a command.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::sign::{META_SIGNATURE_HEADER, ascii_json, meta_signature};
use crate::model::secret::Secret;
use crate::model::secret::fingerprint;
use crate::model::{Command, WebhookDelivery};

/// Where and how webhooks are posted.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Target URL; none means every webhook is skipped (and traced as such).
    pub url: Option<String>,
    /// The app secret that signs bodies.
    pub app_secret: Secret,
    /// Per-attempt timeout. Default 10 s (Meta's is unpublished).
    pub timeout: Duration,
    /// Most webhooks waiting in the queue. Default 100000.
    pub queue_max: usize,
}

impl DeliveryConfig {
    /// The defaults for `url` and `app_secret`.
    pub fn new(url: Option<String>, app_secret: Secret) -> Self {
        DeliveryConfig {
            url,
            app_secret,
            timeout: Duration::from_secs(10),
            queue_max: 100_000,
        }
    }
}

/// Reports an attempt's outcome back to the model.
pub type Report = Arc<dyn Fn(Command) + Send + Sync>;

/// Measures wall time for latencies (supplied by the shell, the only wall-clock reader).
pub type Stopwatch = fn() -> std::time::Instant;

#[derive(Debug)]
enum Job {
    Deliver(WebhookDelivery),
    Flush(oneshot::Sender<()>),
}

/// A handle on the delivery worker.
#[derive(Debug, Clone)]
pub struct Deliverer {
    jobs: mpsc::Sender<Job>,
}

impl Deliverer {
    /// Starts the worker on the current tokio runtime.
    pub fn start(config: DeliveryConfig, report: Report, stopwatch: Stopwatch) -> Deliverer {
        let (jobs, mut queue) = mpsc::channel::<Job>(config.queue_max.max(1));
        tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(config.timeout).build();
            let client = match client {
                Ok(client) => Some(client),
                Err(error) => {
                    tracing::error!("failed to build the webhook HTTP client: {error}");
                    None
                }
            };
            while let Some(job) = queue.recv().await {
                match job {
                    Job::Deliver(delivery) => {
                        post(client.as_ref(), &config, &delivery, &*report, stopwatch).await;
                    }
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Deliverer { jobs }
    }

    /// Queues deliveries in order without waiting. Returns a `WebhookSkipped` command
    /// for each one the queue could not take (full or stopped), for the caller to
    /// apply so that the loss is traced.
    #[must_use = "skipped deliveries must be traced"]
    pub fn enqueue(&self, deliveries: Vec<WebhookDelivery>) -> Vec<Command> {
        let mut skipped = Vec::new();
        for delivery in deliveries {
            let id = delivery.id;
            if let Err(error) = self.jobs.try_send(Job::Deliver(delivery)) {
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => "delivery queue full",
                    mpsc::error::TrySendError::Closed(_) => "delivery worker stopped",
                };
                skipped.push(Command::WebhookSkipped {
                    delivery_id: id,
                    reason: reason.to_owned(),
                });
            }
        }
        skipped
    }

    /// Waits until every webhook queued before this call has been attempted.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn post(
    client: Option<&reqwest::Client>,
    config: &DeliveryConfig,
    delivery: &WebhookDelivery,
    report: &(dyn Fn(Command) + Send + Sync),
    stopwatch: Stopwatch,
) {
    let (Some(url), Some(client)) = (config.url.as_ref(), client) else {
        report(Command::WebhookSkipped {
            delivery_id: delivery.id,
            reason: "no webhook URL configured (pass --webhook-url)".to_owned(),
        });
        return;
    };
    let body = ascii_json(&delivery.body);
    let signature = meta_signature(config.app_secret.expose(), &body);
    let started = stopwatch();
    let result = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(META_SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await;
    let latency_ms =
        u64::try_from(stopwatch().duration_since(started).as_millis()).unwrap_or(u64::MAX);
    let (http_status, error) = match result {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(error) if error.is_timeout() => {
            (None, Some(format!("timed out after {:?}", config.timeout)))
        }
        Err(error) if error.is_connect() => (None, Some("connection refused".to_owned())),
        Err(error) => (None, Some(redact_url(&error.without_url().to_string()))),
    };
    report(Command::WebhookAttemptFinished {
        delivery_id: delivery.id,
        attempt: delivery.attempt,
        url: redact_url(url),
        http_status,
        latency_ms,
        error,
    });
}

/// A URL without what may hold secrets: user info and query become fingerprints.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.split_once('/') {
                Some((authority, path)) => (authority, Some(path)),
                None => (rest, None),
            };
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => format!("{}@{host}", fingerprint(user_info)),
                None => authority.to_owned(),
            };
            match path {
                Some(path) => format!("{scheme}://{authority}/{path}"),
                None => format!("{scheme}://{authority}"),
            }
        }
        None => base.to_owned(),
    };
    match query {
        Some(query) => format!("{base}?{}", fingerprint(query)),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_user_info_and_query_but_keep_host_and_path() {
        assert_eq!(
            redact_url("http://127.0.0.1:3000/webhook"),
            "http://127.0.0.1:3000/webhook"
        );
        let redacted = redact_url("http://user:pw_secret@host:1/hook?token=qs_secret");
        assert!(
            !redacted.contains("pw_secret") && !redacted.contains("qs_secret"),
            "{redacted}"
        );
        assert!(
            redacted.starts_with("http://fp_") && redacted.contains("@host:1/hook?fp_"),
            "{redacted}"
        );
    }
}
