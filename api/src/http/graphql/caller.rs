//! The caller of a request: who they are (from the token), their budget and its
//! headers, and the refusals that come before any GraphQL runs.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::header};
use serde_json::json;

use super::responses::{error_response, error_with, request_id};
use crate::auth::{Viewer, authenticate};
use crate::error::{ApiError, ErrorCode};
use crate::graphql::guard::RateClient;
use crate::http::HttpState;
use crate::ratelimit::RateStatus;

pub(super) fn unauthenticated(message: &str) -> HttpResponse {
    let mut res = error_response(ErrorCode::Unauthenticated, message);
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer error=\"invalid_token\""));
    res
}

/// The caller named by the `Authorization` header; a refusal is a 401 with
/// `UNAUTHENTICATED`, never a fall-back to anonymous.
pub(crate) async fn viewer(state: &HttpState, req: &HttpRequest) -> Result<Arc<Viewer>, HttpResponse> {
    let header = match req.headers().get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => {
            return Err(unauthenticated("the Authorization header is not valid text"));
        }
    };
    match authenticate(&state.db, &state.keys, header).await {
        Ok(viewer) => Ok(Arc::new(viewer)),
        Err(ApiError::Unauthenticated(message)) => Err(unauthenticated(&message)),
        Err(ApiError::ServiceUnavailable) => {
            state.health.report_failure();
            Err(unavailable())
        }
        Err(err) => {
            let error: async_graphql::Error = err.into();
            let id = request_id(req);
            Err(error_with(
                ErrorCode::Internal,
                &format!("{}; quote request id {id} when reporting it", error.message),
                |ext| {
                    ext.insert("requestId".into(), json!(id));
                },
            ))
        }
    }
}

/// The HTTP answer of a service error outside GraphQL (the bulk path): its status, code,
/// field and current version; an unavailable database is reported to the health gate and
/// answered 503 with `Retry-After`; an internal error carries only the request id.
pub(crate) fn api_error(state: &HttpState, req: &HttpRequest, err: ApiError) -> HttpResponse {
    match &err {
        ApiError::Unauthenticated(message) => return unauthenticated(message),
        ApiError::ServiceUnavailable => {
            state.health.report_failure();
            return unavailable();
        }
        _ => {}
    }
    let code = err.code();
    let error: async_graphql::Error = err.into();
    let id = request_id(req);
    let message = if code == ErrorCode::Internal {
        format!("internal error; quote request id {id} when reporting it")
    } else {
        error.message.clone()
    };
    error_with(code, &message, |ext| {
        if let Some(extensions) = &error.extensions
            && let Ok(serde_json::Value::Object(map)) = serde_json::to_value(extensions)
        {
            ext.extend(map);
        }
        ext.insert("requestId".into(), json!(id));
    })
}

/// 503 `SERVICE_UNAVAILABLE`, with a hint when to retry.
pub(crate) fn unavailable() -> HttpResponse {
    let mut res = error_response(ErrorCode::ServiceUnavailable, "the database is unavailable; retry later");
    res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    res
}

/// The key of the caller's budget: the token's subject, or the client address.
pub(crate) fn rate_client(state: &HttpState, req: &HttpRequest, viewer: Option<&Viewer>) -> RateClient {
    if let Some(client) = viewer.and_then(RateClient::of_viewer) {
        return client;
    }
    let forwarded = state
        .trust_forwarded_for
        .then(|| req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|ip| ip.trim().to_owned());
    let address = forwarded.or_else(|| req.peer_addr().map(|a| a.ip().to_string())).unwrap_or_default();
    RateClient(format!("ip:{address}"))
}

/// Adds the `X-RateLimit-*` headers of `status`.
pub(crate) fn rate_headers(res: &mut HttpResponse, status: &RateStatus) {
    let headers = res.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", status.limit.to_string()),
        ("x-ratelimit-remaining", status.remaining.to_string()),
        ("x-ratelimit-used", status.used.to_string()),
        ("x-ratelimit-reset", status.reset_at.timestamp().to_string()),
        ("x-ratelimit-cost", status.cost.to_string()),
    ] {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            headers.insert(header::HeaderName::from_static(name), value);
        }
    }
    if !status.allowed
        && let Ok(value) = header::HeaderValue::from_str(&status.retry_after_secs().to_string())
    {
        headers.insert(header::RETRY_AFTER, value);
    }
}

/// The caller's budget as it stands, for responses that charged nothing.
pub(super) async fn peek(state: &HttpState, client: &RateClient) -> Option<RateStatus> {
    state.limiter.charge(&client.0, 0).await
}

/// Finishes a response that ran no operation: metrics and budget headers.
pub(crate) async fn refused(
    state: &HttpState,
    req: &HttpRequest,
    mut res: HttpResponse,
    viewer: Option<&Viewer>,
) -> HttpResponse {
    let client = rate_client(state, req, viewer);
    if let Some(status) = peek(state, &client).await {
        rate_headers(&mut res, &status);
    }
    res
}
