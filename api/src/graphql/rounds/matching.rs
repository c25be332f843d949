//! What a matching run answers: proposals, the applicants left unmatched and why, and
//! the run's summary.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, SimpleObject};

use crate::domain::counts::to_i32;
use crate::domain::input::UserError;
use crate::graphql::types::{Librarian, Pairing, Round, required};
use crate::service::rounds::{self, MatchingRun};

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
        Ok(ids.iter().filter_map(|id| loaded.get(id).cloned().map(Librarian::from)).collect())
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
        required(ctx, self.0.librarian_id, |l| &l.librarian).await.map(Librarian::from)
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
    /// `matching.exact_up_to` applicants, 20,000 by default).
    pub proven_optimal: bool,
    /// Time the engine took.
    pub engine_millis: i32,
}

pub struct RunMatchingPayload {
    pub(super) run: Option<MatchingRun>,
    pub(super) user_errors: Vec<UserError>,
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
