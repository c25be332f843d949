//! Test harness: spawns the real Interlib server on a random port against a fresh database
//! (a temporary SQLite file, or a new PostgreSQL database when `INTERLIB_TEST_POSTGRES` is
//! set, e.g. `postgres://postgres@127.0.0.1:5432`), and talks to it over HTTP.

pub mod bench;
pub mod feed;
pub mod fixtures;
pub mod graphs;
pub mod proxy;
pub mod replay;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context;
use interlib::auth::{Claims, KeyRing, Role, TokenScope};
use interlib::db::StatementCounter;
use interlib::settings::Settings;
use interlib::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

/// The database a test runs against; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub struct TestDatabase {
    pub url: String,
    /// Keeps the SQLite file alive for the test.
    _dir: Option<TempDir>,
    /// PostgreSQL server URL and database name, to drop the database at the end.
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((base, name)) = self.postgres.take() else { return };
        // Drop runs outside async code: use a short-lived runtime on its own thread.
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let admin = Database::connect(format!("{base}/postgres")).await?;
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
                admin.close().await?;
                Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database; .ci/run removes leftovers");
        }
    }
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    format!("interlib_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), fastrand::u32(..))
}

/// Which backend the suite runs on.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("INTERLIB_TEST_POSTGRES").ok().filter(|s| !s.is_empty())
}

impl TestDatabase {
    /// A fresh, empty database.
    ///
    /// # Errors
    /// PostgreSQL unreachable, or the temporary directory cannot be made.
    pub async fn create() -> anyhow::Result<Self> {
        let name = unique_name();
        if let Some(base) = postgres_base_url() {
            let base = base.trim_end_matches('/');
            let admin = Database::connect(format!("{base}/postgres")).await.context("connecting to PostgreSQL")?;
            admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
            admin.close().await?;
            Ok(Self { url: format!("{base}/{name}"), _dir: None, postgres: Some((base.to_owned(), name)) })
        } else {
            let dir = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&dir)?;
            let url = format!("sqlite://{}?mode=rwc", dir.join("interlib.db").display());
            Ok(Self { url, _dir: Some(TempDir(dir)), postgres: None })
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub statements: StatementCounter,
    pub database: TestDatabase,
    /// The server's keys, to mint tokens as the CLI does.
    pub keys: KeyRing,
    /// An admin token: [`graphql`](Self::graphql) and [`data`](Self::data) send it.
    pub admin: String,
    /// Stops the server as SIGTERM would.
    pub server: actix_web::dev::ServerHandle,
    /// Every pool of the server (see [`Application::pools`]).
    pools: interlib::http::PoolList,
}

impl TestApp {
    /// Starts a server on a fresh, migrated, empty database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server with adjusted settings.
    ///
    /// # Panics
    /// When the server cannot start: the test cannot run.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let database = TestDatabase::create().await.expect("test database");
        let mut settings = Settings::for_database(&database.url);
        // The webhook deliverer polls the database in the background, and its statements
        // would count in the tests that count a request's statements: only the webhook
        // tests turn it on.
        settings.webhooks_enabled = false;
        // So does the topic announcer: the tests of topics in the feed turn it on.
        settings.topic_poll_ms = 0;
        // Suites send many requests as one admin: the budget is exercised by its own tests.
        settings.rate_limit.points = 1_000_000_000;
        // A secret of its own, as production requires (the built-in one is refused there).
        settings.set_auth_secret(&format!("interlib-test-secret-{}", unique_name()));
        adjust(&mut settings);
        let app = Application::build(&settings).await.expect("server builds");
        let keys = KeyRing::from_settings(&settings).expect("keys");
        let port = app.port();
        let db = app.db();
        let statements = app.statements();
        let server = app.handle();
        let pools = app.pools();
        tokio::spawn(app.run_until_stopped());
        Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: {
                interlib::install_tls_provider();
                reqwest::Client::new()
            },
            db,
            statements,
            database,
            admin: mint(&keys, Role::Admin, &[], None, None),
            keys,
            server,
            pools,
        }
    }

    /// Every connection pool of the server: the one it was built on, then, on PostgreSQL,
    /// each HTTP worker's (a worker's appears when the worker starts).
    pub fn pools(&self) -> Vec<DatabaseConnection> {
        self.pools.all()
    }

    /// A token of `role` with its scope (integer keys), valid for an hour.
    pub fn token(&self, role: Role, countries: &[&str], association: Option<i32>, librarian: Option<i32>) -> String {
        mint(&self.keys, role, countries, association, librarian)
    }

    /// POSTs a GraphQL request with an optional bearer token; the raw response.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn post_as(&self, token: Option<&str>, query: &str, variables: Value) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// POSTs a GraphQL request as the caller of `token` (anonymous for `None`) and returns
    /// the whole JSON response.
    ///
    /// # Panics
    /// When the server does not answer 200 with JSON.
    pub async fn graphql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let res = self.post_as(token, query, variables).await;
        assert!(res.status().is_success(), "HTTP {}", res.status());
        res.json().await.expect("JSON response")
    }

    /// POSTs a GraphQL request as an admin and returns the whole JSON response.
    ///
    /// # Panics
    /// When the server does not answer with JSON.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(Some(&self.admin), query, variables).await
    }

    /// Like [`graphql`](Self::graphql), but fails the test on any GraphQL error and
    /// returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Runs a round's life-cycle step (`openApplications`, `closeApplications`,
    /// `confirmPairings`, `completeRound`, `cancelRound`: the mutations that take a
    /// `RoundStepInput`) as an admin; the whole response, with `round { id name status }` and
    /// `userErrors { field code message }`.
    pub async fn round_step(&self, mutation: &str, round: &str) -> Value {
        let query = format!(
            "mutation($input: RoundStepInput!) {{ {mutation}(input: $input) {{
               round {{ id name status }} userErrors {{ field code message }} }} }}"
        );
        self.graphql(&query, json!({ "input": { "roundId": round } })).await
    }

    /// GET a path.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request sent")
    }
}

fn mint(keys: &KeyRing, role: Role, countries: &[&str], association: Option<i32>, librarian: Option<i32>) -> String {
    let countries: Vec<String> = countries.iter().map(|c| (*c).to_owned()).collect();
    let scope = TokenScope {
        countries,
        association: association.map(|id| id.to_string()),
        librarian: librarian.map(|id| id.to_string()),
    };
    let claims = Claims::for_role(role, &scope, None, Duration::from_secs(3600), keys.issuer(), keys.audience())
        .expect("valid claims");
    keys.mint(&claims).expect("token")
}

/// The `extensions.code` of each error of a response.
/// The `userErrors` of a mutation payload as (field, code) pairs.
pub fn user_errors(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["code"].as_str().unwrap_or("").to_owned()))
        .collect()
}

pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>").to_owned()).collect())
        .unwrap_or_default()
}
