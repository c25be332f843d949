//! Batched lookups for every relation of the graph: each takes many keys and answers with
//! one or two SQL statements, whatever the number of keys. The GraphQL DataLoaders call these.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use entities::{
    ambassador, application, discussion_topic, librarian, librarian_interest, librarian_language, membership, pairing,
    pairing_member, webhook, webhook_delivery,
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::auth::{Viewer, policy};
use crate::error::ApiResult;
use crate::service::filters::scoped;
use crate::service::keys::any_of;
use crate::service::rows::{self, ByIndex};

/// `(key, value)` pairs grouped by key, in their original order.
fn group<K: Eq + Hash, V>(pairs: impl IntoIterator<Item = (K, V)>) -> HashMap<K, Vec<V>> {
    let pairs = pairs.into_iter();
    // At most one key per row: sized once rather than grown (and rehashed) several times.
    let mut map: HashMap<K, Vec<V>> = HashMap::with_capacity(pairs.size_hint().0);
    for (key, value) in pairs {
        map.entry(key).or_default().push(value);
    }
    map
}

/// Rows grouped by `key`, each row shared.
fn group_shared<K: Eq + Hash, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<Arc<V>>> {
    group(rows.into_iter().map(|row| (key(&row), Arc::new(row))))
}

/// Rows of `E` by integer key that the policy `scope` lets through: one statement for any
/// number of ids.
pub async fn by_ids<E>(
    db: DatabaseConnection,
    scope: Option<Condition>,
    column: E::Column,
    ids: Vec<i32>,
    key: fn(&E::Model) -> i32,
) -> ApiResult<HashMap<i32, Arc<E::Model>>>
where
    E: EntityTrait,
    E::Model: ByIndex,
{
    let select = scoped(E::find(), scope).filter(any_of(db.get_database_backend(), column, ids));
    let rows = rows::all(&db, select).await?;
    Ok(rows.into_iter().map(|m| (key(&m), Arc::new(m))).collect())
}

