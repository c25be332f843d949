//! Objects in lists, resolved one field after the other.
//!
//! async-graphql resolves every field of an object as a future of its own: it boxes the
//! future, runs the fields of the object through a `FuturesUnordered` (a reference-counted
//! task for each), and, because the schema has an extension (the [`Guard`]), passes each
//! field through the extension chain, which looks its type up in the registry by name. On
//! the ambassador query (about 1,250 fields) that machinery, not the fields, was half of
//! the server's work: nearly every field is a value the object already holds, or a relation
//! the list above it prefetched into the DataLoader caches, ready at the first poll.
//!
//! [`Serial<T>`] is `T` in the schema (the same type, fields and SDL), resolved by
//! [`resolve`]: its fields are awaited in order within one future per object. A relation
//! that is not in the cache still batches with the same relation of the object's siblings
//! (the list resolves its items concurrently); the relations of one object are loaded one
//! after the other rather than together.
//!
//! Two conditions keep this equivalent to async-graphql's own resolver, and a test checks
//! both through the server: no extension of the schema hooks the resolution of fields (the
//! guard works before execution), and a selection that carries a directive other than
//! `@skip`/`@include` (which async-graphql removes before execution) goes to
//! async-graphql's resolver.
//!
//! [`Guard`]: super::guard::Guard

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::LazyLock;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    indexmap::map::raw_entry_v1::{RawEntryApiV1, RawEntryMut},
};

use smallvec::SmallVec;

use super::names::ByNames;

/// `T`, resolved one field after the other (see the module's documentation).
pub struct Serial<T>(pub T);

impl<T> From<T> for Serial<T> {
    fn from(inner: T) -> Self {
        Self(inner)
    }
}

impl<T: ObjectType> OutputType for Serial<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        // Boxed: an object's fields may hold lists of the same type (a librarian's pairings
        // hold librarians), and only a boxed future can contain itself.
        let future: Pin<Box<dyn Future<Output = ServerResult<Value>> + Send + '_>> = Box::pin(resolve(ctx, &self.0));
        future.await
    }
}

impl<T: ObjectType> ContainerType for Serial<T> {
    async fn resolve_field(&self, ctx: &async_graphql::Context<'_>) -> ServerResult<Option<Value>> {
        self.0.resolve_field(ctx).await
    }
}

impl<T: ObjectType> ObjectType for Serial<T> {}

/// A list of `T` (`[T!]!` in the schema), whose items are resolved concurrently (so that
/// their relations batch together) but without async-graphql's per-item extension chain,
/// which formats the list's type name twice for every item.
pub struct Items<T>(pub Vec<T>);

impl<T> FromIterator<T> for Items<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<T: OutputType> OutputType for Items<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        list(ctx, self.0.iter().map(|item| (item, field))).await
    }
}

/// A list of leaves (`[String!]!` and the like): `Items` without the concurrency, which
/// leaves do not need (a value each, ready at once): no future per item, and no
/// `try_join_all` with its own allocation for every list.
pub struct Leaves<T>(pub Vec<T>);

impl<T: OutputType> OutputType for Leaves<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        let mut values = Vec::with_capacity(self.0.len());
        for (index, item) in self.0.iter().enumerate() {
            let ctx_index = ctx.with_index(index);
            values.push(item.resolve(&ctx_index, field).await.map_err(|error| ctx_index.set_error_path(error))?);
        }
        Ok(Value::List(values))
    }
}

/// The items of a list field (each with the field), resolved concurrently as async-graphql
/// resolves a list's items, but without its per-item extension chain.
///
/// # Errors
/// The first item's error, at the item's path (as async-graphql reports it).
pub async fn list<'a, T: OutputType>(
    ctx: &ContextSelectionSet<'_>,
    items: impl Iterator<Item = (T, &'a Positioned<Field>)>,
) -> ServerResult<Value> {
    let items = items.enumerate().map(|(index, (item, field))| async move {
        let ctx_index = ctx.with_index(index);
        item.resolve(&ctx_index, field).await.map_err(|error| ctx_index.set_error_path(error))
    });
    Ok(Value::List(futures::future::try_join_all(items).await?))
}

