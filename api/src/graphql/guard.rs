//! The guard in front of execution: limits on the shape and cost of a request, the
//! per-client cost budget, and the execution timeout.
//!
//! It is an async-graphql extension, so it sees each stage of a request:
//! - before parsing, the bracket nesting of the raw text (a document nested thousands of
//!   levels deep must not reach the recursive parser);
//! - after parsing, the expanded size of the operation ([`Shape`], measured by
//!   [`super::document`] in time linear in the document: root fields, depth, a lower bound
//!   of the complexity, selections), aliases, and text with NUL anywhere in the input
//!   ([`super::input_text`]);
//! - after validation, the depth and complexity async-graphql computed (each field costs 1
//!   plus its children; a connection multiplies its children by `first`/`last`, see
//!   [`connection_cost`]), then the cost is charged to the client's budget;
//! - around execution, the timeout (queries only: a mutation is never cut off half-way).
//!
//! Every breach is a `QUERY_TOO_COMPLEX` error that names the limit, its maximum and the
//! measured value, and is charged what the document measured (up to the complexity limit);
//! an exhausted budget is `RATE_LIMITED`, and charged nothing. What the guard measured goes into
//! the request's [`Meter`], which the HTTP layer reads for headers, status codes and metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use super::cache::{Documents, ValidationKey, Validations};
use super::document::{Shape, count_aliases, document_shape, nesting};
pub use super::meter::{Measure, Meter, RateClient};
use crate::error::{ErrorCode, coded_error};
use crate::ratelimit::RateLimiter;
use crate::settings::QueryLimits;

/// Most selections (fields, `__typename`, fragment spreads, inline fragments) of the
/// document with its fragments expanded: room for a query of the highest complexity
/// with `__typename` and fragments everywhere, far below what takes noticeable time
/// to walk.
fn max_selections(limits: &QueryLimits) -> usize {
    limits.max_complexity.saturating_mul(4)
}

/// Deepest bracket nesting (`{`, `[`, `(`) the raw text may have: room for the field
/// depth and nested input values, far below what could exhaust the parser's stack.
fn max_nesting(limits: &QueryLimits) -> usize {
    limits.max_depth.saturating_mul(4).saturating_add(16)
}

/// Page size a connection is costed at when the query gives neither `first` nor `last`.
pub const DEFAULT_PAGE_COST: usize = 20;

/// The complexity of a connection field: its children once per row it may return, plus
/// one for the field itself (and its `pageInfo`/`totalCount`, which are cheap).
pub fn connection_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.or(last).map_or(DEFAULT_PAGE_COST, |n| usize::try_from(n).unwrap_or(0).max(1));
    rows.saturating_mul(child_complexity).saturating_add(1)
}

/// The complexity of a field that returns a list of `count` items.
pub fn list_cost(count: usize, child_complexity: usize) -> usize {
    count.max(1).saturating_mul(child_complexity).saturating_add(1)
}

/// Deepest nesting of type lists in an introspection query ([`Shape::introspection_lists`]):
/// the standard introspection queries of graphql-js, graphql-core (gql) and the tools built
/// on them nest 3, while each further level multiplies the answer by the schema's size.
/// Introspection is measured by this rule instead of the data depth limit: `ofType` chains
/// are single objects, and their nesting is bounded with the document's bracket nesting.
pub const MAX_INTROSPECTION_LISTS: usize = 3;

fn too_complex(limit: &str, what: &str, max: usize, actual: usize) -> ServerError {
    coded_error(format!("{what} is {actual}, over the limit of {max}"), ErrorCode::QueryTooComplex, |ext| {
        ext.set("limit", limit);
        ext.set("max", max);
        ext.set("actual", actual);
    })
}

/// Installs the guard on a schema.
pub struct Guard {
    pub limits: QueryLimits,
    pub limiter: Arc<RateLimiter>,
    pub documents: Arc<Documents>,
    pub validations: Arc<Validations>,
}

