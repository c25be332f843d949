//! Admin writes: associations, ambassador appointments and librarians; each is audited,
//! validated, and refused to everyone else.

use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures, user_errors};
use serde_json::{Value, json};

use crate::gid;

const CREATE_ASSOCIATION: &str = "mutation($input: CreateAssociationInput!) { createAssociation(input: $input) {
    association { id name country { code } website } userErrors { field code } } }";

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

#[tokio::test]
async fn admins_create_and_update_associations_and_every_write_is_audited() {
    let app = TestApp::spawn().await;
    let input = json!({ "name": "Kenya Library Association", "countryCode": "ke", "website": "https://kla.example" });
    let body = app.graphql(CREATE_ASSOCIATION, json!({ "input": input })).await;
    let payload = &body["data"]["createAssociation"];
    assert_eq!(user_errors(payload), []);
    assert_eq!(payload["association"]["country"]["code"], "KE");
    let id = payload["association"]["id"].as_str().unwrap_or_default().to_owned();

    let again = app.graphql(CREATE_ASSOCIATION, json!({ "input": input })).await;
    assert_eq!(user_errors(&again["data"]["createAssociation"]), [pair("name", "TAKEN")]);
    let bad = json!({ "name": " ", "countryCode": "KX", "website": "kla.example" });
    let bad = app.graphql(CREATE_ASSOCIATION, json!({ "input": bad })).await;
    assert_eq!(
        user_errors(&bad["data"]["createAssociation"]),
        [pair("name", "BLANK"), pair("countryCode", "INVALID"), pair("website", "INVALID")]
    );

    let update = "mutation($input: UpdateAssociationInput!) { updateAssociation(input: $input) {
        association { name website } userErrors { field code } } }";
    let body = app.graphql(update, json!({ "input": { "associationId": id, "website": "" } })).await;
    assert_eq!(
        body["data"]["updateAssociation"]["association"],
        json!({ "name": "Kenya Library Association", "website": null })
    );
    let missing = gid(NodeKind::Association, 999);
    let body = app.graphql(update, json!({ "input": { "associationId": missing, "name": "X" } })).await;
    assert_eq!(user_errors(&body["data"]["updateAssociation"]), [pair("associationId", "NOT_FOUND")]);

    let audit = app
        .data(
            "query($id: ID!) { auditLog(objectId: $id) { totalCount nodes { action actorRole actorSubject objectType objectId details } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(audit["auditLog"]["totalCount"], 2);
    let newest = &audit["auditLog"]["nodes"][0];
    assert_eq!(newest["action"], "updateAssociation");
    assert_eq!(newest["actorRole"], "admin");
    assert_eq!(newest["actorSubject"], "admin");
    assert_eq!(newest["objectType"], "Association");
    assert_eq!(newest["details"]["website"], Value::Null);
    assert_eq!(audit["auditLog"]["nodes"][1]["action"], "createAssociation");
}

#[tokio::test]
async fn only_admins_write_and_read_the_audit_log() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let input = json!({ "input": { "name": "Nope", "countryCode": "ZA" } });
    let body = app.graphql_as(None, CREATE_ASSOCIATION, input.clone()).await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    for token in [
        app.token(Role::Ambassador, &["ZA"], None, None),
        app.token(Role::Association, &[], Some(net.liasa), None),
        app.token(Role::Librarian, &[], None, Some(net.ada)),
    ] {
        let body = app.graphql_as(Some(&token), CREATE_ASSOCIATION, input.clone()).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"]);
        assert!(body["data"].is_null());
        let body = app.graphql_as(Some(&token), "{ auditLog { totalCount } }", json!({})).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    }
    let names = app.data("{ associations { nodes { name } } }", json!({})).await;
    assert_eq!(names["associations"]["nodes"].as_array().map(Vec::len), Some(2), "nothing was written");
    // Mutations are never run from a GET (a link could trigger them).
    let res = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[(
            "query",
            "mutation { createAssociation(input: { name: \"G\", countryCode: \"ZA\" }) { userErrors { code } } }",
        )])
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 405);
}

#[tokio::test]
async fn ambassador_terms_start_and_end_and_their_tokens_follow() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let appoint = "mutation($input: AppointAmbassadorInput!) { appointAmbassador(input: $input) {
        ambassador { id active country { code } librarian { fullName } } userErrors { field code } } }";
    let lisa = gid(NodeKind::Librarian, net.lisa);
    let body = app.graphql(appoint, json!({ "input": { "librarianId": lisa, "countryCode": "ZA" } })).await;
    let payload = &body["data"]["appointAmbassador"];
    assert_eq!(user_errors(payload), []);
    assert_eq!(payload["ambassador"]["active"], true);
    assert_eq!(payload["ambassador"]["librarian"]["fullName"], "Lisa 100% Pure_Test");
    let ambassador_id = payload["ambassador"]["id"].as_str().unwrap_or_default().to_owned();

    let twice = app.graphql(appoint, json!({ "input": { "librarianId": lisa, "countryCode": "ZA" } })).await;
    assert_eq!(user_errors(&twice["data"]["appointAmbassador"]), [pair("librarianId", "NOT_ALLOWED")]);
    let backwards = json!({ "librarianId": lisa, "countryCode": "LS",
                            "termFrom": "2026-06-01T00:00:00Z", "termUntil": "2026-01-01T00:00:00Z" });
    let body = app.graphql(appoint, json!({ "input": backwards })).await;
    assert_eq!(user_errors(&body["data"]["appointAmbassador"]), [pair("termUntil", "INVALID")]);

    // A token naming Lisa as ZA ambassador works while the term is open.
    let token = app.token(Role::Ambassador, &["ZA"], None, Some(net.lisa));
    let viewer = "{ viewer { role librarian { fullName } } }";
    let body = app.graphql_as(Some(&token), viewer, json!({})).await;
    assert_eq!(
        body["data"]["viewer"],
        json!({ "role": "AMBASSADOR", "librarian": { "fullName": "Lisa 100% Pure_Test" } })
    );

    let end = "mutation($id: ID!) { endAmbassador(input: { ambassadorId: $id }) {
        ambassador { active } userErrors { field code } } }";
    let body = app.graphql(end, json!({ "id": ambassador_id })).await;
    assert_eq!(body["data"]["endAmbassador"]["ambassador"]["active"], false);
    let body = app.graphql(end, json!({ "id": ambassador_id })).await;
    assert_eq!(user_errors(&body["data"]["endAmbassador"]), [pair("ambassadorId", "NOT_ALLOWED")]);
    assert_eq!(app.post_as(Some(&token), viewer, json!({})).await.status().as_u16(), 401);
}

