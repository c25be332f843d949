//! Completing a round: pairings completed, certificates issued.

use entities::{certificate, librarian, pairing, pairing_member, round};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use serde_json::json;

use super::{CHUNK, lock, set_status};
use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::{NodeKind, PairingStatus, RoundStatus};
use crate::error::ApiResult;
use crate::service::journal::{self, Entry, Operation, Scope, programme};
use crate::service::now;
use crate::service::people::Outcome;

/// `completeRound`: the round and its active pairings become `COMPLETED`, and every member
/// of those pairings gets a certificate (their name as it is now, the round, the dates).
///
/// # Errors
/// Database errors; `CONFLICT` unless the round is `ACTIVE`.
pub async fn complete(db: &DatabaseConnection, viewer: &Viewer, round_id: i32) -> Outcome<(round::Model, usize)> {
    let (txn, model) = match lock(db, round_id, Action::CompleteRound, &[RoundStatus::Active]).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    let at = now();
    let members: Vec<(pairing_member::Model, Option<librarian::Model>)> = pairing_member::Entity::find()
        .inner_join(pairing::Entity)
        .filter(pairing::Column::RoundId.eq(round_id))
        .filter(pairing::Column::Status.eq(PairingStatus::Active.as_str()))
        .find_also_related(librarian::Entity)
        .all(&txn)
        .await?;
    pairing::Entity::update_many()
        .col_expr(pairing::Column::Status, Expr::value(PairingStatus::Completed.as_str()))
        .col_expr(pairing::Column::UpdatedAt, Expr::value(at))
        .filter(pairing::Column::RoundId.eq(round_id))
        .filter(pairing::Column::Status.eq(PairingStatus::Active.as_str()))
        .exec(&txn)
        .await?;
    let certificates: Vec<certificate::ActiveModel> = members
        .iter()
        .map(|(m, person)| certificate::ActiveModel {
            id: NotSet,
            code: Set(uuid::Uuid::new_v4().to_string()),
            librarian_id: Set(m.librarian_id),
            round_id: Set(round_id),
            pairing_id: Set(m.pairing_id),
            recipient_name: Set(person.as_ref().map(|p| p.full_name.clone()).unwrap_or_default()),
            issued_at: Set(at),
        })
        .collect();
    for chunk in certificates.chunks(CHUNK) {
        certificate::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
    }
    let model = set_status(&txn, model, RoundStatus::Completed).await?;
    let mut completed: Vec<i32> = members.iter().map(|(m, _)| m.pairing_id).collect();
    completed.sort_unstable();
    completed.dedup();
    let issued: Vec<i32> = certificate::Entity::find()
        .select_only()
        .column(certificate::Column::Id)
        // A round completes once: its certificates are the ones just issued.
        .filter(certificate::Column::RoundId.eq(round_id))
        .order_by_asc(certificate::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    let mut entries = vec![Entry::new(NodeKind::Round, round_id, Operation::Upsert, Scope::public())];
    entries.extend(programme::pairings(&txn, &completed, Operation::Upsert).await?);
    entries.extend(programme::owned(&txn, NodeKind::Certificate, &issued, Operation::Upsert).await?);
    journal::record(&txn, viewer, entries).await?;
    let details = json!({ "certificates": certificates.len() });
    journal::audit(&txn, viewer, Action::CompleteRound, NodeKind::Round, round_id, details).await?;
    txn.commit().await?;
    Ok(Ok((model, certificates.len())))
}

/// The certificate with the verification code `code` (in any case, spaces around it
/// ignored); `None` for an unknown or over-long code.
///
/// # Errors
/// Database errors.
pub async fn certificate_by_code(db: &DatabaseConnection, code: &str) -> ApiResult<Option<certificate::Model>> {
    let code = code.trim();
    if code.len() > 64 {
        return Ok(None);
    }
    let code = code.to_ascii_lowercase();
    Ok(certificate::Entity::find().filter(certificate::Column::Code.eq(code)).one(db).await?)
}
