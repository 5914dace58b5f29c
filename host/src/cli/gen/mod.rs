//! `reflex gen`: a typed client for a service, generated from its reflection
//! (`__describe_service`, `__describe_functions`, `__describe_custom_types`).
//!
//! ```text
//! reflex gen tcp://127.0.0.1:5500 --lang python -o device_client.py
//! reflex gen tcp://127.0.0.1:5500 --lang rust -o src/device_client.rs
//! ```
//!
//! * [`python`]: a standard-library-only module (Python 3.8 or later) with `class Client`.
//! * [`rust`]: a module over [`crate::client::Client`] with typed structs, enums and methods.
//!
//! The server is not trusted: its strings reach the generated code only as escaped literals
//! and doc text, and every identifier is derived from its names by sanitizing them.
//!
//! Exit codes: 0 written; 1 the server does not answer `__describe_functions`; 2 usage,
//! connection or output-file problems.

pub mod python;
pub mod rust;

use std::path::PathBuf;
use std::process::ExitCode;

use super::doc::{model, write_output};
use super::ConnectArgs;

/// The languages `reflex gen` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Python module (standard library only, Python 3.8 or later).
    Python,
    /// A Rust module over `reflex_host::client::Client`.
    Rust,
}

/// Arguments of `reflex gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    #[command(flatten)]
    /// The endpoint and how to reach it.
    pub connect: ConnectArgs,
    /// The language of the client.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// File to write (`-` for standard output).
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
}

/// Runs `reflex gen`.
pub fn run(args: GenArgs) -> ExitCode {
    let (reflection, provenance) = match model::load(&args.connect, "gen") {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let code = match args.lang {
        Lang::Python => python::render(&reflection, &provenance),
        Lang::Rust => rust::render(&reflection, &provenance),
    };
    match write_output(&args.output, &code) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
