//! The delivery worker: posts each attempt the model asks for and reports every
//! attempt back to the model as a command.
//!
//! Attempts to one destination (scheme, host and port) are posted one at a time, in
//! order; destinations have lanes of their own, so an endpoint that does not answer
//! (an unresolvable host, a receiver that hangs until the timeout) holds up only
//! its own lane. Reports go back to the model in the order the attempts were
//! queued, whatever order they finish in, so the trace does not depend on which
//! endpoint answered first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::sign::{META_SIGNATURE_HEADER, PARTNER_SIGNATURE_HEADER, hmac_hex, meta_signature};
use crate::model::secret::Secret;
pub use crate::model::secret::redact_url;
use crate::model::webhooks::{CopyKind, Destination};
use crate::model::{Command, WebhookDelivery};

/// The key forged posts are signed with: never a world's secret.
const FORGED_KEY: &str = "wasim-forged-signature-key";

/// Most destinations with a lane of their own; further ones share lanes.
pub const LANES_MAX: usize = 16;

/// How webhooks are posted.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The app secret that signs Meta bodies.
    pub app_secret: Secret,
    /// The partner secret that signs 360dialog partner events.
    pub partner_secret: Secret,
    /// Per-attempt timeout. Default 10 s (Meta's is unpublished).
    pub timeout: Duration,
    /// How long resolving the host and connecting may take. Default 2 s.
    pub connect_timeout: Duration,
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
            connect_timeout: Duration::from_secs(2),
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
    /// An attempt, holding its place in the bounded queue until it is reported.
    Deliver(WebhookDelivery, OwnedSemaphorePermit),
    Flush(oneshot::Sender<()>),
}

/// What the reporter waits for, in queue order.
#[derive(Debug)]
enum Pending {
    /// An attempt's command, once its lane has posted it.
    Attempt(oneshot::Receiver<Command>, OwnedSemaphorePermit),
    /// Everything queued before has been reported.
    Flushed(oneshot::Sender<()>),
}

/// A handle on the delivery worker.
#[derive(Debug, Clone)]
pub struct Deliverer {
    jobs: mpsc::UnboundedSender<Job>,
    /// One permit per webhook queued or in flight: at most `queue_max`.
    room: Arc<Semaphore>,
}

/// The lane key of a destination: scheme, host and port of its URL.
fn lane_key(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_owned(),
    }
}

impl Deliverer {
    /// Starts the worker on the current tokio runtime.
    pub fn start(config: DeliveryConfig, report: Report, stopwatch: Stopwatch) -> Deliverer {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let room = Arc::new(Semaphore::new(config.queue_max.max(1)));
        let (pending, mut reports) = mpsc::unbounded_channel::<Pending>();
        // Reports go back in queue order.
        tokio::spawn(async move {
            while let Some(next) = reports.recv().await {
                match next {
                    Pending::Attempt(command, permit) => {
                        if let Ok(command) = command.await {
                            report(command);
                        }
                        drop(permit);
                    }
                    Pending::Flushed(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(config.timeout)
                .connect_timeout(config.connect_timeout)
                .build();
            let client = match client {
                Ok(client) => Some(client),
                Err(error) => {
                    tracing::error!("failed to build the webhook HTTP client: {error}");
                    None
                }
            };
            let config = Arc::new(config);
            let mut lanes: BTreeMap<String, mpsc::UnboundedSender<Lane>> = BTreeMap::new();
            let mut order: VecDeque<String> = VecDeque::new();
            while let Some(job) = queue.recv().await {
                match job {
                    Job::Deliver(delivery, permit) => {
                        let mut key = lane_key(delivery.destination.url());
                        if !lanes.contains_key(&key) && lanes.len() >= LANES_MAX {
                            // Bounded: a new destination shares the oldest lane.
                            key = order.front().cloned().unwrap_or(key);
                        }
                        let lane = lanes.entry(key.clone()).or_insert_with(|| {
                            order.push_back(key);
                            start_lane(client.clone(), config.clone(), stopwatch)
                        });
                        let (done, command) = oneshot::channel();
                        if lane.send(Lane { delivery, done }).is_ok() {
                            let _ = pending.send(Pending::Attempt(command, permit));
                        }
                    }
                    Job::Flush(done) => {
                        let _ = pending.send(Pending::Flushed(done));
                    }
                }
            }
        });
        Deliverer { jobs, room }
    }

    /// Queues deliveries in order without waiting. Returns a `WebhookSkipped` command
    /// for each one the queue could not take (full or stopped), for the caller to
    /// apply so that the loss is traced.
    #[must_use = "skipped deliveries must be traced"]
    pub fn enqueue(&self, deliveries: Vec<WebhookDelivery>) -> Vec<Command> {
        let mut skipped = Vec::new();
        for delivery in deliveries {
            let (id, copy) = (delivery.id, delivery.copy);
            let reason = match self.room.clone().try_acquire_owned() {
                Err(_) => Some("delivery queue full"),
                Ok(permit) => self
                    .jobs
                    .send(Job::Deliver(delivery, permit))
                    .is_err()
                    .then_some("delivery worker stopped"),
            };
            if let Some(reason) = reason {
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
        if self.jobs.send(Job::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// One attempt for a lane, and where its outcome goes.
#[derive(Debug)]
struct Lane {
    delivery: WebhookDelivery,
    done: oneshot::Sender<Command>,
}

/// A lane: posts its destination's attempts one at a time, in order.
fn start_lane(
    client: Option<reqwest::Client>,
    config: Arc<DeliveryConfig>,
    stopwatch: Stopwatch,
) -> mpsc::UnboundedSender<Lane> {
    let (lane, mut attempts) = mpsc::unbounded_channel::<Lane>();
    tokio::spawn(async move {
        while let Some(Lane { delivery, done }) = attempts.recv().await {
            let command = post(client.as_ref(), &config, &delivery, stopwatch).await;
            let _ = done.send(command);
        }
    });
    lane
}

/// The key a copy is signed with: a forged copy's is one the receiver does not know.
fn signing_key(forged: bool, secret: &Secret) -> &str {
    if forged { FORGED_KEY } else { secret.expose() }
}

async fn post(
    client: Option<&reqwest::Client>,
    config: &DeliveryConfig,
    delivery: &WebhookDelivery,
    stopwatch: Stopwatch,
) -> Command {
    let url = delivery.destination.url();
    let Some(client) = client else {
        return Command::WebhookSkipped {
            delivery_id: delivery.id,
            copy: delivery.copy,
            reason: "the webhook HTTP client could not be built".to_owned(),
        };
    };
    // Exactly these bytes are signed and sent, with their length: some receivers
    // refuse a webhook without `Content-Length` (whatsapp-api-js 6.3.0,
    // https://www.npmjs.com/package/whatsapp-api-js), so it is never left to
    // the transport.
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
    delivery.finished(redact_url(url), http_status, latency_ms, error)
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
