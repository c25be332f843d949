//! The country share of a round: no country takes more than a fixed share of a round's
//! places (20% by default, set per round, or no cap).
//!
//! **How the share is counted.** When applications close, the round's places are its
//! submitted applications at that moment (`N`). A country keeps
//! `places = max(1, floor(N × share / 100))` of its applications, the earliest first
//! (by the time of application, then by id); the rest are `DEFERRED` with the reason
//! `COUNTRY_SHARE` and a note that says why, and the matching leaves them out. The share is
//! of the applications that closed the round, so a deferred country's kept applicants can
//! make up a slightly larger part of the smaller round that is matched (with 40 of 100 at
//! 20%, 20 are kept: 20% of the applicants, 25% of the 80 matched); counting on the kept
//! round instead would defer everyone when fewer than five countries apply. Every country
//! keeps at least one place.
//!
//! Before matching, an admin can take a deferred applicant back in (`readmitApplication`)
//! or defer one by hand (`deferApplication`, reason `BY_ADMIN`).

use std::collections::HashMap;

use entities::{application, round};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, Statement,
};
use serde_json::json;

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::input::{Checks, MAX_BIO, UserErrorCode};
use crate::domain::{ApplicationStatus, NodeKind, RoundStatus};
use crate::error::ApiResult;
use crate::service::journal;
use crate::service::now;
use crate::service::people::{Outcome, refused};
use crate::service::rounds::locking::lock;

/// The share a new round gets unless its admin says otherwise, in percent.
pub const DEFAULT_COUNTRY_SHARE: i32 = 20;

/// Why an application is deferred, as stored.
pub const BY_COUNTRY_SHARE: &str = "COUNTRY_SHARE";
pub const BY_ADMIN: &str = "BY_ADMIN";

/// The places each country keeps when `submitted` applications close a round.
pub fn places(submitted: usize, share: i32) -> usize {
    let share = usize::try_from(share.clamp(0, 100)).unwrap_or(0);
    (submitted.saturating_mul(share) / 100).max(1)
}

/// A country's applications beyond its share, given every submitted application of the
/// round in order of application as `(application id, country)`: the ids to defer, each
/// with the note that tells the applicant why.
pub fn beyond_share(queue: &[(i32, String)], share: i32) -> Vec<(i32, String)> {
    let keep = places(queue.len(), share);
    let mut per_country: HashMap<&str, usize> = HashMap::new();
    for (_, country) in queue {
        *per_country.entry(country.as_str()).or_default() += 1;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut deferred = Vec::new();
    for (id, country) in queue {
        let position = seen.entry(country.as_str()).or_default();
        *position += 1;
        if *position > keep {
            let total = per_country[country.as_str()];
            deferred.push((
                *id,
                format!(
                    "Deferred to a later round: no country takes more than {share}% of a round's places. {country} \
                     had {total} of the {} applications when they closed, so it keeps {keep} places, for the \
                     earliest applications; please apply again next round.",
                    queue.len()
                ),
            ));
        }
    }
    deferred
}

/// Defers the applications beyond each country's share as applications close (inside the
/// round's transaction). Returns the deferred applications.
///
/// # Errors
/// Database errors.
pub async fn apply_at_close(txn: &DatabaseTransaction, round: &round::Model) -> ApiResult<Vec<i32>> {
    let Some(share) = round.country_share else { return Ok(Vec::new()) };
    let backend = txn.get_database_backend();
    let found = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT a.id, l.country_code FROM applications a JOIN librarians l ON l.id = a.librarian_id \
             WHERE a.round_id = $1 AND a.status = 'SUBMITTED' ORDER BY a.created_at, a.id",
            [round.id.into()],
        ))
        .await?;
    let mut rows = Vec::with_capacity(found.len());
    for row in found {
        rows.push((row.try_get::<i32>("", "id")?, row.try_get::<String>("", "country_code")?));
    }
    let deferred = beyond_share(&rows, share);
    // One statement per country (its applicants share the note), in chunks of ids.
    let mut by_note: std::collections::BTreeMap<&str, Vec<i32>> = std::collections::BTreeMap::new();
    for (id, note) in &deferred {
        by_note.entry(note.as_str()).or_default().push(*id);
    }
    let at = now();
    for (note, ids) in by_note {
        for chunk in ids.chunks(1_000) {
            application::Entity::update_many()
                .col_expr(application::Column::Status, ApplicationStatus::Deferred.as_str().into())
                .col_expr(application::Column::Deferral, BY_COUNTRY_SHARE.into())
                .col_expr(application::Column::DeferralNote, note.into())
                .col_expr(application::Column::UpdatedAt, at.into())
                .filter(application::Column::Id.is_in(chunk.to_vec()))
                .exec(txn)
                .await?;
        }
    }
    let mut ids: Vec<i32> = deferred.into_iter().map(|(id, _)| id).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// `setCountryShare`: the round's share in percent (1 to 100), or `None` for no cap, while
