//! Applications to a round: a librarian applies for themself, or an admin or the member's
//! association on their behalf, while the round is `OPEN`; one application per librarian
//! per round (withdrawing and applying again reuses it).

use entities::{application, librarian, librarian_interest, librarian_language, membership, round};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter,
};
use serde_json::json;

use crate::auth::{Viewer, policy};
use crate::domain::Action;
use crate::domain::input::{Checks, MAX_BIO, UserErrorCode};
use crate::domain::{ApplicationStatus, MatchPreference, NodeKind, RoundStatus, Sector};
use crate::error::{ApiError, ApiResult};
use crate::service::journal;
use crate::service::now;
use crate::service::people::{Outcome, refused};

/// Matching preferences of an application. Languages and interests default to the
/// applicant's profile.
#[derive(Debug, Clone, Default)]
pub struct Preferences {
    pub languages: Option<Vec<String>>,
    pub preferred_sectors: Vec<Sector>,
    pub interests: Option<Vec<String>>,
    pub goal: Option<String>,
    pub match_preference: Option<MatchPreference>,
}

/// Whether `viewer` may apply or withdraw for `librarian_id`: the librarian themself, an
/// admin, or an association the librarian is an active, confirmed member of.
async fn may_act_for(db: &DatabaseConnection, viewer: &Viewer, librarian_id: i32) -> ApiResult<()> {
    let policy::ActFor::IfMemberOf(association_id) = policy::act_for(viewer, librarian_id)? else { return Ok(()) };
    let membership = membership::Entity::find()
        .filter(membership::Column::AssociationId.eq(association_id))
        .filter(membership::Column::LibrarianId.eq(librarian_id))
        .one(db)
        .await?;
    policy::act_for_member(membership.as_ref())
}

