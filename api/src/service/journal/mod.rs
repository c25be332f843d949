//! What every write leaves behind, in the write's own transaction: an entry in the change
//! log (which partners follow) and, for admin writes and erasures, an audit entry.
//!
//! `programme` builds the entries of programme objects (applications, pairings,
//! certificates, engagement reports) with the scope their readers are decided by, and
//! re-announces what a librarian owns when a write changes who may see them.

pub mod programme;

use entities::{audit_log, change_log, change_log_member, librarian, membership};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::{GlobalId, NodeKind};
use crate::error::ApiResult;
use crate::service::now;

/// The operation a change-log entry records (the feed's `ChangeOperation`).
pub use crate::domain::ChangeOperation as Operation;

fn actor(viewer: &Viewer) -> String {
    viewer.subject().unwrap_or("anonymous").chars().take(128).collect()
}

/// A librarian an entry concerns besides its own scope (the members of a pairing), or a
/// librarian who hears of a partner (`partner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub librarian_id: i32,
    /// Their country at the write, and before it when the write moved them (`None` on a
    /// partner row: partners' ambassadors do not hear of it).
    pub country_code: Option<String>,
    pub previous_country_code: Option<String>,
    pub partner: bool,
}

/// Who may see a change-log entry: the feed filters on this in SQL (`auth::policy::changes`).
/// An entry is shown to a caller who may see the entity now or could see it at the write,
/// so a follower also learns when something leaves its view.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The librarian the entity belongs to (a librarian, their membership, application,
    /// certificate or engagement report); `None` for programme facts and pairings.
    pub librarian_id: Option<i32>,
    /// The association of a membership.
    pub association_id: Option<i32>,
    /// The librarian's country after the write, and before it when the write moved them.
    pub country_code: Option<String>,
    pub previous_country_code: Option<String>,
    /// Whether the librarian was in the directory before or after the write; for a
    /// discussion topic, whether it is published (announced to non-admins).
    pub listed: bool,
    /// The members of a pairing, or the partners who hear of a librarian.
    pub members: Vec<Member>,
}

impl Scope {
    /// A public programme fact.
    pub fn public() -> Self {
        Self::default()
    }

    /// A librarian as they are.
    pub fn librarian(row: &librarian::Model) -> Self {
        Self {
            librarian_id: Some(row.id),
            country_code: Some(row.country_code.clone()),
            listed: row.listed_in_directory,
            ..Self::default()
        }
    }

    /// A librarian changed from `before` to `after`.
    pub fn changed(before: &librarian::Model, after: &librarian::Model) -> Self {
        Self {
            previous_country_code: (before.country_code != after.country_code).then(|| before.country_code.clone()),
            listed: before.listed_in_directory || after.listed_in_directory,
            ..Self::librarian(after)
        }
    }

    /// A membership of a librarian with this scope. One the librarian has not confirmed is
    /// followed by the association and the librarian only: without the country, the
    /// ambassadors of the librarian's country do not hear of an association's claim.
    pub fn membership(row: &membership::Model, librarian: &Scope) -> Self {
        let confirmed = row.consent == crate::domain::MembershipConsent::Confirmed.as_str();
        Self {
            librarian_id: Some(row.librarian_id),
            association_id: Some(row.association_id),
            country_code: librarian.country_code.clone().filter(|_| confirmed),
            previous_country_code: librarian.previous_country_code.clone().filter(|_| confirmed),
            listed: false,
            members: Vec::new(),
        }
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: NodeKind,
    pub key: i32,
    pub operation: Operation,
    pub scope: Scope,
    /// Whether the write changed who may see what the librarian owns, so that [`record`]
    /// re-announces it (applications, certificates, engagement reports, pairings) with
    /// this entry's scope. Set for a move between countries and an erasure.
    pub belongings: bool,
}

impl Entry {
    pub fn new(kind: NodeKind, key: i32, operation: Operation, scope: Scope) -> Self {
        let belongings =
            kind == NodeKind::Librarian && (scope.previous_country_code.is_some() || operation == Operation::Erase);
        Self { kind, key, operation, scope, belongings }
    }

