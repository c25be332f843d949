//! The Users endpoints: list, create, get, replace, patch and delete, each a read of the
//! association's members or a one-member sync.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Answer, MAX_COUNT, ScimError, answer, caller, charge, etag_of, list_response, located, scim_json, with_etag,
    with_tag,
};
use crate::auth::Viewer;
use crate::domain::{GlobalId, NodeKind};
use crate::http::HttpState;
use crate::http::body;
use crate::service::scim::{self, EXTENSION};
use crate::service::sync::MemberRecord;

/// The query of a list (RFC 7644 §3.4.2).
#[derive(Debug, Default, Deserialize)]
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
    query(state, req, &viewer, association_id, params).await
}

/// A query by `POST` (RFC 7644 §3.4.3), on `/Users/.search` or the root's `/.search`:
/// the list's parameters in a `SearchRequest` body, `attributes` and
/// `excludedAttributes` as lists.
pub async fn search(state: web::Data<HttpState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    answer(search_users(&state, &req, payload).await)
}

/// The body of a query by `POST`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<Vec<String>>,
    excluded_attributes: Option<Vec<String>>,
}

async fn search_users(state: &HttpState, req: &HttpRequest, payload: web::Payload) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, false).await?;
    let body = read_json(state, req, payload).await?;
    let search: SearchRequest = serde_json::from_value(body).map_err(|e| {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), format!("not a SearchRequest: {e}"))
    })?;
    let params = ListParams {
        filter: search.filter,
        start_index: search.start_index,
        count: search.count,
        sort_by: search.sort_by,
        sort_order: search.sort_order,
        attributes: search.attributes.map(|a| a.join(",")),
        excluded_attributes: search.excluded_attributes.map(|a| a.join(",")),
    };
    query(state, req, &viewer, association_id, params).await
}

/// The page of the association's users a list or a search asks for.
async fn query(
    state: &HttpState,
    req: &HttpRequest,
    viewer: &Arc<Viewer>,
    association_id: i32,
    params: ListParams,
) -> Answer {
    let filter = match params.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<scim_v2::filter::Filter>().map_err(|e| {
            ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), format!("the filter does not parse: {e}"))
        })?),
    };
    let mut kept = scim::users(&state.db, viewer, association_id, filter.as_ref()).await?;
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

/// `GET /Users/{id}`, with `attributes` or `excludedAttributes` as a list takes them.
pub async fn get(
    state: web::Data<HttpState>,
    req: HttpRequest,
    params: Result<web::Query<ListParams>, actix_web::Error>,
) -> HttpResponse {
    answer(get_user(&state, &req, params).await)
}

async fn get_user(
    state: &HttpState,
    req: &HttpRequest,
    params: Result<web::Query<ListParams>, actix_web::Error>,
) -> Answer {
    let (viewer, association_id) = caller(state, req).await?;
    charge(state, req, &viewer, false).await?;
    let web::Query(params) = params.map_err(|_| ScimError::invalid_value("bad query parameters"))?;
    let id = req.match_info().get("id").unwrap_or_default();
    let user = scim::user(&state.db, &viewer, association_id, id).await?.ok_or_else(ScimError::not_found)?;
    let user = located(req, user);
    let tag = etag_of(&user);
    if let Some(expected) = req.headers().get("if-none-match").and_then(|v| v.to_str().ok())
        && expected == tag
    {
        return Ok(HttpResponse::NotModified().finish());
    }
    let shown = projected(user, params.attributes.as_deref(), params.excluded_attributes.as_deref());
    Ok(with_tag(StatusCode::OK, &shown, &tag))
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
/// with this `externalId` (or `userName`, when there is no `externalId`). A member the
/// directory deleted comes back (reactivated, with what was sent).
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
    let mut record = record;
    if let Some(email) = record.email.clone()
        && let Some(removed) = scim::removed_with_email(&state.db, association_id, &email).await?
        && removed.external_id != external_id
    {
        // The directory deleted this person and creates them again under another id.
        record.renamed_from = Some(removed.external_id);
    }
    if scim::by_external_id(&state.db, association_id, &external_id).await?.is_some_and(|m| m.removed_at.is_none()) {
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

/// The member row of a whole user (a `PUT`, or a user after a `PATCH`) of the member now
/// under `current` (renamed when the user gives another `externalId`), with the optional
/// text it leaves out cleared.
fn replacing(mut record: MemberRecord, current: String, external_id: Option<&str>) -> MemberRecord {
    match external_id.map(str::trim).filter(|given| *given != current) {
        Some(given) => {
            record.external_id = Some(given.to_owned());
            record.renamed_from = Some(current);
        }
        None => record.external_id = Some(current),
    }
    record.institution.get_or_insert_with(String::new);
    record.job_title.get_or_insert_with(String::new);
    record.interests.get_or_insert_with(Vec::new);
    record
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
        let record = scim::record(&body).map_err(|e| ScimError::invalid_value(e.detail))?;
        let given = body.get("externalId").and_then(Value::as_str);
        let record = replacing(record, external_id, given);
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
        let record = scim::record(&user).map_err(|e| ScimError::invalid_value(e.detail))?;
        let given = user.get("externalId").and_then(Value::as_str);
        let record = replacing(record, external_id, given);
        match written(state, req, &viewer, association_id, record, version, StatusCode::OK).await {
            Err(e) if stale(&e) && !if_match(req) && attempt < ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

/// `DELETE /Users/{id}`: deactivates the membership (a tombstone; nothing is deleted) and
/// takes it out of the directory's view: it is `404` from then on, and out of lists
/// (RFC 7644 §3.6), until a `POST` brings the member back.
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
        removed: true,
        ..MemberRecord::default()
    };
    let version = if_match(req).then(|| etag_of(&user));
    scim::write(&state.db, &viewer, state.sync, association_id, record, version).await?.map_err(|e| refusals(&e))?;
    Ok(HttpResponse::NoContent().finish())
}
