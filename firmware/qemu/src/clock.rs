//! Time since boot from SysTick, without an interrupt handler.
//!
//! SysTick runs free as a 24-bit down-counter on the processor clock and wraps every 2^24
//! cycles; its COUNTFLAG records a wrap until the next read of its control register, and
//! every reading of the clock counts it. That is exact as long as the clock is read at least
//! once per period, which the SysTick interrupt guarantees: it is enabled but, with PRIMASK
//! set, never taken; it only pends at each wrap, and a pending exception wakes `WFI`, so the
//! idle loop in the UART driver reads the clock (`on_wake`) after every wrap.
//!
//! (Comparing the counter with its previous value instead does not work: woken once per
//! period, the reading lands at about the same phase each time, and a wrap is missed
//! whenever this wake-up came a little later in the period than the last.)
//!
//! One period is 2^24 / 12.5 MHz = 1.34 s, so an idle guest wakes less than once a second.

use core::cell::{Cell, RefCell};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use critical_section::Mutex;

/// The processor clock, which SysTick counts. QEMU's `lm3s6965evb` derives it from the
/// system controller's RCC register, whose reset value divides the 200 MHz PLL by 16:
/// 12.5 MHz, until firmware reprograms RCC (this one does not). Measured with QEMU 7.2: 14
/// guest seconds (counted at 12 MHz) took 13.43 s of host time, 0.96 s each, i.e. 12.5 MHz.
/// QEMU's virtual clock follows the host's, so uptime and sleeps are in real time
/// (host/tests/qemu.rs checks it).
pub const HZ: u32 = 12_500_000;

/// SysTick reload value: the whole 24-bit range.
const RELOAD: u32 = 0x00FF_FFFF;

/// SysTick (for its COUNTFLAG) and the wraps seen so far, once `start` ran.
static CLOCK: Mutex<RefCell<Option<SYST>>> = Mutex::new(RefCell::new(None));
static WRAPS: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));

/// Starts SysTick as a free-running counter. Call once, with interrupts masked (PRIMASK).
pub fn start(mut syst: SYST) {
    syst.disable_counter();
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current(); // Also clears COUNTFLAG.
                          // Pends SysTick at every wrap: the wake-up that keeps the wrap count exact (see above).
    syst.enable_interrupt();
    syst.enable_counter();
    critical_section::with(|cs| {
        WRAPS.borrow(cs).set(0);
        CLOCK.borrow(cs).replace(Some(syst));
    });
}

/// Processor clock cycles since `start` (0 before).
pub fn ticks() -> u64 {
    // With PRIMASK set for good, the critical section costs next to nothing.
    critical_section::with(|cs| {
        let mut clock = CLOCK.borrow(cs).borrow_mut();
        let Some(syst) = clock.as_mut() else {
            return 0;
        };
        let wraps = WRAPS.borrow(cs);
        let mut now = SYST::get_current();
        if syst.has_wrapped() {
            // The wrap came before or after `now` was read; read again, certainly after it.
            wraps.set(wraps.get().wrapping_add(1));
            now = SYST::get_current();
        }
        (u64::from(wraps.get()) << 24) | u64::from(RELOAD - now)
    })
}

/// Milliseconds since `start`.
pub fn uptime_ms() -> u64 {
    ticks() / u64::from(HZ / 1000)
}

/// Runs after every `WFI` wake-up: accounts for a SysTick wrap and clears its pending bit, so
/// the next `WFI` sleeps again.
pub fn on_wake() {
    SCB::clear_pendst();
    let _ = ticks();
}
