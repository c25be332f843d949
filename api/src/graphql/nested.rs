//! Nested connections under lists (`countries { participants(first: 5) }`,
//! `rounds { applications }`, ...), batched across the parents of the list.
//!
//! Each parent's connection asks a DataLoader for its page under a key made of the parent
//! and the connection's arguments; the loader answers all parents that share the same
//! arguments with one windowed statement (and one grouped count when `totalCount` is
//! selected), instead of a statement per parent.

use std::fmt::Debug;
use std::sync::Arc;

use sea_orm::{EntityTrait, Select, Value};

use crate::graphql::connection::ConnectionTotals;
pub use crate::graphql::windowed::{NestedKey, NestedLoader, NestedPage, ParentKey, Spec};
use crate::service::page::{self, Page, PageArgs};

/// One parent's page (and its totals) of a nested connection: through `loader` under a
/// list, directly for a single parent. `parent_rows` selects this parent's rows.
///
/// # Errors
/// `BAD_USER_INPUT` for bad page arguments (checked here, per field); database errors.
pub async fn page_of<E, P, S>(
    ctx: &async_graphql::Context<'_>,
    loader: &async_graphql::dataloader::DataLoader<NestedLoader<E, P, S>, async_graphql::dataloader::HashMapCache>,
    parent: P,
    filter: S,
    args: PageArgs,
    parent_rows: Select<E>,
) -> async_graphql::Result<(Page<E::Model>, ConnectionTotals)>
where
    E: EntityTrait,
    E::Model: Sync + crate::service::rows::ByIndex,
    P: ParentKey,
    Value: From<Vec<P>>,
    S: Send + Sync + Debug + 'static,
{
    page_of_some(ctx, loader, parent, filter, args, parent_rows, |_| None).await
}

/// [`page_of`], whose page for a single parent reads only the columns `columns` marks for
/// the connection's ordering (see [`page::paginate_some`]; `None`: every column). Under a
/// list, pages come whole from the loader, whose cache every alias and parent shares.
///
/// # Errors
/// As [`page_of`].
pub async fn page_of_some<E, P, S>(
    ctx: &async_graphql::Context<'_>,
    loader: &async_graphql::dataloader::DataLoader<NestedLoader<E, P, S>, async_graphql::dataloader::HashMapCache>,
    parent: P,
    filter: S,
    args: PageArgs,
    parent_rows: Select<E>,
    columns: impl FnOnce(&page::Ordering<E>) -> Option<Vec<bool>>,
) -> async_graphql::Result<(Page<E::Model>, ConnectionTotals)>
where
    E: EntityTrait,
    E::Model: Sync + crate::service::rows::ByIndex,
    P: ParentKey,
    Value: From<Vec<P>>,
    S: Send + Sync + Debug + 'static,
{
    let api = crate::graphql::context::api(ctx)?;
    args.check(api.page_limits)?;
    if !under_list(ctx) {
        // A single parent: a plain keyset page (LIMIT n + 1) and a lazy count.
        let ordering = (loader.loader().ordering)(&filter);
        let present = columns(&ordering);
        let (reader, limits) = (&api.reader, api.page_limits);
        let page =
            page::paginate_some(reader, parent_rows.clone(), &ordering, &args, limits, present.as_deref()).await?;
        return Ok((page, ConnectionTotals::of(&api.reader, parent_rows)));
    }
    let with_count = ctx.look_ahead().field("totalCount").exists();
    let key = NestedKey { parent, spec: Spec::new(filter, args, with_count) };
    let (page, total) = loader
        .load_one(key)
        .await?
        .unwrap_or_else(|| (Page { rows: Vec::new(), has_next_page: false, has_previous_page: false }, Some(0)));
    Ok((page, ConnectionTotals::known_or(total, &api.reader, parent_rows)))
}

/// Whether the field being resolved sits inside a list, i.e. has sibling parents. A nested
/// connection with a single parent prefetches its items' relations itself; under a list,
/// the parents' connections rely on the DataLoaders to batch across parents instead (a
/// prefetch per parent would be a statement per parent).
pub fn under_list(ctx: &async_graphql::Context<'_>) -> bool {
    let mut node = ctx.path_node.as_ref();
    while let Some(current) = node {
        if matches!(current.segment, async_graphql::QueryPathSegment::Index(_)) {
            return true;
        }
        node = current.parent;
    }
    false
}

/// The arguments of a nested connection as its resolver will see them, read from the
/// look-ahead of the list above it. `None` when an argument does not parse: the resolver
/// then reports the error for its own field.
pub struct FieldArgs(Vec<(async_graphql::Name, async_graphql::Value)>);

impl FieldArgs {
    pub fn of(field: &async_graphql::SelectionField<'_>) -> Option<Self> {
        field.arguments().ok().map(Self)
    }

    /// Argument `name` as `T` (absent arguments parse as `null`).
    pub fn get<T: async_graphql::InputType>(&self, name: &str) -> Option<T> {
        let value = self.0.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.clone());
        T::parse(value).ok()
    }

    /// `first`/`after`/`last`/`before`.
    pub fn page(&self) -> Option<PageArgs> {
        Some(PageArgs {
            first: self.get("first")?,
            after: self.get("after")?,
            last: self.get("last")?,
            before: self.get("before")?,
        })
    }
}

/// Loads, for every parent of a list at once, each nested connection `name` that `items`
/// selects (once per alias), so that the parents' resolvers find their pages in the loader's
/// cache; then prefetches what those pages' items select, all parents together. This makes
/// the statement count of `countries { participants { ... } }` independent of timing.
///
/// # Errors
/// Database errors.
pub async fn prefetch<'a, E, P, S>(
    items: &async_graphql::Lookahead<'a>,
    name: &str,
    loader: &async_graphql::dataloader::DataLoader<NestedLoader<E, P, S>, async_graphql::dataloader::HashMapCache>,
    parents: &[P],
    spec_of: impl Fn(&FieldArgs) -> Option<S>,
    then: impl Fn(
        async_graphql::Lookahead<'a>,
        Vec<Arc<E::Model>>,
    ) -> futures::future::BoxFuture<'a, async_graphql::Result<()>>,
) -> async_graphql::Result<()>
where
    E: EntityTrait,
    E::Model: Sync + crate::service::rows::ByIndex,
    P: ParentKey,
    Value: From<Vec<P>>,
    S: Send + Sync + Debug + 'static,
{
    if parents.is_empty() {
        return Ok(());
    }
    for field in items.field(name).selection_fields() {
        let Some(args) = FieldArgs::of(&field) else { continue };
        let (Some(filter), Some(page)) = (spec_of(&args), args.page()) else { continue };
        let here = async_graphql::Lookahead::from(field);
        let spec = Spec::new(filter, page, here.field("totalCount").exists());
        let keys = parents.iter().map(|parent| NestedKey { parent: parent.clone(), spec: spec.clone() });
        let Ok(pages) = loader.load_many(keys).await else { continue };
        let models: Vec<Arc<E::Model>> = pages.values().flat_map(|(page, _)| page.models()).collect();
        if let Some(sel) = crate::graphql::prefetch::items_in(&here) {
            then(sel, models).await?;
        }
    }
    Ok(())
}
