//! Shared pieces of the reflex benchmarks: the four requests every benchmark sends, the demo
//! service in process, and the three dispatch paths compared in process:
//!
//! * [`ReflexPath`]: reflex's core, `reflex::io::handle_to_slice` with the demo service.
//! * [`JsonrpseePath`]: jsonrpsee 0.26's `RpcModule::raw_json_request`, the request path of
//!   its servers without the transport.
//! * [`SerdeJsonPath`]: a plain serde_json dispatch, what one writes by hand: parse the
//!   envelope into a struct with `serde_json::from_slice`, match the method, serialize the
//!   reply.
//!
//! # Fairness of the comparison
//!
//! All three paths take the request as bytes and leave the complete reply in a reused byte
//! buffer, so each one pays for parsing, dispatch and serialization, and none pays for
//! I/O. The differences that remain, deliberately:
//!
//! * reflex does more than the others: it type-checks every parameter against the
//!   declaration and would name the offending one in ReflectRPC's words, echoes the id byte
//!   for byte, and speaks JSON-RPC 1.0 as well as 2.0 (detected per request). It allocates
//!   nothing. jsonrpsee parses the envelope once into borrowed parts and the params a second
//!   time into `(i64, i64)`, allocates (a channel per call, boxed replies) and speaks 2.0
//!   only, so it has no 1.0 case. The serde_json dispatch checks nothing beyond what its
//!   typed parse checks, and a bad element fails its whole batch: it is the floor of what a
//!   serde_json-based dispatcher costs, not a complete server.
//! * Batches: `raw_json_request` takes one call, so the jsonrpsee batch splits the array
//!   into `&RawValue` elements and calls `raw_json_request` for each, joining the replies:
//!   what jsonrpsee's server does with a batch (minus its middleware).
//! * `__describe_functions`: reflex renders the description from its static tables on every
//!   call. jsonrpsee and the serde_json path serialize, on every call, a `serde_json::Value`
//!   that holds the same array (built once, at start-up, from reflex's own reply: the same
//!   names, types and descriptions; serde_json sorts the keys, which leaves the size alone).
//!   Both render a document from an in-memory description per call; neither replays
//!   pre-rendered bytes.

use std::sync::LazyLock;

use jsonrpsee::types::ResponsePayload;
use jsonrpsee::RpcModule;
use reflex::{Config, RpcInfo, Transport};
use reflex_demo::{Demo, NoPlatform};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The demo device service on a platform whose clock stands still.
pub static DEMO: Demo<NoPlatform> = Demo::new(NoPlatform);

/// A JSON-RPC 2.0 call of `add(1, 2)`: 54 bytes.
pub const REQ_V2: &[u8] = br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
/// The same call in JSON-RPC 1.0, as ReflectRPC's client writes it.
pub const REQ_V1: &[u8] = br#"{"method": "add", "params": [1, 2], "id": 1}"#;
/// A JSON-RPC 2.0 batch of ten `add(1, 2)` calls with ids 1 to 10.
pub const REQ_BATCH: &[u8] = br#"[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":2},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":3},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":4},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":5},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":6},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":8},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":9},{"jsonrpc":"2.0","method":"add","params":[1,2],"id":10}]"#;
/// The reflection call `__describe_functions` (JSON-RPC 2.0): the demo's reply is about 6.6 KB.
pub const REQ_DESCRIBE: &[u8] = br#"{"jsonrpc":"2.0","method":"__describe_functions","id":1}"#;

/// The reply every path gives [`REQ_V2`] (reflex's bytes; the others' are the same).
pub const REPLY_V2: &[u8] = br#"{"jsonrpc":"2.0","result":3,"id":1}"#;

/// The kinds of request the benchmarks send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// [`REQ_V2`].
    V2,
    /// [`REQ_V1`].
    V1,
    /// [`REQ_BATCH`].
    Batch,
    /// [`REQ_DESCRIBE`].
    Describe,
}

impl Kind {
    /// Every kind, in the order the reports list them.
    pub const ALL: [Kind; 4] = [Kind::V2, Kind::V1, Kind::Batch, Kind::Describe];

