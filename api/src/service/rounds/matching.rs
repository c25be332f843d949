//! The matching run: the round's applicants and their preferences read, the engine run
//! off the async runtime, proposals stored (or shown, on a dry run), and confirmed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entities::{application, librarian, librarian_interest, librarian_language, pairing, pairing_member, round};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, Statement, TransactionTrait, sea_query::Expr,
};
use serde_json::json;

use super::{CHUNK, application_ids, check_state, lock, pairing_ids, set_status};
use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::counts::to_i32;
use crate::domain::input::{UserError, UserErrorCode};
use crate::domain::{ApplicationStatus, MatchPreference, NodeKind, PairingOrigin, PairingStatus, RoundStatus};
use crate::error::{ApiError, ApiResult};
use crate::matching::engine::{self, Applicant, Preference, Problem, Scoring, UnmatchedReason};
use crate::service::countries::CountryTable;
use crate::service::journal::{self, Entry, Operation, Scope, programme};
use crate::service::now;
use crate::service::people::{Outcome, refused};

/// One proposed (or stored) group of a matching run.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub librarian_ids: Vec<i32>,
    pub score: i32,
    pub explanation: String,
    /// The stored pairing (not on a dry run).
    pub pairing: Option<pairing::Model>,
}

/// An applicant the run could not place.
#[derive(Debug, Clone)]
pub struct Left {
    pub librarian_id: i32,
    pub reason: UnmatchedReason,
}

/// The result of `runMatching`.
#[derive(Debug, Clone)]
pub struct MatchingRun {
    pub round: round::Model,
    pub dry_run: bool,
    pub proposals: Vec<Proposal>,
    pub unmatched: Vec<Left>,
    /// Applicants the engine considered (not counting those in pairings kept from before).
    pub applicants: usize,
    /// Members of the round's pairings made by hand, which the run kept.
    pub kept: usize,
    pub matching_weight: i64,
    pub candidate_edges: usize,
    pub pricing_rounds: usize,
    pub proven_optimal: bool,
    pub engine_millis: u64,
}

/// What the engine needs from the database for one round.
pub struct RoundData {
    pub problem: Problem,
    /// Librarians already in a pairing of the round made by hand (kept by a run).
    pub pinned: HashSet<i32>,
}

fn strings(value: &serde_json::Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(|v| v.as_array())
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn preference(stored: &str) -> Preference {
    match MatchPreference::parse(stored) {
        Some(MatchPreference::Interests) => Preference::Interests,
        Some(MatchPreference::Sector) => Preference::Sector,
        Some(MatchPreference::CareerStage) => Preference::CareerStage,
        Some(MatchPreference::Any) | None => Preference::Any,
    }
}

/// Pairs of librarians (`a < b`) who were together in one pairing of the rounds matching
/// `rounds` (a SQL condition on `p.round_id`), among the applicants of `round_id`; statuses
/// as `statuses`.
pub(super) async fn partner_pairs<C: ConnectionTrait>(
    db: &C,
    round_id: i32,
    same_round: bool,
    statuses: &[PairingStatus],
) -> ApiResult<Vec<(i64, i64)>> {
    let statuses: Vec<String> = statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let op = if same_round { "=" } else { "<>" };
    let sql = format!(
        "SELECT DISTINCT a.librarian_id AS a, b.librarian_id AS b \
         FROM pairing_members a \
         JOIN pairing_members b ON b.pairing_id = a.pairing_id AND a.librarian_id < b.librarian_id \
         JOIN pairings p ON p.id = a.pairing_id \
         JOIN applications x ON x.librarian_id = a.librarian_id AND x.round_id = $1 \
         WHERE p.round_id {op} $1 AND p.status IN ({})",
        statuses.join(", ")
    );
    let backend = db.get_database_backend();
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [round_id.into()])).await?;
    let mut pairs = Vec::with_capacity(rows.len());
    for row in rows {
        let a: i32 = row.try_get("", "a")?;
        let b: i32 = row.try_get("", "b")?;
        pairs.push((i64::from(a), i64::from(b)));
    }
    Ok(pairs)
}

