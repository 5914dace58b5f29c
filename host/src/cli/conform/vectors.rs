//! Conformance vectors: the files embedded in the binary (or read from `--vectors DIR`) and
//! their cases. The format is described in `tests/vectors/README.md`.

use std::path::Path;

use base64::Engine as _;

use super::json::Json;

/// The vector files built into `reflex conform`, in the order they run.
pub(crate) const EMBEDDED: &[(&str, &str)] = &[
    (
        "jsonrpc2-spec-examples.json",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/jsonrpc2-spec-examples.json")),
    ),
    ("jsonrpc2-edge.json", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/jsonrpc2-edge.json"))),
    ("reflectrpc-1.0.json", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/reflectrpc-1.0.json"))),
    ("reflection.json", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/reflection.json"))),
    ("bad-input.json", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/bad-input.json"))),
];

/// What a reply must look like.
#[derive(Clone, Debug)]
pub(crate) enum Expected {
    /// Nothing at all may come back.
    NoResponse,
    /// The reply text must be one of these, byte for byte (`exact_text`).
    Text(Vec<Vec<u8>>),
    /// The reply must equal one of these values (`expected`, `expected_any`).
    Values(Vec<Json>),
    /// The reply must contain this value (`expected_subset`).
    Subset(Json),
    /// The reply must be an error object with this code, written as in the vector.
    ErrorCode(Json),
}

/// An expectation with its modifiers.
#[derive(Clone, Debug)]
pub(crate) struct Expectation {
    pub(crate) expected: Expected,
    /// The elements of a reply array may come in any order.
    pub(crate) order_insensitive: bool,
    /// Object members must come in the order the expected value lists them.
    pub(crate) key_order: bool,
}

/// One conformance case.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    /// The vector file's name without `.json`.
    pub(crate) file: String,
    pub(crate) name: String,
    pub(crate) category: String,
    /// `"2.0"`, `"1.0"` or `"any"`.
    pub(crate) version: String,
    /// The request bytes (HTTP body).
    pub(crate) request: Vec<u8>,
    /// The request bytes on line transports (without the terminator).
    pub(crate) request_line: Vec<u8>,
    pub(crate) expect: Expectation,
    /// Replaces `expect` on line transports.
    pub(crate) line: Option<Expectation>,
    /// Replaces `expect` over HTTP.
    pub(crate) http: Option<Expectation>,
    /// Needs the reflex demo service.
    pub(crate) requires_demo: bool,
    /// The server is known to fail this case (the reason).
    pub(crate) known_failure: Option<String>,
}

impl Case {
    /// `file: name`, as the case is reported.
    pub(crate) fn title(&self) -> String {
        format!("{}: {}", self.file, self.name)
    }
}

/// Members a case of the reflex format may have.
const CASE_KEYS: &[&str] = &[
    "name",
    "category",
    "version",
    "description",
    "notes",
    "request",
    "request_hex",
    "request_base64",
    "request_single_line",
    "expected",
    "expected_any",
    "expected_subset",
    "error_code",
    "no_response",
    "exact_text",
    "order_insensitive",
    "key_order",
    "requires",
    "known_failure",
    "line",
    "http",
];

/// Members a transport override (`line`, `http`) may have.
const OVERRIDE_KEYS: &[&str] = &[
    "expected",
    "expected_any",
    "expected_subset",
    "error_code",
    "no_response",
    "exact_text",
    "order_insensitive",
    "key_order",
    "notes",
];

/// Reads every embedded vector file.
pub(crate) fn embedded() -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for (name, text) in EMBEDDED {
        cases.extend(parse_file(name, text.as_bytes())?);
    }
    Ok(cases)
}

/// Reads every `*.json` file directly in `dir`, in name order.
pub(crate) fn from_dir(dir: &Path) -> Result<Vec<Case>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        if path.is_file() && path.extension().is_some_and(|x| x == "json") {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no *.json vector files in {}", dir.display()));
    }
    let mut cases = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        cases.extend(parse_file(&name, &bytes)?);
    }
    Ok(cases)
}

/// The cases of one vector file (a JSON array of case objects).
pub(crate) fn parse_file(name: &str, bytes: &[u8]) -> Result<Vec<Case>, String> {
    let stem = name.strip_suffix(".json").unwrap_or(name).to_string();
    let doc = Json::parse(bytes).map_err(|e| format!("{name}: not JSON: {e}"))?;
    let Json::Array(items) = doc else {
        return Err(format!("{name}: expected an array of cases"));
    };
    let mut cases: Vec<Case> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let case = parse_case(&stem, item).map_err(|e| {
            let which = item.get("name").and_then(Json::as_str).unwrap_or_else(|| format!("#{}", i + 1));
            format!("{name}: case {which}: {e}")
        })?;
        if cases.iter().any(|c| c.name == case.name) {
            return Err(format!("{name}: two cases are named {:?}", case.name));
        }
        cases.push(case);
    }
    Ok(cases)
}

