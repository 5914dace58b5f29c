//! Request processing: one request (or batch) in, zero or more replies out.
//!
//! The version is decided per request: an object with `"jsonrpc": "2.0"` follows 2.0 rules,
//! an object without a `jsonrpc` member follows ReflectRPC's 1.0 rules, and input whose
//! version cannot be told (not JSON, or a top-level scalar) is answered in the 2.0 form. A
//! top-level array is a 2.0 batch, answered element by element as it is processed; its
//! elements must be 2.0 requests.
//!
//! ReflectRPC's procedure, step by step, for objects without `jsonrpc`:
//! no `id` → `InvalidRequest` with id -1; `id: null` → a notification whose reply (if any)
//! has no `id`; `method` missing or not a string, `params` missing or not an array →
//! `InvalidRequest`; the three `__describe_*` builtins answer even notifications; an unknown
//! method is `InvalidRequest` ("No such method"); a registered function called as a
//! notification runs (if its parameters check) and nothing is sent, even on error.
//!
//! Nothing here allocates, recurses on input, or panics: every failure is a reply.

use crate::check::{self, Rules};
use crate::decode::{Args, Decoder};
use crate::dispatch::{CallError, Output, Reply, Service};
use crate::info::RpcInfo;
use crate::reflect;
use crate::reply::{valid_v2_id, Envelope, ErrBody, ErrReply, Id, Invalid, OkReply, Raw, Version};
use crate::scan::{self, JsonStr, Key, Kind, Scanner, Value};
use crate::schema::FunctionDesc;

/// Engine options. `Config::new()` gives the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Deepest nesting of arrays and objects a request may have (the request object counts).
    /// Deeper input is a parse error. At most [`scan::MAX_DEPTH`]. Default 32.
    pub max_depth: u8,
    /// Integers are not accepted for `float` parameters (ReflectRPC's rule, typedjsonrpc's
    /// `strict_floats=True`). Default true.
    pub strict_floats: bool,
    /// Put the detail of hidden internal errors into the reply (`data` in 2.0, `message` in
    /// 1.0). For debugging only: it leaks internals. Default false.
    pub expose_internal_errors: bool,
    /// Answer input whose version cannot be told (not JSON, a top-level scalar) the way
    /// ReflectRPC does — `{"result": null, "id": -1, "error": {"name": "InvalidRequest",
    /// "message": "Received invalid JSON"}}` — instead of with a 2.0 `-32700`/`-32600`. For
    /// listeners that only ReflectRPC clients use. Default false.
    pub v1_parse_errors: bool,
    /// Most requests one batch may hold; a longer batch gets one `-32600` reply with the limit
    /// in `data` (each element would otherwise cost a reply). Default 1000.
    pub max_batch: usize,
}

impl Config {
    /// The defaults.
    pub const fn new() -> Self {
        Config {
            max_depth: 32,
            strict_floats: true,
            expose_internal_errors: false,
            v1_parse_errors: false,
            max_batch: 1000,
        }
    }

    /// Sets [`Config::max_depth`].
    pub const fn max_depth(mut self, depth: u8) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets [`Config::strict_floats`].
    pub const fn strict_floats(mut self, strict: bool) -> Self {
        self.strict_floats = strict;
        self
    }

    /// Sets [`Config::max_batch`].
    pub const fn max_batch(mut self, max: usize) -> Self {
        self.max_batch = max;
        self
    }

    /// Sets [`Config::v1_parse_errors`].
    pub const fn v1_parse_errors(mut self, v1: bool) -> Self {
        self.v1_parse_errors = v1;
        self
    }

