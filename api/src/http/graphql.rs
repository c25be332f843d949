//! The GraphQL endpoint, per the GraphQL-over-HTTP specification.
//!
//! - Responses are `application/graphql-response+json` when the client asks for it, and
//!   `application/json` when it asks for that, for `*/*`, or says nothing (as the
//!   specification recommends, for older clients); any other `Accept` is 406.
//! - A request that fails before execution (a document that does not parse or validate,
//!   variables that do not coerce, a limit) has no `data`, and is a 400 in
//!   `application/graphql-response+json` (200 in `application/json`, where the status
//!   only says the body is a GraphQL response). An exhausted budget is a 429 with
//!   `Retry-After`; an unavailable database is a 503 with `Retry-After`.
//! - GET runs queries; a mutation over GET is a 405 with `Allow: POST`.
//! - POST takes `application/json`. A body of a type a browser may send cross-site
//!   without a preflight (`text/plain`, a form; or no type) is refused as a possible CSRF
//!   unless the request carries a header a cross-site form cannot set
//!   (`GraphQL-Require-Preflight`, `Apollo-Require-Preflight` or
//!   `X-Apollo-Operation-Name`); other types are 415.
//!
//! The body is read here with a size limit, rather than by async-graphql-actix-web's
//! extractor, so every failure is a GraphQL-shaped error with a code. Every response
//! carries the caller's budget in `X-RateLimit-*` headers.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder,
    http::{StatusCode, header},
    web,
};
use async_graphql::{
    BatchRequest, ErrorExtensionValues, Name, PathSegment, Request, Response, Value as ConstValue,
    parser::types::OperationType,
};
use futures::FutureExt;
use serde_json::json;
use tracing_actix_web::RequestId;

use super::HttpState;
use super::body::BodyError;
use crate::auth::{Viewer, authenticate};
use crate::error::coded_error;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::guard::{Measure, Meter, RateClient};
use crate::graphql::loaders::Loaders;
use crate::ratelimit::RateStatus;

/// The media type of a GraphQL response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaType {
    GraphqlResponse,
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

/// The response type the client accepts, by the `Accept` header (`None`: none we serve).
pub(super) fn negotiate(req: &HttpRequest) -> Option<MediaType> {
    let Some(accept) = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    // The most preferred type we serve; ties go to the one listed first.
    let mut best: Option<(f32, MediaType)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let range = parts.next().unwrap_or("").to_ascii_lowercase();
        let quality = parts.filter_map(|p| p.strip_prefix("q=")).find_map(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        let media = match range.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, media));
        }
    }
    if accept.trim().is_empty() {
        return Some(MediaType::Json);
    }
    best.map(|(_, media)| media)
}

/// The request id of the tracing span, which the client also gets as `x-request-id`.
fn request_id(req: &HttpRequest) -> String {
    req.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default()
}

/// A response of one error, before any operation ran, with the status of its code.
pub(super) fn error_response(code: ErrorCode, message: &str) -> HttpResponse {
    error_with(code, message, |_| {})
}

/// [`error_response`] with more extension values.
pub(super) fn error_with(
    code: ErrorCode,
    message: &str,
    extra: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> HttpResponse {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut extensions = serde_json::Map::new();
    extensions.insert("code".into(), json!(code.as_str()));
    extra(&mut extensions);
    HttpResponse::build(status).json(json!({ "errors": [{ "message": message, "extensions": extensions }] }))
}

/// Puts `null` where a field on an error's `path` is missing: async-graphql leaves a field
/// whose resolution failed (by its own error, or a non-null child's) out of its object,
/// where the GraphQL specification wants it present as `null` (clients' normalised caches
/// rely on it). A key on an error path is missing only because that field failed.
fn null_at(value: &mut ConstValue, path: &[PathSegment]) {
    match (path, value) {
        ([PathSegment::Field(name), rest @ ..], ConstValue::Object(map)) => match map.get_mut(name.as_str()) {
            Some(next) => null_at(next, rest),
            None => {
                map.insert(Name::new(name), ConstValue::Null);
            }
        },
        ([PathSegment::Index(index), rest @ ..], ConstValue::List(items)) if !rest.is_empty() => {
            if let Some(next) = items.get_mut(*index) {
                null_at(next, rest);
            }
        }
        _ => {}
    }
}

/// Gives every error a code: errors raised by resolvers carry one already; the rest come
/// from parsing, validating or coercing the client's document and variables. Internal
/// errors get the request id, under which the cause was logged. Restores the `null` of
/// each failed field (see [`null_at`]).
fn with_codes(mut response: Response, request_id: &str) -> Response {
    for error in &response.errors {
        null_at(&mut response.data, &error.path);
    }
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(ErrorExtensionValues::default);
        match extensions.get("code") {
            None => {
                extensions.set("code", ErrorCode::BadUserInput.as_str());
                if let Some(message) = syntax_error(&error.message) {
                    error.message = message;
                }
            }
            Some(ConstValue::String(code)) if ErrorCode::parse(code) == Some(ErrorCode::Internal) => {
                extensions.set("requestId", request_id);
                error.message = format!("internal error; quote request id {request_id} when reporting it");
            }
            Some(_) => {}
        }
    }
    response
}

