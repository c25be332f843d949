//! Change-log entries of programme objects, each with the scope its readers are decided by
//! (`auth::policy::changes` reads it back):
//!
//! - an application, certificate or engagement report belongs to its librarian: it has the
//!   librarian's scope (their country for ambassadors, their confirmed associations at
//!   read time, themself), but never the directory's;
//! - countries are read when the entries are recorded, under the feed lock ([`resolve`]):
//!   a write that moves a librarian and one that touches what they own then see each other
//!   in the order of their entries, so neither leaves an entry with a stale country;
//! - a pairing concerns each of its members ([`super::Member`] rows with their countries);
//! - a librarian who comes into or leaves a partner's view is announced to that partner
//!   only ([`partners`]);
//! - when a write changes who may see a librarian (a move, an erasure, an association's
//!   claim confirmed or withdrawn), what they own is announced again with that write's
//!   scope ([`belongings`]), so a follower that held it drops it and one that may now see
//!   it picks it up.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use entities::{application, certificate, engagement_report, librarian, pairing_member};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{Entry, Member, Operation, Scope};
use crate::domain::NodeKind;
use crate::error::ApiResult;

/// Ids per `IN (..)` list.
const IN_CHUNK: usize = 1_000;

/// The countries of the librarians `ids`.
async fn countries<C: ConnectionTrait>(db: &C, ids: impl IntoIterator<Item = i32>) -> ApiResult<HashMap<i32, String>> {
    let ids: Vec<i32> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let rows: Vec<(i32, String)> = librarian::Entity::find()
            .select_only()
            .column(librarian::Column::Id)
            .column(librarian::Column::CountryCode)
            .filter(librarian::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// `(id, librarian_id)` of the owned objects of `kind` whose column `by` is in `keys`.
async fn owned_rows<C: ConnectionTrait>(
    db: &C,
    kind: NodeKind,
    by_owner: bool,
    keys: &[i32],
) -> ApiResult<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(IN_CHUNK) {
        let chunk = chunk.to_vec();
        let rows: Vec<(i32, i32)> = match kind {
            NodeKind::Application => {
                use application::Column as C;
                let by = if by_owner { C::LibrarianId } else { C::Id };
                application::Entity::find()
                    .select_only()
                    .columns([C::Id, C::LibrarianId])
                    .filter(by.is_in(chunk))
                    .into_tuple()
                    .all(db)
                    .await?
            }
            NodeKind::Certificate => {
                use certificate::Column as C;
                let by = if by_owner { C::LibrarianId } else { C::Id };
                certificate::Entity::find()
                    .select_only()
                    .columns([C::Id, C::LibrarianId])
                    .filter(by.is_in(chunk))
                    .into_tuple()
                    .all(db)
                    .await?
            }
            NodeKind::EngagementReport => {
                use engagement_report::Column as C;
                let by = if by_owner { C::LibrarianId } else { C::Id };
                engagement_report::Entity::find()
                    .select_only()
                    .columns([C::Id, C::LibrarianId])
                    .filter(by.is_in(chunk))
                    .into_tuple()
                    .all(db)
                    .await?
            }
            _ => Vec::new(),
        };
        out.extend(rows);
    }
    out.sort_unstable();
    Ok(out)
}

/// Entries for the applications, certificates or engagement reports `ids` (by `kind`);
/// [`super::record`] fills in their owners' countries.
///
/// # Errors
/// Database errors.
pub async fn owned<C: ConnectionTrait>(
    db: &C,
    kind: NodeKind,
    ids: &[i32],
    operation: Operation,
) -> ApiResult<Vec<Entry>> {
    let rows = owned_rows(db, kind, false, ids).await?;
    Ok(rows
        .into_iter()
        .map(|(id, owner)| Entry::new(kind, id, operation, Scope { librarian_id: Some(owner), ..Scope::default() }))
        .collect())
}

const OWNED: [NodeKind; 3] = [NodeKind::Application, NodeKind::Certificate, NodeKind::EngagementReport];

/// Fills in the countries the entries still lack (an owned object's owner's, a pairing's
/// members'), and reads a membership's again: its librarian's country as it is, if the
/// link is confirmed now or was when the write read it. Called by [`super::record`] under
/// the feed lock, so that a move and a consent decided at the same moment cannot leave the
/// link in the wrong ambassadors' feeds.
pub(super) async fn resolve<C: ConnectionTrait>(db: &C, entries: &mut [Entry]) -> ApiResult<()> {
    resolve_memberships(db, entries).await?;
    let owner = |e: &Entry| e.scope.librarian_id.filter(|_| OWNED.contains(&e.kind) && e.scope.country_code.is_none());
    let member = |m: &Member| (!m.partner && m.country_code.is_none()).then_some(m.librarian_id);
    let mut wanted: Vec<i32> = entries.iter().filter_map(owner).collect();
    for e in entries.iter().filter(|e| e.kind == NodeKind::Pairing) {
        wanted.extend(e.scope.members.iter().filter_map(member));
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let countries = countries(db, wanted).await?;
    for e in entries.iter_mut() {
        if let Some(id) = owner(e) {
            e.scope.country_code = countries.get(&id).cloned();
        }
        if e.kind == NodeKind::Pairing {
            for m in &mut e.scope.members {
                if let Some(id) = member(m) {
                    m.country_code = countries.get(&id).cloned();
                }
            }
        }
    }
    Ok(())
}

async fn resolve_memberships<C: ConnectionTrait>(db: &C, entries: &mut [Entry]) -> ApiResult<()> {
    use entities::membership::Column as M;
    let ids: Vec<i32> = entries.iter().filter(|e| e.kind == NodeKind::Membership).map(|e| e.key).collect();
    let mut links: HashMap<i32, (i32, bool)> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let rows: Vec<(i32, i32, String)> = entities::membership::Entity::find()
            .select_only()
            .columns([M::Id, M::LibrarianId, M::Consent])
            .filter(M::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        let confirmed = crate::domain::MembershipConsent::Confirmed.as_str();
        links.extend(rows.into_iter().map(|(id, librarian, consent)| (id, (librarian, consent == confirmed))));
    }
    if links.is_empty() {
        return Ok(());
    }
    let countries = countries(db, links.values().map(|(librarian, _)| *librarian)).await?;
    for e in entries.iter_mut().filter(|e| e.kind == NodeKind::Membership) {
        if let Some((librarian, confirmed)) = links.get(&e.key)
            && (*confirmed || e.scope.country_code.is_some())
        {
            e.scope.country_code = countries.get(librarian).cloned();
        }
    }
    Ok(())
}

/// `(pairing_id, librarian_id)` of the members of the pairings `ids`, or of the pairings of
/// the librarians `ids` when `by_member`.
async fn member_rows<C: ConnectionTrait>(db: &C, by_member: bool, ids: &[i32]) -> ApiResult<Vec<(i32, i32)>> {
    use pairing_member::Column as C;
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let chunk = chunk.to_vec();
        let pairing_ids: Vec<i32> = if by_member {
            pairing_member::Entity::find()
                .select_only()
                .column(C::PairingId)
                .filter(C::LibrarianId.is_in(chunk))
                .into_tuple()
                .all(db)
                .await?
        } else {
            chunk
        };
        for part in pairing_ids.chunks(IN_CHUNK) {
            let rows: Vec<(i32, i32)> = pairing_member::Entity::find()
                .select_only()
                .columns([C::PairingId, C::LibrarianId])
                .filter(C::PairingId.is_in(part.to_vec()))
                .into_tuple()
                .all(db)
                .await?;
            out.extend(rows);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Groups `(pairing_id, librarian_id)` rows into pairing entries with their members.
fn pairing_entries(
    rows: &[(i32, i32)],
    countries: &HashMap<i32, String>,
    operation: Operation,
    adjust: impl Fn(&mut Scope, i32),
) -> Vec<Entry> {
    let mut groups: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (pairing, member) in rows {
        groups.entry(*pairing).or_default().push(*member);
    }
    groups
        .into_iter()
        .map(|(pairing, members)| {
            let mut scope = Scope {
                members: members
                    .iter()
                    .map(|m| Member {
                        librarian_id: *m,
                        country_code: countries.get(m).cloned(),
                        previous_country_code: None,
                        partner: false,
                    })
                    .collect(),
                ..Scope::default()
            };
            adjust(&mut scope, pairing);
            Entry::new(NodeKind::Pairing, pairing, operation, scope)
        })
        .collect()
}

/// Entries for the pairings `ids`, with their members as they are now (for pairings about
/// to be deleted, call it before the delete); [`super::record`] fills in their countries.
///
/// # Errors
/// Database errors.
pub async fn pairings<C: ConnectionTrait>(db: &C, ids: &[i32], operation: Operation) -> ApiResult<Vec<Entry>> {
    let rows = member_rows(db, false, ids).await?;
    Ok(pairing_entries(&rows, &HashMap::new(), operation, |_, _| {}))
}

/// For each group of librarians that became (or stopped being) partners, an entry about
/// each member told to the others only: a librarian follows their partners' records.
pub fn partners(groups: &[Vec<i32>]) -> Vec<Entry> {
    let mut out = Vec::new();
    for group in groups.iter().filter(|g| g.len() > 1) {
        for who in group {
            let members = group
                .iter()
                .filter(|other| *other != who)
                .map(|other| Member {
                    librarian_id: *other,
                    country_code: None,
                    previous_country_code: None,
                    partner: true,
                })
                .collect();
            out.push(Entry::new(NodeKind::Librarian, *who, Operation::Upsert, Scope { members, ..Scope::default() }));
        }
    }
    out
}

/// The entries re-announcing what the librarians of `owners` own, each with its owner's
/// entry's scope: applications, certificates, engagement reports, and their pairings
/// (where the owner's row carries the owner's previous country).
pub(super) async fn belongings<C: ConnectionTrait>(db: &C, owners: &[&Entry]) -> ApiResult<Vec<Entry>> {
    let by_owner: HashMap<i32, &Scope> = owners.iter().map(|e| (e.key, &e.scope)).collect();
    let keys: Vec<i32> = by_owner.keys().copied().collect::<BTreeSet<_>>().into_iter().collect();
    let mut out = Vec::new();
    for kind in [NodeKind::Application, NodeKind::Certificate, NodeKind::EngagementReport] {
        for (id, owner) in owned_rows(db, kind, true, &keys).await? {
            let Some(scope) = by_owner.get(&owner) else { continue };
            let scope = Scope {
                librarian_id: Some(owner),
                association_id: scope.association_id,
                country_code: scope.country_code.clone(),
                previous_country_code: scope.previous_country_code.clone(),
                listed: false,
                members: Vec::new(),
            };
            out.push(Entry::new(kind, id, Operation::Upsert, scope));
        }
    }
    let rows = member_rows(db, true, &keys).await?;
    let countries = countries(db, rows.iter().map(|(_, m)| *m)).await?;
    out.extend(pairing_entries(&rows, &countries, Operation::Upsert, |scope, _| {
        for member in &mut scope.members {
            if let Some(owner) = by_owner.get(&member.librarian_id) {
                member.previous_country_code.clone_from(&owner.previous_country_code);
                if owner.association_id.is_some() {
                    scope.association_id = owner.association_id;
                }
            }
        }
    }));
    Ok(out)
}

/// Records an `UPSERT` of each of the owned objects `ids` of `kind` (see [`owned`]).
///
/// # Errors
/// Database errors.
pub async fn record_owned<C: ConnectionTrait>(
    db: &C,
    viewer: &crate::auth::Viewer,
    kind: NodeKind,
    ids: &[i32],
) -> ApiResult<()> {
    let entries = owned(db, kind, ids, Operation::Upsert).await?;
    super::record(db, viewer, entries).await
}
