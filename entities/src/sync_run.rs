//! One membership sync of an association: who ran it, how, and what it did.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub association_id: i32,
    pub actor: String,
    /// `UPSERT` or `FULL_REPLACE`.
    pub mode: String,
    /// `GRAPHQL`, `BULK` (HTTP) or `CLI`.
    pub source: String,
    pub received: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub deactivated: i32,
    pub reactivated: i32,
    pub failed: i32,
    /// The rows refused, as a JSON array of `{index, externalId, field, code, message}`.
    pub user_errors: String,
    /// The caller's idempotency key (cleared when it expires) and the SHA-256 of the input.
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
