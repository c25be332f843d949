//! SCIM 2.0 through the real server: discovery, each operation and error, and the
//! provisioning sequences identity providers send (Okta, Entra ID, a connector that
//! re-sends a create). Every write goes through the membership sync.

use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, fixtures};
use reqwest::Method;
use serde_json::{Value, json};

use crate::gid;

mod directory;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const EXT: &str = "urn:interlib:params:scim:schemas:extension:2.0:User";

struct Answer {
    status: u16,
    content_type: String,
    etag: Option<String>,
    location: Option<String>,
    body: Value,
}

async fn scim(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let mut req = app.client.request(method, format!("{}/scim/v2{path}", app.address));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.header("content-type", "application/scim+json").body(body.to_string());
    }
    let res = req.send().await.expect("sent");
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, content_type, etag, location) =
        (res.status().as_u16(), header("content-type").unwrap_or_default(), header("etag"), header("location"));
    let text = res.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") };
    Answer { status, content_type, etag, location, body }
}

fn new_user(external_id: &str, email: &str) -> Value {
    json!({
        "schemas": [USER, EXT],
        "externalId": external_id,
        "userName": email,
        "name": { "givenName": "Nomsa", "familyName": "Dube" },
        "emails": [{ "value": email, "type": "work", "primary": true }],
        "addresses": [{ "country": "ZA", "type": "work" }],
        "title": "Librarian",
        "active": true,
        EXT: { "sector": "PUBLIC", "languages": ["en", "zu"], "yearsExperience": 4 },
    })
}

fn scim_type(answer: &Answer) -> &str {
    answer.body["scimType"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn discovery_says_what_the_server_supports() {
    let app = TestApp::spawn().await;
    let config = scim(&app, Method::GET, "/ServiceProviderConfig", None, None).await;
    assert_eq!(config.status, 200);
    assert_eq!(config.content_type, "application/scim+json");
    for (feature, supported) in
        [("patch", true), ("filter", true), ("sort", true), ("etag", true), ("changePassword", false)]
    {
        assert_eq!(config.body[feature]["supported"], supported, "{feature}");
    }
    let types = scim(&app, Method::GET, "/ResourceTypes", None, None).await;
    assert_eq!(types.body["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types.body["Resources"][0]["schemaExtensions"][0]["schema"], EXT);
    assert_eq!(scim(&app, Method::GET, "/ResourceTypes/User", None, None).await.body["schema"], USER);
    let schemas = scim(&app, Method::GET, "/Schemas", None, None).await;
    assert_eq!(schemas.body["totalResults"], 2);
    assert_eq!(scim(&app, Method::GET, &format!("/Schemas/{EXT}"), None, None).await.body["name"], "InterlibUser");
    assert_eq!(scim(&app, Method::GET, "/Schemas/nope", None, None).await.status, 404);
    let groups = scim(&app, Method::GET, "/Groups", None, None).await;
    assert_eq!((groups.status, groups.content_type.as_str()), (404, "application/scim+json"));
    assert_eq!(groups.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
}

#[tokio::test]
async fn okta_looks_up_creates_re_sends_and_deactivates() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let lookup = "/Users?filter=userName%20eq%20%22nomsa%40example.org%22";
    let none = scim(&app, Method::GET, lookup, Some(&token), None).await;
    assert_eq!((none.status, &none.body["totalResults"]), (200, &json!(0)), "{}", none.body);

    let created = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-100", "nomsa@example.org"))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let user = &created.body;
    let id = user["id"].as_str().expect("id").to_owned();
    assert_eq!((user["userName"].as_str(), user["externalId"].as_str()), (Some("nomsa@example.org"), Some("ZA-100")));
    assert_eq!(user["name"]["formatted"], "Nomsa Dube");
    assert_eq!(user["active"], true);
    assert_eq!(user[EXT]["languages"], json!(["en", "zu"]));
    assert_eq!(user[EXT]["consent"], "CONFIRMED");
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(created.location.as_deref().is_some_and(|l| l.ends_with(&format!("/scim/v2/Users/{id}"))));
    assert_eq!(created.etag.as_deref(), user["meta"]["version"].as_str());
    assert!(created.etag.as_deref().is_some_and(|e| e.starts_with("W/\"")));

    // The connector re-sends the create: 409 uniqueness, then finds the user by filter.
    let again = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-100", "nomsa@example.org"))).await;
    assert_eq!((again.status, scim_type(&again)), (409, "uniqueness"), "{}", again.body);
    let found = scim(&app, Method::GET, lookup, Some(&token), None).await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    // Okta deactivates with PATCH active false.
    let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "value": { "active": false } }] });
    let off = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(patch)).await;
    assert_eq!((off.status, &off.body["active"]), (200, &json!(false)), "{}", off.body);

    // The same membership seen through GraphQL, written by a sync from the SCIM source.
    let data = app
        .data(
            "query($a: ID!) { association(id: $a) { members(first: 50) { nodes { externalId status } }
               syncRuns(first: 5) { nodes { source } } } }",
            json!({ "a": gid(NodeKind::Association, net.liasa) }),
        )
        .await;
    let members = data["association"]["members"]["nodes"].as_array().expect("members").clone();
    let nomsa = members.iter().find(|m| m["externalId"] == "ZA-100").expect("the member");
    assert_eq!(nomsa["status"], "DEACTIVATED");
    assert!(data["association"]["syncRuns"]["nodes"].as_array().expect("runs").iter().all(|r| r["source"] == "SCIM"));
}

