//! Bench `memory` (no criterion): resident memory per simulated recipient.
//!
//! For 100 000, 1 000 000 and 10 000 000 generated recipients, a child process
//! (this binary again, `--child N`) builds the default world with
//! `recipients.count = N` and reports its resident set (`VmRSS` of
//! `/proc/self/status`) before and after, and its peak (`VmHWM`). One process per
//! size, so memory freed by an earlier world cannot be reused by a later one. The
//! workspace forbids `unsafe`, so there is no counting allocator: RSS deltas are the
//! measure, and the slope between 1M and 10M removes fixed costs.
//!
//! It also prints, for scale, the memory one accepted marketing send adds (message, status timers,
//! conversation, pair bucket) in a 100 000-recipient world.
//!
//! Run: `cargo bench -p wasim-bench --bench memory` (needs about 0.5 GB free: the 10M world peaks at ~310 MiB).

use std::hint::black_box;

use wasim_sim::model::{Command, Reply, SimTime, World, WorldSpec};
use wasim_sim::state::wall_now;

/// The target.
const TARGET_BYTES_PER_RECIPIENT: f64 = 200.0;
/// World sizes measured.
const SIZES: [u32; 3] = [100_000, 1_000_000, 10_000_000];
/// Sends measured by the per-message figure.
const SENDS: usize = 100_000;

/// (`VmRSS`, `VmHWM`) of this process, in bytes.
fn resident() -> (u64, u64) {
    let (rss, peak) = wasim_bench::resident(None);
    assert!(rss > 0, "VmRSS read from /proc/self/status");
    (rss, peak)
}

fn spec(count: u32) -> WorldSpec {
    let mut spec = WorldSpec::default();
    spec.recipients.count = count;
    spec
}

/// Child: builds one world and prints `count rss_before rss_after hwm build_ms`.
fn child(count: u32) {
    let spec = spec(count);
    let (before, _) = resident();
    let start = wall_now();
    let world = World::new(spec, None, None).expect("the world builds");
    let build_ms = wall_now().duration_since(start).as_millis();
    let (after, peak) = resident();
    let recipients = world.recipients().count();
    println!("{recipients} {before} {after} {peak} {build_ms}");
    black_box(world);
}

/// Child: builds a 100k world, sends one marketing template to `SENDS` recipients,
/// and prints `sends rss_before rss_after timers messages`.
fn child_sends() {
    let mut spec = spec(100_000);
    // TIER_100K, so every send is delivered rather than failing with 131048.
    spec.waba.messaging_limit = 100_000;
    let mut world = World::new(spec, None, None).expect("the world builds");
    let recipients = wasim_bench::generated_wa_ids(&world, SENDS);
    let commands: Vec<Command> = recipients
        .iter()
        .map(|to| wasim_bench::graph_send(wasim_bench::spring_sale_body(to)))
        .collect();
    let (before, _) = resident();
    let mut held = 0u64;
    // Each send applies a clone: the commands stay allocated until the end, so
    // memory they would free mid-run cannot hide the world's growth.
    for (index, command) in commands.iter().enumerate() {
        let outcome = world.apply(SimTime::from_ms(index as u64 * 13), command.clone());
        if let Ok(Reply::Sent {
            message_status: Some("held_for_quality_assessment"),
            ..
        }) = outcome.reply
        {
            held += 1;
        }
        black_box(outcome);
    }
    let (after, _) = resident();
    println!(
        "{} {before} {after} {} {} {held}",
        recipients.len(),
        world.timers_pending(),
        world.messages().count()
    );
    black_box(world);
    black_box(commands);
}

fn run_child(args: &[&str]) -> Vec<u64> {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let output = std::process::Command::new(exe)
        .args(args)
        .output()
        .expect("the child runs");
    assert!(
        output.status.success(),
        "the child {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|word| word.parse().expect("the child prints numbers"))
        .collect()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(index) = args.iter().position(|a| a == "--child") {
        let count = args
            .get(index + 1)
            .and_then(|n| n.parse().ok())
            .expect("--child N");
        child(count);
        return;
    }
    if args.iter().any(|a| a == "--child-sends") {
        child_sends();
        return;
    }

    println!("memory: resident bytes per generated recipient (RSS delta of World::new)");
    println!(
        "  {:>10}  {:>10}  {:>10}  {:>10}  {:>9}  {:>12}",
        "recipients", "RSS MiB", "peak MiB", "B/recip.", "build ms", "target"
    );
    let mut points = Vec::new();
    for size in SIZES {
        let row = run_child(&["--child", &size.to_string()]);
        let [recipients, before, after, peak, build_ms] = row[..] else {
            panic!("unexpected child output {row:?}");
        };
        let delta = after.saturating_sub(before);
        let per = delta as f64 / recipients as f64;
        let verdict = if per <= TARGET_BYTES_PER_RECIPIENT {
            "met".to_owned()
        } else {
            format!("missed x{:.1}", per / TARGET_BYTES_PER_RECIPIENT)
        };
        println!(
            "  {recipients:>10}  {:>10.1}  {:>10.1}  {per:>10.1}  {build_ms:>9}  {verdict:>12}",
            mib(delta),
            mib(peak.saturating_sub(before)),
        );
        points.push((recipients, delta));
    }
    if let [.., (n1, m1), (n2, m2)] = points[..] {
        let slope = (m2 as f64 - m1 as f64) / (n2 as f64 - n1 as f64);
        println!(
            "  slope {n1}..{n2}: {slope:.1} B per recipient (target <= {TARGET_BYTES_PER_RECIPIENT})"
        );
    }
    let row = run_child(&["--child-sends"]);
    let [sends, before, after, timers, messages, held] = row[..] else {
        panic!("unexpected child output {row:?}");
    };
    println!(
        "  one marketing send to each of {sends} recipients of a 100k world: +{:.1} MiB, {:.0} B per send ({messages} messages, {held} of them held by pacing, {timers} timers pending)",
        mib(after.saturating_sub(before)),
        after.saturating_sub(before) as f64 / sends as f64,
    );
}
