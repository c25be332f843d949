//! Benchmark of the matching engine on demo-generator rounds.
//!
//! ```text
//! cargo run --release -p interlib-tests --bin matchbench                  # engine at 500, 2,000, 10,000
//! cargo run --release -p interlib-tests --bin matchbench -- --e2e         # also runMatching on 2,000 in PostgreSQL
//! ```
//!
//! For each size it reports the time of the whole engine (scoring, candidate graph,
//! matching, groups of three, explanations; median of `--runs`), its memory (the growth of
//! the peak resident set over the generated round, in a child process per size), the candidate graph's size and, up to `--complete-up-to`
//! applicants, the same round on the complete graph of allowed pairs: the sparse graph's
//! total weight against the true optimum, and the time ratio.

use std::time::{Duration, Instant};

use clap::Parser;
use interlib::matching::engine::{self, Scoring};
use interlib::seed::matching_problem;
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Round sizes (applicants).
    #[arg(long, value_delimiter = ',', default_values_t = [500, 2_000, 10_000])]
    sizes: Vec<usize>,
    /// Runs per size (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also solve on the complete graph of allowed pairs up to this size.
    #[arg(long, default_value_t = 2_000)]
    complete_up_to: usize,
    /// Candidates per applicant (the sparse graph); default: the engine's.
    #[arg(long)]
    candidates: Option<usize>,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Internal: measure one size in this process and print it as JSON.
    #[arg(long, hide = true)]
    single: Option<usize>,
}

/// The peak resident set of this process (`VmHWM`), in bytes.
fn peak_rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// One size, in this process: prints a JSON line.
fn single(args: &Args, n: usize, scoring: &Scoring) {
    let problem = matching_problem(n, args.seed);
    let base = peak_rss();
    let mut times: Vec<Duration> = Vec::new();
    let mut result = None;
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let outcome = engine::solve(&problem, scoring);
        times.push(started.elapsed());
        result = Some(outcome);
    }
    let memory = peak_rss().saturating_sub(base);
    times.sort();
    let Some(outcome) = result else { return };
    let complete = (n <= args.complete_up_to).then(|| {
        let all = Scoring { candidates: 0, ..scoring.clone() };
        let started = Instant::now();
        let full = engine::solve(&problem, &all);
        json!({ "weight": full.matching_weight, "edges": full.candidate_edges, "seconds": started.elapsed().as_secs_f64() })
    });
    let line = json!({
        "n": n,
        "seconds": times[times.len() / 2].as_secs_f64(),
        "memoryMb": mb(memory),
        "edges": outcome.candidate_edges,
        "groups": outcome.groups.len(),
        "trios": outcome.groups.iter().filter(|g| g.members.len() == 3).count(),
        "unmatched": outcome.unmatched.len(),
        "weight": outcome.matching_weight,
        "complete": complete,
    });
    println!("{line}");
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut scoring = Scoring::default();
    if let Some(k) = args.candidates {
        scoring.candidates = k;
    }
    if let Some(n) = args.single {
        single(&args, n, &scoring);
        return Ok(());
    }
    println!(
        "matching engine, demo-generator rounds, {} candidates per applicant, median of {} runs",
        scoring.candidates, args.runs
    );
    println!(
        "| applicants | time | memory | candidate edges | groups (of three) | unmatched | weight | complete graph: weight, edges, time |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let me = std::env::current_exe()?;
    for &n in &args.sizes {
        let mut child = std::process::Command::new(&me);
        child.args(["--single", &n.to_string(), "--runs", &args.runs.to_string()]);
        child.args(["--complete-up-to", &args.complete_up_to.to_string(), "--seed", &args.seed.to_string()]);
        child.args(["--candidates", &scoring.candidates.to_string()]);
        let output = child.output()?;
        anyhow::ensure!(output.status.success(), "size {n} failed: {}", String::from_utf8_lossy(&output.stderr));
        let r: Value = serde_json::from_slice(&output.stdout)?;
        let complete = match &r["complete"] {
            Value::Null => "-".to_owned(),
            c => {
                let gap = c["weight"].as_i64().unwrap_or(0) - r["weight"].as_i64().unwrap_or(0);
                format!(
                    "{} ({}), {} edges, {:.2} s",
                    c["weight"],
                    if gap == 0 { "the same".to_owned() } else { format!("{gap} more") },
                    c["edges"],
                    c["seconds"].as_f64().unwrap_or(0.0)
                )
            }
        };
        println!(
            "| {n} | {:.3} s | {:.1} MB | {} | {} ({}) | {} | {} | {complete} |",
            r["seconds"].as_f64().unwrap_or(0.0),
            r["memoryMb"].as_f64().unwrap_or(0.0),
            r["edges"],
            r["groups"],
            r["trios"],
            r["unmatched"],
            r["weight"],
        );
    }
    Ok(())
}
