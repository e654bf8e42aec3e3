//! Bench `soak` (no criterion): `wasim serve` at full speed for ten minutes,
//! its resident memory sampled as it goes. What must hold: memory plateaus.
//! The trace keeps a bounded window of records (`--trace-records`), messages
//! whose statuses are final are forgotten past `limits.messages_kept`, and
//! pair buckets are swept, so a long load test cannot grow the process without
//! bound; `POST /_wasim/reset` frees the rest.
//!
//! The server runs in a child process (this binary again, `--child`): the
//! built-in world with 100,000 generated recipients and the numbers' throughput
//! limit lifted (as `wasim bench --self`), on `wasim serve`'s own runtime, on a
//! real-time clock so status timers fire as they would. The parent drives 64
//! keep-alive connections sending marketing template `spring_sale` to the
//! recipients in turn, and every sample period reads the child's `VmRSS` and
//! `VmHWM` from `/proc/<pid>/status`. At the end it resets the world and reads
//! them once more.
//!
//! Run: `cargo bench -p wasim-bench --bench soak` (10 minutes). Shorter or longer:
//! `WASIM_SOAK_SECONDS=120`, sampled every `WASIM_SOAK_SAMPLE_SECONDS` (15).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use wasim_bench::load::{self, Load};
use wasim_bench::selfbench::{bench_world, template_sends};
use wasim_sim::model::World;
use wasim_sim::server::{server_runtime, start};
use wasim_sim::state::{ServeConfig, wall_now};
use wasim_sim::{ClockMode, WorldSpec};

/// Generated recipients of the served world.
const RECIPIENTS: u32 = 100_000;
/// Keep-alive connections of the load.
const CONNECTIONS: usize = 64;

fn spec() -> WorldSpec {
    bench_world(WorldSpec::default(), RECIPIENTS)
}

fn seconds(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// Child: serves the world on loopback, prints its address, and serves until
/// its stdin closes.
fn child() {
    let mut config = ServeConfig::new(spec());
    config.clock = ClockMode::Real;
    let runtime = server_runtime().expect("the server's runtime starts");
    let running = runtime
        .block_on(start(([127, 0, 0, 1], 0).into(), config))
        .expect("the simulated platform starts");
    println!("{}", running.addr);
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let _ = runtime.block_on(running.stop());
}

/// (`VmRSS`, `VmHWM`) of `pid`, in MiB.
fn resident(pid: u32) -> (f64, f64) {
    let (rss, peak) = wasim_bench::resident(Some(pid));
    (rss as f64 / 1048576.0, peak as f64 / 1048576.0)
}

fn main() {
    if std::env::args().any(|arg| arg == "--child") {
        child();
        return;
    }
    let total = Duration::from_secs(seconds("WASIM_SOAK_SECONDS", 600));
    let sample = Duration::from_secs(seconds("WASIM_SOAK_SAMPLE_SECONDS", 15));
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut server = Command::new(exe)
        .arg("--child")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server process starts");
    let pid = server.id();
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("the child's stdout"))
        .read_line(&mut line)
        .expect("the server prints its address");
    let addr: SocketAddr = line.trim().parse().expect("an address");
    // The same world, built here too, names the recipients in the same order.
    let world = World::new(spec(), None, None).expect("the world builds");
    let recipients: Vec<String> = world
        .recipients()
        .filter(|r| !r.opted_out())
        .map(|r| r.wa_id())
        .collect();
    drop(world);
    let (workload, posts) = template_sends(&spec(), &recipients).expect("the sends");
    let posts = Arc::new(posts);
    let loader = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the load generator's runtime");
    let (rss0, _) = resident(pid);
    println!(
        "soak: {workload}\n{CONNECTIONS} connections, {} s, sampled every {} s; the server's RSS at start {rss0:.0} MiB\n",
        total.as_secs(),
        sample.as_secs()
    );
    println!("| t (s) | sends so far | sends/s | non-200 | RSS (MiB) | peak (MiB) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let started = wall_now();
    let mut sent = 0u64;
    let mut samples = Vec::new();
    while wall_now().duration_since(started) < total {
        let measured = loader.block_on(load::run(&Load {
            addr,
            posts: posts.clone(),
            connections: CONNECTIONS,
            warmup: Duration::ZERO,
            duration: sample,
        }));
        sent += measured.requests;
        let not_ok: u64 = measured
            .answers
            .iter()
            .filter(|(kind, _)| kind.as_str() != "200")
            .map(|(_, count)| count)
            .sum();
        let (rss, peak) = resident(pid);
        let at = wall_now().duration_since(started).as_secs();
        println!(
            "| {at} | {sent} | {:.0} | {not_ok} | {rss:.0} | {peak:.0} |",
            measured.summary().requests_per_s
        );
        samples.push(rss);
    }
    let reset = loader.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .ok()?
            .post(format!("http://{addr}/_wasim/reset"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .ok()
            .map(|answer| answer.status().as_u16())
    });
    std::thread::sleep(Duration::from_secs(2));
    let (after_reset, peak) = resident(pid);
    drop(server.stdin.take());
    let _ = server.wait();
    let half = samples.len() / 2;
    let (middle, last) = (
        samples.get(half).copied().unwrap_or(0.0),
        samples.last().copied().unwrap_or(0.0),
    );
    let growth = if middle > 0.0 {
        (last / middle - 1.0) * 100.0
    } else {
        0.0
    };
    println!(
        "\n{sent} sends. RSS at half time {middle:.0} MiB, at the end {last:.0} MiB ({growth:+.1} % over the second half), peak {peak:.0} MiB; after POST /_wasim/reset ({}) {after_reset:.0} MiB.",
        reset.map_or_else(|| "no answer".to_owned(), |status| status.to_string())
    );
    println!(
        "{}",
        if growth <= 5.0 {
            "Plateau: the second half grew 5 % or less."
        } else {
            "NO PLATEAU: memory still grows in the second half."
        }
    );
}