/// The engine's view of the applicants of `apps`: their profiles (country, region,
/// sector, experience) and the application's languages and interests, else the profile's.
pub(super) async fn applicants<C: ConnectionTrait>(
    db: &C,
    countries: &CountryTable,
    apps: &[application::Model],
) -> ApiResult<Vec<Applicant>> {
    let ids: Vec<i32> = apps.iter().map(|a| a.librarian_id).collect();
    let mut people: HashMap<i32, librarian::Model> = HashMap::with_capacity(ids.len());
    let mut languages: HashMap<i32, Vec<String>> = HashMap::new();
    let mut interests: HashMap<i32, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for p in librarian::Entity::find().filter(librarian::Column::Id.is_in(chunk.to_vec())).all(db).await? {
            people.insert(p.id, p);
        }
        let rows =
            librarian_language::Entity::find().filter(librarian_language::Column::LibrarianId.is_in(chunk.to_vec()));
        for l in rows.all(db).await? {
            languages.entry(l.librarian_id).or_default().push(l.language);
        }
        let rows =
            librarian_interest::Entity::find().filter(librarian_interest::Column::LibrarianId.is_in(chunk.to_vec()));
        for t in rows.all(db).await? {
            interests.entry(t.librarian_id).or_default().push(t.interest);
        }
    }
    let applicants = apps
        .iter()
        .filter_map(|app| {
            let person = people.get(&app.librarian_id)?;
            // The application's preferences, else the profile's.
            let mut langs = strings(&app.preferences, "languages");
            if langs.is_empty() {
                langs = languages.get(&app.librarian_id).cloned().unwrap_or_default();
            }
            let mut tags = strings(&app.preferences, "interests");
            if tags.is_empty() {
                tags = interests.get(&app.librarian_id).cloned().unwrap_or_default();
            }
            Some(Applicant {
                id: i64::from(app.librarian_id),
                region: countries.get(&person.country_code).and_then(|c| c.region.clone()),
                country: person.country_code.clone(),
                languages: langs,
                interests: tags,
                sector: Some(person.sector.clone()),
                preferred_sectors: strings(&app.preferences, "preferredSectors"),
                years_experience: Some(person.years_experience),
                preference: preference(&app.match_preference),
            })
        })
        .collect();
    Ok(applicants)
}

/// Reads a round's applicants for the engine: submitted applications not in a pairing
/// made by hand; past partners (any earlier pairing, dissolved or not); pairings of this
/// round an admin dissolved are forbidden.
///
/// # Errors
/// Database errors.
pub async fn round_data<C: ConnectionTrait>(db: &C, countries: &CountryTable, round_id: i32) -> ApiResult<RoundData> {
    let pinned_rows = pairing_member::Entity::find()
        .inner_join(pairing::Entity)
        .filter(pairing::Column::RoundId.eq(round_id))
        .filter(pairing::Column::Origin.eq(PairingOrigin::Manual.as_str()))
        .filter(pairing::Column::Status.ne(PairingStatus::Dissolved.as_str()))
        .all(db)
        .await?;
    let pinned: HashSet<i32> = pinned_rows.iter().map(|m| m.librarian_id).collect();
    let apps = application::Entity::find()
        .filter(application::Column::RoundId.eq(round_id))
        .filter(application::Column::Status.eq(ApplicationStatus::Submitted.as_str()))
        .order_by_asc(application::Column::LibrarianId)
        .all(db)
        .await?;
    let apps: Vec<application::Model> = apps.into_iter().filter(|a| !pinned.contains(&a.librarian_id)).collect();
    let applicants = applicants(db, countries, &apps).await?;
    let past_partners = partner_pairs(
        db,
        round_id,
        false,
        &[PairingStatus::Active, PairingStatus::Completed, PairingStatus::Dissolved],
    )
    .await?;
    let forbidden = partner_pairs(db, round_id, true, &[PairingStatus::Dissolved]).await?;
    Ok(RoundData { problem: Problem { applicants, past_partners, forbidden }, pinned })
}

/// Runs the engine off the async runtime (it is CPU-bound).
async fn solve(problem: Problem, scoring: Scoring) -> ApiResult<(engine::Outcome, u64)> {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let outcome = engine::solve(&problem, &scoring);
        (outcome, u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX))
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the matching engine failed: {e}")))
}

