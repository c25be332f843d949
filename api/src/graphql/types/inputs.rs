//! Input objects of the read API, parsed once into service filters.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use super::CountryCodeScalar;
use crate::domain::{
    CountryCode, GlobalId, LanguageCode, LibrarianOrderField, NodeKind, OrderDirection, PairingStatus, Sector,
};
use crate::error::{ApiError, ApiResult};
use crate::service::filters::{LibrarianFilter, PairingFilter};

const MAX_SEARCH_CHARS: usize = 100;
const MAX_TAG_CHARS: usize = 64;

/// Filters for lists of librarians. All given filters must hold.
#[derive(InputObject, Debug, Default)]
#[graphql(name = "LibrarianFilter")]
pub struct LibrarianFilterInput {
    /// The librarian's country.
    pub country_code: Option<CountryCodeScalar>,
    /// The kind of institution they work in.
    pub sector: Option<Sector>,
    /// ISO 639-1 code of a working language.
    pub language: Option<String>,
    /// An interest tag, e.g. "digital preservation".
    pub interest: Option<String>,
    /// Librarians who applied to this round.
    pub round_id: Option<ID>,
    /// Librarians with an active membership of this association.
    pub association_id: Option<ID>,
    /// Case-insensitive text found in the name or the institution (at most 100 characters).
    pub search: Option<String>,
    /// Only librarians updated at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
}

fn bounded(field: &str, text: Option<String>, max: usize) -> ApiResult<Option<String>> {
    match text {
        Some(t) if t.chars().count() > max => {
            Err(ApiError::bad_input(field, format!("`{field}` must be at most {max} characters")))
        }
        other => Ok(other),
    }
}

impl LibrarianFilterInput {
    /// # Errors
    /// `BAD_USER_INPUT` naming the first malformed filter.
    pub fn parse(self) -> ApiResult<LibrarianFilter> {
        Ok(LibrarianFilter {
            country: self.country_code.map(|c| CountryCode::parse("filter.countryCode", c.as_str())).transpose()?,
            sector: self.sector,
            language: self.language.map(|l| LanguageCode::parse("filter.language", &l)).transpose()?,
            interest: bounded("filter.interest", self.interest, MAX_TAG_CHARS)?,
            round_id: self
                .round_id
                .map(|id| GlobalId::decode_int("filter.roundId", &id, NodeKind::Round))
                .transpose()?,
            association_id: self
                .association_id
                .map(|id| GlobalId::decode_int("filter.associationId", &id, NodeKind::Association))
                .transpose()?,
            search: bounded("filter.search", self.search, MAX_SEARCH_CHARS)?,
            updated_since: self.updated_since,
        })
    }
}

/// Sort order of a librarian list.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct LibrarianOrder {
    /// What to sort by.
    pub field: LibrarianOrderField,
    /// Ascending or descending.
    #[graphql(default_with = "OrderDirection::Asc")]
    pub direction: OrderDirection,
}

/// Filters for lists of pairings. All given filters must hold.
#[derive(InputObject, Debug, Default)]
#[graphql(name = "PairingFilter")]
pub struct PairingFilterInput {
    /// Pairings of this round (its global id).
    pub round_id: Option<ID>,
    /// Pairings in this status.
    pub status: Option<PairingStatus>,
    /// Pairings with a member from this country.
    pub country_code: Option<CountryCodeScalar>,
    /// Pairings of this librarian.
    pub librarian_id: Option<ID>,
}

impl PairingFilterInput {
    /// # Errors
    /// `BAD_USER_INPUT` naming the first malformed filter.
    pub fn parse(self) -> ApiResult<PairingFilter> {
        Ok(PairingFilter {
            round_id: self
                .round_id
                .map(|id| GlobalId::decode_int("filter.roundId", &id, NodeKind::Round))
                .transpose()?,
            status: self.status,
            country: self.country_code.map(|c| CountryCode::parse("filter.countryCode", c.as_str())).transpose()?,
            librarian_id: self
                .librarian_id
                .map(|id| GlobalId::decode_int("filter.librarianId", &id, NodeKind::Librarian))
                .transpose()?,
        })
    }
}