fn string_member(o: &Json, key: &str) -> Result<Option<String>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| format!("`{key}` must be a string")),
    }
}

fn bool_member(o: &Json, key: &str) -> Result<bool, String> {
    match o.get(key) {
        None => Ok(false),
        Some(v) => v.as_bool().ok_or_else(|| format!("`{key}` must be true or false")),
    }
}

fn check_keys(o: &Json, allowed: &[&str]) -> Result<(), String> {
    if let Json::Object(members) = o {
        for (k, _) in members {
            if !allowed.iter().any(|a| k.eq_str(a)) {
                return Err(format!("unknown member `{k}`"));
            }
        }
    }
    Ok(())
}

fn parse_case(file: &str, o: &Json) -> Result<Case, String> {
    if !matches!(o, Json::Object(_)) {
        return Err("a case must be an object".into());
    }
    if o.get("expected_json").is_some() {
        return parse_spec_case(file, o);
    }
    check_keys(o, CASE_KEYS)?;
    let name = string_member(o, "name")?.ok_or("`name` is missing")?;
    let category = string_member(o, "category")?.ok_or("`category` is missing")?;
    let version = string_member(o, "version")?.ok_or("`version` is missing")?;
    if !["2.0", "1.0", "any"].contains(&version.as_str()) {
        return Err(format!("`version` must be \"2.0\", \"1.0\" or \"any\", not {version:?}"));
    }
    let request = request_bytes(o)?;
    let request_line = match string_member(o, "request_single_line")? {
        Some(line) => line.into_bytes(),
        None => request.clone(),
    };
    let requires_demo = match string_member(o, "requires")?.as_deref() {
        None => false,
        Some("demo") => true,
        Some(other) => return Err(format!("`requires` must be \"demo\", not {other:?}")),
    };
    let expect = expectation(o)?;
    let transport_override = |key: &str| -> Result<Option<Expectation>, String> {
        match o.get(key) {
            None => Ok(None),
            Some(v @ Json::Object(_)) => {
                check_keys(v, OVERRIDE_KEYS).map_err(|e| format!("`{key}`: {e}"))?;
                expectation(v).map(Some).map_err(|e| format!("`{key}`: {e}"))
            }
            Some(_) => Err(format!("`{key}` must be an object")),
        }
    };
    Ok(Case {
        file: file.to_string(),
        name,
        category,
        version,
        request,
        request_line,
        expect,
        line: transport_override("line")?,
        http: transport_override("http")?,
        requires_demo,
        known_failure: string_member(o, "known_failure")?,
    })
}

/// A case in the format of `jsonrpc2-spec-examples.json` (`expected_json`,
/// `request_single_line`, `requires_methods`, `batch_response_order_insensitive`).
fn parse_spec_case(file: &str, o: &Json) -> Result<Case, String> {
    let name = string_member(o, "name")?.ok_or("`name` is missing")?;
    let request = string_member(o, "request")?.ok_or("`request` is missing")?.into_bytes();
    let request_line = match string_member(o, "request_single_line")? {
        Some(line) => line.into_bytes(),
        None => request.clone(),
    };
    let expected = if bool_member(o, "no_response")? {
        Expected::NoResponse
    } else {
        Expected::Values(vec![o.get("expected_json").cloned().unwrap_or(Json::Null)])
    };
    // Methods described as "must NOT exist" are absent from every server that does not
    // define them; anything else needs the demo service.
    let requires_demo = match o.get("requires_methods") {
        Some(Json::Object(methods)) => {
            methods.iter().any(|(_, what)| !what.as_str().is_some_and(|s| s.contains("must NOT exist")))
        }
        Some(_) => return Err("`requires_methods` must be an object".into()),
        None => false,
    };
    Ok(Case {
        file: file.to_string(),
        name,
        category: string_member(o, "spec_example")?.unwrap_or_else(|| "spec example".into()),
        version: "2.0".into(),
        request,
        request_line,
        expect: Expectation {
            expected,
            order_insensitive: bool_member(o, "batch_response_order_insensitive")?,
            key_order: false,
        },
        line: None,
        http: None,
        requires_demo,
        known_failure: string_member(o, "known_failure")?,
    })
}

fn request_bytes(o: &Json) -> Result<Vec<u8>, String> {
    let text = string_member(o, "request")?;
    let hex = string_member(o, "request_hex")?;
    let b64 = string_member(o, "request_base64")?;
    match (text, hex, b64) {
        (Some(t), None, None) => Ok(t.into_bytes()),
        (None, Some(h), None) => decode_hex(&h),
        (None, None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.as_bytes())
            .map_err(|e| format!("`request_base64` is not base64: {e}")),
        (None, None, None) => Err("one of `request`, `request_hex` or `request_base64` is needed".into()),
        _ => Err("only one of `request`, `request_hex` and `request_base64` may be given".into()),
    }
}

