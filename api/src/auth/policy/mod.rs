//! The one place that says who may see what, and who may do what.
//!
//! Actions ([`actions`]): the role a mutation or a report needs, with its refusal.
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
//! to admins, the country's ambassadors and the association itself ([`round_report`]).

use entities::{
    application, certificate, discussion_topic, engagement_report, librarian, membership, pairing, pairing_member,
};
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, Query, SelectStatement},
};

use super::Viewer;

mod actions;
mod changes;
mod fields;

pub use actions::{
    ActFor, ReportOf, act_for, act_for_member, admin, applicant, association_or_admin, librarian, librarian_or_admin,
    manages_association, manages_memberships, reads_every_profile, reads_sent_member, report_engagement, round_report,
    self_or_admin, signed_in,
};
pub use changes::changes;
pub use fields::{LibrarianAccess, LibrarianFields, librarian_access, librarians_readable, reads_explanation};

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

/// [`librarians_beyond_row`] for a load of known librarians: `among` narrows an
/// association's membership to them (`membership.librarian_id` among the keys), so the
/// statement reads their memberships only; SQLite would otherwise list the association's
/// whole membership for each load.
pub fn librarians_beyond_row_among(viewer: &Viewer, among: sea_orm::sea_query::Expr) -> Option<Condition> {
    match viewer {
        Viewer::Association { association_id, .. } => Some(
            Condition::all()
                .add(librarian::Column::Id.in_subquery(members_of(*association_id).and_where(among).to_owned())),
        ),
        _ => librarians_beyond_row(viewer),
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
