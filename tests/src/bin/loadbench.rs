//! Load benchmark of the ambassador query (one country's participants, first 50, with their
//! languages, memberships and pairings) against a network of 100,000 librarians, measured
//! against the database alone running the very statements the server sends for it.
//!
//! ```text
//! cargo run --release -p interlib-tests --bin loadbench -- --backend postgres
//! cargo run --release -p interlib-tests --bin loadbench -- --backend sqlite
//! ```
//!
//! It seeds a fresh database (the demo network plus N load librarians, timing the bulk
//! seed), captures the statements a server sends to answer the query for each measured
//! country ([`interlib_tests::replay`]), and starts the server as a child process (this
//! binary in `serve` mode, so the server's CPU and peak memory are measured alone). Then,
//! at each concurrency, closed-loop clients alternate between the two sides for a fixed
//! time each, several rounds: the database alone (each run is one request's statements,
//! one after the other, through a pool like the server's) and the server over HTTP
//! (every response body checked). It prints both rates, their ratio, p50/p99 and the CPU
//! each process spent per request (from `/proc`).

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Parser, ValueEnum};
use interlib::auth::{Role, TokenScope};
use interlib_tests::bench::{self, Backend, DatabaseArgs, ServerProcess};
use interlib_tests::replay::{self, Replayer};
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
    /// Seconds each side runs per round.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Rounds per concurrency level: each runs the database alone, then the server.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrency levels to measure.
    #[arg(long, value_delimiter = ',', default_value = "20,50")]
    clients: Vec<usize>,
    /// HTTP worker threads of the server (0: one per CPU core, the default).
    #[arg(long, default_value_t = 0)]
    http_workers: usize,
    /// Print the captured statements of the first country.
    #[arg(long)]
    show_statements: bool,
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
    /// Only send this many requests of the measured query (one after the other, the
    /// countries in turn) to a server already listening on `--port`, check them, and exit:
    /// for a profiler around that server (`tests/profile-read-path.sh`).
    #[arg(long, requires = "port")]
    send: Option<usize>,
    /// The port of the server `--send` sends to, on 127.0.0.1.
    #[arg(long)]
    port: Option<u16>,
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
        let workers = args.http_workers;
        return bench::serve(url, |s| {
            s.rate_limit.points = u64::MAX / 4;
            s.http_workers = workers;
        })
        .await;
    }
    let query: &'static str = match &args.query_file {
        Some(path) => Box::leak(std::fs::read_to_string(path)?.into_boxed_str()),
        None => QUERY,
    };
    interlib::install_tls_provider();
    let token: Option<&'static str> = token(args.caller)?.map(|t| &*Box::leak(t.into_boxed_str()));
    if let (Some(count), Some(port)) = (args.send, args.port) {
        return send(count, port, query, token).await;
    }
    let url = prepare_database(&args).await?;
    let variables: Vec<Value> = COUNTRIES.iter().map(|code| json!({ "code": code })).collect();
    let captured = replay::capture(&url, query, token, &variables).await?;
    let counts: Vec<usize> = captured.iter().map(Vec::len).collect();
    println!(
        "the server sends {}-{} statements per request (by country)",
        counts.iter().min().unwrap_or(&0),
        counts.iter().max().unwrap_or(&0)
    );
    let replayer = Replayer::connect(&url, captured).await?;
    if args.show_statements {
        for statement in replayer.statements(0) {
            println!("{statement}\n");
        }
    }
    let server = ServerProcess::start_with(&url, &[format!("--http-workers={}", args.http_workers)]).await?;
    let sides = Sides {
        client: reqwest::Client::builder().pool_max_idle_per_host(256).build()?,
        endpoint: format!("http://127.0.0.1:{}/graphql", server.port),
        query,
        token,
        replayer,
        server: server.pid,
    };
    // Warm-up: fills caches and connection pools on both sides.
    for side in [Side::Alone, Side::Server] {
        sides.run(side, 8, Duration::from_secs(2)).await?;
    }
    println!(
        "| backend | clients | side | per second | p50 ms | p99 ms | server / alone | CPU ms each: server | database | client | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &clients in &args.clients {
        let (mut alone, mut served) = (Segment::default(), Segment::default());
        for _ in 0..args.rounds {
            alone.add(sides.run(Side::Alone, clients, Duration::from_secs(args.seconds)).await?);
            served.add(sides.run(Side::Server, clients, Duration::from_secs(args.seconds)).await?);
        }
        let ratio = served.rate() / alone.rate().max(f64::MIN_POSITIVE);
        let sqlite = args.backend == Backend::Sqlite;
        println!(
            "{}",
            alone.row(args.backend, clients, "database alone", None, if sqlite { Some("in the client") } else { None })
        );
        println!(
            "{}",
            served.row(
                args.backend,
                clients,
                "Interlib",
                Some(ratio),
                if sqlite { Some("in the server") } else { None }
            )
        );
    }
    println!("server peak memory (VmHWM): {:.1} MB", server.peak_rss_mb()?);
    Ok(())
}

