//! The HTML rendering: one self-contained page (inline CSS, no script, nothing
//! fetched), readable on screen and on paper.

use std::fmt::Write as _;

use crate::text::{
    Counts, LANES, html_escape as esc, lane_index, lane_label, link_target, outcome_label,
    severity_label, status_label, verdict_title, vtime, wall,
};
use crate::{
    CheckResult, CheckStatus, Latency, Outcome, Report, ScenarioReport, Severity, Tone, Verdict,
};

const STYLE: &str = r#"
:root {
  color-scheme: light;
  --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --head: #f6f8fa;
  --pass: #1a7f37; --pass-bg: #dafbe1;
  --fail: #cf222e; --fail-bg: #ffebe9;
  --warn: #9a6700; --warn-bg: #fff8c5;
  --skip: #59636e; --skip-bg: #eff2f5;
  --step: #0969da; --message: #8250df; --status: #1b7c83; --webhook: #bc4c00; --incident: #cf222e;
}
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 0 0 .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .4rem; }
h4 { font-size: 1rem; margin: 0 0 .4rem; }
p { margin: .3rem 0; }
a { color: var(--step); }
code, .mono { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: .88em; }
.muted { color: var(--muted); }
.banner { border: 1px solid; border-left-width: 6px; border-radius: 6px; padding: 1rem 1.25rem; margin-bottom: 1.5rem; }
.banner.certified { background: var(--pass-bg); border-color: var(--pass); }
.banner.violations { background: var(--fail-bg); border-color: var(--fail); }
.banner.harness-failure, .banner.nothing-judged, .banner.interrupted { background: var(--warn-bg); border-color: var(--warn); }
.banner h1 { display: flex; align-items: center; gap: .5rem; }
.banner svg { flex: none; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { border: 1px solid var(--border); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 .55em; border: 1px solid; border-radius: 1em; font-size: .8rem; font-weight: 600; white-space: nowrap; vertical-align: middle; }
.badge.passed, .badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.failed, .badge.fail-must { color: var(--fail); background: var(--fail-bg); }
.badge.fail-should, .badge.harness-error, .badge.interrupted { color: var(--warn); background: var(--warn-bg); }
.badge.skipped, .badge.not-applicable, .badge.not-exercised, .badge.not-run { color: var(--skip); background: var(--skip-bg); }
tr.fail-must td { background: var(--fail-bg); }
tr.fail-should td { background: var(--warn-bg); }
tr.not-applicable td { color: var(--muted); }
.scenario { border-top: 2px solid var(--border); margin-top: 2rem; padding-top: 1rem; }
.reason { border-left: 4px solid var(--warn); background: var(--warn-bg); padding: .4rem .75rem; }
.reason.skipped, .reason.not-exercised, .reason.not-run { border-color: var(--skip); background: var(--skip-bg); }
.stats { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; list-style: none; padding: 0; margin: .4rem 0; color: var(--muted); }
.stats b { color: var(--fg); font-variant-numeric: tabular-nums; }
.failure { border: 1px solid var(--border); border-left: 4px solid var(--fail); border-radius: 4px; padding: .6rem .85rem; margin: .6rem 0; }
.failure.should { border-left-color: var(--warn); }
.failure dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .75rem; margin: .3rem 0; }
.failure dt { color: var(--muted); }
.failure dd { margin: 0; }
.failure table { margin-bottom: 0; }
table.timeline { table-layout: fixed; font-size: .88rem; }
table.timeline col.time { width: 8.5em; }
table.timeline col.seq { width: 3.5em; }
table.timeline tr:target td { background: var(--warn-bg); }
table.timeline td.time { white-space: nowrap; }
table.timeline th.lane-step { border-top: 3px solid var(--step); }
table.timeline th.lane-message { border-top: 3px solid var(--message); }
table.timeline th.lane-status { border-top: 3px solid var(--status); }
table.timeline th.lane-webhook { border-top: 3px solid var(--webhook); }
table.timeline th.lane-incident { border-top: 3px solid var(--incident); }
.event { border-left: 3px solid; padding-left: .4rem; overflow-wrap: anywhere; }
.event.lane-step { border-color: var(--step); }
.event.lane-message { border-color: var(--message); }
.event.lane-status { border-color: var(--status); }
.event.lane-webhook { border-color: var(--webhook); }
.event.lane-incident { border-color: var(--incident); }
.event.problem { color: var(--fail); font-weight: 600; border-left-width: 4px; }
.event.injected { border-left-style: dashed; color: var(--muted); font-style: italic; }
.event.injected::before { content: "injected "; font-style: normal; font-size: .75rem; font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.coverage td.none { color: var(--fail); font-weight: 600; }
.measurements { border-top: 2px dashed var(--border); margin-top: 2.5rem; padding-top: 1rem; }
footer { color: var(--muted); font-size: .85rem; margin-top: 2rem; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
  .artifacts a::after { content: " (" attr(href) ")"; }
  tr, .failure, .banner, .reason { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
  thead { display: table-header-group; }
}
"#;

/// The report as one self-contained HTML page: a verdict banner, the list of
/// scenarios, per scenario its checks, its failed checks with proof and its
/// timeline laid out in lanes, then a separate section of wall-time measurements.
/// Every text from the report is escaped.
pub fn to_html(report: &Report) -> String {
    let mut out = String::new();
    let title = format!(
        "wasim {}: {}",
        report.command,
        verdict_title(report.verdict)
    );
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&title));
    let _ = writeln!(out, "<style>{STYLE}</style>");
    out.push_str("</head>\n<body>\n<main>\n");
    banner(&mut out, report);
    overview(&mut out, report);
    coverage(&mut out, report);
    for (index, scenario) in report.scenarios.iter().enumerate() {
        scenario_section(&mut out, index, scenario);
    }
    measurements(&mut out, report);
    let _ = writeln!(
        out,
        "<footer>Generated by {} (report format {}).</footer>",
        esc(&report.tool),
        report.format_version
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Certified => "certified",
        Verdict::Violations => "violations",
        Verdict::HarnessFailure => "harness-failure",
        Verdict::NothingJudged => "nothing-judged",
        Verdict::Interrupted => "interrupted",
    }
}

