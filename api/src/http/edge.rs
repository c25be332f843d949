//! One error shape at the edge: every refusal the server writes, from any route or from
//! the HTTP layer itself (an unknown path, a wrong method, a body the bulk path cannot
//! read, headers too large), is `{"errors": [{"message", "extensions": {"code", ..,
//! "requestId"}}]}`, so a client can read its code and quote its request id. SCIM answers
//! (`application/scim+json`) keep the error shape of their own standard (RFC 7644 §3.12),
//! which identity providers read.
//!
//! Oversized headers are refused here, below the HTTP layer's own ceiling (a request head
//! of 128 KiB or 96 headers, where actix-http answers a bare 431 before any application
//! code runs: that ceiling cannot be configured, and this limit keeps every request a
//! client can reasonably send under it).

use actix_web::{
    Error, HttpMessage, HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{StatusCode, header},
    middleware::Next,
};
use serde_json::{Value, json};
use tracing_actix_web::RequestId;

use crate::error::ErrorCode;

/// Bytes of request headers (names, values and the request line) and headers in one
/// request the API reads; past either, 431 `HEADERS_TOO_LARGE`.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_HEADERS: usize = 64;

/// The largest error body that is rewritten (error bodies are a few hundred bytes).
const MAX_ERROR_BODY: usize = 256 * 1024;

/// 405 for a method a path does not take, naming those it does.
pub async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, allow)).json(json!({ "errors": [{
        "message": format!("this path takes {allow}"),
        "extensions": { "code": ErrorCode::MethodNotAllowed.as_str() },
    }] }))
}

/// The size of a request's head as the limit counts it.
fn head_size(req: &ServiceRequest) -> (usize, usize) {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    let headers = req.headers();
    let bytes = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>();
    (line + bytes, headers.len())
}

/// The errors of `body` with a code and the request id on each; any other body becomes
/// one error whose message is its text.
fn envelope(status: StatusCode, body: &[u8], request_id: &str) -> Value {
    let mut value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if !value.get("errors").is_some_and(Value::is_array) {
        let text = String::from_utf8_lossy(body).trim().to_owned();
        let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
        value = json!({ "errors": [{ "message": message }] });
    }
    if let Some(errors) = value.get_mut("errors").and_then(Value::as_array_mut) {
        for error in errors {
            let Some(error) = error.as_object_mut() else { continue };
            let extensions = error.entry("extensions").or_insert_with(|| json!({}));
            if let Some(extensions) = extensions.as_object_mut() {
                extensions.entry("code").or_insert_with(|| json!(ErrorCode::of_status(status.as_u16()).as_str()));
                extensions.entry("requestId").or_insert_with(|| json!(request_id));
            }
        }
    }
    value
}

/// Refuses oversized headers, and gives every error response the one shape.
///
/// # Errors
/// Those of the inner service.
pub async fn errors_in_one_shape(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default();
    let (bytes, count) = head_size(&req);
    if bytes > MAX_HEADER_BYTES || count > MAX_HEADERS {
        let (limit, max, actual) = if count > MAX_HEADERS {
            ("headerCount", MAX_HEADERS, count)
        } else {
            ("headerBytes", MAX_HEADER_BYTES, bytes)
        };
        let body = json!({ "errors": [{
            "message": format!("the request's {limit} is {actual}, over the limit of {max}"),
            "extensions": { "code": ErrorCode::HeadersTooLarge.as_str(), "limit": limit, "max": max, "actual": actual,
                            "requestId": request_id },
        }] });
        let mut res = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        if let Ok(value) = header::HeaderValue::from_str(&request_id) {
            res.insert_header((header::HeaderName::from_static("x-request-id"), value));
        }
        let res = res.json(body);
        return Ok(req.into_response(res));
    }
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let scim =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/scim+json"));
    if (!status.is_client_error() && !status.is_server_error()) || scim {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = match actix_web::body::to_bytes_limited(body, MAX_ERROR_BODY).await {
        Ok(Ok(bytes)) => bytes,
        // Too large to be one of ours, or broken off: answered as the status alone.
        _ => actix_web::web::Bytes::new(),
    };
    let json_type = head
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.contains("json"))
        .map(str::to_owned);
    let mut rebuilt = HttpResponse::build(status);
    for (name, value) in head.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rebuilt.append_header((name.clone(), value.clone()));
        }
    }
    rebuilt.content_type(json_type.unwrap_or_else(|| "application/json".to_owned()));
    let body = serde_json::to_vec(&envelope(status, &bytes, &request_id)).unwrap_or_default();
    Ok(ServiceResponse::new(req, rebuilt.body(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_of_every_kind_get_a_code_and_the_request_id() {
        let ours = br#"{"errors":[{"message":"bad","extensions":{"code":"BAD_USER_INPUT"}}]}"#;
        assert_eq!(
            envelope(StatusCode::BAD_REQUEST, ours, "r1"),
            json!({ "errors": [{ "message": "bad", "extensions": { "code": "BAD_USER_INPUT", "requestId": "r1" } }] })
        );
        assert_eq!(
            envelope(StatusCode::NOT_FOUND, b"", "r2"),
            json!({ "errors": [{ "message": "Not Found", "extensions": { "code": "NOT_FOUND", "requestId": "r2" } }] })
        );
        assert_eq!(
            envelope(StatusCode::BAD_REQUEST, b"Query deserialize error: missing field", "r3"),
            json!({ "errors": [{ "message": "Query deserialize error: missing field",
                                 "extensions": { "code": "BAD_REQUEST", "requestId": "r3" } }] })
        );
        assert_eq!(envelope(StatusCode::BAD_GATEWAY, b"x", "r4")["errors"][0]["extensions"]["code"], "INTERNAL");
    }
}
