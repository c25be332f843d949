//! The filters of each list, turned into SQL conditions (subqueries for child tables, so
//! each filter is answered from an index and rows are never duplicated by joins).

use chrono::{DateTime, Utc};
use entities::{
    application, association, audit_log, country, librarian, librarian_interest, librarian_language, membership,
    pairing, pairing_member, round, sync_run, webhook_delivery,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement},
};

use crate::auth::Viewer;
use crate::auth::policy::{self, LibrarianFields};
use crate::domain::{
    ApplicationStatus, CountryCode, GlobalId, LanguageCode, LibrarianOrderField, MembershipConsent, MembershipStatus,
    PairingStatus, Region, RoundStatus, Sector,
};

/// Filters of the librarian lists (`librarians`, `Country.participants`).
#[derive(Debug, Clone, Default)]
pub struct LibrarianFilter {
    pub country: Option<CountryCode>,
    /// Only librarians of this sector.
    pub sector: Option<Sector>,
    pub language: Option<LanguageCode>,
    /// Exact interest tag (tags are stored in lower case).
    pub interest: Option<String>,
    /// Librarians who applied to this round.
    pub round_id: Option<i32>,
    /// Librarians with an active membership of this association.
    pub association_id: Option<i32>,
    /// Case-insensitive substring of the name or the institution.
    pub search: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
}

