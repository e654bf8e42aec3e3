//! The four renderings of the sample report, and what each must guarantee.

mod common;

use common::sample;
use wasim_reports::{
    FORMAT_VERSION, Outcome, Report, ReportError, Verdict, from_json, to_html, to_json, to_junit,
    to_markdown, write_all,
};

#[test]
fn json_snapshot() {
    insta::assert_snapshot!("json", to_json(&sample()));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("markdown", to_markdown(&sample()));
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit", to_junit(&sample()));
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!("html", to_html(&sample()));
}

#[test]
fn json_round_trips() {
    let report = sample();
    let text = to_json(&report);
    assert!(text.ends_with("}\n"));
    assert_eq!(from_json(&text).unwrap(), report);
}

#[test]
fn json_names_a_wrong_format_version() {
    let text = to_json(&sample()).replacen("\"format_version\": 2", "\"format_version\": 7", 1);
    let error = from_json(&text).unwrap_err();
    assert!(
        matches!(error, ReportError::FormatVersion { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the report has `format_version` 7, but this wasim reads `format_version` {FORMAT_VERSION}"
        )
    );
}

#[test]
fn json_names_other_problems() {
    assert!(matches!(from_json("not json"), Err(ReportError::Syntax(_))));
    assert!(matches!(
        from_json("{\"tool\": \"wasim\"}"),
        Err(ReportError::MissingFormatVersion)
    ));
    let error = from_json("{\"format_version\": 2, \"tool\": \"wasim\"}").unwrap_err();
    assert!(matches!(error, ReportError::Shape(_)), "{error:?}");
    assert!(error.to_string().contains("command"), "{error}");
}

#[test]
fn html_escapes_every_text() {
    let mut report = sample();
    report.scenarios[0].name = "<script>alert(1)</script>".to_owned();
    report.scenarios[1].checks[0].message = "a \"quoted\" & 'single' <blink>".to_owned();
    report.scenarios[1].artifacts[0].path = "\"><img src=x onerror=alert(1)>".to_owned();
    report.volatile.scenarios[0].name = "<script>alert(1)</script>".to_owned();
    let html = to_html(&report);
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<blink>"));
    assert!(html.contains("a &quot;quoted&quot; &amp; &#39;single&#39; &lt;blink&gt;"));
    assert!(!html.contains("<img"));
}

#[test]
fn html_is_self_contained() {
    let html = to_html(&sample());
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in ["http://", "https://", "<link", "<script", "@import", "url("] {
        assert!(!html.contains(external), "the page references {external}");
    }
    let measurements = html.find("Measurements (vary run to run)").unwrap();
    assert!(html.find("cap-naive-retry").unwrap() < measurements);
    assert!(html.contains("+01:02:03.004"));
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn junit_counts_match_the_sample() {
    let xml = to_junit(&sample());
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("<testsuites name=\"wasim\""));
    assert_eq!(count(&xml, "<testsuite "), 6);
    // 3 + 4 checks, one case for the skipped scenario, one for the harness
    // error, one for the not exercised scenario and its check, one for the
    // scenario not run.
    assert_eq!(count(&xml, "<testcase "), 12);
    // CAP-001 (must) and CAP-004 (should).
    assert_eq!(count(&xml, "<failure"), 2);
    // TPL-001 (not applicable), the skipped scenario, the not exercised one and
    // its not applicable check, the one not run.
    assert_eq!(count(&xml, "<skipped"), 5);
    assert_eq!(count(&xml, "<error"), 1);
    // The totals CI systems read are on the top element, each outcome once.
    assert!(
        xml.contains(
            "<testsuites name=\"wasim\" tests=\"12\" failures=\"2\" errors=\"1\" skipped=\"5\">"
        ),
        "{xml}"
    );
    assert!(!xml.contains("disabled="), "skipped is not also disabled");
    for outcome in [
        "passed",
        "failed",
        "skipped",
        "harness_error",
        "not_exercised",
        "not_run",
    ] {
        assert!(
            xml.contains(&format!("<property name=\"outcome\" value=\"{outcome}\"/>")),
            "{outcome}"
        );
    }
    assert!(xml.contains("type=\"harness\""));
    assert!(xml.contains("the integration exited with status 1 before listening"));
    assert!(!xml.contains("time="));
    assert!(!xml.contains("timestamp="));
}

#[test]
fn markdown_puts_measurements_last() {
    let md = to_markdown(&sample());
    let volatile = md.find("\n### Measurements (vary run to run)").unwrap();
    assert!(
        md.match_indices("\n#").all(|(at, _)| at <= volatile),
        "a heading follows the measurements:\n{md}"
    );
    for earlier in [
        "CAP-001",
        "POST /wasim/actions answered 404",
        "exited with status 1 before listening",
        "scenarios/cap-naive-retry/trace.jsonl",
    ] {
        assert!(md.find(earlier).unwrap() < volatile, "{earlier}");
    }
    let after = &md[volatile..];
    assert!(after.contains("12.345 s") && after.contains("| 15 ms | 88 ms | 120 ms |"));
    assert!(!md[..volatile].contains("12.345 s"));
}

#[test]
fn markdown_escapes_pipes_in_cells() {
    let mut report = sample();
    report.scenarios[0].name = "a|b".to_owned();
    let md = to_markdown(&report);
    assert!(md.contains("| `a\\|b` | ✅ passed |"), "{md}");
}

#[test]
fn verdicts_map_to_exit_codes() {
    assert_eq!(Verdict::Certified.exit_code(), 0);
    assert_eq!(Verdict::Violations.exit_code(), 1);
    assert_eq!(Verdict::HarnessFailure.exit_code(), 2);
    let mut scenarios = sample().scenarios;
    assert_eq!(Report::verdict_of(&scenarios), Verdict::HarnessFailure);
    scenarios.retain(|s| s.outcome != Outcome::HarnessError);
    assert_eq!(Report::verdict_of(&scenarios), Verdict::Violations);
    scenarios.retain(|s| s.outcome != Outcome::Failed);
    assert_eq!(Report::verdict_of(&scenarios), Verdict::Certified);
    // Without a scenario that passed there is nothing to certify.
    scenarios.retain(|s| s.outcome != Outcome::Passed);
    assert_eq!(
        scenarios.iter().map(|s| s.outcome).collect::<Vec<_>>(),
        [Outcome::Skipped, Outcome::NotExercised, Outcome::NotRun]
    );
    assert_eq!(Report::verdict_of(&scenarios), Verdict::NothingJudged);
    assert_eq!(Verdict::NothingJudged.exit_code(), 2);
}

#[test]
fn an_interrupted_scenario_outweighs_every_other_outcome_in_every_format() {
    let mut report = sample();
    report.scenarios[0].outcome = Outcome::Interrupted;
    report.scenarios[0].checks.clear();
    report.scenarios[0].reason = Some("interrupted by SIGTERM at step 2 of 4".to_owned());
    // The sample holds a failure and a harness error: an incomplete run still
    // certifies nothing and says it was cut short.
    report.recount();
    assert_eq!(report.verdict, Verdict::Interrupted);
    assert_eq!(Verdict::Interrupted.exit_code(), 130);
    let md = to_markdown(&report);
    assert!(md.contains("Interrupted: wasim"), "{md}");
    assert!(md.contains("interrupted by SIGTERM at step 2 of 4"), "{md}");
    assert!(md.contains(", 1 interrupted"), "{md}");
    let html = to_html(&report);
    assert!(html.contains("banner interrupted"), "{html}");
    assert!(html.contains("<strong>Interrupted:</strong> interrupted by SIGTERM"));
    assert!(to_json(&report).contains("\"verdict\": \"interrupted\""));
    let junit = to_junit(&report);
    assert!(junit.contains("type=\"interrupted\""), "{junit}");
}

#[test]
fn every_format_names_every_outcome_and_the_unexercised_checks() {
    let report = sample();
    let md = to_markdown(&report);
    let html = to_html(&report);
    let json = to_json(&report);
    for (outcome, label) in [
        ("not_exercised", "not exercised"),
        ("not_run", "not run"),
        ("skipped", "skipped"),
    ] {
        assert!(
            json.contains(&format!("\"outcome\": \"{outcome}\"")),
            "{outcome}"
        );
        assert!(md.contains(label), "{label} in the Markdown");
        assert!(html.contains(label), "{label} in the HTML");
    }
    assert!(md.contains("1 not exercised, 1 not run"), "{md}");
    // NEVER-001 is in the catalog but no scenario judged it; TPL-001 only
    // ever did not apply.
    assert!(
        md.contains("**Never exercised** (2 of 8): `TPL-001`, `NEVER-001`"),
        "{md}"
    );
    assert!(html.contains("<strong>Never exercised</strong> (2 of 8)"));
    let coverage = &report.coverage;
    let cap = coverage.iter().find(|c| c.id == "CAP-001").unwrap();
    assert_eq!((cap.exercised, cap.passed, cap.failed), (1, 0, 1));
    let tpl = coverage.iter().find(|c| c.id == "TPL-001").unwrap();
    assert_eq!(tpl.exercised, 0, "not applicable is not exercised");
}

#[test]
fn html_links_proof_to_timeline_rows_and_styles_what_was_injected() {
    let html = to_html(&sample());
    // The proof cites seq 41, which the timeline of scenario 2 shows.
    assert!(
        html.contains("<a href=\"#scenario-2-seq-41\">41</a>"),
        "{html}"
    );
    assert!(html.contains("<tr id=\"scenario-2-seq-41\">"));
    // Seq 57 is not on the timeline: shown, not linked.
    assert!(html.contains("<td class=\"num\">57</td>"));
    // A fault the scenario injected reads as such, not as a failure.
    assert!(html.contains("event lane-webhook injected\">fault injected"));
    // A failed status sits in the Status lane, marked as a problem.
    assert!(html.contains("event lane-status problem\">wamid.B6 failed"));
    // The heading's glyph is inline SVG, not an emoji a font may lack.
    let heading = &html[html.find("<h1>").unwrap()..html.find("</h1>").unwrap()];
    assert!(heading.contains("<svg"), "{heading}");
    assert!(heading.is_ascii(), "{heading}");
}

#[test]
fn write_all_writes_four_files_in_order() {
    let dir = std::env::temp_dir().join(format!("wasim-reports-test-{}", std::process::id()));
    let report = sample();
    let paths = write_all(&report, &dir.join("nested")).unwrap();
    let names: Vec<_> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "report.json",
            "report.md",
            "report.junit.xml",
            "report.html"
        ]
    );
    let json = std::fs::read_to_string(&paths[0]).unwrap();
    assert_eq!(from_json(&json).unwrap(), report);
    assert_eq!(
        std::fs::read_to_string(&paths[3]).unwrap(),
        to_html(&report)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
