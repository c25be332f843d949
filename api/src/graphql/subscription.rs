//! The root `Subscription` type: live updates for front-ends, over the
//! graphql-transport-ws protocol (see `http::subscriptions`), filtered by the same policy
//! as queries: an update the caller could not read with a query never reaches them.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use entities::pairing;
use futures::{Stream, StreamExt, stream};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{Viewer, policy};
use crate::domain::{GlobalId, NodeKind};
use crate::graphql::context::{api, viewer};
use crate::graphql::types::{ChangeEntityType, ChangeEvent, Pairing, Round};
use crate::service::live::{Notifier, Subscribed};
use crate::service::{feed, relations};

#[derive(Default)]
pub struct SubscriptionRoot;

fn notifier(ctx: &Context<'_>) -> async_graphql::Result<Arc<Notifier>> {
    Ok(ctx.data::<Arc<Notifier>>()?.clone())
}

fn round_id(id: Option<&ID>) -> async_graphql::Result<Option<i32>> {
    Ok(id.map(|id| GlobalId::decode_int("roundId", id, NodeKind::Round)).transpose()?)
}

/// Items from a broadcast receiver, skipping what a slow subscriber missed (it is told in
/// the log; the next update of an object carries its whole state anyway).
fn items<T: Clone + Send + 'static>(
    receiver: tokio::sync::broadcast::Receiver<T>,
    subscribed: Subscribed,
) -> impl Stream<Item = T> + Send {
    stream::unfold((receiver, subscribed), |(mut receiver, subscribed)| async move {
        loop {
            match receiver.recv().await {
                Ok(item) => return Some((item, (receiver, subscribed))),
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "a slow subscriber missed updates"),
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// Live updates over WebSocket (`/graphql/ws`, the graphql-transport-ws protocol): what a
/// caller could read with a query, as it changes.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// A pairing the caller may see was created or changed (proposed by a matching run,
    /// confirmed, made or dissolved by hand, completed); of one round, or of all.
    async fn pairing_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this round's (its global id); every round's when left out.")] round_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = Pairing> + use<>> {
        let round = self::round_id(round_id.as_ref())?;
        let notifier = notifier(ctx)?;
        let viewer: Arc<Viewer> = ctx.data::<Arc<Viewer>>()?.clone();
        let db = api(ctx)?.db.clone();
        let receiver = notifier.pairings();
        let updates = items(receiver, notifier.subscribe())
            .filter(move |row| std::future::ready(round.is_none_or(|id| row.round_id == id)))
            .filter_map(move |row| {
                let (db, viewer) = (db.clone(), viewer.clone());
                async move {
                    // Visible now, by the policy of `pairings`, read at the update.
                    let scope = policy::pairings(&viewer);
                    let found =
                        relations::by_ids::<pairing::Entity>(db, scope, pairing::Column::Id, vec![row.id], |m| m.id)
                            .await
                            .ok()?;
                    found.get(&row.id).map(|_| Pairing(row))
                }
            });
        Ok(updates)
    }

    /// A round's status changed (applications opened or closed, matched, active,
    /// completed, cancelled); of one round, or of all.
    async fn round_status_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this round's (its global id); every round's when left out.")] round_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = Round> + use<>> {
        let round = self::round_id(round_id.as_ref())?;
        let notifier = notifier(ctx)?;
        let receiver = notifier.rounds();
        // Rounds are public programme facts: anyone who may query a round sees its status.
        Ok(items(receiver, notifier.subscribe())
            .filter(move |row| std::future::ready(round.is_none_or(|id| row.id == id)))
            .map(Round))
    }

    /// The change feed, live: each event the caller may follow, in order. With `after`
    /// (a cursor of the feed or of an earlier event) the events since then come first, so a
    /// client that reconnects with the last cursor it saw misses nothing.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Returns the items after this cursor (a `pageInfo.endCursor` or an edge's `cursor` of this list)."
        )]
        after: Option<String>,
        #[graphql(desc = "Only events about these kinds of object (every kind when left out).")] entity_types: Option<
            Vec<ChangeEntityType>,
        >,
    ) -> async_graphql::Result<impl Stream<Item = ChangeEvent> + use<>> {
        let viewer: Arc<Viewer> = ctx.data::<Arc<Viewer>>()?.clone();
        policy::signed_in(self::viewer(ctx)?, "the change feed needs a token")?;
        let notifier = notifier(ctx)?;
        let db = api(ctx)?.db.clone();
        let kinds: Vec<NodeKind> = entity_types.unwrap_or_default().into_iter().map(ChangeEntityType::kind).collect();
        let mut wake = notifier.changes();
        wake.borrow_and_update();
        let subscribed = notifier.subscribe();
        let start = match after.as_deref() {
            Some(cursor) => feed::decode_cursor("after", cursor)?,
            None => notifier.last_change().await?,
        };
        let state = Follow { last: start, read_now: true, wake, db, viewer, kinds, _subscribed: subscribed };
        let pages = stream::unfold(state, |mut state| async move {
            loop {
                if !state.read_now && state.wake.changed().await.is_err() {
                    return None;
                }
                state.read_now = false;
                let page = match feed::read(&state.db, &state.viewer, Some(state.last), Some(500), &state.kinds).await {
                    Ok(page) => page,
                    Err(err) => {
                        // The database is away: try again in a while, from the same place.
                        tracing::warn!(error = ?err, "changes subscription: feed read failed");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        state.read_now = true;
                        continue;
                    }
                };
                if let Some(event) = page.events.last() {
                    state.last = event.id;
                }
                state.read_now = page.has_more;
                if !page.events.is_empty() {
                    return Some((stream::iter(page.events), state));
                }
            }
        });
        Ok(pages.flatten().map(|event| ChangeEvent(Arc::new(event))))
    }
}

/// Where a `changes` subscription is in the feed.
struct Follow {
    last: i64,
    /// Read before waiting (at the start, and while pages are full).
    read_now: bool,
    wake: tokio::sync::watch::Receiver<i64>,
    db: sea_orm::DatabaseConnection,
    viewer: Arc<Viewer>,
    kinds: Vec<NodeKind>,
    _subscribed: Subscribed,
}
