//! Running a round through the API: the life cycle, applications, matching, pairings fixed
//! by hand, topics, engagement, completion and certificates, and the round reports.
//! Admins run rounds; librarians apply (or their association or an admin for them) and
//! report engagement; certificates are public by their verification id.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::engagement_report;

use crate::auth::Viewer;
use crate::auth::policy::{self, ReportOf};
use crate::domain::Action;
use crate::domain::counts::to_i32;
use crate::domain::input::UserError;
use crate::domain::{GlobalId, MatchPreference, NodeKind, Sector};
use crate::error::ApiError;
use crate::graphql::context::{api, viewer};
use crate::graphql::types::{
    Application, Certificate, Country, DiscussionTopic, Librarian, Pairing, Round, country_of, required,
};
use crate::service::applications::{self, Preferences};
use crate::service::country_share;
use crate::service::rounds::{self, MatchingRun, RoundInput};
use crate::service::stats::{self, Scope};

fn round_id(id: &ID) -> async_graphql::Result<i32> {
    Ok(GlobalId::decode_int("roundId", id, NodeKind::Round)?)
}

fn payload<M, T>(outcome: Result<M, Vec<UserError>>, wrap: impl FnOnce(M) -> T) -> (Option<T>, Vec<UserError>) {
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

/// Why the engine could not place an applicant.
// The engine's own reasons, kept in step by the compiler: `remote` derives the conversions.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::matching::engine::UnmatchedReason")]
pub enum UnmatchedReason {
    /// Every other applicant is from the same country.
    OnlyOwnCountry,
    /// No applicant from another country shares a language with them.
    NoSharedLanguage,
    /// Everyone they could be paired with was a past partner or is in a dissolved pairing with them.
    OnlyPastOrForbiddenPartners,
    /// Their possible partners are all taken, and no pair can take them as a third member.
    NoGroupToJoin,
    /// They appear twice.
    DuplicateApplicant,
}

pub struct MatchProposal(rounds::Proposal);

/// A group the engine proposes.
#[Object]
impl MatchProposal {
    /// The two or three librarians.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Librarian>> {
        let ids = self.0.librarian_ids.clone();
        let loaded = crate::graphql::context::loaders(ctx)?.librarian.load_many(ids.clone()).await?;
        Ok(ids.iter().filter_map(|id| loaded.get(id).cloned().map(Librarian)).collect())
    }

    /// How good a match the group is: the sum of the scores of its pairs (one pair for a
    /// pair; for a group of three, the third member's pairs with both others).
    async fn score(&self) -> i32 {
        self.0.score
    }

    /// Which rules and scores made the group, in words.
    async fn explanation(&self) -> &str {
        &self.0.explanation
    }

    /// The stored `PROPOSED` pairing; null on a dry run.
    async fn pairing(&self) -> Option<Pairing> {
        self.0.pairing.clone().map(|p| Pairing(Arc::new(p)))
    }
}

pub struct UnmatchedApplicant(rounds::Left);

/// An applicant without a group, and why.
#[Object]
impl UnmatchedApplicant {
    /// The applicant.
    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Librarian> {
        required(ctx, self.0.librarian_id, |l| &l.librarian).await.map(Librarian)
    }

    /// Why the engine could not place them.
    async fn reason(&self) -> UnmatchedReason {
        self.0.reason.into()
    }

    /// The reason in words.
    async fn message(&self) -> &'static str {
        self.0.reason.describe()
    }
}

/// Figures of a matching run.
#[derive(SimpleObject)]
pub struct MatchingSummary {
    /// Applicants the engine matched (submitted, not already in a pairing made by hand).
    pub applicants: i32,
    /// Librarians in pairings made by hand, which the run kept.
    pub kept: i32,
    /// Groups proposed, pairs and groups of three.
    pub groups: i32,
    /// Of those, groups of three (made when someone would otherwise be left out).
    pub groups_of_three: i32,
    /// Applicants left without a group (see `RunMatchingPayload.unmatched` for why).
    pub unmatched: i32,
    /// The total score of the pairs (before groups of three): the largest among the
    /// matchings that pair the most people.
    pub matching_weight: i64,
    /// Allowed pairs the engine considered (its sparse candidate graph, at the end).
    pub candidate_edges: i32,
    /// Times the engine added edges to its sparse candidate graph and matched again.
    pub pricing_rounds: i32,
    /// Whether the groups are proven the best possible for the complete graph of allowed
    /// pairs: the most people paired, then the largest total score (always so up to
    /// `matching.exact_up_to` applicants, 5,000 by default).
    pub proven_optimal: bool,
    /// Time the engine took.
    pub engine_millis: i32,
}

