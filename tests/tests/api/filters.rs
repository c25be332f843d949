//! Every filter of the librarian and pairing lists.

use interlib::domain::NodeKind;
use interlib_tests::{TestApp, fixtures};
use serde_json::{Value, json};

use crate::{gid, pluck};

async fn names(app: &TestApp, filter: Value) -> Vec<String> {
    let data = app
        .data(
            "query($f: LibrarianFilter) { librarians(filter: $f, orderBy: { field: NAME }) { totalCount nodes { fullName } } }",
            json!({ "f": filter }),
        )
        .await;
    let names = pluck(&data["librarians"], "fullName");
    assert_eq!(data["librarians"]["totalCount"], names.len(), "totalCount agrees with the rows for {filter}");
    names
}

#[tokio::test]
async fn librarian_filters_each_select_the_right_rows() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;

    assert_eq!(names(&app, json!({})).await.len(), 8);
    assert_eq!(names(&app, json!({ "countryCode": "ng" })).await, ["Ada Okafor", "Alia Khan"]);
    assert_eq!(names(&app, json!({ "sector": "PUBLIC" })).await, ["Alia Khan", "Bongani Ndlovu"]);
    assert_eq!(names(&app, json!({ "language": "fr" })).await, ["Ada Okafor", "Farida Haddad"]);
    assert_eq!(
        names(&app, json!({ "interest": "Open Access" })).await,
        ["Ada Okafor", "Bongani Ndlovu", "Emma Wilson"]
    );
    assert_eq!(
        names(&app, json!({ "roundId": gid(NodeKind::Round, net.round2) })).await,
        ["Ada Okafor", "Farida Haddad", "Grace Mensah"]
    );
    // Grace's LIASA membership is deactivated: only active members count.
    let liasa = app.data("{ associations(countryCode: \"ZA\") { nodes { id } } }", json!({})).await;
    let liasa_id = liasa["associations"]["nodes"][0]["id"].clone();
    assert_eq!(names(&app, json!({ "associationId": liasa_id })).await, ["Ada Okafor", "Bongani Ndlovu"]);
    // Search is case-insensitive over name and institution, and takes % and _ literally.
    assert_eq!(names(&app, json!({ "search": "OKAF" })).await, ["Ada Okafor"]);
    assert_eq!(names(&app, json!({ "search": "archives of south" })).await, ["Grace Mensah"]);
    assert_eq!(names(&app, json!({ "search": "100%" })).await, ["Lisa 100% Pure_Test"]);
    assert!(names(&app, json!({ "search": "a%z" })).await.is_empty());
    assert_eq!(names(&app, json!({ "search": "e_t" })).await, ["Lisa 100% Pure_Test"]);
    assert_eq!(
        names(&app, json!({ "updatedSince": fixtures::day(7).to_rfc3339() })).await,
        ["Alia Khan", "Grace Mensah", "Lisa 100% Pure_Test"]
    );
    // Filters combine with AND.
    assert_eq!(
        names(&app, json!({ "countryCode": "ZA", "language": "en", "sector": "ARCHIVE" })).await,
        ["Grace Mensah"]
    );
    assert!(names(&app, json!({ "countryCode": "ZA", "interest": "research data" })).await.is_empty());
    // The nested participants list applies the same filters within its country.
    let data = app
        .data(
            "{ country(code: \"ZA\") { participants(filter: { language: \"zu\" }) { nodes { fullName } } } }",
            json!({}),
        )
        .await;
    assert_eq!(pluck(&data["country"]["participants"], "fullName"), ["Bongani Ndlovu"]);
}

#[tokio::test]
async fn pairing_filters_each_select_the_right_rows() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ids = |data: &Value| pluck(&data["pairings"], "id");
    let q = "query($f: PairingFilter) { pairings(filter: $f) { totalCount nodes { id } } }";
    let p = |id| gid(NodeKind::Pairing, id);

    let by_round = app.data(q, json!({ "f": { "roundId": gid(NodeKind::Round, net.round1) } })).await;
    assert_eq!(ids(&by_round), [p(net.pairing_ada_carmen), p(net.pairing_bongani_emma)]);
    let active = app.data(q, json!({ "f": { "status": "ACTIVE" } })).await;
    assert_eq!(ids(&active), [p(net.pairing_trio)]);
    let lebanon = app.data(q, json!({ "f": { "countryCode": "LB" } })).await;
    assert_eq!(ids(&lebanon), [p(net.pairing_trio)]);
    let south_africa = app.data(q, json!({ "f": { "countryCode": "ZA" } })).await;
    assert_eq!(ids(&south_africa), [p(net.pairing_bongani_emma), p(net.pairing_trio)]);
    assert_eq!(south_africa["pairings"]["totalCount"], 2);
    let carmen = app.data(q, json!({ "f": { "librarianId": gid(NodeKind::Librarian, net.carmen) } })).await;
    assert_eq!(ids(&carmen), [p(net.pairing_ada_carmen)]);
    let none =
        app.data(q, json!({ "f": { "librarianId": gid(NodeKind::Librarian, net.carmen), "status": "ACTIVE" } })).await;
    assert_eq!(none["pairings"]["totalCount"], 0);
}
