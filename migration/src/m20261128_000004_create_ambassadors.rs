//! Country ambassadors: a librarian appointed for a country, for a term.

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
                    .table("ambassadors")
                    .col(pk_auto("id"))
                    .col(integer("librarian_id"))
                    .col(string_len("country_code", 2))
                    .col(timestamp_with_time_zone("term_from"))
                    .col(timestamp_with_time_zone_null("term_until"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("ambassadors", "librarian_id", "librarians", "id", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk(
                        "ambassadors",
                        "country_code",
                        "countries",
                        "code",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index("ambassadors", &["country_code", "id"], false), index("ambassadors", &["librarian_id"], false)],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["ambassadors"]).await
    }
}
