//! A librarian's application to a round, with matching preferences.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub round_id: i32,
    pub librarian_id: i32,
    /// `SUBMITTED`, `WITHDRAWN`, `DEFERRED` or `MATCHED`.
    pub status: String,
    /// What the applicant wants to be matched by: `ANY`, `INTERESTS`, `SECTOR`, `CAREER_STAGE`.
    pub match_preference: String,
    /// `{"languages": [..], "preferredSectors": [..], "interests": [..]}`.
    pub preferences: Json,
    pub goal: Option<String>,
    /// Why a `DEFERRED` application is deferred: `COUNTRY_SHARE` or `BY_ADMIN`.
    pub deferral: Option<String>,
    /// The explanation shown to the applicant, their ambassador and association.
    pub deferral_note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
