//! The country share of a round: no country may take more than `country_share` percent of
//! a round's places (`NULL`: no cap). When applications close, a country's applications
//! beyond its share are `DEFERRED`, the latest first; `deferral` says why (`COUNTRY_SHARE`
//! or `BY_ADMIN`) and `deferral_note` explains it to the applicant.
//!
//! Rounds created before this migration have no cap (their applications were taken as
//! they came); new rounds get the programme's 20% unless their admin says otherwise.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        manager
            .alter_table(Table::alter().table("rounds").add_column(integer_null("country_share")).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table("applications").add_column(string_len_null("deferral", 16)).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table("applications").add_column(text_null("deferral_note")).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["deferral_note", "deferral"] {
            manager.alter_table(Table::alter().table("applications").drop_column(column).to_owned()).await?;
        }
        manager.alter_table(Table::alter().table("rounds").drop_column("country_share").to_owned()).await
    }
}
