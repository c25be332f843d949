//! Maximum-weight matching on a general graph: Edmonds' blossom algorithm with dual
//! variables, in the O(nm log n) form of Galil, Micali and Gabow that LEMON implements
//! (see [`forest`] for the algorithm). Integer weights keep every dual an integer, so the
//! result is exact, and every answer comes with the duals that prove it optimal
//! ([`verify_optimal`] checks them).

/// An undirected edge `(u, v, weight)`.
pub type Edge = (usize, usize, i64);

mod forest;
#[cfg(test)]
mod reference;

pub use forest::Solution;

/// The units of the duals: an edge `(u, v, w)` is covered when
/// `y[u] + y[v] (+ the duals of the blossoms holding both) >= DUAL_SCALE * w`.
pub const DUAL_SCALE: i64 = 4;

/// A maximum-weight matching of the graph on vertices `0..n`: `mate[v]` is `v`'s partner.
/// Edges with a non-positive weight never improve a matching and are ignored.
///
/// # Panics
/// As [`max_weight_matching_certified`]: on weights too large for exact duals, or an
/// endpoint `>= n` (caller bugs).
pub fn max_weight_matching(n: usize, edges: &[Edge]) -> Vec<Option<usize>> {
    max_weight_matching_certified(n, edges).mate
}

/// [`max_weight_matching`] with its optimality certificate: the vertex and blossom duals
/// of the linear programme, in units of [`DUAL_SCALE`].
///
/// # Panics
/// On a weight above `i64::MAX / 4 / n`, where the duals could overflow (the engine's
/// bonus and the graph-file reader keep weights below it), or an endpoint `>= n`.
pub fn max_weight_matching_certified(n: usize, edges: &[Edge]) -> Solution {
    let limit = i64::MAX / 4 / i64::try_from(n.max(1)).unwrap_or(i64::MAX);
    assert!(edges.iter().all(|e| e.2 <= limit), "a weight above {limit} could overflow the duals");
    let edges: Vec<Edge> = edges.iter().copied().filter(|&(u, v, w)| w > 0 && u != v).collect();
    forest::Solver::new(n, &edges).solve()
}

/// [`max_weight_matching`] with the optimal vertex duals `y` (units of [`DUAL_SCALE`]):
/// every edge `(u, v, w)` of the graph has `y[u] + y[v] + (the duals of the blossoms
/// holding both) >= DUAL_SCALE * w`, every `y >= 0`, and an unmatched vertex has `y = 0`.
/// An edge *not* in the graph with `y[u] + y[v] >= DUAL_SCALE * w` therefore cannot
/// improve the matching: if every absent edge passes, the duals stay feasible for the
/// larger graph and their objective equals the matching's weight, so the matching is
/// optimal there too. The matching engine prices its sparse candidate graph with this.
pub fn max_weight_matching_with_duals(n: usize, edges: &[Edge]) -> (Vec<Option<usize>>, Vec<i64>) {
    let solution = max_weight_matching_certified(n, edges);
    (solution.mate, solution.y)
}

