//! The per-client cost budget, as GitHub's GraphQL API has it: each client (a token's
//! subject, or the address of an anonymous caller) has `points` per fixed window; each
//! request costs its complexity (plus `mutation_cost` per root mutation field); a request
//! that would overspend the budget is refused with `RATE_LIMITED` and charged nothing.
//!
//! Windows are aligned on the Unix epoch (a 60 s window resets on the minute), so every
//! replica computes the same window without talking to the others. The counters live in
//! this process by default, or in Redis (`rate_limit.redis_url`) so that replicas share one
//! budget: one Lua script reads, checks and adds atomically. When Redis cannot be reached
//! the replica falls back to its own counters (logged, and counted in `/metrics`) rather
//! than refuse or wave through all traffic.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::settings::RateLimitSettings;

/// A client's budget after a request was charged (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateStatus {
    /// Whether the request fits in the budget (and was charged).
    pub allowed: bool,
    /// Points per window.
    pub limit: u64,
    /// What this request costs.
    pub cost: u64,
    /// Points spent in this window, this request included when allowed.
    pub used: u64,
    /// Points left in this window.
    pub remaining: u64,
    /// When the window ends and the budget is whole again.
    pub reset_at: DateTime<Utc>,
}

impl RateStatus {
    /// Why a request of this cost was refused, in words.
    pub fn refusal(&self) -> String {
        if self.cost > self.limit {
            format!("this request costs {} points, more than the whole budget of {} points", self.cost, self.limit)
        } else {
            format!(
                "this request costs {} points and {} of the budget of {} remain until {}; retry after {} s",
                self.cost,
                self.remaining,
                self.limit,
                self.reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                self.retry_after_secs()
            )
        }
    }

    /// Whole seconds until the window resets (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let ms = (self.reset_at - Utc::now()).num_milliseconds().max(0);
        u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)
    }
}

/// The Lua script: refuse when the cost does not fit, otherwise add it and keep the key
/// until its window is over. Returns `{allowed, used}`.
const CHARGE_SCRIPT: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], cost)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, used}
";

/// Counters of one process: client key to (window start, points used).
#[derive(Default)]
struct LocalCounters(Mutex<HashMap<String, (i64, u64)>>);

impl LocalCounters {
    /// Most clients remembered before finished windows are swept.
    const SWEEP_AT: usize = 100_000;

    fn charge(&self, key: &str, window_start: i64, cost: u64, limit: u64) -> (bool, u64) {
        let Ok(mut map) = self.0.lock() else { return (true, 0) };
        if map.len() >= Self::SWEEP_AT {
            map.retain(|_, (start, _)| *start >= window_start);
        }
        let entry = map.entry(key.to_owned()).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        if entry.1.saturating_add(cost) > limit {
            return (false, entry.1);
        }
        entry.1 += cost;
        (true, entry.1)
    }
}

struct Redis {
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
    timeout: Duration,
    prefix: String,
}

/// The limiter shared by all requests of the process.
pub struct RateLimiter {
    settings: RateLimitSettings,
    local: LocalCounters,
    redis: Option<Redis>,
    /// Charges that fell back to local counters because Redis failed.
    redis_failures: AtomicU64,
    /// Requests refused for an exhausted budget.
    rejections: AtomicU64,
}