/// The parser's message (`" --> 1:13\n  |\n1 | { round(id: \n  |  ^---\n  |\n  = expected value"`)
/// as a sentence: what it expected, and where (the error's `locations` say it too).
fn syntax_error(message: &str) -> Option<String> {
    let rest = message.trim_start().strip_prefix("-->")?;
    let (position, _) = rest.trim_start().split_once(char::is_whitespace)?;
    let (line, column) = position.split_once(':')?;
    let expected = message.lines().rev().find_map(|l| l.trim().strip_prefix("= ")).unwrap_or("a valid document");
    let expected = expected.replace('_', " ");
    Some(format!("syntax error at line {line}, column {column}: {expected}"))
}

/// The root fields that may be `null`, as `query.round` and `mutation.createRound`, read
/// from the schema's SDL.
pub fn nullable_roots(sdl: &str) -> std::collections::HashSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let mut out = std::collections::HashSet::new();
    let Ok(document) = async_graphql::parser::parse_schema(sdl) else { return out };
    let (mut query, mut mutation) = ("Query".to_owned(), "Mutation".to_owned());
    for definition in &document.definitions {
        if let TypeSystemDefinition::Schema(schema) = definition {
            if let Some(name) = &schema.node.query {
                query = name.node.to_string();
            }
            if let Some(name) = &schema.node.mutation {
                mutation = name.node.to_string();
            }
        }
    }
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let name = ty.node.name.node.as_str();
        let label = if name == query {
            "query"
        } else if name == mutation {
            "mutation"
        } else {
            continue;
        };
        if let TypeKind::Object(object) = &ty.node.kind {
            for field in object.fields.iter().filter(|f| f.node.ty.node.nullable) {
                out.insert(format!("{label}.{}", field.node.name.node));
            }
        }
    }
    out
}

/// async-graphql answers `"data": null` when every root field of the operation failed,
/// even where those fields may be `null`; the specification nulls the failed fields and
/// keeps `data`, as it does when a sibling succeeds. `data` stays `null` when a root field
/// that may not be `null` failed.
fn roots_restored(mut response: Response, meter: &Meter, nullable: &std::collections::HashSet<String>) -> Response {
    let measure = meter.measure();
    let label = match measure.operation_type {
        Some(async_graphql::parser::types::OperationType::Query) => "query",
        Some(async_graphql::parser::types::OperationType::Mutation) => "mutation",
        _ => return response,
    };
    if response.data != ConstValue::Null || response.errors.is_empty() {
        return response;
    }
    let mut roots = async_graphql::indexmap::IndexMap::new();
    for error in &response.errors {
        let Some(PathSegment::Field(key)) = error.path.first() else { return response };
        let field = measure.root_fields.iter().find(|(k, _)| k == key).map_or(key.as_str(), |(_, f)| f.as_str());
        if !nullable.contains(&format!("{label}.{field}")) {
            return response;
        }
        roots.insert(Name::new(key), ConstValue::Null);
    }
    response.data = ConstValue::Object(roots);
    response
}

/// The codes of a response's errors (every error has one: see [`with_codes`]).
fn codes(response: &Response) -> Vec<ErrorCode> {
    response
        .errors
        .iter()
        .filter_map(|e| match e.extensions.as_ref().and_then(|ext| ext.get("code")) {
            Some(ConstValue::String(code)) => ErrorCode::parse(code),
            _ => None,
        })
        .collect()
}

fn unauthenticated(message: &str) -> HttpResponse {
    let mut res = error_response(ErrorCode::Unauthenticated, message);
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer error=\"invalid_token\""));
    res
}

