//! Domain types that parse input once, at the edge: global ids, country and language codes,
//! and the enumerations of the data model.

mod action;
mod codes;
pub mod counts;
mod enums;
mod global_id;
pub mod input;
pub mod profile;
pub mod public_ip;

pub use action::Action;
pub use codes::{CountryCode, LanguageCode};
pub use enums::{
    ApplicationStatus, ChangeOperation, DeliveryStatus, LibrarianOrderField, MatchPreference, MembershipConsent,
    MembershipStatus, OrderDirection, PairingOrigin, PairingStatus, Region, RoundStatus, Sector, SyncMode, SyncSource,
};
pub use global_id::{GlobalId, NodeKind};

/// The current time, truncated to microseconds so that SQLite and PostgreSQL store and
/// compare the same value.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
