//! The command line: `serve`, `migrate`, `schema`, `seed`, `token`, `import`, `match`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use entities::librarian;
use migration::{Migrator, MigratorTrait};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::auth::{Claims, KeyRing, Role, TokenScope, Viewer};
use crate::domain::{GlobalId, NodeKind, SyncMode, SyncSource};
use crate::error::ApiError;
use crate::matching::graph_file::Objective;
use crate::service::member_files::{self, Format};
use crate::service::sync::{self, SyncOptions, SyncRequest};
use crate::settings::Settings;
use crate::startup::Application;
use crate::{db, graphql, seed, telemetry};

/// Interlib: the GraphQL API of an international peer-mentoring network for librarians.
#[derive(Debug, Parser)]
#[command(name = "interlib", version, about)]
pub struct Cli {
    /// A TOML settings file (default: `interlib.toml` if present). `INTERLIB_*` variables win.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrating the database first).
    Serve {
        /// Seed the demo network first if the database has no librarians yet.
        #[arg(long)]
        demo: bool,
    },
    /// Apply or roll back migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Fill the database with data.
    Seed {
        /// The deterministic demo network (into an empty database).
        #[arg(long, conflicts_with = "librarians")]
        demo: bool,
        /// Add this many generated librarians (load data).
        #[arg(long, value_name = "N")]
        librarians: Option<usize>,
        /// Random seed for `--librarians`.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Mint access tokens (with the configured `auth_secret`).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Run the matching engine: on a graph file (`--graph`), or on a round in the database
    /// (`--round`).
    Match {
        /// `{"vertices": N, "edges": [[u, v, weight], ...]}` with integer weights; prints
        /// `{"pairs": [[u, v], ...], "weight": TOTAL}`.
        #[arg(long, value_name = "FILE", required_unless_present = "round", conflicts_with = "round")]
        graph: Option<PathBuf>,
        /// With `--graph`: the round's objective, the most pairs first and then the largest
        /// weight among those (without it: the largest weight).
        #[arg(long, requires = "graph")]
        max_cardinality: bool,
        /// A round (its global ID or number) in `MATCHING`: matches its applicants as
        /// `runMatching` does and prints the groups, the unmatched and the figures as JSON.
        #[arg(long, value_name = "ID")]
        round: Option<String>,
        /// With `--round`: compute only, store nothing. Without it the groups are stored as
        /// `PROPOSED` pairings.
        #[arg(long, requires = "round")]
        dry_run: bool,
    },
    /// Import data from files.
    Import {
        #[command(subcommand)]
        action: ImportAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportAction {
    /// Sync an association's members from a JSON Lines (`.jsonl`) or CSV (`.csv`) file, as
    /// `POST /bulk/members` does, straight into the configured database. Prints the result
    /// as JSON; exits non-zero if the sync itself fails (invalid rows are reported, not fatal).
    Members {
        /// The association (global id or number).
        #[arg(long, value_name = "ID")]
        association: String,
        /// `upsert` or `full-replace`.
        #[arg(long, default_value = "upsert", value_parser = parse_mode)]
        mode: SyncMode,
        /// Compute the result, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Makes a retry of the same import safe (see `syncMembers`).
        #[arg(long)]
        idempotency_key: Option<String>,
        /// `jsonl` or `csv`; by default from the file's extension.
        #[arg(long, value_parser = parse_format)]
        format: Option<Format>,
        /// The member list.
        file: PathBuf,
    },
}

fn parse_mode(s: &str) -> Result<SyncMode, String> {
    SyncMode::parse(&s.to_ascii_uppercase().replace('-', "_")).ok_or_else(|| "upsert or full-replace".to_owned())
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s.to_ascii_lowercase().as_str() {
        "jsonl" | "ndjson" => Ok(Format::JsonLines),
        "csv" => Ok(Format::Csv),
        _ => Err("jsonl or csv".to_owned()),
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Print a signed (HS256) token for a role and its scope.
    Mint {
        /// admin, ambassador, association or librarian.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A country an ambassador looks after (repeat for several).
        #[arg(long = "country", value_name = "CODE")]
        countries: Vec<String>,
        /// The association of an association token (global id or number).
        #[arg(long, value_name = "ID")]
        association: Option<String>,
        /// The librarian of a librarian token, or the ambassador's own record (global id or number).
        #[arg(long, value_name = "ID")]
        librarian: Option<String>,
        /// The token's subject (`sub`); by default derived from the role and scope.
        #[arg(long)]
        subject: Option<String>,
        /// How long the token is valid, e.g. `30d`, `12h`.
        #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: admin, ambassador, association or librarian"))
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back the last `steps` migrations (all of them with `--all`).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
        #[arg(long, conflicts_with = "steps")]
        all: bool,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command fails with, with context.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that print one answer on stdout and log nothing.
    match &cli.command {
        Command::Schema => {
            print!("{}", graphql::schema::sdl());
            return Ok(());
        }
        Command::Match { graph: Some(graph), max_cardinality, .. } => return match_graph(graph, *max_cardinality),
        _ => {}
    }
    let mut settings = Settings::load(cli.config)?;
    if let Command::Token { action } = &cli.command {
        return mint(&settings, action);
    }
    telemetry::init(settings.log_format, &settings.log_level);
    match cli.command {
        Command::Schema | Command::Token { .. } | Command::Match { round: None, .. } => Ok(()),
        Command::Match { round: Some(round), dry_run, .. } => match_round(&settings, &round, dry_run).await,
        Command::Serve { demo } => serve(&settings, demo).await,
        Command::Migrate { action } => {
            settings.migrate_on_start = false;
            migrate(&settings, action).await
        }
        Command::Import { action } => import(&settings, action).await,
        Command::Seed { demo, librarians, seed: rng_seed } => seed_data(&settings, demo, librarians, rng_seed).await,
    }
}

/// `interlib match --graph`: pure computation, no settings, no database.
fn match_graph(graph: &std::path::Path, max_cardinality: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(graph).with_context(|| format!("cannot read {}", graph.display()))?;
    let objective = if max_cardinality { Objective::MaxCardinality } else { Objective::MaxWeight };
    let matching = crate::matching::graph_file::solve(&text, objective).map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string(&matching)?);
    Ok(())
}

/// `interlib token mint`: only the token goes to stdout; nothing here is logged.
fn mint(settings: &Settings, action: &TokenAction) -> anyhow::Result<()> {
    let TokenAction::Mint { role, countries, association, librarian, subject, ttl } = action;
    let keys = KeyRing::from_settings(settings)?;
    let scope =
        TokenScope { countries: countries.clone(), association: association.clone(), librarian: librarian.clone() };
    let claims = Claims::for_role(*role, &scope, subject.clone(), *ttl, keys.issuer(), keys.audience())?;
    println!("{}", keys.mint(&claims)?);
    Ok(())
}

/// `interlib match --round`: a matching run on the configured database, as `runMatching`.
async fn match_round(settings: &Settings, round: &str, dry_run: bool) -> anyhow::Result<()> {
    let round_id = match round.parse::<i32>() {
        Ok(id) => id,
        Err(_) => GlobalId::decode_int("round", round, NodeKind::Round).map_err(ApiError::into_anyhow)?,
    };
    let (db, _) = db::connect(settings).await?;
    let countries = crate::service::countries::CountryTable::load(&db).await.map_err(ApiError::into_anyhow)?;
    let viewer = Viewer::Admin { subject: "cli".to_owned() };
    let outcome = crate::service::rounds::run_matching(&db, &viewer, &countries, &settings.matching, round_id, dry_run)
        .await
        .map_err(ApiError::into_anyhow)?;
    match outcome {
        Ok(run) => {
            println!("{}", serde_json::to_string_pretty(&crate::http::views::matching_run(&run))?);
            Ok(())
        }
        Err(errors) => {
            let messages: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            anyhow::bail!("{}", messages.join("; "))
        }
    }
}

/// `interlib serve`: the server, with the demo network seeded into an empty database.
async fn serve(settings: &Settings, demo: bool) -> anyhow::Result<()> {
    let (db, statements) = db::connect(settings).await?;
    if demo && librarian::Entity::find().count(&db).await? == 0 {
        let started = Instant::now();
        seed::demo(&db).await.context("seeding the demo network")?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "demo network seeded");
    }
    let app = Application::with_database(settings, db, statements).await?;
    println!("Interlib is listening on http://{}/graphql", display_address(&settings.bind_address, app.port()));
    app.run_until_stopped().await.context("server failed")
}

/// `interlib migrate`.
async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let (db, _) = db::connect(settings).await?;
    match action {
        MigrateAction::Up => Migrator::up(&db, None).await?,
        MigrateAction::Down { all: true, .. } => Migrator::reset(&db).await?,
        MigrateAction::Down { steps, .. } => Migrator::down(&db, Some(steps)).await?,
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:<10} {}", format!("{:?}", migration.status()), migration.name());
            }
        }
    }
    Ok(())
}

