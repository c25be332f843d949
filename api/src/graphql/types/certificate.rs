use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::certificate;

use super::{Round, gid, required};
use crate::domain::NodeKind;

pub struct Certificate(pub Arc<certificate::Model>);

impl From<Arc<certificate::Model>> for Certificate {
    fn from(model: Arc<certificate::Model>) -> Self {
        Self(model)
    }
}

/// A certificate of completion, verifiable by its public code.
#[Object]
impl Certificate {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Certificate, self.0.id)
    }

    /// Public verification code.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The recipient's name as it was when the certificate was issued.
    async fn recipient_name(&self) -> &str {
        &self.0.recipient_name
    }

    /// The round it belongs to.
    async fn round(&self, ctx: &Context<'_>) -> async_graphql::Result<Round> {
        required(ctx, self.0.round_id, |l| &l.round).await.map(Round)
    }

    /// When the certificate was issued (when the round completed).
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }
}
