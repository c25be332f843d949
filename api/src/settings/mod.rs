//! Typed configuration: defaults in code, then an optional TOML file, then `INTERLIB_*`
//! environment variables. This is the only module that reads the environment.

use std::path::PathBuf;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod limits;

pub use limits::{PersistedMode, PersistedSettings, QueryLimits, RateLimitSettings};

/// Where log lines go and how they look.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// All settings of the server and the CLI. A setting left out of the file and the
/// environment keeps its default ([`Settings::default`], the one place defaults are
/// written).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Database URL: `sqlite://interlib.db?mode=rwc` (default) or `postgres://...`.
    /// Wrapped as a secret because it may carry a password.
    pub database_url: SecretString,
    /// Connections in the pool.
    pub database_max_connections: u32,
    /// Seconds to wait for a free connection before a request fails.
    pub database_acquire_timeout_secs: u64,
    /// Run pending migrations when the server starts.
    pub migrate_on_start: bool,
    /// Address the HTTP server binds to; port 0 picks a free port.
    pub bind_address: String,
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `interlib=debug,sqlx=warn` (`RUST_LOG` wins).
    pub log_level: String,
    /// Largest `first`/`last` a connection accepts.
    pub max_page_size: u64,
    /// Page size when the client gives neither `first` nor `last`.
    pub default_page_size: u64,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Seconds that graceful shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads (each a single-threaded runtime); 0: one per CPU core. On a
    /// machine shared with the database, fewer workers can serve more (docs/performance.md).
    pub http_workers: usize,
    /// HS256 secret that signs and verifies tokens (at least 32 bytes). The built-in
    /// default is for local development only; the server warns when it is in use.
    pub auth_secret: SecretString,
    /// `iss` that tokens must carry (and minted tokens get).
    pub auth_issuer: String,
    /// `aud` that tokens must carry (and minted tokens get).
    pub auth_audience: String,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub auth_leeway_secs: u64,
    /// Public keys for tokens minted elsewhere: `kid:RS256:/path.pem,kid2:EdDSA:/path2.pem`.
    pub auth_public_keys: String,
    /// A JWKS file of public keys (RS256 or EdDSA, each with `kid` and `alg`).
    pub auth_jwks_file: Option<String>,
    /// Seconds an idempotency key of `syncMembers` (and the bulk path) is remembered.
    pub idempotency_ttl_secs: u64,
    /// Largest body of `POST /bulk/members`, in bytes.
    pub bulk_max_bytes: usize,
    /// Milliseconds between looks for discussion topics whose publish time has come, to
    /// announce them in the change feed; 0 turns the announcer off in this process.
    pub topic_poll_ms: u64,
    /// Run the webhook deliverer in this process.
    pub webhooks_enabled: bool,
    /// Milliseconds between the deliverer's looks for new events and due retries.
    pub webhook_poll_ms: u64,
    /// Delay before the first retry in milliseconds; each retry doubles it (capped at an hour).
    pub webhook_retry_base_ms: u64,
    /// Attempts before a delivery is marked `FAILED`.
    pub webhook_max_attempts: u32,
    /// Seconds a receiver has to answer.
    pub webhook_timeout_secs: u64,
    /// Most events in one delivery.
    pub webhook_batch_size: u64,
    /// Allow webhook URLs on loopback, private and link-local addresses. Off by default:
    /// a partner's URL must not reach the network behind the API (the database, cloud
    /// metadata). Tests and single-host setups turn it on.
    pub webhook_allow_private_networks: bool,
    /// The matching engine's scoring (`[matching]`; see `matching::engine`).
    #[serde(default)]
    pub matching: crate::matching::engine::Scoring,
    /// `development` (default) or `production`: the defaults of `introspection`,
    /// `graphiql` and `field_suggestions` (on in development, off in production).
    pub profile: Profile,
    /// Answer `__schema`/`__type` (default: by profile).
    pub introspection: Option<bool>,
    /// Serve GraphiQL on `GET /graphql` to browsers (default: by profile).
    pub graphiql: Option<bool>,
    /// "Did you mean ...?" in validation errors (default: by profile).
    pub field_suggestions: Option<bool>,
    /// Limits on the shape and cost of one GraphQL request (`[limits]`).
    #[serde(default)]
    pub limits: QueryLimits,
    /// The per-client cost budget (`[rate_limit]`).
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    /// Persisted queries (`[persisted_queries]`).
    #[serde(default)]
    pub persisted_queries: PersistedSettings,
    /// Seconds a single SQL statement may run before the database cancels it (PostgreSQL;
    /// 0: no limit). A cancelled statement fails the request with `SERVICE_UNAVAILABLE`.
    pub database_statement_timeout_secs: u64,
    /// Milliseconds between the looks for live updates while anyone subscribes.
    pub subscription_poll_ms: u64,
    /// Milliseconds between the checks that a subscribed caller is still allowed (token
    /// expiry, erasure, an ended ambassador term, a removed association); an event never
    /// goes out on an older check. A revoked caller's socket is closed with 4403.
    pub subscription_recheck_ms: u64,
    /// Origins whose pages may call the API from a browser (CORS), comma-separated, e.g.
    /// `https://app.example.org`; `*` for any; empty (default): none, same-origin only.
    pub cors_allowed_origins: String,
}

