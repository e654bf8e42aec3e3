//! The scenario library: every `*.toml` under a directory, in path order, and
//! deterministic slices of it for CI matrices.

use std::path::{Path, PathBuf};

use crate::scenario::{Scenario, ScenarioError};

/// A slice `K/N` of a library (1-based K).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Which slice, from 1.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl Partition {
    /// The whole library.
    pub const WHOLE: Partition = Partition { index: 1, count: 1 };

    /// Whether this is the first slice (`1/N`), which also explores.
    pub fn is_first(self) -> bool {
        self.index == 1
    }

    /// Whether the scenario at `position` (0-based, in library order) is in this slice:
    /// round robin, so slices stay balanced as the library grows.
    pub fn contains(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Partition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parsed = text.split_once('/').and_then(|(k, n)| {
            let index = k.trim().parse::<usize>().ok()?;
            let count = n.trim().parse::<usize>().ok()?;
            (count >= 1 && (1..=count).contains(&index)).then_some(Partition { index, count })
        });
        parsed.ok_or_else(|| {
            format!("invalid partition `{text}`: expected K/N with 1 <= K <= N, such as 2/4")
        })
    }
}

/// The built-in library (the repository's `scenarios/`), compiled in so that
/// `wasim certify` works from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "scenarios/auth-rotated.toml",
        include_str!("../../scenarios/auth-rotated.toml"),
    ),
    (
        "scenarios/cap-naive-retry.toml",
        include_str!("../../scenarios/cap-naive-retry.toml"),
    ),
    (
        "scenarios/cap-open-conversation-2024.toml",
        include_str!("../../scenarios/cap-open-conversation-2024.toml"),
    ),
    (
        "scenarios/cap-per-message-2025.toml",
        include_str!("../../scenarios/cap-per-message-2025.toml"),
    ),
    (
        "scenarios/compromise-response.toml",
        include_str!("../../scenarios/compromise-response.toml"),
    ),
    (
        "scenarios/flagged-waba.toml",
        include_str!("../../scenarios/flagged-waba.toml"),
    ),
    (
        "scenarios/forged-signature.toml",
        include_str!("../../scenarios/forged-signature.toml"),
    ),
    (
        "scenarios/handshake.toml",
        include_str!("../../scenarios/handshake.toml"),
    ),
    (
        "scenarios/inbound-reply.toml",
        include_str!("../../scenarios/inbound-reply.toml"),
    ),
    (
        "scenarios/interactive-reply.toml",
        include_str!("../../scenarios/interactive-reply.toml"),
    ),
    (
        "scenarios/key-rotation-campaign.toml",
        include_str!("../../scenarios/key-rotation-campaign.toml"),
    ),
    (
        "scenarios/key-rotation.toml",
        include_str!("../../scenarios/key-rotation.toml"),
    ),
    (
        "scenarios/media-link-failed.toml",
        include_str!("../../scenarios/media-link-failed.toml"),
    ),
    (
        "scenarios/media-receipt.toml",
        include_str!("../../scenarios/media-receipt.toml"),
    ),
    (
        "scenarios/media-url-expired.toml",
        include_str!("../../scenarios/media-url-expired.toml"),
    ),
    (
        "scenarios/on-prem-registration.toml",
        include_str!("../../scenarios/on-prem-registration.toml"),
    ),
    (
        "scenarios/opt-out.toml",
        include_str!("../../scenarios/opt-out.toml"),
    ),
    (
        "scenarios/pacing-paused.toml",
        include_str!("../../scenarios/pacing-paused.toml"),
    ),
    (
        "scenarios/pacing-released.toml",
        include_str!("../../scenarios/pacing-released.toml"),
    ),
    (
        "scenarios/pair-rate.toml",
        include_str!("../../scenarios/pair-rate.toml"),
    ),
    (
        "scenarios/partner-user-removal.toml",
        include_str!("../../scenarios/partner-user-removal.toml"),
    ),
    (
        "scenarios/pause-escalation.toml",
        include_str!("../../scenarios/pause-escalation.toml"),
    ),
    (
        "scenarios/reply-buttons.toml",
        include_str!("../../scenarios/reply-buttons.toml"),
    ),
    (
        "scenarios/throughput.toml",
        include_str!("../../scenarios/throughput.toml"),
    ),
    (
        "scenarios/turkey-registration-day.toml",
        include_str!("../../scenarios/turkey-registration-day.toml"),
    ),
    (
        "scenarios/us-pause-2025.toml",
        include_str!("../../scenarios/us-pause-2025.toml"),
    ),
    (
        "scenarios/utility-pacing.toml",
        include_str!("../../scenarios/utility-pacing.toml"),
    ),
    (
        "scenarios/webhook-duplicates.toml",
        include_str!("../../scenarios/webhook-duplicates.toml"),
    ),
    (
        "scenarios/webhook-reorder.toml",
        include_str!("../../scenarios/webhook-reorder.toml"),
    ),
    (
        "scenarios/window-24h.toml",
        include_str!("../../scenarios/window-24h.toml"),
    ),
];

