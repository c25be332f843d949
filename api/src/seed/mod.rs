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

use entities::{ambassador, association, librarian, membership};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

use crate::auth::Viewer;
use crate::domain::{MembershipStatus, NodeKind};
use crate::error::ApiError;
use crate::service::journal::{self, Entry, Operation, Scope};

/// The actor the seeds' change-log entries name.
fn seeder() -> Viewer {
    Viewer::Admin { subject: "seed".to_owned() }
}

/// Writes a change-log entry for every librarian, association, membership and ambassador
/// appointment, as their writers would have: a follower of the feed from the start then
/// sees the seeded network like any other data.
async fn log_everything<C: ConnectionTrait>(db: &C) -> anyhow::Result<()> {
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
    journal::record(db, &seeder(), entries).await.map_err(ApiError::into_anyhow)?;
    Ok(())
}
