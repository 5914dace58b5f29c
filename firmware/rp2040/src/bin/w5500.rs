//! The reflex demo device on a WIZnet W5500-EVB-Pico (an RP2040 with a W5500 Ethernet chip):
//! newline-delimited JSON-RPC 1.0/2.0 over TCP port 1234, [`CONNECTIONS`] clients at once,
//! served by the core's async server. embassy-net (smoltcp) runs the TCP/IP stack on the
//! RP2040; the W5500 only moves Ethernet frames (MACRAW mode, embassy-net-wiznet).
//!
//! * SPI0 to the W5500: GP16 MISO, GP17 CS, GP18 SCK, GP19 MOSI, GP20 RESET, GP21 INT (the
//!   EVB-Pico's wiring; a Pico with a W5500 module wired the same way works too).
//! * The address comes from DHCP, unless `REFLEX_IPV4=ADDRESS/PREFIX` (and optionally
//!   `REFLEX_GATEWAY`) was set when building. The log (defmt over RTT) says which address.
//! * The MAC address is derived from the flash chip's unique ID: stable per board, locally
//!   administered.
//!
//! ```text
//! cargo run --release --bin w5500                 # flash with probe-rs, print the log
//! reflex shell tcp://<address>:1234
//! ```
#![no_std]
#![no_main]

use defmt::{info, unwrap};
use embassy_executor::Spawner;
use embassy_net::{Stack, StackResources};
use embassy_net_wiznet::chip::W5500;
use embassy_net_wiznet::{Device, Runner, State};
use embassy_rp::clocks::RoscRng;
use embassy_rp::flash::{Blocking, Flash};
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::{DMA_CH0, DMA_CH1, SPI0};
use embassy_rp::spi::{self, Async, Spi};
use embassy_rp::{bind_interrupts, dma};
use embassy_time::Delay;
use embedded_hal_bus::spi::ExclusiveDevice;
use reflex_demo::Demo;
use reflex_rp2040::{Board, ConnectionMemory};
use static_cell::{ConstStaticCell, StaticCell};
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>, dma::InterruptHandler<DMA_CH1>;
});

/// The TCP port served.
const PORT: u16 = 1234;
/// Clients served at once: one socket task (and one [`ConnectionMemory`]) each.
const CONNECTIONS: usize = 3;
/// The flash chip's size (2 MiB on the W5500-EVB-Pico), for the flash driver's bounds.
const FLASH_SIZE: usize = 2 * 1024 * 1024;

static DEMO: Demo<Board> = Demo::new(Board::new("rp2040-w5500-evb-pico"));

static MEMORY: [ConstStaticCell<ConnectionMemory>; CONNECTIONS] =
    [const { ConstStaticCell::new(ConnectionMemory::new()) }; CONNECTIONS];

type W5500Spi = ExclusiveDevice<Spi<'static, SPI0, Async>, Output<'static>, Delay>;

/// Moves frames between the W5500 and the network stack.
#[embassy_executor::task]
async fn ethernet_task(runner: Runner<'static, W5500, W5500Spi, Input<'static>, Output<'static>>) -> ! {
    runner.run().await
}

/// The TCP/IP stack.
#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Device<'static>>) -> ! {
    runner.run().await
}

/// One connection slot.
#[embassy_executor::task(pool_size = CONNECTIONS)]
async fn connection_task(slot: usize, stack: Stack<'static>, mem: &'static mut ConnectionMemory) -> ! {
    reflex_rp2040::serve_tcp(slot, stack, PORT, &DEMO, mem).await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    DEMO.platform().attach_led(Output::new(p.PIN_25, Level::Low));

    // A locally administered unicast MAC (02:...) from the flash chip's 64-bit unique ID.
    let mut uid = [0u8; 8];
    unwrap!(Flash::<_, Blocking, FLASH_SIZE>::new_blocking(p.FLASH).blocking_unique_id(&mut uid));
    let mac = [0x02, uid[3], uid[4], uid[5], uid[6], uid[7]];

    let mut spi_config = spi::Config::default();
    spi_config.frequency = 50_000_000; // The W5500's SPI takes up to 80 MHz.
    let spi = Spi::new(p.SPI0, p.PIN_18, p.PIN_19, p.PIN_16, p.DMA_CH0, p.DMA_CH1, Irqs, spi_config);
    let cs = Output::new(p.PIN_17, Level::High);
    let int = Input::new(p.PIN_21, Pull::Up);
    let reset = Output::new(p.PIN_20, Level::High);
    let spi = unwrap!(ExclusiveDevice::new(spi, cs, Delay));

    static STATE: StaticCell<State<8, 8>> = StaticCell::new();
    let Ok((device, runner)) = embassy_net_wiznet::new(mac, STATE.init(State::new()), spi, int, reset).await else {
        defmt::panic!("no W5500 answers on SPI0 (GP16-GP21): check the board and its wiring");
    };
    spawner.spawn(unwrap!(ethernet_task(runner)));

    let config = reflex_rp2040::net_config(option_env!("REFLEX_IPV4"), option_env!("REFLEX_GATEWAY"));
    // The sockets: one per connection slot, one for DHCP.
    static RESOURCES: StaticCell<StackResources<{ CONNECTIONS + 1 }>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(device, config, RESOURCES.init(StackResources::new()), RoscRng.next_u64());
    spawner.spawn(unwrap!(net_task(runner)));

    info!("reflex-rp2040 {} (w5500): MAC {:02x}, waiting for the network", env!("CARGO_PKG_VERSION"), mac);
    stack.wait_config_up().await;
    if let Some(c) = stack.config_v4() {
        info!("serving JSON-RPC on tcp://{}:{} ({} connections)", c.address.address(), PORT, CONNECTIONS);
    }
    for (slot, mem) in MEMORY.iter().enumerate() {
        spawner.spawn(unwrap!(connection_task(slot, stack, mem.take())));
    }
}
