//! The one place that says who may see what.
//!
//! Rows: each function below gives the SQL condition that restricts a table to what the
//! viewer may see (`None`: everything). Every statement that returns these rows, whether a
//! list, a `totalCount`, `node`, a nested relation or a batch loader, applies it, so hidden
//! rows are simply absent and counts never reveal them.
//!
//! Children of a visible librarian (`Librarian.memberships`, `.applications`,
//! `.pairings`) need less: their parent's visibility and the viewer's right to read its
//! record imply theirs for every role (see [`memberships_of_visible`] for the one
//! exception), so those loaders skip the subqueries that lists need.
//!
//! Fields: a visible librarian may still have fields the viewer may not read
//! ([`LibrarianAccess`]); those answer a `FORBIDDEN` error on that field only.
//!
//! | viewer | librarians | memberships | applications, pairings |
//! |---|---|---|---|
//! | admin | all | all | all |
//! | ambassador | of their countries | of those librarians | of those librarians |
//! | association | its members | its own | of its members |
//! | librarian | self, partners, the directory | own | own |
//! | anonymous | none | none | none |
//!
//! Countries, rounds, associations (as organisations) and ambassador appointments are
//! public programme facts. A certificate is read by id as its recipient's record is
//! ([`certificates`]); anyone holding the unguessable code printed on it may verify it
//! (`certificate(id:)`), so sequential ids open nothing. Discussion topics are shown to
//! admins, and once published to the round's applicants and to ambassadors and
//! associations ([`topics`], on every path: `Round.topics`, `node`, `nodes`). A pairing's
//! explanation names its members' countries and interests: it is read by those who may
//! read every member's profile ([`reads_explanation`]). Round reports (`roundStats`) go
//! to admins, the country's ambassadors and the association itself
//! (`graphql::rounds::round_stats`).

use entities::{
    application, certificate, discussion_topic, engagement_report, librarian, membership, pairing, pairing_member,
};
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, Query, SelectStatement},
};

use super::Viewer;

fn nothing() -> Option<Condition> {
    Some(Condition::all().add(Expr::cust("1 = 0")))
}

/// `SELECT id FROM librarians WHERE country_code IN (..)`
fn librarians_of(countries: &[String]) -> SelectStatement {
    Query::select()
        .column(librarian::Column::Id)
        .from(librarian::Entity)
        .and_where(librarian::Column::CountryCode.is_in(countries.to_vec()))
        .to_owned()
}

/// Only a confirmed membership gives its association a view of the librarian: a link to
/// someone already in the network stays pending until they (or an admin) confirm it.
fn confirmed() -> sea_orm::sea_query::SimpleExpr {
    membership::Column::Consent.eq(crate::domain::MembershipConsent::Confirmed.as_str())
}

/// `SELECT librarian_id FROM memberships WHERE association_id = .. AND consent = 'CONFIRMED'`
fn members_of(association_id: i32) -> SelectStatement {
    Query::select()
        .column(membership::Column::LibrarianId)
        .from(membership::Entity)
        .and_where(membership::Column::AssociationId.eq(association_id))
        .and_where(confirmed())
        .to_owned()
}

/// `SELECT pairing_id FROM pairing_members WHERE librarian_id IN (subquery)`
fn pairings_of(librarians: SelectStatement) -> SelectStatement {
    Query::select()
        .column(pairing_member::Column::PairingId)
        .from(pairing_member::Entity)
        .and_where(pairing_member::Column::LibrarianId.in_subquery(librarians))
        .to_owned()
}

/// The librarians the viewer may see.
pub fn librarians(viewer: &Viewer) -> Option<Condition> {
    match viewer {
        Viewer::Admin { .. } => None,
        Viewer::Ambassador { countries, .. } => {
            Some(Condition::all().add(librarian::Column::CountryCode.is_in(countries.clone())))
        }
        Viewer::Association { association_id, .. } => {
            Some(Condition::all().add(librarian::Column::Id.in_subquery(members_of(*association_id))))
        }
        Viewer::Librarian { librarian_id, partners, .. } => {
            let mut ids: Vec<i32> = partners.iter().copied().collect();
            ids.push(*librarian_id);
            Some(
                Condition::any()
                    .add(librarian::Column::Id.is_in(ids))
                    .add(librarian::Column::ListedInDirectory.eq(true)),
            )
        }
        Viewer::Anonymous => nothing(),
    }
}

