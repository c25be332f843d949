//! The solver against exhaustive search, the O(n³) reference and its own certificate.

use super::*;

/// The best total weight by trying every matching (small graphs only).
fn brute_force(n: usize, edges: &[Edge]) -> i64 {
    fn go(v: usize, n: usize, used: &mut Vec<bool>, w: &[Vec<i64>]) -> i64 {
        if v == n {
            return 0;
        }
        if used[v] {
            return go(v + 1, n, used, w);
        }
        used[v] = true;
        let mut best = go(v + 1, n, used, w);
        for u in v + 1..n {
            if !used[u] && w[v][u] > 0 {
                used[u] = true;
                best = best.max(w[v][u] + go(v + 1, n, used, w));
                used[u] = false;
            }
        }
        used[v] = false;
        best
    }
    let mut w = vec![vec![0; n]; n];
    for &(u, v, wt) in edges {
        w[u][v] = w[u][v].max(wt);
        w[v][u] = w[u][v];
    }
    go(0, n, &mut vec![false; n], &w)
}

fn total(edges: &[Edge], mate: &[Option<usize>]) -> i64 {
    let mut sum = 0;
    for (v, m) in mate.iter().enumerate() {
        if let Some(u) = *m {
            assert_eq!(mate[u], Some(v), "the matching is symmetric");
            if v < u {
                sum += edges
                    .iter()
                    .filter(|&&(a, b, _)| (a == v && b == u) || (a == u && b == v))
                    .map(|e| e.2)
                    .max()
                    .expect("a matched pair is an edge");
            }
        }
    }
    sum
}

/// Random sparse graphs: each vertex a few random partners, weights from narrow (many
/// ties) to wide, some in several parts.
fn random_graph(rng: &mut fastrand::Rng, n: usize, degree: usize, top: i64) -> Vec<Edge> {
    let mut seen = std::collections::HashSet::new();
    let mut edges = Vec::new();
    for u in 0..n {
        for _ in 0..degree {
            let v = rng.usize(0..n);
            if u != v && seen.insert((u.min(v), u.max(v))) {
                edges.push((u, v, rng.i64(1..=top)));
            }
        }
    }
    edges
}

#[test]
fn agrees_with_the_reference_solver_and_proves_it_optimal() {
    let mut rng = fastrand::Rng::with_seed(21);
    for case in 0..500 {
        let n = rng.usize(2..=if case % 10 == 0 { 500 } else { 60 });
        let degree = rng.usize(1..=8);
        let edges = random_graph(&mut rng, n, degree, [2, 20, 1_000][case % 3]);
        let solution = max_weight_matching_certified(n, &edges);
        let weight =
            verify_optimal(n, &edges, &solution).unwrap_or_else(|e| panic!("case {case}: {e}; n={n} edges={edges:?}"));
        let mate = reference::Solver::new(n, &edges).solve();
        assert_eq!(weight, total(&edges, &mate), "case {case}: n={n} edges={edges:?}");
        assert_eq!(weight, total(&edges, &solution.mate), "case {case}");
    }
}

/// With the cardinality bonus every weight is nearly the same: the duals move in lock
/// step and blossoms nest deeply, the hard case for the queues and the lazy duals.
#[test]
fn agrees_with_the_reference_under_the_cardinality_bonus() {
    let mut rng = fastrand::Rng::with_seed(23);
    for case in 0..200 {
        let n = rng.usize(2..=120);
        let degree = rng.usize(1..=5);
        let edges = random_graph(&mut rng, n, degree, 50);
        let bonus = cardinality_bonus(n, 0, 50).expect("fits");
        let raised: Vec<Edge> = edges.iter().map(|&(u, v, w)| (u, v, w + bonus)).collect();
        let solution = max_weight_matching_certified(n, &raised);
        let weight = verify_optimal(n, &raised, &solution).unwrap_or_else(|e| panic!("case {case}: {e}"));
        let mate = reference::Solver::new(n, &raised).solve();
        assert_eq!(weight, total(&raised, &mate), "case {case}: n={n} edges={edges:?}");
    }
}

