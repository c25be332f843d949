//! One batch of change events for a webhook, and the state of its delivery.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: i32,
    /// `PENDING`, `SUCCEEDED` or `FAILED` (attempts exhausted).
    pub status: String,
    pub first_cursor: i64,
    pub last_cursor: i64,
    pub event_count: i32,
    /// The exact body sent on every attempt.
    pub payload: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A worker's lease on the delivery while it sends it.
    pub locked_until: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
