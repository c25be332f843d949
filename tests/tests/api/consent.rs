//! Linking by email grants nothing over a person who has not agreed. An association that
//! syncs the email of someone already in the network (a direct applicant, another
//! association's member) gets a pending membership: it sees what it sent, never the
//! person, their applications or their pairings, and cannot act for them, until the
//! librarian (or an admin) confirms. The sync's answer is the same whether the email was
//! known or not.

use entities::{application, membership, round};
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::{Value, json};

use crate::gid;
use crate::sync::sync;

fn member(external_id: &str, email: &str, name: &str) -> Value {
    let mut row = fixtures::member_row(external_id, email, name, "ZA");
    row["interests"] = json!(["outreach"]);
    row
}

/// The counts and row errors of a sync, without the run's own id and time.
fn answer(body: &Value) -> Value {
    let p = &body["data"]["syncMembers"];
    json!([
        p["created"],
        p["updated"],
        p["unchanged"],
        p["failed"],
        p["userErrors"].as_array().map(|errors| {
            errors.iter().map(|e| json!([e["index"], e["field"], e["code"], e["message"]])).collect::<Vec<_>>()
        })
    ])
}

const SEES: &str = "query($farida: ID!, $liasa: ID!) {
    node(id: $farida) { id }
    librarians(filter: { search: \"Farida\" }) { totalCount }
    pairings { totalCount }
    association: node(id: $liasa) { ... on Association {
        members(first: 20) { nodes { externalId consent sent { fullName email } librarian { fullName } } } } }
}";

/// What LIASA sees of Farida: her node, her in lists, her pairing, and her membership.
async fn liasa_sees(app: &TestApp, token: &str, net: &fixtures::Network) -> (bool, i64, i64, Value) {
    let vars =
        json!({ "farida": gid(NodeKind::Librarian, net.farida), "liasa": gid(NodeKind::Association, net.liasa) });
    let body = app.graphql_as(Some(token), SEES, vars).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let d = &body["data"];
    let membership = d["association"]["members"]["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["externalId"] == "ZA-50").cloned())
        .unwrap_or(Value::Null);
    (
        !d["node"].is_null(),
        d["librarians"]["totalCount"].as_i64().unwrap_or(-1),
        d["pairings"]["totalCount"].as_i64().unwrap_or(-1),
        membership,
    )
}

#[tokio::test]
async fn an_email_link_grants_nothing_until_the_librarian_confirms() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    // Round 2 takes applications again, so that an application can be withdrawn.
    let mut open =
        round::Entity::find_by_id(net.round2).one(&app.db).await.expect("q").expect("round").into_active_model();
    open.status = Set("OPEN".to_owned());
    open.update(&app.db).await.expect("round opened");
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let (before_node, before_listed, before_pairings, _) = liasa_sees(&app, &liasa, &net).await;
    assert_eq!((before_node, before_listed), (false, 0), "Farida is no member of LIASA");

    // The answer for Farida's email (a direct applicant) is the answer for a new person.
    let known = sync(
        &app,
        &liasa,
        net.liasa,
        "UPSERT",
        true,
        json!([member("ZA-50", "farida.haddad@example.org", "F H")]),
        None,
    )
    .await;
    let unknown =
        sync(&app, &liasa, net.liasa, "UPSERT", true, json!([member("ZA-50", "nobody@liasa.example", "F H")]), None)
            .await;
    assert_eq!(answer(&known), answer(&unknown), "{known:#} / {unknown:#}");
    // Without the name and country, both are refused alike too.
    let bare = |email: &str| json!([{ "externalId": "ZA-50", "email": email }]);
    let known = sync(&app, &liasa, net.liasa, "UPSERT", true, bare("farida.haddad@example.org"), None).await;
    let unknown = sync(&app, &liasa, net.liasa, "UPSERT", true, bare("nobody@liasa.example"), None).await;
    assert_eq!(answer(&known), answer(&unknown), "{known:#} / {unknown:#}");
    assert_eq!(known["data"]["syncMembers"]["failed"], 1);
    // Nor does moving a member LIASA created to Farida's address tell it anything.
    sync(&app, &liasa, net.liasa, "UPSERT", false, json!([member("ZA-80", "own@liasa.example", "Own")]), None).await;
    let moved = |email: &str| json!([{ "externalId": "ZA-80", "email": email }]);
    let known = sync(&app, &liasa, net.liasa, "UPSERT", true, moved("farida.haddad@example.org"), None).await;
    let unknown = sync(&app, &liasa, net.liasa, "UPSERT", true, moved("someone.new@liasa.example"), None).await;
    assert_eq!(answer(&known), answer(&unknown), "{known:#} / {unknown:#}");
    let known = sync(&app, &liasa, net.liasa, "UPSERT", false, moved("farida.haddad@example.org"), None).await;
    assert_eq!(known["data"]["syncMembers"]["updated"], 1, "{known:#}");

    let body = sync(
        &app,
        &liasa,
        net.liasa,
        "UPSERT",
        false,
        json!([member("ZA-50", "Farida.Haddad@example.org", "F H")]),
        None,
    )
    .await;
    assert_eq!(body["data"]["syncMembers"]["created"], 1, "{body:#}");

    // Pending: LIASA sees its membership and what it sent, nothing of Farida.
    let (node, listed, pairings, membership) = liasa_sees(&app, &liasa, &net).await;
    assert_eq!((node, listed, pairings), (false, 0, before_pairings), "{membership:#}");
    assert_eq!(membership["consent"], "PENDING");
    assert_eq!(membership["sent"], json!({ "fullName": "F H", "email": "farida.haddad@example.org" }));
    assert!(membership["librarian"].is_null());
    // Nor does it act for her: her application cannot be withdrawn, nor a new one made.
    let farida_app = application::Entity::find()
        .filter(application::Column::LibrarianId.eq(net.farida))
        .filter(application::Column::RoundId.eq(net.round2))
        .one(&app.db)
        .await
        .expect("q")
        .expect("Farida's application");
    let withdraw = "mutation($id: ID!) { withdrawApplication(input: { applicationId: $id }) { application { status } userErrors { code } } }";
    let body = app.graphql_as(Some(&liasa), withdraw, json!({ "id": gid(NodeKind::Application, farida_app.id) })).await;
    assert_eq!(body["data"]["withdrawApplication"]["userErrors"][0]["code"], "NOT_FOUND", "{body:#}");
    let still = application::Entity::find_by_id(farida_app.id).one(&app.db).await.expect("q").expect("row");
    assert_eq!(still.status, farida_app.status, "not withdrawn");
    // Its change feed carries nothing of her but its own membership.
    let feed = app
        .graphql_as(Some(&liasa), "{ changes(first: 100) { events { entityType entity node { id } } } }", json!({}))
        .await;
    let about_farida: Vec<&Value> = feed["data"]["changes"]["events"]
        .as_array()
        .map(|events| events.iter().filter(|e| e["entity"] == gid(NodeKind::Librarian, net.farida)).collect())
        .unwrap_or_default();
    assert!(about_farida.is_empty(), "{feed:#}");
    // Her country's ambassador does not see the claim either.
    let lb = app.token(Role::Ambassador, &["LB"], None, None);
    let q = "query($id: ID!) { node(id: $id) { ... on Librarian { memberships { externalId } } } }";
    let body = app.graphql_as(Some(&lb), q, json!({ "id": gid(NodeKind::Librarian, net.farida) })).await;
    assert_eq!(body["data"]["node"]["memberships"], json!([]), "{body:#}");

    // Farida lists the pending link and confirms it; then LIASA sees her.
    let farida = app.token(Role::Librarian, &[], None, Some(net.farida));
    let mine = "{ viewer { librarian { memberships { id consent association { name } sent { fullName } } } } }";
    let body = app.graphql_as(Some(&farida), mine, json!({})).await;
    let links = body["data"]["viewer"]["librarian"]["memberships"].as_array().cloned().unwrap_or_default();
    assert_eq!(links.len(), 1, "{body:#}");
    assert_eq!(links[0]["consent"], "PENDING");
    let id = links[0]["id"].as_str().expect("id").to_owned();
    // LIASA cannot confirm for her, nor can another librarian.
    let confirm = "mutation($id: ID!) { confirmMembership(input: { membershipId: $id }) { membership { consent } userErrors { code } } }";
    let body = app.graphql_as(Some(&liasa), confirm, json!({ "id": id })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body:#}");
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let body = app.graphql_as(Some(&ada), confirm, json!({ "id": id })).await;
    assert_eq!(body["data"]["confirmMembership"]["userErrors"][0]["code"], "NOT_FOUND", "{body:#}");
    let body = app.graphql_as(Some(&farida), confirm, json!({ "id": id })).await;
    assert_eq!(body["data"]["confirmMembership"]["membership"]["consent"], "CONFIRMED", "{body:#}");
    let (node, listed, pairings, membership) = liasa_sees(&app, &liasa, &net).await;
    // (Her pairing was already LIASA's through Ada, who is in it too.)
    assert_eq!((node, listed, pairings), (true, 1, before_pairings), "{membership:#}");
    assert_eq!(membership["librarian"]["fullName"], "Farida Haddad");

    // She declines after all: LIASA loses its view, and later syncs do not bring it back.
    let decline = "mutation($id: ID!) { declineMembership(input: { membershipId: $id }) { membership { consent } userErrors { code } } }";
    let body = app.graphql_as(Some(&farida), decline, json!({ "id": id })).await;
    assert_eq!(body["data"]["declineMembership"]["membership"]["consent"], "DECLINED", "{body:#}");
    let body = sync(
        &app,
        &liasa,
        net.liasa,
        "FULL_REPLACE",
        false,
        json!([
            member("ZA-1", "bongani.ndlovu@example.org", "Bongani Ndlovu"),
            member("ZA-3", "ada.okafor@example.org", "Ada Okafor"),
        ]),
        None,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let body = sync(
        &app,
        &liasa,
        net.liasa,
        "UPSERT",
        false,
        json!([member("ZA-50", "farida.haddad@example.org", "F. H.")]),
        None,
    )
    .await;
    assert_eq!(body["data"]["syncMembers"]["reactivated"], 1, "{body:#}");
    let (node, listed, _, membership) = liasa_sees(&app, &liasa, &net).await;
    assert_eq!((node, listed), (false, 0), "{membership:#}");
    assert_eq!((&membership["consent"], &membership["sent"]["fullName"]), (&json!("DECLINED"), &json!("F. H.")));
}

#[tokio::test]
async fn admins_may_confirm_and_erasure_declines_what_is_pending() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    // Emma belongs to ALIA; LIASA names her too, through the bulk path.
    let url = format!("{}/bulk/members?associationId={}", app.address, gid(NodeKind::Association, net.liasa));
    let res = app
        .client
        .post(&url)
        .bearer_auth(&liasa)
        .header("content-type", "application/x-ndjson")
        .body(member("ZA-60", "emma.wilson@example.org", "E W").to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    let report: Value = res.json().await.expect("JSON");
    assert_eq!(report["created"], 1, "{report:#}");
    let row = membership::Entity::find()
        .filter(membership::Column::ExternalId.eq("ZA-60"))
        .one(&app.db)
        .await
        .expect("q")
        .expect("membership");
    assert_eq!((row.consent.as_str(), row.librarian_id), ("PENDING", net.emma));
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let emma_id = json!({ "id": gid(NodeKind::Librarian, net.emma) });
    assert!(app.graphql_as(Some(&liasa), node, emma_id.clone()).await["data"]["node"].is_null());
    // An admin confirms (and it is audited).
    let confirm = "mutation($id: ID!) { confirmMembership(input: { membershipId: $id }) { membership { consent librarian { fullName } } } }";
    let body = app.graphql(confirm, json!({ "id": gid(NodeKind::Membership, row.id) })).await;
    assert_eq!(body["data"]["confirmMembership"]["membership"]["consent"], "CONFIRMED", "{body:#}");
    assert!(!app.graphql_as(Some(&liasa), node, emma_id).await["data"]["node"].is_null());
    let audit = app.data("{ auditLog(first: 10) { nodes { action } } }", json!({})).await;
    assert!(audit.to_string().contains("confirmMembership"), "{audit:#}");

    // Carmen never confirms a link, then erases her data: the link is declined for good and
    // what LIASA sent about her is gone.
    sync(&app, &liasa, net.liasa, "UPSERT", false, json!([member("ZA-70", "carmen.garcía@example.org", "C G")]), None)
        .await;
    let carmen = app.token(Role::Librarian, &[], None, Some(net.carmen));
    let erase = "mutation($id: ID!) { eraseLibrarian(input: { librarianId: $id }) { userErrors { code } } }";
    let body = app.graphql_as(Some(&carmen), erase, json!({ "id": gid(NodeKind::Librarian, net.carmen) })).await;
    assert_eq!(body["data"]["eraseLibrarian"]["userErrors"], json!([]), "{body:#}");
    let rows = membership::Entity::find()
        .filter(membership::Column::LibrarianId.eq(net.carmen))
        .all(&app.db)
        .await
        .expect("q");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!((row.consent.as_str(), row.sent, row.status.as_str()), ("DECLINED", None, "DEACTIVATED"));
    }
}
