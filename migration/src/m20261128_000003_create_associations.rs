//! Library associations (partners) and their memberships, keyed by the association's own
//! member id (`external_id`). Memberships are deactivated, never deleted.

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
                    .table("associations")
                    .col(pk_auto("id"))
                    .col(string_len("name", 200))
                    .col(string_len("country_code", 2))
                    .col(string_len_null("website", 500))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "associations",
                        "country_code",
                        "countries",
                        "code",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("memberships")
                    .col(pk_auto("id"))
                    .col(integer("association_id"))
                    .col(integer("librarian_id"))
                    .col(string_len("external_id", 128))
                    .col(string_len("status", 16))
                    .col(timestamp_with_time_zone_null("deactivated_at"))
                    .col(integer("version").default(1))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "memberships",
                        "association_id",
                        "associations",
                        "id",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk("memberships", "librarian_id", "librarians", "id", ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("associations", &["name"], true),
                index("associations", &["country_code"], false),
                index("memberships", &["association_id", "external_id"], true),
                index("memberships", &["association_id", "librarian_id"], true),
                index("memberships", &["librarian_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["memberships", "associations"]).await
    }
}
