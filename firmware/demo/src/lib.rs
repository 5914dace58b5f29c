//! The reflex demo device: one service that every firmware and the host run, so the same
//! client scripts, conformance tests and tools work against a board, a simulator or a
//! process on the PC.
//!
//! It mirrors the example service of ReflectRPC (echo, arithmetic, custom types, errors,
//! authentication), adds the examples of the JSON-RPC 2.0 specification, and a few things a
//! device has: LEDs, a counter, a clock, a temperature. It is `no_std`, allocation-free and
//! independent of any executor: the board supplies time through [`Platform`].
//!
//! ```ignore
//! static DEMO: Demo<MyBoard> = Demo::new(MyBoard::new());
//! // ... feed requests to reflex::handle(&DEMO, ...) from the transport task.
//! ```
//!
//! # Functions
//!
//! | name | parameters | result |
//! | --- | --- | --- |
//! | `echo` | `message: string` | `string` |
//! | `add`, `sub`, `mul` | `a: int`, `b: int` | `int` (`OverflowError` on overflow) |
//! | `div` (feature `float`) | `a: float`, `b: float` | `float` (`ZeroDivisionError`) |
//! | `enum_echo` | `phone_type: PhoneType` | `int` |
//! | `hash_echo` | `address: Address` | `hash` |
//! | `notify` | `value: string` | `bool` |
//! | `is_authenticated` | | `bool` |
//! | `get_username` | | `string` (`null` when not authenticated) |
//! | `echo_ints` | `ints: array<int>` (at most 32) | `array<int>` |
//! | `subtract` | `minuend: int`, `subtrahend: int` | `int` |
//! | `sum` | `a: int`, `b: int`, `c: int` | `int` |
//! | `update` | `a` … `e: int` | `null` |
//! | `notify_hello` | `value: int` | `null` |
//! | `notify_sum` | `a: int`, `b: int`, `c: int` | `int` |
//! | `get_data` | | `array` (`["hello", 5]`) |
//! | `led.set` | `index: int`, `on: bool` | `null` (`IndexError` unless 0-3) |
//! | `led.get` | `index: int` | `bool` (`IndexError` unless 0-3) |
//! | `temperature` (feature `float`) | | `float` (simulated, °C) |
//! | `uptime` | | `int` (seconds) |
//! | `device.info` | | `DeviceInfo` |
//! | `counter.increment` | | `int` (the new value) |
//! | `counter.get` | | `int` |
//! | `checksum` | `data: base64` | `int` (CRC-32 of the decoded bytes) |
//! | `error.user` | | always the visible error `UserError` |
//! | `error.internal` | | always a hidden internal error |
//! | `slow_operation` | | `int` (42, after one second) |
//! | `fast_operation` | | `int` (41, at once) |
//!
//! Custom types, in the order `__describe_custom_types` lists them: [`PhoneType`],
//! [`Address`], [`DeviceInfo`].
//!
//! `slow_operation` and `fast_operation` show concurrency: on a transport that serves
//! several connections, a fast call is answered while a slow one sleeps.
#![cfg_attr(not(test), no_std)]

use portable_atomic::{AtomicBool, AtomicU32, Ordering};
use reflex::{Base64, Error, RpcInfo};

/// What the demo needs from the board it runs on. A firmware implements it over its clock
/// and timer; the host over `std::time` and its executor.
#[allow(async_fn_in_trait)] // Futures are awaited in place; no `Send` bound is wanted.
pub trait Platform {
    /// Milliseconds since boot.
    fn uptime_ms(&self) -> u64;

    /// Waits `ms` milliseconds without blocking other tasks.
    async fn sleep_ms(&self, ms: u32);

    /// The board's name, reported by `device.info`.
    fn model(&self) -> &'static str {
        "generic"
    }

    /// Called after `led.set` changed LED `index`, so a board can drive a real LED.
    fn led_changed(&self, index: usize, on: bool) {
        let _ = (index, on);
    }
}

