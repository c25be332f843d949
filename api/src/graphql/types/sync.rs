use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::sync_run;

use super::{Association, gid, required, stored};
use crate::domain::input::UserErrorCode;
use crate::domain::{NodeKind, SyncMode, SyncSource};
use crate::service::sync::{RowError, SyncReport};

pub struct SyncRun(pub Arc<sync_run::Model>);

impl From<Arc<sync_run::Model>> for SyncRun {
    fn from(model: Arc<sync_run::Model>) -> Self {
        Self(model)
    }
}

/// One membership sync of an association: who ran it, when, how, and what it did.
#[Object]
impl SyncRun {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::SyncRun, self.0.id)
    }

    /// The association whose members were synced.
    async fn association(&self, ctx: &Context<'_>) -> async_graphql::Result<Association> {
        required(ctx, self.0.association_id, |l| &l.association).await.map(Association)
    }

    /// The subject (`sub`) of the token that ran it.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// `UPSERT` or `FULL_REPLACE`.
    async fn mode(&self) -> async_graphql::Result<SyncMode> {
        stored(SyncMode::parse(&self.0.mode), "mode")
    }

    /// `GRAPHQL`, `BULK` (`POST /bulk/members`) or `CLI` (`interlib import members`).
    async fn source(&self) -> async_graphql::Result<SyncSource> {
        stored(SyncSource::parse(&self.0.source), "source")
    }

    /// Rows received.
    async fn received(&self) -> i32 {
        self.0.received
    }

    /// Members created (new librarians, and existing ones linked by email).
    async fn created(&self) -> i32 {
        self.0.created
    }

    /// Active members whose profile changed.
    async fn updated(&self) -> i32 {
        self.0.updated
    }

    /// Members sent as they already were.
    async fn unchanged(&self) -> i32 {
        self.0.unchanged
    }

    /// Members deactivated (missing from a full replace, or sent inactive).
    async fn deactivated(&self) -> i32 {
        self.0.deactivated
    }

    /// Deactivated members sent again, active.
    async fn reactivated(&self) -> i32 {
        self.0.reactivated
    }

    /// Rows skipped for errors.
    async fn failed(&self) -> i32 {
        self.0.failed
    }

    /// The rows skipped, and why.
    async fn user_errors(&self) -> Vec<SyncUserError> {
        serde_json::from_str::<Vec<RowError>>(&self.0.user_errors)
            .unwrap_or_default()
            .into_iter()
            .map(SyncUserError::from)
            .collect()
    }

    /// When the sync began.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }

    /// When it finished.
    async fn finished_at(&self) -> DateTime<Utc> {
        self.0.finished_at
    }
}

/// A row of a sync that was skipped: its position in the list (from 0), its external id,
/// the field and what is wrong.
#[derive(SimpleObject, Debug, Clone)]
pub struct SyncUserError {
    /// The member's position in the list sent, from 0.
    pub index: i32,
    /// The member's `externalId`, when the row had one.
    pub external_id: Option<String>,
    /// The member's field at fault (such as `email`).
    pub field: String,
    /// What kind of refusal it is: stable, for programs to branch on.
    pub code: UserErrorCode,
    /// What is wrong, in words for a person.
    pub message: String,
}

impl From<RowError> for SyncUserError {
    fn from(e: RowError) -> Self {
        Self {
            index: crate::domain::counts::to_i32(e.index),
            external_id: e.external_id,
            field: e.field,
            code: e.code,
            message: e.message,
        }
    }
}

pub struct SyncMembersPayload(pub SyncReport);

/// What `syncMembers` did (or, on a dry run, would do).
#[Object]
impl SyncMembersPayload {
    /// Members created: new librarians, and librarians already in the network linked by email.
    async fn created(&self) -> usize {
        self.0.counts.created
    }

    /// Active members whose profile changed.
    async fn updated(&self) -> usize {
        self.0.counts.updated
    }

    /// Members sent as they already were.
    async fn unchanged(&self) -> usize {
        self.0.counts.unchanged
    }

    /// Members deactivated: missing from a `FULL_REPLACE` list, or sent with `active: false`.
    async fn deactivated(&self) -> usize {
        self.0.counts.deactivated
    }

    /// Deactivated members who are back.
    async fn reactivated(&self) -> usize {
        self.0.counts.reactivated
    }

    /// Rows skipped for errors (see `userErrors`).
    async fn failed(&self) -> usize {
        self.0.counts.failed
    }

    /// Whether nothing was written.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }

    /// Whether this is the stored result of an earlier call with the same idempotency key
    /// (nothing was applied again).
    async fn replayed(&self) -> bool {
        self.0.replayed
    }

    /// The stored record of this sync; `null` for a dry run.
    async fn sync_run(&self) -> Option<SyncRun> {
        self.0.run.clone().map(|run| SyncRun(Arc::new(run)))
    }

    /// The rows skipped, by index; the other rows were applied.
    async fn user_errors(&self) -> Vec<SyncUserError> {
        self.0.user_errors.iter().cloned().map(SyncUserError::from).collect()
    }
}
