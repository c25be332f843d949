//! The GraphQL endpoint. The body is read here, with a size limit, rather than by
//! async-graphql-actix-web's extractor, which reads it whole with no limit and answers
//! errors as plain text; here every failure is a GraphQL-shaped JSON error with a code.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use async_graphql::{
    BatchRequest, BatchResponse, ErrorExtensionValues, Name, PathSegment, Request, Response, Value as ConstValue,
    http::GraphiQLSource,
};
use futures::StreamExt;
use serde_json::json;

use std::sync::Arc;

use super::HttpState;
use crate::auth::{Viewer, authenticate};
use crate::error::ApiError;
use crate::graphql::loaders::Loaders;

pub(super) fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    }))
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
/// from parsing, validating or coercing the client's document and variables. Restores the
/// `null` of each failed field (see [`null_at`]).
fn with_codes(mut response: Response) -> Response {
    for error in &response.errors {
        null_at(&mut response.data, &error.path);
    }
    for error in &mut response.errors {
        let has_code = error.extensions.as_ref().is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            error.extensions.get_or_insert_with(ErrorExtensionValues::default).set("code", "BAD_USER_INPUT");
        }
    }
    response
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
        Err(err) => {
            let code = err.code();
            let status = if code == "SERVICE_UNAVAILABLE" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            let error: async_graphql::Error = err.into();
            Err(error_response(status, code, &error.message))
        }
    }
}

fn unauthenticated(message: &str) -> HttpResponse {
    let mut res = error_response(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message);
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer error=\"invalid_token\""));
    res
}

async fn execute(state: &HttpState, viewer: Arc<Viewer>, batch: BatchRequest) -> BatchResponse {
    let run = |request: Request| {
        let request = request.data(Loaders::new(&state.db, &viewer, state.page_limits)).data(viewer.clone());
        async move { with_codes(state.schema.execute(request).await) }
    };
    match batch {
        BatchRequest::Single(request) => BatchResponse::Single(run(request).await),
        BatchRequest::Batch(requests) => {
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(run(request).await);
            }
            BatchResponse::Batch(responses)
        }
    }
}

fn respond(response: &BatchResponse) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    if let Some(cache) = response.cache_control().value().filter(|_| response.is_ok()) {
        builder.insert_header((header::CACHE_CONTROL, cache));
    }
    builder.json(response)
}

/// `POST /graphql` with a JSON body (one request or a batch).
pub async fn post(state: web::Data<HttpState>, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
    let viewer = match viewer(&state, &req).await {
        Ok(viewer) => viewer,
        Err(res) => return res,
    };
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", "could not read the request body");
        };
        if body.len() + chunk.len() > state.max_body_bytes {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("request body exceeds the limit of {} bytes", state.max_body_bytes),
            );
        }
        body.extend_from_slice(&chunk);
    }
    let batch = match serde_json::from_slice::<BatchRequest>(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body must be a GraphQL request as JSON: {err}"),
            );
        }
    };
    respond(&execute(&state, viewer, batch).await)
}

/// Whether the operation a GET request would run is a mutation (GET must not write: a link
/// or an image tag could trigger it). A document that does not parse is left to the
/// executor, which reports the syntax error.
fn is_mutation(request: &Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let mutation = |ty: OperationType| ty == OperationType::Mutation;
    match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => mutation(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).is_some_and(|op| mutation(op.node.ty)),
        (DocumentOperations::Multiple(ops), None) => ops.values().any(|op| mutation(op.node.ty)),
    }
}

/// `GET /graphql`: GraphiQL for a browser, otherwise a query from the query string.
pub async fn get(state: web::Data<HttpState>, req: HttpRequest) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && req.query_string().is_empty() {
        let page = GraphiQLSource::build().endpoint("/graphql").title("Interlib GraphiQL").finish();
        return HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page);
    }
    let viewer = match viewer(&state, &req).await {
        Ok(viewer) => viewer,
        Err(res) => return res,
    };
    match async_graphql::http::parse_query_string(req.query_string()) {
        Ok(request) if is_mutation(&request) => {
            let mut res = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "mutations must be sent with POST",
            );
            res.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            res
        }
        Ok(request) => respond(&execute(&state, viewer, BatchRequest::Single(request)).await),
        Err(err) => {
            error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("invalid GraphQL GET request: {err}"))
        }
    }
}

/// `GET /schema.graphql`: the SDL.
pub async fn sdl(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(state.schema.sdl())
}
