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

use std::collections::{HashMap, HashSet};
use std::io::Write;

use chrono::Duration;
use entities::{association, librarian, librarian_interest, librarian_language, membership, sync_run};
use futures::TryStreamExt;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Viewer;
use crate::domain::input::{Checks, MAX_NAME, MAX_TEXT, UserErrorCode};
use crate::domain::{MembershipConsent, MembershipStatus, NodeKind, Sector, SyncMode, SyncSource};
use crate::error::{ApiError, ApiResult};
use crate::service::journal::{self, Entry, Operation, Scope};
use crate::service::now;

/// Members one GraphQL `syncMembers` call may carry; larger lists go through the bulk path.
pub const MAX_GRAPHQL_MEMBERS: usize = 10_000;
/// The longest external id and idempotency key.
pub const MAX_EXTERNAL_ID: usize = 128;
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Bind parameters per statement, under both databases' limits (PostgreSQL 65,535;
/// SQLite 32,766).
const MAX_PARAMS: usize = 30_000;

fn chunk(columns: usize) -> usize {
    (MAX_PARAMS / columns).max(1)
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

/// A validated row.
#[derive(Debug)]
struct Member {
    index: usize,
    external_id: String,
    email: Option<String>,
    full_name: Option<String>,
    country_code: Option<String>,
    institution: Option<Option<String>>,
    sector: Option<Sector>,
    job_title: Option<Option<String>>,
    years_experience: Option<i32>,
    languages: Option<Vec<String>>,
    interests: Option<Vec<String>>,
    active: bool,
}

/// The caller may sync `association_id`: an admin, or that association.
///
/// # Errors
/// `UNAUTHENTICATED` for anonymous callers, `FORBIDDEN` for everyone else.
pub fn authorize(viewer: &Viewer, association_id: i32) -> ApiResult<()> {
    match viewer {
        Viewer::Admin { .. } => Ok(()),
        Viewer::Association { association_id: own, .. } if *own == association_id => Ok(()),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("syncing members needs a token".into())),
        _ => Err(ApiError::Forbidden("only the association itself or an admin may sync its members".into())),
    }
}

/// Writes into a SHA-256 digest, so the input is hashed without a second copy of it.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The SHA-256 of what the request asks for, to tell a retry from a different request.
fn request_hash(req: &SyncRequest) -> ApiResult<String> {
    let mut writer = HashWriter(Sha256::new());
    let head = (req.association_id, req.mode.as_str(), req.dry_run, &req.unreadable);
    serde_json::to_writer(&mut writer, &head).map_err(|e| ApiError::Internal(e.into()))?;
    serde_json::to_writer(&mut writer, &req.members).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(hex::encode(writer.0.finalize()))
}

/// Validates the rows; rows already in `errors` (unreadable in a file) are skipped.
fn validate(members: Vec<MemberRecord>, errors: &mut Vec<RowError>) -> Vec<Member> {
    let unreadable: HashSet<usize> = errors.iter().map(|e| e.index).collect();
    let mut valid = Vec::with_capacity(members.len());
    let mut seen_ids: HashSet<String> = HashSet::with_capacity(members.len());
    let mut seen_emails: HashSet<String> = HashSet::with_capacity(members.len());
    for (index, record) in members.into_iter().enumerate() {
        if unreadable.contains(&index) {
            continue;
        }
        let mut c = Checks::default();
        let external_id = record.external_id.as_deref().and_then(|v| c.required("externalId", v, MAX_EXTERNAL_ID));
        if record.external_id.is_none() {
            c.fail("externalId", UserErrorCode::Blank, "`externalId` is required");
        }
        let sector = match record.sector.as_deref().map(|s| s.trim().to_uppercase()) {
            None => None,
            Some(name) => match Sector::parse(&name) {
                Some(sector) => Some(sector),
                None => {
                    c.fail("sector", UserErrorCode::Invalid, format!("{name:?} is not a sector"));
                    None
                }
            },
        };
        let member = Member {
            index,
            external_id: external_id.clone().unwrap_or_default(),
            email: record.email.as_deref().and_then(|v| c.email("email", v)),
            full_name: record.full_name.as_deref().and_then(|v| c.required("fullName", v, MAX_NAME)),
            country_code: record.country_code.as_deref().and_then(|v| c.country("countryCode", v)),
            institution: record.institution.as_deref().map(|v| c.text("institution", v, MAX_TEXT)),
            sector,
            job_title: record.job_title.as_deref().map(|v| c.text("jobTitle", v, MAX_TEXT)),
            years_experience: record.years_experience.and_then(|v| c.years("yearsExperience", v)),
            languages: record.languages.as_deref().and_then(|v| c.languages("languages", v)),
            interests: record.interests.as_deref().and_then(|v| c.interests("interests", v)),
            active: record.active.unwrap_or(true),
        };
        if let Some(id) = &external_id
            && !seen_ids.insert(id.clone())
        {
            c.fail("externalId", UserErrorCode::Duplicate, "this externalId is already in the list");
        }
        if let Some(email) = &member.email
            && !seen_emails.insert(email.clone())
        {
            c.fail("email", UserErrorCode::Duplicate, "this email is already in the list, under another externalId");
        }
        if c.ok() {
            valid.push(member);
        } else {
            errors.extend(c.errors.into_iter().map(|e| RowError {
                index,
                external_id: record.external_id.clone(),
                field: e.field,
                code: e.code,
                message: e.message,
            }));
        }
    }
    valid
}