/// The repository's saved exploration regressions (`scenarios/regressions/`),
/// compiled in with the library, so `wasim certify` plays the same scenarios
/// from any directory.
pub const BUILTIN_REGRESSIONS: &[(&str, &str)] = &[
    (
        "scenarios/regressions/auth-001-1.toml",
        include_str!("../../scenarios/regressions/auth-001-1.toml"),
    ),
    (
        "scenarios/regressions/key-001-1.toml",
        include_str!("../../scenarios/regressions/key-001-1.toml"),
    ),
    (
        "scenarios/regressions/wh-004-1.toml",
        include_str!("../../scenarios/regressions/wh-004-1.toml"),
    ),
];

/// The built-in library, parsed, in path order.
pub fn builtin() -> Result<Vec<Scenario>, ScenarioError> {
    parse(BUILTIN)
}

/// The built-in saved regressions, parsed, in path order.
pub fn builtin_regressions() -> Result<Vec<Scenario>, ScenarioError> {
    parse(BUILTIN_REGRESSIONS)
}

fn parse(files: &[(&str, &str)]) -> Result<Vec<Scenario>, ScenarioError> {
    files
        .iter()
        .map(|(path, text)| Scenario::from_toml(text, Path::new(path)))
        .collect()
}

/// Whether `file` on disk is one of the built-in regressions, unchanged: the
/// same file name and the same text (so it is not played twice).
pub fn is_builtin_regression(file: &Path) -> bool {
    let Some(name) = file.file_name() else {
        return false;
    };
    BUILTIN_REGRESSIONS.iter().any(|(path, text)| {
        Path::new(path).file_name() == Some(name)
            && std::fs::read_to_string(file).is_ok_and(|on_disk| on_disk == *text)
    })
}

/// Every scenario file under `dir` (recursively), in path order.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| {
            format!(
                "failed to read scenario directory {}: {e}",
                current.display()
            )
        })?;
        for entry in entries {
            let path = entry
                .map_err(|e| {
                    format!(
                        "failed to read scenario directory {}: {e}",
                        current.display()
                    )
                })?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found.push(path);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "no scenario files (*.toml) under {}",
            dir.display()
        ));
    }
    Ok(found)
}

/// Loads the scenarios of `paths` (files or directories), in library order.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut files_found = Vec::new();
    for path in paths {
        if path.is_dir() {
            files_found.extend(files(path).map_err(|message| ScenarioError {
                file: path.display().to_string(),
                message,
            })?);
        } else {
            files_found.push(path.clone());
        }
    }
    files_found
        .iter()
        .map(|file| Scenario::from_file(file))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that the built-in list `list` (named `list_name`) names exactly
    /// the files directly in the repository's `folder` (`scenarios/regressions`),
    /// in file order; returns every file under `folder`.
    fn assert_lists_the_folder(
        list: &[(&str, &str)],
        list_name: &str,
        folder: &str,
    ) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(folder);
        let on_disk = files(&dir).expect(folder);
        let names: Vec<String> = on_disk
            .iter()
            .filter(|p| p.parent() == Some(dir.as_path()))
            .map(|p| {
                let file = p.file_name().unwrap_or_default().to_string_lossy();
                format!("{folder}/{file}")
            })
            .collect();
        let listed: Vec<&str> = list.iter().map(|(path, _)| *path).collect();
        assert_eq!(listed, names, "list every file of {folder}/ in {list_name}");
        on_disk
    }

    #[test]
    fn the_builtin_library_parses_and_matches_the_scenarios_directory() {
        let scenarios = builtin().expect("every built-in scenario parses");
        assert_eq!(scenarios.len(), BUILTIN.len());
        // Saved exploration regressions (scenarios/regressions/) are not built in.
        assert_lists_the_folder(BUILTIN, "BUILTIN", "scenarios");
    }

    #[test]
    fn the_builtin_regressions_are_the_saved_ones_and_recognised_on_disk() {
        let regressions = builtin_regressions().expect("every built-in regression parses");
        assert_eq!(regressions.len(), BUILTIN_REGRESSIONS.len());
        // A file in a subfolder is not listed, and is not recognised below.
        let on_disk = assert_lists_the_folder(
            BUILTIN_REGRESSIONS,
            "BUILTIN_REGRESSIONS",
            "scenarios/regressions",
        );
        for file in &on_disk {
            assert!(is_builtin_regression(file), "{}", file.display());
        }
        // A changed copy under the same name is not the built-in one.
        let dir = std::env::temp_dir().join(format!("wasim-library-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let changed = dir.join(on_disk[0].file_name().expect("a file name"));
        std::fs::copy(&on_disk[0], &changed).expect("copied");
        assert!(is_builtin_regression(&changed), "an unchanged copy is");
        std::fs::write(&changed, "name = \"changed\"\n").expect("written");
        assert!(!is_builtin_regression(&changed));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn partitions_parse_and_cover_every_position_once() {
        assert!("0/2".parse::<Partition>().is_err());
        assert!("3/2".parse::<Partition>().is_err());
        assert!("x".parse::<Partition>().is_err());
        let slices: Vec<Partition> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for position in 0..10 {
            let owners = slices.iter().filter(|p| p.contains(position)).count();
            assert_eq!(owners, 1, "position {position}");
        }
        assert!(Partition::WHOLE.contains(7));
    }
}
