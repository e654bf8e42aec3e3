//! Property-based exploration: proptest strategies generate scenario timelines
//! on the default world (user messages, ecosystem marketing, clock advances,
//! webhook faults, template incidents, token resets and driver actions), each
//! case runs against the integration like a library scenario, and the first case
//! that breaks a `must` check is shrunk, with that check held fixed, to a
//! minimal timeline that is saved as a scenario file anyone can replay with
//! `wasim run`.
//!
//! The same seed explores the same cases: the strategies draw from a ChaCha
//! generator seeded from it. Steps pick recipients, templates and numbers from
//! fixed pools of the default world, so every shrunk step is still valid.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{Value, json};
use wasim_reports::{CheckStatus, Outcome, ScenarioReport, Severity};
use wasim_sim::model::webhooks::faults::FaultProfile;
use wasim_sim::model::{InboundContent, TemplateControl};
use wasim_sim::shell::wall_now;

use crate::runner::{RunOptions, run_scenario};
use crate::scenario::{Scenario, Step};

/// Named recipients of the default world.
const USERS: &[&str] = &[
    "5511987654321",
    "919812345678",
    "14155550123",
    "4915112345678",
    "905321234567",
];

/// Magic recipients whose outcome is fixed (capped, opted out, undeliverable).
const MAGIC: &[&str] = &["999131049", "999131050", "999131049", "999131026"];

/// How one exploration runs.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// Cases to generate (before shrinking).
    pub cases: u32,
    /// The seed of the generator.
    pub seed: u64,
    /// Most steps in one generated timeline.
    pub steps_max: usize,
    /// Most runs spent shrinking a failure.
    pub shrink_runs: u32,
    /// Wall-time budget; cases past it are not run.
    pub budget: Duration,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            cases: 24,
            seed: 1,
            steps_max: 8,
            shrink_runs: 48,
            budget: Duration::from_secs(600),
        }
    }
}

/// A broken rule found by exploration, shrunk.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The check it breaks.
    pub check: String,
    /// The check's message on the minimal case.
    pub message: String,
    /// The minimal scenario.
    pub scenario: Scenario,
    /// Steps of the case first found, before shrinking.
    pub steps_found: usize,
    /// Its report entry.
    pub report: ScenarioReport,
}

/// What an exploration did.
#[derive(Debug, Clone)]
pub struct Exploration {
    /// The seed.
    pub seed: u64,
    /// Cases run before the failure (or all of them).
    pub cases_run: u32,
    /// Runs spent shrinking.
    pub shrink_runs: u32,
    /// Cases that ended in a harness error (crash, hang), not judged.
    pub harness_errors: u32,
    /// The failure, shrunk; none when every case passed.
    pub finding: Option<Finding>,
    /// Whether the wall-time budget ran out.
    pub out_of_time: bool,
}

/// What the caller hears while exploring.
#[derive(Debug, Clone)]
pub enum ExploreProgress<'a> {
    /// A case ran: its number (from 1) and whether a `must` check failed.
    Case(u32, Option<&'a str>),
    /// A shrinking run: its number and the steps left.
    Shrink(u32, usize),
}

fn template(name: &str) -> Value {
    if name == "order_update" {
        json!({"name": name, "language": "en_US", "parameters": ["A-1"]})
    } else {
        json!({"name": name, "language": "en_US"})
    }
}

fn user() -> impl Strategy<Value = String> {
    prop::sample::select(USERS).prop_map(str::to_owned)
}

fn anyone() -> impl Strategy<Value = String> {
    prop_oneof![3 => user(), 2 => prop::sample::select(MAGIC).prop_map(str::to_owned)]
}

fn template_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["spring_sale", "order_update"][..])
}

fn send_template_step(to: &str, name: &str) -> Step {
    Step::Action(json!({"action": "send_template", "to": to, "template": template(name)}))
}

fn minute() -> Step {
    Step::Advance { ms: 60_000 }
}

