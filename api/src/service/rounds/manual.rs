//! Pairings fixed by hand: made, dissolved, partners swapped, each scored and explained
//! as the engine would.

use std::collections::{HashMap, HashSet};

use entities::{application, pairing, pairing_member, round};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr,
};
use serde_json::json;

use super::{RoundData, application_ids, lock};
use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::counts::to_i32;
use crate::domain::input::{UserError, UserErrorCode};
use crate::domain::{ApplicationStatus, NodeKind, PairingOrigin, PairingStatus, RoundStatus};
use crate::error::{ApiError, ApiResult};
use crate::matching::engine::{self, Applicant, Problem, Scoring};
use crate::service::countries::CountryTable;
use crate::service::journal::{self, Entry, Operation, programme};
use crate::service::now;
use crate::service::people::{Outcome, refused};

use super::matching::{applicants, partner_pairs};

/// The librarians of a pairing (ids, ascending).
pub(super) async fn members_of<C: ConnectionTrait>(db: &C, pairing_id: i32) -> ApiResult<Vec<i32>> {
    let mut ids: Vec<i32> = pairing_member::Entity::find()
        .filter(pairing_member::Column::PairingId.eq(pairing_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.librarian_id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Validates a group against the hard rules (unless `force`) and scores it. The caller has
/// checked that everyone applied and is free.
async fn score_group<C: ConnectionTrait>(
    db: &C,
    countries: &CountryTable,
    scoring: &Scoring,
    round_id: i32,
    ids: &[i32],
    force: bool,
    field: &str,
) -> ApiResult<Result<(i32, String), Vec<UserError>>> {
    let data = round_data_for(db, countries, round_id, ids).await?;
    let by_id: HashMap<i64, &Applicant> = data.problem.applicants.iter().map(|a| (a.id, a)).collect();
    let past: HashSet<(i64, i64)> = data.problem.past_partners.iter().copied().collect();
    let mut total = 0i64;
    let mut lines = Vec::new();
    let mut broken = Vec::new();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let (Some(pa), Some(pb)) = (by_id.get(&i64::from(*a)), by_id.get(&i64::from(*b))) else { continue };
            let key = (i64::from(*a.min(b)), i64::from(*a.max(b)));
            if past.contains(&key) {
                broken.push("they were partners in an earlier round".to_owned());
            }
            match engine::pair_score(pa, pb, scoring) {
                Some((score, why)) => {
                    total += score;
                    lines.push(why);
                }
                None if pa.country == pb.country => {
                    broken.push(format!("two are from the same country ({})", pa.country))
                }
                None => broken.push("two share no language".to_owned()),
            }
        }
    }
    if !broken.is_empty() && !force {
        return Ok(Err(vec![UserError {
            field: field.to_owned(),
            code: UserErrorCode::NotAllowed,
            message: format!("the hard rules forbid this group: {} (pass force: true to override)", broken.join("; ")),
        }]));
    }
    let mut explanation = format!("Paired by hand. {}", lines.join(". "));
    if !broken.is_empty() {
        explanation.push_str(&format!(". Forced despite: {}", broken.join("; ")));
    }
    Ok(Ok((to_i32(total), explanation)))
}

/// What [`score_group`] needs: the applicants `ids` of the round (any application status)
/// and their past partners.
async fn round_data_for<C: ConnectionTrait>(
    db: &C,
    countries: &CountryTable,
    round_id: i32,
    ids: &[i32],
) -> ApiResult<RoundData> {
    let apps = application::Entity::find()
        .filter(application::Column::RoundId.eq(round_id))
        .filter(application::Column::LibrarianId.is_in(ids.to_vec()))
        .all(db)
        .await?;
    let applicants = applicants(db, countries, &apps).await?;
    let statuses = [PairingStatus::Active, PairingStatus::Completed, PairingStatus::Dissolved];
    let past_partners = partner_pairs(db, round_id, false, &statuses).await?;
    Ok(RoundData { problem: Problem { applicants, past_partners, forbidden: Vec::new() }, pinned: HashSet::new() })
}

/// Checks that each librarian applied to the round (not withdrawn) and is in no live
/// pairing of it other than `except`.
async fn check_free<C: ConnectionTrait>(
    db: &C,
    round_id: i32,
    ids: &[i32],
    except: &[i32],
    field: &str,
) -> ApiResult<Vec<UserError>> {
    let mut errors = Vec::new();
    let apps = application::Entity::find()
        .filter(application::Column::RoundId.eq(round_id))
        .filter(application::Column::LibrarianId.is_in(ids.to_vec()))
        .filter(
            application::Column::Status
                .is_in([ApplicationStatus::Submitted.as_str(), ApplicationStatus::Matched.as_str()]),
        )
        .all(db)
        .await?;
    let busy = pairing_member::Entity::find()
        .inner_join(pairing::Entity)
        .filter(pairing::Column::RoundId.eq(round_id))
        .filter(pairing::Column::Status.ne(PairingStatus::Dissolved.as_str()))
        .filter(pairing_member::Column::LibrarianId.is_in(ids.to_vec()))
        .all(db)
        .await?;
    for id in ids {
        let gid = crate::domain::GlobalId::encode(NodeKind::Librarian, *id);
        if !apps.iter().any(|a| a.librarian_id == *id) {
            errors.push(UserError {
                field: field.into(),
                code: UserErrorCode::NotAllowed,
                message: format!("{gid} has no application to this round"),
            });
        } else if busy.iter().any(|m| m.librarian_id == *id && !except.contains(&m.pairing_id)) {
            errors.push(UserError {
                field: field.into(),
                code: UserErrorCode::NotAllowed,
                message: format!("{gid} is already in a pairing of this round; dissolve it first"),
            });
        }
    }
    Ok(errors)
}

/// Rounds in which pairings may be fixed by hand, and the status a new pairing gets.
const EDITABLE: &[RoundStatus] = &[RoundStatus::Matching, RoundStatus::Active];

fn new_status(round: &round::Model) -> PairingStatus {
    if round.status == RoundStatus::Active.as_str() { PairingStatus::Active } else { PairingStatus::Proposed }
}

/// `pairManually`: a pairing of two or three applicants, validated against the hard rules
/// unless `force`, recorded as `MANUAL` (and kept by later runs of the engine).
///
/// # Errors
/// Database errors; `CONFLICT` unless the round is `MATCHING` or `ACTIVE`.
#[allow(clippy::too_many_arguments)]
pub async fn pair_manually(
    db: &DatabaseConnection,
    viewer: &Viewer,
    countries: &CountryTable,
    scoring: &Scoring,
    round_id: i32,
    mut ids: Vec<i32>,
    force: bool,
) -> Outcome<pairing::Model> {
    ids.sort_unstable();
    ids.dedup();
    if !(2..=3).contains(&ids.len()) {
        return refused("librarianIds", UserErrorCode::Invalid, "a pairing has two or three different librarians");
    }
    let (txn, round) = match lock(db, round_id, Action::PairManually, EDITABLE).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    let errors = check_free(&txn, round_id, &ids, &[], "librarianIds").await?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let (score, explanation) =
        match score_group(&txn, countries, scoring, round_id, &ids, force, "librarianIds").await? {
            Ok(scored) => scored,
            Err(errors) => return Ok(Err(errors)),
        };
    let (model, mut entries) = store_manual(&txn, &round, &ids, score, explanation).await?;
    entries.extend(programme::partners(&[ids.clone()]));
    journal::record(&txn, viewer, entries).await?;
    let details = json!({ "members": ids, "force": force });
    journal::audit(&txn, viewer, Action::PairManually, NodeKind::Pairing, model.id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

async fn store_manual(
    txn: &DatabaseTransaction,
    round: &round::Model,
    ids: &[i32],
    score: i32,
    explanation: String,
) -> ApiResult<(pairing::Model, Vec<Entry>)> {
    let at = now();
    let model = pairing::ActiveModel {
        id: NotSet,
        round_id: Set(round.id),
        status: Set(new_status(round).as_str().to_owned()),
        origin: Set(PairingOrigin::Manual.as_str().to_owned()),
        score: Set(score),
        explanation: Set(explanation),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(txn)
    .await?;
    let members =
        ids.iter().map(|id| pairing_member::ActiveModel { pairing_id: Set(model.id), librarian_id: Set(*id) });
    pairing_member::Entity::insert_many(members).exec_without_returning(txn).await?;
    let mut entries = programme::pairings(txn, &[model.id], Operation::Upsert).await?;
    if new_status(round) == PairingStatus::Active {
        let matched = application_ids(txn, round.id, ApplicationStatus::Submitted, Some(ids)).await?;
        entries.extend(programme::owned(txn, NodeKind::Application, &matched, Operation::Upsert).await?);
        application::Entity::update_many()
            .col_expr(application::Column::Status, Expr::value(ApplicationStatus::Matched.as_str()))
            .filter(application::Column::RoundId.eq(round.id))
            .filter(application::Column::LibrarianId.is_in(ids.to_vec()))
            .exec(txn)
            .await?;
    }
    Ok((model, entries))
}

/// Reads a pairing and locks its round for an edit.
async fn lock_pairing(
    db: &DatabaseConnection,
    pairing_id: i32,
    field: &str,
    action: Action,
) -> ApiResult<Result<(DatabaseTransaction, round::Model, pairing::Model), Vec<UserError>>> {
    let not_found = || {
        Ok(Err(vec![UserError {
            field: field.into(),
            code: UserErrorCode::NotFound,
            message: "no such pairing".into(),
        }]))
    };
    let Some(found) = pairing::Entity::find_by_id(pairing_id).one(db).await? else { return not_found() };
    let (txn, round) = match lock(db, found.round_id, action, EDITABLE).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    // Read again under the lock.
    let Some(model) = pairing::Entity::find_by_id(pairing_id).one(&txn).await? else { return not_found() };
    if model.status == PairingStatus::Dissolved.as_str() || model.status == PairingStatus::Completed.as_str() {
        return Ok(Err(vec![UserError {
            field: field.into(),
            code: UserErrorCode::NotAllowed,
            message: format!("the pairing is {}", model.status),
        }]));
    }
    Ok(Ok((txn, round, model)))
}

async fn dissolve_in(txn: &DatabaseTransaction, model: pairing::Model) -> ApiResult<pairing::Model> {
    let mut active: pairing::ActiveModel = model.into();
    active.status = Set(PairingStatus::Dissolved.as_str().to_owned());
    active.updated_at = Set(now());
    Ok(active.update(txn).await?)
}

/// `dissolvePairing`: the pairing ends (`DISSOLVED`, kept for the record); its members are
/// free to be paired again, but never with each other in this round.
///
/// # Errors
/// Database errors; `CONFLICT` unless the round is `MATCHING` or `ACTIVE`.
pub async fn dissolve(db: &DatabaseConnection, viewer: &Viewer, pairing_id: i32) -> Outcome<pairing::Model> {
    let (txn, round, model) = match lock_pairing(db, pairing_id, "pairingId", Action::DissolvePairing).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    let model = dissolve_in(&txn, model).await?;
    // Members of a dissolved pairing of an active round are matchable again.
    let members = members_of(&txn, pairing_id).await?;
    let freed = application_ids(&txn, round.id, ApplicationStatus::Matched, Some(&members)).await?;
    application::Entity::update_many()
        .col_expr(application::Column::Status, Expr::value(ApplicationStatus::Submitted.as_str()))
        .filter(application::Column::RoundId.eq(round.id))
        .filter(application::Column::LibrarianId.is_in(members))
        .filter(application::Column::Status.eq(ApplicationStatus::Matched.as_str()))
        .exec(&txn)
        .await?;
    let mut entries = programme::pairings(&txn, &[pairing_id], Operation::Upsert).await?;
    entries.extend(programme::owned(&txn, NodeKind::Application, &freed, Operation::Upsert).await?);
    journal::record(&txn, viewer, entries).await?;
    journal::audit(&txn, viewer, Action::DissolvePairing, NodeKind::Pairing, pairing_id, json!({})).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// `swapPartners`: `a` (of the first pairing) and `b` (of the second) change places. Both
/// old pairings are dissolved and two new `MANUAL` pairings take their places, validated
/// against the hard rules unless `force`.
///
/// # Errors
/// Database errors; `CONFLICT` unless the round is `MATCHING` or `ACTIVE`.
#[allow(clippy::too_many_arguments)]
pub async fn swap(
    db: &DatabaseConnection,
    viewer: &Viewer,
    countries: &CountryTable,
    scoring: &Scoring,
    (first_id, a): (i32, i32),
    (second_id, b): (i32, i32),
    force: bool,
) -> Outcome<(pairing::Model, pairing::Model)> {
    if first_id == second_id {
        return refused("secondPairingId", UserErrorCode::Invalid, "swap between two different pairings");
    }
    let (txn, round, first) = match lock_pairing(db, first_id, "firstPairingId", Action::SwapPartners).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    let Some(second) = pairing::Entity::find_by_id(second_id).one(&txn).await? else {
        return refused("secondPairingId", UserErrorCode::NotFound, "no such pairing");
    };
    if second.round_id != round.id {
        return refused("secondPairingId", UserErrorCode::Invalid, "both pairings must be in the same round");
    }
    if second.status == PairingStatus::Dissolved.as_str() || second.status == PairingStatus::Completed.as_str() {
        return refused("secondPairingId", UserErrorCode::NotAllowed, format!("the pairing is {}", second.status));
    }
    let (mut one, mut two) = (members_of(&txn, first_id).await?, members_of(&txn, second_id).await?);
    if !one.contains(&a) {
        return refused("firstLibrarianId", UserErrorCode::Invalid, "this librarian is not in the first pairing");
    }
    if !two.contains(&b) {
        return refused("secondLibrarianId", UserErrorCode::Invalid, "this librarian is not in the second pairing");
    }
    one.retain(|x| *x != a);
    one.push(b);
    two.retain(|x| *x != b);
    two.push(a);
    one.sort_unstable();
    two.sort_unstable();
    let mut scored = Vec::new();
    for (group, field) in [(&one, "firstPairingId"), (&two, "secondPairingId")] {
        match score_group(&txn, countries, scoring, round.id, group, force, field).await? {
            Ok(s) => scored.push(s),
            Err(errors) => return Ok(Err(errors)),
        }
    }
    dissolve_in(&txn, first).await?;
    dissolve_in(&txn, second).await?;
    let mut entries = programme::pairings(&txn, &[first_id, second_id], Operation::Upsert).await?;
    let mut made = Vec::new();
    for (group, (score, explanation)) in [&one, &two].into_iter().zip(scored) {
        let (model, written) = store_manual(&txn, &round, group, score, explanation).await?;
        entries.extend(written);
        made.push(model);
    }
    entries.extend(programme::partners(&[one.clone(), two.clone()]));
    journal::record(&txn, viewer, entries).await?;
    let details = json!({ "swapped": [a, b], "from": [first_id, second_id], "force": force });
    journal::audit(&txn, viewer, Action::SwapPartners, NodeKind::Pairing, made[0].id, details).await?;
    txn.commit().await?;
    let second = made.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no second pairing")))?;
    let first = made.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no first pairing")))?;
    Ok(Ok((first, second)))
}
