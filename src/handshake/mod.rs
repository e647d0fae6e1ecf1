//! The opening handshake (RFC 6455 §4), both sides, without I/O or allocation.
//!
//! (Module documentation is completed below.)

mod accept;
mod client;
mod error;
mod ext;
mod extended_connect;
mod head;
mod server;
mod write;

pub use accept::{accept_key, AcceptKey, WEBSOCKET_GUID};
pub use client::{ClientHandshake, ClientOptions, Response};
pub use error::{HandshakeError, ResponseError, UrlError, UsageError};
pub use ext::{Extension, ExtensionParam, ExtensionParams, Extensions, Protocols};
pub use extended_connect::{ExtendedConnect, ExtendedConnectError, ResponseHeaders};
pub use head::Header;
pub use server::{Accept, Request, ServerHandshake};
pub use write::Reject;

/// Default maximum size of a handshake head, in bytes: 8 KiB.
pub const DEFAULT_MAX_HEAD_LEN: usize = 8 * 1024;

/// A header-array size that fits what browsers and common clients send.
pub const DEFAULT_MAX_HEADERS: usize = 64;

/// Whether a head is complete yet (the shape of httparse's `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The head is complete and valid.
    Complete(T),
    /// More bytes are needed. Not an error: read more and call again.
    Partial,
}

impl<T> Status<T> {
    /// Whether the head is complete.
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// Whether more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// The completed value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// Limits for both handshake machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeConfig {
    /// Maximum size of the head (start line, headers and the blank line),
    /// in bytes. Default [`DEFAULT_MAX_HEAD_LEN`] (8 KiB): the request-line
    /// and header limit most HTTP servers use (nginx's default
    /// `large_client_header_buffers` line size, Apache's `LimitRequestFieldSize`),
    /// large enough for browser requests with cookies, small enough that a
    /// peer cannot make the caller buffer much before the head is rejected.
    /// Exceeding it is [`HandshakeError::HeadTooLarge`] (431), reported as
    /// soon as the buffer reaches the limit without a complete head.
    ///
    /// The number of headers is bounded by the header array the caller
    /// passes ([`DEFAULT_MAX_HEADERS`] is a good size).
    pub max_head_len: usize,
}

impl HandshakeConfig {
    /// The defaults.
    pub const fn new() -> Self {
        HandshakeConfig { max_head_len: DEFAULT_MAX_HEAD_LEN }
    }

    /// Sets [`max_head_len`](Self::max_head_len).
    pub const fn with_max_head_len(mut self, max_head_len: usize) -> Self {
        self.max_head_len = max_head_len;
        self
    }
}

impl Default for HandshakeConfig {
    fn default() -> Self {
        Self::new()
    }
}
