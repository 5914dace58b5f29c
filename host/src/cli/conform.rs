//! `reflex conform` (being written).

use std::process::ExitCode;

/// Arguments of `reflex conform`.
#[derive(Debug, clap::Args)]
pub struct ConformArgs {}

/// Runs `reflex conform`.
pub fn run(args: ConformArgs) -> ExitCode {
    let _ = args;
    super::usage("not implemented yet")
}
