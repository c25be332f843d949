//! `matchbench --graphs`: the weighted matching solver against LEMON's
//! `MaxWeightedMatching` (C++) and networkx on the same random sparse graphs, in one run.
//! Times are of the matching alone (each reference times itself around its call, after
//! reading the graph); the median of the runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use interlib::matching::blossom::{self, Edge};
use serde_json::Value;

pub struct Options<'a> {
    pub sizes: &'a [usize],
    pub degree: usize,
    pub runs: usize,
    pub seed: u64,
    pub networkx_up_to: usize,
}

/// Heaviest weight of the random graphs.
const MAX_WEIGHT: i64 = 1_000;

/// Each vertex picks `degree` random partners (repeats dropped), weights 1 to 1,000.
pub fn random_graph(n: usize, degree: usize, seed: u64) -> Vec<Edge> {
    let mut rng = fastrand::Rng::with_seed(seed ^ n as u64);
    let mut seen = std::collections::HashSet::new();
    let mut edges = Vec::with_capacity(n * degree);
    for u in 0..n {
        for _ in 0..degree {
            let v = rng.usize(0..n);
            if u != v && seen.insert((u.min(v), u.max(v))) {
                edges.push((u, v, rng.i64(1..=MAX_WEIGHT)));
            }
        }
    }
    edges
}

/// The graph as the references read it: "n m", then "u v w" per edge.
fn graph_text(n: usize, edges: &[Edge]) -> Vec<u8> {
    let mut out = format!("{n} {}\n", edges.len()).into_bytes();
    for &(u, v, w) in edges {
        out.extend_from_slice(format!("{u} {v} {w}\n").as_bytes());
    }
    out
}

/// One external run: its JSON line.
fn run_reference(program: &Path, args: &[&str], input: &[u8]) -> anyhow::Result<Value> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    child.stdin.take().context("stdin")?.write_all(input)?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("{} failed: {}", program.display(), String::from_utf8_lossy(&output.stderr));
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The median time and the last answer of `runs` runs.
fn median_of<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<(Duration, T)>) -> anyhow::Result<(f64, T)> {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let (time, answer) = f()?;
        times.push(time);
        last = Some(answer);
    }
    times.sort();
    Ok((times[times.len() / 2].as_secs_f64(), last.context("no run")?))
}

/// Compiles the LEMON harness; `None` (with the reason printed) when it cannot be.
fn lemon_harness() -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/lemon_matching.cpp");
    let binary = std::env::temp_dir().join(format!("interlib-lemon-matching-{}", std::process::id()));
    let compiled = Command::new("g++").args(["-O2", "-o"]).arg(&binary).arg(&source).arg("-llemon").output();
    match compiled {
        Ok(out) if out.status.success() => Some(binary),
        Ok(out) => {
            println!(
                "LEMON comparison skipped: the harness did not compile (is liblemon-dev installed?): {}",
                String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default()
            );
            None
        }
        Err(e) => {
            println!("LEMON comparison skipped: no C++ compiler (g++: {e})");
            None
        }
    }
}