/// A platform without a clock: uptime is always 0 and sleeping returns at once. For tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPlatform;

impl Platform for NoPlatform {
    fn uptime_ms(&self) -> u64 {
        0
    }

    async fn sleep_ms(&self, _ms: u32) {}
}

/// Number of LEDs the demo has.
pub const LED_COUNT: usize = 4;

/// The kind of a phone number (ReflectRPC's example enum).
#[derive(reflex::Type, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneType {
    /// A private number.
    #[reflex(rename = "HOME")]
    Home = 0,
    /// A number at work.
    #[reflex(rename = "WORK")]
    Work = 1,
    /// A mobile phone.
    #[reflex(rename = "MOBILE")]
    Mobile = 2,
    /// A fax machine.
    #[reflex(rename = "FAX")]
    Fax = 3,
}

/// A postal address (ReflectRPC's example named hash).
#[derive(reflex::Type, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address<'a> {
    /// First name.
    pub firstname: &'a str,
    /// Last name.
    pub lastname: &'a str,
    /// First address line.
    pub street1: &'a str,
    /// Second address line.
    pub street2: &'a str,
    /// ZIP code.
    pub zipcode: &'a str,
    /// City.
    pub city: &'a str,
}

/// Facts about the device.
#[derive(reflex::Type, Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The board's name.
    pub model: &'static str,
    /// Version of the demo firmware.
    pub firmware_version: &'static str,
    /// Number of LEDs; `led.set` and `led.get` take an index below it.
    pub led_count: u8,
    /// Seconds since boot.
    pub uptime_seconds: u64,
    /// Whether the float functions (`div`, `temperature`) are compiled in.
    pub float_support: bool,
}

/// The demo device service over the platform `P`. `const`-constructible, so it can live in a
/// `static` and be shared by every transport task.
#[derive(Debug)]
pub struct Demo<P: Platform> {
    platform: P,
    leds: [AtomicBool; LED_COUNT],
    counter: AtomicU32,
}

impl<P: Platform> Demo<P> {
    /// A demo with all LEDs off and the counter at 0.
    pub const fn new(platform: P) -> Self {
        Demo { platform, leds: [const { AtomicBool::new(false) }; LED_COUNT], counter: AtomicU32::new(0) }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Whether LED `index` is on (`None` if there is no such LED).
    pub fn led(&self, index: usize) -> Option<bool> {
        self.leds.get(index).map(|l| l.load(Ordering::Relaxed))
    }

    /// The LED at a wire index, or the error the client sees.
    fn led_at(&self, index: i64) -> Result<(usize, &AtomicBool), Error> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.leds.get(i).map(|l| (i, l)))
            .ok_or_else(|| Error::new("IndexError", "LED index out of range (0-3)").with_code(-32001))
    }
}

/// The error of integer arithmetic that does not fit in 64 bits.
fn overflow() -> Error {
    Error::new("OverflowError", "integer overflow")
}