/// Hex digits, two per byte; whitespace between bytes is allowed.
fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("`request_hex` has an odd number of digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| "`request_hex` holds a character that is not a hex digit".to_string())
        })
        .collect()
}

/// The expectation of a case or a transport override: exactly one of `expected`,
/// `expected_any`, `expected_subset`, `error_code` and `"no_response": true`.
fn expectation(o: &Json) -> Result<Expectation, String> {
    let exact = bool_member(o, "exact_text")?;
    let no_response = bool_member(o, "no_response")?;
    let given: Vec<&str> = ["expected", "expected_any", "expected_subset", "error_code"]
        .into_iter()
        .filter(|k| o.get(k).is_some())
        .chain(no_response.then_some("no_response"))
        .collect();
    if given.len() != 1 {
        return Err(format!(
            "exactly one of `expected`, `expected_any`, `expected_subset`, `error_code`, `no_response` is needed, \
             found {}",
            if given.is_empty() { "none".to_string() } else { given.join(", ") }
        ));
    }
    let text = |v: &Json| -> Result<Vec<u8>, String> {
        v.as_str().map(String::into_bytes).ok_or_else(|| "with `exact_text`, expected replies are strings".to_string())
    };
    let expected = match given[0] {
        "no_response" => Expected::NoResponse,
        "expected" => match o.get("expected") {
            Some(v) if exact => Expected::Text(vec![text(v)?]),
            Some(v) => Expected::Values(vec![v.clone()]),
            None => unreachable!("checked above"),
        },
        "expected_any" => match o.get("expected_any") {
            Some(Json::Array(items)) if !items.is_empty() => {
                if exact {
                    Expected::Text(items.iter().map(text).collect::<Result<_, _>>()?)
                } else {
                    Expected::Values(items.clone())
                }
            }
            _ => return Err("`expected_any` must be a non-empty array".into()),
        },
        "expected_subset" => Expected::Subset(o.get("expected_subset").cloned().unwrap_or(Json::Null)),
        _ => match o.get("error_code") {
            Some(n @ Json::Number(text)) if !text.contains(['.', 'e', 'E']) => Expected::ErrorCode(n.clone()),
            _ => return Err("`error_code` must be an integer".into()),
        },
    };
    if exact && !matches!(expected, Expected::Text(_)) {
        return Err("`exact_text` goes with `expected` or `expected_any` only".into());
    }
    let order_insensitive = bool_member(o, "order_insensitive")?;
    let key_order = bool_member(o, "key_order")?;
    if exact && (order_insensitive || key_order) {
        return Err("`exact_text` compares bytes; `order_insensitive` and `key_order` do not apply".into());
    }
    Ok(Expectation { expected, order_insensitive, key_order })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_vectors_load() {
        let cases = embedded().unwrap();
        assert!(cases.len() >= 120, "{}", cases.len());
        for c in &cases {
            assert!(!c.request_line.contains(&b'\n'), "{} has a newline in its line request", c.title());
        }
    }

    #[test]
    fn malformed_cases_are_rejected() {
        let bad = [
            r#"[{"name":"a","category":"c","version":"2.0","request":"x"}]"#,
            r#"[{"name":"a","category":"c","version":"3.0","request":"x","no_response":true}]"#,
            r#"[{"name":"a","category":"c","version":"2.0","request":"x","no_response":true,"expected":1}]"#,
            r#"[{"name":"a","category":"c","version":"2.0","request":"x","expectd":1}]"#,
            r#"[{"name":"a","category":"c","version":"2.0","request_hex":"0","no_response":true}]"#,
            r#"[{"name":"a","category":"c","version":"2.0","request":"x","expected":1,"exact_text":true}]"#,
            r#"[{"name":"a","category":"c","version":"2.0","request":"x","error_code":1.5}]"#,
            r#"[{"name":"a","category":"c","version":"2.0","request":"x","no_response":true},
                {"name":"a","category":"c","version":"2.0","request":"y","no_response":true}]"#,
        ];
        for text in bad {
            assert!(parse_file("t.json", text.as_bytes()).is_err(), "{text}");
        }
        let ok = r#"[{"name":"a","category":"c","version":"any","request_hex":"ff 00","error_code":-32700,
                      "line":{"no_response":true}}]"#;
        let cases = parse_file("t.json", ok.as_bytes()).unwrap();
        assert_eq!(cases[0].request, [0xff, 0]);
        assert!(matches!(cases[0].line.as_ref().unwrap().expected, Expected::NoResponse));
    }
}