/// The selected fields of `root`, in document order, with fragments expanded as
/// async-graphql expands them; `None` when the selection holds something only
/// async-graphql's own resolver handles.
fn fields<'a, T: ContainerType>(
    ctx: &ContextSelectionSet<'a>,
    root: &T,
    set: &'a SelectionSet,
    out: &mut SmallVec<[&'a Positioned<Field>; 16]>,
) -> Option<()> {
    for selection in &set.items {
        if !selection.node.directives().is_empty() {
            return None;
        }
        let (condition, inner) = match &selection.node {
            Selection::Field(field) => {
                out.push(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let fragment = ctx.query_env.fragments.get(&spread.node.fragment_name.node)?;
                if !fragment.node.directives.is_empty() {
                    return None;
                }
                (Some(fragment.node.type_condition.node.on.node.as_str()), &fragment.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => (
                fragment.node.type_condition.as_ref().map(|c| c.node.on.node.as_str()),
                &fragment.node.selection_set.node,
            ),
        };
        if applies::<T>(ctx, root, condition) {
            fields(ctx, root, inner, out)?;
        }
    }
    Some(())
}

/// Whether a fragment with type `condition` applies to `root` (its type, an interface it
/// implements, or no condition).
fn applies<T: ContainerType>(ctx: &ContextSelectionSet<'_>, root: &T, condition: Option<&str>) -> bool {
    let Some(condition) = condition else { return true };
    let name = root.introspection_type_name();
    name == condition
        || T::type_name() == condition
        || ctx
            .schema_env
            .registry
            .implements
            .get(name.as_ref())
            .is_some_and(|interfaces| interfaces.contains(condition))
}

/// Resolves the selection of `root` one field after the other: the same answer and errors
/// as async-graphql's `resolve_container`.
///
/// # Errors
/// None of its own: a field's error is recorded at the field's path, and the field left out.
pub async fn resolve<T: ContainerType>(ctx: &ContextSelectionSet<'_>, root: &T) -> ServerResult<Value> {
    // On the stack for up to 16 fields.
    let mut selected: SmallVec<[&Positioned<Field>; 16]> = SmallVec::new();
    if fields(ctx, root, &ctx.item.node, &mut selected).is_none() {
        return async_graphql::resolver_utils::resolve_container(ctx, root).await;
    }
    let hashes = key_hashes(&selected);
    let mut results: IndexMap<Name, Value> = IndexMap::with_capacity_and_hasher(selected.len(), OBJECT_KEYS.clone());
    for (field, &hash) in selected.into_iter().zip(hashes.iter()) {
        let ctx_field = ctx.with_field(field);
        let key = field.node.response_key().node.clone();
        let value = if field.node.name.node == "__typename" {
            Value::String(root.introspection_type_name().into_owned())
        } else {
            match root.resolve_field(&ctx_field).await {
                Ok(value) => value.unwrap_or_default(),
                Err(error) => {
                    ctx.add_error(error);
                    continue;
                }
            }
        };
        // The key's hash, computed with the objects' one hasher (the map's own).
        match results.raw_entry_mut_v1().from_key_hashed_nocheck(hash, &key) {
            RawEntryMut::Vacant(entry) => {
                entry.insert_hashed_nocheck(hash, key, value);
            }
            RawEntryMut::Occupied(entry) => merge(entry.into_mut(), value),
        }
    }
    Ok(if results.is_empty() { Value::Null } else { Value::Object(results) })
}

/// The hasher of every response object this module builds. One instance (seeded at random
/// once per process), so that the hash of a response key is the same in every object, and
/// [`key_hashes`] computes it once per selection rather than once per object: with
/// SipHash, hashing the keys was 3% of the server's work on the ambassador query.
static OBJECT_KEYS: LazyLock<RandomState> = LazyLock::new(RandomState::new);

thread_local! {
    /// The hashes of the response keys of the last selections this thread resolved.
    static KNOWN: RefCell<ByNames<Box<[u64]>>> = const { RefCell::new(ByNames::new()) };
}

/// The hash of the response key of each of `fields` (an object's selection), with
/// [`OBJECT_KEYS`], computed once per selection (see [`ByNames`]).
fn key_hashes(fields: &[&Positioned<Field>]) -> SmallVec<[u64; 16]> {
    let names = fields.iter().map(|field| &field.node.response_key().node);
    KNOWN.with_borrow_mut(|known| {
        let hashes = known.get_or_insert_with(names.clone(), || names.map(|name| OBJECT_KEYS.hash_one(name)).collect());
        hashes.iter().copied().collect()
    })
}

/// Adds a field's value under its response key, merging the objects (and lists of
/// objects) of a key selected twice, as async-graphql's `insert_value` does.
fn insert(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    // One hash of the key, whether it is new (nearly always) or selected again.
    match target.entry(name) {
        async_graphql::indexmap::map::Entry::Vacant(entry) => {
            entry.insert(value);
        }
        async_graphql::indexmap::map::Entry::Occupied(entry) => merge(entry.into_mut(), value),
    }
}

/// Merges `value` into the value of a key selected again.
fn merge(previous: &mut Value, value: Value) {
    match (previous, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                insert(into, key, value);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (index, value) in from.into_iter().enumerate() {
                if let (Some(Value::Object(into)), Value::Object(from)) = (into.get_mut(index), value) {
                    for (key, value) in from {
                        insert(into, key, value);
                    }
                }
            }
        }
        // A leaf selected twice has one value: the first stays.
        _ => {}
    }
}
