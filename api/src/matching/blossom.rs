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
mod tests;