/// Whether python3 imports networkx; its version.
fn networkx_version() -> Option<String> {
    let out = Command::new("python3").args(["-c", "import networkx; print(networkx.__version__)"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The solver on one graph: median time and the certified weight.
fn interlib(n: usize, edges: &[Edge], runs: usize) -> anyhow::Result<(f64, i64)> {
    let (time, solution) = median_of(runs, || {
        let started = Instant::now();
        let solution = blossom::max_weight_matching_certified(n, edges);
        Ok((started.elapsed(), solution))
    })?;
    let weight = blossom::verify_optimal(n, edges, &solution).map_err(|e| anyhow::anyhow!("certificate: {e}"))?;
    Ok((time, weight))
}

fn reference(program: &Path, args: &[&str], text: &[u8], runs: usize) -> anyhow::Result<(f64, i64)> {
    let (time, answer) = median_of(runs, || {
        let answer = run_reference(program, args, text)?;
        let seconds = answer["seconds"].as_f64().context("seconds")?;
        Ok((Duration::from_secs_f64(seconds), answer))
    })?;
    Ok((time, answer["weight"].as_i64().context("weight")?))
}

/// A size's result for the growth lines: vertices, edges, interlib's time, LEMON's.
type Row = (usize, usize, f64, Option<f64>);

/// Runs the comparison and prints its table.
///
/// # Errors
/// A reference that fails, or an answer that differs from LEMON's or whose certificate
/// does not hold.
pub fn run(options: &Options<'_>) -> anyhow::Result<()> {
    let lemon = lemon_harness();
    let networkx = networkx_version();
    let python = PathBuf::from("python3");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/networkx_matching.py");
    let script = script.to_string_lossy().into_owned();
    println!(
        "weighted matching, random graphs ({} random partners per vertex, weights 1-{MAX_WEIGHT}), matching alone, median of {} runs; every answer's dual certificate checked",
        options.degree, options.runs
    );
    if networkx.is_none() {
        println!("networkx comparison skipped: python3 cannot import networkx");
    }
    println!(
        "| vertices | edges | objective | interlib | LEMON | interlib / LEMON | networkx {} |",
        networkx.as_deref().unwrap_or("")
    );
    println!("|---|---|---|---|---|---|---|");
    let mut rows: Vec<Row> = Vec::new();
    for &n in options.sizes {
        let edges = random_graph(n, options.degree, options.seed);
        let bonus = blossom::cardinality_bonus(n, 0, MAX_WEIGHT).context("bonus")?;
        let raised: Vec<Edge> = edges.iter().map(|&(u, v, w)| (u, v, w + bonus)).collect();
        for (objective, graph) in [("largest weight", &edges), ("most pairs, then weight", &raised)] {
            let text = graph_text(n, graph);
            let (ours, weight) = interlib(n, graph, options.runs)?;
            let theirs = match &lemon {
                Some(program) => {
                    let (time, lemon_weight) = reference(program, &[], &text, options.runs)?;
                    anyhow::ensure!(
                        lemon_weight == weight,
                        "{n} vertices, {objective}: LEMON's weight {lemon_weight}, interlib's {weight}"
                    );
                    Some(time)
                }
                None => None,
            };
            let nx = match (&networkx, objective) {
                (Some(_), "largest weight") if n <= options.networkx_up_to => {
                    let (time, nx_weight) = reference(&python, &[&script], &text, 1)?;
                    anyhow::ensure!(
                        nx_weight == weight,
                        "{n} vertices: networkx's weight {nx_weight}, interlib's {weight}"
                    );
                    format!("{time:.3} s")
                }
                _ => "-".to_owned(),
            };
            println!(
                "| {n} | {} | {objective} | {ours:.3} s | {} | {} | {nx} |",
                graph.len(),
                theirs.map_or("-".to_owned(), |t| format!("{t:.3} s")),
                theirs.map_or("-".to_owned(), |t| format!("{:.2}", ours / t)),
            );
            if objective == "largest weight" {
                rows.push((n, graph.len(), ours, theirs));
            }
        }
    }
    // Growth: the exponent of time against size between consecutive sizes (m log n grows
    // with an exponent a little above 1 on these graphs).
    let mut spans: Vec<[&Row; 2]> = rows.windows(2).map(|w| [&w[0], &w[1]]).collect();
    if rows.len() > 2
        && let (Some(first), Some(last)) = (rows.first(), rows.last())
    {
        spans.push([first, last]);
    }
    for pair in spans {
        let (a, b) = (&pair[0], &pair[1]);
        let scale = (b.0 as f64 / a.0 as f64).ln();
        let exponent = |ta: f64, tb: f64| (tb / ta).ln() / scale;
        println!(
            "growth from {} to {} vertices (largest weight): time grows as size^{:.2} (interlib){}",
            a.0,
            b.0,
            exponent(a.2, b.2),
            match (a.3, b.3) {
                (Some(la), Some(lb)) => format!(", size^{:.2} (LEMON)", exponent(la, lb)),
                _ => String::new(),
            }
        );
    }
    if let Some(program) = lemon {
        let _ = std::fs::remove_file(program);
    }
    Ok(())
}
