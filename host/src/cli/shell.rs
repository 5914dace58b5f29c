//! `reflex shell`: explore and call a device or server interactively.
//!
//! At start the shell reads the service's self-description (`__describe_service`,
//! `__describe_functions`, `__describe_custom_types`). A server that does not describe itself
//! is fine: the shell says so, and `call` still works.
//!
//! Commands (`help` lists them, `help CMD` explains one):
//!
//! | command | what it does |
//! | --- | --- |
//! | `list [TEXT]` | one line per function, `name(a, b) -> type` |
//! | `doc FUNC` | signature, description, parameters and result |
//! | `types`, `type NAME` | the custom types; an enum's values or a hash's fields |
//! | `call FUNC [ARG...]` (`exec`) | call and print the result; each ARG is a JSON value, or `KEY=JSON` |
//! | `notify FUNC [ARG...]` | send a notification |
//! | `raw TEXT` | send a request text as is, print the reply as received |
//! | `batch` | one call per line, an empty line sends them as one 2.0 batch |
//! | `info`, `reload` | the self-description again; read it anew |
//! | `help [CMD]`, `quit` (`exit`, Ctrl-D) | |
//!
//! On a terminal the shell uses a line editor (rustyline): Tab completes commands, function
//! and type names; history persists in `$XDG_STATE_HOME/reflex/history` (or
//! `~/.local/state/reflex/history`, `--history FILE`, `--no-history`); Ctrl-C clears the line,
//! or cancels a call in progress; results are indented and coloured (`--color`, `NO_COLOR`).
//! An empty line does nothing.
//!
//! When stdin is not a terminal the shell is a script runner: it reads one command per line
//! (`#` starts a comment), prints no intro, prompt or colour, prints each result as compact
//! JSON on one line (`--pretty` to indent), errors on stderr, and at the end of input exits 0
//! if every command succeeded, 1 if any failed (an RPC error, invalid JSON, an unknown
//! command, ...). Failing to connect at start exits 2.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::config::{Behavior, ColorMode, CompletionType};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

use super::call::{
    ansi, client_error_text, json_error, paint, print_out, raw_reply_failed, render_json, rpc_error_text, OutputArgs,
};
use super::{ConnectArgs, EXIT_FAILURE};
use crate::client::{BatchItem, Client, ClientError, ClientOptions, CustomType, FunctionInfo, ServiceInfo, Version};
use crate::Endpoint;

/// Arguments of `reflex shell`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Type `help` in the shell for its commands. With stdin not a terminal, commands are read \
one per line (e.g. printf 'list\\ncall add 1 2\\n' | reflex shell URL); the exit status is then 0 if every \
command succeeded, 1 if any failed, 2 if the endpoint cannot be reached.")]
pub struct ShellArgs {
    /// Where to connect, and how.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// History and output.
    #[command(flatten)]
    pub shell: ShellOptions,
}

/// Options of the shell itself (shared by `reflex shell` and `reflex demo`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ShellOptions {
    /// History file (default: $XDG_STATE_HOME/reflex/history, or ~/.local/state/reflex/history).
    #[arg(long, value_name = "FILE", conflicts_with = "no_history")]
    pub history: Option<PathBuf>,
    /// Neither read nor write a history file.
    #[arg(long)]
    pub no_history: bool,
    /// How results are printed.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl ShellOptions {
    /// The history file to use, if any.
    fn history_file(&self) -> Option<PathBuf> {
        if self.no_history {
            return None;
        }
        if let Some(path) = &self.history {
            return Some(path.clone());
        }
        let state =
            std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()).or_else(|| {
                std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".local/state"))
            })?;
        Some(state.join("reflex").join("history"))
    }
}

/// Runs `reflex shell`.
pub fn run(args: ShellArgs) -> ExitCode {
    let options = match args.connect.options() {
        Ok(o) => o,
        Err(message) => return super::usage(&message),
    };
    run_on(&args.connect.url, options, &args.shell)
}

