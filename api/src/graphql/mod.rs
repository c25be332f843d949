//! The GraphQL schema: root query, object types, DataLoaders and connection helpers.

pub mod cache;
pub mod connection;
pub mod consent;
pub mod context;
pub mod document;
pub mod guard;
pub mod input_text;
pub mod loaders;
pub mod meter;
pub mod mutation;
pub mod names;
pub mod nested;
pub mod node;
pub mod prefetch;
pub mod query;
pub mod relation;
pub mod rounds;
pub mod schema;
pub mod serial;
pub mod subscription;
pub mod types;
pub mod windowed;

pub use schema::{AppSchema, SchemaOptions, build_schema};