    /// The name on the command line and in reports: `v2`, `v1`, `batch`, `describe`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::V2 => "v2",
            Kind::V1 => "v1",
            Kind::Batch => "batch",
            Kind::Describe => "describe",
        }
    }

    /// What the report says the kind is.
    pub fn label(self) -> &'static str {
        match self {
            Kind::V2 => "2.0 add",
            Kind::V1 => "1.0 add",
            Kind::Batch => "batch of 10 add",
            Kind::Describe => "__describe_functions",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The request bytes.
    pub fn request(self) -> &'static [u8] {
        match self {
            Kind::V2 => REQ_V2,
            Kind::V1 => REQ_V1,
            Kind::Batch => REQ_BATCH,
            Kind::Describe => REQ_DESCRIBE,
        }
    }
}

/// The paths compared in process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// [`ReflexPath`].
    Reflex,
    /// [`JsonrpseePath`].
    Jsonrpsee,
    /// [`SerdeJsonPath`].
    SerdeJson,
}

impl Path {
    /// Every path, reflex first.
    pub const ALL: [Path; 3] = [Path::Reflex, Path::Jsonrpsee, Path::SerdeJson];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Path::Reflex => "reflex",
            Path::Jsonrpsee => "jsonrpsee",
            Path::SerdeJson => "serde_json",
        }
    }

    /// The path called `name`.
    pub fn parse(name: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the path can answer `kind` (jsonrpsee speaks JSON-RPC 2.0 only).
    pub fn supports(self, kind: Kind) -> bool {
        !(self == Path::Jsonrpsee && kind == Kind::V1)
    }
}

/// One of the three paths, ready to handle requests.
pub enum AnyPath {
    /// reflex.
    Reflex(ReflexPath),
    /// jsonrpsee.
    Jsonrpsee(JsonrpseePath),
    /// serde_json.
    SerdeJson(SerdeJsonPath),
}

impl AnyPath {
    /// A fresh instance of `path`.
    pub fn new(path: Path) -> AnyPath {
        match path {
            Path::Reflex => AnyPath::Reflex(ReflexPath::new()),
            Path::Jsonrpsee => AnyPath::Jsonrpsee(JsonrpseePath::new()),
            Path::SerdeJson => AnyPath::SerdeJson(SerdeJsonPath::new()),
        }
    }

    /// Handles one request; returns the reply.
    #[inline]
    pub fn handle(&mut self, request: &[u8]) -> &[u8] {
        match self {
            AnyPath::Reflex(p) => p.handle(request),
            AnyPath::Jsonrpsee(p) => p.handle(request),
            AnyPath::SerdeJson(p) => p.handle(request),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// reflex

/// reflex's core with the demo service: the default configuration, an in-process context, a
/// 1 KiB scratch buffer and a 64 KiB reply buffer, all made once.
pub struct ReflexPath {
    config: Config,
    info: RpcInfo<'static>,
    scratch: Vec<u8>,
    out: Vec<u8>,
}

impl Default for ReflexPath {
    fn default() -> Self {
        Self::new()
    }
}

impl ReflexPath {
    /// The path with its buffers.
    pub fn new() -> ReflexPath {
        ReflexPath {
            config: Config::new(),
            info: RpcInfo::new(Transport::InProcess),
            scratch: vec![0; 1024],
            out: vec![0; 64 * 1024],
        }
    }

    /// Handles one request; returns the reply (empty for a notification).
    #[inline]
    pub fn handle(&mut self, request: &[u8]) -> &[u8] {
        let n = reflex::io::handle_to_slice(&DEMO, &self.config, request, &mut self.scratch, &self.info, &mut self.out)
            .expect("the reply fits 64 KiB");
        &self.out[..n]
    }
}

// ---------------------------------------------------------------------------------------------
// The describe document of the other two paths

/// The demo's `__describe_functions` result as a `serde_json::Value`, from reflex's own reply.
pub static DESCRIBE: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut reflex = ReflexPath::new();
    let reply: serde_json::Value = serde_json::from_slice(reflex.handle(REQ_DESCRIBE)).expect("reflex replies JSON");
    reply.get("result").cloned().expect("__describe_functions has a result")
});

// ---------------------------------------------------------------------------------------------
// jsonrpsee

/// jsonrpsee's `RpcModule` with `add` and `__describe_functions`, called through
/// `raw_json_request` (driven by `reflex::io::block_on`: both methods are synchronous, so the
/// future completes on its first poll).
pub struct JsonrpseePath {
    module: RpcModule<()>,
    out: Vec<u8>,
}

impl Default for JsonrpseePath {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonrpseePath {
    /// The module with its two methods.
    pub fn new() -> JsonrpseePath {
        JsonrpseePath { module: jsonrpsee_module(), out: Vec::with_capacity(64 * 1024) }
    }

