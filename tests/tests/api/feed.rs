//! The change feed: ordered, filtered by the caller's rights, complete under concurrency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use entities::librarian;
use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::feed::{Follower, Reading};
use interlib_tests::{TestApp, error_codes, fixtures};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::gid;
use crate::sync::synced;

const FEED: &str = "query($after: String, $first: Int, $types: [ChangeEntityType!]) {
  changes(after: $after, first: $first, entityTypes: $types) {
    endCursor hasMore
    events { cursor entityType entity operation at
      node {
        __typename id
        ... on Librarian { fullName email country { code } }
        ... on Membership { externalId status association { id } }
        ... on Association { name }
      }
    }
  }
}";

async fn create_association(app: &TestApp, name: &str, country: &str) -> i32 {
    let q = "mutation($input: CreateAssociationInput!) { createAssociation(input: $input) { association { id } } }";
    let data = app.data(q, json!({ "input": { "name": name, "countryCode": country } })).await;
    let id = data["createAssociation"]["association"]["id"].as_str().unwrap_or_default();
    interlib::domain::GlobalId::decode("id", id).expect("id").int_key("id").expect("key")
}

fn member(external_id: &str, n: usize, name: &str, country: &str) -> Value {
    fixtures::member_row(external_id, &format!("person{n}@example.net"), name, country)
}

/// How the feed's followers read: seven events a page, an unlisted person's email denied.
const READING: Reading<'static> = Reading {
    node: "__typename id
        ... on Librarian { fullName email country { code } }
        ... on Membership { externalId status association { id } }
        ... on Association { name }",
    first: 7,
    denied_fields: true,
};

/// What the association follows, read directly: its association, its memberships and
/// their librarians.
async fn server_state(app: &TestApp, token: &str, association: i32) -> BTreeMap<String, Value> {
    let q = "query($id: ID!) {
      node(id: $id) { ... on Association { __typename id name members(first: 100) { nodes {
        __typename id externalId status association { id }
        librarian { __typename id fullName email country { code } } } } } }
    }";
    let body = app.graphql_as(Some(token), q, json!({ "id": gid(NodeKind::Association, association) })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let mut state = BTreeMap::new();
    let own = &body["data"]["node"];
    state.insert(
        own["id"].as_str().expect("id").to_owned(),
        json!({ "__typename": own["__typename"], "id": own["id"], "name": own["name"] }),
    );
    for m in body["data"]["node"]["members"]["nodes"].as_array().expect("members") {
        let mut m = m.clone();
        let librarian = m["librarian"].take();
        m.as_object_mut().expect("object").remove("librarian");
        state.insert(m["id"].as_str().expect("id").to_owned(), m);
        // A link the librarian has not confirmed shows no librarian (nor does the feed).
        if !librarian.is_null() {
            state.insert(librarian["id"].as_str().expect("id").to_owned(), librarian);
        }
    }
    state
}

#[tokio::test]
async fn the_feed_lists_writes_in_order_and_only_what_the_caller_may_see() {
    let app = TestApp::spawn().await;
    let a = create_association(&app, "Association A", "ZA").await;
    let b = create_association(&app, "Association B", "AU").await;
    let token_a = app.token(Role::Association, &[], Some(a), None);
    let token_b = app.token(Role::Association, &[], Some(b), None);
    synced(&app, &token_a, a, "UPSERT", json!([member("A1", 1, "Ama", "ZA"), member("A2", 2, "Abe", "NG")])).await;
    synced(&app, &token_b, b, "UPSERT", json!([member("B1", 3, "Bea", "AU")])).await;

    // The admin sees every write, in order.
    let body = app.graphql(FEED, json!({})).await;
    let events = body["data"]["changes"]["events"].as_array().expect("events").clone();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["entityType"].as_str()).collect();
    assert_eq!(
        kinds,
        ["ASSOCIATION", "ASSOCIATION", "LIBRARIAN", "MEMBERSHIP", "LIBRARIAN", "MEMBERSHIP", "LIBRARIAN", "MEMBERSHIP"]
    );
    assert!(events.iter().all(|e| e["operation"] == "UPSERT"));
    assert_eq!(body["data"]["changes"]["hasMore"], false);

    // Association A: its own record, memberships and members; nothing of B's.
    let body = app.graphql_as(Some(&token_a), FEED, json!({})).await;
    let names: Vec<String> = body["data"]["changes"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            e["node"]["fullName"]
                .as_str()
                .or(e["node"]["externalId"].as_str())
                .or(e["node"]["name"].as_str())
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["Association A", "Ama", "A1", "Abe", "A2"]);
    // An ambassador of NG: public records and the NG librarian with their membership.
    let ng = app.token(Role::Ambassador, &["NG"], None, None);
    let body = app.graphql_as(Some(&ng), FEED, json!({ "types": ["LIBRARIAN", "MEMBERSHIP"] })).await;
    let entities: Vec<&str> = body["data"]["changes"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["node"]["__typename"].as_str())
        .collect();
    assert_eq!(entities, ["Librarian", "Membership"]);

    // Paging by cursor reaches the end, each event once.
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let body = app.graphql(FEED, json!({ "after": after, "first": 3 })).await;
        let page = &body["data"]["changes"];
        seen.extend(page["events"].as_array().expect("events").iter().map(|e| e["cursor"].clone()));
        after = page["endCursor"].as_str().map(str::to_owned);
        if page["hasMore"] == false {
            break;
        }
    }
    assert_eq!(seen.len(), 8);
    // Up to date: the same cursor comes back with no events.
    let body = app.graphql(FEED, json!({ "after": after })).await;
    assert_eq!(body["data"]["changes"]["events"], json!([]));
    assert_eq!(body["data"]["changes"]["endCursor"].as_str(), after.as_deref());

    // Refusals.
    let body = app.graphql_as(None, FEED, json!({})).await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    for (vars, field) in
        [(json!({ "after": "bogus" }), "after"), (json!({ "first": 0 }), "first"), (json!({ "first": 1001 }), "first")]
    {
        let body = app.graphql(FEED, vars).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
}

