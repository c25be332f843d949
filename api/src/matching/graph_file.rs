//! The engine on a graph given as JSON, for operators and for checking it against other
//! implementations: `{"vertices": N, "edges": [[u, v, weight], ...]}` in,
//! `{"pairs": [[u, v], ...], "weight": TOTAL}` out (`interlib match --graph FILE`): a
//! maximum-weight matching, or with `--max-cardinality` the round's objective (the most
//! pairs, then the largest weight).

use serde::{Deserialize, Serialize};

use super::blossom::{Edge, max_cardinality_matching, max_weight_matching};

/// What the matching maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// The largest total weight (edges with a non-positive weight are never used).
    MaxWeight,
    /// The most pairs, then the largest total weight among those (every edge may be used).
    MaxCardinality,
}

/// Most vertices a graph file may have.
pub const MAX_VERTICES: usize = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphFile {
    vertices: usize,
    edges: Vec<(usize, usize, i64)>,
}

/// The answer: matched pairs (each `u < v`, sorted) and their total weight.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Matching {
    pub pairs: Vec<(usize, usize)>,
    pub weight: i64,
}

/// Reads a graph file and matches it.
///
/// # Errors
/// A message saying what is wrong with the file: not JSON of that shape, a vertex out of
/// range, a loop, a repeated edge, or a weight too large to add up safely.
pub fn solve(text: &str, objective: Objective) -> Result<Matching, String> {
    let graph: GraphFile = serde_json::from_str(text)
        .map_err(|e| format!("expected {{\"vertices\": N, \"edges\": [[u, v, weight], ...]}} with integers: {e}"))?;
    if graph.vertices > MAX_VERTICES {
        return Err(format!("at most {MAX_VERTICES} vertices"));
    }
    let limit = i64::MAX / 4 / i64::try_from(graph.vertices.max(1)).unwrap_or(i64::MAX);
    let mut seen = std::collections::HashSet::with_capacity(graph.edges.len());
    for (index, &(u, v, w)) in graph.edges.iter().enumerate() {
        if u >= graph.vertices || v >= graph.vertices {
            return Err(format!("edge {index}: vertices are 0..{}", graph.vertices));
        }
        if u == v {
            return Err(format!("edge {index}: a vertex cannot be paired with itself"));
        }
        if !seen.insert((u.min(v), u.max(v))) {
            return Err(format!("edge {index}: {u}-{v} is given twice"));
        }
        if w.abs() > limit {
            return Err(format!("edge {index}: weights are at most {limit} in absolute value for this graph"));
        }
    }
    let edges: Vec<Edge> = graph.edges;
    let mate = match objective {
        Objective::MaxWeight => max_weight_matching(graph.vertices, &edges),
        Objective::MaxCardinality => max_cardinality_matching(graph.vertices, &edges).ok_or_else(|| {
            format!(
                "the weights are too large for --max-cardinality on {} vertices (it adds {} times the \
                 largest weight to each edge)",
                graph.vertices, graph.vertices
            )
        })?,
    };
    let weights: std::collections::HashMap<(usize, usize), i64> =
        edges.iter().map(|&(u, v, w)| ((u.min(v), u.max(v)), w)).collect();
    let pairs: Vec<(usize, usize)> =
        mate.iter().enumerate().filter_map(|(v, m)| m.filter(|&u| v < u).map(|u| (v, u))).collect();
    let weight = pairs.iter().map(|p| weights.get(p).copied().unwrap_or(0)).sum();
    Ok(Matching { pairs, weight })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_graph_file() {
        let out = solve(r#"{"vertices": 4, "edges": [[0, 1, 5], [1, 2, 8], [2, 3, 5]]}"#, Objective::MaxWeight)
            .expect("solves");
        assert_eq!(out, Matching { pairs: vec![(0, 1), (2, 3)], weight: 10 });
        // The middle pair outweighs the two others: maximum weight takes it alone, the
        // round's objective pairs all four.
        let chain = r#"{"vertices": 4, "edges": [[0, 1, 5], [1, 2, 30], [2, 3, 5]]}"#;
        let heaviest = solve(chain, Objective::MaxWeight).expect("solves");
        assert_eq!(heaviest, Matching { pairs: vec![(1, 2)], weight: 30 });
        let most = solve(chain, Objective::MaxCardinality).expect("solves");
        assert_eq!(most, Matching { pairs: vec![(0, 1), (2, 3)], weight: 10 });
        assert_eq!(serde_json::to_string(&out).expect("json"), r#"{"pairs":[[0,1],[2,3]],"weight":10}"#);
        let empty = solve(r#"{"vertices": 3, "edges": []}"#, Objective::MaxCardinality).expect("solves");
        assert_eq!(empty, Matching { pairs: vec![], weight: 0 });
    }

    #[test]
    fn refuses_malformed_graphs_with_a_reason() {
        for (text, reason) in [
            ("[]", "expected"),
            (r#"{"vertices": 2, "edges": [[0, 1, 1.5]]}"#, "expected"),
            (r#"{"vertices": 2, "edges": [[0, 2, 1]]}"#, "vertices are 0..2"),
            (r#"{"vertices": 2, "edges": [[1, 1, 1]]}"#, "itself"),
            (r#"{"vertices": 2, "edges": [[0, 1, 1], [1, 0, 2]]}"#, "twice"),
            (r#"{"vertices": 2, "edges": [[0, 1, 9223372036854775807]]}"#, "at most"),
        ] {
            let err = solve(text, Objective::MaxWeight).expect_err(text);
            assert!(err.contains(reason), "{text}: {err}");
        }
        let big = r#"{"vertices": 3, "edges": [[0, 1, 500000000000000000], [1, 2, 1]]}"#;
        assert!(solve(big, Objective::MaxWeight).is_ok());
        let err = solve(big, Objective::MaxCardinality).expect_err("too large");
        assert!(err.contains("too large for --max-cardinality"), "{err}");
    }
}
