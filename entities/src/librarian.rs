//! A participant of the network.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "librarians")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub full_name: String,
    pub email: String,
    pub country_code: String,
    pub institution: Option<String>,
    /// One of the sectors (`ACADEMIC`, `PUBLIC`, `SCHOOL`, ...), stored as its GraphQL name.
    pub sector: String,
    pub job_title: Option<String>,
    pub years_experience: i32,
    pub bio: Option<String>,
    pub listed_in_directory: bool,
    pub erased_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, bumped on every update.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::country::Entity", from = "Column::CountryCode", to = "super::country::Column::Code")]
    Country,
}

impl Related<super::country::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Country.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
