//! Webhook retry policy (reference §6.7): whether and when a failed delivery is
//! attempted again. The delivery engine only posts; its outcomes come back here.
//!
//! A delivery that is not acknowledged with a 2xx is retried with exponential backoff
//! (`webhook_retry_initial_ms`, doubling, at most `webhook_retry_interval_max_ms`
//! apart) until `webhook_retry_window_hours` after its first attempt or
//! `webhook_attempts_max` attempts, whichever comes first; then it is dropped, and
//! the drop is traced.

use serde_json::Value;

use super::policy::Policy;
use super::state::Timer;
use super::time::{HOUR_MS, SimTime};
use super::{Effect, WebhookDelivery, World};
use crate::trace::TraceEvent;

/// Most deliveries kept for retry at once; beyond it new webhooks get one attempt
/// only, and each such loss of retry is traced.
pub const WEBHOOKS_PENDING_MAX: usize = 1_000_000;

/// A delivery waiting for acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PendingWebhook {
    pub(crate) first_at: SimTime,
    pub(crate) field: &'static str,
    pub(crate) body: Value,
}

/// The delay before attempt `next_attempt` (2 or later).
pub fn retry_delay_ms(policy: &Policy, next_attempt: u32) -> u64 {
    let doublings = next_attempt.saturating_sub(2).min(63);
    policy
        .webhook_retry_initial_ms
        .saturating_mul(1u64 << doublings)
        .min(policy.webhook_retry_interval_max_ms)
}

impl World {
    /// Keeps a new delivery for retries (if within bounds).
    pub(crate) fn track_webhook(&mut self, delivery: &WebhookDelivery, effects: &mut Vec<Effect>) {
        if self.pending_webhooks.len() >= WEBHOOKS_PENDING_MAX {
            effects.push(Effect::Trace {
                at: delivery.at,
                event: TraceEvent::WebhookDropped {
                    delivery_id: delivery.id,
                    attempts: 0,
                    reason: format!("{WEBHOOKS_PENDING_MAX} webhooks already await retries; this one gets one attempt"),
                },
            });
            return;
        }
        self.pending_webhooks.insert(
            delivery.id,
            PendingWebhook {
                first_at: delivery.at,
                field: delivery.field,
                body: delivery.body.clone(),
            },
        );
    }

    /// Judges one attempt's outcome: done, retry later, or give up.
    pub(crate) fn webhook_attempt_finished(
        &mut self,
        now: SimTime,
        delivery_id: u64,
        attempt: u32,
        http_status: Option<u16>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(pending) = self.pending_webhooks.get(&delivery_id) else {
            return;
        };
        if http_status.is_some_and(|status| (200..300).contains(&status)) {
            self.pending_webhooks.remove(&delivery_id);
            return;
        }
        let next_attempt = attempt.saturating_add(1);
        let next_at = now.plus_ms(retry_delay_ms(&self.policy, next_attempt));
        let window_end = pending.first_at.plus_ms(
            self.policy
                .webhook_retry_window_hours
                .saturating_mul(HOUR_MS),
        );
        let reason = if attempt >= self.policy.webhook_attempts_max {
            Some(format!("{attempt} attempts made (webhook_attempts_max)"))
        } else if next_at > window_end {
            Some(format!(
                "retry window of {} h ended",
                self.policy.webhook_retry_window_hours
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            self.pending_webhooks.remove(&delivery_id);
            effects.push(Effect::Trace {
                at: now,
                event: TraceEvent::WebhookDropped {
                    delivery_id,
                    attempts: attempt,
                    reason,
                },
            });
            return;
        }
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::WebhookRetryScheduled {
                delivery_id,
                attempt: next_attempt,
                due_ms: next_at.as_ms(),
            },
        });
        self.schedule(
            next_at,
            Timer::WebhookRetry {
                delivery_id,
                attempt: next_attempt,
            },
        );
    }

    /// A delivery that could not be posted at all is not retried.
    pub(crate) fn webhook_skipped(&mut self, delivery_id: u64) {
        self.pending_webhooks.remove(&delivery_id);
    }

    /// A retry timer fired: post the delivery again, if still pending.
    pub(crate) fn retry_webhook(
        &mut self,
        at: SimTime,
        delivery_id: u64,
        attempt: u32,
        effects: &mut Vec<Effect>,
    ) {
        let Some(pending) = self.pending_webhooks.get(&delivery_id) else {
            return;
        };
        effects.push(Effect::Webhook(WebhookDelivery {
            id: delivery_id,
            at,
            attempt,
            field: pending.field,
            body: pending.body.clone(),
        }));
    }

    /// Deliveries awaiting acknowledgement.
    pub fn webhooks_pending(&self) -> usize {
        self.pending_webhooks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_maximum_interval() {
        let policy = Policy::default();
        let delays: Vec<u64> = (2..=6)
            .map(|attempt| retry_delay_ms(&policy, attempt))
            .collect();
        let first = policy.webhook_retry_initial_ms;
        assert_eq!(
            delays,
            vec![first, first * 2, first * 4, first * 8, first * 16]
        );
        assert_eq!(
            retry_delay_ms(&policy, 60),
            policy.webhook_retry_interval_max_ms
        );
    }
}
