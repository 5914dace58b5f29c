//! Shared helpers for the reflex test suite.