#[tokio::test]
async fn entra_id_patches_with_capitalised_ops_and_filtered_paths() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let created = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-101", "zodwa@example.org"))).await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "zodwa.m@example.org" },
        { "op": "Replace", "path": "name.formatted", "value": "Zodwa Mokoena" },
        { "op": "Add", "path": "title", "value": "Archivist" },
        { "op": "Replace", "path": format!("{EXT}:sector"), "value": "ARCHIVE" },
    ] });
    let changed = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(patch)).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    // The email changes; the login name in the directory is another attribute.
    assert_eq!(changed.body["emails"][0]["value"], "zodwa.m@example.org");
    assert_eq!(changed.body["userName"], "zodwa@example.org");
    assert_eq!(changed.body["name"]["formatted"], "Zodwa Mokoena");
    assert_eq!(changed.body["title"], "Archivist");
    assert_eq!(changed.body[EXT]["sector"], "ARCHIVE");
    assert_ne!(changed.etag, created.etag, "a new version");

    // A stale If-Match is refused and changes nothing.
    let stale = app
        .client
        .patch(format!("{}/scim/v2/Users/{id}", app.address))
        .bearer_auth(&token)
        .header("if-match", created.etag.as_deref().unwrap_or_default())
        .body(json!({ "Operations": [{ "op": "replace", "path": "title", "value": "X" }] }).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(stale.status(), 412);
    let now = scim(&app, Method::GET, &format!("/Users/{id}"), Some(&token), None).await;
    assert_eq!(now.body["title"], "Archivist");
    assert_eq!(now.etag, changed.etag);
}

