//! Maximum-weight matching on a general graph: Edmonds' blossom algorithm with dual
//! variables (primal-dual, O(n³)), after Galil's "Efficient algorithms for finding maximum
//! matching in graphs" (1986) and Joris van Rantwijk's reference implementation, whose
//! structure this follows. Integer weights keep every dual an integer, so the result is
//! exact.
//!
//! Terms: an *endpoint* `p` is one end of edge `p / 2` (`2k` is the first vertex of edge
//! `k`, `2k + 1` the second); vertices are `0..n`, blossoms `n..2n`. A top-level blossom is
//! labelled S (1), T (2) or free (0) while a stage grows alternating trees from the
//! unmatched vertices.

/// An undirected edge `(u, v, weight)`.
pub type Edge = (usize, usize, i64);

const NONE: usize = usize::MAX;

struct Solver<'a> {
    n: usize,
    edges: &'a [Edge],
    endpoint: Vec<usize>,
    neighbend: Vec<Vec<usize>>,
    mate: Vec<usize>,
    label: Vec<u8>,
    labelend: Vec<usize>,
    inblossom: Vec<usize>,
    blossomparent: Vec<usize>,
    blossomchilds: Vec<Vec<usize>>,
    blossombase: Vec<usize>,
    blossomendps: Vec<Vec<usize>>,
    bestedge: Vec<usize>,
    blossombestedges: Vec<Option<Vec<usize>>>,
    unusedblossoms: Vec<usize>,
    dualvar: Vec<i64>,
    allowedge: Vec<bool>,
    queue: Vec<usize>,
}

impl<'a> Solver<'a> {
    fn new(n: usize, edges: &'a [Edge]) -> Self {
        let maxweight = edges.iter().map(|e| e.2).max().unwrap_or(0).max(0);
        let mut endpoint = Vec::with_capacity(2 * edges.len());
        let mut neighbend = vec![Vec::new(); n];
        for (k, &(i, j, _)) in edges.iter().enumerate() {
            endpoint.push(i);
            endpoint.push(j);
            neighbend[i].push(2 * k + 1);
            neighbend[j].push(2 * k);
        }
        let mut dualvar = vec![maxweight; n];
        dualvar.extend(std::iter::repeat_n(0, n));
        Self {
            n,
            edges,
            endpoint,
            neighbend,
            mate: vec![NONE; n],
            label: vec![0; 2 * n],
            labelend: vec![NONE; 2 * n],
            inblossom: (0..n).collect(),
            blossomparent: vec![NONE; 2 * n],
            blossomchilds: vec![Vec::new(); 2 * n],
            blossombase: (0..n).chain(std::iter::repeat_n(NONE, n)).collect(),
            blossomendps: vec![Vec::new(); 2 * n],
            bestedge: vec![NONE; 2 * n],
            blossombestedges: vec![None; 2 * n],
            unusedblossoms: (n..2 * n).collect(),
            dualvar,
            allowedge: vec![false; edges.len()],
            queue: Vec::new(),
        }
    }

    fn slack(&self, k: usize) -> i64 {
        let (i, j, w) = self.edges[k];
        self.dualvar[i] + self.dualvar[j] - 2 * w
    }

    /// The vertices inside blossom `b` (itself if it is a vertex).
    fn leaves(&self, b: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![b];
        while let Some(t) = stack.pop() {
            if t < self.n {
                out.push(t);
            } else {
                stack.extend(self.blossomchilds[t].iter().rev().copied());
            }
        }
        out
    }

    fn assign_label(&mut self, w: usize, t: u8, p: usize) {
        let mut w = w;
        let mut t = t;
        let mut p = p;
        loop {
            let b = self.inblossom[w];
            self.label[w] = t;
            self.label[b] = t;
            self.labelend[w] = p;
            self.labelend[b] = p;
            self.bestedge[w] = NONE;
            self.bestedge[b] = NONE;
            if t == 1 {
                let leaves = self.leaves(b);
                self.queue.extend(leaves);
                return;
            }
            // A T-blossom: its base's mate becomes an S-vertex.
            let base = self.blossombase[b];
            let m = self.mate[base];
            w = self.endpoint[m];
            t = 1;
            p = m ^ 1;
        }
    }

