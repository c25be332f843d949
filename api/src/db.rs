//! The database connection: pools for SQLite or PostgreSQL, tuned per backend, with a
//! counter of executed SQL statements (used by tests to catch N+1 queries, and by metrics).

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, AtomicU64, Ordering},
};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, Statement};

use crate::settings::Settings;

/// Counts the SQL statements the server runs, on every pool, and lets one caller watch them.
#[derive(Clone, Default)]
pub struct StatementCounter(Arc<Tally>);

#[derive(Default)]
struct Tally {
    count: AtomicU64,
    watcher: OnceLock<Watcher>,
}

type Watcher = Box<dyn Fn(&Statement) + Send + Sync>;

impl std::fmt::Debug for StatementCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatementCounter").field("count", &self.get()).finish_non_exhaustive()
    }
}

impl StatementCounter {
    /// Statements executed so far.
    pub fn get(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    /// Counts `statement` (and shows it to the watcher, if any).
    pub fn record(&self, statement: &Statement) {
        self.record_with(|| statement.clone());
    }

    /// Counts a statement, and shows it to the watcher, if any (made by `statement` only
    /// then).
    pub fn record_with(&self, statement: impl FnOnce() -> Statement) {
        self.0.count.fetch_add(1, Ordering::Relaxed);
        if let Some(watcher) = self.0.watcher.get() {
            watcher(&statement());
        }
    }

    /// Shows every statement counted from now on to `watcher` (a benchmark capturing what
    /// the server sends). One watcher per counter: `false` if there already was one.
    pub fn watch(&self, watcher: impl Fn(&Statement) + Send + Sync + 'static) -> bool {
        self.0.watcher.set(Box::new(watcher)).is_ok()
    }
}

/// A pool with its server's statement counter: where the read path reads its rows from.
/// [`rows`](crate::service::rows) reads them straight from the driver's pool and counts
/// them itself (see there why), keeping connections between reads in `kept` (see
/// [`Kept`](crate::service::kept::Kept)); clones share what they keep.
#[derive(Clone, Debug)]
pub struct Reader {
    pub conn: DatabaseConnection,
    pub statements: StatementCounter,
    pub kept: Arc<crate::service::kept::Kept>,
}

impl Reader {
    /// The rows of `conn`, counted into `statements`, keeping up to half of its pool's
    /// connections between reads.
    pub fn new(conn: DatabaseConnection, statements: StatementCounter) -> Self {
        use crate::service::kept::Kept;
        let max = match conn.get_database_backend() {
            sea_orm::DbBackend::Postgres => conn.get_postgres_connection_pool().options().get_max_connections(),
            sea_orm::DbBackend::Sqlite => conn.get_sqlite_connection_pool().options().get_max_connections(),
            _ => 0,
        };
        Self { conn, statements, kept: Arc::new(Kept::for_pool(max)) }
    }
}

/// Bind parameters one statement may use on either database, with a margin (PostgreSQL
/// takes 65,535, SQLite 32,766).
pub const MAX_PARAMS: usize = 30_000;

/// Rows of `E` per multi-row `INSERT` that binds every column: counted from the entity, so
/// that a new column cannot take a batch over the databases' limit.
#[must_use]
pub fn rows_per_insert<E: sea_orm::EntityTrait>() -> usize {
    use sea_orm::Iterable;
    (MAX_PARAMS / E::Column::iter().count()).max(1)
}

/// Every connection pool of a server: the one it was built on, then, on PostgreSQL, each
/// running HTTP worker's (see `startup::WorkerPools`). Read by the health probe and the
/// metrics.
#[derive(Debug, Clone)]
pub struct PoolList {
    pools: Arc<std::sync::Mutex<Vec<(u64, DatabaseConnection)>>>,
    next: Arc<AtomicU64>,
}

impl PoolList {
    /// The list of the one pool a server is built on.
    pub fn new(first: DatabaseConnection) -> Self {
        Self { pools: Arc::new(std::sync::Mutex::new(vec![(0, first)])), next: Arc::new(AtomicU64::new(1)) }
    }

    /// Every pool now.
    pub fn all(&self) -> Vec<DatabaseConnection> {
        self.pools.lock().map(|pools| pools.iter().map(|(_, db)| db.clone()).collect()).unwrap_or_default()
    }

    /// Adds `db` to the list for as long as the returned registration lives: a worker's pool
    /// leaves the list with the worker (a worker that actix restarts after a fault must not
    /// leave behind a pool whose connections no runtime drives any more).
    pub fn register(&self, db: DatabaseConnection) -> PoolRegistration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut pools) = self.pools.lock() {
            pools.push((id, db));
        }
        PoolRegistration { list: self.clone(), id }
    }
}

/// A pool's place in a [`PoolList`], given up when dropped.
#[derive(Debug)]
pub struct PoolRegistration {
    list: PoolList,
    id: u64,
}

impl Drop for PoolRegistration {
    fn drop(&mut self) {
        if let Ok(mut pools) = self.list.pools.lock() {
            pools.retain(|(id, _)| *id != self.id);
        }
    }
}

/// Connects to the configured database (creating a SQLite file if missing) and, when the
/// settings say so, applies pending migrations.
///
/// # Errors
/// The database cannot be reached, or a migration fails.
pub async fn connect(settings: &Settings) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    let mut db = Database::connect(options(settings)).await.context("cannot connect to the database")?;
    let counter = StatementCounter::default();
    count_into(&mut db, &counter);
    if settings.migrate_on_start {
        Migrator::up(&db, None).await.context("migrations failed")?;
    }
    Ok((db, counter))
}

