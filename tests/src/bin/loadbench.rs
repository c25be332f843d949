//! Load benchmark of the ambassador query (one country's participants, first 50, with their
//! memberships and pairings) against a network of 100,000 librarians.
//!
//! ```text
//! cargo run --release -p interlib-tests --bin loadbench -- --backend sqlite
//! cargo run --release -p interlib-tests --bin loadbench -- --backend postgres
//! ```
//!
//! It seeds a fresh database (the demo network plus N load librarians, timing the bulk
//! seed), starts the server as a child process (this binary in `serve` mode, so the
//! server's peak memory is measured alone), then runs closed-loop clients at each
//! concurrency for a fixed time, checking every response body for errors.

use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Parser, ValueEnum};
use interlib::auth::{Role, TokenScope};
use interlib_tests::bench::{self, Backend, DatabaseArgs, ServerProcess};
use serde_json::{Value, json};

/// The same allocator as the `interlib` binary, so the server measured here is the one shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Caller {
    Ambassador,
    Admin,
    Anonymous,
}

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Librarians added on top of the demo network.
    #[arg(long, default_value_t = 100_000)]
    librarians: usize,
    /// Seconds per concurrency level.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Concurrency levels to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,50")]
    clients: Vec<usize>,
    /// Another GraphQL document to measure (variables: `code`), from a file.
    #[arg(long)]
    query_file: Option<std::path::PathBuf>,
    /// Who asks: an ambassador of the measured countries (the real case, with the policy's
    /// row and field rules), an admin (no row rules), or anonymous.
    #[arg(long, value_enum, default_value = "ambassador")]
    caller: Caller,
    /// Reuse the database of the previous run of this backend instead of seeding anew.
    #[arg(long)]
    reuse: bool,
    #[command(flatten)]
    db: DatabaseArgs,
}

const QUERY: &str = "query Ambassador($code: CountryCode!) { country(code: $code) {
  participants(first: 50) { totalCount nodes {
    id fullName email institution sector languages
    memberships { externalId status association { name } }
    pairings { status round { name } members { fullName country { code } } }
  } } } }";

/// Countries the demo network fills the most, queried in turn.
const COUNTRIES: &[&str] = &["AU", "US", "GB", "ZA", "IN", "NG", "PH", "NZ", "CA", "KE"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = &args.db.serve {
        // A budget no run can spend: the limiter charges every request as in production,
        // but refuses none (one token sends every request here).
        return bench::serve(url, |s| s.rate_limit.points = u64::MAX / 4).await;
    }
    let query: &'static str = match &args.query_file {
        Some(path) => Box::leak(std::fs::read_to_string(path)?.into_boxed_str()),
        None => QUERY,
    };
    let url = prepare_database(&args).await?;
    let server = ServerProcess::start(&url).await?;
    let port = server.port;
    let endpoint = format!("http://127.0.0.1:{port}/graphql");
    interlib::install_tls_provider();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let token: Option<&'static str> = token(args.caller)?.map(|t| &*Box::leak(t.into_boxed_str()));

    // Warm-up: fills caches and connection pools on both sides.
    run(&client, &endpoint, query, token, 8, Duration::from_secs(2)).await?;
    println!(
        "| backend | caller | clients | requests/s | p50 ms | p99 ms | errors | CPU ms/request: server | database | load generator |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &clients in &args.clients {
        // CPU of each process over the run (`/proc`): the server, PostgreSQL's processes
        // (SQLite runs inside the server), and this load generator.
        let before = Cpu::now(server.pid)?;
        let r = run(&client, &endpoint, query, token, clients, Duration::from_secs(args.seconds)).await?;
        let spent = Cpu::now(server.pid)?.since(&before, r.requests);
        let database =
            if args.backend == Backend::Postgres { format!("{:.2}", spent.database) } else { "in the server".into() };
        println!(
            "| {:?} | {:?} | {clients} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {database} | {:.2} |",
            args.backend, args.caller, r.rps, r.p50_ms, r.p99_ms, r.errors, spent.server, spent.load
        );
    }
    println!("server peak memory (VmHWM): {:.1} MB", server.peak_rss_mb()?);
    Ok(())
}

