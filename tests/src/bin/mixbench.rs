//! Sustained mixed load, as the public internet sends it: ambassadors reading their
//! countries, associations syncing members, anonymous front-ends over POST and GET, an
//! admin listing pairings, from 100 concurrent clients for 60 s; then the same with the
//! rate limiter off, to measure what the limiter costs.
//!
//! ```text
//! cargo run --release -p interlib-tests --bin mixbench -- --backend sqlite
//! cargo run --release -p interlib-tests --bin mixbench -- --backend postgres --limiters off,memory,redis
//! ```
//!
//! Each configuration gets a fresh server process on the same seeded database. Every
//! answer is checked: a 5xx, an `INTERNAL` or `SERVICE_UNAVAILABLE` error, or a dropped
//! connection is a server error; anything else unexpected (a 4xx, another error code) is
//! counted apart. Budgets are large, so no client is refused: the runs measure the cost of
//! charging, not of refusing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures::StreamExt;
use interlib::auth::{Role, TokenScope};
use interlib_tests::bench::{self, Backend, ServerProcess};
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, PartialOrd, Ord)]
enum Limiter {
    Off,
    Memory,
    Redis,
}

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Librarians added on top of the demo network.
    #[arg(long, default_value_t = 20_000)]
    librarians: usize,
    /// Seconds per configuration.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rate-limiter configurations to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "off,memory")]
    limiters: Vec<Limiter>,
    /// Alternate the configurations this many times (each gets `seconds / rounds` per
    /// turn, in reverse order every other round), so that drift of a noisy machine falls on
    /// all of them alike.
    #[arg(long, default_value_t = 4)]
    rounds: u32,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    redis: String,
    /// Measure only the cost of one charge, without the load.
    #[arg(long)]
    charge_only: bool,
    /// Internal: run only the server on this database URL and print its port.
    #[arg(long, hide = true)]
    serve: Option<String>,
    /// Internal: the limiter of the `--serve` server.
    #[arg(long, hide = true, value_enum, default_value = "memory")]
    serve_limiter: Limiter,
}

const AMBASSADOR: &str = "query Ambassador($code: CountryCode!) { country(code: $code) {
  participants(first: 20) { totalCount nodes {
    id fullName institution sector languages
    memberships { externalId status association { name } }
  } } } }";
const PUBLIC: &str = "query Public { rounds(first: 5) { nodes { name status applicationsCloseAt } }
  countries(first: 10) { nodes { code name participantCount } } }";
const PAIRINGS: &str =
    "query Pairings { pairings(first: 20) { nodes { status score members { fullName country { code } } } } }";
const SYNC: &str = "mutation Sync($input: SyncMembersInput!) { syncMembers(input: $input) {
  created updated unchanged failed userErrors { code } } }";
const COUNTRIES: &[&str] = &["AU", "US", "GB", "ZA", "IN", "NG", "PH", "NZ", "CA", "KE"];

/// What a client does, by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Ambassador,
    Anonymous,
    AnonymousGet,
    Sync,
    Admin,
}

