//! Demo service (stub).
#![no_std]
