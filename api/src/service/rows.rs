//! Rows decoded by position.
//!
//! SeaORM's derived models read each column by name: the driver hashes the name to find
//! the column, and a joined select (`find_also_related`) first formats `{prefix}{column}`
//! for every column of every row. On the ambassador query (50 participants with their
//! memberships and pairings, about 400 rows) that was a quarter of the server's work. The
//! models the API reads on its hot paths are decoded here by position instead.
//!
//! The position of a field is its place in the entity's column order, which is the order
//! SeaORM selects the columns of `Entity::find()` in (a test checks every list below
//! against it). The names of the first row of every result are checked as well, so a
//! select whose columns are not the entity's is an error, never a model read out of the
//! wrong columns.

use entities::{
    ambassador, application, association, audit_log, certificate, country, discussion_topic, engagement_report,
    librarian, librarian_interest, librarian_language, membership, pairing, pairing_member, round, sync_run, webhook,
    webhook_delivery,
};
use sea_orm::sqlx::{Decode, Postgres, Row, Sqlite, Type};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryResult, QueryTrait, Select, SelectTwo, Statement};

/// A model read from a row by position.
pub trait ByIndex: Sized {
    /// The columns, in the entity's order.
    const COLUMNS: &'static [&'static str];

    /// The model whose first column is column `at` of `row`. `checked`: whether each
    /// column's type is checked against the field's (it is on a result's first row; the
    /// other rows have the same columns).
    ///
    /// # Errors
    /// A value of the wrong type, or `NULL` in a column that cannot hold it.
    fn read(row: &QueryResult, at: usize, checked: bool) -> Result<Self, DbErr>;
}

/// A field's type, decoded by the driver itself: `NULL` becomes `None` there (SeaORM's
/// path formats an error message for every `NULL` before turning it into `None`).
pub trait Cell:
    for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite> + Sized
{
}

impl<T> Cell for T where T: for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite> {}

/// Column `at` of `row`.
fn get<T: Cell>(row: &QueryResult, at: usize, checked: bool) -> Result<T, DbErr> {
    let decoded = if let Some(row) = row.try_as_pg_row() {
        if checked { row.try_get(at) } else { row.try_get_unchecked(at) }
    } else if let Some(row) = row.try_as_sqlite_row() {
        if checked { row.try_get(at) } else { row.try_get_unchecked(at) }
    } else {
        return Err(DbErr::Type("a row of another driver".into()));
    };
    decoded.map_err(|error| DbErr::Type(format!("column {at}: {error}")))
}

/// Whether column `at` of `row` is `NULL` (or missing).
fn is_null(row: &QueryResult, at: usize) -> bool {
    use sea_orm::sqlx::ValueRef;
    if let Some(row) = row.try_as_pg_row() {
        row.try_get_raw(at).map_or(true, |value| value.is_null())
    } else if let Some(row) = row.try_as_sqlite_row() {
        row.try_get_raw(at).map_or(true, |value| value.is_null())
    } else {
        true
    }
}

macro_rules! by_index {
    ($($model:path { $($field:ident),+ $(,)? })+) => {$(
        impl ByIndex for $model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            #[allow(unused_assignments)]
            fn read(row: &QueryResult, at: usize, checked: bool) -> Result<Self, DbErr> {
                let mut i = at;
                Ok(Self { $($field: { let value = get(row, i, checked)?; i += 1; value }),+ })
            }
        }
    )+};
}

by_index! {
    librarian::Model {
        id, full_name, email, country_code, institution, sector, job_title, years_experience, bio,
        listed_in_directory, erased_at, version, created_at, updated_at,
    }
    membership::Model {
        id, association_id, librarian_id, external_id, status, deactivated_at, version, provisioned, consent,
        sent, directory, user_name, removed_at, created_at, updated_at,
    }
    pairing::Model { id, round_id, status, origin, score, explanation, created_at, updated_at }
    pairing_member::Model { pairing_id, librarian_id }
    librarian_language::Model { librarian_id, language }
    librarian_interest::Model { librarian_id, interest }
    round::Model {
        id, name, status, applications_open_at, applications_close_at, starts_at, ends_at, country_share,
        created_at, updated_at,
    }
    association::Model { id, name, country_code, website, created_at, updated_at }
    application::Model {
        id, round_id, librarian_id, status, match_preference, preferences, goal, deferral, deferral_note,
        created_at, updated_at,
    }
    ambassador::Model { id, librarian_id, country_code, term_from, term_until, created_at }
    discussion_topic::Model { id, round_id, title, body, publish_at, created_at, announced_at }
    certificate::Model { id, code, librarian_id, round_id, pairing_id, recipient_name, issued_at }
    engagement_report::Model { id, pairing_id, librarian_id, met, rating, comment, created_at }
    webhook::Model { id, association_id, url, secret, entity_types, active, cursor, created_at, updated_at }
    webhook_delivery::Model {
        id, webhook_id, status, first_cursor, last_cursor, event_count, payload, attempts, next_attempt_at,
        locked_until, last_status_code, last_error, created_at, delivered_at,
    }
    country::Model { code, name, region, subregion }
    audit_log::Model { id, actor_role, actor_subject, action, object_type, object_id, details, at }
    sync_run::Model {
        id, association_id, actor, mode, source, received, created, updated, unchanged, deactivated, reactivated,
        failed, user_errors, idempotency_key, request_hash, started_at, finished_at,
    }
}

