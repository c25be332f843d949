use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::membership;

use super::{Association, Librarian, gid, required, stored};
use crate::domain::{MembershipStatus, NodeKind};

/// A librarian's membership of an association, keyed by the association's own member id.
pub struct Membership(pub Arc<membership::Model>);

impl From<Arc<membership::Model>> for Membership {
    fn from(model: Arc<membership::Model>) -> Self {
        Self(model)
    }
}

#[Object]
impl Membership {
    pub async fn id(&self) -> ID {
        gid(NodeKind::Membership, self.0.id)
    }

    /// The association's own id for this member.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }

    async fn status(&self) -> async_graphql::Result<MembershipStatus> {
        stored(MembershipStatus::parse(&self.0.status), "status")
    }

    /// When the membership was deactivated (a tombstone), if it was.
    async fn deactivated_at(&self) -> Option<DateTime<Utc>> {
        self.0.deactivated_at
    }

    async fn version(&self) -> i32 {
        self.0.version
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Librarian> {
        required(ctx, self.0.librarian_id, |l| &l.librarian).await.map(Librarian)
    }

    async fn association(&self, ctx: &Context<'_>) -> async_graphql::Result<Association> {
        required(ctx, self.0.association_id, |l| &l.association).await.map(Association)
    }
}
