//! TLS helpers (being written).
