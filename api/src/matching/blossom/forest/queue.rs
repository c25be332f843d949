//! The solver's event queues: a 4-ary min-heap of `(time, item)` ordered by the time
//! alone. Half the depth of a binary heap, one comparison per pair of entries, and the
//! four children of an entry share a cache line: the queues are the solver's hottest
//! code. Entries of equal time come out in an order fixed by the pushes, so the solver
//! stays deterministic.

pub struct Events {
    heap: Vec<(i64, usize)>,
}

const ARITY: usize = 4;

impl Events {
    pub fn new() -> Self {
        Self { heap: Vec::new() }
    }

    /// A queue of these entries, built in linear time.
    pub fn from_vec(heap: Vec<(i64, usize)>) -> Self {
        let mut events = Self { heap };
        for i in (0..events.heap.len().div_ceil(ARITY)).rev() {
            events.sift_down(i);
        }
        events
    }

    pub fn peek(&self) -> Option<(i64, usize)> {
        self.heap.first().copied()
    }

    pub fn push(&mut self, time: i64, item: usize) {
        let mut i = self.heap.len();
        self.heap.push((time, item));
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].0 <= time {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = (time, item);
    }

    /// Removes the earliest entry.
    pub fn pop(&mut self) {
        let Some(last) = self.heap.pop() else { return };
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0);
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        let entry = self.heap[i];
        loop {
            let first = ARITY * i + 1;
            if first >= len {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + ARITY).min(len) {
                if self.heap[c].0 < self.heap[best].0 {
                    best = c;
                }
            }
            if self.heap[best].0 >= entry.0 {
                break;
            }
            self.heap[i] = self.heap[best];
            i = best;
        }
        self.heap[i] = entry;
    }
}

#[cfg(test)]
mod tests {
    use super::Events;

    #[test]
    fn entries_come_out_in_time_order() {
        let mut rng = fastrand::Rng::with_seed(3);
        for size in [0, 1, 2, 5, 17, 300] {
            let start: Vec<(i64, usize)> = (0..size).map(|i| (rng.i64(0..50), i)).collect();
            let mut events = Events::from_vec(start.clone());
            let mut expected: Vec<i64> = start.iter().map(|e| e.0).collect();
            for i in 0..size {
                let t = rng.i64(0..50);
                events.push(t, size + i);
                expected.push(t);
            }
            expected.sort_unstable();
            let mut out = Vec::new();
            while let Some((t, _)) = events.peek() {
                out.push(t);
                events.pop();
            }
            assert_eq!(out, expected);
        }
    }
}
