//! Privacy: consent, profile edits, the data export and erasure, as a librarian would use
//! them, and erasure leaving no trace of the person for any role.

use entities::change_log;
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{gid, pluck};

const CONSENT: &str = "mutation($listed: Boolean!) { setDirectoryConsent(input: { listed: $listed }) {
    librarian { fullName listedInDirectory version } userErrors { field code } } }";
const UPDATE: &str = "mutation($input: UpdateMyProfileInput!) { updateMyProfile(input: $input) {
    librarian { fullName email languages interests bio version } userErrors { field code message } } }";
const ERASE: &str = "mutation($id: ID!) { eraseLibrarian(input: { librarianId: $id }) {
    librarian { fullName email erasedAt } userErrors { field code } } }";

#[tokio::test]
async fn consent_decides_who_finds_a_librarian_in_the_directory() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let lisa = app.token(Role::Librarian, &[], None, Some(net.lisa));
    let find_lisa = "{ librarians(filter: { search: \"Pure\" }) { totalCount } }";
    let seen = |body: Value| body["data"]["librarians"]["totalCount"].as_i64();
    assert_eq!(seen(app.graphql_as(Some(&ada), find_lisa, json!({})).await), Some(0));

    let body = app.graphql_as(Some(&lisa), CONSENT, json!({ "listed": true })).await;
    let payload = &body["data"]["setDirectoryConsent"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["librarian"]["listedInDirectory"], true);
    assert_eq!(payload["librarian"]["version"], 2);
    assert_eq!(seen(app.graphql_as(Some(&ada), find_lisa, json!({})).await), Some(1));

    app.graphql_as(Some(&lisa), CONSENT, json!({ "listed": false })).await;
    assert_eq!(seen(app.graphql_as(Some(&ada), find_lisa, json!({})).await), Some(0));

    // Only a librarian sets their own consent.
    let body = app.graphql_as(None, CONSENT, json!({ "listed": true })).await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    let body = app.graphql_as(Some(&ambassador), CONSENT, json!({ "listed": true })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
}

