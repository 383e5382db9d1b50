//! Drift between the code and what the repository tells users: every check id the probes emit is documented in
//! docs/metrics.md (and every documented one exists), the packaging README names the Dockerfile's base images, the
//! documents cite only files the repository has, and the licence Cargo.toml declares is present.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first `"..."` literal of `text`, when `text` starts with one.
fn leading_literal(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('"')?;
    rest.split_once('"').map(|(literal, _)| literal)
}

/// Check ids as the probes write them: a `Check { .. }` field on its own line, `id: "ad_dc_up",`. Test fixtures
/// (`Check { id: "x", .. }` on one line) do not match.
fn check_ids_in_source() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut ids = BTreeSet::new();
    for file in files {
        for line in read(&file).lines() {
            if let Some(id) = line.trim_start().strip_prefix("id: ").and_then(leading_literal) {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

/// The first column of every check table (header `| id | probe | ...`) in docs/metrics.md.
fn check_ids_in_docs() -> BTreeSet<String> {
    let text = read(&root().join("docs/metrics.md"));
    let mut ids = BTreeSet::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("| id | probe |") {
            in_table = true;
        } else if !line.starts_with('|') {
            in_table = false;
        } else if let Some(rest) = line.strip_prefix("| `").filter(|_| in_table) {
            ids.extend(rest.split_once('`').map(|(id, _)| id.to_string()));
        }
    }
    assert!(ids.len() >= 25, "docs/metrics.md: the check tables were not found ({ids:?})");
    ids
}

#[test]
fn every_check_id_is_documented() {
    let source = check_ids_in_source();
    assert!(source.len() >= 25 && source.contains("ad_dc_up"), "the scan found too few check ids: {source:?}");
    let docs = check_ids_in_docs();
    let undocumented: Vec<_> = source.difference(&docs).collect();
    assert!(
        undocumented.is_empty(),
        "check ids used in src/ but missing from docs/metrics.md (check tables): {undocumented:?}"
    );
    let stale: Vec<_> = docs.difference(&source).collect();
    assert!(stale.is_empty(), "check ids listed in docs/metrics.md that no code emits: {stale:?}");
}

#[test]
fn packaging_readme_names_the_dockerfile_base_images() {
    let dockerfile = read(&root().join("Dockerfile"));
    let readme = read(&root().join("packaging/README.md"));
    let images: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(images.len() >= 2, "a multi-stage Dockerfile: {images:?}");
    for image in images {
        assert!(readme.contains(&format!("`{image}`")), "packaging/README.md does not name base image {image}");
    }
}

/// `name.md` words in a document: links and mentions alike.
fn md_references(text: &str) -> BTreeSet<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut refs = BTreeSet::new();
    for (at, _) in text.match_indices(".md") {
        let after = text[at + 3..].chars().next();
        if after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let start = text[..at].rfind(|c: char| !word(c)).map_or(0, |i| i + 1);
        let name = &text[start..at + 3];
        if name.len() > 3 && !name.contains("://") {
            refs.insert(name.to_string());
        }
    }
    refs
}

#[test]
fn documents_cite_only_files_of_the_repository() {
    let root = root();
    let mut docs: Vec<PathBuf> = vec![root.join("README.md"), root.join("packaging/README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let mut missing = Vec::new();
    for doc in &docs {
        let dir = doc.parent().unwrap();
        for name in md_references(&read(doc)) {
            if !dir.join(&name).exists() && !root.join(&name).exists() {
                missing.push(format!("{} cites {name}", doc.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(missing.is_empty(), "references to files the repository does not have: {missing:?}");
}

#[test]
fn the_declared_licence_is_present() {
    let manifest = read(&root().join("Cargo.toml"));
    assert!(manifest.lines().any(|l| l.trim() == "license = \"Apache-2.0\""), "Cargo.toml declares Apache-2.0");
    let licence = read(&root().join("LICENSE"));
    assert!(licence.contains("Apache License") && licence.contains("Version 2.0, January 2004"), "LICENSE");
    assert!(licence.contains("END OF TERMS AND CONDITIONS"), "LICENSE holds the full text");
}
