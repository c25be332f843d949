//! The schema is a contract: the committed SDL must match the code.

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
