//! Builds the executable schema.

use std::sync::Arc;

use async_graphql::{MergedObject, Schema};

use crate::graphql::consent::ConsentMutations;
use crate::graphql::context::ApiContext;
use crate::graphql::guard::{Guard, QueryLimits};
use crate::graphql::mutation::MutationRoot;
use crate::graphql::node::Node;
use crate::graphql::query::QueryRoot;
use crate::graphql::rounds::{RoundMutations, RoundQueries};
use crate::graphql::subscription::SubscriptionRoot;
use crate::ratelimit::RateLimiter;
use crate::service::live::Notifier;

/// The root query: the network's reads, and those about running rounds.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(QueryRoot, RoundQueries);

/// The root mutation: the network's writes, and running rounds.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(MutationRoot, RoundMutations, ConsentMutations);

pub type AppSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// How the schema guards and presents itself.
pub struct SchemaOptions {
    pub limits: QueryLimits,
    pub limiter: Arc<RateLimiter>,
    pub notifier: Arc<Notifier>,
    pub introspection: bool,
    pub field_suggestions: bool,
}

/// The schema with its process-wide data. Per-request data (DataLoaders, the caller, the
/// meter) is added by the HTTP handler.
pub fn build_schema(context: ApiContext, options: SchemaOptions) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .register_output_type::<Node>()
        .extension(Guard { limits: options.limits, limiter: options.limiter })
        .data(options.notifier)
        .data(context);
    if !options.introspection {
        builder = builder.disable_introspection();
    }
    if !options.field_suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot).register_output_type::<Node>().finish().sdl()
}