/// A token for `caller`, signed like `interlib token mint` with the server's settings.
fn token(caller: Caller) -> anyhow::Result<Option<String>> {
    let (role, countries) = match caller {
        Caller::Anonymous => return Ok(None),
        Caller::Admin => (Role::Admin, Vec::new()),
        Caller::Ambassador => (Role::Ambassador, COUNTRIES.iter().map(|c| (*c).to_owned()).collect()),
    };
    Ok(Some(bench::token(role, &TokenScope { countries, ..TokenScope::default() })?))
}

async fn prepare_database(args: &Args) -> anyhow::Result<String> {
    if args.reuse {
        return Ok(match args.backend {
            Backend::Sqlite => {
                format!("sqlite://{}?mode=rwc", std::env::temp_dir().join("interlib-bench/bench.db").display())
            }
            Backend::Postgres => {
                format!("{}/interlib_bench?sslmode={}", args.db.postgres.trim_end_matches('/'), args.db.sslmode)
            }
        });
    }
    let url = args.db.fresh(args.backend, "interlib_bench").await?;
    let started = Instant::now();
    bench::seed_network(&url, args.librarians, args.backend).await?;
    println!(
        "seeded {} librarians on {:?} in {:.1} s (with the 2,000-librarian demo network)",
        args.librarians,
        args.backend,
        started.elapsed().as_secs_f64()
    );
    Ok(url)
}

struct RunResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    requests: usize,
}

async fn run(
    client: &reqwest::Client,
    endpoint: &str,
    query: &'static str,
    token: Option<&'static str>,
    clients: usize,
    length: Duration,
) -> anyhow::Result<RunResult> {
    let deadline = Instant::now() + length;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let client = client.clone();
            let endpoint = endpoint.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let mut i = c;
                while Instant::now() < deadline {
                    let code = COUNTRIES[i % COUNTRIES.len()];
                    i += 1;
                    let sent = Instant::now();
                    let mut request =
                        client.post(&endpoint).json(&json!({ "query": query, "variables": { "code": code } }));
                    if let Some(token) = token {
                        request = request.bearer_auth(token);
                    }
                    let ok = match request.send().await {
                        Ok(res) if res.status().is_success() => {
                            res.json::<Value>().await.is_ok_and(|body| only_denied_fields(&body))
                        }
                        _ => false,
                    };
                    latencies.push(sent.elapsed());
                    if !ok {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await?;
        all.extend(latencies);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if all.is_empty() {
        bail!("no requests completed");
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Ok(RunResult { rps: all.len() as f64 / elapsed, p50_ms: pct(0.50), p99_ms: pct(0.99), errors, requests: all.len() })
}

/// CPU seconds spent so far by the server, the database and this process.
struct Cpu {
    server: f64,
    database: f64,
    load: f64,
}

impl Cpu {
    fn now(server: u32) -> anyhow::Result<Self> {
        Ok(Self {
            server: bench::cpu_seconds(server)?,
            database: bench::postgres_cpu_seconds(),
            load: bench::cpu_seconds(std::process::id())?,
        })
    }

    /// Milliseconds of CPU per request of each process since `before`.
    fn since(&self, before: &Self, requests: usize) -> Self {
        let per = |now: f64, then: f64| (now - then) * 1000.0 / requests.max(1) as f64;
        Self {
            server: per(self.server, before.server),
            database: per(self.database, before.database),
            load: per(self.load, before.load),
        }
    }
}

/// An answer with data, whose errors (if any) are only fields the policy denies (an
/// ambassador does not read the email of a participant who did not consent).
fn only_denied_fields(body: &Value) -> bool {
    let denied = |e: &Value| e["extensions"]["code"] == "FORBIDDEN" && e["path"].is_array();
    !body["data"]["country"].is_null() && body["errors"].as_array().is_none_or(|errors| errors.iter().all(denied))
}
