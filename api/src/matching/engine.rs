//! The peer-matching engine: applicants in, groups of two (or three) out, each with its
//! score and an explanation. Pure code: no database, no async, no clock, no randomness,
//! so the same input always gives the same result.
//!
//! # How a round is matched
//! 1. **Hard rules** decide who *may* be paired: different countries, at least one shared
//!    language, never partners in an earlier round, and not a pair an admin forbade.
//! 2. **Soft score** says how good an allowed pair is ([`Scoring`], every number
//!    configurable under `[matching]` in the settings):
//!    - `pair` points for every pair (a floor for every pair's score; how many people
//!      are paired is decided before any score, see 4);
//!    - `shared_interest` per shared interest, counting at most `max_shared_interests`
//!      (shared interests mattered most in the real programme);
//!    - `sector_preference` for each side whose preferred sectors include the other's sector;
//!    - `same_career_stage` when both are at the same stage (early: under 5 years, mid: 5 to
//!      14, senior: 15 and more);
//!    - `regional_diversity` when the countries are in different regions;
//!    - `preference_met` for each side that asked to be matched by interests, sector or
//!      career stage and got it.
//! 3. **Sparse candidate graph, priced up to the optimum.** Each applicant keeps only their
//!    `candidates` best-scoring allowed partners (ties by id); an edge stays when it is
//!    among the best of either end. Scoring all pairs is the quadratic part, kept cheap
//!    with bit sets and shared out between the cores; the blossom algorithm then runs on
//!    about `n × candidates × 0.8` edges instead of `n²/2`. The sparse graph alone loses
//!    a little (0.15% of the total at 2,000 demo applicants: the applicants everyone ranks
//!    low are best paired with each other, an edge in neither's top list). So the
//!    matching's optimal dual variables *price* every pair left out: a pair whose score
//!    exceeds what the duals of its ends cover could improve the matching and is added
//!    (the most violated first; at most 4 per applicant in the first round, doubling each
//!    round), and the matching runs again, until no pair can. The duals then prove the
//!    result optimal for the complete graph of allowed pairs (linear-programming duality;
//!    see [`super::blossom::max_weight_matching_with_duals`]; the duals are those of the
//!    raised weights of step 4, so they certify the lexicographic objective). Only pairs
//!    whose duals are below both ends' k-th best scores can qualify, so pricing scores few
//!    pairs. The blossom algorithm runs in O(nm log n), so a round is priced to the end up
//!    to `exact_up_to` applicants (20,000: far above any real round; 10,000 applicants take
//!    about 5 s); above it one pricing round is done and [`Outcome::proven_optimal`] says
//!    whether it was enough.
//!    `candidates = 0` starts from the complete graph.
//! 4. **As many pairs as possible, then the best scores**: a lexicographic objective. Every
//!    pair's weight is raised by the same bonus, larger than any gain in the scores can be
//!    ([`super::blossom::cardinality_bonus`]), and the maximum-weight matching of the raised
//!    weights ([`super::blossom`], exact) is a maximum-cardinality matching with the largest
//!    total score among those. Nobody is left without a partner who could have had one.
//! 5. **Groups of three.** Everyone left over who has an allowed partner joins the pair
//!    where they fit best (the largest sum of their scores with both members, both pairs
//!    allowed), one extra member per pair. With an odd number of applicants who can all be
//!    paired, exactly one group of three results.
//! 6. Applicants still left over are reported with the reason ([`UnmatchedReason`]).

use std::cmp::Reverse;
use std::collections::HashMap;

use super::blossom;

/// Career stage by years of experience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Early,
    Mid,
    Senior,
}

impl Stage {
    fn of(years: Option<i32>) -> Option<Self> {
        years.map(|y| match y {
            ..5 => Self::Early,
            5..15 => Self::Mid,
            _ => Self::Senior,
        })
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Early => "early career (under 5 years)",
            Self::Mid => "mid career (5 to 14 years)",
            Self::Senior => "senior (15 years or more)",
        }
    }
}

/// Interns strings to small integers, in first-seen order.
#[derive(Default)]
struct Interner(HashMap<String, usize>);

