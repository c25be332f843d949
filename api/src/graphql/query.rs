//! The root `Query` type.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, SimpleObject};
use futures::future::try_join_all;

use crate::domain::counts::to_i32;
use crate::domain::{CountryCode, GlobalId, NodeKind, Region, RoundStatus};
use crate::error::ApiError;
use crate::graphql::connection::{Conn, ConnectionTotals, connection};
use crate::graphql::context::{api, loaders, viewer};
use crate::graphql::guard::Meter;
use crate::graphql::nested::{self, FieldArgs};
use crate::graphql::node::{self, Node};
use crate::graphql::prefetch;
use crate::graphql::types::{
    Association, AuditEntry, ChangeEntityType, ChangeFeed, Country, CountryCodeScalar, Librarian, LibrarianFilterInput,
    LibrarianOrder, Pairing, PairingFilterInput, Round, ViewerInfo, librarian_connection, participants_spec,
};
use crate::service::{export, feed, filters, orderings, page, page::PageArgs};

/// Most ids `nodes(ids:)` takes at once.
pub const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct QueryRoot;

/// A client's budget of points for the current window.
#[derive(SimpleObject)]
pub struct RateLimit {
    /// Points per window.
    pub limit: i32,
    /// What this request cost.
    pub cost: i32,
    /// Points spent in this window, this request included.
    pub used: i32,
    /// Points left in this window.
    pub remaining: i32,
    /// When the window ends and the budget is whole again.
    pub reset_at: chrono::DateTime<chrono::Utc>,
}

#[Object]
impl QueryRoot {
    /// Who is asking: the role and scope of the caller's token.
    async fn viewer(&self) -> ViewerInfo {
        ViewerInfo
    }

    /// The caller's cost budget, after this request was charged (each request costs its
    /// complexity; see "Limits" in docs/front-end.md). `null` when rate limiting is off, and over a
    /// WebSocket.
    #[graphql(cache_control(no_cache))]
    async fn rate_limit(&self, ctx: &Context<'_>) -> Option<RateLimit> {
        let status = ctx.data_opt::<Arc<Meter>>()?.measure().rate?;
        Some(RateLimit {
            limit: to_i32(status.limit),
            cost: to_i32(status.cost),
            used: to_i32(status.used),
            remaining: to_i32(status.remaining),
            reset_at: status.reset_at,
        })
    }

