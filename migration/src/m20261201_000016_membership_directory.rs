//! What an association's directory (its identity provider, through SCIM) says of a member
//! beyond the profile Interlib keeps: `directory` holds those attributes as JSON (other
//! names, further emails and addresses, phone numbers, ...) and is returned as it was sent;
//! `user_name` is the directory's login name, in lower case, for the lookups identity
//! providers make before each write; `removed_at` marks a member the directory deleted (a
//! deactivation the directory no longer sees), cleared when the member comes back.
//!
//! A partial index finds an association's pending links (`sent` is set only on them), the
//! candidates of a lookup by email beside the login names.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::ConnectionTrait};

use crate::util::{create_indexes, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        manager.alter_table(Table::alter().table("memberships").add_column(text_null("directory")).to_owned()).await?;
        manager
            .alter_table(Table::alter().table("memberships").add_column(string_len_null("user_name", 320)).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table("memberships").add_column(timestamp_with_time_zone_null("removed_at")).to_owned(),
            )
            .await?;
        create_indexes(manager, vec![index("memberships", &["association_id", "user_name"], false)]).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_memberships_association_id_sent \
                 ON memberships (association_id) WHERE sent IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS idx_memberships_association_id_sent").await?;
        manager
            .drop_index(Index::drop().name("idx_memberships_association_id_user_name").table("memberships").to_owned())
            .await?;
        for column in ["removed_at", "user_name", "directory"] {
            manager.alter_table(Table::alter().table("memberships").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