impl Interner {
    fn id(&mut self, s: &str) -> usize {
        let next = self.0.len();
        *self.0.entry(s.to_owned()).or_insert(next)
    }
}

/// Applicants compiled to bit sets and small integers, so that scoring a pair is a few
/// word operations.
struct Compiled<'a> {
    people: Vec<&'a Applicant>,
    scoring: &'a Scoring,
    country: Vec<u32>,
    region: Vec<Option<u32>>,
    sector: Vec<Option<u32>>,
    stage: Vec<Option<Stage>>,
    /// Bit sets, `lang_words` / `interest_words` words per applicant.
    languages: Vec<u64>,
    lang_words: usize,
    interests: Vec<u64>,
    interest_words: usize,
    /// Bit set of preferred sector ids (sectors are few; more than 64 ids fall back to none).
    preferred: Vec<u64>,
    /// Per applicant, the (few) applicants they must not be paired with, sorted.
    blocked: Vec<Vec<u32>>,
    preference: Vec<Preference>,
}

fn bitset(ids: impl Iterator<Item = usize>, words: usize) -> Vec<u64> {
    let mut set = vec![0u64; words];
    for id in ids {
        set[id / 64] |= 1 << (id % 64);
    }
    set
}

fn intersect_count(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum()
}

impl<'a> Compiled<'a> {
    fn new(people: Vec<&'a Applicant>, problem: &Problem, scoring: &'a Scoring) -> Self {
        let (mut countries, mut regions, mut sectors) = (Interner::default(), Interner::default(), Interner::default());
        let (mut langs, mut tags) = (Interner::default(), Interner::default());
        let country = people.iter().map(|p| countries.id(&p.country) as u32).collect();
        let region = people.iter().map(|p| p.region.as_deref().map(|r| regions.id(r) as u32)).collect();
        let sector = people.iter().map(|p| p.sector.as_deref().map(|s| sectors.id(s) as u32)).collect();
        let lang_ids: Vec<Vec<usize>> =
            people.iter().map(|p| p.languages.iter().map(|l| langs.id(&l.to_ascii_lowercase())).collect()).collect();
        let tag_ids: Vec<Vec<usize>> =
            people.iter().map(|p| p.interests.iter().map(|t| tags.id(&t.to_lowercase())).collect()).collect();
        let pref_ids: Vec<Vec<usize>> =
            people.iter().map(|p| p.preferred_sectors.iter().map(|s| sectors.id(s)).collect()).collect();
        let lang_words = langs.0.len().div_ceil(64).max(1);
        let interest_words = tags.0.len().div_ceil(64).max(1);
        let languages = lang_ids.iter().flat_map(|ids| bitset(ids.iter().copied(), lang_words)).collect();
        let interests = tag_ids.iter().flat_map(|ids| bitset(ids.iter().copied(), interest_words)).collect();
        let preferred = pref_ids
            .iter()
            .map(|ids| if sectors.0.len() > 64 { 0 } else { bitset(ids.iter().copied(), 1)[0] })
            .collect();
        let index: HashMap<i64, u32> = people.iter().enumerate().map(|(i, p)| (p.id, i as u32)).collect();
        let mut blocked = vec![Vec::new(); people.len()];
        for (a, b) in problem.past_partners.iter().chain(&problem.forbidden) {
            if let (Some(&a), Some(&b)) = (index.get(a), index.get(b)) {
                blocked[a as usize].push(b);
                blocked[b as usize].push(a);
            }
        }
        for list in &mut blocked {
            list.sort_unstable();
            list.dedup();
        }
        Self {
            stage: people.iter().map(|p| Stage::of(p.years_experience)).collect(),
            preference: people.iter().map(|p| p.preference).collect(),
            people,
            scoring,
            country,
            region,
            sector,
            languages,
            lang_words,
            interests,
            interest_words,
            preferred,
            blocked,
        }
    }

    fn len(&self) -> usize {
        self.people.len()
    }

    fn langs(&self, i: usize) -> &[u64] {
        &self.languages[i * self.lang_words..(i + 1) * self.lang_words]
    }