#[tokio::test]
async fn lists_filter_sort_page_and_project() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    for (n, email) in ["c@example.org", "a@example.org", "b@example.org"].iter().enumerate() {
        let created = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user(&format!("X-{n}"), email))).await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let page = scim(
        &app,
        Method::GET,
        "/Users?filter=externalId%20sw%20%22X-%22&sortBy=userName&startIndex=2&count=1&attributes=userName",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!((page.body["totalResults"].as_i64(), page.body["startIndex"].as_i64()), (Some(3), Some(2)));
    let only = &page.body["Resources"][0];
    assert_eq!(only["userName"], "b@example.org");
    assert!(only.get("emails").is_none() && only.get("id").is_some(), "only what was asked, and the id: {only}");
    let descending = scim(
        &app,
        Method::GET,
        "/Users?filter=emails%5Btype%20eq%20%22work%22%5D%20and%20externalId%20sw%20%22X-%22&sortBy=userName&sortOrder=descending",
        Some(&token),
        None,
    )
    .await;
    let names: Vec<&str> =
        descending.body["Resources"].as_array().expect("list").iter().filter_map(|u| u["userName"].as_str()).collect();
    assert_eq!(names, ["c@example.org", "b@example.org", "a@example.org"]);
    let lean = scim(&app, Method::GET, "/Users?excludedAttributes=emails,meta&count=1", Some(&token), None).await;
    let first = &lean.body["Resources"][0];
    assert!(first.get("emails").is_none() && first.get("meta").is_none() && first.get("userName").is_some(), "{first}");
    let bad = scim(&app, Method::GET, "/Users?filter=userName%20zz", Some(&token), None).await;
    assert_eq!((bad.status, scim_type(&bad)), (400, "invalidFilter"));
}

#[tokio::test]
async fn put_replaces_renames_and_delete_deactivates_out_of_the_directorys_sight() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let created = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-102", "lindi@example.org"))).await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let mut replacement = new_user("ZA-102", "lindi@example.org");
    replacement.as_object_mut().expect("object").remove("title");
    replacement["name"] = json!({ "formatted": "Lindiwe Zulu" });
    let put = scim(&app, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(replacement.clone())).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["name"]["formatted"], "Lindiwe Zulu");
    assert!(put.body.get("title").is_none(), "what a PUT leaves out is cleared: {}", put.body);

    // A new externalId renames the member (the SCIM id stays); another member's is refused.
    replacement["externalId"] = json!("ZA-999");
    let renamed = scim(&app, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(replacement.clone())).await;
    assert_eq!((renamed.status, &renamed.body["externalId"], &renamed.body["id"]), (200, &json!("ZA-999"), &json!(id)));
    replacement["externalId"] = json!("ZA-1");
    let taken = scim(&app, Method::PUT, &format!("/Users/{id}"), Some(&token), Some(replacement)).await;
    assert_eq!((taken.status, scim_type(&taken)), (409, "uniqueness"), "{}", taken.body);
    let patch = json!({ "Operations": [{ "op": "remove", "path": "externalId" }] });
    let unkeyed = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(patch)).await;
    assert_eq!((unkeyed.status, scim_type(&unkeyed)), (400, "mutability"));

    // DELETE deactivates; the directory no longer sees the member (RFC 7644 §3.6)...
    let deleted = scim(&app, Method::DELETE, &format!("/Users/{id}"), Some(&token), None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(scim(&app, Method::GET, &format!("/Users/{id}"), Some(&token), None).await.status, 404);
    assert_eq!(scim(&app, Method::DELETE, &format!("/Users/{id}"), Some(&token), None).await.status, 404);
    let listed = scim(&app, Method::GET, "/Users?filter=externalId%20eq%20%22ZA-999%22", Some(&token), None).await;
    assert_eq!(listed.body["totalResults"], 0, "{}", listed.body);
    // ...but nothing is deleted: the membership is a tombstone the association still has.
    let data = app
        .data(
            "query($a: ID!) { association(id: $a) { members(first: 50) { nodes { externalId status } } } }",
            json!({ "a": gid(NodeKind::Association, net.liasa) }),
        )
        .await;
    let members = data["association"]["members"]["nodes"].as_array().expect("members").clone();
    assert!(members.iter().any(|m| m["externalId"] == "ZA-999" && m["status"] == "DEACTIVATED"), "{members:?}");
    // A create brings the member back, under the same id.
    let back = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-999", "lindi@example.org"))).await;
    assert_eq!((back.status, &back.body["id"], &back.body["active"]), (201, &json!(id), &json!(true)), "{}", back.body);
    assert_eq!(scim(&app, Method::GET, "/Users/nope", Some(&token), None).await.status, 404);
}

