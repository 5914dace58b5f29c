//! `firmware-sim`: the reflex demo device as an embassy firmware that runs on Linux. Its network
//! interface is a TAP device, driven by embassy-net (smoltcp) exactly as a board's Ethernet
//! MAC would be, under embassy's std executor; requests are served by the core's async
//! framing server (`reflex::io::serve_async`).
//!
//! ```text
//! firmware-sim TAP ADDRESS/PREFIX PORT       e.g. firmware-sim tap0 10.200.0.2/24 1234
//! ```
//!
//! * The stack has the static IPv4 address `ADDRESS/PREFIX` (no gateway, no DHCP) on the TAP
//!   device `TAP`, which must exist or be creatable (CAP_NET_ADMIN). The host end of the TAP
//!   needs an address in the same subnet; see the README for a network namespace that keeps
//!   every packet on the machine.
//! * [`CONNECTIONS`] socket tasks accept on `PORT`, so that many clients are served at once,
//!   each with its own socket and reflex buffers. A handler that waits (`slow_operation`
//!   sleeps one second on an embassy-time `Timer`) holds up only its own connection.
//! * Sockets time out a peer that stops answering ([`PEER_TIMEOUT`], probed by keep-alives
//!   while idle), and send replies at once (Nagle off).
//! * Logs go to stderr through `env_logger` (`RUST_LOG`, default `info`); the one line on
//!   stdout says where it serves, once it does.
//!
//! Memory per connection, like a board's statics: socket buffers of [`SOCKET_BUF`] bytes each
//! way, a [`RX_LEN`]-byte receive buffer (the longest request), a [`SCRATCH_LEN`]-byte
//! scratch buffer and a [`TX_LEN`]-byte transmit buffer.

use std::fmt::Write as _;
use std::hash::{BuildHasher as _, Hasher as _};
use std::net::Ipv4Addr;
use std::process::ExitCode;

use embassy_executor::{Executor, Spawner};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::{with_timeout, Duration, Instant, Timer};
use log::{error, info, warn};
use reflex::io::{Buffers, ServeError};
use reflex::{Config, RpcInfo, Transport};
use reflex_demo::{Demo, Platform};
use static_cell::StaticCell;

/// Connections served at once: one socket task each.
const CONNECTIONS: usize = 4;
/// Each socket's receive and transmit buffers.
const SOCKET_BUF: usize = 4096;
/// The longest request served. 128 KiB, far more than a board would spend, so that every
/// `reflex conform` case fits, even the 100 002-byte run of opening brackets that must be
/// answered with a parse error rather than the framing's size error.
const RX_LEN: usize = 128 * 1024;
/// Unescaped string parameters (strings without escapes are borrowed from `rx` instead): the
/// longest escaped string that can be passed. 8 KiB holds the conformance suite's 4 KiB
/// strings.
const SCRATCH_LEN: usize = 8 * 1024;
/// Reply batching.
const TX_LEN: usize = 1024;
/// A peer that sends nothing for this long, not even an answer to a keep-alive, is dropped.
const PEER_TIMEOUT: Duration = Duration::from_secs(60);
/// Keep-alive probes on an idle connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a closing connection may take to deliver its last bytes and FIN.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The model `device.info` reports.
const MODEL: &str = "sim-embassy-net-tap";

const USAGE: &str = "usage: firmware-sim TAP ADDRESS/PREFIX PORT   (e.g. firmware-sim tap0 10.200.0.2/24 1234)";

/// The simulated board: embassy-time for the clock and for sleeping, LEDs that log.
struct Board;

impl Platform for Board {
    fn uptime_ms(&self) -> u64 {
        // embassy-time's std driver counts from its first use, at start-up (`main`).
        Instant::now().as_millis()
    }

    async fn sleep_ms(&self, ms: u32) {
        Timer::after_millis(u64::from(ms)).await;
    }

    fn model(&self) -> &'static str {
        MODEL
    }

    fn led_changed(&self, index: usize, on: bool) {
        info!("LED {index} {}", if on { "on" } else { "off" });
    }
}

/// The demo device, shared by every connection (its LEDs and counter are atomics).
static DEMO: Demo<Board> = Demo::new(Board);

/// The command line.
struct Args {
    tap: String,
    address: Ipv4Cidr,
    port: u16,
}

