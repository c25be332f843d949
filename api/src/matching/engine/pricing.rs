//! Pricing: the allowed pairs the sparse graph left out, checked against the matching's
//! duals; those that could improve it are added and the matching runs again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use super::{Compiled, Scoring, blossom};

impl Compiled<'_> {
    /// The allowed pairs absent from the graph that could improve the matching: those
    /// whose score exceeds what the duals `y` cover, `S·w > y[u] + y[v]` (`S` being
    /// [`blossom::DUAL_SCALE`]).
    /// An absent pair scores at most both ends' floors, so only pairs with
    /// `y[u] + y[v] < S · min(floor[u], floor[v])` are scored: few, since the duals of a
    /// good matching are large.
    fn price(&self, floor: &[Option<i64>], present: &Pairs, y: &[i64], bonus: i64, round: usize) -> Vec<blossom::Edge> {
        // The duals are those of the raised weights (score + bonus), and so are the floors.
        let mut open: Vec<(usize, i64)> =
            floor.iter().enumerate().filter_map(|(u, f)| f.map(|f| (u, f + bonus))).collect();
        open.sort_by_key(|&(u, _)| (y[u], u));
        // The most violated first; each applicant gains at most `cap` edges in this round,
        // 4 in the first and twice as many in each next one. Ties between many equal scores
        // could otherwise add a large part of the complete graph at once (and the
        // matching's cost grows with its edges), while a fixed cap could take many rounds
        // (each a new matching) where the duals are degenerate.
        let cap = PRICED_PER_ROUND.saturating_mul(1 << round.min(20));
        // The greedy below admits a pair only while one of its ends has gained fewer than
        // `cap`, so every pair it admits is among the `cap` most violated of one of its
        // ends: each applicant's `cap` most violated are all it needs (the same pairs as
        // from the whole list, in far less memory when degenerate duals leave millions
        // violated), and a pair that cannot beat either end's kept ones is not scored.
        let mut most: Vec<Violated> = vec![Violated::new(); self.len()];
        let floor_of = |most: &Violated| -> i64 {
            if most.len() < cap { i64::MIN } else { most.peek().map_or(i64::MIN, |Reverse((d, ..))| *d) }
        };
        for &(u, fu) in &open {
            let limit = blossom::DUAL_SCALE * fu - y[u];
            for &(v, fv) in &open {
                if y[v] >= limit {
                    break;
                }
                if v <= u || y[u] + y[v] >= blossom::DUAL_SCALE * fv || present.contains(&(u, v)) || !self.allowed(u, v)
                {
                    continue;
                }
                let bound = blossom::DUAL_SCALE * fu.min(fv) - y[u] - y[v];
                if bound < floor_of(&most[u]) && bound < floor_of(&most[v]) {
                    continue;
                }
                let w = self.score(u, v);
                let raised = w + bonus;
                if y[u] + y[v] < blossom::DUAL_SCALE * raised {
                    let entry = (blossom::DUAL_SCALE * raised - y[u] - y[v], Reverse((u, v)), w);
                    for end in [u, v] {
                        most[end].push(Reverse(entry));
                        if most[end].len() > cap {
                            most[end].pop();
                        }
                    }
                }
            }
        }
        let mut extra: Vec<ViolatedPair> =
            most.into_iter().flat_map(|heap| heap.into_iter().map(|Reverse(entry)| entry)).collect();
        extra.sort_unstable_by(|a, b| b.cmp(a));
        extra.dedup();
        let mut gained = vec![0usize; self.len()];
        let mut kept = Vec::new();
        for (_, Reverse((u, v)), w) in extra {
            if gained[u] < cap || gained[v] < cap {
                gained[u] += 1;
                gained[v] += 1;
                kept.push((u, v, w));
            }
        }
        kept
    }
}

/// An applicant's most violated absent pairs so far: a min-heap of (violation, pair in
/// reverse order, score), the least violated on top.
type Violated = BinaryHeap<Reverse<ViolatedPair>>;

/// (violation, the pair in reverse order, its score): ordered most violated first, then
/// the lower pair first.
type ViolatedPair = (i64, Reverse<(usize, usize)>, i64);

/// The pairs in the graph (pricing asks of many pairs whether they already are).
type Pairs = HashSet<(usize, usize), foldhash::fast::RandomState>;

/// The graph a matching runs on, grown by pricing.
pub(super) struct Priced {
    pub(super) edges: Vec<blossom::Edge>,
    pub(super) present: Pairs,
    /// Pricing rounds so far.
    pub(super) rounds: usize,
}

impl Priced {
    /// The maximum-weight matching of the graph with every weight raised by `bonus`,
    /// priced against the complete graph of allowed pairs: absent pairs the duals do not
    /// cover are added and the matching runs again, until none is left (the result is then
    /// proven optimal there) or, above `exact_up_to` applicants, after one pricing round.
    pub(super) fn match_priced(
        &mut self,
        c: &Compiled<'_>,
        floor: &[Option<i64>],
        scoring: &Scoring,
        bonus: i64,
    ) -> (Vec<Option<usize>>, bool) {
        let n = c.len();
        loop {
            let raised: Vec<blossom::Edge> = self.edges.iter().map(|&(u, v, w)| (u, v, w + bonus)).collect();
            let (mate, duals) = blossom::max_weight_matching_with_duals(n, &raised);
            let extra = c.price(floor, &self.present, &duals, bonus, self.rounds);
            if extra.is_empty() || (n > scoring.exact_up_to && self.rounds == LARGE_ROUND_PRICING) {
                return (mate, extra.is_empty());
            }
            self.rounds += 1;
            self.present.extend(extra.iter().map(|&(u, v, _)| (u, v)));
            self.edges.extend(extra);
            self.edges.sort_unstable();
        }
    }
}

/// Pricing rounds above `exact_up_to` applicants.
const LARGE_ROUND_PRICING: usize = 1;

/// The most edges pricing adds to one applicant in its first round (doubling each round).
const PRICED_PER_ROUND: usize = 4;
