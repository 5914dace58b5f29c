//! The jsonrpsee baseline of `bench/servers.sh`: jsonrpsee 0.26's `Server` (HTTP and
//! WebSocket on one port) with the module of the in-process comparison (`add`,
//! `__describe_functions`) on a tokio runtime with 2 worker threads, as in the project's
//! performance baselines.
//!
//! Usage: `jsonrpsee-server [ADDR]` (default `127.0.0.1:0`, a free port). Prints
//! `listening on http://ADDR/` and serves until it is killed.

use std::io::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let server = jsonrpsee::server::Server::builder().build(addr).await?;
        let local = server.local_addr()?;
        let handle = server.start(reflex_bench::jsonrpsee_module());
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{local}/")?;
            out.flush()?;
        }
        handle.stopped().await;
        Ok(())
    })
}
