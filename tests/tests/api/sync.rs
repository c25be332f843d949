//! Association membership sync: `syncMembers`, the bulk path and the CLI import.

use entities::{change_log, librarian, membership, sync_run};
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::gid;

pub const SYNC: &str = "mutation($input: SyncMembersInput!, $key: String) {
  syncMembers(input: $input, idempotencyKey: $key) {
    created updated unchanged deactivated reactivated failed dryRun replayed
    syncRun { id mode source received created updated unchanged deactivated reactivated failed actor }
    userErrors { index externalId field code message }
  }
}";

/// Runs `syncMembers` as `token`; the whole response.
pub async fn sync(
    app: &TestApp,
    token: &str,
    association: i32,
    mode: &str,
    dry_run: bool,
    members: Value,
    key: Option<&str>,
) -> Value {
    let input = json!({ "associationId": gid(NodeKind::Association, association), "mode": mode,
                        "dryRun": dry_run, "members": members });
    app.graphql_as(Some(token), SYNC, json!({ "input": input, "key": key })).await
}

/// The `syncMembers` payload of a call that must not fail.
pub async fn synced(app: &TestApp, token: &str, association: i32, mode: &str, members: Value) -> Value {
    let body = sync(app, token, association, mode, false, members, None).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["syncMembers"].clone()
}

fn counts(payload: &Value) -> [i64; 6] {
    ["created", "updated", "unchanged", "deactivated", "reactivated", "failed"]
        .map(|k| payload[k].as_i64().unwrap_or(-1))
}

async fn changes(app: &TestApp) -> u64 {
    change_log::Entity::find().count(&app.db).await.expect("count")
}

/// `(externalId, status)` of every membership of an association, by external id.
async fn roster(app: &TestApp, association: i32) -> Vec<(String, String, i32)> {
    let mut rows: Vec<(String, String, i32)> = membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(association))
        .all(&app.db)
        .await
        .expect("memberships")
        .into_iter()
        .map(|m| (m.external_id, m.status, m.librarian_id))
        .collect();
    rows.sort();
    rows
}

fn member(external_id: &str, email: &str, name: &str, country: &str) -> Value {
    let mut row = fixtures::member_row(external_id, email, name, country);
    row["sector"] = json!("PUBLIC");
    row["interests"] = json!(["outreach"]);
    row
}

