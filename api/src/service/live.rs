//! Live updates for subscriptions, from the database (so that a write on any replica
//! reaches subscribers on every replica, with no broker between them).
//!
//! One task per process polls while anyone subscribes (and stops when the last one leaves,
//! so an idle server runs no statements):
//! - pairings and rounds whose `updated_at` moved: a write's `updated_at` is taken before
//!   its transaction commits, so each poll looks back [`LOOKBACK`] and drops what it has
//!   already sent (by id and `updated_at`); rounds are sent only when their status changed;
//! - the last id of the change log, which subscribers of `changes` read after (the change
//!   feed's order already guarantees they miss nothing).
//!
//! Subscribers filter what they receive by the caller's policy (see
//! `graphql::subscription`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::{change_log, pairing, round};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{broadcast, watch};

use crate::error::ApiResult;

/// How far back each poll looks for writes that committed late.
pub const LOOKBACK: Duration = Duration::from_secs(5);

/// Updates buffered per subscriber before a slow one starts losing the oldest.
const BUFFER: usize = 1_024;

/// The process's source of live updates.
pub struct Notifier {
    db: DatabaseConnection,
    poll: Duration,
    pairings: broadcast::Sender<Arc<pairing::Model>>,
    rounds: broadcast::Sender<Arc<round::Model>>,
    changes: watch::Sender<i64>,
    subscribers: AtomicUsize,
    /// Whether the polling task runs.
    running: AtomicBool,
}

/// Keeps a subscription counted while it lives.
pub struct Subscribed(Arc<Notifier>);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Notifier {
    pub fn new(db: DatabaseConnection, poll: Duration) -> Arc<Self> {
        Arc::new(Self {
            db,
            poll: poll.max(Duration::from_millis(10)),
            pairings: broadcast::channel(BUFFER).0,
            rounds: broadcast::channel(BUFFER).0,
            changes: watch::channel(0).0,
            subscribers: AtomicUsize::new(0),
            running: AtomicBool::new(false),
        })
    }

    /// Counts a new subscriber and makes sure the polling task runs.
    pub fn subscribe(self: &Arc<Self>) -> Subscribed {
        self.subscribers.fetch_add(1, Ordering::AcqRel);
        if !self.running.swap(true, Ordering::AcqRel) {
            let notifier = self.clone();
            tokio::spawn(async move { notifier.run().await });
        }
        Subscribed(self.clone())
    }

    /// Open subscriptions.
    pub fn subscribers(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    pub fn pairings(&self) -> broadcast::Receiver<Arc<pairing::Model>> {
        self.pairings.subscribe()
    }

    pub fn rounds(&self) -> broadcast::Receiver<Arc<round::Model>> {
        self.rounds.subscribe()
    }

    pub fn changes(&self) -> watch::Receiver<i64> {
        self.changes.subscribe()
    }

    /// The last id of the change log now.
    ///
    /// # Errors
    /// Database errors.
    pub async fn last_change(&self) -> ApiResult<i64> {
        let last: Option<Option<i64>> = change_log::Entity::find()
            .select_only()
            .column_as(change_log::Column::Id.max(), "last")
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(last.flatten().unwrap_or(0))
    }

    async fn run(self: Arc<Self>) {
        loop {
            // Writes from this moment on are sent; older ones only mark what was seen.
            let mut state = PollState { start: Utc::now(), ..PollState::default() };
            while self.subscribers.load(Ordering::Acquire) > 0 {
                if let Err(err) = self.poll_once(&mut state).await {
                    tracing::warn!(error = ?err, "live updates: poll failed; retrying");
                }
                tokio::time::sleep(self.poll).await;
            }
            self.running.store(false, Ordering::Release);
            // A subscriber that came after the last look restarts the loop (unless another
            // task already did).
            if self.subscribers.load(Ordering::Acquire) == 0 || self.running.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    }

    async fn poll_once(&self, state: &mut PollState) -> ApiResult<()> {
        let started = Utc::now();
        let lookback = chrono::Duration::from_std(LOOKBACK).unwrap_or_default();
        let since = state.since.unwrap_or(state.start) - lookback;
        let fresh = |at: DateTime<Utc>| at > state.start;
        let pairings = pairing::Entity::find()
            .filter(pairing::Column::UpdatedAt.gt(since))
            .order_by_asc(pairing::Column::UpdatedAt)
            .all(&self.db)
            .await?;
        for row in pairings {
            if state.seen_pairings.insert((row.id, row.updated_at)) && fresh(row.updated_at) {
                let _ = self.pairings.send(Arc::new(row));
            }
        }
        state.seen_pairings.retain(|(_, at)| *at > since);
        let rounds = match state.since {
            // The first look reads every round, to know each one's status.
            None => round::Entity::find().all(&self.db).await?,
            Some(_) => {
                round::Entity::find()
                    .filter(round::Column::UpdatedAt.gt(since))
                    .order_by_asc(round::Column::UpdatedAt)
                    .all(&self.db)
                    .await?
            }
        };
        for row in rounds {
            let known = state.round_status.get(&row.id);
            let changed =
                known.is_some_and(|status| *status != row.status) || (known.is_none() && fresh(row.updated_at));
            state.round_status.insert(row.id, row.status.clone());
            if changed {
                let _ = self.rounds.send(Arc::new(row));
            }
        }
        let last = self.last_change().await?;
        self.changes.send_if_modified(|current| {
            let newer = last > *current;
            if newer {
                *current = last;
            }
            newer
        });
        state.since = Some(started);
        Ok(())
    }
}

#[derive(Default)]
struct PollState {
    /// When the task started.
    start: DateTime<Utc>,
    /// When the last look started.
    since: Option<DateTime<Utc>>,
    seen_pairings: HashSet<(i32, DateTime<Utc>)>,
    round_status: HashMap<i32, String>,
}