/// Whether `viewer` may see the librarian `row`, where the row alone decides it (the same
/// rule as [`librarians`]); `None` where it takes a lookup (an association's members).
///
/// Batch loads by key (`Pairing.members`, librarians by id) filter with this after the
/// fetch instead of adding the condition to the statement: the planners (SQLite's in
/// particular) may otherwise drive the join from the condition's index and read every
/// librarian of the viewer's countries.
pub fn sees_librarian(viewer: &Viewer, row: &librarian::Model) -> Option<bool> {
    match viewer {
        Viewer::Admin { .. } => Some(true),
        Viewer::Ambassador { countries, .. } => Some(countries.contains(&row.country_code)),
        Viewer::Librarian { librarian_id, partners, .. } => {
            Some(row.id == *librarian_id || partners.contains(&row.id) || row.listed_in_directory)
        }
        Viewer::Association { .. } => None,
        Viewer::Anonymous => Some(false),
    }
}

/// The SQL condition a batch load by key still needs after [`sees_librarian`]: only where
/// the row cannot decide.
pub fn librarians_beyond_row(viewer: &Viewer) -> Option<Condition> {
    match viewer {
        Viewer::Association { .. } => librarians(viewer),
        _ => None,
    }
}

/// The librarians of `country` the viewer may see. For an ambassador the country alone
/// decides (all of them or none), so the statement keeps the plan it has without the
/// policy: PostgreSQL misjudges `country_code = $1 AND country_code IN (..)` as far more
/// selective than it is and trades the index-ordered scan for a heap scan and a sort.
pub fn librarians_of_country(viewer: &Viewer, country: &str) -> Option<Condition> {
    match viewer {
        Viewer::Ambassador { countries, .. } if countries.iter().any(|c| c == country) => None,
        Viewer::Ambassador { .. } => nothing(),
        _ => librarians(viewer),
    }
}

/// The memberships the viewer may see.
pub fn memberships(viewer: &Viewer) -> Option<Condition> {
    match viewer {
        Viewer::Admin { .. } => None,
        // An association's claim on someone who has not confirmed it is not shown to
        // the ambassadors who look after that person.
        Viewer::Ambassador { countries, .. } => Some(
            Condition::all()
                .add(membership::Column::LibrarianId.in_subquery(librarians_of(countries)))
                .add(confirmed()),
        ),
        Viewer::Association { association_id, .. } => {
            Some(Condition::all().add(membership::Column::AssociationId.eq(*association_id)))
        }
        Viewer::Librarian { librarian_id, .. } => {
            Some(Condition::all().add(membership::Column::LibrarianId.eq(*librarian_id)))
        }
        Viewer::Anonymous => nothing(),
    }
}

/// The memberships of librarians the viewer can already see (`Librarian.memberships`).
///
/// Visibility of the librarian implies it for their memberships, except that an
/// association sees only its own: this is the only condition left, and it needs no
/// subquery. (The loaders of a librarian's children are only reached through a visible
/// `Librarian` whose record fields the viewer may read.)
pub fn memberships_of_visible(viewer: &Viewer) -> Option<Condition> {
    match viewer {
        Viewer::Association { association_id, .. } => {
            Some(Condition::all().add(membership::Column::AssociationId.eq(*association_id)))
        }
        Viewer::Ambassador { .. } => Some(Condition::all().add(confirmed())),
        _ => None,
    }
}

/// The applications the viewer may see (`librarian_id` is the applicant column).
pub fn applications<C: ColumnTrait>(viewer: &Viewer, librarian_id: C) -> Option<Condition> {
    match viewer {
        Viewer::Admin { .. } => None,
        Viewer::Ambassador { countries, .. } => {
            Some(Condition::all().add(librarian_id.in_subquery(librarians_of(countries))))
        }
        Viewer::Association { association_id, .. } => {
            Some(Condition::all().add(librarian_id.in_subquery(members_of(*association_id))))
        }
        Viewer::Librarian { librarian_id: me, .. } => Some(Condition::all().add(librarian_id.eq(*me))),
        Viewer::Anonymous => nothing(),
    }
}

