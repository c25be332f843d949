//! The weighted blossom algorithm in its O(nm log n) form: every unmatched vertex roots an
//! alternating tree, the trees grow side by side and live on across augmentations (only
//! the two trees an augmenting path joins, or the one a vertex leaves, are taken apart),
//! the duals change lazily, and the next event comes from four priority queues instead
//! of a scan of every vertex and blossom. This is the structure of LEMON's
//! `MaxWeightedMatching` (Dezső, Jüttner and Kovács, after Galil, Micali and Gabow); the
//! blossoms themselves (their children in cycle order, the edges between them, the base,
//! `augment_blossom`) follow van Rantwijk's formulation, as the earlier O(n³) solver did.
//!
//! Terms: an *endpoint* `p` is one end of edge `p / 2` (`2k` is the first vertex of edge
//! `k`, `2k + 1` the second); vertices are `0..n`, blossoms `n..2n`. A top-level blossom
//! is *even* (an S-blossom), *odd* (T) or *free* (in no tree). Duals are in quarter
//! units: the slack of edge `(u, v, w)` between two top-level blossoms is
//! `y[u] + y[v] - 4w`, and every vertex starts at twice its heaviest edge. The scale keeps
//! every dual an integer: within a tree every vertex's dual has the parity of the elapsed
//! time, so the slack between two even vertices is even and halves exactly.
//!
//! Lazy duals: the elapsed dual change is `now`. A top-level blossom remembers when it got
//! its label (`stamp`) and an offset for its vertices (`off`): a vertex's dual is
//! `ys[v] + off[b] + drift(b)`, where the drift is `-(now - stamp)` in an even blossom,
//! `now - stamp` in an odd one and nothing in a free one (a top-level blossom's own dual
//! moves twice as fast the other way). Relabelling a blossom folds its drift into the
//! offset in O(1); only forming a blossom rewrites its vertices' stored duals.
//!
//! Events (each keyed by the time it happens, so a key stays right while the labels that
//! made it stay): an even vertex's dual reaching zero (it is left unmatched), an edge from
//! an even vertex to a free blossom becoming tight (the tree grows, or augments into a
//! free blossom whose base is unmatched), an edge between two even blossoms becoming
//! tight (a new blossom in one tree, an augmenting path between two), an odd blossom's
//! dual reaching zero (it is expanded). The queues keep stale entries and drop them when
//! they surface: an entry is live when the labels it was computed for still hold and its
//! key is still the time its event happens; every change of labels that creates an event
//! pushes a fresh entry for it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Edge;

const NONE: usize = usize::MAX;
const FREE: u8 = 0;
const EVEN: u8 = 1;
const ODD: u8 = 2;
/// Marks a blossom on the path walked while looking for a new blossom's base.
const CRUMB: u8 = 4;

/// A min-queue of `(time, item)`.
type Events = BinaryHeap<Reverse<(i64, usize)>>;

/// What the solver hands back: the matching and an optimality certificate.
pub struct Solution {
    /// `mate[v]`: `v`'s partner.
    pub mate: Vec<Option<usize>>,
    /// Vertex duals, quarter units.
    pub y: Vec<i64>,
    /// The blossoms at the end (nested ones included): their parent blossom (an index into
    /// this list), their dual (quarter units) and their vertices.
    pub blossoms: Vec<(Option<usize>, i64, Vec<usize>)>,
}

