//! The JSON rendering: the source of truth, and the only one read back.

use serde::Deserialize;

use crate::{FORMAT_VERSION, Report, ReportError};

/// The report as pretty JSON, with a trailing newline.
pub fn to_json(report: &Report) -> String {
    // Every field is a string, a number, a bool, a sequence or a struct: no map
    // with non-string keys, nothing that can fail to serialize.
    let mut text = serde_json::to_string_pretty(report).expect("a Report always serializes");
    text.push('\n');
    text
}

/// Just the version, read before the rest so a report from another version is
/// named as such rather than as a shape error.
#[derive(Deserialize)]
struct VersionProbe {
    format_version: Option<serde_json::Value>,
}

/// Reads a report written by [`to_json`].
///
/// # Errors
///
/// [`ReportError::Syntax`] when the text is not a JSON object,
/// [`ReportError::MissingFormatVersion`] or [`ReportError::FormatVersion`] when it is
/// not a report of [`FORMAT_VERSION`], and [`ReportError::Shape`] (with the line and
/// column) when a field is missing or has the wrong type.
pub fn from_json(text: &str) -> Result<Report, ReportError> {
    let probe: VersionProbe = serde_json::from_str(text).map_err(ReportError::Syntax)?;
    match probe.format_version {
        None => return Err(ReportError::MissingFormatVersion),
        Some(version) if version.as_u64() != Some(u64::from(FORMAT_VERSION)) => {
            return Err(ReportError::FormatVersion {
                found: version.to_string(),
                expected: FORMAT_VERSION,
            });
        }
        Some(_) => {}
    }
    serde_json::from_str(text).map_err(ReportError::Shape)
}