    /// The envelope of a reply to input whose version cannot be told.
    fn unknown_version(&self) -> Envelope<'static> {
        if self.v1_parse_errors {
            Envelope { version: Version::V1, id: Id::MinusOne, silent: false, prefix: b"" }
        } else {
            Envelope::v2_null()
        }
    }

    /// Sets [`Config::expose_internal_errors`].
    pub const fn expose_internal_errors(mut self, expose: bool) -> Self {
        self.expose_internal_errors = expose;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

/// Handles one request text (an object or a batch) and writes its replies to `out`.
///
/// `scratch` receives the unescaped text of string parameters that contain escapes (strings
/// without escapes are borrowed from `request`); a scratch as long as the request always
/// suffices. Returns whether anything was written: `false` for notifications, which must get
/// no reply at all (on a line transport, not even the line terminator).
pub async fn handle<S: Service, O: Output>(
    service: &S,
    config: &Config,
    request: &[u8],
    scratch: &mut [u8],
    info: &RpcInfo<'_>,
    out: &mut O,
) -> Result<bool, O::Error> {
    let sc = Scanner::new(request, config.max_depth);
    let start = scan::skip_ws(request, 0);
    let mut batch = Batch { inside: false, replies: 0 };
    if request.get(start) != Some(&b'[') {
        let plan = match request.get(start) {
            Some(b'{') => plan_object::<S>(config, sc, start, false),
            _ => {
                let body = match sc.document() {
                    // Valid JSON, but not an object or array: no version can be told.
                    Ok(_) => ErrBody::Invalid(Invalid::Request),
                    Err(_) => ErrBody::Parse,
                };
                Plan::Error(config.unknown_version(), body)
            }
        };
        execute(service, config, info, request, scratch, out, &mut batch, plan).await?;
        return Ok(batch.replies > 0);
    }
    let plan = match sc.document() {
        Err(_) => Some(Plan::Error(config.unknown_version(), ErrBody::Parse)),
        Ok(doc) if scan::elements(request, doc).next().is_none() => {
            Some(Plan::Error(Envelope::v2_null(), ErrBody::Invalid(Invalid::Request)))
        }
        // More than `max_batch` elements take at least 2 bytes each (a value and a comma):
        // shorter texts are not walked to count them.
        Ok(doc)
            if request.len() > config.max_batch.saturating_mul(2)
                && scan::elements(request, doc).nth(config.max_batch).is_some() =>
        {
            Some(Plan::Error(Envelope::v2_null(), ErrBody::BatchTooLarge(config.max_batch)))
        }
        Ok(doc) => {
            batch.inside = true;
            for e in scan::elements(request, doc) {
                let plan = if e.kind == Kind::Object {
                    plan_object::<S>(config, sc, e.start, true)
                } else {
                    Plan::Error(Envelope::v2_null(), ErrBody::Invalid(Invalid::Request))
                };
                execute(service, config, info, request, scratch, out, &mut batch, plan).await?;
            }
            None
        }
    };
    if let Some(plan) = plan {
        // Not a batch after all: one single reply.
        execute(service, config, info, request, scratch, out, &mut batch, plan).await?;
        return Ok(batch.replies > 0);
    }
    if batch.replies == 0 {
        // Only notifications: nothing at all is sent, not even `[]`.
        return Ok(false);
    }
    out.emit(&Raw(b"]")).await?;
    Ok(true)
}

/// Writes the reply for a request that did not fit the receive buffer (`limit` bytes). The
/// version cannot be known, so it is a 2.0 `-32600` with id `null` and the limit in `data`.
pub async fn too_large<O: Output>(out: &mut O, limit: usize) -> Result<bool, O::Error> {
    emit_error(out, Envelope::v2_null(), &ErrBody::TooLarge(limit)).await
}

/// Writes the reply for input that cannot be valid JSON whatever follows (e.g. the
/// beginning of an overlong line that already nests too deep): a parse error.
pub async fn unparsable<O: Output>(out: &mut O, config: &Config) -> Result<bool, O::Error> {
    emit_error(out, config.unknown_version(), &ErrBody::Parse).await
}

/// Reply bookkeeping: whether we are inside a batch, and how many replies were written.
struct Batch {
    inside: bool,
    replies: usize,
}

impl Batch {
    /// What goes before the next reply.
    fn prefix(&self) -> &'static [u8] {
        match (self.inside, self.replies) {
            (false, _) => b"",
            (true, 0) => b"[",
            (true, _) => b",",
        }
    }
}

/// What to do about one request object, decided without I/O. Only [`execute`] is `async`,
/// so the state machines stay small (and so does the firmware).
enum Plan<'a> {
    /// Reply with an error (unless the envelope is silent).
    Error(Envelope<'a>, ErrBody<'a>),
    /// Reply with a reflection document.
    Reflect(Envelope<'a>, reflect::Builtin),
    /// Call a function whose parameters passed the check.
    Call(Envelope<'a>, &'static FunctionDesc, Option<Value>),
}

/// The members of a request object that matter.
#[derive(Default)]
struct Members {
    jsonrpc: Option<Value>,
    method: Option<Value>,
    params: Option<Value>,
    id: Option<Value>,
}

const KEY_JSONRPC: u8 = 0;
const KEY_METHOD: u8 = 1;
const KEY_PARAMS: u8 = 2;
const KEY_ID: u8 = 3;

