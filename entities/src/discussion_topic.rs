//! A discussion topic sent to a round's pairs from its publish time.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "discussion_topics")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub round_id: i32,
    pub title: String,
    pub body: String,
    pub publish_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// When the change feed announced the topic to non-admins (at or after `publish_at`).
    pub announced_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
