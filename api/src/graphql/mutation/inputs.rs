//! The inputs and payloads of the root mutations, and how each input becomes what its
//! service takes.

use std::sync::Arc;

use async_graphql::{ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::Sector;
use crate::domain::SyncMode;
use crate::domain::input::UserError;
use crate::graphql::types::{
    Ambassador, Association, ChangeEntityType, CountryCodeScalar, Librarian, Membership, Webhook,
};
use crate::service::people::ProfileInput;
use crate::service::sync::MemberRecord;

macro_rules! payload {
    ($name:ident, $field:ident: $ty:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The object as the mutation left it; `null` when it was refused (see `userErrors`).
            pub $field: Option<$ty>,
            /// What the caller can fix; empty when the mutation was applied.
            pub user_errors: Vec<UserError>,
        }

        impl $name {
            pub(super) fn from_outcome<M>(
                outcome: Result<M, Vec<UserError>>,
                wrap: impl FnOnce(Arc<M>) -> $ty,
            ) -> Self {
                match outcome {
                    Ok(model) => Self { $field: Some(wrap(Arc::new(model))), user_errors: Vec::new() },
                    Err(user_errors) => Self { $field: None, user_errors },
                }
            }
        }
    };
}

payload!(SetDirectoryConsentPayload, librarian: Librarian, "The librarian with their new consent.");
payload!(UpdateMyProfilePayload, librarian: Librarian, "The updated profile.");
payload!(EraseLibrarianPayload, librarian: Librarian, "The erased (anonymised) librarian.");
payload!(CreateLibrarianPayload, librarian: Librarian, "The new librarian.");
payload!(CreateAssociationPayload, association: Association, "The new association.");
payload!(UpdateAssociationPayload, association: Association, "The updated association.");
payload!(AppointAmbassadorPayload, ambassador: Ambassador, "The new appointment.");
payload!(EndAmbassadorPayload, ambassador: Ambassador, "The ended appointment.");
payload!(UpdateMembershipPayload, membership: Membership, "The membership as it is now.");
payload!(DeleteWebhookPayload, deleted_webhook_id: ID, "The id of the deleted webhook.");

/// The new webhook and its signing secret, shown this once.
#[derive(SimpleObject)]
pub struct RegisterWebhookPayload {
    /// The new webhook; `null` when it was refused (see `userErrors`).
    pub webhook: Option<Webhook>,
    /// The HMAC-SHA256 key of the `Interlib-Signature` header. Store it now: it is not
    /// shown again.
    pub secret: Option<String>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// One member of an association's list. `externalId` is the association's own member id
/// (the key). A new member needs `email`, `fullName` and `countryCode`; for an existing
/// one, fields left out keep their value. `active: false` deactivates the member.
/// Limits as in `UpdateMyProfileInput`; `externalId` at most 128 characters.
#[derive(InputObject)]
pub struct SyncMemberInput {
    /// The association's own id for the member: what later syncs match on.
    pub external_id: String,
    /// Their email address (unique in the network; at most 254 characters).
    pub email: Option<String>,
    /// The person's full name as they write it (at most 200 characters).
    pub full_name: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<CountryCodeScalar>,
    /// Where they work (at most 200 characters).
    pub institution: Option<String>,
    /// The kind of institution they work in.
    pub sector: Option<Sector>,
    /// Their job title (at most 200 characters).
    pub job_title: Option<String>,
    /// Years in the profession (0 to 70).
    pub years_experience: Option<i32>,
    /// ISO 639-1 codes.
    pub languages: Option<Vec<String>>,
    /// Professional interests, such as `open access` (at most 20, each at most 50 characters).
    pub interests: Option<Vec<String>>,
    /// Whether they are a member now; `false` deactivates the membership (a tombstone).
    #[graphql(default = true)]
    pub active: bool,
}

/// A membership sync. At most 10,000 members per call; larger lists go through
/// `POST /bulk/members` (JSON Lines or CSV).
#[derive(InputObject)]
pub struct SyncMembersInput {
    /// The association whose members these are (its global id).
    pub association_id: ID,
    /// `UPSERT` (the listed members only) or `FULL_REPLACE` (the list is the whole membership).
    #[graphql(default_with = "SyncMode::Upsert")]
    pub mode: SyncMode,
    /// Compute the result without writing anything.
    #[graphql(default = false)]
    pub dry_run: bool,
    /// The members, each by the association's own id.
    pub members: Vec<SyncMemberInput>,
}

/// A membership's new status.
#[derive(InputObject)]
pub struct UpdateMembershipInput {
    /// The membership's global id.
    pub membership_id: ID,
    /// A new external id (unique within the association).
    pub external_id: Option<String>,
    /// `false` deactivates the membership (a tombstone), `true` reactivates it.
    pub active: Option<bool>,
    /// The version the client last read; a stale one is a `CONFLICT` error with `extensions.currentVersion`.
    pub expected_version: Option<i32>,
}

/// A URL that receives an association's change feed.
#[derive(InputObject)]
pub struct RegisterWebhookInput {
    /// The association whose feed the webhook delivers (its global id).
    pub association_id: ID,
    /// An http or https URL that accepts POSTed JSON.
    pub url: String,
    /// The kinds of event to deliver; all when left out.
    pub entity_types: Option<Vec<ChangeEntityType>>,
    /// Start after this feed cursor (replaying what came after it); by default only events
    /// from now on are delivered.
    pub after: Option<String>,
}

/// A webhook to delete.
#[derive(InputObject)]
pub struct DeleteWebhookInput {
    /// The webhook's global id.
    pub webhook_id: ID,
}

/// Whether the caller is listed in the librarians' directory.
#[derive(InputObject)]
pub struct SetDirectoryConsentInput {
    /// Whether to appear in the network's directory.
    pub listed: bool,
}

/// Profile fields to change; omitted fields stay as they are, an empty string clears an
/// optional text. Limits: names and texts 200 characters, bio 2,000, 1 to 10 ISO 639-1
/// languages, up to 20 interests of 50 characters, experience 0 to 70 years.
#[derive(InputObject, Default)]
pub struct UpdateMyProfileInput {
    /// The person's full name as they write it (at most 200 characters).
    pub full_name: Option<String>,
    /// Their email address (unique in the network; at most 254 characters).
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<CountryCodeScalar>,
    /// Where they work (at most 200 characters).
    pub institution: Option<String>,
    /// The kind of institution they work in.
    pub sector: Option<Sector>,
    /// Their job title (at most 200 characters).
    pub job_title: Option<String>,
    /// Years in the profession (0 to 70).
    pub years_experience: Option<i32>,
    /// ISO 639-1 codes of the languages they can work in with a partner (1 to 10).
    pub languages: Option<Vec<String>>,
    /// Professional interests, such as `open access` (at most 20, each at most 50 characters).
    pub interests: Option<Vec<String>>,
    /// A few words about themselves (at most 2,000 characters).
    pub bio: Option<String>,
    /// The version the client last read; a stale one is a `CONFLICT` error with `extensions.currentVersion`.
    pub expected_version: Option<i32>,
}

/// A librarian whose personal data is erased.
#[derive(InputObject)]
pub struct EraseLibrarianInput {
    /// The librarian's global id.
    pub librarian_id: ID,
}

/// A new librarian; the same limits as `UpdateMyProfileInput`.
#[derive(InputObject)]
pub struct CreateLibrarianInput {
    /// The person's full name as they write it (at most 200 characters).
    pub full_name: String,
    /// Their email address (unique in the network; at most 254 characters).
    pub email: String,
    /// An ISO 3166-1 alpha-2 country code, such as `ZA`.
    pub country_code: CountryCodeScalar,
    /// The kind of institution they work in.
    pub sector: Sector,
    /// ISO 639-1 codes of the languages they can work in with a partner (1 to 10).
    pub languages: Vec<String>,
    /// Where they work (at most 200 characters).
    pub institution: Option<String>,
    /// Their job title (at most 200 characters).
    pub job_title: Option<String>,
    /// Years in the profession (0 to 70).
    pub years_experience: Option<i32>,
    /// Professional interests, such as `open access` (at most 20, each at most 50 characters).
    pub interests: Option<Vec<String>>,
    /// A few words about themselves (at most 2,000 characters).
    pub bio: Option<String>,
    /// Whether other librarians may find their profile in the directory.
    #[graphql(default = false)]
    pub listed_in_directory: bool,
}

/// A new partner association.
#[derive(InputObject)]
pub struct CreateAssociationInput {
    /// Unique, at most 200 characters.
    pub name: String,
    /// The association's country (an ISO 3166-1 alpha-2 code).
    pub country_code: CountryCodeScalar,
    /// An http(s) URL.
    pub website: Option<String>,
}

/// Changes to an association; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateAssociationInput {
    /// The association's global id.
    pub association_id: ID,
    /// The association's name (at most 200 characters).
    pub name: Option<String>,
    /// The association's country (an ISO 3166-1 alpha-2 code).
    pub country_code: Option<CountryCodeScalar>,
    /// An http(s) URL; an empty string clears it.
    pub website: Option<String>,
}

