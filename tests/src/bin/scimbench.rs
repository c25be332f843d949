//! Benchmark of SCIM provisioning beside the bulk path.
//!
//! ```text
//! cargo run --release -p interlib-tests --bin scimbench                       # PostgreSQL, 10,000 users
//! cargo run --release -p interlib-tests --bin scimbench -- --backend sqlite
//! ```
//!
//! On a fresh database with the demo network and two new associations, with the server in
//! its own process (default settings: the rate limiter on), it provisions N users into the
//! first one as an identity provider does, one user at a time from 20 concurrent clients:
//! each user is looked up (`GET /Users?filter=userName eq "..."`, no match) and created
//! (`POST /Users`). Then it reads every user back by the same filter (one match each), and
//! lists them all with `filter=externalId sw "S"` a page of 1,000 at a time. Last, the same
//! N members (other emails, so that they are created too) go into the second association
//! through one bulk sync (`POST /bulk/members`, `FULL_REPLACE`). It prints requests and
//! users per second, p50 and p99 latency, and the server's CPU time per user.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use interlib::auth::{Role, TokenScope};
use interlib::domain::{GlobalId, NodeKind};
use interlib::settings::Settings;
use interlib_tests::bench::{self, Backend, DatabaseArgs, ServerProcess};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "postgres")]
    backend: Backend,
    /// Users to provision.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 20)]
    clients: usize,
    #[command(flatten)]
    db: DatabaseArgs,
}

const COUNTRIES: &[&str] = &["AU", "NZ", "ZA", "NG", "KE", "IN", "PH", "GB", "US", "CA", "BR", "DE"];
const SECTORS: &[&str] = &["ACADEMIC", "PUBLIC", "SCHOOL", "SPECIAL", "NATIONAL", "ARCHIVE", "MUSEUM", "OTHER"];
const EXT: &str = "urn:interlib:params:scim:schemas:extension:2.0:User";

fn email(i: usize) -> String {
    format!("user{i}@scim.example")
}

/// User `i` as an identity provider sends it.
fn user(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "externalId": format!("S{i:06}"),
        "userName": email(i),
        "name": { "givenName": "Member", "familyName": format!("Number {i}") },
        "emails": [{ "value": email(i), "type": "work", "primary": true }],
        "addresses": [{ "country": COUNTRIES[i % COUNTRIES.len()], "type": "work", "primary": true }],
        "title": "Librarian",
        "active": true,
        EXT: { "sector": SECTORS[i % SECTORS.len()], "yearsExperience": i % 40, "languages": ["en"] },
    })
}

/// The same member as a bulk-file row (another email: a new librarian too).
fn row(i: usize) -> String {
    json!({
        "externalId": format!("S{i:06}"),
        "email": format!("bulk{i}@scim.example"),
        "fullName": format!("Member Number {i}"),
        "countryCode": COUNTRIES[i % COUNTRIES.len()],
        "sector": SECTORS[i % SECTORS.len()],
        "jobTitle": "Librarian",
        "yearsExperience": i % 40,
        "languages": ["en"],
    })
    .to_string()
}

async fn new_association(db: &DatabaseConnection, name: &str) -> anyhow::Result<i32> {
    db.execute_unprepared(&format!(
        "INSERT INTO associations (name, country_code, created_at, updated_at) \
         VALUES ('{name}', 'AU', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
    ))
    .await?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM associations WHERE name = '{name}'"),
        ))
        .await?
        .context("association")?;
    Ok(row.try_get("", "id")?)
}

/// What a phase measured.
struct Phase {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
    server_cpu: f64,
    /// PostgreSQL's CPU seconds (0 on SQLite, which runs inside the server).
    database_cpu: f64,
}

impl Phase {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(at).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}

/// Runs `work(i)` for every `i` below `n` from `clients` tasks; each returns its request
/// latencies.
async fn concurrently<F, Fut>(n: usize, clients: usize, pid: u32, work: F) -> anyhow::Result<Phase>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Vec<Duration>>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let (cpu, database) = (bench::cpu_seconds(pid)?, bench::postgres_cpu_seconds());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, work) = (next.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(latencies);
                }
                latencies.extend(work(i).await?);
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Phase {
        requests: latencies.len(),
        seconds,
        latencies,
        server_cpu: bench::cpu_seconds(pid)? - cpu,
        database_cpu: bench::postgres_cpu_seconds() - database,
    })
}

