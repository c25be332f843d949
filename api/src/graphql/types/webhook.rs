use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::{webhook, webhook_delivery};

use super::{Association, gid, required, stored};
use crate::domain::{DeliveryStatus, NodeKind};
use crate::graphql::connection::{Conn, ConnectionTotals, connection};
use crate::graphql::context::api;
use crate::graphql::types::feed::ChangeEntityType;
use crate::service::{feed, filters, orderings, page, page::PageArgs};

pub struct Webhook(pub Arc<webhook::Model>);

impl From<Arc<webhook::Model>> for Webhook {
    fn from(model: Arc<webhook::Model>) -> Self {
        Self(model)
    }
}

/// A URL that receives an association's change events, signed with HMAC-SHA256.
#[Object]
impl Webhook {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Webhook, self.0.id)
    }

    /// The association whose feed it delivers.
    async fn association(&self, ctx: &Context<'_>) -> async_graphql::Result<Association> {
        required(ctx, self.0.association_id, |l| &l.association).await.map(Association)
    }

    /// Where the events are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The kinds of event delivered; empty means all.
    async fn entity_types(&self) -> Vec<ChangeEntityType> {
        self.0
            .entity_types
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(NodeKind::from_name)
            .filter_map(ChangeEntityType::of)
            .collect()
    }

    /// Whether it still delivers (a deleted webhook does not).
    async fn active(&self) -> bool {
        self.0.active
    }

    /// The feed cursor of the last event put into a delivery.
    async fn cursor(&self) -> String {
        feed::cursor(self.0.cursor)
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Its deliveries, newest first.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n items (0 to 100; 20 when neither `first` nor `last` is given).")]
        first: Option<i32>,
        #[graphql(
            desc = "Returns the items after this cursor (a `pageInfo.endCursor` or an edge's `cursor` of this list)."
        )]
        after: Option<String>,
        #[graphql(desc = "Returns the last n items (0 to 100).")] last: Option<i32>,
        #[graphql(
            desc = "Returns the items before this cursor (a `pageInfo.startCursor` or an edge's `cursor` of this list)."
        )]
        before: Option<String>,
    ) -> async_graphql::Result<Conn<WebhookDelivery>> {
        let api = api(ctx)?;
        let select = filters::webhook_deliveries(self.0.id);
        let args = PageArgs { first, after, last, before };
        let page =
            page::paginate(&api.reader, select.clone(), &orderings::webhook_deliveries(), &args, api.page_limits)
                .await?;
        Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
    }
}

pub struct WebhookDelivery(pub Arc<webhook_delivery::Model>);

impl From<Arc<webhook_delivery::Model>> for WebhookDelivery {
    fn from(model: Arc<webhook_delivery::Model>) -> Self {
        Self(model)
    }
}

/// One batch of events sent (or to be sent) to a webhook, and how that went.
#[Object]
impl WebhookDelivery {
    /// Also sent as the `Interlib-Delivery` header and `deliveryId` in the body: receivers
    /// deduplicate retries by it.
    pub async fn id(&self) -> ID {
        gid(NodeKind::WebhookDelivery, self.0.id)
    }

    /// Pending, delivered, or failed for good.
    async fn status(&self) -> async_graphql::Result<DeliveryStatus> {
        stored(DeliveryStatus::parse(&self.0.status), "status")
    }

    /// Attempts made so far (one in flight included).
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// Events in this delivery.
    async fn event_count(&self) -> i32 {
        self.0.event_count
    }

    /// The feed cursor of its first event.
    async fn first_cursor(&self) -> String {
        feed::cursor(self.0.first_cursor)
    }

    /// The feed cursor of its last event.
    async fn last_cursor(&self) -> String {
        feed::cursor(self.0.last_cursor)
    }

    /// The HTTP status of the last attempt, if the receiver answered.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }

    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// When the next attempt is due (for a `PENDING` delivery).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == DeliveryStatus::Pending.as_str()).then_some(self.0.next_attempt_at)
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the receiver accepted it.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}
