//! The Markdown rendering: a GitHub Actions step summary or a PR comment.

use std::fmt::Write as _;

use crate::text::{
    Counts, link_target, outcome_icon, outcome_label, proof_line, severity_label, verdict_icon,
    verdict_title, wall,
};
use crate::{CheckStatus, Latency, Outcome, Report, ScenarioReport, Severity};

/// The report as GitHub-flavoured Markdown: the verdict and counts, a table of
/// scenarios, every failed check with its proof, the exploration, the scenarios
/// that were skipped, not exercised, not run or failed by the harness with their
/// reasons, each check's coverage, artifacts as relative links and, last, the
/// wall-time measurements that vary run to run.
pub fn to_markdown(report: &Report) -> String {
    let mut out = String::new();
    headline(&mut out, report);
    scenario_table(&mut out, report);
    failed_checks(&mut out, report);
    exploration(&mut out, report);
    reasons(
        &mut out,
        report,
        Outcome::Skipped,
        "Skipped scenarios (not judged)",
    );
    reasons(
        &mut out,
        report,
        Outcome::NotExercised,
        "Not exercised (no check applied)",
    );
    reasons(&mut out, report, Outcome::NotRun, "Not run");
    reasons(&mut out, report, Outcome::HarnessError, "Harness errors");
    reasons(&mut out, report, Outcome::Interrupted, "Interrupted");
    coverage(&mut out, report);
    artifacts(&mut out, report);
    measurements(&mut out, report);
    out
}

fn exploration(out: &mut String, report: &Report) {
    let Some(exploration) = &report.exploration else {
        return;
    };
    let _ = writeln!(out, "### Exploration\n");
    let _ = writeln!(
        out,
        "Seed {} · {} generated case(s) · {} shrinking run(s) · {} harness error(s)\n",
        code(&exploration.seed.to_string()),
        exploration.cases,
        exploration.shrink_runs,
        exploration.harness_errors,
    );
    match &exploration.finding {
        None => {
            let _ = writeln!(out, "No case broke a `must` check.\n");
        }
        Some(finding) => {
            let _ = writeln!(
                out,
                "Breaks **{}**: scenario {} shrunk from {} to {} step(s){}. Replay: {}\n",
                finding.check,
                code(&finding.scenario),
                finding.steps_found,
                finding.steps_minimal,
                finding
                    .file
                    .as_deref()
                    .map(|f| format!(", saved as {}", code(f)))
                    .unwrap_or_default(),
                code(&finding.replay),
            );
        }
    }
}

fn headline(out: &mut String, report: &Report) {
    let counts = Counts::of(report);
    let _ = writeln!(
        out,
        "## {} {}: wasim {}\n",
        verdict_icon(report.verdict),
        verdict_title(report.verdict),
        inline(&report.command),
    );
    let _ = writeln!(
        out,
        "{} · integration {} · partition {}\n",
        code(&report.tool),
        code(&report.integration),
        code(&report.partition),
    );
    let _ = writeln!(
        out,
        "**{}** · {}\n",
        counts.scenarios_line(),
        counts.checks_line()
    );
}

fn scenario_table(out: &mut String, report: &Report) {
    if report.scenarios.is_empty() {
        out.push_str("No scenario ran.\n\n");
        return;
    }
    out.push_str("| Scenario | Outcome | Failed must checks | Failed should checks |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for scenario in &report.scenarios {
        let failed_ids = |severity: Severity| {
            let ids: Vec<String> = scenario
                .checks
                .iter()
                .filter(|c| c.status == CheckStatus::Fail && c.severity == severity)
                .map(|c| code(&c.id))
                .collect();
            if ids.is_empty() {
                "—".to_owned()
            } else {
                ids.join(", ")
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {} | {} |",
            cell(&code(&scenario.name)),
            outcome_icon(scenario.outcome),
            outcome_label(scenario.outcome),
            cell(&failed_ids(Severity::Must)),
            cell(&failed_ids(Severity::Should)),
        );
    }
    out.push('\n');
}

fn failed_checks(out: &mut String, report: &Report) {
    let failed = report.scenarios.iter().flat_map(|scenario| {
        scenario
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(move |check| (scenario, check))
    });
    let mut heading = false;
    for (scenario, check) in failed {
        if !heading {
            out.push_str("### Failed checks\n\n");
            heading = true;
        }
        let icon = match check.severity {
            Severity::Must => "❌",
            Severity::Should => "⚠️",
        };
        let _ = writeln!(
            out,
            "#### {icon} {} ({}) in {}\n",
            code(&check.id),
            severity_label(check.severity),
            code(&scenario.name),
        );
        let _ = writeln!(out, "- **Rule:** {}", inline(&check.rule));
        let _ = writeln!(out, "- **Source:** {}", inline(&check.reference));
        let _ = writeln!(out, "- **Found:** {}", inline(&check.message));
        if check.proof.is_empty() {
            out.push_str("- **Proof:** none recorded\n");
        } else {
            out.push_str("- **Proof:**\n");
            for record in &check.proof {
                let _ = writeln!(out, "  - {}", proof_line(record, code, inline));
            }
        }
        out.push('\n');
    }
}

fn reasons(out: &mut String, report: &Report, outcome: Outcome, title: &str) {
    let scenarios: Vec<&ScenarioReport> = report
        .scenarios
        .iter()
        .filter(|s| s.outcome == outcome)
        .collect();
    if scenarios.is_empty() {
        return;
    }
    let _ = writeln!(out, "### {} {title}\n", outcome_icon(outcome));
    // Scenarios that share a reason (every scenario not run, say) share a line.
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for scenario in scenarios {
        let reason = scenario.reason.as_deref().unwrap_or("no reason given");
        match groups.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, names)) => names.push(code(&scenario.name)),
            None => groups.push((reason, vec![code(&scenario.name)])),
        }
    }
    for (reason, names) in groups {
        let _ = writeln!(out, "- {}: {}", names.join(", "), inline(reason));
    }
    out.push('\n');
}

