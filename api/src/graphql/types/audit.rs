use std::sync::Arc;

use async_graphql::{ID, Json, Object};
use chrono::{DateTime, Utc};
use entities::audit_log;

pub struct AuditEntry(pub Arc<audit_log::Model>);

impl From<Arc<audit_log::Model>> for AuditEntry {
    fn from(model: Arc<audit_log::Model>) -> Self {
        Self(model)
    }
}

/// One admin write (or erasure): who did what to which object, and when.
#[Object]
impl AuditEntry {
    /// The mutation, e.g. `createAssociation`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// `admin` or `librarian`.
    async fn actor_role(&self) -> &str {
        &self.0.actor_role
    }

    /// The subject (`sub`) of the caller's token.
    async fn actor_subject(&self) -> &str {
        &self.0.actor_subject
    }

    /// The type of the object written, e.g. `Association`.
    async fn object_type(&self) -> &str {
        &self.0.object_type
    }

    /// Global id of the object written.
    async fn object_id(&self) -> ID {
        ID(self.0.object_id.clone())
    }

    /// What was applied (field names and non-personal values).
    async fn details(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.0.details).unwrap_or(serde_json::Value::Null))
    }

    /// When the write happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}
