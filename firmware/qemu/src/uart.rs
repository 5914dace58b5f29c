//! A blocking driver for UART0 of the LM3S6965, an ARM PL011, as QEMU's `lm3s6965evb` models
//! it: `embedded_io::{Read, ReadReady, Write, WriteReady}` with `Error = Infallible`.
//!
//! Reading sleeps instead of spinning: interrupts stay globally masked (PRIMASK, set in
//! `main`), the UART's receive interrupt is unmasked in the NVIC, and `read` loops on `WFI`
//! until a byte has arrived. A pending interrupt wakes `WFI` even while PRIMASK masks it, so
//! no handler ever runs: the pending bit is cleared by hand (`NVIC::unpend`) and the data
//! register is read directly. Idle, the guest costs the host next to no CPU.
//!
//! The FIFOs stay off, so the receiver holds one byte at a time. That loses nothing in QEMU,
//! which delivers the next byte only when the guest has read the last one, and it makes
//! start-up lossless: QEMU accepts input from the moment it starts, before the firmware runs,
//! and switching the FIFOs on (or off) empties them in QEMU's model (QEMU 7.2), so a byte
//! that a quick client sent would be dropped. The price is about 15 µs of emulation per
//! received byte (a `WFI` wake-up each); measured, a 55-byte `add` round trip took 1.9 ms
//! instead of 1.1 ms at best.
//!
//! QEMU-only simplifications: the real chip needs its UART and GPIO clocks enabled in the
//! system controller and the pins muxed (QEMU needs neither), it would overrun without the
//! FIFOs at speed, and QEMU does not pace the line at the baud rate (the divisors are set to
//! 115200 Bd at 50 MHz anyway, as on the board).

use core::convert::Infallible;
use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;

/// Base address of UART0.
const BASE: usize = 0x4000_C000;

/// Data register: a read takes the received byte, a write sends one.
const DR: usize = 0x00;
/// Flag register.
const FR: usize = 0x18;
/// Integer baud-rate divisor.
const IBRD: usize = 0x24;
/// Fractional baud-rate divisor.
const FBRD: usize = 0x28;
/// Line control.
const LCRH: usize = 0x2C;
/// Control.
const CR: usize = 0x30;
/// Interrupt mask set/clear.
const IMSC: usize = 0x38;
/// Interrupt clear.
const ICR: usize = 0x44;

/// FR: nothing received (receive holding register or FIFO empty).
const FR_RXFE: u32 = 1 << 4;
/// FR: transmitter full (holding register or FIFO).
const FR_TXFF: u32 = 1 << 5;
/// FR: busy transmitting.
const FR_BUSY: u32 = 1 << 3;
/// LCRH: 8 data bits, no parity, one stop bit; FIFOs off (bit 4 clear, as out of reset).
const LCRH_8N1: u32 = 0b11 << 5;
/// CR: UART, transmitter and receiver enabled.
const CR_ENABLE: u32 = 1 << 0 | 1 << 8 | 1 << 9;
/// IMSC: the receive interrupt.
const IMSC_RX: u32 = 1 << 4;

/// The NVIC line of UART0.
#[derive(Clone, Copy, Debug)]
struct Uart0Irq;

// SAFETY: 5 is UART0's interrupt number on the LM3S6965 (a valid external interrupt of this
// device), which is all `InterruptNumber` asks.
unsafe impl InterruptNumber for Uart0Irq {
    fn number(self) -> u16 {
        5
    }
}

/// Reads a UART0 register.
fn read_reg(offset: usize) -> u32 {
    // SAFETY: BASE + offset is one of UART0's word-aligned registers (the offsets above), a
    // valid MMIO address on this machine; reading it has no effect beyond the documented one
    // (taking the received byte for DR), and only this driver touches UART0.
    unsafe { core::ptr::read_volatile((BASE + offset) as *const u32) }
}

/// Writes a UART0 register.
fn write_reg(offset: usize, value: u32) {
    // SAFETY: as in `read_reg`; the driver is UART0's only user (see `Uart::take`).
    unsafe { core::ptr::write_volatile((BASE + offset) as *mut u32, value) }
}

/// Set once UART0 has been handed out.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// UART0, initialised for 115200 8N1 with its receive interrupt routed to wake `WFI`.
#[derive(Debug)]
pub struct Uart {
    _private: (),
}

impl Uart {
    /// Initialises UART0 and returns its driver; `None` if it was taken before.
    ///
    /// Call it with interrupts masked (PRIMASK set): the receive interrupt is unmasked in the
    /// NVIC only to wake `WFI`, and no handler for it exists.
    pub fn take() -> Option<Uart> {
        if TAKEN.swap(true, Ordering::Relaxed) {
            return None;
        }
        write_reg(CR, 0);
        write_reg(IBRD, 27);
        write_reg(FBRD, 8);
        // FIFOs off as out of reset: a byte that arrived already stays (see above).
        write_reg(LCRH, LCRH_8N1);
        write_reg(ICR, 0x7FF);
        write_reg(IMSC, IMSC_RX);
        write_reg(CR, CR_ENABLE);
        NVIC::unpend(Uart0Irq);
        // SAFETY: unmasking can break a critical section that relies on the NVIC mask. None
        // does here: critical sections use PRIMASK, which stays set, so the interrupt only
        // pends and wakes `WFI`; its (default) handler never runs.
        unsafe { NVIC::unmask(Uart0Irq) };
        Some(Uart { _private: () })
    }

    fn rx_empty() -> bool {
        read_reg(FR) & FR_RXFE != 0
    }

    fn tx_full() -> bool {
        read_reg(FR) & FR_TXFF != 0
    }

    /// Sleeps until a byte has arrived. `on_wake` runs after every wake-up (the
    /// clock uses it to account for SysTick wraps, which wake `WFI` too).
    fn wait_rx(on_wake: impl Fn()) {
        while Self::rx_empty() {
            // A byte arriving between the check and WFI pends the interrupt first, so WFI
            // returns at once: no wake-up is lost.
            cortex_m::asm::wfi();
            NVIC::unpend(Uart0Irq);
            on_wake();
        }
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = Infallible;
}

impl embedded_io::Read for Uart {
    /// Blocks (in `WFI`) until at least one byte has arrived, then returns what has (one
    /// byte, or more if more came meanwhile), up to `buf.len()`.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        Self::wait_rx(crate::clock::on_wake);
        let mut n = 0;
        for slot in buf.iter_mut() {
            if Self::rx_empty() {
                break;
            }
            // Bits 8..11 are the framing, parity, break and overrun flags; QEMU sets none.
            *slot = read_reg(DR) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!Self::rx_empty())
    }
}

impl embedded_io::Write for Uart {
    /// Sends bytes while the transmitter has room; waits (spinning: there is no transmit
    /// interrupt wiring, and QEMU sends each byte at once) for room for the first one.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        for &byte in buf {
            if Self::tx_full() {
                if n > 0 {
                    break;
                }
                while Self::tx_full() {
                    core::hint::spin_loop();
                }
            }
            write_reg(DR, u32::from(byte));
            n += 1;
        }
        Ok(n)
    }

    /// Waits until the last byte has left the shift register.
    fn flush(&mut self) -> Result<(), Infallible> {
        while read_reg(FR) & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

impl embedded_io::WriteReady for Uart {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!Self::tx_full())
    }
}