impl Guard {
    /// The guard with `limits`, charging budgets to `limiter`.
    pub fn new(limits: QueryLimits, limiter: Arc<RateLimiter>) -> Self {
        let (documents, validations) = (Arc::new(Documents::new()), Arc::new(Validations::new()));
        Self { limits, limiter, documents, validations }
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            limits: self.limits.clone(),
            limiter: self.limiter.clone(),
            documents: self.documents.clone(),
            validations: self.validations.clone(),
            validation_key: Mutex::new(None),
            operation: Mutex::new(Operation::default()),
        })
    }
}

/// Records that the request failed before execution.
fn mark_failed(ctx: &ExtensionContext<'_>) {
    if let Some(meter) = ctx.data_opt::<Arc<Meter>>() {
        meter.update(|m| m.request_error = true);
    }
}

#[derive(Debug, Default, Clone)]
struct Operation {
    name: Option<String>,
    kind: Option<OperationType>,
    shape: Shape,
}

struct GuardExtension {
    limits: QueryLimits,
    limiter: Arc<RateLimiter>,
    documents: Arc<Documents>,
    validations: Arc<Validations>,
    /// The request's key in `validations`, set once its document parsed and passed the limits.
    validation_key: Mutex<Option<ValidationKey>>,
    operation: Mutex<Operation>,
}

impl GuardExtension {
    fn operation(&self) -> Operation {
        self.operation.lock().map(|op| op.clone()).unwrap_or_default()
    }

    /// Charges a document refused by a limit what it measured (at least 1, at most the
    /// complexity limit, which a document the measure saturated on is charged), so that
    /// refused documents are not free to send: a flood of them spends the client's budget
    /// like a flood of queries. A client already over its budget is charged nothing more.
    async fn charge_refused(&self, meter: Option<&Meter>, client: Option<&RateClient>, measured: usize) {
        let Some(RateClient(client)) = client else { return };
        let cost = self.limiter.cost(measured.clamp(1, self.limits.max_complexity), false, 0);
        if let Some(status) = self.limiter.charge(client, cost).await
            && let Some(meter) = meter
        {
            meter.update(|m| m.rate = Some(status));
        }
    }

    fn refuse<T>(ctx: &ExtensionContext<'_>, errors: Vec<ServerError>) -> Result<T, Vec<ServerError>> {
        mark_failed(ctx);
        Err(errors)
    }

