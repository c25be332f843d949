//! HTTP endpoints: GraphQL over POST and GET, GraphiQL, the SDL, health and readiness.

pub mod bulk;
mod graphql;
mod probes;

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

use crate::auth::KeyRing;
use crate::graphql::AppSchema;
use crate::service::page::PageLimits;
use crate::service::sync::SyncOptions;

/// What the handlers share.
pub struct HttpState {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
    pub max_body_bytes: usize,
    pub page_limits: PageLimits,
    pub keys: std::sync::Arc<KeyRing>,
    pub sync: SyncOptions,
    pub bulk_max_bytes: usize,
}

/// All routes of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql::post))
        .route("/graphql", web::get().to(graphql::get))
        .route("/schema.graphql", web::get().to(graphql::sdl))
        .route("/bulk/members", web::post().to(bulk::members))
        .route("/healthz", web::get().to(probes::healthz))
        .route("/readyz", web::get().to(probes::readyz));
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
