//! An ISO 3166-1 country.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "countries")]
pub struct Model {
    /// ISO 3166-1 alpha-2 code, upper case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    /// Continent-level region (`AFRICA`, `AMERICAS`, `ASIA`, `EUROPE`, `OCEANIA`, `ANTARCTICA`).
    pub region: Option<String>,
    pub subregion: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
