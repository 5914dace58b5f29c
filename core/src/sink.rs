//! Byte sinks that replies are rendered into.
//!
//! Every reply is produced by synchronous, deterministic rendering code writing to a [`Sink`].
//! A blocking transport passes a sink that writes through to its `embedded_io::Write`; an
//! async transport renders into a [`Window`] over its transmit buffer, flushes it, and renders
//! again from where the window ended. That is how reflection documents larger than any RAM
//! buffer stream out without an allocator and without async code in the renderers.

/// A sink stopped accepting bytes: its buffer is full, its window is complete, or the I/O
/// behind it failed (the sink itself remembers which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stop;

/// Something rendering code writes bytes to.
pub trait Sink {
    /// Appends `bytes`, or stops the rendering.
    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop>;
}

impl<K: Sink + ?Sized> Sink for &mut K {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        (**self).write(bytes)
    }
}

/// Writes into a slice; stops when it is full.
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> SliceSink<'a> {
    /// An empty sink over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink { buf, len: 0, overflow: false }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a write did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
                Ok(())
            }
            None => {
                self.overflow = true;
                Err(Stop)
            }
        }
    }
}

/// Counts bytes without storing them (e.g. for an HTTP `Content-Length`).
#[derive(Debug, Default, Clone, Copy)]
pub struct CountSink(pub usize);

impl Sink for CountSink {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.0 += bytes.len();
        Ok(())
    }
}

/// Keeps the bytes `[skip, skip + buf.len())` of everything written and stops once the
/// buffer is full. Rendering the same output again with `skip` advanced by [`Window::len`]
/// yields the next part; [`Window::complete`] tells when the output has ended.
#[derive(Debug)]
pub struct Window<'a> {
    buf: &'a mut [u8],
    skip: usize,
    len: usize,
    full: bool,
}

impl<'a> Window<'a> {
    /// A window over `buf` that first discards `skip` bytes.
    pub fn new(buf: &'a mut [u8], skip: usize) -> Self {
        Window { buf, skip, len: 0, full: false }
    }

    /// Bytes captured in the window.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window captured nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the rendering ended inside this window (it did not stop for lack of room).
    pub fn complete(&self) -> bool {
        !self.full
    }

    /// The captured bytes.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl Sink for Window<'_> {
    fn write(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        if self.skip > 0 {
            let n = self.skip.min(bytes.len());
            self.skip -= n;
            bytes = bytes.get(n..).unwrap_or(&[]);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let room = self.buf.len() - self.len;
        let n = room.min(bytes.len());
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.len += n;
        if n < bytes.len() {
            // Out of room: stop so the caller can flush and render the next window. A render
            // that ends exactly at the boundary is reported complete.
            self.full = true;
            return Err(Stop);
        }
        Ok(())
    }
}

/// Writes through a caller buffer to a blocking `embedded_io::Write`, flushing the buffer
/// when it fills and on [`IoSink::flush`]. An I/O error stops rendering and is kept in
/// [`IoSink::take_error`].
#[derive(Debug)]
pub struct IoSink<'b, W: embedded_io::Write> {
    io: W,
    buf: &'b mut [u8],
    len: usize,
    error: Option<W::Error>,
}

impl<'b, W: embedded_io::Write> IoSink<'b, W> {
    /// A sink writing to `io` through `buf` (an empty `buf` writes straight through).
    pub fn new(io: W, buf: &'b mut [u8]) -> Self {
        IoSink { io, buf, len: 0, error: None }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> Result<(), Stop> {
        if self.error.is_some() {
            return Err(Stop);
        }
        let pending = self.buf.get(..self.len).unwrap_or(&[]);
        self.len = 0;
        if let Err(e) = self.io.write_all(pending).and_then(|_| self.io.flush()) {
            self.error = Some(e);
            return Err(Stop);
        }
        Ok(())
    }

    /// The I/O error that stopped the sink, if any.
    pub fn take_error(&mut self) -> Option<W::Error> {
        self.error.take()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.io
    }
}

impl<W: embedded_io::Write> Sink for IoSink<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        if self.error.is_some() {
            return Err(Stop);
        }
        if self.len + bytes.len() > self.buf.len() {
            let pending = self.buf.get(..self.len).unwrap_or(&[]);
            self.len = 0;
            if let Err(e) = self.io.write_all(pending) {
                self.error = Some(e);
                return Err(Stop);
            }
            if bytes.len() >= self.buf.len() {
                if let Err(e) = self.io.write_all(bytes) {
                    self.error = Some(e);
                    return Err(Stop);
                }
                return Ok(());
            }
        }
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}