fn row_error(member: &Member, field: &str, code: UserErrorCode, message: &str) -> RowError {
    RowError {
        index: member.index,
        external_id: Some(member.external_id.clone()),
        field: field.to_owned(),
        code,
        message: message.to_owned(),
    }
}

/// What an association sent for a link (`memberships.sent`): the fields of its rows as a
/// [`MemberRecord`] without `externalId` and `active`, merged row over row (a field a row
/// leaves out keeps its value). It is all the association sees of someone who has not
/// confirmed the link.
pub type SentMember = MemberRecord;

impl MemberRecord {
    /// The record stored as `memberships.sent`; `None` when there is none (or it is unreadable).
    pub fn parse_sent(stored: Option<&str>) -> Option<Self> {
        stored.and_then(|text| serde_json::from_str(text).ok())
    }

    /// This record with a member row's fields over it.
    fn with(mut self, member: &Member) -> Self {
        let sorted = |tags: &Vec<String>| {
            let mut tags = tags.clone();
            tags.sort();
            tags
        };
        if let Some(v) = &member.email {
            self.email = Some(v.clone());
        }
        if let Some(v) = &member.full_name {
            self.full_name = Some(v.clone());
        }
        if let Some(v) = &member.country_code {
            self.country_code = Some(v.clone());
        }
        if let Some(v) = &member.institution {
            self.institution.clone_from(v);
        }
        if let Some(v) = member.sector {
            self.sector = Some(v.as_str().to_owned());
        }
        if let Some(v) = &member.job_title {
            self.job_title.clone_from(v);
        }
        if let Some(v) = member.years_experience {
            self.years_experience = Some(v);
        }
        if let Some(v) = &member.languages {
            self.languages = Some(sorted(v));
        }
        if let Some(v) = &member.interests {
            self.interests = Some(sorted(v));
        }
        self
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The new `sent` record of a link when a row changes it.
fn resent(member: &Member, stored: Option<&str>) -> Option<String> {
    let before = SentMember::parse_sent(stored).unwrap_or_default();
    let after = before.clone().with(member);
    (after != before).then(|| after.to_json())
}

/// A provisioned librarian as the sync compares them.
struct Current {
    row: librarian::Model,
    languages: Vec<String>,
    interests: Vec<String>,
}

/// The changes a member row asks of a provisioned librarian; `None` when there are none.
fn profile_changes(member: &Member, current: &Current) -> Option<(librarian::Model, Tags)> {
    let mut next = current.row.clone();
    if let Some(v) = &member.email {
        next.email.clone_from(v);
    }
    if let Some(v) = &member.full_name {
        next.full_name.clone_from(v);
    }
    if let Some(v) = &member.country_code {
        next.country_code.clone_from(v);
    }
    if let Some(v) = &member.institution {
        next.institution.clone_from(v);
    }
    if let Some(v) = member.sector {
        next.sector = v.as_str().to_owned();
    }
    if let Some(v) = &member.job_title {
        next.job_title.clone_from(v);
    }
    if let Some(v) = member.years_experience {
        next.years_experience = v;
    }
    let tags_differ = |new: &Option<Vec<String>>, old: &[String]| {
        new.as_ref().is_some_and(|new| {
            let mut a = new.clone();
            let mut b = old.to_vec();
            a.sort();
            b.sort();
            a != b
        })
    };
    let tags = Tags {
        languages: tags_differ(&member.languages, &current.languages),
        interests: tags_differ(&member.interests, &current.interests),
    };
    (next != current.row || tags.languages || tags.interests).then_some((next, tags))
}

/// Which of a librarian's tag lists a row changes.
#[derive(Debug, Clone, Copy)]
struct Tags {
    languages: bool,
    interests: bool,
}

/// A provisioned librarian to update.
struct Update {
    member: usize,
    before: librarian::Model,
    after: librarian::Model,
    tags: Tags,
}

/// What the sync will write.
#[derive(Default)]
struct Plan {
    /// New librarians (and their provisioned memberships).
    create: Vec<usize>,
    /// Existing librarians to link by a new membership: (member, librarian id, scope).
    link: Vec<(usize, i32, Scope)>,
    /// Provisioned librarians to update.
    update: Vec<Update>,
    /// Links whose `sent` record changes: (membership id, the new record).
    resend: Vec<(i32, String)>,
    reactivate: Vec<membership::Model>,
    deactivate: Vec<membership::Model>,
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

/// A conflict with a concurrent writer, which a fresh attempt resolves.
fn is_retryable(err: &ApiError) -> bool {
    match err {
        ApiError::Conflict(message) => message == CHANGED_MEANWHILE,
        ApiError::Internal(cause) => cause
            .downcast_ref::<sea_orm::DbErr>()
            .is_some_and(|e| matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))),
        _ => false,
    }
}

/// One transaction of a sync.
async fn apply_once(
    db: &DatabaseConnection,
    viewer: &Viewer,
    options: SyncOptions,
    req: &SyncRequest,
    prepared: &Prepared,
) -> ApiResult<SyncReport> {
    let Prepared { received, members, hash, started_at, .. } = prepared;
    let (received, started_at) = (*received, *started_at);
    let mut errors = prepared.errors.clone();
    let txn = if req.dry_run { db.begin().await? } else { crate::db::begin_write(db).await? };
    // Serialise syncs of this association (and check that it exists) before reading.
    let locked = if req.dry_run {
        association::Entity::find_by_id(req.association_id).one(&txn).await?.is_some()
    } else {
        association::Entity::update_many()
            .col_expr(association::Column::UpdatedAt, Expr::col(association::Column::UpdatedAt))
            .filter(association::Column::Id.eq(req.association_id))
            .exec(&txn)
            .await?
            .rows_affected
            == 1
    };
    if !locked {
        return Err(ApiError::NotFound("no such association".into()));
    }
    if let Some(key) = &req.idempotency_key
        && let Some(report) = replay(&txn, req, key, hash, options, started_at).await?
    {
        return Ok(report);
    }

    // Large reads stream: `all()` would hold every raw row and every model at once.
    let existing: Vec<membership::Model> = membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(req.association_id))
        .stream(&txn)
        .await?
        .try_collect()
        .await?;
    let by_external: HashMap<&str, &membership::Model> = existing.iter().map(|m| (m.external_id.as_str(), m)).collect();
    let member_of: HashSet<i32> = existing.iter().map(|m| m.librarian_id).collect();
    let erased: HashSet<i32> = librarian::Entity::find()
        .select_only()
        .column(librarian::Column::Id)
        .filter(librarian::Column::ErasedAt.is_not_null())
        .filter(librarian::Column::Id.in_subquery(members_of(req.association_id, false)))
        .into_tuple::<i32>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let provisioned = load_provisioned(&txn, req.association_id).await?;

