//! `reflex doc`: documentation of a service, read through its reflection
//! (`__describe_service`, `__describe_functions`, `__describe_custom_types`).
//!
//! ```text
//! reflex doc tcp://127.0.0.1:5500 -o device.html
//! reflex doc http://device.local/rpc --format markdown -o -
//! ```
//!
//! The HTML page ([`html`]) is one self-contained file: inline CSS, no scripts, nothing
//! loaded from elsewhere. It has a header (name, version, description, custom fields, where,
//! when and by what it was generated), a table of contents, a "Types" section with each
//! custom type at the id `type-<Name>` and a "Functions" section with each function at the id
//! `func-<name>` (`func-led.set`: dots are valid in ids). Type names that refer to a custom
//! type link to it, inside `array<...>` too. The Markdown page ([`markdown`]) has the same
//! content.
//!
//! The server is not trusted: every string it sends is escaped (HTML, or Markdown), so a
//! description can neither inject markup nor break the page.
//!
//! Exit codes: 0 written; 1 the server does not answer `__describe_functions` (a failing
//! `__describe_custom_types` or `__describe_service` only gives a warning); 2 usage,
//! connection or output-file problems.

pub mod html;
pub mod markdown;
pub mod model;

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{ConnectArgs, EXIT_USAGE};
use model::Reflection;

/// Output formats of `reflex doc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormat {
    /// One self-contained HTML page.
    Html,
    /// GitHub-flavoured Markdown.
    Markdown,
}

/// Arguments of `reflex doc`.
#[derive(Debug, clap::Args)]
pub struct DocArgs {
    #[command(flatten)]
    /// The endpoint and how to reach it.
    pub connect: ConnectArgs,
    /// File to write (`-` for standard output).
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
    /// Output format [default: markdown for a FILE ending in .md or .markdown, else html].
    #[arg(long, value_enum)]
    pub format: Option<DocFormat>,
}

/// Runs `reflex doc`.
pub fn run(args: DocArgs) -> ExitCode {
    let format = args.format.unwrap_or_else(|| match args.output.extension().and_then(|e| e.to_str()) {
        Some("md" | "markdown") => DocFormat::Markdown,
        _ => DocFormat::Html,
    });
    let (reflection, provenance) = match model::load(&args.connect, "doc") {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let page = match format {
        DocFormat::Html => html::render(&reflection, &provenance),
        DocFormat::Markdown => markdown::render(&reflection, &provenance),
    };
    match write_output(&args.output, &page) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Writes `text` to `path`, or to standard output for `-`. On failure, says why on stderr
/// and returns [`EXIT_USAGE`].
pub fn write_output(path: &Path, text: &str) -> Result<(), ExitCode> {
    let result = if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    } else {
        std::fs::write(path, text)
    };
    result.map_err(|e| {
        eprintln!("reflex: cannot write {}: {e}", path.display());
        ExitCode::from(EXIT_USAGE)
    })
}

/// The element ids of a page's custom types and functions, index for index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchors {
    /// `type-<Name>` per custom type.
    pub types: Vec<String>,
    /// `func-<name>` per function.
    pub functions: Vec<String>,
}

/// Ids `type-<Name>` and `func-<name>`. HTML ids may hold anything but whitespace, so names
/// are kept as they are (`func-led.set`) except that whitespace becomes `_`; a name that
/// repeats (or collides after that) gets `-2`, `-3`, ... appended.
pub fn anchor_ids(r: &Reflection) -> Anchors {
    let mut used: HashSet<String> = ["service", "contents", "types", "functions"].map(String::from).into();
    let mut id = |prefix: &str, name: &str| {
        let cleaned: String = name.chars().map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c }).collect();
        let base = format!("{prefix}{cleaned}");
        let mut candidate = base.clone();
        let mut n = 2;
        while !used.insert(candidate.clone()) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        candidate
    };
    let types = r.types.iter().map(|t| id("type-", t.name())).collect();
    let functions = r.functions.iter().map(|f| id("func-", &f.name)).collect();
    Anchors { types, functions }
}

/// An id as a URL fragment (without the `#`): percent-encoded except for unreserved
/// characters, so `func-led.set` stays as it is and any other id still resolves.
pub fn href_fragment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{CustomType, FunctionInfo};

    #[test]
    fn anchors_are_unique_and_linkable() {
        let f = |name: &str| FunctionInfo { name: name.into(), ..Default::default() };
        let t = |name: &str| CustomType::Enum { name: name.into(), description: String::new(), values: vec![] };
        let r = Reflection {
            functions: vec![f("led.set"), f("a b"), f("a_b"), f("led.set")],
            types: vec![t("Phone"), t("Phone")],
            ..Default::default()
        };
        let a = anchor_ids(&r);
        assert_eq!(a.functions, ["func-led.set", "func-a_b", "func-a_b-2", "func-led.set-2"]);
        assert_eq!(a.types, ["type-Phone", "type-Phone-2"]);
        assert_eq!(href_fragment("func-led.set"), "func-led.set");
        assert_eq!(href_fragment("func-\"<é>"), "func-%22%3C%C3%A9%3E");
    }
}
