//! The shapes of the endpoint's answers: media types, error bodies with their codes, the
//! statuses of the GraphQL-over-HTTP specification, and root fields restored to `null`.

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse,
    http::{StatusCode, header},
};
use async_graphql::{ErrorExtensionValues, Name, PathSegment, Response, Value as ConstValue};
use serde_json::json;
use tracing_actix_web::RequestId;

use crate::error::{ErrorCode, code_of};
use crate::graphql::guard::{Measure, Meter};

/// The media type of a GraphQL response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaType {
    GraphqlResponse,
    Json,
}

impl MediaType {
    pub(super) fn content_type(self) -> &'static str {
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
pub(super) fn request_id(req: &HttpRequest) -> String {
    req.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default()
}

/// A response of one error, before any operation ran, with the status of its code.
pub(crate) fn error_response(code: ErrorCode, message: &str) -> HttpResponse {
    error_with(code, message, |_| {})
}

/// [`error_response`] with more extension values.
pub(crate) fn error_with(
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
pub(super) fn null_at(value: &mut ConstValue, path: &[PathSegment]) {
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
pub(super) fn with_codes(mut response: Response, request_id: &str) -> Response {
    for error in &response.errors {
        null_at(&mut response.data, &error.path);
    }
    for error in &mut response.errors {
        let code = code_of(error);
        let extensions = error.extensions.get_or_insert_with(ErrorExtensionValues::default);
        match code {
            None => {
                // async-graphql's own errors (a document that does not parse or validate).
                extensions.set("code", ErrorCode::BadUserInput.as_str());
                error.source = Some(std::sync::Arc::new(ErrorCode::BadUserInput));
                if let Some(message) = syntax_error(&error.message) {
                    error.message = message;
                }
            }
            Some(ErrorCode::Internal) => {
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
pub(super) fn syntax_error(message: &str) -> Option<String> {
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
pub(super) fn roots_restored(
    mut response: Response,
    meter: &Meter,
    nullable: &std::collections::HashSet<String>,
) -> Response {
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
pub(super) fn codes(response: &Response) -> Vec<ErrorCode> {
    response.errors.iter().filter_map(code_of).collect()
}

/// The status of a single response, by the media type and how far the request got.
pub(super) fn status_of(media: MediaType, response: &Response, measure: &Measure) -> StatusCode {
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

pub(super) fn not_acceptable() -> HttpResponse {
    error_response(
        ErrorCode::NotAcceptable,
        "this endpoint answers application/graphql-response+json or application/json",
    )
}