#[tokio::test]
async fn a_person_already_in_the_network_is_linked_pending_their_consent() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    // Carmen is in the network already, not through this association.
    let mut carmen = new_user("AU-7", "carmen.garcía@example.org");
    carmen["name"] = json!({ "formatted": "C. García" });
    let linked = scim(&app, Method::POST, "/Users", Some(&token), Some(carmen)).await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    assert_eq!(linked.body[EXT]["consent"], "PENDING");
    assert_eq!(linked.body["name"]["formatted"], "C. García", "only what the association sent");
    assert!(linked.body[EXT]["institution"].is_null(), "nothing of her profile: {}", linked.body);
    // The lookups an identity provider makes find her by what the association sent.
    let id = linked.body["id"].as_str().expect("id");
    for filter in [
        "userName%20eq%20%22Carmen.Garc%C3%ADa%40example.org%22",
        "emails.value%20eq%20%22carmen.garc%C3%ADa%40example.org%22",
        "externalId%20eq%20%22AU-7%22",
    ] {
        let found = scim(&app, Method::GET, &format!("/Users?filter={filter}"), Some(&token), None).await;
        assert_eq!(found.body["totalResults"], 1, "{filter}: {}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], id);
    }
    for filter in ["userName%20eq%20%22nobody%40example.org%22", "externalId%20eq%20%22au-7%22"] {
        let none = scim(&app, Method::GET, &format!("/Users?filter={filter}"), Some(&token), None).await;
        assert_eq!(none.body["totalResults"], 0, "{filter}: {}", none.body);
    }
}

#[tokio::test]
async fn only_the_association_itself_or_an_admin_provisions_its_members() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let alia = app.token(Role::Association, &[], Some(net.alia_assoc), None);
    let created = scim(&app, Method::POST, "/Users", Some(&liasa), Some(new_user("ZA-103", "thabo@example.org"))).await;
    let id = created.body["id"].as_str().expect("id").to_owned();

    assert_eq!(scim(&app, Method::GET, "/Users", None, None).await.status, 401);
    // Another association does not see LIASA's members, by its own base or by LIASA's.
    assert_eq!(scim(&app, Method::GET, &format!("/Users/{id}"), Some(&alia), None).await.status, 404);
    let liasa_base = format!("/associations/{}", gid(NodeKind::Association, net.liasa));
    let other = scim(&app, Method::GET, &format!("{liasa_base}/Users"), Some(&alia), None).await;
    assert_eq!(other.status, 403);
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    assert_eq!(scim(&app, Method::GET, &format!("{liasa_base}/Users"), Some(&ambassador), None).await.status, 403);
    // An admin names the association in the path.
    assert_eq!(scim(&app, Method::GET, "/Users", Some(&app.admin), None).await.status, 400);
    let admin = scim(&app, Method::GET, &format!("{liasa_base}/Users/{id}"), Some(&app.admin), None).await;
    assert_eq!((admin.status, admin.body["externalId"].as_str()), (200, Some("ZA-103")));
}

