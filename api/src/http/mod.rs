//! HTTP endpoints: GraphQL over POST and GET, subscriptions over WebSocket, GraphiQL,
//! the SDL, health, readiness and metrics.

pub mod bulk;
mod graphql;
pub mod persisted;
mod probes;
mod subscriptions;

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
use crate::db::{DbHealth, StatementCounter};
use crate::graphql::AppSchema;
use crate::graphql::guard::QueryLimits;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::service::page::PageLimits;
use crate::service::sync::SyncOptions;

/// What the handlers share.
pub struct HttpState {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
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
        .route("/bulk/members", web::post().to(bulk::members))
        .route("/healthz", web::get().to(probes::healthz))
        .route("/readyz", web::get().to(probes::readyz))
        .route("/metrics", web::get().to(probes::metrics));
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
