//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::HttpState;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers (a ping, bounded by a short timeout); otherwise 503, so a load
/// balancer stops sending traffic here until it does.
pub async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    if state.health.check().await {
        HttpResponse::Ok().json(json!({ "status": "ready", "database": "up" }))
    } else {
        tracing::warn!("readiness check failed: the database does not answer");
        HttpResponse::ServiceUnavailable()
            .insert_header(("retry-after", "1"))
            .json(json!({ "status": "unavailable", "database": "down" }))
    }
}

/// Prometheus metrics in the OpenMetrics text format.
pub async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    let sources = crate::metrics::Sources {
        database_up: state.health.is_up(),
        redis_failures: state.limiter.redis_failures(),
        subscriptions: state.notifier.subscribers(),
    };
    let text = state.metrics.render(&state.db, &state.statements, sources);
    HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(text)
}