/// One generated event: a single step, or a short story of steps that belong
/// together (a user capped by other businesses and then messaged, a user who
/// writes STOP and then gets marketing, a fault phase around some traffic, a
/// token reset in the middle of sending). Shrinking drops whole events and
/// simplifies the values inside them.
fn event() -> impl Strategy<Value = Vec<Step>> {
    let inbound = (
        user(),
        prop::sample::select(&["Hi", "STOP", "Where is my order?"][..]),
    )
        .prop_map(|(from, text)| {
            vec![Step::Inbound {
                from,
                content: InboundContent::Text(text.to_owned()),
                phone_number_id: None,
            }]
        });
    let capped = (user(), 2u32..=3, template_name()).prop_map(|(to, count, name)| {
        vec![
            Step::EcosystemMarketing {
                to: to.clone(),
                count,
            },
            send_template_step(&to, name),
            minute(),
        ]
    });
    let opted_out = prop_oneof![
        user().prop_map(|to| {
            vec![
                Step::Inbound {
                    from: to.clone(),
                    content: InboundContent::Text("STOP".to_owned()),
                    phone_number_id: None,
                },
                send_template_step(&to, "spring_sale"),
            ]
        }),
        Just(vec![
            send_template_step("999131050", "spring_sale"),
            minute(),
            send_template_step("999131050", "spring_sale"),
        ]),
    ];
    let advance = prop::sample::select(&[60_000u64, 1_800_000, 7_200_000, 90_000_000][..])
        .prop_map(|ms| vec![Step::Advance { ms }]);
    let faults = (
        prop::sample::select(&["duplicate", "reorder", "forged"][..]),
        prop::sample::select(&["1/1", "1/2"][..]),
        user(),
        template_name(),
    )
        .prop_map(|(kind, ratio, to, name)| {
            let profile =
                FaultProfile::from_json("faults", &json!({kind: ratio})).unwrap_or_default();
            vec![
                Step::Faults(profile),
                Step::Inbound {
                    from: to.clone(),
                    content: InboundContent::Text("Hi".to_owned()),
                    phone_number_id: None,
                },
                send_template_step(&to, name),
                minute(),
                Step::Heal,
            ]
        });
    let send_template = (anyone(), template_name())
        .prop_map(|(to, name)| vec![send_template_step(&to, name), minute()]);
    let send_text = user().prop_map(|to| {
        vec![Step::Action(
            json!({"action": "send_text", "to": to, "text": "Thanks for writing"}),
        )]
    });
    let campaign = (
        prop::sample::subsequence(USERS, 1..=USERS.len()),
        template_name(),
    )
        .prop_map(|(to, name)| {
            vec![Step::Action(
                json!({"action": "send_campaign", "to": to, "template": template(name)}),
            )]
        });
    let paused = prop_oneof![
        Just(TemplateControl::Pause),
        Just(TemplateControl::Quality(
            wasim_sim::model::spec::Quality::Red
        )),
    ]
    .prop_flat_map(|control| {
        user().prop_map(move |to| {
            vec![
                Step::Template {
                    name: "spring_sale".to_owned(),
                    control,
                },
                send_template_step(&to, "spring_sale"),
                send_template_step(&to, "spring_sale"),
            ]
        })
    });
    let token_reset = (user(), any::<bool>()).prop_map(|(to, handed_over)| {
        let mut steps = vec![Step::RotateAccessToken];
        if handed_over {
            steps.push(Step::Action(json!({"action": "set_access_token"})));
        }
        steps.push(Step::Action(
            json!({"action": "send_campaign", "to": USERS, "template": template("order_update")}),
        ));
        steps.push(send_template_step(&to, "order_update"));
        steps
    });
    prop_oneof![
        2 => inbound,
        2 => capped,
        2 => opted_out,
        2 => advance,
        2 => faults,
        3 => send_template,
        2 => send_text,
        1 => campaign,
        1 => paused,
        1 => token_reset,
    ]
}

/// Timelines of up to `steps_max` events.
pub fn timeline(steps_max: usize) -> impl Strategy<Value = Vec<Vec<Step>>> {
    prop::collection::vec(event(), 1..=steps_max.max(1))
}

/// The generator's seed bytes for a `u64` seed (SplitMix64, four words).
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut state = seed;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes
}

/// The first failing `must` check of a report entry.
fn failing_check(report: &ScenarioReport) -> Option<(String, String)> {
    report
        .checks
        .iter()
        .find(|c| c.status == CheckStatus::Fail && c.severity == Severity::Must)
        .map(|c| (c.id.clone(), c.message.clone()))
}

/// A generated case as a scenario.
pub fn case_scenario(seed: u64, case: u32, events: &[Vec<Step>]) -> Scenario {
    Scenario::generated(
        &format!("explore-{seed}-{case}"),
        &format!("generated by `wasim explore --seed {seed}` (case {case})"),
        1,
        events.iter().flatten().cloned().collect(),
    )
}

