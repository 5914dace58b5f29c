//! The `reflex` command line.
//!
//! Each subcommand lives in the library next to what it drives (`serve` in
//! [`reflex_host::server::cli`]); this file only parses the command line, sets up logging
//! (`RUST_LOG`, default `info`, to stderr: stdout is for results) and dispatches.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reflex_host::cli;
use tracing_subscriber::EnvFilter;

/// reflex: self-describing JSON-RPC for microcontrollers and the machines that talk to them.
#[derive(Debug, Parser)]
#[command(name = "reflex", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the demo device in this process and open the shell on it: the quickest look.
    Demo(cli::demo::DemoArgs),
    /// Serve the demo device service over TCP, Unix sockets, TLS, HTTP and HTTPS.
    Serve(reflex_host::server::cli::ServeArgs),
    /// Call one method and print the result as JSON.
    Call(cli::call::CallArgs),
    /// Explore a device or server interactively.
    Shell(cli::shell::ShellArgs),
    /// Write HTML (or Markdown) documentation of a service.
    Doc(cli::doc::DocArgs),
    /// Generate a typed client (Python or Rust) for a service.
    Gen(cli::gen::GenArgs),
    /// Check that a device or server speaks the protocol correctly.
    Conform(cli::conform::ConformArgs),
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `try_init`: never panic because something installed a subscriber already.
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Demo(args) => cli::demo::run(args),
        Command::Serve(args) => reflex_host::server::cli::run(args),
        Command::Call(args) => cli::call::run(args),
        Command::Shell(args) => cli::shell::run(args),
        Command::Doc(args) => cli::doc::run(args),
        Command::Gen(args) => cli::gen::run(args),
        Command::Conform(args) => cli::conform::run(args),
    }
}