pub struct Solver<'a> {
    n: usize,
    edges: &'a [Edge],
    endpoint: Vec<usize>,
    adj_start: Vec<usize>,
    /// The endpoints `p` of each vertex's edges, seen from the vertex: the neighbour is
    /// `endpoint[p]`, the vertex's own end `p ^ 1`.
    adj: Vec<usize>,
    mate: Vec<usize>,
    inblossom: Vec<usize>,
    parent: Vec<usize>,
    childs: Vec<Vec<usize>>,
    endps: Vec<Vec<usize>>,
    base: Vec<usize>,
    unused: Vec<usize>,
    label: Vec<u8>,
    /// Odd blossom: the endpoint at its parent (an even vertex). Even blossom other than
    /// a root: the endpoint at its base's mate (an odd vertex). Root: `NONE`.
    labelend: Vec<usize>,
    /// The tree of a labelled top-level blossom (its root vertex at the start).
    tree: Vec<usize>,
    /// Every blossom ever labelled into a tree (stale entries are skipped).
    members: Vec<Vec<usize>>,
    trees: usize,
    ys: Vec<i64>,
    zs: Vec<i64>,
    off: Vec<i64>,
    stamp: Vec<i64>,
    now: i64,
    vertex_zero: Events,
    to_free: Events,
    even_even: Events,
    odd_zero: Events,
    leaves_buf: Vec<usize>,
}

impl<'a> Solver<'a> {
    /// `edges`: no loops, positive weights, endpoints `< n`.
    pub fn new(n: usize, edges: &'a [Edge]) -> Self {
        let mut endpoint = Vec::with_capacity(2 * edges.len());
        let mut degree = vec![0usize; n + 1];
        let mut ys = vec![0i64; n];
        for &(u, v, w) in edges {
            endpoint.push(u);
            endpoint.push(v);
            degree[u] += 1;
            degree[v] += 1;
            ys[u] = ys[u].max(2 * w);
            ys[v] = ys[v].max(2 * w);
        }
        let mut adj_start = Vec::with_capacity(n + 1);
        let mut at = 0;
        for d in &degree[..n] {
            adj_start.push(at);
            at += d;
        }
        adj_start.push(at);
        let mut fill = adj_start.clone();
        let mut adj = vec![0; at];
        for (k, &(u, v, _)) in edges.iter().enumerate() {
            adj[fill[u]] = 2 * k + 1;
            fill[u] += 1;
            adj[fill[v]] = 2 * k;
            fill[v] += 1;
        }
        let mut label = vec![FREE; 2 * n];
        let mut tree = vec![NONE; 2 * n];
        let mut members = vec![Vec::new(); n];
        let mut trees = 0;
        let mut vertex_zero = Vec::new();
        for v in 0..n {
            if degree[v] > 0 {
                label[v] = EVEN;
                tree[v] = v;
                members[v].push(v);
                trees += 1;
                vertex_zero.push(Reverse((ys[v], v)));
            }
        }
        let even_even: Vec<_> =
            edges.iter().enumerate().map(|(k, &(u, v, w))| Reverse(((ys[u] + ys[v] - 4 * w) / 2, k))).collect();
        Self {
            n,
            edges,
            endpoint,
            adj_start,
            adj,
            mate: vec![NONE; n],
            inblossom: (0..n).collect(),
            parent: vec![NONE; 2 * n],
            childs: vec![Vec::new(); 2 * n],
            endps: vec![Vec::new(); 2 * n],
            base: (0..n).chain(std::iter::repeat_n(NONE, n)).collect(),
            unused: (n..2 * n).rev().collect(),
            label,
            labelend: vec![NONE; 2 * n],
            tree,
            members,
            trees,
            ys,
            zs: vec![0; 2 * n],
            off: vec![0; 2 * n],
            stamp: vec![0; 2 * n],
            now: 0,
            vertex_zero: BinaryHeap::from(vertex_zero),
            to_free: BinaryHeap::new(),
            even_even: BinaryHeap::from(even_even),
            odd_zero: BinaryHeap::new(),
            leaves_buf: Vec::new(),
        }
    }

    /// How far a top-level blossom's vertex duals have moved since its label.
    fn drift(&self, b: usize) -> i64 {
        match self.label[b] & 3 {
            EVEN => self.stamp[b] - self.now,
            ODD => self.now - self.stamp[b],
            _ => 0,
        }
    }

    fn y(&self, v: usize) -> i64 {
        let b = self.inblossom[v];
        self.ys[v] + self.off[b] + self.drift(b)
    }