impl Args {
    fn parse(args: &[String]) -> Result<Args, String> {
        let [tap, address, port] = args else {
            return Err(format!("expected 3 arguments, got {}", args.len()));
        };
        let (ip, prefix) = address.split_once('/').ok_or_else(|| format!("`{address}` is not ADDRESS/PREFIX"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|e| format!("`{ip}` is not an IPv4 address: {e}"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| (1..=32).contains(p))
            .ok_or_else(|| format!("`{prefix}` is not a prefix length (1 to 32)"))?;
        let port: u16 =
            port.parse().ok().filter(|&p| p != 0).ok_or_else(|| format!("`{port}` is not a TCP port (1 to 65535)"))?;
        Ok(Args { tap: tap.clone(), address: Ipv4Cidr::new(ip, prefix), port })
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// One connection slot: accepts on `port`, serves the connection until it ends, accepts again.
#[embassy_executor::task(pool_size = CONNECTIONS)]
async fn connection_task(slot: usize, stack: Stack<'static>, port: u16) -> ! {
    let mut socket_rx = [0u8; SOCKET_BUF];
    let mut socket_tx = [0u8; SOCKET_BUF];
    let mut rx = [0u8; RX_LEN];
    let mut scratch = [0u8; SCRATCH_LEN];
    let mut tx = [0u8; TX_LEN];
    let config = Config::new();
    loop {
        let mut socket = TcpSocket::new(stack, &mut socket_rx, &mut socket_tx);
        socket.set_timeout(Some(PEER_TIMEOUT));
        socket.set_keep_alive(Some(KEEP_ALIVE));
        socket.set_nagle_enabled(false);
        if let Err(e) = socket.accept(port).await {
            warn!("[{slot}] accept failed: {e:?}");
            Timer::after_millis(100).await;
            continue;
        }
        let mut peer = heapless::String::<32>::new();
        if let Some(ep) = socket.remote_endpoint() {
            let _ = write!(peer, "{ep}");
        }
        info!("[{slot}] connection from {peer}");
        let info = RpcInfo::new(Transport::Tcp).with_peer(&peer);
        let bufs = Buffers { rx: &mut rx, scratch: &mut scratch, tx: &mut tx };
        match reflex::io::serve_async(&DEMO, &config, &mut socket, bufs, &info).await {
            Ok(()) => info!("[{slot}] {peer} closed the connection"),
            Err(ServeError::Io(e)) => warn!("[{slot}] connection from {peer} failed: {e:?}"),
            Err(ServeError::Buffer) => error!("[{slot}] unusable buffers"),
        }
        // Send what is left and a FIN; a peer that does not take them within the limit gets
        // a reset instead, so the slot is free again either way.
        socket.close();
        if with_timeout(CLOSE_TIMEOUT, socket.flush()).await.is_err() {
            socket.abort();
            let _ = with_timeout(CLOSE_TIMEOUT, socket.flush()).await;
        }
    }
}

/// A seed for the stack's TCP sequence numbers and ports, from the randomly keyed std hasher.
fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish()
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match Args::parse(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("firmware-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let device = match TunTapDevice::new(&args.tap) {
        Ok(device) => device,
        Err(e) => {
            eprintln!(
                "firmware-sim: cannot open TAP device `{}`: {e} (it needs CAP_NET_ADMIN, or a TAP device of that \
                 name that this user may open: ip tuntap add name {} mode tap user $USER)",
                args.tap, args.tap
            );
            return ExitCode::FAILURE;
        }
    };
    let _ = Instant::now(); // Starts the clock: uptime counts from here.

    let net_config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: args.address,
        gateway: None,
        dns_servers: heapless::Vec::new(),
    });
    static RESOURCES: StaticCell<StackResources<CONNECTIONS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(device, net_config, RESOURCES.init(StackResources::new()), random_seed());

    static EXECUTOR: StaticCell<Executor> = StaticCell::new();
    EXECUTOR.init(Executor::new()).run(move |spawner: Spawner| {
        spawner.spawn(net_task(runner).expect("one network task"));
        for slot in 0..CONNECTIONS {
            spawner.spawn(connection_task(slot, stack, args.port).expect("a task per connection slot"));
        }
        info!(
            "reflex demo device {}: buffers rx {RX_LEN} B, scratch {SCRATCH_LEN} B, tx {TX_LEN} B, socket {SOCKET_BUF} B \
             each way, {CONNECTIONS} connections",
            env!("CARGO_PKG_VERSION")
        );
        println!("firmware-sim: serving JSON-RPC on tcp://{}:{} ({})", args.address.address(), args.port, args.tap);
    })
}
