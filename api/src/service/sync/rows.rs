//! Member rows: validated once at the edge of a sync, compared with what is stored (a
//! created member's profile, or what the association sent for a link).

use std::collections::HashSet;

use entities::librarian;

use super::{Directory, MAX_EXTERNAL_ID, MemberRecord, RowError};
use crate::domain::Sector;
use crate::domain::input::{Checks, UserErrorCode};
use crate::domain::profile::{Profile, ProfileInput};

/// A validated row.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) index: usize,
    pub(super) external_id: String,
    /// The profile fields the row gives (never a bio or directory consent: those are the
    /// librarian's own).
    pub(super) profile: Profile,
    pub(super) active: bool,
    /// The directory's record (its login name in lower case for lookups).
    pub(super) directory: Option<Directory>,
    /// A deactivation by the directory's deletion.
    pub(super) removed: bool,
    /// The member's external id before this row renames them.
    pub(super) renamed_from: Option<String>,
}

/// The longest directory login name (an email's limit) and record (a JSON object).
pub const MAX_USER_NAME: usize = 320;
pub const MAX_DIRECTORY: usize = 16 * 1024;

/// Validates the rows; rows already in `errors` (unreadable in a file) are skipped.
pub(super) fn validate(members: Vec<MemberRecord>, errors: &mut Vec<RowError>) -> Vec<Member> {
    let unreadable: HashSet<usize> = errors.iter().map(|e| e.index).collect();
    let mut valid = Vec::with_capacity(members.len());
    let mut seen_ids: HashSet<String> = HashSet::with_capacity(members.len());
    let mut seen_emails: HashSet<String> = HashSet::with_capacity(members.len());
    for (index, record) in members.into_iter().enumerate() {
        if unreadable.contains(&index) {
            continue;
        }
        let mut c = Checks::default();
        let external_id = record.external_id.as_deref().and_then(|v| c.required("externalId", v, MAX_EXTERNAL_ID));
        if record.external_id.is_none() {
            c.fail("externalId", UserErrorCode::Blank, "`externalId` is required");
        }
        let sector = match record.sector.as_deref().map(|s| s.trim().to_uppercase()) {
            None => None,
            Some(name) => match Sector::parse(&name) {
                Some(sector) => Some(sector),
                None => {
                    c.fail("sector", UserErrorCode::Invalid, format!("{name:?} is not a sector"));
                    None
                }
            },
        };
        let profile = ProfileInput {
            full_name: record.full_name.clone(),
            email: record.email.clone(),
            country_code: record.country_code.clone(),
            institution: record.institution.clone(),
            sector,
            job_title: record.job_title.clone(),
            years_experience: record.years_experience,
            languages: record.languages.clone(),
            interests: record.interests.clone(),
            bio: None,
            listed_in_directory: None,
        };
        let renamed_from = record.renamed_from.as_deref().and_then(|v| c.required("externalId", v, MAX_EXTERNAL_ID));
        let directory = record.directory.as_ref().map(|d| directory(d, &mut c));
        let active = record.active.unwrap_or(true);
        let member = Member {
            index,
            external_id: external_id.clone().unwrap_or_default(),
            profile: Profile::parse(&profile, &mut c),
            active,
            directory,
            removed: record.removed && !active,
            renamed_from,
        };
        if let Some(id) = &external_id
            && !seen_ids.insert(id.clone())
        {
            c.fail("externalId", UserErrorCode::Duplicate, "this externalId is already in the list");
        }
        if let Some(email) = &member.profile.email
            && !seen_emails.insert(email.clone())
        {
            c.fail("email", UserErrorCode::Duplicate, "this email is already in the list, under another externalId");
        }
        if c.ok() {
            valid.push(member);
        } else {
            errors.extend(c.errors.into_iter().map(|e| RowError {
                index,
                external_id: record.external_id.clone(),
                field: e.field,
                code: e.code,
                message: e.message,
            }));
        }
    }
    valid
}

