//! The `interlib` binary: parses the command line and hands over to [`interlib::cli`].

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = interlib::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(interlib::cli::run(cli))
}