#[tokio::test]
async fn bad_bodies_get_scim_errors_not_500s() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let raw = |body: &'static str| {
        app.client
            .post(format!("{}/scim/v2/Users", app.address))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body)
            .send()
    };
    for body in ["{", "[]", "{\"userName\": 7}", "{\"userName\": \"a\u{0}b@example.org\", \"externalId\": \"N\"}"] {
        let res = raw(body).await.expect("sent");
        let status = res.status().as_u16();
        let value: Value = res.json().await.expect("JSON");
        assert_eq!(status, 400, "{body}: {value}");
        assert_eq!(value["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert!(value["scimType"].is_string(), "{value}");
    }
    let invalid = scim(&app, Method::POST, "/Users", Some(&token), Some(json!({ "userName": "not-an-email" }))).await;
    assert_eq!((invalid.status, scim_type(&invalid)), (400, "invalidValue"), "{}", invalid.body);
}

/// Found by an outside tester: panics on multi-byte names, a PATCH that grew a list for
/// seconds, PATCH refused for users without languages, two writes over one `If-Match`.
#[tokio::test]
async fn hostile_patches_and_racing_writes_are_answered_properly() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let mut bare = new_user("ZA-200", "sipho@example.org");
    bare.as_object_mut().expect("object").remove(EXT);
    let created = scim(&app, Method::POST, "/Users", Some(&token), Some(bare)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let path = format!("/Users/{id}");
    let patch = |ops: Value| json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops });

    // Okta's deactivation works for a user sent without languages.
    let off = scim(
        &app,
        Method::PATCH,
        &path,
        Some(&token),
        Some(patch(json!([{ "op": "replace", "value": { "active": false } }]))),
    )
    .await;
    assert_eq!((off.status, &off.body["active"]), (200, &json!(false)), "{}", off.body);

    // Multi-byte names and inverted brackets are refused, not a dropped connection.
    let e = "é".repeat(30);
    for bad in [e.clone(), format!("x{e}"), "a]b[".to_owned(), format!("{USER}:id"), format!("{EXT}:consent")] {
        let res = scim(
            &app,
            Method::PATCH,
            &path,
            Some(&token),
            Some(patch(json!([{ "op": "replace", "path": bad, "value": "x" }]))),
        )
        .await;
        assert_eq!(res.status, 400, "{bad}: {}", res.body);
    }
    let listed =
        scim(&app, Method::GET, &format!("/Users?attributes={e}&excludedAttributes=x{e}"), Some(&token), None).await;
    assert_eq!(listed.status, 200);

    // A list cannot be grown without bound, nor a PATCH carry unbounded operations.
    let emails: Vec<Value> = (0..10_000).map(|n| json!({ "value": format!("{n}@example.org") })).collect();
    let grown = scim(
        &app,
        Method::PATCH,
        &path,
        Some(&token),
        Some(patch(json!([{ "op": "add", "path": "emails", "value": emails }]))),
    )
    .await;
    assert_eq!((grown.status, scim_type(&grown)), (400, "invalidValue"), "{}", grown.body);
    let many: Vec<Value> = (0..1_001).map(|_| json!({ "op": "replace", "path": "title", "value": "x" })).collect();
    let too_many = scim(&app, Method::PATCH, &path, Some(&token), Some(patch(json!(many)))).await;
    assert_eq!((too_many.status, scim_type(&too_many)), (400, "tooMany"));

    // Two writes over the same version: one wins, the other is told to read again.
    let active = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-202", "ayanda@example.org"))).await;
    let path = format!("/Users/{}", active.body["id"].as_str().expect("id"));
    let etag = active.etag.expect("an ETag");
    let send = |title: &'static str| {
        app.client
            .patch(format!("{}/scim/v2{path}", app.address))
            .bearer_auth(&token)
            .header("if-match", etag.clone())
            .header("content-type", "application/scim+json")
            .body(patch(json!([{ "op": "replace", "path": "title", "value": title }])).to_string())
            .send()
    };
    let (a, b) = futures::join!(send("First"), send("Second"));
    let mut statuses = [a.expect("sent").status().as_u16(), b.expect("sent").status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);

    // Refusals of the request itself.
    let ambassador = app.token(Role::Ambassador, &["ZA"], None, None);
    assert_eq!(scim(&app, Method::GET, "/Users", Some(&ambassador), None).await.status, 403);
    let nowhere = format!("/associations/{}/Users", gid(NodeKind::Association, 9_999));
    assert_eq!(scim(&app, Method::GET, &nowhere, Some(&app.admin), None).await.status, 404);
    assert_eq!(scim(&app, Method::GET, &format!("{path}/more"), Some(&token), None).await.status, 404);
    let wrong = scim(&app, Method::POST, &path, Some(&token), Some(json!({}))).await;
    assert_eq!(wrong.status, 405);
    let plain = app
        .client
        .post(format!("{}/scim/v2/Users", app.address))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(new_user("ZA-201", "x@example.org").to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(plain.status(), 415);
}
