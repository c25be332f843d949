//! Association membership sync: upserts by the association's own member ids, full replaces
//! with tombstones, dry runs and idempotent retries. The GraphQL mutation, the bulk HTTP
//! endpoint and the CLI import all come here.
//!
//! One call is one transaction: rows that fail validation are skipped and reported by
//! index, every valid row is applied, and a database failure leaves nothing behind. Syncs
//! of one association are serialised by a row lock on the association taken first (on
//! SQLite that first write takes the database's write lock), so two at once cannot both
//! create the same member. Statements are batched: a sync of 100,000 members costs a few
//! hundred statements, not one per member.
//!
//! Who owns a profile: a librarian the association's sync created (`provisioned`) takes
//! their profile from its list from then on; a librarian who was already in the network
//! (who applied directly, or came through another association) is linked by email and keeps
//! their own profile.
//!
//! Consent: a link to someone already in the network grants the association nothing until
//! that person (or an admin) confirms it (`consent = PENDING`). Until then the association
//! sees the membership and what it sent (`sent`), never the librarian, their applications
//! or pairings, and the change feed tells it nothing of them. The sync's answer is the same
//! whether an email was known or not: a new externalId needs the same fields either way
//! and counts as `created`, and later rows count as `updated` when they change what the
//! association sent (for a link) or the profile (for a member it created).
//!
//! Here: the request, its plan (`apply_once`) and retries; `rows` validates and compares
//! member rows, `write` applies a plan, `idempotency` replays retried calls.

use std::collections::{HashMap, HashSet};

use entities::{association, librarian, membership, sync_run};
use futures::TryStreamExt;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::counts::to_i32;
use crate::domain::input::UserErrorCode;
use crate::domain::{MembershipConsent, NodeKind, SyncMode, SyncSource};
use crate::error::{ApiError, ApiResult};
use crate::service::journal;
use crate::service::now;

mod idempotency;
mod plan;
mod rows;
mod write;

pub use idempotency::report_of;
use idempotency::{replay, request_hash};
pub use rows::SentMember;
use rows::{Member, validate};
use write::{Whom, apply, librarians_by_email, load_provisioned, members_of};

/// The longest external id and idempotency key.
pub const MAX_EXTERNAL_ID: usize = 128;
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Values per `IN (...)` list of `columns`-wide keys, under the databases' limits.
fn chunk(columns: usize) -> usize {
    (crate::db::MAX_PARAMS / columns).max(1)
}

/// One member as the association sends it: nothing is trusted yet. Text fields left out
/// keep their current value; a new member needs `email`, `fullName` and `countryCode`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberRecord {
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub country_code: Option<String>,
    pub institution: Option<String>,
    /// A sector name (`ACADEMIC`, `PUBLIC`, ...).
    pub sector: Option<String>,
    pub job_title: Option<String>,
    pub years_experience: Option<i32>,
    pub languages: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
    /// `false` deactivates the member; default `true`.
    pub active: Option<bool>,
    /// The association's directory's own record of the member (SCIM writes only); `None`
    /// leaves the stored one as it is.
    #[serde(skip)]
    pub directory: Option<Directory>,
    /// With `active: false`: the directory deleted the member (SCIM `DELETE`), so that it
    /// no longer sees them. The membership is deactivated as any other.
    #[serde(skip)]
    pub removed: bool,
    /// The member's current external id when the row gives them a new one (SCIM writes
    /// only: a directory's `id` names the member, so its `externalId` can change).
    #[serde(skip)]
    pub renamed_from: Option<String>,
}

/// What an association's directory says of a member beyond the profile Interlib keeps
/// (`memberships.directory` and `memberships.user_name`), returned to it as it was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// The directory's login name (SCIM `userName`).
    pub user_name: Option<String>,
    /// The attributes Interlib does not model, as a JSON object.
    pub attributes: String,
}

/// A row the sync skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    /// The row's position in the list, from 0.
    pub index: usize,
    pub external_id: Option<String>,
    pub field: String,
    pub code: UserErrorCode,
    pub message: String,
}

/// What a sync did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub received: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deactivated: usize,
    pub reactivated: usize,
    pub failed: usize,
}