/// Matches the round's applicants. A real run replaces the round's earlier proposals made
/// by the engine and stores the new ones as `PROPOSED`; pairings made by hand are kept
/// (their members are not matched again) and dissolved ones are never proposed again. A
/// dry run only computes.
///
/// # Errors
/// Database errors; `CONFLICT` unless the round is `MATCHING`.
pub async fn run_matching(
    db: &DatabaseConnection,
    viewer: &Viewer,
    countries: &CountryTable,
    scoring: &Scoring,
    round_id: i32,
    dry_run: bool,
) -> Outcome<MatchingRun> {
    let (txn, model) = match open_round(db, round_id, dry_run).await? {
        Ok(opened) => opened,
        Err(errors) => return Ok(Err(errors)),
    };
    let data = round_data(&txn, countries, round_id).await?;
    let applicants = data.problem.applicants.len();
    let (outcome, engine_millis) = solve(data.problem, scoring.clone()).await?;
    let mut proposals: Vec<Proposal> = outcome
        .groups
        .iter()
        .map(|g| Proposal {
            librarian_ids: g.members.iter().map(|m| to_i32(*m)).collect(),
            score: to_i32(g.score),
            explanation: g.explanation.clone(),
            pairing: None,
        })
        .collect();
    if !dry_run {
        store_proposals(&txn, viewer, round_id, &mut proposals).await?;
        let details = json!({
            "proposed": proposals.len(),
            "unmatched": outcome.unmatched.len(),
            "matchingWeight": outcome.matching_weight,
        });
        journal::audit(&txn, viewer, Action::RunMatching, NodeKind::Round, round_id, details).await?;
        txn.commit().await?;
    }
    Ok(Ok(MatchingRun {
        round: model,
        dry_run,
        proposals,
        unmatched: outcome.unmatched.iter().map(|u| Left { librarian_id: to_i32(u.id), reason: u.reason }).collect(),
        applicants,
        kept: data.pinned.len(),
        matching_weight: outcome.matching_weight,
        candidate_edges: outcome.candidate_edges,
        pricing_rounds: outcome.pricing_rounds,
        proven_optimal: outcome.proven_optimal,
        engine_millis,
    }))
}

/// The round to match, in a transaction: for a real run under the round's lock, for a dry
/// run a plain read (it writes nothing and blocks no one).
async fn open_round(
    db: &DatabaseConnection,
    round_id: i32,
    dry_run: bool,
) -> ApiResult<Result<(DatabaseTransaction, round::Model), Vec<UserError>>> {
    if !dry_run {
        return lock(db, round_id, Action::RunMatching, &[RoundStatus::Matching]).await;
    }
    let txn = db.begin().await?;
    let Some(model) = round::Entity::find_by_id(round_id).one(&txn).await? else {
        return refused("roundId", UserErrorCode::NotFound, "no such round");
    };
    check_state(&model, Action::RunMatching, &[RoundStatus::Matching])?;
    Ok(Ok((txn, model)))
}

/// Replaces the engine's earlier proposals of the round with `proposals` (each gets its
/// stored pairing), announcing the withdrawn and the new ones to their members and
/// partners.
async fn store_proposals(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    round_id: i32,
    proposals: &mut [Proposal],
) -> ApiResult<()> {
    let stale: Vec<i32> = pairing::Entity::find()
        .filter(pairing::Column::RoundId.eq(round_id))
        .filter(pairing::Column::Origin.eq(PairingOrigin::Algorithm.as_str()))
        .filter(pairing::Column::Status.eq(PairingStatus::Proposed.as_str()))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    // Withdrawn proposals leave their members' and partners' views.
    let mut entries = programme::pairings(txn, &stale, Operation::Deactivate).await?;
    let mut partners: Vec<Vec<i32>> =
        entries.iter().map(|e| e.scope.members.iter().map(|m| m.librarian_id).collect()).collect();
    for chunk in stale.chunks(CHUNK) {
        pairing_member::Entity::delete_many()
            .filter(pairing_member::Column::PairingId.is_in(chunk.to_vec()))
            .exec(txn)
            .await?;
        pairing::Entity::delete_many().filter(pairing::Column::Id.is_in(chunk.to_vec())).exec(txn).await?;
    }
    let pairings: Vec<pairing::Model> = insert_pairings(txn, round_id, proposals, now()).await?;
    let members: Vec<pairing_member::ActiveModel> = pairings
        .iter()
        .zip(proposals.iter())
        .flat_map(|(p, prop)| {
            prop.librarian_ids
                .iter()
                .map(|id| pairing_member::ActiveModel { pairing_id: Set(p.id), librarian_id: Set(*id) })
        })
        .collect();
    for chunk in members.chunks(CHUNK) {
        pairing_member::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
    }
    for (prop, stored) in proposals.iter_mut().zip(pairings) {
        prop.pairing = Some(stored);
    }
    let made: Vec<i32> = proposals.iter().filter_map(|p| p.pairing.as_ref().map(|p| p.id)).collect();
    entries.extend(programme::pairings(txn, &made, Operation::Upsert).await?);
    partners.extend(proposals.iter().map(|p| p.librarian_ids.clone()));
    entries.extend(programme::partners(&partners));
    journal::record(txn, viewer, entries).await
}

