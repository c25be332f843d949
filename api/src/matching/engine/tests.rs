use super::*;
use std::collections::HashSet;

const COUNTRIES: &[(&str, &str)] =
    &[("NZ", "OCEANIA"), ("AU", "OCEANIA"), ("KE", "AFRICA"), ("NG", "AFRICA"), ("BR", "AMERICAS"), ("DE", "EUROPE")];
const LANGUAGES: &[&str] = &["en", "fr", "es", "pt"];
const TAGS: &[&str] = &["archives", "open access", "games", "makerspaces", "metadata", "outreach", "children"];
const SECTORS: &[&str] = &["ACADEMIC", "PUBLIC", "SCHOOL", "SPECIAL"];
const PREFERENCES: &[Preference] =
    &[Preference::Any, Preference::Interests, Preference::Sector, Preference::CareerStage];

fn pick(rng: &mut fastrand::Rng, from: &[&str], max: usize) -> Vec<String> {
    let mut items: Vec<String> = (0..rng.usize(..=max)).map(|_| from[rng.usize(..from.len())].to_owned()).collect();
    items.sort();
    items.dedup();
    items
}

/// A random round of `n` applicants over `countries` countries; `past` random past pairs.
fn random_problem(rng: &mut fastrand::Rng, n: usize, countries: usize, past: usize) -> Problem {
    let applicants: Vec<Applicant> = (0..n)
        .map(|i| {
            let (country, region) = COUNTRIES[rng.usize(..countries.min(COUNTRIES.len()))];
            let mut languages = pick(rng, LANGUAGES, 2);
            if languages.is_empty() || rng.u8(..4) > 0 {
                languages.push("en".into());
            }
            Applicant {
                id: 1000 + i as i64 * 7,
                country: country.into(),
                region: Some(region.into()),
                languages,
                interests: pick(rng, TAGS, 4),
                sector: Some(SECTORS[rng.usize(..SECTORS.len())].into()),
                preferred_sectors: pick(rng, SECTORS, 2),
                years_experience: rng.bool().then(|| rng.i32(0..30)),
                preference: PREFERENCES[rng.usize(..PREFERENCES.len())],
            }
        })
        .collect();
    let past_partners = (0..past)
        .map(|_| (applicants[rng.usize(..n)].id, applicants[rng.usize(..n)].id))
        .filter(|(a, b)| a != b)
        .collect();
    Problem { applicants, past_partners, forbidden: Vec::new() }
}

fn exhaustive(n: usize, edges: &[(usize, usize, i64)]) -> i64 {
    fn go(v: usize, used: &mut [bool], w: &[Vec<i64>]) -> i64 {
        let n = used.len();
        if v == n {
            return 0;
        }
        if used[v] {
            return go(v + 1, used, w);
        }
        used[v] = true;
        let mut best = go(v + 1, used, w);
        for u in v + 1..n {
            if !used[u] && w[v][u] > 0 {
                used[u] = true;
                best = best.max(w[v][u] + go(v + 1, used, w));
                used[u] = false;
            }
        }
        used[v] = false;
        best
    }
    let mut w = vec![vec![0; n]; n];
    for &(u, v, x) in edges {
        w[u][v] = x;
        w[v][u] = x;
    }
    go(0, &mut vec![false; n], &w)
}

/// The allowed pairs as edges over indices `0..n` in id order.
fn indexed(problem: &Problem, scoring: &Scoring) -> (Vec<i64>, Vec<(usize, usize, i64)>) {
    let mut ids: Vec<i64> = problem.applicants.iter().map(|a| a.id).collect();
    ids.sort_unstable();
    let at = |id: i64| ids.binary_search(&id).unwrap_or_else(|_| panic!("unknown id {id}"));
    let edges = allowed_pairs(problem, scoring).into_iter().map(|(a, b, w)| (at(a), at(b), w)).collect();
    (ids, edges)
}

fn by_id(problem: &Problem) -> HashMap<i64, &Applicant> {
    problem.applicants.iter().map(|a| (a.id, a)).collect()
}

