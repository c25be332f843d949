//! The schema is a contract: the committed SDL must match the code, and every change of
//! its shape is written in `CHANGELOG.md`.

use sha2::{Digest, Sha256};

/// Fails when the schema changed without `schema.graphql` being updated. To accept a change
/// on purpose: `UPDATE_SCHEMA=1 cargo test -p interlib-tests schema`, then review the diff.
#[test]
fn committed_sdl_matches_the_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let current = interlib::graphql::schema::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &current).expect("schema.graphql written");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "schema.graphql is out of date: the API changed. Review the change, then run \
         `UPDATE_SCHEMA=1 cargo test -p interlib-tests schema` and commit schema.graphql."
    );
}

/// The schema's shape: its SDL without descriptions, whitespace folded. Types, fields,
/// arguments, nullability, defaults and directives count; wording does not.
fn shape(sdl: &str) -> String {
    let mut kept = String::new();
    let mut rest = sdl;
    while let Some(start) = rest.find("\"\"\"") {
        kept.push_str(&rest[..start]);
        let inside = &rest[start + 3..];
        let end = inside.find("\"\"\"").expect("every description is closed");
        rest = &inside[end + 3..];
    }
    kept.push_str(rest);
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first 12 hex digits of the SHA-256 of the shape: what a changelog entry records.
fn fingerprint(sdl: &str) -> String {
    hex::encode(Sha256::digest(shape(sdl).as_bytes()))[..12].to_owned()
}

#[test]
fn the_shape_ignores_descriptions_and_nothing_else() {
    let sdl = "\"\"\"\nA round.\n\"\"\"\ntype Round {\n\t\"\"\"\nIts name.\n\"\"\"\n\tname: String!\n}\n";
    let reworded = sdl.replace("Its name.", "What it is called, in two\nlines.");
    assert_eq!(fingerprint(sdl), fingerprint(&reworded));
    for changed in [sdl.replace("name:", "title:"), sdl.replace("String!", "String"), sdl.replace("Round", "Cycle")] {
        assert_ne!(fingerprint(sdl), fingerprint(&changed), "{changed}");
    }
}

/// Fails when the schema's shape changed without a `CHANGELOG.md` entry: the newest entry
/// records the shape it describes (`Schema shape: \`...\``).
#[test]
fn every_change_of_the_schema_shape_has_a_changelog_entry() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../CHANGELOG.md");
    let changelog = std::fs::read_to_string(path).expect("CHANGELOG.md at the root of the repository");
    let recorded = changelog.split("Schema shape: `").nth(1).and_then(|rest| rest.split('`').next());
    let current = fingerprint(&interlib::graphql::schema::sdl());
    assert_eq!(
        recorded,
        Some(current.as_str()),
        "the schema's shape changed: add an entry at the top of CHANGELOG.md saying what changed \
         (and whether it breaks clients, see its deprecation policy), with `Schema shape: `{current}``"
    );
}
