//! What a directory says of a member beyond Interlib's profile comes back as it was sent;
//! its login name is found by the lookups identity providers make; queries by POST and
//! projections of one user; members created inactive; what every member has cannot be
//! removed; and a deactivated member's profile still follows the association's rows.

use interlib::auth::Role;
use interlib_tests::{TestApp, fixtures};
use reqwest::Method;
use serde_json::json;

use super::{EXT, USER, new_user, scim, scim_type};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test]
async fn what_the_directory_sends_comes_back_as_sent() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    // As Entra ID sends a user: the UPN as userName, the mail as the work email.
    let mut user = new_user("ZA-300", "thandi@liasa.org.za");
    user["userName"] = json!("Thandi.Nkosi@liasa.onmicrosoft.com");
    user["name"] = json!({ "givenName": "Thandi", "familyName": "Nkosi", "honorificPrefix": "Dr" });
    user["displayName"] = json!("Dr Thandi Nkosi");
    user["emails"] = json!([
        { "value": "thandi.home@example.org", "type": "home" },
        { "value": "thandi@liasa.org.za", "type": "work", "primary": true },
    ]);
    user["addresses"] = json!([{ "locality": "Durban", "country": "ZA", "type": "work", "primary": true }]);
    user["phoneNumbers"] = json!([{ "value": "+27 31 000 0000", "type": "work" }]);
    user["password"] = json!("never kept");
    user["schemas"] = json!([USER, EXT, ENTERPRISE]);
    user[ENTERPRISE] = json!({ "employeeNumber": "E-17", "department": "Archives" });
    let created = scim(&app, Method::POST, "/Users", Some(&token), Some(user)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();

    let got = scim(&app, Method::GET, &format!("/Users/{id}"), Some(&token), None).await;
    let u = &got.body;
    assert_eq!(u["userName"], "Thandi.Nkosi@liasa.onmicrosoft.com");
    assert_eq!(
        u["name"],
        json!({ "givenName": "Thandi", "familyName": "Nkosi", "honorificPrefix": "Dr", "formatted": "Thandi Nkosi" })
    );
    assert_eq!(u["displayName"], "Dr Thandi Nkosi");
    assert_eq!(u["emails"][0]["value"], "thandi.home@example.org");
    assert_eq!(u["emails"][1], json!({ "value": "thandi@liasa.org.za", "type": "work", "primary": true }));
    assert_eq!(u["addresses"][0]["locality"], "Durban");
    assert_eq!(u["phoneNumbers"][0]["value"], "+27 31 000 0000");
    assert_eq!(u[ENTERPRISE]["department"], "Archives");
    assert!(u["schemas"].as_array().expect("schemas").contains(&json!(ENTERPRISE)), "{u}");
    assert!(u.get("password").is_none(), "a password is never kept: {u}");

    // The email Interlib keeps is the primary one: it is the librarian's.
    let data = app
        .data(
            "query($f: LibrarianFilter) { librarians(first: 5, filter: $f) { nodes { email fullName } } }",
            json!({ "f": { "search": "Nkosi" } }),
        )
        .await;
    assert_eq!(data["librarians"]["nodes"][0]["email"], "thandi@liasa.org.za", "{data}");

    // The lookups before each write find the member by the login name (in any case) and by
    // the email, and by nothing else.
    for filter in [
        "userName%20eq%20%22thandi.nkosi%40liasa.onmicrosoft.com%22",
        "emails.value%20eq%20%22thandi%40liasa.org.za%22",
        "emails.value%20eq%20%22Thandi.Home%40example.org%22",
        "emails%5Btype%20eq%20%22home%22%20and%20value%20eq%20%22thandi.home%40example.org%22%5D",
    ] {
        let found = scim(&app, Method::GET, &format!("/Users?filter={filter}"), Some(&token), None).await;
        assert_eq!(
            (found.body["totalResults"].as_i64(), &found.body["Resources"][0]["id"]),
            (Some(1), &json!(id)),
            "{filter}"
        );
    }
    let by_mail_as_login =
        scim(&app, Method::GET, "/Users?filter=userName%20eq%20%22thandi%40liasa.org.za%22", Some(&token), None).await;
    assert_eq!(by_mail_as_login.body["totalResults"], 0, "the login name is the UPN: {}", by_mail_as_login.body);

    // A PATCH of a part the directory keeps is kept; a renamed part shows at once.
    let patch = json!({ "Operations": [
        { "op": "replace", "path": "name.givenName", "value": "Thandiwe" },
        { "op": "replace", "path": "name.formatted", "value": "Thandiwe Nkosi" },
        { "op": "remove", "path": "phoneNumbers" },
    ] });
    let patched = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(patch)).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["name"]["givenName"], "Thandiwe");
    assert_eq!(patched.body["name"]["formatted"], "Thandiwe Nkosi");
    assert!(patched.body.get("phoneNumbers").is_none(), "{}", patched.body);

    // A record over the size a directory may keep is refused, and nothing changes.
    let huge = json!({ "Operations": [{ "op": "add", "path": "nickName", "value": "x".repeat(20_000) }] });
    let refused = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(huge)).await;
    assert_eq!((refused.status, scim_type(&refused)), (400, "invalidValue"), "{}", refused.body);
    let same = scim(&app, Method::GET, &format!("/Users/{id}"), Some(&token), None).await;
    assert_eq!(same.etag, patched.etag);
}