/// Every group obeys the hard rules, every applicant is in at most one group or
/// unmatched, and the scores add up.
fn assert_valid(problem: &Problem, scoring: &Scoring, outcome: &Outcome) {
    let people = by_id(problem);
    let blocked: HashSet<(i64, i64)> =
        problem.past_partners.iter().chain(&problem.forbidden).map(|&(a, b)| (a.min(b), a.max(b))).collect();
    let mut seen = HashSet::new();
    for group in &outcome.groups {
        assert!((2..=3).contains(&group.members.len()), "{group:?}");
        for (i, a) in group.members.iter().enumerate() {
            assert!(seen.insert(*a), "{a} is in two groups");
            for b in &group.members[i + 1..] {
                let (pa, pb) = (people[a], people[b]);
                assert_ne!(pa.country, pb.country, "{group:?}: same country");
                assert!(pa.languages.iter().any(|l| pb.languages.contains(l)), "{group:?}: no shared language");
                assert!(!blocked.contains(&(*a.min(b), *a.max(b))), "{group:?}: past or forbidden partners");
            }
        }
        let [a, b] = [group.members[0], group.members[1]];
        assert!(group.score >= pair_score(people[&a], people[&b], scoring).expect("allowed").0);
        assert!(!group.explanation.is_empty());
    }
    for u in &outcome.unmatched {
        assert!(seen.insert(u.id), "{} is both unmatched and in a group", u.id);
    }
    assert_eq!(seen.len(), people.len(), "every applicant is accounted for");
}

#[test]
fn groups_obey_the_hard_rules() {
    let mut rng = fastrand::Rng::with_seed(11);
    let scoring = Scoring { candidates: 6, ..Scoring::default() };
    for round in 0..200 {
        let n = rng.usize(2..60);
        let problem = random_problem(&mut rng, n, 1 + round % 6, n / 2);
        let outcome = solve(&problem, &scoring);
        assert_valid(&problem, &scoring, &outcome);
    }
}

#[test]
fn equals_exhaustive_search_on_small_rounds() {
    let mut rng = fastrand::Rng::with_seed(12);
    let complete = Scoring { candidates: 0, ..Scoring::default() };
    let mut checked = 0;
    for round in 0..400 {
        let n = rng.usize(1..=12);
        let past = rng.usize(..4);
        let problem = random_problem(&mut rng, n, 2 + round % 5, past);
        let (_, edges) = indexed(&problem, &complete);
        let best = exhaustive(n, &edges);
        let sparse = Scoring { candidates: 2, ..Scoring::default() };
        for scoring in [&complete, &sparse, &Scoring::default()] {
            let outcome = solve(&problem, scoring);
            assert_eq!(outcome.matching_weight, best, "round {round}: {problem:?}");
            assert_valid(&problem, scoring, &outcome);
        }
        checked += 1;
    }
    assert_eq!(checked, 400);
}

/// `integer-blossom` (an independent implementation: a dense O(n³) solver written from
/// the published algorithm) on the complete graph of allowed pairs. The engine equals it
/// whether it starts from the complete graph or from a sparse one (4 candidates per
/// applicant, priced up to the optimum).
#[test]
fn equals_an_independent_implementation_on_larger_rounds() {
    let mut rng = fastrand::Rng::with_seed(13);
    for (round, n) in [500, 40, 120, 333, 71, 250, 499, 18, 200, 401].into_iter().enumerate() {
        let problem = random_problem(&mut rng, n, 2 + round % 5, n / 3);
        let (_, edges) = indexed(&problem, &Scoring::default());
        let mut matrix = vec![0i64; n * n];
        for &(u, v, w) in &edges {
            matrix[u * n + v] = w;
        }
        let mate = integer_blossom::max_weight_matching(&matrix, n);
        let reference: i64 =
            mate.iter().enumerate().filter_map(|(v, m)| m.filter(|u| v < *u).map(|u| matrix[v * n + u])).sum();
        for candidates in [0, 4] {
            let scoring = Scoring { candidates, ..Scoring::default() };
            let outcome = solve(&problem, &scoring);
            assert_eq!(outcome.matching_weight, reference, "n = {n}, candidates = {candidates}");
            assert_valid(&problem, &scoring, &outcome);
        }
    }
}