/// CRC-32/ISO-HDLC (the CRC of zlib, Ethernet and PNG) of `bytes`. Bitwise rather than with
/// a table: 1 KiB of flash matters more here than speed.
pub fn crc32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            // All ones when the low bit is set: a branch-free conditional XOR.
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The reflex demo device: echo and arithmetic, custom types, authentication, the JSON-RPC
/// 2.0 specification examples, LEDs, a counter, a clock and deliberate errors.
#[reflex::service(
    name = "reflex demo device",
    version = "1.0.0",
    types(PhoneType, Address, DeviceInfo),
    custom_fields = r#"{"project": "reflex", "leds": 4}"#
)]
impl<P: Platform> Demo<P> {
    /// Returns the message it was given.
    ///
    /// - `message`: the message to echo
    ///
    /// Returns: the same message
    fn echo<'a>(&self, message: &'a str) -> &'a str {
        message
    }

    /// Adds two integers.
    ///
    /// - `a`: the first summand
    /// - `b`: the second summand
    ///
    /// Returns: the sum (an OverflowError if it does not fit in 64 bits)
    fn add(&self, a: i64, b: i64) -> Result<i64, Error> {
        a.checked_add(b).ok_or_else(overflow)
    }

    /// Subtracts an integer from another.
    ///
    /// - `a`: the minuend
    /// - `b`: the subtrahend
    ///
    /// Returns: the difference (an OverflowError if it does not fit in 64 bits)
    fn sub(&self, a: i64, b: i64) -> Result<i64, Error> {
        a.checked_sub(b).ok_or_else(overflow)
    }

    /// Multiplies two integers.
    ///
    /// - `a`: the first factor
    /// - `b`: the second factor
    ///
    /// Returns: the product (an OverflowError if it does not fit in 64 bits)
    fn mul(&self, a: i64, b: i64) -> Result<i64, Error> {
        a.checked_mul(b).ok_or_else(overflow)
    }

    /// Divides a float by another.
    ///
    /// - `a`: the dividend
    /// - `b`: the divisor
    ///
    /// Returns: the quotient (a ZeroDivisionError if the divisor is 0)
    #[cfg(feature = "float")]
    fn div(&self, a: f64, b: f64) -> Result<f64, Error> {
        if b == 0.0 {
            return Err(Error::new("ZeroDivisionError", "float division by zero"));
        }
        Ok(a / b)
    }

    /// Returns the integer value of a phone type.
    ///
    /// - `phone_type`: a phone type, by name or by value
    ///
    /// Returns: its integer value
    fn enum_echo(&self, phone_type: PhoneType) -> i64 {
        phone_type as i64
    }

    /// Returns the address it was given.
    ///
    /// - `address`: an address
    ///
    /// Returns: the same address
    #[rpc(result_type = "hash")]
    fn hash_echo<'a>(&self, address: Address<'a>) -> Address<'a> {
        address
    }

    /// Accepts a value and confirms it; meant to be called as a notification.
    ///
    /// - `value`: any string
    ///
    /// Returns: always true
    fn notify(&self, _value: &str) -> bool {
        true
    }

    /// Tells whether the caller proved an identity to the transport.
    ///
    /// Returns: true if the caller is authenticated
    fn is_authenticated(&self, info: &RpcInfo<'_>) -> bool {
        info.authenticated
    }

    /// Returns the name the caller authenticated as.
    ///
    /// Returns: the user name, or null when the caller is not authenticated
    fn get_username<'a>(&self, info: &RpcInfo<'a>) -> Option<&'a str> {
        if info.authenticated {
            info.username
        } else {
            None
        }
    }

    /// Returns the list of integers it was given.
    ///
    /// - `ints`: up to 32 integers
    ///
    /// Returns: the same integers
    fn echo_ints(&self, ints: heapless::Vec<i64, 32>) -> heapless::Vec<i64, 32> {
        ints
    }

    /// Subtracts the subtrahend from the minuend (JSON-RPC 2.0 specification example).
    ///
    /// - `minuend`: the number to subtract from
    /// - `subtrahend`: the number to subtract
    ///
    /// Returns: the difference
    fn subtract(&self, minuend: i64, subtrahend: i64) -> Result<i64, Error> {
        minuend.checked_sub(subtrahend).ok_or_else(overflow)
    }

    /// Adds three integers (JSON-RPC 2.0 specification example).
    ///
    /// - `a`: the first summand
    /// - `b`: the second summand
    /// - `c`: the third summand
    ///
    /// Returns: the sum
    fn sum(&self, a: i64, b: i64, c: i64) -> Result<i64, Error> {
        a.checked_add(b).and_then(|s| s.checked_add(c)).ok_or_else(overflow)
    }

    /// Accepts five integers and does nothing (JSON-RPC 2.0 specification example).
    ///
    /// - `a`: ignored
    /// - `b`: ignored
    /// - `c`: ignored
    /// - `d`: ignored
    /// - `e`: ignored
    fn update(&self, _a: i64, _b: i64, _c: i64, _d: i64, _e: i64) {}

    /// Accepts an integer and does nothing (JSON-RPC 2.0 specification example).
    ///
    /// - `value`: ignored
    fn notify_hello(&self, _value: i64) {}

    /// Adds three integers; meant to be called as a notification (JSON-RPC 2.0
    /// specification example).
    ///
    /// - `a`: the first summand
    /// - `b`: the second summand
    /// - `c`: the third summand
    ///
    /// Returns: the sum
    fn notify_sum(&self, a: i64, b: i64, c: i64) -> Result<i64, Error> {
        self.sum(a, b, c)
    }

    /// Returns fixed data of mixed types (JSON-RPC 2.0 specification example).
    ///
    /// Returns: `["hello", 5]`
    fn get_data(&self) -> (&'static str, i64) {
        ("hello", 5)
    }

    /// Switches an LED on or off.
    ///
    /// - `index`: the LED, 0 to 3
    /// - `on`: true to switch it on, false to switch it off
    #[rpc(name = "led.set")]
    fn led_set(&self, index: i64, on: bool) -> Result<(), Error> {
        let (i, led) = self.led_at(index)?;
        led.store(on, Ordering::Relaxed);
        self.platform.led_changed(i, on);
        Ok(())
    }

    /// Tells whether an LED is on.
    ///
    /// - `index`: the LED, 0 to 3
    ///
    /// Returns: true if the LED is on
    #[rpc(name = "led.get")]
    fn led_get(&self, index: i64) -> Result<bool, Error> {
        Ok(self.led_at(index)?.1.load(Ordering::Relaxed))
    }

    /// Reads the temperature sensor (simulated: drifts between 21.0 and 24.0 over ten
    /// minutes).
    ///
    /// Returns: the temperature in degrees Celsius
    #[cfg(feature = "float")]
    fn temperature(&self) -> f64 {
        // A triangle wave over a 600 s period, in tenths of a degree: plausible, and
        // computed without libm.
        let seconds = (self.platform.uptime_ms() / 1000 % 600) as u32;
        let rise = if seconds < 300 { seconds } else { 600 - seconds };
        f64::from(210 + rise / 10) / 10.0
    }

    /// Tells how long the device has been running.
    ///
    /// Returns: seconds since boot
    fn uptime(&self) -> u64 {
        self.platform.uptime_ms() / 1000
    }

    /// Describes the device.
    ///
    /// Returns: the model, firmware version, LED count, uptime and features
    #[rpc(name = "device.info")]
    fn device_info(&self) -> DeviceInfo {
        DeviceInfo {
            model: self.platform.model(),
            firmware_version: env!("CARGO_PKG_VERSION"),
            led_count: LED_COUNT as u8,
            uptime_seconds: self.platform.uptime_ms() / 1000,
            float_support: cfg!(feature = "float"),
        }
    }

    /// Increments the counter (wrapping around after 4294967295).
    ///
    /// Returns: the new value
    #[rpc(name = "counter.increment")]
    fn counter_increment(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Reads the counter.
    ///
    /// Returns: the current value
    #[rpc(name = "counter.get")]
    fn counter_get(&self) -> u32 {
        self.counter.load(Ordering::Relaxed)
    }

    /// Computes the CRC-32 (ISO-HDLC, as zlib's crc32) of binary data.
    ///
    /// - `data`: the data, base64-encoded
    ///
    /// Returns: the checksum of the decoded bytes
    fn checksum(&self, data: Base64<'_>) -> u32 {
        crc32(data.bytes())
    }

    /// Always fails with an error the client sees.
    ///
    /// Returns: never; the error is named UserError
    #[rpc(name = "error.user")]
    fn error_user(&self) -> Result<(), Error> {
        Err(Error::new("UserError", "This error was raised on purpose"))
    }

    /// Always fails with a hidden internal error (the client sees only "Internal error").
    ///
    /// Returns: never
    #[rpc(name = "error.internal")]
    fn error_internal(&self) -> Result<(), Error> {
        Err(Error::internal("error.internal was called: this detail is for the device log only"))
    }

    /// Answers after sleeping one second, without blocking other calls.
    ///
    /// Returns: 42
    async fn slow_operation(&self) -> i64 {
        self.platform.sleep_ms(1000).await;
        42
    }

    /// Answers at once.
    ///
    /// Returns: 41
    fn fast_operation(&self) -> i64 {
        41
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex::schema::TypeDesc;
    use reflex::Service;

    type D = Demo<NoPlatform>;

    static DEMO: D = Demo::new(NoPlatform);

    /// Polls a future that never waits (all of `NoPlatform`'s do not).
    fn ready<F: core::future::Future>(f: F) -> F::Output {
        let mut f = core::pin::pin!(f);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            core::task::Poll::Ready(v) => v,
            core::task::Poll::Pending => panic!("future is pending"),
        }
    }

    #[test]
    fn wire_names_in_order() {
        let names: Vec<_> = D::DESC.functions.iter().map(|f| f.name).collect();
        let mut expected = vec!["echo", "add", "sub", "mul"];
        if cfg!(feature = "float") {
            expected.push("div");
        }
        expected.extend([
            "enum_echo",
            "hash_echo",
            "notify",
            "is_authenticated",
            "get_username",
            "echo_ints",
            "subtract",
            "sum",
            "update",
            "notify_hello",
            "notify_sum",
            "get_data",
            "led.set",
            "led.get",
        ]);
        if cfg!(feature = "float") {
            expected.push("temperature");
        }
        expected.extend([
            "uptime",
            "device.info",
            "counter.increment",
            "counter.get",
            "checksum",
            "error.user",
            "error.internal",
            "slow_operation",
            "fast_operation",
        ]);
        assert_eq!(names, expected);
        let types: Vec<_> = D::DESC.types.iter().map(|t| t.custom_name().unwrap()).collect();
        assert_eq!(types, ["PhoneType", "Address", "DeviceInfo"]);
        assert_eq!(D::DESC.custom_fields, r#"{"project":"reflex","leds":4}"#);
    }

    #[test]
    fn descriptions() {
        let add = D::DESC.function(b"add").unwrap();
        assert_eq!(add.description, "Adds two integers.");
        assert_eq!(add.params[1].description, "the second summand");
        assert_eq!(add.result_desc, "the sum (an OverflowError if it does not fit in 64 bits)");
        assert!(matches!(D::DESC.function(b"get_data").unwrap().result, TypeDesc::Array));
        assert!(matches!(D::DESC.function(b"hash_echo").unwrap().result, TypeDesc::Hash));
        assert!(matches!(D::DESC.function(b"update").unwrap().result, TypeDesc::Null));
        assert!(D::DESC.function(b"get_username").unwrap().params.is_empty());
        let TypeDesc::Enum(e) = PhoneType::TYPE else { panic!() };
        let values: Vec<_> = e.values.iter().map(|v| (v.name, v.intvalue)).collect();
        assert_eq!(values, [("HOME", 0), ("WORK", 1), ("MOBILE", 2), ("FAX", 3)]);
    }

    use reflex::Describe;

    #[test]
    fn arithmetic_and_errors() {
        assert_eq!(DEMO.add(2, 3).unwrap(), 5);
        assert_eq!(DEMO.add(i64::MAX, 1).unwrap_err().name(), "OverflowError");
        assert_eq!(DEMO.mul(i64::MIN, -1).unwrap_err().name(), "OverflowError");
        assert_eq!(DEMO.subtract(42, 23).unwrap(), 19);
        assert_eq!(DEMO.sum(1, 2, 4).unwrap(), 7);
        #[cfg(feature = "float")]
        {
            assert_eq!(DEMO.div(1.0, 0.0).unwrap_err().name(), "ZeroDivisionError");
            assert_eq!(DEMO.div(3.0, 2.0).unwrap(), 1.5);
            assert_eq!(DEMO.temperature(), 21.0);
        }
        assert!(DEMO.error_internal().unwrap_err().is_hidden());
        assert!(!DEMO.error_user().unwrap_err().is_hidden());
    }

    #[test]
    fn leds_and_counter() {
        let demo = Demo::new(NoPlatform);
        demo.led_set(2, true).unwrap();
        assert!(demo.led_get(2).unwrap());
        assert_eq!(demo.led(2), Some(true));
        let e = demo.led_get(4).unwrap_err();
        assert_eq!((e.name(), e.code()), ("IndexError", -32001));
        assert_eq!(demo.led_set(-1, true).unwrap_err().name(), "IndexError");
        assert_eq!(demo.counter_increment(), 1);
        assert_eq!(demo.counter_increment(), 2);
        assert_eq!(demo.counter_get(), 2);
        assert_eq!(ready(demo.slow_operation()), 42);
    }

    #[test]
    fn crc() {
        assert_eq!(crc32(*b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32([]), 0);
        let data = Base64::from_encoded(b"MTIzNDU2Nzg5").unwrap();
        assert_eq!(DEMO.checksum(data), 0xCBF4_3926);
    }

    /// Calls the demo through the engine; returns the reply text.
    fn call(demo: &D, request: &str) -> String {
        let mut scratch = [0u8; 512];
        let mut out = [0u8; 1024];
        let info = RpcInfo::new(reflex::Transport::InProcess);
        let n = reflex::io::handle_to_slice(
            demo,
            &reflex::Config::new(),
            request.as_bytes(),
            &mut scratch,
            &info,
            &mut out,
        )
        .unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn through_the_engine() {
        let demo = Demo::new(NoPlatform);
        let reply = call(&demo, r#"{"jsonrpc":"2.0","id":1,"method":"get_data"}"#);
        assert!(reply.contains(r#""result":["hello",5]"#), "{reply}");
        let reply = call(&demo, r#"{"jsonrpc":"2.0","id":1,"method":"enum_echo","params":["FAX"]}"#);
        assert!(reply.contains(r#""result":3"#), "{reply}");
        let reply = call(&demo, r#"{"jsonrpc":"2.0","id":1,"method":"checksum","params":["MTIzNDU2Nzg5"]}"#);
        assert!(reply.contains(r#""result":3421780262"#), "{reply}");
        let reply = call(&demo, r#"{"jsonrpc":"2.0","id":1,"method":"led.set","params":[7,true]}"#);
        assert!(reply.contains("-32001") && reply.contains("LED index out of range (0-3)"), "{reply}");
        let reply = call(&demo, r#"{"jsonrpc":"2.0","id":1,"method":"error.internal"}"#);
        assert!(reply.contains("-32603") && !reply.contains("device log"), "{reply}");
        let reply = call(&demo, r#"{"jsonrpc":"2.0","id":1,"method":"get_username"}"#);
        assert!(reply.contains(r#""result":null"#), "{reply}");
        let reply = call(
            &demo,
            r#"{"jsonrpc":"2.0","id":1,"method":"hash_echo","params":[{"firstname":"a","lastname":"b","street1":"c","street2":"","zipcode":"1","city":"d"}]}"#,
        );
        assert!(
            reply.contains(
                r#""result":{"firstname":"a","lastname":"b","street1":"c","street2":"","zipcode":"1","city":"d"}"#
            ),
            "{reply}"
        );
    }

    #[test]
    fn context() {
        let anonymous = RpcInfo::new(reflex::Transport::InProcess);
        assert!(!DEMO.is_authenticated(&anonymous));
        assert_eq!(DEMO.get_username(&anonymous), None);
        let alice = anonymous.with_user("alice");
        assert_eq!(DEMO.get_username(&alice), Some("alice"));
    }
}
