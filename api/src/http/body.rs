//! Reading a request body under a size limit: the one loop the GraphQL endpoint and the
//! bulk path share.

use actix_web::{HttpRequest, http::header, web};
use futures::StreamExt;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    /// The connection broke off, or the body was malformed on the wire.
    Broken,
    /// Over `max` bytes: `actual` is what the client announced, or what arrived until then.
    TooLarge { max: usize, actual: usize },
}

/// The bytes the client announced (`Content-Length`), if it did.
pub(super) fn announced(req: &HttpRequest) -> Option<usize> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads the body, at most `max` bytes. The buffer reserves what the client announces
/// (within the limit), so that it is not grown by doubling and copied on the way: a bulk
/// sync's memory is dominated by its input.
pub(super) async fn read(
    req: &HttpRequest,
    payload: &mut web::Payload,
    max: usize,
) -> Result<web::BytesMut, BodyError> {
    let mut body = web::BytesMut::with_capacity(announced(req).unwrap_or(0).min(max));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge { max, actual: announced(req).unwrap_or(body.len() + chunk.len()) });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
