//! One admin write (or erasure): who, what, which object, when.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `admin` or `librarian`.
    pub actor_role: String,
    /// The token's subject.
    pub actor_subject: String,
    /// The mutation, e.g. `createAssociation`.
    pub action: String,
    pub object_type: String,
    /// Global id of the object.
    pub object_id: String,
    /// JSON: the input that was applied (never personal data of an erased person).
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
