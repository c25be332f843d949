//! Relay connections built from a keyset [`Page`], with a lazy `totalCount`: the count
//! query runs only when a client asks for it.

use std::sync::Arc;

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Object, ObjectType, OutputType, Positioned, ServerResult, Value,
    connection::{Connection, Edge, EmptyFields},
};
use futures::future::BoxFuture;
use sea_orm::{EntityTrait, Select};

use crate::db::Reader;

use crate::error::ApiResult;
use crate::graphql::serial::{self, Serial};
use crate::service::page::{Cursor, Page};
use crate::service::rows;

/// The extra fields every connection has.
#[derive(Clone)]
pub struct ConnectionTotals {
    count: Arc<dyn Fn() -> BoxFuture<'static, ApiResult<u64>> + Send + Sync>,
}

impl ConnectionTotals {
    /// Totals that count the rows of `select` (without its ordering and paging).
    pub fn of<E>(db: &Reader, select: Select<E>) -> Self
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        let db = db.clone();
        Self {
            count: Arc::new(move || {
                let db = db.clone();
                let select = select.clone();
                Box::pin(async move { Ok(rows::count(&db, select).await?) })
            }),
        }
    }
}

impl ConnectionTotals {
    /// Totals already counted (by a batched count), or counted on demand from `select`.
    pub fn known_or<E>(total: Option<u64>, db: &Reader, select: Select<E>) -> Self
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

type Inner<N> = Connection<Cursor, Serial<N>, ConnectionTotals, EmptyFields>;

/// A Relay connection of `N` with `totalCount`: async-graphql's `Connection` in the schema
/// (the same types, fields and SDL), whose `nodes` and `edges` are resolved as [`Items`]
/// are, without async-graphql's per-item extension chain, and whose nodes are resolved
/// one field after the other ([`Serial`]).
pub struct Conn<N: ObjectType>(Inner<N>);

impl<N: ObjectType> OutputType for Conn<N> {
    fn type_name() -> Cow<'static, str> {
        Inner::<N>::type_name()
    }

    fn qualified_type_name() -> String {
        Inner::<N>::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Inner::<N>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        serial::resolve(ctx, self).await
    }
}

impl<N: ObjectType> ContainerType for Conn<N> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let field = ctx.item;
        let items = ctx.with_selection_set(&field.node.selection_set);
        let edges = &self.0.edges;
        let list = match field.node.name.node.as_str() {
            "nodes" => serial::list(&items, edges.iter().map(|edge| (&edge.node, field))).await,
            "edges" => serial::list(&items, edges.iter().map(|edge| (Serial(edge), field))).await,
            _ => return self.0.resolve_field(ctx).await,
        };
        list.map(Some)
    }
}

impl<N: ObjectType> ObjectType for Conn<N> {}

/// Turns a page of models into a connection of GraphQL objects.
pub fn connection<M, N>(page: Page<M>, totals: ConnectionTotals) -> Conn<N>
where
    N: ObjectType + From<std::sync::Arc<M>>,
{
    let mut conn = Connection::with_additional_fields(page.has_previous_page, page.has_next_page, totals);
    conn.edges = page.rows.into_iter().map(|(cursor, model)| Edge::new(cursor, Serial(N::from(model)))).collect();
    Conn(conn)
}