/// A librarian appointed ambassador of a country.
#[derive(InputObject)]
pub struct AppointAmbassadorInput {
    /// The librarian to appoint (their global id).
    pub librarian_id: ID,
    /// The country they look after (an ISO 3166-1 alpha-2 code).
    pub country_code: CountryCodeScalar,
    /// Default: now.
    pub term_from: Option<DateTime<Utc>>,
    /// Default: open-ended.
    pub term_until: Option<DateTime<Utc>>,
}

/// An ambassador appointment to end now.
#[derive(InputObject)]
pub struct EndAmbassadorInput {
    /// The ambassador appointment's global id.
    pub ambassador_id: ID,
    /// Default: now.
    pub term_until: Option<DateTime<Utc>>,
}

impl From<UpdateMyProfileInput> for ProfileInput {
    fn from(input: UpdateMyProfileInput) -> Self {
        Self {
            full_name: input.full_name,
            email: input.email,
            country_code: input.country_code.map(String::from),
            institution: input.institution,
            sector: input.sector,
            job_title: input.job_title,
            years_experience: input.years_experience,
            languages: input.languages,
            interests: input.interests,
            bio: input.bio,
            listed_in_directory: None,
        }
    }
}

impl From<CreateLibrarianInput> for ProfileInput {
    fn from(input: CreateLibrarianInput) -> Self {
        Self {
            full_name: Some(input.full_name),
            email: Some(input.email),
            country_code: Some(input.country_code.into()),
            institution: input.institution,
            sector: Some(input.sector),
            job_title: input.job_title,
            years_experience: input.years_experience,
            languages: Some(input.languages),
            interests: input.interests,
            bio: input.bio,
            listed_in_directory: Some(input.listed_in_directory),
        }
    }
}

impl From<SyncMemberInput> for MemberRecord {
    fn from(m: SyncMemberInput) -> Self {
        Self {
            external_id: Some(m.external_id),
            email: m.email,
            full_name: m.full_name,
            country_code: m.country_code.map(String::from),
            institution: m.institution,
            sector: m.sector.map(|s| s.as_str().to_owned()),
            job_title: m.job_title,
            years_experience: m.years_experience,
            languages: m.languages,
            interests: m.interests,
            active: Some(m.active),
            ..Self::default()
        }
    }
}
