//! Bad input gets a clear error with a stable code, never a 500, and the rest of the request
//! still runs.

use entities::{association, librarian};
use interlib::domain::NodeKind;
use interlib::error::{ErrorCode, violates_unique};
use interlib_tests::{TestApp, error_codes, fixtures};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, EntityTrait};
use serde_json::json;

use crate::gid;

#[tokio::test]
async fn malformed_ids_are_bad_user_input_naming_the_argument() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    for bad in ["not-an-id", "", "TGlicmFyaWFu", "%%%", "Um91bmQ6LTE"] {
        let body = app.graphql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": bad })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{bad:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");
        assert!(body["errors"][0]["message"].as_str().unwrap_or("").contains("not a valid ID"));
    }
    // An id of another type where a Librarian id is expected.
    let body = app
        .graphql("query($id: ID!) { librarian(id: $id) { id } }", json!({ "id": gid(NodeKind::Round, net.round1) }))
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert!(body["errors"][0]["message"].as_str().unwrap_or("").contains("must be a Librarian ID"));
}

#[tokio::test]
async fn oversize_and_negative_pages_name_the_allowed_range() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    for (args, field) in [("first: 1000", "first"), ("first: -1", "first"), ("last: 101", "last")] {
        let body = app.graphql(&format!("{{ librarians({args}) {{ totalCount }} }}"), json!({})).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{args}");
        let message = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("between 0 and 100"), "{message}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let body = app.graphql("{ librarians(first: 1, last: 1) { totalCount } }", json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let body = app.graphql("{ rounds { nodes { applications(first: 500) { totalCount } } } }", json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT", "BAD_USER_INPUT"], "nested connections check too");
}

