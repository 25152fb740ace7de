//! Every relative link in the repository's Markdown (README.md, docs/,
//! sdk/*/README.md) names a file that exists inside the repository: the
//! docs never send a reader to a path outside the checkout, nor to a file
//! that was moved or deleted.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut dirs = vec![root.join("docs"), root.join("sdk")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && !["node_modules", "target", "build", "dist"].contains(&name.as_str()) {
                dirs.push(path);
            } else if name.ends_with(".md") {
                files.push(path);
            }
        }
    }
    files
}

/// The targets of `[text](target)` links, without `#fragment`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split('#').next().unwrap().trim();
        if !target.is_empty()
            && !target.contains("://")
            && !target.starts_with("mailto:")
            && !target.contains(' ')
        {
            out.push(target.to_string());
        }
    }
    out
}

#[test]
fn relative_links_in_the_docs_stay_inside_the_repository_and_exist() {
    let root = repo();
    let mut bad = Vec::new();
    let files = markdown_files(&root);
    assert!(files.len() > 10, "found only {} Markdown files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in links(&text) {
            // Ed25519 equations like `[8]([S]B − R)` look like links; they contain brackets.
            if target.contains('[') || target.contains(']') {
                continue;
            }
            let path = file.parent().unwrap().join(&target);
            match path.canonicalize() {
                Ok(real) if real.starts_with(&root) => {}
                Ok(real) => bad.push(format!(
                    "{}: {target} leaves the repository ({})",
                    file.display(),
                    real.display()
                )),
                Err(_) => bad.push(format!("{}: {target} does not exist", file.display())),
            }
        }
    }
    assert!(bad.is_empty(), "broken or outside links:\n{}", bad.join("\n"));
}