/// Checks that `solution` is a matching of the graph and that its duals prove it has the
/// largest weight: they are non-negative, cover every edge, and their objective equals
/// the matching's weight (weak duality then bounds every other matching by it). Returns
/// the weight, or what is wrong.
///
/// # Errors
/// A description of the first violated condition.
pub fn verify_optimal(n: usize, edges: &[Edge], solution: &Solution) -> Result<i64, String> {
    let Solution { mate, y, blossoms } = solution;
    if mate.len() != n || y.len() != n {
        return Err("the answer does not cover every vertex".into());
    }
    // The heaviest edge between each matched pair (parallel edges may differ).
    let mut matched: std::collections::HashMap<(usize, usize), i64> = std::collections::HashMap::new();
    for (v, m) in mate.iter().enumerate() {
        if let Some(u) = *m {
            if u >= n || mate[u] != Some(v) || u == v {
                return Err(format!("vertex {v}'s mate {u} does not match it back"));
            }
            if v < u {
                matched.insert((v, u), i64::MIN);
            }
        }
    }
    for &(u, v, w) in edges {
        if let Some(best) = matched.get_mut(&(u.min(v), u.max(v))) {
            *best = (*best).max(w);
        }
    }
    if let Some(((u, v), _)) = matched.iter().find(|(_, w)| **w == i64::MIN) {
        return Err(format!("the pair {u}-{v} is not an edge"));
    }
    let weight: i128 = matched.values().map(|&w| i128::from(w)).sum();
    if let Some(v) = (0..n).find(|&v| y[v] < 0) {
        return Err(format!("vertex {v} has a negative dual"));
    }
    if let Some((i, _)) = blossoms.iter().enumerate().find(|(_, b)| b.1 < 0) {
        return Err(format!("blossom {i} has a negative dual"));
    }
    let (innermost, parent_of, zsum) = laminar(n, blossoms)?;
    // The sum of the duals of the blossoms holding both ends.
    let common = |u: usize, v: usize| -> i128 {
        let ancestors = |mut b: usize| {
            let mut chain = Vec::new();
            while b != usize::MAX {
                chain.push(b);
                b = parent_of[b];
            }
            chain
        };
        let (a, b) = (ancestors(innermost[u]), ancestors(innermost[v]));
        // Chains run inside out; their common tail is the blossoms holding both.
        a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).last().map_or(0, |(x, _)| zsum[*x])
    };
    for &(u, v, w) in edges {
        let cover = i128::from(y[u]) + i128::from(y[v]) + common(u, v);
        if u != v && w > 0 && cover < i128::from(DUAL_SCALE) * i128::from(w) {
            return Err(format!("the edge {u}-{v} ({w}) is not covered by the duals"));
        }
    }
    let objective: i128 = y.iter().map(|&d| i128::from(d)).sum::<i128>()
        + blossoms.iter().map(|b| i128::from(b.1) * (b.2.len() as i128 / 2)).sum::<i128>();
    if objective != weight * i128::from(DUAL_SCALE) {
        return Err(format!(
            "the duals' objective {objective} is not {DUAL_SCALE} times the matching's weight {weight}"
        ));
    }
    i64::try_from(weight).map_err(|_| "the matching's weight overflows".to_owned())
}

/// Each vertex's innermost blossom, each blossom's parent, the duals from each blossom up.
type Laminar = (Vec<usize>, Vec<usize>, Vec<i128>);

/// Checks that the blossoms form a laminar family whose parents hold their children:
/// each blossom's parent is another blossom, no parent chain loops, and each vertex is
/// listed by exactly the blossoms from its innermost one up. Returns each vertex's
/// innermost blossom (`usize::MAX` for none), each blossom's parent (the same) and the sum
/// of the duals from each blossom up.
fn laminar(n: usize, blossoms: &[(Option<usize>, i64, Vec<usize>)]) -> Result<Laminar, String> {
    let len = blossoms.len();
    let mut parent_of = vec![usize::MAX; len];
    for (i, b) in blossoms.iter().enumerate() {
        if let Some(p) = b.0 {
            if p >= len || p == i {
                return Err(format!("blossom {i} has no valid parent"));
            }
            parent_of[i] = p;
        }
    }
    let mut depth = vec![usize::MAX; len];
    let mut zsum = vec![0i128; len];
    for i in 0..len {
        let mut chain = vec![i];
        while let Some(&top) = chain.last() {
            let p = parent_of[top];
            if depth[top] != usize::MAX || p == usize::MAX || depth[p] != usize::MAX {
                break;
            }
            if chain.len() > len {
                return Err(format!("the parents of blossom {i} loop"));
            }
            chain.push(p);
        }
        while let Some(b) = chain.pop() {
            if depth[b] == usize::MAX {
                let p = parent_of[b];
                let (d, z) = if p == usize::MAX { (0, 0) } else { (depth[p] + 1, zsum[p]) };
                depth[b] = d;
                zsum[b] = z + i128::from(blossoms[b].1);
            }
        }
    }
    let mut innermost = vec![usize::MAX; n];
    let mut listed = vec![0usize; n];
    for (i, b) in blossoms.iter().enumerate() {
        for &v in &b.2 {
            if v >= n {
                return Err(format!("blossom {i} holds a vertex out of range"));
            }
            listed[v] += 1;
            if innermost[v] == usize::MAX || depth[i] > depth[innermost[v]] {
                innermost[v] = i;
            }
        }
    }
    for (i, b) in blossoms.iter().enumerate() {
        for &v in &b.2 {
            let mut a = innermost[v];
            while a != i && a != usize::MAX {
                a = parent_of[a];
            }
            if a != i {
                return Err(format!("blossom {i} holds vertex {v} but does not hold its inner blossom"));
            }
        }
    }
    for v in 0..n {
        if innermost[v] != usize::MAX && listed[v] != depth[innermost[v]] + 1 {
            return Err(format!("vertex {v} is missing from a blossom holding its inner blossom"));
        }
    }
    Ok((innermost, parent_of, zsum))
}

