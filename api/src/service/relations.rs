//! Batched lookups for every relation of the graph: each takes many keys and answers with
//! one or two SQL statements, whatever the number of keys. The GraphQL DataLoaders call these.

use std::hash::Hash;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use entities::{
    ambassador, application, discussion_topic, librarian, librarian_interest, librarian_language, membership, pairing,
    pairing_member, webhook, webhook_delivery,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait,
    sea_query::{Expr, ExprTrait},
};

use crate::auth::{Viewer, policy};
use crate::error::ApiResult;
use crate::service::filters::scoped;
use crate::service::keys::any_of;
use crate::service::rows::{self, ByIndex, Source};
use crate::service::shapes::Shape;

/// The hasher of the maps the batch functions answer with: fast, and seeded per process
/// (the keys are the database's own ids and codes).
pub type FastHash = foldhash::fast::RandomState;

/// A batch function's answer: the rows of each key.
pub type Keyed<K, V> = std::collections::HashMap<K, V, FastHash>;

/// `(key, value)` pairs grouped by key, in their original order.
fn group<K: Eq + Hash, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Keyed<K, Vec<V>> {
    let pairs = pairs.into_iter();
    // At most one key per row: sized once rather than grown (and rehashed) several times.
    let mut map: Keyed<K, Vec<V>> = Keyed::with_capacity_and_hasher(pairs.size_hint().0, FastHash::default());
    for (key, value) in pairs {
        map.entry(key).or_default().push(value);
    }
    map
}

/// Rows grouped by `key`, each row shared.
fn group_shared<K: Eq + Hash, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> Keyed<K, Vec<Arc<V>>> {
    group(rows.into_iter().map(|row| (key(&row), Arc::new(row))))
}

/// Rows of `E` by integer key that the policy `scope` lets through: one statement for any
/// number of ids.
pub async fn by_ids<E>(
    db: impl Source,
    scope: Option<Condition>,
    column: E::Column,
    ids: Vec<i32>,
    key: fn(&E::Model) -> i32,
) -> ApiResult<Keyed<i32, Arc<E::Model>>>
where
    E: EntityTrait,
    E::Model: ByIndex,
{
    static SHAPE: Shape = Shape::new();
    let table = E::default().table_name();
    let statement = SHAPE.keyed(table, db.backend(), scope, column, ids, |scope, keys| {
        scoped(E::find(), scope).filter(keys).into_query()
    });
    let rows = rows::all_of::<E::Model, _>(&db, statement).await?;
    Ok(rows.into_iter().map(|m| (key(&m), Arc::new(m))).collect())
}