#[tokio::test]
async fn bad_cursors_and_filters_are_bad_user_input() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let by_name =
        app.data("{ librarians(first: 1, orderBy: { field: NAME }) { pageInfo { endCursor } } }", json!({})).await;
    let cursor = by_name["librarians"]["pageInfo"]["endCursor"].clone();
    let cases = [
        ("{ librarians(after: \"garbage\") { totalCount } }", json!({})),
        ("query($c: String) { librarians(after: $c) { totalCount } }", json!({ "c": cursor })),
        ("{ librarians(filter: { countryCode: \"ZAF\" }) { totalCount } }", json!({})),
        ("{ librarians(filter: { language: \"english\" }) { totalCount } }", json!({})),
        ("{ librarians(filter: { roundId: \"nope\" }) { totalCount } }", json!({})),
        ("{ country(code: \"1\") { name } }", json!({})),
        ("{ pairings(filter: { countryCode: \"\" }) { totalCount } }", json!({})),
    ];
    for (query, vars) in cases {
        let body = app.graphql(query, vars).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{query}: {body}");
    }
    let long = "x".repeat(101);
    let body = app
        .graphql("query($s: String) { librarians(filter: { search: $s }) { totalCount } }", json!({ "s": long }))
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let body = app.graphql("{ nodes(ids: [] ) { id } }", json!({})).await;
    assert_eq!(body["data"]["nodes"], json!([]));
    let many: Vec<String> = (1..=101).map(|i| gid(NodeKind::Librarian, i)).collect();
    let body = app.graphql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": many })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn one_bad_field_does_not_spoil_the_rest_of_the_request() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let body = app.graphql("{ bad: node(id: \"oops\") { id } good: country(code: \"NG\") { name } }", json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert_eq!(body["data"]["good"]["name"], "Nigeria");
    assert!(body["data"]["bad"].is_null());
    // The failed field is in the answer as `null`, as the GraphQL specification says.
    assert!(body["data"].as_object().is_some_and(|o| o.contains_key("bad")), "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["bad"]));
}

#[tokio::test]
async fn malformed_documents_and_bodies_get_coded_errors_not_500s() {
    let app = TestApp::spawn().await;
    for (query, vars) in [
        ("{ librarians { nope } }", json!({})),
        ("{ librarians(", json!({})),
        ("query($n: Int) { librarians(first: $n) { totalCount } }", json!({ "n": "ten" })),
        ("{ librarians(filter: { sector: LIBRARY }) { totalCount } }", json!({})),
    ] {
        let body = app.graphql(query, vars).await;
        let codes = error_codes(&body);
        assert!(!codes.is_empty() && codes.iter().all(|c| c == "BAD_USER_INPUT"), "{query}: {body}");
        assert!(body.get("data").is_none(), "a request error has no data: {body}");
    }
    let url = format!("{}/graphql", app.address);
    for raw in ["{not json", "[]", "42", "{\"query\": 1}"] {
        let res =
            app.client.post(&url).header("content-type", "application/json").body(raw).send().await.expect("sent");
        assert!(res.status().is_client_error() || res.status().is_success(), "{raw}: {}", res.status());
        let body: serde_json::Value = res.json().await.expect("JSON error body");
        assert!(!error_codes(&body).is_empty() || body.is_array(), "{raw}: {body}");
    }
    let huge = format!("{{\"query\": \"{{ __typename }}\", \"pad\": \"{}\"}}", "x".repeat(9 * 1024 * 1024));
    let res = app.client.post(&url).header("content-type", "application/json").body(huge).send().await.expect("sent");
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.expect("JSON error body");
    assert_eq!(error_codes(&body), ["PAYLOAD_TOO_LARGE"]);
    // The server is still healthy.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_failed_root_field_is_null_in_data_as_the_specification_says() {
    let app = TestApp::spawn().await;
    // The only root field fails: it is `null`, and `data` is there (as with a sibling).
    let body = app.graphql("{ round(id: \"nope\") { id } }", json!({})).await;
    assert_eq!(body["data"], json!({ "round": null }), "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["round"]));
    let body = app.graphql("{ round(id: \"nope\") { id } viewer { role } }", json!({})).await;
    assert_eq!(body["data"], json!({ "round": null, "viewer": { "role": "ADMIN" } }), "{body}");
    // Two failing root fields that may be null.
    let body = app.graphql("{ a: round(id: \"nope\") { id } b: librarian(id: \"x\") { id } }", json!({})).await;
    assert_eq!(body["data"], json!({ "a": null, "b": null }), "{body}");
    // A root field that may not be null takes `data` with it.
    let body = app.graphql("{ roundStats(roundId: \"nope\") { applicants } }", json!({})).await;
    assert_eq!(body["data"], json!(null), "{body}");
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn syntax_errors_and_a_missing_query_say_what_is_wrong_in_words() {
    let app = TestApp::spawn().await;
    let body = app.graphql("{ round(id: ", json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert_eq!(body["errors"][0]["message"], "syntax error at line 1, column 13: expected value", "{body}");
    assert_eq!(body["errors"][0]["locations"], json!([{ "line": 1, "column": 13 }]));
    let body = app.graphql("query {\n  viewer { role }\n}}", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("syntax error at line 3, column 2: expected"), "{body}");
    assert!(!message.contains("-->") && !message.contains('^'), "{message}");
    for body in [json!({ "variables": {} }), json!({ "query": "" }), json!({ "query": "  \n " })] {
        let res = app.client.post(format!("{}/graphql", app.address)).json(&body).send().await.expect("sent");
        assert!(res.status().as_u16() < 500);
        let answer: serde_json::Value = res.json().await.expect("JSON");
        assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{body}: {answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("the request has no GraphQL document"), "{body}: {answer}");
        assert!(answer.get("data").is_none(), "{answer}");
    }
}

#[tokio::test]
async fn a_unique_violation_is_told_by_its_index_on_both_databases() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ada = librarian::Entity::find_by_id(net.ada).one(&app.db).await.expect("read").expect("Ada");
    let mut twin: librarian::ActiveModel = ada.into();
    twin.id = NotSet;
    let err = twin.insert(&app.db).await.expect_err("emails are unique");
    assert!(violates_unique(&err, "librarians", &["email"]), "{err}");
    assert!(!violates_unique(&err, "associations", &["name"]), "{err}");
    let liasa = association::Entity::find_by_id(net.liasa).one(&app.db).await.expect("read").expect("LIASA");
    let mut twin: association::ActiveModel = liasa.into();
    twin.id = NotSet;
    let err = twin.insert(&app.db).await.expect_err("association names are unique");
    assert!(violates_unique(&err, "associations", &["name"]), "{err}");
    assert!(!violates_unique(&err, "librarians", &["email"]), "{err}");
}

#[test]
fn the_readme_lists_every_error_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/front-end.md")).expect("docs");
    let section = readme.split("\n## Errors\n").nth(1).and_then(|rest| rest.split("\n## ").next()).expect("Errors");
    let missing: Vec<&str> =
        ErrorCode::ALL.iter().map(|c| c.as_str()).filter(|c| !section.contains(&format!("`{c}`"))).collect();
    assert!(missing.is_empty(), "codes the Errors section of docs/front-end.md does not name: {missing:?}");
}
