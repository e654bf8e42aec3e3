//! The crates' import graphs, held to the layering the code documents: no two
//! top-level modules of `wasim-sim` or `wasim-conformance` import each other
//! (directly or round a longer loop), the trace is a leaf, and the model — the pure
//! core — reaches nothing of the shell or of any I/O crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules of the same crate it names
/// (`crate::x`), outside its `#[cfg(test)]` part and comments.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file that ships: comments and the `#[cfg(test)]` tail removed.
fn shipped_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a file belongs to: the first path component under `src/`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
    (name != "lib" && name != "main").then(|| name.to_owned())
}

fn graph(crate_dir: &str) -> (Graph, BTreeMap<String, String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(crate_dir)
        .join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(!files.is_empty(), "no Rust files under {}", src.display());
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut graph = Graph::new();
    let mut code_of = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("source files are UTF-8");
        let code = shipped_code(&text);
        let edges = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name != module && modules.contains(&name) {
                edges.insert(name);
            }
        }
        code_of
            .entry(module)
            .and_modify(|all: &mut String| all.push_str(&code))
            .or_insert(code);
    }
    (graph, code_of)
}

/// A loop of imports, if there is one: the modules in order.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(graph, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn the_simulator_s_modules_import_each_other_in_one_direction_only() {
    let (graph, _) = graph("sim");
    assert!(graph.contains_key("model") && graph.contains_key("api"));
    if let Some(found) = cycle(&graph) {
        panic!("wasim-sim has an import loop: {}", found.join(" -> "));
    }
}

#[test]
fn the_conformance_crate_s_modules_import_each_other_in_one_direction_only() {
    let (graph, _) = graph("conformance");
    assert!(graph.contains_key("scenario") && graph.contains_key("checks"));
    if let Some(found) = cycle(&graph) {
        panic!(
            "wasim-conformance has an import loop: {}",
            found.join(" -> ")
        );
    }
}

#[test]
fn the_trace_is_a_leaf_and_the_model_reaches_only_the_trace() {
    let (graph, code) = graph("sim");
    assert_eq!(
        graph.get("trace").cloned().unwrap_or_default(),
        BTreeSet::new(),
        "the trace imports modules of the crate"
    );
    let model: Vec<&String> = graph["model"].iter().collect();
    assert_eq!(model, ["trace"], "the model imports more than the trace");
    for io in ["tokio", "axum", "reqwest", "hyper", "std::net", "std::fs"] {
        for module in ["model", "trace"] {
            assert!(
                !code[module].contains(&format!("{io}::")),
                "sim/src/{module} uses {io}: the pure core does no I/O"
            );
        }
    }
}

#[test]
fn a_loop_of_imports_is_found() {
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
