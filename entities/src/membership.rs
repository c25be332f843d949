//! A librarian's membership of an association, keyed by the association's own member id.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub association_id: i32,
    pub librarian_id: i32,
    pub external_id: String,
    /// `ACTIVE` or `DEACTIVATED` (a tombstone: memberships are never deleted).
    pub status: String,
    pub deactivated_at: Option<DateTimeUtc>,
    pub version: i32,
    /// Whether this membership created its librarian (the association's sync then keeps
    /// their profile; a librarian who joined otherwise keeps their own).
    pub provisioned: bool,
    /// `CONFIRMED`, `PENDING` (a link to someone already in the network, until they or an
    /// admin confirm it) or `DECLINED`. Only a confirmed membership gives the association
    /// a view of its librarian.
    pub consent: String,
    /// What the association sent for a link (JSON of the member row), the only view it
    /// has of the person until they confirm; `None` for members it created.
    #[sea_orm(column_type = "Text", nullable)]
    pub sent: Option<String>,
    /// What the association's directory (SCIM) says of the member beyond the profile
    /// Interlib keeps: a JSON object of those attributes, returned as it was sent.
    #[sea_orm(column_type = "Text", nullable)]
    pub directory: Option<String>,
    /// The directory's login name (SCIM `userName`) in lower case, when it sent one.
    pub user_name: Option<String>,
    /// When the directory deleted the member (SCIM `DELETE`): a deactivation it no longer
    /// sees; cleared when the member is reactivated.
    pub removed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