/// Recognises the envelope's keys by their exact text, colon included, so the member loop
/// need not scan them as strings and compare them again (for a small request that is a
/// good part of the work). The second byte picks the one candidate; each comparison is of a
/// fixed length, which compiles to a few word compares.
#[inline(always)]
fn envelope_key(at: &[u8]) -> Option<(u8, usize)> {
    fn is(at: &[u8], text: &[u8]) -> bool {
        at.get(..text.len()) == Some(text)
    }
    match at.get(1)? {
        b'j' if is(at, b"\"jsonrpc\":") => Some((KEY_JSONRPC, 10)),
        b'm' if is(at, b"\"method\":") => Some((KEY_METHOD, 9)),
        b'p' if is(at, b"\"params\":") => Some((KEY_PARAMS, 9)),
        b'i' if is(at, b"\"id\":") => Some((KEY_ID, 5)),
        _ => None,
    }
}

/// Scans the request object at `start` and decides what to do.
fn plan_object<'a, S: Service>(config: &Config, sc: Scanner<'a>, start: usize, inside_batch: bool) -> Plan<'a> {
    let buf = sc.buf();
    let mut m = Members::default();
    // A batch element lies inside text that was validated as a whole before any element
    // ran (a parse error anywhere answers the whole batch): its values need not be again.
    let mut it = if inside_batch { sc.members_of_validated(start) } else { sc.members(start) };
    while let Some(item) = it.next_with(envelope_key) {
        let Ok((key, value)) = item else {
            return Plan::Error(config.unknown_version(), ErrBody::Parse);
        };
        // One pass: later duplicates win, as in most JSON parsers (and Python's).
        let slot = match key {
            Key::Known(KEY_JSONRPC) => &mut m.jsonrpc,
            Key::Known(KEY_METHOD) => &mut m.method,
            Key::Known(KEY_PARAMS) => &mut m.params,
            Key::Known(_) => &mut m.id,
            // Spelled with escapes, or followed by a space before the colon.
            Key::Other(key) => match () {
                _ if key.eq_str("jsonrpc") => &mut m.jsonrpc,
                _ if key.eq_str("method") => &mut m.method,
                _ if key.eq_str("params") => &mut m.params,
                _ if key.eq_str("id") => &mut m.id,
                _ => continue,
            },
        };
        *slot = Some(value);
    }
    if !inside_batch && scan::skip_ws(buf, it.end()) != buf.len() {
        // Something after the object: the text as a whole is not JSON.
        return Plan::Error(config.unknown_version(), ErrBody::Parse);
    }
    match m.jsonrpc {
        Some(v) => plan_v2::<S>(config, buf, &m, v),
        // Batch elements must be 2.0 requests: 1.0 has no batches.
        None if inside_batch => Plan::Error(v2_env(v2_id(buf, m.id), false), ErrBody::Invalid(Invalid::Request)),
        None => plan_v1::<S>(config, buf, &m),
    }
}

fn v2_env(id: Id<'_>, silent: bool) -> Envelope<'_> {
    Envelope { version: Version::V2, id, silent, prefix: b"" }
}

fn plan_v2<'a, S: Service>(config: &Config, buf: &'a [u8], m: &Members, jsonrpc: Value) -> Plan<'a> {
    let invalid = ErrBody::Invalid(Invalid::Request);
    let id = match m.id {
        None => None,
        Some(v) if valid_v2_id(v.kind) => Some(Id::Raw(v.bytes(buf))),
        // An object, array or boolean id cannot be echoed; the reply's id is null.
        Some(_) => return Plan::Error(v2_env(Id::Null, false), invalid),
    };
    let version_ok = jsonrpc.as_str(buf).is_some_and(|s| s.raw() == b"2.0" || s.eq_str("2.0"));
    let method = m.method.and_then(|v| v.as_str(buf));
    let params_ok = m.params.is_none_or(|p| matches!(p.kind, Kind::Array | Kind::Object));
    let (true, Some(method), true) = (version_ok, method, params_ok) else {
        // An invalid request object is answered even without an id: it is not a valid
        // notification either (the spec's "invalid Request object" example).
        return Plan::Error(v2_env(id.unwrap_or(Id::Null), false), invalid);
    };
    let env = v2_env(id.unwrap_or(Id::Null), id.is_none());
    // Declared names never collide with the builtins (the macros reject `rpc.*` and
    // `__describe_*`), so the common case is looked up first.
    if let Some(f) = find(S::DESC, method) {
        return plan_call(config, buf, env, f, m.params);
    }
    match reflect::builtin(method) {
        Some(doc) => Plan::Reflect(env, doc),
        None => Plan::Error(env, ErrBody::MethodNotFound(method)),
    }
}

