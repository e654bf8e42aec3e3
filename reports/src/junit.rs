//! The JUnit XML rendering, for CI test tabs.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use crate::text::{severity_label, vtime};
use crate::{CheckResult, CheckStatus, Outcome, Report, ScenarioReport};

/// The report as JUnit XML: one test suite per scenario, one test case per check
/// (`CAP-001 rule`). A failed check is a failure (its type the severity, its text the
/// rule, reference and proof), a check that did not apply is skipped; a skipped
/// scenario is one skipped test case and a harness error one errored test case of
/// type `harness`. No time or timestamp attributes: the output is deterministic.
pub fn to_junit(report: &Report) -> String {
    let mut junit = quick_junit::Report::new("wasim");
    junit.add_test_suites(report.scenarios.iter().map(suite));
    let mut text = junit
        .to_string()
        .expect("serializing JUnit XML into memory cannot fail");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn suite(scenario: &ScenarioReport) -> TestSuite {
    let mut suite = TestSuite::new(scenario.name.as_str());
    suite.add_property(Property::new("file", scenario.file.as_str()));
    suite.add_property(Property::new("description", scenario.description.as_str()));
    match scenario.outcome {
        Outcome::Skipped | Outcome::HarnessError => {
            let reason = scenario.reason.as_deref().unwrap_or("no reason given");
            let (name, mut status) = if scenario.outcome == Outcome::Skipped {
                ("scenario skipped", TestCaseStatus::skipped())
            } else {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_type("harness");
                ("harness error", status)
            };
            status.set_message(reason);
            let mut case = TestCase::new(name, status);
            case.set_classname(scenario.name.as_str());
            suite.add_test_case(case);
        }
        Outcome::Passed | Outcome::Failed => {
            suite.add_test_cases(scenario.checks.iter().map(|check| case(scenario, check)));
        }
    }
    let skipped = suite.disabled;
    suite
        .extra
        .insert("skipped".into(), skipped.to_string().into());
    if !scenario.artifacts.is_empty() {
        let mut artifacts = String::new();
        for artifact in &scenario.artifacts {
            let _ = writeln!(artifacts, "{}: {}", artifact.name, artifact.path);
        }
        suite.set_system_out(artifacts);
    }
    suite
}

fn case(scenario: &ScenarioReport, check: &CheckResult) -> TestCase {
    let status = match check.status {
        CheckStatus::Pass => TestCaseStatus::success(),
        CheckStatus::NotApplicable => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(check.message.as_str());
            status
        }
        CheckStatus::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(check.message.as_str())
                .set_type(severity_label(check.severity))
                .set_description(failure_text(check));
            status
        }
    };
    let mut case = TestCase::new(format!("{} {}", check.id, check.rule), status);
    case.set_classname(scenario.name.as_str());
    case
}

fn failure_text(check: &CheckResult) -> String {
    let mut text = format!(
        "{} ({}): {}\nreference: {}\nfound: {}\n",
        check.id,
        severity_label(check.severity),
        check.rule,
        check.reference,
        check.message,
    );
    if !check.proof.is_empty() {
        text.push_str("proof:\n");
        for record in &check.proof {
            let _ = writeln!(
                text,
                "  seq {} at {} {}: {}",
                record.seq,
                vtime(record.at_ms),
                record.kind,
                record.summary,
            );
        }
    }
    text
}
