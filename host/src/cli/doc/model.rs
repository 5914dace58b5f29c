//! What `reflex doc` and `reflex gen` know about a service: the three reflection documents,
//! where and when they were read, and the ReflectRPC type names parsed.
//!
//! Everything in a [`Reflection`] comes from the server and is untrusted: renderers escape
//! every string they take from it.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cli::{connection_error, ConnectArgs, EXIT_FAILURE};
use crate::client::{Client, ClientError, CustomType, FunctionInfo, ServiceInfo};

/// A service as its reflection describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reflection {
    /// `__describe_service` (all fields empty when the server does not answer it).
    pub service: ServiceInfo,
    /// `__describe_functions`, in the server's order.
    pub functions: Vec<FunctionInfo>,
    /// `__describe_custom_types`, in the server's order (empty when the server does not
    /// answer it).
    pub types: Vec<CustomType>,
}

impl Reflection {
    /// The custom type called `name`, if the service declares one.
    pub fn custom_type(&self, name: &str) -> Option<&CustomType> {
        self.types.iter().find(|t| t.name() == name)
    }

    /// The service's name, or a stand-in when it has none.
    pub fn display_name(&self) -> &str {
        let name = self.service.name.trim();
        if name.is_empty() {
            "Unnamed service"
        } else {
            name
        }
    }
}

/// Where and when a document was generated, and by what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The endpoint the reflection was read from, as a URL.
    pub endpoint: String,
    /// When, as `YYYY-MM-DD HH:MM:SS UTC`.
    pub generated_at: String,
    /// The generator, e.g. `reflex doc 0.1.0`.
    pub generator: String,
}

impl Provenance {
    /// Provenance for `command` (`doc`, `gen`) reading `endpoint` now. The time is taken from
    /// `SOURCE_DATE_EPOCH` when that is set to a number of seconds (reproducible builds).
    pub fn now(command: &str, endpoint: &str) -> Provenance {
        let epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            .unwrap_or_else(SystemTime::now);
        let secs = epoch.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Provenance {
            endpoint: endpoint.to_string(),
            generated_at: format_utc(secs),
            generator: format!("reflex {command} {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// `secs` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A ReflectRPC type name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef<'a> {
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// `base64`: a string of base64-encoded bytes.
    Base64,
    /// `array`: any array.
    Array,
    /// `hash`: any object.
    Hash,
    /// `null` (the result of a function that returns nothing).
    Null,
    /// `array<T>`.
    ArrayOf(Box<TypeRef<'a>>),
    /// Any other name: a custom type if the service declares it, else unknown (treat it as
    /// any JSON value).
    Named(&'a str),
}

impl<'a> TypeRef<'a> {
    /// Parses a type name as the server wrote it (surrounding whitespace ignored; an empty
    /// name is `Named("")`).
    pub fn parse(name: &'a str) -> TypeRef<'a> {
        let name = name.trim();
        match name {
            "int" => TypeRef::Int,
            "float" => TypeRef::Float,
            "bool" => TypeRef::Bool,
            "string" => TypeRef::String,
            "base64" => TypeRef::Base64,
            "array" => TypeRef::Array,
            "hash" => TypeRef::Hash,
            "null" => TypeRef::Null,
            _ => match name.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
                Some(inner) if !inner.trim().is_empty() => TypeRef::ArrayOf(Box::new(TypeRef::parse(inner))),
                _ => TypeRef::Named(name),
            },
        }
    }
}

/// Reads the reflection of `client`'s service. Only a failed `__describe_functions` is an
/// error; a failed `__describe_service` or `__describe_custom_types` gives a warning (in the
/// returned list) and empty defaults. Errors other than an error reply (connection lost,
/// timeout) fail at once.
pub async fn fetch(client: &mut Client) -> Result<(Reflection, Vec<String>), FetchError> {
    let mut warnings = Vec::new();
    let service = match client.describe_service().await {
        Ok(s) => s,
        Err(e) if is_reply_problem(&e) => {
            warnings.push(format!("__describe_service failed ({e}); the service's name and version are unknown"));
            ServiceInfo::default()
        }
        Err(e) => return Err(FetchError::Connection(e)),
    };
    let functions = match client.describe_functions().await {
        Ok(f) => f,
        Err(e) if is_reply_problem(&e) => return Err(FetchError::Functions(e)),
        Err(e) => return Err(FetchError::Connection(e)),
    };
    let types = match client.describe_custom_types().await {
        Ok(t) => t,
        Err(e) if is_reply_problem(&e) => {
            warnings.push(format!("__describe_custom_types failed ({e}); documenting without custom types"));
            Vec::new()
        }
        Err(e) => return Err(FetchError::Connection(e)),
    };
    Ok((Reflection { service, functions, types }, warnings))
}

/// Whether the server answered, but not with what was asked for (an error reply or a result
/// of the wrong shape), rather than the connection failing.
fn is_reply_problem(e: &ClientError) -> bool {
    matches!(e, ClientError::Rpc(_) | ClientError::Result(_) | ClientError::InvalidReply { .. })
}

/// Why the reflection could not be read.
#[derive(Debug)]
pub enum FetchError {
    /// The connection failed (exit 2).
    Connection(ClientError),
    /// The server answered `__describe_functions` with an error or nonsense (exit 1).
    Functions(ClientError),
}

/// Connects with `args`, reads the reflection and prints warnings on stderr; on failure,
/// prints why and returns the exit code. Used by `reflex doc` and `reflex gen` (`command`).
pub fn load(args: &ConnectArgs, command: &str) -> Result<(Reflection, Provenance), ExitCode> {
    super::super::runtime().block_on(async {
        let mut client = args.connect().await?;
        let fetched = fetch(&mut client).await;
        client.close().await;
        match fetched {
            Ok((reflection, warnings)) => {
                for w in warnings {
                    eprintln!("reflex: warning: {w}");
                }
                Ok((reflection, Provenance::now(command, &args.url.to_string())))
            }
            Err(FetchError::Connection(e)) => Err(connection_error(&args.url, &e)),
            Err(FetchError::Functions(e)) => {
                eprintln!("reflex: {} cannot describe its functions: __describe_functions failed: {e}", args.url);
                Err(ExitCode::from(EXIT_FAILURE))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_utc(4_107_542_399), "2100-02-28 23:59:59 UTC");
    }

    #[test]
    fn type_names() {
        assert_eq!(TypeRef::parse("int"), TypeRef::Int);
        assert_eq!(TypeRef::parse(" array<array<Address>> "), {
            TypeRef::ArrayOf(Box::new(TypeRef::ArrayOf(Box::new(TypeRef::Named("Address")))))
        });
        assert_eq!(TypeRef::parse("array<>"), TypeRef::Named("array<>"));
        assert_eq!(TypeRef::parse(""), TypeRef::Named(""));
    }
}