pub struct RunMatchingPayload {
    run: Option<MatchingRun>,
    user_errors: Vec<UserError>,
}

/// The result of `runMatching`.
#[Object]
impl RunMatchingPayload {
    /// The round it belongs to.
    async fn round(&self) -> Option<Round> {
        self.run.as_ref().map(|r| Round(Arc::new(r.round.clone())))
    }

    /// Whether this was a dry run (nothing stored); `null` when the run was refused.
    async fn dry_run(&self) -> Option<bool> {
        self.run.as_ref().map(|r| r.dry_run)
    }

    /// The groups, by their smallest member id.
    async fn proposals(&self) -> Vec<MatchProposal> {
        self.run.as_ref().map(|r| r.proposals.iter().cloned().map(MatchProposal).collect()).unwrap_or_default()
    }

    /// The applicants left without a group, and why.
    async fn unmatched(&self) -> Vec<UnmatchedApplicant> {
        self.run.as_ref().map(|r| r.unmatched.iter().cloned().map(UnmatchedApplicant).collect()).unwrap_or_default()
    }

    /// The run's figures; `null` when the run was refused (see `userErrors`).
    async fn summary(&self) -> Option<MatchingSummary> {
        self.run.as_ref().map(|r| MatchingSummary {
            applicants: to_i32(r.applicants),
            kept: to_i32(r.kept),
            groups: to_i32(r.proposals.len()),
            groups_of_three: to_i32(r.proposals.iter().filter(|p| p.librarian_ids.len() == 3).count()),
            unmatched: to_i32(r.unmatched.len()),
            matching_weight: r.matching_weight,
            candidate_edges: to_i32(r.candidate_edges),
            pricing_rounds: to_i32(r.pricing_rounds),
            proven_optimal: r.proven_optimal,
            engine_millis: to_i32(r.engine_millis),
        })
    }

    /// What the caller can fix; empty when the mutation was applied.
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }
}

pub struct EngagementReport(pub Arc<engagement_report::Model>);

/// A participant's report on their pairing, read by the participant, their ambassadors and
/// associations, and admins (not by their partners).
#[Object]
impl EngagementReport {
    /// Opaque global id, stable across requests.
    pub async fn id(&self) -> ID {
        crate::graphql::types::gid(NodeKind::EngagementReport, self.0.id)
    }

