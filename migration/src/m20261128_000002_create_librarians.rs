//! Librarians (the participants), with their working languages and interests as child tables
//! so that filters by language or interest use an index on both databases.

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
                    .table("librarians")
                    .col(pk_auto("id"))
                    .col(string_len("full_name", 200))
                    .col(string_len("email", 320))
                    .col(string_len("country_code", 2))
                    .col(string_len_null("institution", 200))
                    .col(string_len("sector", 16))
                    .col(string_len_null("job_title", 200))
                    .col(integer("years_experience").default(0))
                    .col(text_null("bio"))
                    .col(boolean("listed_in_directory").default(false))
                    .col(timestamp_with_time_zone_null("erased_at"))
                    .col(integer("version").default(1))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("librarians", "country_code", "countries", "code", ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("librarians", &["email"], true),
                index("librarians", &["country_code", "id"], false),
                index("librarians", &["full_name", "id"], false),
                index("librarians", &["updated_at", "id"], false),
                index("librarians", &["created_at", "id"], false),
                index("librarians", &["sector", "id"], false),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("librarian_languages")
                    .col(integer("librarian_id"))
                    .col(string_len("language", 2))
                    .primary_key(Index::create().col("librarian_id").col("language"))
                    .foreign_key(&mut fk(
                        "librarian_languages",
                        "librarian_id",
                        "librarians",
                        "id",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("librarian_interests")
                    .col(integer("librarian_id"))
                    .col(string_len("interest", 64))
                    .primary_key(Index::create().col("librarian_id").col("interest"))
                    .foreign_key(&mut fk(
                        "librarian_interests",
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
                index("librarian_languages", &["language", "librarian_id"], false),
                index("librarian_interests", &["interest", "librarian_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["librarian_interests", "librarian_languages", "librarians"]).await
    }
}
