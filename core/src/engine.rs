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
use crate::scan::{self, JsonStr, Kind, Scanner, Value};

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
}

impl Config {
    /// The defaults.
    pub const fn new() -> Self {
        Config { max_depth: 32, strict_floats: true, expose_internal_errors: false, v1_parse_errors: false }
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
    let ctx = Ctx { service, config, info };
    let sc = Scanner::new(request, config.max_depth);
    let start = scan::skip_ws(request, 0);
    match request.get(start) {
        Some(b'{') => {
            let mut batch = Batch { inside: false, replies: 0 };
            ctx.object(sc, start, scratch, out, &mut batch).await?;
            Ok(batch.replies > 0)
        }
        Some(b'[') => {
            let Ok(doc) = sc.document() else {
                return emit_error(out, config.unknown_version(), &ErrBody::Parse).await;
            };
            if scan::elements(request, doc).next().is_none() {
                return emit_error(out, Envelope::v2_null(), &ErrBody::Invalid(Invalid::Request)).await;
            }
            let mut batch = Batch { inside: true, replies: 0 };
            for e in scan::elements(request, doc) {
                if e.kind == Kind::Object {
                    ctx.object(sc, e.start, scratch, out, &mut batch).await?;
                } else {
                    let env = batch.envelope(Version::V2, Id::Null, false);
                    if emit_error(out, env, &ErrBody::Invalid(Invalid::Request)).await? {
                        batch.count();
                    }
                }
            }
            if batch.replies == 0 {
                // Only notifications: nothing at all is sent, not even `[]`.
                return Ok(false);
            }
            out.emit(&Raw(b"]")).await?;
            Ok(true)
        }
        _ => {
            let body = match sc.document() {
                // Valid JSON, but not an object or array: no version can be told.
                Ok(_) => ErrBody::Invalid(Invalid::Request),
                Err(_) => ErrBody::Parse,
            };
            emit_error(out, config.unknown_version(), &body).await
        }
    }
}

/// Writes the reply for a request that did not fit the receive buffer (`limit` bytes). The
/// version cannot be known, so it is a 2.0 `-32600` with id `null` and the limit in `data`.
pub async fn too_large<O: Output>(out: &mut O, limit: usize) -> Result<bool, O::Error> {
    emit_error(out, Envelope::v2_null(), &ErrBody::TooLarge(limit)).await
}

/// Reply bookkeeping: whether we are inside a batch, and how many replies were written.
struct Batch {
    inside: bool,
    replies: usize,
}

impl Batch {
    fn envelope<'a>(&self, version: Version, id: Id<'a>, silent: bool) -> Envelope<'a> {
        let prefix: &'static [u8] = match (self.inside, self.replies) {
            (false, _) => b"",
            (true, 0) => b"[",
            (true, _) => b",",
        };
        Envelope { version, id, silent, prefix }
    }

    fn count(&mut self) {
        self.replies += 1;
    }
}

/// The members of a request object that matter.
#[derive(Default)]
struct Members {
    jsonrpc: Option<Value>,
    method: Option<Value>,
    params: Option<Value>,
    id: Option<Value>,
}

struct Ctx<'s, 'i, S> {
    service: &'s S,
    config: &'s Config,
    info: &'s RpcInfo<'i>,
}

impl<S: Service> Ctx<'_, '_, S> {
    async fn object<O: Output>(
        &self,
        sc: Scanner<'_>,
        start: usize,
        scratch: &mut [u8],
        out: &mut O,
        batch: &mut Batch,
    ) -> Result<(), O::Error> {
        let buf = sc.buf();
        let mut m = Members::default();
        let mut it = sc.members(start);
        for item in it.by_ref() {
            let Ok((key, value)) = item else {
                return self.reply_error(out, batch, self.config.unknown_version(), &ErrBody::Parse).await;
            };
            // One pass: later duplicates win, as in most JSON parsers (and Python's).
            let slot = match key.raw() {
                b"jsonrpc" => &mut m.jsonrpc,
                b"method" => &mut m.method,
                b"params" => &mut m.params,
                b"id" => &mut m.id,
                _ if key.has_escapes() => match () {
                    _ if key.eq_str("jsonrpc") => &mut m.jsonrpc,
                    _ if key.eq_str("method") => &mut m.method,
                    _ if key.eq_str("params") => &mut m.params,
                    _ if key.eq_str("id") => &mut m.id,
                    _ => continue,
                },
                _ => continue,
            };
            *slot = Some(value);
        }
        if !batch.inside && scan::skip_ws(buf, it.end()) != buf.len() {
            // Something after the object: the text as a whole is not JSON.
            return self.reply_error(out, batch, self.config.unknown_version(), &ErrBody::Parse).await;
        }
        match m.jsonrpc {
            Some(v) => self.v2(buf, &m, v, scratch, out, batch).await,
            // Batch elements must be 2.0 requests: 1.0 has no batches.
            None if batch.inside => {
                let env = batch.envelope(Version::V2, v2_id(buf, m.id), false);
                self.reply_error(out, batch, env, &ErrBody::Invalid(Invalid::Request)).await
            }
            None => self.v1(buf, &m, scratch, out, batch).await,
        }
    }

