//! Data for people to look at and for load tests.
//!
//! `demo` builds a deterministic, realistic network (the same rows on every run and on both
//! databases); `librarians` adds N librarians quickly with chunked multi-row inserts.

mod bulk;
mod demo;
mod generator;

pub use bulk::librarians;
pub use demo::demo;
pub use generator::matching_problem;

use std::collections::HashMap;

use entities::{
    ambassador, application, association, certificate, discussion_topic, engagement_report, librarian, membership,
    pairing, round,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::Viewer;
use crate::domain::{MembershipStatus, NodeKind};
use crate::error::ApiError;
use crate::service::journal::{self, Entry, Operation, Scope};

/// The actor the seeds' change-log entries name.
fn seeder() -> Viewer {
    Viewer::Admin { subject: "seed".to_owned() }
}

/// Writes a change-log entry for every librarian, association, membership, ambassador
/// appointment and programme object (rounds, applications, pairings, topics, engagement
/// reports, certificates), as their writers would have: a follower of the feed from the
/// start then sees the seeded network like any other data. Topics already published are
/// announced (the announcer does the rest when their time comes).
async fn log_everything<C: ConnectionTrait>(db: &C) -> anyhow::Result<()> {
    let mut entries = network_entries(db).await?;
    entries.extend(programme_entries(db).await?);
    journal::record(db, &seeder(), entries).await.map_err(ApiError::into_anyhow)?;
    let published: Vec<i32> = discussion_topic::Entity::find()
        .select_only()
        .column(discussion_topic::Column::Id)
        .filter(discussion_topic::Column::PublishAt.lte(crate::service::now()))
        .order_by_asc(discussion_topic::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    crate::service::topics::announce(db, &seeder(), &published).await.map_err(ApiError::into_anyhow)?;
    Ok(())
}

/// The entries of the people and partners: librarians, associations, memberships and
/// ambassador appointments.
async fn network_entries<C: ConnectionTrait>(db: &C) -> anyhow::Result<Vec<Entry>> {
    let librarians: HashMap<i32, Scope> = librarian::Entity::find()
        .select_only()
        .columns([librarian::Column::Id, librarian::Column::CountryCode, librarian::Column::ListedInDirectory])
        .into_tuple::<(i32, String, bool)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, country, listed)| {
            (id, Scope { librarian_id: Some(id), country_code: Some(country), listed, ..Scope::default() })
        })
        .collect();
    let mut entries: Vec<Entry> = Vec::new();
    let mut ids: Vec<&i32> = librarians.keys().collect();
    ids.sort_unstable();
    entries.extend(
        ids.into_iter().map(|id| Entry::new(NodeKind::Librarian, *id, Operation::Upsert, librarians[id].clone())),
    );
    for a in association::Entity::find().all(db).await? {
        entries.push(Entry::new(NodeKind::Association, a.id, Operation::Upsert, Scope::public()));
    }
    for m in membership::Entity::find().all(db).await? {
        let operation =
            if m.status == MembershipStatus::Active.as_str() { Operation::Upsert } else { Operation::Deactivate };
        let scope = Scope::membership(&m, &librarians[&m.librarian_id]);
        entries.push(Entry::new(NodeKind::Membership, m.id, operation, scope));
    }
    for a in ambassador::Entity::find().all(db).await? {
        entries.push(Entry::new(NodeKind::Ambassador, a.id, Operation::Upsert, Scope::public()));
    }
    Ok(entries)
}

/// The entries of the programme: rounds, topics, applications, engagement reports,
/// certificates and pairings.
async fn programme_entries<C: ConnectionTrait>(db: &C) -> anyhow::Result<Vec<Entry>> {
    let rounds: Vec<i32> = round::Entity::find()
        .select_only()
        .column(round::Column::Id)
        .order_by_asc(round::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut entries: Vec<Entry> =
        rounds.into_iter().map(|id| Entry::new(NodeKind::Round, id, Operation::Upsert, Scope::public())).collect();
    let topics: Vec<i32> = discussion_topic::Entity::find()
        .select_only()
        .column(discussion_topic::Column::Id)
        .order_by_asc(discussion_topic::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    entries.extend(topics.iter().map(|id| crate::service::topics::entry(*id, false)));
    let owned = |kind| async move {
        let rows: Vec<i32> = match kind {
            NodeKind::Application => {
                application::Entity::find().select_only().column(application::Column::Id).into_tuple().all(db).await?
            }
            NodeKind::Certificate => {
                certificate::Entity::find().select_only().column(certificate::Column::Id).into_tuple().all(db).await?
            }
            _ => {
                engagement_report::Entity::find()
                    .select_only()
                    .column(engagement_report::Column::Id)
                    .into_tuple()
                    .all(db)
                    .await?
            }
        };
        journal::programme::owned(db, kind, &rows, Operation::Upsert).await
    };
    for kind in [NodeKind::Application, NodeKind::EngagementReport, NodeKind::Certificate] {
        entries.extend(owned(kind).await.map_err(ApiError::into_anyhow)?);
    }
    let pairings: Vec<i32> =
        pairing::Entity::find().select_only().column(pairing::Column::Id).into_tuple().all(db).await?;
    entries
        .extend(journal::programme::pairings(db, &pairings, Operation::Upsert).await.map_err(ApiError::into_anyhow)?);
    Ok(entries)
}