    /// Handles one request (a call or a batch); returns the reply.
    #[inline]
    pub fn handle(&mut self, request: &[u8]) -> &[u8] {
        self.out.clear();
        let request = std::str::from_utf8(request).expect("requests are UTF-8");
        if request.trim_start().starts_with('[') {
            // What jsonrpsee's server does with a batch: split it into raw calls, run each.
            let calls: Vec<&RawValue> = serde_json::from_str(request).expect("the batch parses");
            self.out.push(b'[');
            for (i, call) in calls.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                let (reply, _) =
                    reflex::io::block_on(self.module.raw_json_request(call.get(), 1)).expect("call parses");
                self.out.extend_from_slice(reply.get().as_bytes());
            }
            self.out.push(b']');
        } else {
            let (reply, _) = reflex::io::block_on(self.module.raw_json_request(request, 1)).expect("call parses");
            self.out.extend_from_slice(reply.get().as_bytes());
        }
        &self.out
    }
}

/// The jsonrpsee module of the in-process comparison and of the `jsonrpsee-server` binary:
/// `add(a, b)` on `i64` (an overflow is an error, as in the demo) and `__describe_functions`.
pub fn jsonrpsee_module() -> RpcModule<()> {
    let mut module = RpcModule::new(());
    module
        .register_method("add", |params, _, _| {
            let (a, b): (i64, i64) = params.parse()?;
            a.checked_add(b).ok_or_else(|| jsonrpsee::types::ErrorObjectOwned::owned(-32000, "overflow", None::<()>))
        })
        .expect("add registers");
    module
        .register_method("__describe_functions", |_, _, _| ResponsePayload::success_borrowed(&*DESCRIBE))
        .expect("__describe_functions registers");
    LazyLock::force(&DESCRIBE);
    module
}

// ---------------------------------------------------------------------------------------------
// serde_json

/// A plain serde_json dispatch: `serde_json::from_slice` into [`Envelope`], a `match` on the
/// method, the params parsed from their `&RawValue` span, the reply serialized with
/// `serde_json::to_writer` into a reused buffer. JSON-RPC 1.0 replies use ReflectRPC's shape
/// and separators, as reflex's do.
pub struct SerdeJsonPath {
    out: Vec<u8>,
}

impl Default for SerdeJsonPath {
    fn default() -> Self {
        Self::new()
    }
}

/// A request envelope, borrowed from the request bytes. (`&str` fails on escaped method
/// names; a floor, not a complete server.)
#[derive(Deserialize)]
pub struct Envelope<'a> {
    /// `"2.0"`, or absent in JSON-RPC 1.0.
    #[serde(borrow, default)]
    pub jsonrpc: Option<&'a str>,
    /// The method name.
    #[serde(borrow)]
    pub method: &'a str,
    /// The params, parsed by the method.
    #[serde(borrow, default)]
    pub params: Option<&'a RawValue>,
    /// The id, echoed.
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct V2Reply<'a, T> {
    jsonrpc: &'static str,
    result: T,
    id: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct V2Error<'a> {
    jsonrpc: &'static str,
    error: ErrorObject,
    id: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct ErrorObject {
    code: i32,
    message: &'static str,
}

#[derive(Serialize)]
struct V1Reply<'a, T> {
    result: T,
    id: Option<&'a RawValue>,
    error: Option<V1ErrorObject>,
}

