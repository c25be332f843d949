//! SCIM 2.0 (RFC 7644) for associations' identity providers: `/scim/v2` with the
//! association's bearer token, or `/scim/v2/associations/{associationId}` for an admin
//! (or the association) naming the association in the path. Users are the association's
//! memberships (`service::scim`); every answer is `application/scim+json`, every refusal
//! the SCIM error shape with its `scimType`, and writes are charged to the caller's budget
//! as a sync is.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::HttpState;
use super::body;
use crate::auth::{Viewer, authenticate};
use crate::domain::{GlobalId, NodeKind};
use crate::error::ApiError;
use crate::service::scim::{self, EXTENSION};
use crate::service::sync::MemberRecord;

const MEDIA: &str = "application/scim+json";
/// The most users one page lists.
const MAX_COUNT: usize = 1_000;

/// A SCIM error (RFC 7644 §3.12).
struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into() }
    }

    fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "no such user")
    }

    fn response(&self) -> HttpResponse {
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

type Answer = Result<HttpResponse, ScimError>;

fn answer(result: Answer) -> HttpResponse {
    result.unwrap_or_else(|e| e.response())
}

fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).content_type(MEDIA).body(body.to_string())
}

/// The caller and the association they provision: the token's own association, or the
/// one named in the path.
async fn caller(state: &HttpState, req: &HttpRequest) -> Result<(Arc<Viewer>, i32), ScimError> {
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
async fn charge(state: &HttpState, req: &HttpRequest, viewer: &Viewer, write: bool) -> Result<(), ScimError> {
    let client = super::graphql::rate_client(state, req, Some(viewer));
    let cost = state.limiter.cost(1, write, 1);
    match state.limiter.charge(&client.0, cost).await {
        Some(status) if !status.allowed => Err(ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, status.refusal())),
        _ => Ok(()),
    }
}

/// The base URL of the resources the request addresses (`.../scim/v2` or
/// `.../scim/v2/associations/{id}`).
fn base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    let path = req.path();
    let root = path.find("/Users").or_else(|| path.find("/ServiceProviderConfig")).map_or(path, |i| &path[..i]);
    format!("{}://{}{}", info.scheme(), info.host(), root.trim_end_matches('/'))
}

fn located(req: &HttpRequest, mut user: Value) -> Value {
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    user["meta"]["location"] = json!(format!("{}/Users/{id}", base(req)));
    user
}

fn etag_of(user: &Value) -> String {
    user["meta"]["version"].as_str().unwrap_or_default().to_owned()
}

fn with_etag(status: StatusCode, user: &Value) -> HttpResponse {
    let mut res = scim_json(status, user);
    if let Ok(value) = etag_of(user).parse() {
        res.headers_mut().insert(actix_web::http::header::ETAG, value);
    }
    if let (Some(location), StatusCode::CREATED) = (user["meta"]["location"].as_str(), status)
        && let Ok(value) = location.parse()
    {
        res.headers_mut().insert(actix_web::http::header::LOCATION, value);
    }
    res
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(req: HttpRequest) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [scim_v2::schema_urns::SERVICE_PROVIDER_CONFIG],
            "documentationUri": "https://github.com/interlib/interlib/blob/main/docs/partners.md#scim",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The association's Interlib token, as `Authorization: Bearer <token>`.",
                "primary": true,
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", base(&req)) },
        }),
    )
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [scim_v2::schema_urns::RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A member of the association: a membership of the network's librarian.",
        "schema": scim_v2::schema_urns::USER,
        "schemaExtensions": [{ "schema": EXTENSION, "required": false }],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
    })
}

/// `GET /ResourceTypes` and `GET /ResourceTypes/User`.
pub async fn resource_types(req: HttpRequest) -> HttpResponse {
    let base = base(&req);
    match req.match_info().get("name") {
        None => scim_json(StatusCode::OK, &list_response(vec![user_resource_type(&base)], 1, 1)),
        Some("User") => scim_json(StatusCode::OK, &user_resource_type(&base)),
        Some(_) => ScimError::new(StatusCode::NOT_FOUND, None, "no such resource type").response(),
    }
}

