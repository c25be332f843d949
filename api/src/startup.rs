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
use crate::db::{self, StatementCounter};
use crate::graphql::context::ApiContext;
use crate::graphql::{SchemaOptions, build_schema};
use crate::http::persisted::PersistedQueries;
use crate::http::{self, HttpState};
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
        let state = http_state(settings, &db, &statements).await?;
        let origins = settings.cors_allowed_origins.clone();
        let mut server = HttpServer::new(move || {
            let cors = http::cors(&origins);
            App::new()
                .wrap(actix_web::middleware::Condition::new(cors.is_some(), cors.unwrap_or_default()))
                .wrap(actix_web::middleware::from_fn(http::count_responses))
                .wrap(actix_web::middleware::from_fn(http::request_id_header))
                // Every error the layers above write gets the one shape (CORS refusals too).
                .wrap(actix_web::middleware::from_fn(http::edge::errors_in_one_shape))
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
                .app_data(state.clone())
                .configure(http::routes)
        })
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10));
        if settings.http_workers > 0 {
            server = server.workers(settings.http_workers);
        }
        let server = server.listen(listener)?.run();
        tracing::info!(port, "listening");
        let deliverer = settings.webhooks_enabled.then(|| deliverer_config(settings));
        let topic_poll = (settings.topic_poll_ms > 0).then(|| Duration::from_millis(settings.topic_poll_ms));
        Ok(Self { port, server, db, statements, deliverer, topic_poll })
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

    /// The connection pool the server uses.
    pub fn db(&self) -> DatabaseConnection {
        self.db.clone()
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
) -> anyhow::Result<web::Data<HttpState>> {
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
    let context = ApiContext {
        db: db.clone(),
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
    let schema = build_schema(context, options);
    let nullable_roots = Arc::new(crate::http::graphql::nullable_roots(&schema.sdl()));
    Ok(web::Data::new(HttpState {
        schema,
        nullable_roots,
        sync,
        bulk_max_bytes: settings.bulk_max_bytes,
        db: db.clone(),
        max_body_bytes: settings.max_body_bytes,
        page_limits,
        keys: Arc::new(keys),
        limits: settings.limits.clone(),
        limiter,
        persisted: Arc::new(persisted),
        metrics: Arc::new(Metrics::new()),
        health: DbHealth::new(db.clone(), Duration::from_secs(2)),
        statements: statements.clone(),
        trust_forwarded_for: settings.rate_limit.trust_forwarded_for,
        graphiql: settings.graphiql_enabled(),
        introspection: settings.introspection_enabled(),
        notifier,
        subscription_recheck_ms: settings.subscription_recheck_ms,
    }))
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
