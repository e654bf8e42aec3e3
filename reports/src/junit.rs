//! The JUnit XML rendering, for CI test tabs.
//!
//! Written by hand rather than through a JUnit library so that every attribute
//! is ours to choose: the counts CI systems sum (`tests`, `failures`, `errors`,
//! `skipped`) on `<testsuites>` and on each `<testsuite>`, no `disabled` count
//! (a check that did not apply is skipped, not disabled: counting it as both
//! would count it twice), and no time or timestamp attributes, so the output is
//! deterministic. The layout is the JUnit format as Jenkins (junit-10.xsd) and
//! GitLab read it; `tests/junit_schema.rs` validates it against the schema in
//! `reports/tests/data/junit.xsd`.

use std::fmt::Write as _;

use crate::text::{
    markup_reference, outcome_key, outcome_label, proof_line, replace_chars, severity_label,
};
use crate::{CheckResult, CheckStatus, Outcome, Report, ScenarioReport};

/// The report as JUnit XML: one test suite per scenario, one test case per check
/// (`CAP-001 rule`). A failed check is a failure (its type the severity, its
/// text the rule, source and proof), a check that did not apply is skipped. A
/// skipped, not exercised or not run scenario starts with one skipped test case
/// saying so (`scenario skipped`, …) and a harness error is one errored test
/// case of type `harness`. Every suite carries its scenario's `outcome` (as the
/// JSON writes it) and `reason` as properties.
pub fn to_junit(report: &Report) -> String {
    let suites: Vec<Suite> = report.scenarios.iter().map(suite).collect();
    let total = |count: fn(&Suite) -> usize| suites.iter().map(count).sum::<usize>();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"wasim\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        total(|s| s.cases.len()),
        total(|s| s.count(Kind::Failure)),
        total(|s| s.count(Kind::Error)),
        total(|s| s.count(Kind::Skipped)),
    );
    for suite in &suites {
        suite.write(&mut out);
    }
    out.push_str("</testsuites>\n");
    out
}

/// How a test case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Success,
    Failure,
    Error,
    Skipped,
}

#[derive(Debug)]
struct Case {
    name: String,
    kind: Kind,
    /// The `status` attribute (the check's verdict).
    status: &'static str,
    /// `type` of a failure or error.
    kind_type: &'static str,
    message: String,
    text: String,
}

#[derive(Debug)]
struct Suite<'a> {
    scenario: &'a ScenarioReport,
    cases: Vec<Case>,
}

impl Suite<'_> {
    fn count(&self, kind: Kind) -> usize {
        self.cases.iter().filter(|c| c.kind == kind).count()
    }

    fn write(&self, out: &mut String) {
        let scenario = self.scenario;
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            attr(&scenario.name),
            self.cases.len(),
            self.count(Kind::Failure),
            self.count(Kind::Error),
            self.count(Kind::Skipped),
        );
        out.push_str("    <properties>\n");
        let mut properties = vec![
            ("file", scenario.file.as_str()),
            ("description", scenario.description.as_str()),
            ("outcome", outcome_key(scenario.outcome)),
        ];
        if let Some(reason) = &scenario.reason {
            properties.push(("reason", reason));
        }
        for (name, value) in properties {
            let _ = writeln!(
                out,
                "      <property name=\"{name}\" value=\"{}\"/>",
                attr(value)
            );
        }
        out.push_str("    </properties>\n");
        for case in &self.cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" status=\"{}\"",
                attr(&case.name),
                attr(&scenario.name),
                case.status
            );
            match case.kind {
                Kind::Success => out.push_str("/>\n"),
                Kind::Skipped => {
                    let _ = writeln!(out, ">\n      <skipped>{}</skipped>", text(&case.message));
                    out.push_str("    </testcase>\n");
                }
                Kind::Failure | Kind::Error => {
                    let tag = if case.kind == Kind::Failure {
                        "failure"
                    } else {
                        "error"
                    };
                    let _ = writeln!(
                        out,
                        ">\n      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>",
                        attr(case.kind_type),
                        attr(&case.message),
                        text(&case.text)
                    );
                    out.push_str("    </testcase>\n");
                }
            }
        }
        if !scenario.artifacts.is_empty() {
            let mut artifacts = String::new();
            for artifact in &scenario.artifacts {
                let _ = writeln!(artifacts, "{}: {}", artifact.name, artifact.path);
            }
            let _ = writeln!(out, "    <system-out>{}</system-out>", text(&artifacts));
        }
        out.push_str("  </testsuite>\n");
    }
}

fn suite(scenario: &ScenarioReport) -> Suite<'_> {
    let reason = scenario.reason.as_deref().unwrap_or("no reason given");
    let scenario_case = |kind: Kind, kind_type: &'static str| Case {
        name: format!("scenario {}", outcome_label(scenario.outcome)),
        kind,
        status: outcome_key(scenario.outcome),
        kind_type,
        message: reason.to_owned(),
        text: reason.to_owned(),
    };
    let mut cases = Vec::new();
    match scenario.outcome {
        Outcome::HarnessError => cases.push(scenario_case(Kind::Error, "harness")),
        // Not a pass and not the integration's failure: the run was cut short.
        Outcome::Interrupted => cases.push(scenario_case(Kind::Error, "interrupted")),
        Outcome::Skipped | Outcome::NotRun => cases.push(scenario_case(Kind::Skipped, "")),
        Outcome::NotExercised => {
            cases.push(scenario_case(Kind::Skipped, ""));
            cases.extend(scenario.checks.iter().map(case));
        }
        Outcome::Passed | Outcome::Failed => cases.extend(scenario.checks.iter().map(case)),
    }
    Suite { scenario, cases }
}

fn case(check: &CheckResult) -> Case {
    let (kind, status) = match check.status {
        CheckStatus::Pass => (Kind::Success, "pass"),
        CheckStatus::NotApplicable => (Kind::Skipped, "not_applicable"),
        CheckStatus::Fail => (Kind::Failure, "fail"),
    };
    Case {
        name: format!("{} {}", check.id, check.rule),
        kind,
        status,
        kind_type: severity_label(check.severity),
        message: check.message.clone(),
        text: failure_text(check),
    }
}

fn failure_text(check: &CheckResult) -> String {
    let mut text = format!(
        "{} ({}): {}\nsource: {}\nfound: {}\n",
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
                "  {}",
                proof_line(record, str::to_owned, str::to_owned)
            );
        }
    }
    text
}

/// Text as XML character data: markup characters escaped, and characters XML
/// 1.0 cannot hold (most control characters) replaced by U+FFFD.
fn text(value: &str) -> String {
    escape(value, false)
}

/// Text as a double-quoted XML attribute value; line breaks and tabs are kept
/// as character references so a parser does not fold them into spaces.
fn attr(value: &str) -> String {
    escape(value, true)
}

fn escape(value: &str, attribute: bool) -> String {
    replace_chars(value, |c| match c {
        '"' if attribute => Some("&quot;"),
        '\n' if attribute => Some("&#10;"),
        '\r' if attribute => Some("&#13;"),
        '\t' if attribute => Some("&#9;"),
        '\n' | '\r' | '\t' => None,
        c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => Some("\u{FFFD}"),
        c => markup_reference(c),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(attr("a\"b\nc"), "a&quot;b&#10;c");
        for (raw, escaped) in [
            ("a<b>&\"c\"", "a&lt;b&gt;&amp;\"c\""),
            ("bell\u{7}", "bell\u{FFFD}"),
            ("two\nlines", "two\nlines"),
        ] {
            assert_eq!(text(raw), escaped, "{raw:?}");
        }
    }
}
