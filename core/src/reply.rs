//! Reply envelopes (stub, being written).
use crate::sink::{Sink, Stop};

/// Something that renders reply bytes deterministically.
pub trait Render {
    /// Writes the bytes to `k`.
    fn render<K: Sink + ?Sized>(&self, k: &mut K) -> Result<(), Stop>;
}

/// Envelope of one reply (stub).
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    _p: core::marker::PhantomData<&'a ()>,
}

impl Envelope<'_> {
    /// Whether no reply may be sent.
    pub fn is_notification(&self) -> bool {
        false
    }
    /// Output style.
    pub fn style(&self) -> crate::ser::Style {
        crate::ser::Style::Compact
    }
}

/// Success reply (stub).
pub struct OkReply<'a, T: ?Sized> {
    /// Envelope.
    pub env: Envelope<'a>,
    /// Value.
    pub value: &'a T,
}

impl<T: serde::Serialize + ?Sized> Render for OkReply<'_, T> {
    fn render<K: Sink + ?Sized>(&self, _k: &mut K) -> Result<(), Stop> {
        Ok(())
    }
}
