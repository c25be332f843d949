//! What every resolver may take from the request context.

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::auth::Viewer;
use crate::db::Reader;
use crate::graphql::loaders::Loaders;
use crate::service::countries::CountryTable;
use crate::service::page::PageLimits;

/// Shared, per-process state for resolvers.
#[derive(Clone)]
pub struct ApiContext {
    pub db: DatabaseConnection,
    /// The same pool, for the read path's rows (see `service::rows`).
    pub reader: Reader,
    pub page_limits: PageLimits,
    pub countries: Arc<CountryTable>,
    pub sync: crate::service::sync::SyncOptions,
    /// Whether webhook URLs may point at private networks (`webhook_allow_private_networks`).
    pub webhook_private_networks: bool,
    /// The matching engine's scoring (`[matching]` in the settings).
    pub matching: crate::matching::engine::Scoring,
}

/// The process-wide API context.
///
/// # Errors
/// Only if the schema was built without it (a bug), reported as an internal error.
pub fn api<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a ApiContext> {
    ctx.data::<ApiContext>()
}

/// The request's DataLoaders.
///
/// # Errors
/// Only if the request was executed without them (a bug).
pub fn loaders<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// The caller of the request.
///
/// # Errors
/// Only if the request was executed without a viewer (a bug).
pub fn viewer<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Viewer> {
    Ok(ctx.data::<Arc<Viewer>>()?.as_ref())
}
