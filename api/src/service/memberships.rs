//! Changes to one membership outside a sync: its external id or its status (the
//! association or an admin), and the librarian's consent to it (the librarian or an admin).

use entities::{librarian, membership};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::Expr,
};
use serde_json::json;

use crate::auth::{Viewer, policy};
use crate::domain::Action;
use crate::domain::input::{Checks, UserErrorCode};
use crate::domain::{MembershipConsent, MembershipStatus, NodeKind};
use crate::error::{ApiError, ApiResult};
use crate::service::journal::{self, Entry, Operation, Scope};
use crate::service::now;
use crate::service::people::{Outcome, refused, stale};
use crate::service::sync::MAX_EXTERNAL_ID;

/// What to change; `None` leaves it as it is.
#[derive(Debug, Default)]
pub struct MembershipChanges {
    pub external_id: Option<String>,
    pub active: Option<bool>,
}

/// Changes the membership `id`, if `expected_version` (when given) is current.
///
/// # Errors
/// A stale version is `CONFLICT` with the current version; database errors. A membership
/// the caller may not change is `NOT_FOUND` (as if it did not exist); a taken external id or
/// an erased librarian are user errors.
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    changes: MembershipChanges,
    expected_version: Option<i32>,
) -> Outcome<membership::Model> {
    let mut c = Checks::default();
    let external_id = changes.external_id.as_deref().and_then(|v| c.required("externalId", v, MAX_EXTERNAL_ID));
    if !c.ok() {
        return Ok(Err(c.errors));
    }
    policy::manages_memberships(viewer)?;
    let txn = crate::db::begin_write(db).await?;
    let current = membership::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|m| policy::manages_association(viewer, m.association_id));
    let Some(current) = current else {
        return refused("membershipId", UserErrorCode::NotFound, "no such membership");
    };
    if let Some(expected) = expected_version.filter(|v| *v != current.version) {
        return Err(stale("membership", expected, current.version));
    }
    let Some(person) = librarian::Entity::find_by_id(current.librarian_id).one(&txn).await? else {
        return Err(ApiError::Internal(anyhow::anyhow!("membership without librarian")));
    };
    let reactivate = changes.active == Some(true) && current.status != MembershipStatus::Active.as_str();
    if reactivate && person.erased_at.is_some() {
        return refused("active", UserErrorCode::NotAllowed, "this member's librarian erased their data");
    }
    if let Some(ext) = &external_id
        && *ext != current.external_id
        && external_id_taken(&txn, current.association_id, ext).await?
    {
        return refused("externalId", UserErrorCode::Taken, "another member of the association has this externalId");
    }
    let status = next_status(changes.active, &current.status);
    let unchanged = external_id.as_ref().is_none_or(|e| *e == current.external_id) && status.as_str() == current.status;
    if unchanged {
        return Ok(Ok(current));
    }
    let at = now();
    let version = current.version;
    let was_active = current.status == MembershipStatus::Active.as_str();
    let mut model = current.into_active_model();
    if let Some(ext) = external_id {
        model.external_id = Set(ext);
    }
    if status.as_str() != model.status.as_ref() {
        model.deactivated_at = Set((status == MembershipStatus::Deactivated).then_some(at));
        model.status = Set(status.as_str().to_owned());
    }
    model.version = Set(version + 1);
    model.updated_at = Set(at);
    let updated = membership::Entity::update_many()
        .set(model)
        .filter(membership::Column::Id.eq(id))
        .filter(membership::Column::Version.eq(version))
        .exec(&txn)
        .await?;
    let Some(model) = membership::Entity::find_by_id(id).one(&txn).await? else {
        return refused("membershipId", UserErrorCode::NotFound, "no such membership");
    };
    if updated.rows_affected != 1 {
        return Err(stale("membership", expected_version.unwrap_or(version), model.version));
    }
    let operation =
        if was_active && status == MembershipStatus::Deactivated { Operation::Deactivate } else { Operation::Upsert };
    let scope = Scope::membership(&model, &Scope::librarian(&person));
    journal::change(&txn, viewer, NodeKind::Membership, id, operation, scope).await?;
    let details = json!({ "status": model.status });
    journal::audit_admin(&txn, viewer, Action::UpdateMembership, NodeKind::Membership, id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// The status a membership has after a change of `active` (none: the status it has).
fn next_status(active: Option<bool>, current: &str) -> MembershipStatus {
    match active {
        Some(true) => MembershipStatus::Active,
        Some(false) => MembershipStatus::Deactivated,
        None => MembershipStatus::parse(current).unwrap_or(MembershipStatus::Active),
    }
}

/// Whether another member of the association has the external id `external_id`.
async fn external_id_taken(txn: &DatabaseTransaction, association_id: i32, external_id: &str) -> ApiResult<bool> {
    let taken = membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(association_id))
        .filter(membership::Column::ExternalId.eq(external_id))
        .one(txn)
        .await?;
    Ok(taken.is_some())
}

