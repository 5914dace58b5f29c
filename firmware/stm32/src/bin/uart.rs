//! The reflex demo device on an ST Nucleo-F429ZI: newline-delimited JSON-RPC 1.0/2.0 on
//! USART3 (PD8 TX, PD9 RX, 115200 8N1), which the on-board ST-LINK bridges to USB as a virtual
//! COM port, served by the core's async server over embassy-stm32's interrupt-driven
//! `BufferedUart`. The defmt log goes out over RTT through the same ST-LINK.
//!
//! ```text
//! cargo run --release --bin uart                  # flash with probe-rs, print the log
//! reflex shell 'serial:///dev/ttyACM0?baud=115200'
//! ```
#![no_std]
#![no_main]

use defmt::{info, unwrap, warn};
use embassy_executor::Spawner;
use embassy_stm32::gpio::{Level, Output, Speed};
use embassy_stm32::usart::{self, BufferedUart};
use embassy_stm32::{bind_interrupts, peripherals};
use reflex::io::{Buffers, ServeError};
use reflex::{Config, RpcInfo, Transport};
use reflex_demo::Demo;
use reflex_stm32::{Board, RX_LEN, SCRATCH_LEN, TX_LEN};
use static_cell::ConstStaticCell;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    USART3 => usart::BufferedInterruptHandler<peripherals::USART3>;
});

/// The UART's receive ring: what may arrive while the server is busy with a request.
const UART_RX_LEN: usize = 1024;
/// The UART's transmit ring.
const UART_TX_LEN: usize = 256;

static DEMO: Demo<Board> = Demo::new(Board::new("nucleo-f429zi"));

static UART_RX: ConstStaticCell<[u8; UART_RX_LEN]> = ConstStaticCell::new([0; UART_RX_LEN]);
static UART_TX: ConstStaticCell<[u8; UART_TX_LEN]> = ConstStaticCell::new([0; UART_TX_LEN]);
static RX: ConstStaticCell<[u8; RX_LEN]> = ConstStaticCell::new([0; RX_LEN]);
static SCRATCH: ConstStaticCell<[u8; SCRATCH_LEN]> = ConstStaticCell::new([0; SCRATCH_LEN]);
static TX: ConstStaticCell<[u8; TX_LEN]> = ConstStaticCell::new([0; TX_LEN]);

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_stm32::init(reflex_stm32::clocks());
    DEMO.platform().attach_leds([
        Output::new(p.PB0, Level::Low, Speed::Low),
        Output::new(p.PB7, Level::Low, Speed::Low),
        Output::new(p.PB14, Level::Low, Speed::Low),
    ]);

    let mut config = usart::Config::default();
    config.baudrate = 115_200;
    let mut uart = unwrap!(BufferedUart::new(p.USART3, p.PD9, p.PD8, UART_TX.take(), UART_RX.take(), Irqs, config));
    let (rx, scratch, tx) = (RX.take(), SCRATCH.take(), TX.take());
    info!(
        "reflex-stm32 {} (uart): JSON-RPC on USART3 (ST-LINK virtual COM port) at 115200 baud; buffers rx {} B, scratch {} B, tx {} B",
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
