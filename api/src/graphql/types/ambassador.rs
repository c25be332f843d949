use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::ambassador;

use super::{Country, Librarian, country_of, gid};
use crate::domain::NodeKind;
use crate::graphql::context::loaders;

pub struct Ambassador(pub Arc<ambassador::Model>);

impl From<Arc<ambassador::Model>> for Ambassador {
    fn from(model: Arc<ambassador::Model>) -> Self {
        Self(model)
    }
}

/// A librarian appointed to promote the programme in a country, for a term.
#[Object]
impl Ambassador {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        gid(NodeKind::Ambassador, self.0.id)
    }

    /// The appointed librarian; `null` for a viewer who may not see them.
    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Librarian>> {
        Ok(loaders(ctx)?.librarian.load_one(self.0.librarian_id).await?.map(Librarian::from))
    }

    /// The country the ambassador looks after.
    async fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<Country> {
        country_of(ctx, &self.0.country_code)
    }

    /// When the appointment began.
    async fn term_from(&self) -> DateTime<Utc> {
        self.0.term_from
    }

    /// End of the term; `null` while open-ended.
    async fn term_until(&self) -> Option<DateTime<Utc>> {
        self.0.term_until
    }

    /// Whether the term covers the present moment.
    async fn active(&self) -> bool {
        let now = Utc::now();
        self.0.term_from <= now && self.0.term_until.is_none_or(|until| until > now)
    }
}
