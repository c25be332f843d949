use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::librarian;

use super::{Application, Country, LibrarianOrder, Membership, Pairing, country_of, gid, many, stored};
use crate::domain::{LibrarianOrderField, NodeKind, OrderDirection, Sector};
use crate::graphql::connection::{Conn, ConnectionTotals, connection};
use crate::graphql::context::api;
use crate::graphql::prefetch;
use crate::service::{filters, filters::LibrarianFilter, orderings, page, page::PageArgs};

/// A participant of the network: a librarian, archivist or information professional.
pub struct Librarian(pub Arc<librarian::Model>);

impl From<Arc<librarian::Model>> for Librarian {
    fn from(model: Arc<librarian::Model>) -> Self {
        Self(model)
    }
}

#[Object]
impl Librarian {
    pub async fn id(&self) -> ID {
        gid(NodeKind::Librarian, self.0.id)
    }

    async fn full_name(&self) -> &str {
        &self.0.full_name
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<Country> {
        country_of(ctx, &self.0.country_code)
    }

    async fn institution(&self) -> Option<&str> {
        self.0.institution.as_deref()
    }

    async fn sector(&self) -> async_graphql::Result<Sector> {
        stored(Sector::parse(&self.0.sector), "sector")
    }

    async fn job_title(&self) -> Option<&str> {
        self.0.job_title.as_deref()
    }

    async fn years_experience(&self) -> i32 {
        self.0.years_experience
    }

    /// Working languages (ISO 639-1 codes).
    async fn languages(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        many(ctx, self.0.id, |l| &l.languages_of_librarian).await
    }

    /// Interest tags.
    async fn interests(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        many(ctx, self.0.id, |l| &l.interests_of_librarian).await
    }

    async fn bio(&self) -> Option<&str> {
        self.0.bio.as_deref()
    }

    /// Whether the librarian consented to appear in the network's directory.
    async fn listed_in_directory(&self) -> bool {
        self.0.listed_in_directory
    }

    /// Version for optimistic concurrency: it changes on every update.
    async fn version(&self) -> i32 {
        self.0.version
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Association memberships, active and deactivated.
    async fn memberships(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Membership>> {
        let rows = many(ctx, self.0.id, |l| &l.memberships_of_librarian).await?;
        Ok(rows.into_iter().map(Membership).collect())
    }

    /// Applications to rounds, oldest first.
    async fn applications(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Application>> {
        let rows = many(ctx, self.0.id, |l| &l.applications_of_librarian).await?;
        Ok(rows.into_iter().map(Application).collect())
    }

    /// Pairings in all rounds, oldest first.
    async fn pairings(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Pairing>> {
        let rows = many(ctx, self.0.id, |l| &l.pairings_of_librarian).await?;
        Ok(rows.into_iter().map(Pairing).collect())
    }
}

/// A page of librarians matching `filter`, shared by every librarian list of the schema.
///
/// # Errors
/// `BAD_USER_INPUT` for bad page arguments; database errors.
pub async fn librarian_connection(
    ctx: &Context<'_>,
    filter: LibrarianFilter,
    order_by: Option<LibrarianOrder>,
    args: PageArgs,
) -> async_graphql::Result<Conn<Librarian>> {
    let api = api(ctx)?;
    let order = order_by.unwrap_or(LibrarianOrder { field: LibrarianOrderField::Id, direction: OrderDirection::Asc });
    let select = filters::librarians(&filter);
    let ordering = orderings::librarians(order.field, order.direction);
    let page = page::paginate(&api.db, select.clone(), &ordering, &args, api.page_limits).await?;
    if let Some(sel) = prefetch::items(ctx) {
        prefetch::librarians(ctx, sel, page.models()).await?;
    }
    Ok(connection(page, ConnectionTotals::of(&api.db, select)))
}