fn ids_where<C: ColumnTrait>(from: impl sea_orm::sea_query::IntoTableRef, id: C, cond: Condition) -> SelectStatement {
    Query::select().column(id).from(from).cond_where(cond).to_owned()
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `select` restricted by a policy condition (`None`: unrestricted).
pub fn scoped<E: sea_orm::EntityTrait>(select: Select<E>, condition: Option<Condition>) -> Select<E> {
    match condition {
        Some(condition) => select.filter(condition),
        None => select,
    }
}

/// `condition`, on the rows where `viewer` may read `fields` only.
fn where_readable(viewer: &Viewer, fields: LibrarianFields, condition: Condition) -> Condition {
    match policy::librarians_readable(viewer, fields) {
        Some(readable) => Condition::all().add(condition).add(readable),
        None => condition,
    }
}

/// The librarians matching `filter` that `viewer` may see, unordered, and that may be
/// sorted by `order`: a filter matches, and an ordering sorts, only rows on which the
/// viewer may read the field it reads (`policy::librarians_readable`).
pub fn librarians(viewer: &Viewer, filter: &LibrarianFilter, order: LibrarianOrderField) -> Select<librarian::Entity> {
    use librarian::Column as L;
    use policy::LibrarianFields::{Profile, Record};
    let scope = match &filter.country {
        Some(country) => policy::librarians_of_country(viewer, country.as_str()),
        None => policy::librarians(viewer),
    };
    let mut select = scoped(librarian::Entity::find(), scope);
    let readable =
        |select: Select<librarian::Entity>, fields, condition| select.filter(where_readable(viewer, fields, condition));
    if let Some(country) = &filter.country {
        select = select.filter(L::CountryCode.eq(country.as_str()));
    }
    if let Some(sector) = filter.sector {
        select = readable(select, Profile, Condition::all().add(L::Sector.eq(sector.as_str())));
    }
    if let Some(language) = &filter.language {
        let speakers = L::Id.in_subquery(ids_where(
            librarian_language::Entity,
            librarian_language::Column::LibrarianId,
            Condition::all().add(librarian_language::Column::Language.eq(language.as_str())),
        ));
        select = readable(select, Profile, Condition::all().add(speakers));
    }
    if let Some(interest) = &filter.interest {
        let interested = L::Id.in_subquery(ids_where(
            librarian_interest::Entity,
            librarian_interest::Column::LibrarianId,
            Condition::all().add(librarian_interest::Column::Interest.eq(interest.trim().to_lowercase())),
        ));
        select = readable(select, Profile, Condition::all().add(interested));
    }
    if let Some(round_id) = filter.round_id {
        let applicants = L::Id.in_subquery(ids_where(
            application::Entity,
            application::Column::LibrarianId,
            Condition::all().add(application::Column::RoundId.eq(round_id)),
        ));
        select = readable(select, Record, Condition::all().add(applicants));
    }
    if let Some(association_id) = filter.association_id {
        // Only memberships the viewer may see (an association: its own).
        let mut memberships = Condition::all()
            .add(membership::Column::AssociationId.eq(association_id))
            .add(membership::Column::Status.eq(MembershipStatus::Active.as_str()))
            .add(membership::Column::Consent.eq(MembershipConsent::Confirmed.as_str()));
        if let Some(visible) = policy::memberships_of_visible(viewer) {
            memberships = memberships.add(visible);
        }
        let members = L::Id.in_subquery(ids_where(membership::Entity, membership::Column::LibrarianId, memberships));
        select = readable(select, Record, Condition::all().add(members));
    }
    if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = like_pattern(search);
        let matches = |column: L| {
            Expr::expr(Func::lower(Expr::col((librarian::Entity, column))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        // The name is readable wherever the row is; the institution is profile.
        let institution = where_readable(viewer, Profile, Condition::all().add(matches(L::Institution)));
        select = select.filter(Condition::any().add(matches(L::FullName)).add(institution));
    }
    if let Some(since) = filter.updated_since {
        select = readable(select, Record, Condition::all().add(L::UpdatedAt.gte(since)));
    }
    if matches!(order, LibrarianOrderField::CreatedAt | LibrarianOrderField::UpdatedAt)
        && let Some(record) = policy::librarians_readable(viewer, Record)
    {
        select = select.filter(record);
    }
    select
}

/// Filters of the pairing lists.
#[derive(Debug, Clone, Default)]
pub struct PairingFilter {
    /// Only the pairings of this round (its global id).
    pub round_id: Option<i32>,
    /// Only pairings in this status.
    pub status: Option<PairingStatus>,
    /// Pairings with a member from this country.
    pub country: Option<CountryCode>,
    /// Pairings of this librarian.
    pub librarian_id: Option<i32>,
}

/// The pairings matching `filter` that `viewer` may see, unordered.
pub fn pairings(viewer: &Viewer, filter: &PairingFilter) -> Select<pairing::Entity> {
    let mut select = scoped(pairing::Entity::find(), policy::pairings(viewer));
    if let Some(round_id) = filter.round_id {
        select = select.filter(pairing::Column::RoundId.eq(round_id));
    }
    if let Some(status) = filter.status {
        select = select.filter(pairing::Column::Status.eq(status.as_str()));
    }
    // Both filters match on members, so only on members the viewer may see: a pairing
    // whose hidden member is of a country must not be found by that country.
    let visible = || policy::librarians(viewer).unwrap_or_else(Condition::all);
    if let Some(librarian_id) = filter.librarian_id {
        let member = ids_where(
            librarian::Entity,
            librarian::Column::Id,
            Condition::all().add(librarian::Column::Id.eq(librarian_id)).add(visible()),
        );
        select = select.filter(pairing::Column::Id.in_subquery(ids_where(
            pairing_member::Entity,
            pairing_member::Column::PairingId,
            Condition::all().add(pairing_member::Column::LibrarianId.in_subquery(member)),
        )));
    }
    if let Some(country) = &filter.country {
        let of_country = ids_where(
            librarian::Entity,
            librarian::Column::Id,
            Condition::all().add(librarian::Column::CountryCode.eq(country.as_str())).add(visible()),
        );
        select = select.filter(pairing::Column::Id.in_subquery(ids_where(
            pairing_member::Entity,
            pairing_member::Column::PairingId,
            Condition::all().add(pairing_member::Column::LibrarianId.in_subquery(of_country)),
        )));
    }
    select
}

/// Countries, optionally of one region.
pub fn countries(region: Option<Region>) -> Select<country::Entity> {
    let mut select = country::Entity::find();
    if let Some(region) = region {
        select = select.filter(country::Column::Region.eq(region.as_str()));
    }
    select
}

/// Rounds, optionally in one status.
pub fn rounds(status: Option<RoundStatus>) -> Select<round::Entity> {
    let mut select = round::Entity::find();
    if let Some(status) = status {
        select = select.filter(round::Column::Status.eq(status.as_str()));
    }
    select
}

/// Associations, optionally of one country.
pub fn associations(country: Option<&CountryCode>) -> Select<association::Entity> {
    let mut select = association::Entity::find();
    if let Some(country) = country {
        select = select.filter(association::Column::CountryCode.eq(country.as_str()));
    }
    select
}

/// Memberships (of one association) that `viewer` may see, optionally in one status.
pub fn memberships(
    viewer: &Viewer,
    association_id: Option<i32>,
    status: Option<MembershipStatus>,
) -> Select<membership::Entity> {
    let mut select = scoped(membership::Entity::find(), policy::memberships(viewer));
    if let Some(association_id) = association_id {
        select = select.filter(membership::Column::AssociationId.eq(association_id));
    }
    if let Some(status) = status {
        select = select.filter(membership::Column::Status.eq(status.as_str()));
    }
    select
}

/// Applications (to one round) that `viewer` may see, optionally in one status.
pub fn applications(
    viewer: &Viewer,
    round_id: Option<i32>,
    status: Option<ApplicationStatus>,
) -> Select<application::Entity> {
    let mut select =
        scoped(application::Entity::find(), policy::applications(viewer, application::Column::LibrarianId));
    if let Some(round_id) = round_id {
        select = select.filter(application::Column::RoundId.eq(round_id));
    }
    if let Some(status) = status {
        select = select.filter(application::Column::Status.eq(status.as_str()));
    }
    select
}

/// The sync runs of one association that `viewer` may see (its own; all for admins).
pub fn sync_runs(viewer: &Viewer, association_id: i32) -> Select<sync_run::Entity> {
    scoped(sync_run::Entity::find(), policy::association_records(viewer, sync_run::Column::AssociationId))
        .filter(sync_run::Column::AssociationId.eq(association_id))
}

/// The deliveries of one webhook (whoever may read the webhook reads its deliveries).
pub fn webhook_deliveries(webhook_id: i32) -> Select<webhook_delivery::Entity> {
    webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(webhook_id))
}

/// Audit entries, of one object or of all (admins only: see `auth::policy::admin`).
pub fn audit_entries(object: Option<&GlobalId>) -> Select<audit_log::Entity> {
    let select = audit_log::Entity::find();
    match object {
        Some(id) => select.filter(audit_log::Column::ObjectId.eq(GlobalId::encode(id.kind, &id.key))),
        None => select,
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(like_pattern("Ann"), "%ann%");
        assert_eq!(like_pattern("50%_\\"), "%50\\%\\_\\\\%");
    }
}
