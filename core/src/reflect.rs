//! Reflection (stub, being written).
