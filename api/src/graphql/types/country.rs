use async_graphql::{Context, ID, Object};
use entities::country;

use super::{Ambassador, Librarian, LibrarianFilterInput, LibrarianOrder, gid, librarian_connection};
use crate::domain::{CountryCode, NodeKind, Region};
use crate::graphql::connection::Conn;
use crate::graphql::context::loaders;
use crate::service::page::PageArgs;

/// A country (ISO 3166-1).
pub struct Country(pub country::Model);

impl From<country::Model> for Country {
    fn from(model: country::Model) -> Self {
        Self(model)
    }
}

#[Object]
impl Country {
    pub async fn id(&self) -> ID {
        gid(NodeKind::Country, &self.0.code)
    }

    /// ISO 3166-1 alpha-2 code.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// ISO short name in English.
    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn region(&self) -> Option<Region> {
        self.0.region.as_deref().and_then(Region::parse)
    }

    /// UN M49 sub-region, e.g. "Southern Africa".
    async fn subregion(&self) -> Option<&str> {
        self.0.subregion.as_deref()
    }

    /// Participants from this country.
    #[allow(clippy::too_many_arguments)]
    async fn participants(
        &self,
        ctx: &Context<'_>,
        filter: Option<LibrarianFilterInput>,
        order_by: Option<LibrarianOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Librarian>> {
        let mut filter = filter.unwrap_or_default().parse()?;
        filter.country = Some(CountryCode::parse("code", &self.0.code)?);
        librarian_connection(ctx, filter, order_by, PageArgs { first, after, last, before }).await
    }

    /// Ambassadors appointed for this country, current and past.
    async fn ambassadors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ambassador>> {
        let rows = loaders(ctx)?.ambassadors_of_country.load_one(self.0.code.clone()).await?.unwrap_or_default();
        Ok(rows.into_iter().map(Ambassador).collect())
    }
}