/// The verdict's glyph as inline SVG: it renders the same without an emoji font.
fn verdict_svg(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Certified => {
            "<svg width=\"28\" height=\"28\" viewBox=\"0 0 24 24\" role=\"img\" aria-label=\"certified\"><circle cx=\"12\" cy=\"12\" r=\"11\" fill=\"#1a7f37\"/><path d=\"M6.5 12.5l3.5 3.5 7.5-8\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.5\" stroke-linecap=\"round\" stroke-linejoin=\"round\"/></svg>"
        }
        Verdict::Violations => {
            "<svg width=\"28\" height=\"28\" viewBox=\"0 0 24 24\" role=\"img\" aria-label=\"violations\"><circle cx=\"12\" cy=\"12\" r=\"11\" fill=\"#cf222e\"/><path d=\"M8 8l8 8M16 8l-8 8\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.5\" stroke-linecap=\"round\"/></svg>"
        }
        Verdict::HarnessFailure | Verdict::NothingJudged | Verdict::Interrupted => {
            "<svg width=\"28\" height=\"28\" viewBox=\"0 0 24 24\" role=\"img\" aria-label=\"warning\"><path d=\"M12 2L23 21H1z\" fill=\"#9a6700\"/><path d=\"M12 9v5\" stroke=\"#fff\" stroke-width=\"2.5\" stroke-linecap=\"round\"/><circle cx=\"12\" cy=\"17.5\" r=\"1.4\" fill=\"#fff\"/></svg>"
        }
    }
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
        Outcome::NotExercised => "not-exercised",
        Outcome::NotRun => "not-run",
        Outcome::HarnessError => "harness-error",
        Outcome::Interrupted => "interrupted",
    }
}

