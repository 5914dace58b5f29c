//! Runtime checks of what `#[derive(reflex::Type)]` and `#[reflex::service]` put in the
//! static tables: names, docs, types, ids, enum values, field order, `cfg`-removed functions.

// `reflex::Error` is large by design (its message is inline; there is no allocator).

use reflex::schema::{IntKind, ServiceDesc, TypeDesc};
use reflex::{Describe, Error, RpcInfo, Service};

/// A level.
///
/// Values are sent by name or number.
#[derive(reflex::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)]
enum Level {
    /// The lowest.
    Low,
    /// Explicitly five.
    Mid = 5,
    /// Follows `Mid`.
    High,
    /// Renamed on the wire.
    #[reflex(rename = "max")]
    Max = 10,
}

/// A postal address.
#[derive(reflex::Type, Debug, PartialEq)]
#[reflex(name = "PostalAddress")]
struct Address<'a> {
    /// Given name,
    /// spanning two lines.
    firstname: &'a str,
    /// Family name.
    lastname: &'a str,
    /// ZIP code, renamed.
    #[reflex(rename = "zip")]
    zipcode: &'a str,
    level: Level,
}

/// Static facts.
#[derive(reflex::Type)]
struct Facts {
    model: &'static str,
    count: u8,
}

struct Calc;

/// A calculator.
///
/// Second paragraph.
#[reflex::service(
    name = "calc",
    version = "0.1.0",
    types(Level, Address, Facts),
    custom_fields = r#"{ "board": "x y", "n": [1, 2] }"#
)]
impl Calc {
    /// Adds two
    /// numbers.
    ///
    /// - `a`: the first number
    /// - `b`: the second number
    ///
    /// Returns: the sum
    fn add(&self, a: i64, b: i64) -> Result<i64, Error> {
        a.checked_add(b).ok_or_else(|| Error::new("OverflowError", "integer overflow"))
    }

    /// Echoes a level as its number.
    ///
    /// * level: the level
    #[rpc(name = "level.get")]
    fn level(&self, level: Level) -> i64 {
        level as i64
    }

    /// Never compiled in.
    #[cfg(any())]
    fn gone(&self) {}

    /// Whether the caller is authenticated.
    fn authenticated(&self, info: &RpcInfo<'_>) -> bool {
        info.authenticated
    }

    #[rpc(skip)]
    #[allow(dead_code)]
    fn helper(&self) -> u8 {
        1
    }

    /// Waits, then answers.
    ///
    /// # Returns
    ///
    /// Always 7.
    async fn slow(&self) -> u8 {
        7
    }

    /// Returns the address.
    #[rpc(result_type = "hash")]
    fn addr<'a>(&self, address: Address<'a>, info: &RpcInfo<'_>) -> Address<'a> {
        let _ = info;
        address
    }

    /// Takes a value and ignores it.
    ///
    /// - value - ignored
    fn nothing(&self, _value: i32) {}

    fn facts(&self) -> Facts {
        Facts { model: "m", count: 1 }
    }
}

const DESC: &ServiceDesc = <Calc as Service>::DESC;

