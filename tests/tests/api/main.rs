//! End-to-end tests of the Interlib API. Every test starts the real server on a random port
//! against its own fresh database: SQLite by default, PostgreSQL when
//! `INTERLIB_TEST_POSTGRES` is set (see the README).

mod admin;
mod auth;
mod authorization;
mod consent;
mod country_share;
mod docs;
mod edge;
mod errors;
mod failures;
mod feed;
mod filters;
mod fuzz;
mod graphiql;
mod http;
mod introspection;
mod limits;
mod migrations;
mod n_plus_one;
mod nul_bytes;
mod observability;
mod over_http;
mod pagination;
mod privacy;
mod programme_feed;
mod queries;
mod read_path;
mod rounds;
mod schema;
mod scim;
mod seed;
mod subscriptions;
mod sync;
mod webhook_delivery;
mod webhooks;

use interlib::domain::{GlobalId, NodeKind};

/// The global id of a fixture row.
pub fn gid(kind: NodeKind, id: i32) -> String {
    GlobalId::encode(kind, id)
}

/// Values of `field` in each node of a connection or list.
pub fn pluck(list: &serde_json::Value, field: &str) -> Vec<String> {
    let items = list.get("nodes").and_then(|n| n.as_array()).or_else(|| list.as_array()).cloned().unwrap_or_default();
    items
        .iter()
        .map(|item| match &item[field] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}