/// Librarians by id that `viewer` may see (see `policy::sees_librarian`).
pub async fn librarians_by_ids(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Arc<librarian::Model>>> {
    let among = any_of(db.backend(), membership::Column::LibrarianId, ids.clone());
    let scope = policy::librarians_beyond_row_among(&viewer, among);
    let mut rows = by_ids::<librarian::Entity>(db, scope, librarian::Column::Id, ids, |m| m.id).await?;
    rows.retain(|_, l| policy::sees_librarian(&viewer, l) != Some(false));
    Ok(rows)
}

pub async fn memberships_of_librarians(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<membership::Model>>>> {
    static SHAPE: Shape = Shape::new();
    let scope = policy::memberships_of_visible(&viewer);
    let statement = SHAPE.keyed("", db.backend(), scope, membership::Column::LibrarianId, ids, |scope, keys| {
        scoped(membership::Entity::find(), scope).filter(keys).order_by_asc(membership::Column::Id).into_query()
    });
    let rows = rows::all_of::<membership::Model, _>(&db, statement).await?;
    Ok(group_shared(rows, |m| m.librarian_id))
}

/// The columns of a brief membership row: its keys, its member id and its status, what
/// the fields of a brief selection read (see `graphql::types::membership::brief`), in the
/// entity's column order.
pub const BRIEF_MEMBERSHIP: [membership::Column; 5] = [
    membership::Column::Id,
    membership::Column::AssociationId,
    membership::Column::LibrarianId,
    membership::Column::ExternalId,
    membership::Column::Status,
];

/// Memberships of each librarian as [`memberships_of_librarians`] answers them, reading
/// only the columns of a brief membership (the others keep their defaults), so these rows
/// serve only selections that read nothing else: a list of participants with their
/// associations' member ids and statuses no longer reads what each association sent.
pub async fn brief_memberships_of_librarians(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<membership::Model>>>> {
    use sea_orm::{IdenStatic, Iterable};
    static SHAPE: Shape = Shape::new();
    let scope = policy::memberships_of_visible(&viewer);
    let statement = SHAPE.keyed("", db.backend(), scope, membership::Column::LibrarianId, ids, |scope, keys| {
        scoped(membership::Entity::find(), scope)
            .select_only()
            .columns(BRIEF_MEMBERSHIP)
            .filter(keys)
            .order_by_asc(membership::Column::Id)
            .into_query()
    });
    static PRESENT: LazyLock<Vec<bool>> = LazyLock::new(|| {
        membership::Column::iter()
            .map(|column| BRIEF_MEMBERSHIP.iter().any(|brief| brief.as_str() == column.as_str()))
            .collect()
    });
    let rows: Vec<membership::Model> = rows::all_some(&db, statement, &PRESENT).await?;
    Ok(group_shared(rows, |m| m.librarian_id))
}

/// Applications of each (visible) librarian: their visibility is implied (see `policy`).
pub async fn applications_of_librarians(
    db: impl Source,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<application::Model>>>> {
    static SHAPE: Shape = Shape::new();
    let statement = SHAPE.keyed("", db.backend(), None, application::Column::LibrarianId, ids, |_, keys| {
        application::Entity::find().filter(keys).order_by_asc(application::Column::Id).into_query()
    });
    let rows = rows::all_of::<application::Model, _>(&db, statement).await?;
    Ok(group_shared(rows, |m| m.librarian_id))
}

/// Pairings of each (visible) librarian: one statement joining `pairing_members` to
/// `pairings`; their visibility is implied (see `policy`).
pub async fn pairings_of_librarians(db: impl Source, ids: Vec<i32>) -> ApiResult<Keyed<i32, Vec<Arc<pairing::Model>>>> {
    let select = pairing_member::Entity::find()
        .filter(any_of(db.backend(), pairing_member::Column::LibrarianId, ids))
        .find_also_related(pairing::Entity)
        .order_by_asc(pairing_member::Column::PairingId);
    let rows = rows::all_two(&db, select).await?;
    let pairs = rows.into_iter().filter_map(|(link, p)| p.map(|p| (link.librarian_id, Arc::new(p))));
    Ok(group(pairs))
}

/// A pairing of a librarian, with the columns of a brief pairing (see
/// [`brief_pairings_of_librarians`]).
struct BriefPairing {
    id: i32,
    round_id: i32,
    status: String,
    librarian_id: i32,
}

rows::by_index! {
    BriefPairing { id, round_id, status, librarian_id }
}

/// Pairings of each librarian as [`pairings_of_librarians`] answers them, reading only
/// their id, round and status (the other fields keep their defaults), so these rows serve
/// only selections that read nothing else (see `graphql::types::pairing::brief`): a list
/// of participants with their pairings' statuses, rounds and members no longer reads every
/// pairing's explanation and timestamps, nor the join's aliased columns.
pub async fn brief_pairings_of_librarians(
    db: impl Source,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<pairing::Model>>>> {
    static SHAPE: Shape = Shape::new();
    let statement = SHAPE.keyed("", db.backend(), None, pairing_member::Column::LibrarianId, ids, |_, keys| {
        pairing::Entity::find()
            .select_only()
            .columns([pairing::Column::Id, pairing::Column::RoundId, pairing::Column::Status])
            .column(pairing_member::Column::LibrarianId)
            .join(JoinType::InnerJoin, pairing_member::Relation::Pairing.def().rev())
            .filter(keys)
            .order_by_asc(pairing_member::Column::PairingId)
            .into_query()
    });
    let rows: Vec<BriefPairing> = rows::all_of(&db, statement).await?;
    let pairs = rows.into_iter().map(|row| {
        let model = pairing::Model {
            id: row.id,
            round_id: row.round_id,
            status: row.status,
            origin: String::new(),
            score: 0,
            explanation: String::new(),
            created_at: DateTime::default(),
            updated_at: DateTime::default(),
        };
        (row.librarian_id, Arc::new(model))
    });
    Ok(group(pairs))
}

/// Members of each pairing: one statement joining `pairing_members` to `librarians`.
pub async fn members_of_pairings(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<librarian::Model>>>> {
    let select = pairing_member::Entity::find()
        .filter(any_of(db.backend(), pairing_member::Column::PairingId, ids))
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

/// A member of a pairing, with the columns of a brief librarian (see
/// [`brief_members_of_pairings`]).
struct BriefMember {
    id: i32,
    full_name: String,
    country_code: String,
    listed_in_directory: bool,
    erased_at: Option<DateTime<Utc>>,
    pairing_id: i32,
}

rows::by_index! {
    BriefMember { id, full_name, country_code, listed_in_directory, erased_at, pairing_id }
}

/// The columns of a brief librarian row: what the policy reads (id, country, directory
/// listing) and the fields a brief selection may ask for (see `graphql::types::librarian`).
pub const BRIEF_LIBRARIAN: [librarian::Column; 5] = [
    librarian::Column::Id,
    librarian::Column::FullName,
    librarian::Column::CountryCode,
    librarian::Column::ListedInDirectory,
    librarian::Column::ErasedAt,
];

/// Members of each pairing as [`members_of_pairings`] answers them, reading only the
/// columns of a brief librarian: the other fields of the models are empty, so these rows
/// serve only selections that read nothing else. On the ambassador query, the members'
/// rows were the largest part of the server's work (all 14 columns of every member, each
/// prefixed and aliased by the join, for a name and a country).
pub async fn brief_members_of_pairings(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<librarian::Model>>>> {
    static SHAPE: Shape = Shape::new();
    let scope = policy::librarians_beyond_row(&viewer);
    let statement = SHAPE.keyed("", db.backend(), scope, pairing_member::Column::PairingId, ids, |scope, keys| {
        scoped(librarian::Entity::find(), scope)
            .select_only()
            .columns(BRIEF_LIBRARIAN)
            .column(pairing_member::Column::PairingId)
            .join(JoinType::InnerJoin, pairing_member::Relation::Librarian.def().rev())
            .filter(keys)
            .order_by_asc(pairing_member::Column::LibrarianId)
            .into_query()
    });
    let rows: Vec<BriefMember> = rows::all_of(&db, statement).await?;
    let members = rows
        .into_iter()
        .map(|row| {
            let model = librarian::Model {
                id: row.id,
                full_name: row.full_name,
                email: String::new(),
                country_code: row.country_code,
                institution: None,
                sector: String::new(),
                job_title: None,
                years_experience: 0,
                bio: None,
                listed_in_directory: row.listed_in_directory,
                erased_at: row.erased_at,
                version: 0,
                created_at: DateTime::default(),
                updated_at: DateTime::default(),
            };
            (row.pairing_id, model)
        })
        .filter(|(_, l)| policy::sees_librarian(&viewer, l) != Some(false))
        .map(|(pairing, l)| (pairing, Arc::new(l)));
    Ok(group(members))
}

pub async fn ambassadors_of_countries(
    db: impl Source,
    codes: Vec<String>,
) -> ApiResult<Keyed<String, Vec<Arc<ambassador::Model>>>> {
    let select = ambassador::Entity::find()
        .filter(any_of(db.backend(), ambassador::Column::CountryCode, codes))
        .order_by_asc(ambassador::Column::Id);
    let rows = rows::all(&db, select).await?;
    Ok(group_shared(rows, |m| m.country_code.clone()))
}

/// The topics of rounds that `viewer` may read now ([`policy::topics`]).
pub async fn topics_of_rounds(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<discussion_topic::Model>>>> {
    let rows = scoped(discussion_topic::Entity::find(), policy::topics(&viewer, crate::service::now()))
        .filter(any_of(db.backend(), discussion_topic::Column::RoundId, ids))
        .order_by_asc(discussion_topic::Column::PublishAt)
        .order_by_asc(discussion_topic::Column::Id)
        .all(db.connection())
        .await?;
    Ok(group_shared(rows, |m| m.round_id))
}

pub async fn languages_of_librarians(db: impl Source, ids: Vec<i32>) -> ApiResult<Keyed<i32, Vec<String>>> {
    static SHAPE: Shape = Shape::new();
    let statement = SHAPE.keyed("", db.backend(), None, librarian_language::Column::LibrarianId, ids, |_, keys| {
        librarian_language::Entity::find().filter(keys).order_by_asc(librarian_language::Column::Language).into_query()
    });
    let rows = rows::all_of::<librarian_language::Model, _>(&db, statement).await?;
    Ok(group(rows.into_iter().map(|m| (m.librarian_id, m.language))))
}

pub async fn interests_of_librarians(db: impl Source, ids: Vec<i32>) -> ApiResult<Keyed<i32, Vec<String>>> {
    static SHAPE: Shape = Shape::new();
    let statement = SHAPE.keyed("", db.backend(), None, librarian_interest::Column::LibrarianId, ids, |_, keys| {
        librarian_interest::Entity::find().filter(keys).order_by_asc(librarian_interest::Column::Interest).into_query()
    });
    let rows = rows::all_of::<librarian_interest::Model, _>(&db, statement).await?;
    Ok(group(rows.into_iter().map(|m| (m.librarian_id, m.interest))))
}

/// Rows of `E` per value of `column` among `keys`: one grouped statement. Public
/// aggregates (no rows are revealed, only how many there are).
async fn counts<E: EntityTrait>(db: impl Source, column: E::Column, keys: Vec<i32>) -> ApiResult<Keyed<i32, i64>> {
    let backend = db.backend();
    let rows: Vec<(i32, i64)> = E::find()
        .select_only()
        .column(column)
        .column_as(Expr::col(column).count(), "n")
        .filter(any_of(backend, column, keys.clone()))
        .group_by(column)
        .into_tuple()
        .all(db.connection())
        .await?;
    let mut out: Keyed<i32, i64> = keys.into_iter().map(|k| (k, 0)).collect();
    out.extend(rows);
    Ok(out)
}

/// Participants per country (erased librarians excluded).
pub async fn participant_counts(db: impl Source, codes: Vec<String>) -> ApiResult<Keyed<String, i64>> {
    let backend = db.backend();
    let rows: Vec<(String, i64)> = librarian::Entity::find()
        .select_only()
        .column(librarian::Column::CountryCode)
        .column_as(Expr::col(librarian::Column::Id).count(), "n")
        .filter(any_of(backend, librarian::Column::CountryCode, codes.clone()))
        .filter(librarian::Column::ErasedAt.is_null())
        .group_by(librarian::Column::CountryCode)
        .into_tuple()
        .all(db.connection())
        .await?;
    let mut out: Keyed<String, i64> = codes.into_iter().map(|k| (k, 0)).collect();
    out.extend(rows);
    Ok(out)
}

/// Applications per round, whatever their status.
pub async fn application_counts(db: impl Source, ids: Vec<i32>) -> ApiResult<Keyed<i32, i64>> {
    counts::<application::Entity>(db, application::Column::RoundId, ids).await
}

/// Pairings per round, whatever their status.
pub async fn pairing_counts(db: impl Source, ids: Vec<i32>) -> ApiResult<Keyed<i32, i64>> {
    counts::<pairing::Entity>(db, pairing::Column::RoundId, ids).await
}

/// How many members each pairing has, seen or not (whether the viewer sees all of them).
pub async fn member_counts(db: impl Source, ids: Vec<i32>) -> ApiResult<Keyed<i32, i64>> {
    counts::<pairing_member::Entity>(db, pairing_member::Column::PairingId, ids).await
}

/// Webhook deliveries by id that `viewer` may see.
pub async fn webhook_deliveries_by_ids(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i64>,
) -> ApiResult<Keyed<i64, Arc<webhook_delivery::Model>>> {
    let rows = scoped(webhook_delivery::Entity::find(), policy::webhook_deliveries(&viewer))
        .filter(any_of(db.backend(), webhook_delivery::Column::Id, ids))
        .all(db.connection())
        .await?;
    Ok(rows.into_iter().map(|m| (m.id, Arc::new(m))).collect())
}

/// The webhooks of associations that `viewer` may see, oldest first.
pub async fn webhooks_of_associations(
    db: impl Source,
    viewer: Arc<Viewer>,
    ids: Vec<i32>,
) -> ApiResult<Keyed<i32, Vec<Arc<webhook::Model>>>> {
    let rows = scoped(webhook::Entity::find(), policy::association_records(&viewer, webhook::Column::AssociationId))
        .filter(any_of(db.backend(), webhook::Column::AssociationId, ids))
        .order_by_asc(webhook::Column::Id)
        .all(db.connection())
        .await?;
    Ok(group_shared(rows, |w| w.association_id))
}
