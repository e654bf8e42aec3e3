//! `wasim certify`: the whole scenario library against one integration.

use std::path::{Path, PathBuf};

use clap::Args;
use wasim_conformance::Scenario;
use wasim_conformance::explore::ExploreOptions;
use wasim_conformance::library::{self, Partition};
use wasim_reports::Outcome;

use super::conformance::{IntegrationArgs, options, run_and_report};
use super::explore::explore_and_save;

/// Where saved regressions are looked for with the built-in library.
const REGRESSIONS_DEFAULT: &str = "scenarios/regressions";

/// Arguments of `wasim certify`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim certify
      certify the bundled reference integration (shows the whole product)
  wasim certify --integration 'node server.js' --out reports/out
      certify yours; reports in JSON, Markdown, JUnit XML and HTML
  wasim certify --integration ./bot --partition 2/4
      the second of four slices, for a CI matrix; join them with `wasim report merge`
  wasim certify --explore-cases 50 --explore-seed 9
      a longer property-based exploration after the library

Saved exploration failures run first: with the built-in library, its own saved
regressions (built in) and any others in ./scenarios/regressions; with
--scenarios DIR, those in DIR/regressions. The first line says how many came
from where. Then --explore-cases generated cases (8 by default) are explored,
and a new failure is saved in that regressions folder.

Exit codes: 0 certified, 1 violations, 2 harness or integration failure (or
nothing judged: no scenario passed).")]
pub(crate) struct CertifyArgs {
    #[command(flatten)]
    integration: IntegrationArgs,
    /// Run only slice K of N of the library (round robin, deterministic).
    #[arg(long, value_name = "K/N", default_value = "1/1")]
    partition: Partition,
    /// A scenario library directory instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Saved exploration failures on disk, run before the library when the
    /// directory exists; exploration saves a new one there. Default: DIR/regressions
    /// with --scenarios DIR, else ./scenarios/regressions (besides the built-in ones).
    #[arg(long, value_name = "DIR")]
    regressions: Option<PathBuf>,
    /// Generated cases explored after the library (0: none). Only the first slice
    /// of a partitioned certification explores.
    #[arg(long, value_name = "N", default_value_t = 8)]
    explore_cases: u32,
    /// The exploration's seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    explore_seed: u64,
}

/// The scenarios to certify with, in order (saved regressions first), the
/// regressions folder on disk, and where they came from, in words.
fn scenarios(args: &CertifyArgs) -> anyhow::Result<(Vec<Scenario>, PathBuf, String)> {
    let dir = match (&args.regressions, &args.scenarios) {
        (Some(dir), _) => dir.clone(),
        (None, Some(library)) => library.join("regressions"),
        (None, None) => PathBuf::from(REGRESSIONS_DEFAULT),
    };
    let mut scenarios = Vec::new();
    let mut parts = Vec::new();
    if args.scenarios.is_none() {
        let built_in = library::builtin_regressions()?;
        parts.push(format!("{} built-in saved regression(s)", built_in.len()));
        scenarios.extend(built_in);
    }
    let on_disk = saved_on_disk(&dir)?;
    parts.push(match (on_disk.len(), dir.is_dir()) {
        (_, false) => format!("no folder {}", dir.display()),
        (count, true) if args.scenarios.is_none() => {
            format!("{count} more saved regression(s) in {}", dir.display())
        }
        (count, true) => format!("{count} saved regression(s) in {}", dir.display()),
    });
    scenarios.extend(on_disk);
    let library = match &args.scenarios {
        Some(library_dir) => {
            let found = library::load(std::slice::from_ref(library_dir))?;
            // A regressions folder inside the library was loaded above.
            let found: Vec<Scenario> = found
                .into_iter()
                .filter(|s| !s.file.starts_with(&dir))
                .collect();
            parts.push(format!(
                "{} from the library in {}",
                found.len(),
                library_dir.display()
            ));
            found
        }
        None => {
            let found = library::builtin()?;
            parts.push(format!("{} from the built-in library", found.len()));
            found
        }
    };
    scenarios.extend(library);
    Ok((scenarios, dir, parts.join(", ")))
}

/// The saved regressions in `dir` that are not built-in ones (none when it
/// does not exist).
fn saved_on_disk(dir: &Path) -> anyhow::Result<Vec<Scenario>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let files: Vec<PathBuf> = library::files(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|file| !library::is_builtin_regression(file))
        .collect();
    Ok(library::load(&files)?)
}

pub(crate) fn run(args: CertifyArgs) -> anyhow::Result<u8> {
    let (scenarios, regressions, origin) = scenarios(&args)?;
    let options = options(&args.integration)?;
    let explore = args.explore_cases > 0 && args.partition.is_first();
    let settings = ExploreOptions {
        cases: args.explore_cases,
        seed: args.explore_seed,
        ..ExploreOptions::default()
    };
    let replay = args
        .integration
        .integration
        .as_ref()
        .map(|i| format!(" --integration '{i}'"))
        .unwrap_or_default();
    let verdict = run_and_report(
        &scenarios,
        Some(&origin),
        &options,
        "certify",
        args.partition,
        |report| {
            if !explore {
                return Ok(());
            }
            if report
                .scenarios
                .iter()
                .any(|s| s.outcome == Outcome::NotRun)
            {
                eprintln!("not exploring: the integration never started");
                return Ok(());
            }
            eprintln!();
            let (found, summary, _) = explore_and_save(&options, &settings, &regressions, &replay)?;
            report.scenarios.extend(found);
            report.exploration = Some(summary);
            report.recount();
            Ok(())
        },
    )?;
    Ok(verdict.exit_code())
}
