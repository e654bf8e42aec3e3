//! `wasim bench`: send-path load, of wasim itself (`--self`) or of an
//! integration's campaign (`--integration CMD`, default the bundled reference).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use wasim_bench::integration::{self, BenchProgress, IntegrationOptions, IntegrationReport};
use wasim_bench::load::{Percentiles, Summary};
use wasim_bench::selfbench::{self, SelfOptions, SelfProgress, SelfReport};
use wasim_sim::WorldSpec;

use super::conformance::reference_command;
use crate::exit_code;

/// Arguments of `wasim bench`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim bench --self
      wasim serve under keep-alive load on loopback, then a bare axum handler
      under the same load: requests/s, latency percentiles, answers, the ratio
  wasim bench
      the bundled reference integration sends a 1,000-recipient campaign
  wasim bench --integration './my-bot' --recipients 5000
      yours: messages/s, time to accept, and how it backs off when throttled
  wasim bench --flaw hot-loop-rate
      the reference integration without its backoff: immediate retries

Build with --release (cargo run --release -- bench ...): a debug build measures
the debug build. Reports: <out>/bench.json and <out>/bench.md.
Exit codes: 0 measured, 2 harness or integration failure, 130/143 interrupted by
SIGINT/SIGTERM (the integration stopped, no report).")]
pub(crate) struct BenchArgs {
    /// Bench wasim itself instead of an integration.
    #[arg(long = "self", conflicts_with = "integration")]
    self_: bool,
    /// The integration's command line (run with `sh -c`); it must have the
    /// driver hook's `send_campaign` action. Default: the bundled reference
    /// integration.
    #[arg(long, value_name = "CMD")]
    integration: Option<String>,
    /// Bench the bundled reference integration with this flaw (see `wasim
    /// reference-integration --list-flaws`), e.g. `hot-loop-rate`, to see what
    /// a missing backoff looks like.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["integration", "self_"])]
    flaw: Option<String>,
    /// The world (default: the built-in one).
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// Recipients: the campaign's size (default 1000), or with --self the
    /// recipients the sends rotate through (default 100000).
    #[arg(long, value_name = "N")]
    recipients: Option<u32>,
    /// With --self: measured seconds per target, after 1 s of warm-up (the whole
    /// run takes about twice this plus a few seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    duration: u64,
    /// With --self: concurrent keep-alive connections.
    #[arg(long, value_name = "N", default_value_t = 64)]
    connections: usize,
    /// With an integration: how long without a send ends the campaign.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    quiet_ms: u64,
    /// With an integration: the longest the campaign may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    timeout: u64,
    /// Where to write bench.json and bench.md (and, for an integration, its
    /// trace and output under artifacts/bench/).
    #[arg(long, value_name = "DIR", default_value = "reports/bench")]
    out: PathBuf,
}

