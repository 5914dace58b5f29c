//! Comparing the replies a case received with what it expects.

use super::json::Json;
use super::vectors::{Expectation, Expected};

/// How strictly to compare.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rules {
    /// Any string is accepted as an error `message` (the spec fixes codes, not texts).
    pub(crate) loose_messages: bool,
}

/// Checks `replies` (the texts that came back for one request, in order) against `expect`.
/// The error is a one-line reason.
pub(crate) fn check(expect: &Expectation, replies: &[Vec<u8>], rules: Rules) -> Result<(), String> {
    if let Expected::NoResponse = expect.expected {
        return match replies.len() {
            0 => Ok(()),
            1 => Err("a reply came, but none is allowed".into()),
            n => Err(format!("{n} replies came, but none is allowed")),
        };
    }
    let reply = match replies {
        [] => return Err("no reply".into()),
        [one] => one,
        more => return Err(format!("{} replies came for one request", more.len())),
    };
    if let Expected::Text(options) = &expect.expected {
        return if options.iter().any(|o| o == reply) {
            Ok(())
        } else {
            Err(match first_difference(&options[0], reply) {
                Some(at) => format!("the reply text differs from the expected text at byte {at}"),
                None => "the reply text differs from the expected text".into(),
            })
        };
    }
    let actual = Json::parse(reply).map_err(|e| format!("the reply is not JSON: {e}"))?;
    let m = Matcher { rules, subset: false, key_order: expect.key_order, order_insensitive: expect.order_insensitive };
    match &expect.expected {
        Expected::Values(options) => {
            let mut reasons = Vec::new();
            for option in options {
                match m.matches(option, &actual, "$", true, false) {
                    Ok(()) => return Ok(()),
                    Err(e) => reasons.push(e),
                }
            }
            if reasons.len() == 1 {
                Err(reasons.remove(0))
            } else {
                Err(format!("matches none of the {} acceptable replies: {}", reasons.len(), reasons.join("; ")))
            }
        }
        Expected::Subset(pattern) => Matcher { subset: true, ..m }.matches(pattern, &actual, "$", true, false),
        Expected::ErrorCode(code) => {
            let got = actual.get("error").and_then(|e| e.get("code"));
            match got {
                Some(got) if got == code => Ok(()),
                Some(got) => Err(format!("$.error.code: expected {}, got {}", code.to_text(), short(got))),
                None => Err(format!("expected an error object with code {}", code.to_text())),
            }
        }
        Expected::NoResponse | Expected::Text(_) => unreachable!("handled above"),
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// A value for a message, shortened.
fn short(v: &Json) -> String {
    let text = v.to_text();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The type a `{"$type": T}` wildcard stands for, if `p` is one.
fn wildcard(p: &Json) -> Option<String> {
    match p {
        Json::Object(m) if m.len() == 1 && m[0].0.eq_str("$type") => m[0].1.as_str(),
        _ => None,
    }
}

fn type_matches(t: &str, v: &Json) -> Option<bool> {
    Some(match t {
        "any" => true,
        "null" => matches!(v, Json::Null),
        "boolean" => matches!(v, Json::Bool(_)),
        "number" => matches!(v, Json::Number(_)),
        "integer" => matches!(v, Json::Number(n) if !n.contains(['.', 'e', 'E'])),
        "string" => matches!(v, Json::String(_)),
        "array" => matches!(v, Json::Array(_)),
        "object" => matches!(v, Json::Object(_)),
        _ => return None,
    })
}

#[derive(Clone, Copy)]
struct Matcher {
    rules: Rules,
    /// Objects may have members the pattern does not list.
    subset: bool,
    key_order: bool,
    order_insensitive: bool,
}

impl Matcher {
    /// Whether `a` matches the pattern `p`. `top`: `a` is the reply itself; `in_error`: `a` is
    /// the value of an `error` member.
    fn matches(&self, p: &Json, a: &Json, path: &str, top: bool, in_error: bool) -> Result<(), String> {
        if let Some(t) = wildcard(p) {
            return match type_matches(&t, a) {
                Some(true) => Ok(()),
                Some(false) => Err(format!("{path}: expected any {t}, got {}", short(a))),
                None => Err(format!("{path}: unknown $type {t:?} in the vector")),
            };
        }
        match (p, a) {
            (Json::Null, Json::Null) => Ok(()),
            (Json::Bool(x), Json::Bool(y)) if x == y => Ok(()),
            (Json::Number(x), Json::Number(y)) if x == y => Ok(()),
            (Json::String(x), Json::String(y)) if x == y => Ok(()),
            (Json::Array(ps), Json::Array(items)) => {
                if ps.len() != items.len() {
                    return Err(format!("{path}: expected an array of {}, got {} elements", ps.len(), items.len()));
                }
                if top && self.order_insensitive {
                    let mut used = vec![false; items.len()];
                    return if self.assign(ps, items, &mut used, path) {
                        Ok(())
                    } else {
                        Err(format!("{path}: the elements do not match the expected ones in any order"))
                    };
                }
                for (i, (p, a)) in ps.iter().zip(items).enumerate() {
                    self.matches(p, a, &format!("{path}[{i}]"), false, false)?;
                }
                Ok(())
            }
            (Json::Object(pm), Json::Object(am)) => self.object(pm, am, path, in_error),
            _ => Err(format!("{path}: expected {}, got {}", short(p), short(a))),
        }
    }

    /// Pairs every pattern with a distinct element (backtracking).
    fn assign(&self, ps: &[Json], items: &[Json], used: &mut [bool], path: &str) -> bool {
        let Some((p, rest)) = ps.split_first() else {
            return true;
        };
        for i in 0..items.len() {
            if !used[i] && self.matches(p, &items[i], path, false, false).is_ok() {
                used[i] = true;
                if self.assign(rest, items, used, path) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }

    fn object(
        &self,
        pm: &[(super::json::JStr, Json)],
        am: &[(super::json::JStr, Json)],
        path: &str,
        in_error: bool,
    ) -> Result<(), String> {
        for (i, (k, _)) in am.iter().enumerate() {
            if am[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(format!("{path}: member {k:?} appears twice"));
            }
        }
        let find = |k: &super::json::JStr| am.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v);
        for (k, pv) in pm {
            let child = format!("{path}.{k}");
            let Some(av) = find(k) else {
                return Err(format!("{path}: member {k:?} is missing"));
            };
            if in_error && self.rules.loose_messages && k.eq_str("message") && matches!(pv, Json::String(_)) {
                if !matches!(av, Json::String(_)) {
                    return Err(format!("{child}: expected a string, got {}", short(av)));
                }
                continue;
            }
            self.matches(pv, av, &child, false, k.eq_str("error"))?;
        }
        if !self.subset {
            for (k, v) in am {
                // A server may add `data` to any error object.
                let allowed = in_error && k.eq_str("data");
                if !allowed && !pm.iter().any(|(pk, _)| pk == k) {
                    return Err(format!("{path}: unexpected member {k:?}: {}", short(v)));
                }
            }
        }
        if self.key_order {
            let expected: Vec<_> = pm.iter().map(|(k, _)| k).collect();
            let got: Vec<_> = am.iter().map(|(k, _)| k).filter(|k| expected.contains(k)).collect();
            if got != expected {
                let names = |ks: &[&super::json::JStr]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ");
                return Err(format!("{path}: members in the order {}, expected {}", names(&got), names(&expected)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(expected: Expected) -> Expectation {
        Expectation { expected, order_insensitive: false, key_order: false }
    }

    fn j(s: &str) -> Json {
        Json::parse(s.as_bytes()).unwrap()
    }

    fn run(e: &Expectation, reply: &str, rules: Rules) -> Result<(), String> {
        check(e, &[reply.as_bytes().to_vec()], rules)
    }

    #[test]
    fn values_data_and_messages() {
        let e = expect(Expected::Values(vec![j(
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1e400}"#,
        )]));
        let strict = Rules::default();
        let loose = Rules { loose_messages: true };
        let exact = r#"{"id":1e400,"jsonrpc":"2.0","error":{"message":"Method not found","code":-32601}}"#;
        assert!(run(&e, exact, strict).is_ok());
        let with_data =
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":"x"},"id":1e400}"#;
        assert!(run(&e, with_data, strict).is_ok());
        let other_text = r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"No such method"},"id":1e400}"#;
        assert!(run(&e, other_text, strict).is_err());
        assert!(run(&e, other_text, loose).is_ok());
        let rounded = r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1E400}"#;
        assert!(run(&e, rounded, loose).is_err());
        let extra = r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1e400,"x":1}"#;
        assert!(run(&e, extra, strict).unwrap_err().contains("unexpected member"));
        let dup = r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1e400,"id":1e400}"#;
        assert!(run(&e, dup, strict).is_err());
        assert!(check(&e, &[], strict).is_err());
        assert!(check(&e, &[exact.into(), exact.into()], strict).is_err());
        assert!(check(&expect(Expected::NoResponse), &[], strict).is_ok());
        assert!(check(&expect(Expected::NoResponse), &[b"x".to_vec()], strict).is_err());
    }

    #[test]
    fn batches_subsets_wildcards_and_order() {
        let mut e = expect(Expected::Values(vec![j(r#"[{"id":1},{"id":2},{"id":null}]"#)]));
        assert!(run(&e, r#"[{"id":2},{"id":null},{"id":1}]"#, Rules::default()).is_err());
        e.order_insensitive = true;
        assert!(run(&e, r#"[{"id":2},{"id":null},{"id":1}]"#, Rules::default()).is_ok());
        assert!(run(&e, r#"[{"id":2},{"id":2},{"id":1}]"#, Rules::default()).is_err());

        let mut s =
            expect(Expected::Subset(j(r#"{"name":"x","description":{"$type":"string"},"n":{"$type":"integer"}}"#)));
        assert!(run(&s, r#"{"name":"x","description":"d","n":3,"more":[]}"#, Rules::default()).is_ok());
        assert!(run(&s, r#"{"name":"x","description":5,"n":3}"#, Rules::default()).is_err());
        assert!(run(&s, r#"{"name":"x","description":"d","n":3.5}"#, Rules::default()).is_err());
        s.key_order = true;
        assert!(run(&s, r#"{"name":"x","z":0,"description":"d","n":3}"#, Rules::default()).is_ok());
        assert!(run(&s, r#"{"description":"d","name":"x","n":3}"#, Rules::default()).is_err());

        let code = expect(Expected::ErrorCode(j("-32600")));
        assert!(run(&code, r#"{"error":{"code":-32600,"message":"whatever"},"id":7}"#, Rules::default()).is_ok());
        assert!(run(&code, r#"{"error":{"code":-32700},"id":7}"#, Rules::default()).is_err());

        let text = expect(Expected::Text(vec![b"{\"a\": 1}".to_vec()]));
        assert!(run(&text, "{\"a\": 1}", Rules::default()).is_ok());
        assert!(run(&text, "{\"a\":1}", Rules::default()).is_err());
    }
}
