//! `Sim`: the world plus its trace. Still pure: the shell owns time and I/O.

use crate::model::{Command, Effect, Refusal, Reply, SimTime, WebhookDelivery, World};
use crate::trace::{Trace, TraceEvent};

/// The world and its trace, advanced together.
#[derive(Debug)]
pub struct Sim {
    /// The simulated platform state.
    pub world: World,
    /// Everything that happened, in order.
    pub trace: Trace,
}

impl Sim {
    /// A sim over `world`, its trace opened with the world's build record.
    pub fn new(world: World) -> Self {
        Sim::with_trace(world, Trace::default())
    }

    /// A sim over `world` writing into `trace` (a window of a given size).
    pub fn with_trace(world: World, mut trace: Trace) -> Self {
        trace.push(0, world.built_event());
        Sim { world, trace }
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
