use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::round;

use super::{Application, DiscussionTopic, Pairing, gid, many, stored};
use crate::domain::{ApplicationStatus, NodeKind, PairingStatus, RoundStatus};
use crate::graphql::connection::{Conn, connection};
use crate::graphql::context::{loaders, viewer};
use crate::graphql::nested;
use crate::graphql::prefetch;
use crate::service::{filters, filters::PairingFilter, page::PageArgs};

pub struct Round(pub Arc<round::Model>);

impl From<Arc<round::Model>> for Round {
    fn from(model: Arc<round::Model>) -> Self {
        Self(model)
    }
}

/// A programme round: applications, matching, a few months of partnership.
#[Object]
impl Round {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Round, self.0.id)
    }

    /// E.g. "2026 Round 1".
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Where it is in its life.
    async fn status(&self) -> async_graphql::Result<RoundStatus> {
        stored(RoundStatus::parse(&self.0.status), "status")
    }

    /// When applications open.
    async fn applications_open_at(&self) -> DateTime<Utc> {
        self.0.applications_open_at
    }

    /// When applications close.
    async fn applications_close_at(&self) -> DateTime<Utc> {
        self.0.applications_close_at
    }

    /// When the pairs start talking.
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }

    /// When the round ends.
    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }

    /// The most a country may take of the round's places, in percent; null: no cap.
    /// Applied when applications close: each country keeps `max(1, floor(N × share / 100))`
    /// of its applications, the earliest first, where `N` is the round's submitted
    /// applications at that moment; the rest are `DEFERRED`.
    async fn country_share(&self) -> Option<i32> {
        self.0.country_share
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Applications to this round, in the order they arrived.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those in this status (every status when left out).")] status: Option<ApplicationStatus>,
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
    ) -> async_graphql::Result<Conn<Application>> {
        let loader = &loaders(ctx)?.applications_of_round;
        let count = filters::applications(viewer(ctx)?, Some(self.0.id), status);
        let args = PageArgs { first, after, last, before };
        let (page, totals) = nested::page_of(ctx, loader, self.0.id, status, args, count).await?;
        if let Some(sel) = prefetch::items(ctx).filter(|_| !nested::under_list(ctx)) {
            prefetch::applications(ctx, sel, page.models()).await?;
        }
        Ok(connection(page, totals))
    }

    /// Pairings of this round.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn pairings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those in this status (every status when left out).")] status: Option<PairingStatus>,
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
    ) -> async_graphql::Result<Conn<Pairing>> {
        let loader = &loaders(ctx)?.pairings_of_round;
        let count = filters::pairings(
            viewer(ctx)?,
            &PairingFilter { round_id: Some(self.0.id), status, ..PairingFilter::default() },
        );
        let args = PageArgs { first, after, last, before };
        let (page, totals) = nested::page_of(ctx, loader, self.0.id, status, args, count).await?;
        if let Some(sel) = prefetch::items(ctx).filter(|_| !nested::under_list(ctx)) {
            prefetch::pairings(ctx, sel, page.models()).await?;
        }
        Ok(connection(page, totals))
    }

    /// How many applications the round received: a public aggregate.
    async fn application_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(loaders(ctx)?.application_count.load_one(self.0.id).await?.unwrap_or(0))
    }

    /// How many pairings the round has: a public aggregate.
    async fn pairing_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(loaders(ctx)?.pairing_count.load_one(self.0.id).await?.unwrap_or(0))
    }

    /// Discussion topics, by publish time. Admins see them all; the round's applicants
    /// (and the ambassadors and associations who look after them) see those published
    /// (`policy::topics`, the same rule as `node`).
    async fn topics(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DiscussionTopic>> {
        let rows = many(ctx, self.0.id, |l| &l.topics_of_round).await?;
        Ok(rows.into_iter().map(DiscussionTopic).collect())
    }
}