/// The certificates the viewer may read by id: those of librarians whose records it
/// reads (all for admins, an ambassador's countries', an association's members', a
/// librarian's own). Public verification goes by the certificate's code instead.
pub fn certificates(viewer: &Viewer) -> Option<Condition> {
    applications(viewer, certificate::Column::LibrarianId)
}

/// The engagement reports the viewer may read: a report is its reporter's record (the
/// reporter, their country's ambassadors, their associations, admins); their partners do
/// not read what was said about the pairing.
pub fn engagement_reports(viewer: &Viewer) -> Option<Condition> {
    applications(viewer, engagement_report::Column::LibrarianId)
}

/// The discussion topics the viewer may read at `now`: all for admins; published ones for
/// ambassadors and associations, and for librarians in the rounds they applied to.
pub fn topics(viewer: &Viewer, now: chrono::DateTime<chrono::Utc>) -> Option<Condition> {
    use discussion_topic::Column as C;
    let published = Condition::all().add(C::PublishAt.lte(now));
    match viewer {
        Viewer::Admin { .. } => None,
        Viewer::Anonymous => nothing(),
        Viewer::Ambassador { .. } | Viewer::Association { .. } => Some(published),
        Viewer::Librarian { librarian_id, .. } => Some(
            published.add(
                C::RoundId.in_subquery(
                    Query::select()
                        .column(application::Column::RoundId)
                        .from(application::Entity)
                        .and_where(application::Column::LibrarianId.eq(*librarian_id))
                        .to_owned(),
                ),
            ),
        ),
    }
}

/// Whether the viewer may read the explanation of a pairing whose members it sees as
/// `visible` out of `members`: the explanation names every member's country, languages
/// and interests, so it takes the right to read every member's profile.
pub fn reads_explanation(viewer: &Viewer, members: usize, visible: &[std::sync::Arc<librarian::Model>]) -> bool {
    matches!(viewer, Viewer::Admin { .. })
        || (visible.len() == members && visible.iter().all(|member| librarian_access(viewer, member).profile))
}

/// The pairings the viewer may see: those with a member the viewer looks after.
pub fn pairings(viewer: &Viewer) -> Option<Condition> {
    let members = match viewer {
        Viewer::Admin { .. } => return None,
        Viewer::Anonymous => return nothing(),
        Viewer::Ambassador { countries, .. } => librarians_of(countries),
        Viewer::Association { association_id, .. } => members_of(*association_id),
        Viewer::Librarian { librarian_id, .. } => Query::select().expr(Expr::val(*librarian_id)).to_owned(),
    };
    Some(Condition::all().add(pairing::Column::Id.in_subquery(pairings_of(members))))
}

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

/// The sync runs and webhooks the viewer may see: an association's own, all for admins.
pub fn association_records<C: ColumnTrait>(viewer: &Viewer, association_column: C) -> Option<Condition> {
    match viewer {
        Viewer::Admin { .. } => None,
        Viewer::Association { association_id, .. } => {
            Some(Condition::all().add(association_column.eq(*association_id)))
        }
        _ => nothing(),
    }
}

