//! The Relay `Node` interface and the lookup of any object by its global id.

use async_graphql::{Context, ID, Interface};

use crate::domain::{GlobalId, NodeKind};
use crate::graphql::context::{api, loaders};
use crate::graphql::rounds::EngagementReport;
use crate::graphql::types::{
    Ambassador, Application, Association, Certificate, Country, DiscussionTopic, Librarian, Membership, Pairing, Round,
    SyncRun, Webhook, WebhookDelivery,
};

/// An object with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id, stable across requests."))]
pub enum Node {
    Country(Country),
    Librarian(Librarian),
    Association(Association),
    Membership(Membership),
    Ambassador(Ambassador),
    Round(Round),
    Application(Application),
    Pairing(Pairing),
    DiscussionTopic(DiscussionTopic),
    Certificate(Certificate),
    EngagementReport(EngagementReport),
    SyncRun(SyncRun),
    Webhook(Webhook),
    WebhookDelivery(WebhookDelivery),
}

/// Fetches the object behind `id` through the request's DataLoaders, so that `nodes(ids:)`
/// costs one statement per type, whatever the number of ids.
///
/// # Errors
/// `BAD_USER_INPUT` when the id is malformed (naming `field`); database errors.
/// An id that is well formed but unknown resolves to `None`.
pub async fn fetch(ctx: &Context<'_>, field: &str, id: &str) -> async_graphql::Result<Option<Node>> {
    let gid = GlobalId::decode(field, id)?;
    let l = loaders(ctx)?;
    if gid.kind == NodeKind::Country {
        return Ok(api(ctx)?.countries.get(&gid.key).cloned().map(|m| Node::Country(Country(m))));
    }
    if gid.kind == NodeKind::WebhookDelivery {
        let key = gid.key.parse::<i64>().ok().filter(|k| *k > 0);
        let key =
            key.ok_or_else(|| crate::error::ApiError::bad_input(field, format!("`{field}` is not a valid ID")))?;
        return Ok(l.webhook_delivery.load_one(key).await?.map(|m| Node::WebhookDelivery(WebhookDelivery(m))));
    }
    let key = gid.int_key(field)?;
    Ok(match gid.kind {
        NodeKind::Country => None,
        NodeKind::Librarian => l.librarian.load_one(key).await?.map(|m| Node::Librarian(Librarian::from(m))),
        NodeKind::Association => l.association.load_one(key).await?.map(|m| Node::Association(Association(m))),
        NodeKind::Membership => l.membership.load_one(key).await?.map(|m| Node::Membership(Membership(m))),
        NodeKind::Ambassador => l.ambassador.load_one(key).await?.map(|m| Node::Ambassador(Ambassador(m))),
        NodeKind::Round => l.round.load_one(key).await?.map(|m| Node::Round(Round(m))),
        NodeKind::Application => l.application.load_one(key).await?.map(|m| Node::Application(Application(m))),
        NodeKind::Pairing => l.pairing.load_one(key).await?.map(|m| Node::Pairing(Pairing(m))),
        NodeKind::DiscussionTopic => l.topic.load_one(key).await?.map(|m| Node::DiscussionTopic(DiscussionTopic(m))),
        NodeKind::Certificate => l.certificate.load_one(key).await?.map(|m| Node::Certificate(Certificate(m))),
        NodeKind::EngagementReport => {
            l.engagement_report.load_one(key).await?.map(|m| Node::EngagementReport(EngagementReport(m)))
        }
        NodeKind::SyncRun => l.sync_run.load_one(key).await?.map(|m| Node::SyncRun(SyncRun(m))),
        NodeKind::Webhook => l.webhook.load_one(key).await?.map(|m| Node::Webhook(Webhook(m))),
        NodeKind::WebhookDelivery => None,
    })
}
