//! The settings of the request path: limits on a GraphQL request, the per-client cost
//! budget, and persisted queries. They are plain data here; the guard, the rate limiter
//! and the persisted-query store read them.

use serde::Deserialize;

/// Limits on one GraphQL request (`[limits]` in the settings).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct QueryLimits {
    /// Deepest nesting of fields (`{ a { b } }` is 2).
    pub max_depth: usize,
    /// Highest complexity: 1 per field plus its children, a connection's children counted
    /// `first`/`last` times (default page size when neither is given).
    pub max_complexity: usize,
    /// Most aliased fields in one document.
    pub max_aliases: usize,
    /// Most fields at the root of the operation.
    pub max_root_fields: usize,
    /// Most requests in one batch (a JSON array); 0 turns batching off.
    pub max_batch_size: usize,
    /// Milliseconds a query may run; 0: no timeout. Mutations always run to the end.
    pub execution_timeout_ms: u64,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 50_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_batch_size: 10,
            execution_timeout_ms: 10_000,
        }
    }
}

impl QueryLimits {
    /// Checks the limits make sense.
    ///
    /// # Errors
    /// A limit of zero where zero would refuse every request.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("limits.max_depth", self.max_depth),
            ("limits.max_complexity", self.max_complexity),
            ("limits.max_root_fields", self.max_root_fields),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
    }
}

/// `[rate_limit]` in the settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Charge requests to budgets at all.
    pub enabled: bool,
    /// Points per client per window.
    pub points: u64,
    /// Length of a window in seconds.
    pub window_secs: u64,
    /// Points each root field of a mutation adds to the cost (writes cost more than reads).
    pub mutation_cost: u64,
    /// `redis://host:port/db`: keep the counters in Redis, shared by every replica.
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys (several deployments may share one Redis).
    pub redis_prefix: String,
    /// Milliseconds to wait for Redis before falling back to local counters.
    pub redis_timeout_ms: u64,
    /// Take an anonymous client's address from `X-Forwarded-For` (only behind a proxy
    /// that sets it; otherwise a client could pick its own budget).
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            points: 250_000,
            window_secs: 60,
            mutation_cost: 10,
            redis_url: None,
            redis_prefix: "interlib".to_owned(),
            redis_timeout_ms: 250,
            trust_forwarded_for: false,
        }
    }
}

impl RateLimitSettings {
    /// Checks the settings make sense.
    ///
    /// # Errors
    /// A zero budget or window.
    pub fn validate(&self) -> Result<(), String> {
        if self.points == 0 || self.window_secs == 0 {
            return Err("rate_limit.points and rate_limit.window_secs must be at least 1".into());
        }
        Ok(())
    }
}

/// How persisted queries are handled.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PersistedMode {
    #[default]
    Automatic,
    Allowlist,
    Off,
}

/// `[persisted_queries]` in the settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct PersistedSettings {
    pub mode: PersistedMode,
    /// A JSON file `{ "<sha256 hex>": "<document>", ... }` of registered documents.
    pub manifest: Option<String>,
    /// Documents remembered from clients in `automatic` mode.
    pub cache_size: usize,
}

impl Default for PersistedSettings {
    fn default() -> Self {
        Self { mode: PersistedMode::Automatic, manifest: None, cache_size: 1_000 }
    }
}
