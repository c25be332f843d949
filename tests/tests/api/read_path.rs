//! The read path's shortcuts answer exactly what async-graphql's own resolver answers:
//! objects in lists resolved one field after the other (`graphql::serial`), cached parsed
//! documents, and rows read by column position (`service::rows`).

use std::sync::{Arc, Mutex};

use interlib::auth::Role;
use interlib::db::Reader;
use interlib::service::rows;
use interlib_tests::TestApp;
use sea_orm::sqlx::Connection;
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder, QuerySelect};
use serde_json::{Value, json};

/// Fragments on the type and on an interface, an inline fragment, an alias, `__typename`,
/// a relation selected twice (merged), and nested lists.
const SELECTION: &str = "
fragment Who on Librarian { fullName country { code } }
fragment AsNode on Node { id }
fragment Body on Librarian {
  __typename ...Who ...AsNode
  name: fullName
  ... on Librarian { memberships { externalId } }
  memberships { status association { name } }
  pairings { round { name } members { __typename fullName } }
  languages
}";

#[tokio::test]
async fn an_object_in_a_list_answers_as_the_same_object_alone() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    // A librarian with memberships and pairings, from the page of the list.
    let query = format!("{SELECTION} query {{ librarians(first: 100) {{ nodes {{ ...Body }} }} }}");
    let data = app.data(&query, json!({})).await;
    let nodes = data["librarians"]["nodes"].as_array().expect("nodes").clone();
    let listed = nodes
        .iter()
        .find(|n| {
            n["memberships"].as_array().is_some_and(|m| !m.is_empty())
                && n["pairings"].as_array().is_some_and(|p| !p.is_empty())
        })
        .expect("a librarian with memberships and pairings")
        .clone();
    assert_eq!(listed["__typename"], "Librarian");
    assert_eq!(listed["name"], listed["fullName"]);
    let membership = &listed["memberships"][0];
    assert!(membership["externalId"].is_string() && membership["status"].is_string(), "merged: {membership}");
    assert!(membership["association"]["name"].is_string());
    assert_eq!(listed["pairings"][0]["members"][0]["__typename"], "Librarian");
    // The same librarian through `node`, which async-graphql resolves itself.
    let alone = format!("{SELECTION} query($id: ID!) {{ node(id: $id) {{ ...Body }} }}");
    let data = app.data(&alone, json!({ "id": listed["id"] })).await;
    assert_eq!(data["node"], listed);
}

#[tokio::test]
async fn a_denied_field_in_a_list_is_null_with_an_error_at_its_path() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    let query = "{ country(code: \"ZA\") { participants(first: 50) { nodes { fullName email listedInDirectory } } } }";
    let body = app.graphql_as(Some(&ambassador), query, json!({})).await;
    let nodes = body["data"]["country"]["participants"]["nodes"].as_array().expect("nodes");
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let unlisted: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i]["listedInDirectory"] == false).collect();
    assert!(!unlisted.is_empty(), "the demo has unlisted participants in ZA");
    for &i in &unlisted {
        assert_eq!(nodes[i]["email"], Value::Null);
        assert!(nodes[i]["fullName"].is_string());
        let path = json!(["country", "participants", "nodes", i, "email"]);
        assert!(
            errors.iter().any(|e| e["path"] == path && e["extensions"]["code"] == "FORBIDDEN"),
            "no FORBIDDEN error at {path}: {errors:?}"
        );
    }
    assert_eq!(errors.len(), unlisted.len(), "one error per denied email: {errors:?}");
}

#[tokio::test]
async fn a_cached_document_is_checked_again_on_every_request() {
    let app = TestApp::spawn().await;
    let document = "query A { countries(first: 1) { nodes { code } } }
                    query B($code: CountryCode!) { country(code: $code) { name } }";
    let run = |name: &'static str, variables: Value| {
        let body = json!({ "query": document, "operationName": name, "variables": variables });
        app.client.post(format!("{}/graphql", app.address)).bearer_auth(&app.admin).json(&body).send()
    };
    let first: Value = run("A", json!({})).await.expect("sent").json().await.expect("json");
    assert!(first["data"]["countries"]["nodes"].is_array(), "{first}");
    // The same text again, from the cache: another operation of it runs.
    let second: Value = run("B", json!({ "code": "KE" })).await.expect("sent").json().await.expect("json");
    assert_eq!(second["data"]["country"]["name"], "Kenya", "{second}");
    // Variables are checked on every request, whatever the cache holds.
    let nul: Value = run("B", json!({ "code": "K\u{0}E" })).await.expect("sent").json().await.expect("json");
    assert_eq!(nul["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{nul}");
    assert!(nul.get("data").is_none_or(Value::is_null), "{nul}");
}