fn kind(client: usize) -> Kind {
    match client % 10 {
        0..=3 => Kind::Ambassador,
        4 | 5 => Kind::Anonymous,
        6 => Kind::AnonymousGet,
        7 | 8 => Kind::Sync,
        _ => Kind::Admin,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = &args.serve {
        let (limiter, redis) = (args.serve_limiter, args.redis.clone());
        return bench::serve(url, move |s| {
            s.rate_limit.enabled = limiter != Limiter::Off;
            s.rate_limit.points = 1_000_000_000;
            if limiter == Limiter::Redis {
                s.rate_limit.redis_url = Some(redis);
                s.rate_limit.redis_prefix = format!("interlib-bench-{}", std::process::id());
            }
        })
        .await;
    }
    charge_cost(&args.redis).await?;
    if args.charge_only {
        return Ok(());
    }
    let url = prepare_database(&args).await?;
    interlib::install_tls_provider();
    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build()?;
    let mut totals: BTreeMap<Limiter, Totals> = BTreeMap::new();
    let turn = Duration::from_secs(args.seconds / u64::from(args.rounds.max(1)));
    for round in 0..args.rounds.max(1) {
        // Every other round runs the configurations in reverse, so that a drift of the
        // machine or of the database (syncs grow it) falls on all of them alike.
        let mut order = args.limiters.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for &limiter in &order {
            let server =
                ServerProcess::start_with(&url, &["--serve-limiter".into(), format!("{limiter:?}").to_lowercase()])
                    .await?;
            let endpoint = format!("http://127.0.0.1:{}/graphql", server.port);
            run(&client, &endpoint, 8, Duration::from_secs(2), round).await?; // warm-up
            let cpu_before = bench::cpu_seconds(server.pid)?;
            let mut result = run(&client, &endpoint, args.clients, turn, round).await?;
            result.server_cpu = bench::cpu_seconds(server.pid)? - cpu_before;
            eprintln!("round {round} {limiter:?}: {:.0} requests/s", result.count() as f64 / result.seconds);
            totals.entry(limiter).or_default().add(result);
        }
    }
    println!(
        "{} clients, {} s per configuration, {:?}",
        args.clients,
        turn.as_secs() * u64::from(args.rounds),
        args.backend
    );
    println!(
        "| limiter | requests/s | server CPU µs/request | p50 ms | p99 ms | server errors | other errors | p99 ms by kind |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let baseline = totals.get(&Limiter::Off).map(Totals::rps);
    for (limiter, t) in &totals {
        let by_kind: Vec<String> =
            t.by_kind.iter().map(|(k, l)| format!("{k:?} {:.1}", percentile(&mut l.clone(), 0.99))).collect();
        let mut all: Vec<Duration> = t.by_kind.values().flatten().copied().collect();
        println!(
            "| {limiter:?} | {:.0} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            t.rps(),
            t.cpu_us_per_request(),
            percentile(&mut all, 0.50),
            percentile(&mut all, 0.99),
            t.server_errors,
            t.other_errors,
            by_kind.join(", ")
        );
    }
    let base_cpu = totals.get(&Limiter::Off).map(Totals::cpu_us_per_request);
    if let (Some(base), Some(base_cpu)) = (baseline, base_cpu) {
        for (limiter, t) in totals.iter().filter(|(l, _)| **l != Limiter::Off) {
            println!(
                "{limiter:?} limiter: {:+.1}% throughput, {:+.1}% server CPU per request, against off",
                (t.rps() / base - 1.0) * 100.0,
                (t.cpu_us_per_request() / base_cpu - 1.0) * 100.0
            );
        }
    }
    if totals.values().any(|t| t.server_errors > 0) {
        anyhow::bail!("server errors under load");
    }
    Ok(())
}

/// What one charge costs on its own, free of the load's noise: in memory (CPU time, one
/// locked map update and a SHA-256 of the client key), and in Redis (a loopback round trip,
/// awaited without holding a thread; 100 in flight as under load).
async fn charge_cost(redis: &str) -> anyhow::Result<()> {
    use interlib::ratelimit::RateLimiter;
    use interlib::settings::RateLimitSettings;
    let settings = RateLimitSettings { points: u64::MAX / 2, ..RateLimitSettings::default() };
    let memory = RateLimiter::new(&settings)?;
    let keys: Vec<String> = (0..10_000).map(|i| format!("Ambassador:subject-{i}")).collect();
    let n = 1_000_000;
    let started = Instant::now();
    let cpu_before = bench::cpu_seconds(std::process::id())?;
    for i in 0..n {
        memory.charge(&keys[i % keys.len()], 17).await;
    }
    let memory_ns = (bench::cpu_seconds(std::process::id())? - cpu_before) * 1e9 / n as f64;
    let memory_wall_ns = started.elapsed().as_nanos() as f64 / n as f64;
    let shared = RateLimiter::new(&RateLimitSettings {
        redis_url: Some(redis.to_owned()),
        redis_prefix: format!("interlib-bench-{}", std::process::id()),
        ..settings
    })?;
    let shared = std::sync::Arc::new(shared);
    shared.charge("warm-up", 1).await;
    let n: u32 = 20_000;
    let started = Instant::now();
    let cpu_before = bench::cpu_seconds(std::process::id())?;
    futures::stream::iter(0..n as usize)
        .map(|i| {
            let (shared, key) = (shared.clone(), keys[i % keys.len()].clone());
            async move { shared.charge(&key, 17).await }
        })
        .buffer_unordered(100)
        .collect::<Vec<_>>()
        .await;
    let redis_rate = f64::from(n) / started.elapsed().as_secs_f64();
    let redis_cpu_us = (bench::cpu_seconds(std::process::id())? - cpu_before) * 1e6 / f64::from(n);
    println!(
        "one charge: in memory {memory_ns:.0} ns of CPU ({memory_wall_ns:.0} ns of wall time); in Redis {redis_cpu_us:.1} µs of the caller's CPU, \
         {redis_rate:.0} charges/s with 100 in flight ({} fell back to local counters)",
        shared.redis_failures()
    );
    Ok(())
}

async fn prepare_database(args: &Args) -> anyhow::Result<String> {
    let postgres = (args.backend == Backend::Postgres).then_some(args.postgres.as_str());
    let url = bench::fresh_database(postgres, "interlib_mixbench", "disable").await?;
    bench::seed_network(&url, args.librarians, args.backend).await?;
    Ok(url)
}

#[derive(Default)]
struct Totals {
    by_kind: BTreeMap<Kind, Vec<Duration>>,
    server_errors: usize,
    other_errors: usize,
    seconds: f64,
    /// CPU time the server process used (user + system), in seconds.
    server_cpu: f64,
}

impl Totals {
    fn count(&self) -> usize {
        self.by_kind.values().map(Vec::len).sum()
    }

    fn rps(&self) -> f64 {
        self.count() as f64 / self.seconds.max(f64::EPSILON)
    }

    fn add(&mut self, other: Totals) {
        for (kind, latencies) in other.by_kind {
            self.by_kind.entry(kind).or_default().extend(latencies);
        }
        self.server_errors += other.server_errors;
        self.other_errors += other.other_errors;
        self.seconds += other.seconds;
        self.server_cpu += other.server_cpu;
    }

    /// Server CPU time per request, in microseconds: unlike throughput, barely moved by
    /// what else the machine does.
    fn cpu_us_per_request(&self) -> f64 {
        self.server_cpu * 1e6 / self.count().max(1) as f64
    }
}

fn percentile(latencies: &mut [Duration], p: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    latencies.sort_unstable();
    let at = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
    latencies[at].as_secs_f64() * 1000.0
}

/// How an answer went.
enum Outcome {
    Ok,
    ServerError,
    Other,
}

fn judge(status: u16, body: Option<&Value>) -> Outcome {
    if status >= 500 {
        return Outcome::ServerError;
    }
    let Some(body) = body else { return Outcome::ServerError };
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["extensions"]["code"].as_str()).collect())
        .unwrap_or_default();
    if codes.iter().any(|c| *c == "INTERNAL" || *c == "SERVICE_UNAVAILABLE") {
        return Outcome::ServerError;
    }
    // Ambassadors are refused some fields of participants who did not consent: expected.
    if status == 200 && body["data"].is_object() && codes.iter().all(|c| *c == "FORBIDDEN") {
        Outcome::Ok
    } else {
        Outcome::Other
    }
}