#[test]
fn service_header() {
    assert_eq!(DESC.name, "calc");
    assert_eq!(DESC.version, "0.1.0");
    assert_eq!(DESC.description, "A calculator.\nSecond paragraph.");
    assert_eq!(DESC.custom_fields, r#"{"board":"x y","n":[1,2]}"#);
    let types: Vec<_> = DESC.types.iter().map(|t| t.custom_name().unwrap()).collect();
    assert_eq!(types, ["Level", "PostalAddress", "Facts"]);
}

#[test]
fn functions_names_ids_and_cfg() {
    let names: Vec<_> = DESC.functions.iter().map(|f| (f.name, f.id)).collect();
    // `gone` (id 2) is compiled out; the ids after it do not move; `helper` is skipped.
    assert_eq!(
        names,
        [("add", 0), ("level.get", 1), ("authenticated", 3), ("slow", 4), ("addr", 5), ("nothing", 6), ("facts", 7)]
    );
    assert!(DESC.function(b"gone").is_none());
    assert!(DESC.function(b"helper").is_none());
}

#[test]
fn function_docs_and_types() {
    let add = DESC.function(b"add").unwrap();
    assert_eq!(add.description, "Adds two numbers.");
    assert_eq!(add.result_desc, "the sum");
    assert!(matches!(add.result, TypeDesc::Int(IntKind::I64)));
    let params: Vec<_> = add.params.iter().map(|p| (p.name, p.description)).collect();
    assert_eq!(params, [("a", "the first number"), ("b", "the second number")]);

    let level = DESC.function(b"level.get").unwrap();
    assert_eq!(level.description, "Echoes a level as its number.");
    assert_eq!(level.params[0].description, "the level");
    assert!(matches!(level.params[0].ty, TypeDesc::Enum(e) if e.name == "Level"));

    // The call context is not a wire parameter.
    let auth = DESC.function(b"authenticated").unwrap();
    assert!(auth.params.is_empty());
    assert!(matches!(auth.result, TypeDesc::Bool));

    let slow = DESC.function(b"slow").unwrap();
    assert_eq!(slow.result_desc, "Always 7.");
    assert!(matches!(slow.result, TypeDesc::Int(IntKind::U8)));

    let addr = DESC.function(b"addr").unwrap();
    assert!(matches!(addr.result, TypeDesc::Hash));
    assert_eq!(addr.params.len(), 1);
    assert!(matches!(addr.params[0].ty, TypeDesc::NamedHash(h) if h.name == "PostalAddress"));

    let nothing = DESC.function(b"nothing").unwrap();
    assert!(matches!(nothing.result, TypeDesc::Null));
    assert_eq!(nothing.params[0].name, "value");
    assert_eq!(nothing.params[0].description, "ignored");
    assert!(matches!(nothing.params[0].ty, TypeDesc::Int(IntKind::I32)));

    let facts = DESC.function(b"facts").unwrap();
    assert_eq!(facts.description, "");
    assert!(matches!(facts.result, TypeDesc::NamedHash(h) if h.name == "Facts"));
}

#[test]
fn enum_descriptor() {
    let TypeDesc::Enum(e) = Level::TYPE else { panic!("not an enum") };
    assert_eq!(e.name, "Level");
    assert_eq!(e.description, "A level.\nValues are sent by name or number.");
    let values: Vec<_> = e.values.iter().map(|v| (v.name, v.intvalue, v.description)).collect();
    assert_eq!(
        values,
        [
            ("Low", 0, "The lowest."),
            ("Mid", 5, "Explicitly five."),
            ("High", 6, "Follows `Mid`."),
            ("max", 10, "Renamed on the wire.")
        ]
    );
}

#[test]
fn hash_descriptor() {
    let TypeDesc::NamedHash(h) = Address::TYPE else { panic!("not a named hash") };
    assert_eq!(h.name, "PostalAddress");
    assert_eq!(h.description, "A postal address.");
    let fields: Vec<_> = h.fields.iter().map(|f| (f.name, f.description)).collect();
    assert_eq!(
        fields,
        [
            ("firstname", "Given name, spanning two lines."),
            ("lastname", "Family name."),
            ("zip", "ZIP code, renamed."),
            ("level", "")
        ]
    );
    assert!(matches!(h.fields[0].ty, TypeDesc::String(None)));
    assert!(matches!(h.fields[3].ty, TypeDesc::Enum(e) if e.name == "Level"));
}

#[test]
fn serialize_derived_types() {
    let a = Address { firstname: "Ada", lastname: "Lovelace", zipcode: "W1", level: Level::High };
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        r#"{"firstname":"Ada","lastname":"Lovelace","zip":"W1","level":"High"}"#
    );
    assert_eq!(serde_json::to_string(&Level::Max).unwrap(), r#""max""#);
    assert_eq!(serde_json::to_string(&Facts { model: "m", count: 3 }).unwrap(), r#"{"model":"m","count":3}"#);
}

/// A service over a generic parameter, with a where clause.
struct Generic<T> {
    value: T,
}

#[reflex::service(name = "generic", version = "1")]
impl<T: Copy + Into<i64>> Generic<T>
where
    T: Sync,
{
    /// The value.
    fn get(&self) -> i64 {
        self.value.into()
    }

    /// Echoes a list.
    fn list(&self, items: heapless::Vec<u16, 4>) -> heapless::Vec<u16, 4> {
        items
    }
}

#[test]
fn generic_service() {
    let d = <Generic<u8> as Service>::DESC;
    assert_eq!(d.name, "generic");
    assert_eq!(d.custom_fields, "{}");
    assert_eq!(d.functions.len(), 2);
    assert!(matches!(d.functions[1].params[0].ty, TypeDesc::ArrayOf(TypeDesc::Int(IntKind::U16), Some(4))));
    assert_eq!(Generic { value: 3u8 }.get(), 3);
}

/// Calls `Calc` through the engine and returns the parsed reply.
fn call(request: &str, info: &RpcInfo<'_>) -> serde_json::Value {
    let mut scratch = [0u8; 256];
    let mut out = [0u8; 1024];
    let n =
        reflex::io::handle_to_slice(&Calc, &reflex::Config::new(), request.as_bytes(), &mut scratch, info, &mut out)
            .expect("reply fits");
    serde_json::from_slice(&out[..n]).expect("reply is JSON")
}

fn result(request: &str) -> serde_json::Value {
    let reply = call(request, &RpcInfo::new(reflex::Transport::InProcess));
    reply.get("result").cloned().unwrap_or_else(|| panic!("no result in {reply}"))
}

#[test]
fn dispatch_through_the_engine() {
    assert_eq!(result(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}"#), 5);
    assert_eq!(result(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"b":3,"a":4}}"#), 7);
    // Enum values decode by name and by number.
    assert_eq!(result(r#"{"jsonrpc":"2.0","id":1,"method":"level.get","params":["High"]}"#), 6);
    assert_eq!(result(r#"{"jsonrpc":"2.0","id":1,"method":"level.get","params":[10]}"#), 10);
    assert_eq!(result(r#"{"jsonrpc":"2.0","id":1,"method":"level.get","params":["max"]}"#), 10);
    // A named hash decodes field by field (renamed fields by their wire name).
    assert_eq!(
        result(
            r#"{"jsonrpc":"2.0","id":1,"method":"addr","params":[{"firstname":"A","lastname":"B","zip":"Z","level":"Mid"}]}"#
        ),
        serde_json::json!({"firstname": "A", "lastname": "B", "zip": "Z", "level": "Mid"})
    );
    assert_eq!(result(r#"{"jsonrpc":"2.0","id":1,"method":"slow","params":[]}"#), 7);
    assert_eq!(result(r#"{"jsonrpc":"2.0","id":1,"method":"nothing","params":[1]}"#), serde_json::Value::Null);
    assert_eq!(
        result(r#"{"jsonrpc":"2.0","id":1,"method":"facts","params":[]}"#),
        serde_json::json!({"model": "m", "count": 1})
    );

    let alice = RpcInfo::new(reflex::Transport::InProcess).with_user("alice");
    let reply = call(r#"{"jsonrpc":"2.0","id":1,"method":"authenticated","params":[]}"#, &alice);
    assert_eq!(reply["result"], true);
}

#[test]
fn dispatch_errors() {
    let info = RpcInfo::new(reflex::Transport::InProcess);
    // A handler's visible error.
    let reply = call(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[9223372036854775807,1]}"#, &info);
    assert!(reply["error"].to_string().contains("integer overflow"), "{reply}");
    // A compiled-out function does not exist.
    let reply = call(r#"{"jsonrpc":"2.0","id":1,"method":"gone","params":[]}"#, &info);
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    // An undeclared enum value is rejected by the checker before the handler runs.
    let reply = call(r#"{"jsonrpc":"2.0","id":1,"method":"level.get","params":[4]}"#, &info);
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
}

/// Results that cannot be written as JSON, and results that always can.
struct Results;

/// Serializes two fields, then fails: a reply cut after its first bytes.
struct HalfThenFail;

impl serde::Serialize for HalfThenFail {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = s.serialize_seq(None)?;
        seq.serialize_element(&1)?;
        seq.serialize_element(&2)?;
        Err(S::Error::custom("gave up half-way"))
    }
}

impl Describe for HalfThenFail {
    const TYPE: &'static TypeDesc = &TypeDesc::Array;
}

#[reflex::service(name = "results", version = "1")]
impl Results {
    /// Not a number: no JSON form, written as `null` (as serde_json does).
    fn nan(&self) -> f64 {
        f64::NAN
    }

    /// Fails in the middle of serializing.
    fn half(&self) -> HalfThenFail {
        HalfThenFail
    }

    /// Fails in the middle of serializing, inside `Ok`.
    fn half_ok(&self) -> Result<HalfThenFail, Error> {
        Ok(HalfThenFail)
    }

    /// Nested values that always serialize (written without a trial run).
    fn nested(&self) -> [Option<&'static str>; 3] {
        [Some("a\"b"), None, Some("\u{e9}")]
    }

    /// A heapless vector of numbers.
    fn list(&self) -> heapless::Vec<u16, 4> {
        heapless::Vec::from_slice(&[1, 2, 3]).unwrap_or_default()
    }
}

/// The exact reply bytes of `Results` to `request`, for 2.0 and 1.0 and in a batch.
fn results_reply(request: &str) -> String {
    let mut scratch = [0u8; 64];
    let mut out = [0u8; 512];
    let info = RpcInfo::new(reflex::Transport::InProcess);
    let n = reflex::io::handle_to_slice(
        &Results,
        &reflex::Config::new(),
        request.as_bytes(),
        &mut scratch,
        &info,
        &mut out,
    )
    .expect("reply fits");
    String::from_utf8(out[..n].to_vec()).expect("UTF-8")
}

#[test]
fn results_that_cannot_be_serialized_are_internal_errors_with_nothing_partial() {
    let internal = r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":1}"#;
    assert_eq!(
        results_reply(r#"{"jsonrpc":"2.0","method":"nan","id":1}"#),
        r#"{"jsonrpc":"2.0","result":null,"id":1}"#
    );
    for m in ["half", "half_ok"] {
        assert_eq!(results_reply(&format!(r#"{{"jsonrpc":"2.0","method":"{m}","id":1}}"#)), internal, "{m}");
        assert_eq!(
            results_reply(&format!(r#"{{"method":"{m}","params":[],"id":1}}"#)),
            r#"{"result": null, "id": 1, "error": {"name": "InternalError", "message": "Internal error"}}"#,
            "{m}"
        );
    }
    assert_eq!(
        results_reply(r#"[{"jsonrpc":"2.0","method":"half","id":1},{"jsonrpc":"2.0","method":"list","id":2}]"#),
        format!(r#"[{internal},{{"jsonrpc":"2.0","result":[1,2,3],"id":2}}]"#)
    );
    assert_eq!(
        results_reply(r#"{"jsonrpc":"2.0","method":"nested","id":"x"}"#),
        r#"{"jsonrpc":"2.0","result":["a\"b",null,"é"],"id":"x"}"#
    );
    assert_eq!(
        results_reply(r#"{"method":"nested","params":[],"id":2}"#),
        r#"{"result": ["a\"b", null, "\u00e9"], "id": 2, "error": null}"#
    );
}