    async fn v2<O: Output>(
        &self,
        buf: &[u8],
        m: &Members,
        jsonrpc: Value,
        scratch: &mut [u8],
        out: &mut O,
        batch: &mut Batch,
    ) -> Result<(), O::Error> {
        let invalid = ErrBody::Invalid(Invalid::Request);
        let id = match m.id {
            None => None,
            Some(v) if valid_v2_id(v.kind) => Some(Id::Raw(v.bytes(buf))),
            // An object, array or boolean id cannot be echoed; the reply's id is null.
            Some(_) => {
                let env = batch.envelope(Version::V2, Id::Null, false);
                return self.reply_error(out, batch, env, &invalid).await;
            }
        };
        let env = batch.envelope(Version::V2, id.unwrap_or(Id::Null), id.is_none());
        let version_ok = jsonrpc.as_str(buf).is_some_and(|s| s.raw() == b"2.0" || s.eq_str("2.0"));
        let method = m.method.and_then(|v| v.as_str(buf));
        let params_ok = m.params.is_none_or(|p| matches!(p.kind, Kind::Array | Kind::Object));
        let (true, Some(method), true) = (version_ok, method, params_ok) else {
            // An invalid request object is answered even without an id: it is not a valid
            // notification either (the spec's "invalid Request object" example).
            let env = Envelope { silent: false, ..env };
            return self.reply_error(out, batch, env, &invalid).await;
        };
        // Declared names never collide with the builtins (the macros reject `rpc.*` and
        // `__describe_*`), so the common case is looked up first.
        if let Some(f) = find(S::DESC, method) {
            return self.call(buf, f, m.params, scratch, out, batch, env).await;
        }
        match reflect::builtin(method) {
            Some(doc) => self.reflect(out, batch, env, doc).await,
            None => self.reply_error(out, batch, env, &ErrBody::MethodNotFound(method)).await,
        }
    }

    async fn v1<O: Output>(
        &self,
        buf: &[u8],
        m: &Members,
        scratch: &mut [u8],
        out: &mut O,
        batch: &mut Batch,
    ) -> Result<(), O::Error> {
        let Some(idv) = m.id else {
            let env = Envelope { version: Version::V1, id: Id::MinusOne, silent: false, prefix: b"" };
            return self.reply_error(out, batch, env, &ErrBody::Invalid(Invalid::IdMissing)).await;
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
            return self.reply_error(out, batch, env, &ErrBody::Invalid(p)).await;
        }
        let method = m.method.and_then(|v| v.as_str(buf)).unwrap_or(JsonStr::new(b""));
        if let Some(f) = find(S::DESC, method) {
            let env = Envelope { silent: notification, ..env };
            return self.call(buf, f, m.params, scratch, out, batch, env).await;
        }
        match reflect::builtin(method) {
            // Builtins ignore their params and answer even notifications, as in ReflectRPC.
            Some(doc) => self.reflect(out, batch, env, doc).await,
            None => self.reply_error(out, batch, env, &ErrBody::MethodNotFound(method)).await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn call<O: Output>(
        &self,
        buf: &[u8],
        f: &'static crate::schema::FunctionDesc,
        params: Option<Value>,
        scratch: &mut [u8],
        out: &mut O,
        batch: &mut Batch,
        env: Envelope<'_>,
    ) -> Result<(), O::Error> {
        let rules = Rules { strict_floats: self.config.strict_floats };
        if let Err(e) = check::check_params(buf, f, params, rules) {
            return self.reply_error(out, batch, env, &ErrBody::Params(&e)).await;
        }
        let args = Args::new(f, params, Decoder::new(buf, scratch, !self.config.strict_floats));
        let mut replied = false;
        let reply = Reply { out: &mut *out, env, replied: &mut replied };
        let result = self.service.call(f, args, self.info, reply).await;
        if replied {
            batch.count();
        }
        match result {
            Ok(()) => Ok(()),
            Err(CallError::Io(e)) => Err(e),
            Err(CallError::Rpc(e)) if e.is_hidden() => {
                warn!("internal error in {}: {}", f.name, e.message());
                out.internal_error(f.name, e.message());
                let detail = self.config.expose_internal_errors.then(|| e.message());
                self.reply_error(out, batch, env, &ErrBody::Internal(detail)).await
            }
            Err(CallError::Rpc(e)) => self.reply_error(out, batch, env, &ErrBody::User(&e)).await,
        }
    }

    async fn reflect<O: Output>(
        &self,
        out: &mut O,
        batch: &mut Batch,
        env: Envelope<'_>,
        doc: reflect::Builtin,
    ) -> Result<(), O::Error> {
        if env.silent {
            return Ok(());
        }
        let value = reflect::Doc { desc: S::DESC, which: doc };
        out.emit(&OkReply { env, value: &value }).await?;
        batch.count();
        Ok(())
    }

    async fn reply_error<O: Output>(
        &self,
        out: &mut O,
        batch: &mut Batch,
        env: Envelope<'_>,
        body: &ErrBody<'_>,
    ) -> Result<(), O::Error> {
        if emit_error(out, env, body).await? {
            batch.count();
        }
        Ok(())
    }
}

/// The id a 2.0 error reply echoes: the request's when it is a valid 2.0 id, else null.
fn v2_id(buf: &[u8], id: Option<Value>) -> Id<'_> {
    match id {
        Some(v) if valid_v2_id(v.kind) => Id::Raw(v.bytes(buf)),
        _ => Id::Null,
    }
}

fn find(
    desc: &'static crate::schema::ServiceDesc,
    method: JsonStr<'_>,
) -> Option<&'static crate::schema::FunctionDesc> {
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
