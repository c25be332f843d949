//! The inputs and payloads of the round mutations.

use async_graphql::{ID, InputObject, MaybeUndefined, SimpleObject};
use chrono::{DateTime, Utc};

use std::sync::Arc;

use super::EngagementReport;
use crate::domain::input::UserError;
use crate::domain::{MatchPreference, Sector};
use crate::graphql::types::{Application, DiscussionTopic, Pairing, Round};

/// The payload parts of a write's outcome: the result, or the refusals.
pub(super) fn payload<M, T>(
    outcome: Result<M, Vec<UserError>>,
    wrap: impl FnOnce(M) -> T,
) -> (Option<T>, Vec<UserError>) {
    match outcome {
        Ok(model) => (Some(wrap(model)), Vec::new()),
        Err(errors) => (None, errors),
    }
}

macro_rules! round_payload {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The round as the mutation left it; `null` when it was refused (see `userErrors`).
            pub round: Option<Round>,
            /// What the caller can fix; empty when the mutation was applied.
            pub user_errors: Vec<UserError>,
        }

        impl From<Result<entities::round::Model, Vec<UserError>>> for $name {
            fn from(outcome: Result<entities::round::Model, Vec<UserError>>) -> Self {
                let (round, user_errors) = payload(outcome, |m| Round(Arc::new(m)));
                Self { round, user_errors }
            }
        }
    };
}

round_payload!(CreateRoundPayload, "The new round, in `DRAFT`.");
round_payload!(OpenApplicationsPayload, "The round, now `OPEN` for applications.");
round_payload!(CloseApplicationsPayload, "The round, now `MATCHING`.");
round_payload!(ConfirmPairingsPayload, "The round, now `ACTIVE`, with its proposals confirmed.");
round_payload!(CancelRoundPayload, "The round, now `CANCELLED`.");
round_payload!(SetCountrySharePayload, "The round with its new country share.");

/// A round to create: its name and dates (in order).
#[derive(InputObject)]
pub struct CreateRoundInput {
    /// Unique, at most 100 characters, e.g. "2027 Round 1".
    pub name: String,
    /// When applications open.
    pub applications_open_at: DateTime<Utc>,
    /// When applications close (after they open).
    pub applications_close_at: DateTime<Utc>,
    /// When the pairs start talking (after applications close).
    pub starts_at: DateTime<Utc>,
    /// When the round ends (after it starts).
    pub ends_at: DateTime<Utc>,
    /// The most a country may take of the round's places, in percent (1 to 100); `null`
    /// for no cap. Omitted: the programme's 20%.
    pub country_share: MaybeUndefined<i32>,
}

/// The round a step applies to.
#[derive(InputObject)]
pub struct RoundStepInput {
    /// The round's global id.
    pub round_id: ID,
}

/// A matching run over a round's applicants.
#[derive(InputObject)]
pub struct RunMatchingInput {
    /// The round's global id.
    pub round_id: ID,
    /// Compute and return the proposals without storing anything.
    #[graphql(default = false)]
    pub dry_run: bool,
}

/// Two or three applicants paired by hand.
#[derive(InputObject)]
pub struct PairManuallyInput {
    /// The round's global id.
    pub round_id: ID,
    /// Two or three librarians who applied to the round and are not in one of its pairings.
    pub librarian_ids: Vec<ID>,
    /// Pair them even if the hard rules (different countries, a shared language, never
    /// partners before) forbid it; the explanation records it.
    #[graphql(default = false)]
    pub force: bool,
}

/// A pairing to dissolve.
#[derive(InputObject)]
pub struct DissolvePairingInput {
    /// The pairing's global id.
    pub pairing_id: ID,
}

/// `firstLibrarianId` (of the first pairing) and `secondLibrarianId` (of the second)
/// change places.
#[derive(InputObject)]
pub struct SwapPartnersInput {
    /// The first pairing's global id.
    pub first_pairing_id: ID,
    /// The member of the first pairing who moves to the second.
    pub first_librarian_id: ID,
    /// The second pairing's global id.
    pub second_pairing_id: ID,
    /// The member of the second pairing who moves to the first.
    pub second_librarian_id: ID,
    /// Pair them even where the hard rules (countries, languages) would not.
    #[graphql(default = false)]
    pub force: bool,
}

