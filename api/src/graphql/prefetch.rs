//! Look-ahead prefetching for lists.
//!
//! A DataLoader batches the keys that sibling resolvers ask for within a short delay; when a
//! level takes longer than that to register its keys (a busy server), the batch splits, and
//! every level pays the delay. So a list resolver looks at the selection set of its items
//! once, loads every relation the client asked for (recursively) with one statement per
//! relation, and feeds the results into the request's DataLoader caches. The field resolvers
//! then find their rows in the cache: the statement count of a nested list is fixed by the
//! shape of the query, never by the page size or by timing.

use std::hash::Hash;
use std::sync::Arc;

use async_graphql::{Context, Lookahead};
use entities::{application, librarian, membership, pairing};
use futures::future::{BoxFuture, try_join_all};

use crate::domain::NodeKind;
use crate::graphql::context::loaders;
use crate::graphql::loaders::{Loaders, Rows};
use crate::graphql::types::brief;
use crate::graphql::types::{membership_brief, pairing_brief};
use crate::service::relations::{FastHash, Keyed};

type Prefetch<'a> = BoxFuture<'a, async_graphql::Result<()>>;

/// The selection of one item of a connection (`nodes { .. }` and `edges { node { .. } }`)
/// or of a plain list field.
pub fn items<'a>(ctx: &'a Context<'a>) -> Option<Lookahead<'a>> {
    items_in(&ctx.look_ahead())
}

/// The selection of one item of the connection selected by `here`.
pub fn items_in<'a>(here: &Lookahead<'a>) -> Option<Lookahead<'a>> {
    let mut fields = here.field("nodes").selection_fields();
    fields.extend(here.field("edges").field("node").selection_fields());
    Lookahead::try_from(&fields[..]).ok()
}

/// Whether the objects selected by `sel` (every field it covers, fragments included
/// whatever their type condition) read only `fields`: then a type's brief rows serve them.
/// A list's prefetch and the field's resolver both decide with this (through the type's
/// `brief`), so a brief row never reaches a selection that reads more.
pub fn selects_only(sel: &Lookahead<'_>, fields: &[&str]) -> bool {
    let selected = sel.selection_fields();
    !selected.is_empty()
        && selected.iter().all(|field| field.selection_set().all(|child| fields.contains(&child.name())))
}

