//! Running a round: its life cycle, matching, pairings fixed by hand, topics, engagement
//! reports and certificates. Each write is one transaction that locks the round first, so
//! two admins cannot run conflicting steps at once; an out-of-order step is a `CONFLICT`
//! naming the round's state, and changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entities::{
    application, certificate, discussion_topic, engagement_report, librarian, librarian_interest, librarian_language,
    pairing, pairing_member, round,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
    sea_query::Expr,
};
use serde_json::json;

use crate::auth::Viewer;
use crate::domain::input::{Checks, MAX_BIO, MAX_TEXT, UserError, UserErrorCode};
use crate::domain::{ApplicationStatus, MatchPreference, NodeKind, PairingOrigin, PairingStatus, RoundStatus};
use crate::error::{ApiError, ApiResult};
use crate::matching::engine::{self, Applicant, Preference, Problem, Scoring, UnmatchedReason};
use crate::service::countries::CountryTable;
use crate::service::journal::{self, Entry, Operation, Scope, programme};
use crate::service::now;
use crate::service::people::{Outcome, refused};

/// Rows per multi-row INSERT (under either database's parameter limit).
const CHUNK: usize = 1_000;

/// Dates of a new round.
#[derive(Debug, Clone)]
pub struct RoundInput {
    pub name: String,
    pub applications_open_at: DateTime<Utc>,
    pub applications_close_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The most a country may take of the round's places, in percent; `None`: no cap.
    pub country_share: Option<i32>,
}

