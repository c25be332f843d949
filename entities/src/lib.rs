//! SeaORM entities: one module per table, kept close to the tables the migrations create.
//! The GraphQL types are separate (`api/src/graphql/types`), so the API can evolve apart
//! from the storage.

pub mod ambassador;
pub mod application;
pub mod association;
pub mod audit_log;
pub mod certificate;
pub mod change_log;
pub mod change_log_member;
pub mod country;
pub mod discussion_topic;
pub mod engagement_report;
pub mod librarian;
pub mod librarian_interest;
pub mod librarian_language;
pub mod membership;
pub mod pairing;
pub mod pairing_member;
pub mod round;
pub mod sync_run;
pub mod webhook;
pub mod webhook_delivery;
