//! Discussion topics published to a round's pairs, and the certificates issued to completers.

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
                    .table("discussion_topics")
                    .col(pk_auto("id"))
                    .col(integer("round_id"))
                    .col(string_len("title", 200))
                    .col(text("body"))
                    .col(timestamp_with_time_zone("publish_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("discussion_topics", "round_id", "rounds", "id", ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("certificates")
                    .col(pk_auto("id"))
                    .col(string_len("code", 36))
                    .col(integer("librarian_id"))
                    .col(integer("round_id"))
                    .col(integer("pairing_id"))
                    .col(string_len("recipient_name", 200))
                    .col(timestamp_with_time_zone("issued_at"))
                    .foreign_key(&mut fk("certificates", "librarian_id", "librarians", "id", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("certificates", "round_id", "rounds", "id", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("certificates", "pairing_id", "pairings", "id", ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("discussion_topics", &["round_id", "publish_at"], false),
                index("certificates", &["code"], true),
                index("certificates", &["round_id", "librarian_id"], true),
                index("certificates", &["librarian_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["certificates", "discussion_topics"]).await
    }
}
