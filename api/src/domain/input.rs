//! Validation of mutation input, collecting every problem as a user error (the caller can
//! fix them all at once) instead of stopping at the first.

use super::{CountryCode, LanguageCode};

/// Why a value of the input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserErrorCode {
    /// Malformed: not an email, not an ISO code, out of range...
    Invalid,
    /// Longer than allowed.
    TooLong,
    /// Required and missing or blank.
    Blank,
    /// Already used by another record (an email, an association name).
    Taken,
    /// A referenced object does not exist (or is not visible to the caller).
    NotFound,
    /// Given twice in one request (an external id, an email).
    Duplicate,
    /// The object is not in a state that allows this change.
    NotAllowed,
}

/// One refused value: the input field (as the client named it), a code, and a message.
#[derive(Debug, Clone, PartialEq, Eq, async_graphql::SimpleObject)]
pub struct UserError {
    /// The input field at fault, as the client named it (such as `input.email`), or the
    /// argument for a refusal of the whole change.
    pub field: String,
    /// What kind of refusal it is: stable, for programs to branch on.
    pub code: UserErrorCode,
    /// What is wrong, in words for a person.
    pub message: String,
}

/// Collects user errors while parsing an input.
#[derive(Debug, Default)]
pub struct Checks {
    pub errors: Vec<UserError>,
}

/// Limits of the free-text fields.
pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 200;
pub const MAX_BIO: usize = 2_000;
pub const MAX_EMAIL: usize = 254;
pub const MAX_URL: usize = 300;
pub const MAX_LANGUAGES: usize = 10;
pub const MAX_INTERESTS: usize = 20;
pub const MAX_INTEREST: usize = 50;
pub const MAX_YEARS: i32 = 70;

impl Checks {
    pub fn fail(&mut self, field: &str, code: UserErrorCode, message: impl Into<String>) {
        self.errors.push(UserError { field: field.to_owned(), code, message: message.into() });
    }

    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Refuses text with a NUL character, which no text field stores (PostgreSQL cannot,
    /// and SQLite would hand it to every later reader). GraphQL arguments are refused
    /// whole before this (`graphql::input_text`); here it is a row error of a sync.
    fn no_nul(&mut self, field: &str, value: &str) -> bool {
        if value.contains('\0') {
            self.fail(field, UserErrorCode::Invalid, format!("`{field}` must not contain a NUL character (U+0000)"));
            return false;
        }
        true
    }

    /// Trimmed text of at most `max` characters; blank is `None`.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        if !self.no_nul(field, value) {
            return None;
        }
        let value = value.trim();
        if value.chars().count() > max {
            self.fail(field, UserErrorCode::TooLong, format!("`{field}` takes at most {max} characters"));
            return None;
        }
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// Trimmed, non-blank text of at most `max` characters.
    pub fn required(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let errors = self.errors.len();
        // (NUL is reported by `text`, and then not as blank.)
        let text = self.text(field, value, max);
        if text.is_none() && self.errors.len() == errors {
            self.fail(field, UserErrorCode::Blank, format!("`{field}` must not be blank"));
        }
        text
    }

    /// A valid email address, lower-cased.
    pub fn email(&mut self, field: &str, value: &str) -> Option<String> {
        if !self.no_nul(field, value) {
            return None;
        }
        let value = value.trim().to_lowercase();
        if value.len() > MAX_EMAIL {
            self.fail(field, UserErrorCode::TooLong, format!("`{field}` takes at most {MAX_EMAIL} characters"));
            None
        } else if email_address::EmailAddress::is_valid(&value) {
            Some(value)
        } else {
            self.fail(field, UserErrorCode::Invalid, format!("`{field}` must be an email address"));
            None
        }
    }

    pub fn country(&mut self, field: &str, value: &str) -> Option<String> {
        if !self.no_nul(field, value) {
            return None;
        }
        match CountryCode::parse(field, value) {
            Ok(code) => Some(code.as_str().to_owned()),
            Err(_) => {
                self.fail(field, UserErrorCode::Invalid, format!("`{field}` must be an ISO 3166-1 alpha-2 code"));
                None
            }
        }
    }