fn coverage(out: &mut String, report: &Report) {
    if report.coverage.is_empty() {
        return;
    }
    out.push_str("### Check coverage\n\n");
    let never: Vec<String> = report.unexercised().map(|c| code(&c.id)).collect();
    if never.is_empty() {
        let _ = writeln!(
            out,
            "Every one of the {} checks was exercised at least once.\n",
            report.coverage.len()
        );
    } else {
        let _ = writeln!(
            out,
            "**Never exercised** ({} of {}): {}\n",
            never.len(),
            report.coverage.len(),
            never.join(", ")
        );
    }
    out.push_str("| Check | Severity | Exercised in | Passed | Failed |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: |\n");
    for entry in &report.coverage {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&code(&entry.id)),
            severity_label(entry.severity),
            entry.exercised,
            entry.passed,
            entry.failed,
        );
    }
    out.push('\n');
}

fn artifacts(out: &mut String, report: &Report) {
    let with_artifacts: Vec<&ScenarioReport> = report
        .scenarios
        .iter()
        .filter(|s| !s.artifacts.is_empty())
        .collect();
    if with_artifacts.is_empty() {
        return;
    }
    out.push_str("### Artifacts\n\n");
    for scenario in with_artifacts {
        let links: Vec<String> = scenario
            .artifacts
            .iter()
            .map(|a| format!("[{}]({})", inline(&a.name), link_target(&a.path)))
            .collect();
        let _ = writeln!(out, "- {}: {}", code(&scenario.name), links.join(", "));
    }
    out.push('\n');
}

fn measurements(out: &mut String, report: &Report) {
    out.push_str("### Measurements (vary run to run)\n\n");
    out.push_str(
        "Wall-clock numbers: they differ from run to run, so they are kept apart from the stable part of the report.\n\n",
    );
    let _ = writeln!(out, "Total wall time: {}\n", wall(report.volatile.wall_ms));
    if report.volatile.scenarios.is_empty() {
        return;
    }
    out.push_str("| Scenario | Wall time | Webhook latency p50 | p95 | max |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
    for entry in &report.volatile.scenarios {
        let (p50, p95, max) = match entry.webhook_latency_ms {
            Some(Latency { p50, p95, max }) => (
                format!("{p50} ms"),
                format!("{p95} ms"),
                format!("{max} ms"),
            ),
            None => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {p50} | {p95} | {max} |",
            cell(&code(&entry.name)),
            wall(entry.wall_ms),
        );
    }
    out.push('\n');
}

/// Text in running Markdown: punctuation that could start markup is
/// backslash-escaped and line breaks become spaces.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '&' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span, fenced with more backticks than the text holds in a row.
fn code(text: &str) -> String {
    let text: String = text
        .chars()
        .filter(|&c| c != '\r')
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// Rendered Markdown put in a table cell: pipes are escaped (code spans included,
/// as GitHub splits cells before parsing inlines).
fn cell(markdown: &str) -> String {
    markdown.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes() {
        assert_eq!(cell(&code("a|b")), "`a\\|b`");
        assert_eq!(cell(&inline("a | b")), "a \\| b");
    }

    #[test]
    fn code_spans_outfence_backticks() {
        for (raw, span) in [
            ("plain", "`plain`"),
            ("a`b", "``a`b``"),
            ("`x`", "`` `x` ``"),
            ("two\nlines", "`two lines`"),
        ] {
            assert_eq!(code(raw), span, "{raw:?}");
        }
    }

    #[test]
    fn inline_escapes_markup() {
        assert_eq!(inline("*bold* <b>"), "\\*bold\\* \\<b\\>");
        assert_eq!(inline("a\r\nb"), "a b");
    }
}
