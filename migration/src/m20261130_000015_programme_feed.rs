//! The change feed follows the whole programme (applications, pairings, rounds, topics,
//! engagement reports, certificates).
//!
//! `change_log_members` says, for an entry about a pairing, who its members were at the
//! write (their country then, and before it when the write moved them), so that their
//! ambassadors, associations and the members themselves follow it; `partner` rows tell a
//! librarian only, of a partner who came into or left their view. `discussion_topics.
//! announced_at` is when the feed announced the topic to non-admins (at its publish time).

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
                    .table("change_log_members")
                    .col(big_integer("change_id"))
                    .col(integer("librarian_id"))
                    .col(string_len_null("country_code", 2))
                    .col(string_len_null("previous_country_code", 2))
                    .col(boolean("partner"))
                    .primary_key(Index::create().col("change_id").col("librarian_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_change_log_members_change_id")
                            .from("change_log_members", "change_id")
                            .to("change_log", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("change_log_members", &["librarian_id", "change_id"], false),
                index("change_log_members", &["country_code", "change_id"], false),
                index("change_log_members", &["previous_country_code", "change_id"], false),
            ],
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("discussion_topics")
                    .add_column(timestamp_with_time_zone_null("announced_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("discussion_topics").drop_column("announced_at").to_owned()).await?;
        drop_tables(manager, &["change_log_members"]).await
    }
}
