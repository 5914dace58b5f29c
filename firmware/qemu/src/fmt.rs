//! Logging shim: `info!` … `error!` go to defmt with the `defmt` feature, and nowhere
//! without it (the arguments are still referenced, so either build is free of warnings).
#![allow(unused_macros)]

macro_rules! log {
    ($level:ident, $s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::$level!($s $(, $x)*);
        #[cfg(not(feature = "defmt"))]
        let _ = ($( & $x ),*);
    }};
}

macro_rules! debug {
    ($($t:tt)*) => { log!(debug, $($t)*) };
}

macro_rules! info {
    ($($t:tt)*) => { log!(info, $($t)*) };
}

macro_rules! warn {
    ($($t:tt)*) => { log!(warn, $($t)*) };
}

macro_rules! error {
    ($($t:tt)*) => { log!(error, $($t)*) };
}