/// What a run measures: the database alone replaying the captured statements, or the
/// server over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Alone,
    Server,
}

struct Sides {
    client: reqwest::Client,
    endpoint: String,
    query: &'static str,
    token: Option<&'static str>,
    replayer: Replayer,
    server: u32,
}

impl Sides {
    /// `clients` closed-loop clients on `side` for `length`.
    async fn run(&self, side: Side, clients: usize, length: Duration) -> anyhow::Result<Segment> {
        let before = Cpu::now(self.server)?;
        let started = Instant::now();
        let (latencies, errors) = match side {
            Side::Alone => {
                let replayer = self.replayer.clone();
                closed_loop(clients, length, move |i| {
                    let replayer = replayer.clone();
                    async move { replayer.run(i).await.is_ok_and(|rows| rows > 0) }
                })
                .await?
            }
            Side::Server => {
                let (client, endpoint, query, token) =
                    (self.client.clone(), self.endpoint.clone(), self.query, self.token);
                closed_loop(clients, length, move |i| {
                    let mut request = client
                        .post(&endpoint)
                        .json(&json!({ "query": query, "variables": { "code": COUNTRIES[i % COUNTRIES.len()] } }));
                    if let Some(token) = token {
                        request = request.bearer_auth(token);
                    }
                    async move {
                        match request.send().await {
                            Ok(res) if res.status().is_success() => {
                                res.json::<Value>().await.is_ok_and(|body| replay::only_denied_fields(&body))
                            }
                            _ => false,
                        }
                    }
                })
                .await?
            }
        };
        let elapsed = started.elapsed().as_secs_f64();
        Ok(Segment { latencies, errors, elapsed, cpu: Cpu::now(self.server)?.minus(&before) })
    }
}

/// `clients` tasks, each running `job(i)` for its next `i` until `length` has passed.
/// Returns every job's latency and how many failed.
async fn closed_loop<F, Fut>(clients: usize, length: Duration, job: F) -> anyhow::Result<(Vec<Duration>, usize)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let deadline = Instant::now() + length;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let job = job.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let mut i = c;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let ok = job(i).await;
                    latencies.push(sent.elapsed());
                    errors += usize::from(!ok);
                    i += 1;
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
    if all.is_empty() {
        bail!("no requests completed");
    }
    Ok((all, errors))
}

/// The requests of one side over one or more runs.
#[derive(Default)]
struct Segment {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: f64,
    cpu: Cpu,
}

impl Segment {
    fn add(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.cpu = self.cpu.plus(&other.cpu);
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.max(f64::MIN_POSITIVE)
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
        sorted.get(at).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// A row of the table. `database` replaces the database's CPU where it is not a
    /// process of its own (SQLite).
    fn row(&self, backend: Backend, clients: usize, side: &str, ratio: Option<f64>, database: Option<&str>) -> String {
        let n = self.latencies.len().max(1) as f64;
        let per = |seconds: f64| format!("{:.2}", seconds * 1000.0 / n);
        let server = if ratio.is_some() { per(self.cpu.server) } else { "-".into() };
        let database = database.map_or_else(|| per(self.cpu.database), str::to_owned);
        format!(
            "| {backend:?} | {clients} | {side} | {:.0} | {:.2} | {:.2} | {} | {server} | {database} | {} | {} |",
            self.rate(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}")),
            per(self.cpu.load),
            self.errors
        )
    }
}
/// Sends `count` requests of `query` to the server on `port`, one after the other.
async fn send(count: usize, port: u16, query: &str, token: Option<&str>) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for i in 0..count {
        let mut request = client
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&json!({ "query": query, "variables": { "code": COUNTRIES[i % COUNTRIES.len()] } }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await?.json().await?;
        if !replay::only_denied_fields(&body) {
            bail!("request {i} failed: {body}");
        }
    }
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

/// CPU seconds spent by the server, the database (PostgreSQL's processes; SQLite runs
/// inside its client) and this process (the load generator, or the driver of the database
/// alone).
#[derive(Default)]
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

    fn minus(&self, before: &Self) -> Self {
        Self {
            server: self.server - before.server,
            database: self.database - before.database,
            load: self.load - before.load,
        }
    }

    fn plus(&self, other: &Self) -> Self {
        Self {
            server: self.server + other.server,
            database: self.database + other.database,
            load: self.load + other.load,
        }
    }
}