fn attribute(name: &str, kind: &str, multi: bool, description: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "description": description,
        "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none",
    })
}

fn schemas(base: &str) -> Vec<Value> {
    let user = json!({
        "schemas": [scim_v2::schema_urns::SCHEMA],
        "id": scim_v2::schema_urns::USER,
        "name": "User",
        "description": "A member of the association.",
        "attributes": [
            json!({ "name": "userName", "type": "string", "multiValued": false, "required": true, "caseExact": false,
                    "mutability": "readWrite", "returned": "default", "uniqueness": "server",
                    "description": "The member's email, unique in the network." }),
            attribute("name", "complex", false, "`formatted`, or `givenName` and `familyName`."),
            attribute("displayName", "string", false, "The member's name as shown."),
            attribute("title", "string", false, "Job title."),
            attribute("active", "boolean", false, "`false` deactivates the membership (nothing is deleted)."),
            attribute("emails", "complex", true, "The primary email is the member's email."),
            attribute("addresses", "complex", true, "The primary address's `country` (ISO 3166-1 alpha-2)."),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", scim_v2::schema_urns::USER) },
    });
    let extension = json!({
        "schemas": [scim_v2::schema_urns::SCHEMA],
        "id": EXTENSION,
        "name": "InterlibUser",
        "description": "What the network knows of a librarian beyond SCIM's core User.",
        "attributes": [
            attribute("institution", "string", false, "Where they work."),
            attribute("sector", "string", false, "ACADEMIC, PUBLIC, SCHOOL, SPECIAL, NATIONAL, ARCHIVE, MUSEUM or OTHER."),
            attribute("yearsExperience", "integer", false, "Years in the profession (0 to 70)."),
            attribute("languages", "string", true, "ISO 639-1 codes of their working languages."),
            attribute("interests", "string", true, "Professional interests."),
            json!({ "name": "consent", "type": "string", "multiValued": false, "required": false,
                    "caseExact": true, "mutability": "readOnly", "returned": "default", "uniqueness": "none",
                    "description": "CONFIRMED, PENDING (a link to someone already in the network, until they confirm) or DECLINED." }),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{EXTENSION}") },
    });
    vec![user, extension]
}

/// `GET /Schemas` and `GET /Schemas/{id}`.
pub async fn schemas_endpoint(req: HttpRequest) -> HttpResponse {
    let all = schemas(&base(&req));
    match req.match_info().get("id") {
        None => scim_json(StatusCode::OK, &list_response(all, 1, 2)),
        Some(id) => match all.into_iter().find(|s| s["id"] == id) {
            Some(schema) => scim_json(StatusCode::OK, &schema),
            None => ScimError::new(StatusCode::NOT_FOUND, None, "no such schema").response(),
        },
    }
}

fn list_response(resources: Vec<Value>, start_index: usize, total: usize) -> Value {
    json!({
        "schemas": [scim_v2::schema_urns::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// The query of a list (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// `GET /Users`: filtered, sorted and paged.
pub async fn list(
    state: web::Data<HttpState>,
    req: HttpRequest,
    params: Result<web::Query<ListParams>, actix_web::Error>,
) -> HttpResponse {
    answer(list_users(&state, &req, params).await)
}

async fn list_users(
    state: &HttpState,
    req: &HttpRequest,
    params: Result<web::Query<ListParams>, actix_web::Error>,
) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, false).await?;
    let web::Query(params) = params.map_err(|_| ScimError::invalid_value("bad query parameters"))?;
    let filter = match params.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<scim_v2::filter::Filter>().map_err(|e| {
            ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), format!("the filter does not parse: {e}"))
        })?),
    };
    let users = scim::users(&state.db, &viewer, association_id).await?;
    let mut kept = scim::keep(users, filter.as_ref());
    if let Some(by) = &params.sort_by {
        let path: scim_v2::filter::AttrPath = scim_v2::filter::AttrPath::with_name(by.clone());
        let key = |u: &Value| scim::filter::sort_key(u, &path);
        kept.sort_by_key(key);
        if params.sort_order.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("descending")) {
            kept.reverse();
        }
    }
    let total = kept.len();
    let start = usize::try_from(params.start_index.unwrap_or(1).max(1)).unwrap_or(1);
    let count = usize::try_from(params.count.unwrap_or(100).max(0)).unwrap_or(0).min(MAX_COUNT);
    let page: Vec<Value> = kept
        .into_iter()
        .skip(start - 1)
        .take(count)
        .map(|u| projected(located(req, u), params.attributes.as_deref(), params.excluded_attributes.as_deref()))
        .collect();
    Ok(scim_json(StatusCode::OK, &list_response(page, start, total)))
}