#[test]
fn the_certificate_check_refuses_what_it_cannot_prove() {
    let edges = [(0, 1, 5), (1, 2, 8), (2, 3, 5)];
    let good = max_weight_matching_certified(4, &edges);
    assert_eq!(verify_optimal(4, &edges, &good), Ok(10));
    // The heavy middle edge alone: a matching, but not the best; no duals prove it.
    let worse = Solution { mate: vec![None, Some(2), Some(1), None], ..max_weight_matching_certified(4, &edges) };
    assert!(verify_optimal(4, &edges, &worse).is_err());
    let mut low = max_weight_matching_certified(4, &edges);
    low.y[1] -= 1;
    assert!(verify_optimal(4, &edges, &low).is_err(), "an uncovered edge or a short objective");
    let mut negative = max_weight_matching_certified(4, &edges);
    negative.y[0] = -1;
    assert!(verify_optimal(4, &edges, &negative).is_err_and(|e| e.contains("negative")));
    let mut lopsided = max_weight_matching_certified(4, &edges);
    lopsided.mate[0] = Some(3);
    assert!(verify_optimal(4, &edges, &lopsided).is_err_and(|e| e.contains("does not match it back")));
    // A blossom dual that covers edges its parent does not charge for: the parent
    // must hold its children.
    let path = [(0, 1, 1), (1, 2, 1), (2, 3, 1)];
    let bogus = Solution {
        mate: vec![None, Some(2), Some(1), None],
        y: vec![0; 4],
        blossoms: vec![(None, 4, vec![1, 2]), (Some(0), 0, vec![0, 1, 2, 3])],
    };
    assert!(verify_optimal(4, &path, &bogus).is_err());
    let looping = Solution { blossoms: vec![(Some(1), 0, vec![0]), (Some(0), 0, vec![0])], ..bogus };
    assert!(verify_optimal(4, &path, &looping).is_err());
    let triangle = [(0, 1, 6), (1, 2, 6), (0, 2, 6), (2, 3, 5)];
    assert_eq!(verify_optimal(4, &triangle, &max_weight_matching_certified(4, &triangle)), Ok(11));
}

#[test]
fn known_cases() {
    assert_eq!(max_weight_matching(2, &[(0, 1, 1)]), [Some(1), Some(0)]);
    // A path a-b-c-d: the middle edge is heavier than either end, but the ends together win.
    let m = max_weight_matching(4, &[(0, 1, 5), (1, 2, 8), (2, 3, 5)]);
    assert_eq!(m, [Some(1), Some(0), Some(3), Some(2)]);
    // A triangle plus a pendant: a blossom forms.
    let edges = [(0, 1, 6), (1, 2, 6), (0, 2, 6), (2, 3, 5)];
    assert_eq!(total(&edges, &max_weight_matching(4, &edges)), 11);
}

#[test]
fn equals_exhaustive_search_on_random_small_graphs() {
    let mut rng = fastrand::Rng::with_seed(7);
    for case in 0..600 {
        let n = rng.usize(1..=12);
        let density = rng.f64();
        let mut edges = Vec::new();
        for u in 0..n {
            for v in u + 1..n {
                if rng.f64() < density {
                    edges.push((u, v, rng.i64(1..=if case % 3 == 0 { 3 } else { 40 })));
                }
            }
        }
        let solution = max_weight_matching_certified(n, &edges);
        let best = brute_force(n, &edges);
        assert_eq!(total(&edges, &solution.mate), best, "case {case}: n={n} edges={edges:?}");
        assert_eq!(verify_optimal(n, &edges, &solution), Ok(best), "case {case}: the duals prove it");
    }
}

/// The duals certify optimality beyond the graph: when every edge left out of the graph
/// is covered by the duals (`y[u] + y[v] >= 2w`), the matching is optimal with those
/// edges too.
#[test]
fn the_duals_certify_optimality_for_left_out_edges() {
    let mut rng = fastrand::Rng::with_seed(9);
    let mut certified = 0;
    for case in 0..600 {
        let n = rng.usize(2..=12);
        let mut all = Vec::new();
        for u in 0..n {
            for v in u + 1..n {
                if rng.bool() {
                    all.push((u, v, rng.i64(1..=if case % 3 == 0 { 4 } else { 40 })));
                }
            }
        }
        let kept: Vec<Edge> = all.iter().copied().filter(|_| rng.u8(..3) > 0).collect();
        let (mate, y) = max_weight_matching_with_duals(n, &kept);
        assert!(y.iter().all(|d| *d >= 0), "case {case}: duals are non-negative");
        for v in 0..n {
            assert!(
                mate[v].is_some() || y[v] == 0 || kept.iter().all(|e| e.0 != v && e.1 != v),
                "case {case}: an unmatched vertex has a zero dual"
            );
        }
        let covered = all.iter().all(|&(u, v, w)| kept.contains(&(u, v, w)) || y[u] + y[v] >= DUAL_SCALE * w);
        if covered {
            certified += 1;
            assert_eq!(total(&kept, &mate), brute_force(n, &all), "case {case}: certified but not optimal");
        }
    }
    assert!(certified > 100, "the certificate applies often ({certified})");
}

/// The lexicographic optimum (most pairs, then most weight) by dynamic programming over
/// vertex subsets: the lowest vertex left is either alone or paired with a neighbour.
/// Independent of the blossom algorithm; small graphs only.
fn lexicographic_reference(n: usize, edges: &[Edge]) -> (usize, i64) {
    let mut w = vec![vec![None; n]; n];
    for &(u, v, wt) in edges {
        let best = w[u][v].map_or(wt, |old: i64| old.max(wt));
        w[u][v] = Some(best);
        w[v][u] = Some(best);
    }
    let full = (1usize << n) - 1;
    let mut best = vec![(0usize, 0i64); 1 << n];
    for mask in 1..=full {
        let v = mask.trailing_zeros() as usize;
        let rest = mask & !(1 << v);
        let mut here = best[rest];
        for u in v + 1..n {
            if rest & (1 << u) != 0
                && let Some(wt) = w[v][u]
            {
                let (c, s) = best[rest & !(1 << u)];
                here = here.max((c + 1, s + wt));
            }
        }
        best[mask] = here;
    }
    best[full]
}