    /// Traces back from `v` and `w` to find a new blossom's base, or `NONE` for an
    /// augmenting path.
    fn scan_blossom(&mut self, v: usize, w: usize) -> usize {
        let mut path = Vec::new();
        let mut base = NONE;
        let (mut v, mut w) = (v, w);
        while v != NONE || w != NONE {
            let mut b = self.inblossom[v];
            if self.label[b] & 4 != 0 {
                base = self.blossombase[b];
                break;
            }
            path.push(b);
            self.label[b] = 5;
            if self.labelend[b] == NONE {
                v = NONE;
            } else {
                v = self.endpoint[self.labelend[b]];
                b = self.inblossom[v];
                v = self.endpoint[self.labelend[b]];
            }
            if w != NONE {
                std::mem::swap(&mut v, &mut w);
            }
        }
        for b in path {
            self.label[b] = 1;
        }
        base
    }

    fn add_blossom(&mut self, base: usize, k: usize) {
        let (mut v, mut w, _) = self.edges[k];
        let bb = self.inblossom[base];
        let mut bv = self.inblossom[v];
        let mut bw = self.inblossom[w];
        let b = self.unusedblossoms.pop().unwrap_or(NONE);
        self.blossombase[b] = base;
        self.blossomparent[b] = NONE;
        self.blossomparent[bb] = b;
        let mut path = Vec::new();
        let mut endps = Vec::new();
        while bv != bb {
            self.blossomparent[bv] = b;
            path.push(bv);
            endps.push(self.labelend[bv]);
            v = self.endpoint[self.labelend[bv]];
            bv = self.inblossom[v];
        }
        path.push(bb);
        path.reverse();
        endps.reverse();
        endps.push(2 * k);
        while bw != bb {
            self.blossomparent[bw] = b;
            path.push(bw);
            endps.push(self.labelend[bw] ^ 1);
            w = self.endpoint[self.labelend[bw]];
            bw = self.inblossom[w];
        }
        self.label[b] = 1;
        self.labelend[b] = self.labelend[bb];
        self.dualvar[b] = 0;
        for leaf in self.leaves_of(&path) {
            if self.label[self.inblossom[leaf]] == 2 {
                self.queue.push(leaf);
            }
            self.inblossom[leaf] = b;
        }
        let mut bestedgeto = vec![NONE; 2 * self.n];
        for &sub in &path {
            let lists: Vec<Vec<usize>> = match self.blossombestedges[sub].take() {
                Some(list) => vec![list],
                None => self.leaves(sub).iter().map(|&x| self.neighbend[x].iter().map(|p| p / 2).collect()).collect(),
            };
            for list in lists {
                for k in list {
                    // The end of edge `k` outside the new blossom.
                    let (i, j, _) = self.edges[k];
                    let j = if self.inblossom[j] == b { i } else { j };
                    let bj = self.inblossom[j];
                    if bj != b
                        && self.label[bj] == 1
                        && (bestedgeto[bj] == NONE || self.slack(k) < self.slack(bestedgeto[bj]))
                    {
                        bestedgeto[bj] = k;
                    }
                }
            }
            self.bestedge[sub] = NONE;
        }
        let best: Vec<usize> = bestedgeto.into_iter().filter(|&k| k != NONE).collect();
        self.bestedge[b] = NONE;
        for &k in &best {
            if self.bestedge[b] == NONE || self.slack(k) < self.slack(self.bestedge[b]) {
                self.bestedge[b] = k;
            }
        }
        self.blossombestedges[b] = Some(best);
        self.blossomchilds[b] = path;
        self.blossomendps[b] = endps;
    }

    fn leaves_of(&self, blossoms: &[usize]) -> Vec<usize> {
        blossoms.iter().flat_map(|&s| self.leaves(s)).collect()
    }