/// [`selects_only`] for the objects of the field `ctx` resolves, decided once per field of
/// the document and kept for the request (in [`Decisions`], when the request has them):
/// every object of a list asks it for the same field, and walking the selection (a
/// look-ahead, its fields, their sets, each a fresh vector) cost more than the field's
/// rows. The decision depends on the field's own selection alone (fragments are expanded
/// whatever their type condition), so the field's place in the document and `fields`
/// (by address: a `static` list) are its whole key.
pub fn field_selects_only(ctx: &Context<'_>, fields: &'static [&'static str]) -> bool {
    let key = (std::ptr::from_ref(ctx.item) as usize, fields.as_ptr() as usize);
    let decisions = ctx.data_opt::<Decisions>();
    if let Some(known) = decisions.and_then(|d| d.lock().get(&key).copied()) {
        return known;
    }
    let decided = selects_only(&ctx.look_ahead(), fields);
    if let Some(decisions) = decisions {
        decisions.lock().insert(key, decided);
    }
    decided
}

/// The decisions of [`field_selects_only`] for one request's document. Request data: a
/// subscription, which runs many documents over one set of data, goes without it.
#[derive(Default)]
pub struct Decisions(std::sync::Mutex<std::collections::HashMap<(usize, usize), bool, FastHash>>);

impl Decisions {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<(usize, usize), bool, FastHash>> {
        // Insertions only: a panic while it was held cannot leave it half-written.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn unique<K: Eq + Hash + Clone>(keys: impl IntoIterator<Item = K>) -> Vec<K> {
    let keys = keys.into_iter();
    // Sized once: growing the set rehashes every key seen so far.
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(keys.size_hint().0, FastHash::default());
    keys.filter(|k| seen.insert(k.clone())).collect()
}

/// Loads one row per key and caches them.
async fn prime<K, V>(loader: &Rows<K, V>, keys: Vec<K>) -> async_graphql::Result<Keyed<K, V>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    let rows = loader.loader().batch(unique(keys)).await?;
    loader.feed_many(rows.iter().map(|(key, value)| (key.clone(), value.clone())));
    Ok(rows)
}

/// Loads the children of each key and caches them, including the empty lists.
async fn prime_many<V>(loader: &Rows<i32, Vec<V>>, keys: Vec<i32>) -> async_graphql::Result<Vec<V>>
where
    V: Send + Sync + Clone + 'static,
{
    let keys = unique(keys);
    let mut rows = loader.loader().batch(keys.clone()).await?;
    for key in keys {
        rows.entry(key).or_default();
    }
    let children = rows.values().flatten().cloned().collect();
    loader.feed_many(rows);
    Ok(children)
}

async fn all(tasks: Vec<Prefetch<'_>>) -> async_graphql::Result<()> {
    try_join_all(tasks).await.map(|_| ())
}

/// Prefetches what `sel` asks of each librarian.
pub fn librarians<'a>(ctx: &'a Context<'a>, sel: Lookahead<'a>, rows: Vec<Arc<librarian::Model>>) -> Prefetch<'a> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(());
        }
        let l = loaders(ctx)?;
        let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
        let mut tasks: Vec<Prefetch<'a>> = Vec::new();
        if sel.field("languages").exists() {
            let ids = ids.clone();
            tasks.push(Box::pin(async move { prime_many(&l.languages_of_librarian, ids).await.map(|_| ()) }));
        }
        if sel.field("interests").exists() {
            let ids = ids.clone();
            tasks.push(Box::pin(async move { prime_many(&l.interests_of_librarian, ids).await.map(|_| ()) }));
        }
        let next = sel.field("memberships");
        if next.exists() {
            let ids = ids.clone();
            tasks.push(Box::pin(async move {
                // Brief rows when the selection reads nothing else (the field's resolver
                // decides the same way).
                let relation = if membership_brief(&next) {
                    &l.brief_memberships_of_librarian
                } else {
                    &l.memberships_of_librarian
                };
                let children = prime_many(relation, ids).await?;
                memberships(ctx, next, children).await
            }));
        }
        let next = sel.field("applications");
        if next.exists() {
            let ids = ids.clone();
            tasks.push(Box::pin(async move {
                let children = prime_many(&l.applications_of_librarian, ids).await?;
                applications(ctx, next, children).await
            }));
        }
        let next = sel.field("pairings");
        if next.exists() {
            tasks.push(Box::pin(async move {
                // Brief rows when the selection reads nothing else (the field's resolver
                // decides the same way).
                let relation =
                    if pairing_brief(&next) { &l.brief_pairings_of_librarian } else { &l.pairings_of_librarian };
                let children = prime_many(relation, ids).await?;
                pairings(ctx, next, children).await
            }));
        }
        all(tasks).await
    })
}

/// Librarians by id, then what `sel` asks of them.
fn librarians_by_id<'a>(ctx: &'a Context<'a>, l: &'a Loaders, sel: Lookahead<'a>, ids: Vec<i32>) -> Prefetch<'a> {
    Box::pin(async move {
        let rows = prime(&l.librarian, ids).await?;
        librarians(ctx, sel, rows.into_values().collect()).await
    })
}

/// Rounds by id (a leaf: rounds' own relations are connections, resolved by their loaders).
fn rounds(l: &Loaders, ids: Vec<i32>) -> Prefetch<'_> {
    Box::pin(async move { prime(&l.round, ids).await.map(|_| ()) })
}

/// Prefetches what `sel` asks of each membership.
pub fn memberships<'a>(ctx: &'a Context<'a>, sel: Lookahead<'a>, rows: Vec<Arc<membership::Model>>) -> Prefetch<'a> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(());
        }
        let l = loaders(ctx)?;
        let mut tasks: Vec<Prefetch<'a>> = Vec::new();
        if sel.field("association").exists() {
            let ids = rows.iter().map(|r| r.association_id).collect();
            tasks.push(Box::pin(async move { prime(&l.association, ids).await.map(|_| ()) }));
        }
        let next = sel.field("librarian");
        if next.exists() {
            tasks.push(librarians_by_id(ctx, l, next, rows.iter().map(|r| r.librarian_id).collect()));
        }
        all(tasks).await
    })
}

/// Prefetches what `sel` asks of each application.
pub fn applications<'a>(ctx: &'a Context<'a>, sel: Lookahead<'a>, rows: Vec<Arc<application::Model>>) -> Prefetch<'a> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(());
        }
        let l = loaders(ctx)?;
        let mut tasks: Vec<Prefetch<'a>> = Vec::new();
        if sel.field("round").exists() {
            tasks.push(rounds(l, rows.iter().map(|r| r.round_id).collect()));
        }
        let next = sel.field("librarian");
        if next.exists() {
            tasks.push(librarians_by_id(ctx, l, next, rows.iter().map(|r| r.librarian_id).collect()));
        }
        all(tasks).await
    })
}

