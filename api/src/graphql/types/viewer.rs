use async_graphql::{Context, Object};

use super::{Association, Country, Librarian, country_of};
use crate::auth::{Role, Viewer};
use crate::graphql::context::{loaders, viewer};

pub struct ViewerInfo;

/// Who the caller is, as their token says.
#[Object(name = "Viewer")]
impl ViewerInfo {
    /// The caller's role: what the token says, or `ANONYMOUS` without one.
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<Role> {
        Ok(viewer(ctx)?.role())
    }

    /// The token's subject (`sub`); `null` when anonymous.
    async fn subject<'a>(&self, ctx: &'a Context<'_>) -> async_graphql::Result<Option<&'a str>> {
        Ok(viewer(ctx)?.subject())
    }

    /// The countries an ambassador looks after.
    async fn countries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Country>> {
        match viewer(ctx)? {
            Viewer::Ambassador { countries, .. } => countries.iter().map(|c| country_of(ctx, c)).collect(),
            _ => Ok(Vec::new()),
        }
    }

    /// The association of an association token.
    async fn association(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Association>> {
        match viewer(ctx)? {
            Viewer::Association { association_id, .. } => {
                Ok(loaders(ctx)?.association.load_one(*association_id).await?.map(Association))
            }
            _ => Ok(None),
        }
    }

    /// The caller's own librarian record (a librarian, or an ambassador token that names one).
    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Librarian>> {
        match viewer(ctx)?.librarian_id() {
            Some(id) => Ok(loaders(ctx)?.librarian.load_one(id).await?.map(Librarian::from)),
            None => Ok(None),
        }
    }
}
