//! The delivery worker: posts each attempt the model asks for, in order, and reports every
//! attempt back to the model as a command.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::sign::{META_SIGNATURE_HEADER, PARTNER_SIGNATURE_HEADER, hmac_hex, meta_signature};
use crate::model::secret::Secret;
pub use crate::model::secret::redact_url;
use crate::model::webhooks::{CopyKind, Destination};
use crate::model::{Command, WebhookDelivery};

/// The key forged posts are signed with: never a world's secret.
const FORGED_KEY: &str = "wasim-forged-signature-key";

/// How webhooks are posted.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The app secret that signs Meta bodies.
    pub app_secret: Secret,
    /// The partner secret that signs 360dialog partner events.
    pub partner_secret: Secret,
    /// Per-attempt timeout. Default 10 s (Meta's is unpublished).
    pub timeout: Duration,
    /// Most webhooks waiting in the queue. Default 100000.
    pub queue_max: usize,
}

impl DeliveryConfig {
    /// The defaults, with the world's signing secrets.
    pub fn new(app_secret: Secret, partner_secret: Secret) -> Self {
        DeliveryConfig {
            app_secret,
            partner_secret,
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
            let copy = delivery.copy;
            if let Err(error) = self.jobs.try_send(Job::Deliver(delivery)) {
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => "delivery queue full",
                    mpsc::error::TrySendError::Closed(_) => "delivery worker stopped",
                };
                skipped.push(Command::WebhookSkipped {
                    delivery_id: id,
                    copy,
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

/// The key a copy is signed with: a forged copy's is one the receiver does not know.
fn signing_key(forged: bool, secret: &Secret) -> &str {
    if forged { FORGED_KEY } else { secret.expose() }
}

async fn post(
    client: Option<&reqwest::Client>,
    config: &DeliveryConfig,
    delivery: &WebhookDelivery,
    report: &(dyn Fn(Command) + Send + Sync),
    stopwatch: Stopwatch,
) {
    let url = delivery.destination.url();
    let Some(client) = client else {
        report(Command::WebhookSkipped {
            delivery_id: delivery.id,
            copy: delivery.copy,
            reason: "the webhook HTTP client could not be built".to_owned(),
        });
        return;
    };
    // Exactly these bytes are signed and sent, with their length: some receivers
    // refuse a webhook without `Content-Length` (reference §13), so it is never left
    // to the transport.
    let body = delivery.body.ascii_bytes();
    let forged = delivery.copy == CopyKind::Forged;
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Content-Length", body.len());
    // A forged copy is signed with a key the receiver does not know.
    let key = |secret| signing_key(forged, secret);
    match &delivery.destination {
        Destination::Meta { .. } => {
            request = request.header(
                META_SIGNATURE_HEADER,
                meta_signature(key(&config.app_secret), &body),
            );
        }
        Destination::Partner { .. } => {
            request = request.header(
                PARTNER_SIGNATURE_HEADER,
                hmac_hex(key(&config.partner_secret), &body),
            );
        }
        Destination::D360(webhook) => {
            for (name, value) in &webhook.headers {
                request = request.header(name.as_str(), key(value));
            }
        }
    }
    let started = stopwatch();
    let result = request.body(body).send().await;
    let latency_ms =
        u64::try_from(stopwatch().duration_since(started).as_millis()).unwrap_or(u64::MAX);
    let (http_status, error) = match result {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(error) if error.is_timeout() => {
            (None, Some(format!("timed out after {:?}", config.timeout)))
        }
        Err(error) if error.is_connect() => (None, Some("connection refused".to_owned())),
        Err(error) => (None, Some(describe_error(error))),
    };
    report(delivery.finished(redact_url(url), http_status, latency_ms, error));
}

/// A request error with its causes (`error sending request: connection closed
/// before message completed`), without the URL's secrets.
pub fn describe_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    redact_url(&text)
}
