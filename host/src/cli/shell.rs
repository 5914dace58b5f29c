//! `reflex shell` (being written).

use std::process::ExitCode;

/// Arguments of `reflex shell`.
#[derive(Debug, clap::Args)]
pub struct ShellArgs {}

/// Runs `reflex shell`.
pub fn run(args: ShellArgs) -> ExitCode {
    let _ = args;
    super::usage("not implemented yet")
}