    fn tags(&self, i: usize) -> &[u64] {
        &self.interests[i * self.interest_words..(i + 1) * self.interest_words]
    }

    fn shares_language(&self, a: usize, b: usize) -> bool {
        self.langs(a).iter().zip(self.langs(b)).any(|(x, y)| x & y != 0)
    }

    /// Whether the hard rules allow pairing `a` and `b`.
    fn allowed(&self, a: usize, b: usize) -> bool {
        a != b
            && self.country[a] != self.country[b]
            && self.shares_language(a, b)
            && (self.blocked[a].is_empty() || self.blocked[a].binary_search(&(b as u32)).is_err())
    }

    fn wants(&self, who: usize, other: usize) -> bool {
        self.sector[other].is_some_and(|s| s < 64 && self.preferred[who] & (1 << s) != 0)
    }

    /// The score of an allowed pair.
    fn score(&self, a: usize, b: usize) -> i64 {
        let s = self.scoring;
        let shared = i64::from(intersect_count(self.tags(a), self.tags(b)));
        let mut total = s.pair + s.shared_interest * shared.min(s.max_shared_interests);
        let wants = [self.wants(a, b), self.wants(b, a)];
        total += s.sector_preference * wants.iter().filter(|w| **w).count() as i64;
        let same_stage = self.stage[a].is_some() && self.stage[a] == self.stage[b];
        if same_stage {
            total += s.same_career_stage;
        }
        if self.region[a].is_some() && self.region[b].is_some() && self.region[a] != self.region[b] {
            total += s.regional_diversity;
        }
        for (who, got_sector) in [(a, wants[0]), (b, wants[1])] {
            let met = match self.preference[who] {
                Preference::Any => false,
                Preference::Interests => shared > 0,
                Preference::Sector => got_sector,
                Preference::CareerStage => same_stage,
            };
            if met {
                total += s.preference_met;
            }
        }
        total
    }

    /// The score of `a` and `b` in words, naming them by their letters in the group (so an
    /// explanation shows no one's identity).
    fn explain(&self, a: usize, b: usize, labels: [char; 2]) -> Vec<String> {
        let s = self.scoring;
        let (pa, pb) = (self.people[a], self.people[b]);
        let name = |who: usize| if who == a { labels[0] } else { labels[1] };
        let mut parts =
            vec![format!("{} and {}: different countries ({}, {})", labels[0], labels[1], pa.country, pb.country)];
        let languages: Vec<&str> = pa
            .languages
            .iter()
            .filter(|l| pb.languages.iter().any(|m| m.eq_ignore_ascii_case(l)))
            .map(String::as_str)
            .collect();
        parts.push(format!("shared language: {}", languages.join(", ")));
        parts.push(format!("a pair +{}", s.pair));
        let shared: Vec<&str> = pa
            .interests
            .iter()
            .filter(|t| pb.interests.iter().any(|u| u.to_lowercase() == t.to_lowercase()))
            .map(String::as_str)
            .collect();
        if !shared.is_empty() {
            let counted = (shared.len() as i64).min(s.max_shared_interests);
            parts.push(format!("shared interests: {} +{}", shared.join(", "), s.shared_interest * counted));
        }
        for (who, other) in [(a, b), (b, a)] {
            if self.wants(who, other) {
                let sector = self.people[other].sector.as_deref().unwrap_or_default();
                parts.push(format!(
                    "{} prefers the {sector} sector of {} +{}",
                    name(who),
                    name(other),
                    s.sector_preference
                ));
            }
        }
        let same_stage = self.stage[a].is_some() && self.stage[a] == self.stage[b];
        if let (true, Some(stage)) = (same_stage, self.stage[a]) {
            parts.push(format!("same career stage: {} +{}", stage.describe(), s.same_career_stage));
        }
        if let (Some(ra), Some(rb)) = (&pa.region, &pb.region)
            && self.region[a] != self.region[b]
        {
            parts.push(format!("regional diversity: {ra} and {rb} +{}", s.regional_diversity));
        }
        for (who, other) in [(a, b), (b, a)] {
            let (met, what) = match self.people[who].preference {
                Preference::Any => (false, ""),
                Preference::Interests => (!shared.is_empty(), "shared interests"),
                Preference::Sector => (self.wants(who, other), "a preferred sector"),
                Preference::CareerStage => (same_stage, "the same career stage"),
            };
            if met {
                parts.push(format!("{} asked for {what} and got it +{}", name(who), s.preference_met));
            }
        }
        parts.push(format!("score {}", self.score(a, b)));
        parts
    }