/// A sync to run.
#[derive(Debug)]
pub struct SyncRequest {
    pub association_id: i32,
    pub mode: SyncMode,
    pub dry_run: bool,
    pub members: Vec<MemberRecord>,
    /// Rows of `members` that could not even be read (bulk files; their records are
    /// empty), reported as they are.
    pub unreadable: Vec<RowError>,
    pub idempotency_key: Option<String>,
    pub source: SyncSource,
    /// Write only if a member is still as the caller read it (SCIM's `If-Match`).
    pub precondition: Option<Precondition>,
}

/// A write that holds only while the member `external_id` is at the version `etag` (as
/// `etag_of` computes it from the membership and, when the link is confirmed, its
/// librarian). It is checked under the association's lock, so no other sync of the
/// association can slip in between the check and the write.
#[derive(Debug, Clone)]
pub struct Precondition {
    pub external_id: String,
    pub etag: String,
    pub etag_of: fn(&membership::Model, Option<&librarian::Model>) -> String,
}

/// The outcome of a sync.
#[derive(Debug)]
pub struct SyncReport {
    pub counts: Counts,
    pub user_errors: Vec<RowError>,
    /// The stored run; `None` for a dry run.
    pub run: Option<sync_run::Model>,
    pub dry_run: bool,
    /// Whether this is the stored result of an earlier call with the same idempotency key.
    pub replayed: bool,
}

/// How long an idempotency key is remembered.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    pub idempotency_ttl: std::time::Duration,
}

/// The caller may sync `association_id`: an admin, or that association.
///
/// # Errors
/// `UNAUTHENTICATED` for anonymous callers, `FORBIDDEN` for everyone else.
pub fn authorize(viewer: &Viewer, association_id: i32) -> ApiResult<()> {
    crate::auth::policy::association_or_admin(
        viewer,
        association_id,
        "sync its members",
        "syncing members needs a token",
    )
}

/// Runs a sync.
///
/// # Errors
/// `UNAUTHENTICATED`/`FORBIDDEN` for a caller who may not sync this association,
/// `NOT_FOUND` for an unknown association, `BAD_USER_INPUT` for a bad idempotency key,
/// `CONFLICT` for a key already used with a different input, and database errors (then
/// nothing is written).
pub async fn sync(
    db: &DatabaseConnection,
    viewer: &Viewer,
    options: SyncOptions,
    mut req: SyncRequest,
) -> ApiResult<SyncReport> {
    authorize(viewer, req.association_id)?;
    if let Some(key) = &req.idempotency_key
        && (key.trim().is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || key.contains('\0'))
    {
        return Err(ApiError::bad_input(
            "idempotencyKey",
            format!("`idempotencyKey` takes 1 to {MAX_IDEMPOTENCY_KEY} characters, and no NUL"),
        ));
    }
    let hash = request_hash(&req)?;
    let started_at = now();
    let mut errors = std::mem::take(&mut req.unreadable);
    let received = req.members.len();
    let members = validate(std::mem::take(&mut req.members), &mut errors);
    let prepared = Prepared { received, members, errors, hash, started_at };
    // Syncs of different associations run concurrently; two of them may create the same
    // new person at once. The second then hits the unique email and retries: it finds the
    // person the first created and links them.
    let mut attempt = 1;
    loop {
        match apply_once(db, viewer, options, &req, &prepared).await {
            Err(err) if attempt < 3 && is_retryable(&err) => attempt += 1,
            result => return result,
        }
    }
}

/// A validated request, ready to apply (again, after a conflict).
struct Prepared {
    received: usize,
    members: Vec<Member>,
    errors: Vec<RowError>,
    hash: String,
    started_at: chrono::DateTime<chrono::Utc>,
}

/// Why a sync gives up after its retries.
const CHANGED_MEANWHILE: &str = "members changed while the sync ran, three times over; retry the sync";

/// A conflict with a concurrent writer, which a fresh attempt resolves: members changed
/// under the sync, or another sync created a person with an email this one creates.
fn is_retryable(err: &ApiError) -> bool {
    match err {
        ApiError::Contended(_) => true,
        ApiError::Internal(cause) => cause
            .downcast_ref::<sea_orm::DbErr>()
            .is_some_and(|e| crate::error::violates_unique(e, "librarians", &["email"])),
        _ => false,
    }
}