/// The bonus added to every edge's weight so that a maximum-weight matching of the raised
/// weights is, first, a maximum-*cardinality* matching and, among those, one of the largest
/// total original weight (the lexicographic objective of a round: as many people paired as
/// possible, then the best scores). `None` when the raised weights would not fit the
/// solver's integer range.
///
/// Why it works: with every weight raised by `B`, a matching `M1` with `j >= 1` more edges
/// than a matching `M2` of `k` edges (`k <= n / 2`) outweighs it, since
/// `j·B + w(M1) - w(M2) >= j·(B + min(w, 0)) - k·D > 0` for `B = n·D + 1`, where
/// `D = max(w) - min(0, min(w))` bounds what one edge can gain over another; and between
/// matchings of the same size the raised weights differ exactly as the original ones do.
/// So the ordinary maximum-weight matching of the raised graph, *and its optimality
/// certificate* (the duals of [`max_weight_matching_with_duals`]), carry over unchanged:
/// the duals certify the lexicographic optimum on any larger graph whose raised edges they
/// cover, which is how the matching engine prices the pairs its sparse graph left out.
pub fn cardinality_bonus(n: usize, min_weight: i64, max_weight: i64) -> Option<i64> {
    let spread = max_weight.max(0).checked_sub(min_weight.min(0))?;
    let n = i64::try_from(n).ok()?;
    let bonus = n.checked_mul(spread)?.checked_add(1)?;
    // The solver doubles weights and adds duals: keep every raised weight far from overflow.
    let limit = i64::MAX / 4 / n.max(1);
    (bonus.checked_add(max_weight.max(0))? <= limit).then_some(bonus)
}

/// A maximum-cardinality matching that, among all matchings of that size, has the largest
/// total weight (edges of any weight count: they pair two vertices). `None` when the
/// weights are too large for [`cardinality_bonus`].
pub fn max_cardinality_matching(n: usize, edges: &[Edge]) -> Option<Vec<Option<usize>>> {
    let min = edges.iter().map(|e| e.2).min().unwrap_or(0);
    let max = edges.iter().map(|e| e.2).max().unwrap_or(0);
    let bonus = cardinality_bonus(n, min, max)?;
    let raised: Vec<Edge> = edges.iter().map(|&(u, v, w)| (u, v, w + bonus)).collect();
    Some(max_weight_matching(n, &raised))
}

#[cfg(test)]
mod tests {
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
            let weight = verify_optimal(n, &edges, &solution)
                .unwrap_or_else(|e| panic!("case {case}: {e}; n={n} edges={edges:?}"));
            let (mate, _) = reference::Solver::new(n, &edges).solve();
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
            let (mate, _) = reference::Solver::new(n, &raised).solve();
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
}