#[tokio::test]
async fn a_token_naming_an_ambassador_is_refused_outside_every_term_it_claims() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let appoint = "mutation($input: AppointAmbassadorInput!) { appointAmbassador(input: $input) {
        userErrors { field code } } }";
    let lisa = gid(NodeKind::Librarian, net.lisa);
    // A term that ended by its date, one that has not begun, and one that is open.
    for (country, from, until) in [
        ("LS", Some("2025-01-01T00:00:00Z"), Some("2025-06-01T00:00:00Z")),
        ("NA", Some("2030-01-01T00:00:00Z"), None),
        ("ZA", None, None),
    ] {
        let input = json!({ "librarianId": lisa, "countryCode": country, "termFrom": from, "termUntil": until });
        let body = app.graphql(appoint, json!({ "input": input })).await;
        assert_eq!(user_errors(&body["data"]["appointAmbassador"]), [], "{country}: {body}");
    }
    let viewer = "{ viewer { role } }";
    let open = app.token(Role::Ambassador, &["ZA"], None, Some(net.lisa));
    assert_eq!(app.post_as(Some(&open), viewer, json!({})).await.status().as_u16(), 200);
    for countries in [&["LS"][..], &["NA"], &["ZA", "LS"]] {
        let token = app.token(Role::Ambassador, countries, None, Some(net.lisa));
        let res = app.post_as(Some(&token), viewer, json!({})).await;
        assert_eq!(res.status().as_u16(), 401, "{countries:?}");
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
        assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("outside its term"), "{body}");
    }
}

#[tokio::test]
async fn admins_create_librarians_with_validated_unique_emails() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    let create = "mutation($input: CreateLibrarianInput!) { createLibrarian(input: $input) {
        librarian { fullName email country { code } sector languages listedInDirectory version } userErrors { field code } } }";
    let input = json!({ "fullName": "Nomsa Dube", "email": "Nomsa@Example.org", "countryCode": "sz",
                        "sector": "PUBLIC", "languages": ["en", "ss"] });
    let body = app.graphql(create, json!({ "input": input })).await;
    assert_eq!(
        body["data"]["createLibrarian"]["librarian"],
        json!({ "fullName": "Nomsa Dube", "email": "nomsa@example.org", "country": { "code": "SZ" }, "sector": "PUBLIC",
                "languages": ["en", "ss"], "listedInDirectory": false, "version": 1 })
    );
    let body = app.graphql(create, json!({ "input": input })).await;
    assert_eq!(user_errors(&body["data"]["createLibrarian"]), [pair("email", "TAKEN")]);
    let bad =
        json!({ "fullName": "X", "email": "x@example.org", "countryCode": "SZ", "sector": "PUBLIC", "languages": [] });
    let body = app.graphql(create, json!({ "input": bad })).await;
    assert_eq!(user_errors(&body["data"]["createLibrarian"]), [pair("languages", "INVALID")]);
    let total = app.data("{ librarians { totalCount } }", json!({})).await;
    assert_eq!(total["librarians"]["totalCount"], 9);
}

#[tokio::test]
async fn an_admins_sync_is_audited_and_an_associations_own_is_not() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = gid(NodeKind::Association, net.liasa);
    let member = |id: &str, email: &str| json!([{ "externalId": id, "email": email, "fullName": "Zanele Mokoena", "countryCode": "ZA", "languages": ["en"] }]);
    let own = app.token(Role::Association, &[], Some(net.liasa), None);
    crate::sync::synced(&app, &own, net.liasa, "UPSERT", member("ZA-7", "zanele@example.net")).await;
    let admin = app.token(Role::Admin, &[], None, None);
    crate::sync::synced(&app, &admin, net.liasa, "UPSERT", member("ZA-8", "thabo@example.net")).await;
    let audit = app
        .data(
            "query($id: ID!) { auditLog(objectId: $id) { totalCount nodes { action actorRole objectId details } } }",
            json!({ "id": liasa }),
        )
        .await;
    assert_eq!(audit["auditLog"]["totalCount"], 1, "the admin's sync only: {audit}");
    let entry = &audit["auditLog"]["nodes"][0];
    assert_eq!(entry["action"], "syncMembers");
    assert_eq!(entry["actorRole"], "admin");
    assert_eq!(entry["details"]["mode"], "UPSERT");
    assert_eq!(entry["details"]["created"], 1);
    assert!(entry["details"]["syncRun"].as_str().is_some_and(|id| !id.is_empty()), "{entry}");
}