#[tokio::test]
async fn profile_updates_are_validated_versioned_and_logged() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let changes_before = change_log::Entity::find().count(&app.db).await.expect("count");

    // Every invalid field is reported at once, and nothing is written.
    let bad = json!({ "email": "not-an-email", "countryCode": "XX", "languages": ["en", "zz"],
                      "bio": "x".repeat(2001), "fullName": "  ", "yearsExperience": 99 });
    let body = app.graphql_as(Some(&ada), UPDATE, json!({ "input": bad })).await;
    let payload = &body["data"]["updateMyProfile"];
    assert!(payload["librarian"].is_null());
    let fields: Vec<(String, String)> = payload["userErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["code"].as_str().unwrap_or("").to_owned()))
        .collect();
    for expected in [
        ("fullName", "BLANK"),
        ("email", "INVALID"),
        ("countryCode", "INVALID"),
        ("yearsExperience", "INVALID"),
        ("languages", "INVALID"),
        ("bio", "TOO_LONG"),
    ] {
        assert!(fields.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {fields:?}");
    }
    let taken = app.graphql_as(Some(&ada), UPDATE, json!({ "input": { "email": "Bongani.Ndlovu@example.org" } })).await;
    assert_eq!(taken["data"]["updateMyProfile"]["userErrors"][0]["code"], "TAKEN");
    assert_eq!(change_log::Entity::find().count(&app.db).await.expect("count"), changes_before);

    let good = json!({ "email": " Ada@Lagos.example ", "languages": ["EN", "yo"], "interests": ["Open Access", "maps"],
                       "bio": "Research data librarian.", "expectedVersion": 1 });
    let body = app.graphql_as(Some(&ada), UPDATE, json!({ "input": good })).await;
    let payload = &body["data"]["updateMyProfile"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(
        payload["librarian"],
        json!({ "fullName": "Ada Okafor", "email": "ada@lagos.example", "languages": ["en", "yo"],
                "interests": ["maps", "open access"], "bio": "Research data librarian.", "version": 2 })
    );
    // A stale version is a CONFLICT that names the current version; nothing changes.
    let body = app.graphql_as(Some(&ada), UPDATE, json!({ "input": { "bio": "", "expectedVersion": 1 } })).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{body}");
    assert_eq!(error["extensions"]["currentVersion"], 2, "{body}");
    assert!(body["data"].is_null(), "{body}");
    let logged = change_log::Entity::find()
        .filter(change_log::Column::EntityId.eq(gid(NodeKind::Librarian, net.ada)))
        .filter(change_log::Column::Operation.eq("UPSERT"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(logged, 1);
}

#[tokio::test]
async fn a_librarian_exports_everything_about_themself() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let body = app.graphql_as(Some(&ada), "{ exportMyData }", json!({})).await;
    let doc = &body["data"]["exportMyData"];
    assert_eq!(doc["librarian"]["email"], "ada.okafor@example.org");
    assert_eq!(doc["librarian"]["languages"], json!(["en", "fr"]));
    assert_eq!(pluck(&doc["memberships"], "externalId"), ["ZA-3"]);
    assert_eq!(doc["applications"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["pairings"][0]["partners"], json!([{ "fullName": "Carmen García", "countryCode": "ES" }]));
    assert_eq!(doc["pairings"][1]["partners"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["certificates"][0]["recipientName"], "Ada Okafor");
    let body = app.graphql("{ exportMyData }", json!({})).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
}

/// A document that reaches every place a person's data can appear.
const EVERYWHERE: &str = "query($cert: ID!, $ada: ID!) {
    librarians(first: 100) { nodes { fullName email institution bio jobTitle } }
    librarian(id: $ada) { fullName email institution languages interests memberships { externalId status }
                          pairings { members { fullName email } } applications { goal } }
    pairings(first: 100) { nodes { members { fullName email } } }
    associations { nodes { members(first: 100) { nodes { externalId status librarian { fullName email } } } } }
    rounds { nodes { applications(first: 100) { nodes { goal librarian { fullName email } } } } }
    country(code: \"NG\") { participants { nodes { fullName email } } }
    certificate: node(id: $cert) { ... on Certificate { recipientName } }
}";

#[tokio::test]
async fn erasure_leaves_no_trace_of_the_person_for_any_role() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let carmen = app.token(Role::Librarian, &[], None, Some(net.carmen));
    let ada_id = gid(NodeKind::Librarian, net.ada);
    let vars = json!({ "cert": gid(NodeKind::Certificate, net.certificate_ada), "ada": ada_id });
    let before = app.graphql(EVERYWHERE, vars.clone()).await.to_string();
    assert!(before.contains("Ada Okafor") && before.contains("ada.okafor@example.org"), "the control sees Ada");

    // Someone else cannot erase Ada.
    let body = app.graphql_as(Some(&carmen), ERASE, json!({ "id": ada_id })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);

    let body = app.graphql_as(Some(&ada), ERASE, json!({ "id": ada_id })).await;
    let payload = &body["data"]["eraseLibrarian"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(payload["librarian"]["fullName"], "Erased librarian");
    assert!(payload["librarian"]["erasedAt"].is_string());

    // Her token no longer works.
    assert_eq!(app.post_as(Some(&ada), "{ viewer { role } }", json!({})).await.status().as_u16(), 401);

    let tokens = [
        None,
        Some(app.admin.clone()),
        Some(carmen.clone()),
        Some(app.token(Role::Librarian, &[], None, Some(net.farida))),
        Some(app.token(Role::Ambassador, &["NG"], None, None)),
        Some(app.token(Role::Ambassador, &["ZA"], None, None)),
        Some(app.token(Role::Association, &[], Some(net.liasa), None)),
        Some(app.token(Role::Association, &[], Some(net.alia_assoc), None)),
    ];
    for token in &tokens {
        let body = app.graphql_as(token.as_deref(), EVERYWHERE, vars.clone()).await;
        assert!(body["data"]["rounds"].is_object(), "the answer stands, field errors aside: {body}");
        let mut text = body.to_string();
        if token.as_deref() == Some(app.admin.as_str()) {
            let audit = app.data("{ auditLog(first: 100) { nodes { details actorSubject } } }", json!({})).await;
            text.push_str(&audit.to_string());
        }
        for trace in ["Ada Okafor", "ada.okafor", "Okafor", "University of Lagos"] {
            assert!(!text.contains(trace), "{trace} is still visible: {text}");
        }
    }

    // What stays: the pairings (for statistics, showing an erased member), the
    // deactivated membership as a tombstone, and the change-log entries for partners.
    let body = app
        .data(
            "query($ada: ID!) { librarian(id: $ada) { fullName languages memberships { externalId status }
                 pairings { members { fullName } } } }",
            json!({ "ada": ada_id }),
        )
        .await;
    let erased = &body["librarian"];
    assert_eq!(erased["languages"], json!([]));
    assert_eq!(erased["memberships"], json!([{ "externalId": "ZA-3", "status": "DEACTIVATED" }]));
    assert_eq!(pluck(&erased["pairings"][0]["members"], "fullName"), ["Erased librarian", "Carmen García"]);
    let erase_entries = || {
        change_log::Entity::find()
            .filter(change_log::Column::EntityId.eq(ada_id.clone()))
            .filter(change_log::Column::Operation.eq("ERASE"))
            .count(&app.db)
    };
    assert_eq!(erase_entries().await.expect("count"), 1);
    let deactivations = change_log::Entity::find()
        .filter(change_log::Column::EntityType.eq("Membership"))
        .filter(change_log::Column::Operation.eq("DEACTIVATE"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(deactivations, 1);

    // Erasure is idempotent: again by an admin, nothing changes and nothing is logged.
    let body = app.graphql(ERASE, json!({ "id": ada_id })).await;
    assert_eq!(body["data"]["eraseLibrarian"]["userErrors"], json!([]));
    assert_eq!(erase_entries().await.expect("count"), 1);
    let audit = app.data("{ auditLog { totalCount nodes { action actorRole objectId } } }", json!({})).await;
    assert_eq!(audit["auditLog"]["totalCount"], 1);
    assert_eq!(
        audit["auditLog"]["nodes"][0],
        json!({ "action": "eraseLibrarian", "actorRole": "librarian", "objectId": ada_id })
    );
}
