//! Merging the reports of partition slices.

mod common;

use common::sample;
use wasim_reports::{Report, ReportError, Verdict, Volatile, merge};

/// The slice `k/n` of the sample holding the scenarios at `indices`, with a verdict
/// that is deliberately wrong so merging must recompute it.
fn slice(k: u32, n: u32, indices: &[usize]) -> Report {
    let whole = sample();
    Report {
        partition: format!("{k}/{n}"),
        verdict: Verdict::Certified,
        scenarios: indices
            .iter()
            .map(|&i| whole.scenarios[i].clone())
            .collect(),
        volatile: Volatile {
            wall_ms: 1_000 * u64::from(k),
            scenarios: indices
                .iter()
                .map(|&i| whole.volatile.scenarios[i].clone())
                .collect(),
        },
        ..whole
    }
}

#[test]
fn two_slices_merge_to_the_whole() {
    let whole = sample();
    // Given out of order, with scenarios interleaved: the merge restores library order.
    let merged = merge(vec![slice(2, 2, &[3, 1, 5]), slice(1, 2, &[2, 0, 4])]).unwrap();
    assert_eq!(merged.scenarios, whole.scenarios);
    assert_eq!(merged.volatile.scenarios, whole.volatile.scenarios);
    assert_eq!(merged.volatile.wall_ms, 3_000);
    assert_eq!(merged.partition, "merged 2/2 slices");
    assert_eq!(merged.coverage, whole.coverage, "coverage is recounted");
    assert_eq!(merged.verdict, Verdict::HarnessFailure);
    assert_eq!(merged.verdict, whole.verdict);
    assert_eq!(
        Report {
            partition: whole.partition.clone(),
            volatile: whole.volatile.clone(),
            ..merged
        },
        whole
    );
}

#[test]
fn verdict_is_recomputed() {
    let merged = merge(vec![slice(1, 2, &[0, 1]), slice(2, 2, &[2])]).unwrap();
    assert_eq!(merged.verdict, Verdict::Violations);
    let merged = merge(vec![slice(1, 2, &[0]), slice(2, 2, &[2])]).unwrap();
    assert_eq!(merged.verdict, Verdict::Certified);
    // Skipped, not exercised and not run scenarios alone certify nothing.
    let merged = merge(vec![slice(1, 2, &[2, 4]), slice(2, 2, &[5])]).unwrap();
    assert_eq!(merged.verdict, Verdict::NothingJudged);
    assert_eq!(merged.verdict.exit_code(), wasim_reports::exit::FAILURE);
}

#[test]
fn missing_slices_are_named() {
    let merged = merge(vec![slice(3, 3, &[3]), slice(1, 3, &[0])]).unwrap();
    assert_eq!(merged.partition, "merged 2 of 3 slices (1/3, 3/3)");
    assert_eq!(merged.scenarios.len(), 2);
    assert_eq!(merged.scenarios[0].name, "basics-echo");
}

#[test]
fn mismatched_integration_is_an_error_naming_it() {
    let mut other = slice(2, 2, &[1]);
    other.integration = "./other-bot".to_owned();
    let error = merge(vec![slice(1, 2, &[0]), other]).unwrap_err();
    assert!(
        matches!(
            error,
            ReportError::Mismatch {
                field: "integration",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("integration"), "{message}");
    assert!(message.contains("./other-bot"), "{message}");
}

#[test]
fn mismatched_partition_count_is_an_error() {
    let error = merge(vec![slice(1, 2, &[0]), slice(2, 3, &[1])]).unwrap_err();
    assert!(error.to_string().contains("partition count"), "{error}");
}

#[test]
fn duplicate_slice_is_an_error() {
    let error = merge(vec![slice(1, 2, &[0]), slice(1, 2, &[1])]).unwrap_err();
    assert!(
        matches!(error, ReportError::DuplicateSlice { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("1/2"), "{error}");
}

#[test]
fn overlapping_slices_are_an_error() {
    let error = merge(vec![slice(1, 2, &[0, 1]), slice(2, 2, &[1])]).unwrap_err();
    assert!(error.to_string().contains("cap-naive-retry"), "{error}");
}

#[test]
fn other_inputs_are_errors() {
    assert!(matches!(
        merge(Vec::new()),
        Err(ReportError::NothingToMerge)
    ));
    let mut bad = slice(1, 2, &[0]);
    bad.partition = "merged 2/2 slices".to_owned();
    assert!(matches!(
        merge(vec![bad]),
        Err(ReportError::Partition { .. })
    ));
    let mut zero = slice(1, 2, &[0]);
    zero.partition = "0/2".to_owned();
    assert!(matches!(
        merge(vec![zero]),
        Err(ReportError::Partition { .. })
    ));
}

#[test]
fn a_whole_run_merges_to_itself() {
    let whole = sample();
    let merged = merge(vec![whole.clone()]).unwrap();
    assert_eq!(merged.partition, "merged 1/1 slices");
    assert_eq!(merged.scenarios, whole.scenarios);
    assert_eq!(merged.volatile, whole.volatile);
}
