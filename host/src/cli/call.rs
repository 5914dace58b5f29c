//! `reflex call`: calls one method and prints its result as JSON.
//!
//! ```text
//! reflex call tcp://127.0.0.1:5500 add 1 2                 # 3
//! reflex call tcp://127.0.0.1:5500 echo '"hello"'          # "hello"
//! reflex call tcp://127.0.0.1:5500 subtract --named minuend=42 --named subtrahend=23
//! reflex call tcp://127.0.0.1:5500 notify '"x"' --notify   # sent, nothing printed
//! reflex call tcp://127.0.0.1:5500 --raw '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}'
//! echo '{"method":"echo","params":["hi"],"id":1}' | reflex call tcp://127.0.0.1:5500 --v1 --raw -
//! ```
//!
//! Exit status: 0 success (the result is on stdout), 1 the server answered with an error (on
//! stderr: `error: Name (code): message`, and the error's `data` if it says more), 2 a usage
//! or connection problem (an argument that is not JSON, an unreachable endpoint, a timeout,
//! a reply that is not JSON-RPC).
//!
//! This module also holds what `reflex shell` shares with it: JSON output ([`render_json`],
//! [`OutputArgs`], [`ColorChoice`]), error formatting ([`rpc_error_text`]) and argument
//! parsing ([`parse_json_arg`]).

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;

use serde_json::{Map, Value};

use super::{usage, ConnectArgs, EXIT_FAILURE, EXIT_USAGE};
use crate::client::{Client, ClientError, RpcError};
use crate::Endpoint;

/// Arguments of `reflex call`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each ARG is one JSON value: 42, -1.5, true, null, '\"text\"', '[1, 2]', '{\"key\": \"value\"}'.\n\
Exit status: 0 success, 1 the server answered with an error, 2 a usage or connection problem."
)]
pub struct CallArgs {
    /// Where to call, and how.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The method to call. With --raw: the whole request text, or `-` to read it from stdin.
    #[arg(value_name = "METHOD")]
    pub method: String,
    /// Positional parameters, each a JSON value (strings need their double quotes: '"text"').
    #[arg(value_name = "ARG", allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// A parameter by name, KEY=JSON (repeatable); the parameters are then sent as an object.
    #[arg(long, value_name = "KEY=JSON", conflicts_with = "args")]
    pub named: Vec<String>,
    /// Send a notification: no reply is awaited and nothing is printed.
    #[arg(long)]
    pub notify: bool,
    /// METHOD is a complete request text (`-`: read it from stdin), sent as is; the reply is
    /// printed as received. Exits 1 when the reply is an error (or a batch holding one).
    #[arg(long, conflicts_with_all = ["named", "notify"])]
    pub raw: bool,
    /// How to print the result.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How JSON results are printed (shared by `reflex call`, `reflex shell` and `reflex demo`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Print JSON indented (the default when stdout is a terminal).
    #[arg(long, conflicts_with = "compact")]
    pub pretty: bool,
    /// Print JSON on one line (the default when stdout is not a terminal).
    #[arg(long)]
    pub compact: bool,
    /// Colours: auto (when writing to a terminal and NO_COLOR is not set), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

impl OutputArgs {
    /// Whether to indent JSON, given whether stdout is a terminal.
    pub fn pretty(&self, stdout_terminal: bool) -> bool {
        if self.pretty {
            true
        } else if self.compact {
            false
        } else {
            stdout_terminal
        }
    }
}

/// When to colour output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When the output goes to a terminal, `NO_COLOR` is unset (or empty) and `TERM` is not
    /// `dumb`.
    #[default]
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream; `terminal` tells whether it is one.
    pub fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }
}

/// ANSI SGR sequences used for output.
pub mod ansi {
    /// Back to plain text.
    pub const RESET: &str = "\x1b[0m";
    /// Bold.
    pub const BOLD: &str = "\x1b[1m";
    /// Faint (hints, notes).
    pub const DIM: &str = "\x1b[2m";
    /// Errors.
    pub const RED: &str = "\x1b[1;31m";
    /// Object keys.
    pub const KEY: &str = "\x1b[1;34m";
    /// Strings.
    pub const STRING: &str = "\x1b[32m";
    /// Numbers.
    pub const NUMBER: &str = "\x1b[36m";
    /// `true` and `false`.
    pub const BOOL: &str = "\x1b[33m";
    /// `null`.
    pub const NULL: &str = "\x1b[90m";
    /// Type names.
    pub const TYPE: &str = "\x1b[36m";
    /// The prompt.
    pub const PROMPT: &str = "\x1b[1;32m";
}

