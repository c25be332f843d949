//! The plan of a sync: what each row does to the association's membership, decided from
//! what the database holds (read beforehand) without touching it. Pure, so the rules
//! (links by email, erased members, full replace) are unit-tested on plain values.

use std::collections::{HashMap, HashSet};

use entities::{librarian, membership};

use super::rows::{Current, Member, Tags, profile_changes, resent, row_error};
use super::{Counts, Directory, RowError};
use crate::domain::input::{Checks, UserErrorCode};
use crate::domain::{MembershipStatus, SyncMode};
use crate::service::journal::Scope;

/// A provisioned librarian to update.
pub(super) struct Update {
    pub(super) member: usize,
    pub(super) before: librarian::Model,
    pub(super) after: librarian::Model,
    pub(super) tags: Tags,
}

/// What the sync will write.
#[derive(Default)]
pub(super) struct Plan {
    /// New librarians (and their provisioned memberships).
    pub(super) create: Vec<usize>,
    /// Existing librarians to link by a new membership: (member, librarian id, scope).
    pub(super) link: Vec<(usize, i32, Scope)>,
    /// Provisioned librarians to update.
    pub(super) update: Vec<Update>,
    /// Memberships whose own records change (what was sent for a link, the directory's
    /// record, the external id, a deletion by the directory).
    pub(super) rewrite: Vec<Rewrite>,
    pub(super) reactivate: Vec<membership::Model>,
    pub(super) deactivate: Vec<membership::Model>,
}

/// What changes on one membership row besides its status; `None` keeps a column.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Rewrite {
    pub(super) id: i32,
    pub(super) sent: Option<String>,
    pub(super) directory: Option<Directory>,
    pub(super) external_id: Option<String>,
    /// The directory deleted the member.
    pub(super) removed: bool,
    /// The directory, having deleted the member, writes them again (a create).
    pub(super) restored: bool,
}

/// The external id a row finds its member by: the one it renames, or its own.
pub(super) fn key(m: &Member) -> &str {
    m.renamed_from.as_deref().unwrap_or(&m.external_id)
}

/// What the database holds that the plan depends on.
pub(super) struct Known<'a> {
    /// The association's memberships, active and deactivated.
    pub(super) existing: &'a [membership::Model],
    /// Its members whose librarian erased their data.
    pub(super) erased: &'a HashSet<i32>,
    /// The librarians it provisioned, with their languages and interests.
    pub(super) provisioned: &'a HashMap<i32, Current>,
    /// Librarians already in the network, by the emails [`emails_to_look_up`] named.
    pub(super) by_email: &'a HashMap<String, (i32, Scope)>,
}

/// The emails whose librarians the plan needs: those of new members, and of provisioned
/// members whose email changes.
pub(super) fn emails_to_look_up(
    members: &[Member],
    existing: &[membership::Model],
    provisioned: &HashMap<i32, Current>,
) -> Vec<String> {
    let by_external: HashMap<&str, &membership::Model> = existing.iter().map(|m| (m.external_id.as_str(), m)).collect();
    members
        .iter()
        .filter_map(|m| {
            let email = m.profile.email.as_ref()?;
            match by_external.get(key(m)) {
                None => Some(email.clone()),
                Some(ms) => {
                    provisioned.get(&ms.librarian_id).filter(|cur| cur.row.email != *email).map(|_| email.clone())
                }
            }
        })
        .collect()
}

