//! The sparse candidate graph: each applicant's best-scoring allowed partners.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Compiled, blossom};

impl Compiled<'_> {
    /// The candidate graph: every allowed pair, or each applicant's `k` best (an edge is
    /// kept when it is among the best of either end). Edges `(u, v, w)` with `u < v`, sorted.
    pub(super) fn candidate_edges(&self, k: usize) -> Vec<blossom::Edge> {
        self.candidate_graph(k).edges
    }

    /// [`candidate_edges`](Self::candidate_edges), with each applicant's floor: the score of
    /// their `k`-th best candidate when they have more allowed partners than that (an
    /// absent edge scores at most the floors of both its ends), `None` when all their
    /// allowed partners are in the graph.
    pub(super) fn candidate_graph(&self, k: usize) -> Candidates {
        let n = self.len();
        if k == 0 || k + 1 >= n {
            let mut edges = Vec::new();
            for a in 0..n {
                for b in a + 1..n {
                    if self.allowed(a, b) {
                        edges.push((a, b, self.score(a, b)));
                    }
                }
            }
            return Candidates { edges, floor: vec![None; n] };
        }
        // Per applicant, a min-heap of their k best (score, preferring lower ids on ties),
        // and how many allowed partners they have. The rows are shared out between threads,
        // each with heaps of its own, merged after: the k best under a total order are the
        // same whoever found them, so the result does not depend on the threads.
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 4);
        let rows: Vec<Vec<usize>> = (0..threads).map(|t| (t..n).step_by(threads).collect()).collect();
        let parts: Vec<(Vec<Best>, Vec<usize>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .iter()
                .map(|mine| {
                    scope.spawn(move || {
                        let mut best: Vec<Best> = (0..n).map(|_| BinaryHeap::new()).collect();
                        let mut partners = vec![0usize; n];
                        for &a in mine {
                            for b in a + 1..n {
                                if self.allowed(a, b) {
                                    let w = self.score(a, b);
                                    offer(&mut best[a], (w, Reverse(b)), k);
                                    offer(&mut best[b], (w, Reverse(a)), k);
                                    partners[a] += 1;
                                    partners[b] += 1;
                                }
                            }
                        }
                        (best, partners)
                    })
                })
                .collect();
            workers.into_iter().filter_map(|w| w.join().ok()).collect()
        });
        let mut best: Vec<Best> = (0..n).map(|_| BinaryHeap::with_capacity(k + 1)).collect();
        let mut partners = vec![0usize; n];
        for (heaps, counts) in parts {
            for (u, heap) in heaps.into_iter().enumerate() {
                for Reverse(key) in heap {
                    offer(&mut best[u], key, k);
                }
                partners[u] += counts[u];
            }
        }
        let floor = best
            .iter()
            .zip(&partners)
            .map(|(heap, count)| if *count > k { heap.peek().map(|Reverse((w, _))| *w) } else { None })
            .collect();
        let mut edges: Vec<blossom::Edge> = best
            .into_iter()
            .enumerate()
            .flat_map(|(a, heap)| heap.into_iter().map(move |Reverse((w, Reverse(b)))| (a.min(b), a.max(b), w)))
            .collect();
        edges.sort_unstable();
        edges.dedup();
        Candidates { edges, floor }
    }
}

/// A sparse candidate graph and each applicant's floor (see [`Compiled::candidate_graph`]).
pub(super) struct Candidates {
    pub(super) edges: Vec<blossom::Edge>,
    pub(super) floor: Vec<Option<i64>>,
}

/// An applicant's best candidates so far: a min-heap of (score, lower id first).
type Best = BinaryHeap<Reverse<(i64, Reverse<usize>)>>;

/// Offers a candidate to an applicant's `k` best.
fn offer(heap: &mut Best, key: (i64, Reverse<usize>), k: usize) {
    if heap.len() < k {
        heap.push(Reverse(key));
    } else if heap.peek().is_some_and(|Reverse(min)| key > *min) {
        heap.pop();
        heap.push(Reverse(key));
    }
}
