//! Benchmark of the matching engine on demo-generator rounds.
//!
//! ```text
//! cargo run --release -p interlib-tests --bin matchbench                  # engine at 500, 2,000, 5,000, 10,000
//! cargo run --release -p interlib-tests --bin matchbench -- --e2e         # runMatching on 2,000 applicants, PostgreSQL
//! cargo run --release -p interlib-tests --bin matchbench -- --e2e --backend sqlite
//! cargo run --release -p interlib-tests --bin matchbench -- --graphs  # the solver against LEMON
//! ```
//!
//! For each size it reports the time of the whole engine (scoring, candidate graph,
//! matching, groups of three, explanations; median of `--runs`), its memory (the growth of
//! the peak resident set over the generated round, in a child process per size), the
//! candidate graph's size, and the result against the optimum: the people placed in
//! groups against the most that can be, and the pairs' score against the best score
//! among the matchings that pair the most. The optimum comes from the complete graph of
//! allowed pairs up to `--complete-up-to` applicants, above it from pricing to the end
//! when the run was not proven optimal.
//!
//! `--e2e` measures `runMatching` through the server instead: the demo network (2,000
//! librarians, and generated ones up to `--applicants`) on a fresh database, a round in
//! `MATCHING` with every librarian applying,
//! then a dry run and a real run (which stores the proposals) over HTTP, each `--runs`
//! times. The server runs in a child process.
//!
//! `--graphs` times the weighted matching solver alone on random sparse graphs (each
//! vertex `--degree` random partners, integer weights 1-1,000) against LEMON's
//! `MaxWeightedMatching` (C++) in the same run, and networkx's at the smallest sizes: both
//! objectives (the largest weight; the most pairs, then the largest weight, which the
//! engine solves with the cardinality bonus), each answer's weight checked equal to
//! LEMON's and the solver's dual certificate checked on every graph. The LEMON harness
//! (`tests/bench/lemon_matching.cpp`) is compiled when `g++` and `liblemon-dev` are there;
//! otherwise the bench says so and skips the comparison.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use interlib::auth::{Role, TokenScope};
use interlib::domain::{GlobalId, NodeKind};
use interlib::matching::engine::{self, Scoring};
use interlib::seed::matching_problem;
use interlib::settings::Settings;
use interlib_tests::bench::{self, Backend, DatabaseArgs, ServerProcess};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Round sizes (applicants).
    #[arg(long, value_delimiter = ',', default_values_t = [500, 2_000, 5_000, 10_000])]
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
    /// Price up to the optimum up to this many applicants; default: the engine's.
    #[arg(long)]
    exact_up_to: Option<usize>,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Internal: measure one size in this process and print it as JSON.
    #[arg(long, hide = true)]
    single: Option<usize>,
    /// Measure `runMatching` end to end on a database instead.
    #[arg(long)]
    e2e: bool,
    /// Applicants of the `--e2e` rounds (the demo network's 2,000 librarians, plus
    /// generated ones above that), one fresh database each.
    #[arg(long, value_delimiter = ',', default_values_t = [2_000])]
    applicants: Vec<usize>,
    /// Time the matching solver on random graphs against LEMON and networkx instead.
    #[arg(long)]
    graphs: bool,
    /// Graph sizes (vertices) for `--graphs`.
    #[arg(long, value_delimiter = ',', default_values_t = [2_000, 10_000, 20_000])]
    graph_sizes: Vec<usize>,
    /// Random partners per vertex for `--graphs`.
    #[arg(long, default_value_t = 15)]
    degree: usize,
    /// Run networkx on graphs up to this size (it is slow: about 20 s at 2,000).
    #[arg(long, default_value_t = 2_000)]
    networkx_up_to: usize,
    #[arg(long, value_enum, default_value = "postgres")]
    backend: Backend,
    #[command(flatten)]
    db: DatabaseArgs,
}

