//! The documentation cannot rot: every GraphQL document in the README and in `docs/` (each
//! ```graphql block, and each inline `{ ... }` or `query ...` span), and the benchmarks'
//! query files, are parsed and validated against the schema (nothing runs).

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

/// The inline code spans of a page that are whole documents (`{ ... }`, `query ...`,
/// `mutation ...`), one line each: (line, text). Fragments of a query written in prose
/// (`librarians(filter: ...)`) are not documents and are not checked.
fn inline_documents(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_block = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        for (n, span) in line.split('`').enumerate() {
            let span = span.trim();
            // JSON (`{"Authorization": ...}`) is not GraphQL.
            let json = span.starts_with("{\"") || span.starts_with("{ \"");
            let opens = (span.starts_with('{') && !json)
                || ["query ", "query(", "mutation ", "mutation(", "subscription "].iter().any(|k| span.starts_with(k));
            let balanced = span.matches('{').count() == span.matches('}').count() && span.ends_with('}');
            if n % 2 == 1 && opens && balanced {
                found.push((i + 1, span.to_owned()));
            }
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
    let mut inline = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        for (line, example) in inline_documents(&text) {
            inline += 1;
            let errors = interlib::graphql::schema::validate(&example).await;
            if !errors.is_empty() {
                invalid.push(format!("{}:{line}: {errors:?}\n{example}", page.display()));
            }
        }
    }
    assert!(inline >= 5, "only {inline} inline documents found");
    let queries = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    for file in std::fs::read_dir(&queries).expect("tests/queries") {
        let path = file.expect("entry").path();
        let errors = interlib::graphql::schema::validate(&std::fs::read_to_string(&path).expect("query")).await;
        if !errors.is_empty() {
            invalid.push(format!("{}: {errors:?}", path.display()));
        }
    }
    assert!(invalid.is_empty(), "examples the schema refuses:\n{}", invalid.join("\n"));
}

#[tokio::test]
async fn the_check_refuses_what_the_schema_refuses() {
    assert!(interlib::graphql::schema::validate("{ viewer { role } }").await.is_empty());
    assert!(!interlib::graphql::schema::validate("{ viewer { nope } }").await.is_empty());
    assert!(!interlib::graphql::schema::validate("{ roundStats(round: \"x\") { applicants } }").await.is_empty());
    assert!(!interlib::graphql::schema::validate("{ viewer { role }").await.is_empty());
}
