//! SCIM 2.0 Users (RFC 7643, RFC 7644) as an association's memberships. A SCIM user is a
//! membership: `id` is the membership's global id, `externalId` the association's member id,
//! `userName` and `emails` the email, `active: false` the tombstone. Every write goes
//! through the membership sync (`service::sync`), as `syncMembers` and the bulk path do: the
//! same validation, linking and consent rules, change log, webhooks and audit.
//!
//! What an association sees of a member is what the sync's rules let it see: the person's
//! profile once they confirmed the link, and before that only what it sent.

pub mod filter;
pub mod patch;
mod record;

pub use record::{Invalid, record};

use std::sync::Arc;

use entities::{librarian, membership};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use crate::auth::{Viewer, policy};
use crate::domain::{GlobalId, MembershipStatus, NodeKind, SyncMode, SyncSource};
use crate::error::{ApiError, ApiResult};
use crate::service::relations;
use crate::service::sync::{self, MemberRecord, RowError, SyncOptions, SyncRequest};

/// `text` after `prefix` (compared case-insensitively, as SCIM names are), if it starts
/// with it.
pub fn after_prefix<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// A member's version (`meta.version`, the `ETag`): its membership's and, once the link is
/// confirmed, its librarian's; it changes whenever what SCIM shows of the member may have.
pub fn etag_of(membership: &membership::Model, librarian: Option<&librarian::Model>) -> String {
    format!("W/\"{}.{}\"", membership.version, librarian.map_or(0, |l| l.version))
}

/// The schema of Interlib's own User attributes.
pub const EXTENSION: &str = "urn:interlib:params:scim:schemas:extension:2.0:User";

/// The association itself or an admin reads and writes its SCIM users.
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for anyone else.
pub fn authorize(viewer: &Viewer, association_id: i32) -> ApiResult<()> {
    policy::association_or_admin(viewer, association_id, "provision its members", "SCIM needs a bearer token")
}

/// A membership with what its association may see of the person.
struct Seen {
    membership: membership::Model,
    /// The librarian of a confirmed link (whose version is the member's too).
    linked: Option<Arc<librarian::Model>>,
    /// What the association may see of them.
    librarian: Option<Arc<librarian::Model>>,
    languages: Vec<String>,
    interests: Vec<String>,
}

/// Every member of the association as a SCIM user, in membership order.
///
/// # Errors
/// Database errors; the caller must be the association or an admin.
pub async fn users(
    db: &DatabaseConnection,
    viewer: &Arc<Viewer>,
    association_id: i32,
    filter: Option<&scim_v2::filter::Filter>,
) -> ApiResult<Vec<Value>> {
    authorize(viewer, association_id)?;
    let mut select = membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(association_id))
        .filter(membership::Column::RemovedAt.is_null());
    if let Some(narrowed) = narrowing(db, association_id, filter).await? {
        select = select.filter(narrowed);
    }
    let rows = select.order_by_asc(membership::Column::Id).all(db).await?;
    let users = seen(db, viewer, rows).await?.iter().map(to_json).collect();
    Ok(keep(users, filter))
}

/// A condition in SQL that every member a filter can match meets, for the lookups identity
/// providers make before each write (`externalId eq`, `userName eq`, `emails.value eq`),
/// so that they read one member rather than the whole list; the filter itself still
/// decides. A member's `userName` is the directory's login name when it sent one, else
/// their email: the email of their librarian once the link is confirmed, and what the
/// association sent before. Their emails are their librarian's, what was sent, and those
/// of the directory's record. All of those are candidates.
async fn narrowing(
    db: &DatabaseConnection,
    association_id: i32,
    filter: Option<&scim_v2::filter::Filter>,
) -> ApiResult<Option<sea_orm::Condition>> {
    use scim_v2::filter::{AttrExp, CompValue, CompareOp, Filter};
    use sea_orm::Condition;
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    let Some(Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value)))) = filter else {
        return Ok(None);
    };
    let name = path.name.to_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_lowercase);
    let core = path.uri.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(scim_v2::schema_urns::USER));
    if !core {
        return Ok(None);
    }
    let lower = value.trim().to_lowercase();
    let people = || {
        librarian::Entity::find()
            .select_only()
            .column(librarian::Column::Id)
            .filter(librarian::Column::Email.eq(lower.clone()))
            .into_tuple::<i32>()
            .all(db)
    };
    let unnamed = || Condition::all().add(membership::Column::UserName.is_null());
    match (name.as_str(), sub.as_deref()) {
        ("externalid", None) => Ok(Some(Condition::all().add(membership::Column::ExternalId.eq(value.as_str())))),
        ("username", None) => {
            // Each kind of candidate by its own index (an `OR` of them would read the
            // association's whole membership on SQLite).
            let people = people().await?;
            let mut ids = Vec::new();
            for candidates in [
                Condition::all().add(membership::Column::UserName.eq(lower.clone())),
                unnamed().add(membership::Column::LibrarianId.is_in(people)),
                unnamed().add(membership::Column::Sent.is_not_null()),
            ] {
                let found: Vec<i32> = membership::Entity::find()
                    .select_only()
                    .column(membership::Column::Id)
                    .filter(membership::Column::AssociationId.eq(association_id))
                    .filter(candidates)
                    .into_tuple()
                    .all(db)
                    .await?;
                ids.extend(found);
            }
            Ok(Some(Condition::all().add(membership::Column::Id.is_in(ids))))
        }
        // The directory's record is JSON text: a plain address is found in it by `LIKE`;
        // one that JSON escapes or SQLite cannot lower-case is decided in memory.
        ("emails", Some("value"))
            if lower.len() > MAX_EMAIL || !lower.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') =>
        {
            Ok(None)
        }
        ("emails", Some("value")) => {
            // (A backslash never gets here: it is decided in memory.)
            let escaped = lower.replace('%', "\\%").replace('_', "\\_");
            let in_record = Expr::expr(Func::lower(Expr::col(membership::Column::Directory)))
                .like(sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('\\'));
            Ok(Some(
                Condition::any()
                    .add(membership::Column::LibrarianId.is_in(people().await?))
                    .add(membership::Column::Sent.is_not_null())
                    .add(in_record),
            ))
        }
        _ => Ok(None),
    }
}

