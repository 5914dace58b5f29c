//! What the two Nucleo-F429ZI firmwares (`src/bin/uart.rs`, `src/bin/eth.rs`) share: the
//! clock tree, the board under the demo service, the memory of one connection, the TCP
//! serving loop and the network configuration chosen at build time.
//!
//! The board's clock and sleeps come from embassy-time (a timer of the STM32 counting at
//! 32 768 Hz), so the demo's `slow_operation` waits on a `Timer` and other connections go on
//! meanwhile. The demo's LEDs 0, 1 and 2 are the user LEDs LD1 (green, PB0), LD2 (blue, PB7)
//! and LD3 (red, PB14); LED 3 exists only in the log.
#![no_std]

use core::cell::RefCell;
use core::fmt::Write as _;
use core::net::Ipv4Addr;

use defmt::{info, warn};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Cidr, Stack, StaticConfigV4};
use embassy_stm32::gpio::Output;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_time::{with_timeout, Duration, Instant, Timer};
use reflex::io::{Buffers, ServeError};
use reflex::{Config, RpcInfo, Transport};
use reflex_demo::{Demo, Platform};

/// The longest request served: every `reflex conform` case fits but one (a run of 100 000
/// opening brackets, answered with the framing's size error instead of a parse error).
pub const RX_LEN: usize = 8 * 1024;
/// Unescaped string parameters: the longest string with escapes (`\n`, `\u00e9`) a request
/// may pass. Strings without escapes are borrowed from the receive buffer and need none.
pub const SCRATCH_LEN: usize = 1024;
/// Reply batching (replies of any length stream through it).
pub const TX_LEN: usize = 512;
/// Each TCP socket's receive and transmit buffers.
pub const SOCKET_BUF: usize = 2048;

/// The clocks: the ST-LINK's 8 MHz (HSE bypass) through the PLL to 168 MHz, 48 MHz for the
/// RNG. Ethernet needs at least 25 MHz on the AHB; the reset default (16 MHz HSI) is too
/// slow for it.
pub fn clocks() -> embassy_stm32::Config {
    use embassy_stm32::rcc::{
        AHBPrescaler, APBPrescaler, Hse, HseMode, Pll, PllMul, PllPDiv, PllPreDiv, PllQDiv, PllSource, Sysclk,
    };
    use embassy_stm32::time::Hertz;

    let mut config = embassy_stm32::Config::default();
    config.rcc.hse = Some(Hse { freq: Hertz(8_000_000), mode: HseMode::Bypass });
    config.rcc.pll_src = PllSource::HSE;
    // 8 MHz / 4 * 168 = 336 MHz VCO; / 2 = 168 MHz system clock; / 7 = 48 MHz.
    config.rcc.pll = Some(Pll {
        prediv: PllPreDiv::DIV4,
        mul: PllMul::MUL168,
        divp: Some(PllPDiv::DIV2),
        divq: Some(PllQDiv::DIV7),
        divr: None,
    });
    config.rcc.sys = Sysclk::PLL1_P;
    config.rcc.ahb_pre = AHBPrescaler::DIV1;
    config.rcc.apb1_pre = APBPrescaler::DIV4; // 42 MHz, the most APB1 takes
    config.rcc.apb2_pre = APBPrescaler::DIV2; // 84 MHz, the most APB2 takes
    config
}

/// A locally administered unicast MAC address (02:...) from the chip's 96-bit unique ID:
/// stable per board.
pub fn mac_address() -> [u8; 6] {
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, b) in embassy_stm32::uid::uid().iter().enumerate() {
        mac[1 + i % 5] ^= b;
    }
    mac
}

/// How many of the demo's LEDs are real: LD1, LD2, LD3.
const BOARD_LEDS: usize = 3;

/// The board under the demo service.
pub struct Board {
    model: &'static str,
    /// The user LEDs, once `main` handed them over.
    leds: Mutex<CriticalSectionRawMutex, RefCell<Option<[Output<'static>; BOARD_LEDS]>>>,
}

impl Board {
    /// A board that reports `model` in `device.info`.
    pub const fn new(model: &'static str) -> Self {
        Board { model, leds: Mutex::new(RefCell::new(None)) }
    }

    /// Makes `leds` the demo's LEDs 0, 1 and 2 (LD1, LD2, LD3 on the Nucleo).
    pub fn attach_leds(&self, leds: [Output<'static>; BOARD_LEDS]) {
        self.leds.lock(|l| *l.borrow_mut() = Some(leds));
    }
}

impl Platform for Board {
    fn uptime_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    async fn sleep_ms(&self, ms: u32) {
        Timer::after_millis(u64::from(ms)).await;
    }

    fn model(&self) -> &'static str {
        self.model
    }

