//! Running a round: participants' engagement reports (met or not, a rating, a comment).

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
                    .table("engagement_reports")
                    .col(pk_auto("id"))
                    .col(integer("pairing_id"))
                    .col(integer("librarian_id"))
                    .col(boolean("met"))
                    .col(integer_null("rating"))
                    .col(text_null("comment"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "engagement_reports",
                        "pairing_id",
                        "pairings",
                        "id",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "engagement_reports",
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
                index("engagement_reports", &["pairing_id", "id"], false),
                index("engagement_reports", &["librarian_id"], false),
                index("applications", &["round_id", "status"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_applications_round_id_status").table("applications").to_owned())
            .await?;
        drop_tables(manager, &["engagement_reports"]).await
    }
}
