//! The demo service's platform on the host: `std::time` for the clock, tokio for sleeping.

use std::time::Instant;

/// Clock and timer of the host for [`reflex_demo::Demo`].
#[derive(Debug, Clone, Copy)]
pub struct HostPlatform {
    start: Instant,
}

impl HostPlatform {
    /// A platform whose uptime starts now.
    pub fn new() -> Self {
        HostPlatform { start: Instant::now() }
    }
}

impl Default for HostPlatform {
    fn default() -> Self {
        HostPlatform::new()
    }
}

impl reflex_demo::Platform for HostPlatform {
    fn uptime_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn sleep_ms(&self, ms: u32) {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(ms))).await;
    }

    fn model(&self) -> &'static str {
        "host"
    }
}
