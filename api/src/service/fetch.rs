//! Rows fetched from the driver's pool itself, on the read path.
//!
//! SeaORM's `query_all_raw` boxes each statement's future in two tracing layers and moves
//! it several times (copying those futures was a sixth of the server's work on the
//! ambassador query), clones the bind values and moves every row into a `QueryResult`.
//! [`rows`](super::rows) reads through these functions instead, on either database, with
//! the same statement, bind values and errors as SeaORM's drivers, and counts each
//! statement itself (SeaORM's metric callback does not see them).

use sea_orm::sea_query::Values;
use sea_orm::sqlx::postgres::{PgArguments, PgRow};
use sea_orm::sqlx::sqlite::SqliteRow;
use sea_orm::sqlx::{PgPool, SqlitePool};
use sea_orm::{DbErr, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;

use super::kept::{Keep, Kept, Lease};
use super::shapes::Sql;
use crate::db::StatementCounter;

/// Runs `statement` on a connection of `pool` as SeaORM's PostgreSQL driver does (the
/// same statement, bind values and errors), counting it into `statements`.
///
/// Boxed, to keep the futures of the resolvers that read rows small (they are copied when
/// an object's future is boxed).
pub fn postgres<'a>(
    pool: &'a PgPool,
    kept: &'a Kept,
    statements: &'a StatementCounter,
    statement: Sql,
) -> futures::future::BoxFuture<'a, Result<Vec<PgRow>, DbErr>> {
    Box::pin(postgres_inline(pool, kept, statements, statement))
}

async fn postgres_inline(
    pool: &PgPool,
    kept: &Kept,
    statements: &StatementCounter,
    statement: Sql,
) -> Result<Vec<PgRow>, DbErr> {
    use sea_orm::sqlx::{AssertSqlSafe, Error, SqlSafeStr, query_with};
    statements.record_with(|| statement.clone().into_statement());
    // The text (shared by a kept shape) and a maker of the bound values, once per try.
    let (sql, built) = match statement {
        Sql::Built(Statement { sql, values, .. }) => {
            (AssertSqlSafe(sql).into_sql_str(), Ok(SqlxValues(values.unwrap_or(Values(Vec::new())))))
        }
        Sql::Keyed(keyed) => (AssertSqlSafe(keyed.sql().clone()).into_sql_str(), Err(keyed)),
    };
    let arguments = || -> Result<PgArguments, DbErr> {
        match &built {
            Ok(values) => Ok(sea_orm::sqlx::IntoArguments::<sea_orm::sqlx::Postgres>::into_arguments(values.clone())),
            Err(keyed) => keyed.arguments(),
        }
    };
    let failed = |error: Error| DbErr::Query(RuntimeErr::SqlxError(error.into()));
    // A kept connection or an idle one taken at once: the pool's `acquire` future is about
    // fourteen kilobytes (it can open a connection, TLS included), and was copied into this
    // future's box for every statement. Neither gets the ping a connection idle for a while
    // gets from the pool (`db::connect`), so a connection the database ended meanwhile (a
    // restart) is closed here and the statement, a read, runs again on the next one, and
    // finally on one from `acquire` (which opens a new connection when none is idle).
    for _ in 0..=pool.options().get_max_connections() {
        let Some(mut conn) = kept.take().or_else(|| pool.try_acquire().map(Lease::pooled)) else { break };
        match query_with(sql.clone(), arguments()?).fetch_all(&mut **conn).await {
            Err(error) if connection_lost(&error) => conn.close_on_drop(),
            done => return finish(kept, conn, done.map_err(failed)),
        }
    }
    let mut conn = kept.acquire(pool).await.map_err(acquire_failed)?;
    let done = query_with(sql, arguments()?).fetch_all(&mut **conn).await.map_err(failed);
    finish(kept, conn, done)
}

/// The read's rows; its connection kept when the statement ran to the end (see
/// [`Kept`]), else dropped for the pool to test.
fn finish<DB: Keep, T>(kept: &Kept, conn: Lease<DB>, done: Result<T, DbErr>) -> Result<T, DbErr> {
    if done.is_ok() {
        kept.give_back(conn);
    }
    done
}

/// Whether `error` says the connection is gone (its socket, or the server ended the
/// session: SQLSTATE classes 08, connection exception, and 57P, operator intervention,
/// such as a shutdown), rather than anything about the statement.
fn connection_lost(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        Error::Io(_) | Error::Tls(_) | Error::Protocol(_) | Error::WorkerCrashed => true,
        Error::Database(error) => error.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Runs `statement` on a connection of `pool` as SeaORM's SQLite driver does (the same
/// statement, bind values and errors), counting it into `statements`. Boxed, as
/// [`postgres`] is.
pub fn sqlite<'a>(
    pool: &'a SqlitePool,
    kept: &'a Kept,
    statements: &'a StatementCounter,
    statement: Sql,
) -> futures::future::BoxFuture<'a, Result<Vec<SqliteRow>, DbErr>> {
    use sea_orm::sqlx::{AssertSqlSafe, query_with};
    Box::pin(async move {
        statements.record_with(|| statement.clone().into_statement());
        let Statement { sql, values, .. } = statement.into_statement();
        let values = SqlxValues(values.unwrap_or(Values(Vec::new())));
        // A kept or idle connection taken at once, as on PostgreSQL.
        let mut conn = kept.connection(pool).await.map_err(acquire_failed)?;
        let done = query_with(AssertSqlSafe(sql), values)
            .fetch_all(&mut **conn)
            .await
            .map_err(|error| DbErr::Query(RuntimeErr::SqlxError(error.into())));
        finish(kept, conn, done)
    })
}

/// A connection could not be had from the pool, as SeaORM reports it.
fn acquire_failed(error: sea_orm::sqlx::Error) -> DbErr {
    use sea_orm::sqlx::Error;
    match error {
        Error::PoolTimedOut => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
        Error::PoolClosed => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(other.into())),
    }
}
