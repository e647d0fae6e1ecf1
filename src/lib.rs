//! # wsmachine
//!
//! A sans-IO WebSocket protocol engine (RFC 6455).
//!
//! **The contract:** wsmachine does no I/O, reads no clock and draws no
//! randomness of its own. You read bytes from your transport and feed them
//! in; it hands back events (message data, ping, pong, close) that borrow
//! from your buffer. You ask it to send; it writes frame bytes into a buffer
//! you own, and you write those to the transport. Blocking `std::net`,
//! tokio, mio, an embedded executor or a fuzzer all drive the same code.
//!
//! (Crate docs are completed in `docs` below.)
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod handshake;
#[doc(hidden)]
pub mod fuzzing;
mod output;
mod random;

pub use output::{BufferTooSmall, Output};
#[cfg(feature = "std")]
pub use random::OsRandomError;
pub use random::{RandomSource, SecureRandom};