    /// The participant who reported (`null` when the caller may not see them).
    async fn librarian(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Librarian>> {
        Ok(crate::graphql::context::loaders(ctx)?.librarian.load_one(self.0.librarian_id).await?.map(Librarian))
    }

    /// The pairing reported on (`null` for a caller who may not see it).
    async fn pairing(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Pairing>> {
        Ok(crate::graphql::context::loaders(ctx)?.pairing.load_one(self.0.pairing_id).await?.map(Pairing))
    }

    /// Whether the partners met (or talked) since the last report.
    async fn met(&self) -> bool {
        self.0.met
    }

    /// 1 (poor) to 5 (excellent), when given.
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }

    /// The participant's comment, when given.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }

    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Engagement reported by a report's participants.
#[derive(SimpleObject)]
pub struct EngagementStats {
    /// Engagement reports filed.
    pub reports: i64,
    /// Reports that say the partners met.
    pub met: i64,
    /// The mean of the ratings given (1 to 5); `null` when no report gave one.
    pub average_rating: Option<f64>,
    /// Pairings with a report of a meeting.
    pub engaged_pairings: i64,
    /// Pairings whose reports all say they did not meet.
    pub disengaged_pairings: i64,
}

pub struct PartnerCountry(String, i64);

/// How many partners came from a country.
#[Object]
impl PartnerCountry {
    /// The country.
    async fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<Country> {
        country_of(ctx, &self.0)
    }

    /// How many partners came from it.
    async fn count(&self) -> i64 {
        self.1
    }
}

pub struct RoundStats(stats::RoundStats);

/// A round's figures for a country, an association's members or the network.
#[Object]
impl RoundStats {
    /// Applications (not withdrawn), deferred ones included.
    async fn applicants(&self) -> i64 {
        self.0.applicants
    }

    /// Applications deferred to a later round (by the country share or by hand).
    async fn deferred(&self) -> i64 {
        self.0.deferred
    }

    /// Participants in a pairing that was not dissolved.
    async fn matched(&self) -> i64 {
        self.0.matched
    }

    /// Participants of completed pairings.
    async fn completed(&self) -> i64 {
        self.0.completed
    }

    /// What the participants reported about their pairings.
    async fn engagement(&self) -> EngagementStats {
        let e = &self.0.engagement;
        EngagementStats {
            reports: e.reports,
            met: e.met,
            average_rating: e.average_rating,
            engaged_pairings: e.engaged_pairings,
            disengaged_pairings: e.disengaged_pairings,
        }
    }

    /// The countries of the participants' partners, most partners first.
    async fn partner_countries(&self) -> Vec<PartnerCountry> {
        self.0.partner_countries.iter().map(|(c, n)| PartnerCountry(c.clone(), *n)).collect()
    }
}

/// `roundStats` for `scope`, after checking the viewer may read it: admins everything,
/// an ambassador their countries, an association its own members.
pub async fn round_stats(ctx: &Context<'_>, round: &ID, scope: Scope) -> async_graphql::Result<RoundStats> {
    let of = match &scope {
        Scope::Network => ReportOf::Network,
        Scope::Country(code) => ReportOf::Country(code),
        Scope::Association(id) => ReportOf::Association(*id),
    };
    policy::round_report(viewer(ctx)?, of)?;
    let id = round_id(round)?;
    Ok(RoundStats(stats::round_stats(&api(ctx)?.db, id, &scope).await?))
}

/// Queries about rounds that are not fields of a round.
#[derive(Default)]
pub struct RoundQueries;

#[Object]
impl RoundQueries {
    /// A certificate, by the verification code printed on it (`Certificate.code`): public,
    /// so anyone can check it. It names the recipient, the round and the dates; no contact data.
    async fn certificate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The verification code printed on the certificate (in any case).")] code: String,
    ) -> async_graphql::Result<Option<Certificate>> {
        let found = rounds::certificate_by_code(&api(ctx)?.db, &code).await?;
        Ok(found.map(|c| Certificate(Arc::new(c))))
    }

    /// A round's figures across the network (admins).
    async fn round_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round, by its global id.")] round_id: ID,
    ) -> async_graphql::Result<RoundStats> {
        round_stats(ctx, &round_id, Scope::Network).await
    }
}

/// The mutations that run a round.
#[derive(Default)]
pub struct RoundMutations;

