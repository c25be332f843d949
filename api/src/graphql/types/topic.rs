use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::discussion_topic;

use super::{Round, gid, required};
use crate::domain::NodeKind;

/// A discussion topic sent to a round's pairs.
pub struct DiscussionTopic(pub Arc<discussion_topic::Model>);

impl From<Arc<discussion_topic::Model>> for DiscussionTopic {
    fn from(model: Arc<discussion_topic::Model>) -> Self {
        Self(model)
    }
}

#[Object]
impl DiscussionTopic {
    pub async fn id(&self) -> ID {
        gid(NodeKind::DiscussionTopic, self.0.id)
    }

    async fn round(&self, ctx: &Context<'_>) -> async_graphql::Result<Round> {
        required(ctx, self.0.round_id, |l| &l.round).await.map(Round)
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    /// When the topic is sent to the pairs.
    async fn publish_at(&self) -> DateTime<Utc> {
        self.0.publish_at
    }
}