/// A directory record checked for size, its login name for lookups (trimmed, lower case).
fn directory(d: &Directory, c: &mut Checks) -> Directory {
    let user_name = d.user_name.as_deref().and_then(|u| c.required("userName", u, MAX_USER_NAME));
    if d.attributes.len() > MAX_DIRECTORY {
        c.fail("directory", UserErrorCode::TooLong, format!("the directory's record is over {MAX_DIRECTORY} bytes"));
    }
    Directory { user_name: user_name.map(|u| u.to_lowercase()), attributes: d.attributes.clone() }
}

pub(super) fn row_error(member: &Member, field: &str, code: UserErrorCode, message: &str) -> RowError {
    RowError {
        index: member.index,
        external_id: Some(member.external_id.clone()),
        field: field.to_owned(),
        code,
        message: message.to_owned(),
    }
}

/// What an association sent for a link (`memberships.sent`): the fields of its rows as a
/// [`MemberRecord`] without `externalId` and `active`, merged row over row (a field a row
/// leaves out keeps its value). It is all the association sees of someone who has not
/// confirmed the link.
pub type SentMember = MemberRecord;

impl MemberRecord {
    /// The record stored as `memberships.sent`; `None` when there is none (or it is unreadable).
    pub fn parse_sent(stored: Option<&str>) -> Option<Self> {
        stored.and_then(|text| serde_json::from_str(text).ok())
    }

    /// This record with a member row's fields over it.
    pub(super) fn with(mut self, member: &Member) -> Self {
        let sorted = |tags: &Vec<String>| {
            let mut tags = tags.clone();
            tags.sort();
            tags
        };
        if let Some(v) = &member.profile.email {
            self.email = Some(v.clone());
        }
        if let Some(v) = &member.profile.full_name {
            self.full_name = Some(v.clone());
        }
        if let Some(v) = &member.profile.country_code {
            self.country_code = Some(v.clone());
        }
        if let Some(v) = &member.profile.institution {
            self.institution.clone_from(v);
        }
        if let Some(v) = member.profile.sector {
            self.sector = Some(v.as_str().to_owned());
        }
        if let Some(v) = &member.profile.job_title {
            self.job_title.clone_from(v);
        }
        if let Some(v) = member.profile.years_experience {
            self.years_experience = Some(v);
        }
        if let Some(v) = &member.profile.languages {
            self.languages = Some(sorted(v));
        }
        if let Some(v) = &member.profile.interests {
            self.interests = Some(sorted(v));
        }
        self
    }

    pub(super) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The new `sent` record of a link when a row changes it.
pub(super) fn resent(member: &Member, stored: Option<&str>) -> Option<String> {
    let before = SentMember::parse_sent(stored).unwrap_or_default();
    let after = before.clone().with(member);
    (after != before).then(|| after.to_json())
}

/// A provisioned librarian as the sync compares them.
pub(super) struct Current {
    pub(super) row: librarian::Model,
    pub(super) languages: Vec<String>,
    pub(super) interests: Vec<String>,
}

/// The changes a member row asks of a provisioned librarian; `None` when there are none.
pub(super) fn profile_changes(member: &Member, current: &Current) -> Option<(librarian::Model, Tags)> {
    let mut next = current.row.clone();
    member.profile.apply(&mut next);
    let tags_differ = |new: &Option<Vec<String>>, old: &[String]| {
        new.as_ref().is_some_and(|new| {
            let mut a = new.clone();
            let mut b = old.to_vec();
            a.sort();
            b.sort();
            a != b
        })
    };
    let tags = Tags {
        languages: tags_differ(&member.profile.languages, &current.languages),
        interests: tags_differ(&member.profile.interests, &current.interests),
    };
    (next != current.row || tags.languages || tags.interests).then_some((next, tags))
}

/// Which of a librarian's tag lists a row changes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tags {
    pub(super) languages: bool,
    pub(super) interests: bool,
}
