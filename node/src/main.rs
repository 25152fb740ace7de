//! `keepsake`: parses the command line and runs it. See `keepsake --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
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