/// The sparse start matters: with few candidates the first matching is not optimal for
/// the complete graph, and pricing finds the edges that fix it.
#[test]
fn pricing_turns_a_sparse_matching_into_the_optimum() {
    let mut rng = fastrand::Rng::with_seed(16);
    let mut priced = 0;
    for n in [60, 120, 240] {
        let problem = random_problem(&mut rng, n, 6, n / 4);
        let complete = solve(&problem, &Scoring { candidates: 0, ..Scoring::default() });
        let sparse = solve(&problem, &Scoring { candidates: 2, ..Scoring::default() });
        assert_eq!(sparse.matching_weight, complete.matching_weight, "n = {n}");
        priced += sparse.pricing_rounds;
    }
    assert!(priced > 0, "two candidates per applicant are not enough without pricing");
}

#[test]
fn an_odd_count_gives_exactly_one_group_of_three() {
    let mut rng = fastrand::Rng::with_seed(14);
    for n in [3, 5, 7, 11, 51, 99, 301] {
        let mut problem = random_problem(&mut rng, n, 6, 0);
        for (i, a) in problem.applicants.iter_mut().enumerate() {
            a.languages = vec!["en".into()];
            a.country = COUNTRIES[i % COUNTRIES.len()].0.into();
        }
        let outcome = solve(&problem, &Scoring::default());
        let trios = outcome.groups.iter().filter(|g| g.members.len() == 3).count();
        assert_eq!(trios, 1, "n = {n}");
        assert!(outcome.unmatched.is_empty(), "n = {n}: {:?}", outcome.unmatched);
        assert_eq!(outcome.groups.len(), n / 2);
        assert!(outcome.groups.iter().any(|g| g.explanation.contains("group of three")));
        assert_valid(&problem, &Scoring::default(), &outcome);
    }
    let mut problem = random_problem(&mut rng, 40, 6, 0);
    for a in &mut problem.applicants {
        a.languages = vec!["en".into()];
    }
    let outcome = solve(&problem, &Scoring::default());
    assert!(outcome.groups.iter().all(|g| g.members.len() == 2), "an even count has no group of three");
}

#[test]
fn the_same_input_gives_the_same_result_in_any_order() {
    let mut rng = fastrand::Rng::with_seed(15);
    let problem = random_problem(&mut rng, 300, 6, 100);
    let first = solve(&problem, &Scoring::default());
    for _ in 0..3 {
        let mut shuffled = problem.clone();
        rng.shuffle(&mut shuffled.applicants);
        rng.shuffle(&mut shuffled.past_partners);
        assert_eq!(solve(&shuffled, &Scoring::default()), first);
    }
}

fn person(id: i64, country: &str, languages: &[&str]) -> Applicant {
    Applicant {
        id,
        country: country.into(),
        languages: languages.iter().map(|l| (*l).to_owned()).collect(),
        ..Applicant::default()
    }
}