/// Opens the shell on `endpoint` and runs it until `quit`, Ctrl-D or the end of input (see the
/// [module docs](self) for the exit status). `reflex demo` uses it on its in-process server.
pub fn run_on(endpoint: &Endpoint, options: ClientOptions, shell_options: &ShellOptions) -> ExitCode {
    let runtime = super::runtime();
    let interactive = std::io::stdin().is_terminal();
    let stdout_terminal = std::io::stdout().is_terminal();
    let color = shell_options.output.color.enabled(stdout_terminal && interactive);
    let err_color = shell_options.output.color.enabled(std::io::stderr().is_terminal() && interactive);
    let pretty = shell_options.output.pretty(stdout_terminal);
    let version = options.version;
    let client = match runtime.block_on(Client::connect(endpoint, options.clone())) {
        Ok(c) => c,
        Err(e) => return super::usage(&client_error_text(endpoint, &e)),
    };
    let mut shell = Shell {
        runtime: &runtime,
        endpoint: endpoint.clone(),
        options,
        version,
        client: Some(client),
        info: Description::default(),
        names: Rc::new(RefCell::new(Names::default())),
        interactive,
        color,
        err_color,
        pretty,
        failed: false,
    };
    shell.describe();
    let mut input = if interactive {
        match Input::editor(shell.names.clone(), shell_options.history_file(), color) {
            Ok(input) => input,
            Err(e) => {
                shell.note(&format!("no line editor ({e}); reading plain lines"));
                Input::Lines(std::io::stdin().lines())
            }
        }
    } else {
        Input::Lines(std::io::stdin().lines())
    };
    shell.intro();
    let prompt = Prompt::new("reflex> ", color);
    loop {
        match input.read(&prompt) {
            Line::Text(line) => {
                if shell.execute(&line, &mut input) == Flow::Quit {
                    break;
                }
            }
            Line::Bad(message) => shell.error(&message),
            Line::Interrupted => continue,
            Line::Eof => break,
        }
    }
    if shell.failed && !interactive {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// What the service told about itself; `None` where the describe call failed.
#[derive(Default)]
struct Description {
    service: Option<ServiceInfo>,
    functions: Option<Vec<FunctionInfo>>,
    types: Option<Vec<CustomType>>,
    /// Why the description is missing or incomplete.
    problem: Option<String>,
}

/// The names Tab completes, shared with the line editor.
#[derive(Default)]
struct Names {
    functions: Vec<FunctionInfo>,
    types: Vec<String>,
    /// Entering the lines of a batch: the first word is a function.
    batch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

struct Shell<'r> {
    runtime: &'r Runtime,
    endpoint: Endpoint,
    options: ClientOptions,
    version: Version,
    /// `None` after a cancelled call: the next command connects anew.
    client: Option<Client>,
    info: Description,
    names: Rc<RefCell<Names>>,
    interactive: bool,
    /// Colour on stdout / stderr.
    color: bool,
    err_color: bool,
    pretty: bool,
    /// Some command failed.
    failed: bool,
}

/// The commands, their usage, a summary and details for `help CMD`.
const COMMANDS: &[(&str, &str, &str, &str)] = &[
    ("list", "list [TEXT]", "list the functions (those whose name contains TEXT)", "One line per function: `name(a, b) -> type`."),
    ("doc", "doc FUNC", "show a function's signature, parameters and result", "Shows the signature, the description, each parameter with its type and description, and the result's type and description."),
    ("types", "types", "list the custom types (enums and named hashes)", "One line per type: name, kind and description."),
    ("type", "type NAME", "show an enum's values or a hash's fields", "An enum's values with their integer values and descriptions, or a named hash's fields with their types and descriptions."),
    ("call", "call FUNC [ARG...]", "call FUNC and print its result (alias: exec)", "Each ARG is one JSON value; separate them with spaces:\n  call add 1 2\n  call echo \"hello world\"\n  call echo_ints [1, 2, 3]\n  call hash_echo {\"firstname\": \"Ada\", \"city\": \"London\"}\nKEY=JSON arguments pass the parameters by name instead (JSON-RPC 2.0):\n  call subtract minuend=42 subtrahend=23\nA function the service does not describe is called all the same."),
    ("exec", "exec FUNC [ARG...]", "the same as call", "The same as `call` (ReflectRPC's rpcsh name)."),
    ("notify", "notify FUNC [ARG...]", "send FUNC as a notification (no reply)", "Arguments as for `call`. Nothing comes back, not even an error."),
    ("raw", "raw TEXT", "send a request text as is and print the reply as received", "TEXT goes to the server unchanged, e.g.\n  raw {\"jsonrpc\": \"2.0\", \"method\": \"add\", \"params\": [1, 2], \"id\": 1}\nThe reply is printed as the server sent it; a notification gets none."),
    ("batch", "batch", "enter calls one per line; an empty line sends them as one batch", "Enter one call per line as `FUNC ARG...` (`notify FUNC ARG...` for a notification). An empty line (or the end of input) sends them as one JSON-RPC 2.0 batch and prints each result in order; Ctrl-C cancels the batch."),
    ("info", "info", "show the service's self-description and the endpoint", "Name, version, description, custom fields, the endpoint and the protocol version."),
    ("reload", "reload", "read the self-description again", "Calls __describe_service, __describe_functions and __describe_custom_types again (after the device's firmware changed, say)."),
    ("help", "help [CMD]", "list the commands, or explain one", "`help` lists the commands; `help CMD` explains one."),
    ("quit", "quit", "leave the shell (also exit, Ctrl-D)", "Leaves the shell. `exit` and Ctrl-D do the same."),
    ("exit", "exit", "the same as quit", "Leaves the shell."),
];

/// How the shell shows a string argument.
const QUOTE_HINT: &str = "{}";

impl Shell<'_> {
    // ------------------------------------------------------------------ output ----------

    fn out(&self, text: &str) {
        print_out(text);
    }

    fn error(&mut self, message: &str) {
        self.failed = true;
        eprintln!("{} {message}", paint("error:", ansi::RED, self.err_color));
    }

    fn note(&self, message: &str) {
        eprintln!("{}", paint(message, ansi::DIM, self.err_color));
    }

    /// A message for interactive use only (silent in scripts).
    fn chatter(&self, message: &str) {
        if self.interactive {
            self.out(&paint(message, ansi::DIM, self.color));
        }
    }

    fn json(&self, value: &Value) -> String {
        render_json(value, self.pretty, self.color)
    }

    fn client_error(&mut self, e: &ClientError) {
        match e {
            ClientError::Rpc(rpc) => {
                self.failed = true;
                eprintln!("{}", rpc_error_text(rpc, self.err_color));
            }
            other => {
                let text = client_error_text(&self.endpoint, other);
                self.error(&text);
            }
        }
    }

    // ------------------------------------------------------------------ the client ----

    /// Runs a client operation. Interactively, Ctrl-C cancels it (`None`) and the connection
    /// is replaced, since the request may be half sent.
    fn with_client<T>(
        &mut self,
        op: impl AsyncFnOnce(&mut Client) -> Result<T, ClientError>,
    ) -> Option<Result<T, ClientError>> {
        if self.client.is_none() {
            match self.runtime.block_on(Client::connect(&self.endpoint, self.options.clone())) {
                Ok(c) => self.client = Some(c),
                Err(e) => return Some(Err(e)),
            }
        }
        let client = self.client.as_mut()?;
        let fut = op(client);
        if !self.interactive {
            return Some(self.runtime.block_on(fut));
        }
        let outcome = self.runtime.block_on(async {
            tokio::select! {
                r = fut => Some(r),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        if outcome.is_none() {
            self.client = None;
            self.out("");
            self.note("cancelled");
        }
        outcome
    }

    // ------------------------------------------------------------------ start-up -------

    /// Reads the self-description; failures leave the parts unknown.
    fn describe(&mut self) {
        let mut info = Description::default();
        let mut problems = Vec::new();
        // Stops after a describe call that got no answer at all: the next ones would only
        // wait as long again.
        let mut give_up = false;
        let failed = |method: &str, e: ClientError, problems: &mut Vec<String>| -> bool {
            let reason = match &e {
                ClientError::Rpc(rpc) if !rpc.message.is_empty() => rpc.message.clone(),
                other => other.to_string(),
            };
            problems.push(format!("{method}: {reason}"));
            matches!(e, ClientError::Timeout(_) | ClientError::Closed | ClientError::Io(_))
        };
        match self.with_client(async |c| c.describe_service().await) {
            Some(Ok(s)) => info.service = Some(s),
            Some(Err(e)) => give_up = failed("__describe_service", e, &mut problems),
            None => give_up = true,
        }
        if !give_up {
            match self.with_client(async |c| c.describe_functions().await) {
                Some(Ok(f)) => info.functions = Some(f),
                Some(Err(e)) => give_up = failed("__describe_functions", e, &mut problems),
                None => give_up = true,
            }
        }
        if !give_up {
            match self.with_client(async |c| c.describe_custom_types().await) {
                Some(Ok(t)) => info.types = Some(t),
                Some(Err(e)) => {
                    failed("__describe_custom_types", e, &mut problems);
                }
                None => {}
            }
        }
        if !problems.is_empty() {
            // Without even __describe_service the first reason says it all.
            let shown = if info.service.is_none() { &problems[..1] } else { &problems[..] };
            info.problem = Some(shown.join("; "));
        }
        {
            let mut names = self.names.borrow_mut();
            names.functions = info.functions.clone().unwrap_or_default();
            names.types = info.types.iter().flatten().map(|t| t.name().to_string()).collect();
        }
        self.info = info;
    }

    /// What is known, in one sentence: "27 functions, 3 custom types".
    fn summary(&self) -> String {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut parts = Vec::new();
        if let Some(f) = &self.info.functions {
            parts.push(plural(f.len(), "function"));
        }
        if let Some(t) = &self.info.types {
            parts.push(plural(t.len(), "custom type"));
        }
        parts.join(", ")
    }

    fn not_described_text(&self) -> String {
        format!(
            "The service does not describe itself ({}): `list`, `doc` and Tab completion know nothing, but `call FUNC ARG...` works.",
            self.info.problem.as_deref().unwrap_or("no description")
        )
    }

    fn intro(&self) {
        if !self.interactive {
            if self.info.functions.is_none() {
                self.note(&format!("reflex shell: {}", self.not_described_text()));
            }
            return;
        }
        let c = self.color;
        let mut lines = Vec::new();
        match &self.info.service {
            Some(s) if !s.name.is_empty() || !s.version.is_empty() => {
                let name = if s.name.is_empty() { "(unnamed service)" } else { s.name.as_str() };
                let version = if s.version.is_empty() { String::new() } else { format!(" {}", s.version) };
                lines.push(paint(&format!("{name}{version}"), ansi::BOLD, c));
                if !s.description.is_empty() {
                    lines.push(s.description.clone());
                }
            }
            _ => lines.push(paint("reflex shell", ansi::BOLD, c)),
        }
        let summary = self.summary();
        let summary = if summary.is_empty() { String::new() } else { format!("; {summary}") };
        lines.push(format!("endpoint: {} (JSON-RPC {}){summary}", self.endpoint, self.version));
        if self.info.functions.is_none() {
            lines.push(self.not_described_text());
        } else if let Some(problem) = &self.info.problem {
            lines.push(paint(&format!("(incomplete self-description: {problem})"), ansi::DIM, c));
        }
        lines.push(format!("Type {} for the commands; Tab completes, Ctrl-D leaves.", paint("help", ansi::BOLD, c)));
        self.out(&lines.join("\n"));
    }

    // ------------------------------------------------------------------ commands -------

    fn execute(&mut self, line: &str, input: &mut Input) -> Flow {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Flow::Continue;
        }
        let (command, rest) = split_word(line);
        match command {
            "list" | "ls" => self.list(rest),
            "doc" => self.doc(rest),
            "types" => self.types(rest),
            "type" => self.type_(rest),
            "call" | "exec" => self.call(command, rest, false),
            "notify" => self.call(command, rest, true),
            "raw" => self.raw(rest),
            "batch" => return self.batch(rest, input),
            "info" => self.show_info(),
            "reload" => {
                self.describe();
                match self.info.functions {
                    Some(_) => self.chatter(&format!("reloaded: {}", self.summary())),
                    None => self.note(&self.not_described_text()),
                }
            }
            "help" | "?" => self.help(rest),
            "quit" | "exit" => return Flow::Quit,
            other => {
                let mut message = format!("unknown command `{other}`");
                if self.function(other).is_some() {
                    message.push_str(&format!(" (to call the function: call {other} ARG...)"));
                } else if let Some(s) = suggest(other, COMMANDS.iter().map(|c| c.0)) {
                    message.push_str(&format!(" (did you mean `{s}`?)"));
                }
                message.push_str("; type `help` for the commands");
                self.error(&message);
            }
        }
        Flow::Continue
    }

    fn function(&self, name: &str) -> Option<&FunctionInfo> {
        self.info.functions.as_ref()?.iter().find(|f| f.name == name)
    }

    fn function_names(&self) -> Vec<&str> {
        self.info.functions.iter().flatten().map(|f| f.name.as_str()).collect()
    }

    /// The described function called `name` (or, failing that, the only one that matches it
    /// ignoring case), or an error message with a suggestion.
    fn find_function(&self, name: &str) -> Result<&FunctionInfo, String> {
        let Some(functions) = &self.info.functions else {
            return Err(format!("nothing is known about `{name}`: {}", self.not_described_short()));
        };
        if let Some(f) = functions.iter().find(|f| f.name == name) {
            return Ok(f);
        }
        let folded: Vec<_> = functions.iter().filter(|f| f.name.eq_ignore_ascii_case(name)).collect();
        if let [f] = folded.as_slice() {
            return Ok(f);
        }
        Err(unknown("function", name, self.function_names()))
    }

    fn not_described_short(&self) -> String {
        format!("the service does not describe itself ({})", self.info.problem.as_deref().unwrap_or("no description"))
    }

    fn list(&mut self, filter: &str) {
        let Some(functions) = &self.info.functions else {
            self.note(&format!("No functions known: {}. `call FUNC ARG...` still works.", self.not_described_short()));
            return;
        };
        let c = self.color;
        let lines: Vec<String> = functions
            .iter()
            .filter(|f| filter.is_empty() || f.name.to_lowercase().contains(&filter.to_lowercase()))
            .map(|f| {
                let params: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
                let mut line = format!("{}({})", paint(&f.name, ansi::BOLD, c), params.join(", "));
                if !f.result_type.is_empty() {
                    line.push_str(&format!(" -> {}", paint(&f.result_type, ansi::TYPE, c)));
                }
                line
            })
            .collect();
        if lines.is_empty() {
            if filter.is_empty() {
                self.chatter("The service describes no functions.");
            } else {
                self.chatter(&format!("No function name contains `{filter}`."));
            }
            return;
        }
        self.out(&lines.join("\n"));
    }

    fn doc(&mut self, rest: &str) {
        let (name, extra) = split_word(rest);
        if name.is_empty() || !extra.is_empty() {
            return self.error("usage: doc FUNC");
        }
        let f = match self.find_function(name) {
            Ok(f) => f.clone(),
            Err(message) => return self.error(&message),
        };
        let c = self.color;
        let mut lines = Vec::new();
        let params: Vec<String> = f
            .params
            .iter()
            .map(|p| {
                if p.type_name.is_empty() {
                    p.name.clone()
                } else {
                    format!("{}: {}", p.name, paint(&p.type_name, ansi::TYPE, c))
                }
            })
            .collect();
        let mut signature = format!("{}({})", paint(&f.name, ansi::BOLD, c), params.join(", "));
        if !f.result_type.is_empty() {
            signature.push_str(&format!(" -> {}", paint(&f.result_type, ansi::TYPE, c)));
        }
        lines.push(signature);
        if !f.description.is_empty() {
            lines.push(format!("  {}", f.description));
        }
        if f.params.is_empty() {
            lines.push("  Parameters: none".to_string());
        } else {
            lines.push("  Parameters:".to_string());
            let name_width = f.params.iter().map(|p| p.name.chars().count()).max().unwrap_or(0);
            let type_width = f.params.iter().map(|p| p.type_name.chars().count()).max().unwrap_or(0);
            for p in &f.params {
                let name = format!("{:name_width$}", p.name);
                let type_name = format!("{:type_width$}", p.type_name);
                let line = format!("    {}  {}  {}", name, paint(&type_name, ansi::TYPE, c), p.description);
                lines.push(line.trim_end().to_string());
            }
        }
        let result = match (f.result_type.as_str(), f.result_desc.as_str()) {
            ("", "") => "nothing described".to_string(),
            (t, "") => paint(t, ansi::TYPE, c),
            ("", d) => d.to_string(),
            (t, d) => format!("{} - {d}", paint(t, ansi::TYPE, c)),
        };
        lines.push(format!("  Result: {result}"));
        // Point at the custom types it uses.
        let known: BTreeSet<&str> = self.info.types.iter().flatten().map(CustomType::name).collect();
        let mut used = Vec::new();
        for t in f.params.iter().map(|p| p.type_name.as_str()).chain([f.result_type.as_str()]) {
            let inner = t.strip_prefix("array<").and_then(|t| t.strip_suffix('>')).unwrap_or(t);
            if known.contains(inner) && !used.contains(&inner) {
                used.push(inner);
            }
        }
        if !used.is_empty() {
            let refs: Vec<String> = used.iter().map(|t| format!("`type {t}`")).collect();
            lines.push(format!("  See {}.", refs.join(", ")));
        }
        self.out(&lines.join("\n"));
    }

    fn types(&mut self, rest: &str) {
        if !rest.is_empty() {
            return self.error("usage: types (and `type NAME` for one type)");
        }
        let Some(types) = &self.info.types else {
            self.note(&format!("No custom types known: {}.", self.not_described_short()));
            return;
        };
        if types.is_empty() {
            self.chatter("The service has no custom types.");
            return;
        }
        let c = self.color;
        let width = types.iter().map(|t| t.name().chars().count()).max().unwrap_or(0);
        let lines: Vec<String> = types
            .iter()
            .map(|t| {
                let kind = match t {
                    CustomType::Enum { .. } => "enum",
                    CustomType::Hash { .. } => "hash",
                };
                let name = format!("{:width$}", t.name());
                format!("{}  {kind}  {}", paint(&name, ansi::TYPE, c), t.description()).trim_end().to_string()
            })
            .collect();
        self.out(&lines.join("\n"));
    }

    fn type_(&mut self, rest: &str) {
        let (name, extra) = split_word(rest);
        if name.is_empty() || !extra.is_empty() {
            return self.error("usage: type NAME");
        }
        let Some(types) = &self.info.types else {
            let message = format!("nothing is known about `{name}`: {}", self.not_described_short());
            return self.error(&message);
        };
        let found = types.iter().find(|t| t.name() == name).or_else(|| {
            let folded: Vec<_> = types.iter().filter(|t| t.name().eq_ignore_ascii_case(name)).collect();
            (folded.len() == 1).then(|| folded[0])
        });
        let Some(t) = found.cloned() else {
            let message = unknown("type", name, types.iter().map(CustomType::name).collect());
            return self.error(&message);
        };
        let c = self.color;
        let mut lines = Vec::new();
        match &t {
            CustomType::Enum { name, description, values } => {
                lines.push(format!("enum {}: {description}", paint(name, ansi::BOLD, c)).trim_end().to_string());
                let int_width = values.iter().map(|v| v.intvalue.to_string().len()).max().unwrap_or(0);
                let name_width = values.iter().map(|v| v.name.chars().count()).max().unwrap_or(0);
                for v in values {
                    let int = format!("{:>int_width$}", v.intvalue);
                    let line = format!("  {}  {:name_width$}  {}", paint(&int, ansi::NUMBER, c), v.name, v.description);
                    lines.push(line.trim_end().to_string());
                }
                lines.push(format!(
                    "  (pass a value by name, \"{}\", or by integer)",
                    values.first().map_or("NAME", |v| v.name.as_str())
                ));
            }
            CustomType::Hash { name, description, fields } => {
                lines.push(format!("hash {}: {description}", paint(name, ansi::BOLD, c)).trim_end().to_string());
                let name_width = fields.iter().map(|f| f.name.chars().count()).max().unwrap_or(0);
                let type_width = fields.iter().map(|f| f.type_name.chars().count()).max().unwrap_or(0);
                for f in fields {
                    let type_name = format!("{:type_width$}", f.type_name);
                    let line =
                        format!("  {:name_width$}  {}  {}", f.name, paint(&type_name, ansi::TYPE, c), f.description);
                    lines.push(line.trim_end().to_string());
                }
            }
        }
        self.out(&lines.join("\n"));
    }

    fn call(&mut self, command: &str, rest: &str, notification: bool) {
        let (method, args) = split_word(rest);
        if method.is_empty() {
            return self.error(&format!("usage: {command} FUNC [ARG...]"));
        }
        let params = match parse_args(args) {
            Ok(p) => p,
            Err(message) => return self.error(&message),
        };
        if let Some(functions) = &self.info.functions {
            if !functions.iter().any(|f| f.name == method) {
                let hint = suggest(method, functions.iter().map(|f| f.name.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.note(&format!("note: `{method}` is not a described function{hint}; calling it anyway"));
            }
        }
        let method = method.to_string();
        if notification {
            match self.with_client(async |c| c.notify(&method, params).await) {
                Some(Ok(())) => self.chatter("notification sent"),
                Some(Err(e)) => self.client_error(&e),
                None => {}
            }
        } else {
            match self.with_client(async |c| c.call_value(&method, params).await) {
                Some(Ok(result)) => self.out(&self.json(&result)),
                Some(Err(e)) => self.client_error(&e),
                None => {}
            }
        }
    }

    fn raw(&mut self, text: &str) {
        if text.is_empty() {
            return self.error("usage: raw TEXT (a complete request, e.g. raw {\"jsonrpc\": \"2.0\", \"method\": \"add\", \"params\": [1, 2], \"id\": 1})");
        }
        let bytes = text.as_bytes().to_vec();
        match self.with_client(async |c| c.raw(&bytes).await) {
            Some(Ok(Some(reply))) => {
                self.out(&String::from_utf8_lossy(&reply));
                if raw_reply_failed(&reply) {
                    self.failed = true;
                }
            }
            Some(Ok(None)) => self.chatter("no reply (a notification)"),
            Some(Err(e)) => self.client_error(&e),
            None => {}
        }
    }

    fn batch(&mut self, rest: &str, input: &mut Input) -> Flow {
        if !rest.is_empty() {
            self.error("usage: batch (then one call per line, and an empty line to send them)");
            return Flow::Continue;
        }
        if self.version != Version::V2 {
            self.error("batches need JSON-RPC 2.0 (this shell speaks 1.0: --v1)");
            return Flow::Continue;
        }
        self.chatter("Enter one call per line as FUNC ARG... (notify FUNC ARG... for a notification); an empty line sends the batch, Ctrl-C cancels it.");
        self.names.borrow_mut().batch = true;
        let prompt = Prompt::new("batch> ", self.color);
        let mut entries: Vec<(String, bool, Value)> = Vec::new();
        let mut flow = Flow::Continue;
        loop {
            let line = match input.read(&prompt) {
                Line::Text(line) => line,
                Line::Bad(message) => {
                    self.error(&message);
                    continue;
                }
                Line::Interrupted => {
                    self.names.borrow_mut().batch = false;
                    self.note("batch cancelled");
                    return Flow::Continue;
                }
                Line::Eof => {
                    flow = Flow::Quit;
                    break;
                }
            };
            let line = line.trim();
            if line.is_empty() {
                break;
            }
            if line.starts_with('#') {
                continue;
            }
            let (first, after) = split_word(line);
            let (notification, line) = match first {
                "notify" => (true, after),
                "call" | "exec" => (false, after),
                _ => (false, line),
            };
            let (method, args) = split_word(line);
            if method.is_empty() {
                self.error("usage (in a batch): FUNC [ARG...] or notify FUNC [ARG...]");
                continue;
            }
            match parse_args(args) {
                Ok(params) => entries.push((method.to_string(), notification, params)),
                Err(message) => self.error(&format!("{message} (line left out of the batch)")),
            }
        }
        self.names.borrow_mut().batch = false;
        if entries.is_empty() {
            self.chatter("empty batch: nothing sent");
            return flow;
        }
        let items: Vec<BatchItem> = entries
            .iter()
            .map(
                |(method, notification, params)| {
                    if *notification {
                        BatchItem::notify(method, params)
                    } else {
                        BatchItem::call(method, params)
                    }
                },
            )
            .collect();
        let results = match self.with_client(async |c| c.batch(items).await) {
            Some(Ok(results)) => results,
            Some(Err(e)) => {
                self.client_error(&e);
                return flow;
            }
            None => return flow,
        };
        let mut results = results.into_iter();
        let mut lines = Vec::new();
        for (i, (method, notification, _)) in entries.iter().enumerate() {
            let head = format!("[{}] {}:", i + 1, paint(method, ansi::BOLD, self.color));
            if *notification {
                lines.push(format!("{head} {}", paint("(notification, no reply)", ansi::DIM, self.color)));
                continue;
            }
            match results.next() {
                Some(Ok(value)) => lines.push(format!("{head} {}", self.json(&value))),
                Some(Err(e)) => {
                    self.failed = true;
                    lines.push(format!("{head} {}", rpc_error_text(&e, self.color)));
                }
                None => {
                    self.failed = true;
                    lines.push(format!("{head} {}", paint("error: no reply", ansi::RED, self.color)));
                }
            }
        }
        self.out(&lines.join("\n"));
        flow
    }

    fn show_info(&mut self) {
        let c = self.color;
        let mut lines = Vec::new();
        match &self.info.service {
            Some(s) => {
                let field = |k: &str, v: &str| format!("{}: {}", paint(k, ansi::BOLD, c), v);
                lines.push(field("name", &s.name));
                lines.push(field("version", &s.version));
                lines.push(field("description", &s.description));
                for (k, v) in &s.custom_fields {
                    lines.push(field(k, &render_json(v, false, c)));
                }
            }
            None => lines.push(self.not_described_short()),
        }
        lines.push(format!("{}: {} (JSON-RPC {})", paint("endpoint", ansi::BOLD, c), self.endpoint, self.version));
        let summary = self.summary();
        if !summary.is_empty() {
            lines.push(format!("{}: {summary}", paint("known", ansi::BOLD, c)));
        }
        self.out(&lines.join("\n"));
    }

    fn help(&mut self, topic: &str) {
        let c = self.color;
        if topic.is_empty() {
            let width = COMMANDS.iter().map(|c| c.1.len()).max().unwrap_or(0);
            let mut lines = vec!["Commands:".to_string()];
            for (name, usage, summary, _) in COMMANDS {
                if *name == "exec" || *name == "exit" {
                    continue;
                }
                lines.push(format!("  {}  {summary}", paint(&format!("{usage:width$}"), ansi::BOLD, c)));
            }
            lines.push(String::new());
            lines.push("Arguments are JSON values separated by spaces: 42 -1.5 true null \"text\" [1, 2] {\"key\": \"value\"};".to_string());
            lines.push("KEY=JSON passes a parameter by name. `help CMD` explains a command.".to_string());
            if self.interactive {
                lines.push("Tab completes commands, functions and types; Up/Down walk the history; Ctrl-C cancels; Ctrl-D leaves.".to_string());
            }
            return self.out(&lines.join("\n"));
        }
        match COMMANDS.iter().find(|cmd| cmd.0 == topic) {
            Some((_, usage, summary, details)) => {
                self.out(&format!("{}\n  {summary}\n\n{details}", paint(usage, ansi::BOLD, c)));
            }
            None => {
                let message = unknown("command", topic, COMMANDS.iter().map(|c| c.0).collect());
                self.error(&message);
            }
        }
    }
}

// ---------------------------------------------------------------------- arguments ---------

/// Splits off the first whitespace-separated word.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// Whether `text` starts with `KEY=` (a named argument; never valid JSON).
fn named_key(text: &str) -> Option<&str> {
    let end = text.find('=')?;
    let key = &text[..end];
    let mut chars = key.chars();
    let first = chars.next()?;
    ((first.is_alphabetic() || first == '_') && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
        .then_some(key)
}

/// Parses the arguments of `call` from the rest of the line: JSON values separated by
/// whitespace (`1 "a b" {"k": [1, 2]}`) as an array, or `KEY=JSON` pairs as an object, or
/// null when there are none.
fn parse_args(text: &str) -> Result<Value, String> {
    let mut positional = Vec::new();
    let mut named = Map::new();
    let mut pos = 0;
    let mut number = 0;
    loop {
        pos += text[pos..].len() - text[pos..].trim_start().len();
        if pos >= text.len() {
            break;
        }
        number += 1;
        let start = pos;
        let key = named_key(&text[pos..]);
        let value_start = start + key.map_or(0, |k| k.len() + 1);
        let what = match key {
            Some(k) => format!("argument {number} ({k}=...)"),
            None => format!("argument {number}"),
        };
        let mut stream = serde_json::Deserializer::from_str(&text[value_start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                pos = value_start + stream.byte_offset();
                let after = &text[pos..];
                if after.chars().next().is_some_and(|c| !c.is_whitespace()) {
                    let word = &text[start..pos + after.find(char::is_whitespace).unwrap_or(after.len())];
                    return Err(format!(
                        "invalid JSON in {what} ({}): unexpected `{}` after the value (separate arguments with spaces)",
                        shorten(word),
                        shorten(after.split_whitespace().next().unwrap_or(after))
                    ));
                }
                match key {
                    Some(k) => {
                        if named.insert(k.to_string(), value).is_some() {
                            return Err(format!("parameter `{k}` is given twice"));
                        }
                    }
                    None => positional.push(value),
                }
            }
            Some(Err(e)) => {
                let word_end = text[value_start..].find(char::is_whitespace).map_or(text.len(), |i| value_start + i);
                let word = &text[value_start..word_end];
                // The whole rest when the value spans spaces (an unclosed "string or {object).
                let shown = if e.is_eof() { &text[value_start..] } else { word };
                return Err(json_error(&what, shown, &e, QUOTE_HINT));
            }
            None => return Err(json_error(&what, &text[value_start..], &eof_error(), QUOTE_HINT)),
        }
    }
    match (positional.is_empty(), named.is_empty()) {
        (true, true) => Ok(Value::Null),
        (false, true) => Ok(Value::Array(positional)),
        (true, false) => Ok(Value::Object(named)),
        (false, false) => {
            Err("cannot mix positional and KEY=JSON arguments: JSON-RPC passes parameters by position or by name"
                .into())
        }
    }
}

/// The error serde_json gives for a missing value.
fn eof_error() -> serde_json::Error {
    serde_json::from_str::<Value>("").expect_err("empty input is not JSON")
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

/// `unknown function: nope (did you mean `none`?)`.
fn unknown(what: &str, name: &str, candidates: Vec<&str>) -> String {
    match suggest(name, candidates.into_iter()) {
        Some(s) => format!("unknown {what} `{name}` (did you mean `{s}`?)"),
        None => format!("unknown {what} `{name}`"),
    }
}

/// The candidate closest to `name`, if one is close: equal ignoring case, or within a small
/// edit distance, or the only one starting with it.
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let candidates: Vec<&str> = candidates.collect();
    if let Some(c) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some(c);
    }
    let limit = (name.chars().count() / 3).clamp(1, 3);
    let best = candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    if best.is_some() {
        return best;
    }
    let prefixed: Vec<&str> = candidates.iter().copied().filter(|c| c.to_lowercase().starts_with(&lower)).collect();
    match prefixed.as_slice() {
        [only] if !lower.is_empty() => Some(only),
        _ => None,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(cur) };
            prev = cur;
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------- input -----------

/// A prompt, plain and coloured.
struct Prompt {
    plain: String,
    styled: String,
}

impl Prompt {
    fn new(text: &str, color: bool) -> Prompt {
        Prompt { plain: text.to_string(), styled: paint(text, ansi::PROMPT, color) }
    }
}

enum Line {
    Text(String),
    /// A line that could not be read (not UTF-8): a failed command.
    Bad(String),
    Interrupted,
    Eof,
}

/// Where commands come from: the line editor on a terminal, plain lines otherwise.
enum Input {
    Editor { editor: Box<Editor<ShellHelper, FileHistory>>, history: Option<PathBuf>, warned: bool },
    Lines(std::io::Lines<std::io::StdinLock<'static>>),
}

impl Input {
    fn editor(names: Rc<RefCell<Names>>, history: Option<PathBuf>, color: bool) -> rustyline::Result<Input> {
        let config = rustyline::Config::builder()
            .max_history_size(1000)?
            .history_ignore_dups(true)?
            .history_ignore_space(true)
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            // The prompt and the editing go to the terminal even when stdout is redirected.
            .behavior(Behavior::PreferTerm)
            .color_mode(if color { ColorMode::Forced } else { ColorMode::Disabled })
            .build();
        let mut editor = Editor::with_config(config)?;
        editor.set_helper(Some(ShellHelper { names, color }));
        let mut warned = false;
        if let Some(path) = &history {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    eprintln!("reflex: history not kept: cannot create {}: {e}", dir.display());
                    warned = true;
                }
            }
            if path.exists() {
                if let Err(e) = editor.load_history(path) {
                    eprintln!("reflex: cannot read the history {}: {e}", path.display());
                    warned = true;
                }
            }
        }
        Ok(Input::Editor { editor: Box::new(editor), history, warned })
    }

    fn read(&mut self, prompt: &Prompt) -> Line {
        match self {
            Input::Editor { editor, history, warned } => {
                match editor.readline(&(prompt.plain.as_str(), prompt.styled.as_str())) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.trim_end());
                            if let Some(path) = history {
                                if let Err(e) = editor.append_history(path) {
                                    if !*warned {
                                        eprintln!("reflex: cannot write the history {}: {e}", path.display());
                                        *warned = true;
                                    }
                                }
                            }
                        }
                        Line::Text(line)
                    }
                    Err(ReadlineError::Interrupted) => Line::Interrupted,
                    Err(ReadlineError::Eof) => Line::Eof,
                    Err(e) => {
                        eprintln!("reflex: cannot read the terminal: {e}");
                        Line::Eof
                    }
                }
            }
            Input::Lines(lines) => match lines.next() {
                Some(Ok(line)) => Line::Text(line),
                Some(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    Line::Bad(format!("a line is not UTF-8: {e}"))
                }
                Some(Err(e)) => {
                    eprintln!("reflex: cannot read stdin: {e}");
                    Line::Eof
                }
                None => Line::Eof,
            },
        }
    }
}

/// Completion, hints and prompt colour for the line editor.
struct ShellHelper {
    names: Rc<RefCell<Names>>,
    color: bool,
}

impl ShellHelper {
    /// The words Tab may complete at the cursor: where the word starts, and the candidates
    /// (with a trailing space when complete).
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<Pair>) {
        let before = &line[..pos];
        let start =
            before.rfind(char::is_whitespace).map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
        let word = &before[start..];
        let previous: Vec<&str> = before[..start].split_whitespace().collect();
        let names = self.names.borrow();
        let functions = || names.functions.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        let commands =
            || COMMANDS.iter().map(|c| c.0.to_string()).filter(|c| c != "exit" && c != "exec").collect::<Vec<_>>();
        let pool: Vec<String> = match (names.batch, previous.as_slice()) {
            (false, []) => commands(),
            (false, ["call" | "exec" | "notify" | "doc"]) => functions(),
            (false, ["type"]) => names.types.clone(),
            (false, ["help"]) => COMMANDS.iter().map(|c| c.0.to_string()).collect(),
            (true, []) => {
                let mut pool = functions();
                pool.push("notify".to_string());
                pool
            }
            (true, ["notify" | "call" | "exec"]) => functions(),
            _ => Vec::new(),
        };
        let candidates = pool
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair { display: c.clone(), replacement: format!("{c} ") })
            .collect();
        (start, candidates)
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(self.candidates(line, pos))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    /// After `call FUNC ` (nothing typed yet), the parameters, dimmed: `a: int, b: int`.
    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos != line.len() || !line.ends_with(' ') {
            return None;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let names = self.names.borrow();
        let name = match (names.batch, words.as_slice()) {
            (false, ["call" | "exec" | "notify", name]) => *name,
            (true, [name]) | (true, ["notify" | "call" | "exec", name]) => *name,
            _ => return None,
        };
        let f = names.functions.iter().find(|f| f.name == name)?;
        if f.params.is_empty() {
            return None;
        }
        let params: Vec<String> = f
            .params
            .iter()
            .map(|p| if p.type_name.is_empty() { p.name.clone() } else { format!("{}: {}", p.name, p.type_name) })
            .collect();
        Some(format!("<{}>", params.join("> <")))
    }
}

