//! Parameter types that name the impl's generic parameters are checked inside the
//! dispatcher (a free `const` cannot name them).

use reflex::{FromParam, Service};

pub struct Echo<T> {
    _t: core::marker::PhantomData<T>,
}

#[reflex::service(name = "echo", version = "1")]
impl<T> Echo<T>
where
    T: for<'a> FromParam<'a> + reflex::__private::serde::Serialize + Sync,
{
    /// Echoes a value of the service's type.
    fn echo(&self, value: T) -> T {
        value
    }

    /// Echoes a list of them.
    fn list(&self, values: heapless::Vec<T, 4>) -> heapless::Vec<T, 4> {
        values
    }
}

fn main() {
    let d = <Echo<i32> as Service>::DESC;
    assert_eq!(d.functions.len(), 2);
}
