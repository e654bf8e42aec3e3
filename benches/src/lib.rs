//! wasim-bench: the send-path load driver behind `wasim bench`.
//!
//! - [`load`]: a keep-alive HTTP/1.1 load generator for loopback with an HDR
//!   latency histogram and the answers counted by kind.
//! - [`selfbench`]: `wasim bench --self`: `wasim serve` under that load, and a
//!   bare axum JSON handler under the same load as the ceiling.
//! - [`integration`]: `wasim bench --integration CMD`: an integration's
//!   campaign through the driver hook, on a real-time clock with the platform's
//!   throughput limits, judged from the trace.
//!
//! The criterion benches live beside this crate's sources (`benches/*.rs`).

pub mod integration;
pub mod load;
pub mod selfbench;

use wasim_sim::model::World;

/// The WhatsApp ids of the first `limit` generated recipients of `world` (those
/// drawn from the seed, not the spec's named ones), in wa_id order: the people a
/// bench sends to.
pub fn generated_wa_ids(world: &World, limit: usize) -> Vec<String> {
    world
        .recipients()
        .filter(|r| r.background_ecosystem())
        .take(limit)
        .map(|r| r.wa_id())
        .collect()
}
