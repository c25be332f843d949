//! SCIM 2.0 (RFC 7644) for associations' identity providers: `/scim/v2` with the
//! association's bearer token, or `/scim/v2/associations/{associationId}` for an admin
//! (or the association) naming the association in the path. Users are the association's
//! memberships (`service::scim`); every answer is `application/scim+json`, every refusal
//! the SCIM error shape with its `scimType`, and writes are charged to the caller's budget
//! as a sync is.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde_json::{Value, json};

use super::HttpState;
use crate::auth::{Viewer, authenticate};
use crate::domain::{GlobalId, NodeKind};
use crate::error::ApiError;
use crate::service::scim::{self};

mod discovery;
mod users;

pub(super) const MEDIA: &str = "application/scim+json";
/// The most users one page lists.
pub(super) const MAX_COUNT: usize = 1_000;

/// A SCIM error (RFC 7644 §3.12).
pub(super) struct ScimError {
    pub(super) status: StatusCode,
    pub(super) scim_type: Option<&'static str>,
    pub(super) detail: String,
}

impl ScimError {
    pub(super) fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into() }
    }

    pub(super) fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub(super) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "no such user")
    }

    pub(super) fn response(&self) -> HttpResponse {
        let mut body = json!({
            "schemas": [scim_v2::schema_urns::ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE || self.status == StatusCode::TOO_MANY_REQUESTS {
            res.insert_header(("retry-after", "1"));
        }
        res.content_type(MEDIA).body(body.to_string())
    }
}

impl From<ApiError> for ScimError {
    fn from(err: ApiError) -> Self {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match &err {
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                Self::new(status, None, "internal error")
            }
            // A member changed between the read its `If-Match` names and the write.
            ApiError::Stale { .. } => Self::new(StatusCode::PRECONDITION_FAILED, None, err.to_string()),
            _ => Self::new(status, None, err.to_string()),
        }
    }
}

pub(super) type Answer = Result<HttpResponse, ScimError>;

pub(super) fn answer(result: Answer) -> HttpResponse {
    result.unwrap_or_else(|e| e.response())
}

pub(super) fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).content_type(MEDIA).body(body.to_string())
}

/// The caller and the association they provision: the token's own association, or the
/// one named in the path.
pub(super) async fn caller(state: &HttpState, req: &HttpRequest) -> Result<(Arc<Viewer>, i32), ScimError> {
    if !state.health.is_up() {
        return Err(ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, "the database is unavailable; retry"));
    }
    let header = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    let viewer = Arc::new(authenticate(&state.db, &state.keys, header).await?);
    let association_id = match (req.match_info().get("association"), viewer.as_ref()) {
        (Some(named), _) => GlobalId::decode_int("associationId", named, NodeKind::Association)
            .or_else(|_| named.parse::<i32>().map_err(|_| ApiError::NotFound("no such association".into())))?,
        (None, Viewer::Association { association_id, .. }) => *association_id,
        (None, Viewer::Anonymous) => return Err(ApiError::Unauthenticated("SCIM needs a bearer token".into()).into()),
        (None, Viewer::Admin { .. }) => {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                None,
                "name the association: /scim/v2/associations/{associationId}/...",
            ));
        }
        (None, _) => return Err(ApiError::Forbidden("only associations and admins provision members".into()).into()),
    };
    scim::authorize(&viewer, association_id)?;
    if !scim::association_exists(&state.db, association_id).await? {
        return Err(ScimError::new(StatusCode::NOT_FOUND, None, "no such association"));
    }
    Ok((viewer, association_id))
}

/// Charges a request to the caller's budget: a write as one sync, a read as one query.
pub(super) async fn charge(
    state: &HttpState,
    req: &HttpRequest,
    viewer: &Viewer,
    write: bool,
) -> Result<(), ScimError> {
    let client = super::graphql::rate_client(state, req, Some(viewer));
    let cost = state.limiter.cost(1, write, 1);
    match state.limiter.charge(&client.0, cost).await {
        Some(status) if !status.allowed => Err(ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, status.refusal())),
        _ => Ok(()),
    }
}

