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
pub mod seed;
pub mod service;
pub mod settings;
pub mod startup;
pub mod telemetry;
