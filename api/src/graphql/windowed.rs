//! Windowed loads of nested connections: the DataLoader that answers the pages of many
//! parents (`countries { participants(first: 5) }`) with one windowed statement per set of
//! arguments, and one grouped count when `totalCount` is selected. The resolvers' side is
//! `graphql::nested`.
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{EntityTrait, Select, TryGetable, Value};

use crate::auth::Viewer;
use crate::db::Reader;
use crate::service::page::{self, Ordering, Page, PageArgs, PageLimits, Parent};

/// What a parent key (a country code, a round id...) must be to batch nested pages by it.
pub trait ParentKey:
    Send + Sync + Clone + Eq + Hash + Debug + serde::Serialize + Into<Value> + TryGetable + 'static
{
}

impl<T> ParentKey for T where
    T: Send + Sync + Clone + Eq + Hash + Debug + serde::Serialize + Into<Value> + TryGetable + 'static
{
}

/// The arguments of a nested connection, shared by every parent of one list.
#[derive(Debug)]
pub struct Spec<S> {
    pub filter: S,
    pub args: PageArgs,
    pub with_count: bool,
    /// Identity of the arguments, for batching and caching.
    canonical: String,
}

impl<S: Debug> Spec<S> {
    pub fn new(filter: S, args: PageArgs, with_count: bool) -> Arc<Self> {
        let canonical = format!("{filter:?}|{args:?}|{with_count}");
        Arc::new(Self { filter, args, with_count, canonical })
    }
}

/// One parent's page under one set of arguments.
#[derive(Debug)]
pub struct NestedKey<P, S> {
    pub parent: P,
    pub spec: Arc<Spec<S>>,
}

impl<P: Clone, S> Clone for NestedKey<P, S> {
    fn clone(&self) -> Self {
        Self { parent: self.parent.clone(), spec: self.spec.clone() }
    }
}

impl<P: PartialEq, S> PartialEq for NestedKey<P, S> {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.spec.canonical == other.spec.canonical
    }
}

impl<P: Eq, S> Eq for NestedKey<P, S> {}

impl<P: Hash, S> Hash for NestedKey<P, S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.spec.canonical.hash(state);
    }
}

/// A page and, when asked for, the total of one parent's connection.
pub type NestedPage<M> = (Page<M>, Option<u64>);

/// Loads nested pages of `E` per parent `P` under arguments `S`.
pub struct NestedLoader<E: EntityTrait, P, S> {
    pub db: Reader,
    /// Whose request this is: `select` applies their policy.
    pub viewer: Arc<Viewer>,
    pub limits: PageLimits,
    /// The parent column and how to read it from a row.
    pub parent: Parent<E, P>,
    /// The rows the arguments select, for all parents.
    pub select: fn(&Viewer, &S) -> Select<E>,
    pub ordering: fn(&S) -> Ordering<E>,
}

impl<E, P, S> Loader<NestedKey<P, S>> for NestedLoader<E, P, S>
where
    E: EntityTrait,
    E::Model: Sync + crate::service::rows::ByIndex,
    P: ParentKey,
    Value: From<Vec<P>>,
    S: Send + Sync + Debug + 'static,
{
    type Value = NestedPage<E::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[NestedKey<P, S>]) -> Result<HashMap<NestedKey<P, S>, Self::Value>, Self::Error> {
        let mut groups: HashMap<&str, (Arc<Spec<S>>, Vec<P>)> = HashMap::new();
        for key in keys {
            let entry = groups.entry(key.spec.canonical.as_str()).or_insert_with(|| (key.spec.clone(), Vec::new()));
            entry.1.push(key.parent.clone());
        }
        let mut out = HashMap::new();
        for (spec, parents) in groups.into_values() {
            let select = (self.select)(&self.viewer, &spec.filter);
            let ordering = (self.ordering)(&spec.filter);
            let pages = page::paginate_per_parent(
                &self.db,
                select.clone(),
                self.parent,
                parents.clone(),
                &ordering,
                &spec.args,
                self.limits,
            )
            .await?;
            let counts = if spec.with_count {
                Some(page::count_per_parent(&self.db.conn, select, self.parent.0, parents).await?)
            } else {
                None
            };
            for (parent, page) in pages {
                let total = counts.as_ref().and_then(|c| c.get(&parent).copied());
                out.insert(NestedKey { parent, spec: spec.clone() }, (page, total));
            }
        }
        Ok(out)
    }
}