/// the round is `DRAFT` or `OPEN`.
///
/// # Errors
/// Database errors; `CONFLICT` when applications have closed.
pub async fn set_share(
    db: &DatabaseConnection,
    viewer: &Viewer,
    round_id: i32,
    share: Option<i32>,
) -> Outcome<round::Model> {
    if share.is_some_and(|s| !(1..=100).contains(&s)) {
        return refused(
            "countryShare",
            UserErrorCode::Invalid,
            "a share is a percentage from 1 to 100, or null for no cap",
        );
    }
    let (txn, model) =
        match lock(db, round_id, Action::SetCountryShare, &[RoundStatus::Draft, RoundStatus::Open]).await? {
            Ok(locked) => locked,
            Err(errors) => return Ok(Err(errors)),
        };
    let previous = model.country_share;
    let mut active: round::ActiveModel = model.into();
    active.country_share = Set(share);
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    let details = json!({ "from": previous, "to": share });
    journal::change(&txn, viewer, NodeKind::Round, round_id, journal::Operation::Upsert, journal::Scope::public())
        .await?;
    journal::audit(&txn, viewer, Action::SetCountryShare, NodeKind::Round, round_id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// Locks the round of an application in `MATCHING` and returns the application, or the
/// user error of an unknown one.
async fn locked_application(
    db: &DatabaseConnection,
    application_id: i32,
    action: Action,
) -> ApiResult<Result<(DatabaseTransaction, application::Model), Vec<crate::domain::input::UserError>>> {
    let Some(found) = application::Entity::find_by_id(application_id).one(db).await? else {
        return refused("applicationId", UserErrorCode::NotFound, "no such application");
    };
    let (txn, _) = match lock(db, found.round_id, action, &[RoundStatus::Matching]).await? {
        Ok(locked) => locked,
        Err(errors) => return Ok(Err(errors)),
    };
    // Read again under the round's lock.
    let Some(app) = application::Entity::find_by_id(application_id).one(&txn).await? else {
        return refused("applicationId", UserErrorCode::NotFound, "no such application");
    };
    Ok(Ok((txn, app)))
}

/// `deferApplication`: an admin defers a submitted application by hand before matching,
/// with a note for the applicant. Someone already in one of the round's pairings must be
/// taken out of it first.
///
/// # Errors
/// Database errors; `CONFLICT` when the round is not `MATCHING`.
pub async fn defer(
    db: &DatabaseConnection,
    viewer: &Viewer,
    application_id: i32,
    note: Option<String>,
) -> Outcome<application::Model> {
    let mut c = Checks::default();
    let note = note.as_deref().and_then(|n| c.text("note", n, MAX_BIO));
    if !c.ok() {
        return Ok(Err(c.errors));
    }
    let (txn, app) = match locked_application(db, application_id, Action::DeferApplication).await? {
        Ok(found) => found,
        Err(errors) => return Ok(Err(errors)),
    };
    if app.status != ApplicationStatus::Submitted.as_str() {
        return refused(
            "applicationId",
            UserErrorCode::NotAllowed,
            format!("the application is {}; only a submitted application can be deferred", app.status),
        );
    }
    let backend = txn.get_database_backend();
    let grouped = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT p.id FROM pairing_members m JOIN pairings p ON p.id = m.pairing_id \
             WHERE m.librarian_id = $1 AND p.round_id = $2 AND p.status <> 'DISSOLVED'",
            [app.librarian_id.into(), app.round_id.into()],
        ))
        .await?;
    if grouped.is_some() {
        return refused(
            "applicationId",
            UserErrorCode::NotAllowed,
            "the applicant is in one of the round's pairings; dissolve it first",
        );
    }
    let note = note.unwrap_or_else(|| "Deferred to a later round by the programme's directors.".to_owned());
    let mut active: application::ActiveModel = app.into();
    active.status = Set(ApplicationStatus::Deferred.as_str().to_owned());
    active.deferral = Set(Some(BY_ADMIN.to_owned()));
    active.deferral_note = Set(Some(note));
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    crate::service::journal::programme::record_owned(&txn, viewer, NodeKind::Application, &[model.id]).await?;
    journal::audit(
        &txn,
        viewer,
        Action::DeferApplication,
        NodeKind::Application,
        model.id,
        json!({ "roundId": model.round_id }),
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// `readmitApplication`: an admin takes a deferred application back into the round before
/// matching (whatever its country's share).
///
/// # Errors
/// Database errors; `CONFLICT` when the round is not `MATCHING`.
pub async fn readmit(db: &DatabaseConnection, viewer: &Viewer, application_id: i32) -> Outcome<application::Model> {
    let (txn, app) = match locked_application(db, application_id, Action::ReadmitApplication).await? {
        Ok(found) => found,
        Err(errors) => return Ok(Err(errors)),
    };
    if app.status != ApplicationStatus::Deferred.as_str() {
        return refused(
            "applicationId",
            UserErrorCode::NotAllowed,
            format!("the application is {}; only a deferred application can be taken back in", app.status),
        );
    }
    let was = app.deferral.clone();
    let mut active: application::ActiveModel = app.into();
    active.status = Set(ApplicationStatus::Submitted.as_str().to_owned());
    active.deferral = Set(None);
    active.deferral_note = Set(None);
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    let details = json!({ "roundId": model.round_id, "deferral": was });
    crate::service::journal::programme::record_owned(&txn, viewer, NodeKind::Application, &[model.id]).await?;
    journal::audit(&txn, viewer, Action::ReadmitApplication, NodeKind::Application, model.id, details).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(countries: &[&str]) -> Vec<(i32, String)> {
        countries.iter().enumerate().map(|(i, c)| (crate::domain::counts::to_i32(i) + 1, (*c).to_owned())).collect()
    }

    #[test]
    fn a_country_keeps_its_share_of_the_places_earliest_first() {
        // 100 applications, 40 from NZ (every other one of the first 80): NZ keeps 20.
        let countries: Vec<&str> =
            (0..100).map(|i| if i < 80 && i % 2 == 0 { "NZ" } else { ["KE", "BR", "DE", "IN", "US"][i % 5] }).collect();
        let q = queue(&countries);
        let deferred = beyond_share(&q, 20);
        let nz: Vec<i32> = q.iter().filter(|(_, c)| c == "NZ").map(|(id, _)| *id).collect();
        assert_eq!(nz.len(), 40);
        let ids: Vec<i32> = deferred.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, nz[20..], "the 20 latest NZ applications are deferred, the earliest kept");
        assert!(deferred[0].1.contains("NZ had 40 of the 100 applications") && deferred[0].1.contains("keeps 20"));
        assert!(beyond_share(&q, 100).is_empty());
        assert_eq!(beyond_share(&q, 40).len(), 0);
        assert_eq!(beyond_share(&q, 39).len(), 1);
    }

    #[test]
    fn every_country_keeps_at_least_one_place() {
        assert_eq!(places(4, 20), 1);
        assert_eq!(places(0, 20), 1);
        assert_eq!(places(12, 20), 2);
        assert_eq!(places(10, 100), 10);
        let deferred = beyond_share(&queue(&["NG", "ZA", "NG", "AU"]), 20);
        assert_eq!(deferred.iter().map(|d| d.0).collect::<Vec<_>>(), [3]);
    }
}
