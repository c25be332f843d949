//! The change log: an ordered record of every write, which partners follow as a feed.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{create_indexes, drop_tables, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("change_log")
                    .col(big_pk_auto("id"))
                    .col(string_len("entity_type", 32))
                    .col(string_len("entity_id", 64))
                    .col(string_len("operation", 16))
                    .col(string_len_null("actor", 128))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("change_log", &["entity_type", "id"], false),
                index("change_log", &["entity_type", "entity_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["change_log"]).await
    }
}