    /// The dual of a top-level blossom.
    fn z(&self, b: usize) -> i64 {
        self.zs[b] - 2 * self.drift(b)
    }

    /// The slack of edge `k` between two top-level blossoms.
    fn slack(&self, k: usize) -> i64 {
        let (u, v, w) = self.edges[k];
        self.y(u) + self.y(v) - 4 * w
    }

    fn set_label(&mut self, b: usize, label: u8) {
        let d = self.drift(b);
        self.off[b] += d;
        self.zs[b] -= 2 * d;
        self.stamp[b] = self.now;
        self.label[b] = label;
    }

    /// The vertices of blossom `b` (itself if it is a vertex), appended to `out`.
    fn leaves_into(&self, b: usize, out: &mut Vec<usize>) {
        if b < self.n {
            out.push(b);
            return;
        }
        let mut stack = vec![b];
        while let Some(t) = stack.pop() {
            if t < self.n {
                out.push(t);
            } else {
                stack.extend(self.childs[t].iter().rev().copied());
            }
        }
    }

    fn in_use(&self, b: usize) -> bool {
        b < self.n || self.base[b] != NONE
    }

    /// `v` has just become even: its own event, and those of its edges.
    fn scan_even(&mut self, v: usize) {
        let bv = self.inblossom[v];
        let yv = self.y(v);
        self.vertex_zero.push(Reverse((self.now + yv, v)));
        for i in self.adj_start[v]..self.adj_start[v + 1] {
            let p = self.adj[i];
            let u = self.endpoint[p];
            let bu = self.inblossom[u];
            if bu == bv {
                continue;
            }
            let k = p / 2;
            match self.label[bu] {
                EVEN => {
                    let slack = yv + self.y(u) - 4 * self.edges[k].2;
                    debug_assert!(slack >= 0 && slack % 2 == 0, "even-even slack {slack}");
                    self.even_even.push(Reverse((self.now + slack / 2, k)));
                }
                FREE => {
                    let slack = yv + self.y(u) - 4 * self.edges[k].2;
                    self.to_free.push(Reverse((self.now + slack, k)));
                }
                _ => {}
            }
        }
    }

    /// `v` has just become free: its edges to even vertices.
    fn scan_free(&mut self, v: usize) {
        let yv = self.y(v);
        for i in self.adj_start[v]..self.adj_start[v + 1] {
            let p = self.adj[i];
            let u = self.endpoint[p];
            if self.label[self.inblossom[u]] == EVEN {
                let k = p / 2;
                let slack = yv + self.y(u) - 4 * self.edges[k].2;
                self.to_free.push(Reverse((self.now + slack, k)));
            }
        }
    }

    fn label_odd(&mut self, b: usize, p: usize, t: usize) {
        self.set_label(b, ODD);
        self.labelend[b] = p;
        self.tree[b] = t;
        self.members[t].push(b);
        if b >= self.n {
            let z = self.z(b);
            self.odd_zero.push(Reverse((self.now + z / 2, b)));
        }
    }

    fn label_even(&mut self, b: usize, p: usize, t: usize) {
        self.set_label(b, EVEN);
        self.labelend[b] = p;
        self.tree[b] = t;
        self.members[t].push(b);
        let mut leaves = std::mem::take(&mut self.leaves_buf);
        leaves.clear();
        self.leaves_into(b, &mut leaves);
        for &v in &leaves {
            self.scan_even(v);
        }
        self.leaves_buf = leaves;
    }

    /// Grows tree `t` over the tight edge at endpoint `p` (`endpoint[p]` even): the
    /// blossom at its other end becomes odd and its base's mate's blossom even.
    fn extend(&mut self, p: usize, t: usize) {
        let b = self.inblossom[self.endpoint[p ^ 1]];
        self.label_odd(b, p, t);
        let m = self.mate[self.base[b]];
        let c = self.inblossom[self.endpoint[m]];
        self.label_even(c, m ^ 1, t);
    }

