//! The `interlib` binary: parses the command line and hands over to [`interlib::cli`].

use clap::Parser;

/// mimalloc: the GraphQL executor allocates many small values per request, and glibc's
/// allocator spent a fifth of the server's CPU time on them under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = interlib::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(interlib::cli::run(cli))
}
