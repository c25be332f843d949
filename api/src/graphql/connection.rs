//! Relay connections built from a keyset [`Page`], with a lazy `totalCount`: the count
//! query runs only when a client asks for it.

use std::sync::Arc;

use async_graphql::{
    Object, ObjectType,
    connection::{Connection, Edge, EmptyFields},
};
use futures::future::BoxFuture;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, Select};

use crate::error::ApiResult;
use crate::graphql::serial::Serial;
use crate::service::page::{Cursor, Page};

/// The extra fields every connection has.
#[derive(Clone)]
pub struct ConnectionTotals {
    count: Arc<dyn Fn() -> BoxFuture<'static, ApiResult<u64>> + Send + Sync>,
}

impl ConnectionTotals {
    /// Totals that count the rows of `select` (without its ordering and paging).
    pub fn of<E>(db: &DatabaseConnection, select: Select<E>) -> Self
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        let db = db.clone();
        Self {
            count: Arc::new(move || {
                let db = db.clone();
                let select = select.clone();
                Box::pin(async move { Ok(select.count(&db).await?) })
            }),
        }
    }
}

impl ConnectionTotals {
    /// Totals already counted (by a batched count), or counted on demand from `select`.
    pub fn known_or<E>(total: Option<u64>, db: &DatabaseConnection, select: Select<E>) -> Self
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        match total {
            Some(total) => Self { count: Arc::new(move || Box::pin(async move { Ok(total) })) },
            None => Self::of(db, select),
        }
    }
}

#[Object]
impl ConnectionTotals {
    /// Number of items in the whole list, across all pages, with the same filters.
    async fn total_count(&self) -> async_graphql::Result<i64> {
        let count = (self.count)().await?;
        Ok(crate::domain::counts::to_i64(count))
    }
}

/// A Relay connection of `N` with `totalCount`. Its nodes are resolved one field after
/// the other ([`Serial`]).
pub type Conn<N> = Connection<Cursor, Serial<N>, ConnectionTotals, EmptyFields>;

/// Turns a page of models into a connection of GraphQL objects.
pub fn connection<M, N>(page: Page<M>, totals: ConnectionTotals) -> Conn<N>
where
    N: ObjectType + From<std::sync::Arc<M>>,
{
    let mut conn = Connection::with_additional_fields(page.has_previous_page, page.has_next_page, totals);
    conn.edges = page.rows.into_iter().map(|(cursor, model)| Edge::new(cursor, Serial(N::from(model)))).collect();
    conn
}