/// What a librarian (or an admin) decides about a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Confirm,
    Decline,
}

/// The librarian confirms or declines the membership `id` an association holds of them
/// (an admin may too). Confirming a pending (or declined) link gives the association its
/// view of the librarian; declining takes it away and keeps it away whatever later syncs
/// send. A membership whose sync created the librarian cannot be declined (the association
/// keeps that record; it or an admin deactivates it).
///
/// # Errors
/// `UNAUTHENTICATED`/`FORBIDDEN` for anyone else (an association cannot confirm for a
/// librarian); a membership of someone else is `NOT_FOUND` for a librarian; database errors.
pub async fn decide(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    decision: Decision,
) -> Outcome<membership::Model> {
    let me = policy::self_or_admin(viewer, "decide on a membership")?;
    let txn = crate::db::begin_write(db).await?;
    let current =
        membership::Entity::find_by_id(id).one(&txn).await?.filter(|m| me.is_none_or(|me| me == m.librarian_id));
    let Some(current) = current else {
        return refused("membershipId", UserErrorCode::NotFound, "no such membership");
    };
    let Some(person) = librarian::Entity::find_by_id(current.librarian_id).one(&txn).await? else {
        return Err(ApiError::Internal(anyhow::anyhow!("membership without librarian")));
    };
    let consent = match decision {
        Decision::Confirm if person.erased_at.is_some() => {
            return refused("membershipId", UserErrorCode::NotAllowed, "this librarian erased their data");
        }
        Decision::Confirm => MembershipConsent::Confirmed,
        Decision::Decline if current.provisioned => {
            return refused(
                "membershipId",
                UserErrorCode::NotAllowed,
                "this membership created the record; the association or an admin deactivates it",
            );
        }
        Decision::Decline => MembershipConsent::Declined,
    };
    if current.consent == consent.as_str() {
        return Ok(Ok(current));
    }
    let at = now();
    membership::Entity::update_many()
        .col_expr(membership::Column::Consent, Expr::value(consent.as_str()))
        .col_expr(membership::Column::Version, Expr::value(current.version + 1))
        .col_expr(membership::Column::UpdatedAt, Expr::value(at))
        .filter(membership::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let Some(model) = membership::Entity::find_by_id(id).one(&txn).await? else {
        return refused("membershipId", UserErrorCode::NotFound, "no such membership");
    };
    let scope = Scope::librarian(&person);
    let was_confirmed = current.consent == MembershipConsent::Confirmed.as_str();
    let mut membership_scope = Scope::membership(&model, &scope);
    if was_confirmed {
        // The ambassadors who saw the confirmed link hear that it left their view.
        membership_scope.country_code.clone_from(&scope.country_code);
    }
    let mut entries = vec![Entry::new(NodeKind::Membership, id, Operation::Upsert, membership_scope)];
    if consent == MembershipConsent::Confirmed {
        // The librarian and what they own come into the association's view (its feed
        // follows them from now).
        entries.push(Entry::new(NodeKind::Librarian, person.id, Operation::Upsert, scope).with_belongings());
    } else if was_confirmed {
        // They leave it: the association hears of each, and drops them.
        let scope = Scope { association_id: Some(model.association_id), ..scope };
        entries.push(Entry::new(NodeKind::Librarian, person.id, Operation::Upsert, scope).with_belongings());
    }
    journal::record(&txn, viewer, entries).await?;
    let action =
        if consent == MembershipConsent::Confirmed { Action::ConfirmMembership } else { Action::DeclineMembership };
    journal::audit_admin(&txn, viewer, action, NodeKind::Membership, id, json!({ "consent": consent.as_str() }))
        .await?;
    txn.commit().await?;
    Ok(Ok(model))
}
