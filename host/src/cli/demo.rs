//! `reflex demo` (being written).

use std::process::ExitCode;

/// Arguments of `reflex demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `reflex demo`.
pub fn run(args: DemoArgs) -> ExitCode {
    let _ = args;
    super::usage("not implemented yet")
}
