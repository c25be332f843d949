//! The blossoms of the alternating forest: finding a new blossom's base, shrinking an
//! odd cycle, expanding an odd blossom whose dual reached zero, and flipping matched and
//! unmatched edges along a tree path and inside blossoms (van Rantwijk's formulation).

use super::{CRUMB, EVEN, FREE, NONE, ODD, Solver};

impl Solver<'_> {
    /// Walks up from the even vertices `v` and `w` of one tree to the base of the
    /// blossom the edge between them closes.
    pub(super) fn scan_blossom(&mut self, v: usize, w: usize) -> usize {
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
    pub(super) fn add_blossom(&mut self, base: usize, k: usize) {
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
        for pair in path.windows(2) {
            self.next_leaf[self.last[pair[0]]] = self.first[pair[1]];
        }
        self.first[b] = self.first[path[0]];
        self.last[b] = self.last[path[path.len() - 1]];
        self.childs[b] = path;
        self.endps[b] = endps;
        for x in newly_even {
            self.scan_even(x);
        }
    }

    /// Expands odd blossom `b`, whose dual has reached zero: the children on the even
    /// path from where the tree enters it to its base stay in the tree, alternately odd
    /// and even; the others become free.
    pub(super) fn expand(&mut self, b: usize) {
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
    /// The sub-blossoms on the way are rearranged from a work list rather than by
    /// recursion: blossoms can nest as deep as half the vertices, deeper than a thread's
    /// stack. Each sub-blossom's rearrangement touches only its own inside, so the order
    /// does not matter.
    pub(super) fn augment_blossom(&mut self, b: usize, v: usize) {
        let mut work = vec![(b, v)];
        while let Some((b, v)) = work.pop() {
            let mut t = v;
            while self.parent[t] != b {
                t = self.parent[t];
            }
            if t >= self.n {
                work.push((t, v));
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
                    work.push((t, self.endpoint[p]));
                }
                j += jstep;
                let t = self.childs[b][at(j)];
                if t >= self.n {
                    work.push((t, self.endpoint[p ^ 1]));
                }
                self.mate[self.endpoint[p]] = p ^ 1;
                self.mate[self.endpoint[p ^ 1]] = p;
            }
            self.childs[b].rotate_left(i);
            self.endps[b].rotate_left(i);
            // `v` is now the base of the child holding it, and so of `b`.
            self.base[b] = v;
        }
    }

    /// Matches even vertex `s` to endpoint `p` (`NONE`: leaves it unmatched) and flips
    /// the tree path from its blossom up to the root, which ends matched.
    pub(super) fn flip(&mut self, mut s: usize, mut p: usize) {
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
