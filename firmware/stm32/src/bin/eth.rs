//! The reflex demo device on an ST Nucleo-F429ZI: newline-delimited JSON-RPC 1.0/2.0 over TCP
//! port 1234 on the board's Ethernet port, [`CONNECTIONS`] clients at once, served by the
//! core's async server. The STM32's Ethernet MAC (embassy-stm32 `eth`, RMII to the on-board
//! LAN8742A PHY) carries the frames; embassy-net (smoltcp) runs TCP/IP.
//!
//! * RMII pins as the Nucleo-144 wires them: PA1 REF_CLK, PA2 MDIO, PA7 CRS_DV, PB13 TXD1,
//!   PC1 MDC, PC4 RXD0, PC5 RXD1, PG11 TX_EN, PG13 TXD0.
//! * The address comes from DHCP, unless `REFLEX_IPV4=ADDRESS/PREFIX` (and optionally
//!   `REFLEX_GATEWAY`) was set when building. The log (defmt over RTT) says which address.
//! * The MAC address is derived from the chip's unique ID: stable per board, locally
//!   administered. The stack's random seed comes from the hardware RNG.
//!
//! ```text
//! cargo run --release --bin eth                   # flash with probe-rs, print the log
//! reflex shell tcp://<address>:1234
//! ```
#![no_std]
#![no_main]

use defmt::{info, unwrap};
use embassy_executor::Spawner;
use embassy_net::{Stack, StackResources};
use embassy_stm32::bind_interrupts;
use embassy_stm32::eth::{self, Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::gpio::{Level, Output, Speed};
use embassy_stm32::peripherals::{ETH, ETH_SMA, RNG};
use embassy_stm32::rng::{self, Rng};
use reflex_demo::Demo;
use reflex_stm32::{Board, ConnectionMemory};
use static_cell::{ConstStaticCell, StaticCell};
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    HASH_RNG => rng::InterruptHandler<RNG>;
});

/// The TCP port served.
const PORT: u16 = 1234;
/// Clients served at once: one socket task (and one [`ConnectionMemory`]) each.
const CONNECTIONS: usize = 3;

static DEMO: Demo<Board> = Demo::new(Board::new("nucleo-f429zi-eth"));

static MEMORY: [ConstStaticCell<ConnectionMemory>; CONNECTIONS] =
    [const { ConstStaticCell::new(ConnectionMemory::new()) }; CONNECTIONS];

type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

/// The TCP/IP stack.
#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Device>) -> ! {
    runner.run().await
}

/// One connection slot.
#[embassy_executor::task(pool_size = CONNECTIONS)]
async fn connection_task(slot: usize, stack: Stack<'static>, mem: &'static mut ConnectionMemory) -> ! {
    reflex_stm32::serve_tcp(slot, stack, PORT, &DEMO, mem).await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_stm32::init(reflex_stm32::clocks());
    DEMO.platform().attach_leds([
        Output::new(p.PB0, Level::Low, Speed::Low),
        Output::new(p.PB7, Level::Low, Speed::Low),
        Output::new(p.PB14, Level::Low, Speed::Low),
    ]);

    let mut seed = [0u8; 8];
    unwrap!(Rng::new(p.RNG, Irqs).async_fill_bytes(&mut seed).await);
    let mac = reflex_stm32::mac_address();

    // Four frames each way in DMA descriptors (in the main SRAM: the CCM is not reachable by DMA).
    static PACKETS: StaticCell<PacketQueue<4, 4>> = StaticCell::new();
    let device = Ethernet::new(
        PACKETS.init(PacketQueue::new()),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        mac,
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );

    let config = reflex_stm32::net_config(option_env!("REFLEX_IPV4"), option_env!("REFLEX_GATEWAY"));
    // The sockets: one per connection slot, one for DHCP.
    static RESOURCES: StaticCell<StackResources<{ CONNECTIONS + 1 }>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), u64::from_le_bytes(seed));
    spawner.spawn(unwrap!(net_task(runner)));

    info!("reflex-stm32 {} (eth): MAC {:02x}, waiting for the network", env!("CARGO_PKG_VERSION"), mac);
    stack.wait_config_up().await;
    if let Some(c) = stack.config_v4() {
        info!("serving JSON-RPC on tcp://{}:{} ({} connections)", c.address.address(), PORT, CONNECTIONS);
    }
    for (slot, mem) in MEMORY.iter().enumerate() {
        spawner.spawn(unwrap!(connection_task(slot, stack, mem.take())));
    }
}
