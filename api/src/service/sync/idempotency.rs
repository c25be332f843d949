//! Idempotent retries: a sync's input is hashed, and a retry with the same key and input
//! gets the stored result of the first call.

use std::io::Write;

use chrono::Duration;
use entities::sync_run;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr};
use sha2::{Digest, Sha256};

use super::{Counts, SyncOptions, SyncReport, SyncRequest};
use crate::error::{ApiError, ApiResult};

/// Writes into a SHA-256 digest, so the input is hashed without a second copy of it.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The SHA-256 of what the request asks for, to tell a retry from a different request.
pub(super) fn request_hash(req: &SyncRequest) -> ApiResult<String> {
    let mut writer = HashWriter(Sha256::new());
    let head = (req.association_id, req.mode.as_str(), req.dry_run, &req.unreadable);
    serde_json::to_writer(&mut writer, &head).map_err(|e| ApiError::Internal(e.into()))?;
    serde_json::to_writer(&mut writer, &req.members).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(hex::encode(writer.0.finalize()))
}

/// The stored result of an earlier sync with this idempotency key, if any; `CONFLICT` when
/// that sync had a different input. Expired keys are forgotten first.
pub(super) async fn replay(
    txn: &DatabaseTransaction,
    req: &SyncRequest,
    key: &str,
    hash: &str,
    options: SyncOptions,
    at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Option<SyncReport>> {
    let ttl = Duration::from_std(options.idempotency_ttl).unwrap_or(Duration::days(1));
    if !req.dry_run {
        sync_run::Entity::update_many()
            .col_expr(sync_run::Column::IdempotencyKey, Expr::value(Option::<String>::None))
            .filter(sync_run::Column::AssociationId.eq(req.association_id))
            .filter(sync_run::Column::IdempotencyKey.eq(key))
            .filter(sync_run::Column::StartedAt.lt(at - ttl))
            .exec(txn)
            .await?;
    }
    let Some(run) = sync_run::Entity::find()
        .filter(sync_run::Column::AssociationId.eq(req.association_id))
        .filter(sync_run::Column::IdempotencyKey.eq(key))
        .filter(sync_run::Column::StartedAt.gte(at - ttl))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    if run.request_hash.as_deref() != Some(hash) {
        return Err(ApiError::Conflict(
            "this idempotency key was already used with a different input; use a new key for a new request".into(),
        ));
    }
    Ok(Some(report_of(run, true)))
}

/// The report a stored run gives.
pub fn report_of(run: sync_run::Model, replayed: bool) -> SyncReport {
    let n = |v: i32| usize::try_from(v).unwrap_or(0);
    SyncReport {
        counts: Counts {
            received: n(run.received),
            created: n(run.created),
            updated: n(run.updated),
            unchanged: n(run.unchanged),
            deactivated: n(run.deactivated),
            reactivated: n(run.reactivated),
            failed: n(run.failed),
        },
        user_errors: serde_json::from_str(&run.user_errors).unwrap_or_default(),
        run: Some(run),
        dry_run: false,
        replayed,
    }
}
