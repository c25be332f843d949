//! Membership of a librarian in a pairing.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pairing_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pairing_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub librarian_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::pairing::Entity", from = "Column::PairingId", to = "super::pairing::Column::Id")]
    Pairing,
    #[sea_orm(
        belongs_to = "super::librarian::Entity",
        from = "Column::LibrarianId",
        to = "super::librarian::Column::Id"
    )]
    Librarian,
}

impl Related<super::pairing::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Pairing.def()
    }
}

impl Related<super::librarian::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Librarian.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
