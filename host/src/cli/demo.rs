//! `reflex demo`: the quickest look at reflex. Starts the demo device service in this process
//! (on `tcp://127.0.0.1:0` unless `--listen` says otherwise) and opens the shell on it.
//!
//! While the shell is open the device is a real server: the intro line names its URL, so a
//! second terminal can `reflex call` it (or `reflex doc` it, or a Python client call it).
//! Leaving the shell stops the server. The exit status is the shell's.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::call::{ansi, paint};
use super::shell::{self, ShellOptions};
use crate::client::ClientOptions;
use crate::server::{Server, ServerConfig};
use crate::Endpoint;

/// Where the demo device listens unless `--listen` says otherwise: a free port on loopback.
pub const DEMO_LISTEN: &str = "tcp://127.0.0.1:0";

/// Arguments of `reflex demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the demo device listens (repeatable; the shell uses the first): tcp://HOST:PORT,
    /// unix:///PATH, http://HOST:PORT/PATH. Port 0 picks a free port.
    #[arg(short, long = "listen", value_name = "URL", default_value = DEMO_LISTEN)]
    pub listen: Vec<Endpoint>,
    /// History and output of the shell.
    #[command(flatten)]
    pub shell: ShellOptions,
}

/// The demo device, served from a thread of its own until dropped.
struct DemoServer {
    endpoints: Vec<Endpoint>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DemoServer {
    /// Binds the listeners (errors are reported, e.g. a port in use) and serves on a
    /// background thread.
    fn start(listen: Vec<Endpoint>) -> Result<DemoServer, String> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Vec<Endpoint>, String>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("reflex-demo-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start the runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let config = ServerConfig { listen, workers: 1, ..ServerConfig::default() };
                    let server = match Server::bind(Arc::new(crate::demo_service()), config).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(server.endpoints()));
                    // Dropping the server's future stops it (and removes Unix socket files).
                    tokio::select! {
                        result = server.run_until(std::future::pending()) => {
                            if let Err(e) = result {
                                tracing::error!("demo server: {e}");
                            }
                        }
                        _ = stop_rx => {}
                    }
                });
            })
            .map_err(|e| format!("cannot start the server thread: {e}"))?;
        let endpoints = match ready_rx.recv() {
            Ok(Ok(endpoints)) => endpoints,
            Ok(Err(message)) => {
                let _ = thread.join();
                return Err(message);
            }
            Err(_) => {
                let _ = thread.join();
                return Err("the server thread stopped".into());
            }
        };
        Ok(DemoServer { endpoints, stop: Some(stop_tx), thread: Some(thread) })
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `reflex demo`.
pub fn run(args: DemoArgs) -> ExitCode {
    let server = match DemoServer::start(args.listen.clone()) {
        Ok(s) => s,
        Err(message) => return super::usage(&format!("cannot start the demo device: {message}")),
    };
    let Some(endpoint) = server.endpoints.first().cloned() else {
        return super::usage("cannot start the demo device: no --listen endpoint");
    };
    let interactive = std::io::stdin().is_terminal();
    let also = server.endpoints.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let headline = format!("the demo device runs in this process, at {also} while this shell is open");
    if interactive {
        let color = args.shell.output.color.enabled(std::io::stdout().is_terminal());
        println!(
            "{} {headline}\n  (in another terminal: reflex call {endpoint} add 2 3)\n",
            paint("reflex demo:", ansi::BOLD, color)
        );
    } else {
        // Scripts read results on stdout; the banner goes to stderr.
        eprintln!("reflex demo: {headline}");
    }
    let options = ClientOptions { timeout: Duration::from_secs(10), ..ClientOptions::default() };
    let code = shell::run_on(&endpoint, options, &args.shell);
    drop(server);
    code
}
