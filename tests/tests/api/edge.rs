//! Every refusal at the edge has the one error shape, a code and the request id: headers
//! too large, unknown paths and methods, and every failure of the bulk path.

use interlib::auth::Role;
use interlib::domain::NodeKind;
use interlib_tests::{TestApp, fixtures};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::gid;

/// Status, the request id header, and the body as JSON (`Null` when it is not JSON).
async fn answer(req: reqwest::RequestBuilder) -> (u16, String, Value) {
    let res = req.send().await.expect("sent");
    let status = res.status().as_u16();
    let id = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = res.text().await.expect("body");
    (status, id, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Checks the one shape: `errors[0]` with a message, `code` and the request id.
fn shaped(status: u16, id: &str, body: &Value, code: &str) {
    let error = &body["errors"][0];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{status}: {body}");
    assert_eq!(error["extensions"]["code"], code, "{status}: {body}");
    assert!(!id.is_empty(), "a request id header");
    assert_eq!(error["extensions"]["requestId"], id, "{status}: {body}");
}

#[tokio::test]
async fn oversized_headers_unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let graphql = format!("{}/graphql", app.address);
    let (status, id, body) =
        answer(app.client.post(&graphql).header("x-padding", "a".repeat(40_000)).json(&serde_json::json!({}))).await;
    assert_eq!(status, 431);
    shaped(status, &id, &body, "HEADERS_TOO_LARGE");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "headerBytes");
    let mut many = app.client.get(format!("{}/healthz", app.address));
    for i in 0..80 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let (status, id, body) = answer(many).await;
    assert_eq!(status, 431);
    shaped(status, &id, &body, "HEADERS_TOO_LARGE");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "headerCount");

    let (status, id, body) = answer(app.client.get(format!("{}/no/such/path", app.address))).await;
    assert_eq!(status, 404);
    shaped(status, &id, &body, "NOT_FOUND");
    for (req, allow) in [
        (app.client.get(format!("{}/bulk/members", app.address)), "POST"),
        (app.client.delete(&graphql), "GET, POST"),
        (app.client.put(&graphql), "GET, POST"),
    ] {
        let res = req.send().await.expect("sent");
        assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some(allow));
        let id = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let status = res.status().as_u16();
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(status, 405);
        shaped(status, &id, &body, "METHOD_NOT_ALLOWED");
    }
    // The server is fine afterwards.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn every_failure_of_the_bulk_path_has_a_code_and_the_request_id() {
    let app = TestApp::spawn_with(|s| s.bulk_max_bytes = 64).await;
    let net = fixtures::network(&app.db).await;
    let liasa = app.token(Role::Association, &[], Some(net.liasa), None);
    let url = |query: &str| format!("{}/bulk/members?{query}", app.address);
    let association = format!("associationId={}", gid(NodeKind::Association, net.liasa));
    let post = |url: String, content_type: &str, body: &str| {
        app.client.post(url).bearer_auth(&liasa).header("content-type", content_type).body(body.to_owned())
    };
    let line = r#"{"externalId":"ZA-9"}"#;
    let cases = [
        (post(url("dryRun=maybe"), "application/x-ndjson", line), 400, "BAD_USER_INPUT"),
        (post(url("mode=X&associationId=QQ"), "application/x-ndjson", line), 400, "BAD_USER_INPUT"),
        (post(url(&association), "application/xml", line), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (post(url(&association), "application/x-ndjson", &"x".repeat(100)), 413, "PAYLOAD_TOO_LARGE"),
        (app.client.post(url(&association)).header("content-type", "text/csv").body("a"), 401, "UNAUTHENTICATED"),
    ];
    for (req, expected, code) in cases {
        let (status, id, body) = answer(req).await;
        assert_eq!(status, expected, "{body}");
        shaped(status, &id, &body, code);
    }
    let (_, _, body) = answer(post(url("associationId=QQ"), "application/x-ndjson", line)).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "associationId", "{body}");

    // A failure inside the sync is INTERNAL with the request id and nothing of its cause.
    app.db.execute_unprepared("ALTER TABLE sync_runs RENAME TO sync_runs_gone").await.expect("renamed");
    let (status, id, body) = answer(post(url(&association), "application/x-ndjson", line)).await;
    assert_eq!(status, 500, "{body}");
    shaped(status, &id, &body, "INTERNAL");
    let text = body.to_string().to_lowercase();
    for leak in ["sync_runs", "sql", "table", "relation"] {
        assert!(!text.contains(leak), "{leak} leaked: {body}");
    }
}
