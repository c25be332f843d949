//! The database alone: the statements the server sends to answer a GraphQL request,
//! captured from a server on the same database and replayed without it. This is the
//! baseline the load benchmark measures the server against: the same statements, bound the
//! same way, through the same driver and the same pool size, with nothing of the server's
//! work (HTTP, GraphQL, policy, models, JSON).

use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use interlib::settings::Settings;
use interlib::startup::Application;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::bench::SERVER_POOL;

/// The statements of one request, in the order the server sent them.
pub type Statements = Vec<Statement>;

/// Settings of a server that sends nothing but what requests ask for: no webhook deliverer
/// and no topic announcer polling in the background, and a budget no run can spend.
fn quiet(url: &str) -> Settings {
    let mut settings = Settings::for_database(url);
    settings.migrate_on_start = false;
    settings.database_max_connections = SERVER_POOL;
    settings.webhooks_enabled = false;
    settings.topic_poll_ms = 0;
    settings.rate_limit.points = u64::MAX / 4;
    settings
}

/// For each of `variables`, the statements a server on the database at `url` sends to
/// answer `query` (as `token`'s caller): a server in this process, whose statement
/// counter shows us every statement it runs, answers each request once.
///
/// # Errors
/// The server cannot start, or a request fails or answers with errors other than the
/// fields the policy denies.
pub async fn capture(
    url: &str,
    query: &str,
    token: Option<&str>,
    variables: &[Value],
) -> anyhow::Result<Vec<Statements>> {
    let settings = quiet(url);
    let (db, counter) = interlib::db::connect(&settings).await?;
    let seen: Arc<Mutex<Statements>> = Arc::default();
    let sink = seen.clone();
    counter.watch(move |statement| {
        if let Ok(mut seen) = sink.lock() {
            seen.push(statement.clone());
        }
    });
    let app = Application::with_database(&settings, db, counter).await?;
    let endpoint = format!("http://127.0.0.1:{}/graphql", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let mut captured = Vec::with_capacity(variables.len());
    for vars in variables {
        seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clear();
        let mut request = client.post(&endpoint).json(&json!({ "query": query, "variables": vars }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await?.json().await?;
        if !only_denied_fields(&body) {
            bail!("the captured request failed: {body}");
        }
        let statements = std::mem::take(&mut *seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
        if statements.is_empty() {
            bail!("the server sent no statement for {vars}");
        }
        captured.push(statements);
    }
    handle.stop(false).await;
    Ok(captured)
}

/// An answer with data, whose errors (if any) are only fields the policy denies (an
/// ambassador does not read the email of a participant who did not consent).
pub fn only_denied_fields(body: &Value) -> bool {
    let denied = |e: &Value| e["extensions"]["code"] == "FORBIDDEN" && e["path"].is_array();
    body["data"].as_object().is_some_and(|data| data.values().all(|v| !v.is_null()))
        && body["errors"].as_array().is_none_or(|errors| errors.iter().all(denied))
}

/// Runs captured statements against the database, with the server's pool settings.
#[derive(Clone)]
pub struct Replayer {
    db: DatabaseConnection,
    requests: Arc<Vec<Statements>>,
}

impl Replayer {
    /// A pool on `url` like the server's, to replay `requests`.
    ///
    /// # Errors
    /// The database cannot be reached.
    pub async fn connect(url: &str, requests: Vec<Statements>) -> anyhow::Result<Self> {
        let (db, _) = interlib::db::connect(&quiet(url)).await?;
        Ok(Self { db, requests: Arc::new(requests) })
    }

    /// How many requests were captured.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Runs the statements of request `i` (modulo the number captured) one after the
    /// other, as the server's request did, reading every row; returns the rows read.
    ///
    /// # Errors
    /// A statement fails.
    pub async fn run(&self, i: usize) -> anyhow::Result<usize> {
        let statements = self.requests.get(i % self.requests.len().max(1)).context("nothing captured")?;
        let mut rows = 0;
        for statement in statements {
            rows += self.db.query_all_raw(statement.clone()).await?.len();
        }
        Ok(rows)
    }

    /// The statements of request `i`, for printing.
    pub fn statements(&self, i: usize) -> &[Statement] {
        self.requests.get(i).map_or(&[], Vec::as_slice)
    }
}
