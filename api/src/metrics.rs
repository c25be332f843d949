//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.
//!
//! Labels come from a closed set (error codes, HTTP status classes) or are bounded:
//! operation names are the client's choice, so only valid GraphQL names are kept, and past
//! [`MAX_OPERATIONS`] distinct names the rest count as `other`. Nothing personal is
//! recorded: no tokens, subjects, addresses or variables.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;

use crate::db::StatementCounter;
use crate::error::ErrorCode;

/// Distinct operation names with their own series.
pub const MAX_OPERATIONS: usize = 200;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

/// All metrics of the process.
pub struct Metrics {
    registry: Registry,
    requests: Family<OperationLabels, Counter>,
    latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    errors: Family<CodeLabels, Counter>,
    responses: Family<StatusLabels, Counter>,
    rate_limited: Counter,
    redis_failures: Counter,
    pool: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    database_up: Gauge,
    statements: Counter,
    subscriptions: Gauge,
    operations: Mutex<HashSet<String>>,
    /// Last values read from monotonic sources, to add only the difference at a scrape.
    seen_statements: AtomicI64,
    seen_redis_failures: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("interlib");
        let requests = Family::<OperationLabels, Counter>::default();
        let latency = Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let errors = Family::<CodeLabels, Counter>::default();
        let responses = Family::<StatusLabels, Counter>::default();
        let rate_limited = Counter::default();
        let redis_failures = Counter::default();
        let pool = Family::<PoolLabels, Gauge>::default();
        let pool_max = Gauge::default();
        let database_up = Gauge::default();
        let statements = Counter::default();
        let subscriptions = Gauge::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations executed, by operation name and type",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL operation, by operation name and type",
            latency.clone(),
        );
        registry.register("graphql_errors", "GraphQL errors returned, by extensions.code", errors.clone());
        registry.register("http_responses", "HTTP responses, by status code", responses.clone());
        registry.register(
            "rate_limited",
            "Requests refused because the client's budget was spent",
            rate_limited.clone(),
        );
        registry.register(
            "rate_limiter_redis_failures",
            "Rate-limit charges that could not reach Redis and were counted locally",
            redis_failures.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections, by state (idle, in_use; in_use includes those the read path keeps between its statements, up to half of each pool)",
            pool.clone(),
        );
        registry.register("db_pool_max_connections", "Largest size of the database pool", pool_max.clone());
        registry.register("database_up", "1 when the database answered the last check, else 0", database_up.clone());
        registry.register("db_statements", "SQL statements executed", statements.clone());
        registry.register("graphql_subscriptions_active", "Open GraphQL subscriptions", subscriptions.clone());
        Self {
            registry,
            requests,
            latency,
            errors,
            responses,
            rate_limited,
            redis_failures,
            pool,
            pool_max,
            database_up,
            statements,
            subscriptions,
            operations: Mutex::new(HashSet::new()),
            seen_statements: AtomicI64::new(0),
            seen_redis_failures: AtomicI64::new(0),
        }
    }

    /// The label for an operation name: the name when it is a valid GraphQL name and one
    /// of the first [`MAX_OPERATIONS`] seen, `anonymous` when there is none.
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else { return "anonymous".to_owned() };
        let valid = name.len() <= 64
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return "invalid".to_owned();
        }
        let Ok(mut known) = self.operations.lock() else { return "other".to_owned() };
        if known.contains(name) || known.len() < MAX_OPERATIONS {
            known.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }

    /// Records one executed (or refused) GraphQL operation.
    pub fn operation(&self, name: Option<&str>, kind: &str, elapsed: Duration, error_codes: &[ErrorCode]) {
        let labels = OperationLabels { operation: self.operation_label(name), kind: kind.to_owned() };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        for code in error_codes {
            self.errors.get_or_create(&CodeLabels { code: code.as_str().to_owned() }).inc();
            if *code == ErrorCode::RateLimited {
                self.rate_limited.inc();
            }
        }
    }

    /// Records an HTTP response status.
    pub fn response(&self, status: u16) {
        self.responses.get_or_create(&StatusLabels { status: status.to_string() }).inc();
    }

    /// The metrics as OpenMetrics text, with the pool and database read now.
    /// `pools`: every pool of the server (the main one and the HTTP workers'), summed.
    pub fn render(&self, pools: &[DatabaseConnection], statements: &StatementCounter, sources: Sources) -> String {
        let Sources { database_up: up, redis_failures, subscriptions } = sources;
        self.subscriptions.set(crate::domain::counts::to_i64(subscriptions));
        let (size, idle, max) =
            pools.iter().map(pool_usage).fold((0, 0, 0), |(s, i, m), (size, idle, max)| (s + size, i + idle, m + max));
        self.pool.get_or_create(&PoolLabels { state: "idle".into() }).set(idle);
        self.pool.get_or_create(&PoolLabels { state: "in_use".into() }).set(size - idle);
        self.pool_max.set(max);
        self.database_up.set(i64::from(up));
        let total = crate::domain::counts::to_i64(statements.get());
        let before = self.seen_statements.swap(total, Ordering::Relaxed);
        self.statements.inc_by(u64::try_from(total - before).unwrap_or(0));
        let failures = crate::domain::counts::to_i64(redis_failures);
        let before = self.seen_redis_failures.swap(failures, Ordering::Relaxed);
        self.redis_failures.inc_by(u64::try_from(failures - before).unwrap_or(0));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// The OpenMetrics text as the classic Prometheus text format: a counter's family is named
/// by its sample (`x_total`) in `# HELP` and `# TYPE`, and the lines the classic format
/// does not have (`# UNIT`, `# EOF`) are left out.
pub fn classic_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            (counters.contains(name) && !name.ends_with("_total")).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Values read from elsewhere at a scrape.
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    pub database_up: bool,
    /// Rate-limit charges that could not reach Redis, so far.
    pub redis_failures: u64,
    /// Open subscriptions now.
    pub subscriptions: usize,
}

/// (connections, idle connections, maximum) of the pool.
fn pool_usage(db: &DatabaseConnection) -> (i64, i64, i64) {
    let usage = |size: u32, idle: usize, max: u32| (i64::from(size), i64::try_from(idle).unwrap_or(0), i64::from(max));
    use sea_orm::DatabaseConnectionType;
    match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            usage(pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            usage(pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        _ => (0, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_format_names_counters_by_their_samples() {
        let open = "# HELP a Requests.\n# TYPE a counter\na_total{op=\"x\"} 1\n# HELP b_seconds Latency.\n# TYPE b_seconds histogram\n# UNIT b_seconds seconds\nb_seconds_count 1\n# EOF\n";
        assert_eq!(
            classic_text(open),
            "# HELP a_total Requests.\n# TYPE a_total counter\na_total{op=\"x\"} 1\n# HELP b_seconds Latency.\n# TYPE b_seconds histogram\nb_seconds_count 1\n"
        );
    }

    #[test]
    fn operation_names_are_bounded() {
        let metrics = Metrics::new();
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("Dashboard")), "Dashboard");
        assert_eq!(metrics.operation_label(Some("drop table; --")), "invalid");
        for i in 0..MAX_OPERATIONS {
            metrics.operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(metrics.operation_label(Some("OneTooMany")), "other");
        assert_eq!(metrics.operation_label(Some("Dashboard")), "Dashboard");
    }
}
