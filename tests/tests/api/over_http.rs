//! GraphQL over HTTP as the specification gives it: media types, status codes, GET and
//! POST, CSRF; persisted queries; the production profile; masked internal errors.

use interlib::http::persisted::hash;
use interlib::settings::PersistedMode;
use interlib_tests::{TestApp, error_codes, fixtures};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn send(req: reqwest::RequestBuilder) -> (u16, String, Value) {
    let res = req.send().await.expect("sent");
    let status = res.status().as_u16();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = res.text().await.expect("body");
    (status, content_type, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn url(app: &TestApp) -> String {
    format!("{}/graphql", app.address)
}

#[tokio::test]
async fn status_codes_follow_the_media_type_the_client_accepts() {
    let app = TestApp::spawn().await;
    let failures = [
        ("{ librarians(", "a document that does not parse"),
        ("{ librarians { nope } }", "a document that does not validate"),
        ("query($n: Int!) { librarians(first: $n) { totalCount } }", "a variable that is missing"),
    ];
    for (query, what) in failures {
        let body = json!({ "query": query });
        let (status, content_type, json) =
            send(app.client.post(url(&app)).header("accept", GRAPHQL_RESPONSE).json(&body)).await;
        assert_eq!(status, 400, "{what}");
        assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
        assert!(json.get("data").is_none() && !error_codes(&json).is_empty(), "{what}: {json}");
        // application/json: the status only says "a GraphQL response".
        let (status, content_type, json) =
            send(app.client.post(url(&app)).header("accept", "application/json").json(&body)).await;
        assert_eq!((status, content_type.as_str()), (200, "application/json"), "{what}");
        assert!(json.get("data").is_none(), "{what}: {json}");
    }
    // No Accept, or */*: application/json, for older clients.
    for accept in [None, Some("*/*"), Some("application/graphql-response+json;q=0.5, application/json")] {
        let mut req = app.client.post(url(&app)).json(&json!({ "query": "{ __typename }" }));
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        let (status, content_type, json) = send(req).await;
        assert_eq!((status, content_type.as_str()), (200, "application/json"), "{accept:?}");
        assert_eq!(json["data"]["__typename"], "Query");
    }
    // An execution error is still a 200: the request ran, and `data` says how far.
    let body = json!({ "query": "{ ok: __typename bad: node(id: \"oops\") { id } }" });
    let (status, _, json) = send(app.client.post(url(&app)).header("accept", GRAPHQL_RESPONSE).json(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(json["data"]["ok"], "Query");
    // A media type the server does not speak.
    let body = json!({ "query": "{ __typename }" });
    let (status, _, json) = send(app.client.post(url(&app)).header("accept", "application/xml").json(&body)).await;
    assert_eq!(status, 406);
    assert_eq!(error_codes(&json), ["NOT_ACCEPTABLE"]);
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = TestApp::spawn().await;
    let get = |query: &str| {
        app.client.get(url(&app)).header("accept", GRAPHQL_RESPONSE).query(&[("query", query)]).bearer_auth(&app.admin)
    };
    let (status, content_type, json) = send(get("{ viewer { role } }")).await;
    assert_eq!((status, json["data"]["viewer"]["role"].as_str()), (200, Some("ADMIN")));
    assert!(content_type.starts_with(GRAPHQL_RESPONSE));
    let res =
        get("mutation { deleteWebhook(input: { id: \"x\" }) { userErrors { code } } }").send().await.expect("sent");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    let json: Value = res.json().await.expect("JSON");
    assert_eq!(error_codes(&json), ["METHOD_NOT_ALLOWED"]);
    // Of several operations, the one named decides.
    let doc = "query Q { __typename } mutation M { __typename }";
    let res = get(doc).query(&[("operationName", "M")]).send().await.expect("sent");
    assert_eq!(res.status(), 405);
    let (status, _, json) = send(get(doc).query(&[("operationName", "Q")])).await;
    assert_eq!((status, &json["data"]["__typename"]), (200, &json!("Query")));
    // Variables come as JSON in the query string.
    let query = "query($c: String!) { country(code: $c) { name } }";
    let (status, _, json) = send(get(query).query(&[("variables", "{\"c\":\"KE\"}")])).await;
    assert_eq!((status, &json["data"]["country"]["name"]), (200, &json!("Kenya")));
}

#[tokio::test]
async fn posts_a_browser_could_forge_are_refused() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": "{ viewer { role } }" }).to_string();
    // Types a cross-site form may send without a preflight, and no type at all.
    for content_type in
        [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data"), None]
    {
        let mut req = app.client.post(url(&app)).bearer_auth(&app.admin).body(body.clone());
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        let (status, _, json) = send(req).await;
        assert_eq!(status, 400, "{content_type:?}");
        assert_eq!(error_codes(&json), ["CSRF_PREVENTED"], "{content_type:?}");
    }
    // A header a form cannot set proves the browser preflighted (or it is not a browser).
    let req = app
        .client
        .post(url(&app))
        .bearer_auth(&app.admin)
        .header("content-type", "text/plain")
        .header("graphql-require-preflight", "1")
        .body(body.clone());
    let (status, _, json) = send(req).await;
    assert_eq!((status, &json["data"]["viewer"]["role"]), (200, &json!("ADMIN")));
    // Other types are not spoken here.
    let req = app.client.post(url(&app)).header("content-type", "application/xml").body(body.clone());
    let (status, _, json) = send(req).await;
    assert_eq!((status, error_codes(&json)), (415, vec!["UNSUPPORTED_MEDIA_TYPE".to_owned()]));
    // JSON with a charset is JSON.
    let req = app.client.post(url(&app)).header("content-type", "application/json; charset=utf-8").body(body);
    assert_eq!(send(req).await.0, 200);
}

fn persisted(sha: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": sha } })
}

#[tokio::test]
async fn automatic_persisted_queries_learn_a_document_once() {
    let app = TestApp::spawn().await;
    let query = "query Kenya { country(code: \"KE\") { name } }";
    let sha = hash(query);
    let (status, _, json) = send(app.client.post(url(&app)).json(&json!({ "extensions": persisted(&sha) }))).await;
    assert_eq!(status, 200);
    assert_eq!(error_codes(&json), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(json["errors"][0]["message"], "PersistedQueryNotFound");
    let register = json!({ "query": query, "extensions": persisted(&sha) });
    let (_, _, json) = send(app.client.post(url(&app)).json(&register)).await;
    assert_eq!(json["data"]["country"]["name"], "Kenya");
    // From now on the hash alone will do, over POST and over GET (cacheable URLs).
    let (_, _, json) = send(app.client.post(url(&app)).json(&json!({ "extensions": persisted(&sha) }))).await;
    assert_eq!(json["data"]["country"]["name"], "Kenya");
    let extensions = persisted(&sha).to_string();
    let (status, _, json) = send(app.client.get(url(&app)).query(&[("extensions", extensions.as_str())])).await;
    assert_eq!((status, &json["data"]["country"]["name"]), (200, &json!("Kenya")));
    // A hash that is not the document's is refused.
    let wrong = json!({ "query": "{ __typename }", "extensions": persisted(&sha) });
    let (_, _, json) = send(app.client.post(url(&app)).json(&wrong)).await;
    assert_eq!(error_codes(&json), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn an_allow_list_runs_registered_documents_only() {
    let dir = std::env::temp_dir().join(format!("interlib-allowlist-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).expect("dir");
    let manifest = dir.join("documents.json");
    let query = "query Me { viewer { role } }";
    std::fs::write(&manifest, json!({ hash(query): query }).to_string()).expect("manifest");
    let app = TestApp::spawn_with(|s| {
        s.persisted_queries.mode = PersistedMode::Allowlist;
        s.persisted_queries.manifest = Some(manifest.display().to_string());
    })
    .await;
    let (_, _, json) = send(app.client.post(url(&app)).json(&json!({ "extensions": persisted(&hash(query)) }))).await;
    assert_eq!(json["data"]["viewer"]["role"], "ANONYMOUS");
    let (_, _, json) = send(app.client.post(url(&app)).json(&json!({ "query": query }))).await;
    assert_eq!(json["data"]["viewer"]["role"], "ANONYMOUS", "the registered text runs too");
    let other = json!({ "query": "{ librarians { totalCount } }" });
    let (status, _, json) = send(app.client.post(url(&app)).header("accept", GRAPHQL_RESPONSE).json(&other)).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&json), ["PERSISTED_QUERY_NOT_ALLOWED"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_production_profile_hides_the_schema() {
    let app = TestApp::spawn_with(|s| s.profile = interlib::settings::Profile::Production).await;
    let body = app.graphql("{ __schema { queryType { name } } __type(name: \"Librarian\") { name } }", json!({})).await;
    assert_eq!(body["data"], json!({ "__schema": null, "__type": null }), "introspection is off: {body}");
    let body = app.graphql("{ librarianz { id } }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(!message.contains("Did you mean"), "no suggestions: {message}");
    let page = app.client.get(url(&app)).header("accept", "text/html").send().await.expect("sent");
    assert!(!page.text().await.unwrap_or_default().contains("graphiql"), "no GraphiQL");
    assert_eq!(app.get("/schema.graphql").await.status(), 404);
    // Queries work as ever.
    assert_eq!(app.data("{ viewer { role } }", json!({})).await["viewer"]["role"], "ADMIN");

    // The development profile (the default) has all three.
    let dev = TestApp::spawn().await;
    let body = dev.data("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(body["__schema"]["queryType"]["name"], "Query");
    let body = dev.graphql("{ librarianz { id } }", json!({})).await;
    assert!(body["errors"].to_string().contains("Did you mean"), "{body}");
}

#[tokio::test]
async fn internal_errors_show_a_request_id_and_nothing_else() {
    let app = TestApp::spawn().await;
    fixtures::network(&app.db).await;
    // Break the database under the server: every read of associations now fails.
    app.db.execute_unprepared("ALTER TABLE associations RENAME TO associations_gone").await.expect("renamed");
    let res = app
        .client
        .post(url(&app))
        .bearer_auth(&app.admin)
        .json(&json!({ "query": "{ associations { totalCount } viewer { role } }" }))
        .send()
        .await
        .expect("sent");
    let request_id = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(error_codes(&body), ["INTERNAL"]);
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["requestId"].as_str(), request_id.as_deref(), "the id the client can quote");
    let text = body.to_string().to_lowercase();
    for leak in ["associations_gone", "no such", "select", "sql", "table", "relation", ".rs", "panicked"] {
        assert!(!text.contains(leak), "{leak} leaked: {body}");
    }
    assert_eq!(body["data"]["viewer"]["role"], "ADMIN", "the rest of the request is unaffected");
}

#[tokio::test]
async fn browsers_on_configured_origins_may_call_and_read_the_budget() {
    let app = TestApp::spawn_with(|s| s.cors_allowed_origins = "https://app.example.org".into()).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, url(&app))
        .header("origin", "https://app.example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .expect("sent");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = |name: &str| preflight.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_lowercase();
    assert_eq!(allowed("access-control-allow-origin"), "https://app.example.org");
    assert!(allowed("access-control-allow-headers").contains("authorization"));
    // The headers real clients add: Apollo Client with a name and version, the bulk path's
    // idempotency key.
    for (path, headers) in [
        ("/graphql", "authorization, content-type, apollographql-client-name, apollographql-client-version"),
        ("/graphql", "content-type, apollo-require-preflight, x-apollo-operation-name"),
        ("/bulk/members", "authorization, content-type, idempotency-key"),
    ] {
        let res = app
            .client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", app.address))
            .header("origin", "https://app.example.org")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
            .send()
            .await
            .expect("sent");
        assert!(res.status().is_success(), "{path} {headers}: {}", res.status());
        let granted = res
            .headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_lowercase();
        for header in headers.split(", ") {
            assert!(granted.contains(header), "{path}: {header} not in {granted}");
        }
    }
    let res = app
        .client
        .post(url(&app))
        .header("origin", "https://app.example.org")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    let exposed = res.headers().get("access-control-expose-headers").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(exposed.contains("x-ratelimit-remaining") && exposed.contains("x-request-id"), "{exposed}");
    // Another site's page gets no permission.
    let other = app
        .client
        .request(reqwest::Method::OPTIONS, url(&app))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("sent");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Without configured origins there is no CORS at all.
    let closed = TestApp::spawn().await;
    let res = closed
        .client
        .post(url(&closed))
        .header("origin", "https://app.example.org")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200, "a request with an Origin still works (curl, same-origin)");
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn public_answers_to_get_are_cacheable_and_revalidate_and_the_rest_is_private() {
    let app = TestApp::spawn().await;
    let header = |res: &reqwest::Response, name: &str| {
        res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let public = "{ countries(first: 3) { nodes { code name } } rounds { totalCount } }";
    let res = app.client.get(url(&app)).query(&[("query", public)]).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "public, max-age=60");
    assert!(header(&res, "vary").contains("Authorization"), "{:?}", res.headers());
    let tag = header(&res, "etag");
    assert!(tag.starts_with('"') && tag.len() > 10, "{tag}");
    let body = res.text().await.expect("body");
    // Revalidation: the same answer is 304 without a body; another one is sent in full.
    let again = app
        .client
        .get(url(&app))
        .query(&[("query", public)])
        .header("if-none-match", tag.as_str())
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), tag);
    assert!(again.text().await.expect("body").is_empty());
    let stale = app
        .client
        .get(url(&app))
        .query(&[("query", public)])
        .header("if-none-match", "\"0000\"")
        .send()
        .await
        .expect("sent");
    assert_eq!((stale.status().as_u16(), stale.text().await.expect("body")), (200, body));

    // What depends on the caller: a token, the caller's own budget, an error.
    for (token, query) in [
        (Some(app.admin.as_str()), public),
        (None, "{ rateLimit { remaining } countries(first: 1) { totalCount } }"),
        (None, "{ round(id: \"nope\") { id } }"),
    ] {
        let mut req = app.client.get(url(&app)).query(&[("query", query)]);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.expect("sent");
        assert_eq!(header(&res, "cache-control"), "private, no-store", "{query}");
        assert!(res.headers().get("etag").is_none());
    }
    // A POST is never cached.
    let res = app.client.post(url(&app)).json(&json!({ "query": public })).send().await.expect("sent");
    assert!(res.headers().get("cache-control").is_none());
}