/// The longest email address (RFC 5321).
const MAX_EMAIL: usize = 320;

/// A member of the association its directory deleted whose librarian has this email: a
/// create for the email brings that member back.
///
/// # Errors
/// Database errors.
pub async fn removed_with_email(
    db: &DatabaseConnection,
    association_id: i32,
    email: &str,
) -> ApiResult<Option<membership::Model>> {
    let people: Vec<i32> = librarian::Entity::find()
        .select_only()
        .column(librarian::Column::Id)
        .filter(librarian::Column::Email.eq(email.trim().to_lowercase()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(association_id))
        .filter(membership::Column::RemovedAt.is_not_null())
        .filter(membership::Column::LibrarianId.is_in(people))
        .one(db)
        .await?)
}

/// One member of the association by its SCIM `id`; `None` when it is not one.
///
/// # Errors
/// Database errors; the caller must be the association or an admin.
pub async fn user(
    db: &DatabaseConnection,
    viewer: &Arc<Viewer>,
    association_id: i32,
    id: &str,
) -> ApiResult<Option<Value>> {
    authorize(viewer, association_id)?;
    let Ok(key) = GlobalId::decode_int("id", id, NodeKind::Membership) else { return Ok(None) };
    let Some(row) = membership::Entity::find_by_id(key).one(db).await? else { return Ok(None) };
    if row.association_id != association_id || row.removed_at.is_some() {
        return Ok(None);
    }
    Ok(seen(db, viewer, vec![row]).await?.first().map(to_json))
}

/// Whether the association exists.
///
/// # Errors
/// Database errors.
pub async fn association_exists(db: &DatabaseConnection, association_id: i32) -> ApiResult<bool> {
    Ok(entities::association::Entity::find_by_id(association_id).one(db).await?.is_some())
}