/// The change-log entries the viewer may follow: those about an entity the viewer may see
/// now or could see when the entry was written (the scope columns and member rows record
/// that moment, see `service::journal`), so a follower also hears of what leaves its view.
///
/// | entries | admin | ambassador | association | librarian |
/// |---|---|---|---|---|
/// | associations, ambassador appointments | all | all | its own record | all |
/// | rounds; topics once published | all | all | all | rounds; topics of their rounds |
/// | a librarian and what they own | all | of their countries | of its members | self |
/// | memberships | all | confirmed, of their countries | its own | own |
/// | pairings | all | with a member of their countries | with a member of its | their own |
/// | a librarian's record | all | of their countries | of its members | partners, the directory |
///
/// (An association follows no other association's record nor ambassador appointments; a
/// topic announced before its publish time is an admin's entry until it is published.)
pub fn changes(viewer: &Viewer) -> Option<Condition> {
    use crate::domain::NodeKind as K;
    use entities::{change_log::Column as C, change_log_member as cm};
    let kinds = |kinds: &[K]| C::EntityType.is_in(kinds.iter().map(|k| k.name()));
    let public = || kinds(&[K::Association, K::Ambassador]);
    let published_topics = || Condition::all().add(C::EntityType.eq(K::DiscussionTopic.name())).add(C::Listed.eq(true));
    let programme = || Condition::any().add(C::EntityType.eq(K::Round.name())).add(published_topics());
    // Entries whose member rows match `rows`.
    let members = |rows: Condition| {
        C::Id.in_subquery(Query::select().column(cm::Column::ChangeId).from(cm::Entity).cond_where(rows).to_owned())
    };
    match viewer {
        Viewer::Admin { .. } => None,
        Viewer::Ambassador { countries, .. } => Some(
            Condition::any()
                .add(public())
                .add(programme())
                .add(C::CountryCode.is_in(countries.clone()))
                .add(C::PreviousCountryCode.is_in(countries.clone()))
                .add(members(
                    Condition::all().add(cm::Column::Partner.eq(false)).add(
                        Condition::any()
                            .add(cm::Column::CountryCode.is_in(countries.clone()))
                            .add(cm::Column::PreviousCountryCode.is_in(countries.clone())),
                    ),
                )),
        ),
        // An association follows its own record, its memberships, its members and what
        // they own, their pairings, and the programme's rounds and topics.
        Viewer::Association { association_id, .. } => Some(
            Condition::any()
                .add(
                    Condition::all().add(C::EntityType.eq(K::Association.name())).add(C::EntityKey.eq(*association_id)),
                )
                .add(C::AssociationId.eq(*association_id))
                .add(
                    Condition::all()
                        .add(kinds(&[K::Librarian, K::Application, K::Certificate, K::EngagementReport]))
                        .add(C::LibrarianId.in_subquery(members_of(*association_id))),
                )
                .add(members(
                    Condition::all()
                        .add(cm::Column::Partner.eq(false))
                        .add(cm::Column::LibrarianId.in_subquery(members_of(*association_id))),
                ))
                .add(programme()),
        ),
        Viewer::Librarian { librarian_id, partners, .. } => {
            let partners: Vec<i32> = partners.iter().copied().collect();
            let their_rounds = Query::select()
                .column(application::Column::RoundId)
                .from(application::Entity)
                .and_where(application::Column::LibrarianId.eq(*librarian_id))
                .to_owned();
            let their_topics = Query::select()
                .column(discussion_topic::Column::Id)
                .from(discussion_topic::Entity)
                .and_where(discussion_topic::Column::RoundId.in_subquery(their_rounds))
                .to_owned();
            Some(
                Condition::any()
                    .add(public())
                    .add(C::EntityType.eq(K::Round.name()))
                    .add(published_topics().add(C::EntityKey.in_subquery(their_topics)))
                    .add(C::LibrarianId.eq(*librarian_id))
                    .add(
                        Condition::all()
                            .add(C::EntityType.eq(K::Librarian.name()))
                            .add(Condition::any().add(C::LibrarianId.is_in(partners)).add(C::Listed.eq(true))),
                    )
                    .add(members(Condition::all().add(cm::Column::LibrarianId.eq(*librarian_id)))),
            )
        }
        Viewer::Anonymous => nothing(),
    }
}

/// The webhook deliveries the viewer may see: of its own webhooks (all for admins).
pub fn webhook_deliveries(viewer: &Viewer) -> Option<Condition> {
    use entities::{webhook, webhook_delivery};
    match viewer {
        Viewer::Admin { .. } => None,
        Viewer::Association { association_id, .. } => Some(
            Condition::all().add(
                webhook_delivery::Column::WebhookId.in_subquery(
                    Query::select()
                        .column(webhook::Column::Id)
                        .from(webhook::Entity)
                        .and_where(webhook::Column::AssociationId.eq(*association_id))
                        .to_owned(),
                ),
            ),
        ),
        _ => nothing(),
    }
}