    /// Why `i` has no allowed partner at all, or `None` when they have one.
    fn no_partner_reason(&self, i: usize) -> Option<UnmatchedReason> {
        let mut abroad = false;
        let mut speaking = false;
        for j in 0..self.len() {
            if j == i || self.country[j] == self.country[i] {
                continue;
            }
            abroad = true;
            if self.shares_language(i, j) {
                speaking = true;
                if self.allowed(i, j) {
                    return None;
                }
            }
        }
        Some(match (abroad, speaking) {
            (false, _) => UnmatchedReason::OnlyOwnCountry,
            (true, false) => UnmatchedReason::NoSharedLanguage,
            (true, true) => UnmatchedReason::OnlyPastOrForbiddenPartners,
        })
    }
}

/// Matches a round. See the module documentation for the rules and the score.
pub fn solve(problem: &Problem, scoring: &Scoring) -> Outcome {
    // Applicants by id; a repeated id keeps its first entry.
    let mut people: Vec<&Applicant> = problem.applicants.iter().collect();
    people.sort_by_key(|p| p.id);
    let mut unmatched = Vec::new();
    people.dedup_by(|later, earlier| {
        let same = later.id == earlier.id;
        if same {
            unmatched.push(Unmatched { id: later.id, reason: UnmatchedReason::DuplicateApplicant });
        }
        same
    });
    let c = Compiled::new(people, problem, scoring);
    let n = c.len();
    // Match on the sparse graph, then price the absent edges with the optimal duals: add
    // those that could improve the matching and match again, until none can. The result
    // is then the optimum of the complete graph of allowed pairs. Above `exact_up_to`
    // applicants one pricing round is done (the last pricing tells whether it was enough).
    let Candidates { edges, floor } = c.candidate_graph(scoring.candidates);
    let mut graph = Priced { present: edges.iter().map(|&(u, v, _)| (u, v)).collect(), edges, rounds: 0 };
    // First the maximum-weight matching, priced on the complete graph. When it leaves at
    // most one applicant unpaired who has an allowed partner, no augmenting path exists
    // (it would need two), so it already pairs the most people, and being the heaviest of
    // all matchings it is the heaviest of those too: the lexicographic optimum.
    let (mut mate, mut proven_optimal) = graph.match_priced(&c, &floor, scoring, 0);
    let pairable_alone = (0..n).filter(|&x| mate[x].is_none() && c.no_partner_reason(x).is_none()).take(2).count();
    if pairable_alone > 1 {
        // Otherwise every pair's weight is raised by the same bonus, large enough that one
        // more pair outweighs any gain in the scores (see `blossom::cardinality_bonus`): the
        // maximum-weight matching of the raised weights pairs as many people as the hard
        // rules allow, then has the largest total score. It starts from the graph the first
        // pass priced. Each applicant's best candidate is in the graph, so its heaviest
        // edge is the heaviest allowed pair of the round.
        let heaviest = graph.edges.iter().map(|e| e.2).max().unwrap_or(0);
        let bonus = blossom::cardinality_bonus(n, 0, heaviest);
        let start = graph.rounds;
        graph.rounds = 0;
        (mate, proven_optimal) = graph.match_priced(&c, &floor, scoring, bonus.unwrap_or(0));
        graph.rounds += start;
        // Without a bonus (scores too large to raise safely) the cardinality is not
        // guaranteed, so nothing is proven.
        proven_optimal &= bonus.is_some();
    }
    let Priced { edges, rounds: pricing_rounds, .. } = graph;
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut matching_weight = 0;
    for (v, m) in mate.iter().enumerate() {
        if let Some(u) = *m
            && v < u
        {
            groups.push(vec![v, u]);
            matching_weight += c.score(v, u);
        }
    }
    // Groups of three: each left-over applicant who has an allowed partner joins the pair
    // where they fit best; a pair takes one extra member.
    let mut has_third = vec![false; groups.len()];
    for x in (0..n).filter(|&x| mate[x].is_none()) {
        if let Some(reason) = c.no_partner_reason(x) {
            unmatched.push(Unmatched { id: c.people[x].id, reason });
            continue;
        }
        let best = groups
            .iter()
            .enumerate()
            .filter(|(g, pair)| !has_third[*g] && c.allowed(x, pair[0]) && c.allowed(x, pair[1]))
            .map(|(g, pair)| (c.score(x, pair[0]) + c.score(x, pair[1]), Reverse(g)))
            .max();
        match best {
            Some((_, Reverse(g))) => {
                has_third[g] = true;
                groups[g].push(x);
            }
            None => unmatched.push(Unmatched { id: c.people[x].id, reason: UnmatchedReason::NoGroupToJoin }),
        }
    }
    let mut groups: Vec<Group> = groups
        .into_iter()
        .map(|mut members| {
            // Members (and their letters A, B, C) in id order; a group of three keeps its
            // pair first.
            let third = (members.len() == 3).then(|| members[2]);
            members.sort_by_key(|&m| c.people[m].id);
            let letter = |m: usize| char::from(b'A' + members.iter().position(|x| *x == m).unwrap_or(0) as u8);
            let pair: Vec<usize> = members.iter().copied().filter(|m| Some(*m) != third).collect();
            let (a, b) = (pair[0], pair[1]);
            let mut score = c.score(a, b);
            let mut lines = vec![c.explain(a, b, [letter(a), letter(b)]).join("; ")];
            if let Some(x) = third {
                score += c.score(x, a) + c.score(x, b);
                lines.push(format!(
                    "group of three: {} joins as the odd one out, where they fit best ({}; {})",
                    letter(x),
                    c.explain(x, a, [letter(x), letter(a)]).join("; "),
                    c.explain(x, b, [letter(x), letter(b)]).join("; "),
                ));
            }
            let ids: Vec<i64> = members.iter().map(|&m| c.people[m].id).collect();
            Group { members: ids, score, explanation: lines.join(". ") }
        })
        .collect();
    groups.sort_by_key(|g| g.members[0]);
    unmatched.sort_by_key(|u| u.id);
    Outcome { groups, unmatched, matching_weight, candidate_edges: edges.len(), pricing_rounds, proven_optimal }
}

