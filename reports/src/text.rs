//! Helpers shared by the renderings: time formats, escaping, counts, labels.

use std::fmt::Write as _;

use crate::{CheckStatus, Lane, Outcome, ProofRecord, Report, Severity, Verdict};

/// Virtual time as `+HH:MM:SS.mmm` from the world epoch (hours grow past 99 if need be).
pub(crate) fn vtime(at_ms: u64) -> String {
    let ms = at_ms % 1000;
    let s = at_ms / 1000 % 60;
    let m = at_ms / 60_000 % 60;
    let h = at_ms / 3_600_000;
    format!("+{h:02}:{m:02}:{s:02}.{ms:03}")
}

/// A wall-time duration: `850 ms`, `12.345 s`.
/// A proof record on one line, `seq 41 at +0h00m01s message_accepted: …`, with
/// the time and kind put through `token` and the summary through `text` (how
/// the format marks code and escapes prose).
pub(crate) fn proof_line(
    record: &ProofRecord,
    token: impl Fn(&str) -> String,
    text: impl Fn(&str) -> String,
) -> String {
    format!(
        "seq {} at {} {}: {}",
        record.seq,
        token(&vtime(record.at_ms)),
        token(&record.kind),
        text(&record.summary)
    )
}

pub(crate) fn wall(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{:03} s", ms / 1000, ms % 1000)
    }
}

/// The reference for a character both markup formats (HTML, XML) always
/// escape: `&`, `<` and `>`.
pub(crate) fn markup_reference(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// `text` with every character `replacement` has an answer for replaced by it.
pub(crate) fn replace_chars(
    text: &str,
    replacement: impl Fn(char) -> Option<&'static str>,
) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match replacement(c) {
            Some(replaced) => out.push_str(replaced),
            None => out.push(c),
        }
    }
    out
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    replace_chars(text, |c| match c {
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        c => markup_reference(c),
    })
}

/// Percent-encodes a relative path for a link target: everything but ASCII letters,
/// digits and `-._~/` is encoded, so the target can neither carry a scheme
/// (`javascript:`) nor break out of Markdown or HTML syntax.
pub(crate) fn link_target(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Tallies over a whole report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) scenarios: usize,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    pub(crate) not_exercised: usize,
    pub(crate) not_run: usize,
    pub(crate) harness_errors: usize,
    pub(crate) interrupted: usize,
    pub(crate) checks_passed: usize,
    pub(crate) must_failed: usize,
    pub(crate) should_failed: usize,
    pub(crate) not_applicable: usize,
}

impl Counts {
    pub(crate) fn of(report: &Report) -> Counts {
        let mut counts = Counts {
            scenarios: report.scenarios.len(),
            ..Counts::default()
        };
        for scenario in &report.scenarios {
            match scenario.outcome {
                Outcome::Passed => counts.passed += 1,
                Outcome::Failed => counts.failed += 1,
                Outcome::Skipped => counts.skipped += 1,
                Outcome::NotExercised => counts.not_exercised += 1,
                Outcome::NotRun => counts.not_run += 1,
                Outcome::HarnessError => counts.harness_errors += 1,
                Outcome::Interrupted => counts.interrupted += 1,
            }
            for check in &scenario.checks {
                match (check.status, check.severity) {
                    (CheckStatus::Pass, _) => counts.checks_passed += 1,
                    (CheckStatus::Fail, Severity::Must) => counts.must_failed += 1,
                    (CheckStatus::Fail, Severity::Should) => counts.should_failed += 1,
                    (CheckStatus::NotApplicable, _) => counts.not_applicable += 1,
                }
            }
        }
        counts
    }

