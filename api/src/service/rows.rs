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
use sea_orm::sqlx::{PgPool, SqlitePool};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryTrait, Select, SelectTwo, Statement};

pub use super::cells::{Cell, Cells};
use super::kept::Kept;
pub use super::shapes::Sql;
use crate::db::{Reader, StatementCounter};

/// Where rows are read from: any SeaORM connection, or a [`Reader`] (see the module's
/// documentation).
pub trait Source: Sync {
    /// The connection statements run on through SeaORM.
    type Conn: ConnectionTrait;

    /// The connection statements run on through SeaORM.
    fn connection(&self) -> &Self::Conn;

    /// The pool to fetch rows from directly (see [`fetch`](super::fetch)), with the counter
    /// to count them in.
    fn direct(&self) -> Option<(Direct<'_>, &StatementCounter)> {
        None
    }

    /// The connection's database.
    fn backend(&self) -> DbBackend {
        self.connection().get_database_backend()
    }
}

impl<C: ConnectionTrait> Source for C {
    type Conn = C;

    fn connection(&self) -> &C {
        self
    }
}

impl Source for Reader {
    type Conn = sea_orm::DatabaseConnection;

    fn connection(&self) -> &Self::Conn {
        &self.conn
    }

    fn direct(&self) -> Option<(Direct<'_>, &StatementCounter)> {
        let pool = match self.conn.get_database_backend() {
            DbBackend::Postgres => Direct::Postgres(self.conn.get_postgres_connection_pool(), &self.kept),
            DbBackend::Sqlite => Direct::Sqlite(self.conn.get_sqlite_connection_pool(), &self.kept),
            _ => return None,
        };
        Some((pool, &self.statements))
    }
}

/// A driver's pool, read from directly, with the connections its reader keeps.
pub enum Direct<'a> {
    Postgres(&'a PgPool, &'a Kept),
    Sqlite(&'a SqlitePool, &'a Kept),
}

/// `read` of the rows of `statement` (an [`Sql`]), fetched directly from the driver where
/// `db` has a pool (whose rows are `PgRow`s or `SqliteRow`s: `read` is written once for
/// any [`Cells`]) and through SeaORM otherwise.
macro_rules! with_rows {
    ($db:expr, $statement:expr, |$rows:ident| $read:expr) => {{
        let statement: Sql = $statement;
        match $db.direct() {
            Some((Direct::Postgres(pool, kept), counter)) => {
                let $rows = super::fetch::postgres(pool, kept, counter, statement).await?;
                $read
            }
            Some((Direct::Sqlite(pool, kept), counter)) => {
                let $rows = super::fetch::sqlite(pool, kept, counter, statement).await?;
                $read
            }
            None => {
                let $rows = $db.connection().query_all_raw(statement.into_statement()).await?;
                $read
            }
        }
    }};
}

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
    fn read<R: Cells>(row: &R, at: usize, checked: bool) -> Result<Self, DbErr>;

    /// The model from a row that holds, in order, only the columns `present` marks (by
    /// their place in [`Self::COLUMNS`]); the other fields keep their defaults, so such a
    /// model serves only readers of the columns it holds (see [`all_some`]).
    ///
    /// # Errors
    /// As [`ByIndex::read`].
    fn read_some<R: Cells>(row: &R, present: &[bool], checked: bool) -> Result<Self, DbErr>;
}

/// Implements [`ByIndex`] for a struct whose fields are the columns, in order.
macro_rules! by_index {
    ($($model:path { $($field:ident),+ $(,)? })+) => {$(
        impl $crate::service::rows::ByIndex for $model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            #[allow(unused_assignments)]
            fn read<R: $crate::service::rows::Cells>(row: &R, at: usize, checked: bool) -> Result<Self, sea_orm::DbErr> {
                let mut i = at;
                Ok(Self { $($field: { let value = row.cell(i, checked)?; i += 1; value }),+ })
            }

            #[allow(unused_assignments)]
            fn read_some<R: $crate::service::rows::Cells>(
                row: &R,
                present: &[bool],
                checked: bool,
            ) -> Result<Self, sea_orm::DbErr> {
                let (mut i, mut k) = (0, 0);
                Ok(Self { $($field: {
                    let value = if present.get(k).copied().unwrap_or(true) {
                        let value = row.cell(i, checked)?;
                        i += 1;
                        value
                    } else {
                        Default::default()
                    };
                    k += 1;
                    value
                }),+ })
            }
        }
    )+};
}
pub(crate) use by_index;

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
fn check_names<M: ByIndex>(row: &impl Cells, at: usize, prefix: &str) -> Result<(), DbErr> {
    let names = row.names();
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
/// The statement is built before the future is made: a select is several hundred bytes,
/// and the future of every batch function that reads rows holds this one (and is moved
/// as it is made, and again into the DataLoader's task or a prefetch's box).
///
/// # Errors
/// Database errors; a select whose columns are not the entity's.
pub fn all<'a, E, S>(db: &'a S, select: Select<E>) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + 'a
where
    E: EntityTrait,
    E::Model: ByIndex,
    S: Source,
{
    all_of::<E::Model, S>(db, select.build(db.backend()))
}

/// The rows of a statement that selects `E`'s columns first (it may select more after them).
///
/// # Errors
/// Database errors; a statement whose first columns are not the entity's.
pub async fn all_raw<E, S>(db: &S, statement: Statement) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: ByIndex,
    S: Source,
{
    all_of::<E::Model, S>(db, statement).await
}

