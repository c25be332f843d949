//! The HTTP surface: probes, GET queries, GraphiQL, the SDL endpoint, request ids.

use interlib_tests::TestApp;

#[tokio::test]
async fn health_and_readiness_probes_answer() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("JSON");
    assert_eq!(body["database"], "up");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db.clone().close().await.expect("pool closed");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200, "the process itself is still up");
}

#[tokio::test]
async fn queries_work_over_get_and_every_response_has_a_request_id() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "{ country(code: \"KE\") { name } }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    let request_id = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert!(request_id.is_some_and(|id| id.len() >= 32), "a request id is echoed");
    let body: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(body["data"]["country"]["name"], "Kenya");
}

#[tokio::test]
async fn browsers_get_graphiql_and_the_sdl_is_served() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap_or_default().contains("graphiql"));
    let sdl = app.get("/schema.graphql").await.text().await.unwrap_or_default();
    assert_eq!(sdl, interlib::graphql::schema::sdl());
    assert!(sdl.contains("interface Node"));
}