/// An application. `librarianId` defaults to the calling librarian; an admin, or the
/// librarian's association, applies on their behalf by naming them. Languages and
/// interests default to the profile's. Limits as in `UpdateMyProfileInput`; goal 2,000.
#[derive(InputObject)]
pub struct ApplyToRoundInput {
    /// The round's global id.
    pub round_id: ID,
    /// The applicant's global id: for admins, ambassadors and associations applying for someone; a librarian applies for themself and leaves it out.
    pub librarian_id: Option<ID>,
    /// ISO 639-1 languages the applicant can work in with a partner.
    pub languages: Option<Vec<String>>,
    /// Sectors they would like a partner from.
    #[graphql(default)]
    pub preferred_sectors: Vec<Sector>,
    /// Interests to be matched on (the applicant's profile's when left out).
    pub interests: Option<Vec<String>>,
    /// What they hope to get from the round.
    pub goal: Option<String>,
    /// What they want to be matched by; default `ANY`.
    pub match_preference: Option<MatchPreference>,
}

/// An application to withdraw while its round is open.
#[derive(InputObject)]
pub struct WithdrawApplicationInput {
    /// The application's global id.
    pub application_id: ID,
}

/// A round's country share: a percentage from 1 to 100, or `null` for no cap.
#[derive(InputObject)]
pub struct SetCountryShareInput {
    /// The round's global id.
    pub round_id: ID,
    /// The most a country may take of the round's places, in percent (1 to 100); `null` for no cap.
    pub country_share: Option<i32>,
}

/// A submitted application to defer before matching, with a note for the applicant.
#[derive(InputObject)]
pub struct DeferApplicationInput {
    /// The application's global id.
    pub application_id: ID,
    /// Shown to the applicant, their ambassador and association; at most 2,000 characters.
    pub note: Option<String>,
}

/// A deferred application to take back into its round before matching.
#[derive(InputObject)]
pub struct ReadmitApplicationInput {
    /// The application's global id.
    pub application_id: ID,
}

/// The application after `deferApplication` or `readmitApplication`.
#[derive(SimpleObject)]
pub struct ApplicationPayload {
    /// The application as the mutation left it; `null` when it was refused (see `userErrors`).
    pub application: Option<Application>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// A discussion topic for a round's pairs.
#[derive(InputObject)]
pub struct AddTopicInput {
    /// The round's global id.
    pub round_id: ID,
    /// At most 200 characters.
    pub title: String,
    /// At most 10,000 characters.
    pub body: String,
    /// When the round's participants see it.
    pub publish_at: DateTime<Utc>,
}

/// A participant's report on their pairing.
#[derive(InputObject)]
pub struct ReportEngagementInput {
    /// The pairing's global id.
    pub pairing_id: ID,
    /// Whether the partners met (or talked) since the last report.
    pub met: bool,
    /// 1 (poor) to 5 (excellent).
    pub rating: Option<i32>,
    /// At most 2,000 characters.
    pub comment: Option<String>,
}

/// The result of `applyToRound`.
#[derive(SimpleObject)]
pub struct ApplyToRoundPayload {
    /// The application as it was stored; `null` when it was refused (see `userErrors`).
    pub application: Option<Application>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// The result of `withdrawApplication`.
#[derive(SimpleObject)]
pub struct WithdrawApplicationPayload {
    /// The application, now `WITHDRAWN`; `null` when it was refused (see `userErrors`).
    pub application: Option<Application>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// The result of `pairManually`.
#[derive(SimpleObject)]
pub struct PairManuallyPayload {
    /// The new, `CONFIRMED` pairing; `null` when it was refused (see `userErrors`).
    pub pairing: Option<Pairing>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// The result of `dissolvePairing`.
#[derive(SimpleObject)]
pub struct DissolvePairingPayload {
    /// The pairing, now `DISSOLVED`; `null` when it was refused (see `userErrors`).
    pub pairing: Option<Pairing>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// The result of `swapPartners`.
#[derive(SimpleObject)]
pub struct SwapPartnersPayload {
    /// The two new pairings (the old ones are dissolved); empty when it was refused (see `userErrors`).
    pub pairings: Vec<Pairing>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// The result of `addTopic`.
#[derive(SimpleObject)]
pub struct AddTopicPayload {
    /// The new topic; `null` when it was refused (see `userErrors`).
    pub topic: Option<DiscussionTopic>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// The result of `reportEngagement`.
#[derive(SimpleObject)]
pub struct ReportEngagementPayload {
    /// The stored report; `null` when it was refused (see `userErrors`).
    pub report: Option<EngagementReport>,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}

/// The result of `completeRound`.
#[derive(SimpleObject)]
pub struct CompleteRoundPayload {
    /// The round, now `COMPLETED`; `null` when it was refused (see `userErrors`).
    pub round: Option<Round>,
    /// Certificates issued: one per member of every pairing that was not dissolved.
    pub certificates_issued: i32,
    /// What the caller can fix; empty when the mutation was applied.
    pub user_errors: Vec<UserError>,
}
