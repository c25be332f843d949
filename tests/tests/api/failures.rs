//! Failures: the database taken away under a running server and given back, an exhausted
//! pool, graceful shutdown with a request in flight.

use std::time::{Duration, Instant};

use interlib::domain::NodeKind;
use interlib_tests::proxy::TcpProxy;
use interlib_tests::{TestApp, error_codes, postgres_base_url};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::gid;

async fn query(app: &TestApp) -> (u16, Option<String>, Value) {
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.admin)
        .json(&json!({ "query": "{ rounds { totalCount } }" }))
        .send()
        .await
        .expect("sent");
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, retry, res.json().await.unwrap_or(Value::Null))
}

/// Polls `/readyz` until it answers 200 (the server found the database again).
async fn until_ready(app: &TestApp, within: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        if app.get("/readyz").await.status() == 200 {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not find the database again within {within:?}");
}

/// Asserts the database is reported unavailable, at once.
async fn refused_fast(app: &TestApp) {
    let started = Instant::now();
    let (status, retry, body) = query(app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"]);
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(started.elapsed() < Duration::from_millis(500), "refused at once, took {:?}", started.elapsed());
}

#[tokio::test]
async fn an_exhausted_pool_is_service_unavailable_and_the_server_recovers() {
    let app = TestApp::spawn_with(|s| {
        s.database_max_connections = 1;
        s.database_acquire_timeout_secs = 1;
        s.http_workers = 1;
    })
    .await;
    assert_eq!(query(&app).await.0, 200);
    // Hold the only connection of the pool the requests use: on PostgreSQL the worker's own
    // (the pool the server was built on, left free, must not reopen the gate), on SQLite
    // the one pool.
    let pools = app.pools();
    let postgres = postgres_base_url().is_some();
    assert_eq!(pools.len(), if postgres { 2 } else { 1 }, "a pool per worker on PostgreSQL");
    let mut held = Vec::new();
    for pool in &pools[usize::from(postgres)..] {
        held.push(pool.begin().await.expect("the connection"));
    }
    let started = Instant::now();
    let (status, _, body) = query(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"]);
    assert!(started.elapsed() < Duration::from_secs(4), "bounded by the acquire timeout");
    // Until a probe gets through, requests are refused without waiting: the bulk path too.
    refused_fast(&app).await;
    let started = Instant::now();
    let bulk = app
        .client
        .post(format!("{}/bulk/members?associationId={}", app.address, gid(NodeKind::Association, 1)))
        .bearer_auth(&app.admin)
        .header("content-type", "application/x-ndjson")
        .body("{\"externalId\":\"ZA-1\",\"email\":\"a@example.org\",\"fullName\":\"A\",\"countryCode\":\"ZA\"}\n")
        .send()
        .await
        .expect("sent");
    assert_eq!(bulk.status(), 503);
    assert_eq!(bulk.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let body: Value = bulk.json().await.expect("JSON");
    assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"], "{body}");
    assert!(started.elapsed() < Duration::from_millis(500), "refused at once, took {:?}", started.elapsed());
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);
    for transaction in held {
        transaction.rollback().await.expect("released");
    }
    until_ready(&app, Duration::from_secs(10)).await;
    assert_eq!(query(&app).await.0, 200);
}

/// `host:port` of a PostgreSQL URL such as `postgres://postgres@127.0.0.1:5432`.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

#[tokio::test]
async fn the_server_rides_out_a_database_outage_and_recovers_by_itself() {
    let Some(base) = postgres_base_url() else {
        eprintln!("PostgreSQL only (set INTERLIB_TEST_POSTGRES): SQLite is a file, it cannot go away");
        return;
    };
    let target = host_port(&base);
    let mut proxy = TcpProxy::start(&target).await.expect("proxy");
    let port = proxy.port;
    let app = TestApp::spawn_with(|s| {
        let url = s.database_url().replacen(&target, &format!("127.0.0.1:{port}"), 1);
        s.set_database_url(&url);
        s.database_acquire_timeout_secs = 1;
    })
    .await;
    assert_eq!(query(&app).await.0, 200);

    proxy.stop().await;
    let started = Instant::now();
    let (status, _, body) = query(&app).await;
    assert_eq!((status, error_codes(&body)), (503, vec!["SERVICE_UNAVAILABLE".to_owned()]), "{body}");
    assert!(started.elapsed() < Duration::from_secs(4), "no hang: {:?}", started.elapsed());
    for _ in 0..5 {
        refused_fast(&app).await;
    }
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200, "the process is fine");

    proxy.resume().await.expect("proxy again");
    let took = until_ready(&app, Duration::from_secs(15)).await;
    eprintln!("back {took:?} after the database returned");
    let (status, _, body) = query(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["rounds"]["totalCount"], 0);
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": "{ viewer { role } }" }).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connected");
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{head}",
        app.admin,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("half sent");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // What SIGTERM does: stop accepting, let the requests in flight finish.
    let server = app.server.clone();
    let stopping = tokio::spawn(async move { server.stop(true).await });
    let started = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.is_err() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the listener should close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stream.write_all(tail.as_bytes()).await.expect("rest sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"role\":\"ADMIN\""), "{response}");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("stopped").expect("joined");
}

#[tokio::test]
async fn a_statement_past_the_database_timeout_is_service_unavailable() {
    if postgres_base_url().is_none() {
        eprintln!("PostgreSQL only: SQLite has no statement timeout");
        return;
    }
    let app = TestApp::spawn_with(|s| s.database_statement_timeout_secs = 1).await;
    // The server's own pool: its connections carry the timeout.
    let started = Instant::now();
    let err = sea_orm::ConnectionTrait::execute_unprepared(&app.db, "SELECT pg_sleep(5)").await.expect_err("cancelled");
    assert!(started.elapsed() < Duration::from_secs(4), "cancelled at the timeout");
    assert!(interlib::error::is_unavailable(&err), "{err}");
    assert_eq!(interlib::error::ApiError::from(err).code(), interlib::error::ErrorCode::ServiceUnavailable);

    // Through HTTP: another session holds the rounds table, so the request's statement
    // waits until the timeout cancels it, and the client hears 503 at the timeout.
    let holder = sea_orm::Database::connect(&app.database.url).await.expect("a second session");
    let txn = holder.begin().await.expect("begin");
    sea_orm::ConnectionTrait::execute_unprepared(&txn, "LOCK TABLE rounds IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let started = Instant::now();
    let (status, retry, body) = query(&app).await;
    let waited = started.elapsed();
    txn.rollback().await.expect("released");
    assert_eq!((status, error_codes(&body)), (503, vec!["SERVICE_UNAVAILABLE".to_owned()]), "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "answered after {waited:?}");
    // The database was never down: the server answers again once it has looked.
    until_ready(&app, Duration::from_secs(10)).await;
    let (status, _, body) = query(&app).await;
    assert_eq!(status, 200, "{body}");
}
