//! `reflex doc` (being written).

use std::process::ExitCode;

/// Arguments of `reflex doc`.
#[derive(Debug, clap::Args)]
pub struct DocArgs {}

/// Runs `reflex doc`.
pub fn run(args: DocArgs) -> ExitCode {
    let _ = args;
    super::usage("not implemented yet")
}
