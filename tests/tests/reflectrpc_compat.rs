//! ReflectRPC 0.7.6 compatibility of the 1.0 dialect, byte for byte: the captured wire
//! examples, every step of the request procedure, every error template, the type rules, and
//! the three `__describe_*` documents (see `reflectrpc-compat.md` §2–7 and §11).
//!
//! Replies are compared as whole strings: reflex spells 1.0 replies the way Python's
//! `json.dumps` does (`", "` and `": "`, ASCII only, key order result, id, error).

use reflex::{Config, RpcInfo, Service, Transport};
use reflex_demo::{Demo, NoPlatform};
use reflex_tests::{call, call_with, json};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The demo's static description.
fn desc() -> &'static reflex::schema::ServiceDesc {
    <Demo<NoPlatform> as Service>::DESC
}

/// Checks every `(request, expected reply)` pair (`None`: no reply at all) and reports all
/// mismatches at once.
fn check_exact(cases: &[(&str, Option<&str>)]) {
    check_exact_with(&Config::new(), &RpcInfo::new(Transport::InProcess), cases);
}

fn check_exact_with(config: &Config, info: &RpcInfo<'_>, cases: &[(&str, Option<&str>)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(request, want)| {
            let got = call_with(config, info, request.as_bytes());
            (got.as_deref() != *want).then(|| format!("--> {request}\n    want {want:?}\n    got  {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// The reply to a 1.0 request that must be answered.
fn reply(request: &str) -> String {
    call(request).unwrap_or_else(|| panic!("no reply to {request}"))
}

/// A 1.0 error reply as ReflectRPC spells it.
fn err(id: &str, name: &str, message: &str) -> String {
    format!(r#"{{"result": null, "id": {id}, "error": {{"name": "{name}", "message": "{message}"}}}}"#)
}

/// The message of a 1.0 error reply (and checks its name).
fn error_message(request: &str, name: &str) -> String {
    let r = reply(request);
    let v = json(&r);
    assert_eq!(v["error"]["name"], name, "error name for {request}: {r}");
    assert_eq!(v["result"], Value::Null, "{r}");
    v["error"]["message"].as_str().unwrap_or_else(|| panic!("message is not a string: {r}")).to_owned()
}

/// JSON with object members kept in document order, to check key order.
#[derive(Clone, Debug, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> serde::Deserialize<'de> for J {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<J, E> {
                serde_json::Number::from_f64(n).map(J::Num).ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(J::Arr(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, J>()? {
                    members.push((k, v));
                }
                Ok(J::Obj(members))
            }
        }
        d.deserialize_any(V)
    }
}

impl J {
    fn parse(text: &str) -> J {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            J::Obj(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn get(&self, key: &str) -> &J {
        match self {
            J::Obj(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v).unwrap_or(&J::Null),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn items(&self) -> &[J] {
        match self {
            J::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            J::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    /// The text Python's `json.dumps` (default arguments) writes for this value.
    fn py(&self) -> String {
        let mut out = String::new();
        self.write_py(&mut out);
        out
    }

    fn write_py(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Str(s) => py_str(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_py(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_str(k, out);
                    out.push_str(": ");
                    v.write_py(out);
                }
                out.push('}');
            }
        }
    }
}

/// A string as Python's `json.dumps` writes it with `ensure_ascii`.
fn py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if !(' '..='~').contains(&c) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A 1.0 success reply's result, checked to be exactly `{"result": <python dumps>, "id":
/// <id>, "error": null}`.
fn result_of(request: &str, id: &str) -> J {
    let r = reply(request);
    let prefix = "{\"result\": ";
    let suffix = format!(", \"id\": {id}, \"error\": null}}");
    assert!(r.starts_with(prefix) && r.ends_with(&suffix), "not a 1.0 success reply with id {id}: {r}");
    let text = &r[prefix.len()..r.len() - suffix.len()];
    let result = J::parse(text);
    assert_eq!(result.py(), text, "the result is not spelled the way Python's json.dumps spells it");
    result
}

// ---------------------------------------------------------------------------------------------
// §4: the captured wire examples.

#[test]
fn captured_wire_examples() {
    check_exact(&[
        (
            r#"{"method": "echo", "params": ["Hello Server"], "id": 1}"#,
            Some(r#"{"result": "Hello Server", "id": 1, "error": null}"#),
        ),
        (
            r#"{"method": "echo", "params": [], "id": 20}"#,
            Some(
                r#"{"result": null, "id": 20, "error": {"name": "ParamError", "message": "Expected 1 parameters for 'echo' but got 0"}}"#,
            ),
        ),
        (
            r#"{"method": "add", "params": [4, 8.9], "id": 36}"#,
            Some(
                r#"{"result": null, "id": 36, "error": {"name": "TypeError", "message": "add: Expected value of type 'int' for parameter 'b' but got value of type 'float'"}}"#,
            ),
        ),
        (
            r#"{"method": "echo_ints", "params": [[1,2,"x"]], "id": 10}"#,
            Some(
                r#"{"result": null, "id": 10, "error": {"name": "TypeError", "message": "echo_ints: Expected value of type 'int' for parameter 'ints[2]' but got value of type 'string'"}}"#,
            ),
        ),
        (
            r#"{"method": "hash_echo", "params": [{"number": 42}], "id": 75}"#,
            Some(
                r#"{"result": null, "id": 75, "error": {"name": "TypeError", "message": "hash_echo: Named hash parameter 'address' of type 'Address': Unknown field 'number'"}}"#,
            ),
        ),
        (
            r#"{"method": "echo", "params": ["x"]}"#,
            Some(
                r#"{"result": null, "id": -1, "error": {"name": "InvalidRequest", "message": "Field 'id' missing in request"}}"#,
            ),
        ),
        (
            r#"{"method": "nosuchmethod", "params": [], "id": null}"#,
            Some(
                r#"{"result": null, "error": {"name": "InvalidRequest", "message": "No such method: nosuchmethod. Call '__describe_functions' to get details on available function calls"}}"#,
            ),
        ),
        (
            r#"{"method": "echo", "params": ["h\u00e9llo \u2603"], "id": 1}"#,
            Some(r#"{"result": "h\u00e9llo \u2603", "id": 1, "error": null}"#),
        ),
        // Raw UTF-8 input gives the same reply.
        (
            "{\"method\": \"echo\", \"params\": [\"h\u{e9}llo \u{2603}\"], \"id\": 1}",
            Some(r#"{"result": "h\u00e9llo \u2603", "id": 1, "error": null}"#),
        ),
    ]);
}

/// `--> this is not json` / `<-- {"result": null, "id": -1, "error": {"name":
/// "InvalidRequest", "message": "Received invalid JSON"}}` (also for an empty line, §3 step 1).
#[test]
fn captured_invalid_json() {
    // Unparsable input has no version; by default it is answered in the 2.0 form, and a
    // listener for ReflectRPC clients can opt into ReflectRPC's reply.
    let inputs = ["this is not json", "", "   ", r#"{"method": "echo", "params": ["x"], "id": 1"#];
    let want = err("-1", "InvalidRequest", "Received invalid JSON");
    let cases: Vec<_> = inputs.iter().map(|i| (*i, Some(&*want))).collect();
    check_exact_with(&Config::new().v1_parse_errors(true), &RpcInfo::new(Transport::InProcess), &cases);
    let v2 = r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#;
    let cases: Vec<_> = inputs.iter().map(|i| (*i, Some(v2))).collect();
    check_exact(&cases);
}

// ---------------------------------------------------------------------------------------------
// §3: the request decision procedure, step by step.

#[test]
fn procedure_id_missing() {
    let want = err("-1", "InvalidRequest", "Field 'id' missing in request");
    check_exact(&[
        (r#"{"method": "echo", "params": ["x"]}"#, Some(&*want)),
        ("{}", Some(&*want)),
        // The id check comes before the method and params checks.
        (r#"{"params": 5}"#, Some(&*want)),
        (r#"{"method": 5}"#, Some(&*want)),
    ]);
}

#[test]
fn procedure_id_echo_and_null_id() {
    check_exact(&[
        // Any other id is echoed, re-spelled the way json.dumps spells it.
        (
            r#"{"method": "echo", "params": ["x"], "id": "abcd1234"}"#,
            Some(r#"{"result": "x", "id": "abcd1234", "error": null}"#),
        ),
        (r#"{"method": "echo", "params": ["x"], "id": 3.14}"#, Some(r#"{"result": "x", "id": 3.14, "error": null}"#)),
        (r#"{"method": "echo", "params": ["x"], "id": true}"#, Some(r#"{"result": "x", "id": true, "error": null}"#)),
        (r#"{"method": "echo", "params": ["x"], "id": 0}"#, Some(r#"{"result": "x", "id": 0, "error": null}"#)),
        (
            r#"{"method": "echo", "params": ["x"], "id": [1,2]}"#,
            Some(r#"{"result": "x", "id": [1, 2], "error": null}"#),
        ),
        (r#"{"method":"echo","params":["x"],"id":{"a":1}}"#, Some(r#"{"result": "x", "id": {"a": 1}, "error": null}"#)),
        (
            r#"{"method": "echo", "params": ["x"], "id": "\u00e9\/"}"#,
            Some(r#"{"result": "x", "id": "\u00e9/", "error": null}"#),
        ),
        // `id: null`: request errors are still answered, without an `id` key.
        (
            r#"{"method": "echo", "params": {}, "id": null}"#,
            Some(
                r#"{"result": null, "error": {"name": "InvalidRequest", "message": "Field 'params' must contain an array"}}"#,
            ),
        ),
    ]);
}

#[test]
fn procedure_method_and_params_checks() {
    let method_missing = err("1", "InvalidRequest", "Field 'method' missing in request");
    let method_not_string = err("1", "InvalidRequest", "Field 'method' must contain a string value");
    let params_missing = err("1", "InvalidRequest", "Field 'params' missing in request");
    let params_not_array = err("1", "InvalidRequest", "Field 'params' must contain an array");
    check_exact(&[
        (r#"{"params": [], "id": 1}"#, Some(&*method_missing)),
        (r#"{"id": 1}"#, Some(&*method_missing)),
        (r#"{"method": 5, "params": [], "id": 1}"#, Some(&*method_not_string)),
        (r#"{"method": null, "params": [], "id": 1}"#, Some(&*method_not_string)),
        (r#"{"method": ["echo"], "params": [], "id": 1}"#, Some(&*method_not_string)),
        // The method check comes before the params check.
        (r#"{"method": true, "id": 1}"#, Some(&*method_not_string)),
        (r#"{"method": "echo", "id": 1}"#, Some(&*params_missing)),
        (r#"{"method": "echo", "params": {"message": "x"}, "id": 1}"#, Some(&*params_not_array)),
        (r#"{"method": "echo", "params": "x", "id": 1}"#, Some(&*params_not_array)),
        (r#"{"method": "echo", "params": null, "id": 1}"#, Some(&*params_not_array)),
        (r#"{"method": "echo", "params": 3, "id": 1}"#, Some(&*params_not_array)),
        // Even for an unknown method the params shape is checked first.
        (r#"{"method": "nope", "id": 1}"#, Some(&*params_missing)),
    ]);
}

#[test]
fn procedure_builtins_ignore_params_and_answer_null_ids() {
    for builtin in ["__describe_service", "__describe_functions", "__describe_custom_types"] {
        let plain = reply(&format!(r#"{{"method": "{builtin}", "params": [], "id": 5}}"#));
        let with_params = reply(&format!(r#"{{"method": "{builtin}", "params": [1, "two", {{}}, null], "id": 5}}"#));
        assert_eq!(plain, with_params, "{builtin} must ignore its params");
        let null_id = reply(&format!(r#"{{"method": "{builtin}", "params": ["x"], "id": null}}"#));
        assert_eq!(null_id, plain.replace(", \"id\": 5", ""), "{builtin} with id null: same reply, no id key");
        assert!(!json(&null_id).as_object().unwrap().contains_key("id"), "{null_id}");
    }
}

#[test]
fn procedure_unknown_methods() {
    let no_such = |m: &str| {
        err(
            "7",
            "InvalidRequest",
            &format!("No such method: {m}. Call '__describe_functions' to get details on available function calls"),
        )
    };
    let cases: Vec<(String, String)> = ["ECHO", "__describe_something", "nosuchmethod", "", "rpc.nonexistent"]
        .iter()
        .map(|m| (format!(r#"{{"method": "{m}", "params": [], "id": 7}}"#), no_such(m)))
        .collect();
    let cases: Vec<(&str, Option<&str>)> = cases.iter().map(|(q, a)| (q.as_str(), Some(a.as_str()))).collect();
    check_exact(&cases);
    // The name is quoted as sent, re-spelled in ASCII.
    check_exact(&[(
        r#"{"method": "caf\u00e9\"", "params": [], "id": 7}"#,
        Some(&*err(
            "7",
            "InvalidRequest",
            r#"No such method: caf\u00e9\". Call '__describe_functions' to get details on available function calls"#,
        )),
    )]);
}

#[test]
fn procedure_notifications_to_functions_are_silent() {
    check_exact(&[
        (r#"{"method": "echo", "params": ["x"], "id": null}"#, None),
        (r#"{"method": "notify", "params": ["sent via notify"], "id": null}"#, None),
        // Even when the call fails: bad count, bad type, null, user and internal errors.
        (r#"{"method": "echo", "params": [], "id": null}"#, None),
        (r#"{"method": "add", "params": ["a", 1], "id": null}"#, None),
        (r#"{"method": "add", "params": [null, 1], "id": null}"#, None),
        (r#"{"method": "hash_echo", "params": [{"number": 42}], "id": null}"#, None),
        (r#"{"method": "error.user", "params": [], "id": null}"#, None),
        (r#"{"method": "error.internal", "params": [], "id": null}"#, None),
    ]);
}

#[test]
fn procedure_user_and_internal_errors() {
    check_exact(&[
        (
            r#"{"method": "error.user", "params": [], "id": 1}"#,
            Some(&*err("1", "UserError", "This error was raised on purpose")),
        ),
        (
            r#"{"method": "add", "params": [9223372036854775807, 1], "id": 2}"#,
            Some(&*err("2", "OverflowError", "integer overflow")),
        ),
        (
            r#"{"method": "div", "params": [1.0, 0.0], "id": 3}"#,
            Some(&*err("3", "ZeroDivisionError", "float division by zero")),
        ),
        (
            r#"{"method": "led.get", "params": [4], "id": 4}"#,
            Some(&*err("4", "IndexError", "LED index out of range (0-3)")),
        ),
        (r#"{"method": "error.internal", "params": [], "id": 5}"#, Some(&*err("5", "InternalError", "Internal error"))),
    ]);
    // In debug mode the hidden detail becomes the message.
    let debug = Config::new().expose_internal_errors(true);
    let r = call_with(
        &debug,
        &RpcInfo::new(Transport::InProcess),
        br#"{"method": "error.internal", "params": [], "id": 5}"#,
    )
    .expect("a reply");
    let v = json(&r);
    assert_eq!(v["error"]["name"], "InternalError", "{r}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("error.internal was called"), "{r}");
}

#[test]
fn procedure_extra_and_duplicate_members() {
    check_exact(&[
        // Unknown members are ignored.
        (
            r#"{"method": "echo", "params": ["x"], "id": 1, "version": "1.1", "extra": {"a": [1]}}"#,
            Some(r#"{"result": "x", "id": 1, "error": null}"#),
        ),
        // With duplicate keys the last one wins (Python's json.loads).
        (
            r#"{"method": "nope", "method": "add", "params": [1], "params": [1, 2], "id": 1, "id": 2}"#,
            Some(r#"{"result": 3, "id": 2, "error": null}"#),
        ),
        // Whitespace of any kind, including raw newlines.
        (
            "{\n\t\"method\" :\r\n \"add\" ,\"params\":[ 1 ,\n2 ] , \"id\":9 }\n",
            Some(r#"{"result": 3, "id": 9, "error": null}"#),
        ),
    ]);
}

#[test]
fn rpcinfo_reaches_handlers() {
    let anonymous = RpcInfo::new(Transport::Tcp);
    check_exact_with(
        &Config::new(),
        &anonymous,
        &[
            (
                r#"{"method": "is_authenticated", "params": [], "id": 1}"#,
                Some(r#"{"result": false, "id": 1, "error": null}"#),
            ),
            (
                r#"{"method": "get_username", "params": [], "id": 2}"#,
                Some(r#"{"result": null, "id": 2, "error": null}"#),
            ),
        ],
    );
    let user = RpcInfo::new(Transport::Tls).with_user("example-username");
    check_exact_with(
        &Config::new(),
        &user,
        &[
            (
                r#"{"method": "is_authenticated", "params": [], "id": 1}"#,
                Some(r#"{"result": true, "id": 1, "error": null}"#),
            ),
            (
                r#"{"method": "get_username", "params": [], "id": 2}"#,
                Some(r#"{"result": "example-username", "id": 2, "error": null}"#),
            ),
            // rpcinfo is not a wire parameter: sending one is a count error.
            (
                r#"{"method": "is_authenticated", "params": [{}], "id": 3}"#,
                Some(&*err("3", "ParamError", "Expected 0 parameters for 'is_authenticated' but got 1")),
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// §6/§7: types and error templates.

/// `TypeError` / `<f>: Expected value of type '<declared>' for parameter '<path>' but got value
/// of type '<real>'`.
fn type_error(f: &str, declared: &str, path: &str, real: &str) -> String {
    err(
        "1",
        "TypeError",
        &format!("{f}: Expected value of type '{declared}' for parameter '{path}' but got value of type '{real}'"),
    )
}

#[test]
fn templates_param_count() {
    check_exact(&[
        (
            r#"{"method": "add", "params": [1, 2, 3], "id": 1}"#,
            Some(&*err("1", "ParamError", "Expected 2 parameters for 'add' but got 3")),
        ),
        (
            r#"{"method": "add", "params": [1], "id": 1}"#,
            Some(&*err("1", "ParamError", "Expected 2 parameters for 'add' but got 1")),
        ),
        (
            r#"{"method": "get_data", "params": [1], "id": 1}"#,
            Some(&*err("1", "ParamError", "Expected 0 parameters for 'get_data' but got 1")),
        ),
        // The count is checked before the types.
        (
            r#"{"method": "add", "params": ["x"], "id": 1}"#,
            Some(&*err("1", "ParamError", "Expected 2 parameters for 'add' but got 1")),
        ),
    ]);
}

#[test]
fn templates_primitive_types_are_strict() {
    let cases = [
        (r#"["x", 1]"#, "add", type_error("add", "int", "a", "string")),
        (r#"[true, 1]"#, "add", type_error("add", "int", "a", "bool")),
        (r#"[1, 7.0]"#, "add", type_error("add", "int", "b", "float")),
        (r#"[1, 1e2]"#, "add", type_error("add", "int", "b", "float")),
        (r#"[[1], 1]"#, "add", type_error("add", "int", "a", "array")),
        (r#"[{}, 1]"#, "add", type_error("add", "int", "a", "hash")),
        (r#"[1, 2.5]"#, "div", type_error("div", "float", "a", "int")),
        (r#"[1.5, true]"#, "div", type_error("div", "float", "b", "bool")),
        (r#"[1.5, "2.5"]"#, "div", type_error("div", "float", "b", "string")),
        (r#"[0, 1]"#, "led.set", type_error("led.set", "bool", "on", "int")),
        (r#"[0, "true"]"#, "led.set", type_error("led.set", "bool", "on", "string")),
        (r#"[5]"#, "echo", type_error("echo", "string", "message", "int")),
        (r#"[["x"]]"#, "echo", type_error("echo", "string", "message", "array")),
        (r#"[{"a": 1}]"#, "echo_ints", type_error("echo_ints", "array<int>", "ints", "hash")),
        (r#"["1,2"]"#, "echo_ints", type_error("echo_ints", "array<int>", "ints", "string")),
        (r#"[[1, 2, "x"]]"#, "echo_ints", type_error("echo_ints", "int", "ints[2]", "string")),
        (r#"[[1.5]]"#, "echo_ints", type_error("echo_ints", "int", "ints[0]", "float")),
        (r#"[[0, true]]"#, "echo_ints", type_error("echo_ints", "int", "ints[1]", "bool")),
        (r#"[3]"#, "checksum", type_error("checksum", "base64", "data", "int")),
    ];
    let requests: Vec<String> =
        cases.iter().map(|(p, m, _)| format!(r#"{{"method": "{m}", "params": {p}, "id": 1}}"#)).collect();
    let cases: Vec<(&str, Option<&str>)> =
        requests.iter().zip(&cases).map(|(q, (_, _, want))| (q.as_str(), Some(want.as_str()))).collect();
    check_exact(&cases);
    // The right types are accepted.
    check_exact(&[
        (r#"{"method": "add", "params": [4, -8], "id": 1}"#, Some(r#"{"result": -4, "id": 1, "error": null}"#)),
        (r#"{"method": "div", "params": [1.0, 4e0], "id": 1}"#, Some(r#"{"result": 0.25, "id": 1, "error": null}"#)),
        (
            r#"{"method": "led.set", "params": [1, false], "id": 1}"#,
            Some(r#"{"result": null, "id": 1, "error": null}"#),
        ),
        (r#"{"method": "echo_ints", "params": [[]], "id": 1}"#, Some(r#"{"result": [], "id": 1, "error": null}"#)),
        (
            r#"{"method": "echo_ints", "params": [[1, -2, 3]], "id": 1}"#,
            Some(r#"{"result": [1, -2, 3], "id": 1, "error": null}"#),
        ),
        (
            r#"{"method": "checksum", "params": ["MTIzNDU2Nzg5"], "id": 1}"#,
            Some(r#"{"result": 3421780262, "id": 1, "error": null}"#),
        ),
        (r#"{"method": "temperature", "params": [], "id": 1}"#, Some(r#"{"result": 21.0, "id": 1, "error": null}"#)),
    ]);
}

#[test]
fn templates_int_for_float_when_not_strict() {
    let lenient = Config::new().strict_floats(false);
    check_exact_with(
        &lenient,
        &RpcInfo::new(Transport::InProcess),
        &[
            (r#"{"method": "div", "params": [1, 2], "id": 1}"#, Some(r#"{"result": 0.5, "id": 1, "error": null}"#)),
            (r#"{"method": "div", "params": [3, 2.0], "id": 1}"#, Some(r#"{"result": 1.5, "id": 1, "error": null}"#)),
            // Only int-for-float is relaxed.
            (r#"{"method": "add", "params": [1.0, 2], "id": 1}"#, Some(&*type_error("add", "int", "a", "float"))),
            (r#"{"method": "div", "params": [true, 2.0], "id": 1}"#, Some(&*type_error("div", "float", "a", "bool"))),
        ],
    );
}

#[test]
fn templates_null_is_an_internal_error() {
    let internal = err("1", "InternalError", "Internal error");
    check_exact(&[
        (r#"{"method": "add", "params": [null, 1], "id": 1}"#, Some(&*internal)),
        (r#"{"method": "echo", "params": [null], "id": 1}"#, Some(&*internal)),
        (r#"{"method": "enum_echo", "params": [null], "id": 1}"#, Some(&*internal)),
        (r#"{"method": "hash_echo", "params": [null], "id": 1}"#, Some(&*internal)),
        (r#"{"method": "echo_ints", "params": [[1, null]], "id": 1}"#, Some(&*internal)),
        (
            r#"{"method": "hash_echo", "params": [{"firstname": null, "lastname": "", "street1": "", "street2": "", "zipcode": "", "city": ""}], "id": 1}"#,
            Some(&*internal),
        ),
    ]);
}

#[test]
fn templates_out_of_range_ints() {
    for (params, func) in [
        ("[9223372036854775808, 1]", "add"),
        ("[-9223372036854775809, 1]", "add"),
        ("[1, 123456789012345678901234567890]", "sub"),
        ("[[1, 18446744073709551616]]", "echo_ints"),
    ] {
        let request = format!(r#"{{"method": "{func}", "params": {params}, "id": 1}}"#);
        let message = error_message(&request, "TypeError");
        assert!(message.starts_with(&format!("{func}: ")), "{request}: {message}");
    }
    // The extremes themselves fit.
    check_exact(&[
        (
            r#"{"method": "add", "params": [9223372036854775807, -9223372036854775808], "id": 1}"#,
            Some(r#"{"result": -1, "id": 1, "error": null}"#),
        ),
        (
            r#"{"method": "echo_ints", "params": [[-9223372036854775808]], "id": 1}"#,
            Some(r#"{"result": [-9223372036854775808], "id": 1, "error": null}"#),
        ),
    ]);
}

#[test]
fn templates_enums() {
    let bad_value = |v: &str| {
        err(
            "1",
            "TypeError",
            &format!("enum_echo: '{v}' is not a valid value for parameter 'phone_type' of enum type 'PhoneType'"),
        )
    };
    let bad_type = |t: &str| {
        err(
            "1",
            "TypeError",
            &format!(
                "enum_echo: Enum parameter 'phone_type' requires a value of type 'int' or 'string' but type was '{t}'"
            ),
        )
    };
    check_exact(&[
        (r#"{"method": "enum_echo", "params": [-1], "id": 1}"#, Some(&*bad_value("-1"))),
        (r#"{"method": "enum_echo", "params": [4], "id": 1}"#, Some(&*bad_value("4"))),
        (r#"{"method": "enum_echo", "params": ["BLABLA"], "id": 1}"#, Some(&*bad_value("BLABLA"))),
        (r#"{"method": "enum_echo", "params": ["home"], "id": 1}"#, Some(&*bad_value("home"))),
        (r#"{"method": "enum_echo", "params": [1.5], "id": 1}"#, Some(&*bad_type("float"))),
        (r#"{"method": "enum_echo", "params": [true], "id": 1}"#, Some(&*bad_type("bool"))),
        (r#"{"method": "enum_echo", "params": [[0]], "id": 1}"#, Some(&*bad_type("array"))),
        (r#"{"method": "enum_echo", "params": [{}], "id": 1}"#, Some(&*bad_type("hash"))),
        // A value name or an int value is accepted.
        (r#"{"method": "enum_echo", "params": ["HOME"], "id": 1}"#, Some(r#"{"result": 0, "id": 1, "error": null}"#)),
        (r#"{"method": "enum_echo", "params": ["FAX"], "id": 1}"#, Some(r#"{"result": 3, "id": 1, "error": null}"#)),
        (
            r#"{"method": "enum_echo", "params": ["MOB\u0049LE"], "id": 1}"#,
            Some(r#"{"result": 2, "id": 1, "error": null}"#),
        ),
        (r#"{"method": "enum_echo", "params": [1], "id": 1}"#, Some(r#"{"result": 1, "id": 1, "error": null}"#)),
    ]);
}

const FULL_ADDRESS: &str = r#"{"firstname": "Ada", "lastname": "Lovelace", "street1": "12 St James's Square", "street2": "", "zipcode": "SW1Y", "city": "London"}"#;

#[test]
fn templates_named_hashes() {
    let hash = |tail: &str| {
        err("1", "TypeError", &format!("hash_echo: Named hash parameter 'address' of type 'Address'{tail}"))
    };
    let req = |p: &str| format!(r#"{{"method": "hash_echo", "params": [{p}], "id": 1}}"#);
    let cases = [
        (req(r#""Ada""#), hash(" requires a hash value but got 'string'")),
        (req("[]"), hash(" requires a hash value but got 'array'")),
        (req("7"), hash(" requires a hash value but got 'int'")),
        // The first unknown key in JSON order, even before missing fields.
        (req(r#"{"zz": 1, "firstname": "a", "aa": 2}"#), hash(": Unknown field 'zz'")),
        (req(&FULL_ADDRESS.replace("\"city\"", "\"town\"")), hash(": Unknown field 'town'")),
        // The first missing field in declared order.
        (req(r#"{"city": "x", "firstname": "a", "lastname": "b"}"#), hash(": Missing field 'street1'")),
        (req("{}"), hash(": Missing field 'firstname'")),
        // Then each field's type, with the path `address.field`.
        (req(&FULL_ADDRESS.replace("\"Ada\"", "5")), type_error("hash_echo", "string", "address.firstname", "int")),
        (
            req(&FULL_ADDRESS.replace("\"London\"", "[\"London\"]")),
            type_error("hash_echo", "string", "address.city", "array"),
        ),
    ];
    let cases: Vec<(&str, Option<&str>)> = cases.iter().map(|(q, a)| (q.as_str(), Some(a.as_str()))).collect();
    check_exact(&cases);
    // A complete hash is echoed with its fields in declared order.
    check_exact(&[(
        &req(
            r#"{"city": "London", "zipcode": "SW1Y", "street2": "", "street1": "12 St James's Square", "lastname": "Lovelace", "firstname": "Ada"}"#,
        ),
        Some(&*format!(r#"{{"result": {FULL_ADDRESS}, "id": 1, "error": null}}"#)),
    )]);
}

#[test]
fn reflex_extension_templates_keep_the_style() {
    // Checks reflex adds beyond ReflectRPC: a TypeError whose text starts with the function.
    let too_many: Vec<String> = (0..33).map(|i| i.to_string()).collect();
    for (request, func) in [
        (format!(r#"{{"method": "echo_ints", "params": [[{}]], "id": 1}}"#, too_many.join(", ")), "echo_ints"),
        (r#"{"method": "checksum", "params": ["MTIzNDU2Nzg"], "id": 1}"#.to_owned(), "checksum"),
        (r#"{"method": "checksum", "params": ["!!!!"], "id": 1}"#.to_owned(), "checksum"),
    ] {
        let message = error_message(&request, "TypeError");
        assert!(message.starts_with(&format!("{func}: ")), "{request}: {message}");
    }
}

// ---------------------------------------------------------------------------------------------
// §5: the introspection builtins.

/// ReflectRPC's captured `__describe_functions` result for its example service (§5). The demo
/// words its descriptions differently, but names, types and params of these functions match.
const CAPTURED_FUNCTIONS: &str = r#"[{"name": "echo", "description": "Returns the message it was sent", "result_type": "string", "result_desc": "The message previously received", "params": [{"name": "message", "description": "The message we will send back", "type": "string"}]}, {"name": "add", "description": "Adds two numbers", "result_type": "int", "result_desc": "Sum of the two numbers", "params": [{"name": "a", "description": "First number to add", "type": "int"}, {"name": "b", "description": "Second number to add", "type": "int"}]}, {"name": "sub", "description": "Subtracts one number from another", "result_type": "int", "result_desc": "Difference of the two numbers", "params": [{"name": "a", "description": "Number to subtract from", "type": "int"}, {"name": "b", "description": "Number to subtract", "type": "int"}]}, {"name": "mul", "description": "Multiplies two numbers", "result_type": "int", "result_desc": "Product of the two numbers", "params": [{"name": "a", "description": "First factor", "type": "int"}, {"name": "b", "description": "Second factor", "type": "int"}]}, {"name": "div", "description": "Divide a number by another number", "result_type": "float", "result_desc": "Ratio of the two numbers", "params": [{"name": "a", "description": "Dividend", "type": "float"}, {"name": "b", "description": "Divisor", "type": "float"}]}, {"name": "enum_echo", "description": "Test the phone type enum", "result_type": "int", "result_desc": "Phone type", "params": [{"name": "phone_type", "description": "Type of phone number", "type": "PhoneType"}]}, {"name": "hash_echo", "description": "Test the address hash type", "result_type": "hash", "result_desc": "Address hash", "params": [{"name": "address", "description": "Address hash", "type": "Address"}]}, {"name": "notify", "description": "Test function for notify requests", "result_type": "bool", "result_desc": "", "params": [{"name": "value", "description": "A value to print on the server side", "type": "string"}]}, {"name": "is_authenticated", "description": "Checks if we have an authenticated connection", "result_type": "bool", "result_desc": "The authentication status", "params": []}, {"name": "get_username", "description": "Gets the username of the logged in user", "result_type": "string", "result_desc": "The username of the logged in user", "params": []}, {"name": "echo_ints", "description": "Expects an array of ints and returns it", "result_type": "array<int>", "result_desc": "An array of integers", "params": [{"name": "ints", "description": "An array of ints", "type": "array<int>"}]}]"#;

/// ReflectRPC's captured `__describe_custom_types` result (§5).
const CAPTURED_TYPES: &str = r#"[{"name": "PhoneType", "type": "enum", "description": "Type of a phone number", "values": [{"name": "HOME", "description": "Home phone", "intvalue": 0}, {"name": "WORK", "description": "Work phone", "intvalue": 1}, {"name": "MOBILE", "description": "Mobile phone", "intvalue": 2}, {"name": "FAX", "description": "FAX number", "intvalue": 3}]}, {"name": "Address", "type": "hash", "description": "Street address", "fields": [{"name": "firstname", "type": "string", "description": "First name"}, {"name": "lastname", "type": "string", "description": "Last name"}, {"name": "street1", "type": "string", "description": "First address line"}, {"name": "street2", "type": "string", "description": "Second address line"}, {"name": "zipcode", "type": "string", "description": "Zip code"}, {"name": "city", "type": "string", "description": "City"}]}]"#;

/// `j` with every member named in `drop` replaced by null (to compare all but wording).
fn without(j: &J, drop: &[&str]) -> J {
    match j {
        J::Obj(m) => J::Obj(
            m.iter()
                .map(|(k, v)| (k.clone(), if drop.contains(&k.as_str()) { J::Null } else { without(v, drop) }))
                .collect(),
        ),
        J::Arr(a) => J::Arr(a.iter().map(|v| without(v, drop)).collect()),
        other => other.clone(),
    }
}

#[test]
fn describe_service() {
    let result = result_of(r#"{"method": "__describe_service", "params": [], "id": 1}"#, "1");
    assert_eq!(result.keys(), ["name", "description", "version", "custom_fields"]);
    let d = desc();
    assert_eq!(result.get("name").str(), d.name);
    assert_eq!(result.get("name").str(), "reflex demo device");
    assert_eq!(result.get("version").str(), d.version);
    assert_eq!(result.get("description").str(), d.description);
    assert!(!d.description.is_empty());
    // custom_fields: the declared object, its member order kept.
    assert_eq!(result.get("custom_fields"), &J::parse(d.custom_fields));
    assert_eq!(result.get("custom_fields").keys(), ["project", "leds"]);
}

#[test]
fn describe_functions() {
    let result = result_of(r#"{"method": "__describe_functions", "params": [], "id": 2}"#, "2");
    let functions = result.items();
    let d = desc();
    let names: Vec<&str> = functions.iter().map(|f| f.get("name").str()).collect();
    let declared: Vec<&str> = d.functions.iter().map(|f| f.name).collect();
    assert_eq!(names, declared, "registration order");
    for f in functions {
        assert_eq!(f.keys(), ["name", "description", "result_type", "result_desc", "params"], "{f:?}");
        assert!(!f.get("description").str().is_empty(), "{f:?}");
        let _ = f.get("result_desc").str();
        let _ = f.get("result_type").str();
        for p in f.get("params").items() {
            assert_eq!(p.keys(), ["name", "description", "type"], "{p:?}");
            assert!(!p.get("description").str().is_empty(), "{p:?}");
        }
    }
    // The functions the demo shares with ReflectRPC's example service are described exactly
    // like them, wording aside.
    let captured = J::parse(CAPTURED_FUNCTIONS);
    let ours = J::Arr(functions[..captured.items().len()].to_vec());
    assert_eq!(without(&ours, &["description", "result_desc"]), without(&captured, &["description", "result_desc"]));
    // Types of the demo's own functions.
    let type_of = |name: &str| {
        let f = functions.iter().find(|f| f.get("name").str() == name).unwrap_or_else(|| panic!("{name} missing"));
        let params: Vec<String> = f
            .get("params")
            .items()
            .iter()
            .map(|p| format!("{}: {}", p.get("name").str(), p.get("type").str()))
            .collect();
        format!("({}) -> {}", params.join(", "), f.get("result_type").str())
    };
    assert_eq!(type_of("subtract"), "(minuend: int, subtrahend: int) -> int");
    assert_eq!(type_of("led.set"), "(index: int, on: bool) -> null");
    assert_eq!(type_of("device.info"), "() -> DeviceInfo");
    assert_eq!(type_of("checksum"), "(data: base64) -> int");
    assert_eq!(type_of("get_data"), "() -> array");
    assert!(!functions
        .iter()
        .any(|f| f.get("name").str().starts_with("__describe") || f.get("name").str() == "rpc.discover"));
}

#[test]
fn describe_custom_types() {
    let result = result_of(r#"{"method": "__describe_custom_types", "params": [], "id": 3}"#, "3");
    let types = result.items();
    let names: Vec<&str> = types.iter().map(|t| t.get("name").str()).collect();
    assert_eq!(names, ["PhoneType", "Address", "DeviceInfo"]);
    let phone = &types[0];
    assert_eq!(phone.keys(), ["name", "type", "description", "values"]);
    assert_eq!(phone.get("type").str(), "enum");
    for v in phone.get("values").items() {
        assert_eq!(v.keys(), ["name", "description", "intvalue"]);
    }
    for t in &types[1..] {
        assert_eq!(t.keys(), ["name", "type", "description", "fields"]);
        assert_eq!(t.get("type").str(), "hash");
        for f in t.get("fields").items() {
            assert_eq!(f.keys(), ["name", "type", "description"]);
            assert!(!f.get("description").str().is_empty(), "{f:?}");
        }
    }
    // PhoneType and Address are ReflectRPC's, wording aside.
    let captured = J::parse(CAPTURED_TYPES);
    assert_eq!(without(&J::Arr(types[..2].to_vec()), &["description"]), without(&captured, &["description"]));
    let fields: Vec<String> = types[2]
        .get("fields")
        .items()
        .iter()
        .map(|f| format!("{}: {}", f.get("name").str(), f.get("type").str()))
        .collect();
    assert_eq!(
        fields,
        ["model: string", "firmware_version: string", "led_count: int", "uptime_seconds: int", "float_support: bool"]
    );
}

#[test]
fn describe_results_are_the_same_in_both_dialects() {
    for builtin in ["__describe_service", "__describe_functions", "__describe_custom_types"] {
        let v1 = json(&reply(&format!(r#"{{"method": "{builtin}", "params": [], "id": 1}}"#)));
        let v2 = json(&reply(&format!(r#"{{"jsonrpc": "2.0", "method": "{builtin}", "id": 1}}"#)));
        assert_eq!(v1["result"], v2["result"], "{builtin}");
        assert_eq!(v1["error"], Value::Null);
    }
}