/// `runMatching` through the server on `size` applicants: the demo network's librarians,
/// plus generated ones above its 2,000, every one applying.
async fn end_to_end(args: &Args, size: usize) -> anyhow::Result<()> {
    let url = args.db.fresh(args.backend, "interlib_matchbench").await?;
    let (db, _) = interlib::db::connect(&Settings::for_database(&url)).await?;
    interlib::seed::demo(&db).await?;
    let demo = usize::try_from(entities::librarian::Entity::find().count(&db).await?)?;
    if size > demo {
        interlib::seed::librarians(&db, size - demo, args.seed).await?;
    }
    db.execute_unprepared(
        "INSERT INTO rounds (name, status, applications_open_at, applications_close_at, starts_at, ends_at, created_at, updated_at) \
         VALUES ('Benchmark round', 'MATCHING', '2027-01-04T00:00:00Z', '2027-02-01T00:00:00Z', '2027-02-15T00:00:00Z', '2027-06-15T00:00:00Z', '2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z')",
    )
    .await?;
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT id FROM rounds WHERE name = 'Benchmark round'".to_owned(),
        ))
        .await?
        .context("round")?;
    let round: i32 = row.try_get("", "id")?;
    // Everyone applies; preferences from the profile, match preferences spread over the four.
    db.execute_unprepared(&format!(
        "INSERT INTO applications (round_id, librarian_id, status, match_preference, preferences, goal, created_at, updated_at) \
         SELECT {round}, id, 'SUBMITTED', CASE id % 4 WHEN 0 THEN 'ANY' WHEN 1 THEN 'INTERESTS' WHEN 2 THEN 'SECTOR' ELSE 'CAREER_STAGE' END, \
           '{{\"preferredSectors\": [\"ACADEMIC\"]}}', NULL, '2027-01-05T00:00:00Z', '2027-01-05T00:00:00Z' FROM librarians"
    ))
    .await?;
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM applications WHERE round_id = {round}"),
        ))
        .await?
        .context("count")?;
    let applicants: i64 = row.try_get("", "n")?;
    if args.backend == Backend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    let mut server_args = Vec::new();
    if let Some(k) = args.candidates {
        server_args.extend(["--candidates".to_owned(), k.to_string()]);
    }
    if let Some(n) = args.exact_up_to {
        server_args.extend(["--exact-up-to".to_owned(), n.to_string()]);
    }
    let server = ServerProcess::start_with(&url, &server_args).await?;
    interlib::install_tls_provider();
    let client = reqwest::Client::new();
    let token = bench::token(Role::Admin, &TokenScope::default())?;
    let endpoint = format!("http://127.0.0.1:{}/graphql", server.port);
    let query = "mutation($input: RunMatchingInput!) { runMatching(input: $input) {
        proposals { score pairing { id } } summary { applicants groups groupsOfThree unmatched engineMillis pricingRounds candidateEdges } userErrors { code } } }";
    println!("runMatching end to end, {applicants} applicants, {:?}, {} runs each (median)", args.backend, args.runs);
    println!("| run | seconds | engine ms | candidate edges (pricing rounds) | groups (of three) | unmatched |");
    println!("|---|---|---|---|---|---|");
    for dry_run in [true, false] {
        let mut times = Vec::new();
        let mut last = Value::Null;
        for _ in 0..args.runs.max(1) {
            let input = json!({ "roundId": GlobalId::encode(NodeKind::Round, round), "dryRun": dry_run });
            let started = Instant::now();
            let res = client
                .post(&endpoint)
                .bearer_auth(&token)
                .json(&json!({ "query": query, "variables": { "input": input } }))
                .send()
                .await?;
            let body: Value = res.json().await?;
            times.push(started.elapsed());
            anyhow::ensure!(body.get("errors").is_none(), "runMatching failed: {body}");
            last = body["data"]["runMatching"]["summary"].clone();
        }
        times.sort();
        println!(
            "| {} | {:.3} | {} | {} ({}) | {} ({}) | {} |",
            if dry_run { "dry run" } else { "run (stores the proposals)" },
            times[times.len() / 2].as_secs_f64(),
            last["engineMillis"],
            last["candidateEdges"],
            last["pricingRounds"],
            last["groups"],
            last["groupsOfThree"],
            last["unmatched"],
        );
    }
    println!("server peak memory: {:.1} MB", server.peak_rss_mb()?);
    Ok(())
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