/// The top-level attribute a requested name refers to, lower-cased: `emails.value` is
/// `emails`, `urn:...:core:2.0:User:userName` is `username`, an attribute of the extension
/// is the extension.
fn top_level(name: &str) -> String {
    let name = name.trim();
    let after = |prefix: &str| scim::after_prefix(name, prefix).map(|rest| rest.trim_start_matches(':'));
    if after(EXTENSION).is_some() {
        return EXTENSION.to_lowercase();
    }
    let name = after(scim_v2::schema_urns::USER).unwrap_or(name);
    name.split('.').next().unwrap_or_default().to_lowercase()
}

/// The attributes a client asked for (`attributes`), or all but those it excluded
/// (`excludedAttributes`); `schemas` and `id` always stay (RFC 7644 §3.4.2.5).
fn projected(user: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let listed = |list: &str| list.split(',').map(top_level).collect::<Vec<_>>();
    let (keep, drop) = (attributes.map(listed), excluded.map(listed));
    let Value::Object(fields) = user else { return user };
    let kept = fields.into_iter().filter(|(key, _)| {
        let key = key.to_lowercase();
        key == "schemas"
            || key == "id"
            || match (&keep, &drop) {
                (Some(keep), _) => keep.contains(&key),
                (None, Some(drop)) => !drop.contains(&key),
                (None, None) => true,
            }
    });
    Value::Object(kept.collect())
}

/// `GET /Users/{id}`.
pub async fn get(state: web::Data<HttpState>, req: HttpRequest) -> HttpResponse {
    answer(get_user(&state, &req).await)
}

async fn get_user(state: &HttpState, req: &HttpRequest) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, false).await?;
    let id = req.match_info().get("id").unwrap_or_default();
    let user = scim::user(&state.db, &viewer, association_id, id).await?.ok_or_else(ScimError::not_found)?;
    let user = located(req, user);
    if let Some(tag) = req.headers().get("if-none-match").and_then(|v| v.to_str().ok())
        && tag == etag_of(&user)
    {
        return Ok(HttpResponse::NotModified().finish());
    }
    Ok(with_etag(StatusCode::OK, &user))
}

async fn read_json(state: &HttpState, req: &HttpRequest, mut payload: web::Payload) -> Result<Value, ScimError> {
    // SCIM bodies are `application/scim+json`; `application/json` is taken too (RFC 7644 §3.1).
    if let Some(kind) = req.headers().get("content-type").and_then(|v| v.to_str().ok())
        && !kind.to_ascii_lowercase().contains("json")
    {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("invalidSyntax"),
            format!("the body must be application/scim+json, not {kind}"),
        ));
    }
    let bytes = body::read(req, &mut payload, state.max_body_bytes).await.map_err(|e| match e {
        body::BodyError::TooLarge { max, .. } => {
            ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, Some("tooMany"), format!("the body is over {max} bytes"))
        }
        body::BodyError::Broken => ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), "the body broke off"),
    })?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), "the body must be a JSON object"));
    }
    Ok(value)
}

