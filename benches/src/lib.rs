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

use serde_json::{Value, json};
use wasim_sim::model::{Command, World};

/// The default world's US number, which the benches send from.
pub const US_PHONE: &str = "110000000000001";

/// A Cloud API send of `body` from the default world's US number with its access
/// token, as the HTTP layer hands it to the model.
pub fn graph_send(body: Value) -> Command {
    Command::graph_send("wasim_test_access_token", US_PHONE, &body)
}

/// The body of a marketing template send of the default world's `spring_sale` to `to`.
pub fn spring_sale_body(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp", "to": to, "type": "template",
        "template": {"name": "spring_sale", "language": {"code": "en_US"}},
    })
}

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

/// (`VmRSS`, `VmHWM`) of process `pid` (this process when `None`), in bytes,
/// from `/proc/<pid>/status`; zeros when it cannot be read.
pub fn resident(pid: Option<u32>) -> (u64, u64) {
    let path = pid.map_or_else(
        || "/proc/self/status".to_owned(),
        |pid| format!("/proc/{pid}/status"),
    );
    let status = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