/// A check's sources (separated by `; `): each a link when it is a web
/// address, else text.
fn source(reference: &str) -> String {
    reference
        .split("; ")
        .map(|source| {
            if source.starts_with("https://") && !source.contains(char::is_whitespace) {
                format!("<a href=\"{0}\">{0}</a>", esc(source))
            } else {
                esc(source)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The id of a timeline row: scenario position and trace record.
fn row_id(index: usize, seq: u64) -> String {
    format!("{}-seq-{seq}", scenario_id(index))
}

fn check_class(check: &CheckResult) -> &'static str {
    match (check.status, check.severity) {
        (CheckStatus::Pass, _) => "pass",
        (CheckStatus::Fail, Severity::Must) => "fail-must",
        (CheckStatus::Fail, Severity::Should) => "fail-should",
        (CheckStatus::NotApplicable, _) => "not-applicable",
    }
}

fn outcome_badge(outcome: Outcome) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        outcome_class(outcome),
        outcome_label(outcome)
    )
}

fn scenario_id(index: usize) -> String {
    format!("scenario-{}", index + 1)
}

fn banner(out: &mut String, report: &Report) {
    let counts = Counts::of(report);
    let _ = writeln!(
        out,
        "<header class=\"banner {}\">",
        verdict_class(report.verdict)
    );
    let _ = writeln!(
        out,
        "<h1>{} {}</h1>",
        verdict_svg(report.verdict),
        verdict_title(report.verdict)
    );
    let _ = writeln!(
        out,
        "<p><strong>{}</strong> · {}</p>",
        esc(&counts.scenarios_line()),
        esc(&counts.checks_line())
    );
    let _ = writeln!(
        out,
        "<p class=\"muted\"><code>{}</code> · command <code>{}</code> · integration <code>{}</code> · partition <code>{}</code></p>",
        esc(&report.tool),
        esc(&report.command),
        esc(&report.integration),
        esc(&report.partition),
    );
    out.push_str("</header>\n");
}

fn overview(out: &mut String, report: &Report) {
    out.push_str("<section class=\"overview\">\n<h2>Scenarios</h2>\n");
    if report.scenarios.is_empty() {
        out.push_str("<p class=\"muted\">No scenario ran.</p>\n");
    } else {
        scenarios_table(out, report);
    }
    out.push_str("</section>\n");
}

fn scenarios_table(out: &mut String, report: &Report) {
    out.push_str("<table>\n<thead><tr><th>Scenario</th><th>Outcome</th><th class=\"num\">Passed</th><th class=\"num\">Failed (must)</th><th class=\"num\">Failed (should)</th><th class=\"num\">Not applicable</th><th>Description</th></tr></thead>\n<tbody>\n");
    for (index, scenario) in report.scenarios.iter().enumerate() {
        let count = |class: &str| {
            scenario
                .checks
                .iter()
                .filter(|c| check_class(c) == class)
                .count()
        };
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            scenario_id(index),
            esc(&scenario.name),
            outcome_badge(scenario.outcome),
            count("pass"),
            count("fail-must"),
            count("fail-should"),
            count("not-applicable"),
            esc(&scenario.description),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn scenario_section(out: &mut String, index: usize, scenario: &ScenarioReport) {
    let _ = writeln!(
        out,
        "<section class=\"scenario\" id=\"{}\">",
        scenario_id(index)
    );
    let _ = writeln!(
        out,
        "<h2><code>{}</code> {}</h2>",
        esc(&scenario.name),
        outcome_badge(scenario.outcome)
    );
    let _ = writeln!(
        out,
        "<p>{} <span class=\"muted\">· <code>{}</code></span></p>",
        esc(&scenario.description),
        esc(&scenario.file)
    );
    match (scenario.outcome, &scenario.reason) {
        (Outcome::Skipped | Outcome::NotExercised | Outcome::NotRun, reason) => {
            let _ = writeln!(
                out,
                "<p class=\"reason {}\"><strong>{}:</strong> {}</p>",
                outcome_class(scenario.outcome),
                capitalized(outcome_label(scenario.outcome)),
                esc(reason.as_deref().unwrap_or("no reason given"))
            );
        }
        (Outcome::HarnessError | Outcome::Interrupted, reason) => {
            let _ = writeln!(
                out,
                "<p class=\"reason\"><strong>{}:</strong> {}</p>",
                capitalized(outcome_label(scenario.outcome)),
                esc(reason.as_deref().unwrap_or("no reason given"))
            );
        }
        (_, Some(reason)) => {
            let _ = writeln!(out, "<p class=\"reason\">{}</p>", esc(reason));
        }
        (_, None) => {}
    }
    let stats = &scenario.stats;
    let _ = writeln!(
        out,
        "<ul class=\"stats\"><li><b>{}</b> requests</li><li><b>{}</b> messages accepted</li><li><b>{}</b> rejected</li><li><b>{}</b> webhooks</li><li><b>{}</b> webhook attempts</li></ul>",
        stats.requests,
        stats.messages_accepted,
        stats.messages_rejected,
        stats.webhooks,
        stats.webhook_attempts
    );
    checks_table(out, scenario);
    failures(out, index, scenario);
    timeline(out, index, scenario);
    artifacts(out, scenario);
    out.push_str("</section>\n");
}

fn checks_table(out: &mut String, scenario: &ScenarioReport) {
    out.push_str("<h3>Checks</h3>\n");
    if scenario.checks.is_empty() {
        out.push_str("<p class=\"muted\">No check was judged.</p>\n");
        return;
    }
    out.push_str("<table class=\"checks\">\n<thead><tr><th>Check</th><th>Severity</th><th>Status</th><th>Rule</th><th>Found</th></tr></thead>\n<tbody>\n");
    for check in &scenario.checks {
        let class = check_class(check);
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td><code>{}</code></td><td>{}</td><td><span class=\"badge {class}\">{}</span></td><td>{}</td><td>{}</td></tr>",
            esc(&check.id),
            severity_label(check.severity),
            status_label(check.status),
            esc(&check.rule),
            esc(&check.message),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn capitalized(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn coverage(out: &mut String, report: &Report) {
    if report.coverage.is_empty() {
        return;
    }
    out.push_str("<section class=\"coverage\">\n<h2>Check coverage</h2>\n");
    let never: Vec<String> = report
        .unexercised()
        .map(|c| format!("<code>{}</code>", esc(&c.id)))
        .collect();
    if never.is_empty() {
        let _ = writeln!(
            out,
            "<p>Every one of the {} checks was exercised at least once.</p>",
            report.coverage.len()
        );
    } else {
        let _ = writeln!(
            out,
            "<p><strong>Never exercised</strong> ({} of {}): {}</p>",
            never.len(),
            report.coverage.len(),
            never.join(", ")
        );
    }
    out.push_str("<table class=\"coverage\">\n<thead><tr><th>Check</th><th>Severity</th><th class=\"num\">Exercised in</th><th class=\"num\">Passed</th><th class=\"num\">Failed</th></tr></thead>\n<tbody>\n");
    for entry in &report.coverage {
        let none = if entry.exercised == 0 { " none" } else { "" };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num{none}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&entry.id),
            severity_label(entry.severity),
            entry.exercised,
            entry.passed,
            entry.failed,
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn failures(out: &mut String, index: usize, scenario: &ScenarioReport) {
    let failed: Vec<&CheckResult> = scenario
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    if failed.is_empty() {
        return;
    }
    out.push_str("<h3>Failed checks</h3>\n");
    for check in failed {
        let severity = severity_label(check.severity);
        let _ = writeln!(out, "<div class=\"failure {severity}\">");
        let _ = writeln!(
            out,
            "<h4><code>{}</code> <span class=\"badge {}\">{severity}</span> {}</h4>",
            esc(&check.id),
            check_class(check),
            esc(&check.rule),
        );
        let _ = writeln!(
            out,
            "<dl><dt>Source</dt><dd>{}</dd><dt>Found</dt><dd>{}</dd></dl>",
            source(&check.reference),
            esc(&check.message),
        );
        if check.proof.is_empty() {
            out.push_str("<p class=\"muted\">No proof record.</p>\n");
        } else {
            out.push_str("<table class=\"proof\">\n<thead><tr><th class=\"num\">Seq</th><th>Time</th><th>Kind</th><th>Record</th></tr></thead>\n<tbody>\n");
            for record in &check.proof {
                // A record on the timeline links to its row there.
                let seq = if scenario.timeline.iter().any(|e| e.seq == record.seq) {
                    format!(
                        "<a href=\"#{}\">{}</a>",
                        row_id(index, record.seq),
                        record.seq
                    )
                } else {
                    record.seq.to_string()
                };
                let _ = writeln!(
                    out,
                    "<tr><td class=\"num\">{seq}</td><td class=\"mono\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
                    vtime(record.at_ms),
                    esc(&record.kind),
                    esc(&record.summary),
                );
            }
            out.push_str("</tbody>\n</table>\n");
        }
        out.push_str("</div>\n");
    }
}

fn timeline(out: &mut String, index: usize, scenario: &ScenarioReport) {
    out.push_str("<h3>Timeline</h3>\n");
    if scenario.timeline.is_empty() {
        out.push_str("<p class=\"muted\">Nothing recorded.</p>\n");
        return;
    }
    let mut entries: Vec<_> = scenario.timeline.iter().collect();
    entries.sort_by_key(|entry| entry.at_ms); // stable: ties keep the recorded order
    out.push_str("<table class=\"timeline\">\n<colgroup><col class=\"time\"><col class=\"seq\">");
    for _ in LANES {
        out.push_str("<col>");
    }
    out.push_str("</colgroup>\n<thead><tr><th>Virtual time</th><th class=\"num\">Seq</th>");
    for lane in LANES {
        let label = lane_label(lane);
        let _ = write!(
            out,
            "<th class=\"lane-{}\">{label}</th>",
            label.to_ascii_lowercase()
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for entry in entries {
        let _ = write!(
            out,
            "<tr id=\"{}\"><td class=\"time mono\">{}</td><td class=\"num mono\">{}</td>",
            row_id(index, entry.seq),
            vtime(entry.at_ms),
            entry.seq
        );
        let column = lane_index(entry.lane);
        for lane in 0..LANES.len() {
            if lane == column {
                let tone = match entry.tone {
                    Tone::Normal => "",
                    Tone::Injected => " injected",
                    Tone::Problem => " problem",
                };
                let _ = write!(
                    out,
                    "<td><div class=\"event lane-{}{tone}\">{}</div></td>",
                    lane_label(entry.lane).to_ascii_lowercase(),
                    esc(&entry.text)
                );
            } else {
                out.push_str("<td></td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn artifacts(out: &mut String, scenario: &ScenarioReport) {
    if scenario.artifacts.is_empty() {
        return;
    }
    out.push_str("<h3>Artifacts</h3>\n<ul class=\"artifacts\">\n");
    for artifact in &scenario.artifacts {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">{}</a> <code class=\"muted\">{}</code></li>",
            esc(&link_target(&artifact.path)),
            esc(&artifact.name),
            esc(&artifact.path),
        );
    }
    out.push_str("</ul>\n");
}

fn measurements(out: &mut String, report: &Report) {
    out.push_str("<section class=\"measurements\">\n<h2>Measurements (vary run to run)</h2>\n");
    out.push_str("<p class=\"muted\">Wall-clock numbers: they differ from run to run, so they are kept apart from the stable part of the report.</p>\n");
    let _ = writeln!(
        out,
        "<p>Total wall time: <strong>{}</strong></p>",
        wall(report.volatile.wall_ms)
    );
    if !report.volatile.scenarios.is_empty() {
        out.push_str("<table>\n<thead><tr><th>Scenario</th><th class=\"num\">Wall time</th><th class=\"num\">Webhook latency p50</th><th class=\"num\">p95</th><th class=\"num\">max</th></tr></thead>\n<tbody>\n");
        for entry in &report.volatile.scenarios {
            let latency = match entry.webhook_latency_ms {
                Some(Latency { p50, p95, max }) => format!(
                    "<td class=\"num\">{p50} ms</td><td class=\"num\">{p95} ms</td><td class=\"num\">{max} ms</td>"
                ),
                None => "<td class=\"num\">—</td><td class=\"num\">—</td><td class=\"num\">—</td>"
                    .to_owned(),
            };
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td>{latency}</tr>",
                esc(&entry.name),
                wall(entry.wall_ms),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}