async fn run(
    client: &reqwest::Client,
    endpoint: &str,
    clients: usize,
    length: Duration,
    round: u32,
) -> anyhow::Result<Totals> {
    let deadline = Instant::now() + length;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let client = client.clone();
            let endpoint = endpoint.to_owned();
            let kind = kind(c);
            let country = COUNTRIES[c % COUNTRIES.len()];
            // Demo associations are 1..=20: each syncing client has its own.
            let association = c % 20 + 1;
            let token = match kind {
                Kind::Ambassador => {
                    Some(bench::token(Role::Ambassador, &TokenScope { countries: vec![country.into()], ..TokenScope::default() }))
                }
                Kind::Sync => Some(bench::token(
                    Role::Association,
                    &TokenScope { association: Some(association.to_string()), ..TokenScope::default() },
                )),
                Kind::Admin => Some(bench::token(Role::Admin, &TokenScope::default())),
                Kind::Anonymous | Kind::AnonymousGet => None,
            }
            .transpose();
            tokio::spawn(async move {
                let token = token?;
                let mut totals = Totals::default();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    let request = match kind {
                        Kind::Ambassador => {
                            client.post(&endpoint).json(&json!({ "query": AMBASSADOR, "variables": { "code": country } }))
                        }
                        Kind::Anonymous => client.post(&endpoint).json(&json!({ "query": PUBLIC })),
                        Kind::AnonymousGet => client.get(&endpoint).query(&[("query", PUBLIC)]),
                        Kind::Admin => client.post(&endpoint).json(&json!({ "query": PAIRINGS })),
                        Kind::Sync => {
                            let members: Vec<Value> = (0..10)
                                .map(|k| {
                                    json!({ "externalId": format!("mix-{c}-{k}"), "email": format!("mix-{c}-{k}@bench.example"),
                                            "fullName": format!("Member {c} {k} r{round} v{}", i % 3), "countryCode": country,
                                            "sector": "PUBLIC", "languages": ["en"] })
                                })
                                .collect();
                            let id = interlib::domain::GlobalId::encode(
                                interlib::domain::NodeKind::Association,
                                i32::try_from(association).unwrap_or(1),
                            );
                            let input = json!({ "associationId": id, "members": members });
                            client.post(&endpoint).json(&json!({ "query": SYNC, "variables": { "input": input } }))
                        }
                    };
                    let request = match &token {
                        Some(token) => request.bearer_auth(token),
                        None => request,
                    };
                    let sent = Instant::now();
                    let outcome = match request.send().await {
                        Ok(res) => {
                            let status = res.status().as_u16();
                            let body = res.json::<Value>().await.ok();
                            judge(status, body.as_ref())
                        }
                        Err(_) => Outcome::ServerError,
                    };
                    totals.by_kind.entry(kind).or_default().push(sent.elapsed());
                    match outcome {
                        Outcome::Ok => {}
                        Outcome::ServerError => totals.server_errors += 1,
                        Outcome::Other => totals.other_errors += 1,
                    }
                }
                anyhow::Ok(totals)
            })
        })
        .collect();
    let mut totals = Totals::default();
    for task in tasks {
        totals.add(task.await??);
    }
    totals.seconds = started.elapsed().as_secs_f64();
    Ok(totals)
}