/// Plans `members` (`received` rows were sent) against what is `known`. Rows that cannot
/// be applied are added to `errors`, which come back sorted by row.
pub(super) fn plan(
    members: &[Member],
    known: &Known<'_>,
    mode: SyncMode,
    received: usize,
    errors: &mut Vec<RowError>,
) -> (Plan, Counts) {
    let by_external: HashMap<&str, &membership::Model> =
        known.existing.iter().map(|m| (m.external_id.as_str(), m)).collect();
    let member_of: HashSet<i32> = known.existing.iter().map(|ms| ms.librarian_id).collect();
    let mut plan = Plan::default();
    let mut counts = Counts { received, ..Counts::default() };
    let mut present: HashSet<&str> = HashSet::new();
    for (i, m) in members.iter().enumerate() {
        present.insert(m.external_id.as_str());
        let renamed_onto_another = m.renamed_from.as_deref().is_some_and(|from| from != m.external_id)
            && by_external.contains_key(m.external_id.as_str());
        match by_external.get(key(m)) {
            _ if renamed_onto_another => errors.push(row_error(
                m,
                "externalId",
                UserErrorCode::Taken,
                "another member of the association has this externalId",
            )),
            Some(ms) => existing_member(i, m, ms, known, &mut plan, &mut counts, errors),
            None if m.renamed_from.is_some() => {
                errors.push(row_error(m, "externalId", UserErrorCode::NotFound, "no member has this externalId"));
            }
            None => new_member(i, m, known, &member_of, &mut plan, errors),
        }
    }
    if mode == SyncMode::FullReplace {
        full_replace(known.existing, present, &mut plan, errors);
    }
    counts.created = plan.create.len() + plan.link.len();
    counts.deactivated = plan.deactivate.len();
    counts.reactivated = plan.reactivate.len();
    errors.sort_by_key(|e| e.index);
    let mut failed: Vec<usize> = errors.iter().map(|e| e.index).collect();
    failed.dedup();
    counts.failed = failed.len();
    (plan, counts)
}

/// A row for a member the association has: deactivate, reactivate, update or leave. A
/// provisioned member's profile follows the row whether it keeps them active or not; an
/// erased member's data is never written again.
fn existing_member(
    i: usize,
    m: &Member,
    ms: &membership::Model,
    known: &Known<'_>,
    plan: &mut Plan,
    counts: &mut Counts,
    errors: &mut Vec<RowError>,
) {
    let active = ms.status == MembershipStatus::Active.as_str();
    let erased = known.erased.contains(&ms.librarian_id);
    if erased {
        if m.active {
            errors.push(row_error(
                m,
                "externalId",
                UserErrorCode::NotAllowed,
                "this member's librarian erased their data; they cannot be re-activated under this externalId",
            ));
        } else if active {
            plan.deactivate.push(ms.clone());
        } else {
            counts.unchanged += 1;
        }
        return;
    }
    let mut changed = false;
    let rewrite = rewrite_of(m, ms);
    if rewrite != (Rewrite { id: ms.id, ..Rewrite::default() }) {
        plan.rewrite.push(rewrite);
        changed = true;
    }
    if ms.provisioned
        && let Some(current) = known.provisioned.get(&ms.librarian_id)
        && let Some((mut next, tags)) = profile_changes(m, current)
    {
        // An address that belongs to someone else in the network is not taken over, and
        // the answer is the one a free address gets (`updated`), so that it does not tell
        // the address is known.
        if next.email != current.row.email && known.by_email.contains_key(&next.email) {
            next.email.clone_from(&current.row.email);
        }
        if next != current.row || tags.languages || tags.interests {
            plan.update.push(Update { member: i, before: current.row.clone(), after: next, tags });
        }
        changed = true;
    }
    match (m.active, active) {
        (false, true) => plan.deactivate.push(ms.clone()),
        (true, false) => plan.reactivate.push(ms.clone()),
        _ if changed => counts.updated += 1,
        _ => counts.unchanged += 1,
    }
}

/// The changes a row makes to its membership's own record.
fn rewrite_of(m: &Member, ms: &membership::Model) -> Rewrite {
    let sent = if ms.provisioned { None } else { resent(m, ms.sent.as_deref()) };
    let directory = m
        .directory
        .as_ref()
        .filter(|d| d.user_name != ms.user_name || ms.directory.as_deref() != Some(d.attributes.as_str()))
        .cloned();
    let external_id = (m.external_id != ms.external_id).then(|| m.external_id.clone());
    let removed = m.removed && ms.removed_at.is_none();
    let restored = !m.removed && m.directory.is_some() && ms.removed_at.is_some();
    Rewrite { id: ms.id, sent, directory, external_id, removed, restored }
}