/// Creates a round in `DRAFT`.
///
/// # Errors
/// Database errors; a blank or taken name or dates out of order are user errors.
pub async fn create(db: &DatabaseConnection, viewer: &Viewer, input: RoundInput) -> Outcome<round::Model> {
    let mut c = Checks::default();
    let name = c.required("name", &input.name, 100);
    let dates = [input.applications_open_at, input.applications_close_at, input.starts_at, input.ends_at];
    if !dates.windows(2).all(|w| w[0] < w[1]) {
        c.fail(
            "applicationsCloseAt",
            UserErrorCode::Invalid,
            "dates must be in order: applicationsOpenAt < applicationsCloseAt < startsAt < endsAt",
        );
    }
    if input.country_share.is_some_and(|s| !(1..=100).contains(&s)) {
        c.fail("countryShare", UserErrorCode::Invalid, "a share is a percentage from 1 to 100, or null for no cap");
    }
    let Some(name) = name.filter(|_| c.ok()) else { return Ok(Err(c.errors)) };
    let txn = crate::db::begin_write(db).await?;
    if round::Entity::find().filter(round::Column::Name.eq(&name)).one(&txn).await?.is_some() {
        return refused("name", UserErrorCode::Taken, "another round has this name");
    }
    let at = now();
    let model = round::ActiveModel {
        id: NotSet,
        name: Set(name),
        status: Set(RoundStatus::Draft.as_str().to_owned()),
        applications_open_at: Set(input.applications_open_at),
        applications_close_at: Set(input.applications_close_at),
        starts_at: Set(input.starts_at),
        ends_at: Set(input.ends_at),
        country_share: Set(input.country_share),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&txn)
    .await?;
    journal::change(&txn, viewer, NodeKind::Round, model.id, Operation::Upsert, Scope::public()).await?;
    journal::audit(&txn, viewer, "createRound", NodeKind::Round, model.id, json!({ "name": model.name })).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// Begins a write transaction on the round: locks its row (a no-op update: a row lock on
/// PostgreSQL; SQLite's write transactions are serial already) and checks its state.
pub(crate) async fn lock(
    db: &DatabaseConnection,
    round_id: i32,
    action: &str,
    allowed: &[RoundStatus],
) -> ApiResult<Result<(DatabaseTransaction, round::Model), Vec<UserError>>> {
    let txn = crate::db::begin_write(db).await?;
    round::Entity::update_many()
        .col_expr(round::Column::UpdatedAt, Expr::col(round::Column::UpdatedAt))
        .filter(round::Column::Id.eq(round_id))
        .exec(&txn)
        .await?;
    let Some(model) = round::Entity::find_by_id(round_id).one(&txn).await? else {
        return Ok(Err(vec![UserError {
            field: "roundId".into(),
            code: UserErrorCode::NotFound,
            message: "no such round".into(),
        }]));
    };
    check_state(&model, action, allowed)?;
    Ok(Ok((txn, model)))
}

/// The `CONFLICT` of a step the round's state does not allow.
fn check_state(model: &round::Model, action: &str, allowed: &[RoundStatus]) -> ApiResult<()> {
    if allowed.iter().any(|s| s.as_str() == model.status) {
        return Ok(());
    }
    let expected: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    Err(ApiError::Conflict(format!(
        "the round is {}; {action} needs a round that is {}",
        model.status,
        expected.join(" or ")
    )))
}

/// The round's pairings in one of `statuses`.
async fn pairing_ids<C: ConnectionTrait>(db: &C, round_id: i32, statuses: &[PairingStatus]) -> ApiResult<Vec<i32>> {
    Ok(pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::RoundId.eq(round_id))
        .filter(pairing::Column::Status.is_in(statuses.iter().map(|s| s.as_str())))
        .order_by_asc(pairing::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

/// The round's applications in `status` of the librarians `among` (all when `None`).
async fn application_ids<C: ConnectionTrait>(
    db: &C,
    round_id: i32,
    status: ApplicationStatus,
    among: Option<&[i32]>,
) -> ApiResult<Vec<i32>> {
    let mut select = application::Entity::find()
        .select_only()
        .column(application::Column::Id)
        .filter(application::Column::RoundId.eq(round_id))
        .filter(application::Column::Status.eq(status.as_str()));
    if let Some(among) = among {
        select = select.filter(application::Column::LibrarianId.is_in(among.to_vec()));
    }
    Ok(select.order_by_asc(application::Column::Id).into_tuple().all(db).await?)
}

async fn set_status(txn: &DatabaseTransaction, model: round::Model, to: RoundStatus) -> ApiResult<round::Model> {
    let mut active: round::ActiveModel = model.into();
    active.status = Set(to.as_str().to_owned());
    active.updated_at = Set(now());
    Ok(active.update(txn).await?)
}

/// A plain state change: `openApplications`, `closeApplications`, `cancelRound`.
///
/// # Errors
/// Database errors; `CONFLICT` when the round is not in a state the step starts from.
pub async fn transition(
    db: &DatabaseConnection,
    viewer: &Viewer,
    round_id: i32,
    action: &str,
    from: &[RoundStatus],
    to: RoundStatus,
) -> Outcome<round::Model> {
    let (txn, model) = match lock(db, round_id, action, from).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    let previous = model.status.clone();
    let model = set_status(&txn, model, to).await?;
    let mut details = json!({ "from": previous, "to": to.as_str() });
    let mut entries = vec![Entry::new(NodeKind::Round, round_id, Operation::Upsert, Scope::public())];
    if to == RoundStatus::Matching {
        // Applications close: each country keeps its share of the places.
        let deferred = crate::service::country_share::apply_at_close(&txn, &model).await?;
        details["deferredByCountryShare"] = json!(deferred.len());
        entries.extend(programme::owned(&txn, NodeKind::Application, &deferred, Operation::Upsert).await?);
    }
    if to == RoundStatus::Cancelled {
        // Pairings of a cancelled round end.
        let ending = pairing_ids(&txn, round_id, &[PairingStatus::Proposed, PairingStatus::Active]).await?;
        pairing::Entity::update_many()
            .col_expr(pairing::Column::Status, Expr::value(PairingStatus::Dissolved.as_str()))
            .col_expr(pairing::Column::UpdatedAt, Expr::value(now()))
            .filter(pairing::Column::RoundId.eq(round_id))
            .filter(pairing::Column::Status.is_in([PairingStatus::Proposed.as_str(), PairingStatus::Active.as_str()]))
            .exec(&txn)
            .await?;
        entries.extend(programme::pairings(&txn, &ending, Operation::Upsert).await?);
    }
    journal::record(&txn, viewer, entries).await?;
    journal::audit(&txn, viewer, action, NodeKind::Round, round_id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

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

/// A matching run as JSON (the CLI's output), with global IDs.
pub fn run_json(run: &MatchingRun) -> serde_json::Value {
    use crate::domain::GlobalId;
    let librarian = |id: i32| GlobalId::encode(NodeKind::Librarian, id);
    json!({
        "round": GlobalId::encode(NodeKind::Round, run.round.id),
        "dryRun": run.dry_run,
        "summary": {
            "applicants": run.applicants,
            "kept": run.kept,
            "groups": run.proposals.len(),
            "groupsOfThree": run.proposals.iter().filter(|p| p.librarian_ids.len() == 3).count(),
            "unmatched": run.unmatched.len(),
            "matchingWeight": run.matching_weight,
            "candidateEdges": run.candidate_edges,
            "pricingRounds": run.pricing_rounds,
            "provenOptimal": run.proven_optimal,
            "engineMillis": run.engine_millis,
        },
        "proposals": run.proposals.iter().map(|p| json!({
            "members": p.librarian_ids.iter().map(|id| librarian(*id)).collect::<Vec<_>>(),
            "score": p.score,
            "explanation": p.explanation,
            "pairing": p.pairing.as_ref().map(|m| GlobalId::encode(NodeKind::Pairing, m.id)),
        })).collect::<Vec<_>>(),
        "unmatched": run.unmatched.iter().map(|u| json!({
            "librarian": librarian(u.librarian_id),
            "reason": u.reason,
            "message": u.reason.describe(),
        })).collect::<Vec<_>>(),
    })
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
async fn partner_pairs<C: ConnectionTrait>(
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
async fn applicants<C: ConnectionTrait>(
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

fn to_i32(id: i64) -> i32 {
    i32::try_from(id).unwrap_or_default()
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
    let (txn, model) = if dry_run {
        let txn = db.begin().await?;
        let Some(model) = round::Entity::find_by_id(round_id).one(&txn).await? else {
            return refused("roundId", UserErrorCode::NotFound, "no such round");
        };
        check_state(&model, "runMatching", &[RoundStatus::Matching])?;
        (txn, model)
    } else {
        match lock(db, round_id, "runMatching", &[RoundStatus::Matching]).await? {
            Ok(locked) => locked,
            Err(errors) => return Ok(Err(errors)),
        }
    };
    let data = round_data(&txn, countries, round_id).await?;
    let applicants = data.problem.applicants.len();
    let (outcome, engine_millis) = solve(data.problem, scoring.clone()).await?;
    let mut proposals: Vec<Proposal> = outcome
        .groups
        .iter()
        .map(|g| Proposal {
            librarian_ids: g.members.iter().map(|m| to_i32(*m)).collect(),
            score: i32::try_from(g.score).unwrap_or(i32::MAX),
            explanation: g.explanation.clone(),
            pairing: None,
        })
        .collect();
    if !dry_run {
        // Replace the earlier proposals of the engine.
        let stale: Vec<i32> = pairing::Entity::find()
            .filter(pairing::Column::RoundId.eq(round_id))
            .filter(pairing::Column::Origin.eq(PairingOrigin::Algorithm.as_str()))
            .filter(pairing::Column::Status.eq(PairingStatus::Proposed.as_str()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        // Withdrawn proposals leave their members' and partners' views.
        let mut entries = programme::pairings(&txn, &stale, Operation::Deactivate).await?;
        let groups: Vec<Vec<i32>> =
            entries.iter().map(|e| e.scope.members.iter().map(|m| m.librarian_id).collect()).collect();
        let mut partners = groups;
        for chunk in stale.chunks(CHUNK) {
            pairing_member::Entity::delete_many()
                .filter(pairing_member::Column::PairingId.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
            pairing::Entity::delete_many().filter(pairing::Column::Id.is_in(chunk.to_vec())).exec(&txn).await?;
        }
        let at = now();
        let pairings: Vec<pairing::Model> = insert_pairings(&txn, round_id, &proposals, at).await?;
        let members: Vec<pairing_member::ActiveModel> = pairings
            .iter()
            .zip(&proposals)
            .flat_map(|(p, prop)| {
                prop.librarian_ids
                    .iter()
                    .map(|id| pairing_member::ActiveModel { pairing_id: Set(p.id), librarian_id: Set(*id) })
            })
            .collect();
        for chunk in members.chunks(CHUNK) {
            pairing_member::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
        }
        for (prop, stored) in proposals.iter_mut().zip(pairings) {
            prop.pairing = Some(stored);
        }
        let made: Vec<i32> = proposals.iter().filter_map(|p| p.pairing.as_ref().map(|p| p.id)).collect();
        entries.extend(programme::pairings(&txn, &made, Operation::Upsert).await?);
        partners.extend(proposals.iter().map(|p| p.librarian_ids.clone()));
        entries.extend(programme::partners(&partners));
        journal::record(&txn, viewer, entries).await?;
        let details = json!({
            "proposed": proposals.len(),
            "unmatched": outcome.unmatched.len(),
            "matchingWeight": outcome.matching_weight,
        });
        journal::audit(&txn, viewer, "runMatching", NodeKind::Round, round_id, details).await?;
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
    let (txn, model) = match lock(db, round_id, "confirmPairings", &[RoundStatus::Matching]).await? {
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
    journal::audit(&txn, viewer, "confirmPairings", NodeKind::Round, round_id, json!({ "confirmed": confirmed }))
        .await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// `completeRound`: the round and its active pairings become `COMPLETED`, and every member
/// of those pairings gets a certificate (their name as it is now, the round, the dates).
///
/// # Errors
/// Database errors; `CONFLICT` unless the round is `ACTIVE`.
pub async fn complete(db: &DatabaseConnection, viewer: &Viewer, round_id: i32) -> Outcome<(round::Model, usize)> {
    let (txn, model) = match lock(db, round_id, "completeRound", &[RoundStatus::Active]).await? {
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
    journal::audit(&txn, viewer, "completeRound", NodeKind::Round, round_id, details).await?;
    txn.commit().await?;
    Ok(Ok((model, certificates.len())))
}

/// The librarians of a pairing (ids, ascending).
async fn members_of<C: ConnectionTrait>(db: &C, pairing_id: i32) -> ApiResult<Vec<i32>> {
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
    Ok(Ok((i32::try_from(total).unwrap_or(i32::MAX), explanation)))
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
    let (txn, round) = match lock(db, round_id, "pairManually", EDITABLE).await? {
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
    journal::audit(&txn, viewer, "pairManually", NodeKind::Pairing, model.id, details).await?;
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
    action: &str,
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
    let (txn, round, model) = match lock_pairing(db, pairing_id, "pairingId", "dissolvePairing").await? {
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
    journal::audit(&txn, viewer, "dissolvePairing", NodeKind::Pairing, pairing_id, json!({})).await?;
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
    let (txn, round, first) = match lock_pairing(db, first_id, "firstPairingId", "swapPartners").await? {
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
    journal::audit(&txn, viewer, "swapPartners", NodeKind::Pairing, made[0].id, details).await?;
    txn.commit().await?;
    let second = made.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no second pairing")))?;
    let first = made.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no first pairing")))?;
    Ok(Ok((first, second)))
}

/// `addTopic`: a discussion topic, published to the round's participants at `publish_at`.
///
/// # Errors
/// Database errors; `CONFLICT` when the round is over.
pub async fn add_topic(
    db: &DatabaseConnection,
    viewer: &Viewer,
    round_id: i32,
    title: &str,
    body: &str,
    publish_at: DateTime<Utc>,
) -> Outcome<discussion_topic::Model> {
    let mut c = Checks::default();
    let title = c.required("title", title, MAX_TEXT);
    let body = c.required("body", body, MAX_BIO * 5);
    let (Some(title), Some(body)) = (title, body) else { return Ok(Err(c.errors)) };
    let open = [RoundStatus::Draft, RoundStatus::Open, RoundStatus::Matching, RoundStatus::Active];
    let (txn, _) = match lock(db, round_id, "addTopic", &open).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    let model = discussion_topic::ActiveModel {
        id: NotSet,
        round_id: Set(round_id),
        title: Set(title),
        body: Set(body),
        publish_at: Set(publish_at),
        created_at: Set(now()),
        announced_at: Set(None),
    }
    .insert(&txn)
    .await?;
    journal::record(&txn, viewer, vec![crate::service::topics::entry(model.id, false)]).await?;
    if model.publish_at <= now() {
        crate::service::topics::announce(&txn, viewer, &[model.id]).await?;
    }
    journal::audit(&txn, viewer, "addTopic", NodeKind::DiscussionTopic, model.id, json!({ "roundId": round_id }))
        .await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// What a participant reports on their pairing.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub met: bool,
    /// 1 to 5.
    pub rating: Option<i32>,
    pub comment: Option<&'a str>,
}

/// `reportEngagement`: a member of an active pairing says whether they met, with an
/// optional rating (1 to 5) and comment.
///
/// # Errors
/// Database errors; `FORBIDDEN` for anyone but a member of the pairing.
pub async fn report_engagement(
    db: &DatabaseConnection,
    viewer: &Viewer,
    librarian_id: i32,
    pairing_id: i32,
    Report { met, rating, comment }: Report<'_>,
) -> Outcome<engagement_report::Model> {
    let mut c = Checks::default();
    if rating.is_some_and(|r| !(1..=5).contains(&r)) {
        c.fail("rating", UserErrorCode::Invalid, "`rating` is 1 to 5");
    }
    let comment = comment.and_then(|v| c.text("comment", v, MAX_BIO));
    if !c.ok() {
        return Ok(Err(c.errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let Some(model) = pairing::Entity::find_by_id(pairing_id).one(&txn).await? else {
        return refused("pairingId", UserErrorCode::NotFound, "no such pairing");
    };
    if !members_of(&txn, pairing_id).await?.contains(&librarian_id) {
        return Err(ApiError::Forbidden("only a member of the pairing may report on it".into()));
    }
    if model.status != PairingStatus::Active.as_str() {
        return refused("pairingId", UserErrorCode::NotAllowed, format!("the pairing is {}, not ACTIVE", model.status));
    }
    let report = engagement_report::ActiveModel {
        id: NotSet,
        pairing_id: Set(pairing_id),
        librarian_id: Set(librarian_id),
        met: Set(met),
        rating: Set(rating),
        comment: Set(comment.filter(|c| !c.is_empty())),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    programme::record_owned(&txn, viewer, NodeKind::EngagementReport, &[report.id]).await?;
    txn.commit().await?;
    Ok(Ok(report))
}
