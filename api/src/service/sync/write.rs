//! The writes of a sync: its plan, applied in batched statements, with the change-log
//! entries it leaves.

use std::collections::{HashMap, HashSet};

use entities::{librarian, librarian_interest, librarian_language, membership};
use futures::TryStreamExt;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::plan::{Plan, Update};
use super::rows::{Current, Member, SentMember};
use super::{CHANGED_MEANWHILE, chunk};
use crate::db::rows_per_insert;
use crate::domain::{MembershipConsent, MembershipStatus, NodeKind};
use crate::error::{ApiError, ApiResult};
use crate::service::journal::{Entry, Operation, Scope};
use crate::service::now;

/// `SELECT librarian_id FROM memberships WHERE association_id = ..` (provisioned only).
pub(super) fn members_of(association_id: i32, provisioned_only: bool) -> sea_orm::sea_query::SelectStatement {
    let mut q = sea_orm::sea_query::Query::select();
    q.column(membership::Column::LibrarianId)
        .from(membership::Entity)
        .and_where(membership::Column::AssociationId.eq(association_id));
    if provisioned_only {
        q.and_where(membership::Column::Provisioned.eq(true));
    }
    q.to_owned()
}

/// Which librarians a sync reads: every one the association provisioned, or these.
pub(super) enum Whom {
    Provisioned(i32),
    Ids(Vec<i32>),
}

impl Whom {
    fn condition(&self, column: impl ColumnTrait) -> sea_orm::Condition {
        match self {
            Self::Provisioned(association_id) => {
                sea_orm::Condition::all().add(column.in_subquery(members_of(*association_id, true)))
            }
            Self::Ids(ids) => sea_orm::Condition::all().add(column.is_in(ids.clone())),
        }
    }
}

/// The librarians the association provisioned (or those of `whom`), with their languages
/// and interests.
pub(super) async fn load_provisioned(txn: &DatabaseTransaction, whom: &Whom) -> ApiResult<HashMap<i32, Current>> {
    let mut current: HashMap<i32, Current> = HashMap::new();
    let mut rows = librarian::Entity::find().filter(whom.condition(librarian::Column::Id)).stream(txn).await?;
    while let Some(row) = rows.try_next().await? {
        current.insert(row.id, Current { row, languages: Vec::new(), interests: Vec::new() });
    }
    drop(rows);
    let mut languages = librarian_language::Entity::find()
        .filter(whom.condition(librarian_language::Column::LibrarianId))
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
        .filter(whom.condition(librarian_interest::Column::LibrarianId))
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
pub(super) async fn librarians_by_email(
    txn: &DatabaseTransaction,
    emails: &[String],
) -> ApiResult<HashMap<String, (i32, Scope)>> {
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
pub(super) async fn apply(
    txn: &DatabaseTransaction,
    association_id: i32,
    members: &[Member],
    plan: &Plan,
) -> ApiResult<Vec<Entry>> {
    let at = now();
    let mut entries = Vec::new();
    let created = create_librarians(txn, members, plan, at).await?;
    update_librarians(txn, plan, at).await?;
    write_tags(txn, members, plan, &created).await?;
    insert_memberships(txn, association_id, members, plan, &created, at, &mut entries).await?;
    change_statuses(txn, plan, at, &mut entries).await?;
    rewrite(txn, plan, at, &mut entries).await?;
    librarian_entries(txn, plan, &mut entries).await?;
    Ok(entries)
}

type At = chrono::DateTime<chrono::Utc>;

/// New librarians, in batches: (member, librarian id, feed scope) of each.
async fn create_librarians(
    txn: &DatabaseTransaction,
    members: &[Member],
    plan: &Plan,
    at: At,
) -> ApiResult<Vec<(usize, i32, Scope)>> {
    let mut created: Vec<(usize, i32, Scope)> = Vec::with_capacity(plan.create.len());
    for batch in plan.create.chunks(rows_per_insert::<librarian::Entity>()) {
        let rows = batch.iter().map(|&i| members[i].profile.new_librarian(at));
        librarian::Entity::insert_many(rows).exec_without_returning(txn).await?;
        let emails: Vec<String> = batch.iter().filter_map(|&i| members[i].profile.email.clone()).collect();
        let ids = librarians_by_email(txn, &emails).await?;
        for &i in batch {
            let email = members[i].profile.email.as_deref().unwrap_or_default();
            let (id, scope) = ids
                .get(email)
                .cloned()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("inserted librarian not found")))?;
            created.push((i, id, scope));
        }
    }
    Ok(created)
}

