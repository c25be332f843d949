//! A certificate issued to a member of a completed pairing, verifiable by its public code.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Public verification code (a UUID).
    pub code: String,
    pub librarian_id: i32,
    pub round_id: i32,
    pub pairing_id: i32,
    /// The recipient's name as it was when the certificate was issued.
    pub recipient_name: String,
    pub issued_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
