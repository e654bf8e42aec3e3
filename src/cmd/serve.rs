//! `wasim serve`: run the simulated platform.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use wasim_sim::model::policy::PROFILES;
use wasim_sim::{ClockMode, ServeConfig, WorldSpec};

/// Arguments of `wasim serve`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim serve
      the built-in default world on 127.0.0.1:8080, manual clock
  wasim serve --webhook-url http://127.0.0.1:3000/webhook --trace trace.jsonl
      post signed webhooks to your receiver and keep the trace in a file
  wasim serve --world my-world.toml --seed 42 --clock scaled:60 --policy 2025-07
      your world, a different seed, one virtual minute per second, 2025 rules")]
pub(crate) struct ServeArgs {
    /// Address to listen on: IP:PORT or HOST:PORT (`localhost:8080`).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_addr)]
    addr: SocketAddr,
    /// World file (TOML); fields it leaves out keep the built-in defaults.
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// Root seed (overrides the world file's `seed`; default 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Clock mode: `manual` (moves only via /_wasim/clock/advance), `real`, or `scaled:N`.
    #[arg(long, default_value = "manual")]
    clock: ClockMode,
    /// Policy profile: 2024-05 (default), 2025-07, or 2026-04 (2025-07 plus
    /// business-scoped user ids on webhooks).
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(PROFILES))]
    policy: Option<String>,
    /// Where to post webhooks (Meta envelope, signed with X-Hub-Signature-256).
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// Also write the trace as JSON Lines to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Token required in X-Wasim-Control-Token for /_wasim/ calls (required off
    /// loopback; at least 16 characters).
    #[arg(long, env = "WASIM_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
    /// Trace records kept in memory for GET /_wasim/trace (the newest; --trace FILE
    /// keeps every one).
    #[arg(long, value_name = "N", default_value_t = wasim_sim::trace::TRACE_RECORDS_MAX,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    trace_records: usize,
    /// Connections served at once; one more is answered 503.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    connections_max: usize,
    /// Seconds a request's headers may take to arrive, and a kept-alive connection
    /// may stay idle.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
}

/// `IP:PORT`, or `HOST:PORT` resolved (an IPv4 address preferred, so
/// `localhost` is 127.0.0.1).
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let resolved: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| format!("expected IP:PORT or HOST:PORT, such as 127.0.0.1:8080 ({e})"))?
        .collect();
    resolved
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| resolved.first())
        .copied()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let spec = match &args.world {
        Some(path) => WorldSpec::from_file(path)?,
        None => WorldSpec::default(),
    };
    if let Some(url) = &args.webhook_url {
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "invalid --webhook-url `{url}`: expected an http:// or https:// URL"
        );
    }
    let webhook_url = args
        .webhook_url
        .clone()
        .or_else(|| spec.webhook_url.clone());
    let mut config = ServeConfig::new(spec);
    config.seed = args.seed;
    config.policy = args.policy;
    config.clock = args.clock;
    config.webhook_url = args.webhook_url;
    config.trace_path = args.trace;
    config.control_token = args.control_token;
    config.trace_records_max = args.trace_records;
    config.limits = wasim_sim::Limits {
        connections_max: args.connections_max,
        header_read_timeout: std::time::Duration::from_secs(args.header_timeout),
    };
    let runtime =
        wasim_sim::server::server_runtime().context("failed to start the async runtime")?;
    runtime.block_on(wasim_sim::serve(args.addr, config, |addr, state| {
        state.read(|sim| {
            let world = &sim.world;
            let policy = world.policy();
            eprintln!(
                "wasim serving on http://{addr}  seed={} policy={} clock={} recipients={} webhook={}",
                world.seed(),
                policy.profile,
                state.clock_mode(),
                world.recipients().count(),
                webhook_url.as_deref().unwrap_or("none (pass --webhook-url)"),
            );
            eprintln!("  world: curl http://{addr}/_wasim/world   trace: curl http://{addr}/_wasim/trace");
        });
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_a_host_name_or_an_ip() {
        assert_eq!(
            parse_addr("127.0.0.1:8080"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(
            parse_addr("localhost:8081"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8081)))
        );
        let error = parse_addr("localhost").expect_err("no port");
        assert!(error.contains("HOST:PORT"), "{error}");
    }
}