    // Emails to look up: new members, and provisioned members whose email changes.
    let lookup: Vec<String> = members
        .iter()
        .filter_map(|m| {
            let email = m.email.as_ref()?;
            match by_external.get(m.external_id.as_str()) {
                None => Some(email.clone()),
                Some(ms) => {
                    provisioned.get(&ms.librarian_id).filter(|cur| cur.row.email != *email).map(|_| email.clone())
                }
            }
        })
        .collect();
    let by_email = librarians_by_email(&txn, &lookup).await?;

    let mut plan = Plan::default();
    let mut counts = Counts { received, ..Counts::default() };
    let mut present: HashSet<&str> = HashSet::new();
    for (i, m) in members.iter().enumerate() {
        present.insert(m.external_id.as_str());
        match by_external.get(m.external_id.as_str()) {
            Some(ms) => {
                let active = ms.status == MembershipStatus::Active.as_str();
                if !m.active {
                    if active {
                        plan.deactivate.push((*ms).clone());
                    } else {
                        counts.unchanged += 1;
                    }
                    continue;
                }
                if erased.contains(&ms.librarian_id) {
                    errors.push(row_error(
                        m,
                        "externalId",
                        UserErrorCode::NotAllowed,
                        "this member's librarian erased their data; they cannot be re-activated under this externalId",
                    ));
                    continue;
                }
                let mut changed = false;
                if !ms.provisioned
                    && let Some(next) = resent(m, ms.sent.as_deref())
                {
                    plan.resend.push((ms.id, next));
                    changed = true;
                }
                if ms.provisioned
                    && let Some(current) = provisioned.get(&ms.librarian_id)
                    && let Some((mut next, tags)) = profile_changes(m, current)
                {
                    // An address that belongs to someone else in the network is not taken
                    // over, and the answer is the one a free address gets (`updated`), so
                    // that it does not tell the address is known.
                    if next.email != current.row.email && by_email.contains_key(&next.email) {
                        next.email.clone_from(&current.row.email);
                    }
                    if next != current.row || tags.languages || tags.interests {
                        plan.update.push(Update { member: i, before: current.row.clone(), after: next, tags });
                    }
                    changed = true;
                }
                if !active {
                    plan.reactivate.push((*ms).clone());
                } else if changed {
                    counts.updated += 1;
                } else {
                    counts.unchanged += 1;
                }
            }
            None if !m.active => {
                errors.push(row_error(m, "externalId", UserErrorCode::NotFound, "no member has this externalId"));
            }
            None => {
                // The same fields whether or not the email is known, so the answer does not
                // tell which.
                let mut c = Checks::default();
                for (field, missing) in [
                    ("email", m.email.is_none()),
                    ("fullName", m.full_name.is_none()),
                    ("countryCode", m.country_code.is_none()),
                ] {
                    if missing {
                        c.fail(field, UserErrorCode::Blank, format!("a new member needs `{field}`"));
                    }
                }
                if !c.ok() {
                    errors.extend(c.errors.into_iter().map(|e| row_error(m, &e.field, e.code, &e.message)));
                    continue;
                }
                match m.email.as_ref().and_then(|e| by_email.get(e)) {
                    Some((id, _)) if member_of.contains(id) => {
                        errors.push(row_error(
                            m,
                            "email",
                            UserErrorCode::Taken,
                            "this email is already a member of the association under another externalId",
                        ));
                    }
                    Some((id, scope)) => plan.link.push((i, *id, scope.clone())),
                    None => plan.create.push(i),
                }
            }
        }
    }
    if req.mode == SyncMode::FullReplace {
        // Rows skipped for errors still name members that exist: they are not missing. A
        // row without a readable externalId could be anyone, so then nobody is deactivated.
        let unidentified: Vec<usize> = errors
            .iter()
            .filter(|e| e.external_id.as_deref().is_none_or(|id| id.trim().is_empty()))
            .map(|e| e.index)
            .collect();
        for e in &errors {
            if let Some(id) = &e.external_id {
                present.insert(id.trim());
            }
        }
        if let Some(&first) = unidentified.first() {
            errors.push(RowError {
                index: first,
                external_id: None,
                field: "externalId".to_owned(),
                code: UserErrorCode::NotAllowed,
                message: format!(
                    "{} row(s) have no readable externalId, so this full replace cannot tell who is missing \
                     and deactivated no one; fix those rows and send the list again",
                    unidentified.len()
                ),
            });
        } else {
            plan.deactivate.extend(
                existing
                    .iter()
                    .filter(|m| {
                        m.status == MembershipStatus::Active.as_str() && !present.contains(m.external_id.as_str())
                    })
                    .cloned(),
            );
        }
    }
    counts.created = plan.create.len() + plan.link.len();
    counts.deactivated = plan.deactivate.len();
    counts.reactivated = plan.reactivate.len();
    errors.sort_by_key(|e| e.index);
    let mut failed: Vec<usize> = errors.iter().map(|e| e.index).collect();
    failed.dedup();
    counts.failed = failed.len();