    /// `7 scenarios: 1 passed, 1 failed, 1 skipped, 1 not exercised, 1 not run,
    /// 1 harness error, 1 interrupted` (the last five only when there are any).
    pub(crate) fn scenarios_line(&self) -> String {
        let mut line = format!(
            "{} {}: {} passed, {} failed",
            self.scenarios,
            plural(self.scenarios, "scenario", "scenarios"),
            self.passed,
            self.failed,
        );
        if self.skipped > 0 {
            let _ = write!(line, ", {} skipped", self.skipped);
        }
        if self.not_exercised > 0 {
            let _ = write!(line, ", {} not exercised", self.not_exercised);
        }
        if self.not_run > 0 {
            let _ = write!(line, ", {} not run", self.not_run);
        }
        if self.harness_errors > 0 {
            let _ = write!(
                line,
                ", {} {}",
                self.harness_errors,
                plural(self.harness_errors, "harness error", "harness errors")
            );
        }
        if self.interrupted > 0 {
            let _ = write!(line, ", {} interrupted", self.interrupted);
        }
        line
    }

    /// `checks: 7 passed, 1 must failed, 1 should failed, 1 not applicable`.
    pub(crate) fn checks_line(&self) -> String {
        format!(
            "checks: {} passed, {} must failed, {} should failed, {} not applicable",
            self.checks_passed, self.must_failed, self.should_failed, self.not_applicable
        )
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

pub(crate) fn verdict_title(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Certified => "Certified",
        Verdict::Violations => "Violations",
        Verdict::HarnessFailure => "Harness failure",
        Verdict::NothingJudged => "Nothing judged",
        Verdict::Interrupted => "Interrupted",
    }
}

pub(crate) fn verdict_icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Certified => "✅",
        Verdict::Violations => "❌",
        Verdict::HarnessFailure | Verdict::NothingJudged => "⚠️",
        Verdict::Interrupted => "⏹️",
    }
}

pub(crate) fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
        Outcome::NotExercised => "not exercised",
        Outcome::NotRun => "not run",
        Outcome::HarnessError => "harness error",
        Outcome::Interrupted => "interrupted",
    }
}

/// The outcome as the JSON writes it (`not_exercised`), for CSS classes and
/// JUnit properties.
pub(crate) fn outcome_key(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
        Outcome::NotExercised => "not_exercised",
        Outcome::NotRun => "not_run",
        Outcome::HarnessError => "harness_error",
        Outcome::Interrupted => "interrupted",
    }
}

pub(crate) fn outcome_icon(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "✅",
        Outcome::Failed => "❌",
        Outcome::Skipped => "⏭️",
        Outcome::NotExercised => "➖",
        Outcome::NotRun => "⏹️",
        Outcome::HarnessError => "⚠️",
        Outcome::Interrupted => "⏸️",
    }
}

pub(crate) fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Must => "must",
        Severity::Should => "should",
    }
}

pub(crate) fn status_label(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Fail => "fail",
        CheckStatus::NotApplicable => "not applicable",
    }
}

/// The lanes, in column order.
pub(crate) const LANES: [Lane; 5] = [
    Lane::Step,
    Lane::Message,
    Lane::Status,
    Lane::Webhook,
    Lane::Incident,
];

pub(crate) fn lane_label(lane: Lane) -> &'static str {
    match lane {
        Lane::Step => "Step",
        Lane::Message => "Message",
        Lane::Status => "Status",
        Lane::Webhook => "Webhook",
        Lane::Incident => "Incident",
    }
}

pub(crate) fn lane_index(lane: Lane) -> usize {
    match lane {
        Lane::Step => 0,
        Lane::Message => 1,
        Lane::Status => 2,
        Lane::Webhook => 3,
        Lane::Incident => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time() {
        assert_eq!(vtime(0), "+00:00:00.000");
        assert_eq!(vtime(1_250), "+00:00:01.250");
        assert_eq!(vtime(3_723_004), "+01:02:03.004");
        assert_eq!(vtime(100 * 3_600_000), "+100:00:00.000");
    }

    #[test]
    fn wall_time() {
        assert_eq!(wall(850), "850 ms");
        assert_eq!(wall(12_345), "12.345 s");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn link_targets_stay_relative() {
        assert_eq!(link_target("a b/c(1).log"), "a%20b/c%281%29.log");
        assert_eq!(
            link_target("javascript:alert(1)"),
            "javascript%3Aalert%281%29"
        );
        assert_eq!(link_target("é"), "%C3%A9");
    }
}