/// Which defaults the server starts from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Introspection, GraphiQL and field suggestions on.
    #[default]
    Development,
    /// Introspection, GraphiQL and field suggestions off unless set explicitly.
    Production,
}

/// The placeholder `interlib.example.toml` shows (commented out), refused in production.
pub const EXAMPLE_SECRET: &str = "replace-with-32-or-more-random-bytes-0000";

/// The development secret used when none is configured.
pub const DEVELOPMENT_SECRET: &str = "interlib-development-secret-not-for-production";

impl Default for Settings {
    /// The built-in defaults, documented in `interlib.example.toml` and docs/operations.md.
    fn default() -> Self {
        Self {
            database_url: SecretString::from("sqlite://interlib.db?mode=rwc".to_owned()),
            database_max_connections: 10,
            database_acquire_timeout_secs: 5,
            migrate_on_start: true,
            bind_address: "127.0.0.1:8080".to_owned(),
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            max_page_size: 100,
            default_page_size: 20,
            max_body_bytes: 8_388_608,
            shutdown_timeout_secs: 30,
            http_workers: 0,
            auth_secret: SecretString::from(DEVELOPMENT_SECRET.to_owned()),
            auth_issuer: "interlib".to_owned(),
            auth_audience: "interlib-api".to_owned(),
            auth_leeway_secs: 30,
            auth_public_keys: String::new(),
            auth_jwks_file: None,
            idempotency_ttl_secs: 86_400,
            bulk_max_bytes: 268_435_456,
            topic_poll_ms: 1_000,
            webhooks_enabled: true,
            webhook_poll_ms: 1_000,
            webhook_retry_base_ms: 1_000,
            webhook_max_attempts: 8,
            webhook_timeout_secs: 10,
            webhook_batch_size: 100,
            webhook_allow_private_networks: false,
            matching: crate::matching::engine::Scoring::default(),
            profile: Profile::Development,
            introspection: None,
            graphiql: None,
            field_suggestions: None,
            limits: QueryLimits::default(),
            rate_limit: RateLimitSettings::default(),
            persisted_queries: PersistedSettings::default(),
            database_statement_timeout_secs: 30,
            subscription_poll_ms: 500,
            subscription_recheck_ms: 1_000,
            cors_allowed_origins: String::new(),
        }
    }
}

impl Settings {
    /// Reads the settings: built-in defaults, then the TOML file at `path` (or
    /// `INTERLIB_CONFIG`, or `interlib.toml` if it exists), then `INTERLIB_*` variables.
    ///
    /// # Errors
    /// A file that cannot be parsed, or a value of the wrong type.
    pub fn load(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let path = path.or_else(|| std::env::var_os("INTERLIB_CONFIG").map(PathBuf::from));
        let builder = config::Config::builder();
        let builder = match path {
            Some(path) => builder.add_source(config::File::from(path).required(true)),
            None => builder.add_source(config::File::with_name("interlib").required(false)),
        };
        builder
            .add_source(
                config::Environment::with_prefix("INTERLIB").prefix_separator("_").separator("__").try_parsing(true),
            )
            .build()?
            .try_deserialize::<Self>()
            .context("invalid settings")
            .and_then(|settings| {
                settings.matching.validate().map_err(anyhow::Error::msg)?;
                settings.limits.validate().map_err(anyhow::Error::msg)?;
                settings.rate_limit.validate().map_err(anyhow::Error::msg)?;
                settings.check_auth_secret().map_err(anyhow::Error::msg)?;
                Ok(settings)
            })
    }

    /// Settings for tests and tools: the defaults with another database, a free port,
    /// quieter logs and a short shutdown.
    pub fn for_database(database_url: &str) -> Self {
        Self {
            database_url: SecretString::from(database_url.to_owned()),
            bind_address: "127.0.0.1:0".to_owned(),
            log_level: "warn".to_owned(),
            shutdown_timeout_secs: 5,
            ..Self::default()
        }
    }

