//! The reflex demo device on an RP2040 (Raspberry Pi Pico or any RP2040 board):
//! newline-delimited JSON-RPC 1.0/2.0 on UART0 (GP0 TX, GP1 RX, 115200 8N1), served by the
//! core's async server over embassy-rp's interrupt-driven `BufferedUart`. The defmt log goes
//! out over RTT to the debug probe.
//!
//! ```text
//! cargo run --release --bin uart                  # flash with probe-rs, print the log
//! reflex shell 'serial:///dev/ttyACM0?baud=115200'
//! ```
#![no_std]
#![no_main]

use defmt::{info, warn};
use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::UART0;
use embassy_rp::uart::{self, BufferedInterruptHandler, BufferedUart};
use reflex::io::{Buffers, ServeError};
use reflex::{Config, RpcInfo, Transport};
use reflex_demo::Demo;
use reflex_rp2040::{Board, RX_LEN, SCRATCH_LEN, TX_LEN};
use static_cell::ConstStaticCell;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    UART0_IRQ => BufferedInterruptHandler<UART0>;
});

/// The UART's receive ring: what may arrive while the server is busy with a request.
const UART_RX_LEN: usize = 1024;
/// The UART's transmit ring.
const UART_TX_LEN: usize = 256;

static DEMO: Demo<Board> = Demo::new(Board::new("rp2040"));

static UART_RX: ConstStaticCell<[u8; UART_RX_LEN]> = ConstStaticCell::new([0; UART_RX_LEN]);
static UART_TX: ConstStaticCell<[u8; UART_TX_LEN]> = ConstStaticCell::new([0; UART_TX_LEN]);
static RX: ConstStaticCell<[u8; RX_LEN]> = ConstStaticCell::new([0; RX_LEN]);
static SCRATCH: ConstStaticCell<[u8; SCRATCH_LEN]> = ConstStaticCell::new([0; SCRATCH_LEN]);
static TX: ConstStaticCell<[u8; TX_LEN]> = ConstStaticCell::new([0; TX_LEN]);

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    DEMO.platform().attach_led(Output::new(p.PIN_25, Level::Low));

    let mut config = uart::Config::default();
    config.baudrate = 115_200;
    let mut uart = BufferedUart::new(p.UART0, p.PIN_0, p.PIN_1, Irqs, UART_TX.take(), UART_RX.take(), config);
    let (rx, scratch, tx) = (RX.take(), SCRATCH.take(), TX.take());
    info!(
        "reflex-rp2040 {} (uart): JSON-RPC on UART0 (GP0 TX, GP1 RX) at 115200 baud; buffers rx {} B, scratch {} B, tx {} B",
        env!("CARGO_PKG_VERSION"),
        RX_LEN,
        SCRATCH_LEN,
        TX_LEN
    );

    let config = Config::new();
    let info = RpcInfo::new(Transport::Serial);
    loop {
        let bufs = Buffers { rx: &mut rx[..], scratch: &mut scratch[..], tx: &mut tx[..] };
        // A UART has no end of input; a line error (break, framing, overrun) ends this round,
        // and serving starts afresh (a partial request is dropped).
        match reflex::io::serve_async(&DEMO, &config, &mut uart, bufs, &info).await {
            Ok(()) => warn!("serve returned: end of input"),
            Err(ServeError::Io(e)) => warn!("UART error: {}", e),
            Err(ServeError::Buffer) => warn!("unusable buffers"),
        }
    }
}
