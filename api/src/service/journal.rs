//! What every write leaves behind, in the write's own transaction: an entry in the change
//! log (which partners follow) and, for admin writes and erasures, an audit entry.

use entities::{audit_log, change_log};
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::auth::Viewer;
use crate::domain::{GlobalId, NodeKind};
use crate::error::ApiResult;
use crate::service::now;

/// The operation a change-log entry records.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    Upsert,
    Deactivate,
    Erase,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Upsert => "UPSERT",
            Self::Deactivate => "DEACTIVATE",
            Self::Erase => "ERASE",
        }
    }
}

fn actor(viewer: &Viewer) -> String {
    viewer.subject().unwrap_or("anonymous").chars().take(128).collect()
}

/// Appends `operation` on the object to the change log.
///
/// # Errors
/// Database errors.
pub async fn change<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    kind: NodeKind,
    key: i32,
    operation: Operation,
) -> ApiResult<()> {
    change_log::Entity::insert(change_log::ActiveModel {
        id: NotSet,
        entity_type: Set(kind.name().to_owned()),
        entity_id: Set(GlobalId::encode(kind, key)),
        operation: Set(operation.as_str().to_owned()),
        actor: Set(Some(actor(viewer))),
        at: Set(now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Records who did `action` to the object, with `details` (the applied input).
///
/// # Errors
/// Database errors.
pub async fn audit<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    action: &str,
    kind: NodeKind,
    key: i32,
    details: serde_json::Value,
) -> ApiResult<()> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        actor_role: Set(format!("{:?}", viewer.role()).to_lowercase()),
        actor_subject: Set(actor(viewer)),
        action: Set(action.to_owned()),
        object_type: Set(kind.name().to_owned()),
        object_id: Set(GlobalId::encode(kind, key)),
        details: Set(details.to_string()),
        at: Set(now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}
