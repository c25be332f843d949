//! Keyset pagination visits every row exactly once, in order, both ways.

use interlib_tests::TestApp;
use serde_json::{Value, json};

use crate::pluck;

const QUERY: &str = "query($first: Int, $after: String, $last: Int, $before: String, $order: LibrarianOrder) {
  librarians(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id fullName createdAt } }
  } }";

async fn walk(app: &TestApp, order: &Value, forward: bool, size: i64) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let vars = if forward {
            json!({ "first": size, "after": cursor, "order": order })
        } else {
            json!({ "last": size, "before": cursor, "order": order })
        };
        let data = app.data(QUERY, vars).await;
        let conn = &data["librarians"];
        let mut ids: Vec<String> = conn["edges"]
            .as_array()
            .map(|edges| edges.iter().map(|e| e["node"]["id"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default();
        assert!(ids.len() as i64 <= size);
        let info = &conn["pageInfo"];
        if forward {
            seen.append(&mut ids);
            if info["hasNextPage"] != true {
                break;
            }
            cursor = info["endCursor"].as_str().map(str::to_owned);
        } else {
            ids.append(&mut seen);
            seen = ids;
            if info["hasPreviousPage"] != true {
                break;
            }
            cursor = info["startCursor"].as_str().map(str::to_owned);
        }
    }
    seen
}

/// All rows in the order, fetched independently of the pager (and checked to be sorted).
async fn reference(app: &TestApp, order: &Value) -> Vec<String> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.data(QUERY, json!({ "first": 100, "after": after, "order": order })).await;
        let conn = &data["librarians"];
        all.extend(conn["edges"].as_array().cloned().unwrap_or_default());
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let key = |e: &Value| -> (String, i64) {
        let id = interlib::domain::GlobalId::decode("id", e["node"]["id"].as_str().unwrap_or(""))
            .ok()
            .and_then(|g| g.key.parse().ok())
            .unwrap_or(0);
        let field = match order["field"].as_str() {
            Some("NAME") => e["node"]["fullName"].as_str().unwrap_or("").to_owned(),
            Some("CREATED_AT") => e["node"]["createdAt"].as_str().unwrap_or("").to_owned(),
            _ => String::new(),
        };
        (field, id)
    };
    let keys: Vec<(String, i64)> = all.iter().map(key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    if order["direction"] == "DESC" {
        sorted.reverse();
    }
    assert_eq!(keys, sorted, "rows come in the requested order {order}");
    all.iter().map(|e| e["node"]["id"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn paging_over_250_rows_visits_each_row_once_in_order_both_ways() {
    let app = TestApp::spawn().await;
    interlib::seed::librarians(&app.db, 250, 11).await.expect("seeded");
    for order in [
        json!({ "field": "ID", "direction": "ASC" }),
        json!({ "field": "NAME", "direction": "ASC" }),
        json!({ "field": "CREATED_AT", "direction": "DESC" }),
    ] {
        let expected = reference(&app, &order).await;
        assert_eq!(expected.len(), 250);
        let unique: std::collections::HashSet<_> = expected.iter().collect();
        assert_eq!(unique.len(), 250, "no row twice");
        assert_eq!(walk(&app, &order, true, 20).await, expected, "forward by 20 in {order}");
        assert_eq!(walk(&app, &order, false, 20).await, expected, "backward by 20 in {order}");
        assert_eq!(walk(&app, &order, true, 33).await, expected, "forward by 33 in {order}");
    }
}

#[tokio::test]
async fn page_info_and_defaults_follow_relay() {
    let app = TestApp::spawn().await;
    interlib::seed::librarians(&app.db, 45, 3).await.expect("seeded");
    let first = app.data(QUERY, json!({})).await;
    let conn = &first["librarians"];
    assert_eq!(conn["edges"].as_array().map(Vec::len), Some(20), "default page size is 20");
    assert_eq!(conn["totalCount"], 45);
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    assert_eq!(conn["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(conn["pageInfo"]["startCursor"], conn["edges"][0]["cursor"]);

    let last = app.data(QUERY, json!({ "last": 5 })).await;
    let conn = &last["librarians"];
    assert_eq!(conn["edges"].as_array().map(Vec::len), Some(5));
    assert_eq!(conn["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(conn["pageInfo"]["hasNextPage"], false);

    let empty = app.data(QUERY, json!({ "first": 0 })).await;
    assert_eq!(empty["librarians"]["edges"], json!([]));
    assert_eq!(empty["librarians"]["totalCount"], 45);

    // A window between two cursors.
    let all = app.data(QUERY, json!({ "first": 45 })).await;
    let edges = all["librarians"]["edges"].as_array().cloned().unwrap_or_default();
    let between =
        app.data(QUERY, json!({ "first": 100, "after": edges[4]["cursor"], "before": edges[10]["cursor"] })).await;
    assert_eq!(
        pluck(
            &Value::Array(
                between["librarians"]["edges"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|e| e["node"].clone())
                    .collect()
            ),
            "id"
        ),
        edges[5..10].iter().map(|e| e["node"]["id"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>()
    );
}
