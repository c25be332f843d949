//! Countries: every ISO 3166-1 entry, keyed by its alpha-2 code, seeded from the `keshvar` crate.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::drop_tables;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("countries")
                    .col(string_len("code", 2).primary_key())
                    .col(string_len("name", 100))
                    .col(string_len_null("region", 16))
                    .col(string_len_null("subregion", 64))
                    .to_owned(),
            )
            .await?;

        let mut insert = Query::insert();
        insert.into_table("countries").columns(["code", "name", "region", "subregion"]);
        for country in keshvar::CountryIterator::new() {
            let region = country.maybe_region().map(|r| r.to_string().to_uppercase());
            let subregion = country.maybe_subregion().map(|s| title_case(&s.to_string()));
            insert.values_panic([
                country.alpha2().to_string().to_uppercase().into(),
                country.iso_short_name().into(),
                region.into(),
                subregion.into(),
            ]);
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["countries"]).await
    }
}

/// `southern-africa` -> `Southern Africa` (keshvar names sub-regions in kebab case).
fn title_case(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| match word {
            "and" | "of" => word.to_owned(),
            _ => {
                let mut chars = word.chars();
                chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
