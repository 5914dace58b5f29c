//! Framing (stub, being written).
