//! Nested queries run a constant number of SQL statements, whatever the page size.

use interlib_tests::TestApp;
use serde_json::json;

/// Upper bound for the nested query, whatever its page size.
const MAX_STATEMENTS: u64 = 16;

const NESTED: &str = "query($first: Int) { librarians(first: $first, filter: { roundId: null }) {
  nodes {
    fullName languages interests
    country { name region }
    memberships { externalId association { name country { code } } }
    pairings { status round { name } members { fullName country { code } } }
  } } }";

async fn statements_for(app: &TestApp, first: i64) -> (u64, usize) {
    let before = app.statements.get();
    let data = app.data(NESTED, json!({ "first": first })).await;
    let rows = data["librarians"]["nodes"].as_array().map(Vec::len).unwrap_or(0);
    (app.statements.get() - before, rows)
}

#[tokio::test]
async fn a_nested_query_runs_a_constant_number_of_statements() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let (small, rows_small) = statements_for(&app, 5).await;
    let (large, rows_large) = statements_for(&app, 50).await;
    let (largest, _) = statements_for(&app, 100).await;
    assert_eq!((rows_small, rows_large), (5, 50));
    // One statement per relation level: page, languages, interests, countries, memberships,
    // associations, pairing links, pairings, rounds, member links, members, members'
    // and associations' countries. A level whose keys are all in the request's DataLoader
    // cache costs nothing, and a DataLoader may split a level into two batches when issuing
    // its keys takes longer than the batching delay (slow debug builds), hence the slack of
    // three; an N+1 would add 45 to 95.
    for (rows, count) in [(5, small), (50, large), (100, largest)] {
        assert!(count <= MAX_STATEMENTS, "{rows} rows took {count} statements: an N+1");
    }
    assert!(largest <= small + 3, "5 rows took {small} statements, 100 took {largest}");
}