/// `text` wrapped in `style` when `color` is on.
pub fn paint(text: &str, style: &str, color: bool) -> String {
    if color {
        format!("{style}{text}{}", ansi::RESET)
    } else {
        text.to_string()
    }
}

/// Renders `value` as JSON: indented by two spaces (as `serde_json::to_string_pretty`) or on
/// one line, with ANSI colours for keys, strings, numbers, booleans and null when `color`.
pub fn render_json(value: &Value, pretty: bool, color: bool) -> String {
    if !color {
        let text = if pretty { serde_json::to_string_pretty(value) } else { serde_json::to_string(value) };
        return text.unwrap_or_else(|_| value.to_string());
    }
    let mut out = String::new();
    write_json(&mut out, value, pretty, 0);
    out
}

fn write_json(out: &mut String, value: &Value, pretty: bool, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            out.extend(std::iter::repeat_n("  ", depth));
        }
    };
    match value {
        Value::Null => out.push_str(&paint("null", ansi::NULL, true)),
        Value::Bool(b) => out.push_str(&paint(&b.to_string(), ansi::BOOL, true)),
        Value::Number(n) => out.push_str(&paint(&n.to_string(), ansi::NUMBER, true)),
        Value::String(_) => out.push_str(&paint(&value.to_string(), ansi::STRING, true)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(out, item, pretty, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                out.push_str(&paint(&Value::from(key.as_str()).to_string(), ansi::KEY, true));
                out.push_str(if pretty { ": " } else { ":" });
                write_json(out, item, pretty, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

/// An error object as text: `error: Name (code): message`, `error: Name: message` (1.0) or
/// `error: code N: message` (no name), followed by a `data:` line when the error's `data`
/// says more than its name.
pub fn rpc_error_text(e: &RpcError, color: bool) -> String {
    let label = match (&e.name, e.code) {
        (Some(name), Some(code)) => format!("{name} ({code})"),
        (Some(name), None) => name.clone(),
        (None, Some(code)) => format!("code {code}"),
        (None, None) => String::new(),
    };
    let mut text = paint("error:", ansi::RED, color);
    if !label.is_empty() {
        let _ = write!(text, " {}:", paint(&label, ansi::BOLD, color));
    }
    if !e.message.is_empty() {
        let _ = write!(text, " {}", e.message);
    }
    if let Some(data) = &e.data {
        let only_name = data.as_object().is_some_and(|d| {
            d.len() == 1 && d.get("name").and_then(Value::as_str).is_some_and(|n| Some(n) == e.name.as_deref())
        });
        if !only_name {
            // A string is shown as text (reflex puts the details of a rejection there).
            let shown = match data {
                Value::String(s) => s.clone(),
                other => render_json(other, false, color),
            };
            let _ = write!(text, "\n  data: {shown}");
        }
    }
    text
}

/// The message for a client failure that is not an error object: connection, timeout,
/// invalid reply, ...
pub fn client_error_text(endpoint: &Endpoint, e: &ClientError) -> String {
    match e {
        // Already names the endpoint.
        ClientError::Connect { .. } => e.to_string(),
        ClientError::Closed | ClientError::Timeout(_) | ClientError::Io(_) | ClientError::Hyper(_) => {
            format!("{endpoint}: {e}")
        }
        _ => e.to_string(),
    }
}

/// Parses one argument as a JSON value. `number` counts from 1 and names it in the error:
/// `invalid JSON in argument 2 (x): expected value at column 1 (a string needs double quotes: "x")`.
/// `quote_hint` is how a string should be written where the argument came from (`"x"` in the
/// shell, `'"x"'` on a command line); `{}` in it stands for the argument.
pub fn parse_json_arg(what: &str, text: &str, quote_hint: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| json_error(what, text, &e, quote_hint))
}

/// Explains why `text`, the argument called `what`, is not JSON.
pub(crate) fn json_error(what: &str, text: &str, e: &serde_json::Error, quote_hint: &str) -> String {
    let full = e.to_string();
    let reason = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => full.as_str(),
    };
    let position = match (e.line(), e.column()) {
        (0, _) => String::new(),
        (1, c) => format!(" at column {c}"),
        (l, c) => format!(" at line {l} column {c}"),
    };
    let shown = excerpt(text);
    let mut message = format!("invalid JSON in {what} ({shown}): {reason}{position}");
    let trimmed = text.trim();
    let bare = trimmed.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && !["true", "false", "null"].contains(&trimmed);
    if bare || trimmed.starts_with('\'') {
        let inner = trimmed.trim_matches('\'');
        let quoted = Value::from(inner).to_string();
        let _ = write!(message, " (a string needs double quotes: {})", quote_hint.replace("{}", &quoted));
    }
    message
}

/// At most 40 characters of `text`, for messages.
fn excerpt(text: &str) -> String {
    const MAX: usize = 40;
    let text = text.trim();
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    } else if text.is_empty() {
        "empty".to_string()
    } else {
        text.to_string()
    }
}

/// Splits `KEY=JSON` (a `--named` value, or a shell argument) into its key and value.
pub fn parse_named(what: &str, text: &str, quote_hint: &str) -> Result<(String, Value), String> {
    let Some((key, json)) = text.split_once('=') else {
        return Err(format!("{what} wants KEY=JSON, got `{text}`"));
    };
    if key.is_empty() {
        return Err(format!("{what} wants KEY=JSON: the key is empty in `{text}`"));
    }
    let value = parse_json_arg(&format!("{what} {key}"), json, quote_hint)?;
    Ok((key.to_string(), value))
}

/// Connects, or explains why not (for `reflex: MESSAGE` and exit status 2).
pub async fn connect(args: &ConnectArgs) -> Result<Client, String> {
    let options = args.options()?;
    Client::connect(&args.url, options).await.map_err(|e| client_error_text(&args.url, &e))
}

/// Writes `text` and a newline to stdout, ignoring a closed pipe (`reflex call ... | head`).
pub(crate) fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// What the request is: the parameters of a call, or a raw text.
enum Request {
    Call(Value),
    Raw(Vec<u8>),
}

/// The parameters from the positional arguments or the `--named` ones (null: none).
fn params(args: &CallArgs) -> Result<Value, String> {
    const HINT: &str = "'{}'";
    if !args.named.is_empty() {
        let mut map = Map::new();
        for named in &args.named {
            let (key, value) = parse_named("--named", named, HINT)?;
            if map.insert(key.clone(), value).is_some() {
                return Err(format!("--named {key} is given twice"));
            }
        }
        return Ok(Value::Object(map));
    }
    if args.args.is_empty() {
        return Ok(Value::Null);
    }
    let values = args
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| parse_json_arg(&format!("argument {}", i + 1), a, HINT))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(values))
}