fn pairs_and_weight(edges: &[Edge], mate: &[Option<usize>]) -> (usize, i64) {
    let pairs = mate.iter().enumerate().filter(|(v, m)| m.is_some_and(|u| *v < u)).count();
    (pairs, total(edges, mate))
}

#[test]
fn max_cardinality_pairs_everyone_a_heavy_middle_pair_would_strand() {
    // The chain a-b-c-d with b-c worth more than a-b plus c-d: maximum weight takes b-c
    // alone, the round's objective pairs all four.
    let chain = [(0, 1, 100), (1, 2, 305), (2, 3, 100)];
    assert_eq!(max_weight_matching(4, &chain), [None, Some(2), Some(1), None]);
    let m = max_cardinality_matching(4, &chain).expect("fits");
    assert_eq!(m, [Some(1), Some(0), Some(3), Some(2)]);
    // A long path whose heavy edges sit on the wrong parity.
    let path: Vec<Edge> = (0..9).map(|i| (i, i + 1, if i % 2 == 1 { 1_000 } else { 1 })).collect();
    assert_eq!(pairs_and_weight(&path, &max_cardinality_matching(10, &path).expect("fits")), (5, 5));
    // An odd cycle of five with a heavy chord: four of five paired, the chord only if
    // it leaves a pair for the others.
    let cycle = [(0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 4, 1), (4, 0, 1), (0, 2, 900)];
    assert_eq!(pairs_and_weight(&cycle, &max_cardinality_matching(5, &cycle).expect("fits")), (2, 901));
    // A heavy pair in the middle of a long alternating path: taking it cuts the path
    // into two odd halves and strands two people.
    let mut cut: Vec<Edge> = (0..11).map(|i| (i, i + 1, 10)).collect();
    cut.push((5, 6, 10_000));
    cut.retain(|e| !(e.0 == 5 && e.1 == 6 && e.2 == 10));
    let m = max_cardinality_matching(12, &cut).expect("fits");
    assert_eq!(pairs_and_weight(&cut, &m), lexicographic_reference(12, &cut));
    assert_eq!(pairs_and_weight(&cut, &m).0, 6, "everyone on the path is paired");
    // Zero and negative weights still pair people.
    let m = max_cardinality_matching(4, &[(0, 1, 0), (2, 3, -5), (1, 2, 7)]).expect("fits");
    assert_eq!(m, [Some(1), Some(0), Some(3), Some(2)]);
    assert_eq!(max_cardinality_matching(0, &[]), Some(vec![]));
}

#[test]
fn max_cardinality_equals_the_lexicographic_reference_on_random_graphs() {
    let mut rng = fastrand::Rng::with_seed(14);
    let mut gained = 0;
    for case in 0..800 {
        let n = rng.usize(1..=14);
        // Sparse, dense and in-between; some graphs in two parts; small weights tie.
        let density = [0.12, 0.3, 0.6, 0.95][case % 4];
        let split = (case % 5 == 0).then(|| rng.usize(0..=n));
        let top = if case % 3 == 0 { 3 } else { 400 };
        let mut edges = Vec::new();
        for u in 0..n {
            for v in u + 1..n {
                let across = split.is_some_and(|s| (u < s) != (v < s));
                if !across && rng.f64() < density {
                    edges.push((u, v, rng.i64(0..=top)));
                }
            }
        }
        let expected = lexicographic_reference(n, &edges);
        let mate = max_cardinality_matching(n, &edges).expect("fits");
        assert_eq!(pairs_and_weight(&edges, &mate), expected, "case {case}: n={n} edges={edges:?}");
        let heaviest = pairs_and_weight(&edges, &max_weight_matching(n, &edges));
        assert!(heaviest.0 <= expected.0 && (heaviest.0 < expected.0 || heaviest.1 == expected.1));
        gained += usize::from(heaviest.0 < expected.0);
    }
    assert!(gained > 20, "the random graphs include cases where maximum weight strands people ({gained})");
}

#[test]
fn the_cardinality_bonus_refuses_weights_that_would_overflow() {
    assert_eq!(cardinality_bonus(4, 0, 305), Some(4 * 305 + 1));
    assert_eq!(cardinality_bonus(4, -10, 5), Some(4 * 15 + 1));
    assert_eq!(cardinality_bonus(1_000_000, 0, i64::MAX / 1_000), None);
    assert_eq!(max_cardinality_matching(2, &[(0, 1, i64::MAX / 2)]), None);
}