/// The applicants placed in a group (of two or three).
fn people(outcome: &engine::Outcome) -> usize {
    outcome.groups.iter().map(|g| g.members.len()).sum()
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
    // The optimum to compare with: the complete graph of allowed pairs up to
    // `--complete-up-to`; above it, the sparse graph priced to the end when this run was
    // not proven optimal; otherwise this run itself (its duals prove it).
    let reference = if n <= args.complete_up_to {
        Some(("complete graph", Scoring { candidates: 0, ..scoring.clone() }))
    } else if !outcome.proven_optimal {
        Some(("priced to the end", Scoring { exact_up_to: usize::MAX, ..scoring.clone() }))
    } else {
        None
    };
    let optimum = reference.map_or_else(
        || json!({ "from": "this run (proven)", "people": people(&outcome), "weight": outcome.matching_weight, "edges": outcome.candidate_edges, "seconds": 0.0 }),
        |(from, all)| {
            let started = Instant::now();
            let best = engine::solve(&problem, &all);
            json!({ "from": from, "people": people(&best), "weight": best.matching_weight, "edges": best.candidate_edges, "seconds": started.elapsed().as_secs_f64() })
        },
    );
    let line = json!({
        "n": n,
        "seconds": times[times.len() / 2].as_secs_f64(),
        "memoryMb": mb(memory),
        "edges": outcome.candidate_edges,
        "pricing": outcome.pricing_rounds,
        "proven": outcome.proven_optimal,
        "people": people(&outcome),
        "groups": outcome.groups.len(),
        "trios": outcome.groups.iter().filter(|g| g.members.len() == 3).count(),
        "unmatched": outcome.unmatched.len(),
        "weight": outcome.matching_weight,
        "optimum": optimum,
    });
    println!("{line}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = &args.db.serve {
        let (candidates, exact_up_to) = (args.candidates, args.exact_up_to);
        return bench::serve(url, |s| {
            s.matching.candidates = candidates.unwrap_or(s.matching.candidates);
            s.matching.exact_up_to = exact_up_to.unwrap_or(s.matching.exact_up_to);
        })
        .await;
    }
    if args.e2e {
        for &size in &args.applicants {
            end_to_end(&args, size).await?;
        }
        return Ok(());
    }
    if args.graphs {
        return interlib_tests::graphs::run(&interlib_tests::graphs::Options {
            sizes: &args.graph_sizes,
            degree: args.degree,
            runs: args.runs,
            seed: args.seed,
            networkx_up_to: args.networkx_up_to,
        });
    }
    let mut scoring = Scoring::default();
    if let Some(k) = args.candidates {
        scoring.candidates = k;
    }
    if let Some(n) = args.exact_up_to {
        scoring.exact_up_to = n;
    }
    if let Some(n) = args.single {
        single(&args, n, &scoring);
        return Ok(());
    }
    println!(
        "matching engine, demo-generator rounds, {} candidates per applicant, priced to the optimum up to {} applicants, median of {} runs",
        scoring.candidates, scoring.exact_up_to, args.runs
    );
    println!(
        "| applicants | time | memory | candidate edges (pricing rounds) | proven optimal | people in groups (most possible) | groups (of three) | unmatched | score of the pairs (optimum) | optimum from, edges, time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let me = std::env::current_exe()?;
    for &n in &args.sizes {
        let mut child = std::process::Command::new(&me);
        child.args(["--single", &n.to_string(), "--runs", &args.runs.to_string()]);
        child.args(["--complete-up-to", &args.complete_up_to.to_string(), "--seed", &args.seed.to_string()]);
        child.args(["--candidates", &scoring.candidates.to_string()]);
        child.args(["--exact-up-to", &scoring.exact_up_to.to_string()]);
        let output = child.output()?;
        anyhow::ensure!(output.status.success(), "size {n} failed: {}", String::from_utf8_lossy(&output.stderr));
        let r: Value = serde_json::from_slice(&output.stdout)?;
        let o = &r["optimum"];
        println!(
            "| {n} | {:.3} s | {:.1} MB | {} ({}) | {} | {} ({}) | {} ({}) | {} | {} ({}) | {}, {} edges, {:.2} s |",
            r["seconds"].as_f64().unwrap_or(0.0),
            r["memoryMb"].as_f64().unwrap_or(0.0),
            r["edges"],
            r["pricing"],
            if r["proven"] == true { "yes" } else { "no" },
            r["people"],
            o["people"],
            r["groups"],
            r["trios"],
            r["unmatched"],
            r["weight"],
            o["weight"],
            o["from"].as_str().unwrap_or_default(),
            o["edges"],
            o["seconds"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(())
}
