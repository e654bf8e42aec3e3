//! A scenario's trace summed up for its report: timeline, counts, latencies.

use std::collections::BTreeMap;

use wasim_reports::{Latency, ScenarioStats, TimelineEntry, Tone};
use wasim_sim::{TraceEvent, TraceRecord};

use crate::describe;

/// The trace in causal order: each webhook attempt moved to where it was posted
/// (right after record `after_seq`, in posting order) rather than where its answer
/// happened to arrive, and every record renumbered. A receiver's reaction to a
/// webhook can reach the platform before the webhook's answer does; this order does
/// not depend on that race, so reports of the same run are the same.
pub fn causal_order(records: &[TraceRecord]) -> Vec<TraceRecord> {
    let mut keyed: Vec<((u64, u8, u64), &TraceRecord)> = records
        .iter()
        .map(|record| {
            let key = match &record.event {
                TraceEvent::WebhookAttempt { after_seq, .. } if *after_seq < record.seq => {
                    (*after_seq, 1, record.seq)
                }
                _ => (record.seq, 0, record.seq),
            };
            (key, record)
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    let renumber: std::collections::BTreeMap<u64, u64> = keyed
        .iter()
        .enumerate()
        .map(|(index, (_, record))| (record.seq, index as u64))
        .collect();
    keyed
        .into_iter()
        .enumerate()
        .map(|(index, (_, record))| {
            let mut record = record.clone();
            record.seq = index as u64;
            if let TraceEvent::WebhookAttempt { after_seq, .. } = &mut record.event {
                *after_seq = renumber.get(after_seq).copied().unwrap_or(*after_seq);
            }
            record
        })
        .collect()
}

/// Most timeline entries kept per scenario; the rest is counted in a last line.
pub const TIMELINE_MAX: usize = 400;

/// The records that belong on a timeline, in words. A webhook attempt says what
/// its delivery carried (`statuses sent (wamid.…)`).
pub fn timeline(records: &[TraceRecord]) -> Vec<TimelineEntry> {
    let mut carried: BTreeMap<u64, String> = BTreeMap::new();
    let mut entries: Vec<TimelineEntry> = Vec::new();
    for record in records {
        if let TraceEvent::WebhookEmitted {
            delivery_id,
            field,
            body,
            ..
        } = &record.event
        {
            carried.insert(*delivery_id, describe::carried(field, &body.to_value()));
        }
        let Some(lane) = describe::lane(&record.event) else {
            continue;
        };
        let mut text = describe::summarize(&record.event);
        if let TraceEvent::WebhookAttempt { delivery_id, .. } = &record.event
            && let Some(what) = carried.get(delivery_id)
        {
            text.push_str(": ");
            text.push_str(what);
        }
        entries.push(TimelineEntry {
            seq: record.seq,
            at_ms: record.at_ms,
            lane,
            tone: describe::tone(&record.event),
            text,
        });
    }
    if entries.len() > TIMELINE_MAX {
        let more = entries.len() - TIMELINE_MAX;
        // The line stands for the first record left out, and is numbered so.
        let (seq, at_ms) = (entries[TIMELINE_MAX].seq, entries[TIMELINE_MAX].at_ms);
        entries.truncate(TIMELINE_MAX);
        entries.push(TimelineEntry {
            seq,
            at_ms,
            lane: wasim_reports::Lane::Step,
            tone: Tone::Normal,
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
            TraceEvent::Request { surface, .. } if *surface != "control" => stats.requests += 1,
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
                http_status: Some(_),
                ..
            } => record.latency_ms,
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

    /// `events` as records numbered from 0, all at time 0.
    fn numbered(events: Vec<TraceEvent>) -> Vec<TraceRecord> {
        (0..)
            .zip(events)
            .map(|(seq, event)| TraceRecord::new(seq, 0, event))
            .collect()
    }

    fn attempt(after_seq: u64) -> TraceEvent {
        crate::checks::verdict::acknowledged(1, "meta", after_seq, "")
    }

    #[test]
    fn attempts_move_back_to_where_they_were_posted() {
        let step = |index| TraceEvent::ScenarioStep {
            index,
            text: String::new(),
        };
        // Posted after record 1; the receiver's reaction (record 2) beat its answer.
        let records = numbered(vec![step(0), step(1), step(2), attempt(1)]);
        let ordered = causal_order(&records);
        let seqs: Vec<u64> = ordered.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2, 3]);
        assert_eq!(
            ordered[2].event,
            attempt(1),
            "the attempt comes right after record 1"
        );
        assert_eq!(ordered[3].event, step(2));
        // Two attempts posted at the same point keep their posting order.
        let records = numbered(vec![step(0), step(1), attempt(0), attempt(0)]);
        let ordered = causal_order(&records);
        assert!(matches!(
            ordered[1].event,
            TraceEvent::WebhookAttempt { .. }
        ));
        assert!(matches!(
            ordered[2].event,
            TraceEvent::WebhookAttempt { .. }
        ));
        assert_eq!(ordered[3].event, step(1));
    }

    #[test]
    fn percentiles_come_from_sorted_latencies() {
        let records: Vec<TraceRecord> = (1..=20u64)
            .map(|latency| {
                let mut record = TraceRecord::new(
                    latency,
                    0,
                    crate::checks::verdict::acknowledged(latency, "meta", 0, ""),
                );
                record.latency_ms = Some(21 - latency);
                record
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
