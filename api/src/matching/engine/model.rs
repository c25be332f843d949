//! What the engine takes and gives: the scoring, the applicants and the round, the
//! outcome.

use serde::{Deserialize, Serialize};

/// The points of the soft score. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scoring {
    pub pair: i64,
    pub shared_interest: i64,
    pub max_shared_interests: i64,
    pub sector_preference: i64,
    pub same_career_stage: i64,
    pub regional_diversity: i64,
    pub preference_met: i64,
    /// How many best candidates each applicant keeps (0: all).
    pub candidates: usize,
    /// Up to this many applicants the sparse matching is priced up to the optimum of the
    /// complete graph; above it, one pricing round is done.
    pub exact_up_to: usize,
}

impl Default for Scoring {
    fn default() -> Self {
        Self {
            pair: 100,
            shared_interest: 30,
            max_shared_interests: 3,
            sector_preference: 20,
            same_career_stage: 10,
            regional_diversity: 15,
            preference_met: 25,
            candidates: 8,
            exact_up_to: 20_000,
        }
    }
}

impl Scoring {
    /// Checks the numbers: none negative, and small enough that no total can overflow.
    ///
    /// # Errors
    /// A message naming the bad setting.
    pub fn validate(&self) -> Result<(), String> {
        let points = [
            ("pair", self.pair),
            ("shared_interest", self.shared_interest),
            ("max_shared_interests", self.max_shared_interests),
            ("sector_preference", self.sector_preference),
            ("same_career_stage", self.same_career_stage),
            ("regional_diversity", self.regional_diversity),
            ("preference_met", self.preference_met),
        ];
        for (name, value) in points {
            if !(0..=1_000_000).contains(&value) {
                return Err(format!("matching.{name} must be between 0 and 1000000 (got {value})"));
            }
        }
        if self.pair == 0 {
            return Err("matching.pair must be positive: a pair worth nothing is never made".into());
        }
        Ok(())
    }
}

/// What an applicant asked to be matched by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Preference {
    #[default]
    Any,
    Interests,
    Sector,
    CareerStage,
}

/// One applicant, as the engine sees them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Applicant {
    /// A stable key (the librarian's id); results refer to applicants by it.
    pub id: i64,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The country's region, for regional diversity.
    pub region: Option<String>,
    /// ISO 639-1 working languages.
    pub languages: Vec<String>,
    pub interests: Vec<String>,
    pub sector: Option<String>,
    pub preferred_sectors: Vec<String>,
    pub years_experience: Option<i32>,
    pub preference: Preference,
}

/// A round to match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Problem {
    pub applicants: Vec<Applicant>,
    /// Pairs of applicant ids who were partners in an earlier round.
    pub past_partners: Vec<(i64, i64)>,
    /// Pairs of applicant ids that must not be paired (e.g. a pairing an admin dissolved).
    pub forbidden: Vec<(i64, i64)>,
}

/// Why an applicant has no group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnmatchedReason {
    /// Every other applicant is from the same country.
    OnlyOwnCountry,
    /// No applicant from another country shares a language with them.
    NoSharedLanguage,
    /// Everyone they could be paired with was a past partner or a forbidden pair.
    OnlyPastOrForbiddenPartners,
    /// Their possible partners are all taken, and no pair can take them as a third member.
    NoGroupToJoin,
    /// They listed an applicant id twice (the second is left out).
    DuplicateApplicant,
}

impl UnmatchedReason {
    /// In words, for explanations and the CLI.
    pub fn describe(self) -> &'static str {
        match self {
            Self::OnlyOwnCountry => "every other applicant is from the same country",
            Self::NoSharedLanguage => "no applicant from another country shares a language with them",
            Self::OnlyPastOrForbiddenPartners => {
                "everyone they could be paired with was a past partner or is forbidden"
            }
            Self::NoGroupToJoin => "their possible partners are all taken and no pair can take a third member",
            Self::DuplicateApplicant => "the applicant appears twice",
        }
    }
}

/// A group of two or three applicants (ids, ascending) with its score and explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub members: Vec<i64>,
    /// The sum of the scores of its allowed pairs (one for a pair, two for a group of three:
    /// the third member's scores with both others).
    pub score: i64,
    pub explanation: String,
}

/// An applicant without a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unmatched {
    pub id: i64,
    pub reason: UnmatchedReason,
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Groups, by their smallest member id.
    pub groups: Vec<Group>,
    /// By id.
    pub unmatched: Vec<Unmatched>,
    /// The total score of the matching (the pairs, before groups of three): the largest
    /// among the matchings with the most pairs.
    pub matching_weight: i64,
    /// Edges of the candidate graph the matching ran on (after pricing).
    pub candidate_edges: usize,
    /// How many times pricing added edges and the matching ran again (0: the first
    /// sparse matching was already optimal for the complete graph).
    pub pricing_rounds: usize,
    /// Whether the matching is proven optimal for the complete graph of allowed pairs, for
    /// the lexicographic objective (the optimal duals of the raised weights cover every
    /// pair left out). Always so up to `exact_up_to` applicants.
    pub proven_optimal: bool,
}
