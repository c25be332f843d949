//! A pairing (two librarians, or three for a group of three) in a round.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pairings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub round_id: i32,
    /// `PROPOSED`, `ACTIVE`, `COMPLETED` or `DISSOLVED`.
    pub status: String,
    /// `ALGORITHM` or `MANUAL`.
    pub origin: String,
    pub score: i32,
    pub explanation: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