    fn expand_blossom(&mut self, b: usize, endstage: bool) {
        let childs = self.blossomchilds[b].clone();
        for &s in &childs {
            self.blossomparent[s] = NONE;
            if s < self.n {
                self.inblossom[s] = s;
            } else if endstage && self.dualvar[s] == 0 {
                self.expand_blossom(s, endstage);
            } else {
                for leaf in self.leaves(s) {
                    self.inblossom[leaf] = s;
                }
            }
        }
        if !endstage && self.label[b] == 2 {
            // Relabel the sub-blossoms on the even path from the entry child to the base.
            let len = childs.len() as isize;
            let entrychild = self.inblossom[self.endpoint[self.labelend[b] ^ 1]];
            let mut j = childs.iter().position(|&c| c == entrychild).unwrap_or(0) as isize;
            let (jstep, endptrick): (isize, usize) = if j & 1 == 1 {
                j -= len;
                (1, 0)
            } else {
                (-1, 1)
            };
            let at = |j: isize| -> usize { j.rem_euclid(len) as usize };
            let endps = self.blossomendps[b].clone();
            let mut p = self.labelend[b];
            while j != 0 {
                let q = endps[at(j - endptrick as isize)] ^ endptrick;
                self.label[self.endpoint[p ^ 1]] = 0;
                self.label[self.endpoint[q ^ 1]] = 0;
                self.assign_label(self.endpoint[p ^ 1], 2, p);
                self.allowedge[q / 2] = true;
                j += jstep;
                p = endps[at(j - endptrick as isize)] ^ endptrick;
                self.allowedge[p / 2] = true;
                j += jstep;
            }
            let bv = childs[at(j)];
            let ep = self.endpoint[p ^ 1];
            self.label[ep] = 2;
            self.label[bv] = 2;
            self.labelend[ep] = p;
            self.labelend[bv] = p;
            self.bestedge[bv] = NONE;
            j += jstep;
            while childs[at(j)] != entrychild {
                let bv = childs[at(j)];
                if self.label[bv] == 1 {
                    j += jstep;
                    continue;
                }
                if let Some(v) = self.leaves(bv).into_iter().find(|&v| self.label[v] != 0) {
                    self.label[v] = 0;
                    let base_mate = self.mate[self.blossombase[bv]];
                    self.label[self.endpoint[base_mate]] = 0;
                    self.assign_label(v, 2, self.labelend[v]);
                }
                j += jstep;
            }
        }
        self.label[b] = 0;
        self.labelend[b] = NONE;
        self.blossomchilds[b] = Vec::new();
        self.blossomendps[b] = Vec::new();
        self.blossombase[b] = NONE;
        self.blossombestedges[b] = None;
        self.bestedge[b] = NONE;
        self.unusedblossoms.push(b);
    }

    /// Swaps matched and unmatched edges inside blossom `b` so that `v` becomes its base.
    fn augment_blossom(&mut self, b: usize, v: usize) {
        let mut t = v;
        while self.blossomparent[t] != b {
            t = self.blossomparent[t];
        }
        if t >= self.n {
            self.augment_blossom(t, v);
        }
        let len = self.blossomchilds[b].len() as isize;
        let i = self.blossomchilds[b].iter().position(|&c| c == t).unwrap_or(0);
        let mut j = i as isize;
        let (jstep, endptrick): (isize, usize) = if i & 1 == 1 {
            j -= len;
            (1, 0)
        } else {
            (-1, 1)
        };
        let at = |j: isize| -> usize { j.rem_euclid(len) as usize };
        while j != 0 {
            j += jstep;
            let t = self.blossomchilds[b][at(j)];
            let p = self.blossomendps[b][at(j - endptrick as isize)] ^ endptrick;
            if t >= self.n {
                self.augment_blossom(t, self.endpoint[p]);
            }
            j += jstep;
            let t = self.blossomchilds[b][at(j)];
            if t >= self.n {
                self.augment_blossom(t, self.endpoint[p ^ 1]);
            }
            self.mate[self.endpoint[p]] = p ^ 1;
            self.mate[self.endpoint[p ^ 1]] = p;
        }
        self.blossomchilds[b].rotate_left(i);
        self.blossomendps[b].rotate_left(i);
        self.blossombase[b] = self.blossombase[self.blossomchilds[b][0]];
    }

