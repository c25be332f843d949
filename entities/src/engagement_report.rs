//! A participant's report on their pairing: did they meet, how was it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "engagement_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub pairing_id: i32,
    pub librarian_id: i32,
    pub met: bool,
    /// 1 to 5.
    pub rating: Option<i32>,
    pub comment: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
