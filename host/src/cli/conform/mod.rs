//! `reflex conform URL`: a conformance suite for JSON-RPC servers and devices.
//!
//! The cases are language-neutral JSON vectors (`tests/vectors/*.json`, described in
//! `tests/vectors/README.md`), built into the binary; `--vectors DIR` runs other files. Each
//! case sends one request exactly as written and compares what comes back: a JSON value
//! (member order aside), exact bytes, an error code, a partial value, or nothing at all.
//!
//! * Line transports (TCP, Unix, TLS, serial) send the request and CRLF. A probe request with
//!   a fresh id follows it; everything before the probe's reply is the case's reply, so "no
//!   reply" is checked without waiting for a timeout.
//! * HTTP(S) `POST`s the request as the body; an empty body with status 200 (or 204) is "no
//!   reply".
//!
//! Cases marked `"requires": "demo"` need the reflex demo service (`reflex serve`); the rest
//! are generic protocol cases every JSON-RPC 2.0 server must pass. `--generic` runs only
//! those, and accepts any error `message` text (the spec fixes codes, not texts).
//!
//! Output: one line per case (✓/✗) on a terminal or with `--verbose`, otherwise only the
//! failures with request, expected and actual reply; the last line is always
//! `N passed, N failed` (`, N skipped` when `--generic` leaves cases out). Exit code 0 when
//! every case passed, 1 when one failed, 2 for usage or connection problems.

mod check;
mod json;
mod transport;
mod vectors;

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use check::Rules;
use transport::{Received, Transport};
use vectors::{Case, Expected};

use super::{usage, ConnectArgs, EXIT_FAILURE, EXIT_USAGE};

/// Arguments of `reflex conform`.
#[derive(Debug, clap::Args)]
// The cases choose their dialect themselves.
#[command(mut_arg("v1", |a| a.hide(true)), mut_arg("v2", |a| a.hide(true)))]
pub struct ConformArgs {
    /// The endpoint under test and how to reach it.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Run only the generic protocol cases (no demo service needed) and accept any error
    /// message text: for checking any JSON-RPC 2.0 server.
    #[arg(long)]
    pub generic: bool,
    /// Run only the cases whose `FILE: NAME` or category contains SUBSTR (case-insensitive).
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// One line per case, even when stdout is not a terminal.
    #[arg(long, short)]
    pub verbose: bool,
    /// Read the vector files (`*.json`) from DIR instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub vectors: Option<PathBuf>,
}