#[tokio::test]
async fn rows_are_read_by_position_only_from_the_entity_columns() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let all = interlib::service::rows::all(&app.db, entities::librarian::Entity::find().limit(3)).await;
    assert_eq!(all.expect("the entity's columns").len(), 3);
    // A select of other columns is refused, never read into the wrong fields.
    let other = entities::librarian::Entity::find()
        .select_only()
        .column(entities::librarian::Column::Email)
        .column(entities::librarian::Column::Id)
        .limit(3);
    let refused = interlib::service::rows::all(&app.db, other).await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn rows_read_straight_from_the_driver_are_the_same_rows_and_are_counted() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    // The read path's source: on PostgreSQL it fetches from the driver's pool itself.
    let reader = Reader::new(app.db.clone(), app.statements.clone());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    assert!(app.statements.watch(move |statement| sink.lock().expect("lock").push(statement.sql.clone())));
    let before = app.statements.get();
    let select = || entities::librarian::Entity::find().order_by_asc(entities::librarian::Column::Id).limit(3);
    let direct = rows::all(&reader, select()).await.expect("the entity's columns");
    let through_seaorm = rows::all(&app.db, select()).await.expect("the entity's columns");
    assert_eq!(direct, through_seaorm);
    let total = rows::count(&reader, entities::librarian::Entity::find()).await.expect("counted");
    let counted = entities::librarian::Entity::find().count(&app.db).await.expect("counted");
    assert_eq!(total, counted);
    let other = entities::librarian::Entity::find()
        .select_only()
        .column(entities::librarian::Column::Email)
        .column(entities::librarian::Column::Id)
        .limit(3);
    assert!(rows::all(&reader, other).await.is_err(), "other columns are refused on either path");
    // Every statement, on either path, is counted and shown to the watcher.
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(app.statements.get() - before, 5);
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen[2].contains("COUNT(*)"), "{seen:?}");
    assert!(!app.statements.watch(|_| {}), "one watcher per counter");
}

/// A read on PostgreSQL takes a kept or idle connection without the pool's checks;
/// connections the database ended meanwhile (a restart ends them all) are closed and the
/// read runs again, so no read fails for them.
#[tokio::test]
async fn reads_ride_out_connections_the_database_ended() {
    if interlib_tests::postgres_base_url().is_none() {
        eprintln!("PostgreSQL only (set INTERLIB_TEST_POSTGRES): the direct path is PostgreSQL's");
        return;
    }
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let reader = Reader::new(app.db.clone(), app.statements.clone());
    let select = || entities::librarian::Entity::find().order_by_asc(entities::librarian::Column::Id).limit(3);
    // Several idle connections in the pool.
    let warm = futures::future::join_all((0..4).map(|_| rows::all(&reader, select()))).await;
    assert!(warm.iter().all(Result::is_ok), "{warm:?}");
    // Some of them kept by the reader between its reads (`service::kept`): ended too.
    assert!(!reader.kept.is_empty() && reader.kept.len() <= reader.kept.cap(), "{:?}", reader.kept);
    // Every session of the test's database ended from outside, as a restart ends them.
    let mut outside = sea_orm::sqlx::PgConnection::connect(&app.database.url).await.expect("connected");
    let ended: Vec<(bool,)> = sea_orm::sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut outside)
    .await
    .expect("ended");
    assert!(ended.len() >= 2, "the pool's connections were ended: {ended:?}");
    for _ in 0..3 {
        let read = rows::all(&reader, select()).await;
        assert_eq!(read.expect("read on a live connection").len(), 3);
    }
}

/// Members selected for their name and country are read as brief rows; a selection of the
/// same members that reads more (beside it, or through a fragment) gets whole rows.
#[tokio::test]
async fn brief_members_never_answer_a_selection_that_reads_more() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    // The list of librarians prefetches brief members; the pairings (the same ones) are
    // read again with more.
    let query = "
      fragment More on Librarian { sector bio }
      { librarians(first: 100) { nodes { pairings { members { id fullName country { code } } } } }
        pairings(first: 20) { nodes {
          brief: members { id fullName country { code } }
          full: members { id fullName email sector yearsExperience createdAt }
          spread: members { id fullName ...More }
      } } }";
    let data = app.data(query, json!({})).await;
    let pairings = data["pairings"]["nodes"].as_array().expect("nodes");
    assert!(!pairings.is_empty());
    for pairing in pairings {
        let ids: Vec<&Value> = pairing["brief"].as_array().expect("brief").iter().map(|m| &m["id"]).collect();
        assert_eq!(ids, pairing["full"].as_array().expect("full").iter().map(|m| &m["id"]).collect::<Vec<_>>());
        for member in pairing["full"].as_array().expect("full").iter().chain(pairing["spread"].as_array().expect("s")) {
            let alone =
                "query($id: ID!) { node(id: $id) { ... on Librarian { email sector bio yearsExperience createdAt } } }";
            let alone = app.data(alone, json!({ "id": member["id"] })).await;
            for field in ["email", "sector", "bio", "yearsExperience", "createdAt"] {
                if let Some(value) = member.get(field) {
                    assert_eq!(value, &alone["node"][field], "{field} of {member}");
                }
            }
        }
    }
}