#[tokio::test]
async fn queries_by_post_and_projections_of_one_user() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let created = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-301", "sipho@example.org"))).await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "externalId eq \"ZA-301\"",
        "attributes": ["userName", "emails"],
        "startIndex": 1,
        "count": 10,
    });
    for path in ["/Users/.search", "/.search"] {
        let found = scim(&app, Method::POST, path, Some(&token), Some(search.clone())).await;
        assert_eq!(found.status, 200, "{path}: {}", found.body);
        let only = &found.body["Resources"][0];
        assert_eq!((found.body["totalResults"].as_i64(), &only["id"]), (Some(1), &json!(id)), "{path}");
        assert!(only.get("name").is_none() && only.get("emails").is_some(), "{path}: {only}");
    }
    let bad = scim(&app, Method::POST, "/Users/.search", Some(&token), Some(json!({ "filter": "userName zz" }))).await;
    assert_eq!((bad.status, scim_type(&bad)), (400, "invalidFilter"));
    let wrong = scim(&app, Method::POST, "/Users/.search", Some(&token), Some(json!({ "count": "ten" }))).await;
    assert_eq!((wrong.status, scim_type(&wrong)), (400, "invalidSyntax"));

    let lean =
        scim(&app, Method::GET, &format!("/Users/{id}?excludedAttributes=displayName,emails"), Some(&token), None)
            .await;
    assert_eq!(lean.status, 200);
    assert!(lean.body.get("displayName").is_none() && lean.body.get("emails").is_none(), "{}", lean.body);
    assert_eq!(lean.etag, created.etag, "the version of the whole user");
    let only = scim(&app, Method::GET, &format!("/Users/{id}?attributes=userName"), Some(&token), None).await;
    let keys: Vec<&String> = only.body.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 3, "userName, and the id and schemas that always stay: {keys:?}");
}

#[tokio::test]
async fn a_member_created_inactive_and_what_every_member_has() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let mut user = new_user("ZA-302", "ayanda@example.org");
    user["active"] = json!(false);
    let created = scim(&app, Method::POST, "/Users", Some(&token), Some(user)).await;
    assert_eq!((created.status, &created.body["active"]), (201, &json!(false)), "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();

    // A deactivated member's profile still follows the association's directory.
    let patch = json!({ "Operations": [{ "op": "replace", "path": "title", "value": "Curator" }] });
    let patched = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(patch)).await;
    assert_eq!(
        (patched.status, &patched.body["title"], &patched.body["active"]),
        (200, &json!("Curator"), &json!(false))
    );

    for path in ["active", "userName", "emails", EXT, &format!("{EXT}:yearsExperience"), &format!("{EXT}:languages")] {
        let patch = json!({ "Operations": [{ "op": "remove", "path": path }] });
        let refused = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(patch)).await;
        assert_eq!((refused.status, scim_type(&refused)), (400, "mutability"), "{path}: {}", refused.body);
    }
    let patch = json!({ "Operations": [{ "op": "remove", "path": format!("{EXT}:interests") }] });
    let cleared = scim(&app, Method::PATCH, &format!("/Users/{id}"), Some(&token), Some(patch)).await;
    assert_eq!((cleared.status, &cleared.body[EXT]["interests"]), (200, &json!([])), "{}", cleared.body);

    // The same rule through GraphQL: a row that deactivates still carries the profile.
    let synced = crate::sync::synced(
        &app,
        &token,
        net.liasa,
        "UPSERT",
        json!([{ "externalId": "ZA-302", "active": false, "jobTitle": "Head Curator" }]),
    )
    .await;
    assert_eq!(synced["updated"], 1, "{synced}");
    let now = scim(&app, Method::GET, &format!("/Users/{id}"), Some(&token), None).await;
    assert_eq!((&now.body["title"], &now.body["active"]), (&json!("Head Curator"), &json!(false)));
}

