//! The documentation cannot rot: every GraphQL example in the README and in `docs/` is
//! parsed and validated against the schema (nothing runs).

use std::path::{Path, PathBuf};

/// The README and every page under `docs/`.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The ```graphql blocks of a page: (line, text).
fn examples(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```graphql") => current = Some((i + 1, String::new())),
            (Some(_), "```") => found.extend(current.take()),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, _) => {}
        }
    }
    found
}

/// The documents of a block: a block that lists several operations, each starting at the
/// line's start (`mutation ...`, `query ...`, `{ ...`), holds one document each, unless it
/// has fragments, which its operations share.
fn documents(block: &str) -> Vec<String> {
    let starts = |l: &str| ["query", "mutation", "subscription", "{"].iter().any(|k| l.starts_with(k));
    if block.lines().any(|l| l.starts_with("fragment")) || block.lines().filter(|l| starts(l)).count() < 2 {
        return vec![block.to_owned()];
    }
    let mut documents: Vec<String> = Vec::new();
    for line in block.lines() {
        if starts(line) || documents.is_empty() {
            documents.push(String::new());
        }
        if let Some(current) = documents.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents
}

#[tokio::test]
async fn every_graphql_example_of_the_documentation_is_valid_against_the_schema() {
    let mut checked = 0;
    let mut invalid = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        for (line, block) in examples(&text) {
            for example in documents(&block) {
                checked += 1;
                let errors = interlib::graphql::schema::validate(&example).await;
                if !errors.is_empty() {
                    invalid.push(format!("{}:{line}: {errors:?}\n{example}", page.display()));
                }
            }
        }
    }
    assert!(checked >= 7, "only {checked} examples found");
    assert!(invalid.is_empty(), "examples the schema refuses:\n{}", invalid.join("\n"));
}

#[tokio::test]
async fn the_check_refuses_what_the_schema_refuses() {
    assert!(interlib::graphql::schema::validate("{ viewer { role } }").await.is_empty());
    assert!(!interlib::graphql::schema::validate("{ viewer { nope } }").await.is_empty());
    assert!(!interlib::graphql::schema::validate("{ roundStats(round: \"x\") { applicants } }").await.is_empty());
    assert!(!interlib::graphql::schema::validate("{ viewer { role }").await.is_empty());
}
