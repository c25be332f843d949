//! Pairings of a round and their members (two, or three for a group of three).

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
                    .table("pairings")
                    .col(pk_auto("id"))
                    .col(integer("round_id"))
                    .col(string_len("status", 16))
                    .col(string_len("origin", 16))
                    .col(integer("score").default(0))
                    .col(text("explanation"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("pairings", "round_id", "rounds", "id", ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pairing_members")
                    .col(integer("pairing_id"))
                    .col(integer("librarian_id"))
                    .primary_key(Index::create().col("pairing_id").col("librarian_id"))
                    .foreign_key(&mut fk("pairing_members", "pairing_id", "pairings", "id", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk(
                        "pairing_members",
                        "librarian_id",
                        "librarians",
                        "id",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("pairings", &["round_id", "id"], false),
                index("pairings", &["status", "id"], false),
                index("pairing_members", &["librarian_id", "pairing_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["pairing_members", "pairings"]).await
    }
}