/// One transaction of a sync: lock the association, replay a retry, read what it holds,
/// plan, and (unless it is a dry run) write the plan and the sync's record.
async fn apply_once(
    db: &DatabaseConnection,
    viewer: &Viewer,
    options: SyncOptions,
    req: &SyncRequest,
    prepared: &Prepared,
) -> ApiResult<SyncReport> {
    let mut errors = prepared.errors.clone();
    let txn = if req.dry_run { db.begin().await? } else { crate::db::begin_write(db).await? };
    lock_association(&txn, req).await?;
    if let Some(precondition) = &req.precondition {
        check(&txn, req.association_id, precondition).await?;
    }
    if let Some(key) = &req.idempotency_key
        && let Some(report) = replay(&txn, req, key, &prepared.hash, options, prepared.started_at).await?
    {
        return Ok(report);
    }
    let held = Held::read(&txn, req, &prepared.members).await?;
    let (plan, counts) = plan::plan(&prepared.members, &held.known(), req.mode, prepared.received, &mut errors);
    if req.dry_run {
        txn.rollback().await?;
        return Ok(SyncReport { counts, user_errors: errors, run: None, dry_run: true, replayed: false });
    }
    let entries = apply(&txn, req.association_id, &prepared.members, &plan).await?;
    let run = record_run(&txn, viewer, req, prepared, &counts, &errors).await?;
    journal::record(&txn, viewer, entries).await?;
    txn.commit().await?;
    Ok(SyncReport { counts, user_errors: errors, run: Some(run), dry_run: false, replayed: false })
}

/// The `CONFLICT` of a member who changed since the caller read it.
async fn check(txn: &DatabaseTransaction, association_id: i32, p: &Precondition) -> ApiResult<()> {
    let Some(member) = membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(association_id))
        .filter(membership::Column::ExternalId.eq(p.external_id.as_str()))
        .one(txn)
        .await?
    else {
        return Err(ApiError::NotFound("no such member".into()));
    };
    let person = if member.consent == MembershipConsent::Confirmed.as_str() {
        librarian::Entity::find_by_id(member.librarian_id).one(txn).await?
    } else {
        None
    };
    let current = (p.etag_of)(&member, person.as_ref());
    if current == p.etag {
        Ok(())
    } else {
        Err(ApiError::Stale {
            message: format!("the member is at version {current}, not {}; read it again", p.etag),
            current_version: member.version,
        })
    }
}

/// Serialises syncs of the association (a write to its row, held until commit; a dry run
/// only reads) and checks that it exists.
async fn lock_association(txn: &DatabaseTransaction, req: &SyncRequest) -> ApiResult<()> {
    let found = if req.dry_run {
        association::Entity::find_by_id(req.association_id).one(txn).await?.is_some()
    } else {
        association::Entity::update_many()
            .col_expr(association::Column::UpdatedAt, Expr::col(association::Column::UpdatedAt))
            .filter(association::Column::Id.eq(req.association_id))
            .exec(txn)
            .await?
            .rows_affected
            == 1
    };
    if found { Ok(()) } else { Err(ApiError::NotFound("no such association".into())) }
}

/// What the database holds that a sync plans against, read in the sync's transaction.
struct Held {
    existing: Vec<membership::Model>,
    erased: HashSet<i32>,
    provisioned: HashMap<i32, rows::Current>,
    by_email: HashMap<String, (i32, journal::Scope)>,
}

/// Up to this many rows, an `UPSERT` reads only the members its rows name (by external id,
/// and by the email of a new member) rather than the association's whole membership: a
/// SCIM write or a small sync costs the same whatever the association's size.
const NAMED_READ_UP_TO: usize = 1_000;

impl Held {
    async fn read(txn: &DatabaseTransaction, req: &SyncRequest, members: &[Member]) -> ApiResult<Self> {
        if req.mode == SyncMode::Upsert && members.len() <= NAMED_READ_UP_TO {
            return Self::read_named(txn, req.association_id, members).await;
        }
        let association_id = req.association_id;
        // Large reads stream: `all()` would hold every raw row and every model at once.
        let existing: Vec<membership::Model> = membership::Entity::find()
            .filter(membership::Column::AssociationId.eq(association_id))
            .stream(txn)
            .await?
            .try_collect()
            .await?;
        let erased: HashSet<i32> = librarian::Entity::find()
            .select_only()
            .column(librarian::Column::Id)
            .filter(librarian::Column::ErasedAt.is_not_null())
            .filter(librarian::Column::Id.in_subquery(members_of(association_id, false)))
            .into_tuple::<i32>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let provisioned = load_provisioned(txn, &Whom::Provisioned(association_id)).await?;
        let lookup = plan::emails_to_look_up(members, &existing, &provisioned);
        let by_email = librarians_by_email(txn, &lookup).await?;
        Ok(Self { existing, erased, provisioned, by_email })
    }

