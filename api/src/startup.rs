//! The HTTP application: binds its own listener (port 0 in tests), wires routes and
//! middleware, and runs until SIGINT/SIGTERM, finishing in-flight requests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use sea_orm::DatabaseConnection;
use tracing_actix_web::TracingLogger;

use secrecy::ExposeSecret;

use crate::auth::KeyRing;
use crate::db::DbHealth;
use crate::db::{self, Reader, StatementCounter};
use crate::graphql::context::ApiContext;
use crate::graphql::{SchemaOptions, build_schema};
use crate::http::persisted::PersistedQueries;
use crate::http::{self, HttpState, PoolList};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::service::countries::CountryTable;
use crate::service::cursor::CursorKeys;
use crate::service::live::Notifier;
use crate::service::page::PageLimits;
use crate::service::sync::SyncOptions;
use crate::service::webhooks::{self, DelivererConfig};
use crate::settings::{DEVELOPMENT_SECRET, Settings};

/// A built, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    statements: StatementCounter,
    pools: PoolList,
    deliverer: Option<DelivererConfig>,
    /// How often the topic announcer looks (`None`: not in this process).
    topic_poll: Option<Duration>,
}

impl Application {
    /// Connects to (and migrates) the database and binds the listener.
    ///
    /// # Errors
    /// A weak secret (checked before the database is touched), the database is
    /// unreachable, a migration fails, or the address cannot be bound.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        settings.check_auth_secret().map_err(anyhow::Error::msg)?;
        let (db, statements) = db::connect(settings).await?;
        Self::with_database(settings, db, statements).await
    }

    /// Builds the server on an existing (migrated) connection pool.
    ///
    /// # Errors
    /// The reference data cannot be read, or the address cannot be bound.
    pub async fn with_database(
        settings: &Settings,
        db: DatabaseConnection,
        statements: StatementCounter,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind_address)
            .with_context(|| format!("cannot bind {}", settings.bind_address))?;
        let port = listener.local_addr()?.port();
        let (state, context, options) = http_state(settings, &db, &statements).await?;
        let workers = if settings.http_workers > 0 {
            settings.http_workers
        } else {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        };
        // On PostgreSQL every worker has a pool of its own (see `WorkerPools`); SQLite's
        // driver runs each connection on a thread of its own anyway, and an in-memory
        // database would be another database in every pool.
        let per_worker = !settings.database_url().starts_with("sqlite:");
        let pools = per_worker.then(|| {
            let max = settings.database_max_connections.div_ceil(u32::try_from(workers).unwrap_or(u32::MAX)).max(1);
            Arc::new(WorkerPools { settings: settings.clone(), state: state.clone(), context, options, max })
        });
        let pool_list = state.pools.clone();
        let shared = web::Data::new(state);
        let origins = settings.cors_allowed_origins.clone();
        let server = HttpServer::new(move || {
            let cors = http::cors(&origins);
            let app = App::new()
                .wrap(actix_web::middleware::Condition::new(cors.is_some(), cors.unwrap_or_default()))
                .wrap(actix_web::middleware::from_fn(http::count_responses))
                .wrap(actix_web::middleware::from_fn(http::request_id_header))
                // Every error the layers above write gets the one shape (CORS refusals too).
                .wrap(actix_web::middleware::from_fn(http::edge::errors_in_one_shape))
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new());
            let app = match &pools {
                Some(pools) => {
                    let pools = pools.clone();
                    app.data_factory(move || {
                        let pools = pools.clone();
                        async move { pools.state().await }
                    })
                }
                None => app.app_data(shared.clone()),
            };
            app.configure(http::routes)
        })
        .workers(workers)
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10))
        .listen(listener)?
        .run();
        tracing::info!(port, "listening");
        let deliverer = settings.webhooks_enabled.then(|| deliverer_config(settings));
        let topic_poll = (settings.topic_poll_ms > 0).then(|| Duration::from_millis(settings.topic_poll_ms));
        Ok(Self { port, server, db, statements, pools: pool_list, deliverer, topic_poll })
    }

    /// A handle that stops the server: `stop(true)` is what SIGTERM does (stop accepting,
    /// finish the requests in flight within `shutdown_timeout_secs`).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection pool the server was built on: all its work on SQLite; on PostgreSQL
    /// its background work, the HTTP workers having pools of their own ([`pools`](Self::pools)).
    pub fn db(&self) -> DatabaseConnection {
        self.db.clone()
    }

    /// Every pool of the server: the one it was built on, then each HTTP worker's own
    /// (on PostgreSQL; a worker's pool is added when the worker starts).
    pub fn pools(&self) -> PoolList {
        self.pools.clone()
    }

    /// Counter of SQL statements run by this server.
    pub fn statements(&self) -> StatementCounter {
        self.statements.clone()
    }

    /// Serves until the process is asked to stop (graceful on SIGINT/SIGTERM).
    ///
    /// # Errors
    /// The server fails at run time.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The webhook deliverer keeps its state in the database: stopping it at any point
        // loses nothing (a claimed attempt is retried when its lease ends).
        let deliverer = self.deliverer.map(|config| tokio::spawn(webhooks::run(self.db.clone(), config)));
        let announcer = self.topic_poll.map(|poll| tokio::spawn(crate::service::topics::run(self.db.clone(), poll)));
        let result = self.server.await;
        for task in [deliverer, announcer].into_iter().flatten() {
            task.abort();
        }
        result
    }
}

