//! `interlib match --graph FILE` prints the optimal matching of a graph file, or says why not.

use std::process::Command;

fn run(graph: &str) -> std::process::Output {
    run_with(graph, &[])
}

fn run_with(graph: &str, flags: &[&str]) -> std::process::Output {
    let path = std::env::temp_dir()
        .join(format!("interlib-graph-{}.json", std::process::id() as u64 * 1000 + graph.len() as u64));
    std::fs::write(&path, graph).expect("graph file");
    let out = Command::new(env!("CARGO_BIN_EXE_interlib"))
        .args(["match", "--graph"])
        .arg(&path)
        .args(flags)
        .output()
        .expect("the binary runs");
    let _ = std::fs::remove_file(&path);
    out
}

#[test]
fn match_prints_the_best_pairs_and_their_weight() {
    // A triangle with a pendant vertex: 0-1-2 form a blossom, 2-3 hangs off it.
    let out = run(r#"{"vertices": 4, "edges": [[0, 1, 6], [1, 2, 6], [0, 2, 6], [2, 3, 5]]}"#);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(answer["weight"], 11);
    assert_eq!(answer["pairs"].as_array().map(Vec::len), Some(2));
}

#[test]
fn max_cardinality_pairs_the_most_vertices_first() {
    let chain = r#"{"vertices": 4, "edges": [[0, 1, 100], [1, 2, 305], [2, 3, 100]]}"#;
    let answer = |out: std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    };
    assert_eq!(answer(run(chain)), serde_json::json!({"pairs": [[1, 2]], "weight": 305}));
    let most = answer(run_with(chain, &["--max-cardinality"]));
    assert_eq!(most, serde_json::json!({"pairs": [[0, 1], [2, 3]], "weight": 200}));
}

#[test]
fn match_refuses_a_malformed_graph_with_a_reason() {
    let out = run(r#"{"vertices": 2, "edges": [[0, 5, 1]]}"#);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vertices are 0..2"));
}