/// A row for someone the association does not have: create them, link the librarian the
/// email names, or refuse the row.
fn new_member(
    i: usize,
    m: &Member,
    known: &Known<'_>,
    member_of: &HashSet<i32>,
    plan: &mut Plan,
    errors: &mut Vec<RowError>,
) {
    // A deactivation of someone the association does not have is a mistake in its list;
    // a directory's new user sent inactive (a SCIM create) is a member, created deactivated.
    if !m.active && m.directory.is_none() {
        errors.push(row_error(m, "externalId", UserErrorCode::NotFound, "no member has this externalId"));
        return;
    }
    // The same fields whether or not the email is known, so the answer does not tell which.
    let mut c = Checks::default();
    for (field, missing) in [
        ("email", m.profile.email.is_none()),
        ("fullName", m.profile.full_name.is_none()),
        ("countryCode", m.profile.country_code.is_none()),
    ] {
        if missing {
            c.fail(field, UserErrorCode::Blank, format!("a new member needs `{field}`"));
        }
    }
    if !c.ok() {
        errors.extend(c.errors.into_iter().map(|e| row_error(m, &e.field, e.code, &e.message)));
        return;
    }
    match m.profile.email.as_ref().and_then(|e| known.by_email.get(e)) {
        Some((id, _)) if member_of.contains(id) => errors.push(row_error(
            m,
            "email",
            UserErrorCode::Taken,
            "this email is already a member of the association under another externalId",
        )),
        Some((id, scope)) => plan.link.push((i, *id, scope.clone())),
        None => plan.create.push(i),
    }
}