    fn augment_matching(&mut self, k: usize) {
        let (v, w, _) = self.edges[k];
        for (mut s, mut p) in [(v, 2 * k + 1), (w, 2 * k)] {
            loop {
                let bs = self.inblossom[s];
                if bs >= self.n {
                    self.augment_blossom(bs, s);
                }
                self.mate[s] = p;
                if self.labelend[bs] == NONE {
                    break;
                }
                let t = self.endpoint[self.labelend[bs]];
                let bt = self.inblossom[t];
                s = self.endpoint[self.labelend[bt]];
                let j = self.endpoint[self.labelend[bt] ^ 1];
                if bt >= self.n {
                    self.augment_blossom(bt, j);
                }
                self.mate[j] = self.labelend[bt];
                p = self.labelend[bt] ^ 1;
            }
        }
    }

    /// The matching and the final vertex duals.
    fn solve(mut self) -> (Vec<Option<usize>>, Vec<i64>) {
        let n = self.n;
        for _ in 0..n {
            self.label.iter_mut().for_each(|l| *l = 0);
            self.bestedge.iter_mut().for_each(|e| *e = NONE);
            for b in n..2 * n {
                self.blossombestedges[b] = None;
            }
            self.allowedge.iter_mut().for_each(|a| *a = false);
            self.queue.clear();
            for v in 0..n {
                if self.mate[v] == NONE && self.label[self.inblossom[v]] == 0 {
                    self.assign_label(v, 1, NONE);
                }
            }
            let mut augmented = false;
            loop {
                while let Some(v) = self.queue.pop() {
                    if augmented {
                        break;
                    }
                    let ends = self.neighbend[v].clone();
                    for p in ends {
                        let k = p / 2;
                        let w = self.endpoint[p];
                        if self.inblossom[v] == self.inblossom[w] {
                            continue;
                        }
                        let mut kslack = 0;
                        if !self.allowedge[k] {
                            kslack = self.slack(k);
                            if kslack <= 0 {
                                self.allowedge[k] = true;
                            }
                        }
                        if self.allowedge[k] {
                            if self.label[self.inblossom[w]] == 0 {
                                self.assign_label(w, 2, p ^ 1);
                            } else if self.label[self.inblossom[w]] == 1 {
                                let base = self.scan_blossom(v, w);
                                if base != NONE {
                                    self.add_blossom(base, k);
                                } else {
                                    self.augment_matching(k);
                                    augmented = true;
                                    break;
                                }
                            } else if self.label[w] == 0 {
                                self.label[w] = 2;
                                self.labelend[w] = p ^ 1;
                            }
                        } else if self.label[self.inblossom[w]] == 1 {
                            let b = self.inblossom[v];
                            if self.bestedge[b] == NONE || kslack < self.slack(self.bestedge[b]) {
                                self.bestedge[b] = k;
                            }
                        } else if self.label[w] == 0
                            && (self.bestedge[w] == NONE || kslack < self.slack(self.bestedge[w]))
                        {
                            self.bestedge[w] = k;
                        }
                    }
                }
                if augmented {
                    break;
                }
                // No augmenting path with the current duals: change them.
                let mut deltatype = 1;
                let mut delta = self.dualvar[..n].iter().copied().min().unwrap_or(0);
                let mut deltaedge = NONE;
                let mut deltablossom = NONE;
                for v in 0..n {
                    if self.label[self.inblossom[v]] == 0 && self.bestedge[v] != NONE {
                        let d = self.slack(self.bestedge[v]);
                        if d < delta {
                            delta = d;
                            deltatype = 2;
                            deltaedge = self.bestedge[v];
                        }
                    }
                }
                for b in 0..2 * n {
                    if self.blossomparent[b] == NONE && self.label[b] == 1 && self.bestedge[b] != NONE {
                        let d = self.slack(self.bestedge[b]) / 2;
                        if d < delta {
                            delta = d;
                            deltatype = 3;
                            deltaedge = self.bestedge[b];
                        }
                    }
                }
                for b in n..2 * n {
                    if self.blossombase[b] != NONE
                        && self.blossomparent[b] == NONE
                        && self.label[b] == 2
                        && self.dualvar[b] < delta
                    {
                        delta = self.dualvar[b];
                        deltatype = 4;
                        deltablossom = b;
                    }
                }
                for v in 0..n {
                    match self.label[self.inblossom[v]] {
                        1 => self.dualvar[v] -= delta,
                        2 => self.dualvar[v] += delta,
                        _ => {}
                    }
                }
                for b in n..2 * n {
                    if self.blossombase[b] != NONE && self.blossomparent[b] == NONE {
                        match self.label[b] {
                            1 => self.dualvar[b] += delta,
                            2 => self.dualvar[b] -= delta,
                            _ => {}
                        }
                    }
                }
                match deltatype {
                    1 => break,
                    2 => {
                        self.allowedge[deltaedge] = true;
                        let (mut i, j, _) = self.edges[deltaedge];
                        if self.label[self.inblossom[i]] == 0 {
                            i = j;
                        }
                        self.queue.push(i);
                    }
                    3 => {
                        self.allowedge[deltaedge] = true;
                        let (i, _, _) = self.edges[deltaedge];
                        self.queue.push(i);
                    }
                    _ => self.expand_blossom(deltablossom, false),
                }
            }
            if !augmented {
                break;
            }
            for b in n..2 * n {
                if self.blossomparent[b] == NONE
                    && self.blossombase[b] != NONE
                    && self.label[b] == 1
                    && self.dualvar[b] == 0
                {
                    self.expand_blossom(b, true);
                }
            }
        }
        let mate = self.mate.iter().map(|&p| (p != NONE).then(|| self.endpoint[p])).collect();
        (mate, self.dualvar[..n].to_vec())
    }
}