/// A pool of at most `max` connections on the configured database, opened as they are
/// needed by the tasks that need them, counting its statements into `counter`: an HTTP
/// worker's own pool (see `startup`), whose connections are driven by the worker's runtime.
///
/// # Errors
/// The settings' URL is not one a pool can be made for.
pub async fn worker_pool(
    settings: &Settings,
    counter: &StatementCounter,
    max: u32,
) -> anyhow::Result<DatabaseConnection> {
    let mut options = options(settings);
    options.max_connections(max.max(1)).min_connections(0).connect_lazy(true);
    let mut db = Database::connect(options).await.context("cannot make a worker's pool")?;
    count_into(&mut db, counter);
    Ok(db)
}

fn count_into(db: &mut DatabaseConnection, counter: &StatementCounter) {
    let counter = counter.clone();
    db.set_metric_callback(move |info| counter.record(info.statement));
}

/// The pool's options for the configured database, tuned per backend.
fn options(settings: &Settings) -> ConnectOptions {
    let url = settings.database_url();
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(settings.database_max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(settings.database_acquire_timeout_secs))
        .connect_timeout(Duration::from_secs(settings.database_acquire_timeout_secs))
        // Ping only connections idle for a while: pinging on every checkout (the default)
        // doubles the round trips of every statement.
        .test_before_acquire_if_idle_for(crate::service::kept::IDLE_BEFORE_TEST)
        .sqlx_logging(false);
    if !sqlite && settings.database_statement_timeout_secs > 0 {
        let timeout = format!("{}s", settings.database_statement_timeout_secs);
        options.map_sqlx_postgres_opts(move |opts| opts.options([("statement_timeout", timeout.as_str())]));
    }
    if sqlite {
        // One file shared by several connections: WAL lets readers run beside the writer,
        // and a busy timeout makes competing writers wait instead of failing.
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    }
    options
}

/// Starts a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), waiting up to the busy timeout for another writer: a deferred
/// transaction that reads first and then writes cannot wait (SQLite would deadlock) and
/// fails at once with "database is locked" when another writer got in between. On
/// PostgreSQL this is a plain `BEGIN`.
///
/// # Errors
/// Database errors.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Whether the database is reachable, as last seen. Requests that find the database gone
/// report it here; while it is down, requests are refused at once (`SERVICE_UNAVAILABLE`)
/// instead of each waiting out the pool's acquire timeout, and a single background probe
/// pings the database until it answers again: the server recovers by itself.
///
/// An exhausted pool looks the same from here (the probe's ping cannot get a connection
/// either): the server then sheds load until a ping gets through. Every pool of the server
/// is pinged (on PostgreSQL each HTTP worker has its own, see `startup`), so one worker's
/// exhausted pool keeps the gate closed until it has a connection to give again.
#[derive(Debug)]
pub struct DbHealth {
    pools: PoolList,
    up: AtomicBool,
    probing: AtomicBool,
    /// How long a ping may take before the database counts as unreachable.
    ping_timeout: Duration,
}

impl DbHealth {
    /// Health of the database seen through `pools` (every pool of the server, as they are
    /// added), assumed up.
    pub fn new(pools: PoolList, ping_timeout: Duration) -> Arc<Self> {
        Arc::new(Self { pools, up: AtomicBool::new(true), probing: AtomicBool::new(false), ping_timeout })
    }

    /// Whether the database answered the last look.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Pings the database through every pool now (together, within the ping timeout) and
    /// records the answer: up when every pool answered.
    pub async fn check(self: &Arc<Self>) -> bool {
        let pools = self.pools.all();
        let pings = futures::future::join_all(pools.iter().map(DatabaseConnection::ping));
        let up =
            tokio::time::timeout(self.ping_timeout, pings).await.is_ok_and(|answers| answers.iter().all(Result::is_ok));
        if up {
            self.up.store(true, Ordering::Relaxed);
        } else {
            self.mark_down();
        }
        up
    }

    /// A request failed as if the database were unavailable: refuse requests from now on
    /// (a circuit breaker, open), and probe in the background until a ping gets through
    /// (closed again). When the database is in fact fine, the first probe closes it at once.
    pub fn report_failure(self: &Arc<Self>) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::error!("database unreachable: refusing requests until it answers");
        }
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let health = self.clone();
        tokio::spawn(async move {
            while !health.check().await {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            health.probing.store(false, Ordering::Release);
            tracing::info!("database reachable");
        });
    }

    fn mark_down(self: &Arc<Self>) {
        self.report_failure();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pool_leaves_the_list_with_its_registration() {
        let pool = || async { Database::connect("sqlite::memory:").await.expect("a pool") };
        let list = PoolList::new(pool().await);
        let first = list.register(pool().await);
        let second = list.register(pool().await);
        assert_eq!(list.all().len(), 3);
        drop(first);
        assert_eq!(list.all().len(), 2);
        // The pool the list was made with stays, and so does the later registration.
        drop(second);
        assert_eq!(list.all().len(), 1);
        let health = DbHealth::new(list.clone(), Duration::from_secs(1));
        assert!(health.check().await, "the one pool left answers");
    }
}
