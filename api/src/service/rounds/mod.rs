//! Running a round: its life cycle, matching, pairings fixed by hand, topics, engagement
//! reports and certificates. Each write is one transaction that locks the round first, so
//! two admins cannot run conflicting steps at once; an out-of-order step is a `CONFLICT`
//! naming the round's state, and changes nothing.

use chrono::{DateTime, Utc};
use entities::{application, pairing, round};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde_json::json;

use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::input::{Checks, UserErrorCode};
use crate::domain::{ApplicationStatus, NodeKind, PairingStatus, RoundStatus};
use crate::error::ApiResult;
use crate::service::journal::{self, Entry, Operation, Scope, programme};
use crate::service::now;
use crate::service::people::{Outcome, refused};

mod completion;
mod engagement;
pub(crate) mod locking;
mod manual;
mod matching;

pub use completion::*;
pub use engagement::*;
pub(crate) use locking::{check_state, lock};
pub use manual::*;
pub use matching::*;

/// Rows per multi-row INSERT (under either database's parameter limit).
pub(super) const CHUNK: usize = 1_000;

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
    journal::audit(&txn, viewer, Action::CreateRound, NodeKind::Round, model.id, json!({ "name": model.name })).await?;
    txn.commit().await?;
    Ok(Ok(model))
}

/// The round's pairings in one of `statuses`.
pub(super) async fn pairing_ids<C: ConnectionTrait>(
    db: &C,
    round_id: i32,
    statuses: &[PairingStatus],
) -> ApiResult<Vec<i32>> {
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
pub(super) async fn application_ids<C: ConnectionTrait>(
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

pub(super) async fn set_status(
    txn: &DatabaseTransaction,
    model: round::Model,
    to: RoundStatus,
) -> ApiResult<round::Model> {
    let mut active: round::ActiveModel = model.into();
    active.status = Set(to.as_str().to_owned());
    active.updated_at = Set(now());
    Ok(active.update(txn).await?)
}

/// A plain state change: opening or closing applications, cancelling a round.
///
/// # Errors
/// Database errors; `CONFLICT` when the round is not in a state the step starts from.
pub async fn transition(
    db: &DatabaseConnection,
    viewer: &Viewer,
    round_id: i32,
    action: Action,
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
