//! Programme rounds and the applications librarians make to them (one per librarian per round).

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{create_indexes, drop_tables, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rounds")
                    .col(pk_auto("id"))
                    .col(string_len("name", 100))
                    .col(string_len("status", 16))
                    .col(timestamp_with_time_zone("applications_open_at"))
                    .col(timestamp_with_time_zone("applications_close_at"))
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("applications")
                    .col(pk_auto("id"))
                    .col(integer("round_id"))
                    .col(integer("librarian_id"))
                    .col(string_len("status", 16))
                    .col(string_len("match_preference", 16))
                    .col(json("preferences"))
                    .col(text_null("goal"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("applications", "round_id", "rounds", "id", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("applications", "librarian_id", "librarians", "id", ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("rounds", &["name"], true),
                index("rounds", &["status"], false),
                index("applications", &["round_id", "librarian_id"], true),
                index("applications", &["librarian_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["applications", "rounds"]).await
    }
}
