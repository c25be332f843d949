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

/// Prometheus metrics: the OpenMetrics text format when the scraper asks for it (Prometheus
/// does, first), else the classic text format (`text/plain; version=0.0.4`), as Prometheus'
/// own client libraries do: what `promtool check metrics`, older scrapers and curl read.
pub async fn metrics(req: actix_web::HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let sources = crate::metrics::Sources {
        database_up: state.health.is_up(),
        redis_failures: state.limiter.redis_failures(),
        subscriptions: state.notifier.subscribers(),
    };
    let pools = state.pools.all();
    let text = state.metrics.render(&pools, &state.statements, sources);
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.to_ascii_lowercase().contains("application/openmetrics-text") {
        return HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::classic_text(&text))
}