/// Checks that `row` holds `M`'s columns from `at` on, named with `prefix` (SeaORM's
/// `A_`/`B_` of a joined select).
fn check_names<M: ByIndex>(row: &QueryResult, at: usize, prefix: &str) -> Result<(), DbErr> {
    let names = row.column_names();
    let found = names.get(at..at + M::COLUMNS.len());
    let matches = found.is_some_and(|found| {
        found.iter().zip(M::COLUMNS).all(|(name, column)| name.strip_prefix(prefix).is_some_and(|rest| rest == *column))
    });
    if matches {
        Ok(())
    } else {
        Err(DbErr::Type(format!("the row's columns {names:?} are not {prefix}{:?} at {at}", M::COLUMNS)))
    }
}

/// The rows of `select` (an `Entity::find()`, with any conditions and order).
///
/// # Errors
/// Database errors; a select whose columns are not the entity's.
pub async fn all<E, C>(db: &C, select: Select<E>) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: ByIndex,
    C: ConnectionTrait,
{
    all_raw::<E, C>(db, select.build(db.get_database_backend())).await
}

/// The rows of a statement that selects `E`'s columns first (it may select more after them).
///
/// # Errors
/// Database errors; a statement whose first columns are not the entity's.
pub async fn all_raw<E, C>(db: &C, statement: Statement) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: ByIndex,
    C: ConnectionTrait,
{
    let rows = db.query_all_raw(statement).await?;
    if let Some(first) = rows.first() {
        check_names::<E::Model>(first, 0, "")?;
    }
    rows.iter().enumerate().map(|(n, row)| E::Model::read(row, 0, n == 0)).collect()
}

/// The rows of a joined select (`find_also_related`): each left model with its right one,
/// `None` where the join found none.
///
/// # Errors
/// Database errors; a select whose columns are not the entities'.
pub async fn all_two<A, B, C>(db: &C, select: SelectTwo<A, B>) -> Result<Vec<(A::Model, Option<B::Model>)>, DbErr>
where
    A: EntityTrait,
    B: EntityTrait,
    A::Model: ByIndex,
    B::Model: ByIndex,
    C: ConnectionTrait,
{
    let rows = db.query_all_raw(select.build(db.get_database_backend())).await?;
    let right = <A::Model as ByIndex>::COLUMNS.len();
    if let Some(first) = rows.first() {
        check_names::<A::Model>(first, 0, "A_")?;
        check_names::<B::Model>(first, right, "B_")?;
    }
    rows.iter()
        .enumerate()
        .map(|(n, row)| {
            let left = A::Model::read(row, 0, n == 0)?;
            // A left join that found nothing: the right side's key is NULL.
            let right = if is_null(row, right) { None } else { Some(B::Model::read(row, right, n == 0)?) };
            Ok((left, right))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;

    fn columns<E: EntityTrait>() -> Vec<String> {
        E::Column::iter().map(|c| c.as_str().to_owned()).collect()
    }

    fn fields<M: ByIndex>() -> Vec<String> {
        M::COLUMNS.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn every_list_is_its_entity_column_order() {
        assert_eq!(fields::<librarian::Model>(), columns::<librarian::Entity>());
        assert_eq!(fields::<membership::Model>(), columns::<membership::Entity>());
        assert_eq!(fields::<pairing::Model>(), columns::<pairing::Entity>());
        assert_eq!(fields::<pairing_member::Model>(), columns::<pairing_member::Entity>());
        assert_eq!(fields::<librarian_language::Model>(), columns::<librarian_language::Entity>());
        assert_eq!(fields::<librarian_interest::Model>(), columns::<librarian_interest::Entity>());
        assert_eq!(fields::<round::Model>(), columns::<round::Entity>());
        assert_eq!(fields::<association::Model>(), columns::<association::Entity>());
        assert_eq!(fields::<application::Model>(), columns::<application::Entity>());
        assert_eq!(fields::<ambassador::Model>(), columns::<ambassador::Entity>());
        assert_eq!(fields::<discussion_topic::Model>(), columns::<discussion_topic::Entity>());
        assert_eq!(fields::<certificate::Model>(), columns::<certificate::Entity>());
        assert_eq!(fields::<engagement_report::Model>(), columns::<engagement_report::Entity>());
        assert_eq!(fields::<webhook::Model>(), columns::<webhook::Entity>());
        assert_eq!(fields::<webhook_delivery::Model>(), columns::<webhook_delivery::Entity>());
        assert_eq!(fields::<sync_run::Model>(), columns::<sync_run::Entity>());
        assert_eq!(fields::<country::Model>(), columns::<country::Entity>());
        assert_eq!(fields::<audit_log::Model>(), columns::<audit_log::Entity>());
    }
}
