//! Live updates for subscriptions, from the database (so that a write on any replica
//! reaches subscribers on every replica, with no broker between them).
//!
//! One task per process polls while anyone subscribes (and stops when the last one leaves,
//! so an idle server runs no statements). It follows the change log, whose entries become
//! visible in order (see `service::journal`), never wall clocks: a replica whose clock is
//! off, or a row dated in the future, cannot make it send a change that did not happen or
//! skip one that did.
//! - the change log's `Pairing` entries since the last look: the pairings as they are now;
//! - its `Round` entries: the rounds whose status differs from the last one seen (every
//!   round's status is read when the task starts);
//! - its last id, which subscribers of `changes` read after.
//!
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use entities::{change_log, pairing, round};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{broadcast, watch};

use crate::domain::NodeKind;
use crate::error::ApiResult;

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
            // Writes from this moment on are sent; older ones only set the baseline.
            let mut state = PollState::default();
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
        let Some(mut after) = state.last else {
            // The baseline: where the log is, then each round's status.
            let last = self.last_change().await?;
            for row in round::Entity::find().all(&self.db).await? {
                state.round_status.insert(row.id, row.status);
            }
            state.last = Some(last);
            self.publish_last(last);
            return Ok(());
        };
        loop {
            let entries: Vec<(i64, String, i32)> = change_log::Entity::find()
                .select_only()
                .columns([change_log::Column::Id, change_log::Column::EntityType, change_log::Column::EntityKey])
                .filter(change_log::Column::Id.gt(after))
                .filter(change_log::Column::EntityType.is_in([NodeKind::Pairing.name(), NodeKind::Round.name()]))
                .order_by_asc(change_log::Column::Id)
                .limit(PAGE)
                .into_tuple()
                .all(&self.db)
                .await?;
            let Some((last, _, _)) = entries.last() else { break };
            after = *last;
            let keys = |kind: NodeKind| -> Vec<i32> {
                let mut seen = HashSet::new();
                entries
                    .iter()
                    .filter(|(_, t, _)| t == kind.name())
                    .map(|(_, _, k)| *k)
                    .filter(|k| seen.insert(*k))
                    .collect()
            };
            let (pairing_ids, round_ids) = (keys(NodeKind::Pairing), keys(NodeKind::Round));
            let mut pairings: HashMap<i32, pairing::Model> = HashMap::new();
            if !pairing_ids.is_empty() {
                let rows = pairing::Entity::find().filter(pairing::Column::Id.is_in(pairing_ids)).all(&self.db).await?;
                pairings.extend(rows.into_iter().map(|p| (p.id, p)));
            }
            let mut rounds: HashMap<i32, round::Model> = HashMap::new();
            if !round_ids.is_empty() {
                let rows = round::Entity::find().filter(round::Column::Id.is_in(round_ids)).all(&self.db).await?;
                rounds.extend(rows.into_iter().map(|r| (r.id, r)));
            }
            // In the log's order, each object once per look, as it is now (a pairing deleted
            // since, a withdrawn proposal, is gone).
            let mut sent: HashSet<(bool, i32)> = HashSet::new();
            for (_, kind, key) in &entries {
                let is_round = kind == NodeKind::Round.name();
                if !sent.insert((is_round, *key)) {
                    continue;
                }
                if is_round {
                    let Some(row) = rounds.get(key) else { continue };
                    let changed = state.round_status.get(key) != Some(&row.status);
                    state.round_status.insert(*key, row.status.clone());
                    if changed {
                        let _ = self.rounds.send(Arc::new(row.clone()));
                    }
                } else if let Some(row) = pairings.get(key) {
                    let _ = self.pairings.send(Arc::new(row.clone()));
                }
            }
            if (entries.len() as u64) < PAGE {
                break;
            }
        }
        state.last = Some(after);
        let last = self.last_change().await?;
        self.publish_last(last);
        Ok(())
    }

    fn publish_last(&self, last: i64) {
        self.changes.send_if_modified(|current| {
            let newer = last > *current;
            if newer {
                *current = last;
            }
            newer
        });
    }
}

/// Entries of the log one statement reads.
const PAGE: u64 = 1_000;

#[derive(Default)]
struct PollState {
    /// The last change-log entry looked at (`None` before the first look).
    last: Option<i64>,
    round_status: HashMap<i32, String>,
}
