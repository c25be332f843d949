use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::discussion_topic;

use super::{Round, gid, required};
use crate::domain::NodeKind;

pub struct DiscussionTopic(pub Arc<discussion_topic::Model>);

impl From<Arc<discussion_topic::Model>> for DiscussionTopic {
    fn from(model: Arc<discussion_topic::Model>) -> Self {
        Self(model)
    }
}

/// A discussion topic sent to a round's pairs.
#[Object]
impl DiscussionTopic {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::DiscussionTopic, self.0.id)
    }

    /// The round it belongs to.
    async fn round(&self, ctx: &Context<'_>) -> async_graphql::Result<Round> {
        required(ctx, self.0.round_id, |l| &l.round).await.map(Round)
    }

    /// The topic's title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// What the pairs are invited to talk about.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// When the topic is sent to the pairs.
    async fn publish_at(&self) -> DateTime<Utc> {
        self.0.publish_at
    }
}