    /// Takes trees apart: their blossoms become free, then their vertices' edges to even
    /// vertices of other trees are queued.
    fn dissolve(&mut self, dissolved: &[usize]) {
        let mut freed = Vec::new();
        for &t in dissolved {
            for b in std::mem::take(&mut self.members[t]) {
                if self.in_use(b) && self.parent[b] == NONE && self.label[b] != FREE && self.tree[b] == t {
                    self.set_label(b, FREE);
                    freed.push(b);
                }
            }
            self.trees -= 1;
        }
        let mut leaves = Vec::new();
        for b in freed {
            self.leaves_into(b, &mut leaves);
        }
        for v in leaves {
            self.scan_free(v);
        }
    }

    /// Walks up from the even vertices `v` and `w` of one tree to the base of the
    /// blossom the edge between them closes.
    fn scan_blossom(&mut self, v: usize, w: usize) -> usize {
        let mut path = Vec::new();
        let mut base = NONE;
        let (mut v, mut w) = (v, w);
        while v != NONE || w != NONE {
            let mut b = self.inblossom[v];
            if self.label[b] & CRUMB != 0 {
                base = self.base[b];
                break;
            }
            path.push(b);
            self.label[b] |= CRUMB;
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
            self.label[b] &= !CRUMB;
        }
        base
    }

    /// Shrinks the odd cycle closed by edge `k` (between two even blossoms of one tree)
    /// into a new even blossom with base `base`.
    fn add_blossom(&mut self, base: usize, k: usize) {
        let (mut v, mut w, _) = self.edges[k];
        let bb = self.inblossom[base];
        let mut bv = self.inblossom[v];
        let mut bw = self.inblossom[w];
        let Some(b) = self.unused.pop() else { unreachable!("a graph on n vertices has fewer than n blossoms") };
        let t = self.tree[bb];
        self.base[b] = base;
        self.parent[b] = NONE;
        self.parent[bb] = b;
        let mut path = Vec::new();
        let mut endps = Vec::new();
        while bv != bb {
            self.parent[bv] = b;
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
            self.parent[bw] = b;
            path.push(bw);
            endps.push(self.labelend[bw] ^ 1);
            w = self.endpoint[self.labelend[bw]];
            bw = self.inblossom[w];
        }
        // Fix the children's duals at their present values: they stop moving on their own.
        let mut newly_even = Vec::new();
        let mut leaves = Vec::new();
        for &c in &path {
            let d = self.drift(c);
            let shift = self.off[c] + d;
            let from = leaves.len();
            self.leaves_into(c, &mut leaves);
            for &x in &leaves[from..] {
                self.ys[x] += shift;
            }
            if self.label[c] & 3 == ODD {
                newly_even.extend_from_slice(&leaves[from..]);
            }
            if c >= self.n {
                self.zs[c] -= 2 * d;
            }
        }
        for &x in &leaves {
            self.inblossom[x] = b;
        }
        self.label[b] = EVEN;
        self.labelend[b] = self.labelend[bb];
        self.tree[b] = t;
        self.members[t].push(b);
        self.zs[b] = 0;
        self.off[b] = 0;
        self.stamp[b] = self.now;
        self.childs[b] = path;
        self.endps[b] = endps;
        for x in newly_even {
            self.scan_even(x);
        }
    }