/// The base URL of the resources the request addresses (`.../scim/v2` or
/// `.../scim/v2/associations/{id}`).
pub(super) fn base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    let path = req.path();
    let root = path.find("/Users").or_else(|| path.find("/ServiceProviderConfig")).map_or(path, |i| &path[..i]);
    format!("{}://{}{}", info.scheme(), info.host(), root.trim_end_matches('/'))
}

pub(super) fn located(req: &HttpRequest, mut user: Value) -> Value {
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    user["meta"]["location"] = json!(format!("{}/Users/{id}", base(req)));
    user
}

pub(super) fn etag_of(user: &Value) -> String {
    user["meta"]["version"].as_str().unwrap_or_default().to_owned()
}

pub(super) fn with_etag(status: StatusCode, user: &Value) -> HttpResponse {
    with_tag(status, user, &etag_of(user))
}

/// `body` with the `ETag` `tag` (the whole user's, when `body` shows only part of it).
pub(super) fn with_tag(status: StatusCode, user: &Value, tag: &str) -> HttpResponse {
    let mut res = scim_json(status, user);
    if let Ok(value) = tag.parse() {
        res.headers_mut().insert(actix_web::http::header::ETAG, value);
    }
    if let (Some(location), StatusCode::CREATED) = (user["meta"]["location"].as_str(), status)
        && let Ok(value) = location.parse()
    {
        res.headers_mut().insert(actix_web::http::header::LOCATION, value);
    }
    res
}

pub(super) fn list_response(resources: Vec<Value>, start_index: usize, total: usize) -> Value {
    json!({
        "schemas": [scim_v2::schema_urns::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// A SCIM protocol version other than 2.0 (`/scim/v1/...`): `400 invalidVers` (RFC 7644
/// §3.13), so that a connector set up for another version is told why.
pub async fn other_version(req: HttpRequest) -> HttpResponse {
    let version = req.match_info().get("version").unwrap_or_default();
    ScimError::new(
        StatusCode::BAD_REQUEST,
        Some("invalidVers"),
        format!("SCIM version {version:?} is not served here: this server speaks SCIM 2.0 at /scim/v2"),
    )
    .response()
}

/// Any other path or method under a SCIM base: 404, or 405 on a known path (in SCIM's
/// error shape).
pub async fn unknown(req: HttpRequest) -> HttpResponse {
    let path = req.match_info().unprocessed().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let allow = match segments.as_slice() {
        ["ServiceProviderConfig"] | ["ResourceTypes" | "Schemas"] | ["ResourceTypes" | "Schemas", _] => Some("GET"),
        ["Users"] => Some("GET, POST"),
        [".search"] | ["Users", ".search"] => Some("POST"),
        ["Users", _] => Some("GET, PUT, PATCH, DELETE"),
        _ => None,
    };
    match allow {
        Some(allow) => {
            let mut res =
                ScimError::new(StatusCode::METHOD_NOT_ALLOWED, None, format!("{} is not supported here", req.method()))
                    .response();
            if let Ok(value) = allow.parse() {
                res.headers_mut().insert(actix_web::http::header::ALLOW, value);
            }
            res
        }
        None => ScimError::new(StatusCode::NOT_FOUND, None, "no such SCIM endpoint (Users only: no Groups, no Bulk)")
            .response(),
    }
}

/// The routes under one SCIM base path.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use discovery::{resource_types, schemas, service_provider_config};
    use users::{create, delete, get, list, patch, replace, search};
    cfg.route("/ServiceProviderConfig", web::get().to(service_provider_config))
        .route("/ResourceTypes", web::get().to(resource_types))
        .route("/ResourceTypes/{name}", web::get().to(resource_types))
        .route("/Schemas", web::get().to(schemas))
        .route("/Schemas/{id}", web::get().to(schemas))
        .route("/Users", web::get().to(list))
        .route("/Users", web::post().to(create))
        .route("/Users/.search", web::post().to(search))
        .route("/.search", web::post().to(search))
        .route("/Users/{id}", web::get().to(get))
        .route("/Users/{id}", web::put().to(replace))
        .route("/Users/{id}", web::patch().to(patch))
        .route("/Users/{id}", web::delete().to(delete));
}
