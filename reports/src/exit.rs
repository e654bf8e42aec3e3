//! Process exit codes: an API, since CI pipelines branch on them. Every command
//! of the `wasim` binary ends with one of these, and [`crate::Verdict::exit_code`]
//! maps each verdict to one with an exhaustive match.

/// Success: certified (`certify`), every scenario passed (`run`), nothing found
/// (`explore`), measured (`bench`), served until stopped (`serve`).
pub const OK: u8 = 0;

/// Violations: at least one `must` check failed (`run`, `certify`, `report
/// merge`), or exploration found and saved a broken rule (`explore`).
pub const VIOLATIONS: u8 = 1;

/// Harness, integration or input failure: the integration crashed, hung or never
/// started, nothing could be judged, or an argument or file was refused.
pub const FAILURE: u8 = 2;
