//! A URL an association registered to receive its change events.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub association_id: i32,
    pub url: String,
    /// The HMAC-SHA256 key of the signatures (shown once, at registration).
    pub secret: String,
    /// Comma-separated entity types to deliver; none means all.
    pub entity_types: Option<String>,
    pub active: bool,
    /// The last change-log id put into a delivery.
    pub cursor: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