    /// What the plan of an `UPSERT` of a few rows needs: the memberships they name, and
    /// those of the people their emails name (a new row must not add someone twice).
    async fn read_named(txn: &DatabaseTransaction, association_id: i32, members: &[Member]) -> ApiResult<Self> {
        let keys: HashSet<&str> = members.iter().flat_map(|m| [m.external_id.as_str(), plan::key(m)]).collect();
        let mut existing = membership::Entity::find()
            .filter(membership::Column::AssociationId.eq(association_id))
            .filter(membership::Column::ExternalId.is_in(keys))
            .all(txn)
            .await?;
        let provisioned_ids = existing.iter().filter(|m| m.provisioned).map(|m| m.librarian_id).collect();
        let provisioned = load_provisioned(txn, &Whom::Ids(provisioned_ids)).await?;
        let lookup = plan::emails_to_look_up(members, &existing, &provisioned);
        let by_email = librarians_by_email(txn, &lookup).await?;
        let named: HashSet<i32> = existing.iter().map(|m| m.id).collect();
        let theirs = membership::Entity::find()
            .filter(membership::Column::AssociationId.eq(association_id))
            .filter(membership::Column::LibrarianId.is_in(by_email.values().map(|(id, _)| *id)))
            .all(txn)
            .await?;
        existing.extend(theirs.into_iter().filter(|m| !named.contains(&m.id)));
        let erased: HashSet<i32> = librarian::Entity::find()
            .select_only()
            .column(librarian::Column::Id)
            .filter(librarian::Column::ErasedAt.is_not_null())
            .filter(librarian::Column::Id.is_in(existing.iter().map(|m| m.librarian_id)))
            .into_tuple::<i32>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        Ok(Self { existing, erased, provisioned, by_email })
    }

    fn known(&self) -> plan::Known<'_> {
        plan::Known {
            existing: &self.existing,
            erased: &self.erased,
            provisioned: &self.provisioned,
            by_email: &self.by_email,
        }
    }
}

/// Stores the sync's record (and, for an admin's sync, its audit entry).
async fn record_run(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    req: &SyncRequest,
    prepared: &Prepared,
    counts: &Counts,
    errors: &[RowError],
) -> ApiResult<sync_run::Model> {
    let run = sync_run::ActiveModel {
        id: NotSet,
        association_id: Set(req.association_id),
        actor: Set(viewer.subject().unwrap_or("anonymous").chars().take(128).collect()),
        mode: Set(req.mode.as_str().to_owned()),
        source: Set(req.source.as_str().to_owned()),
        received: Set(to_i32(counts.received)),
        created: Set(to_i32(counts.created)),
        updated: Set(to_i32(counts.updated)),
        unchanged: Set(to_i32(counts.unchanged)),
        deactivated: Set(to_i32(counts.deactivated)),
        reactivated: Set(to_i32(counts.reactivated)),
        failed: Set(to_i32(counts.failed)),
        user_errors: Set(serde_json::to_string(errors).map_err(|e| ApiError::Internal(e.into()))?),
        idempotency_key: Set(req.idempotency_key.clone()),
        request_hash: Set(Some(prepared.hash.clone())),
        started_at: Set(prepared.started_at),
        finished_at: Set(now()),
    }
    .insert(txn)
    .await?;
    // An admin writing an association's membership is audited like every admin write.
    let details = serde_json::json!({
        "associationId": crate::domain::GlobalId::encode(NodeKind::Association, req.association_id),
        "syncRun": crate::domain::GlobalId::encode(NodeKind::SyncRun, run.id),
        "mode": req.mode.as_str(),
        "source": req.source.as_str(),
        "created": counts.created,
        "updated": counts.updated,
        "deactivated": counts.deactivated,
        "reactivated": counts.reactivated,
        "failed": counts.failed,
    });
    journal::audit_admin(txn, viewer, Action::SyncMembers, NodeKind::Association, req.association_id, details).await?;
    Ok(run)
}