/// `interlib import members`: a member file synced into the configured database, as the
/// bulk path does.
async fn import(settings: &Settings, action: ImportAction) -> anyhow::Result<()> {
    let ImportAction::Members { association, mode, dry_run, idempotency_key, format, file } = action;
    let format = format
        .or_else(|| Format::from_path(&file))
        .context("say --format jsonl or csv (the file's extension does not tell)")?;
    let association_id = match association.parse::<i32>() {
        Ok(id) => id,
        Err(_) => {
            GlobalId::decode_int("association", &association, NodeKind::Association).map_err(ApiError::into_anyhow)?
        }
    };
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let list = member_files::parse(&bytes, format).map_err(ApiError::into_anyhow)?;
    drop(bytes);
    let (db, _) = db::connect(settings).await?;
    let request = SyncRequest {
        association_id,
        mode,
        dry_run,
        members: list.members,
        unreadable: list.unreadable,
        idempotency_key,
        source: SyncSource::Cli,
        precondition: None,
    };
    let options = SyncOptions { idempotency_ttl: std::time::Duration::from_secs(settings.idempotency_ttl_secs) };
    let viewer = Viewer::Admin { subject: "cli".to_owned() };
    let report = sync::sync(&db, &viewer, options, request).await.map_err(ApiError::into_anyhow)?;
    println!("{}", serde_json::to_string_pretty(&crate::http::views::sync_report(&report))?);
    Ok(())
}

/// `interlib seed`.
async fn seed_data(settings: &Settings, demo: bool, librarians: Option<usize>, rng_seed: u64) -> anyhow::Result<()> {
    let (db, _) = db::connect(settings).await?;
    let started = Instant::now();
    if demo {
        seed::demo(&db).await?;
        println!("seeded the demo network in {:.1?}", started.elapsed());
    } else if let Some(n) = librarians {
        seed::librarians(&db, n, rng_seed).await?;
        println!("added {n} librarians in {:.1?}", started.elapsed());
    } else {
        anyhow::bail!("say what to seed: --demo or --librarians N");
    }
    Ok(())
}

fn display_address(bind: &str, port: u16) -> String {
    let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
    format!("{host}:{port}")
}
