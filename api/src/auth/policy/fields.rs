//! Fields: which groups of a visible librarian's fields a viewer may read, the same rule
//! as SQL conditions (for filters and orderings on those fields), and a pairing's
//! explanation, which describes its members.

use entities::librarian;
use sea_orm::{ColumnTrait, Condition};

use super::nothing;
use crate::auth::Viewer;

/// Which groups of a visible librarian's fields the viewer may read. The name, country
/// and id of a visible librarian are always readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibrarianAccess {
    /// `email`.
    pub contact: bool,
    /// Institution, sector, job title, experience, languages, interests, bio, consent.
    pub profile: bool,
    /// Version, timestamps, memberships, applications and pairings.
    pub record: bool,
}

impl LibrarianAccess {
    const ALL: Self = Self { contact: true, profile: true, record: true };
    const NONE: Self = Self { contact: false, profile: false, record: false };
}

/// What `viewer` may read of the librarian `row`.
pub fn librarian_access(viewer: &Viewer, row: &librarian::Model) -> LibrarianAccess {
    let listed = row.listed_in_directory;
    match viewer {
        Viewer::Admin { .. } => LibrarianAccess::ALL,
        Viewer::Ambassador { countries, .. } if countries.contains(&row.country_code) => {
            LibrarianAccess { contact: listed, profile: true, record: true }
        }
        // Only members reach an association (the row condition), and it sees all of them.
        Viewer::Association { .. } => LibrarianAccess::ALL,
        Viewer::Librarian { librarian_id, .. } if *librarian_id == row.id => LibrarianAccess::ALL,
        Viewer::Librarian { partners, .. } if partners.contains(&row.id) => {
            LibrarianAccess { contact: true, profile: listed, record: false }
        }
        Viewer::Librarian { .. } => LibrarianAccess { contact: false, profile: listed, record: false },
        Viewer::Ambassador { .. } | Viewer::Anonymous => LibrarianAccess::NONE,
    }
}

/// A group of a librarian's fields, for [`librarians_readable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarianFields {
    Contact,
    Profile,
    Record,
}

/// The visible librarians on which `viewer` may read `fields`, as a condition to add to
/// [`librarians`] (`None`: on every visible row): the SQL twin of [`librarian_access`],
/// which it must agree with. A list may match a filter on a field, or be ordered by it,
/// only on these rows, so that neither a filter nor an ordering (nor its cursor) tells
/// what the field would have refused.
pub fn librarians_readable(viewer: &Viewer, fields: LibrarianFields) -> Option<Condition> {
    use librarian::Column as L;
    let listed = || Condition::all().add(L::ListedInDirectory.eq(true));
    match (viewer, fields) {
        (Viewer::Admin { .. } | Viewer::Association { .. }, _) => None,
        (Viewer::Ambassador { .. }, LibrarianFields::Contact) => Some(listed()),
        (Viewer::Ambassador { .. }, _) => None,
        (Viewer::Librarian { librarian_id, partners, .. }, LibrarianFields::Contact) => {
            let mut ids: Vec<i32> = partners.iter().copied().collect();
            ids.push(*librarian_id);
            Some(Condition::all().add(L::Id.is_in(ids)))
        }
        (Viewer::Librarian { librarian_id, .. }, LibrarianFields::Profile) => {
            Some(Condition::any().add(L::Id.eq(*librarian_id)).add(L::ListedInDirectory.eq(true)))
        }
        (Viewer::Librarian { librarian_id, .. }, LibrarianFields::Record) => {
            Some(Condition::all().add(L::Id.eq(*librarian_id)))
        }
        (Viewer::Anonymous, _) => nothing(),
    }
}

/// Whether the viewer may read the explanation of a pairing whose members it sees as
/// `visible` out of `members`: the explanation names every member's country, languages
/// and interests, so it takes the right to read every member's profile.
pub fn reads_explanation(viewer: &Viewer, members: usize, visible: &[std::sync::Arc<librarian::Model>]) -> bool {
    super::reads_every_profile(viewer)
        || (visible.len() == members && visible.iter().all(|member| librarian_access(viewer, member).profile))
}