/// Updated profiles, one statement each (a sync changes few of them). The librarian row is
/// locked before its languages and interests, as every other writer does, so two writers
/// of one librarian cannot deadlock.
async fn update_librarians(txn: &DatabaseTransaction, plan: &Plan, at: At) -> ApiResult<()> {
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
            return Err(ApiError::Contended(CHANGED_MEANWHILE.into()));
        }
    }

    Ok(())
}

/// Tags: all of a new librarian's, and of an updated one only the lists that changed.
async fn write_tags(
    txn: &DatabaseTransaction,
    members: &[Member],
    plan: &Plan,
    created: &[(usize, i32, Scope)],
) -> ApiResult<()> {
    let updated_tags: Vec<TagRow> = plan
        .update
        .iter()
        .map(|u| {
            let m = &members[u.member];
            let languages = m.profile.languages.as_deref().filter(|_| u.tags.languages);
            (u.before.id, languages, m.profile.interests.as_deref().filter(|_| u.tags.interests))
        })
        .collect();
    replace_tags(txn, &updated_tags).await?;
    let new_tags: Vec<TagRow> = created
        .iter()
        .map(|(i, id, _)| (*id, members[*i].profile.languages.as_deref(), members[*i].profile.interests.as_deref()))
        .collect();
    insert_tags(txn, &new_tags).await?;
    Ok(())
}

/// The row of a new membership of `member`: provisioned (and confirmed) when the sync
/// created its librarian; pending, with what was sent, when it links someone.
fn new_membership(
    association_id: i32,
    librarian_id: i32,
    member: &Member,
    provisioned: bool,
    at: At,
) -> membership::ActiveModel {
    let status = if member.active { MembershipStatus::Active } else { MembershipStatus::Deactivated };
    let consent = if provisioned { MembershipConsent::Confirmed } else { MembershipConsent::Pending };
    membership::ActiveModel {
        id: NotSet,
        association_id: Set(association_id),
        librarian_id: Set(librarian_id),
        external_id: Set(member.external_id.clone()),
        status: Set(status.as_str().to_owned()),
        deactivated_at: Set((!member.active).then_some(at)),
        version: Set(1),
        provisioned: Set(provisioned),
        consent: Set(consent.as_str().to_owned()),
        sent: Set((!provisioned).then(|| SentMember::default().with(member).to_json())),
        directory: Set(member.directory.as_ref().map(|d| d.attributes.clone())),
        user_name: Set(member.directory.as_ref().and_then(|d| d.user_name.clone())),
        removed_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

/// New memberships: provisioned (and confirmed) for created librarians; pending, with what
/// was sent, for linked ones.
#[allow(clippy::too_many_arguments)]
async fn insert_memberships(
    txn: &DatabaseTransaction,
    association_id: i32,
    members: &[Member],
    plan: &Plan,
    created: &[(usize, i32, Scope)],
    at: At,
    entries: &mut Vec<Entry>,
) -> ApiResult<()> {
    let new_memberships: Vec<(usize, i32, bool, &Scope)> = created
        .iter()
        .map(|(i, id, scope)| (*i, *id, true, scope))
        .chain(plan.link.iter().map(|(i, id, scope)| (*i, *id, false, scope)))
        .collect();
    for batch in new_memberships.chunks(rows_per_insert::<membership::Entity>()) {
        let rows = batch
            .iter()
            .map(|(i, id, provisioned, _)| new_membership(association_id, *id, &members[*i], *provisioned, at));
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
                directory: None,
                user_name: None,
                removed_at: None,
                created_at: at,
                updated_at: at,
            };
            entries.push(Entry::new(NodeKind::Membership, id, operation, Scope::membership(&row, scope)));
        }
    }

    Ok(())
}

