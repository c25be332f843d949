//! Builds the executable schema.

use std::sync::Arc;

use async_graphql::{EmptySubscription, Schema};
use sea_orm::DatabaseConnection;

use crate::graphql::context::ApiContext;
use crate::graphql::mutation::MutationRoot;
use crate::graphql::node::Node;
use crate::graphql::query::QueryRoot;
use crate::service::countries::CountryTable;
use crate::service::page::PageLimits;
use crate::service::sync::SyncOptions;

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema with its process-wide data. Per-request data (DataLoaders) is added by the
/// HTTP handler.
pub fn build_schema(
    db: DatabaseConnection,
    page_limits: PageLimits,
    countries: Arc<CountryTable>,
    sync: SyncOptions,
    webhook_private_networks: bool,
) -> AppSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .register_output_type::<Node>()
        .data(ApiContext { db, page_limits, countries, sync, webhook_private_networks })
        .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription).register_output_type::<Node>().finish().sdl()
}
