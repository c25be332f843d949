//! Database migrations for Interlib.
//!
//! The same migrations run on SQLite (the embedded default) and PostgreSQL (production):
//! enums are stored as strings, timestamps as UTC, and each migration owns one concern and
//! can be rolled back with `down()`.
//!
//! Codes (countries, languages) are `VARCHAR`, not `CHAR(n)`: PostgreSQL compares a
//! `CHAR` column with a text parameter by casting the column, which cannot use its index.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_countries;
mod m20261128_000002_create_librarians;
mod m20261128_000003_create_associations;
mod m20261128_000004_create_ambassadors;
mod m20261128_000005_create_rounds;
mod m20261128_000006_create_pairings;
mod m20261128_000007_create_topics_and_certificates;
mod m20261128_000008_create_change_log;
mod m20261128_000009_create_audit_log;
mod m20261129_000010_sync_feed_webhooks;
mod m20261129_000011_engagement_reports;
mod m20261129_000012_live_update_indexes;
mod m20261130_000013_membership_consent;
mod m20261130_000014_country_share;
mod m20261130_000015_programme_feed;
mod m20261201_000016_membership_directory;
mod util;

/// Every migration of the schema, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_countries::Migration),
            Box::new(m20261128_000002_create_librarians::Migration),
            Box::new(m20261128_000003_create_associations::Migration),
            Box::new(m20261128_000004_create_ambassadors::Migration),
            Box::new(m20261128_000005_create_rounds::Migration),
            Box::new(m20261128_000006_create_pairings::Migration),
            Box::new(m20261128_000007_create_topics_and_certificates::Migration),
            Box::new(m20261128_000008_create_change_log::Migration),
            Box::new(m20261128_000009_create_audit_log::Migration),
            Box::new(m20261129_000010_sync_feed_webhooks::Migration),
            Box::new(m20261129_000011_engagement_reports::Migration),
            Box::new(m20261129_000012_live_update_indexes::Migration),
            Box::new(m20261130_000013_membership_consent::Migration),
            Box::new(m20261130_000014_country_share::Migration),
            Box::new(m20261130_000015_programme_feed::Migration),
            Box::new(m20261201_000016_membership_directory::Migration),
        ]
    }
}
