//! ISO codes that arrive as strings and are checked once.

use crate::error::{ApiError, ApiResult};

/// An ISO 3166-1 alpha-2 country code, normalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    /// Parses a code given in the argument `field`: an assigned ISO 3166-1 code (the
    /// `keshvar` crate's list, the same one the countries table is seeded from).
    ///
    /// # Errors
    /// `BAD_USER_INPUT` unless it is an assigned alpha-2 code.
    pub fn parse(field: &str, code: &str) -> ApiResult<Self> {
        let code = code.trim();
        if code.len() == 2 && keshvar::Alpha2::try_from(code.to_ascii_uppercase().as_str()).is_ok() {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(ApiError::bad_input(
                field,
                format!("`{field}` must be an ISO 3166-1 alpha-2 country code such as \"ZA\", got {code:?}"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 639-1 language code, normalised to lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageCode(String);

impl LanguageCode {
    /// # Errors
    /// `BAD_USER_INPUT` unless it is an ISO 639-1 code (the `isolang` crate's list).
    pub fn parse(field: &str, code: &str) -> ApiResult<Self> {
        let code = code.trim();
        if code.len() == 2 && isolang::Language::from_639_1(&code.to_ascii_lowercase()).is_some() {
            Ok(Self(code.to_ascii_lowercase()))
        } else {
            Err(ApiError::bad_input(
                field,
                format!("`{field}` must be an ISO 639-1 language code such as \"en\", got {code:?}"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_normalised() {
        assert_eq!(CountryCode::parse("c", " za ").expect("valid").as_str(), "ZA");
        for bad in ["", "Z", "ZAF", "Z1", "ü1"] {
            assert_eq!(
                CountryCode::parse("c", bad).expect_err("invalid").code(),
                crate::error::ErrorCode::BadUserInput
            );
        }
    }

    #[test]
    fn language_codes_are_normalised() {
        assert_eq!(LanguageCode::parse("l", "EN").expect("valid").as_str(), "en");
        assert!(LanguageCode::parse("l", "eng").is_err());
    }
}