/// Explores: generates `options.cases` timelines, runs each against the
/// integration, and shrinks the first failure. Blocking; runs its own runtime.
pub fn explore(
    run: &RunOptions,
    options: &ExploreOptions,
    progress: impl FnMut(ExploreProgress<'_>),
) -> Result<Exploration, String> {
    let progress = RefCell::new(progress);
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| format!("failed to start the async runtime: {e}"))?;
    let started = wall_now();
    let config = Config {
        cases: options.cases,
        max_shrink_iters: options.shrink_runs,
        failure_persistence: None,
        max_global_rejects: options.cases.saturating_mul(4),
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(options.seed));
    let mut runner = TestRunner::new_with_rng(config, rng);
    // The check the first failure broke: shrinking keeps to it.
    let target: RefCell<Option<String>> = RefCell::new(None);
    let state = RefCell::new((0u32, 0u32, 0u32, false, None::<(ScenarioReport, usize)>));
    let result = runner.run(&timeline(options.steps_max), |events| {
        let mut guard = state.borrow_mut();
        let (cases, shrinks, _, out_of_time, _) = &mut *guard;
        let shrinking = target.borrow().is_some();
        if wall_now().duration_since(started) > options.budget {
            *out_of_time = true;
            // Out of time: the case passes unseen (and shrinking stops here).
            return Err(TestCaseError::reject("out of time"));
        }
        let number = if shrinking {
            *shrinks += 1;
            *shrinks
        } else {
            *cases += 1;
            *cases
        };
        let scenario = case_scenario(options.seed, number, &events);
        drop(guard);
        let outcome = runtime.block_on(run_scenario(&scenario, run));
        let report = outcome.report;
        if report.outcome == Outcome::HarnessError {
            state.borrow_mut().2 += 1;
        }
        let failed = failing_check(&report);
        let wanted = target.borrow().clone();
        let breaks = match (&failed, &wanted) {
            (Some((id, _)), None) => {
                *target.borrow_mut() = Some(id.clone());
                true
            }
            (Some(_), Some(wanted)) => report
                .checks
                .iter()
                .any(|c| &c.id == wanted && c.status == CheckStatus::Fail),
            (None, _) => false,
        };
        if shrinking {
            (progress.borrow_mut())(ExploreProgress::Shrink(number, scenario.steps.len()));
        } else {
            (progress.borrow_mut())(ExploreProgress::Case(
                number,
                failed.as_ref().map(|(id, _)| id.as_str()),
            ));
        }
        if breaks {
            let steps = scenario.steps.len();
            let mut guard = state.borrow_mut();
            let first = guard.4.as_ref().map_or(steps, |(_, first)| *first);
            guard.4 = Some((report, first.max(steps)));
            Err(TestCaseError::fail(wanted.unwrap_or_else(|| {
                failed.map(|(id, _)| id).unwrap_or_default()
            })))
        } else {
            Ok(())
        }
    });
    let (cases_run, shrink_runs, harness_errors, out_of_time, _) = state.borrow().clone();
    let finding = match result {
        Ok(()) | Err(TestError::Abort(_)) => None,
        Err(TestError::Fail(reason, events)) => {
            let check = reason.message().to_owned();
            let first_steps = state.borrow().4.as_ref().map_or(0, |(_, steps)| *steps);
            // The minimal case, run once more for its report (and to confirm it).
            let mut scenario = case_scenario(options.seed, 0, &events);
            scenario.name = format!("{}-{}", check.to_lowercase(), options.seed);
            scenario.file = PathBuf::from(format!("{}.toml", scenario.name));
            scenario.description = format!(
                "Found by `wasim explore --seed {}`: breaks {check}; shrunk from {first_steps} to {} steps",
                options.seed,
                scenario.steps.len()
            );
            let report = runtime.block_on(run_scenario(&scenario, run)).report;
            let message = report
                .checks
                .iter()
                .find(|c| c.id == check)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            Some(Finding {
                check,
                message,
                steps_found: first_steps,
                scenario,
                report,
            })
        }
    };
    Ok(Exploration {
        seed: options.seed,
        cases_run,
        shrink_runs,
        harness_errors,
        finding,
        out_of_time,
    })
}

/// Writes a finding to `dir/<check>-<seed>.toml` (the check in lower case) and
/// returns the path.
pub fn save(finding: &Finding, seed: u64, dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{}-{seed}.toml", finding.check.to_lowercase()));
    let mut scenario = finding.scenario.clone();
    scenario.checks = Some(vec![finding.check.clone()]);
    std::fs::write(&path, scenario.to_toml())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;

    use super::*;

    fn sample(seed: u64, cases: usize) -> Vec<Vec<Vec<Step>>> {
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed));
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let strategy = timeline(8);
        (0..cases)
            .map(|_| strategy.new_tree(&mut runner).expect("a case").current())
            .collect()
    }

    #[test]
    fn the_same_seed_generates_the_same_cases_and_another_seed_others() {
        assert_eq!(sample(7, 5), sample(7, 5));
        assert_ne!(sample(7, 5), sample(8, 5));
    }

    #[test]
    fn every_generated_case_is_a_valid_scenario_file_that_reads_back() {
        for (index, events) in sample(3, 40).iter().enumerate() {
            let scenario = case_scenario(3, index as u32, events);
            let text = scenario.to_toml();
            let back = Scenario::from_toml(&text, Path::new("case.toml"))
                .unwrap_or_else(|e| panic!("case {index} does not read back: {e}\n{text}"));
            assert_eq!(back.steps, scenario.steps, "{text}");
            assert!(!back.steps.is_empty());
        }
    }
}
