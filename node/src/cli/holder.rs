//! `keepsake holder`: the holder commitment of an account, and holder
//! proofs (the opening of a certificate's commitment, handed privately to a
//! verifier and checked offline; `keepsake_types::holder`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use keepsake_types::holder::{HOLDER_OPENING_FILE_MAX, HolderOpening};
use keepsake_types::ids;

use super::cert::{cannot_check, verify_files};
use crate::config::read_bounded;

/// Exit code of `keepsake holder verify` when the certificate is valid but
/// the opening does not open its holder commitment (1: the certificate itself is invalid).
pub const NOT_THE_HOLDER_EXIT: u8 = 3;

#[derive(Subcommand, Debug)]
pub(super) enum HolderCommand {
    /// Print the holder commitment of a real-name account (no personal data leaves the platform).
    Id {
        /// The platform's account id of the user.
        #[arg(long)]
        account: String,
        /// The platform's secret salt.
        #[arg(long)]
        salt: String,
    },
    /// Write the opening of a certificate's holder commitment (salt and
    /// account), for the holder to hand to a verifier privately. The
    /// certificate is verified first, and the opening must open it.
    Prove {
        /// The platform's account id of the holder.
        #[arg(long)]
        account: String,
        /// The platform's secret salt.
        #[arg(long)]
        salt: String,
        /// The certificate file.
        #[arg(long)]
        certificate: PathBuf,
        /// The chain's genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// Where to write the opening (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a certificate offline, then check that an opening opens its
    /// holder commitment; nothing is sent to any node. Exit 0: it does;
    /// 1: the certificate is invalid; 3: the opening does not open it.
    Verify {
        /// The opening file (`keepsake holder prove`).
        #[arg(long)]
        opening: PathBuf,
        /// The certificate file.
        #[arg(long)]
        certificate: PathBuf,
        /// The chain's genesis file (the only thing trusted).
        #[arg(long)]
        genesis: PathBuf,
    },
}

/// `keepsake holder-id` and `keepsake holder id`.
pub(super) fn holder_id(account: String, salt: String) -> anyhow::Result<ExitCode> {
    if account.is_empty() || salt.is_empty() {
        bail!("--account and --salt must not be empty");
    }
    println!("{}", ids::holder_id(&salt, &account));
    Ok(ExitCode::SUCCESS)
}

pub(super) fn holder(command: HolderCommand) -> anyhow::Result<ExitCode> {
    match command {
        HolderCommand::Id { account, salt } => holder_id(account, salt),
        HolderCommand::Prove { account, salt, certificate, genesis, out } => {
            let verified = match verify_files(&certificate, &genesis) {
                Ok(v) => v,
                Err(f) => {
                    f.report();
                    return Ok(f.exit_code());
                }
            };
            let opening = HolderOpening::for_certificate(&verified, &salt, &account).with_context(|| {
                format!(
                    "this salt and account do not open certificate {}: check both with the platform \
                     (`keepsake holder id` prints the commitment they give)",
                    verified.certificate_id
                )
            })?;
            let json = serde_json::to_string_pretty(&opening)? + "\n";
            match out {
                Some(path) => {
                    std::fs::write(&path, json)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {}: it reveals the account id to whoever you give it; hand it over privately",
                        path.display()
                    );
                }
                None => print!("{json}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        HolderCommand::Verify { opening, certificate, genesis } => verify(&opening, &certificate, &genesis),
    }
}

fn verify(opening: &Path, certificate: &Path, genesis: &Path) -> anyhow::Result<ExitCode> {
    let text = match read_bounded(opening, HOLDER_OPENING_FILE_MAX as u64) {
        Ok(text) => text,
        Err(e) => return Ok(cannot_check(e)),
    };
    let opening =
        HolderOpening::from_json(&text).with_context(|| format!("cannot read {}", opening.display()))?;
    let verified = match verify_files(certificate, genesis) {
        Ok(v) => v,
        Err(f) => {
            f.report();
            return Ok(f.exit_code());
        }
    };
    match opening.check(&verified) {
        Ok(()) => {
            println!(
                "HOLDER: account {:?} holds certificate {} (edition {} of {})",
                opening.account,
                verified.certificate_id,
                verified.record.edition,
                verified.record.series_name
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("NOT the holder: {e}");
            Ok(ExitCode::from(NOT_THE_HOLDER_EXIT))
        }
    }
}
