//! Every log line of a request carries its request id and operation name, and no personal
//! data: the production JSON logs, read back from the real server (this test binary is its
//! own process, so the global subscriber is this test's). Runs on SQLite, or on PostgreSQL
//! when `INTERLIB_TEST_POSTGRES` is set.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interlib::auth::{Claims, KeyRing, Role, TokenScope};
use interlib::settings::{LogFormat, Settings};
use interlib::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

/// Log lines, shared with the subscriber.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn parsed(&self) -> Vec<Value> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|b| b.clone()).unwrap_or_default()).into_owned()
    }
}

async fn database() -> (String, Option<(String, String)>) {
    let name = format!("interlib_test_logs_{}_{}", std::process::id(), fastrand::u32(..));
    match std::env::var("INTERLIB_TEST_POSTGRES").ok().filter(|s| !s.is_empty()) {
        Some(base) => {
            let base = base.trim_end_matches('/').to_owned();
            let admin = Database::connect(format!("{base}/postgres")).await.expect("PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("database");
            (format!("{base}/{name}"), Some((base, name)))
        }
        None => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            (format!("sqlite://{}?mode=rwc", path.display()), None)
        }
    }
}

#[tokio::test]
async fn request_log_lines_carry_the_request_and_operation_and_no_personal_data() {
    let lines = Lines::default();
    let writer = lines.clone();
    interlib::telemetry::init_with_writer(LogFormat::Json, "info", move || writer.clone());
    let (url, postgres) = database().await;
    let mut settings = Settings::for_database(&url);
    settings.webhooks_enabled = false;
    let app = Application::build(&settings).await.expect("server");
    let port = app.port();
    let db = app.db();
    tokio::spawn(app.run_until_stopped());
    let keys = KeyRing::from_settings(&settings).expect("keys");
    let claims = Claims::for_role(
        Role::Admin,
        &TokenScope::default(),
        None,
        Duration::from_secs(600),
        keys.issuer(),
        keys.audience(),
    )
    .expect("claims");
    let token = keys.mint(&claims).expect("token");
    interlib::install_tls_provider();
    let client = reqwest::Client::new();
    let post =
        |body: Value| client.post(format!("http://127.0.0.1:{port}/graphql")).bearer_auth(&token).json(&body).send();

    // A query whose variables hold personal data.
    let secret = "zanele.private@example.org";
    let lookup = json!({
        "query": "query Lookup($s: String) { librarians(filter: { search: $s }) { totalCount } }",
        "variables": { "s": secret },
    });
    let res = post(lookup).await.expect("sent");
    assert_eq!(res.status(), 200);
    let lookup_id = res.headers()["x-request-id"].to_str().expect("id").to_owned();

    // An internal error: its cause is logged under the request id the client is given.
    db.execute_unprepared("ALTER TABLE rounds RENAME TO rounds_gone").await.expect("renamed");
    let broken = json!({ "query": "query Broken { rounds { totalCount } }" });
    let body: Value = post(broken).await.expect("sent").json().await.expect("JSON");
    let broken_id = body["errors"][0]["extensions"]["requestId"].as_str().expect("requestId").to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let parsed = lines.parsed();
    let of = |id: &str| parsed.iter().filter(|l| l["span"]["request_id"] == id).cloned().collect::<Vec<_>>();
    let lookup_lines = of(&lookup_id);
    assert!(!lookup_lines.is_empty(), "the request logged: {}", lines.text());
    for line in &lookup_lines {
        assert_eq!(line["span"]["operation"], "Lookup", "{line}");
    }
    assert!(lookup_lines.iter().any(|l| l["message"] == "graphql request"), "an access line");
    let broken_lines = of(&broken_id);
    let cause = broken_lines.iter().find(|l| l["message"] == "internal error").expect("the cause is logged");
    assert_eq!(cause["span"]["operation"], "Broken");
    assert!(cause.to_string().contains("rounds"), "the cause names what failed: {cause}");
    for line in broken_lines {
        assert_eq!(line["span"]["operation"], "Broken", "{line}");
    }

    let everything = lines.text();
    for personal in [secret, token.as_str(), "Bearer", "client_ip", "user_agent"] {
        assert!(!everything.contains(personal), "{personal} is in the logs");
    }

    if let Some((base, name)) = postgres
        && let Ok(admin) = Database::connect(format!("{base}/postgres")).await
    {
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
    }
}
