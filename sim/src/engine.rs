//! `Sim`: the world plus its trace. Still pure: the shell owns time and I/O.

use sha2::{Digest, Sha256};

use crate::model::{Command, Effect, Refusal, Reply, SimTime, WebhookDelivery, World};
use crate::trace::{Trace, TraceEvent};

/// The world and its trace, advanced together.
#[derive(Debug)]
pub struct Sim {
    /// The simulated platform state.
    pub world: World,
    /// Everything that happened, in order.
    pub trace: Trace,
    /// How many `fbtrace_id`s error answers have had: each answer draws the next,
    /// so no two share one (a reset does not restart the count).
    fbtrace_ids: u64,
}

impl Sim {
    /// A sim over `world`, its trace opened with the world's build record.
    pub fn new(world: World) -> Self {
        Sim::with_trace(world, Trace::default())
    }

    /// A sim over `world` writing into `trace` (a window of a given size).
    pub fn with_trace(world: World, mut trace: Trace) -> Self {
        trace.push(0, world.built_event());
        Sim {
            world,
            trace,
            fbtrace_ids: 0,
        }
    }

    /// Applies `command` at `now`; traces what happened and returns the reply and
    /// the webhooks to post.
    pub fn apply(
        &mut self,
        now: SimTime,
        command: Command,
    ) -> (Result<Reply, Refusal>, Vec<WebhookDelivery>) {
        let outcome = self.world.apply(now, command);
        (outcome.reply, self.absorb(outcome.effects))
    }

    /// Fires every timer due by `now`; returns the webhooks to post.
    pub fn advance(&mut self, now: SimTime) -> Vec<WebhookDelivery> {
        let effects = self.world.advance(now);
        self.absorb(effects)
    }

    /// Appends a shell-level record (a request, a clock move) at the world's time.
    pub fn record(&mut self, event: TraceEvent) {
        self.trace.push(self.world.now().as_ms(), event);
    }

    /// The `fbtrace_id` of the next error answer: derived from the seed and the
    /// count of answers before it, so it is deterministic and unique.
    pub fn next_fbtrace_id(&mut self) -> String {
        self.fbtrace_ids += 1;
        fbtrace_id(self.world.seed(), self.fbtrace_ids)
    }

    /// Replaces the world with a fresh one and frees the records in memory; the
    /// trace's numbering goes on (a trace file keeps every record).
    pub fn reset(&mut self, world: World) {
        self.world = world;
        self.trace.clear();
        self.trace.push(0, TraceEvent::WorldReset);
        self.trace.push(0, self.world.built_event());
    }

    fn absorb(&mut self, effects: Vec<Effect>) -> Vec<WebhookDelivery> {
        let mut deliveries = Vec::new();
        for effect in effects {
            match effect {
                Effect::Trace { at, event } => self.trace.push(at.as_ms(), event),
                Effect::TraceMeasured {
                    at,
                    event,
                    latency_ms,
                } => self.trace.push_measured(at.as_ms(), event, latency_ms),
                Effect::Webhook(mut delivery) => {
                    delivery.after_seq = (self.trace.len() as u64).saturating_sub(1);
                    deliveries.push(delivery);
                }
            }
        }
        deliveries
    }
}

/// A Graph-style trace id derived from the seed and a sequence number (deterministic).
pub fn fbtrace_id(seed: u64, seq: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(seq.to_le_bytes())
        .finalize();
    digest
        .iter()
        .take(23)
        .map(|b| char::from(ALPHABET[usize::from(*b) % 64]))
        .collect()
}