/// The rows of a statement whose first columns are `M`'s, in `M`'s order and names.
///
/// # Errors
/// Database errors; a statement whose first columns are not `M`'s.
pub async fn all_of<M: ByIndex, S: Source>(db: &S, statement: impl Into<Sql>) -> Result<Vec<M>, DbErr> {
    with_rows!(db, statement.into(), |rows| models(&rows))
}

/// The rows of a statement that selects, in the entity's order, only the columns of `M`
/// that `present` marks (by their place in `M::COLUMNS`): models whose other fields are
/// left at their defaults. The caller hands such models only to readers of the columns
/// they hold (a list whose selection needs no more).
///
/// # Errors
/// Database errors; a statement whose columns are not those.
pub async fn all_some<M: ByIndex, S: Source>(
    db: &S,
    statement: impl Into<Sql>,
    present: &[bool],
) -> Result<Vec<M>, DbErr> {
    fn read<M: ByIndex, R: Cells>(rows: &[R], present: &[bool]) -> Result<Vec<M>, DbErr> {
        if let Some(first) = rows.first() {
            let names = first.names();
            let wanted: Vec<&str> = M::COLUMNS
                .iter()
                .enumerate()
                .filter(|(k, _)| present.get(*k).copied().unwrap_or(true))
                .map(|(_, c)| *c)
                .collect();
            if names.len() != wanted.len() || names.iter().zip(&wanted).any(|(name, column)| name != column) {
                return Err(DbErr::Type(format!("the row's columns {names:?} are not {wanted:?}")));
            }
        }
        each(rows, |n, row| M::read_some(row, present, n == 0))
    }
    with_rows!(db, statement.into(), |rows| read(&rows, present))
}

/// Each left model with its right one (`None` where a left join found none).
type Pairs<A, B> = Vec<(A, Option<B>)>;

/// The rows of a joined select (`find_also_related`): each left model with its right one,
/// `None` where the join found none.
///
/// # Errors
/// Database errors; a select whose columns are not the entities'.
pub fn all_two<'a, A, B, S>(
    db: &'a S,
    select: SelectTwo<A, B>,
) -> impl Future<Output = Result<Pairs<A::Model, B::Model>, DbErr>> + 'a
where
    A: EntityTrait,
    B: EntityTrait,
    A::Model: ByIndex,
    B::Model: ByIndex,
    S: Source,
{
    // Built before the future is made, as in `all`.
    let statement = select.build(db.backend());
    async move { with_rows!(db, statement.into(), |rows| pairs(&rows)) }
}

/// The number of rows of `select` (without its order, limit and offset): the statement
/// SeaORM's `PaginatorTrait::count` sends, on either path. On the direct path the
/// statement is built before the future is made, as in [`all`].
///
/// # Errors
/// Database errors.
pub fn count<'a, E, S>(db: &'a S, select: Select<E>) -> impl Future<Output = Result<u64, DbErr>> + Send + 'a
where
    E: EntityTrait,
    E::Model: Sync,
    S: Source,
{
    use futures::future::{Either, FutureExt};
    use sea_orm::sea_query::{Expr, SelectStatement};
    // Without a pool of its own (a transaction), SeaORM's count; `with_rows!` below then
    // always takes a pool's arm.
    if db.direct().is_none() {
        return Either::Left(sea_orm::PaginatorTrait::count(select, db.connection()).boxed());
    }
    let inner = select.into_query().reset_limit().reset_offset().clear_order_by().to_owned();
    let query =
        SelectStatement::new().expr(Expr::cust("COUNT(*) AS num_items")).from_subquery(inner, "sub_query").to_owned();
    let statement = db.backend().build(&query);
    Either::Right(async move {
        let count: i64 =
            with_rows!(db, statement.into(), |rows| rows.first().map_or(Ok(0), |row| row.cell(0, true))?);
        Ok(u64::try_from(count).unwrap_or(0))
    })
}

fn models<M: ByIndex, R: Cells>(rows: &[R]) -> Result<Vec<M>, DbErr> {
    if let Some(first) = rows.first() {
        check_names::<M>(first, 0, "")?;
    }
    each(rows, |n, row| M::read(row, 0, n == 0))
}

/// `read` of each row (with its place), into a vector sized at once: collected through
/// `Result`, the vector would not know its length and grow (and copy its models) five
/// or six times for a page of rows.
fn each<M, R>(rows: &[R], read: impl Fn(usize, &R) -> Result<M, DbErr>) -> Result<Vec<M>, DbErr> {
    let mut models = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        models.push(read(n, row)?);
    }
    Ok(models)
}

fn pairs<A: ByIndex, B: ByIndex, R: Cells>(rows: &[R]) -> Result<Vec<(A, Option<B>)>, DbErr> {
    let right = A::COLUMNS.len();
    if let Some(first) = rows.first() {
        check_names::<A>(first, 0, "A_")?;
        check_names::<B>(first, right, "B_")?;
    }
    each(rows, |n, row| {
        let left = A::read(row, 0, n == 0)?;
        // A left join that found nothing: the right side's key is NULL.
        let right = if row.null_at(right) { None } else { Some(B::read(row, right, n == 0)?) };
        Ok((left, right))
    })
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