/// The score of every allowed pair among `applicants` (by index into the input, `u < v`),
/// for checks against a reference implementation: the complete candidate graph.
pub fn allowed_pairs(problem: &Problem, scoring: &Scoring) -> Vec<(i64, i64, i64)> {
    let mut people: Vec<&Applicant> = problem.applicants.iter().collect();
    people.sort_by_key(|p| p.id);
    people.dedup_by_key(|p| p.id);
    let c = Compiled::new(people, problem, scoring);
    c.candidate_edges(0).into_iter().map(|(u, v, w)| (c.people[u].id, c.people[v].id, w)).collect()
}

/// Whether the hard rules allow pairing `a` and `b` (different countries, a shared
/// language; past partners and forbidden pairs are the caller's to check), and their score.
pub fn pair_score(a: &Applicant, b: &Applicant, scoring: &Scoring) -> Option<(i64, String)> {
    let problem = Problem { applicants: vec![a.clone(), b.clone()], ..Problem::default() };
    let people: Vec<&Applicant> = problem.applicants.iter().collect();
    let c = Compiled::new(people, &problem, scoring);
    c.allowed(0, 1).then(|| (c.score(0, 1), c.explain(0, 1, ['A', 'B']).join("; ")))
}

mod candidates;
mod model;
mod pricing;
use candidates::Candidates;
pub use model::{Applicant, Group, Outcome, Preference, Problem, Scoring, Unmatched, UnmatchedReason};
use pricing::Priced;

#[cfg(test)]
mod tests;