fn plan_v1<'a, S: Service>(config: &Config, buf: &'a [u8], m: &Members) -> Plan<'a> {
    let Some(idv) = m.id else {
        let env = Envelope { version: Version::V1, id: Id::MinusOne, silent: false, prefix: b"" };
        return Plan::Error(env, ErrBody::Invalid(Invalid::IdMissing));
    };
    let notification = idv.kind == Kind::Null;
    let id = if notification { Id::Omit } else { Id::Raw(idv.bytes(buf)) };
    // ReflectRPC answers request errors even for notifications (without an id).
    let env = Envelope { version: Version::V1, id, silent: false, prefix: b"" };
    let problem = match (m.method, m.params) {
        (None, _) => Some(Invalid::MethodMissing),
        (Some(v), _) if v.kind != Kind::String => Some(Invalid::MethodNotString),
        (_, None) => Some(Invalid::ParamsMissing),
        (_, Some(p)) if p.kind != Kind::Array => Some(Invalid::ParamsNotArray),
        _ => None,
    };
    if let Some(p) = problem {
        return Plan::Error(env, ErrBody::Invalid(p));
    }
    let method = m.method.and_then(|v| v.as_str(buf)).unwrap_or(JsonStr::new(b""));
    if let Some(f) = find(S::DESC, method) {
        return plan_call(config, buf, Envelope { silent: notification, ..env }, f, m.params);
    }
    match reflect::builtin(method) {
        // Builtins ignore their params and answer even notifications, as in ReflectRPC.
        Some(doc) => Plan::Reflect(env, doc),
        None => Plan::Error(env, ErrBody::MethodNotFound(method)),
    }
}

fn plan_call<'a>(
    config: &Config,
    buf: &'a [u8],
    env: Envelope<'a>,
    f: &'static FunctionDesc,
    params: Option<Value>,
) -> Plan<'a> {
    let rules = Rules { strict_floats: config.strict_floats };
    match check::check_params(buf, f, params, rules) {
        Ok(()) => Plan::Call(env, f, params),
        Err(e) => Plan::Error(env, ErrBody::Params(e)),
    }
}

/// Carries out a plan: the only place (with [`handle`]) that awaits.
#[allow(clippy::too_many_arguments)]
async fn execute<S: Service, O: Output>(
    service: &S,
    config: &Config,
    info: &RpcInfo<'_>,
    buf: &[u8],
    scratch: &mut [u8],
    out: &mut O,
    batch: &mut Batch,
    plan: Plan<'_>,
) -> Result<(), O::Error> {
    let (mut env, body) = match plan {
        Plan::Error(env, body) => (env, body),
        Plan::Reflect(mut env, doc) => {
            if env.silent {
                return Ok(());
            }
            env.prefix = batch.prefix();
            let value = reflect::Doc { desc: S::DESC, which: doc };
            out.emit(&OkReply { env, value: &value }).await?;
            batch.replies += 1;
            return Ok(());
        }
        Plan::Call(mut env, f, params) => {
            env.prefix = batch.prefix();
            let args = Args::new(f, params, Decoder::new(buf, scratch, !config.strict_floats));
            let mut replied = false;
            let reply = Reply { out: &mut *out, env, replied: &mut replied };
            let result = service.call(f, args, info, reply).await;
            if replied {
                batch.replies += 1;
            }
            match result {
                Ok(()) => return Ok(()),
                Err(CallError::Io(e)) => return Err(e),
                Err(CallError::Rpc(e)) if e.is_hidden() => {
                    warn!("internal error in {}: {}", f.name, e.message());
                    out.internal_error(f.name, e.message());
                    (env, ErrBody::Internal(e, config.expose_internal_errors))
                }
                Err(CallError::Rpc(e)) => (env, ErrBody::User(e)),
            }
        }
    };
    env.prefix = batch.prefix();
    if emit_error(out, env, &body).await? {
        batch.replies += 1;
    }
    Ok(())
}

/// The id a 2.0 error reply echoes: the request's when it is a valid 2.0 id, else null.
fn v2_id(buf: &[u8], id: Option<Value>) -> Id<'_> {
    match id {
        Some(v) if valid_v2_id(v.kind) => Id::Raw(v.bytes(buf)),
        _ => Id::Null,
    }
}

fn find(desc: &'static crate::schema::ServiceDesc, method: JsonStr<'_>) -> Option<&'static FunctionDesc> {
    // Raw bytes equal to a name without backslashes mean the text has no escapes either,
    // so the common case needs no decoding (and no UTF-8 re-validation).
    let raw = method.raw();
    if let Some(f) = desc.functions.iter().find(|f| f.name.as_bytes() == raw) {
        return Some(f);
    }
    if method.has_escapes() {
        desc.functions.iter().find(|f| method.eq_str(f.name))
    } else {
        None
    }
}

async fn emit_error<O: Output>(out: &mut O, env: Envelope<'_>, body: &ErrBody<'_>) -> Result<bool, O::Error> {
    if env.silent {
        return Ok(false);
    }
    out.emit(&ErrReply { env, body }).await?;
    Ok(true)
}