impl Highlighter for ShellHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(paint(hint, ansi::DIM, true))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_json_arguments_from_a_line() {
        assert_eq!(parse_args(""), Ok(Value::Null));
        assert_eq!(parse_args("1 2"), Ok(json!([1, 2])));
        assert_eq!(parse_args(" \"a b\"  -3.5 "), Ok(json!(["a b", -3.5])));
        assert_eq!(
            parse_args(r#"{"firstname": "x", "city": "y z"} [1, 2 ,3] null true"#),
            Ok(json!([{"firstname": "x", "city": "y z"}, [1, 2, 3], null, true]))
        );
        assert_eq!(parse_args("minuend=42 subtrahend=23"), Ok(json!({"minuend": 42, "subtrahend": 23})));
        assert_eq!(parse_args(r#"address={"city": "a b"}"#), Ok(json!({"address": {"city": "a b"}})));
    }

    #[test]
    fn explains_bad_arguments() {
        let e = parse_args("1 x").unwrap_err();
        assert_eq!(
            e,
            "invalid JSON in argument 2 (x): expected value at column 1 (a string needs double quotes: \"x\")"
        );
        let e = parse_args("1,2").unwrap_err();
        assert!(e.starts_with("invalid JSON in argument 1 (1,2): unexpected `,2`"), "{e}");
        let e = parse_args(r#""abc"#).unwrap_err();
        assert!(e.starts_with("invalid JSON in argument 1 (\"abc): EOF while parsing a string"), "{e}");
        let e = parse_args("{\"a\": 1").unwrap_err();
        assert!(e.contains("argument 1"), "{e}");
        let e = parse_args("'hello'").unwrap_err();
        assert!(e.contains("double quotes: \"hello\""), "{e}");
        let e = parse_args("a=1 2").unwrap_err();
        assert!(e.contains("cannot mix"), "{e}");
        let e = parse_args("a=1 a=2").unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = parse_args("a=").unwrap_err();
        assert!(e.starts_with("invalid JSON in argument 1 (a=...)"), "{e}");
    }

    #[test]
    fn suggestions() {
        let names = ["echo", "echo_ints", "add", "led.set", "PhoneType"];
        assert_eq!(suggest("ecko", names.iter().copied()), Some("echo"));
        assert_eq!(suggest("phonetype", names.iter().copied()), Some("PhoneType"));
        assert_eq!(suggest("led.s", names.iter().copied()), Some("led.set"));
        assert_eq!(suggest("zzzzzz", names.iter().copied()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn completes_by_position() {
        let names = Names {
            functions: vec![
                FunctionInfo { name: "echo".into(), ..Default::default() },
                FunctionInfo { name: "echo_ints".into(), ..Default::default() },
                FunctionInfo { name: "led.set".into(), ..Default::default() },
            ],
            types: vec!["PhoneType".into(), "Address".into()],
            batch: false,
        };
        let helper = ShellHelper { names: Rc::new(RefCell::new(names)), color: false };
        let words = |line: &str| -> Vec<String> {
            helper.candidates(line, line.len()).1.into_iter().map(|p| p.replacement).collect()
        };
        assert_eq!(words("ty"), ["types ", "type "]);
        assert_eq!(words("call ec"), ["echo ", "echo_ints "]);
        assert_eq!(words("exec led"), ["led.set "]);
        assert_eq!(words("type Ph"), ["PhoneType "]);
        assert_eq!(words("call echo 1 e"), Vec::<String>::new());
        assert_eq!(helper.candidates("doc le", 6).0, 4);
        helper.names.borrow_mut().batch = true;
        assert_eq!(words("le"), ["led.set "]);
        assert_eq!(words("notify ec"), ["echo ", "echo_ints "]);
    }
}