#[tokio::test]
async fn an_outside_attackers_findings_stay_fixed() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    let created =
        scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-400", "kagiso@example.org"))).await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let path = format!("/Users/{id}");

    // A PATCH of thousands of new attributes was quadratic (16,000 keys: 8 s): refused at once.
    let wide: serde_json::Map<String, serde_json::Value> = (0..5_000).map(|i| (format!("k{i}"), json!(0))).collect();
    for target in [None, Some(EXT)] {
        let mut op = json!({ "op": "add", "value": wide.clone() });
        if let Some(target) = target {
            op["path"] = json!(target);
        }
        let started = std::time::Instant::now();
        let refused = scim(&app, Method::PATCH, &path, Some(&token), Some(json!({ "Operations": [op] }))).await;
        assert_eq!((refused.status, scim_type(&refused)), (400, "invalidValue"), "{}", refused.body);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }
    // As many attributes through many operations: refused when the user grows too wide.
    let ops: Vec<_> = (0..300).map(|i| json!({ "op": "add", "path": format!("x{i}"), "value": i })).collect();
    let grown = scim(&app, Method::PATCH, &path, Some(&token), Some(json!({ "Operations": ops }))).await;
    assert_eq!((grown.status, scim_type(&grown)), (400, "invalidValue"), "{}", grown.body);

    // A password under the core schema's URN is a password too: never kept.
    let mut user = new_user("ZA-401", "neo@example.org");
    user[format!("{USER}:password")] = json!("secret-under-urn");
    user[format!("{USER}:nickName")] = json!("Neo");
    let kept = scim(&app, Method::POST, "/Users", Some(&token), Some(user)).await;
    assert_eq!(kept.status, 201, "{}", kept.body);
    assert!(!kept.body.to_string().contains("secret-under-urn"), "{}", kept.body);
    assert_eq!(kept.body["nickName"], "Neo");

    // An externalId with spaces around it was written, then answered 500.
    let spaced =
        scim(&app, Method::POST, "/Users", Some(&token), Some(new_user(" ZA-402 ", "lesedi@example.org"))).await;
    assert_eq!((spaced.status, &spaced.body["externalId"]), (201, &json!("ZA-402")), "{}", spaced.body);
    let again = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-402 ", "lesedi@example.org"))).await;
    assert_eq!((again.status, scim_type(&again)), (409, "uniqueness"));

    // Another extension's attributes can be patched, as Entra ID does for the enterprise User.
    let patch = json!({ "Operations": [
        { "op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "E2" },
        { "op": "add", "value": { ENTERPRISE: { "department": "Archives" } } },
    ] });
    let patched = scim(&app, Method::PATCH, &path, Some(&token), Some(patch)).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body[ENTERPRISE], json!({ "employeeNumber": "E2", "department": "Archives" }));
    let remove = json!({ "Operations": [{ "op": "remove", "path": format!("{ENTERPRISE}:employeeNumber") }] });
    let removed = scim(&app, Method::PATCH, &path, Some(&token), Some(remove)).await;
    assert_eq!(removed.body[ENTERPRISE], json!({ "department": "Archives" }), "{}", removed.body);

    // Emptying what every member has is refused like its removal.
    let emptied = json!({ "Operations": [{ "op": "replace", "path": "emails", "value": null }] });
    let refused = scim(&app, Method::PATCH, &path, Some(&token), Some(emptied)).await;
    assert_eq!((refused.status, scim_type(&refused)), (400, "mutability"));

    // The size limits hold for a create as for a PATCH.
    let mut crowded = new_user("ZA-403", "crowd@example.org");
    crowded["phoneNumbers"] = json!((0..150).map(|i| json!({ "value": format!("+27 {i}") })).collect::<Vec<_>>());
    let refused = scim(&app, Method::POST, "/Users", Some(&token), Some(crowded)).await;
    assert_eq!((refused.status, scim_type(&refused)), (400, "invalidValue"));

    // A deleted member created again under another externalId comes back (their email is
    // theirs); under the same one, inactive, too.
    assert_eq!(scim(&app, Method::DELETE, &path, Some(&token), None).await.status, 204);
    let back = scim(&app, Method::POST, "/Users", Some(&token), Some(new_user("ZA-404", "kagiso@example.org"))).await;
    assert_eq!(
        (back.status, &back.body["id"], &back.body["externalId"]),
        (201, &json!(id), &json!("ZA-404")),
        "{}",
        back.body
    );
    assert_eq!(scim(&app, Method::DELETE, &path, Some(&token), None).await.status, 204);
    let mut inactive = new_user("ZA-404", "kagiso@example.org");
    inactive["active"] = json!(false);
    let back = scim(&app, Method::POST, "/Users", Some(&token), Some(inactive)).await;
    assert_eq!((back.status, &back.body["active"]), (201, &json!(false)), "{}", back.body);

    // A lookup by an address too long for SQL's LIKE is answered, not a 500.
    let search = json!({ "filter": format!("emails.value eq \"{}\"", "%".repeat(60_000)) });
    let long = scim(&app, Method::POST, "/Users/.search", Some(&token), Some(search)).await;
    assert_eq!((long.status, &long.body["totalResults"]), (200, &json!(0)), "{}", long.body);
}

#[tokio::test]
async fn another_scim_version_is_refused_with_invalid_vers() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let token = app.token(Role::Association, &[], Some(net.liasa), None);
    for path in ["/scim/v1/Users", "/scim/v1", "/scim/v3/ServiceProviderConfig"] {
        let res = app.client.get(format!("{}{path}", app.address)).bearer_auth(&token).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 400, "{path}");
        assert!(res.headers()["content-type"].to_str().unwrap_or_default().starts_with("application/scim+json"));
        let body: serde_json::Value = res.json().await.expect("JSON");
        assert_eq!(body["scimType"], "invalidVers", "{path}: {body}");
    }
}
