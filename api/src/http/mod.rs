//! HTTP endpoints: GraphQL over POST and GET, subscriptions over WebSocket, GraphiQL,
//! the SDL, health, readiness and metrics.

mod body;
pub mod bulk;
pub mod edge;
mod graphiql;
pub(crate) mod graphql;
pub mod persisted;
mod probes;
mod scim;
mod subscriptions;
pub mod views;

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use sea_orm::DatabaseConnection;
use tracing_actix_web::RequestId;

use std::sync::Arc;

use crate::auth::KeyRing;
pub use crate::db::PoolList;
use crate::db::{DbHealth, StatementCounter};
use crate::graphql::AppSchema;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::service::page::PageLimits;
use crate::service::sync::SyncOptions;
use crate::settings::QueryLimits;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub schema: AppSchema,
    /// The root fields that may be `null` (see `graphql::nullable_roots`).
    pub nullable_roots: Arc<std::collections::HashSet<String>>,
    pub db: DatabaseConnection,
    /// The read path's source over `db` (one per pool: what it keeps is this pool's).
    pub reader: crate::db::Reader,
    /// Every pool of the server: the main one, then each HTTP worker's (for the metrics).
    pub pools: PoolList,
    /// This worker's pool's place in `pools` (`None`: the pool the server was built on).
    pub registration: Option<Arc<crate::db::PoolRegistration>>,
    pub max_body_bytes: usize,
    pub page_limits: PageLimits,
    pub keys: Arc<KeyRing>,
    pub sync: SyncOptions,
    pub bulk_max_bytes: usize,
    pub limits: QueryLimits,
    pub limiter: Arc<RateLimiter>,
    pub persisted: Arc<persisted::PersistedQueries>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<DbHealth>,
    pub statements: StatementCounter,
    pub trust_forwarded_for: bool,
    pub graphiql: bool,
    pub introspection: bool,
    pub notifier: Arc<crate::service::live::Notifier>,
    /// Milliseconds between the checks that an open subscription's caller is still there.
    pub subscription_recheck_ms: u64,
}

impl HttpState {
    /// This worker's pool with the server's statement counter and the connections the read
    /// path keeps, for the read path.
    pub fn reader(&self) -> crate::db::Reader {
        self.reader.clone()
    }
}

/// All routes of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql::post))
        .route(
            "/graphql",
            web::get().guard(actix_web::guard::Header("upgrade", "websocket")).to(subscriptions::connect),
        )
        .route("/graphql", web::get().to(graphql::get))
        .route("/graphql/ws", web::get().to(subscriptions::connect))
        .route("/schema.graphql", web::get().to(graphql::sdl))
        .route("/graphiql/{name}", web::get().to(graphiql::asset))
        .route("/graphql", web::route().to(|| edge::method_not_allowed("GET, POST")))
        .route("/bulk/members", web::post().to(bulk::members))
        .route("/bulk/members", web::route().to(|| edge::method_not_allowed("POST")))
        .service(
            web::scope("/scim/v2/associations/{association}")
                .configure(scim::routes)
                .default_service(web::to(scim::unknown)),
        )
        .service(web::scope("/scim/v2").configure(scim::routes).default_service(web::to(scim::unknown)))
        .route("/scim/{version}", web::route().to(scim::other_version))
        .route("/scim/{version}/{rest:.*}", web::route().to(scim::other_version))
        .route("/healthz", web::get().to(probes::healthz))
        .route("/readyz", web::get().to(probes::readyz))
        .route("/metrics", web::get().to(probes::metrics));
}

/// CORS for the configured origins (`None`: no CORS, same-origin only). Browsers may send
/// the headers the API reads and the ones GraphQL clients add (the token, JSON, the CSRF
/// preflight headers, Apollo Client's name and version, the bulk path's `Idempotency-Key`)
/// and read the ones it answers with (the request id, the budget, `Retry-After`). Tokens travel in a header,
/// never in cookies, so credentials are not allowed.
pub fn cors(origins: &str) -> Option<actix_cors::Cors> {
    use actix_web::http::header;
    let origins: Vec<&str> = origins.split(',').map(str::trim).filter(|o| !o.is_empty()).collect();
    if origins.is_empty() {
        return None;
    }
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("graphql-require-preflight"),
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            HeaderName::from_static("apollographql-client-name"),
            HeaderName::from_static("apollographql-client-version"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-used"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("x-ratelimit-cost"),
            header::RETRY_AFTER,
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" { cors.allow_any_origin().send_wildcard() } else { cors.allowed_origin(origin) };
    }
    Some(cors)
}

/// Counts every HTTP response by status (in `/metrics`).
pub async fn count_responses(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<HttpState>>().map(|state| state.metrics.clone());
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        metrics.response(res.status().as_u16());
    }
    Ok(res)
}

/// Echoes the request id of the tracing span as `x-request-id`, so a client can quote it.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}