/// A full replace deactivates the active members the list does not name. Rows skipped for
/// errors still name members that exist: they are not missing. A row without a readable
/// externalId could be anyone, so then nobody is deactivated.
fn full_replace(existing: &[membership::Model], present: HashSet<&str>, plan: &mut Plan, errors: &mut Vec<RowError>) {
    let unidentified: Vec<usize> = errors
        .iter()
        .filter(|e| e.external_id.as_deref().is_none_or(|id| id.trim().is_empty()))
        .map(|e| e.index)
        .collect();
    if let Some(&first) = unidentified.first() {
        errors.push(RowError {
            index: first,
            external_id: None,
            field: "externalId".to_owned(),
            code: UserErrorCode::NotAllowed,
            message: format!(
                "{} row(s) have no readable externalId, so this full replace cannot tell who is missing \
                 and deactivated no one; fix those rows and send the list again",
                unidentified.len()
            ),
        });
        return;
    }
    let named: HashSet<&str> = errors.iter().filter_map(|e| e.external_id.as_deref().map(str::trim)).collect();
    let listed = |id: &str| present.contains(id) || named.contains(id);
    plan.deactivate.extend(
        existing
            .iter()
            .filter(|ms| ms.status == MembershipStatus::Active.as_str() && !listed(ms.external_id.as_str()))
            .cloned(),
    );
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::profile::Profile;

    fn row(index: usize, external_id: &str, email: Option<&str>, active: bool) -> Member {
        Member {
            index,
            external_id: external_id.into(),
            profile: Profile {
                email: email.map(Into::into),
                full_name: Some("Nomsa Dube".into()),
                country_code: Some("ZA".into()),
                ..Profile::default()
            },
            active,
            directory: None,
            removed: false,
            renamed_from: None,
        }
    }

    /// A provisioned membership (whose librarian the test does not load: no changes).
    fn membership(id: i32, librarian_id: i32, external_id: &str, active: bool) -> membership::Model {
        let status = if active { MembershipStatus::Active } else { MembershipStatus::Deactivated };
        membership::Model {
            id,
            association_id: 1,
            librarian_id,
            external_id: external_id.into(),
            status: status.as_str().into(),
            deactivated_at: None,
            version: 1,
            provisioned: true,
            consent: "CONFIRMED".into(),
            sent: None,
            directory: None,
            user_name: None,
            removed_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[derive(Default)]
    struct Held {
        existing: Vec<membership::Model>,
        erased: HashSet<i32>,
        provisioned: HashMap<i32, Current>,
        by_email: HashMap<String, (i32, Scope)>,
    }

    impl Held {
        fn plan(&self, members: &[Member], mode: SyncMode, errors: &mut Vec<RowError>) -> (Plan, Counts) {
            let known = Known {
                existing: &self.existing,
                erased: &self.erased,
                provisioned: &self.provisioned,
                by_email: &self.by_email,
            };
            plan(members, &known, mode, members.len(), errors)
        }
    }

    fn codes(errors: &[RowError]) -> Vec<(usize, &str, UserErrorCode)> {
        errors.iter().map(|e| (e.index, e.field.as_str(), e.code)).collect()
    }

    #[test]
    fn a_new_member_is_created_or_linked_by_email_but_not_twice() {
        let mut held = Held { existing: vec![membership(1, 10, "ZA-1", true)], ..Held::default() };
        held.by_email.insert("known@x.org".into(), (20, Scope::default()));
        held.by_email.insert("member@x.org".into(), (10, Scope::default()));
        let mut members = [
            row(0, "ZA-2", Some("new@x.org"), true),
            row(1, "ZA-3", Some("known@x.org"), true),
            row(2, "ZA-4", Some("member@x.org"), true),
            row(3, "ZA-5", Some("other@x.org"), true),
        ];
        members[3].profile.full_name = None;
        let mut errors = Vec::new();
        let (plan, counts) = held.plan(&members, SyncMode::Upsert, &mut errors);
        assert_eq!(plan.create, [0]);
        assert_eq!(plan.link.iter().map(|(i, id, _)| (*i, *id)).collect::<Vec<_>>(), [(1, 20)]);
        assert_eq!(codes(&errors), [(2, "email", UserErrorCode::Taken), (3, "fullName", UserErrorCode::Blank)]);
        assert_eq!((counts.created, counts.failed, counts.received), (2, 2, 4));
    }

    #[test]
    fn rows_deactivate_reactivate_or_leave_a_member_and_an_erased_one_stays_out() {
        let held = Held {
            existing: vec![
                membership(1, 10, "ZA-1", true),
                membership(2, 11, "ZA-2", false),
                membership(3, 12, "ZA-3", false),
                membership(4, 13, "ZA-4", false),
            ],
            erased: HashSet::from([13]),
            ..Held::default()
        };
        let members = [
            row(0, "ZA-1", None, false),
            row(1, "ZA-2", None, false),
            row(2, "ZA-3", None, true),
            row(3, "ZA-4", None, true),
            row(4, "ZA-9", None, false),
        ];
        let mut errors = Vec::new();
        let (plan, counts) = held.plan(&members, SyncMode::Upsert, &mut errors);
        assert_eq!(plan.deactivate.iter().map(|m| m.id).collect::<Vec<_>>(), [1]);
        assert_eq!(plan.reactivate.iter().map(|m| m.id).collect::<Vec<_>>(), [3]);
        assert_eq!(
            codes(&errors),
            [(3, "externalId", UserErrorCode::NotAllowed), (4, "externalId", UserErrorCode::NotFound)]
        );
        assert_eq!((counts.unchanged, counts.deactivated, counts.reactivated), (1, 1, 1));
    }

    #[test]
    fn a_full_replace_deactivates_whom_it_does_not_name_and_no_one_when_a_row_is_anonymous() {
        let held = Held {
            existing: vec![
                membership(1, 10, "ZA-1", true),
                membership(2, 11, "ZA-2", true),
                membership(3, 12, "ZA-3", true),
            ],
            ..Held::default()
        };
        // ZA-1 is sent; ZA-2's row was refused (it still names an existing member).
        let members = [row(0, "ZA-1", None, true)];
        let refused = RowError {
            index: 1,
            external_id: Some(" ZA-2 ".into()),
            field: "email".into(),
            code: UserErrorCode::Invalid,
            message: "bad".into(),
        };
        let mut errors = vec![refused.clone()];
        let (plan, _) = held.plan(&members, SyncMode::FullReplace, &mut errors);
        assert_eq!(plan.deactivate.iter().map(|m| m.external_id.as_str()).collect::<Vec<_>>(), ["ZA-3"]);
        // A row without an externalId could be anyone: nobody is deactivated, and it says why.
        let mut errors = vec![RowError { index: 1, external_id: None, ..refused }];
        let (plan, counts) = held.plan(&members, SyncMode::FullReplace, &mut errors);
        assert!(plan.deactivate.is_empty());
        assert_eq!(
            codes(&errors),
            [(1, "email", UserErrorCode::Invalid), (1, "externalId", UserErrorCode::NotAllowed)]
        );
        assert_eq!(counts.failed, 1, "one row, two errors");
        // An upsert deactivates no one it does not name.
        let (plan, _) = held.plan(&members, SyncMode::Upsert, &mut Vec::new());
        assert!(plan.deactivate.is_empty());
    }

    #[test]
    fn only_new_or_changed_emails_are_looked_up() {
        let existing = vec![membership(1, 10, "ZA-1", true)];
        let members = [
            row(0, "ZA-1", Some("same@x.org"), true),
            row(1, "ZA-2", Some("new@x.org"), true),
            row(2, "ZA-3", None, true),
        ];
        // ZA-1's librarian is not loaded as provisioned here: its email is not compared.
        assert_eq!(emails_to_look_up(&members, &existing, &HashMap::new()), ["new@x.org"]);
    }

    #[test]
    fn a_directory_renames_removes_and_records_its_members() {
        let mut gone = membership(3, 12, "ZA-3", false);
        gone.removed_at = Some(Utc::now());
        let held = Held {
            existing: vec![membership(1, 10, "ZA-1", true), membership(2, 11, "ZA-2", true), gone],
            ..Held::default()
        };
        let directory = Directory { user_name: Some("upn@x.org".into()), attributes: "{}".into() };
        let mut members = [
            row(0, "ZA-10", None, true),
            row(1, "ZA-1", None, true),
            row(2, "ZA-2", None, false),
            row(3, "ZA-3", None, false),
            row(4, "ZA-11", Some("new@x.org"), false),
        ];
        members[0].renamed_from = Some("ZA-1".into());
        members[0].directory = Some(directory.clone());
        members[1].renamed_from = Some("ZA-2".into());
        members[2].removed = true;
        members[3].removed = true;
        members[4].directory = Some(directory.clone());
        let mut errors = Vec::new();
        let (plan, counts) = held.plan(&members, SyncMode::Upsert, &mut errors);
        assert_eq!(
            plan.rewrite,
            [
                Rewrite { id: 1, external_id: Some("ZA-10".into()), directory: Some(directory), ..Rewrite::default() },
                Rewrite { id: 2, removed: true, ..Rewrite::default() },
            ],
            "a rename, a removal; ZA-3 was removed already"
        );
        assert_eq!(codes(&errors), [(1, "externalId", UserErrorCode::Taken)], "ZA-1 is someone's already");
        assert_eq!(plan.deactivate.iter().map(|m| m.id).collect::<Vec<_>>(), [2]);
        assert_eq!(plan.create, [4], "a directory's user sent inactive is created");
        assert_eq!((counts.updated, counts.unchanged, counts.deactivated), (1, 1, 1));
    }
}
