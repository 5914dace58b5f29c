//! A service using every feature of the macros.

use reflex::{Base64, Error, RpcInfo, Service};

/// Kind of phone number.
#[derive(reflex::Type, Clone, Copy)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum PhoneType {
    HOME = 0,
    WORK,
    #[reflex(rename = "CELL")]
    MOBILE = 7,
}

/// An address.
#[derive(reflex::Type)]
pub struct Address<'a> {
    /// First name.
    pub firstname: &'a str,
    #[reflex(rename = "type")]
    pub kind: PhoneType,
    pub r#loop: heapless::Vec<i32, 3>,
}

/// Device facts.
#[derive(reflex::Type)]
#[reflex(name = "Info")]
#[allow(non_camel_case_types)]
pub struct info {
    pub model: &'static str,
}

pub struct Device {
    count: core::sync::atomic::AtomicU32,
}

/// The device.
#[reflex::service(
    name = "device",
    version = "1.0",
    description = "An explicit description",
    custom_fields = r#"{"board": "x"}"#,
    types(PhoneType, Address, info)
)]
impl Device {
    const LIMIT: u32 = 10;

    /// Echoes.
    fn echo<'a>(&self, message: &'a str) -> &'a str {
        message
    }

    #[rpc(name = "count.add")]
    fn add(&self, by: u32) -> Result<u32, Error> {
        if by > Self::LIMIT {
            return Err(Error::new("TooMuch", "too much"));
        }
        Ok(self.count.fetch_add(by, core::sync::atomic::Ordering::Relaxed) + by)
    }

    fn phone(&self, t: PhoneType) -> PhoneType {
        t
    }

    #[rpc(result_type = "hash")]
    fn address<'a>(&self, a: Address<'a>) -> Address<'a> {
        a
    }

    fn info(&self) -> info {
        info { model: "x" }
    }

    fn user<'a>(&self, info: &'a RpcInfo<'a>) -> Option<&'a str> {
        info.username
    }

    fn bytes(&self, data: Base64<'_>) -> usize {
        data.decoded_len()
    }

    async fn later(&self, mut n: i64) -> i64 {
        n += 1;
        n
    }

    fn pair(&self) -> (&'static str, i64) {
        ("hello", 5)
    }

    fn nothing(&self, _ignored: bool, _info: &reflex::RpcInfo<'_>) {}

    #[cfg(any())]
    fn compiled_out(&self) -> DoesNotExist {}

    /// Not exported: may be anything.
    #[rpc(skip)]
    pub fn helper<T: Default>(x: T) -> T {
        x
    }
}

/// Generic services pass their generics and where clauses through.
pub struct Wrapper<P> {
    p: P,
}

#[reflex::service(name = "wrapper", version = "1")]
impl<P> Wrapper<P>
where
    P: Fn() -> i64 + Sync,
{
    fn get(&self) -> i64 {
        (self.p)()
    }
}

fn main() {
    let _ = <Device as Service>::DESC;
    let _ = Device::helper(1u8);
    let w = Wrapper { p: || 1 };
    assert_eq!(w.get(), 1);
    let _ = <Wrapper<fn() -> i64> as Service>::DESC;
}