/// Reactivations and deactivations, in batches.
async fn change_statuses(txn: &DatabaseTransaction, plan: &Plan, at: At, entries: &mut Vec<Entry>) -> ApiResult<()> {
    for (rows, status, deactivated_at, operation) in [
        (&plan.reactivate, MembershipStatus::Active, None, Operation::Upsert),
        (&plan.deactivate, MembershipStatus::Deactivated, Some(at), Operation::Deactivate),
    ] {
        for batch in rows.chunks(chunk(1)) {
            let mut update = membership::Entity::update_many();
            if status == MembershipStatus::Active {
                // A member back in the association is back in its directory too.
                update = update.col_expr(membership::Column::RemovedAt, Expr::value(Option::<At>::None));
            }
            update
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

    Ok(())
}

/// Memberships' own records, one statement each (a sync changes few of them).
async fn rewrite(txn: &DatabaseTransaction, plan: &Plan, at: At, entries: &mut Vec<Entry>) -> ApiResult<()> {
    for change in &plan.rewrite {
        let mut update = membership::Entity::update_many()
            .col_expr(membership::Column::Version, Expr::col(membership::Column::Version).add(1))
            .col_expr(membership::Column::UpdatedAt, Expr::value(at))
            .filter(membership::Column::Id.eq(change.id));
        if let Some(sent) = &change.sent {
            update = update.col_expr(membership::Column::Sent, Expr::value(sent.clone()));
        }
        if let Some(directory) = &change.directory {
            update = update
                .col_expr(membership::Column::Directory, Expr::value(directory.attributes.clone()))
                .col_expr(membership::Column::UserName, Expr::value(directory.user_name.clone()));
        }
        if let Some(external_id) = &change.external_id {
            update = update.col_expr(membership::Column::ExternalId, Expr::value(external_id.clone()));
        }
        if change.removed {
            update = update.col_expr(membership::Column::RemovedAt, Expr::value(Some(at)));
        } else if change.restored {
            update = update.col_expr(membership::Column::RemovedAt, Expr::value(Option::<At>::None));
        }
        update.exec(txn).await?;
    }
    let rewritten: Vec<i32> = plan.rewrite.iter().map(|r| r.id).collect();
    for batch in rewritten.chunks(chunk(1)) {
        let rows = membership::Entity::find().filter(membership::Column::Id.is_in(batch.to_vec())).all(txn).await?;
        let scopes = scopes_of(txn, rows.iter().map(|m| m.librarian_id)).await?;
        for m in rows {
            let scope = scopes.get(&m.librarian_id).cloned().unwrap_or_default();
            entries.push(Entry::new(NodeKind::Membership, m.id, Operation::Upsert, Scope::membership(&m, &scope)));
        }
    }

    Ok(())
}

/// Entries for updated librarians; a move between countries also moves their memberships'
/// scope.
async fn librarian_entries(txn: &DatabaseTransaction, plan: &Plan, entries: &mut Vec<Entry>) -> ApiResult<()> {
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
    Ok(())
}

/// The feed scope of librarians by id.
pub(super) async fn scopes_of(
    txn: &DatabaseTransaction,
    ids: impl Iterator<Item = i32>,
) -> ApiResult<HashMap<i32, Scope>> {
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
pub(super) type TagRow<'a> = (i32, Option<&'a [String]>, Option<&'a [String]>);

pub(super) async fn replace_tags(txn: &DatabaseTransaction, rows: &[TagRow<'_>]) -> ApiResult<()> {
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

pub(super) async fn insert_tags(txn: &DatabaseTransaction, rows: &[TagRow<'_>]) -> ApiResult<()> {
    let languages: Vec<librarian_language::ActiveModel> = rows
        .iter()
        .flat_map(|(id, languages, _)| {
            languages
                .iter()
                .flat_map(|l| l.iter())
                .map(|l| librarian_language::ActiveModel { librarian_id: Set(*id), language: Set(l.clone()) })
        })
        .collect();
    for batch in languages.chunks(rows_per_insert::<librarian_language::Entity>()) {
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
    for batch in interests.chunks(rows_per_insert::<librarian_interest::Entity>()) {
        librarian_interest::Entity::insert_many(batch.to_vec()).exec_without_returning(txn).await?;
    }
    Ok(())
}