/// The caller named by the `Authorization` header; a refusal is a 401 with
/// `UNAUTHENTICATED`, never a fall-back to anonymous.
pub(super) async fn viewer(state: &HttpState, req: &HttpRequest) -> Result<Arc<Viewer>, HttpResponse> {
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
pub(super) fn api_error(state: &HttpState, req: &HttpRequest, err: ApiError) -> HttpResponse {
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
pub(super) fn unavailable() -> HttpResponse {
    let mut res = error_response(ErrorCode::ServiceUnavailable, "the database is unavailable; retry later");
    res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    res
}

/// The key of the caller's budget: the token's subject, or the client address.
pub(super) fn rate_client(state: &HttpState, req: &HttpRequest, viewer: Option<&Viewer>) -> RateClient {
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
pub(super) fn rate_headers(res: &mut HttpResponse, status: &RateStatus) {
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
async fn peek(state: &HttpState, client: &RateClient) -> Option<RateStatus> {
    state.limiter.charge(&client.0, 0).await
}

/// Finishes a response that ran no operation: metrics and budget headers.
pub(super) async fn refused(
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

/// One request: persisted query, then the schema under the guard.
async fn run_one(
    state: &HttpState,
    viewer: &Arc<Viewer>,
    client: &RateClient,
    request: Request,
    request_id: &str,
) -> (Response, Measure) {
    let started = Instant::now();
    let meter = Arc::new(Meter::default());
    let name = request.operation_name.clone();
    let response = match state.persisted.resolve(request) {
        Err(error) => {
            let measure = Measure { request_error: true, operation_name: name, ..Measure::default() };
            return finish(state, Response::from_errors(vec![error]), measure, started);
        }
        Ok(request) if request.query.trim().is_empty() => {
            let error = coded_error(
                "the request has no GraphQL document: send it in `query` (or a persisted query's hash in \
                 `extensions.persistedQuery`)"
                    .to_owned(),
                ErrorCode::BadUserInput,
                |ext| ext.set("field", "query"),
            );
            let measure = Measure { request_error: true, operation_name: name, ..Measure::default() };
            return finish(state, Response::from_errors(vec![error]), measure, started);
        }
        Ok(request) => {
            let request = request
                .data(Loaders::new(&state.db, viewer, state.page_limits))
                .data(viewer.clone())
                .data(meter.clone())
                .data(client.clone());
            match caught(state.schema.execute(request), request_id).await {
                Ok(response) => roots_restored(with_codes(response, request_id), &meter, &state.nullable_roots),
                Err(internal) => internal,
            }
        }
    };
    let mut measure = meter.measure();
    measure.operation_name = measure.operation_name.or(name);
    finish(state, response, measure, started)
}

/// Runs an execution, turning a panic in it (a resolver's) into an `INTERNAL` answer that
/// names the request id under which it was logged: the worker and the other requests go on.
async fn caught(
    execution: impl std::future::Future<Output = Response>,
    request_id: &str,
) -> Result<Response, Response> {
    AssertUnwindSafe(execution).catch_unwind().await.map_err(|_| {
        tracing::error!("a resolver panicked");
        let error = coded_error(
            format!("internal error; quote request id {request_id} when reporting it"),
            ErrorCode::Internal,
            |ext| ext.set("requestId", request_id),
        );
        Response::from_errors(vec![error])
    })
}

fn finish(state: &HttpState, response: Response, measure: Measure, started: Instant) -> (Response, Measure) {
    let codes = codes(&response);
    let kind = match measure.operation_type {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    };
    let elapsed = started.elapsed();
    state.metrics.operation(measure.operation_name.as_deref(), kind, elapsed, &codes);
    // The access log: what ran and what it cost; never variables, tokens or addresses.
    tracing::info!(
        kind,
        ms = elapsed.as_secs_f64() * 1000.0,
        complexity = measure.complexity,
        cost = measure.rate.as_ref().map(|r| r.cost),
        errors = ?codes,
        "graphql request"
    );
    if codes.contains(&ErrorCode::ServiceUnavailable) {
        state.health.report_failure();
    }
    (response, measure)
}

/// The status of a single response, by the media type and how far the request got.
fn status_of(media: MediaType, response: &Response, measure: &Measure) -> StatusCode {
    let codes = codes(response);
    if !measure.request_error {
        // The database went away during execution and nothing came of the request: say so
        // in the status too, so that clients and load balancers retry.
        let nothing = match &response.data {
            ConstValue::Null => true,
            ConstValue::Object(fields) => fields.values().all(|v| *v == ConstValue::Null),
            _ => false,
        };
        if nothing && codes.contains(&ErrorCode::ServiceUnavailable) {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        return StatusCode::OK;
    }
    if codes.contains(&ErrorCode::RateLimited) {
        return StatusCode::TOO_MANY_REQUESTS;
    }
    if codes.contains(&ErrorCode::ServiceUnavailable) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match media {
        MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    }
}

/// The JSON of a response; a request error has no `data` (the request never executed).
fn body_of(response: &Response, measure: &Measure) -> serde_json::Value {
    let mut body = serde_json::to_value(response).unwrap_or_else(|_| json!({ "errors": [] }));
    if measure.request_error
        && let Some(map) = body.as_object_mut()
    {
        map.remove("data");
    }
    body
}

/// How a request came: only a GET is cacheable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// How long shared caches may keep a public answer to a GET, in seconds.
pub const PUBLIC_MAX_AGE: i32 = 60;

/// The `Cache-Control` of a GET's answer. An anonymous caller sees only public programme
/// facts (countries, rounds, associations, ambassador appointments: see `auth::policy`),
/// the same for everyone, so a successful answer to one is `public` (for `max-age`
/// [`PUBLIC_MAX_AGE`], or less if a field's hint says so), unless a field opts out
/// (`rateLimit`, which is the caller's own). Everything a token reads depends on the
/// caller: `private, no-store`.
fn cache_control(viewer: &Viewer, response: &Response, status: StatusCode) -> String {
    let hint = response.cache_control;
    if matches!(viewer, Viewer::Anonymous) && status == StatusCode::OK && response.is_ok() && hint.max_age >= 0 {
        let max_age = if hint.max_age > 0 { hint.max_age.min(PUBLIC_MAX_AGE) } else { PUBLIC_MAX_AGE };
        return format!("public, max-age={max_age}");
    }
    "private, no-store".to_owned()
}

/// A strong validator of the exact bytes of an answer.
fn etag(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').map(str::trim).any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(tag)))
}

async fn execute(
    state: &HttpState,
    req: &HttpRequest,
    viewer: Arc<Viewer>,
    batch: BatchRequest,
    media: MediaType,
    method: Method,
) -> HttpResponse {
    let client = rate_client(state, req, Some(&viewer));
    let id = request_id(req);
    let (status, body, last_rate, cache) = match batch {
        BatchRequest::Single(request) => {
            let (response, measure) = run_one(state, &viewer, &client, request, &id).await;
            let status = status_of(media, &response, &measure);
            let cache = (method == Method::Get).then(|| cache_control(&viewer, &response, status));
            (status, body_of(&response, &measure), measure.rate, cache)
        }
        BatchRequest::Batch(requests) => {
            let mut bodies = Vec::with_capacity(requests.len());
            let mut last_rate = None;
            for request in requests {
                let (response, measure) = run_one(state, &viewer, &client, request, &id).await;
                bodies.push(body_of(&response, &measure));
                last_rate = measure.rate.or(last_rate);
            }
            (StatusCode::OK, serde_json::Value::Array(bodies), last_rate, None)
        }
    };
    let body = body.to_string();
    let mut builder = HttpResponse::build(status);
    builder.content_type(media.content_type());
    if let Some(cache) = cache {
        // The answer depends on who asks (the token) and on the media type asked for.
        builder.insert_header((header::VARY, "Authorization, Accept"));
        if cache.starts_with("public") {
            let tag = etag(&body);
            builder.insert_header((header::ETAG, tag.clone()));
            if not_modified(req, &tag) {
                builder.status(StatusCode::NOT_MODIFIED);
                builder.insert_header((header::CACHE_CONTROL, cache));
                return builder.finish();
            }
        }
        builder.insert_header((header::CACHE_CONTROL, cache));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        builder.insert_header((header::RETRY_AFTER, "1"));
    }
    let mut res = builder.body(body);
    let rate = match last_rate {
        Some(rate) => Some(rate),
        None => peek(state, &client).await,
    };
    if let Some(rate) = rate {
        rate_headers(&mut res, &rate);
    }
    res
}

/// Headers that a cross-site HTML form cannot send, so a request that has one was either
/// preflighted by the browser or does not come from a browser.
const PREFLIGHT_HEADERS: [&str; 3] =
    ["graphql-require-preflight", "apollo-require-preflight", "x-apollo-operation-name"];

/// Checks the content type of a POST: JSON, or a simple type with a preflight header;
/// otherwise the refusal.
fn refuse_content_type(req: &HttpRequest) -> Option<HttpResponse> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if content_type.as_deref() == Some("application/json") {
        return None;
    }
    let simple = match content_type.as_deref() {
        None | Some("" | "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data") => true,
        Some(_) => false,
    };
    if !simple {
        return Some(error_response(ErrorCode::UnsupportedMediaType, "send the request as application/json"));
    }
    let preflighted =
        PREFLIGHT_HEADERS.iter().any(|name| req.headers().get(*name).is_some_and(|v| !v.as_bytes().is_empty()));
    if preflighted {
        return None;
    }
    Some(error_response(
        ErrorCode::CsrfPrevented,
        "this request was refused as a possible cross-site request forgery: send it as application/json, \
         or add a non-empty GraphQL-Require-Preflight header",
    ))
}

fn batch_error(state: &HttpState, batch: &BatchRequest) -> Option<HttpResponse> {
    let BatchRequest::Batch(requests) = batch else { return None };
    let max = state.limits.max_batch_size;
    if max == 0 {
        return Some(error_response(ErrorCode::BatchingDisabled, "this server does not take batches"));
    }
    (requests.len() > max).then(|| {
        error_with(
            ErrorCode::BatchTooLarge,
            &format!("the batch has {} requests, over the limit of {max}", requests.len()),
            |ext| {
                ext.insert("limit".into(), json!("batchSize"));
                ext.insert("max".into(), json!(max));
                ext.insert("actual".into(), json!(requests.len()));
            },
        )
    })
}

/// `POST /graphql` with a JSON body (one request or a batch).
pub async fn post(state: web::Data<HttpState>, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
    if !state.health.is_up() {
        return refused(&state, &req, unavailable(), None).await;
    }
    let viewer = match viewer(&state, &req).await {
        Ok(viewer) => viewer,
        Err(res) => return refused(&state, &req, res, None).await,
    };
    let Some(media) = negotiate(&req) else {
        return refused(&state, &req, not_acceptable(), Some(&viewer)).await;
    };
    if let Some(res) = refuse_content_type(&req) {
        return refused(&state, &req, res, Some(&viewer)).await;
    }
    let body = match super::body::read(&req, &mut payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(BodyError::Broken) => {
            let res = error_response(ErrorCode::BadRequest, "could not read the request body");
            return refused(&state, &req, res, Some(&viewer)).await;
        }
        Err(BodyError::TooLarge { max, actual }) => {
            let res = error_with(
                ErrorCode::PayloadTooLarge,
                &format!("the request body is over the limit of {max} bytes"),
                |ext| {
                    ext.insert("limit".into(), json!("bodyBytes"));
                    ext.insert("max".into(), json!(max));
                    ext.insert("actual".into(), json!(actual));
                },
            );
            return refused(&state, &req, res, Some(&viewer)).await;
        }
    };
    let batch = match serde_json::from_slice::<BatchRequest>(&body) {
        Ok(batch) => batch,
        Err(err) => {
            let res =
                error_response(ErrorCode::BadRequest, &format!("the body must be a GraphQL request as JSON: {err}"));
            return refused(&state, &req, res, Some(&viewer)).await;
        }
    };
    if let Some(res) = batch_error(&state, &batch) {
        return refused(&state, &req, res, Some(&viewer)).await;
    }
    execute(&state, &req, viewer, batch, media, Method::Post).await
}

fn not_acceptable() -> HttpResponse {
    error_response(
        ErrorCode::NotAcceptable,
        "this endpoint answers application/graphql-response+json or application/json",
    )
}

/// Whether the operation a GET request would run is a mutation (GET must not write: a link
/// or an image tag could trigger it). A document that does not parse is left to the
/// executor, which reports the syntax error.
fn is_mutation(request: &Request) -> bool {
    use async_graphql::parser::types::DocumentOperations;
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let mutation = |ty: OperationType| ty != OperationType::Query;
    match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => mutation(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).is_some_and(|op| mutation(op.node.ty)),
        (DocumentOperations::Multiple(ops), None) => ops.values().any(|op| mutation(op.node.ty)),
    }
}

/// The request of a GET's query string: `query`, `operationName`, and `variables` and
/// `extensions` as JSON (async-graphql's own parser expects `operation_name`).
fn parse_get(query_string: &str) -> Result<Request, String> {
    let mut request = Request::new("");
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        match key.as_ref() {
            "query" => request.query = value.into_owned(),
            "operationName" | "operation_name" => request.operation_name = Some(value.into_owned()),
            "variables" => {
                let json: serde_json::Value =
                    serde_json::from_str(&value).map_err(|e| format!("`variables` is not JSON: {e}"))?;
                request.variables = async_graphql::Variables::from_json(json);
            }
            "extensions" => {
                request.extensions =
                    serde_json::from_str(&value).map_err(|e| format!("`extensions` is not JSON: {e}"))?;
            }
            _ => {}
        }
    }
    Ok(request)
}

/// `GET /graphql`: GraphiQL for a browser, otherwise a query from the query string.
pub async fn get(state: web::Data<HttpState>, req: HttpRequest) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && req.query_string().is_empty() && state.graphiql {
        return super::graphiql::page();
    }
    if !state.health.is_up() {
        return refused(&state, &req, unavailable(), None).await;
    }
    let viewer = match viewer(&state, &req).await {
        Ok(viewer) => viewer,
        Err(res) => return refused(&state, &req, res, None).await,
    };
    let Some(media) = negotiate(&req) else {
        return refused(&state, &req, not_acceptable(), Some(&viewer)).await;
    };
    let request = match parse_get(req.query_string()) {
        Ok(request) => request,
        Err(err) => {
            let res = error_response(ErrorCode::BadRequest, &format!("invalid GraphQL GET request: {err}"));
            return refused(&state, &req, res, Some(&viewer)).await;
        }
    };
    // A persisted query sent by hash is resolved first, so that its operation type is known.
    let request = match state.persisted.resolve(request) {
        // Resolved (and checked) once: the executor need not look at the hash again.
        Ok(mut request) => {
            request.extensions.remove("persistedQuery");
            request
        }
        Err(error) => {
            let body = json!({ "errors": [error] });
            let status = match media {
                MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
                MediaType::Json => StatusCode::OK,
            };
            let res = HttpResponseBuilder::new(status).content_type(media.content_type()).body(body.to_string());
            return refused(&state, &req, res, Some(&viewer)).await;
        }
    };
    if is_mutation(&request) {
        let mut res =
            error_response(ErrorCode::MethodNotAllowed, "only queries may be sent with GET; send mutations with POST");
        res.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return refused(&state, &req, res, Some(&viewer)).await;
    }
    execute(&state, &req, viewer, BatchRequest::Single(request), media, Method::Get).await
}

/// `GET /schema.graphql`: the SDL (not in the production profile without introspection:
/// the SDL tells as much as introspection does).
pub async fn sdl(state: web::Data<HttpState>) -> HttpResponse {
    if !state.introspection {
        return error_response(ErrorCode::NotFound, "the schema is not published by this server");
    }
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(crate::graphql::schema::sdl_of(&state.schema))
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::caught;

    struct Panicky;

    #[Object]
    impl Panicky {
        async fn fine(&self) -> i32 {
            1
        }

        async fn boom(&self, really: bool) -> i32 {
            assert!(!really, "a resolver bug");
            2
        }
    }

    #[tokio::test]
    async fn a_resolver_panic_is_an_internal_error_naming_the_request_and_the_next_request_runs() {
        let schema = Schema::new(Panicky, EmptyMutation, EmptySubscription);
        let answer =
            caught(schema.execute("{ fine boom(really: true) }"), "req-42").await.expect_err("the panic is caught");
        let error = &answer.errors[0];
        assert_eq!(error.message, "internal error; quote request id req-42 when reporting it");
        let extensions = serde_json::to_value(&error.extensions).expect("JSON");
        assert_eq!((&extensions["code"], &extensions["requestId"]), (&"INTERNAL".into(), &"req-42".into()));
        // Nothing of the panic's own text reaches the client.
        assert!(!serde_json::to_string(&answer).expect("JSON").contains("resolver bug"));
        let next = caught(schema.execute("{ fine }"), "req-43").await.expect("no panic");
        assert_eq!(next.data.into_json().expect("JSON"), serde_json::json!({ "fine": 1 }));
    }
}