/// The request text of `--raw`: METHOD, or stdin for `-`. Line transports get it on one
/// line (newlines in JSON text can only be whitespace between tokens).
fn raw_request(args: &CallArgs) -> Result<Vec<u8>, String> {
    if !args.args.is_empty() {
        return Err("--raw takes the whole request as METHOD: no further arguments".into());
    }
    let text = if args.method == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read the request from stdin: {e}"))?;
        text
    } else {
        args.method.clone()
    };
    let text = text.trim();
    if text.is_empty() {
        return Err("--raw: the request is empty".into());
    }
    Ok(match args.connect.url {
        Endpoint::Http { .. } => text.as_bytes().to_vec(),
        _ => text.replace(['\r', '\n'], " ").into_bytes(),
    })
}

/// Whether a raw reply is an error: an error object, a batch that holds one, or no JSON.
pub(crate) fn raw_reply_failed(reply: &[u8]) -> bool {
    fn is_error(v: &Value) -> bool {
        v.get("error").is_some_and(|e| !e.is_null())
    }
    match serde_json::from_slice::<Value>(reply) {
        Ok(Value::Array(items)) => items.iter().any(is_error),
        Ok(v) => is_error(&v),
        Err(_) => true,
    }
}

/// Runs `reflex call`.
pub fn run(args: CallArgs) -> ExitCode {
    let request = if args.raw { raw_request(&args).map(Request::Raw) } else { params(&args).map(Request::Call) };
    let request = match request {
        Ok(r) => r,
        Err(message) => return usage(&message),
    };
    let stdout_terminal = std::io::stdout().is_terminal();
    let pretty = args.output.pretty(stdout_terminal);
    let color = args.output.color.enabled(stdout_terminal);
    let err_color = args.output.color.enabled(std::io::stderr().is_terminal());
    let endpoint = args.connect.url.clone();
    let runtime = super::runtime();
    runtime.block_on(async move {
        let mut client = match connect(&args.connect).await {
            Ok(c) => c,
            Err(message) => return usage(&message),
        };
        let outcome = match request {
            Request::Raw(bytes) => match client.raw(&bytes).await {
                Ok(Some(reply)) => {
                    print_out(&String::from_utf8_lossy(&reply));
                    return if raw_reply_failed(&reply) { ExitCode::from(EXIT_FAILURE) } else { ExitCode::SUCCESS };
                }
                Ok(None) => return ExitCode::SUCCESS,
                Err(e) => Err(e),
            },
            Request::Call(params) if args.notify => client.notify(&args.method, params).await.map(|()| None),
            Request::Call(params) => client.call_value(&args.method, params).await.map(Some),
        };
        match outcome {
            Ok(Some(result)) => {
                print_out(&render_json(&result, pretty, color));
                ExitCode::SUCCESS
            }
            Ok(None) => ExitCode::SUCCESS,
            Err(ClientError::Rpc(e)) => {
                eprintln!("{}", rpc_error_text(&e, err_color));
                ExitCode::from(EXIT_FAILURE)
            }
            Err(e) => {
                eprintln!("reflex: {}", client_error_text(&endpoint, &e));
                ExitCode::from(EXIT_USAGE)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_serde_json_without_colour() {
        let v = json!({"a": [1, 2.5, "x\"y", null, true], "b": {}, "c": [], "d": {"e": false}});
        assert_eq!(render_json(&v, true, false), serde_json::to_string_pretty(&v).unwrap());
        assert_eq!(render_json(&v, false, false), v.to_string());
        let coloured = render_json(&v, true, true);
        assert!(coloured.contains("\x1b[1;34m\"a\"\x1b[0m: ["), "{coloured:?}");
        // Stripping the escapes gives the plain rendering back.
        let stripped = strip(&coloured);
        assert_eq!(stripped, serde_json::to_string_pretty(&v).unwrap());
        assert_eq!(strip(&render_json(&v, false, true)), v.to_string());
    }

    fn strip(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn formats_error_objects() {
        let e = RpcError::from_value(&json!({"code": -32000, "message": "boom", "data": {"name": "UserError"}}));
        assert_eq!(rpc_error_text(&e, false), "error: UserError (-32000): boom");
        let e = RpcError::from_value(
            &json!({"code": -32602, "message": "Invalid params", "data": {"name": "TypeError", "param": "b"}}),
        );
        assert_eq!(
            rpc_error_text(&e, false),
            "error: TypeError (-32602): Invalid params\n  data: {\"name\":\"TypeError\",\"param\":\"b\"}"
        );
        let e = RpcError::from_value(&json!({"name": "TypeError", "message": "bad"}));
        assert_eq!(rpc_error_text(&e, false), "error: TypeError: bad");
        let e = RpcError::from_value(&json!({"code": -32601, "message": "Method not found"}));
        assert_eq!(rpc_error_text(&e, false), "error: code -32601: Method not found");
    }

    #[test]
    fn explains_bad_json() {
        let e = parse_json_arg("argument 2", "x", "'{}'").unwrap_err();
        assert_eq!(
            e,
            "invalid JSON in argument 2 (x): expected value at column 1 (a string needs double quotes: '\"x\"')"
        );
        let e = parse_json_arg("argument 1", "[1,", "{}").unwrap_err();
        assert!(e.starts_with("invalid JSON in argument 1 ([1,): EOF while parsing a value at column 3"), "{e}");
        assert!(!e.contains("double quotes"));
        assert_eq!(parse_json_arg("argument 1", " -5 ", "{}"), Ok(json!(-5)));
        assert_eq!(parse_named("--named", "a=[1]", "{}"), Ok(("a".to_string(), json!([1]))));
        assert!(parse_named("--named", "a", "{}").unwrap_err().contains("KEY=JSON"));
        assert!(parse_named("--named", "a=b", "'{}'").unwrap_err().contains("--named a (b)"));
    }

    #[test]
    fn raw_reply_outcomes() {
        assert!(!raw_reply_failed(br#"{"jsonrpc":"2.0","result":3,"id":1}"#));
        assert!(!raw_reply_failed(br#"{"result":3,"id":1,"error":null}"#));
        assert!(raw_reply_failed(br#"{"jsonrpc":"2.0","error":{"code":-1,"message":"x"},"id":1}"#));
        assert!(raw_reply_failed(br#"[{"jsonrpc":"2.0","result":3,"id":1},{"jsonrpc":"2.0","error":{},"id":2}]"#));
        assert!(raw_reply_failed(b"garbage"));
    }
}