    fn led_changed(&self, index: usize, on: bool) {
        info!("LED {} {}", index, if on { "on" } else { "off" });
        self.leds.lock(|l| {
            if let Some(led) = l.borrow_mut().as_mut().and_then(|leds| leds.get_mut(index)) {
                led.set_level(on.into());
            }
        });
    }
}

/// The memory of one TCP connection: socket buffers and the reflex buffers. Lives in a
/// `static` (see `ConstStaticCell` in the binaries), so it is counted in `.bss`.
pub struct ConnectionMemory {
    socket_rx: [u8; SOCKET_BUF],
    socket_tx: [u8; SOCKET_BUF],
    rx: [u8; RX_LEN],
    scratch: [u8; SCRATCH_LEN],
    tx: [u8; TX_LEN],
}

impl ConnectionMemory {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        ConnectionMemory {
            socket_rx: [0; SOCKET_BUF],
            socket_tx: [0; SOCKET_BUF],
            rx: [0; RX_LEN],
            scratch: [0; SCRATCH_LEN],
            tx: [0; TX_LEN],
        }
    }
}

impl Default for ConnectionMemory {
    fn default() -> Self {
        ConnectionMemory::new()
    }
}

/// A peer that sends nothing for this long, not even an answer to a keep-alive, is dropped.
const PEER_TIMEOUT: Duration = Duration::from_secs(60);
/// Keep-alive probes on an idle connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a closing connection may take to deliver its last bytes and FIN.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection slot of a TCP server: accepts on `port`, serves the connection with the
/// core's async server until it ends, accepts again. Several slots on one port serve as many
/// clients at once.
pub async fn serve_tcp<P: Platform>(
    slot: usize,
    stack: Stack<'static>,
    port: u16,
    demo: &Demo<P>,
    mem: &mut ConnectionMemory,
) -> ! {
    let config = Config::new();
    loop {
        let mut socket = TcpSocket::new(stack, &mut mem.socket_rx, &mut mem.socket_tx);
        socket.set_timeout(Some(PEER_TIMEOUT));
        socket.set_keep_alive(Some(KEEP_ALIVE));
        socket.set_nagle_enabled(false);
        if let Err(e) = socket.accept(port).await {
            warn!("[{}] accept failed: {}", slot, e);
            Timer::after_millis(100).await;
            continue;
        }
        let mut peer = heapless::String::<24>::new();
        if let Some(ep) = socket.remote_endpoint() {
            let _ = write!(peer, "{ep}");
        }
        info!("[{}] connection from {}", slot, peer.as_str());
        let info = RpcInfo::new(Transport::Tcp).with_peer(&peer);
        let bufs = Buffers { rx: &mut mem.rx, scratch: &mut mem.scratch, tx: &mut mem.tx };
        match reflex::io::serve_async(demo, &config, &mut socket, bufs, &info).await {
            Ok(()) => info!("[{}] {} closed the connection", slot, peer.as_str()),
            Err(ServeError::Io(e)) => warn!("[{}] connection from {} failed: {}", slot, peer.as_str(), e),
            Err(ServeError::Buffer) => warn!("[{}] unusable buffers", slot),
        }
        // Send what is left and a FIN; a peer that does not take them in time gets a reset,
        // so the slot is free again either way.
        socket.close();
        if with_timeout(CLOSE_TIMEOUT, socket.flush()).await.is_err() {
            socket.abort();
            let _ = with_timeout(CLOSE_TIMEOUT, socket.flush()).await;
        }
    }
}

/// The IPv4 configuration: static when `address` (`ADDRESS/PREFIX`, e.g. from the build-time
/// variable `REFLEX_IPV4`) is given, with `gateway` if given; DHCP otherwise.
///
/// # Panics
///
/// If `address` or `gateway` does not parse: a build-time setting that is wrong stops the
/// board at boot with a message saying which.
pub fn net_config(address: Option<&str>, gateway: Option<&str>) -> embassy_net::Config {
    let Some(address) = address else {
        return embassy_net::Config::dhcpv4(Default::default());
    };
    let cidr = address
        .split_once('/')
        .and_then(|(ip, prefix)| Some((ip.parse::<Ipv4Addr>().ok()?, prefix.parse::<u8>().ok()?)))
        .filter(|&(_, prefix)| prefix <= 32)
        .unwrap_or_else(|| panic!("REFLEX_IPV4 `{}` is not ADDRESS/PREFIX (e.g. 192.168.1.50/24)", address));
    let gateway = gateway
        .map(|g| g.parse::<Ipv4Addr>().unwrap_or_else(|_| panic!("REFLEX_GATEWAY `{}` is not an IPv4 address", g)));
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(cidr.0, cidr.1),
        gateway,
        dns_servers: heapless::Vec::new(),
    })
}
