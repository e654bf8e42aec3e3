//! A scenario's trace summed up for its report: timeline, counts, latencies.

use wasim_reports::{Latency, ScenarioStats, TimelineEntry};
use wasim_sim::{TraceEvent, TraceRecord};

use crate::describe;

/// Most timeline entries kept per scenario; the rest is counted in a last line.
pub const TIMELINE_MAX: usize = 400;

/// The records that belong on a timeline, in words.
pub fn timeline(records: &[TraceRecord]) -> Vec<TimelineEntry> {
    let mut entries: Vec<TimelineEntry> = records
        .iter()
        .filter_map(|record| {
            describe::lane(&record.event).map(|lane| TimelineEntry {
                at_ms: record.at_ms,
                lane,
                text: describe::summarize(&record.event),
            })
        })
        .collect();
    if entries.len() > TIMELINE_MAX {
        let more = entries.len() - TIMELINE_MAX;
        entries.truncate(TIMELINE_MAX);
        let at_ms = entries.last().map_or(0, |e| e.at_ms);
        entries.push(TimelineEntry {
            at_ms,
            lane: wasim_reports::Lane::Incident,
            text: format!("… {more} more records (the trace artifact has them all)"),
        });
    }
    entries
}

/// Counts from the trace.
pub fn stats(records: &[TraceRecord]) -> ScenarioStats {
    let mut stats = ScenarioStats::default();
    for record in records {
        match &record.event {
            TraceEvent::Request { surface, .. } if surface != "control" => stats.requests += 1,
            TraceEvent::MessageAccepted { .. } => stats.messages_accepted += 1,
            TraceEvent::MessageRejected { .. } => stats.messages_rejected += 1,
            TraceEvent::WebhookEmitted { .. } => stats.webhooks += 1,
            TraceEvent::WebhookAttempt { .. } => stats.webhook_attempts += 1,
            _ => {}
        }
    }
    stats
}

/// Median, 95th percentile and maximum of the answered webhook attempts' latencies.
pub fn latency(records: &[TraceRecord]) -> Option<Latency> {
    let mut latencies: Vec<u64> = records
        .iter()
        .filter_map(|record| match &record.event {
            TraceEvent::WebhookAttempt {
                latency_ms,
                http_status: Some(_),
                ..
            } => Some(*latency_ms),
            _ => None,
        })
        .collect();
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    let at = |fraction_percent: usize| {
        let index = (latencies.len() * fraction_percent)
            .div_ceil(100)
            .saturating_sub(1);
        latencies[index.min(latencies.len() - 1)]
    };
    Some(Latency {
        p50: at(50),
        p95: at(95),
        max: latencies[latencies.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_sorted_latencies() {
        let records: Vec<TraceRecord> = (1..=20u64)
            .map(|latency| TraceRecord {
                seq: latency,
                at_ms: 0,
                event: TraceEvent::WebhookAttempt {
                    delivery_id: latency,
                    attempt: 1,
                    copy: "original".to_owned(),
                    destination: "meta".to_owned(),
                    url: String::new(),
                    http_status: Some(200),
                    latency_ms: 21 - latency,
                    error: None,
                },
            })
            .collect();
        assert_eq!(
            latency(&records),
            Some(Latency {
                p50: 10,
                p95: 19,
                max: 20
            })
        );
        assert_eq!(latency(&[]), None);
    }
}