#[derive(Serialize)]
struct V1ErrorObject {
    name: &'static str,
    message: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outcome {
    Int(i64),
    Doc(&'static serde_json::Value),
}

/// Python's `json.dumps` separators, `", "` and `": "`, as ReflectRPC and reflex's 1.0
/// replies use them.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

impl SerdeJsonPath {
    /// The path with its reply buffer.
    pub fn new() -> SerdeJsonPath {
        LazyLock::force(&DESCRIBE);
        SerdeJsonPath { out: Vec::with_capacity(64 * 1024) }
    }

    /// Handles one request (a call or a batch); returns the reply.
    #[inline]
    pub fn handle(&mut self, request: &[u8]) -> &[u8] {
        self.out.clear();
        let first = request.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            match serde_json::from_slice::<Vec<Envelope<'_>>>(request) {
                Ok(calls) => {
                    self.out.push(b'[');
                    for (i, call) in calls.iter().enumerate() {
                        if i > 0 {
                            self.out.push(b',');
                        }
                        dispatch(call, &mut self.out);
                    }
                    self.out.push(b']');
                }
                Err(_) => parse_error(&mut self.out),
            }
        } else {
            match serde_json::from_slice::<Envelope<'_>>(request) {
                Ok(call) => dispatch(&call, &mut self.out),
                Err(_) => parse_error(&mut self.out),
            }
        }
        &self.out
    }
}

fn parse_error(out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#);
}

fn dispatch(call: &Envelope<'_>, out: &mut Vec<u8>) {
    let outcome = match call.method {
        "add" => match call.params.map(|p| serde_json::from_str::<(i64, i64)>(p.get())) {
            Some(Ok((a, b))) => a.checked_add(b).map(Outcome::Int).ok_or((-32000, "OverflowError", "overflow")),
            _ => Err((-32602, "TypeError", "Invalid params")),
        },
        "__describe_functions" => Ok(Outcome::Doc(&DESCRIBE)),
        _ => Err((-32601, "MethodNotFoundError", "Method not found")),
    };
    let written = if call.jsonrpc.is_some() {
        match outcome {
            Ok(result) => serde_json::to_writer(&mut *out, &V2Reply { jsonrpc: "2.0", result, id: call.id }),
            Err((code, _, message)) => serde_json::to_writer(
                &mut *out,
                &V2Error { jsonrpc: "2.0", error: ErrorObject { code, message }, id: call.id },
            ),
        }
    } else {
        let mut ser = serde_json::Serializer::with_formatter(&mut *out, PythonFormatter);
        match outcome {
            Ok(result) => V1Reply { result, id: call.id, error: None }.serialize(&mut ser),
            Err((_, name, message)) => {
                V1Reply { result: (), id: call.id, error: Some(V1ErrorObject { name, message }) }.serialize(&mut ser)
            }
        }
    };
    written.expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path gives every request it supports the same reply, up to the order of keys.
    #[test]
    fn paths_agree() {
        let mut reflex = ReflexPath::new();
        for kind in Kind::ALL {
            let expected: serde_json::Value = serde_json::from_slice(reflex.handle(kind.request())).unwrap();
            for path in Path::ALL.into_iter().filter(|p| p.supports(kind)) {
                let mut p = AnyPath::new(path);
                let reply = p.handle(kind.request()).to_vec();
                let got: serde_json::Value = serde_json::from_slice(&reply).unwrap_or_else(|e| {
                    panic!("{} {}: {e}: {}", path.name(), kind.name(), String::from_utf8_lossy(&reply))
                });
                assert_eq!(got, expected, "{} {}", path.name(), kind.name());
            }
        }
        assert_eq!(reflex.handle(REQ_V2), REPLY_V2);
        // The 1.0 reply byte for byte, separators included.
        assert_eq!(SerdeJsonPath::new().handle(REQ_V1), reflex.handle(REQ_V1));
    }
}
