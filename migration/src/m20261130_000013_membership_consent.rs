//! Consent to a membership: a sync that names someone already in the network (matched by
//! email) links them only once they (or an admin) confirm it. `consent` is `CONFIRMED`,
//! `PENDING` or `DECLINED`; `sent` keeps what the association sent for a link, which is
//! all it sees of that person until they confirm.
//!
//! Links made before this migration were never agreed to by their librarian: they become
//! `PENDING` (the association loses its view of those people until they confirm).
//! Memberships whose sync created the librarian (`provisioned`) are `CONFIRMED`.

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, Statement},
};

use crate::util::{create_indexes, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table("memberships")
                    .add_column(string_len("consent", 16).default("CONFIRMED"))
                    .to_owned(),
            )
            .await?;
        manager.alter_table(Table::alter().table("memberships").add_column(text_null("sent")).to_owned()).await?;
        let backend = manager.get_database_backend();
        manager
            .get_connection()
            .execute_raw(Statement::from_string(
                backend,
                "UPDATE memberships SET consent = 'PENDING' WHERE provisioned = false".to_owned(),
            ))
            .await?;
        create_indexes(manager, vec![index("memberships", &["librarian_id", "consent"], false)]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_memberships_librarian_id_consent").table("memberships").to_owned())
            .await?;
        for column in ["sent", "consent"] {
            manager.alter_table(Table::alter().table("memberships").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