/// Whether an introspected type (`type { kind ofType { .. } }`) is an object at heart.
fn object_type(ty: &Value) -> bool {
    let mut ty = ty;
    while ty["kind"] == "NON_NULL" || ty["kind"] == "LIST" {
        ty = &ty["ofType"];
    }
    ty["kind"] == "OBJECT"
}

/// A page of librarians reads only the columns its selection needs: every field of
/// `Librarian`, selected alone (beside `id`) in a page, answers as the same librarians read
/// as whole rows through `nodes`, errors included, for a caller who may read everything and
/// for one who may not.
#[tokio::test]
async fn a_page_read_for_some_fields_answers_every_field_as_whole_rows_do() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let shape = "{ __type(name: \"Librarian\") { fields { name type { kind ofType { kind ofType { kind ofType { kind } } } } } } }";
    let fields = app.data(shape, json!({})).await["__type"]["fields"].as_array().expect("fields").clone();
    assert!(fields.len() >= 15, "{fields:?}");
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    // The page's statement selects the columns the fields read, and not the others.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    assert!(app.statements.watch(move |statement| sink.lock().expect("lock").push(statement.sql.clone())));
    app.data("{ librarians(first: 5) { nodes { id email } } }", json!({})).await;
    let seen = seen.lock().expect("lock").clone();
    let page = seen.iter().find(|sql| sql.contains("LIMIT")).expect("the page's statement");
    assert!(page.contains("\"email\"") && !page.contains("\"bio\"") && !page.contains("\"created_at\""), "{page}");
    for field in &fields {
        let name = field["name"].as_str().expect("name");
        let selection = if object_type(&field["type"]) { format!("{name} {{ __typename }}") } else { name.to_owned() };
        for token in [&app.admin, &ambassador] {
            let list =
                format!("{{ country(code: \"ZA\") {{ participants(first: 50) {{ nodes {{ id {selection} }} }} }} }}");
            let listed = app.graphql_as(Some(token), &list, json!({})).await;
            let nodes = listed["data"]["country"]["participants"]["nodes"].as_array().expect("nodes").clone();
            assert!(nodes.len() > 3, "{listed}");
            // The same librarians through `nodes` (whole rows, by id).
            let ids: Vec<Value> = nodes.iter().map(|node| node["id"].clone()).collect();
            let alone = format!("query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on Librarian {{ {selection} }} }} }}");
            let whole = app.graphql_as(Some(token), &alone, json!({ "ids": ids })).await;
            for (i, node) in nodes.iter().enumerate() {
                assert_eq!(node[name], whole["data"]["nodes"][i][name], "{name} of participant {i}: {whole}");
            }
            let denied = |body: &Value| body["errors"].as_array().map_or(0, Vec::len);
            assert_eq!(denied(&listed), denied(&whole), "errors for {name}: {listed} against {whole}");
        }
    }
}

/// The cursors of a page read for its `id`s alone still hold the keys of their order, so
/// paging on by them finds the next rows, in every order.
#[tokio::test]
async fn cursors_of_a_page_read_for_its_ids_lead_to_the_next_page() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    // The root list and a country's participants (a single parent's page).
    let lists =
        [("librarians", "", "/librarians"), ("country(code: \"ZA\") { participants", " }", "/country/participants")];
    for (list, close, at) in lists {
        for field in ["ID", "NAME", "CREATED_AT", "UPDATED_AT"] {
            for direction in ["ASC", "DESC"] {
                let order = format!("orderBy: {{ field: {field}, direction: {direction} }}");
                let page = |args: &str| {
                    format!(
                        "query($after: String) {{ {list}({args}, after: $after, {order}) {{ pageInfo {{ endCursor }} nodes {{ id }} }}{close} }}"
                    )
                };
                let ten = app.data(&page("first: 10"), json!({})).await;
                let five = app.data(&page("first: 5"), json!({})).await;
                let after = five.pointer(&format!("{at}/pageInfo/endCursor")).expect("endCursor").clone();
                let next = app.data(&page("first: 5"), json!({ "after": after })).await;
                let nodes = |data: &Value| {
                    data.pointer(&format!("{at}/nodes")).and_then(Value::as_array).expect("nodes").clone()
                };
                let paged: Vec<Value> = nodes(&five).into_iter().chain(nodes(&next)).collect();
                assert_eq!(paged, nodes(&ten), "{list} by {field} {direction}");
                assert_eq!(paged.len(), 10);
            }
        }
    }
}

