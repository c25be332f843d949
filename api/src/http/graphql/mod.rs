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

mod caching;
mod caller;
mod json_text;
mod responses;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder,
    http::{StatusCode, header},
    web,
};
use async_graphql::{BatchRequest, Request, Response, parser::types::OperationType};
use futures::FutureExt;
use serde_json::json;

use super::HttpState;
use super::body::BodyError;
use crate::auth::Viewer;
use crate::error::ErrorCode;
use crate::error::coded_error;
use crate::graphql::guard::{Measure, Meter, RateClient};
use crate::graphql::loaders::Loaders;
use crate::graphql::prefetch::Decisions;
use caching::{Method, cache_control, etag, not_modified};
use caller::peek;
use json_text::{Body, body_of};
use responses::{MediaType, codes, negotiate, not_acceptable, request_id, roots_restored, status_of, with_codes};

pub(super) use caller::{api_error, rate_client, rate_headers, refused, unavailable, viewer};
pub use responses::nullable_roots;
pub(super) use responses::{error_response, error_with};

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
                .data(Loaders::new(&state.reader(), viewer, state.page_limits))
                .data(Decisions::default())
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

/// The size the next body's buffer starts at: the last body's, and an eighth.
static LAST_BODY: AtomicUsize = AtomicUsize::new(8 * 1024);

/// Bodies as JSON text (one, or a batch's list). async-graphql's values always
/// serialize; should one ever fail, the answer is a GraphQL error rather than a broken body.
fn json(bodies: &[Body<'_>], batch: bool) -> Vec<u8> {
    // Sized at once, like the last body (within bounds), rather than grown and copied
    // each time it doubles.
    let mut out = Vec::with_capacity(LAST_BODY.load(Ordering::Relaxed).clamp(1024, 256 * 1024));
    let written = (|| {
        if batch {
            out.push(b'[');
        }
        for (n, body) in bodies.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            body.write(&mut out)?;
        }
        if batch {
            out.push(b']');
        }
        serde_json::Result::Ok(())
    })();
    match written {
        Ok(()) => {
            LAST_BODY.store(out.len() + out.len() / 8, Ordering::Relaxed);
            out
        }
        Err(error) => {
            tracing::error!(%error, "a response did not serialize");
            json!({ "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }] })
                .to_string()
                .into_bytes()
        }
    }
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
            (status, json(&[body_of(&response, &measure)], false), measure.rate, cache)
        }
        BatchRequest::Batch(requests) => {
            let mut responses = Vec::with_capacity(requests.len());
            let mut last_rate = None;
            for request in requests {
                let (response, measure) = run_one(state, &viewer, &client, request, &id).await;
                last_rate = measure.rate.clone().or(last_rate);
                responses.push((response, measure));
            }
            let bodies: Vec<_> = responses.iter().map(|(response, measure)| body_of(response, measure)).collect();
            (StatusCode::OK, json(&bodies, true), last_rate, None)
        }
    };
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

/// What every request passes before its body is read: a database that answers, a caller
/// the token names, and an `Accept` the endpoint can answer.
async fn admit(state: &HttpState, req: &HttpRequest) -> Result<(Arc<Viewer>, MediaType), HttpResponse> {
    if !state.health.is_up() {
        return Err(refused(state, req, unavailable(), None).await);
    }
    let viewer = match viewer(state, req).await {
        Ok(viewer) => viewer,
        Err(res) => return Err(refused(state, req, res, None).await),
    };
    let Some(media) = negotiate(req) else {
        return Err(refused(state, req, not_acceptable(), Some(&viewer)).await);
    };
    Ok((viewer, media))
}

/// `POST /graphql` with a JSON body (one request or a batch).
pub async fn post(state: web::Data<HttpState>, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
    let (viewer, media) = match admit(&state, &req).await {
        Ok(admitted) => admitted,
        Err(res) => return res,
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
    let (viewer, media) = match admit(&state, &req).await {
        Ok(admitted) => admitted,
        Err(res) => return res,
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