    /// Expands odd blossom `b`, whose dual has reached zero: the children on the even
    /// path from where the tree enters it to its base stay in the tree, alternately odd
    /// and even; the others become free.
    fn expand(&mut self, b: usize) {
        let t = self.tree[b];
        let shift = self.off[b] + self.drift(b);
        let childs = std::mem::take(&mut self.childs[b]);
        let endps = std::mem::take(&mut self.endps[b]);
        let mut leaves = Vec::new();
        for &s in &childs {
            self.parent[s] = NONE;
            self.off[s] = shift;
            self.stamp[s] = self.now;
            self.label[s] = FREE;
            if s < self.n {
                self.inblossom[s] = s;
            } else {
                leaves.clear();
                self.leaves_into(s, &mut leaves);
                for &x in &leaves {
                    self.inblossom[x] = s;
                }
            }
        }
        let len = childs.len() as isize;
        let at = |j: isize| -> usize { j.rem_euclid(len) as usize };
        let entrychild = self.inblossom[self.endpoint[self.labelend[b] ^ 1]];
        let mut j = childs.iter().position(|&c| c == entrychild).unwrap_or(0) as isize;
        let (jstep, endptrick): (isize, usize) = if j & 1 == 1 {
            j -= len;
            (1, 0)
        } else {
            (-1, 1)
        };
        let mut p = self.labelend[b];
        while j != 0 {
            self.extend(p, t);
            j += jstep;
            p = endps[at(j - endptrick as isize)] ^ endptrick;
            j += jstep;
        }
        // The base child is odd; its mate (outside `b`) is already even in the tree.
        let bv = childs[at(j)];
        self.label_odd(bv, p, t);
        self.label[b] = FREE;
        self.labelend[b] = NONE;
        self.base[b] = NONE;
        self.unused.push(b);
        leaves.clear();
        for &s in &childs {
            if self.label[s] == FREE {
                self.leaves_into(s, &mut leaves);
            }
        }
        for v in leaves {
            self.scan_free(v);
        }
    }

