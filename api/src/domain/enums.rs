//! The enumerations of the data model. They are stored as their GraphQL names (strings), so
//! the same migrations work on SQLite and PostgreSQL.

use async_graphql::Enum;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and GraphQL) name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Reads a stored value; unknown values (never written by this code) are `None`.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(
    /// The kind of institution a librarian works in.
    Sector {
        /// A university or college library.
        Academic => "ACADEMIC",
        /// A public library serving a town, city or region.
        Public => "PUBLIC",
        /// A school library.
        School => "SCHOOL",
        /// A special library: health, law, business, government or another field.
        Special => "SPECIAL",
        /// A national or state library.
        National => "NATIONAL",
        /// An archive or records office.
        Archive => "ARCHIVE",
        /// A museum library or collection.
        Museum => "MUSEUM",
        /// Anywhere else information professionals work.
        Other => "OTHER",
    }
);

string_enum!(
    /// Continent-level region of a country (ISO 3166 data from the `keshvar` crate).
    Region {
        /// Africa.
        Africa => "AFRICA",
        /// North, Central and South America and the Caribbean.
        Americas => "AMERICAS",
        /// Antarctica.
        Antarctica => "ANTARCTICA",
        /// Asia.
        Asia => "ASIA",
        /// Europe.
        Europe => "EUROPE",
        /// Oceania.
        Oceania => "OCEANIA",
    }
);

string_enum!(
    /// Where a round is in its life: `DRAFT -> OPEN -> MATCHING -> ACTIVE -> COMPLETED`,
    /// or `CANCELLED`.
    RoundStatus {
        /// Being prepared by the programme's directors; not yet taking applications.
        Draft => "DRAFT",
        /// Taking applications.
        Open => "OPEN",
        /// Applications closed; the directors are pairing the applicants.
        Matching => "MATCHING",
        /// Pairings confirmed: the pairs are talking.
        Active => "ACTIVE",
        /// Over; the members of active pairings got their certificates.
        Completed => "COMPLETED",
        /// Called off; its pairings were dissolved.
        Cancelled => "CANCELLED",
    }
);

string_enum!(
    /// State of an application to a round.
    ApplicationStatus {
        /// Made and waiting to be matched.
        Submitted => "SUBMITTED",
        /// Withdrawn by the applicant (or for them) while the round was open.
        Withdrawn => "WITHDRAWN",
        /// Put off to a later round (its `deferral` says why).
        Deferred => "DEFERRED",
        /// The applicant is in one of the round's active pairings.
        Matched => "MATCHED",
    }
);

string_enum!(
    /// What an applicant wants to be matched by.
    MatchPreference {
        /// Any good partner.
        Any => "ANY",
        /// Someone with shared interests.
        Interests => "INTERESTS",
        /// Someone from a preferred sector.
        Sector => "SECTOR",
        /// Someone at a similar career stage.
        CareerStage => "CAREER_STAGE",
    }
);

string_enum!(
    /// State of a pairing: `PROPOSED -> ACTIVE -> COMPLETED`, or `DISSOLVED`.
    PairingStatus {
        /// Proposed by a matching run or made by hand; not yet confirmed.
        Proposed => "PROPOSED",
        /// Confirmed: the partners are talking.
        Active => "ACTIVE",
        /// The round completed with this pairing active.
        Completed => "COMPLETED",
        /// Ended early (by hand, a swap, or a cancelled round); kept for the record.
        Dissolved => "DISSOLVED",
    }
);

string_enum!(
    /// Who made a pairing.
    PairingOrigin {
        /// Proposed by the matching engine.
        Algorithm => "ALGORITHM",
        /// Made by hand by a director (kept by later matching runs).
        Manual => "MANUAL",
    }
);

string_enum!(
    /// An association membership is active, or a deactivated tombstone.
    MembershipStatus {
        /// A current member of the association.
        Active => "ACTIVE",
        /// No longer a member (kept as a tombstone, never deleted).
        Deactivated => "DEACTIVATED",
    }
);

string_enum!(
    /// Whether the librarian agreed to a membership. A sync that names someone already in
    /// the network links them `PENDING` until they (or an admin) confirm; a membership
    /// whose sync created its librarian is `CONFIRMED` from the start.
    MembershipConsent {
        /// The librarian agreed (or the association's sync created their record).
        Confirmed => "CONFIRMED",
        /// Waiting for the librarian (or an admin) to confirm or decline.
        Pending => "PENDING",
        /// The librarian declined; the association does not see them.
        Declined => "DECLINED",
    }
);

string_enum!(
    /// Fields a librarian list can be sorted by (ties are broken by id).
    LibrarianOrderField {
        /// By id: the order of creation.
        Id => "ID",
        /// By full name.
        Name => "NAME",
        /// By when the record was created.
        CreatedAt => "CREATED_AT",
        /// By when the record last changed.
        UpdatedAt => "UPDATED_AT",
    }
);

string_enum!(
    /// Sort direction.
    OrderDirection {
        /// Ascending: smallest, earliest or A first.
        Asc => "ASC",
        /// Descending: largest, latest or Z first.
        Desc => "DESC",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for s in Sector::ALL {
            assert_eq!(Sector::parse(s.as_str()), Some(*s));
        }
        for s in RoundStatus::ALL {
            assert_eq!(RoundStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Sector::parse("nope"), None);
    }
}

string_enum!(
    /// How a membership sync treats members missing from the list.
    SyncMode {
        /// Create, update or reactivate the listed members; leave the others alone.
        Upsert => "UPSERT",
        /// The list is the whole membership: also deactivate members missing from it.
        FullReplace => "FULL_REPLACE",
    }
);

string_enum!(
    /// Where a membership sync came from.
    SyncSource {
        /// The `syncMembers` mutation.
        Graphql => "GRAPHQL",
        /// A member file sent to `POST /bulk/members`.
        Bulk => "BULK",
        /// A member file read by `interlib import members`.
        Cli => "CLI",
        /// A SCIM 2.0 request of the association's identity provider (`/scim/v2/Users`).
        Scim => "SCIM",
    }
);

string_enum!(
    /// What a change-log entry did to its entity.
    ChangeOperation {
        /// Created or changed.
        Upsert => "UPSERT",
        /// Deactivated or ended (kept as a tombstone).
        Deactivate => "DEACTIVATE",
        /// A librarian's personal data was erased.
        Erase => "ERASE",
    }
);

string_enum!(
    /// The state of a webhook delivery.
    DeliveryStatus {
        /// Waiting for its (next) attempt.
        Pending => "PENDING",
        /// The receiver answered 2xx.
        Succeeded => "SUCCEEDED",
        /// Every attempt failed; the events stay readable through `changes`.
        Failed => "FAILED",
    }
);
