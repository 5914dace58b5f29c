//! `reflex gen` (being written).

use std::process::ExitCode;

/// Arguments of `reflex gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {}

/// Runs `reflex gen`.
pub fn run(args: GenArgs) -> ExitCode {
    let _ = args;
    super::usage("not implemented yet")
}
