//! `POST /bulk/members`: a membership sync of any size, as JSON Lines or CSV, through the
//! same code as `syncMembers`.
//!
//! Query parameters: `associationId` (global id), `mode` (`UPSERT` or `FULL_REPLACE`,
//! default `UPSERT`), `dryRun` (`true`/`false`). Headers: `Authorization: Bearer`,
//! `Content-Type: application/x-ndjson` or `text/csv`, optionally `Idempotency-Key`.
//! The answer is the sync's result as JSON (the fields of `SyncMembersPayload`); errors
//! are `{"errors": [{"message", "extensions": {"code"}}]}` with a matching HTTP status.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use super::body::{self, BodyError};
use super::graphql::{api_error, error_response, error_with, rate_client, rate_headers, refused, unavailable, viewer};
use crate::auth::Viewer;
use crate::domain::{GlobalId, NodeKind, SyncMode, SyncSource};
use crate::error::{ApiError, ErrorCode};
use crate::service::member_files::{self, Format};
use crate::service::sync::{self, SyncRequest};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkParams {
    association_id: Option<String>,
    mode: Option<String>,
    dry_run: Option<bool>,
}

/// `POST /bulk/members`: charged to the caller's budget like a `syncMembers` mutation,
/// and every answer carries the budget headers, as on `/graphql`.
pub async fn members(
    state: web::Data<HttpState>,
    req: HttpRequest,
    params: Result<web::Query<BulkParams>, actix_web::Error>,
    payload: web::Payload,
) -> HttpResponse {
    if !state.health.is_up() {
        return refused(&state, &req, unavailable(), None).await;
    }
    let viewer = match viewer(&state, &req).await {
        Ok(viewer) => viewer,
        Err(res) => return refused(&state, &req, res, None).await,
    };
    let client = rate_client(&state, &req, Some(&viewer));
    // One sync, whatever its size: what a `syncMembers` mutation costs.
    let cost = state.limiter.cost(1, true, 1);
    let Some(status) = state.limiter.charge(&client.0, cost).await else {
        return sync_members(&state, &req, &viewer, params, payload).await;
    };
    let mut res = if status.allowed {
        sync_members(&state, &req, &viewer, params, payload).await
    } else {
        error_with(ErrorCode::RateLimited, &status.refusal(), |ext| {
            ext.insert("cost".into(), json!(status.cost));
            ext.insert("limit".into(), json!(status.limit));
            ext.insert("remaining".into(), json!(status.remaining));
            ext.insert("retryAfter".into(), json!(status.retry_after_secs()));
        })
    };
    rate_headers(&mut res, &status);
    res
}

/// The sync itself, for a caller who may spend on it.
async fn sync_members(
    state: &HttpState,
    req: &HttpRequest,
    viewer: &Viewer,
    params: Result<web::Query<BulkParams>, actix_web::Error>,
    mut payload: web::Payload,
) -> HttpResponse {
    let refuse = |err: ApiError| api_error(state, req, err);
    let Ok(web::Query(params)) = params else {
        return refuse(ApiError::bad_input("query", "query parameters: associationId, mode, dryRun (true or false)"));
    };
    let Some(association) = params.association_id.as_deref() else {
        return refuse(ApiError::bad_input("associationId", "`associationId` is required"));
    };
    let association_id = match GlobalId::decode_int("associationId", association, NodeKind::Association) {
        Ok(id) => id,
        Err(err) => return refuse(err),
    };
    // Refuse callers who may not sync this association before reading a large body.
    if let Err(err) = sync::authorize(viewer, association_id) {
        return refuse(err);
    }
    let mode = match params.mode.as_deref().map(|m| SyncMode::parse(&m.to_ascii_uppercase())) {
        None => SyncMode::Upsert,
        Some(Some(mode)) => mode,
        Some(None) => return refuse(ApiError::bad_input("mode", "`mode` is UPSERT or FULL_REPLACE")),
    };
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(format) = Format::from_content_type(content_type) else {
        return error_response(
            ErrorCode::UnsupportedMediaType,
            "send the members as application/x-ndjson (JSON Lines) or text/csv",
        );
    };
    let idempotency_key = match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) => Some(key.to_owned()),
        Some(Err(_)) => {
            return refuse(ApiError::bad_input("Idempotency-Key", "the Idempotency-Key header is not text"));
        }
    };
    let body = match body::read(req, &mut payload, state.bulk_max_bytes).await {
        Ok(body) => body,
        Err(BodyError::Broken) => return error_response(ErrorCode::BadRequest, "could not read the request body"),
        Err(BodyError::TooLarge { max, .. }) => {
            return error_response(
                ErrorCode::PayloadTooLarge,
                &format!("the member list exceeds the limit of {max} bytes (bulk_max_bytes)"),
            );
        }
    };
    let list = match member_files::parse(&body, format) {
        Ok(list) => list,
        Err(err) => return refuse(err),
    };
    drop(body);
    let request = SyncRequest {
        association_id,
        mode,
        dry_run: params.dry_run.unwrap_or(false),
        members: list.members,
        unreadable: list.unreadable,
        idempotency_key,
        source: SyncSource::Bulk,
        precondition: None,
    };
    match sync::sync(&state.db, viewer, state.sync, request).await {
        Ok(report) => HttpResponse::Ok().json(super::views::sync_report(&report)),
        Err(err) => refuse(err),
    }
}
