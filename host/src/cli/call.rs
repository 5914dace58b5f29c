//! `reflex call` (being written).

use std::process::ExitCode;

/// Arguments of `reflex call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {}

/// Runs `reflex call`.
pub fn run(args: CallArgs) -> ExitCode {
    let _ = args;
    super::usage("not implemented yet")
}