/// Sends a request and checks its status; its latency.
async fn timed(req: reqwest::RequestBuilder, expected: u16) -> anyhow::Result<(Duration, Value)> {
    let started = Instant::now();
    let res = req.send().await?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let latency = started.elapsed();
    if status != expected {
        bail!("HTTP {status} where {expected} was expected: {body}");
    }
    Ok((latency, body))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = &args.db.serve {
        return bench::serve(url, |s| s.bulk_max_bytes = 1 << 30).await;
    }
    let url = args.db.fresh(args.backend, "interlib_scimbench").await?;
    let (db, _) = interlib::db::connect(&Settings::for_database(&url)).await?;
    interlib::seed::demo(&db).await?;
    let scim_association = new_association(&db, "SCIM Benchmark Association").await?;
    let bulk_association = new_association(&db, "Bulk Benchmark Association").await?;
    if args.backend == Backend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    let server = ServerProcess::start(&url).await?;
    interlib::install_tls_provider();
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.clients).build()?;
    let token_of = |association: i32| {
        bench::token(
            Role::Association,
            &TokenScope { association: Some(association.to_string()), ..TokenScope::default() },
        )
    };
    let token = Arc::new(token_of(scim_association)?);
    let base = Arc::new(format!("http://127.0.0.1:{}/scim/v2", server.port));
    let (n, clients) = (args.users, args.clients);
    println!("{n} users, {clients} clients, on {:?}", args.backend);

    let lookup = |client: &reqwest::Client, base: &str, token: &str, i: usize| {
        client
            .get(format!("{base}/Users"))
            .query(&[("filter", format!("userName eq \"{}\"", email(i)))])
            .bearer_auth(token)
    };
    let provision = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        concurrently(n, clients, server.pid, move |i| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let (looked, found) = timed(lookup(&client, &base, &token, i), 200).await?;
                if found["totalResults"] != 0 {
                    bail!("user {i} exists before it is created: {found}");
                }
                let create = client
                    .post(format!("{base}/Users"))
                    .bearer_auth(token.as_str())
                    .header("content-type", "application/scim+json")
                    .body(user(i).to_string());
                let (created, _) = timed(create, 201).await?;
                Ok(vec![looked, created])
            }
        })
        .await?
    };
    let read_back = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        concurrently(n, clients, server.pid, move |i| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let (latency, found) = timed(lookup(&client, &base, &token, i), 200).await?;
                if found["totalResults"] != 1 || found["Resources"][0]["externalId"] != format!("S{i:06}") {
                    bail!("user {i} read back as {found}");
                }
                Ok(vec![latency])
            }
        })
        .await?
    };
    let (cpu, database) = (bench::cpu_seconds(server.pid)?, bench::postgres_cpu_seconds());
    let started = Instant::now();
    let (mut listed, mut pages, mut latencies) = (0, 0, Vec::new());
    while listed < n {
        let page = client
            .get(format!("{base}/Users"))
            .query(&[("filter", "externalId sw \"S\"".to_owned()), ("startIndex", (listed + 1).to_string())])
            .query(&[("count", "1000")])
            .bearer_auth(token.as_str());
        let (latency, body) = timed(page, 200).await?;
        let got = body["Resources"].as_array().map_or(0, Vec::len);
        if got == 0 || body["totalResults"] != n {
            bail!("the listing stopped at {listed}: {}", body["totalResults"]);
        }
        latencies.push(latency);
        listed += got;
        pages += 1;
    }
    let listing = Phase {
        requests: pages,
        seconds: started.elapsed().as_secs_f64(),
        latencies,
        server_cpu: bench::cpu_seconds(server.pid)? - cpu,
        database_cpu: bench::postgres_cpu_seconds() - database,
    };

    let bulk_token = token_of(bulk_association)?;
    let file: String = (0..n).map(|i| row(i) + "\n").collect();
    let (cpu, database) = (bench::cpu_seconds(server.pid)?, bench::postgres_cpu_seconds());
    let endpoint = format!(
        "http://127.0.0.1:{}/bulk/members?associationId={}&mode=FULL_REPLACE",
        server.port,
        GlobalId::encode(NodeKind::Association, bulk_association)
    );
    let request =
        client.post(endpoint).bearer_auth(bulk_token).header("content-type", "application/x-ndjson").body(file);
    let (latency, report) = timed(request, 200).await?;
    if report["created"] != n {
        bail!("the bulk sync created {}: {report}", report["created"]);
    }
    let bulk = Phase {
        requests: 1,
        seconds: latency.as_secs_f64(),
        latencies: vec![latency],
        server_cpu: bench::cpu_seconds(server.pid)? - cpu,
        database_cpu: bench::postgres_cpu_seconds() - database,
    };

    println!(
        "| phase | requests | seconds | requests/s | users/s | p50 ms | p99 ms | CPU ms per user: server | PostgreSQL |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, phase) in [
        ("SCIM provisioning (lookup + create per user)", &provision),
        ("SCIM read back (lookup by userName per user)", &read_back),
        ("SCIM listing (filter externalId sw, 1,000 a page)", &listing),
        ("bulk sync (one FULL_REPLACE file)", &bulk),
    ] {
        println!(
            "| {name} | {} | {:.2} | {:.0} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} |",
            phase.requests,
            phase.seconds,
            phase.requests as f64 / phase.seconds,
            n as f64 / phase.seconds,
            phase.percentile(0.5),
            phase.percentile(0.99),
            phase.server_cpu * 1e3 / n as f64,
            phase.database_cpu * 1e3 / n as f64,
        );
    }
    println!(
        "the bulk sync provisions {:.0}x as many users per second as SCIM one at a time",
        provision.seconds / bulk.seconds
    );
    println!("server peak memory (VmHWM): {:.1} MB", server.peak_rss_mb()?);
    Ok(())
}
