//! `wasim explore`: property-based exploration with shrinking.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use wasim_conformance::explore::{self, ExploreOptions, ExploreProgress};
use wasim_conformance::runner::RunOptions;
use wasim_reports::{
    Exploration, ExplorationFinding, Outcome, Report, ScenarioReport, Verdict, Volatile,
};

use super::conformance::{IntegrationArgs, options, outcome_word, reference_command, write};

/// Arguments of `wasim explore`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim explore
      explore the bundled reference integration (finds nothing: it is correct)
  wasim explore --flaw resend-after-cap --seed 7
      explore a flawed variant of it; prints the minimal failing timeline
  wasim explore --integration ./bot --cases 100 --budget 900
      explore yours for up to 100 cases or 15 minutes

A failure is shrunk and saved as scenarios/regressions/<check>-<seed>.toml;
replay it with `wasim run FILE --integration ...`.
Exit codes: 0 nothing found, 1 a check broken (saved), 2 harness failure.")]
pub(crate) struct ExploreArgs {
    #[command(flatten)]
    integration: IntegrationArgs,
    /// Explore the bundled reference integration with this flaw (see
    /// `wasim reference-integration --list-flaws`) instead of --integration.
    #[arg(long, value_name = "NAME", conflicts_with = "integration")]
    flaw: Option<String>,
    /// Generated cases to run.
    #[arg(long, value_name = "N", default_value_t = 32)]
    cases: u32,
    /// The generator's seed: the same seed explores the same cases.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Most events in one generated timeline.
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_steps: usize,
    /// Most runs spent shrinking a failure.
    #[arg(long, value_name = "N", default_value_t = 48)]
    shrink_runs: u32,
    /// Wall-time budget in seconds; cases past it are not run.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    budget: u64,
    /// Where a shrunk failure is saved.
    #[arg(long, value_name = "DIR", default_value = "scenarios/regressions")]
    regressions: PathBuf,
}

pub(crate) fn run(args: ExploreArgs) -> anyhow::Result<u8> {
    let mut run_options = options(&args.integration)?;
    if let Some(flaw) = &args.flaw {
        run_options.integration = reference_command(Some(flaw))?;
        run_options.integration_label = format!("wasim reference-integration --flaw {flaw}");
    }
    let settings = ExploreOptions {
        cases: args.cases.max(1),
        seed: args.seed,
        steps_max: args.max_steps.clamp(1, 64),
        shrink_runs: args.shrink_runs,
        budget: Duration::from_secs(args.budget.max(1)),
    };
    let replay_integration = match &args.flaw {
        Some(flaw) => format!(" --integration 'wasim reference-integration --flaw {flaw}'"),
        None => args
            .integration
            .integration
            .as_ref()
            .map(|i| format!(" --integration '{i}'"))
            .unwrap_or_default(),
    };
    let (scenarios, summary, harness_errors) = explore_and_save(
        &run_options,
        &settings,
        &args.regressions,
        &replay_integration,
    )?;
    // A finding is a violation; with none, a case that ended in a harness error
    // (or an integration that never started) is a harness failure, and
    // otherwise nothing was found.
    let verdict = if !scenarios.is_empty() {
        Report::verdict_of(&scenarios)
    } else if harness_errors > 0 {
        Verdict::HarnessFailure
    } else {
        Verdict::Certified
    };
    let report = Report {
        format_version: wasim_reports::FORMAT_VERSION,
        tool: format!("wasim {}", env!("CARGO_PKG_VERSION")),
        command: "explore".to_owned(),
        integration: run_options.integration_label.clone(),
        partition: "1/1".to_owned(),
        verdict,
        coverage: wasim_conformance::runner::catalog_coverage(&scenarios),
        scenarios,
        exploration: Some(summary),
        volatile: Volatile::default(),
    };
    let written = write(&report, &run_options.out_dir)?;
    eprintln!(
        "Reports: {}",
        written
            .first()
            .map_or_else(String::new, |p| p.display().to_string())
    );
    Ok(verdict.exit_code())
}

/// Explores with progress lines, saves a shrunk failure under `regressions`, and
/// returns the failure's report entry (if any), the report's exploration summary
/// and the number of harness errors. `replay_integration` is appended to the
/// printed replay command.
pub(crate) fn explore_and_save(
    run_options: &RunOptions,
    settings: &ExploreOptions,
    regressions: &Path,
    replay_integration: &str,
) -> anyhow::Result<(Vec<ScenarioReport>, Exploration, u32)> {
    eprintln!(
        "wasim explore: seed {}, {} case(s) of up to {} event(s), against {}",
        settings.seed, settings.cases, settings.steps_max, run_options.integration_label
    );
    let exploration = explore::explore(run_options, settings, |event| match event {
        ExploreProgress::Case(number, family, report, None) => {
            let reason = match (report.outcome, &report.reason) {
                (Outcome::Passed, _) | (_, None) => String::new(),
                (_, Some(reason)) => format!(": {reason}"),
            };
            eprintln!(
                "  case {number:>3} ({:<12}): {}{reason}",
                family.name(),
                outcome_word(report.outcome)
            );
        }
        ExploreProgress::Case(number, family, _, Some(check)) => {
            eprintln!(
                "  case {number:>3} ({:<12}): breaks {check}; shrinking",
                family.name()
            );
        }
        ExploreProgress::Shrink(number, steps) => {
            if number % 8 == 1 {
                eprintln!("  shrinking run {number:>3}: {steps} step(s)");
            }
        }
        ExploreProgress::Stopping(reason) => {
            eprintln!("stopping: {reason}");
        }
    })?;
    eprintln!(
        "Integration processes started: {}; cases run on one reset through POST /wasim/reset: {}.",
        exploration.integration_starts, exploration.resets
    );
    let mut scenarios = Vec::new();
    let finding = match &exploration.finding {
        None => None,
        Some(finding) => {
            let file = explore::save(finding, settings.seed, regressions)?;
            eprintln!(
                "\nBreaks {}: {}\nMinimal timeline ({} step(s), shrunk from {}):\n{}",
                finding.check,
                finding.message,
                finding.scenario.steps.len(),
                finding.steps_found,
                finding.scenario.explain()
            );
            let replay = format!("wasim run {}{replay_integration}", file.display());
            eprintln!("Saved {}\nReplay: {replay}", file.display());
            scenarios.push(finding.report.clone());
            Some(ExplorationFinding {
                check: finding.check.clone(),
                scenario: finding.scenario.name.clone(),
                steps_found: finding.steps_found,
                steps_minimal: finding.scenario.steps.len(),
                file: Some(file.display().to_string()),
                replay,
            })
        }
    };
    if let Some(reason) = &exploration.stopped {
        eprintln!("Exploration stopped: {reason}.");
    } else if exploration.finding.is_none() {
        eprintln!(
            "No generated case broke a must check ({} case(s), seed {}{}{}).",
            exploration.cases_run,
            exploration.seed,
            if exploration.harness_errors > 0 {
                format!(", {} harness error(s)", exploration.harness_errors)
            } else {
                String::new()
            },
            if exploration.out_of_time {
                ", budget spent"
            } else {
                ""
            }
        );
    }
    let summary = Exploration {
        seed: exploration.seed,
        cases: exploration.cases_run,
        shrink_runs: exploration.shrink_runs,
        harness_errors: exploration.harness_errors,
        finding,
    };
    Ok((scenarios, summary, exploration.harness_errors))
}