#[Object]
impl RoundMutations {
    /// Admin: a new round, in `DRAFT`.
    async fn create_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: CreateRoundInput,
    ) -> async_graphql::Result<CreateRoundPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let input = RoundInput {
            name: input.name,
            applications_open_at: input.applications_open_at,
            applications_close_at: input.applications_close_at,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            country_share: match input.country_share {
                MaybeUndefined::Undefined => Some(country_share::DEFAULT_COUNTRY_SHARE),
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(share) => Some(share),
            },
        };
        Ok(rounds::create(&api(ctx)?.db, viewer, input).await?.into())
    }

    /// Admin: `DRAFT -> OPEN`: librarians may apply.
    async fn open_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<OpenApplicationsPayload> {
        use crate::domain::RoundStatus::{Draft, Open};
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(rounds::transition(&api(ctx)?.db, viewer, id, Action::OpenApplications, &[Draft], Open).await?.into())
    }

    /// Admin: `OPEN -> MATCHING`: applications close.
    async fn close_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<CloseApplicationsPayload> {
        use crate::domain::RoundStatus::{Matching, Open};
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(rounds::transition(&api(ctx)?.db, viewer, id, Action::CloseApplications, &[Open], Matching).await?.into())
    }

    /// Admin: matches the round's applicants (round `MATCHING`). A run stores its groups as
    /// `PROPOSED` pairings, replacing the proposals of an earlier run; pairings made by hand
    /// are kept, and pairs an admin dissolved are never proposed again. `dryRun` only
    /// returns the groups.
    async fn run_matching(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RunMatchingInput,
    ) -> async_graphql::Result<RunMatchingPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let api = api(ctx)?;
        let outcome = rounds::run_matching(&api.db, viewer, &api.countries, &api.matching, id, input.dry_run).await?;
        let (run, user_errors) = payload(outcome, |r| r);
        Ok(RunMatchingPayload { run, user_errors })
    }

    /// Admin: pairs two or three applicants by hand (`MANUAL`; round `MATCHING` or `ACTIVE`).
    async fn pair_manually(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: PairManuallyInput,
    ) -> async_graphql::Result<PairManuallyPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let ids = input
            .librarian_ids
            .iter()
            .map(|l| GlobalId::decode_int("librarianIds", l, NodeKind::Librarian))
            .collect::<Result<Vec<i32>, _>>()?;
        let api = api(ctx)?;
        let outcome =
            rounds::pair_manually(&api.db, viewer, &api.countries, &api.matching, id, ids, input.force).await?;
        let (pairing, user_errors) = payload(outcome, |m| Pairing(Arc::new(m)));
        Ok(PairManuallyPayload { pairing, user_errors })
    }

    /// Admin: dissolves a pairing (round `MATCHING` or `ACTIVE`). Its members may be paired
    /// again, never with each other in this round.
    async fn dissolve_pairing(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: DissolvePairingInput,
    ) -> async_graphql::Result<DissolvePairingPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("pairingId", &input.pairing_id, NodeKind::Pairing)?;
        let outcome = rounds::dissolve(&api(ctx)?.db, viewer, id).await?;
        let (pairing, user_errors) = payload(outcome, |m| Pairing(Arc::new(m)));
        Ok(DissolvePairingPayload { pairing, user_errors })
    }

    /// Admin: two librarians of two pairings change places; the two new pairings are
    /// `MANUAL`, validated against the hard rules unless `force`.
    async fn swap_partners(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: SwapPartnersInput,
    ) -> async_graphql::Result<SwapPartnersPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let first = GlobalId::decode_int("firstPairingId", &input.first_pairing_id, NodeKind::Pairing)?;
        let second = GlobalId::decode_int("secondPairingId", &input.second_pairing_id, NodeKind::Pairing)?;
        let a = GlobalId::decode_int("firstLibrarianId", &input.first_librarian_id, NodeKind::Librarian)?;
        let b = GlobalId::decode_int("secondLibrarianId", &input.second_librarian_id, NodeKind::Librarian)?;
        let api = api(ctx)?;
        let outcome =
            rounds::swap(&api.db, viewer, &api.countries, &api.matching, (first, a), (second, b), input.force).await?;
        Ok(match outcome {
            Ok((one, two)) => SwapPartnersPayload {
                pairings: vec![Pairing(Arc::new(one)), Pairing(Arc::new(two))],
                user_errors: Vec::new(),
            },
            Err(user_errors) => SwapPartnersPayload { pairings: Vec::new(), user_errors },
        })
    }

    /// Admin: `MATCHING -> ACTIVE`: proposals become active pairings.
    async fn confirm_pairings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<ConfirmPairingsPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(rounds::confirm(&api(ctx)?.db, viewer, id).await?.into())
    }

    /// Admin: `ACTIVE -> COMPLETED`: active pairings complete and each of their members
    /// gets a certificate.
    async fn complete_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<CompleteRoundPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(match rounds::complete(&api(ctx)?.db, viewer, id).await? {
            Ok((model, issued)) => CompleteRoundPayload {
                round: Some(Round(Arc::new(model))),
                certificates_issued: to_i32(issued),
                user_errors: Vec::new(),
            },
            Err(user_errors) => CompleteRoundPayload { round: None, certificates_issued: 0, user_errors },
        })
    }

    /// Admin: cancels a round that has not completed; its pairings are dissolved.
    async fn cancel_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: RoundStepInput,
    ) -> async_graphql::Result<CancelRoundPayload> {
        use crate::domain::RoundStatus::{Active, Cancelled, Draft, Matching, Open};
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let from = [Draft, Open, Matching, Active];
        Ok(rounds::transition(&api(ctx)?.db, viewer, id, Action::CancelRound, &from, Cancelled).await?.into())
    }

    /// Applies to a round while it is `OPEN`: a librarian for themself, an admin or the
    /// member's association on their behalf. One application per librarian per round.
    async fn apply_to_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: ApplyToRoundInput,
    ) -> async_graphql::Result<ApplyToRoundPayload> {
        let viewer = viewer(ctx)?;
        let id = round_id(&input.round_id)?;
        let librarian = match (&input.librarian_id, viewer) {
            (Some(l), _) => GlobalId::decode_int("librarianId", l, NodeKind::Librarian)?,
            (None, Viewer::Librarian { librarian_id, .. }) => *librarian_id,
            (None, Viewer::Anonymous) => return Err(ApiError::Unauthenticated("this needs a token".into()).into()),
            (None, _) => return Err(ApiError::bad_input("librarianId", "name the librarian who applies").into()),
        };
        let prefs = Preferences {
            languages: input.languages,
            preferred_sectors: input.preferred_sectors,
            interests: input.interests,
            goal: input.goal,
            match_preference: input.match_preference,
        };
        let outcome = applications::apply(&api(ctx)?.db, viewer, id, librarian, prefs).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(ApplyToRoundPayload { application, user_errors })
    }

    /// Withdraws an application while the round is `OPEN` (whoever may apply for the librarian).
    async fn withdraw_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: WithdrawApplicationInput,
    ) -> async_graphql::Result<WithdrawApplicationPayload> {
        let viewer = viewer(ctx)?;
        let id = GlobalId::decode_int("applicationId", &input.application_id, NodeKind::Application)?;
        let outcome = applications::withdraw(&api(ctx)?.db, viewer, id).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(WithdrawApplicationPayload { application, user_errors })
    }

    /// Admin: sets the round's country share (round `DRAFT` or `OPEN`): when applications
    /// close, a country's applications beyond that share of the places are `DEFERRED`.
    async fn set_country_share(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: SetCountryShareInput,
    ) -> async_graphql::Result<SetCountrySharePayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        Ok(country_share::set_share(&api(ctx)?.db, viewer, id, input.country_share).await?.into())
    }

    /// Admin: defers a submitted application by hand before matching (round `MATCHING`);
    /// the matching leaves it out and its note tells the applicant why.
    async fn defer_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: DeferApplicationInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("applicationId", &input.application_id, NodeKind::Application)?;
        let outcome = country_share::defer(&api(ctx)?.db, viewer, id, input.note).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(ApplicationPayload { application, user_errors })
    }

    /// Admin: takes a deferred application back into its round before matching (round
    /// `MATCHING`), whatever its country's share.
    async fn readmit_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: ReadmitApplicationInput,
    ) -> async_graphql::Result<ApplicationPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = GlobalId::decode_int("applicationId", &input.application_id, NodeKind::Application)?;
        let outcome = country_share::readmit(&api(ctx)?.db, viewer, id).await?;
        let (application, user_errors) = payload(outcome, |m| Application(Arc::new(m)));
        Ok(ApplicationPayload { application, user_errors })
    }

    /// Admin: a discussion topic, shown to the round's participants from `publishAt`.
    async fn add_topic(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: AddTopicInput,
    ) -> async_graphql::Result<AddTopicPayload> {
        let viewer = viewer(ctx)?;
        policy::admin(viewer)?;
        let id = round_id(&input.round_id)?;
        let outcome = rounds::add_topic(&api(ctx)?.db, viewer, id, &input.title, &input.body, input.publish_at).await?;
        let (topic, user_errors) = payload(outcome, |m| DiscussionTopic(Arc::new(m)));
        Ok(AddTopicPayload { topic, user_errors })
    }

    /// A member of an active pairing reports on it: met or not, a rating, a comment.
    async fn report_engagement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of the input type.")] input: ReportEngagementInput,
    ) -> async_graphql::Result<ReportEngagementPayload> {
        let who = viewer(ctx)?;
        let me = policy::librarian(who)?;
        let id = GlobalId::decode_int("pairingId", &input.pairing_id, NodeKind::Pairing)?;
        let report = rounds::Report { met: input.met, rating: input.rating, comment: input.comment.as_deref() };
        let outcome = rounds::report_engagement(&api(ctx)?.db, who, me, id, report).await?;
        let (report, user_errors) = payload(outcome, |m| EngagementReport(Arc::new(m)));
        Ok(ReportEngagementPayload { report, user_errors })
    }
}