/// Runs `reflex conform`.
pub fn run(args: ConformArgs) -> ExitCode {
    let cases = match &args.vectors {
        Some(dir) => vectors::from_dir(dir),
        None => vectors::embedded(),
    };
    let cases = match cases {
        Ok(cases) => cases,
        Err(e) => return usage(&format!("invalid vectors: {e}")),
    };
    let filter = args.filter.as_deref().map(str::to_lowercase);
    let selected: Vec<Case> = cases
        .into_iter()
        .filter(|c| {
            filter
                .as_deref()
                .is_none_or(|f| c.title().to_lowercase().contains(f) || c.category.to_lowercase().contains(f))
        })
        .collect();
    if selected.is_empty() {
        return usage("no case matches --filter");
    }
    let (to_run, skipped): (Vec<Case>, Vec<Case>) =
        selected.into_iter().partition(|c| !(args.generic && c.requires_demo));
    let options = match args.connect.options() {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let rules = Rules { loose_messages: args.generic };
    let one_line_each = args.verbose || std::io::stdout().is_terminal();
    let endpoint = args.connect.url.clone();
    super::runtime().block_on(async move {
        let mut transport = match Transport::connect(&endpoint, options).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("reflex: cannot reach {endpoint}: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let mut out = std::io::stdout().lock();
        if one_line_each {
            let _ = writeln!(out, "reflex conform: {} cases against {endpoint}", to_run.len());
        }
        let (mut passed, mut failed) = (0usize, 0usize);
        for case in &to_run {
            let outcome = run_case(&mut transport, case, rules).await;
            match &outcome {
                Ok(()) => {
                    passed += 1;
                    if one_line_each {
                        let _ = writeln!(out, "✓ {}", case.title());
                    }
                }
                Err(failure) => {
                    failed += 1;
                    let _ = write!(out, "{}", failure.report(case, transport.is_http()));
                }
            }
            let _ = out.flush();
        }
        let mut summary = format!("{passed} passed, {failed} failed");
        if !skipped.is_empty() {
            summary.push_str(&format!(", {} skipped", skipped.len()));
        }
        let _ = writeln!(out, "{summary}");
        let _ = out.flush();
        if failed > 0 {
            ExitCode::from(EXIT_FAILURE)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// Why a case failed.
struct Failure {
    received: Option<Received>,
    reason: String,
}

impl Failure {
    fn report(&self, case: &Case, http: bool) -> String {
        let expect = expectation_for(case, http);
        let mut s = format!("✗ {}\n", case.title());
        let dialect = match case.version.as_str() {
            "any" => "any version".to_string(),
            v => format!("JSON-RPC {v}"),
        };
        s.push_str(&format!("    category: {} ({dialect})\n", case.category));
        let request = if http { &case.request } else { &case.request_line };
        s.push_str(&format!("    request:  {}\n", printable(request)));
        s.push_str(&format!("    expected: {}\n", describe(&expect.expected)));
        if let Some(received) = &self.received {
            let got = match received.replies.as_slice() {
                [] => "no reply".to_string(),
                replies => replies.iter().map(|r| printable(r)).collect::<Vec<_>>().join("\n              "),
            };
            s.push_str(&format!("    actual:   {got}\n"));
            if let Some(note) = &received.note {
                s.push_str(&format!("              ({note})\n"));
            }
        }
        s.push_str(&format!("    reason:   {}\n", self.reason));
        if let Some(known) = &case.known_failure {
            s.push_str(&format!("    known failure: {known}\n"));
        }
        s
    }
}

fn expectation_for(case: &Case, http: bool) -> &vectors::Expectation {
    let over = if http { case.http.as_ref() } else { case.line.as_ref() };
    over.unwrap_or(&case.expect)
}

async fn run_case(transport: &mut Transport, case: &Case, rules: Rules) -> Result<(), Failure> {
    let expect = expectation_for(case, transport.is_http());
    let expects_reply = !matches!(expect.expected, Expected::NoResponse);
    let received = transport
        .exchange(&case.request, &case.request_line, expects_reply)
        .await
        .map_err(|reason| Failure { received: None, reason })?;
    match check::check(expect, &received.replies, rules) {
        Ok(()) => Ok(()),
        Err(reason) => Err(Failure { received: Some(received), reason }),
    }
}

/// What a case expects, for a failure report.
fn describe(expected: &Expected) -> String {
    match expected {
        Expected::NoResponse => "no reply".into(),
        Expected::Text(options) => options.iter().map(|o| printable(o)).collect::<Vec<_>>().join("\n          or "),
        Expected::Values(options) => {
            options.iter().map(json::Json::to_text).collect::<Vec<_>>().join("\n          or ")
        }
        Expected::Subset(v) => format!("a reply containing {}", v.to_text()),
        Expected::ErrorCode(code) => format!("an error with code {}", code.to_text()),
    }
}

/// Bytes for a terminal: UTF-8 as is, control characters and invalid bytes as `\xNN`, long
/// texts cut.
fn printable(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 2000;
    let mut s = String::new();
    let mut chars = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if chars >= MAX_CHARS {
                s.push_str(&format!("… ({} bytes in all)", bytes.len()));
                return s;
            }
            if c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    s.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                s.push(c);
            }
            chars += 1;
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
            chars += 1;
        }
    }
    s
}
