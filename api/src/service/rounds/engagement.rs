//! Discussion topics for a round's pairs, and participants' reports on their pairing.

use chrono::{DateTime, Utc};
use entities::{discussion_topic, engagement_report, pairing};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::json;

use super::lock;
use crate::auth::Viewer;
use crate::domain::Action;
use crate::domain::input::{Checks, MAX_BIO, MAX_TEXT, UserErrorCode};
use crate::domain::{NodeKind, PairingStatus, RoundStatus};
use crate::service::journal::{self, programme};
use crate::service::now;
use crate::service::people::{Outcome, refused};

use super::manual::members_of;

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
    let (txn, _) = match lock(db, round_id, Action::AddTopic, &open).await? {
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
    journal::audit(&txn, viewer, Action::AddTopic, NodeKind::DiscussionTopic, model.id, json!({ "roundId": round_id }))
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
    crate::auth::policy::report_engagement(librarian_id, &members_of(&txn, pairing_id).await?)?;
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