/// Librarians by id that `viewer` may see (see `policy::sees_librarian`).
pub async fn librarians_by_ids(
    db: DatabaseConnection,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<HashMap<i32, Arc<librarian::Model>>> {
    let among = any_of(db.get_database_backend(), membership::Column::LibrarianId, ids.clone());
    let scope = policy::librarians_beyond_row_among(&viewer, among);
    let mut rows = by_ids::<librarian::Entity>(db, scope, librarian::Column::Id, ids, |m| m.id).await?;
    rows.retain(|_, l| policy::sees_librarian(&viewer, l) != Some(false));
    Ok(rows)
}

pub async fn memberships_of_librarians(
    db: DatabaseConnection,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<HashMap<i32, Vec<Arc<membership::Model>>>> {
    let select = scoped(membership::Entity::find(), policy::memberships_of_visible(&viewer))
        .filter(any_of(db.get_database_backend(), membership::Column::LibrarianId, ids))
        .order_by_asc(membership::Column::Id);
    let rows = rows::all(&db, select).await?;
    Ok(group_shared(rows, |m| m.librarian_id))
}

/// Applications of each (visible) librarian: their visibility is implied (see `policy`).
pub async fn applications_of_librarians(
    db: DatabaseConnection,
    ids: Vec<i32>,
) -> ApiResult<HashMap<i32, Vec<Arc<application::Model>>>> {
    let select = application::Entity::find()
        .filter(any_of(db.get_database_backend(), application::Column::LibrarianId, ids))
        .order_by_asc(application::Column::Id);
    let rows = rows::all(&db, select).await?;
    Ok(group_shared(rows, |m| m.librarian_id))
}

/// Pairings of each (visible) librarian: one statement joining `pairing_members` to
/// `pairings`; their visibility is implied (see `policy`).
pub async fn pairings_of_librarians(
    db: DatabaseConnection,
    ids: Vec<i32>,
) -> ApiResult<HashMap<i32, Vec<Arc<pairing::Model>>>> {
    let select = pairing_member::Entity::find()
        .filter(any_of(db.get_database_backend(), pairing_member::Column::LibrarianId, ids))
        .find_also_related(pairing::Entity)
        .order_by_asc(pairing_member::Column::PairingId);
    let rows = rows::all_two(&db, select).await?;
    let pairs = rows.into_iter().filter_map(|(link, p)| p.map(|p| (link.librarian_id, Arc::new(p))));
    Ok(group(pairs))
}

/// Members of each pairing: one statement joining `pairing_members` to `librarians`.
pub async fn members_of_pairings(
    db: DatabaseConnection,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<HashMap<i32, Vec<Arc<librarian::Model>>>> {
    let select = pairing_member::Entity::find()
        .filter(any_of(db.get_database_backend(), pairing_member::Column::PairingId, ids))
        .find_also_related(librarian::Entity)
        .filter(policy::librarians_beyond_row(&viewer).unwrap_or_else(Condition::all))
        .order_by_asc(pairing_member::Column::LibrarianId);
    let rows = rows::all_two(&db, select).await?;
    let members = rows
        .into_iter()
        .filter_map(|(link, l)| l.map(|l| (link.pairing_id, l)))
        .filter(|(_, l)| policy::sees_librarian(&viewer, l) != Some(false))
        .map(|(pairing, l)| (pairing, Arc::new(l)));
    Ok(group(members))
}

pub async fn ambassadors_of_countries(
    db: DatabaseConnection,
    codes: Vec<String>,
) -> ApiResult<HashMap<String, Vec<Arc<ambassador::Model>>>> {
    let select = ambassador::Entity::find()
        .filter(any_of(db.get_database_backend(), ambassador::Column::CountryCode, codes))
        .order_by_asc(ambassador::Column::Id);
    let rows = rows::all(&db, select).await?;
    Ok(group_shared(rows, |m| m.country_code.clone()))
}

/// The topics of rounds that `viewer` may read now ([`policy::topics`]).
pub async fn topics_of_rounds(
    db: DatabaseConnection,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<HashMap<i32, Vec<Arc<discussion_topic::Model>>>> {
    let rows = scoped(discussion_topic::Entity::find(), policy::topics(&viewer, crate::service::now()))
        .filter(any_of(db.get_database_backend(), discussion_topic::Column::RoundId, ids))
        .order_by_asc(discussion_topic::Column::PublishAt)
        .order_by_asc(discussion_topic::Column::Id)
        .all(&db)
        .await?;
    Ok(group_shared(rows, |m| m.round_id))
}

pub async fn languages_of_librarians(db: DatabaseConnection, ids: Vec<i32>) -> ApiResult<HashMap<i32, Vec<String>>> {
    let select = librarian_language::Entity::find()
        .filter(any_of(db.get_database_backend(), librarian_language::Column::LibrarianId, ids))
        .order_by_asc(librarian_language::Column::Language);
    let rows = rows::all(&db, select).await?;
    Ok(group(rows.into_iter().map(|m| (m.librarian_id, m.language))))
}

pub async fn interests_of_librarians(db: DatabaseConnection, ids: Vec<i32>) -> ApiResult<HashMap<i32, Vec<String>>> {
    let select = librarian_interest::Entity::find()
        .filter(any_of(db.get_database_backend(), librarian_interest::Column::LibrarianId, ids))
        .order_by_asc(librarian_interest::Column::Interest);
    let rows = rows::all(&db, select).await?;
    Ok(group(rows.into_iter().map(|m| (m.librarian_id, m.interest))))
}

/// Rows of `E` per value of `column` among `keys`: one grouped statement. Public
/// aggregates (no rows are revealed, only how many there are).
async fn counts<E: EntityTrait>(
    db: DatabaseConnection,
    column: E::Column,
    keys: Vec<i32>,
) -> ApiResult<HashMap<i32, i64>> {
    let backend = db.get_database_backend();
    let rows: Vec<(i32, i64)> = E::find()
        .select_only()
        .column(column)
        .column_as(Expr::col(column).count(), "n")
        .filter(any_of(backend, column, keys.clone()))
        .group_by(column)
        .into_tuple()
        .all(&db)
        .await?;
    let mut out: HashMap<i32, i64> = keys.into_iter().map(|k| (k, 0)).collect();
    out.extend(rows);
    Ok(out)
}

/// Participants per country (erased librarians excluded).
pub async fn participant_counts(db: DatabaseConnection, codes: Vec<String>) -> ApiResult<HashMap<String, i64>> {
    let backend = db.get_database_backend();
    let rows: Vec<(String, i64)> = librarian::Entity::find()
        .select_only()
        .column(librarian::Column::CountryCode)
        .column_as(Expr::col(librarian::Column::Id).count(), "n")
        .filter(any_of(backend, librarian::Column::CountryCode, codes.clone()))
        .filter(librarian::Column::ErasedAt.is_null())
        .group_by(librarian::Column::CountryCode)
        .into_tuple()
        .all(&db)
        .await?;
    let mut out: HashMap<String, i64> = codes.into_iter().map(|k| (k, 0)).collect();
    out.extend(rows);
    Ok(out)
}

/// Applications per round, whatever their status.
pub async fn application_counts(db: DatabaseConnection, ids: Vec<i32>) -> ApiResult<HashMap<i32, i64>> {
    counts::<application::Entity>(db, application::Column::RoundId, ids).await
}

/// Pairings per round, whatever their status.
pub async fn pairing_counts(db: DatabaseConnection, ids: Vec<i32>) -> ApiResult<HashMap<i32, i64>> {
    counts::<pairing::Entity>(db, pairing::Column::RoundId, ids).await
}

/// How many members each pairing has, seen or not (whether the viewer sees all of them).
pub async fn member_counts(db: DatabaseConnection, ids: Vec<i32>) -> ApiResult<HashMap<i32, i64>> {
    counts::<pairing_member::Entity>(db, pairing_member::Column::PairingId, ids).await
}

/// Webhook deliveries by id that `viewer` may see.
pub async fn webhook_deliveries_by_ids(
    db: DatabaseConnection,
    viewer: Arc<Viewer>,
    ids: Vec<i64>,
) -> ApiResult<HashMap<i64, Arc<webhook_delivery::Model>>> {
    let rows = scoped(webhook_delivery::Entity::find(), policy::webhook_deliveries(&viewer))
        .filter(any_of(db.get_database_backend(), webhook_delivery::Column::Id, ids))
        .all(&db)
        .await?;
    Ok(rows.into_iter().map(|m| (m.id, Arc::new(m))).collect())
}

/// The webhooks of associations that `viewer` may see, oldest first.
pub async fn webhooks_of_associations(
    db: DatabaseConnection,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<HashMap<i32, Vec<Arc<webhook::Model>>>> {
    let rows = scoped(webhook::Entity::find(), policy::association_records(&viewer, webhook::Column::AssociationId))
        .filter(any_of(db.get_database_backend(), webhook::Column::AssociationId, ids))
        .order_by_asc(webhook::Column::Id)
        .all(&db)
        .await?;
    Ok(group_shared(rows, |w| w.association_id))
}
