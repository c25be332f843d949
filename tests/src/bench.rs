//! What the benchmark binaries share: fresh databases, the server as a child process (so
//! its peak memory is measured alone), and tokens signed like `interlib token mint`.

use std::time::Duration;

use anyhow::Context;
use interlib::auth::{Claims, KeyRing, Role, TokenScope};
use interlib::settings::Settings;
use interlib::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The database a benchmark runs on.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database options every benchmark that starts its own server takes.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL server (without a database name).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub postgres: String,
    /// `sslmode` of the server's PostgreSQL connection. The default matches docker-compose,
    /// whose PostgreSQL has no TLS; `prefer` measures TLS on loopback (Debian's default `ssl = on`).
    #[arg(long, default_value = "disable")]
    pub sslmode: String,
    /// Internal: run only the server on this database URL and print its port.
    #[arg(long, hide = true)]
    pub serve: Option<String>,
}

impl DatabaseArgs {
    /// A fresh database `name` on `backend` (see [`fresh_database`]).
    ///
    /// # Errors
    /// PostgreSQL cannot be reached, or the SQLite folder cannot be made.
    pub async fn fresh(&self, backend: Backend, name: &str) -> anyhow::Result<String> {
        let postgres = (backend == Backend::Postgres).then_some(self.postgres.as_str());
        fresh_database(postgres, name, &self.sslmode).await
    }
}

/// A fresh, empty database: a new SQLite file in the temp dir, or a PostgreSQL database
/// `name` dropped and created anew on `postgres` (a server URL without a database).
///
/// # Errors
/// The database server cannot be reached.
pub async fn fresh_database(postgres: Option<&str>, name: &str, sslmode: &str) -> anyhow::Result<String> {
    Ok(match postgres {
        None => {
            let dir = std::env::temp_dir().join(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            format!("sqlite://{}?mode=rwc", dir.join("bench.db").display())
        }
        Some(base) => {
            let base = base.trim_end_matches('/');
            let admin = Database::connect(format!("{base}/postgres")).await?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            admin.close().await?;
            format!("{base}/{name}?sslmode={sslmode}")
        }
    })
}

/// Seeds the demo network and `librarians` more on the database at `url`, then (on
/// PostgreSQL) refreshes the planner's statistics, as a deployment's data would have them.
///
/// # Errors
/// The database cannot be reached or written.
pub async fn seed_network(url: &str, librarians: usize, backend: Backend) -> anyhow::Result<()> {
    let settings = Settings::for_database(url);
    let (db, _) = interlib::db::connect(&settings).await?;
    interlib::seed::demo(&db).await?;
    interlib::seed::librarians(&db, librarians, 42).await?;
    if backend == Backend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    db.close().await?;
    Ok(())
}

/// The server running in a child process (the benchmark binary itself, started with
/// `--serve URL`, which calls [`serve`]).
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub port: u16,
}

impl ServerProcess {
    /// Starts the server on `url` and waits until it listens.
    ///
    /// # Errors
    /// The process cannot start or prints no port.
    pub async fn start(url: &str) -> anyhow::Result<Self> {
        Self::start_with(url, &[]).await
    }

    /// [`start`](Self::start) with more arguments for the benchmark binary's `--serve` mode.
    ///
    /// # Errors
    /// The process cannot start or prints no port.
    pub async fn start_with(url: &str, args: &[String]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut child = tokio::process::Command::new(exe)
            .arg("--serve")
            .arg(url)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the server")?;
        let pid = child.id().context("server pid")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let port: u16 = lines.next_line().await?.context("server printed no port")?.trim().parse()?;
        Ok(Self { child, pid, port })
    }

    /// The server's peak resident memory so far (`VmHWM`), in MB.
    ///
    /// # Errors
    /// The process is gone.
    pub fn peak_rss_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmHWM not found")?;
        Ok(kb / 1024.0)
    }
}

/// Connections in the pool of a benchmark's server (and of the database-alone baseline that
/// replays its statements).
pub const SERVER_POOL: u32 = 16;

/// The `--serve` mode of a benchmark binary: the server on an already migrated database;
/// prints its port, then serves until killed.
///
/// # Errors
/// The server cannot start.
pub async fn serve(url: &str, adjust: impl FnOnce(&mut Settings)) -> anyhow::Result<()> {
    let mut settings = Settings::for_database(url);
    settings.migrate_on_start = false;
    settings.database_max_connections = SERVER_POOL;
    adjust(&mut settings);
    let app = Application::build(&settings).await?;
    println!("{}", app.port());
    app.run_until_stopped().await?;
    Ok(())
}

/// A day-long token for `role` and `scope`, signed with the default settings' keys.
///
/// # Errors
/// A scope that does not fit the role.
pub fn token(role: Role, scope: &TokenScope) -> anyhow::Result<String> {
    let settings = Settings::for_database("sqlite::memory:");
    let keys = KeyRing::from_settings(&settings)?;
    let claims = Claims::for_role(role, scope, None, Duration::from_secs(24 * 3600), keys.issuer(), keys.audience())?;
    keys.mint(&claims)
}

/// User + system CPU seconds of a process so far (`/proc/PID/stat`, fields 14 and 15).
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = stat.rsplit_once(')').map_or(stat.as_str(), |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    Ok((ticks(11) + ticks(12)) / 100.0)
}

/// User + system CPU seconds so far of every PostgreSQL process of this machine (its
/// postmaster and backends; `/proc/*/comm` is `postgres`): the database's side of a run.
pub fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .filter_map(|pid| cpu_seconds(pid).ok())
        .sum()
}
