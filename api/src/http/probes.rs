//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::HttpState;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers; otherwise 503, so a load balancer stops sending traffic here.
pub async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "up" })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable", "database": "down" }))
        }
    }
}
