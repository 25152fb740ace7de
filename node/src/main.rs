//! `keepsake`: parses the command line and runs it. See `keepsake --help`.

use clap::Parser;

/// jemalloc, not glibc's malloc: at 300,000 certificates it holds a third
/// less memory and gives freed pages back (docs/benchmarks.md, "Allocator").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    keepsake::heap::jemalloc_is_global();
    let cli = keepsake::cli::Cli::parse();
    keepsake::cli::init_logging();
    match keepsake::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
