//! Shared helpers for the reflex test suite: the demo service in process, and the vectors.

pub mod certs;
pub mod lines;

use reflex::{Config, RpcInfo, Transport};
use reflex_demo::{Demo, NoPlatform};

/// The demo device service on a platform whose clock stands still and whose sleeps return
/// at once.
pub static DEMO: Demo<NoPlatform> = Demo::new(NoPlatform);

/// Size of the reply buffer the helpers use: large enough for every reflection document.
pub const OUT: usize = 64 * 1024;

/// Sends `request` to the demo service in process with the default configuration and an
/// unauthenticated context. `None` when no reply is due (a notification).
pub fn call(request: &str) -> Option<String> {
    call_with(&Config::new(), &RpcInfo::new(Transport::InProcess), request.as_bytes())
}

/// Like [`call`] with a configuration, a context and raw bytes.
pub fn call_with(config: &Config, info: &RpcInfo<'_>, request: &[u8]) -> Option<String> {
    let mut scratch = vec![0u8; request.len()];
    let mut out = vec![0u8; OUT];
    let n = reflex::io::handle_to_slice(&DEMO, config, request, &mut scratch, info, &mut out)
        .expect("reply fits the test buffer");
    if n == 0 {
        return None;
    }
    Some(String::from_utf8(out[..n].to_vec()).expect("replies are UTF-8"))
}

/// Parses a reply as JSON, panicking with the text if it is not valid JSON.
pub fn json(reply: &str) -> serde_json::Value {
    serde_json::from_str(reply).unwrap_or_else(|e| panic!("reply is not valid JSON ({e}): {reply}"))
}

/// The directory of the test vectors.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}