    /// Swaps matched and unmatched edges inside blossom `b` so that `v` becomes its base.
    fn augment_blossom(&mut self, b: usize, v: usize) {
        let mut t = v;
        while self.parent[t] != b {
            t = self.parent[t];
        }
        if t >= self.n {
            self.augment_blossom(t, v);
        }
        let len = self.childs[b].len() as isize;
        let i = self.childs[b].iter().position(|&c| c == t).unwrap_or(0);
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
            let t = self.childs[b][at(j)];
            let p = self.endps[b][at(j - endptrick as isize)] ^ endptrick;
            if t >= self.n {
                self.augment_blossom(t, self.endpoint[p]);
            }
            j += jstep;
            let t = self.childs[b][at(j)];
            if t >= self.n {
                self.augment_blossom(t, self.endpoint[p ^ 1]);
            }
            self.mate[self.endpoint[p]] = p ^ 1;
            self.mate[self.endpoint[p ^ 1]] = p;
        }
        self.childs[b].rotate_left(i);
        self.endps[b].rotate_left(i);
        self.base[b] = self.base[self.childs[b][0]];
    }

    /// Matches even vertex `s` to endpoint `p` (`NONE`: leaves it unmatched) and flips
    /// the tree path from its blossom up to the root, which ends matched.
    fn flip(&mut self, mut s: usize, mut p: usize) {
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

    fn top_vertex_zero(&mut self) -> Option<(i64, usize)> {
        while let Some(&Reverse((key, v))) = self.vertex_zero.peek() {
            if self.label[self.inblossom[v]] == EVEN && self.now + self.y(v) == key {
                return Some((key, v));
            }
            self.vertex_zero.pop();
        }
        None
    }

    fn top_to_free(&mut self) -> Option<(i64, usize)> {
        while let Some(&Reverse((key, k))) = self.to_free.peek() {
            let (u, v, _) = self.edges[k];
            let (lu, lv) = (self.label[self.inblossom[u]], self.label[self.inblossom[v]]);
            if ((lu == EVEN && lv == FREE) || (lu == FREE && lv == EVEN)) && self.now + self.slack(k) == key {
                return Some((key, k));
            }
            self.to_free.pop();
        }
        None
    }

    fn top_even_even(&mut self) -> Option<(i64, usize)> {
        while let Some(&Reverse((key, k))) = self.even_even.peek() {
            let (u, v, _) = self.edges[k];
            let (bu, bv) = (self.inblossom[u], self.inblossom[v]);
            if bu != bv && self.label[bu] == EVEN && self.label[bv] == EVEN && self.now + self.slack(k) / 2 == key {
                return Some((key, k));
            }
            self.even_even.pop();
        }
        None
    }

    fn top_odd_zero(&mut self) -> Option<(i64, usize)> {
        while let Some(&Reverse((key, b))) = self.odd_zero.peek() {
            if self.in_use(b) && self.parent[b] == NONE && self.label[b] == ODD && self.now + self.z(b) / 2 == key {
                return Some((key, b));
            }
            self.odd_zero.pop();
        }
        None
    }

    pub fn solve(mut self) -> Solution {
        while self.trees > 0 {
            // Ties: grow and augment before leaving a vertex unmatched or expanding.
            let mut next: Option<(i64, u8, usize)> = None;
            let candidates = [
                (self.top_even_even(), 3),
                (self.top_to_free(), 2),
                (self.top_vertex_zero(), 1),
                (self.top_odd_zero(), 4),
            ];
            for (top, kind) in candidates {
                if let Some((key, item)) = top
                    && next.is_none_or(|(best, _, _)| key < best)
                {
                    next = Some((key, kind, item));
                }
            }
            let Some((key, kind, item)) = next else {
                debug_assert!(false, "a live tree always has an event");
                break;
            };
            debug_assert!(key >= self.now, "events never go back in time");
            self.now = key;
            match kind {
                1 => self.vertex_reaches_zero(item),
                2 => self.edge_to_free(item),
                3 => self.edge_between_even(item),
                _ => self.expand(item),
            }
        }
        self.solution()
    }

    /// An even vertex's dual is zero: it becomes its tree's unmatched vertex and the tree
    /// is taken apart (the vertex's blossom stays free with it as base).
    fn vertex_reaches_zero(&mut self, v: usize) {
        let t = self.tree[self.inblossom[v]];
        self.flip(v, NONE);
        self.dissolve(&[t]);
    }

    fn edge_to_free(&mut self, k: usize) {
        let (a, _, _) = self.edges[k];
        // `p` is the even end's endpoint.
        let p = if self.label[self.inblossom[a]] == EVEN { 2 * k } else { 2 * k + 1 };
        let (u, v) = (self.endpoint[p], self.endpoint[p ^ 1]);
        let t = self.tree[self.inblossom[u]];
        let bv = self.inblossom[v];
        if self.mate[self.base[bv]] == NONE {
            // A free blossom whose base is unmatched (its dual is zero): augment into it.
            self.flip(u, p ^ 1);
            if bv >= self.n {
                self.augment_blossom(bv, v);
            }
            self.mate[v] = p;
            self.dissolve(&[t]);
        } else {
            self.extend(p, t);
        }
    }

    fn edge_between_even(&mut self, k: usize) {
        let (u, v, _) = self.edges[k];
        let (tu, tv) = (self.tree[self.inblossom[u]], self.tree[self.inblossom[v]]);
        if tu == tv {
            let base = self.scan_blossom(u, v);
            self.add_blossom(base, k);
        } else {
            self.flip(u, 2 * k + 1);
            self.flip(v, 2 * k);
            self.dissolve(&[tu, tv]);
        }
    }

    fn solution(self) -> Solution {
        let n = self.n;
        let mate = self.mate.iter().map(|&p| (p != NONE).then(|| self.endpoint[p])).collect();
        let y = (0..n).map(|v| self.y(v)).collect();
        let live: Vec<usize> = (n..2 * n).filter(|&b| self.base[b] != NONE).collect();
        let mut index = vec![NONE; 2 * n];
        for (i, &b) in live.iter().enumerate() {
            index[b] = i;
        }
        let blossoms = live
            .iter()
            .map(|&b| {
                let parent = (self.parent[b] != NONE).then(|| index[self.parent[b]]);
                let z = if self.parent[b] == NONE { self.z(b) } else { self.zs[b] };
                let mut vertices = Vec::new();
                self.leaves_into(b, &mut vertices);
                (parent, z, vertices)
            })
            .collect();
        Solution { mate, y, blossoms }
    }
}
