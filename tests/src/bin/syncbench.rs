//! Benchmark of the association sync through the bulk path (`POST /bulk/members`).
//!
//! ```text
//! cargo run --release -p interlib-tests --bin syncbench                       # PostgreSQL, 100,000 members
//! cargo run --release -p interlib-tests --bin syncbench -- --backend sqlite
//! ```
//!
//! On a fresh database with the demo network and one new association, it sends a
//! `FULL_REPLACE` of N members (JSON Lines), then the same file again (all unchanged), then
//! the file with 1% of the members changed (renamed, removed or new). It times each request
//! end to end, counts the rows each run inserted or updated in the member tables and the
//! change log (by `xmin` on PostgreSQL; change-log entries on SQLite), and reports the
//! server's peak memory. The server runs in a child
//! process, so its memory is its own.

use std::time::Instant;

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
    /// Members in the association's list.
    #[arg(long, default_value_t = 100_000)]
    members: usize,
    #[command(flatten)]
    db: DatabaseArgs,
}

const COUNTRIES: &[&str] = &["AU", "NZ", "ZA", "NG", "KE", "IN", "PH", "GB", "US", "CA", "BR", "DE"];
const SECTORS: &[&str] = &["ACADEMIC", "PUBLIC", "SCHOOL", "SPECIAL", "NATIONAL", "ARCHIVE", "MUSEUM", "OTHER"];
const INTERESTS: &[&str] =
    &["open access", "outreach", "cataloguing", "digitisation", "research data", "children", "leadership", "archives"];
const FIRST: &[&str] = &["Ada", "Bongani", "Carmen", "Dmitri", "Emma", "Farida", "Grace", "Hiro", "Ines", "Jon"];
const LAST: &[&str] = &["Okafor", "Ndlovu", "Silva", "Petrov", "Taylor", "Rahman", "Mensah", "Sato", "Costa", "Berg"];

/// Member `i` of the list, as a JSON Lines row; `variant` changes the name.
fn member(i: usize, variant: &str) -> String {
    json!({
        "externalId": format!("M{i:06}"),
        "email": format!("member{i}@association.example"),
        "fullName": format!("{} {}{variant}", FIRST[i % FIRST.len()], LAST[(i / 10) % LAST.len()]),
        "countryCode": COUNTRIES[i % COUNTRIES.len()],
        "institution": format!("Library {}", i % 997),
        "sector": SECTORS[i % SECTORS.len()],
        "jobTitle": "Librarian",
        "yearsExperience": i % 40,
        "languages": if i.is_multiple_of(3) { vec!["en", "fr"] } else { vec!["en"] },
        "interests": [INTERESTS[i % INTERESTS.len()], INTERESTS[(i / 7) % INTERESTS.len()]],
    })
    .to_string()
}

fn file(rows: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out
}

/// The tables a sync writes (besides its own `sync_runs` row and the association's lock).
const TABLES: &[&str] = &["librarians", "memberships", "librarian_languages", "librarian_interests", "change_log"];

async fn scalar(db: &DatabaseConnection, sql: String) -> anyhow::Result<i64> {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?.context("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

/// A mark to count writes from: on PostgreSQL a transaction id (every row a later
/// transaction inserts or updates carries a larger `xmin`), on SQLite the change log's size.
async fn mark(db: &DatabaseConnection, backend: Backend) -> anyhow::Result<i64> {
    match backend {
        Backend::Postgres => scalar(db, "SELECT (pg_current_xact_id()::text::bigint & 4294967295) AS n".into()).await,
        Backend::Sqlite => scalar(db, "SELECT COUNT(*) AS n FROM change_log".into()).await,
    }
}

/// Rows inserted or updated since `mark` in the tables a sync writes (exact, unlike
/// `pg_stat_user_tables`, whose counters reach the view up to seconds late); on SQLite,
/// change-log entries.
async fn written_since(db: &DatabaseConnection, backend: Backend, mark: i64) -> anyhow::Result<i64> {
    match backend {
        Backend::Postgres => {
            let counts: Vec<String> = TABLES
                .iter()
                .map(|t| format!("(SELECT COUNT(*) FROM {t} WHERE xmin::text::bigint > {mark})"))
                .collect();
            scalar(db, format!("SELECT ({})::bigint AS n", counts.join(" + "))).await
        }
        Backend::Sqlite => Ok(scalar(db, "SELECT COUNT(*) AS n FROM change_log".into()).await? - mark),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = &args.db.serve {
        return bench::serve(url, |s| s.bulk_max_bytes = 1 << 30).await;
    }
    let url = args.db.fresh(args.backend, "interlib_syncbench").await?;
    let (db, _) = interlib::db::connect(&Settings::for_database(&url)).await?;
    interlib::seed::demo(&db).await?;
    db.execute_unprepared(
        "INSERT INTO associations (name, country_code, created_at, updated_at) \
         VALUES ('Benchmark Library Association', 'AU', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    )
    .await?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM associations WHERE name = 'Benchmark Library Association'".to_owned(),
        ))
        .await?
        .context("association")?;
    let association: i32 = row.try_get("", "id")?;
    if args.backend == Backend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }

    let server = ServerProcess::start(&url).await?;
    interlib::install_tls_provider();
    let client = reqwest::Client::new();
    let token = bench::token(
        Role::Association,
        &TokenScope { association: Some(association.to_string()), ..TokenScope::default() },
    )?;
    let endpoint = format!(
        "http://127.0.0.1:{}/bulk/members?associationId={}&mode=FULL_REPLACE",
        server.port,
        GlobalId::encode(NodeKind::Association, association)
    );

    let n = args.members;
    let first = file((0..n).map(|i| member(i, "")));
    // 1%: a third renamed, a third left out (deactivated), a third new.
    let changed = file((0..n + n / 300).filter_map(|i| match i {
        i if i >= n => Some(member(i, "")),
        i if i % 300 == 0 => Some(member(i, " Renamed")),
        i if i % 300 == 1 => None,
        i => Some(member(i, "")),
    }));
    println!(
        "{n} members on {:?}; file {:.1} MB; server peak memory before: {:.1} MB",
        args.backend,
        first.len() as f64 / 1e6,
        server.peak_rss_mb()?
    );
    println!(
        "| run | seconds | created | updated | unchanged | deactivated | reactivated | rows written | server peak MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, body) in [("first load", &first), ("same file again", &first), ("1% changed", &changed)] {
        let before = mark(&db, args.backend).await?;
        let started = Instant::now();
        let res = client
            .post(&endpoint)
            .bearer_auth(&token)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await?;
        let status = res.status();
        let report: Value = res.json().await?;
        let seconds = started.elapsed().as_secs_f64();
        if !status.is_success() || report["failed"] != 0 {
            bail!("{name}: HTTP {status}: {report:#}");
        }
        let written = written_since(&db, args.backend, before).await?;
        println!(
            "| {name} | {seconds:.2} | {} | {} | {} | {} | {} | {written} | {:.0} |",
            report["created"],
            report["updated"],
            report["unchanged"],
            report["deactivated"],
            report["reactivated"],
            server.peak_rss_mb()?
        );
    }
    println!("server peak memory (VmHWM): {:.1} MB", server.peak_rss_mb()?);
    Ok(())
}
