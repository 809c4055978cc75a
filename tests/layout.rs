//! The shape of `src/` that ARCHITECTURE.md promises, checked: no import circle between
//! modules, and no file so long that it does several jobs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines of code a file may have before its unit tests.
const MAX_CODE_LINES: usize = 550;

fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src/ is readable")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// `src/http/retry.rs` → ["http", "retry"]; `src/http/mod.rs` → ["http"].
fn module_of(path: &Path) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rel = path.strip_prefix(&src).expect("a file under src/");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a file without its `#[cfg(test)]` part and without comments.
fn code(text: &str) -> String {
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file's code names: `crate::a::b` as ["a", "b"], `super::x` resolved.
fn references(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent(module))] {
        let mut start = 0;
        while let Some(i) = code[start..].find(prefix) {
            let at = start + i;
            start = at + prefix.len();
            let before = at.checked_sub(1).map(|j| bytes[j]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue;
            }
            let path: Vec<String> = code[start..]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let mut full = base.clone();
            full.extend(path);
            out.insert(full);
        }
    }
    out
}

fn parent(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// The dependency graph between the modules at one level: top-level modules, or the children
/// of one folder module (a child's use of its parent is not an edge: the parent holds what the
/// children share).
fn graph(level: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in sources() {
        let module = module_of(&path);
        if module.len() <= level.len() || module[..level.len()] != *level {
            continue;
        }
        let from = module[level.len()].clone();
        let text = std::fs::read_to_string(&path).expect("a source file is readable");
        for target in references(&module, &code(&text)) {
            if target.len() <= level.len() || target[..level.len()] != *level {
                continue;
            }
            let to = target[level.len()].clone();
            if to != from {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
        edges.entry(from).or_default();
    }
    edges
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let mut levels: BTreeSet<Vec<String>> = BTreeSet::new();
    levels.insert(Vec::new());
    for path in sources() {
        if path.ends_with("mod.rs") {
            levels.insert(module_of(&path));
        }
    }
    // The graph is really read: the commands use the command line.
    assert!(graph(&[]).get("cmd").is_some_and(|to| to.contains("cli")));
    for level in levels {
        let edges = graph(&level);
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "an import circle in src/{}: {}",
                level.join("/"),
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    edges.insert("b".to_string(), BTreeSet::new());
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn no_file_is_longer_than_one_job() {
    for path in sources() {
        let text = std::fs::read_to_string(&path).expect("a source file is readable");
        let lines = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .count();
        assert!(
            lines <= MAX_CODE_LINES,
            "{} has {lines} lines before its tests (at most {MAX_CODE_LINES})",
            path.display()
        );
    }
}