fn refusals(errors: &[crate::service::sync::RowError]) -> ScimError {
    let uniqueness = errors.iter().any(|e| e.code == crate::domain::input::UserErrorCode::Taken);
    let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
    if uniqueness {
        ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    } else {
        ScimError::invalid_value(detail)
    }
}

/// Writes a record and answers the user as it is now.
async fn written(
    state: &HttpState,
    req: &HttpRequest,
    viewer: &Arc<Viewer>,
    association_id: i32,
    record: MemberRecord,
    if_match: Option<String>,
    status: StatusCode,
) -> Answer {
    let row = scim::write(&state.db, viewer, state.sync, association_id, record, if_match)
        .await?
        .map_err(|e| refusals(&e))?;
    let id = GlobalId::encode(NodeKind::Membership, row.id);
    let user = scim::user(&state.db, viewer, association_id, &id).await?.ok_or_else(ScimError::not_found)?;
    Ok(with_etag(status, &located(req, user)))
}

/// `POST /Users`: a new member; `409 uniqueness` when the association already has a member
/// with this `externalId` (or `userName`, when there is no `externalId`).
pub async fn create(state: web::Data<HttpState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    answer(create_user(&state, &req, payload).await)
}

async fn create_user(state: &HttpState, req: &HttpRequest, payload: web::Payload) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, true).await?;
    let body = read_json(state, req, payload).await?;
    let record = scim::record(&body).map_err(|e| ScimError::invalid_value(e.detail))?;
    let Some(external_id) = record.external_id.clone() else {
        return Err(ScimError::invalid_value("a user needs `userName` (or `externalId`)"));
    };
    if scim::by_external_id(&state.db, association_id, &external_id).await?.is_some() {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            format!("the association already has a member with externalId {external_id:?}"),
        ));
    }
    written(state, req, &viewer, association_id, record, None, StatusCode::CREATED).await
}

/// Whether the client named the version it writes over (`If-Match`, other than `*`).
fn if_match(req: &HttpRequest) -> bool {
    req.headers().get("if-match").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != "*")
}

/// How often a write over what it read is tried again when another write got in between
/// (only when the client named no version: then it wants the write applied to the latest).
const ATTEMPTS: usize = 3;

fn stale(err: &ScimError) -> bool {
    err.status == StatusCode::PRECONDITION_FAILED
}

/// The current user of a write by id, checked against `If-Match`.
async fn current(
    state: &HttpState,
    req: &HttpRequest,
    viewer: &Arc<Viewer>,
    association_id: i32,
) -> Result<Value, ScimError> {
    let id = req.match_info().get("id").unwrap_or_default();
    let user = scim::user(&state.db, viewer, association_id, id).await?.ok_or_else(ScimError::not_found)?;
    if let Some(expected) = req.headers().get("if-match").and_then(|v| v.to_str().ok())
        && expected.trim() != "*"
        && !expected.split(',').any(|t| t.trim() == etag_of(&user))
    {
        return Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!("the user is at version {}; read it again", etag_of(&user)),
        ));
    }
    Ok(user)
}

/// `PUT /Users/{id}`: the member's attributes as given; optional text left out is cleared.
pub async fn replace(state: web::Data<HttpState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    answer(replace_user(&state, &req, payload).await)
}

