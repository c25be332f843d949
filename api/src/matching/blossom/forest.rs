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

mod blossoms;
mod queue;

use queue::Events;

use super::Edge;

const NONE: usize = usize::MAX;
const FREE: u8 = 0;
const EVEN: u8 = 1;
const ODD: u8 = 2;
/// Marks a blossom on the path walked while looking for a new blossom's base.
const CRUMB: u8 = 4;

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
    /// A blossom's vertices are a run of a linked list: from `first[b]` along `next_leaf`
    /// to `last[b]`. Forming a blossom links its children's runs in O(children); a run
    /// never changes inside, so expanding needs nothing.
    first: Vec<usize>,
    last: Vec<usize>,
    next_leaf: Vec<usize>,
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
                vertex_zero.push((ys[v], v));
            }
        }
        let even_even: Vec<_> =
            edges.iter().enumerate().map(|(k, &(u, v, w))| ((ys[u] + ys[v] - 4 * w) / 2, k)).collect();
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
            first: (0..n).chain(std::iter::repeat_n(NONE, n)).collect(),
            last: (0..n).chain(std::iter::repeat_n(NONE, n)).collect(),
            next_leaf: vec![NONE; n],
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
            vertex_zero: Events::from_vec(vertex_zero),
            to_free: Events::new(),
            even_even: Events::from_vec(even_even),
            odd_zero: Events::new(),
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
        let (mut v, last) = (self.first[b], self.last[b]);
        loop {
            out.push(v);
            if v == last {
                break;
            }
            v = self.next_leaf[v];
        }
    }

    fn in_use(&self, b: usize) -> bool {
        b < self.n || self.base[b] != NONE
    }

    /// `v` has just become even: its own event, and those of its edges.
    fn scan_even(&mut self, v: usize) {
        let bv = self.inblossom[v];
        let yv = self.y(v);
        self.vertex_zero.push(self.now + yv, v);
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
                    self.even_even.push(self.now + slack / 2, k);
                }
                FREE => {
                    let slack = yv + self.y(u) - 4 * self.edges[k].2;
                    self.to_free.push(self.now + slack, p << 1);
                }
                _ => {}
            }
        }
    }

    /// `v` has just become free (or its earliest edge to an even vertex went stale):
    /// queues that earliest edge only. Edges to vertices that become even later are queued
    /// by [`Self::scan_even`], and when this one goes stale (its even end leaves its tree,
    /// or comes back with another key) it surfaces marked, and `v` is scanned again. A
    /// tree taken apart thus queues one edge per vertex, not one per neighbour.
    fn scan_free(&mut self, v: usize) {
        let yv = self.y(v);
        let mut best: Option<(i64, usize)> = None;
        for i in self.adj_start[v]..self.adj_start[v + 1] {
            let p = self.adj[i];
            let u = self.endpoint[p];
            if self.label[self.inblossom[u]] == EVEN {
                let slack = yv + self.y(u) - 4 * self.edges[p / 2].2;
                if best.is_none_or(|(s, _)| slack < s) {
                    best = Some((slack, p));
                }
            }
        }
        if let Some((slack, p)) = best {
            // Entries name the free end's endpoint; the low bit marks "v's earliest".
            self.to_free.push(self.now + slack, ((p ^ 1) << 1) | 1);
        }
    }

    fn label_odd(&mut self, b: usize, p: usize, t: usize) {
        self.set_label(b, ODD);
        self.labelend[b] = p;
        self.tree[b] = t;
        self.members[t].push(b);
        if b >= self.n {
            let z = self.z(b);
            self.odd_zero.push(self.now + z / 2, b);
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

    fn top_vertex_zero(&mut self) -> Option<(i64, usize)> {
        while let Some((key, v)) = self.vertex_zero.peek() {
            if self.label[self.inblossom[v]] == EVEN && self.now + self.y(v) == key {
                return Some((key, v));
            }
            self.vertex_zero.pop();
        }
        None
    }

    fn top_to_free(&mut self) -> Option<(i64, usize)> {
        while let Some((key, item)) = self.to_free.peek() {
            let p = item >> 1;
            let (v, u) = (self.endpoint[p], self.endpoint[p ^ 1]);
            let free = self.label[self.inblossom[v]] == FREE;
            if free && self.label[self.inblossom[u]] == EVEN && self.now + self.slack(p / 2) == key {
                return Some((key, item));
            }
            self.to_free.pop();
            if item & 1 == 1 && free {
                self.scan_free(v);
            }
        }
        None
    }

    fn top_even_even(&mut self) -> Option<(i64, usize)> {
        while let Some((key, k)) = self.even_even.peek() {
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
        while let Some((key, b)) = self.odd_zero.peek() {
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

    /// A tight edge from an even vertex to a free blossom (`item`: the free end's endpoint,
    /// shifted left by one).
    fn edge_to_free(&mut self, item: usize) {
        // `p` is the even end's endpoint.
        let p = (item >> 1) ^ 1;
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