    if req.dry_run {
        txn.rollback().await?;
        return Ok(SyncReport { counts, user_errors: errors, run: None, dry_run: true, replayed: false });
    }
    let entries = apply(&txn, req.association_id, members, &plan).await?;
    let run = sync_run::ActiveModel {
        id: NotSet,
        association_id: Set(req.association_id),
        actor: Set(viewer.subject().unwrap_or("anonymous").chars().take(128).collect()),
        mode: Set(req.mode.as_str().to_owned()),
        source: Set(req.source.as_str().to_owned()),
        received: Set(count(counts.received)),
        created: Set(count(counts.created)),
        updated: Set(count(counts.updated)),
        unchanged: Set(count(counts.unchanged)),
        deactivated: Set(count(counts.deactivated)),
        reactivated: Set(count(counts.reactivated)),
        failed: Set(count(counts.failed)),
        user_errors: Set(serde_json::to_string(&errors).map_err(|e| ApiError::Internal(e.into()))?),
        idempotency_key: Set(req.idempotency_key.clone()),
        request_hash: Set(Some(hash.clone())),
        started_at: Set(started_at),
        finished_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    journal::record(&txn, viewer, entries).await?;
    txn.commit().await?;
    Ok(SyncReport { counts, user_errors: errors, run: Some(run), dry_run: false, replayed: false })
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The stored result of an earlier sync with this idempotency key, if any; `CONFLICT` when
/// that sync had a different input. Expired keys are forgotten first.
async fn replay(
    txn: &DatabaseTransaction,
    req: &SyncRequest,
    key: &str,
    hash: &str,
    options: SyncOptions,
    at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Option<SyncReport>> {
    let ttl = Duration::from_std(options.idempotency_ttl).unwrap_or(Duration::days(1));
    if !req.dry_run {
        sync_run::Entity::update_many()
            .col_expr(sync_run::Column::IdempotencyKey, Expr::value(Option::<String>::None))
            .filter(sync_run::Column::AssociationId.eq(req.association_id))
            .filter(sync_run::Column::IdempotencyKey.eq(key))
            .filter(sync_run::Column::StartedAt.lt(at - ttl))
            .exec(txn)
            .await?;
    }
    let Some(run) = sync_run::Entity::find()
        .filter(sync_run::Column::AssociationId.eq(req.association_id))
        .filter(sync_run::Column::IdempotencyKey.eq(key))
        .filter(sync_run::Column::StartedAt.gte(at - ttl))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    if run.request_hash.as_deref() != Some(hash) {
        return Err(ApiError::Conflict(
            "this idempotency key was already used with a different input; use a new key for a new request".into(),
        ));
    }
    Ok(Some(report_of(run, true)))
}

/// The report a stored run gives.
pub fn report_of(run: sync_run::Model, replayed: bool) -> SyncReport {
    let n = |v: i32| usize::try_from(v).unwrap_or(0);
    SyncReport {
        counts: Counts {
            received: n(run.received),
            created: n(run.created),
            updated: n(run.updated),
            unchanged: n(run.unchanged),
            deactivated: n(run.deactivated),
            reactivated: n(run.reactivated),
            failed: n(run.failed),
        },
        user_errors: serde_json::from_str(&run.user_errors).unwrap_or_default(),
        run: Some(run),
        dry_run: false,
        replayed,
    }
}

/// `SELECT librarian_id FROM memberships WHERE association_id = ..` (provisioned only).
fn members_of(association_id: i32, provisioned_only: bool) -> sea_orm::sea_query::SelectStatement {
    let mut q = sea_orm::sea_query::Query::select();
    q.column(membership::Column::LibrarianId)
        .from(membership::Entity)
        .and_where(membership::Column::AssociationId.eq(association_id));
    if provisioned_only {
        q.and_where(membership::Column::Provisioned.eq(true));
    }
    q.to_owned()
}

/// The librarians this association provisioned, with their languages and interests.
async fn load_provisioned(txn: &DatabaseTransaction, association_id: i32) -> ApiResult<HashMap<i32, Current>> {
    let mut current: HashMap<i32, Current> = HashMap::new();
    let mut rows = librarian::Entity::find()
        .filter(librarian::Column::Id.in_subquery(members_of(association_id, true)))
        .stream(txn)
        .await?;
    while let Some(row) = rows.try_next().await? {
        current.insert(row.id, Current { row, languages: Vec::new(), interests: Vec::new() });
    }
    drop(rows);
    let mut languages = librarian_language::Entity::find()
        .filter(librarian_language::Column::LibrarianId.in_subquery(members_of(association_id, true)))
        .into_tuple::<(i32, String)>()
        .stream(txn)
        .await?;
    while let Some((id, language)) = languages.try_next().await? {
        if let Some(c) = current.get_mut(&id) {
            c.languages.push(language);
        }
    }
    drop(languages);
    let mut interests = librarian_interest::Entity::find()
        .filter(librarian_interest::Column::LibrarianId.in_subquery(members_of(association_id, true)))
        .into_tuple::<(i32, String)>()
        .stream(txn)
        .await?;
    while let Some((id, interest)) = interests.try_next().await? {
        if let Some(c) = current.get_mut(&id) {
            c.interests.push(interest);
        }
    }
    drop(interests);
    Ok(current)
}

/// Librarians by email: their id and feed scope.
async fn librarians_by_email(txn: &DatabaseTransaction, emails: &[String]) -> ApiResult<HashMap<String, (i32, Scope)>> {
    let mut found = HashMap::new();
    for chunk in emails.chunks(chunk(1)) {
        let rows = librarian::Entity::find()
            .select_only()
            .columns([
                librarian::Column::Email,
                librarian::Column::Id,
                librarian::Column::CountryCode,
                librarian::Column::ListedInDirectory,
            ])
            .filter(librarian::Column::Email.is_in(chunk.iter().map(String::as_str)))
            .into_tuple::<(String, i32, String, bool)>()
            .all(txn)
            .await?;
        for (email, id, country, listed) in rows {
            let scope = Scope { librarian_id: Some(id), country_code: Some(country), listed, ..Scope::default() };
            found.insert(email, (id, scope));
        }
    }
    Ok(found)
}

/// Writes the plan; returns the change-log entries to record.
async fn apply(
    txn: &DatabaseTransaction,
    association_id: i32,
    members: &[Member],
    plan: &Plan,
) -> ApiResult<Vec<Entry>> {
    let at = now();
    let mut entries = Vec::new();

    // New librarians, then their languages and interests.
    let mut created: Vec<(usize, i32, Scope)> = Vec::with_capacity(plan.create.len());
    for batch in plan.create.chunks(chunk(14)) {
        let rows = batch.iter().map(|&i| {
            let m = &members[i];
            librarian::ActiveModel {
                id: NotSet,
                full_name: Set(m.full_name.clone().unwrap_or_default()),
                email: Set(m.email.clone().unwrap_or_default()),
                country_code: Set(m.country_code.clone().unwrap_or_default()),
                institution: Set(m.institution.clone().flatten()),
                sector: Set(m.sector.unwrap_or(Sector::Other).as_str().to_owned()),
                job_title: Set(m.job_title.clone().flatten()),
                years_experience: Set(m.years_experience.unwrap_or(0)),
                bio: Set(None),
                listed_in_directory: Set(false),
                erased_at: Set(None),
                version: Set(1),
                created_at: Set(at),
                updated_at: Set(at),
            }
        });
        librarian::Entity::insert_many(rows).exec_without_returning(txn).await?;
        let emails: Vec<String> = batch.iter().filter_map(|&i| members[i].email.clone()).collect();
        let ids = librarians_by_email(txn, &emails).await?;
        for &i in batch {
            let email = members[i].email.as_deref().unwrap_or_default();
            let (id, scope) = ids
                .get(email)
                .cloned()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("inserted librarian not found")))?;
            created.push((i, id, scope));
        }
    }
    // Updated profiles, one statement each (a sync changes few of them). The librarian row
    // is locked before its languages and interests, as every other writer does, so two
    // writers of one librarian cannot deadlock.
    for Update { before, after, .. } in &plan.update {
        // Every field of `after` is written (`reset_all` marks them set; a converted model
        // alone would only mark them unchanged), except the key and the creation time.
        let mut model = librarian::ActiveModel::from(after.clone()).reset_all();
        model.id = NotSet;
        model.created_at = NotSet;
        model.version = Set(before.version + 1);
        model.updated_at = Set(at);
        let updated = librarian::Entity::update_many()
            .set(model)
            .filter(librarian::Column::Id.eq(before.id))
            .filter(librarian::Column::Version.eq(before.version))
            .exec(txn)
            .await?;
        if updated.rows_affected != 1 {
            // The librarian changed after this sync read them: start over from fresh reads.
            return Err(ApiError::Conflict(CHANGED_MEANWHILE.into()));
        }
    }

    // Tags: all of a new librarian's, and of an updated one only the lists that changed.
    let updated_tags: Vec<TagRow> = plan
        .update
        .iter()
        .map(|u| {
            let m = &members[u.member];
            let languages = m.languages.as_deref().filter(|_| u.tags.languages);
            (u.before.id, languages, m.interests.as_deref().filter(|_| u.tags.interests))
        })
        .collect();
    replace_tags(txn, &updated_tags).await?;
    let new_tags: Vec<TagRow> = created
        .iter()
        .map(|(i, id, _)| (*id, members[*i].languages.as_deref(), members[*i].interests.as_deref()))
        .collect();
    insert_tags(txn, &new_tags).await?;

    // New memberships: provisioned (and confirmed) for created librarians; pending, with
    // what was sent, for linked ones.
    let new_memberships: Vec<(usize, i32, bool, &Scope)> = created
        .iter()
        .map(|(i, id, scope)| (*i, *id, true, scope))
        .chain(plan.link.iter().map(|(i, id, scope)| (*i, *id, false, scope)))
        .collect();
    for batch in new_memberships.chunks(chunk(12)) {
        let rows = batch.iter().map(|(i, id, provisioned, _)| membership::ActiveModel {
            id: NotSet,
            association_id: Set(association_id),
            librarian_id: Set(*id),
            external_id: Set(members[*i].external_id.clone()),
            status: Set(MembershipStatus::Active.as_str().to_owned()),
            deactivated_at: Set(None),
            version: Set(1),
            provisioned: Set(*provisioned),
            consent: Set(if *provisioned { MembershipConsent::Confirmed } else { MembershipConsent::Pending }
                .as_str()
                .to_owned()),
            sent: Set((!*provisioned).then(|| SentMember::default().with(&members[*i]).to_json())),
            created_at: Set(at),
            updated_at: Set(at),
        });
        membership::Entity::insert_many(rows).exec_without_returning(txn).await?;
        let external: Vec<&str> = batch.iter().map(|(i, ..)| members[*i].external_id.as_str()).collect();
        let ids: HashMap<String, i32> = membership::Entity::find()
            .select_only()
            .columns([membership::Column::ExternalId, membership::Column::Id])
            .filter(membership::Column::AssociationId.eq(association_id))
            .filter(membership::Column::ExternalId.is_in(external))
            .into_tuple::<(String, i32)>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        for (i, librarian_id, provisioned, scope) in batch {
            let id = ids
                .get(&members[*i].external_id)
                .copied()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("inserted membership not found")))?;
            // A created librarian comes into the association's view; a linked one does not
            // until they confirm, and the pending membership is told to the association
            // and the librarian only (no country: the ambassadors' feeds do not carry it).
            let operation = Operation::Upsert;
            if *provisioned {
                entries.push(Entry::new(NodeKind::Librarian, *librarian_id, operation, (*scope).clone()));
            }
            let consent = if *provisioned { MembershipConsent::Confirmed } else { MembershipConsent::Pending };
            let row = membership::Model {
                id,
                association_id,
                librarian_id: *librarian_id,
                external_id: String::new(),
                status: String::new(),
                deactivated_at: None,
                version: 1,
                provisioned: *provisioned,
                consent: consent.as_str().to_owned(),
                sent: None,
                created_at: at,
                updated_at: at,
            };
            entries.push(Entry::new(NodeKind::Membership, id, operation, Scope::membership(&row, scope)));
        }
    }

    // Status changes, in batches.
    for (rows, status, deactivated_at, operation) in [
        (&plan.reactivate, MembershipStatus::Active, None, Operation::Upsert),
        (&plan.deactivate, MembershipStatus::Deactivated, Some(at), Operation::Deactivate),
    ] {
        for batch in rows.chunks(chunk(1)) {
            membership::Entity::update_many()
                .col_expr(membership::Column::Status, Expr::value(status.as_str()))
                .col_expr(membership::Column::DeactivatedAt, Expr::value(deactivated_at))
                .col_expr(membership::Column::Version, Expr::col(membership::Column::Version).add(1))
                .col_expr(membership::Column::UpdatedAt, Expr::value(at))
                .filter(membership::Column::Id.is_in(batch.iter().map(|m| m.id)))
                .exec(txn)
                .await?;
        }
        let scopes = scopes_of(txn, rows.iter().map(|m| m.librarian_id)).await?;
        for m in rows {
            let scope = scopes.get(&m.librarian_id).cloned().unwrap_or_default();
            entries.push(Entry::new(NodeKind::Membership, m.id, operation, Scope::membership(m, &scope)));
        }
    }

    // What was sent for links, one statement each (a sync changes few of them).
    let resent: Vec<i32> = plan.resend.iter().map(|(id, _)| *id).collect();
    for (id, sent) in &plan.resend {
        membership::Entity::update_many()
            .col_expr(membership::Column::Sent, Expr::value(sent.clone()))
            .col_expr(membership::Column::Version, Expr::col(membership::Column::Version).add(1))
            .col_expr(membership::Column::UpdatedAt, Expr::value(at))
            .filter(membership::Column::Id.eq(*id))
            .exec(txn)
            .await?;
    }
    for batch in resent.chunks(chunk(1)) {
        let rows = membership::Entity::find().filter(membership::Column::Id.is_in(batch.to_vec())).all(txn).await?;
        let scopes = scopes_of(txn, rows.iter().map(|m| m.librarian_id)).await?;
        for m in rows {
            let scope = scopes.get(&m.librarian_id).cloned().unwrap_or_default();
            entries.push(Entry::new(NodeKind::Membership, m.id, Operation::Upsert, Scope::membership(&m, &scope)));
        }
    }

    // Updated librarians; a move between countries also moves their memberships' scope.
    let mut moved: HashMap<i32, Scope> = HashMap::new();
    for Update { before, after, .. } in &plan.update {
        let scope = Scope::changed(before, after);
        if scope.previous_country_code.is_some() {
            moved.insert(before.id, scope.clone());
        }
        entries.push(Entry::new(NodeKind::Librarian, before.id, Operation::Upsert, scope));
    }
    if !moved.is_empty() {
        let ids: Vec<i32> = moved.keys().copied().collect();
        for batch in ids.chunks(chunk(1)) {
            let rows = membership::Entity::find()
                .filter(membership::Column::LibrarianId.is_in(batch.to_vec()))
                .all(txn)
                .await?;
            for m in rows {
                entries.push(Entry::new(
                    NodeKind::Membership,
                    m.id,
                    Operation::Upsert,
                    Scope::membership(&m, &moved[&m.librarian_id]),
                ));
            }
        }
    }
    Ok(entries)
}