/// `applyToRound`.
///
/// # Errors
/// Database errors; `FORBIDDEN` for someone who may not apply for this librarian;
/// `CONFLICT` unless the round is `OPEN`.
pub async fn apply(
    db: &DatabaseConnection,
    viewer: &Viewer,
    round_id: i32,
    librarian_id: i32,
    prefs: Preferences,
) -> Outcome<application::Model> {
    may_act_for(db, viewer, librarian_id).await?;
    let mut c = Checks::default();
    let languages = prefs.languages.as_deref().and_then(|v| c.languages("languages", v));
    let interests = prefs.interests.as_deref().and_then(|v| c.interests("interests", v));
    let goal = prefs.goal.as_deref().and_then(|v| c.text("goal", v, MAX_BIO));
    let mut sectors: Vec<&str> = prefs.preferred_sectors.iter().map(|s| s.as_str()).collect();
    sectors.sort_unstable();
    sectors.dedup();
    if !c.ok() {
        return Ok(Err(c.errors));
    }
    let txn = crate::db::begin_write(db).await?;
    if let Err(errors) = may_apply(&txn, round_id, librarian_id).await? {
        return Ok(Err(errors));
    }
    let (languages, interests) = match (languages, interests) {
        (Some(l), Some(i)) => (l, i),
        (languages, interests) => {
            let (own_languages, own_interests) = profile_tags(&txn, librarian_id).await?;
            (languages.unwrap_or(own_languages), interests.unwrap_or(own_interests))
        }
    };
    let preferences = json!({ "languages": languages, "preferredSectors": sectors, "interests": interests });
    let match_preference = prefs.match_preference.unwrap_or(MatchPreference::Any).as_str().to_owned();
    let at = now();
    let existing = application::Entity::find()
        .filter(application::Column::RoundId.eq(round_id))
        .filter(application::Column::LibrarianId.eq(librarian_id))
        .one(&txn)
        .await?;
    let first_time = existing.is_none();
    if existing.as_ref().is_some_and(|app| app.status != ApplicationStatus::Withdrawn.as_str()) {
        return refused("roundId", UserErrorCode::Duplicate, "this librarian has already applied to this round");
    }
    // A new application after a withdrawal takes the withdrawn one's row, and its place in
    // the queue from now (the country share keeps the earliest applications).
    let mut active = match existing {
        Some(app) => app.into(),
        None => application::ActiveModel {
            id: NotSet,
            round_id: Set(round_id),
            librarian_id: Set(librarian_id),
            ..Default::default()
        },
    };
    active.status = Set(ApplicationStatus::Submitted.as_str().to_owned());
    active.preferences = Set(preferences);
    active.match_preference = Set(match_preference);
    active.goal = Set(goal.filter(|g| !g.is_empty()));
    active.deferral = Set(None);
    active.deferral_note = Set(None);
    active.created_at = Set(at);
    active.updated_at = Set(at);
    let model = if first_time { active.insert(&txn).await? } else { active.update(&txn).await? };
    crate::service::journal::programme::record_owned(&txn, viewer, NodeKind::Application, &[model.id]).await?;
    if first_time {
        // The round's topics published so far come into the applicant's view.
        crate::service::topics::record_for_applicant(&txn, viewer, round_id, librarian_id).await?;
    }
    journal::audit(&txn, viewer, Action::ApplyToRound, NodeKind::Application, model.id, json!({ "roundId": round_id }))
        .await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// `withdrawApplication`, while the round is `OPEN`.
///
/// # Errors
/// Database errors; `UNAUTHENTICATED` without a token; `CONFLICT` unless the round is
/// `OPEN`. An application the caller may not act for is a `NOT_FOUND` user error.
pub async fn withdraw(db: &DatabaseConnection, viewer: &Viewer, application_id: i32) -> Outcome<application::Model> {
    policy::signed_in(viewer, "this needs a token")?;
    // An application the caller may not act for is answered as one that does not exist,
    // so that ids tell nothing.
    let app = application::Entity::find_by_id(application_id).one(db).await?;
    let Some(app) = app else {
        return refused("applicationId", UserErrorCode::NotFound, "no such application");
    };
    if may_act_for(db, viewer, app.librarian_id).await.is_err() {
        return refused("applicationId", UserErrorCode::NotFound, "no such application");
    }
    let txn = crate::db::begin_write(db).await?;
    let round = round::Entity::find_by_id(app.round_id).one(&txn).await?;
    if let Some(round) = round.filter(|r| r.status != RoundStatus::Open.as_str()) {
        return Err(ApiError::Conflict(format!(
            "the round is {}; {} needs a round that is OPEN",
            round.status,
            Action::WithdrawApplication.doing()
        )));
    }
    let Some(app) = application::Entity::find_by_id(application_id).one(&txn).await? else {
        return refused("applicationId", UserErrorCode::NotFound, "no such application");
    };
    if app.status == ApplicationStatus::Withdrawn.as_str() {
        return Ok(Ok(app));
    }
    let mut active: application::ActiveModel = app.into();
    active.status = Set(ApplicationStatus::Withdrawn.as_str().to_owned());
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    crate::service::journal::programme::record_owned(&txn, viewer, NodeKind::Application, &[model.id]).await?;
    journal::audit(&txn, viewer, Action::WithdrawApplication, NodeKind::Application, model.id, json!({})).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// A librarian's own languages and interests, the defaults of an application.
async fn profile_tags(txn: &DatabaseTransaction, librarian_id: i32) -> ApiResult<(Vec<String>, Vec<String>)> {
    let languages = librarian_language::Entity::find()
        .filter(librarian_language::Column::LibrarianId.eq(librarian_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| l.language)
        .collect();
    let interests = librarian_interest::Entity::find()
        .filter(librarian_interest::Column::LibrarianId.eq(librarian_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|t| t.interest)
        .collect();
    Ok((languages, interests))
}

/// Whether `librarian_id` may apply to `round_id` now: the round exists and is `OPEN`, the
/// librarian exists and was not erased.
async fn may_apply(txn: &DatabaseTransaction, round_id: i32, librarian_id: i32) -> Outcome<()> {
    let Some(round) = round::Entity::find_by_id(round_id).one(txn).await? else {
        return refused("roundId", UserErrorCode::NotFound, "no such round");
    };
    if round.status != RoundStatus::Open.as_str() {
        return Err(ApiError::Conflict(format!(
            "the round is {}; {} needs a round that is OPEN",
            round.status,
            Action::ApplyToRound.doing()
        )));
    }
    let Some(person) = librarian::Entity::find_by_id(librarian_id).one(txn).await? else {
        return refused("librarianId", UserErrorCode::NotFound, "no such librarian");
    };
    if person.erased_at.is_some() {
        return refused("librarianId", UserErrorCode::NotAllowed, "this librarian was erased");
    }
    Ok(Ok(()))
}