/// The member of the association with this external id, if any (a member its directory
/// deleted too).
///
/// # Errors
/// Database errors.
pub async fn by_external_id(
    db: &DatabaseConnection,
    association_id: i32,
    external_id: &str,
) -> ApiResult<Option<membership::Model>> {
    Ok(membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(association_id))
        .filter(membership::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

async fn seen(db: &DatabaseConnection, viewer: &Arc<Viewer>, rows: Vec<membership::Model>) -> ApiResult<Vec<Seen>> {
    let confirmed = |m: &membership::Model| m.consent == crate::domain::MembershipConsent::Confirmed.as_str();
    let ids: Vec<i32> = rows.iter().map(|m| m.librarian_id).collect();
    let linked_ids: Vec<i32> = rows.iter().filter(|m| confirmed(m)).map(|m| m.librarian_id).collect();
    let linked =
        relations::by_ids::<librarian::Entity>(db.clone(), None, librarian::Column::Id, linked_ids, |l| l.id).await?;
    let people = relations::librarians_by_ids(db.clone(), viewer.clone(), ids.clone()).await?;
    let visible: Vec<i32> = ids.into_iter().filter(|id| people.contains_key(id)).collect();
    let mut languages = relations::languages_of_librarians(db.clone(), visible.clone()).await?;
    let mut interests = relations::interests_of_librarians(db.clone(), visible).await?;
    Ok(rows
        .into_iter()
        .map(|membership| {
            let linked = linked.get(&membership.librarian_id).filter(|_| confirmed(&membership)).cloned();
            let librarian = people.get(&membership.librarian_id).filter(|_| linked.is_some()).cloned();
            let (languages, interests) = match &librarian {
                Some(l) => (languages.remove(&l.id).unwrap_or_default(), interests.remove(&l.id).unwrap_or_default()),
                None => (Vec::new(), Vec::new()),
            };
            Seen { membership, linked, librarian, languages, interests }
        })
        .collect())
}

/// The SCIM representation of a member (without `meta.location`, which the HTTP layer adds).
fn to_json(seen: &Seen) -> Value {
    let m = &seen.membership;
    let record = match &seen.librarian {
        Some(l) => MemberRecord {
            email: Some(l.email.clone()),
            full_name: Some(l.full_name.clone()),
            country_code: Some(l.country_code.clone()),
            institution: l.institution.clone(),
            sector: Some(l.sector.clone()),
            job_title: l.job_title.clone(),
            years_experience: Some(l.years_experience),
            languages: Some(seen.languages.clone()),
            interests: Some(seen.interests.clone()),
            ..MemberRecord::default()
        },
        None => MemberRecord::parse_sent(m.sent.as_deref()).unwrap_or_default(),
    };
    let modified = seen.librarian.as_ref().map_or(m.updated_at, |l| l.updated_at.max(m.updated_at));
    let mut user = json!({
        "schemas": [scim_v2::schema_urns::USER, EXTENSION],
        "id": GlobalId::encode(NodeKind::Membership, m.id),
        "externalId": m.external_id,
        "active": m.status == MembershipStatus::Active.as_str(),
        "meta": {
            "resourceType": "User",
            "created": m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "lastModified": modified.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "version": etag_of(m, seen.linked.as_deref()),
        },
    });
    if let Some(Value::Object(stored)) = m.directory.as_deref().and_then(|t| serde_json::from_str(t).ok()) {
        for (key, value) in stored {
            // Another extension's attributes (such as the enterprise User's) come back
            // under their schema.
            if key.starts_with("urn:")
                && let Some(Value::Array(schemas)) = user.get_mut("schemas")
            {
                schemas.push(json!(key));
            }
            user[key] = value;
        }
    }
    // What Interlib keeps wins over what the directory last sent: the person may have
    // changed it since, through another door.
    if let Some(email) = &record.email {
        if user.get("userName").is_none() {
            user["userName"] = json!(email);
        }
        over_primary(&mut user, "emails", "value", email);
    }
    if let Some(name) = &record.full_name {
        match user.get_mut("name") {
            Some(Value::Object(parts)) => {
                parts.insert("formatted".into(), json!(name));
            }
            _ => user["name"] = json!({ "formatted": name }),
        }
        // A member the directory never described is shown by their name.
        if m.directory.is_none() {
            user["displayName"] = json!(name);
        }
    }
    if let Some(country) = &record.country_code {
        over_primary(&mut user, "addresses", "country", country);
    }
    if let Some(title) = &record.job_title {
        user["title"] = json!(title);
    }
    user[EXTENSION] = json!({
        "institution": record.institution,
        "sector": record.sector,
        "yearsExperience": record.years_experience,
        "languages": record.languages,
        "interests": record.interests,
        "consent": m.consent,
    });
    user
}

/// Sets `sub` of the primary (or first) value of the list `attribute`, or makes the list
/// of that one work value.
fn over_primary(user: &mut Value, attribute: &str, sub: &str, value: &str) {
    if let Some(Value::Array(items)) = user.get_mut(attribute)
        && !items.is_empty()
    {
        let at = items.iter().position(|i| i.get("primary").and_then(Value::as_bool) == Some(true)).unwrap_or(0);
        if let Value::Object(item) = &mut items[at] {
            item.insert(sub.to_owned(), json!(value));
            return;
        }
    }
    user[attribute] = json!([{ sub: value, "type": "work", "primary": true }]);
}

/// Writes one member through the sync (as `syncMembers` would, from the `SCIM` source);
/// the membership written, or the rows' refusals.
///
/// # Errors
/// Those of [`sync::sync`].
pub async fn write(
    db: &DatabaseConnection,
    viewer: &Viewer,
    options: SyncOptions,
    association_id: i32,
    record: MemberRecord,
    if_match: Option<String>,
) -> ApiResult<Result<membership::Model, Vec<RowError>>> {
    let external_id = record.external_id.clone().unwrap_or_default();
    let current = record.renamed_from.clone().unwrap_or_else(|| external_id.clone());
    let precondition = if_match.map(|etag| sync::Precondition { external_id: current, etag, etag_of });
    let request = SyncRequest {
        association_id,
        mode: SyncMode::Upsert,
        dry_run: false,
        members: vec![record],
        unreadable: Vec::new(),
        idempotency_key: None,
        source: SyncSource::Scim,
        precondition,
    };
    let report = sync::sync(db, viewer, options, request).await?;
    if !report.user_errors.is_empty() {
        return Ok(Err(report.user_errors));
    }
    match by_external_id(db, association_id, &external_id).await? {
        Some(row) => Ok(Ok(row)),
        None => Err(ApiError::Internal(anyhow::anyhow!("a synced member has no membership"))),
    }
}

/// Users that `filter` keeps (all without one).
fn keep(users: Vec<Value>, filter: Option<&scim_v2::filter::Filter>) -> Vec<Value> {
    match filter {
        None => users,
        Some(f) => users.into_iter().filter(|u| filter::matches(f, u)).collect(),
    }
}
