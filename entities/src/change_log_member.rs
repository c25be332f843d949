//! Who a change-log entry about a pairing concerns (or, with `partner`, which librarian
//! hears of a partner coming into or leaving their view).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_log_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub change_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub librarian_id: i32,
    /// The member's country at the write, and before it when the write moved them.
    pub country_code: Option<String>,
    pub previous_country_code: Option<String>,
    /// Told to this librarian only, as a partner of the entry's librarian.
    pub partner: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
