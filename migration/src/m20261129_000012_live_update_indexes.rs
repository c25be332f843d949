//! Indexes for live updates: while anyone subscribes, each server looks every
//! `subscription_poll_ms` for the pairings and rounds whose `updated_at` moved.

use sea_orm_migration::prelude::*;

use crate::util::{create_indexes, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes(
            manager,
            vec![index("pairings", &["updated_at"], false), index("rounds", &["updated_at"], false)],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, name) in [("pairings", "idx_pairings_updated_at"), ("rounds", "idx_rounds_updated_at")] {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
