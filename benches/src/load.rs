//! A keep-alive HTTP/1.1 load generator for loopback: `connections` clients,
//! each sending its next request as soon as the last one answered, for a
//! fixed time. Latencies go into one HDR histogram; answers are counted by
//! HTTP status and Graph error code.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use wasim_sim::state::wall_now;

/// One request shape: a POST of a JSON body.
#[derive(Debug, Clone)]
pub struct Post {
    /// Path and query.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Bytes,
}

/// What to load and for how long.
#[derive(Debug, Clone)]
pub struct Load {
    /// The server.
    pub addr: SocketAddr,
    /// The requests, sent in turn (connection `c` starts at `c` and steps by the
    /// number of connections, so together they go through the list in order).
    pub posts: Arc<Vec<Post>>,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Sent but not counted, first: connections open, caches warm.
    pub warmup: Duration,
    /// Measured.
    pub duration: Duration,
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Answers received within the measured time.
    pub requests: u64,
    /// The measured time.
    pub elapsed: Duration,
    /// Latency of each measured answer, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Answers by kind: `200`, `400 (131009)`, `429 (130429)`, …
    pub answers: BTreeMap<String, u64>,
    /// Requests that failed below HTTP (refused, reset), with a reconnect.
    pub transport_errors: u64,
}

/// A [`Measured`] as a report reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Answers within the measured time.
    pub requests: u64,
    /// Measured seconds.
    pub seconds: f64,
    /// Answers per second.
    pub requests_per_s: f64,
    /// Latency percentiles in microseconds: p50, p90, p99, p99.9, max.
    pub latency_us: Percentiles,
    /// Answers by kind (`200`, `429 (130429)`, …).
    pub answers: BTreeMap<String, u64>,
    /// Failures below HTTP.
    pub transport_errors: u64,
}

/// Latency percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `histogram`.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        Percentiles {
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

impl Measured {
    /// The report's view.
    pub fn summary(&self) -> Summary {
        let seconds = self.elapsed.as_secs_f64();
        Summary {
            requests: self.requests,
            seconds,
            requests_per_s: if seconds > 0.0 {
                self.requests as f64 / seconds
            } else {
                0.0
            },
            latency_us: Percentiles::of(&self.latency_us),
            answers: self.answers.clone(),
            transport_errors: self.transport_errors,
        }
    }
}

/// A latency histogram: 1 µs to 60 s, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// One connection's tally.
struct Tally {
    requests: u64,
    latency_us: Histogram<u64>,
    answers: BTreeMap<String, u64>,
    transport_errors: u64,
}

/// Runs the load on the current tokio runtime.
pub async fn run(load: &Load) -> Measured {
    let start = wall_now();
    let measure_from = start + load.warmup;
    let until = measure_from + load.duration;
    let connections = load.connections.max(1);
    let tasks: Vec<_> = (0..connections)
        .map(|index| {
            let load = load.clone();
            tokio::spawn(
                async move { connection(&load, index, connections, measure_from, until).await },
            )
        })
        .collect();
    let mut measured = Measured {
        requests: 0,
        elapsed: load.duration,
        latency_us: histogram(),
        answers: BTreeMap::new(),
        transport_errors: 0,
    };
    for task in tasks {
        if let Ok(tally) = task.await {
            measured.requests += tally.requests;
            let _ = measured.latency_us.add(&tally.latency_us);
            for (kind, count) in tally.answers {
                *measured.answers.entry(kind).or_default() += count;
            }
            measured.transport_errors += tally.transport_errors;
        }
    }
    measured
}

async fn connection(
    load: &Load,
    index: usize,
    step: usize,
    measure_from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally {
        requests: 0,
        latency_us: histogram(),
        answers: BTreeMap::new(),
        transport_errors: 0,
    };
    let host = load.addr.to_string();
    let mut next = index;
    'connect: while wall_now() < until {
        let Ok(stream) = tokio::net::TcpStream::connect(load.addr).await else {
            tally.transport_errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
        else {
            tally.transport_errors += 1;
            continue;
        };
        tokio::spawn(conn);
        loop {
            let sent_at = wall_now();
            if sent_at >= until {
                break 'connect;
            }
            let post = &load.posts[next % load.posts.len()];
            next += step;
            let mut request = Request::post(post.path.as_str())
                .header(HOST, host.as_str())
                .header(CONTENT_TYPE, "application/json");
            if let Some(authorization) = &post.authorization {
                request = request.header(AUTHORIZATION, authorization.as_str());
            }
            let Ok(request) = request.body(Full::new(post.body.clone())) else {
                tally.transport_errors += 1;
                break 'connect;
            };
            if sender.ready().await.is_err() {
                tally.transport_errors += 1;
                continue 'connect;
            }
            let Ok(response) = sender.send_request(request).await else {
                tally.transport_errors += 1;
                continue 'connect;
            };
            let status = response.status().as_u16();
            let Ok(body) = response.into_body().collect().await else {
                tally.transport_errors += 1;
                continue 'connect;
            };
            let answered_at = wall_now();
            if sent_at < measure_from || answered_at > until {
                continue;
            }
            tally.requests += 1;
            let micros = u64::try_from(answered_at.duration_since(sent_at).as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            let _ = tally.latency_us.record(micros.min(60_000_000));
            *tally
                .answers
                .entry(answer_kind(status, &body.to_bytes()))
                .or_default() += 1;
        }
    }
    tally
}

/// `200`, or the status with the Graph error code of the body: `429 (130429)`.
pub fn answer_kind(status: u16, body: &[u8]) -> String {
    if (200..300).contains(&status) {
        return status.to_string();
    }
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["error"]["code"].as_u64());
    match code {
        Some(code) => format!("{status} ({code})"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_told_apart_by_status_and_graph_error_code() {
        assert_eq!(answer_kind(200, b"{}"), "200");
        assert_eq!(
            answer_kind(400, br#"{"error":{"code":130429,"message":"x"}}"#),
            "400 (130429)"
        );
        assert_eq!(answer_kind(502, b"not json"), "502");
    }
}
