//! Builds the executable schema.

use std::sync::Arc;

use async_graphql::{ID, Json, MergedObject, SDLExportOptions, Schema, SchemaBuilder};
use chrono::{DateTime, Utc};

use crate::graphql::connection::Conn;

use crate::graphql::consent::ConsentMutations;
use crate::graphql::context::ApiContext;
use crate::graphql::guard::Guard;
use crate::graphql::mutation::MutationRoot;
use crate::graphql::node::Node;
use crate::graphql::query::QueryRoot;
use crate::graphql::rounds::{RoundMutations, RoundQueries};
use crate::graphql::subscription::SubscriptionRoot;
use crate::graphql::types::{
    Application, Association, AuditEntry, Country, Librarian, Membership, Pairing, Round, SyncRun, WebhookDelivery,
};
use crate::ratelimit::RateLimiter;
use crate::service::live::Notifier;
use crate::settings::QueryLimits;

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
#[derive(Clone)]
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
    let mut builder =
        builder().extension(Guard::new(options.limits, options.limiter)).data(options.notifier).data(context);
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
    sdl_of(&builder().finish())
}

/// The SDL of a built schema, in the committed form (with `@specifiedBy` on scalars that
/// have a specification, for code generators).
pub fn sdl_of(schema: &AppSchema) -> String {
    schema.sdl_with_options(SDLExportOptions::new().include_specified_by())
}

/// Describes a connection type (async-graphql's generic `Connection` has no description).
macro_rules! describe_connections {
    ($builder:expr, $($node:ty => $items:literal),+ $(,)?) => {
        $builder$(.override_output_type_description::<Conn<$node>>(concat!(
            "A page of ", $items, " with Relay cursors: `edges` (each with its `cursor`) or `nodes`, ",
            "`pageInfo` to page on, and `totalCount` for the whole list."
        )))+
    };
}

/// The schema's types and their descriptions, the same for the server and for the SDL.
fn builder() -> SchemaBuilder<Query, Mutation, SubscriptionRoot> {
    let builder = Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .register_output_type::<Node>()
        .override_output_type_description::<DateTime<Utc>>(
            "A date and time (RFC 3339). Answers are in UTC, such as `2026-03-01T09:30:00Z`; \
             inputs may carry any offset.",
        )
        .override_output_type_description::<ID>(
            "An object's global id (Relay): opaque and stable across requests; `node(id:)` fetches \
             any object by it. Pass it back as it came; its format is not part of the API.",
        )
        .override_output_type_description::<Json<serde_json::Value>>(
            "Any JSON value, where the shape is not the schema's own (an audit entry's details, a data export).",
        );
    describe_connections!(builder,
        Application => "applications",
        Association => "partner associations",
        AuditEntry => "audit entries",
        Country => "countries",
        Librarian => "librarians",
        Membership => "memberships",
        Pairing => "pairings",
        Round => "rounds",
        SyncRun => "membership syncs",
        WebhookDelivery => "webhook deliveries",
    )
}

/// Stops every request after validation: what [`validate`] needs.
struct ValidateOnly;

impl async_graphql::extensions::ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn async_graphql::extensions::Extension> {
        Arc::new(ValidateOnly)
    }
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &async_graphql::extensions::ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        async_graphql::Response::new(async_graphql::Value::Null)
    }
}

/// The errors of parsing and validating `document` against the schema (empty: valid),
/// without running anything: for the documentation's examples, which a test checks.
pub async fn validate(document: &str) -> Vec<String> {
    let schema = builder().extension(ValidateOnly).finish();
    // Validation covers the whole document; a document of several operations needs one
    // named to be run at all.
    let first_name = match async_graphql::parser::parse_query(document) {
        Ok(doc) => match doc.operations {
            async_graphql::parser::types::DocumentOperations::Multiple(ops) => {
                ops.keys().next().map(ToString::to_string)
            }
            async_graphql::parser::types::DocumentOperations::Single(_) => None,
        },
        Err(err) => return vec![err.to_string()],
    };
    let mut request = async_graphql::Request::new(document);
    if let Some(name) = first_name {
        request = request.operation_name(name);
    }
    schema.execute(request).await.errors.into_iter().map(|e| e.message).collect()
}
