//! Type checking of parameters against descriptors (stub, being written).