#[tokio::test]
async fn a_follower_running_alongside_writes_ends_with_exactly_what_it_may_see() {
    let app = Arc::new(TestApp::spawn().await);
    let a = create_association(&app, "Association A", "ZA").await;
    let b = create_association(&app, "Association B", "AU").await;
    let token_a = app.token(Role::Association, &[], Some(a), None);
    let token_b = app.token(Role::Association, &[], Some(b), None);

    let done = Arc::new(AtomicBool::new(false));
    let follower = {
        let (app, token, done) = (app.clone(), token_a.clone(), done.clone());
        tokio::spawn(async move {
            let mut follower = Follower::default();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let up_to_date = follower.step(&app, &token, READING).await;
                if finished && up_to_date {
                    return follower;
                }
            }
        })
    };

    // Writers, concurrently: A's syncs (creates, renames, moves, full replaces, returns),
    // B's syncs that link some of A's members, an erasure and an association rename.
    let writer_a = {
        let (app, token) = (app.clone(), token_a.clone());
        async move {
            for round in 0..6 {
                let list: Vec<Value> = (0..12)
                    .filter(|i| (i + round) % 4 != 0)
                    .map(|i| {
                        let country = if (i + round) % 5 == 0 { "KE" } else { "ZA" };
                        member(&format!("A{i}"), i, &format!("Member {i} r{round}"), country)
                    })
                    .collect();
                let mode = if round % 2 == 0 { "FULL_REPLACE" } else { "UPSERT" };
                synced(&app, &token, a, mode, Value::Array(list)).await;
            }
        }
    };
    let writer_b = {
        let (app, token) = (app.clone(), token_b.clone());
        async move {
            for round in 0..4 {
                let list: Vec<Value> =
                    (0..6).map(|i| member(&format!("B{i}"), i * 2, "Ignored For Linked", "ZA")).collect();
                let list = if round % 2 == 0 { list } else { list[..3].to_vec() };
                let body = sync_b(&app, &token, b, list).await;
                assert!(body.get("errors").is_none(), "{body:#}");
            }
        }
    };
    let admin_writes = {
        let app = app.clone();
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            let q = "mutation($input: UpdateAssociationInput!) { updateAssociation(input: $input) { association { name } } }";
            app.data(q, json!({ "input": { "associationId": gid(NodeKind::Association, a), "name": "Association A (renamed)" } })).await;
            let erased = librarian::Entity::find()
                .filter(librarian::Column::Email.eq("person3@example.net"))
                .one(&app.db)
                .await
                .expect("query");
            if let Some(l) = erased {
                let q = "mutation($input: EraseLibrarianInput!) { eraseLibrarian(input: $input) { librarian { id } } }";
                app.data(q, json!({ "input": { "librarianId": gid(NodeKind::Librarian, l.id) } })).await;
            }
        }
    };
    futures::join!(writer_a, writer_b, admin_writes);
    done.store(true, Ordering::SeqCst);
    let follower = follower.await.expect("follower");
    let expected = server_state(&app, &token_a, a).await;
    assert_eq!(follower.state, expected, "after {} events", follower.events);
    assert!(follower.events > 40, "the follower read {} events", follower.events);
}

/// `syncMembers` UPSERT as `token` (B's writer: its rows link A's members by email).
async fn sync_b(app: &TestApp, token: &str, association: i32, list: Vec<Value>) -> Value {
    crate::sync::sync(app, token, association, "FULL_REPLACE", false, Value::Array(list), None).await
}

