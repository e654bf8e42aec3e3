//! Writing every rendering beside each other.

use std::path::{Path, PathBuf};

use crate::{Report, to_html, to_json, to_junit, to_markdown};

/// Creates `dir` (and its parents) and writes `report.json`, `report.md`,
/// `report.junit.xml` and `report.html` into it; returns their paths in that order.
///
/// # Errors
///
/// The first I/O error creating the directory or writing a file.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let renderings = [
        ("report.json", to_json(report)),
        ("report.md", to_markdown(report)),
        ("report.junit.xml", to_junit(report)),
        ("report.html", to_html(report)),
    ];
    let mut paths = Vec::with_capacity(renderings.len());
    for (name, text) in renderings {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        paths.push(path);
    }
    Ok(paths)
}