    /// Checks the parsed document against the limits and records its operation.
    fn inspect(&self, meter: Option<&Meter>, document: &ExecutableDocument) -> ServerResult<()> {
        let mut operation = self.operation();
        let selected = match (&document.operations, operation.name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            (DocumentOperations::Multiple(_), None) => None,
        };
        if let Some(op) = selected {
            operation.kind = Some(op.node.ty);
            if operation.name.is_none() {
                operation.name = match &document.operations {
                    DocumentOperations::Multiple(ops) => {
                        ops.iter().find(|(_, o)| std::ptr::eq(*o, op)).map(|(name, _)| name.to_string())
                    }
                    DocumentOperations::Single(_) => None,
                };
            }
            if let Some(name) = &operation.name {
                // Every later log line of the request carries the operation: a name found
                // in the document, so a GraphQL name and never free text.
                tracing::Span::current().record("operation", name.as_str());
            }
        }
        operation.shape = document_shape(document, selected);
        if let Ok(mut slot) = self.operation.lock() {
            *slot = operation.clone();
        }
        if let Some(meter) = meter {
            let roots =
                selected.map(|op| super::document::root_fields(&op.node.selection_set.node, &document.fragments));
            meter.update(|m| {
                m.operation_type = operation.kind;
                m.operation_name.clone_from(&operation.name);
                m.root_fields = roots.unwrap_or_default();
            });
        }
        let Shape { fields, depth, root_fields, selections, introspection_lists, .. } = operation.shape;
        if introspection_lists > MAX_INTROSPECTION_LISTS {
            return Err(too_complex(
                "introspection",
                "the nesting of type lists (types, fields, args, ...) in introspection",
                MAX_INTROSPECTION_LISTS,
                introspection_lists,
            ));
        }
        let max_selections = max_selections(&self.limits);
        if selections > max_selections {
            return Err(too_complex(
                "selections",
                "the number of selections with fragments expanded",
                max_selections,
                selections,
            ));
        }
        if root_fields > self.limits.max_root_fields {
            return Err(too_complex(
                "rootFields",
                "the number of root fields",
                self.limits.max_root_fields,
                root_fields,
            ));
        }
        // Depth and complexity are measured again, exactly, by validation; these bounds
        // refuse the documents that validation could not measure in reasonable time.
        if depth > self.limits.max_depth {
            return Err(too_complex("depth", "the query depth", self.limits.max_depth, depth));
        }
        if fields > self.limits.max_complexity {
            return Err(too_complex("complexity", "the query complexity", self.limits.max_complexity, fields));
        }
        let aliases = count_aliases(document);
        if aliases > self.limits.max_aliases {
            return Err(too_complex("aliases", "the number of aliases", self.limits.max_aliases, aliases));
        }
        Ok(())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    /// Everything that must hold before async-graphql's own checks walk the document:
    /// the bracket nesting of the text (before the recursive parser), then, on the parsed
    /// document, its expanded size measured in linear time, aliases and NUL in the input.
    /// The parsed document is handed on, so it is parsed once.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut op) = self.operation.lock() {
            op.name.clone_from(&request.operation_name);
        }
        // Before execution the meter is in the request's data (HTTP) or the connection's
        // (subscriptions).
        let meter = request
            .data
            .get(&std::any::TypeId::of::<Arc<Meter>>())
            .and_then(|data| data.downcast_ref::<Arc<Meter>>())
            .or_else(|| ctx.data_opt::<Arc<Meter>>())
            .cloned();
        let client = request
            .data
            .get(&std::any::TypeId::of::<RateClient>())
            .and_then(|data| data.downcast_ref::<RateClient>())
            .or_else(|| ctx.data_opt::<RateClient>())
            .cloned();
        let refuse = |error: ServerError| {
            if let Some(meter) = &meter {
                meter.update(|m| m.request_error = true);
            }
            Err(error)
        };
        // A document seen before passed the nesting check and parsed then.
        let cached = self.documents.get(&request.query);
        let parsed = match cached {
            Some(document) => Some((document, true)),
            None => {
                let nested = nesting(&request.query);
                let max = max_nesting(&self.limits);
                if nested > max {
                    self.charge_refused(meter.as_deref(), client.as_ref(), usize::MAX).await;
                    return refuse(too_complex("nesting", "the bracket nesting of the document", max, nested));
                }
                // A document that does not parse is reported by async-graphql's own parse, below.
                async_graphql::parser::parse_query(&request.query).ok().map(|document| (document, false))
            }
        };
        if let Some((document, cached)) = parsed {
            if let Err(error) = self.inspect(meter.as_deref(), &document) {
                let measured = self.operation().shape.fields;
                self.charge_refused(meter.as_deref(), client.as_ref(), measured).await;
                return refuse(error);
            }
            if let Some(error) = super::input_text::refuse_nul(&document, &request.variables) {
                return refuse(error);
            }
            if !cached {
                self.documents.keep(&request.query, &document);
            }
            if let Ok(mut key) = self.validation_key.lock() {
                *key = ValidationKey::of(&request);
            }
            request.set_parsed_query(document);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await;
        if document.is_err() {
            mark_failed(ctx);
        }
        document
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        // A request validated before with the same key has the same result (see
        // `Validations`); the limits and the budget below apply to it as to any other.
        let key = self.validation_key.lock().ok().and_then(|mut key| key.take());
        let result = match key.as_ref().and_then(|key| self.validations.get(key)) {
            Some(result) => result,
            None => match next.run(ctx).await {
                Ok(result) => {
                    if let Some(key) = key {
                        self.validations.keep(key, result);
                    }
                    result
                }
                Err(errors) => return Self::refuse(ctx, errors),
            },
        };
        let meter = ctx.data_opt::<Arc<Meter>>();
        // The depth of the data: async-graphql's counts introspection's nesting too, which
        // has its own rule ([`MAX_INTROSPECTION_LISTS`]). The measured shape is the same
        // count with introspection fields counted as 1; it is there for every document
        // that parsed before validation.
        let operation = self.operation();
        let depth = if operation.kind.is_some() { operation.shape.depth } else { result.depth };
        if let Some(meter) = meter {
            meter.update(|m| {
                m.depth = depth;
                m.complexity = result.complexity;
            });
        }
        if depth > self.limits.max_depth || result.complexity > self.limits.max_complexity {
            let client = ctx.data_opt::<RateClient>();
            self.charge_refused(meter.map(AsRef::as_ref), client, result.complexity).await;
        }
        if depth > self.limits.max_depth {
            return Self::refuse(ctx, vec![too_complex("depth", "the query depth", self.limits.max_depth, depth)]);
        }
        if result.complexity > self.limits.max_complexity {
            return Self::refuse(
                ctx,
                vec![too_complex("complexity", "the query complexity", self.limits.max_complexity, result.complexity)],
            );
        }
        let (Some(meter), Some(RateClient(client))) = (meter, ctx.data_opt::<RateClient>()) else {
            return Ok(result);
        };
        let cost = self.limiter.cost(
            result.complexity,
            operation.kind == Some(OperationType::Mutation),
            operation.shape.root_fields,
        );
        let Some(status) = self.limiter.charge(client, cost).await else {
            return Ok(result);
        };
        meter.update(|m| m.rate = Some(status.clone()));
        if status.allowed {
            return Ok(result);
        }
        let error = coded_error(status.refusal(), ErrorCode::RateLimited, |ext| {
            ext.set("cost", status.cost);
            ext.set("limit", status.limit);
            ext.set("remaining", status.remaining);
            ext.set("resetAt", status.reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            ext.set("retryAfter", status.retry_after_secs());
        });
        Self::refuse(ctx, vec![error])
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let timeout = self.limits.execution_timeout_ms;
        if timeout == 0 || self.operation().kind != Some(OperationType::Query) {
            return next.run(ctx, operation_name).await;
        }
        match tokio::time::timeout(Duration::from_millis(timeout), next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => Response::from_errors(vec![coded_error(
                format!("the query ran longer than the execution timeout of {timeout} ms"),
                ErrorCode::Timeout,
                |ext| {
                    ext.set("limit", "executionTimeout");
                    ext.set("max", timeout);
                },
            )]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_cost_scales_with_the_page() {
        assert_eq!(connection_cost(Some(100), None, 3), 301);
        assert_eq!(connection_cost(None, Some(5), 3), 16);
        assert_eq!(connection_cost(None, None, 3), 61);
        assert_eq!(connection_cost(Some(-4), None, 3), 4);
    }

    struct Slow;

    #[async_graphql::Object]
    impl Slow {
        async fn slow(&self) -> i32 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            1
        }
    }

    #[tokio::test]
    async fn a_query_past_the_timeout_is_cut_off_but_a_mutation_runs_to_the_end() {
        let limiter = Arc::new(RateLimiter::new(&crate::settings::RateLimitSettings::default()).expect("limiter"));
        let limits = QueryLimits { execution_timeout_ms: 50, ..QueryLimits::default() };
        let schema = async_graphql::Schema::build(Slow, Slow, async_graphql::EmptySubscription)
            .extension(Guard::new(limits, limiter))
            .finish();
        let started = std::time::Instant::now();
        let response = schema.execute("{ slow }").await;
        assert!(started.elapsed() < Duration::from_millis(250), "answered at the timeout");
        let error = &response.errors[0];
        let ext = error.extensions.as_ref().expect("extensions");
        assert_eq!(ext.get("code"), Some(&async_graphql::Value::from("TIMEOUT")));
        assert_eq!(ext.get("max"), Some(&async_graphql::Value::from(50)));
        let response = schema.execute("mutation { slow }").await;
        assert!(response.errors.is_empty());
        assert_eq!(response.data.to_string(), "{slow: 1}");
    }
}