/// What `bench.json` holds.
#[derive(Debug, Serialize)]
#[serde(tag = "bench", rename_all = "snake_case")]
enum Written<'a> {
    /// `--self`.
    #[serde(rename = "self")]
    SelfBench(&'a SelfReport),
    /// An integration.
    Integration(&'a IntegrationReport),
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<u8> {
    let world = match &args.world {
        Some(path) => WorldSpec::from_file(path)?,
        None => WorldSpec::default(),
    };
    anyhow::ensure!(args.duration >= 1, "--duration must be at least 1 second");
    anyhow::ensure!(args.connections >= 1, "--connections must be at least 1");
    anyhow::ensure!(
        args.recipients != Some(0),
        "--recipients must be at least 1"
    );
    if args.self_ {
        bench_self(&args, world)
    } else {
        bench_integration(&args, world)
    }
}

fn spinner() -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

fn bench_self(args: &BenchArgs, world: WorldSpec) -> anyhow::Result<u8> {
    let mut options = SelfOptions::new(world);
    options.duration = Duration::from_secs(args.duration);
    options.connections = args.connections;
    if let Some(recipients) = args.recipients {
        options.recipients = recipients;
    }
    eprintln!(
        "wasim bench --self: {} connections, {} s per target after {} s of warm-up",
        options.connections,
        options.duration.as_secs(),
        options.warmup.as_secs()
    );
    let bar = spinner();
    let report = selfbench::run(&options, |step| {
        let text = match step {
            SelfProgress::Building => "building the world",
            SelfProgress::Wasim => "loading wasim serve",
            SelfProgress::Ceiling => "loading the bare axum handler (the ceiling)",
        };
        match &bar {
            Some(bar) => bar.set_message(text),
            None => eprintln!("  {text}"),
        }
    })
    .map_err(anyhow::Error::msg)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let markdown = self_markdown(&report);
    print!("{markdown}");
    write(&args.out, &Written::SelfBench(&report), &markdown)?;
    Ok(exit_code::OK)
}

fn bench_integration(args: &BenchArgs, world: WorldSpec) -> anyhow::Result<u8> {
    let (command, label) = match (&args.integration, &args.flaw) {
        (Some(command), _) => (command.clone(), command.clone()),
        (None, Some(flaw)) => {
            anyhow::ensure!(
                wasim_reference::Flaw::ALL.iter().any(|f| f.name() == flaw),
                "unknown flaw `{flaw}`: `wasim reference-integration --list-flaws` lists them"
            );
            (
                reference_command(Some(flaw))?,
                format!("the bundled reference integration with flaw {flaw}"),
            )
        }
        (None, None) => (
            reference_command(None)?,
            "the bundled reference integration (wasim reference-integration)".to_owned(),
        ),
    };
    let mut options = IntegrationOptions::new(command, world, args.out.clone());
    options.label = label;
    options.recipients = args.recipients.unwrap_or(1_000) as usize;
    options.quiet = Duration::from_millis(args.quiet_ms.max(100));
    options.timeout = Duration::from_secs(args.timeout.max(1));
    options.interrupt = crate::signals::interrupt()?;
    eprintln!(
        "wasim bench: a {}-recipient campaign through the driver hook of {}",
        options.recipients, options.label
    );
    let bar = spinner();
    let report = integration::run(&options, |step| {
        let text = match step {
            BenchProgress::Starting => "waiting for the integration to listen".to_owned(),
            BenchProgress::Sending(accepted, all) => format!("{accepted}/{all} accepted"),
        };
        if let Some(bar) = &bar {
            bar.set_message(text);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match (report, options.interrupt.raised()) {
        (Ok(report), _) => report,
        (Err(error), Some(signal)) => {
            eprintln!("wasim bench: {error}");
            return Ok(signal.exit_code());
        }
        (Err(error), None) => return Err(anyhow::Error::msg(error)),
    };
    let markdown = integration_markdown(&report);
    print!("{markdown}");
    write(&args.out, &Written::Integration(&report), &markdown)?;
    Ok(exit_code::OK)
}

fn write(out: &Path, report: &Written<'_>, markdown: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let json = serde_json::to_string_pretty(report).context("cannot serialise the report")?;
    for (name, text) in [
        ("bench.json", json + "\n"),
        ("bench.md", markdown.to_owned()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("  {}", path.display());
    }
    Ok(())
}

fn percentiles(p: &Percentiles, unit: &str) -> String {
    format!(
        "p50 {} {unit}, p90 {} {unit}, p99 {} {unit}, p99.9 {} {unit}, max {} {unit}",
        p.p50, p.p90, p.p99, p.p999, p.max
    )
}

fn answers(summary: &Summary) -> String {
    let mut text = summary
        .answers
        .iter()
        .map(|(kind, count)| format!("{kind}: {count}"))
        .collect::<Vec<_>>()
        .join(", ");
    if summary.transport_errors > 0 {
        let _ = write!(text, ", transport errors: {}", summary.transport_errors);
    }
    text
}

fn self_markdown(report: &SelfReport) -> String {
    let mut text = format!("# wasim bench --self\n\nWorkload: {}.\n", report.workload);
    let _ = writeln!(
        text,
        "{} keep-alive connections, {} logical CPUs, load generator on the same machine.\n",
        report.connections, report.cpus
    );
    let _ = writeln!(text, "| target | requests/s | latency | answers |");
    let _ = writeln!(text, "|---|---:|---|---|");
    for (name, summary) in [
        ("wasim serve", &report.wasim),
        ("bare axum JSON handler", &report.ceiling),
    ] {
        let _ = writeln!(
            text,
            "| {name} | {:.0} | {} | {} |",
            summary.requests_per_s,
            percentiles(&summary.latency_us, "µs"),
            answers(summary)
        );
    }
    let _ = writeln!(
        text,
        "\nwasim serve reaches {:.2}x the bare handler's requests/s in the same run.",
        report.ratio
    );
    text
}

fn integration_markdown(report: &IntegrationReport) -> String {
    let mut text = format!(
        "# wasim bench --integration\n\nIntegration: {}\n",
        report.integration
    );
    let _ = writeln!(
        text,
        "Campaign: `{}` to {} recipients through the driver hook (send_campaign); real-time clock, throughput limit {} messages/s. Ended: {}.\n",
        report.template, report.recipients, report.throughput_limit_mps, report.ended
    );
    let t = &report.throttling;
    let rows = [
        (
            "accepted",
            format!("{} of {}", report.accepted, report.recipients),
        ),
        ("messages/s", format!("{:.1}", report.messages_per_s)),
        (
            "campaign time",
            format!("{:.2} s (action to last accepted send)", report.seconds),
        ),
        ("action answered in", format!("{} ms", report.ack_ms)),
        (
            "first send after",
            report
                .first_send_ms
                .map_or("no send".to_owned(), |ms| format!("{ms} ms")),
        ),
        (
            "time to accept",
            report
                .time_to_accept_ms
                .as_ref()
                .map_or("none accepted".to_owned(), |p| percentiles(p, "ms")),
        ),
        ("send requests", report.send_requests.to_string()),
        (
            "answers",
            report
                .answers
                .iter()
                .map(|(kind, count)| format!("{kind}: {count}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("130429 (throughput)", t.rate_limited.to_string()),
        ("131056 (pair rate)", t.pair_limited.to_string()),
        (
            "throttled sends retried",
            format!("{} ({} within 10 ms)", t.retried, t.immediate_retries),
        ),
        (
            "backoff observed",
            t.backoff_ms
                .as_ref()
                .map_or("no retry".to_owned(), |p| percentiles(p, "ms")),
        ),
        ("throttled, never accepted", t.abandoned.to_string()),
        ("peak sends in one second", t.peak_sends_per_s.to_string()),
    ];
    let _ = writeln!(text, "| measure | value |");
    let _ = writeln!(text, "|---|---|");
    for (name, value) in rows {
        let _ = writeln!(text, "| {name} | {value} |");
    }
    text
}