    /// Checks the HS256 secret: at least 32 bytes always; in the production profile also not
    /// the built-in development secret or the example file's placeholder (both are in the
    /// public source, so anyone could mint an admin token with them), not of fewer than 12
    /// distinct characters, and not a short pattern repeated (`changeme-changeme-...`).
    ///
    /// # Errors
    /// What is wrong and what to set instead.
    pub fn check_auth_secret(&self) -> Result<(), String> {
        const HOW: &str = "set INTERLIB_AUTH_SECRET (or auth_secret) to at least 32 random bytes, \
                           e.g. the output of `openssl rand -base64 48`";
        let secret = self.auth_secret.expose_secret();
        if secret.len() < 32 {
            return Err(format!("auth_secret is {} bytes long, at least 32 are needed: {HOW}", secret.len()));
        }
        if self.profile != Profile::Production {
            return Ok(());
        }
        if secret == DEVELOPMENT_SECRET {
            return Err(format!(
                "profile = \"production\" refuses the built-in development secret, which anyone can read: {HOW}"
            ));
        }
        if secret == EXAMPLE_SECRET {
            return Err(format!("profile = \"production\" refuses the placeholder of interlib.example.toml: {HOW}"));
        }
        let distinct: std::collections::HashSet<u8> = secret.bytes().collect();
        if distinct.len() < 12 {
            return Err(format!(
                "profile = \"production\" refuses an auth_secret of only {} distinct characters: {HOW}",
                distinct.len()
            ));
        }
        let bytes = secret.as_bytes();
        if let Some(period) = (1..=16).find(|&p| bytes.iter().skip(p).zip(bytes).all(|(a, b)| a == b)) {
            return Err(format!(
                "profile = \"production\" refuses an auth_secret that repeats every {period} characters: {HOW}"
            ));
        }
        Ok(())
    }

    /// Whether introspection is on (explicitly, or by profile).
    pub fn introspection_enabled(&self) -> bool {
        self.introspection.unwrap_or(self.profile == Profile::Development)
    }

    /// Whether GraphiQL is served (explicitly, or by profile).
    pub fn graphiql_enabled(&self) -> bool {
        self.graphiql.unwrap_or(self.profile == Profile::Development)
    }

    /// Whether validation errors suggest field names (explicitly, or by profile).
    pub fn field_suggestions_enabled(&self) -> bool {
        self.field_suggestions.unwrap_or(self.profile == Profile::Development)
    }

    /// Points the settings at another database.
    pub fn set_database_url(&mut self, url: &str) {
        self.database_url = SecretString::from(url.to_owned());
    }

    /// Sets the HS256 secret (tests and tools; servers read it from the settings).
    pub fn set_auth_secret(&mut self, secret: &str) {
        self.auth_secret = SecretString::from(secret.to_owned());
    }

    /// The database URL, for the one place that connects.
    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let path = std::env::temp_dir().join(format!("interlib-empty-{}.toml", std::process::id()));
        std::fs::write(&path, "").expect("file");
        let loaded = Settings::load(Some(path.clone()));
        let _ = std::fs::remove_file(&path);
        let (loaded, default) = (loaded.expect("settings"), Settings::default());
        assert_eq!(loaded.database_url(), default.database_url());
        assert_eq!(
            (loaded.bind_address.as_str(), loaded.webhook_max_attempts, loaded.max_body_bytes, loaded.profile),
            ("127.0.0.1:8080", 8, 8_388_608, Profile::Development)
        );
        assert_eq!((loaded.limits, loaded.rate_limit), (default.limits, default.rate_limit));
    }

    #[test]
    fn tables_fill_in_their_defaults_and_the_profile_sets_the_switches() {
        let path = std::env::temp_dir().join(format!("interlib-settings-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "profile = \"production\"\nauth_secret = \"0f3a9c7e1b5d2f8a4c6e0b9d3f7a1c5e\"\ngraphiql = true\n[limits]\nmax_depth = 7\n[rate_limit]\npoints = 99\n",
        )
        .expect("file");
        let settings = Settings::load(Some(path.clone()));
        let _ = std::fs::remove_file(&path);
        let settings = settings.expect("settings");
        assert_eq!(settings.limits.max_depth, 7);
        assert_eq!(settings.limits.max_aliases, QueryLimits::default().max_aliases);
        assert_eq!(settings.rate_limit.points, 99);
        assert!(!settings.introspection_enabled() && !settings.field_suggestions_enabled());
        assert!(settings.graphiql_enabled(), "an explicit switch beats the profile");
        std::fs::write(&path, "[rate_limit]\npoints = 0\n").expect("file");
        let refused = Settings::load(Some(path.clone()));
        let _ = std::fs::remove_file(&path);
        assert!(refused.is_err(), "a zero budget is refused at start");
    }
}
