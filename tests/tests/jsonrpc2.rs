//! JSON-RPC 2.0 behaviour of the demo service in process: the edge cases of `jsonrpc.md` §4
//! (ids of every kind echoed byte for byte, invalid requests, batches, notifications), by-name
//! parameters, escaped names, duplicate keys, error objects, the authentication context and
//! the OpenRPC document of `rpc.discover`.

use std::collections::BTreeSet;

use reflex::{Config, RpcInfo, Service, Transport};
use reflex_demo::{Demo, NoPlatform};
use reflex_tests::{call, call_with, json};
use serde_json::{json as j, Value};

const INVALID_REQUEST: &str = r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}"#;
const PARSE_ERROR: &str = r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#;

/// Checks every `(request, expected reply bytes)` pair (`None`: no reply) and reports all
/// mismatches at once.
fn check_exact(cases: &[(&str, Option<&str>)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(request, want)| {
            let got = call(request);
            (got.as_deref() != *want).then(|| format!("--> {request}\n    want {want:?}\n    got  {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// The reply to a request that must be answered, parsed.
fn reply(request: &str) -> Value {
    json(&call(request).unwrap_or_else(|| panic!("no reply to {request}")))
}

/// `{"jsonrpc":"2.0","error":{"code":<code>,…},"id":<id>}` check, ignoring `data`; returns
/// the error object.
fn expect_error(request: &str, code: i64, id: Value) -> Value {
    let v = reply(request);
    assert_eq!(v["jsonrpc"], "2.0", "{request} -> {v}");
    assert_eq!(v["error"]["code"], code, "{request} -> {v}");
    assert_eq!(v["id"], id, "{request} -> {v}");
    assert!(v.get("result").is_none(), "error replies have no result: {request} -> {v}");
    v["error"].clone()
}

fn subtract_with_id(id: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":{id}}}"#)
}

// ---------------------------------------------------------------------------------------------
// Ids.

#[test]
fn ids_of_every_valid_kind_are_echoed_byte_for_byte() {
    let ids = [
        r#""abc""#,
        "null",
        "1.5",
        "0",
        "-7",
        "-0",
        "1E+2",
        "2.50e-3",
        "123456789012345678901234567890",
        "1e400",
        r#""""#,
        r#""a\u00e9\"b\\/\/""#,
        "\"h\u{e9}llo \u{2603}\"",
    ];
    let cases: Vec<(String, String)> =
        ids.iter().map(|id| (subtract_with_id(id), format!(r#"{{"jsonrpc":"2.0","result":19,"id":{id}}}"#))).collect();
    let cases: Vec<(&str, Option<&str>)> = cases.iter().map(|(q, a)| (q.as_str(), Some(a.as_str()))).collect();
    check_exact(&cases);
}

#[test]
fn ids_that_are_not_scalars_are_invalid() {
    for id in ["{}", "[1]", "[]", r#"{"a":1}"#, "true", "false"] {
        check_exact(&[(&subtract_with_id(id), Some(INVALID_REQUEST))]);
    }
}

// ---------------------------------------------------------------------------------------------
// Invalid requests.

#[test]
fn wrong_jsonrpc_versions_are_invalid_and_echo_a_readable_id() {
    for version in [r#""2.1""#, "2.0", "2", r#""1.0""#, "null", r#""""#, r#"["2.0"]"#] {
        let request = format!(r#"{{"jsonrpc":{version},"method":"subtract","params":[42,23],"id":7}}"#);
        check_exact(&[(
            &request,
            Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":7}"#),
        )]);
    }
    // An unreadable id is replaced by null.
    check_exact(&[(r#"{"jsonrpc":"2.1","method":"subtract","params":[42,23],"id":{}}"#, Some(INVALID_REQUEST))]);
}

#[test]
fn method_and_params_must_be_well_formed() {
    let invalid_7 = r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":7}"#;
    check_exact(&[
        (r#"{"jsonrpc":"2.0","params":[42,23],"id":7}"#, Some(invalid_7)),
        (r#"{"jsonrpc":"2.0","method":5,"id":7}"#, Some(invalid_7)),
        (r#"{"jsonrpc":"2.0","method":null,"id":7}"#, Some(invalid_7)),
        (r#"{"jsonrpc":"2.0","method":["subtract"],"id":7}"#, Some(invalid_7)),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":42,"id":7}"#, Some(invalid_7)),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":"x","id":7}"#, Some(invalid_7)),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":null,"id":7}"#, Some(invalid_7)),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":true,"id":7}"#, Some(invalid_7)),
    ]);
}

/// An invalid request object without an id is not a notification: it gets -32600 with id null
/// (spec §5 and the spec's "invalid Request object" example).
#[test]
fn invalid_requests_without_id_are_answered() {
    check_exact(&[
        (r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#, Some(INVALID_REQUEST)),
        (r#"{"jsonrpc":"2.0"}"#, Some(INVALID_REQUEST)),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":42}"#, Some(INVALID_REQUEST)),
        (r#"{"jsonrpc":"2.1","method":"subtract","params":[42,23]}"#, Some(INVALID_REQUEST)),
        (r#"[{"jsonrpc":"2.0","method":1}]"#, Some(&format!("[{INVALID_REQUEST}]"))),
    ]);
}

#[test]
fn non_object_requests_and_unparsable_text() {
    check_exact(&[
        ("1", Some(INVALID_REQUEST)),
        ("null", Some(INVALID_REQUEST)),
        (r#""x""#, Some(INVALID_REQUEST)),
        ("true", Some(INVALID_REQUEST)),
        (" 3.5 ", Some(INVALID_REQUEST)),
        ("[]", Some(INVALID_REQUEST)),
        ("", Some(PARSE_ERROR)),
        ("  \r\n ", Some(PARSE_ERROR)),
        (r#"{"jsonrpc":"2.0","method":"subtract""#, Some(PARSE_ERROR)),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":[1,2],"id":1}}"#, Some(PARSE_ERROR)),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":[1,2],"id":1} x"#, Some(PARSE_ERROR)),
        (r#"[{"jsonrpc":"2.0","method":"subtract","params":[1,2],"id":1}"#, Some(PARSE_ERROR)),
        ("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"\u{1}\"],\"id\":1}", Some(PARSE_ERROR)),
        ("[1,]", Some(PARSE_ERROR)),
        ("NaN", Some(PARSE_ERROR)),
    ]);
    // `{}` has no `jsonrpc` member, so it is a (ReflectRPC) 1.0 request without an id.
    check_exact(&[(
        "{}",
        Some(
            r#"{"result": null, "id": -1, "error": {"name": "InvalidRequest", "message": "Field 'id' missing in request"}}"#,
        ),
    )]);
}

// ---------------------------------------------------------------------------------------------
// Methods and params.

#[test]
fn successful_calls() {
    check_exact(&[
        (r#"{"jsonrpc":"2.0","method":"get_data","id":1}"#, Some(r#"{"jsonrpc":"2.0","result":["hello",5],"id":1}"#)),
        (
            r#"{"jsonrpc":"2.0","method":"get_data","params":[],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":["hello",5],"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"get_data","params":{},"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":["hello",5],"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"update","params":[1,2,3,4,5],"id":13}"#,
            Some(r#"{"jsonrpc":"2.0","result":null,"id":13}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"}"#,
            Some(r#"{"jsonrpc":"2.0","result":7,"id":"1"}"#),
        ),
        // An extra unknown member is ignored.
        (
            r#"{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1,"extra":{"a":[1]}}"#,
            Some(r#"{"jsonrpc":"2.0","result":19,"id":1}"#),
        ),
        // Member order does not matter.
        (
            r#"{"id":1,"params":[42,23],"method":"subtract","jsonrpc":"2.0"}"#,
            Some(r#"{"jsonrpc":"2.0","result":19,"id":1}"#),
        ),
        // 2.0 output is compact and passes UTF-8 through.
        (
            "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"h\\u00e9llo \u{2603}\"],\"id\":1}",
            Some("{\"jsonrpc\":\"2.0\",\"result\":\"h\u{e9}llo \u{2603}\",\"id\":1}"),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"echo","params":["q\"b\\s\n\u0001"],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":"q\"b\\s\n\u0001","id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"device.info","id":1}"#,
            Some(
                r#"{"jsonrpc":"2.0","result":{"model":"generic","firmware_version":"0.1.0","led_count":4,"uptime_seconds":0,"float_support":true},"id":1}"#,
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"div","params":[1.0,3.0],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":0.3333333333333333,"id":1}"#),
        ),
        (r#"{"jsonrpc":"2.0","method":"fast_operation","id":1}"#, Some(r#"{"jsonrpc":"2.0","result":41,"id":1}"#)),
        (r#"{"jsonrpc":"2.0","method":"slow_operation","id":1}"#, Some(r#"{"jsonrpc":"2.0","result":42,"id":1}"#)),
    ]);
}

#[test]
fn unknown_methods() {
    for method in ["Subtract", "rpc.nonexistent", "foobar", "foo.get", "", "__describe_something", "rpc.Discover"] {
        let request = format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":[42,23],"id":"m"}}"#);
        check_exact(&[(
            &request,
            Some(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"m"}"#),
        )]);
    }
}

#[test]
fn invalid_params_carry_the_text_in_data() {
    let cases = [
        (r#"[42]"#, "Expected 2 parameters for 'subtract' but got 1"),
        (r#"[42,23,1]"#, "Expected 2 parameters for 'subtract' but got 3"),
        (r#"{"minuend":42,"subtrahendd":23}"#, "subtract: Unknown parameter 'subtrahendd'"),
        (r#"{"minuend":42}"#, "subtract: Missing parameter 'subtrahend'"),
        (r#"{}"#, "subtract: Missing parameter 'minuend'"),
        (
            r#"{"minuend":"42","subtrahend":23}"#,
            "subtract: Expected value of type 'int' for parameter 'minuend' but got value of type 'string'",
        ),
        (
            r#"[42,2.5]"#,
            "subtract: Expected value of type 'int' for parameter 'subtrahend' but got value of type 'float'",
        ),
        (r#"[null,1]"#, "subtract: Expected value of type 'int' for parameter 'minuend' but got value of type 'null'"),
    ];
    let mut failures = Vec::new();
    for (params, data) in cases {
        let request = format!(r#"{{"jsonrpc":"2.0","method":"subtract","params":{params},"id":5}}"#);
        let want = format!(
            r#"{{"jsonrpc":"2.0","error":{{"code":-32602,"message":"Invalid params","data":"{data}"}},"id":5}}"#
        );
        let got = call(&request);
        if got.as_deref() != Some(want.as_str()) {
            failures.push(format!("--> {request}\n    want {want}\n    got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Custom types by name.
    let e =
        expect_error(r#"{"jsonrpc":"2.0","method":"enum_echo","params":{"phone_type":"home"},"id":1}"#, -32602, j!(1));
    assert_eq!(e["data"], "enum_echo: 'home' is not a valid value for parameter 'phone_type' of enum type 'PhoneType'");
    let e = expect_error(
        r#"{"jsonrpc":"2.0","method":"hash_echo","params":{"address":{"number":42}},"id":1}"#,
        -32602,
        j!(1),
    );
    assert_eq!(e["data"], "hash_echo: Named hash parameter 'address' of type 'Address': Unknown field 'number'");
}

#[test]
fn notifications_are_never_answered() {
    check_exact(&[
        (r#"{"jsonrpc":"2.0","method":"subtract","params":[42,23]}"#, None),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":[42]}"#, None),
        (r#"{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1}}"#, None),
        (r#"{"jsonrpc":"2.0","method":"foobar"}"#, None),
        (r#"{"jsonrpc":"2.0","method":"error.user"}"#, None),
        (r#"{"jsonrpc":"2.0","method":"error.internal"}"#, None),
        (r#"{"jsonrpc":"2.0","method":"rpc.discover"}"#, None),
        (r#"{"jsonrpc":"2.0","method":"__describe_functions"}"#, None),
        (r#"{"jsonrpc":"2.0","method":"notify_hello","params":[7]}"#, None),
    ]);
}

#[test]
fn by_name_params() {
    check_exact(&[
        (
            r#"{"jsonrpc":"2.0","method":"subtract","params":{"subtrahend":23,"minuend":42},"id":3}"#,
            Some(r#"{"jsonrpc":"2.0","result":19,"id":3}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"enum_echo","params":{"phone_type":"FAX"},"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"enum_echo","params":{"phone_type":2},"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":2,"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"hash_echo","params":{"address":{"city":"C","zipcode":"Z","street2":"","street1":"S","lastname":"L","firstname":"F"}},"id":1}"#,
            Some(
                r#"{"jsonrpc":"2.0","result":{"firstname":"F","lastname":"L","street1":"S","street2":"","zipcode":"Z","city":"C"},"id":1}"#,
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"led.get","params":{"index":0},"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":false,"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"echo_ints","params":{"ints":[3,2,1]},"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":[3,2,1],"id":1}"#),
        ),
        // A repeated parameter name: the last one wins.
        (
            r#"{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1,"subtrahend":23,"minuend":42},"id":3}"#,
            Some(r#"{"jsonrpc":"2.0","result":19,"id":3}"#),
        ),
        // Escaped parameter names match.
        (
            r#"{"jsonrpc":"2.0","method":"subtract","params":{"m\u0069nuend":42,"subtrahend":23},"id":3}"#,
            Some(r#"{"jsonrpc":"2.0","result":19,"id":3}"#),
        ),
    ]);
}

#[test]
fn escaped_names_and_duplicate_members() {
    check_exact(&[
        (
            r#"{"jsonrpc":"2.0","method":"a\u0064d","params":[1,2],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"\u0061\u0064\u0064","params":[1,2],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"led\u002eget","params":[0],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":false,"id":1}"#),
        ),
        (
            r#"{"jsonrpc":"\u0032.0","method":"add","params":[1,2],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#),
        ),
        (
            r#"{"jsonr\u0070c":"2.0","m\u0065thod":"add","p\u0061rams":[1,2],"\u0069d":7}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":7}"#),
        ),
        // Duplicate members: the last one wins.
        (
            r#"{"jsonrpc":"2.0","method":"echo","method":"add","params":["x"],"params":[1,2],"id":1,"id":2}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":2}"#),
        ),
        (
            r#"{"jsonrpc":"1.0","jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#),
        ),
    ]);
    // Spaces before the colons (the keys then take the general path), and keys that only
    // start like the envelope's.
    check_exact(&[
        (
            r#"{ "jsonrpc" : "2.0" , "method" : "add" , "params" : [1,2] , "id" : 5 }"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":5}"#),
        ),
        (
            r#"{"jsonrpc":"2.0","methods":"echo","method":"add","idx":9,"params":[1,2],"id":5,"i":1}"#,
            Some(r#"{"jsonrpc":"2.0","result":3,"id":5}"#),
        ),
        (r#"{"jsonrpc":"2.0","method":"add","params":[1,2] "id":5}"#, Some(PARSE_ERROR)),
    ]);
    // A duplicate that is overwritten still counts against the nesting limit: the text as a
    // whole is too deep (found by the `request` fuzz target).
    let deep = r#"{"jsonrpc":"2.0","method":"add","params":[[[{}]]],"params":[1,2],"id":1}"#;
    let info = RpcInfo::new(Transport::InProcess);
    assert_eq!(call_with(&Config::new().max_depth(4), &info, deep.as_bytes()).as_deref(), Some(PARSE_ERROR));
    assert_eq!(
        call_with(&Config::new().max_depth(5), &info, deep.as_bytes()).as_deref(),
        Some(r#"{"jsonrpc":"2.0","result":3,"id":1}"#)
    );
    // An escaped builtin name is the builtin.
    let a = reply(r#"{"jsonrpc":"2.0","method":"__describe_s\u0065rvice","id":1}"#);
    let b = reply(r#"{"jsonrpc":"2.0","method":"__describe_service","id":1}"#);
    assert_eq!(a, b);
    assert_eq!(a["result"]["name"], "reflex demo device");
}

// ---------------------------------------------------------------------------------------------
// Batches.

#[test]
fn batches() {
    let invalid_array = format!("[{INVALID_REQUEST}]");
    check_exact(&[
        (
            r#"[{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}]"#,
            Some(r#"[{"jsonrpc":"2.0","result":19,"id":1}]"#),
        ),
        ("[null]", Some(&invalid_array)),
        ("[[]]", Some(&invalid_array)),
        ("[1]", Some(&invalid_array)),
        (r#"[{"foo":"boo"}]"#, Some(&invalid_array)),
        (
            r#"[{"jsonrpc":"2.0","method":"foobar"},{"jsonrpc":"2.0","method":"subtract","params":[1]},{"jsonrpc":"2.0","method":"error.user"}]"#,
            None,
        ),
        // An element without "jsonrpc" is not a 2.0 request: -32600 inside the array, with
        // its id when it has a readable one.
        (
            r#"[{"method":"subtract","params":[42,23],"id":1},{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":2}]"#,
            Some(
                r#"[{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":1},{"jsonrpc":"2.0","result":19,"id":2}]"#,
            ),
        ),
        // Replies come in request order; notifications leave no trace.
        (
            r#"[ {"jsonrpc":"2.0","method":"add","params":[1,2],"id":"a"} , {"jsonrpc":"2.0","method":"notify_hello","params":[7]}, 5, {"jsonrpc":"2.0","method":"nope","id":"b"}, {"jsonrpc":"2.0","method":"error.user","id":"c"} ]"#,
            Some(
                r#"[{"jsonrpc":"2.0","result":3,"id":"a"},{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null},{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"b"},{"jsonrpc":"2.0","error":{"code":-32000,"message":"This error was raised on purpose","data":{"name":"UserError"}},"id":"c"}]"#,
            ),
        ),
        // A nested batch is not a request.
        (r#"[[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}]]"#, Some(&invalid_array)),
    ]);
    // Large batches: one reply per request.
    let requests: Vec<String> =
        (0..100).map(|i| format!(r#"{{"jsonrpc":"2.0","method":"add","params":[{i},1],"id":{i}}}"#)).collect();
    let v = reply(&format!("[{}]", requests.join(",")));
    let items = v.as_array().expect("an array");
    assert_eq!(items.len(), 100);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["id"], i);
        assert_eq!(item["result"], i + 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and context.

#[test]
fn user_errors_carry_code_and_name() {
    check_exact(&[
        (
            r#"{"jsonrpc":"2.0","method":"error.user","id":1}"#,
            Some(
                r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"This error was raised on purpose","data":{"name":"UserError"}},"id":1}"#,
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"led.get","params":[9],"id":1}"#,
            Some(
                r#"{"jsonrpc":"2.0","error":{"code":-32001,"message":"LED index out of range (0-3)","data":{"name":"IndexError"}},"id":1}"#,
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"mul","params":[9223372036854775807,2],"id":1}"#,
            Some(
                r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"integer overflow","data":{"name":"OverflowError"}},"id":1}"#,
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"div","params":[1.0,0.0],"id":1}"#,
            Some(
                r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"float division by zero","data":{"name":"ZeroDivisionError"}},"id":1}"#,
            ),
        ),
    ]);
}

#[test]
fn internal_errors_hide_their_detail() {
    check_exact(&[(
        r#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#,
        Some(r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":1}"#),
    )]);
    let debug = Config::new().expose_internal_errors(true);
    let r = call_with(
        &debug,
        &RpcInfo::new(Transport::InProcess),
        br#"{"jsonrpc":"2.0","method":"error.internal","id":1}"#,
    )
    .expect("a reply");
    let v = json(&r);
    assert_eq!(v["error"]["code"], -32603, "{r}");
    assert_eq!(v["error"]["message"], "Internal error", "{r}");
    let data = v["error"]["data"].as_str().unwrap_or_else(|| panic!("debug mode puts the detail in data: {r}"));
    assert!(data.contains("error.internal was called"), "{r}");
}

#[test]
fn authentication_context() {
    let anonymous = RpcInfo::new(Transport::InProcess);
    let alice = RpcInfo::new(Transport::InProcess).with_user("alice");
    let ask = |info: &RpcInfo<'_>, method: &str| {
        let request = format!(r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#);
        json(&call_with(&Config::new(), info, request.as_bytes()).expect("a reply"))["result"].clone()
    };
    assert_eq!(ask(&anonymous, "is_authenticated"), false);
    assert_eq!(ask(&anonymous, "get_username"), Value::Null);
    assert_eq!(ask(&alice, "is_authenticated"), true);
    assert_eq!(ask(&alice, "get_username"), "alice");
}

// ---------------------------------------------------------------------------------------------
// rpc.discover.

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().expect("$ref is a string"));
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Resolves a local JSON pointer (`#/a/b`).
fn resolve<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    doc.pointer(pointer.strip_prefix('#')?)
}

#[test]
fn rpc_discover_document() {
    let v = reply(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#);
    assert_eq!(v["id"], 1);
    let doc = &v["result"];
    let desc = <Demo<NoPlatform> as Service>::DESC;

    // Root: required members, nothing outside the spec but x- extensions.
    assert_eq!(doc["openrpc"], "1.3.2");
    for key in doc.as_object().expect("an object").keys() {
        assert!(
            ["openrpc", "info", "methods", "components", "servers", "externalDocs"].contains(&key.as_str())
                || key.starts_with("x-"),
            "unexpected root member {key}"
        );
    }
    assert_eq!(doc["info"]["title"], "reflex demo device");
    assert_eq!(doc["info"]["version"], desc.version);

    // One method per function, in order, unique, with params and result descriptors.
    let methods = doc["methods"].as_array().expect("methods is an array");
    let names: Vec<&str> = methods.iter().map(|m| m["name"].as_str().expect("method name")).collect();
    let declared: Vec<&str> = desc.functions.iter().map(|f| f.name).collect();
    assert_eq!(names, declared);
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len(), "method names are unique");
    for (m, f) in methods.iter().zip(desc.functions) {
        let params = m["params"].as_array().unwrap_or_else(|| panic!("{}: params missing", f.name));
        let pnames: Vec<&str> = params.iter().map(|p| p["name"].as_str().expect("param name")).collect();
        let declared: Vec<&str> = f.params.iter().map(|p| p.name).collect();
        assert_eq!(pnames, declared, "{}", f.name);
        for p in params {
            assert_eq!(p["required"], true, "{}: {p}", f.name);
            assert!(p["schema"].is_object(), "{}: {p}", f.name);
        }
        if let Some(ps) = m.get("paramStructure") {
            assert!(["by-name", "by-position", "either"].contains(&ps.as_str().unwrap_or("")), "{}: {ps}", f.name);
        }
        assert!(m["result"]["name"].is_string(), "{}: {m}", f.name);
        assert!(m["result"]["schema"].is_object(), "{}: {m}", f.name);
    }
    let method = |name: &str| methods.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{name} missing"));
    let param_schema = |name: &str, i: usize| method(name)["params"][i]["schema"].clone();
    assert_eq!(param_schema("add", 0)["type"], "integer");
    assert_eq!(param_schema("div", 1)["type"], "number");
    assert_eq!(param_schema("echo", 0)["type"], "string");
    assert_eq!(param_schema("led.set", 1)["type"], "boolean");
    assert_eq!(param_schema("checksum", 0), j!({"type": "string", "contentEncoding": "base64"}));
    let ints = param_schema("echo_ints", 0);
    assert_eq!(ints["type"], "array");
    assert_eq!(ints["maxItems"], 32);
    assert_eq!(ints["items"]["type"], "integer");
    assert_eq!(param_schema("enum_echo", 0), j!({"$ref": "#/components/schemas/PhoneType"}));
    assert_eq!(param_schema("hash_echo", 0), j!({"$ref": "#/components/schemas/Address"}));
    assert_eq!(method("device.info")["result"]["schema"], j!({"$ref": "#/components/schemas/DeviceInfo"}));
    assert_eq!(method("get_data")["result"]["schema"]["type"], "array");

    // Components: one schema per custom type; every $ref resolves.
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let keys: Vec<&str> = schemas.keys().map(String::as_str).collect();
    assert_eq!(keys.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from(["PhoneType", "Address", "DeviceInfo"]));
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(all.len() >= 3, "refs: {all:?}");
    for r in all {
        assert!(r.starts_with("#/components/schemas/"), "{r}");
        assert!(resolve(doc, r).is_some(), "unresolved $ref {r}");
    }
    let phone = &schemas["PhoneType"];
    let one_of = phone["oneOf"].as_array().expect("PhoneType oneOf");
    assert!(one_of.contains(&j!({"type": "string", "enum": ["HOME", "WORK", "MOBILE", "FAX"]})), "{phone}");
    assert!(one_of.contains(&j!({"type": "integer", "enum": [0, 1, 2, 3]})), "{phone}");
    for (name, fields) in [
        ("Address", vec!["firstname", "lastname", "street1", "street2", "zipcode", "city"]),
        ("DeviceInfo", vec!["model", "firmware_version", "led_count", "uptime_seconds", "float_support"]),
    ] {
        let s = &schemas[name];
        assert_eq!(s["type"], "object", "{name}");
        assert_eq!(s["additionalProperties"], false, "{name}");
        assert_eq!(s["required"], j!(fields), "{name}");
        let props: BTreeSet<&str> =
            s["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
        assert_eq!(props, fields.iter().copied().collect::<BTreeSet<_>>(), "{name}");
    }
    assert_eq!(schemas["DeviceInfo"]["properties"]["float_support"]["type"], "boolean");
    assert_eq!(schemas["Address"]["properties"]["city"]["type"], "string");

    // The same document in the 1.0 dialect.
    let v1 = reply(r#"{"method": "rpc.discover", "params": [], "id": 1}"#);
    assert_eq!(&v1["result"], doc);
    // And rpc.discover ignores params like the other builtins.
    let with_params = reply(r#"{"jsonrpc":"2.0","method":"rpc.discover","params":[1,2],"id":1}"#);
    assert_eq!(&with_params["result"], doc);
}

#[test]
fn batches_longer_than_the_limit_get_one_error() {
    let add = r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#;
    let batch = |n: usize| format!("[{}]", vec![add; n].join(","));
    let config = Config::new().max_batch(3);
    let info = RpcInfo::new(Transport::InProcess);
    let at_limit = call_with(&config, &info, batch(3).as_bytes()).expect("a reply");
    assert_eq!(json(&at_limit).as_array().map(Vec::len), Some(3), "{at_limit}");
    let over = call_with(&config, &info, batch(4).as_bytes()).expect("a reply");
    assert_eq!(
        over,
        r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"Batch exceeds the limit of 3 requests"},"id":null}"#
    );
    // The default allows 1000.
    let default = call(&batch(1000)).expect("a reply");
    assert_eq!(json(&default).as_array().map(Vec::len), Some(1000));
    assert!(call(&batch(1001)).expect("a reply").contains("Batch exceeds the limit of 1000 requests"));
}
