//! NUL characters (U+0000) in text: one rule on both databases, at the input boundary.
//! PostgreSQL cannot store them and answered `INTERNAL` (HTTP 500 on the bulk path); SQLite
//! stored them. Now every way in refuses them as `BAD_USER_INPUT` naming the field, or as a
//! row error of a sync, and nothing is written.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use interlib::auth::{Claims, Role, TokenScope};
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, error_codes, fixtures};
use serde_json::{Value, json};

use crate::gid;
use crate::sync::sync;

/// The error's code and the field it names.
fn refusal(body: &Value) -> (Vec<String>, Value) {
    (error_codes(body), body["errors"][0]["extensions"]["field"].clone())
}

#[tokio::test]
async fn text_with_nul_is_bad_user_input_naming_the_field_in_every_argument() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let ada = app.token(Role::Librarian, &[], None, Some(net.ada));
    let cases: [(&str, &str, Value, &str); 7] = [
        ("admin", r#"{ librarians(filter: { search: "Ada\u0000" }) { totalCount } }"#, json!({}), "filter.search"),
        (
            "admin",
            "query($f: LibrarianFilter) { librarians(filter: $f) { totalCount } }",
            json!({ "f": { "interest": "games\u{0}" } }),
            "filter.interest",
        ),
        ("admin", "query($code: String!) { certificate(code: $code) { id } }", json!({ "code": "C\u{0}" }), "code"),
        (
            "admin",
            "query($c: String) { librarians(after: $c) { totalCount } }",
            json!({ "c": URL_SAFE_NO_PAD.encode(r#"{"o":"NAME_ASC","k":["a\u0000",1]}"#) }),
            "after",
        ),
        (
            "ada",
            "mutation($i: UpdateMyProfileInput!) { updateMyProfile(input: $i) { userErrors { field } } }",
            json!({ "i": { "fullName": "Ada\u{0}Lovelace" } }),
            "input.fullName",
        ),
        (
            "ada",
            "mutation($i: UpdateMyProfileInput!) { updateMyProfile(input: $i) { userErrors { field } } }",
            json!({ "i": { "interests": ["games", "x\u{0}"] } }),
            "input.interests[1]",
        ),
        (
            "ada",
            r#"mutation { updateMyProfile(input: { bio: "hello\u0000" }) { userErrors { field } } }"#,
            json!({}),
            "input.bio",
        ),
    ];
    for (who, query, variables, field) in cases {
        let token = if who == "ada" { &ada } else { &app.admin };
        let body = app.graphql_as(Some(token), query, variables).await;
        assert_eq!(refusal(&body), (vec!["BAD_USER_INPUT".to_owned()], json!(field)), "{query}: {body}");
        assert!(body["data"].is_null(), "refused before anything ran: {body}");
    }
    // Nothing was written: Ada's profile is as the fixture made it.
    let me = app.graphql_as(Some(&ada), "{ viewer { librarian { fullName bio } } }", json!({})).await;
    assert_eq!(me["data"]["viewer"]["librarian"]["fullName"], "Ada Okafor", "{me}");
    // A forged global id with NUL in its key.
    let id = URL_SAFE_NO_PAD.encode("Librarian:1\u{0}");
    let body = app.graphql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(refusal(&body), (vec!["BAD_USER_INPUT".to_owned()], json!("id")), "{body}");
    // The idempotency key of a sync.
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let body = sync(&app, &liasa, net.liasa, "UPSERT", false, json!([]), Some("key\u{0}")).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
}

#[tokio::test]
async fn a_sync_row_with_nul_is_a_row_error_and_the_other_rows_apply() {
    let app = TestApp::spawn().await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let row = |id: &str, name: &str, email: &str| {
        json!({ "externalId": id, "email": email, "fullName": name, "countryCode": "ZA",
                "sector": "PUBLIC", "languages": ["en"], "interests": ["outreach"] })
    };
    let members = json!([
        row("ZA-10", "Thandi\u{0}", "thandi@liasa.example"),
        row("ZA-11", "Sipho", "sipho\u{0}@liasa.example"),
        row("ZA-12\u{0}", "Zanele", "zanele@liasa.example"),
        row("ZA-13", "Lindiwe", "lindiwe@liasa.example"),
    ]);
    let body = sync(&app, &liasa, net.liasa, "UPSERT", false, members, None).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let payload = &body["data"]["syncMembers"];
    assert_eq!((&payload["created"], &payload["failed"]), (&json!(1), &json!(3)), "{payload:#}");
    let fields: Vec<(i64, String)> = payload["userErrors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| (e["index"].as_i64().unwrap_or(-1), e["field"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(fields, [(0, "fullName".into()), (1, "email".into()), (2, "externalId".into())], "{payload:#}");

    // The bulk path: JSON Lines and CSV answer 200 with row errors, not a 500.
    let url = format!("{}/bulk/members?associationId={}", app.address, gid(NodeKind::Association, net.liasa));
    let jsonl = [row("ZA-20", "Ayanda\u{0}", "ayanda@liasa.example"), row("ZA-21", "Bheki", "bheki@liasa.example")]
        .map(|v| v.to_string())
        .join("\n");
    let csv = "externalId,email,fullName,countryCode,languages\nZA-30,nomsa@liasa.example,Nom\0sa,ZA,en\nZA-31,musa@liasa.example,Musa,ZA,en\n";
    for (content_type, body) in [("application/x-ndjson", jsonl), ("text/csv", csv.to_owned())] {
        let res = app
            .client
            .post(&url)
            .bearer_auth(&liasa)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status().as_u16(), 200, "{content_type}");
        let report: Value = res.json().await.expect("JSON");
        assert_eq!((&report["created"], &report["failed"]), (&json!(1), &json!(1)), "{content_type}: {report:#}");
        assert_eq!(report["userErrors"][0]["field"], "fullName", "{report:#}");
    }
}

#[tokio::test]
async fn a_token_whose_subject_has_nul_is_refused() {
    let app = TestApp::spawn().await;
    let scope = TokenScope { countries: vec![], association: None, librarian: None };
    let claims = Claims::for_role(
        Role::Admin,
        &scope,
        Some("ops\u{0}".to_owned()),
        std::time::Duration::from_secs(600),
        app.keys.issuer(),
        app.keys.audience(),
    )
    .expect("claims");
    let token = app.keys.mint(&claims).expect("token");
    let res = app.post_as(Some(&token), "{ viewer { role } }", json!({})).await;
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
}