/// Inserts pairings in order and returns them with their ids. Ids come back from a
/// `RETURNING`-free read: the rows just inserted by this transaction, by id.
async fn insert_pairings(
    txn: &DatabaseTransaction,
    round_id: i32,
    proposals: &[Proposal],
    at: DateTime<Utc>,
) -> ApiResult<Vec<pairing::Model>> {
    let before = pairing::Entity::find().order_by_desc(pairing::Column::Id).one(txn).await?.map_or(0, |p| p.id);
    let rows: Vec<pairing::ActiveModel> = proposals
        .iter()
        .map(|p| pairing::ActiveModel {
            id: NotSet,
            round_id: Set(round_id),
            status: Set(PairingStatus::Proposed.as_str().to_owned()),
            origin: Set(PairingOrigin::Algorithm.as_str().to_owned()),
            score: Set(p.score),
            explanation: Set(p.explanation.clone()),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        pairing::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
    }
    let stored = pairing::Entity::find()
        .filter(pairing::Column::Id.gt(before))
        .filter(pairing::Column::RoundId.eq(round_id))
        .order_by_asc(pairing::Column::Id)
        .all(txn)
        .await?;
    if stored.len() != proposals.len() {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "stored {} pairings for {} proposals",
            stored.len(),
            proposals.len()
        )));
    }
    Ok(stored)
}

/// `confirmPairings`: the round becomes `ACTIVE`, its proposals `ACTIVE` pairings and
/// their members' applications `MATCHED`.
///
/// # Errors
/// Database errors; `CONFLICT` unless the round is `MATCHING`.
pub async fn confirm(db: &DatabaseConnection, viewer: &Viewer, round_id: i32) -> Outcome<round::Model> {
    let (txn, model) = match lock(db, round_id, Action::ConfirmPairings, &[RoundStatus::Matching]).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    let at = now();
    let proposed = pairing_ids(&txn, round_id, &[PairingStatus::Proposed]).await?;
    let submitted = application_ids(&txn, round_id, ApplicationStatus::Submitted, None).await?;
    let confirmed = pairing::Entity::update_many()
        .col_expr(pairing::Column::Status, Expr::value(PairingStatus::Active.as_str()))
        .col_expr(pairing::Column::UpdatedAt, Expr::value(at))
        .filter(pairing::Column::RoundId.eq(round_id))
        .filter(pairing::Column::Status.eq(PairingStatus::Proposed.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        "UPDATE applications SET status = 'MATCHED', updated_at = $2 \
         WHERE round_id = $1 AND status = 'SUBMITTED' AND librarian_id IN ( \
           SELECT m.librarian_id FROM pairing_members m JOIN pairings p ON p.id = m.pairing_id \
           WHERE p.round_id = $1 AND p.status = 'ACTIVE')",
        [round_id.into(), at.into()],
    ))
    .await?;
    let model = set_status(&txn, model, RoundStatus::Active).await?;
    let matched: HashSet<i32> =
        application_ids(&txn, round_id, ApplicationStatus::Matched, None).await?.into_iter().collect();
    let now_matched: Vec<i32> = submitted.into_iter().filter(|id| matched.contains(id)).collect();
    let mut entries = vec![Entry::new(NodeKind::Round, round_id, Operation::Upsert, Scope::public())];
    entries.extend(programme::pairings(&txn, &proposed, Operation::Upsert).await?);
    entries.extend(programme::owned(&txn, NodeKind::Application, &now_matched, Operation::Upsert).await?);
    journal::record(&txn, viewer, entries).await?;
    journal::audit(&txn, viewer, Action::ConfirmPairings, NodeKind::Round, round_id, json!({ "confirmed": confirmed }))
        .await?;
    txn.commit().await?;
    Ok(Ok(model))
}
