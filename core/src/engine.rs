//! Request processing (stub, being written).

/// Engine options.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Maximum nesting depth.
    pub max_depth: u8,
}

/// Handles one request (stub).
pub async fn handle() {}