/// Prefetches what `sel` asks of each pairing.
pub fn pairings<'a>(ctx: &'a Context<'a>, sel: Lookahead<'a>, rows: Vec<Arc<pairing::Model>>) -> Prefetch<'a> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(());
        }
        let l = loaders(ctx)?;
        let mut tasks: Vec<Prefetch<'a>> = Vec::new();
        if sel.field("round").exists() {
            tasks.push(rounds(l, rows.iter().map(|r| r.round_id).collect()));
        }
        let next = sel.field("members");
        if next.exists() {
            let ids = rows.iter().map(|r| r.id).collect();
            tasks.push(Box::pin(async move {
                // Brief rows when the members' selection reads nothing else (the field's
                // resolver decides the same way).
                let relation = if brief(&next) { &l.brief_members_of_pairing } else { &l.members_of_pairing };
                let members = prime_many(relation, ids).await?;
                librarians(ctx, next, members).await
            }));
        }
        all(tasks).await
    })
}

/// Prefetches the current object of each change-feed event (`(kind, key)`), one statement
/// per kind, then what the `events { node }` selection (fragments included) asks of them.
pub fn feed_nodes<'a>(ctx: &'a Context<'a>, entities: Vec<(NodeKind, i32)>) -> Prefetch<'a> {
    Box::pin(async move {
        let l = loaders(ctx)?;
        let sel = || ctx.look_ahead().field("events").field("node");
        let keys =
            |kind: NodeKind| -> Vec<i32> { entities.iter().filter(|(k, _)| *k == kind).map(|(_, key)| *key).collect() };
        let (librarian_ids, membership_ids) = (keys(NodeKind::Librarian), keys(NodeKind::Membership));
        let (association_ids, ambassador_ids) = (keys(NodeKind::Association), keys(NodeKind::Ambassador));
        let mut tasks: Vec<Prefetch<'a>> = Vec::new();
        if !librarian_ids.is_empty() {
            tasks.push(librarians_by_id(ctx, l, sel(), librarian_ids));
        }
        if !membership_ids.is_empty() {
            let sel = sel();
            tasks.push(Box::pin(async move {
                let rows = prime(&l.membership, membership_ids).await?;
                memberships(ctx, sel, rows.into_values().collect()).await
            }));
        }
        if !association_ids.is_empty() {
            tasks.push(Box::pin(async move { prime(&l.association, association_ids).await.map(|_| ()) }));
        }
        if !ambassador_ids.is_empty() {
            tasks.push(Box::pin(async move { prime(&l.ambassador, ambassador_ids).await.map(|_| ()) }));
        }
        // Programme objects: one statement per kind, then their relations.
        macro_rules! rows {
            ($($kind:ident => $loader:ident),* $(,)?) => {$(
                let ids = keys(NodeKind::$kind);
                if !ids.is_empty() {
                    tasks.push(Box::pin(async move { prime(&l.$loader, ids).await.map(|_| ()) }));
                }
            )*};
        }
        rows!(Round => round, DiscussionTopic => topic, EngagementReport => engagement_report);
        let application_ids = keys(NodeKind::Application);
        if !application_ids.is_empty() {
            let sel = sel();
            tasks.push(Box::pin(async move {
                let rows = prime(&l.application, application_ids).await?;
                applications(ctx, sel, rows.into_values().collect()).await
            }));
        }
        let pairing_ids = keys(NodeKind::Pairing);
        if !pairing_ids.is_empty() {
            let sel = sel();
            tasks.push(Box::pin(async move {
                let rows = prime(&l.pairing, pairing_ids).await?;
                pairings(ctx, sel, rows.into_values().collect()).await
            }));
        }
        let certificate_ids = keys(NodeKind::Certificate);
        if !certificate_ids.is_empty() {
            let wants_round = sel().field("round").exists();
            tasks.push(Box::pin(async move {
                let rows = prime(&l.certificate, certificate_ids).await?;
                if wants_round {
                    rounds(l, rows.values().map(|c| c.round_id).collect()).await?;
                }
                Ok(())
            }));
        }
        all(tasks).await
    })
}