    /// Re-announce what the librarian owns as well (see [`Entry::belongings`]).
    #[must_use]
    pub fn with_belongings(mut self) -> Self {
        self.belongings = self.kind == NodeKind::Librarian;
        self
    }
}

/// An arbitrary constant naming the change log's advisory lock on PostgreSQL.
const FEED_LOCK: i64 = 0x1A7E_4C0D;

/// Serialises the writers of the change log until their transactions end, so entries
/// become visible in the order of their ids and a reader never sees entry `n + 1` while
/// `n` is still uncommitted (a follower would skip it for good). PostgreSQL only: SQLite
/// has one writer at a time already. Write transactions therefore record their changes
/// last, after their other writes, which keeps the lock short and deadlock-free.
pub(crate) async fn lock_feed<C: ConnectionTrait>(db: &C) -> ApiResult<()> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [FEED_LOCK.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Rows per INSERT into the change log (10 columns, under either database's parameter limit).
const CHUNK: usize = 2_500;

/// Appends the entries to the change log, in order, followed by the re-announcements of
/// what moved or erased librarians own. Call it inside the write's transaction, after its
/// other writes.
///
/// # Errors
/// Database errors.
pub async fn record<C: ConnectionTrait>(db: &C, viewer: &Viewer, mut entries: Vec<Entry>) -> ApiResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // Everything read from here on is read under the lock (see `programme`).
    lock_feed(db).await?;
    let owners: Vec<&Entry> = entries.iter().filter(|e| e.belongings).collect();
    if !owners.is_empty() {
        let extra = programme::belongings(db, &owners).await?;
        entries.extend(extra);
    }
    programme::resolve(db, &mut entries).await?;
    let actor = actor(viewer);
    let at = now();
    for chunk in entries.chunks(CHUNK) {
        let with_members = chunk.iter().any(|e| !e.scope.members.is_empty());
        let before = if with_members { last_id(db).await? } else { 0 };
        let rows = chunk.iter().map(|e| change_log::ActiveModel {
            id: NotSet,
            entity_type: Set(e.kind.name().to_owned()),
            entity_id: Set(GlobalId::encode(e.kind, e.key)),
            operation: Set(e.operation.as_str().to_owned()),
            actor: Set(Some(actor.clone())),
            at: Set(at),
            entity_key: Set(e.key),
            librarian_id: Set(e.scope.librarian_id),
            association_id: Set(e.scope.association_id),
            country_code: Set(e.scope.country_code.clone()),
            previous_country_code: Set(e.scope.previous_country_code.clone()),
            listed: Set(e.scope.listed),
        });
        change_log::Entity::insert_many(rows).exec_without_returning(db).await?;
        if with_members {
            record_members(db, before, chunk).await?;
        }
    }
    Ok(())
}

async fn last_id<C: ConnectionTrait>(db: &C) -> ApiResult<i64> {
    let last: Option<i64> = change_log::Entity::find()
        .select_only()
        .column(change_log::Column::Id)
        .order_by_desc(change_log::Column::Id)
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.unwrap_or(0))
}

/// Rows per INSERT into `change_log_members` (5 columns).
const MEMBER_CHUNK: usize = 5_000;

/// Writes the member rows of the entries just inserted after `before`. Their ids are read
/// back in order: the writer holds the feed lock (PostgreSQL) or is the only writer
/// (SQLite), so the entries after `before` are this chunk's, which the check confirms.
async fn record_members<C: ConnectionTrait>(db: &C, before: i64, chunk: &[Entry]) -> ApiResult<()> {
    let stored: Vec<(i64, String)> = change_log::Entity::find()
        .select_only()
        .column(change_log::Column::Id)
        .column(change_log::Column::EntityId)
        .filter(change_log::Column::Id.gt(before))
        .order_by_asc(change_log::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let matches = stored.len() == chunk.len()
        && stored.iter().zip(chunk).all(|((_, id), e)| *id == GlobalId::encode(e.kind, e.key));
    if !matches {
        return Err(crate::error::ApiError::Internal(anyhow::anyhow!(
            "the change log holds {} entries after {before}, not the {} just written",
            stored.len(),
            chunk.len()
        )));
    }
    let rows: Vec<change_log_member::ActiveModel> = stored
        .iter()
        .zip(chunk)
        .flat_map(|((change_id, _), e)| {
            e.scope.members.iter().map(|m| change_log_member::ActiveModel {
                change_id: Set(*change_id),
                librarian_id: Set(m.librarian_id),
                country_code: Set(m.country_code.clone()),
                previous_country_code: Set(m.previous_country_code.clone()),
                partner: Set(m.partner),
            })
        })
        .collect();
    for part in rows.chunks(MEMBER_CHUNK) {
        change_log_member::Entity::insert_many(part.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Appends one entry to the change log (see [`record`]).
///
/// # Errors
/// Database errors.
pub async fn change<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    kind: NodeKind,
    key: i32,
    operation: Operation,
    scope: Scope,
) -> ApiResult<()> {
    record(db, viewer, vec![Entry::new(kind, key, operation, scope)]).await
}

/// [`audit`]s a write that librarians and associations make for themselves too, when an
/// admin made it (for someone): an admin's every write is in the audit log, the others'
/// are in the change log.
///
/// # Errors
/// Database errors.
pub async fn audit_admin<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    action: Action,
    kind: NodeKind,
    key: i32,
    details: serde_json::Value,
) -> ApiResult<()> {
    if viewer.is_admin() { audit(db, viewer, action, kind, key, details).await } else { Ok(()) }
}

/// Records who did `action` to the object, with `details` (the applied input).
///
/// # Errors
/// Database errors.
pub async fn audit<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    action: Action,
    kind: NodeKind,
    key: i32,
    details: serde_json::Value,
) -> ApiResult<()> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        actor_role: Set(format!("{:?}", viewer.role()).to_lowercase()),
        actor_subject: Set(actor(viewer)),
        action: Set(action.as_str().to_owned()),
        object_type: Set(kind.name().to_owned()),
        object_id: Set(GlobalId::encode(kind, key)),
        details: Set(details.to_string()),
        at: Set(now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}
