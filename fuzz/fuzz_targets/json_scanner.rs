//! The JSON scanner (`reflex::scan`) against serde_json.
//!
//! * `Scanner::document` never panics, and agrees with serde_json: whatever it accepts
//!   serde_json accepts, and whatever serde_json accepts within the depth limit it accepts
//!   (the intended differences: deeper nesting, which serde_json allows up to 128).
//! * On accepted input the trusted walkers (`members`, `elements`, `JsonStr`, `parse_int`)
//!   see what serde_json sees: the same keys (last duplicate wins), elements, decoded
//!   strings, number texts and kinds.
//! * `Scanner::value` at arbitrary offsets and depths never panics, returns spans inside the
//!   buffer, and a span it accepts is itself a valid document.
//! * A smaller depth limit only ever rejects more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reflex::scan::{self, JsonStr, Kind, Scanner, Value as Span, MAX_DEPTH};
use reflex_fuzz::{depth, show};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let ours = Scanner::new(data, MAX_DEPTH).document();
    let theirs: Result<Value, _> = serde_json::from_slice(data);
    match (&ours, &theirs) {
        (Ok(span), Ok(v)) => {
            assert!(depth(data) <= usize::from(MAX_DEPTH), "accepted too deep: {}", show(data));
            assert!(span.start <= span.end && span.end <= data.len());
            compare(data, *span, v, data);
        }
        (Ok(span), Err(e)) => panic!("scanner accepts ({span:?}), serde_json rejects ({e}): {}", show(data)),
        (Err(e), Ok(_)) => {
            // The one intended difference: nesting beyond the limit.
            assert!(
                depth(data) > usize::from(MAX_DEPTH),
                "serde_json accepts (depth {}), scanner rejects ({e:?}): {}",
                depth(data),
                show(data)
            );
            assert_eq!(*e, scan::ScanError::TooDeep, "{}", show(data));
        }
        (Err(_), Err(_)) => {}
    }

    // A smaller limit rejects more, never less.
    let limit = data.first().map_or(0, |b| b % (MAX_DEPTH + 2));
    let limited = Scanner::new(data, limit).document();
    match (&limited, &theirs) {
        (Ok(_), _) => assert!(ours.is_ok(), "accepted with depth {limit} but not {MAX_DEPTH}: {}", show(data)),
        (Err(_), Ok(_)) if depth(data) <= usize::from(limit) => {
            panic!("rejected within the depth limit {limit}: {limited:?}: {}", show(data))
        }
        _ => {}
    }

    // `value` at offsets and depth budgets taken from the input.
    let sc = Scanner::new(data, MAX_DEPTH);
    let picks = [0usize, 1, data.len() / 2, data.len(), data.len() + 1, usize::from(*data.last().unwrap_or(&0))];
    for (k, &pos) in picks.iter().enumerate() {
        let used = data.get(k).map_or(0, |b| b % (MAX_DEPTH + 2));
        if let Ok(v) = sc.value(pos, used) {
            assert!(pos <= v.start && v.start < v.end && v.end <= data.len(), "span {v:?} at {pos}: {}", show(data));
            let text = &data[v.start..v.end];
            let again = Scanner::new(text, MAX_DEPTH.saturating_sub(used)).document();
            assert_eq!(again.map(|s| (s.end - s.start, s.kind)), Ok((text.len(), v.kind)), "{}", show(data));
            assert!(
                serde_json::from_slice::<Value>(text).is_ok(),
                "value() span rejected by serde_json: {}",
                show(text)
            );
        }
        // The streaming member walker must not panic anywhere either.
        for m in sc.members(pos) {
            if m.is_err() {
                break;
            }
        }
    }
});

