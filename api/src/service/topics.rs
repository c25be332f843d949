//! Discussion topics in the change feed. A topic is hidden from everyone but admins until
//! its publish time, and the feed must not show an entry later than its place in the order
//! (a follower past it would never see it). So a new topic gets an admins' entry, and at
//! its publish time an announcement (`listed`), written then, in order, which ambassadors,
//! associations and the round's applicants follow. The announcer looks every
//! `topic_poll_ms`; a topic whose time has already come is announced as it is added.

use std::time::Duration;

use entities::discussion_topic;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use crate::auth::Viewer;
use crate::domain::NodeKind;
use crate::error::ApiResult;
use crate::service::journal::{self, Entry, Operation, Scope};
use crate::service::now;

/// Topics one look announces at most (the rest at the next).
const BATCH: u64 = 500;

/// The entry of a topic: for admins only, or `announced` to its readers.
pub fn entry(id: i32, announced: bool) -> Entry {
    Entry::new(NodeKind::DiscussionTopic, id, Operation::Upsert, Scope { listed: announced, ..Scope::default() })
}

/// Announces the topics `ids` that are not announced yet (in the caller's write
/// transaction): marks them and records their announcements. Returns how many it announced.
///
/// # Errors
/// Database errors.
pub async fn announce<C: ConnectionTrait>(db: &C, viewer: &Viewer, ids: &[i32]) -> ApiResult<usize> {
    let at = now();
    let mut announced = Vec::with_capacity(ids.len());
    for id in ids {
        // Compare and set: two processes announcing at once announce each topic once.
        let result = discussion_topic::Entity::update_many()
            .col_expr(discussion_topic::Column::AnnouncedAt, Expr::value(at))
            .filter(discussion_topic::Column::Id.eq(*id))
            .filter(discussion_topic::Column::AnnouncedAt.is_null())
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            announced.push(entry(*id, true));
        }
    }
    let count = announced.len();
    journal::record(db, viewer, announced).await?;
    Ok(count)
}

/// Records, for a librarian who just applied to the round, the topics of the round already
/// announced (to them only: they follow the topics of the rounds they applied to, and the
/// announcements are behind them in the feed). Reads under the feed lock, so a topic
/// announced at the same moment is in one or the other.
///
/// # Errors
/// Database errors.
pub async fn record_for_applicant<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    round_id: i32,
    librarian_id: i32,
) -> ApiResult<()> {
    journal::lock_feed(db).await?;
    let ids: Vec<i32> = discussion_topic::Entity::find()
        .select_only()
        .column(discussion_topic::Column::Id)
        .filter(discussion_topic::Column::RoundId.eq(round_id))
        .filter(discussion_topic::Column::AnnouncedAt.is_not_null())
        .order_by_asc(discussion_topic::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let scope = Scope { librarian_id: Some(librarian_id), ..Scope::default() };
    let entries =
        ids.into_iter().map(|id| Entry::new(NodeKind::DiscussionTopic, id, Operation::Upsert, scope.clone())).collect();
    journal::record(db, viewer, entries).await
}

/// The announcer's actor in the change log.
fn announcer() -> Viewer {
    Viewer::Admin { subject: "topic-announcer".to_owned() }
}

/// Announces the topics whose publish time has come. Returns how many it announced.
///
/// # Errors
/// Database errors.
pub async fn announce_due(db: &DatabaseConnection) -> ApiResult<usize> {
    let due = || {
        discussion_topic::Entity::find()
            .select_only()
            .column(discussion_topic::Column::Id)
            .filter(discussion_topic::Column::AnnouncedAt.is_null())
            .filter(discussion_topic::Column::PublishAt.lte(now()))
            .order_by_asc(discussion_topic::Column::Id)
            .limit(BATCH)
    };
    // A read first: most looks find nothing and take no write lock.
    if due().limit(1).into_tuple::<i32>().one(db).await?.is_none() {
        return Ok(0);
    }
    let txn = crate::db::begin_write(db).await?;
    let ids: Vec<i32> = due().into_tuple().all(&txn).await?;
    let count = announce(&txn, &announcer(), &ids).await?;
    txn.commit().await?;
    Ok(count)
}

/// Announces due topics every `poll`, until the task is stopped.
pub async fn run(db: DatabaseConnection, poll: Duration) {
    loop {
        if let Err(err) = announce_due(&db).await {
            tracing::warn!(error = ?err, "topic announcer");
        }
        tokio::time::sleep(poll).await;
    }
}
