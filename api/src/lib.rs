//! Interlib: the GraphQL partner API of an international peer-mentoring network for librarians.
//!
//! `main.rs` only wires the pieces below together; everything is usable from tests.

pub mod auth;
pub mod cli;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod matching;
pub mod metrics;
pub mod ratelimit;
pub mod seed;
pub mod service;
pub mod settings;
pub mod startup;
pub mod telemetry;

/// Makes rustls use the `ring` provider (the one the database driver already links) for
/// every HTTPS client in the process: webhook deliveries, and the test and bench clients.
/// Idempotent; call it before building a `reqwest::Client`.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
