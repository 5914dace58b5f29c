//! Stack high-water measurement by painting.
//!
//! cortex-m-rt puts the stack at the top of RAM, growing down towards the end of the statics
//! (`_stack_end`). [`paint`] fills the unused part with a pattern; [`take_peak`] finds the
//! lowest word that no longer holds it, reports the depth that implies, and repaints what was
//! used, so each call measures the peak since the previous one (one request, in `main`).
//!
//! This is the firmware's only memory access outside Rust's object model: the words below
//! the current stack pointer belong to no Rust object, and nothing else runs concurrently
//! (interrupts are masked; no handler ever runs).

/// The paint.
const PATTERN: u32 = 0xDEAD_BEEF;

/// Bytes below the current stack pointer left unpainted, for the painting function's own
/// use (it calls nothing, so a few words would do).
const MARGIN: usize = 64;

extern "C" {
    /// Top of the stack (initial stack pointer), from cortex-m-rt's `link.x`.
    static _stack_start: u32;
    /// Lowest address the stack may grow to: the end of `.bss`/`.uninit`.
    static _stack_end: u32;
}

fn top() -> usize {
    // Taking the address of an extern static reads nothing.
    core::ptr::addr_of!(_stack_start) as usize
}

fn bottom() -> usize {
    core::ptr::addr_of!(_stack_end) as usize
}

/// Bytes available to the stack.
pub fn size() -> usize {
    top() - bottom()
}

/// Bytes of stack in use now.
pub fn in_use() -> usize {
    top() - cortex_m::register::msp::read() as usize
}

/// Fills `[from, current stack pointer - MARGIN)` with the pattern.
#[inline(never)]
fn fill(from: usize) {
    let end = (cortex_m::register::msp::read() as usize).saturating_sub(MARGIN) & !3;
    let mut p = from;
    while p < end {
        // SAFETY: `p` lies between the end of the statics and below the live stack (the
        // current stack pointer minus a margin this function does not reach): memory no
        // Rust object occupies and, with interrupts masked, nothing else writes. Word-aligned.
        unsafe { core::ptr::write_volatile(p as *mut u32, PATTERN) };
        p += 4;
    }
}

/// Paints the free stack. Call once at boot, from `main`.
pub fn paint() {
    fill(bottom());
}

/// The deepest the stack has been since the previous call (or [`paint`]), in bytes from its
/// top; repaints what was used. Equals [`size`] if the stack was exhausted (and has most
/// likely overwritten statics: there is no guard).
pub fn take_peak() -> usize {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = bottom();
    // Everything from the bottom up to the deepest write still holds the paint, so the first
    // word that differs marks that write. (A word written with the pattern itself makes the
    // figure at most that much smaller.) The scan reads the whole free stack, some 60 KiB:
    // it runs once per request, after the reply has gone out.
    while p < sp {
        // SAFETY: `p` is a word-aligned address in RAM between the end of the statics and the
        // current stack pointer; reading it races with nothing (interrupts are masked).
        if unsafe { core::ptr::read_volatile(p as *const u32) } != PATTERN {
            break;
        }
        p += 4;
    }
    fill(p);
    top() - p
}