/// Memberships selected for their member ids and statuses are read as brief rows; a
/// selection of the same memberships that reads more (beside it, or through a fragment)
/// gets whole rows.
#[tokio::test]
async fn brief_memberships_never_answer_a_selection_that_reads_more() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let query = "
      fragment More on Membership { consent version }
      { country(code: \"ZA\") { participants(first: 50) { nodes {
          brief: memberships { id externalId status association { name } }
          full: memberships { id externalId consent deactivatedAt version createdAt updatedAt }
          spread: memberships { id ...More }
      } } } }";
    let data = app.data(query, json!({})).await;
    let nodes = data["country"]["participants"]["nodes"].as_array().expect("nodes");
    let mut seen = 0;
    for node in nodes {
        let brief = node["brief"].as_array().expect("brief");
        let ids: Vec<&Value> = brief.iter().map(|m| &m["id"]).collect();
        assert_eq!(ids, node["full"].as_array().expect("full").iter().map(|m| &m["id"]).collect::<Vec<_>>());
        for membership in node["full"].as_array().expect("full").iter().chain(node["spread"].as_array().expect("s")) {
            let alone = "query($id: ID!) { node(id: $id) { ... on Membership {
                externalId consent deactivatedAt version createdAt updatedAt } } }";
            let alone = app.data(alone, json!({ "id": membership["id"] })).await;
            for field in ["externalId", "consent", "deactivatedAt", "version", "createdAt", "updatedAt"] {
                if let Some(value) = membership.get(field) {
                    assert_eq!(value, &alone["node"][field], "{field} of {membership}");
                    seen += 1;
                }
            }
        }
        for membership in brief {
            assert!(membership["externalId"].is_string() && membership["status"].is_string(), "{membership}");
            assert!(membership["association"]["name"].is_string(), "{membership}");
        }
    }
    assert!(seen > 10, "the demo's ZA participants have memberships");
}

/// Pairings selected for their status, round and members are read as brief rows; a
/// selection of the same pairings that reads more (beside it, or through a fragment) gets
/// whole rows.
#[tokio::test]
async fn brief_pairings_never_answer_a_selection_that_reads_more() {
    let app = TestApp::spawn().await;
    interlib::seed::demo(&app.db).await.expect("demo seeded");
    let query = "
      fragment More on Pairing { origin score }
      { librarians(first: 100) { nodes {
          brief: pairings { id status round { name } members { fullName } }
          full: pairings { id status origin score explanation createdAt updatedAt }
          spread: pairings { id ...More }
      } } }";
    let data = app.data(query, json!({})).await;
    let mut seen = 0;
    for node in data["librarians"]["nodes"].as_array().expect("nodes") {
        let brief = node["brief"].as_array().expect("brief");
        let ids: Vec<&Value> = brief.iter().map(|p| &p["id"]).collect();
        assert_eq!(ids, node["full"].as_array().expect("full").iter().map(|p| &p["id"]).collect::<Vec<_>>());
        for pairing in node["full"].as_array().expect("full").iter().chain(node["spread"].as_array().expect("s")) {
            let alone = "query($id: ID!) { node(id: $id) { ... on Pairing {
                status origin score explanation createdAt updatedAt } } }";
            let alone = app.data(alone, json!({ "id": pairing["id"] })).await;
            for field in ["status", "origin", "score", "explanation", "createdAt", "updatedAt"] {
                if let Some(value) = pairing.get(field) {
                    assert_eq!(value, &alone["node"][field], "{field} of {pairing}");
                    seen += 1;
                }
            }
        }
        for pairing in brief {
            assert!(pairing["status"].is_string() && pairing["round"]["name"].is_string(), "{pairing}");
            assert!(pairing["members"].as_array().is_some_and(|m| !m.is_empty()), "{pairing}");
        }
    }
    assert!(seen > 10, "the demo's librarians have pairings");
}