    /// Distinct ISO 639-1 codes, at least one, at most [`MAX_LANGUAGES`].
    pub fn languages(&mut self, field: &str, values: &[String]) -> Option<Vec<String>> {
        if values.is_empty() || values.len() > MAX_LANGUAGES {
            self.fail(field, UserErrorCode::Invalid, format!("`{field}` takes 1 to {MAX_LANGUAGES} languages"));
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        for value in values {
            match LanguageCode::parse(field, value) {
                Ok(code) if !out.iter().any(|c| c == code.as_str()) => out.push(code.as_str().to_owned()),
                Ok(_) => {}
                Err(_) => {
                    self.fail(field, UserErrorCode::Invalid, format!("{value:?} is not an ISO 639-1 language code"));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// Distinct lower-case tags, at most [`MAX_INTERESTS`] of at most [`MAX_INTEREST`] characters.
    pub fn interests(&mut self, field: &str, values: &[String]) -> Option<Vec<String>> {
        if values.len() > MAX_INTERESTS {
            self.fail(field, UserErrorCode::Invalid, format!("`{field}` takes at most {MAX_INTERESTS} interests"));
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        for value in values {
            if !self.no_nul(field, value) {
                return None;
            }
            let tag = value.trim().to_lowercase();
            if tag.is_empty() || tag.chars().count() > MAX_INTEREST {
                self.fail(field, UserErrorCode::Invalid, format!("interests are 1 to {MAX_INTEREST} characters"));
                return None;
            }
            if !out.contains(&tag) {
                out.push(tag);
            }
        }
        Some(out)
    }

    pub fn years(&mut self, field: &str, value: i32) -> Option<i32> {
        if (0..=MAX_YEARS).contains(&value) {
            Some(value)
        } else {
            self.fail(field, UserErrorCode::Invalid, format!("`{field}` must be between 0 and {MAX_YEARS}"));
            None
        }
    }

    /// An `http(s)` URL without spaces, at most [`MAX_URL`] characters; blank is `None`.
    pub fn website(&mut self, field: &str, value: &str) -> Option<String> {
        let value = self.text(field, value, MAX_URL)?;
        let ok = (value.starts_with("https://") || value.starts_with("http://"))
            && value.len() > "https://".len()
            && !value.chars().any(char::is_whitespace);
        if ok {
            Some(value)
        } else {
            self.fail(field, UserErrorCode::Invalid, format!("`{field}` must be an http(s) URL"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut c = Checks::default();
        assert_eq!(c.email("email", " Ada@Example.ORG "), Some("ada@example.org".to_owned()));
        assert_eq!(c.email("email", "not an email"), None);
        assert_eq!(c.country("countryCode", "zz"), None);
        assert_eq!(c.country("countryCode", "za"), Some("ZA".to_owned()));
        assert_eq!(
            c.languages("languages", &["EN".into(), "en".into(), "fr".into()]),
            Some(vec!["en".into(), "fr".into()])
        );
        assert_eq!(c.languages("languages", &["xx".into()]), None);
        assert_eq!(c.required("fullName", "   ", MAX_NAME), None);
        assert_eq!(c.text("bio", &"x".repeat(MAX_BIO + 1), MAX_BIO), None);
        assert_eq!(c.years("yearsExperience", 71), None);
        assert_eq!(c.website("website", "ftp://x"), None);
        let codes: Vec<_> = c.errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            [
                ("email", UserErrorCode::Invalid),
                ("countryCode", UserErrorCode::Invalid),
                ("languages", UserErrorCode::Invalid),
                ("fullName", UserErrorCode::Blank),
                ("bio", UserErrorCode::TooLong),
                ("yearsExperience", UserErrorCode::Invalid),
                ("website", UserErrorCode::Invalid),
            ]
        );
    }
}