    /// Everything the network stores about the calling librarian, as one JSON document
    /// (profile, memberships, applications, pairings, certificates, ambassador terms).
    async fn export_my_data(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<serde_json::Value>> {
        let me = crate::auth::policy::librarian(viewer(ctx)?)?;
        let document = export::export(&api(ctx)?.db, me).await?;
        document.map(Json).ok_or_else(|| ApiError::NotFound("no such librarian".into()).into())
    }

    /// The change feed: every write, in order, that the caller may follow (see "The change
    /// feed" in docs/partners.md). Start without `after`, then pass each page's `endCursor`; a
    /// follower that applies every event (`node`, or dropping its copy when `node` is
    /// `null`) holds exactly what it may see, and never misses or repeats an event.
    #[graphql(
        complexity = "crate::graphql::guard::list_cost(first.map_or(crate::service::feed::DEFAULT_EVENTS as usize, |n| usize::try_from(n).unwrap_or(0)), child_complexity)"
    )]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Returns the items after this cursor (a `pageInfo.endCursor` or an edge's `cursor` of this list)."
        )]
        after: Option<String>,
        #[graphql(desc = "At most 1,000; default 100.")] first: Option<i32>,
        #[graphql(desc = "Only events about these kinds of object (every kind when left out).")] entity_types: Option<
            Vec<ChangeEntityType>,
        >,
    ) -> async_graphql::Result<ChangeFeed> {
        let viewer = viewer(ctx)?;
        crate::auth::policy::signed_in(viewer, "the change feed needs a token")?;
        let after_id = after.as_deref().map(|c| feed::decode_cursor("after", c)).transpose()?;
        let kinds: Vec<NodeKind> = entity_types.unwrap_or_default().into_iter().map(ChangeEntityType::kind).collect();
        let page = feed::read(&api(ctx)?.db, viewer, after_id, first, &kinds).await?;
        if ctx.look_ahead().field("events").field("node").exists() {
            let entities =
                page.events.iter().filter_map(|e| Some((NodeKind::from_name(&e.entity_type)?, e.entity_key)));
            prefetch::feed_nodes(ctx, entities.collect()).await?;
        }
        let end_cursor = page.events.last().map(|e| feed::cursor(e.id)).or(after);
        Ok(ChangeFeed { events: page.events.into_iter().map(Arc::new).collect(), has_more: page.has_more, end_cursor })
    }

    /// Admin: the audit log, newest first, optionally of one object.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the entries about this object (its global id).")] object_id: Option<ID>,
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
    ) -> async_graphql::Result<Conn<AuditEntry>> {
        crate::auth::policy::admin(viewer(ctx)?)?;
        let api = api(ctx)?;
        let object = object_id.map(|id| GlobalId::decode("objectId", &id)).transpose()?;
        let select = filters::audit_entries(object.as_ref());
        let args = PageArgs { first, after, last, before };
        let page =
            page::paginate(&api.reader, select.clone(), &orderings::audit_entries(), &args, api.page_limits).await?;
        Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
    }

    /// Any object by its global id; `null` if there is none.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The object's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        node::fetch(ctx, "id", &id).await
    }

    /// Objects by global id, in the order asked (at most 100); `null` for unknown ids.
    #[graphql(complexity = "crate::graphql::guard::list_cost(ids.len(), child_complexity)")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Global ids (at most 100): each answers its object, or `null` where it is unknown or hidden from the caller."
        )]
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(
                ApiError::bad_input("ids", format!("`ids` takes at most {MAX_NODES} ids, got {}", ids.len())).into()
            );
        }
        try_join_all(ids.iter().map(|id| node::fetch(ctx, "ids", id))).await
    }

    /// All ISO 3166-1 countries, by code.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn countries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the countries of this region.")] region: Option<Region>,
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
    ) -> async_graphql::Result<Conn<Country>> {
        let api = api(ctx)?;
        let select = filters::countries(region);
        let args = PageArgs { first, after, last, before };
        let page = page::paginate(&api.reader, select.clone(), &orderings::countries(), &args, api.page_limits).await?;
        if let Some(items) = prefetch::items(ctx) {
            let codes: Vec<String> = page.rows.iter().map(|(_, c)| c.code.clone()).collect();
            let loader = &loaders(ctx)?.participants_of_country;
            let spec = |args: &FieldArgs| participants_spec(args.get("filter")?, args.get("orderBy")?).ok();
            nested::prefetch(&items, "participants", loader, &codes, spec, |sel, rows| {
                prefetch::librarians(ctx, sel, rows)
            })
            .await?;
        }
        Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
    }

    /// A country by ISO 3166-1 alpha-2 code (case-insensitive).
    async fn country(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Its code, such as `ZA` (in any case).")] code: CountryCodeScalar,
    ) -> async_graphql::Result<Option<Country>> {
        let code = CountryCode::parse("code", code.as_str())?;
        Ok(api(ctx)?.countries.get(code.as_str()).cloned().map(Country))
    }

    /// Librarians matching the filters.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn librarians(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the librarians matching every condition given.")] filter: Option<LibrarianFilterInput>,
        #[graphql(desc = "The order of the list (by id, ascending, when left out; ties are broken by id).")]
        order_by: Option<LibrarianOrder>,
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
    ) -> async_graphql::Result<Conn<Librarian>> {
        let filter = filter.unwrap_or_default().parse()?;
        librarian_connection(ctx, filter, order_by, PageArgs { first, after, last, before }).await
    }

    /// A librarian by global id; `null` if there is none the caller may see.
    async fn librarian(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The librarian's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Librarian>> {
        let id = GlobalId::decode_int("id", &id, NodeKind::Librarian)?;
        Ok(loaders(ctx)?.librarian.load_one(id).await?.map(Librarian::from))
    }

    /// Partner associations, optionally of one country.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn associations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the associations of this country.")] country_code: Option<CountryCodeScalar>,
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
    ) -> async_graphql::Result<Conn<Association>> {
        let api = api(ctx)?;
        let country = country_code.map(|c| CountryCode::parse("countryCode", c.as_str())).transpose()?;
        let select = filters::associations(country.as_ref());
        let args = PageArgs { first, after, last, before };
        let page =
            page::paginate(&api.reader, select.clone(), &orderings::associations(), &args, api.page_limits).await?;
        if let Some(items) = prefetch::items(ctx) {
            let ids: Vec<i32> = page.rows.iter().map(|(_, a)| a.id).collect();
            let loader = &loaders(ctx)?.members_of_association;
            nested::prefetch(
                &items,
                "members",
                loader,
                &ids,
                |args| args.get("status"),
                |sel, rows| prefetch::memberships(ctx, sel, rows),
            )
            .await?;
        }
        Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
    }

    /// A partner association by global id; `null` if there is none.
    async fn association(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The association's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Association>> {
        let id = GlobalId::decode_int("id", &id, NodeKind::Association)?;
        Ok(loaders(ctx)?.association.load_one(id).await?.map(Association))
    }

    /// Programme rounds, oldest first.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn rounds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those in this status (every status when left out).")] status: Option<RoundStatus>,
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
    ) -> async_graphql::Result<Conn<Round>> {
        let api = api(ctx)?;
        let select = filters::rounds(status);
        let args = PageArgs { first, after, last, before };
        let page = page::paginate(&api.reader, select.clone(), &orderings::rounds(), &args, api.page_limits).await?;
        if let Some(items) = prefetch::items(ctx) {
            let ids: Vec<i32> = page.rows.iter().map(|(_, r)| r.id).collect();
            let l = loaders(ctx)?;
            let status = |args: &FieldArgs| args.get("status");
            nested::prefetch(&items, "applications", &l.applications_of_round, &ids, status, |sel, rows| {
                prefetch::applications(ctx, sel, rows)
            })
            .await?;
            let status = |args: &FieldArgs| args.get("status");
            nested::prefetch(&items, "pairings", &l.pairings_of_round, &ids, status, |sel, rows| {
                prefetch::pairings(ctx, sel, rows)
            })
            .await?;
        }
        Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
    }

    /// A round by global id; `null` if there is none.
    async fn round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Round>> {
        let id = GlobalId::decode_int("id", &id, NodeKind::Round)?;
        Ok(loaders(ctx)?.round.load_one(id).await?.map(Round))
    }

    /// Pairings matching the filters, oldest first.
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn pairings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the pairings matching every condition given.")] filter: Option<PairingFilterInput>,
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
        let api = api(ctx)?;
        let filter = filter.unwrap_or_default().parse()?;
        let select = filters::pairings(viewer(ctx)?, &filter);
        let args = PageArgs { first, after, last, before };
        let page = page::paginate(&api.reader, select.clone(), &orderings::pairings(), &args, api.page_limits).await?;
        if let Some(sel) = prefetch::items(ctx) {
            prefetch::pairings(ctx, sel, page.models()).await?;
        }
        Ok(connection(page, ConnectionTotals::of(&api.reader, select)))
    }

    /// A pairing by global id; `null` if there is none the caller may see.
    async fn pairing(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The pairing's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Pairing>> {
        let id = GlobalId::decode_int("id", &id, NodeKind::Pairing)?;
        Ok(loaders(ctx)?.pairing.load_one(id).await?.map(Pairing))
    }
}
