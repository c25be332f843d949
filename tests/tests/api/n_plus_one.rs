//! Nested queries run a constant number of SQL statements, whatever the page size.

use interlib_tests::TestApp;
use serde_json::json;

/// Statements of the nested query, whatever its page size.
const MAX_STATEMENTS: u64 = 8;

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
    // The page, then one statement per relation the query asks for: languages, interests,
    // memberships, associations, pairings (joined to their links), rounds, members (joined
    // too). Countries come from memory. List resolvers prefetch these relations (see
    // graphql/prefetch.rs), so the count is fixed by the shape of the query.
    assert_eq!(small, large, "5 rows took {small} statements, 50 took {large}: an N+1");
    assert_eq!(large, largest, "50 rows took {large} statements, 100 took {largest}: an N+1");
    assert_eq!(large, MAX_STATEMENTS, "statements for one nested page");
}

const COUNTRIES: &str = "query($n: Int) { countries(first: $n) { nodes { code
  participants(first: 3, orderBy: { field: NAME }) {
    totalCount pageInfo { hasNextPage }
    nodes { fullName memberships { externalId association { name } } }
  } } } }";

#[tokio::test]
async fn nested_connections_under_a_list_are_batched_across_parents() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let before = app.statements.get();
    let ten = app.data(COUNTRIES, json!({ "n": 10 })).await;
    let for_ten = app.statements.get() - before;
    let before = app.statements.get();
    let hundred = app.data(COUNTRIES, json!({ "n": 100 })).await;
    let for_hundred = app.statements.get() - before;
    // The countries page, then one windowed page for all parents, one grouped count, and
    // memberships and associations for all participants together: the list prefetches its
    // items' nested connections (graphql/nested.rs). A statement per parent would be 100+.
    // (The first ten countries' participants have no memberships: no association lookup.)
    assert_eq!((for_ten, for_hundred), (4, 5), "statements for 10 and for 100 countries");

    // Each parent's page is exactly what the same connection gives for that parent alone.
    let countries = hundred["countries"]["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(countries.len(), 100);
    assert_eq!(&countries[..10], ten["countries"]["nodes"].as_array().map(Vec::as_slice).unwrap_or_default());
    let populated: Vec<&serde_json::Value> =
        countries.iter().filter(|c| c["participants"]["totalCount"].as_i64().unwrap_or(0) > 3).take(3).collect();
    assert!(!populated.is_empty(), "some of the first 100 countries have participants");
    for country in populated {
        let alone = app
            .data(
                "query($code: CountryCode!) { country(code: $code) {
                   participants(first: 3, orderBy: { field: NAME }) {
                     totalCount pageInfo { hasNextPage }
                     nodes { fullName memberships { externalId association { name } } } } } }",
                json!({ "code": country["code"] }),
            )
            .await;
        assert_eq!(alone["country"]["participants"], country["participants"], "{}", country["code"]);
    }
}

#[tokio::test]
async fn the_policy_adds_no_statements_for_ambassadors_and_associations() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let ambassador = app.token(interlib::auth::Role::Ambassador, &["AU", "US", "GB", "ZA"], None, None);
    let association = app.token(interlib::auth::Role::Association, &[], Some(1), None);
    // An association token costs one lookup (the association must still exist).
    for (token, check) in [(ambassador, 0), (association, 1)] {
        let mut counts = Vec::new();
        for first in [5, 50] {
            let before = app.statements.get();
            let body = app.graphql_as(Some(&token), NESTED, json!({ "first": first })).await;
            assert!(body.get("errors").is_none(), "{body}");
            assert!(body["data"]["librarians"]["nodes"].as_array().is_some_and(|n| !n.is_empty()));
            counts.push(app.statements.get() - before);
        }
        // The rules are conditions inside the same statements, so the count is the admin's
        // plus the token check.
        let expected = MAX_STATEMENTS + check;
        assert_eq!(counts, [expected, expected], "statements with the policy applied");
    }
}

const FEED: &str = "query($n: Int) { changes(first: $n, entityTypes: [ASSOCIATION, MEMBERSHIP]) { events {
  cursor entityType operation
  node { id
    ... on Association { name country { code } }
    ... on Membership { externalId status librarian { fullName } association { name } }
  } } } }";

#[tokio::test]
async fn the_change_feed_loads_its_nodes_in_batches() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let mut counts = Vec::new();
    for n in [50, 500] {
        let before = app.statements.get();
        let data = app.data(FEED, json!({ "n": n })).await;
        let events = data["changes"]["events"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(events, n, "the seeded network is in the feed");
        counts.push(app.statements.get() - before);
    }
    // The page of events, then one statement per kind of node and per relation of the
    // nodes (associations, memberships, their librarians), not one per event.
    assert_eq!(counts[0], counts[1], "50 events took {} statements, 500 took {}: an N+1", counts[0], counts[1]);
    assert!(counts[1] <= 5, "{} statements for a page of the feed", counts[1]);
}

const PROGRAMME_FEED: &str = "query($n: Int, $types: [ChangeEntityType!]) {
  changes(first: $n, entityTypes: $types) { events {
    cursor entityType operation
    node { id
      ... on Round { name status }
      ... on Application { status round { name } librarian { fullName country { code } } }
      ... on Pairing { status round { name } members { fullName } }
      ... on DiscussionTopic { title }
      ... on Certificate { recipientName round { name } }
    } } } }";

#[tokio::test]
async fn the_programme_in_the_change_feed_loads_in_batches() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    for kind in ["APPLICATION", "PAIRING", "CERTIFICATE"] {
        let mut counts = Vec::new();
        for n in [10, 100] {
            let before = app.statements.get();
            let data = app.data(PROGRAMME_FEED, json!({ "n": n, "types": [kind] })).await;
            let events = data["changes"]["events"].as_array().cloned().unwrap_or_default();
            assert_eq!(events.len(), n, "the seeded {kind}s are in the feed");
            assert!(events.iter().all(|e| !e["node"].is_null()), "an admin sees every node");
            counts.push(app.statements.get() - before);
        }
        // The page, the nodes, then one statement per relation (round, librarians), all
        // prefetched from the selection: the count is fixed by the query's shape.
        assert_eq!(counts[0], counts[1], "{kind}: 10 events took {} statements, 100 took {}", counts[0], counts[1]);
        assert!(counts[1] <= 6, "{kind}: {} statements for a page of the feed", counts[1]);
    }
}