async fn replace_user(state: &HttpState, req: &HttpRequest, payload: web::Payload) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, true).await?;
    let body = read_json(state, req, payload).await?;
    let mut attempt = 1;
    loop {
        let user = current(state, req, &viewer, association_id).await?;
        let external_id = user["externalId"].as_str().unwrap_or_default().to_owned();
        let mut record = scim::record(&body).map_err(|e| ScimError::invalid_value(e.detail))?;
        if body.get("externalId").is_some() && record.external_id.as_deref() != Some(external_id.as_str()) {
            return Err(ScimError::new(StatusCode::BAD_REQUEST, Some("mutability"), "`externalId` cannot change"));
        }
        record.external_id = Some(external_id);
        record.institution.get_or_insert_with(String::new);
        record.job_title.get_or_insert_with(String::new);
        let version = Some(etag_of(&user));
        match written(state, req, &viewer, association_id, record, version, StatusCode::OK).await {
            Err(e) if stale(&e) && !if_match(req) && attempt < ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

/// `PATCH /Users/{id}` (RFC 7644 §3.5.2): `add`, `replace` and `remove`, with or without
/// a `path`, in any case (`Replace`, as Entra ID sends it).
pub async fn patch(state: web::Data<HttpState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    answer(patch_user(&state, &req, payload).await)
}

/// The most operations one PATCH may carry.
const MAX_OPERATIONS: usize = 1_000;

async fn patch_user(state: &HttpState, req: &HttpRequest, payload: web::Payload) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, true).await?;
    let body = read_json(state, req, payload).await?;
    let operations = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations")))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| {
            ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), "a PatchOp needs `Operations`")
        })?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("tooMany"),
            format!("a PATCH takes at most {MAX_OPERATIONS} operations"),
        ));
    }
    let mut attempt = 1;
    loop {
        let mut user = current(state, req, &viewer, association_id).await?;
        let version = Some(etag_of(&user));
        let external_id = user["externalId"].as_str().unwrap_or_default().to_owned();
        for operation in operations {
            scim::patch::apply(&mut user, operation)
                .map_err(|e| ScimError::new(StatusCode::BAD_REQUEST, Some(e.scim_type), e.detail))?;
        }
        if user["externalId"].as_str() != Some(external_id.as_str()) {
            return Err(ScimError::new(StatusCode::BAD_REQUEST, Some("mutability"), "`externalId` cannot change"));
        }
        let mut record = scim::record(&user).map_err(|e| ScimError::invalid_value(e.detail))?;
        record.external_id = Some(external_id);
        record.institution.get_or_insert_with(String::new);
        record.job_title.get_or_insert_with(String::new);
        match written(state, req, &viewer, association_id, record, version, StatusCode::OK).await {
            Err(e) if stale(&e) && !if_match(req) && attempt < ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

/// `DELETE /Users/{id}`: deactivates the membership (a tombstone; nothing is deleted).
pub async fn delete(state: web::Data<HttpState>, req: HttpRequest) -> HttpResponse {
    answer(delete_user(&state, &req).await)
}

async fn delete_user(state: &HttpState, req: &HttpRequest) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, true).await?;
    let user = current(state, req, &viewer, association_id).await?;
    let record = MemberRecord {
        external_id: user["externalId"].as_str().map(str::to_owned),
        active: Some(false),
        ..MemberRecord::default()
    };
    let version = if_match(req).then(|| etag_of(&user));
    scim::write(&state.db, &viewer, state.sync, association_id, record, version).await?.map_err(|e| refusals(&e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Any other path or method under a SCIM base: 404, or 405 on a known path (in SCIM's
/// error shape).
pub async fn unknown(req: HttpRequest) -> HttpResponse {
    let path = req.match_info().unprocessed().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let allow = match segments.as_slice() {
        ["ServiceProviderConfig"] | ["ResourceTypes" | "Schemas"] | ["ResourceTypes" | "Schemas", _] => Some("GET"),
        ["Users"] => Some("GET, POST"),
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
    cfg.route("/ServiceProviderConfig", web::get().to(service_provider_config))
        .route("/ResourceTypes", web::get().to(resource_types))
        .route("/ResourceTypes/{name}", web::get().to(resource_types))
        .route("/Schemas", web::get().to(schemas_endpoint))
        .route("/Schemas/{id}", web::get().to(schemas_endpoint))
        .route("/Users", web::get().to(list))
        .route("/Users", web::post().to(create))
        .route("/Users/{id}", web::get().to(get))
        .route("/Users/{id}", web::put().to(replace))
        .route("/Users/{id}", web::patch().to(patch))
        .route("/Users/{id}", web::delete().to(delete));
}
