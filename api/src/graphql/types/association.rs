use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::association;

use super::{Country, Membership, SyncRun, Webhook, country_of, gid, many};
use crate::domain::{MembershipStatus, NodeKind};
use crate::graphql::connection::{Conn, ConnectionTotals, connection};
use crate::graphql::context::{api, loaders, viewer};
use crate::graphql::nested;
use crate::graphql::prefetch;
use crate::service::{filters, orderings, page, page::PageArgs};

pub struct Association(pub Arc<association::Model>);

impl From<Arc<association::Model>> for Association {
    fn from(model: Arc<association::Model>) -> Self {
        Self(model)
    }
}

/// A library association: a partner that brings its members into the network.
#[Object]
impl Association {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Association, self.0.id)
    }

    /// The round's figures for the association's active members (admins and the
    /// association itself).
    async fn round_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round, by its global id.")] round_id: ID,
    ) -> async_graphql::Result<crate::graphql::rounds::RoundStats> {
        crate::graphql::rounds::round_stats(ctx, &round_id, crate::service::stats::Scope::Association(self.0.id)).await
    }

    /// The association's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The association's country.
    async fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<Country> {
        country_of(ctx, &self.0.country_code)
    }

    /// Its website, when it gave one.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the record last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The association's memberships, in the order they were created.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those in this status (every status when left out).")] status: Option<MembershipStatus>,
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
    ) -> async_graphql::Result<Conn<Membership>> {
        let loader = &loaders(ctx)?.members_of_association;
        let count = filters::memberships(viewer(ctx)?, Some(self.0.id), status);
        let args = PageArgs { first, after, last, before };
        let (page, totals) = nested::page_of(ctx, loader, self.0.id, status, args, count).await?;
        if let Some(sel) = prefetch::items(ctx).filter(|_| !nested::under_list(ctx)) {
            prefetch::memberships(ctx, sel, page.models()).await?;
        }
        Ok(connection(page, totals))
    }

    /// Its membership syncs, newest first (the association itself and admins).
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn sync_runs(
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
    ) -> async_graphql::Result<Conn<SyncRun>> {
        let api = api(ctx)?;
        let select = filters::sync_runs(viewer(ctx)?, self.0.id);
        let args = PageArgs { first, after, last, before };
        let page = page::paginate(&api.reader, select.clone(), &orderings::sync_runs(), &args, api.page_limits).await?;
        Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
    }

    /// Its webhooks (the association itself and admins; empty for others).
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        Ok(many(ctx, self.0.id, |l| &l.webhooks_of_association).await?.into_iter().map(Webhook).collect())
    }
}