impl RateLimiter {
    /// A limiter with the given settings; connects to Redis lazily (the first charge).
    ///
    /// # Errors
    /// A Redis URL that does not parse.
    pub fn new(settings: &RateLimitSettings) -> anyhow::Result<Self> {
        let redis = match settings.redis_url.as_deref().filter(|url| !url.is_empty()) {
            None => None,
            Some(url) => {
                let client = redis::Client::open(url)?;
                let timeout = Duration::from_millis(settings.redis_timeout_ms.max(1));
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_secs(1));
                let connection = redis::aio::ConnectionManager::new_lazy_with_config(client, config)?;
                Some(Redis {
                    connection,
                    script: redis::Script::new(CHARGE_SCRIPT),
                    timeout,
                    prefix: settings.redis_prefix.clone(),
                })
            }
        };
        Ok(Self {
            settings: settings.clone(),
            local: LocalCounters::default(),
            redis,
            redis_failures: AtomicU64::new(0),
            rejections: AtomicU64::new(0),
        })
    }

    /// Whether budgets are kept in Redis.
    pub fn shared(&self) -> bool {
        self.redis.is_some()
    }

    /// The cost of a request of the given complexity.
    pub fn cost(&self, complexity: usize, mutation: bool, root_fields: usize) -> u64 {
        let complexity = u64::try_from(complexity).unwrap_or(u64::MAX).max(1);
        if mutation {
            let fields = u64::try_from(root_fields).unwrap_or(u64::MAX);
            complexity.saturating_add(self.settings.mutation_cost.saturating_mul(fields))
        } else {
            complexity
        }
    }

    /// Charges `cost` to `client`; `None` when rate limiting is off.
    pub async fn charge(&self, client: &str, cost: u64) -> Option<RateStatus> {
        if !self.settings.enabled {
            return None;
        }
        let limit = self.settings.points;
        let window_ms = crate::domain::counts::to_i64(self.settings.window_secs.saturating_mul(1000));
        let now = Utc::now().timestamp_millis();
        let window_start = now - now.rem_euclid(window_ms);
        let reset_at =
            Utc.timestamp_millis_opt(window_start.saturating_add(window_ms)).single().unwrap_or_else(Utc::now);
        // The key names the client by a digest: subjects may be e-mail addresses, and
        // Redis is no place for personal data.
        let digest = hex::encode(&Sha256::digest(client.as_bytes())[..16]);
        let (allowed, used) = match &self.redis {
            Some(redis) => {
                let key = format!("{}:ratelimit:{digest}:{window_start}", redis.prefix);
                let ttl = window_ms.saturating_add(1000);
                let mut connection = redis.connection.clone();
                let mut invocation = redis.script.key(&key);
                invocation.arg(cost).arg(limit).arg(ttl);
                let call = invocation.invoke_async::<(u8, u64)>(&mut connection);
                match tokio::time::timeout(redis.timeout, call).await {
                    Ok(Ok((allowed, used))) => (allowed == 1, used),
                    failure => {
                        let count = self.redis_failures.fetch_add(1, Ordering::Relaxed);
                        if count.is_power_of_two() || count == 0 {
                            let reason = match failure {
                                Ok(Err(err)) => err.to_string(),
                                _ => "timed out".to_owned(),
                            };
                            tracing::warn!(error = %reason, failures = count + 1, "rate limiter: Redis unavailable, counting locally");
                        }
                        self.local.charge(&digest, window_start, cost, limit)
                    }
                }
            }
            None => self.local.charge(&digest, window_start, cost, limit),
        };
        if !allowed {
            self.rejections.fetch_add(1, Ordering::Relaxed);
        }
        Some(RateStatus { allowed, limit, cost, used, remaining: limit.saturating_sub(used), reset_at })
    }

    /// Requests refused so far.
    pub fn rejections(&self) -> u64 {
        self.rejections.load(Ordering::Relaxed)
    }

    /// Charges that could not reach Redis so far.
    pub fn redis_failures(&self) -> u64 {
        self.redis_failures.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(points: u64) -> RateLimiter {
        RateLimiter::new(&RateLimitSettings { points, window_secs: 3600, ..RateLimitSettings::default() })
            .expect("limiter")
    }

    #[tokio::test]
    async fn charges_until_the_budget_is_spent_and_refuses_without_charging() {
        let limiter = limiter(100);
        let first = limiter.charge("a", 60).await.expect("on");
        assert!(first.allowed);
        assert_eq!((first.used, first.remaining, first.cost), (60, 40, 60));
        let refused = limiter.charge("a", 50).await.expect("on");
        assert!(!refused.allowed);
        assert_eq!((refused.used, refused.remaining), (60, 40));
        let fits = limiter.charge("a", 40).await.expect("on");
        assert!(fits.allowed);
        assert_eq!(fits.remaining, 0);
        assert!(limiter.charge("b", 100).await.expect("on").allowed, "budgets are per client");
        assert_eq!(limiter.rejections(), 1);
        assert!(first.reset_at > Utc::now());
        assert!(first.retry_after_secs() >= 1);
    }

    #[tokio::test]
    async fn off_charges_nothing() {
        let limiter =
            RateLimiter::new(&RateLimitSettings { enabled: false, ..RateLimitSettings::default() }).expect("limiter");
        assert_eq!(limiter.charge("a", 10).await, None);
    }

    #[test]
    fn mutations_cost_more() {
        let limiter = limiter(100);
        assert_eq!(limiter.cost(5, false, 2), 5);
        assert_eq!(limiter.cost(5, true, 2), 25);
        assert_eq!(limiter.cost(0, false, 0), 1);
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_local_counters() {
        let settings = RateLimitSettings {
            points: 10,
            redis_url: Some("redis://127.0.0.1:1/".into()),
            redis_timeout_ms: 100,
            ..RateLimitSettings::default()
        };
        let limiter = RateLimiter::new(&settings).expect("limiter");
        assert!(limiter.charge("a", 10).await.expect("on").allowed);
        assert!(!limiter.charge("a", 1).await.expect("on").allowed);
        assert!(limiter.redis_failures() >= 2);
    }
}