/// Walks a validated span with the trusted helpers and compares with serde_json's value.
fn compare(buf: &[u8], span: Span, v: &Value, input: &[u8]) {
    let text = span.bytes(buf);
    match (span.kind, v) {
        (Kind::Null, Value::Null) | (Kind::True, Value::Bool(true)) | (Kind::False, Value::Bool(false)) => {}
        (Kind::Int | Kind::Float, Value::Number(n)) => {
            // The span is that number (arbitrary_precision normalises the exponent's spelling
            // the same way for both).
            let alone: Option<Value> = serde_json::from_slice(text).ok();
            assert_eq!(alone.as_ref(), Some(v), "number span {}: {}", show(text), show(input));
            let _ = n;
            let has_frac_or_exp = text.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
            assert_eq!(span.kind == Kind::Float, has_frac_or_exp, "number kind: {}", show(input));
            if span.kind == Kind::Int {
                let mine = scan::parse_int(text);
                let std = std::str::from_utf8(text).ok().and_then(|t| t.trim_start_matches('-').parse::<u64>().ok());
                assert_eq!(mine.map(|(_, m)| m), std, "parse_int({}): {}", show(text), show(input));
                if let Some((neg, _)) = mine {
                    assert_eq!(neg, text.first() == Some(&b'-'));
                }
            }
        }
        (Kind::String, Value::String(s)) => {
            let js = span.as_str(buf).expect("a string span");
            check_str(js, s, input);
        }
        (Kind::Array, Value::Array(items)) => {
            let ours: Vec<Span> = scan::elements(buf, span).collect();
            assert_eq!(ours.len(), items.len(), "element count: {}", show(input));
            for (e, item) in ours.iter().zip(items) {
                compare(buf, *e, item, input);
            }
        }
        (Kind::Object, Value::Object(map)) => {
            // Keys in document order; the last of duplicates is the one serde_json keeps.
            let members: Vec<(JsonStr<'_>, Span)> = scan::members(buf, span).collect();
            let mut seen = std::collections::BTreeMap::new();
            for (k, val) in &members {
                let mut out = vec![0u8; k.decoded_len()];
                let key = k.unescape_into(&mut out).expect("decoded_len fits").to_string();
                seen.insert(key, *val);
            }
            assert_eq!(seen.len(), map.len(), "distinct keys: {}", show(input));
            for (key, val) in &seen {
                let theirs =
                    map.get(key).unwrap_or_else(|| panic!("key {key:?} unknown to serde_json: {}", show(input)));
                compare(buf, *val, theirs, input);
            }
            // The validating member walker agrees with the trusted one.
            let checked: Vec<_> = Scanner::new(buf, MAX_DEPTH).members(span.start).collect();
            assert_eq!(checked.len(), members.len(), "{}", show(input));
            for (c, (k, val)) in checked.iter().zip(&members) {
                let (ck, cv) =
                    c.as_ref().unwrap_or_else(|e| panic!("members() failed on valid input ({e:?}): {}", show(input)));
                assert_eq!((ck, cv.start, cv.end), (k, val.start, val.end));
            }
        }
        (kind, v) => panic!("kind {kind:?} but serde_json has {v}: {}", show(input)),
    }
}

fn check_str(js: JsonStr<'_>, expected: &str, input: &[u8]) {
    let decoded: String = js.chars().collect();
    assert_eq!(decoded, expected, "chars(): {}", show(input));
    assert_eq!(js.decoded_len(), expected.len(), "decoded_len(): {}", show(input));
    let mut out = vec![0u8; expected.len()];
    assert_eq!(js.unescape_into(&mut out), Some(expected), "unescape_into(): {}", show(input));
    if !expected.is_empty() {
        let mut short = vec![0u8; expected.len() - 1];
        assert_eq!(js.unescape_into(&mut short), None, "unescape_into() into a short buffer: {}", show(input));
    }
    assert!(js.eq_str(expected), "eq_str(): {}", show(input));
    assert_eq!(js.as_plain().is_some(), !js.has_escapes());
    if let Some(plain) = js.as_plain() {
        assert_eq!(plain, expected);
    }
}
