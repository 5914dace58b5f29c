//! HTTP Basic authentication with constant-time comparison.
//!
//! Both sides of each comparison are SHA-256 digests (fixed length), compared with `subtle`,
//! and every configured credential is compared, so neither the position of the first
//! differing byte, nor the lengths, nor which entry matched shows in the timing.
//!
//! Credentials come from the command line, the environment or a file
//! ([`read_credentials_file`]): the last two keep passwords out of the process list.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

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

/// One `USER:PASSWORD` credential: split at the first colon (a user name cannot contain one,
/// a password can), the user not empty, nothing trimmed.
pub(super) fn parse_credential(text: &str) -> Result<(String, String), &'static str> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_string(), password.to_string())),
        _ => Err("expected USER:PASSWORD"),
    }
}

/// The credentials of a credentials file's text: one `USER:PASSWORD` per line (LF or CRLF),
/// taken literally; blank lines and lines whose first non-blank character is `#` are skipped.
/// Errors name the line number but never echo the line, which may hold a password.
pub(super) fn parse_credentials(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut credentials = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        credentials.push(parse_credential(line).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(credentials)
}

/// Reads a credentials file ([`parse_credentials`]). A file other users may read or write is
/// refused, as a file without any credential is (Basic auth would silently be off); one the
/// group may read or write is used, with a warning (a service group sharing it can be
/// deliberate).
pub(super) fn read_credentials_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let fail = |what: String| format!("credentials file {}: {what}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    // The mode of the file that was opened, not of whatever the path names a moment later.
    let mode = file.metadata().map_err(|e| fail(e.to_string()))?.permissions().mode();
    if mode & 0o006 != 0 {
        return Err(fail(format!("other users may read or write it (mode {:04o}); chmod o-rw it", mode & 0o7777)));
    }
    if mode & 0o060 != 0 {
        tracing::warn!(
            "credentials file {}: its group may read or write it (mode {:04o})",
            path.display(),
            mode & 0o7777
        );
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| fail(e.to_string()))?;
    let credentials = parse_credentials(&text).map_err(fail)?;
    if credentials.is_empty() {
        return Err(fail("no USER:PASSWORD line".to_string()));
    }
    Ok(credentials)
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
    fn credentials_text() {
        let text = "# users\n\nalice:s3cret\r\n  # indented comment\nbob:pw:with:colons\ncarol: spaced \ndave:\n";
        assert_eq!(
            parse_credentials(text),
            Ok(vec![
                ("alice".into(), "s3cret".into()),
                ("bob".into(), "pw:with:colons".into()),
                ("carol".into(), " spaced ".into()),
                ("dave".into(), String::new()),
            ])
        );
        assert_eq!(parse_credentials("alice:pw\nnocolon-secret\n"), Err("line 2: expected USER:PASSWORD".into()));
        assert_eq!(parse_credentials(":pw"), Err("line 1: expected USER:PASSWORD".into()));
        assert_eq!(parse_credentials("\n# nothing\n"), Ok(vec![]));
    }

    #[test]
    fn credentials_file_permissions() {
        let dir = std::env::temp_dir().join(format!("reflex-auth-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("users");
        let write = |text: &str, mode: u32| {
            std::fs::write(&file, text).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("alice:s3cret\n", 0o600);
        assert_eq!(read_credentials_file(&file), Ok(vec![("alice".into(), "s3cret".into())]));
        write("alice:s3cret\n", 0o640);
        assert!(read_credentials_file(&file).is_ok(), "group-readable: a warning only");
        for mode in [0o644, 0o602] {
            write("alice:s3cret\n", mode);
            let err = read_credentials_file(&file).expect_err("other users may read it");
            assert!(err.contains("other users") && !err.contains("s3cret"), "{err}");
        }
        write("# nobody\n", 0o600);
        assert!(read_credentials_file(&file).expect_err("empty").contains("no USER:PASSWORD"));
        write("alice s3cret\n", 0o600);
        let err = read_credentials_file(&file).expect_err("malformed");
        assert!(err.contains("line 1") && !err.contains("s3cret"), "{err}");
        assert!(read_credentials_file(&dir.join("missing")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn off_ignores_headers() {
        let auth = BasicAuth::new(&[]);
        assert_eq!(auth.check(&basic("testuser", "123456")), Verdict::Off);
    }
}
