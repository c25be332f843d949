//! An interest tag of a librarian.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "librarian_interests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub librarian_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub interest: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
