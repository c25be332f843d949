//! A librarian's profile fields, said once: what a write may send ([`ProfileInput`]), how
//! it is checked ([`Profile::parse`]) and how it lands on a row ([`Profile::apply`]). Every
//! door that writes a profile (the librarian's own update, an admin's create or update, an
//! association's sync in GraphQL, bulk files or SCIM) goes through these.
//!
//! The GraphQL input objects stay separate types: each is a contract with its own
//! nullability (a create requires what an update may leave out), key (`externalId`) and
//! documentation, and converts into a [`ProfileInput`] in one `From`.

use entities::librarian;
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, IntoActiveModel};

use super::Sector;
use super::input::{Checks, MAX_BIO, MAX_NAME, MAX_TEXT};

/// Profile fields as a client sends them, nothing checked yet; `None` leaves a field as it
/// is, and for optional text an empty string clears it.
#[derive(Debug, Default, Clone)]
pub struct ProfileInput {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub country_code: Option<String>,
    pub institution: Option<String>,
    pub sector: Option<Sector>,
    pub job_title: Option<String>,
    pub years_experience: Option<i32>,
    pub languages: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
    pub bio: Option<String>,
    pub listed_in_directory: Option<bool>,
}

/// A checked [`ProfileInput`]: `None` leaves a field as it is; `Some(None)` clears an
/// optional text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub country_code: Option<String>,
    pub institution: Option<Option<String>>,
    pub sector: Option<Sector>,
    pub job_title: Option<Option<String>>,
    pub years_experience: Option<i32>,
    pub languages: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
    pub bio: Option<Option<String>>,
    pub listed_in_directory: Option<bool>,
}

impl Profile {
    /// Checks every field of `input`, each refusal recorded in `checks` under the field's
    /// GraphQL name; the fields that pass are kept.
    pub fn parse(input: &ProfileInput, checks: &mut Checks) -> Self {
        let c = checks;
        Self {
            full_name: input.full_name.as_deref().and_then(|v| c.required("fullName", v, MAX_NAME)),
            email: input.email.as_deref().and_then(|v| c.email("email", v)),
            country_code: input.country_code.as_deref().and_then(|v| c.country("countryCode", v)),
            institution: input.institution.as_deref().map(|v| c.text("institution", v, MAX_TEXT)),
            sector: input.sector,
            job_title: input.job_title.as_deref().map(|v| c.text("jobTitle", v, MAX_TEXT)),
            years_experience: input.years_experience.and_then(|v| c.years("yearsExperience", v)),
            languages: input.languages.as_deref().and_then(|v| c.languages("languages", v)),
            interests: input.interests.as_deref().and_then(|v| c.interests("interests", v)),
            bio: input.bio.as_deref().map(|v| c.text("bio", v, MAX_BIO)),
            listed_in_directory: input.listed_in_directory,
        }
    }

    /// Sets the fields this profile gives on `row`; the others stay. Languages and
    /// interests live in their own tables and are not touched here.
    pub fn apply(&self, row: &mut librarian::Model) {
        if let Some(v) = &self.full_name {
            row.full_name.clone_from(v);
        }
        if let Some(v) = &self.email {
            row.email.clone_from(v);
        }
        if let Some(v) = &self.country_code {
            row.country_code.clone_from(v);
        }
        if let Some(v) = &self.institution {
            row.institution.clone_from(v);
        }
        if let Some(v) = self.sector {
            v.as_str().clone_into(&mut row.sector);
        }
        if let Some(v) = &self.job_title {
            row.job_title.clone_from(v);
        }
        if let Some(v) = self.years_experience {
            row.years_experience = v;
        }
        if let Some(v) = &self.bio {
            row.bio.clone_from(v);
        }
        if let Some(v) = self.listed_in_directory {
            row.listed_in_directory = v;
        }
    }

    /// A new librarian's row: this profile over the defaults (sector `OTHER`, no years of
    /// experience, not listed in the directory), at version 1; the database gives the id.
    pub fn new_librarian(&self, at: chrono::DateTime<chrono::Utc>) -> librarian::ActiveModel {
        let mut row = librarian::Model {
            id: 0,
            full_name: String::new(),
            email: String::new(),
            country_code: String::new(),
            institution: None,
            sector: Sector::Other.as_str().to_owned(),
            job_title: None,
            years_experience: 0,
            bio: None,
            listed_in_directory: false,
            erased_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        self.apply(&mut row);
        let mut model = row.into_active_model().reset_all();
        model.id = NotSet;
        model
    }

    /// The GraphQL names of the fields this profile sets (for the audit log: no values, no
    /// personal data).
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("fullName", self.full_name.is_some()),
            ("email", self.email.is_some()),
            ("countryCode", self.country_code.is_some()),
            ("institution", self.institution.is_some()),
            ("sector", self.sector.is_some()),
            ("jobTitle", self.job_title.is_some()),
            ("yearsExperience", self.years_experience.is_some()),
            ("languages", self.languages.is_some()),
            ("interests", self.interests.is_some()),
            ("bio", self.bio.is_some()),
            ("listedInDirectory", self.listed_in_directory.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> librarian::Model {
        let at = chrono::Utc::now();
        librarian::Model {
            id: 1,
            full_name: "Ada".into(),
            email: "ada@example.org".into(),
            country_code: "NZ".into(),
            institution: Some("Library".into()),
            sector: "PUBLIC".into(),
            job_title: Some("Librarian".into()),
            years_experience: 3,
            bio: None,
            listed_in_directory: false,
            erased_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_profile_sets_what_it_gives_and_clears_with_an_empty_string() {
        let input = ProfileInput {
            email: Some(" Ada@Example.ORG ".into()),
            job_title: Some(String::new()),
            sector: Some(Sector::Academic),
            years_experience: Some(4),
            ..ProfileInput::default()
        };
        let mut checks = Checks::default();
        let profile = Profile::parse(&input, &mut checks);
        assert!(checks.ok(), "{:?}", checks.errors);
        let mut next = row();
        profile.apply(&mut next);
        assert_eq!(next.job_title, None);
        assert_eq!(next.sector, "ACADEMIC");
        assert_eq!(next.years_experience, 4);
        assert_eq!(next.institution.as_deref(), Some("Library"), "a field left out stays");
        assert_eq!(profile.fields(), ["email", "sector", "jobTitle", "yearsExperience"]);
    }

    #[test]
    fn every_refusal_is_named_by_its_field() {
        let input = ProfileInput {
            full_name: Some("  ".into()),
            country_code: Some("XX".into()),
            years_experience: Some(200),
            languages: Some(vec![]),
            ..ProfileInput::default()
        };
        let mut checks = Checks::default();
        let profile = Profile::parse(&input, &mut checks);
        let fields: Vec<&str> = checks.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["fullName", "countryCode", "yearsExperience", "languages"]);
        assert_eq!(profile.fields(), Vec::<&str>::new(), "nothing refused is kept");
    }
}
