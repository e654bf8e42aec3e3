//! What `wasim run` and `wasim certify` share: the integration to judge, progress
//! on the terminal or plain lines in CI, and writing the reports.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use wasim_conformance::Scenario;
use wasim_conformance::library::Partition;
use wasim_conformance::runner::{self, Progress, RunOptions};
use wasim_reports::{Outcome, Report, Verdict};

/// Options shared by `run` and `certify`.
#[derive(Debug, Args)]
pub(crate) struct IntegrationArgs {
    /// The integration's command line (run with `sh -c`). Default: the bundled
    /// correct reference integration.
    #[arg(long, value_name = "CMD")]
    pub(crate) integration: Option<String>,
    /// Where to write the reports and artifacts.
    #[arg(long, value_name = "DIR", default_value = "reports/out")]
    pub(crate) out: PathBuf,
    /// How long the integration may take to listen on $WASIM_WEBHOOK_PORT, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub(crate) start_timeout: u64,
    /// How long the integration must be quiet (no API call, no webhook) before the
    /// next step, in milliseconds. Raise it for an integration that acts slowly.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub(crate) settle_ms: u64,
    /// Scenarios played at once, each with its own platform and integration
    /// process. Default: 2 for the bundled reference integration, 1 for yours
    /// (two processes of it may share a database or a file).
    #[arg(long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
}

/// The command that runs the bundled reference integration (optionally flawed).
pub(crate) fn reference_command(flaw: Option<&str>) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the wasim executable")?;
    let mut command = format!(
        "{} reference-integration",
        shell_quote(&exe.display().to_string())
    );
    if let Some(flaw) = flaw {
        command.push_str(&format!(" --flaw {}", shell_quote(flaw)));
    }
    Ok(command)
}

fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Run options from the arguments.
pub(crate) fn options(args: &IntegrationArgs) -> anyhow::Result<RunOptions> {
    let (command, label) = match &args.integration {
        Some(command) => (command.clone(), command.clone()),
        None => (
            reference_command(None)?,
            "the bundled reference integration (wasim reference-integration)".to_owned(),
        ),
    };
    let mut options = RunOptions::new(command, args.out.clone());
    options.integration_label = label;
    options.start_timeout = std::time::Duration::from_secs(args.start_timeout.max(1));
    options.quiet = std::time::Duration::from_millis(args.settle_ms.clamp(10, 10_000));
    let default_jobs = if args.integration.is_none() { 2 } else { 1 };
    options.jobs = args.jobs.unwrap_or(default_jobs).clamp(1, 16);
    Ok(options)
}

/// Runs the scenarios with progress (on stderr), writes every report format,
/// prints the verdict summary (on stdout) and returns the verdict. `origin`
/// says where the scenarios came from, on the first line.
pub(crate) fn run_and_report(
    scenarios: &[Scenario],
    origin: Option<&str>,
    options: &RunOptions,
    command: &str,
    partition: Partition,
    after: impl FnOnce(&mut Report) -> anyhow::Result<()>,
) -> anyhow::Result<Verdict> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    let count = scenarios
        .iter()
        .enumerate()
        .filter(|(position, _)| partition.contains(*position))
        .count();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(count as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    eprintln!(
        "wasim {command}: {count} scenario(s){} against {}",
        origin.map(|o| format!(" ({o})")).unwrap_or_default(),
        options.integration_label
    );
    let report = runtime.block_on(runner::run_all(
        scenarios,
        options,
        command,
        partition,
        |event| match (&bar, event) {
            (Some(bar), Progress::Started(_, _, name)) => bar.set_message(name.to_owned()),
            (Some(bar), Progress::Finished(report)) => {
                bar.inc(1);
                if !matches!(report.outcome, Outcome::Passed | Outcome::NotRun) {
                    bar.println(line(report));
                }
            }
            (Some(bar), Progress::Stopping(reason, stderr)) => {
                bar.println(stopping(reason, stderr));
            }
            (None, Progress::Started(..)) => {}
            (None, Progress::Finished(report)) => {
                if report.outcome != Outcome::NotRun {
                    eprintln!("{}", line(report));
                }
            }
            (None, Progress::Stopping(reason, stderr)) => {
                eprintln!("{}", stopping(reason, stderr));
            }
        },
    ));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut report = report;
    after(&mut report)?;
    let written = write(&report, &options.out_dir)?;
    summarize(&report, &written, command);
    Ok(report.verdict)
}

/// The one line that says the run stops because the integration never started,
/// with the path of the stderr it left.
fn stopping(reason: &str, stderr: Option<&Path>) -> String {
    let reason = reason.strip_prefix("not run: ").unwrap_or(reason);
    let reason = reason.split("; its stderr is ").next().unwrap_or(reason);
    let stderr = stderr
        .map(|path| format!("; its stderr: {}", path.display()))
        .unwrap_or_default();
    format!("stopping: {reason}{stderr}; the remaining scenarios are not run")
}

fn line(report: &wasim_reports::ScenarioReport) -> String {
    let outcome = outcome_word(report.outcome);
    let mut text = format!("  {:<34} {outcome}", report.name);
    for check in &report.checks {
        if check.status == wasim_reports::CheckStatus::Fail {
            text.push_str(&format!(
                "\n      {} {}: {}",
                check.id, check.rule, check.message
            ));
        }
    }
    if let Some(reason) = &report.reason {
        text.push_str(&format!("\n      {reason}"));
    }
    text
}

/// Writes the four formats into `dir`.
pub(crate) fn write(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    wasim_reports::write_all(report, dir)
        .with_context(|| format!("cannot write the reports into {}", dir.display()))
}

/// A scenario outcome as the console writes it (failures in capitals).
pub(crate) fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "FAILED",
        Outcome::Skipped => "skipped (not judged)",
        Outcome::NotExercised => "not exercised",
        Outcome::NotRun => "not run",
        Outcome::HarnessError => "HARNESS ERROR",
    }
}

/// The verdict summary, on stdout: what CI logs and scripts read. Progress and
/// per-scenario lines went to stderr.
fn summarize(report: &Report, written: &[PathBuf], command: &str) {
    let count = |outcome| {
        report
            .scenarios
            .iter()
            .filter(|s| s.outcome == outcome)
            .count()
    };
    let verdict = match report.verdict {
        Verdict::Certified if command == "certify" => "CERTIFIED",
        Verdict::Certified => "PASSED",
        Verdict::Violations => "VIOLATIONS",
        Verdict::HarnessFailure => "HARNESS FAILURE",
        Verdict::NothingJudged => "NOTHING JUDGED",
    };
    println!(
        "{verdict}: {} passed, {} failed, {} skipped, {} not exercised, {} not run, {} harness error(s)",
        count(Outcome::Passed),
        count(Outcome::Failed),
        count(Outcome::Skipped),
        count(Outcome::NotExercised),
        count(Outcome::NotRun),
        count(Outcome::HarnessError),
    );
    let never: Vec<&str> = report.unexercised().map(|c| c.id.as_str()).collect();
    if never.is_empty() {
        println!(
            "checks: every one of the {} was exercised at least once",
            report.coverage.len()
        );
    } else {
        println!(
            "checks never exercised ({} of {}): {}",
            never.len(),
            report.coverage.len(),
            never.join(", ")
        );
    }
    for path in written {
        println!("  {}", path.display());
    }
}
