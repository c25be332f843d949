//! Builds the executable schema.

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use sea_orm::DatabaseConnection;

use crate::graphql::context::ApiContext;
use crate::graphql::mutation::MutationRoot;
use crate::graphql::node::Node;
use crate::graphql::query::QueryRoot;
use crate::graphql::rounds::{RoundMutations, RoundQueries};
use crate::matching::engine::Scoring;
use crate::service::countries::CountryTable;
use crate::service::page::PageLimits;
use crate::service::sync::SyncOptions;

/// The root query: the network's reads, and those about running rounds.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(QueryRoot, RoundQueries);

/// The root mutation: the network's writes, and running rounds.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(MutationRoot, RoundMutations);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema with its process-wide data. Per-request data (DataLoaders) is added by the
/// HTTP handler.
pub fn build_schema(
    db: DatabaseConnection,
    page_limits: PageLimits,
    countries: Arc<CountryTable>,
    sync: SyncOptions,
    webhook_private_networks: bool,
    matching: Scoring,
) -> AppSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .register_output_type::<Node>()
        .data(ApiContext { db, page_limits, countries, sync, webhook_private_networks, matching })
        .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .register_output_type::<Node>()
        .finish()
        .sdl()
}
