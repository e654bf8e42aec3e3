//! What can go wrong reading or merging reports.

/// Why a report could not be read or reports could not be merged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The text is not JSON, or not a JSON object.
    #[error("the report is not valid JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// The JSON has no `format_version`.
    #[error("the report has no `format_version` (is this a wasim report?)")]
    MissingFormatVersion,
    /// The JSON's `format_version` is not the one this build reads.
    #[error(
        "the report has `format_version` {found}, but this wasim reads `format_version` {expected}"
    )]
    FormatVersion {
        /// The version found, as written in the file.
        found: String,
        /// [`crate::FORMAT_VERSION`].
        expected: u32,
    },
    /// The JSON is a report of the right version but a field is missing or has the wrong type.
    #[error("the report does not have the expected shape: {0}")]
    Shape(#[source] serde_json::Error),
    /// [`crate::merge`] was given no reports.
    #[error("there are no reports to merge")]
    NothingToMerge,
    /// Two reports to merge disagree on a field they must share.
    #[error(
        "cannot merge reports with different `{field}`: `{first}` (slice {first_slice}) and `{other}` (slice {other_slice})"
    )]
    Mismatch {
        /// The field that differs (`integration`, `tool`, the partition count, ...).
        field: &'static str,
        /// Its value in the first report.
        first: String,
        /// The slice the first report covers.
        first_slice: String,
        /// Its value in the report that differs.
        other: String,
        /// The slice the report that differs covers.
        other_slice: String,
    },
    /// A report to merge does not say which slice it covers.
    #[error(
        "cannot merge a report whose `partition` is `{partition}`: expected a slice `K/N` with 1 <= K <= N"
    )]
    Partition {
        /// The `partition` found.
        partition: String,
    },
    /// The same slice was given twice.
    #[error("slice {slice} is given twice")]
    DuplicateSlice {
        /// The slice (`2/3`).
        slice: String,
    },
    /// Two slices both report the same scenario (slices must not overlap).
    #[error("scenario `{name}` ({file}) appears in slice {first_slice} and in slice {other_slice}")]
    DuplicateScenario {
        /// The scenario's name.
        name: String,
        /// The scenario's file.
        file: String,
        /// The first slice that has it.
        first_slice: String,
        /// Another slice that has it.
        other_slice: String,
    },
}
