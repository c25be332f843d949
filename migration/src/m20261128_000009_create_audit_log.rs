//! The audit log: who changed what and when, for every admin write (and erasures).

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
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(string_len("actor_role", 16))
                    .col(string_len("actor_subject", 128))
                    .col(string_len("action", 64))
                    .col(string_len("object_type", 32))
                    .col(string_len("object_id", 64))
                    .col(text("details"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        create_indexes(manager, vec![index("audit_log", &["object_type", "object_id"], false)]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["audit_log"]).await
    }
}