#[tokio::test]
async fn a_sync_creates_links_and_reports_bad_rows_and_a_resync_changes_nothing() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let carmen = librarian::Entity::find_by_id(net.carmen).one(&app.db).await.expect("query").expect("carmen");
    let list = json!([
        member("AU-10", "new.person@alia.example", "New Person", "AU"),
        // Carmen is already in the network: linked by email (in any case), not duplicated,
        // her own profile is kept, and the link waits for her consent.
        member("AU-11", &carmen.email.to_uppercase(), "Someone Else", "AU"),
        member("AU-12", "not-an-email", "Bad Email", "AU"),
        member("AU-13", "x@alia.example", "Bad Country", "XX"),
        member("AU-10", "dup@alia.example", "Duplicate Id", "AU"),
        { "externalId": "AU-14", "email": "nameless@alia.example", "countryCode": "AU" },
        member("AU-1", "emma.r@alia.example", "Emma", "AU"),
    ]);
    let librarians_before = librarian::Entity::find().count(&app.db).await.expect("count");
    let payload = synced(&app, &alia, net.alia_assoc, "UPSERT", list.clone()).await;
    // AU-1 is Emma's existing (not provisioned) membership: what ALIA sent for her is
    // recorded (her profile is her own). Carmen's link counts as created, like a new person.
    assert_eq!(counts(&payload), [2, 1, 0, 0, 0, 4], "{payload:#}");
    let errors: Vec<(i64, String, String)> = payload["userErrors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["index"].as_i64().unwrap_or(-1),
                e["field"].as_str().unwrap_or("").into(),
                e["code"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (2, "email".into(), "INVALID".into()),
            (3, "countryCode".into(), "INVALID".into()),
            (4, "externalId".into(), "DUPLICATE".into()),
            (5, "fullName".into(), "BLANK".into()),
        ]
    );
    assert_eq!(payload["userErrors"][0]["externalId"], "AU-12");
    let run = &payload["syncRun"];
    assert_eq!(
        (run["mode"].as_str(), run["source"].as_str(), run["received"].as_i64()),
        (Some("UPSERT"), Some("GRAPHQL"), Some(7))
    );
    assert_eq!(librarian::Entity::find().count(&app.db).await.expect("count"), librarians_before + 1);
    let carmen_now = librarian::Entity::find_by_id(net.carmen).one(&app.db).await.expect("query").expect("carmen");
    assert_eq!(carmen_now, carmen, "a linked librarian keeps their own profile");
    let ids: Vec<String> = roster(&app, net.alia_assoc).await.into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["AU-1", "AU-10", "AU-11"]);

    // The association reads back what became of its members: the one it created, and of
    // the linked one only what it sent, until she confirms.
    let q = "query($id: ID!) { node(id: $id) { ... on Association { members(first: 10) { nodes { externalId status consent sent { fullName } librarian { fullName } } } syncRuns(first: 5) { totalCount nodes { id created } } } } }";
    let data = app.graphql_as(Some(&alia), q, json!({ "id": gid(NodeKind::Association, net.alia_assoc) })).await;
    let names: Vec<&str> = data["data"]["node"]["members"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["librarian"]["fullName"].as_str())
        .collect();
    assert!(!names.contains(&carmen.full_name.as_str()) && names.contains(&"New Person"), "{data:#}");
    let linked = &data["data"]["node"]["members"]["nodes"][2];
    assert_eq!(
        (&linked["externalId"], &linked["consent"], &linked["sent"]["fullName"], &linked["librarian"]),
        (&json!("AU-11"), &json!("PENDING"), &json!("Someone Else"), &Value::Null),
        "{data:#}"
    );
    assert_eq!(data["data"]["node"]["syncRuns"]["totalCount"], 1);
    assert_eq!(data["data"]["node"]["syncRuns"]["nodes"][0]["id"], payload["syncRun"]["id"]);

    // The same list again: nothing changes and nothing is logged.
    let logged = changes(&app).await;
    let again = synced(&app, &alia, net.alia_assoc, "UPSERT", list.clone()).await;
    assert_eq!(counts(&again), [0, 0, 3, 0, 0, 4], "{again:#}");
    assert_eq!(changes(&app).await, logged);

    // A changed name updates the provisioned librarian, and what ALIA sent for Carmen (one
    // log entry each); Carmen's profile is her own.
    let mut changed = list.as_array().expect("list").clone();
    changed[0]["fullName"] = json!("New Person-Renamed");
    changed[1]["fullName"] = json!("Not Carmen");
    let payload = synced(&app, &alia, net.alia_assoc, "UPSERT", Value::Array(changed)).await;
    assert_eq!(counts(&payload), [0, 2, 1, 0, 0, 4], "{payload:#}");
    assert_eq!(changes(&app).await, logged + 2);
    let names: Vec<String> = librarian::Entity::find()
        .filter(librarian::Column::Email.is_in(["new.person@alia.example", carmen.email.as_str()]))
        .order_by_asc(librarian::Column::Id)
        .all(&app.db)
        .await
        .expect("query")
        .into_iter()
        .map(|l| l.full_name)
        .collect();
    assert_eq!(names, [carmen.full_name.clone(), "New Person-Renamed".to_owned()]);

    // Languages alone are a change too; the list is replaced, the other one left alone.
    let retagged = json!([{ "externalId": "AU-10", "languages": ["FR", "en"] }]);
    let payload = synced(&app, &alia, net.alia_assoc, "UPSERT", retagged.clone()).await;
    assert_eq!(counts(&payload), [0, 1, 0, 0, 0, 0], "{payload:#}");
    let person = librarian::Entity::find()
        .filter(librarian::Column::Email.eq("new.person@alia.example"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("row");
    let q = "query($id: ID!) { node(id: $id) { ... on Librarian { languages interests version } } }";
    let data = app.data(q, json!({ "id": gid(NodeKind::Librarian, person.id) })).await;
    assert_eq!(data["node"], json!({ "languages": ["en", "fr"], "interests": ["outreach"], "version": 3 }));
    let payload = synced(&app, &alia, net.alia_assoc, "UPSERT", retagged).await;
    assert_eq!(counts(&payload), [0, 0, 1, 0, 0, 0], "the same languages in another order change nothing");
}

#[tokio::test]
async fn a_full_replace_deactivates_exactly_the_missing_members_and_reactivates_returning_ones() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    // LIASA: ZA-1 Bongani (active), ZA-2 Grace (deactivated), ZA-3 Ada (active).
    let before = roster(&app, net.liasa).await;
    let list = json!([
        { "externalId": "ZA-2" },
        { "externalId": "ZA-3" },
        member("ZA-4", "thandi@liasa.example", "Thandi Mokoena", "ZA"),
    ]);
    let payload = synced(&app, &liasa, net.liasa, "FULL_REPLACE", list).await;
    assert_eq!(counts(&payload), [1, 0, 1, 1, 1, 0], "{payload:#}");
    let after = roster(&app, net.liasa).await;
    let status = |id: &str| after.iter().find(|r| r.0 == id).map(|r| r.1.clone()).unwrap_or_default();
    assert_eq!(
        [status("ZA-1"), status("ZA-2"), status("ZA-3"), status("ZA-4")],
        ["DEACTIVATED", "ACTIVE", "ACTIVE", "ACTIVE"]
    );
    // Tombstones: nothing is deleted, and deactivatedAt is set.
    assert_eq!(after.len(), before.len() + 1);
    let bongani = membership::Entity::find()
        .filter(membership::Column::ExternalId.eq("ZA-1"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("kept");
    assert!(bongani.deactivated_at.is_some() && bongani.version == 2);
    // Each status change is in the change log.
    let ops: Vec<(String, String)> = change_log::Entity::find()
        .filter(change_log::Column::EntityType.eq("Membership"))
        .order_by_asc(change_log::Column::Id)
        .all(&app.db)
        .await
        .expect("log")
        .into_iter()
        .map(|c| (c.entity_id, c.operation))
        .collect();
    assert!(ops.contains(&(gid(NodeKind::Membership, bongani.id), "DEACTIVATE".to_owned())), "{ops:?}");

    // A row with an error still names its member: a full replace does not deactivate them.
    let list = json!([
        { "externalId": "ZA-2", "email": "broken" },
        { "externalId": "ZA-3" },
        { "externalId": "ZA-4" },
    ]);
    let payload = synced(&app, &liasa, net.liasa, "FULL_REPLACE", list).await;
    assert_eq!(counts(&payload), [0, 0, 2, 0, 0, 1], "{payload:#}");
    assert_eq!(roster(&app, net.liasa).await.iter().filter(|r| r.1 == "ACTIVE").count(), 3);

    // UPSERT leaves missing members alone; `active: false` deactivates one.
    let payload = synced(&app, &liasa, net.liasa, "UPSERT", json!([{ "externalId": "ZA-4", "active": false }])).await;
    assert_eq!(counts(&payload), [0, 0, 0, 1, 0, 0], "{payload:#}");
    let payload = synced(&app, &liasa, net.liasa, "UPSERT", json!([{ "externalId": "ZA-99", "active": false }])).await;
    assert_eq!(payload["userErrors"][0]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn a_dry_run_reports_the_same_result_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let list = json!([
        { "externalId": "ZA-2" },
        member("ZA-4", "thandi@liasa.example", "Thandi Mokoena", "ZA"),
        member("ZA-5", "bad", "Bad", "ZA"),
    ]);
    let (roster_before, log_before) = (roster(&app, net.liasa).await, changes(&app).await);
    let body = sync(&app, &liasa, net.liasa, "FULL_REPLACE", true, list.clone(), Some("dry-1")).await;
    let dry = &body["data"]["syncMembers"];
    assert_eq!(dry["dryRun"], true, "{body:#}");
    assert!(dry["syncRun"].is_null());
    assert_eq!(roster(&app, net.liasa).await, roster_before);
    assert_eq!(changes(&app).await, log_before);
    assert_eq!(sync_run::Entity::find().count(&app.db).await.expect("count"), 0);
    assert_eq!(
        librarian::Entity::find()
            .filter(librarian::Column::Email.eq("thandi@liasa.example"))
            .count(&app.db)
            .await
            .expect("count"),
        0
    );

    let real = synced(&app, &liasa, net.liasa, "FULL_REPLACE", list).await;
    assert_eq!(counts(dry), counts(&real));
    assert_eq!(dry["userErrors"], real["userErrors"]);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_first_result() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let list = json!([member("AU-20", "kylie@alia.example", "Kylie Brown", "AU")]);
    let first = sync(&app, &alia, net.alia_assoc, "UPSERT", false, list.clone(), Some("key-1")).await;
    let first = &first["data"]["syncMembers"];
    assert_eq!((first["created"].as_i64(), first["replayed"].as_bool()), (Some(1), Some(false)));
    // Someone changes the member meanwhile: a replay must not apply the list again.
    app.db
        .execute_unprepared("UPDATE librarians SET full_name = 'Kylie B.' WHERE email = 'kylie@alia.example'")
        .await
        .expect("update");
    let log = changes(&app).await;
    let retry = sync(&app, &alia, net.alia_assoc, "UPSERT", false, list.clone(), Some("key-1")).await;
    let retry = &retry["data"]["syncMembers"];
    assert_eq!(retry["replayed"], true);
    assert_eq!(retry["syncRun"]["id"], first["syncRun"]["id"]);
    assert_eq!(counts(retry), counts(first));
    assert_eq!(changes(&app).await, log);
    let name = librarian::Entity::find()
        .filter(librarian::Column::Email.eq("kylie@alia.example"))
        .one(&app.db)
        .await
        .expect("q")
        .expect("row")
        .full_name;
    assert_eq!(name, "Kylie B.");
    // The same key with another input is a conflict; nothing is applied.
    let other = json!([member("AU-21", "other@alia.example", "Other", "AU")]);
    let body = sync(&app, &alia, net.alia_assoc, "UPSERT", false, other.clone(), Some("key-1")).await;
    assert_eq!(error_codes(&body), ["CONFLICT"], "{body:#}");
    assert_eq!(changes(&app).await, log);
    // Keys belong to the association: another one may use the same key.
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let body = sync(&app, &liasa, net.liasa, "UPSERT", false, json!([{ "externalId": "ZA-1" }]), Some("key-1")).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    // Blank or oversized keys are refused.
    let body = sync(&app, &alia, net.alia_assoc, "UPSERT", false, list.clone(), Some(" ")).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn idempotency_keys_expire() {
    let app = TestApp::spawn_with(|s| s.idempotency_ttl_secs = 0).await;
    let net = fixtures::network(&app.db).await;
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let list = json!([member("AU-20", "kylie@alia.example", "Kylie Brown", "AU")]);
    let first = sync(&app, &alia, net.alia_assoc, "UPSERT", false, list.clone(), Some("k")).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let other = json!([member("AU-21", "other@alia.example", "Other", "AU")]);
    let second = sync(&app, &alia, net.alia_assoc, "UPSERT", false, other, Some("k")).await;
    assert!(second.get("errors").is_none(), "an expired key is free again: {second:#}");
    assert_ne!(second["data"]["syncMembers"]["syncRun"]["id"], first["data"]["syncMembers"]["syncRun"]["id"]);
    assert_eq!(second["data"]["syncMembers"]["created"], 1);
}

#[tokio::test]
async fn concurrent_syncs_of_one_association_are_serialised() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    // Eight callers send overlapping lists at once.
    let calls = (0..8).map(|c| {
        let list: Vec<Value> = (0..40)
            .map(|i| (c * 5 + i) % 60)
            .map(|i| member(&format!("AU-C{i}"), &format!("c{i}@alia.example"), &format!("Member {i}"), "AU"))
            .collect();
        sync(&app, &alia, net.alia_assoc, "UPSERT", false, Value::Array(list), None)
    });
    let results = futures::future::join_all(calls).await;
    let mut created = 0;
    for body in &results {
        assert!(body.get("errors").is_none(), "{body:#}");
        created += body["data"]["syncMembers"]["created"].as_i64().unwrap_or(0);
    }
    let distinct =
        (0..8).flat_map(|c| (0..40).map(move |i| (c * 5 + i) % 60)).collect::<std::collections::HashSet<_>>().len();
    assert_eq!(created, i64::try_from(distinct).unwrap_or(0), "each member created exactly once");
    let members = roster(&app, net.alia_assoc).await;
    assert_eq!(members.len(), distinct + 1);
    let emails = librarian::Entity::find()
        .filter(librarian::Column::Email.like("c%@alia.example"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(emails, u64::try_from(distinct).unwrap_or(0));
}

/// Makes any insert into `sync_runs` fail: the last write of a sync, after every member
/// has been written.
async fn break_sync_runs(app: &TestApp) {
    let statements: &[&str] = if app.database.is_postgres() {
        &[
            "CREATE FUNCTION forced_failure() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'forced failure'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER forced_failure BEFORE INSERT ON sync_runs FOR EACH ROW EXECUTE FUNCTION forced_failure()",
        ]
    } else {
        &["CREATE TRIGGER forced_failure BEFORE INSERT ON sync_runs BEGIN SELECT RAISE(ABORT, 'forced failure'); END"]
    };
    for sql in statements {
        app.db.execute_unprepared(sql).await.expect("trigger created");
    }
}

#[tokio::test]
async fn a_database_failure_mid_sync_leaves_the_data_as_it_was() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    synced(&app, &liasa, net.liasa, "UPSERT", json!([member("ZA-4", "thandi@liasa.example", "Thandi", "ZA")])).await;
    let snapshot = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            let librarians = librarian::Entity::find().order_by_asc(librarian::Column::Id).all(&db).await.expect("q");
            let memberships =
                membership::Entity::find().order_by_asc(membership::Column::Id).all(&db).await.expect("q");
            let log = change_log::Entity::find().count(&db).await.expect("q");
            let runs = sync_run::Entity::find().count(&db).await.expect("q");
            (librarians, memberships, log, runs)
        }
    };
    let before = snapshot(&app).await;
    break_sync_runs(&app).await;
    // Creates, updates, reactivates and deactivates: all or nothing.
    let list = json!([
        { "externalId": "ZA-2" },
        member("ZA-4", "thandi@liasa.example", "Thandi Renamed", "ZA"),
        member("ZA-5", "sipho@liasa.example", "Sipho", "ZA"),
    ]);
    let body = sync(&app, &liasa, net.liasa, "FULL_REPLACE", false, list, Some("fails")).await;
    assert_eq!(error_codes(&body), ["INTERNAL"], "{body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("forced") && !message.contains("sync_runs"), "internals stay in the log: {message}");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn only_the_association_itself_or_an_admin_may_sync_and_read_its_runs() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let list = json!([{ "externalId": "ZA-1" }]);
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    for token in [&alia, &za, &ada] {
        let body = sync(&app, token, net.liasa, "FULL_REPLACE", false, list.clone(), None).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body:#}");
    }
    let body = app
        .graphql_as(
            None,
            SYNC,
            json!({ "input": { "associationId": gid(NodeKind::Association, net.liasa), "members": [] } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    assert_eq!(roster(&app, net.liasa).await.iter().filter(|r| r.1 == "ACTIVE").count(), 2);
    // An admin may; an unknown association is NOT_FOUND.
    let payload = synced(&app, &app.admin, net.liasa, "UPSERT", list.clone()).await;
    let run = payload["syncRun"]["id"].as_str().unwrap_or_default().to_owned();
    let body = sync(&app, &app.admin, 9999, "UPSERT", false, list, None).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
    // The run is the association's and the admins' to read.
    let q = "query($id: ID!) { node(id: $id) { ... on SyncRun { id association { name } } } }";
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    for (token, visible) in [(&liasa, true), (&app.admin, true), (&alia, false), (&za, false), (&ada, false)] {
        let body = app.graphql_as(Some(token), q, json!({ "id": run })).await;
        assert_eq!(!body["data"]["node"].is_null(), visible, "{body:#}");
    }
    let q = "query($id: ID!) { node(id: $id) { ... on Association { syncRuns { totalCount } } } }";
    let body = app.graphql_as(Some(&alia), q, json!({ "id": gid(NodeKind::Association, net.liasa) })).await;
    assert_eq!(body["data"]["node"]["syncRuns"]["totalCount"], 0);
}

#[tokio::test]
async fn more_than_ten_thousand_members_go_through_the_bulk_path() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let members: Vec<Value> = (0..10_001).map(|i| json!({ "externalId": format!("X{i}") })).collect();
    let body = sync(&app, &app.admin, net.liasa, "UPSERT", false, Value::Array(members), None).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("10000") && message.contains("/bulk/members"), "{message}");
}

#[tokio::test]
async fn a_stale_expected_version_of_a_membership_is_a_conflict_with_the_current_version() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let za1 = membership::Entity::find()
        .filter(membership::Column::ExternalId.eq("ZA-1"))
        .one(&app.db)
        .await
        .expect("q")
        .expect("row");
    let q = "mutation($input: UpdateMembershipInput!) { updateMembership(input: $input) {
               membership { externalId status version deactivatedAt } userErrors { field code } } }";
    let id = gid(NodeKind::Membership, za1.id);
    let body = app
        .graphql_as(Some(&liasa), q, json!({ "input": { "membershipId": id, "active": false, "expectedVersion": 1 } }))
        .await;
    let m = &body["data"]["updateMembership"]["membership"];
    assert_eq!((m["status"].as_str(), m["version"].as_i64()), (Some("DEACTIVATED"), Some(2)), "{body:#}");
    assert!(!m["deactivatedAt"].is_null());
    let body = app
        .graphql_as(
            Some(&liasa),
            q,
            json!({ "input": { "membershipId": id, "externalId": "ZA-1b", "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["CONFLICT"]);
    assert_eq!(body["errors"][0]["extensions"]["currentVersion"], 2);
    let body = app.graphql_as(Some(&liasa), q, json!({ "input": { "membershipId": id, "externalId": "ZA-3" } })).await;
    assert_eq!(body["data"]["updateMembership"]["userErrors"][0]["code"], "TAKEN");
    // Another association cannot touch it.
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let body = app.graphql_as(Some(&alia), q, json!({ "input": { "membershipId": id, "active": true } })).await;
    assert_eq!(body["data"]["updateMembership"]["userErrors"][0]["code"], "NOT_FOUND");
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let body = app.graphql_as(Some(&za), q, json!({ "input": { "membershipId": id, "active": true } })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    let now = membership::Entity::find_by_id(za1.id).one(&app.db).await.expect("q").expect("row");
    assert_eq!((now.status.as_str(), now.version, now.external_id.as_str()), ("DEACTIVATED", 2, "ZA-1"));
}

#[tokio::test]
async fn a_sync_of_more_rows_than_one_insert_binds_fits_both_databases_limits() {
    // 2,600 new members: more rows than a batch holds once every column of a membership
    // is bound (SQLite takes 32,766 parameters a statement).
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let rows: Vec<Value> =
        (0..2_600).map(|i| member(&format!("B-{i}"), &format!("b{i}@liasa.example"), "Batch Member", "ZA")).collect();
    let payload = synced(&app, &liasa, net.liasa, "UPSERT", Value::Array(rows)).await;
    assert_eq!((payload["created"].as_i64(), payload["failed"].as_i64()), (Some(2_600), Some(0)), "{payload}");
}

#[tokio::test]
async fn the_bulk_path_takes_json_lines_and_csv() {
    let app = TestApp::spawn_with(|s| s.bulk_max_bytes = 4096).await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let url = |query: &str| {
        format!("{}/bulk/members?associationId={}{query}", app.address, gid(NodeKind::Association, net.liasa))
    };
    let post = |url: String, token: Option<String>, content_type: &'static str, body: String| {
        let client = app.client.clone();
        async move {
            let mut req = client.post(url).header("content-type", content_type).body(body);
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let res = req.send().await.expect("sent");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.expect("JSON"))
        }
    };
    let jsonl = [
        json!({ "externalId": "ZA-2" }).to_string(),
        "{ not json".to_owned(),
        json!({ "externalId": "ZA-3" }).to_string(),
        member("ZA-6", "lerato@liasa.example", "Lerato", "ZA").to_string(),
    ]
    .join("\n");
    let (status, body) =
        post(url("&mode=FULL_REPLACE&dryRun=true"), Some(liasa.clone()), "application/x-ndjson", jsonl.clone()).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!((body["dryRun"].as_bool(), body["created"].as_i64()), (Some(true), Some(1)), "{body:#}");
    let (status, body) = post(url("&mode=FULL_REPLACE"), Some(liasa.clone()), "application/x-ndjson", jsonl).await;
    assert_eq!(status, 200);
    // The unreadable line could be any member: a full replace then deactivates no one.
    assert_eq!(
        [
            &body["received"],
            &body["created"],
            &body["reactivated"],
            &body["unchanged"],
            &body["deactivated"],
            &body["failed"]
        ],
        [&json!(4), &json!(1), &json!(1), &json!(1), &json!(0), &json!(1)],
        "{body:#}"
    );
    assert_eq!(body["userErrors"][0]["index"], 1);
    assert!(body["userErrors"][0]["message"].as_str().unwrap_or_default().starts_with("line 2:"));
    assert_eq!((&body["userErrors"][1]["index"], &body["userErrors"][1]["code"]), (&json!(1), &json!("NOT_ALLOWED")));
    // Without it, the member missing from the list (ZA-1) is deactivated.
    let fixed = [json!({ "externalId": "ZA-2" }), json!({ "externalId": "ZA-3" }), json!({ "externalId": "ZA-6" })]
        .map(|v| v.to_string())
        .join("\n");
    let (_, body) = post(url("&mode=FULL_REPLACE"), Some(liasa.clone()), "application/x-ndjson", fixed).await;
    assert_eq!((&body["deactivated"], &body["unchanged"]), (&json!(1), &json!(3)), "{body:#}");
    let run = body["syncRun"]["id"].as_str().unwrap_or_default().to_owned();
    let q = "query($id: ID!) { node(id: $id) { ... on SyncRun { source mode } } }";
    let data = app.graphql_as(Some(&liasa), q, json!({ "id": run })).await;
    assert_eq!(data["data"]["node"], json!({ "source": "BULK", "mode": "FULL_REPLACE" }));

    let csv = "externalId,email,fullName,countryCode,languages,active\nZA-6,,,,,false\nZA-7,naledi@liasa.example,Naledi,ZA,en;zu,\n";
    let (status, body) = post(url(""), Some(liasa.clone()), "text/csv; charset=utf-8", csv.to_owned()).await;
    assert_eq!((status, body["created"].as_i64(), body["deactivated"].as_i64()), (200, Some(1), Some(1)), "{body:#}");

    // Refusals, each with a code and nothing written.
    let log = changes(&app).await;
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let cases = [
        (post(url(""), None, "text/csv", csv.to_owned()).await, 401, "UNAUTHENTICATED"),
        (post(url(""), Some(alia.clone()), "text/csv", csv.to_owned()).await, 403, "FORBIDDEN"),
        // Refused before the body is read: no PAYLOAD_TOO_LARGE for a caller without the right.
        (post(url(""), Some(alia), "text/csv", "x".repeat(5000)).await, 403, "FORBIDDEN"),
        (post(url(""), Some(liasa.clone()), "application/json", "[]".to_owned()).await, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (post(url("&mode=SOMETIMES"), Some(liasa.clone()), "text/csv", csv.to_owned()).await, 400, "BAD_USER_INPUT"),
        (
            post(url(""), Some(liasa.clone()), "text/csv", "externalId,shoeSize\n".to_owned()).await,
            400,
            "BAD_USER_INPUT",
        ),
        (post(url(""), Some(liasa.clone()), "text/csv", "x".repeat(5000)).await, 413, "PAYLOAD_TOO_LARGE"),
    ];
    for ((status, body), expected_status, code) in cases {
        assert_eq!((status, error_codes(&body)), (expected_status, vec![code.to_owned()]), "{body:#}");
    }
    let (status, body) = post(format!("{}/bulk/members", app.address), Some(liasa), "text/csv", csv.to_owned()).await;
    assert_eq!((status, error_codes(&body)), (400, vec!["BAD_USER_INPUT".to_owned()]));
    assert_eq!(changes(&app).await, log);
}

#[tokio::test]
async fn the_cli_imports_a_member_file_through_the_same_code() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let dir = std::env::temp_dir().join(format!("interlib-import-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("members.csv");
    std::fs::write(&file, "externalId,email,fullName,countryCode\nZA-3,,,\nZA-8,ayanda@liasa.example,Ayanda,ZA\n")
        .expect("file");
    let config = dir.join("interlib.toml");
    std::fs::write(&config, format!("database_url = {:?}\nlog_level = \"error\"\n", app.database.url)).expect("config");
    let cli = <interlib::cli::Cli as clap::Parser>::try_parse_from([
        "interlib",
        "--config",
        config.to_str().unwrap_or_default(),
        "import",
        "members",
        "--association",
        &gid(NodeKind::Association, net.liasa),
        "--mode",
        "full-replace",
        file.to_str().unwrap_or_default(),
    ])
    .expect("arguments parse");
    interlib::cli::run(cli).await.expect("import runs");
    let _ = std::fs::remove_dir_all(&dir);
    let run = sync_run::Entity::find().one(&app.db).await.expect("q").expect("a run");
    assert_eq!((run.source.as_str(), run.mode.as_str(), run.actor.as_str()), ("CLI", "FULL_REPLACE", "cli"));
    assert_eq!((run.created, run.unchanged, run.deactivated), (1, 1, 1));
    let active: Vec<String> =
        roster(&app, net.liasa).await.into_iter().filter(|r| r.1 == "ACTIVE").map(|r| r.0).collect();
    assert_eq!(active, ["ZA-3", "ZA-8"]);
}
