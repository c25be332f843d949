use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use entities::change_log;

use crate::domain::{ChangeOperation, NodeKind};
use crate::graphql::node::{self, Node};
use crate::graphql::types::stored;
use crate::service::feed;

/// The kinds of object the change feed reports.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeEntityType {
    /// A librarian's record (created, changed, moved, erased, or come into view).
    Librarian,
    /// A librarian's membership of an association.
    Membership,
    /// An association (a partner of the programme).
    Association,
    /// An ambassador's appointment to a country.
    Ambassador,
    /// A round: created, its dates or country share changed, or its state.
    Round,
    /// An application: made, withdrawn, deferred or taken back in, matched, completed.
    Application,
    /// A pairing: proposed, confirmed, made or dissolved by hand, completed, or its
    /// members' view of it changed.
    Pairing,
    /// A discussion topic: announced to non-admins when it is published.
    DiscussionTopic,
    /// A participant's engagement report.
    EngagementReport,
    /// A certificate issued when a round completes.
    Certificate,
}

impl ChangeEntityType {
    const ALL: [Self; 10] = [
        Self::Librarian,
        Self::Membership,
        Self::Association,
        Self::Ambassador,
        Self::Round,
        Self::Application,
        Self::Pairing,
        Self::DiscussionTopic,
        Self::EngagementReport,
        Self::Certificate,
    ];

    pub fn kind(self) -> NodeKind {
        match self {
            Self::Librarian => NodeKind::Librarian,
            Self::Membership => NodeKind::Membership,
            Self::Association => NodeKind::Association,
            Self::Ambassador => NodeKind::Ambassador,
            Self::Round => NodeKind::Round,
            Self::Application => NodeKind::Application,
            Self::Pairing => NodeKind::Pairing,
            Self::DiscussionTopic => NodeKind::DiscussionTopic,
            Self::EngagementReport => NodeKind::EngagementReport,
            Self::Certificate => NodeKind::Certificate,
        }
    }

    /// The feed's name for a kind of node, if the feed reports that kind.
    pub fn of(kind: NodeKind) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.kind() == kind)
    }
}

pub struct ChangeEvent(pub Arc<change_log::Model>);

/// One write, as the change feed reports it.
#[Object]
impl ChangeEvent {
    /// Where this event is in the feed: pass it as `after` to read on from here.
    async fn cursor(&self) -> String {
        feed::cursor(self.0.id)
    }

    /// The kind of object written.
    async fn entity_type(&self) -> async_graphql::Result<ChangeEntityType> {
        stored(NodeKind::from_name(&self.0.entity_type).and_then(ChangeEntityType::of), "entity_type")
    }

    /// The global id of the object written.
    async fn entity(&self) -> ID {
        ID(self.0.entity_id.clone())
    }

    /// What the write did to it.
    async fn operation(&self) -> async_graphql::Result<ChangeOperation> {
        stored(ChangeOperation::parse(&self.0.operation), "operation")
    }

    /// When the write happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The object as it is now, if the caller may see it now (`null` when it has left the
    /// caller's view: a follower then drops its copy).
    async fn node(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        node::fetch(ctx, "entity", &self.0.entity_id).await
    }
}

pub struct ChangeFeed {
    pub events: Vec<Arc<change_log::Model>>,
    pub has_more: bool,
    /// The cursor to read on from: the last event's, or the one given when there were none.
    pub end_cursor: Option<String>,
}

/// A page of the change feed.
#[Object]
impl ChangeFeed {
    /// The events after the cursor, oldest first.
    async fn events(&self) -> Vec<ChangeEvent> {
        self.events.iter().cloned().map(ChangeEvent).collect()
    }

    /// Pass this as `after` for the next read (`null` only when the feed is empty).
    async fn end_cursor(&self) -> Option<&str> {
        self.end_cursor.as_deref()
    }

    /// Whether more events are waiting (read again at once) or the caller is up to date.
    async fn has_more(&self) -> bool {
        self.has_more
    }
}