#[test]
fn applicants_without_a_partner_are_reported_with_the_reason() {
    let problem = Problem {
        applicants: vec![
            person(1, "NZ", &["en"]),
            person(2, "KE", &["en"]),
            person(3, "FR", &["fr"]),
            person(4, "AU", &["en"]),
            person(5, "NG", &["en", "yo"]),
        ],
        past_partners: vec![(4, 1), (4, 2), (4, 5)],
        forbidden: vec![],
    };
    let outcome = solve(&problem, &Scoring::default());
    let reasons: HashMap<i64, UnmatchedReason> = outcome.unmatched.iter().map(|u| (u.id, u.reason)).collect();
    assert_eq!(reasons.get(&3), Some(&UnmatchedReason::NoSharedLanguage));
    assert_eq!(reasons.get(&4), Some(&UnmatchedReason::OnlyPastOrForbiddenPartners));
    assert_eq!(outcome.groups.len(), 1);
    assert_eq!(outcome.groups[0].members.len(), 3, "1, 2 and 5 share English across three countries");

    let alone = Problem { applicants: vec![person(1, "NZ", &["en"]), person(2, "NZ", &["en"])], ..Problem::default() };
    let outcome = solve(&alone, &Scoring::default());
    assert!(outcome.unmatched.iter().all(|u| u.reason == UnmatchedReason::OnlyOwnCountry));
    assert_eq!(outcome.unmatched.len(), 2);

    // 2 and 3 can only pair with 1; one of them gets 1, the other cannot join as a third
    // (they are from the same country).
    let star = Problem {
        applicants: vec![person(1, "NZ", &["en"]), person(2, "KE", &["en"]), person(3, "KE", &["en"])],
        ..Problem::default()
    };
    let outcome = solve(&star, &Scoring::default());
    assert_eq!(outcome.unmatched.len(), 1);
    assert_eq!(outcome.unmatched[0].reason, UnmatchedReason::NoGroupToJoin);

    let forbidden = Problem {
        applicants: vec![person(1, "NZ", &["en"]), person(2, "KE", &["en"])],
        forbidden: vec![(2, 1)],
        ..Problem::default()
    };
    let outcome = solve(&forbidden, &Scoring::default());
    assert!(outcome.groups.is_empty());
    assert!(outcome.unmatched.iter().all(|u| u.reason == UnmatchedReason::OnlyPastOrForbiddenPartners));
}

#[test]
fn the_score_follows_the_documented_scoring() {
    let s = Scoring::default();
    let a = Applicant {
        id: 1,
        country: "NZ".into(),
        region: Some("OCEANIA".into()),
        languages: vec!["en".into(), "mi".into()],
        interests: vec!["games".into(), "Archives".into(), "metadata".into(), "outreach".into()],
        sector: Some("PUBLIC".into()),
        preferred_sectors: vec!["ACADEMIC".into()],
        years_experience: Some(7),
        preference: Preference::Interests,
    };
    let b = Applicant {
        id: 2,
        country: "KE".into(),
        region: Some("AFRICA".into()),
        languages: vec!["sw".into(), "EN".into()],
        interests: vec!["archives".into(), "games".into(), "metadata".into(), "outreach".into()],
        sector: Some("ACADEMIC".into()),
        preferred_sectors: vec![],
        years_experience: Some(12),
        preference: Preference::Sector,
    };
    let (score, explanation) = pair_score(&a, &b, &s).expect("allowed");
    // a pair, 3 (capped) shared interests, a's sector preference, same stage, different
    // regions, a's interests preference met (b's sector preference is not).
    let expected = s.pair
        + 3 * s.shared_interest
        + s.sector_preference
        + s.same_career_stage
        + s.regional_diversity
        + s.preference_met;
    assert_eq!(score, expected);
    for part in [
        "shared language: en",
        "shared interests",
        "prefers the ACADEMIC sector",
        "mid career",
        "regional diversity",
        "asked for shared interests",
    ] {
        assert!(explanation.contains(part), "{part} in {explanation}");
    }
    let same_country = Applicant { country: "NZ".into(), ..b.clone() };
    assert!(pair_score(&a, &same_country, &s).is_none());
    let no_language = Applicant { languages: vec!["sw".into()], ..b };
    assert!(pair_score(&a, &no_language, &s).is_none());
    assert!(Scoring { pair: 0, ..Scoring::default() }.validate().is_err());
    assert!(Scoring { shared_interest: -1, ..Scoring::default() }.validate().is_err());
    assert!(Scoring::default().validate().is_ok());
}

#[test]
fn a_repeated_applicant_is_reported_once() {
    let problem = Problem {
        applicants: vec![person(1, "NZ", &["en"]), person(2, "KE", &["en"]), person(1, "NZ", &["en"])],
        ..Problem::default()
    };
    let outcome = solve(&problem, &Scoring::default());
    assert_eq!(outcome.groups.len(), 1);
    assert_eq!(outcome.unmatched, vec![Unmatched { id: 1, reason: UnmatchedReason::DuplicateApplicant }]);
}
