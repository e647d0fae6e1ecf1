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

#[cfg(any(feature = "alloc", test))]
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
mod close;
mod config;
mod conn;
mod error;
mod frame;
mod mask;
#[cfg(feature = "alloc")]
mod message;
mod utf8;

pub use close::{ClosePayloadError, CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::Config;
pub use conn::{Connection, ControlPayload, Event, MessageKind, Received, Role, State, MAX_CONTROL_PAYLOAD};
pub use error::{ProtocolError, SendError};
pub use frame::{FrameHeader, HeaderError, HeaderStatus, OpCode, MAX_HEADER_LEN};
#[cfg(feature = "alloc")]
pub use message::{Message, MessageAssembler};
pub use mask::{apply_mask, apply_mask_naive};
pub use utf8::{Utf8Error, Utf8Validator};