/// What every request shares: the schema over the network's context, keys, limits, the
/// rate limiter, persisted queries, metrics and the database's health.
async fn http_state(
    settings: &Settings,
    db: &DatabaseConnection,
    statements: &StatementCounter,
) -> anyhow::Result<(HttpState, ApiContext, SchemaOptions)> {
    let countries = CountryTable::load(db).await.map_err(|e| anyhow::anyhow!("cannot read the countries: {e:?}"))?;
    let keys = KeyRing::from_settings(settings).context("invalid authentication settings")?;
    if settings.auth_secret.expose_secret() == DEVELOPMENT_SECRET {
        tracing::warn!(
            "auth_secret is the built-in development secret (refused in the production profile): \
             set INTERLIB_AUTH_SECRET before exposing this server"
        );
    }
    let page_limits = PageLimits {
        default_size: settings.default_page_size,
        max_size: settings.max_page_size,
        cursor_keys: CursorKeys::from_secret(settings.auth_secret.expose_secret().as_bytes()),
    };
    let sync = SyncOptions { idempotency_ttl: Duration::from_secs(settings.idempotency_ttl_secs) };
    let limiter = Arc::new(RateLimiter::new(&settings.rate_limit).context("invalid rate_limit settings")?);
    let persisted = PersistedQueries::load(&settings.persisted_queries).context("invalid persisted_queries")?;
    let notifier = Notifier::new(db.clone(), Duration::from_millis(settings.subscription_poll_ms));
    let reader = Reader::new(db.clone(), statements.clone());
    let context = ApiContext {
        db: db.clone(),
        reader: reader.clone(),
        page_limits,
        countries: Arc::new(countries),
        sync,
        webhook_private_networks: settings.webhook_allow_private_networks,
        matching: settings.matching.clone(),
    };
    let options = SchemaOptions {
        limits: settings.limits.clone(),
        limiter: limiter.clone(),
        notifier: notifier.clone(),
        introspection: settings.introspection_enabled(),
        field_suggestions: settings.field_suggestions_enabled(),
    };
    let schema = build_schema(context.clone(), options.clone());
    let nullable_roots = Arc::new(crate::http::graphql::nullable_roots(&schema.sdl()));
    let pools = PoolList::new(db.clone());
    let state = HttpState {
        schema,
        nullable_roots,
        sync,
        bulk_max_bytes: settings.bulk_max_bytes,
        db: db.clone(),
        reader,
        pools: pools.clone(),
        registration: None,
        max_body_bytes: settings.max_body_bytes,
        page_limits,
        keys: Arc::new(keys),
        limits: settings.limits.clone(),
        limiter,
        persisted: Arc::new(persisted),
        metrics: Arc::new(Metrics::new()),
        health: DbHealth::new(pools, Duration::from_secs(2)),
        statements: statements.clone(),
        trust_forwarded_for: settings.rate_limit.trust_forwarded_for,
        graphiql: settings.graphiql_enabled(),
        introspection: settings.introspection_enabled(),
        notifier,
        subscription_recheck_ms: settings.subscription_recheck_ms,
    };
    Ok((state, context, options))
}

/// A connection pool for each HTTP worker, on PostgreSQL. Each worker is a single-threaded
/// runtime, and a connection is driven by the runtime that opened it: with one pool shared
/// by the workers, most answers from PostgreSQL woke another worker's thread to hand the
/// answer over. With a pool per worker (its share of `database_max_connections`, opened as
/// needed), a request's statements run on connections of its own thread: the ambassador
/// query went from about 0.4 to about 0.55 of the database-alone rate, with about 15% less
/// server CPU per request (docs/performance.md). Everything but the pool and the schema over
/// it is shared.
struct WorkerPools {
    settings: Settings,
    state: HttpState,
    context: ApiContext,
    options: SchemaOptions,
    /// Connections of each worker's pool.
    max: u32,
}

impl WorkerPools {
    /// The state of the worker this runs on, over a pool of its own.
    async fn state(&self) -> anyhow::Result<HttpState> {
        let db = db::worker_pool(&self.settings, &self.state.statements, self.max).await?;
        let registration = Some(Arc::new(self.state.pools.register(db.clone())));
        let reader = Reader::new(db.clone(), self.state.statements.clone());
        let context = ApiContext { db: db.clone(), reader: reader.clone(), ..self.context.clone() };
        let schema = build_schema(context, self.options.clone());
        Ok(HttpState { schema, db, reader, registration, ..self.state.clone() })
    }
}

/// The webhook deliverer's settings.
fn deliverer_config(settings: &Settings) -> DelivererConfig {
    DelivererConfig {
        poll: Duration::from_millis(settings.webhook_poll_ms),
        retry_base: Duration::from_millis(settings.webhook_retry_base_ms),
        max_attempts: settings.webhook_max_attempts.max(1),
        timeout: Duration::from_secs(settings.webhook_timeout_secs),
        batch_size: settings.webhook_batch_size.clamp(1, crate::service::feed::MAX_EVENTS),
        allow_private_networks: settings.webhook_allow_private_networks,
    }
}
