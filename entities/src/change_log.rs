//! One entry of the ordered change log.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub entity_type: String,
    pub entity_id: String,
    /// `UPSERT`, `DEACTIVATE` or `ERASE`.
    pub operation: String,
    pub actor: Option<String>,
    pub at: DateTimeUtc,
    /// The entity's primary key (`entity_id` is its global id).
    pub entity_key: i32,
    /// The scope the feed filters on: the librarian the entity belongs to (none for public
    /// programme facts), the association of a membership, the librarian's country at the
    /// write and, when the write moved them, before it, and whether they were listed in the
    /// directory before or after the write.
    pub librarian_id: Option<i32>,
    pub association_id: Option<i32>,
    pub country_code: Option<String>,
    pub previous_country_code: Option<String>,
    pub listed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
