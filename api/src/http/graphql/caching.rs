//! HTTP caching of GET answers: `Cache-Control` from the answer's cache hints and the
//! caller, `ETag` and `304 Not Modified`.

use actix_web::{
    HttpRequest,
    http::{StatusCode, header},
};
use async_graphql::Response;

use crate::auth::Viewer;

/// How a request came: only a GET is cacheable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Post,
}

/// The `Cache-Control` of a GET's answer. An anonymous caller sees only public programme
/// facts (countries, rounds, associations, ambassador appointments: see `auth::policy`),
/// the same for everyone, so a successful answer to one is `public` (for `max-age`
/// [`PUBLIC_MAX_AGE`], or less if a field's hint says so), unless a field opts out
/// (`rateLimit`, which is the caller's own). Everything a token reads depends on the
/// caller: `private, no-store`.
pub(super) fn cache_control(viewer: &Viewer, response: &Response, status: StatusCode) -> String {
    let hint = response.cache_control;
    if matches!(viewer, Viewer::Anonymous) && status == StatusCode::OK && response.is_ok() && hint.max_age >= 0 {
        let max_age = if hint.max_age > 0 { hint.max_age.min(PUBLIC_MAX_AGE) } else { PUBLIC_MAX_AGE };
        return format!("public, max-age={max_age}");
    }
    "private, no-store".to_owned()
}

/// A strong validator of the exact bytes of an answer.
pub(super) fn etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `tag` (or is `*`).
pub(super) fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').map(str::trim).any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(tag)))
}

/// How long shared caches may keep a public answer to a GET, in seconds.
pub(super) const PUBLIC_MAX_AGE: i32 = 60;
