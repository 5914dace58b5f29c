//! HTTP Basic authentication with constant-time comparison.
//!
//! Both sides of each comparison are SHA-256 digests (fixed length), compared with `subtle`,
//! and every configured credential is compared, so neither the position of the first
//! differing byte, nor the lengths, nor which entry matched shows in the timing.

use base64::Engine as _;
use hyper::HeaderMap;
use ring::digest::{digest, SHA256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

type Digest = [u8; 32];

fn sha256(bytes: &[u8]) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Configured credentials, kept as digests.
pub(super) struct BasicAuth {
    users: Vec<(String, Digest, Digest)>,
}

/// What the `Authorization` header of a request proved.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Basic auth is not configured: nobody is authenticated and no header is looked at.
    Off,
    /// Valid credentials for this user.
    User(String),
    /// Missing, malformed or wrong credentials.
    Denied,
}

impl BasicAuth {
    pub(super) fn new(credentials: &[(String, String)]) -> Self {
        BasicAuth {
            users: credentials.iter().map(|(u, p)| (u.clone(), sha256(u.as_bytes()), sha256(p.as_bytes()))).collect(),
        }
    }

    pub(super) fn is_enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks the request's `Authorization: Basic` header.
    pub(super) fn check(&self, headers: &HeaderMap) -> Verdict {
        if !self.is_enabled() {
            return Verdict::Off;
        }
        let Some((user, password)) = credentials(headers) else {
            return Verdict::Denied;
        };
        let (user_digest, password_digest) = (sha256(user.as_bytes()), sha256(password.as_bytes()));
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, (_, u, p)) in self.users.iter().enumerate() {
            let matched = user_digest.ct_eq(u) & password_digest.ct_eq(p);
            index.conditional_assign(&u32::try_from(i).unwrap_or(u32::MAX), matched);
            found |= matched;
        }
        if bool::from(found) {
            let name = usize::try_from(index).ok().and_then(|i| self.users.get(i));
            name.map_or(Verdict::Denied, |(name, _, _)| Verdict::User(name.clone()))
        } else {
            Verdict::Denied
        }
    }
}

/// The user and password of an `Authorization: Basic` header.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(hyper::header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    fn basic(user: &str, password: &str) -> HeaderMap {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        headers(&format!("Basic {token}"))
    }

    #[test]
    fn verdicts() {
        let auth = BasicAuth::new(&[("testuser".into(), "123456".into()), ("other".into(), "pw:with:colons".into())]);
        assert_eq!(auth.check(&basic("testuser", "123456")), Verdict::User("testuser".into()));
        assert_eq!(auth.check(&basic("other", "pw:with:colons")), Verdict::User("other".into()));
        assert_eq!(auth.check(&basic("testuser", "12345")), Verdict::Denied);
        assert_eq!(auth.check(&basic("other", "123456")), Verdict::Denied);
        assert_eq!(auth.check(&HeaderMap::new()), Verdict::Denied);
        assert_eq!(auth.check(&headers("Bearer abc")), Verdict::Denied);
        assert_eq!(auth.check(&headers("Basic !!!")), Verdict::Denied);
        assert_eq!(auth.check(&headers("basic dGVzdHVzZXI6MTIzNDU2")), Verdict::User("testuser".into()));
    }

    #[test]
    fn off_ignores_headers() {
        let auth = BasicAuth::new(&[]);
        assert_eq!(auth.check(&basic("testuser", "123456")), Verdict::Off);
    }
}
