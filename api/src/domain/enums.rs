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
        Academic => "ACADEMIC",
        Public => "PUBLIC",
        School => "SCHOOL",
        Special => "SPECIAL",
        National => "NATIONAL",
        Archive => "ARCHIVE",
        Museum => "MUSEUM",
        Other => "OTHER",
    }
);

string_enum!(
    /// Continent-level region of a country (ISO 3166 data from the `keshvar` crate).
    Region {
        Africa => "AFRICA",
        Americas => "AMERICAS",
        Antarctica => "ANTARCTICA",
        Asia => "ASIA",
        Europe => "EUROPE",
        Oceania => "OCEANIA",
    }
);

string_enum!(
    /// Where a round is in its life: `DRAFT -> OPEN -> MATCHING -> ACTIVE -> COMPLETED`,
    /// or `CANCELLED`.
    RoundStatus {
        Draft => "DRAFT",
        Open => "OPEN",
        Matching => "MATCHING",
        Active => "ACTIVE",
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
    }
);

string_enum!(
    /// State of an application to a round.
    ApplicationStatus {
        Submitted => "SUBMITTED",
        Withdrawn => "WITHDRAWN",
        Deferred => "DEFERRED",
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
        Proposed => "PROPOSED",
        Active => "ACTIVE",
        Completed => "COMPLETED",
        Dissolved => "DISSOLVED",
    }
);

string_enum!(
    /// Who made a pairing.
    PairingOrigin {
        Algorithm => "ALGORITHM",
        Manual => "MANUAL",
    }
);

string_enum!(
    /// An association membership is active, or a deactivated tombstone.
    MembershipStatus {
        Active => "ACTIVE",
        Deactivated => "DEACTIVATED",
    }
);

string_enum!(
    /// Whether the librarian agreed to a membership. A sync that names someone already in
    /// the network links them `PENDING` until they (or an admin) confirm; a membership
    /// whose sync created its librarian is `CONFIRMED` from the start.
    MembershipConsent {
        Confirmed => "CONFIRMED",
        Pending => "PENDING",
        Declined => "DECLINED",
    }
);

string_enum!(
    /// Fields a librarian list can be sorted by (ties are broken by id).
    LibrarianOrderField {
        Id => "ID",
        Name => "NAME",
        CreatedAt => "CREATED_AT",
        UpdatedAt => "UPDATED_AT",
    }
);

string_enum!(
    /// Sort direction.
    OrderDirection {
        Asc => "ASC",
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
        Graphql => "GRAPHQL",
        Bulk => "BULK",
        Cli => "CLI",
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