#[tokio::test]
async fn a_follower_never_skips_an_entry_committed_late() {
    // Many small writers at once: entry n+1 may commit before n. A follower that reads
    // continuously must still see every entry exactly once.
    let app = Arc::new(TestApp::spawn().await);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(create_association(&app, &format!("Writer {i}"), "ZA").await);
    }
    let done = Arc::new(AtomicBool::new(false));
    let follower = {
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            let mut after: Option<String> = None;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let body = app.graphql("query($after: String) { changes(after: $after, first: 1000) { endCursor hasMore events { cursor } } }", json!({ "after": after })).await;
                let page = &body["data"]["changes"];
                seen.extend(
                    page["events"]
                        .as_array()
                        .expect("events")
                        .iter()
                        .filter_map(|e| e["cursor"].as_str().map(str::to_owned)),
                );
                after = page["endCursor"].as_str().map(str::to_owned);
                if finished && page["hasMore"] == false {
                    return seen;
                }
            }
        })
    };
    let q = "mutation($input: UpdateAssociationInput!) { updateAssociation(input: $input) { association { name } } }";
    let writers = ids.iter().map(|&id| {
        let app = app.clone();
        async move {
            for n in 0..40 {
                let input =
                    json!({ "associationId": gid(NodeKind::Association, id), "name": format!("Writer {id} #{n}") });
                app.data(q, json!({ "input": input })).await;
            }
        }
    });
    futures::future::join_all(writers).await;
    done.store(true, Ordering::SeqCst);
    let seen = follower.await.expect("follower");
    let all = app.graphql("{ changes(first: 1000) { events { cursor } } }", json!({})).await;
    let all: Vec<String> = all["data"]["changes"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["cursor"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(all.len(), 4 + 4 * 40);
    assert_eq!(seen, all, "the follower saw every entry, once, in order");
}

/// What a follower holds after reading the whole feed as `token`.
async fn follow(app: &TestApp, token: &str) -> BTreeMap<String, Value> {
    interlib_tests::feed::follow(app, token, READING).await
}

#[tokio::test]
async fn ambassadors_and_librarians_follow_people_into_and_out_of_their_view() {
    let app = TestApp::spawn().await;
    let a = create_association(&app, "Association A", "ZA").await;
    let token_a = app.token(Role::Association, &[], Some(a), None);
    synced(&app, &token_a, a, "UPSERT", json!([member("A1", 1, "Ama", "ZA"), member("A2", 2, "Abe", "ZA")])).await;
    let za = app.token(Role::Ambassador, &["ZA"], None, None);
    let ke = app.token(Role::Ambassador, &["KE"], None, None);
    let ids = |state: &BTreeMap<String, Value>| -> Vec<String> {
        state.values().filter_map(|n| n["fullName"].as_str().or(n["externalId"].as_str()).map(str::to_owned)).collect()
    };
    let mut za_view = ids(&follow(&app, &za).await);
    za_view.sort();
    assert_eq!(za_view, ["A1", "A2", "Abe", "Ama"]);
    assert!(ids(&follow(&app, &ke).await).is_empty());
    // Abe moves to Kenya: the ZA ambassador's copy loses him and his membership, the KE
    // ambassador's gains both.
    let moved = synced(&app, &token_a, a, "UPSERT", json!([member("A2", 2, "Abe", "KE")])).await;
    assert_eq!(moved["updated"], 1, "{moved:#}");
    let mut za_view = ids(&follow(&app, &za).await);
    za_view.sort();
    assert_eq!(za_view, ["A1", "Ama"], "Abe and his membership left the ZA view");
    let mut ke_view = ids(&follow(&app, &ke).await);
    ke_view.sort();
    assert_eq!(ke_view, ["A2", "Abe"]);

    // A librarian follows themself and the directory: consent in and out.
    let ama = librarian::Entity::find()
        .filter(librarian::Column::Email.eq("person1@example.net"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("row");
    let abe = librarian::Entity::find()
        .filter(librarian::Column::Email.eq("person2@example.net"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("row");
    let ama_token = app.token(Role::Librarian, &[], None, Some(ama.id));
    let abe_token = app.token(Role::Librarian, &[], None, Some(abe.id));
    let consent =
        "mutation($listed: Boolean!) { setDirectoryConsent(input: { listed: $listed }) { librarian { id } } }";
    let mut view = ids(&follow(&app, &ama_token).await);
    view.sort();
    assert_eq!(view, ["A1", "Ama"], "herself and her own membership");
    app.graphql_as(Some(&abe_token), consent, json!({ "listed": true })).await;
    let mut view = ids(&follow(&app, &ama_token).await);
    view.sort();
    assert_eq!(view, ["A1", "Abe", "Ama"], "Abe joined the directory");
    app.graphql_as(Some(&abe_token), consent, json!({ "listed": false })).await;
    let mut view = ids(&follow(&app, &ama_token).await);
    view.sort();
    assert_eq!(view, ["A1", "Ama"], "Abe left the directory");
}
