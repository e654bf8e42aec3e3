//! Joining the reports of partition slices (`--partition K/N`) into one.

use std::collections::BTreeMap;

use crate::{Report, ReportError, ScenarioReport, Volatile, VolatileScenario};

/// A slice `K/N`, 1 <= K <= N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slice {
    k: u32,
    n: u32,
}

impl Slice {
    fn parse(partition: &str) -> Result<Slice, ReportError> {
        let bad = || ReportError::Partition {
            partition: partition.to_owned(),
        };
        let (k, n) = partition.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || k > n {
            return Err(bad());
        }
        Ok(Slice { k, n })
    }
}

impl std::fmt::Display for Slice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Joins the reports of the slices of one partitioned run.
///
/// Every report must cover a slice `K/N` of the same N and share `format_version`,
/// `tool`, `command` and `integration`. Slices may be missing (the merged
/// `partition` then reads `merged 2 of 3 slices (1/3, 3/3)`; with every slice it
/// reads `merged 3/3 slices`). Scenarios are ordered by file then name (the library
/// order), the verdict is recomputed with [`Report::verdict_of`] and the coverage
/// with [`Report::coverage_of`] over every slice's catalog, wall times are
/// summed and the per-scenario measurements follow the scenarios' order.
///
/// # Errors
///
/// [`ReportError::NothingToMerge`] for no reports, [`ReportError::Partition`] for a
/// report that is not a slice, [`ReportError::Mismatch`] naming the field that
/// differs, [`ReportError::DuplicateSlice`] for a slice given twice and
/// [`ReportError::DuplicateScenario`] for a scenario two slices both ran.
pub fn merge(reports: Vec<Report>) -> Result<Report, ReportError> {
    let first = reports.first().ok_or(ReportError::NothingToMerge)?;
    let first_slice = Slice::parse(&first.partition)?;
    // Only the first slice of a certification explores.
    let exploration = reports.iter().find_map(|r| r.exploration.clone());
    // Every slice judges by the same catalog; keep its order, and any check
    // only some slices list.
    let mut catalog: Vec<(String, crate::Severity)> = Vec::new();
    for entry in reports.iter().flat_map(|r| &r.coverage) {
        if !catalog.iter().any(|(id, _)| *id == entry.id) {
            catalog.push((entry.id.clone(), entry.severity));
        }
    }
    let header = (
        first.format_version,
        first.tool.clone(),
        first.command.clone(),
        first.integration.clone(),
    );

    let mut slices: BTreeMap<u32, Slice> = BTreeMap::new();
    let mut report_slices = Vec::with_capacity(reports.len());
    for report in &reports {
        let slice = Slice::parse(&report.partition)?;
        let mismatch = |field: &'static str, first: String, other: String| ReportError::Mismatch {
            field,
            first,
            first_slice: first_slice.to_string(),
            other,
            other_slice: slice.to_string(),
        };
        if report.format_version != header.0 {
            return Err(mismatch(
                "format_version",
                header.0.to_string(),
                report.format_version.to_string(),
            ));
        }
        for (field, first, other) in [
            ("tool", &header.1, &report.tool),
            ("command", &header.2, &report.command),
            ("integration", &header.3, &report.integration),
        ] {
            if first != other {
                return Err(mismatch(field, first.clone(), other.clone()));
            }
        }
        if slice.n != first_slice.n {
            return Err(mismatch(
                "partition count",
                first_slice.n.to_string(),
                slice.n.to_string(),
            ));
        }
        if slices.insert(slice.k, slice).is_some() {
            return Err(ReportError::DuplicateSlice {
                slice: slice.to_string(),
            });
        }
        report_slices.push(slice);
    }

    let n = first_slice.n;
    let partition = if slices.len() == n as usize {
        format!("merged {n}/{n} slices")
    } else {
        let listed: Vec<String> = slices.values().map(Slice::to_string).collect();
        format!(
            "merged {} of {n} slices ({})",
            slices.len(),
            listed.join(", ")
        )
    };

    let mut wall_ms: u64 = 0;
    let mut entries: Vec<(ScenarioReport, Option<VolatileScenario>, Slice)> = Vec::new();
    for (report, slice) in reports.into_iter().zip(report_slices) {
        wall_ms = wall_ms.saturating_add(report.volatile.wall_ms);
        let mut volatile: Vec<Option<VolatileScenario>> =
            report.volatile.scenarios.into_iter().map(Some).collect();
        for (index, scenario) in report.scenarios.into_iter().enumerate() {
            let measured = take_measurement(&mut volatile, index, &scenario.name);
            entries.push((scenario, measured, slice));
        }
    }
    entries.sort_by(|(a, _, _), (b, _, _)| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    for pair in entries.windows(2) {
        let ((a, _, slice_a), (b, _, slice_b)) = (&pair[0], &pair[1]);
        if a.file == b.file && a.name == b.name {
            return Err(ReportError::DuplicateScenario {
                name: a.name.clone(),
                file: a.file.clone(),
                first_slice: slice_a.to_string(),
                other_slice: slice_b.to_string(),
            });
        }
    }

    let mut scenarios = Vec::with_capacity(entries.len());
    let mut measured = Vec::with_capacity(entries.len());
    for (scenario, volatile, _) in entries {
        scenarios.push(scenario);
        measured.extend(volatile);
    }
    Ok(Report {
        format_version: header.0,
        tool: header.1,
        command: header.2,
        integration: header.3,
        partition,
        verdict: Report::verdict_of(&scenarios),
        coverage: Report::coverage_of(
            catalog
                .iter()
                .map(|(id, severity)| (id.as_str(), *severity)),
            &scenarios,
        ),
        scenarios,
        exploration,
        volatile: Volatile {
            wall_ms,
            scenarios: measured,
        },
    })
}

/// The measurement of the scenario at `index`: the entry at the same index when it
/// names the scenario (the normal case), else the first unused entry that does.
fn take_measurement(
    volatile: &mut [Option<VolatileScenario>],
    index: usize,
    name: &str,
) -> Option<VolatileScenario> {
    if let Some(slot) = volatile.get_mut(index)
        && slot.as_ref().is_some_and(|v| v.name == name)
    {
        return slot.take();
    }
    volatile
        .iter_mut()
        .find(|slot| slot.as_ref().is_some_and(|v| v.name == name))
        .and_then(Option::take)
}