/// The feed scope of librarians by id.
async fn scopes_of(txn: &DatabaseTransaction, ids: impl Iterator<Item = i32>) -> ApiResult<HashMap<i32, Scope>> {
    let ids: Vec<i32> = ids.collect::<HashSet<_>>().into_iter().collect();
    let mut scopes = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(chunk(1)) {
        let rows = librarian::Entity::find()
            .select_only()
            .columns([librarian::Column::Id, librarian::Column::CountryCode, librarian::Column::ListedInDirectory])
            .filter(librarian::Column::Id.is_in(batch.to_vec()))
            .into_tuple::<(i32, String, bool)>()
            .all(txn)
            .await?;
        for (id, country, listed) in rows {
            scopes
                .insert(id, Scope { librarian_id: Some(id), country_code: Some(country), listed, ..Scope::default() });
        }
    }
    Ok(scopes)
}

/// Replaces the languages and interests a member row gives (the ones it leaves out stay).
/// A librarian's id and the tag lists to write (`None`: leave that list alone).
type TagRow<'a> = (i32, Option<&'a [String]>, Option<&'a [String]>);

async fn replace_tags(txn: &DatabaseTransaction, rows: &[TagRow<'_>]) -> ApiResult<()> {
    let languages: Vec<i32> = rows.iter().filter(|r| r.1.is_some()).map(|r| r.0).collect();
    let interests: Vec<i32> = rows.iter().filter(|r| r.2.is_some()).map(|r| r.0).collect();
    for batch in languages.chunks(chunk(1)) {
        librarian_language::Entity::delete_many()
            .filter(librarian_language::Column::LibrarianId.is_in(batch.to_vec()))
            .exec(txn)
            .await?;
    }
    for batch in interests.chunks(chunk(1)) {
        librarian_interest::Entity::delete_many()
            .filter(librarian_interest::Column::LibrarianId.is_in(batch.to_vec()))
            .exec(txn)
            .await?;
    }
    insert_tags(txn, rows).await
}

async fn insert_tags(txn: &DatabaseTransaction, rows: &[TagRow<'_>]) -> ApiResult<()> {
    let languages: Vec<librarian_language::ActiveModel> = rows
        .iter()
        .flat_map(|(id, languages, _)| {
            languages
                .iter()
                .flat_map(|l| l.iter())
                .map(|l| librarian_language::ActiveModel { librarian_id: Set(*id), language: Set(l.clone()) })
        })
        .collect();
    for batch in languages.chunks(chunk(2)) {
        librarian_language::Entity::insert_many(batch.to_vec()).exec_without_returning(txn).await?;
    }
    let interests: Vec<librarian_interest::ActiveModel> = rows
        .iter()
        .flat_map(|(id, _, interests)| {
            interests
                .iter()
                .flat_map(|t| t.iter())
                .map(|t| librarian_interest::ActiveModel { librarian_id: Set(*id), interest: Set(t.clone()) })
        })
        .collect();
    for batch in interests.chunks(chunk(2)) {
        librarian_interest::Entity::insert_many(batch.to_vec()).exec_without_returning(txn).await?;
    }
    Ok(())
}
