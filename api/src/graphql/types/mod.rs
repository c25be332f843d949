//! GraphQL object and input types. Each object wraps its entity model; fields convert
//! storage values into API values, and relations go through the request's DataLoaders.

mod ambassador;
mod application;
mod association;
mod audit;
mod certificate;
mod country;
mod feed;
mod inputs;
mod librarian;
mod membership;
mod pairing;
mod round;
mod scalars;
mod sync;
mod topic;
mod viewer;
mod webhook;

pub use ambassador::Ambassador;
pub use application::Application;
pub use association::Association;
pub use audit::AuditEntry;
pub use certificate::Certificate;
pub use country::{Country, participants_spec};
pub use feed::{ChangeEntityType, ChangeEvent, ChangeFeed};
pub use inputs::{LibrarianFilterInput, LibrarianOrder, PairingFilterInput};
pub use librarian::{Librarian, brief, librarian_connection, page_columns};
pub use membership::{Membership, brief as membership_brief};
pub use pairing::{Pairing, brief as pairing_brief};
pub use round::Round;
pub use scalars::CountryCodeScalar;
pub use sync::{SyncMembersPayload, SyncRun, SyncUserError};
pub use topic::DiscussionTopic;
pub use viewer::ViewerInfo;
pub use webhook::{Webhook, WebhookDelivery};

use async_graphql::{Context, ID};

use crate::domain::{GlobalId, NodeKind};
use crate::error::ApiError;
use crate::graphql::context::loaders;
use crate::graphql::loaders::{Loaders, Rows};

/// The global id of an object with an integer key.
pub(crate) fn gid(kind: NodeKind, key: impl std::fmt::Display) -> ID {
    ID(GlobalId::encode(kind, key))
}

/// Loads a related row that a foreign key guarantees; a missing one is a broken invariant.
pub(crate) async fn required<K, V, F>(ctx: &Context<'_>, key: K, pick: F) -> async_graphql::Result<V>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + std::fmt::Debug + 'static,
    V: Send + Sync + Clone + 'static,
    F: FnOnce(&Loaders) -> &Rows<K, V>,
{
    let loader = pick(loaders(ctx)?);
    loader
        .load_one(key.clone())
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("dangling reference to {key:?}")).into())
}

/// Loads a one-to-many relation (an empty list when there are none).
pub(crate) async fn many<V, F>(ctx: &Context<'_>, key: i32, pick: F) -> async_graphql::Result<Vec<V>>
where
    V: Send + Sync + Clone + 'static,
    F: FnOnce(&Loaders) -> &Rows<i32, Vec<V>>,
{
    Ok(pick(loaders(ctx)?).load_one(key).await?.unwrap_or_default())
}

/// A stored enum value; one this code never writes is a broken invariant, not a client error.
pub(crate) fn stored<T>(value: Option<T>, column: &str) -> async_graphql::Result<T> {
    value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unknown stored value in column {column}")).into())
}

/// The country with `code`, from the in-memory table (countries are reference data).
pub(crate) fn country_of(ctx: &Context<'_>, code: &str) -> async_graphql::Result<Country> {
    crate::graphql::context::api(ctx)?
        .countries
        .get(code)
        .cloned()
        .map(Country)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unknown country {code}")).into())
}
