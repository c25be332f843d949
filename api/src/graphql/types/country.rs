use async_graphql::{Context, ID, Object};
use entities::country;

use super::{Ambassador, CountryCodeScalar, Librarian, LibrarianFilterInput, LibrarianOrder, gid, page_columns};
use crate::domain::{CountryCode, LibrarianOrderField, NodeKind, OrderDirection, Region};
use crate::error::ApiResult;
use crate::graphql::connection::{Conn, connection};
use crate::graphql::context::{loaders, viewer};
use crate::graphql::loaders::ParticipantsSpec;
use crate::graphql::{nested, prefetch};
use crate::service::filters;
use crate::service::page::PageArgs;

/// The arguments of `participants`, as one value (shared with the prefetch of `countries`).
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed filter.
pub fn participants_spec(
    filter: Option<LibrarianFilterInput>,
    order_by: Option<LibrarianOrder>,
) -> ApiResult<ParticipantsSpec> {
    let order = order_by.unwrap_or(LibrarianOrder { field: LibrarianOrderField::Id, direction: OrderDirection::Asc });
    Ok((filter.unwrap_or_default().parse()?, order.field, order.direction))
}

pub struct Country(pub std::sync::Arc<country::Model>);

impl From<std::sync::Arc<country::Model>> for Country {
    fn from(model: std::sync::Arc<country::Model>) -> Self {
        Self(model)
    }
}

/// A country (ISO 3166-1).
#[Object]
impl Country {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Country, &self.0.code)
    }

    /// Its ISO 3166-1 alpha-2 code: the key every `countryCode` argument and input takes.
    async fn code(&self) -> CountryCodeScalar {
        CountryCodeScalar(self.0.code.clone())
    }

    /// ISO short name in English.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The round's figures for this country's participants (admins and the country's
    /// ambassadors): applicants, matched, completed, engagement and partners' countries.
    async fn round_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round, by its global id.")] round_id: ID,
    ) -> async_graphql::Result<crate::graphql::rounds::RoundStats> {
        crate::graphql::rounds::round_stats(ctx, &round_id, crate::service::stats::Scope::Country(self.0.code.clone()))
            .await
    }

    /// UN M49 region, e.g. `AFRICA`; `null` for the few territories without one.
    async fn region(&self) -> Option<Region> {
        self.0.region.as_deref().and_then(Region::parse)
    }

    /// UN M49 sub-region, e.g. "Southern Africa".
    async fn subregion(&self) -> Option<&str> {
        self.0.subregion.as_deref()
    }

    /// How many librarians of this country take part: a public aggregate (the list
    /// itself, `participants`, shows only whom the caller may see).
    async fn participant_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(loaders(ctx)?.participant_count.load_one(self.0.code.clone()).await?.unwrap_or(0))
    }

    /// Participants from this country.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::guard::connection_cost(first, last, child_complexity)")]
    async fn participants(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the participants matching every condition given.")] filter: Option<LibrarianFilterInput>,
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
        let spec = participants_spec(filter, order_by)?;
        let mut count = spec.0.clone();
        count.country = Some(CountryCode::parse("code", &self.0.code)?);
        let count = filters::librarians(viewer(ctx)?, &count, spec.1);
        let loader = &loaders(ctx)?.participants_of_country;
        let args = PageArgs { first, after, last, before };
        let items = prefetch::items(ctx);
        let columns = |ordering: &_| items.as_ref().and_then(|sel| page_columns(sel, ordering));
        let (page, totals) = nested::page_of_some(ctx, loader, self.0.code.clone(), spec, args, count, columns).await?;
        if let Some(sel) = items.filter(|_| !nested::under_list(ctx)) {
            prefetch::librarians(ctx, sel, page.models()).await?;
        }
        Ok(connection(page, totals))
    }

    /// Ambassadors appointed for this country, current and past.
    async fn ambassadors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ambassador>> {
        let rows = loaders(ctx)?.ambassadors_of_country.load_one(self.0.code.clone()).await?.unwrap_or_default();
        Ok(rows.into_iter().map(Ambassador).collect())
    }
}