/// A maximum-weight matching of the graph on vertices `0..n`: `mate[v]` is `v`'s partner.
/// Edges with a non-positive weight never improve a matching and are ignored.
///
/// # Panics
/// Never for valid input; an edge with an endpoint `>= n` is a caller bug and panics.
pub fn max_weight_matching(n: usize, edges: &[Edge]) -> Vec<Option<usize>> {
    max_weight_matching_with_duals(n, edges).0
}

/// [`max_weight_matching`] with the optimal vertex duals `y` of the linear programme (in
/// the doubled units of the integer algorithm): every edge `(u, v, w)` of the graph has
/// `y[u] + y[v] + 2 * (the duals of the blossoms holding both) >= 2w`, every `y >= 0`, and
/// an unmatched vertex has `y = 0`. An edge *not* in the graph with `y[u] + y[v] >= 2w`
/// therefore cannot improve the matching: if every absent edge passes, the duals stay
/// feasible for the larger graph and their objective equals the matching's weight, so the
/// matching is optimal there too. The matching engine prices its sparse candidate graph
/// with this.
pub fn max_weight_matching_with_duals(n: usize, edges: &[Edge]) -> (Vec<Option<usize>>, Vec<i64>) {
    let edges: Vec<Edge> = edges.iter().copied().filter(|&(u, v, w)| w > 0 && u != v).collect();
    if edges.is_empty() || n == 0 {
        return (vec![None; n], vec![0; n]);
    }
    Solver::new(n, &edges).solve()
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
            let mate = max_weight_matching(n, &edges);
            assert_eq!(total(&edges, &mate), brute_force(n, &edges), "case {case}: n={n} edges={edges:?}");
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
            let covered = all.iter().all(|&(u, v, w)| kept.contains(&(u, v, w)) || y[u] + y[v] >= 2 * w);
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
