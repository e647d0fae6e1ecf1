//! The opening handshake (RFC 6455 §4), both sides, without I/O or allocation.
//!
//! # Flow
//!
//! **Server.** Read from the transport and feed the bytes of each read to
//! [`ServerHandshake::receive`] with a header array
//! (`[Header::EMPTY; DEFAULT_MAX_HEADERS]`). [`Status::Partial`] means read
//! more. [`Status::Complete`] gives a validated [`Request`]: look at its
//! path, [`Request::host`], [`Request::origin`], offered
//! [`protocols`](Request::protocols) and [`extensions`](Request::extensions),
//! then either write the `101` answer with [`Request::accept`], or refuse
//! with a status of your choice (403 for an unwanted origin, 404, 401…)
//! with [`Reject::write`]. An `Err(HandshakeError)` carries the status to
//! answer; [`HandshakeError::write_response`] writes that answer. Then close.
//!
//! **Client.** [`ClientHandshake::new`] takes a `ws://` or `wss://` URL,
//! [`ClientOptions`] (subprotocols, extension offer, `Origin`, extra
//! headers) and a [`RandomSource`](crate::RandomSource) for the key nonce.
//! [`ClientHandshake::write_request`] writes the request; feed the answer to
//! [`ClientHandshake::receive`] the same way as on the server. A
//! [`Response`] gives the chosen subprotocol and the accepted extensions;
//! an answer other than `101` is [`ResponseError::UnexpectedStatus`] with
//! the status and where the body starts.
//!
//! **HTTP/2 and HTTP/3.** [`ExtendedConnect`] validates an extended CONNECT
//! request (RFC 8441, RFC 9220) decoded by your HTTP library and builds the
//! `200` answer's fields.
//!
//! The full exchange, client and server in memory, is the example on
//! [`ServerHandshake`].
//!
//! # Feeding: one contract with `Connection`
//!
//! The handshake machines are fed like
//! [`Connection::receive`](crate::Connection::receive): pass the bytes you
//! have not fed yet — each read's new bytes, once. Do not pass again what
//! an earlier call was given: the machine keeps the head's bytes itself, in
//! its storage (an inline array of [`DEFAULT_MAX_HEAD_LEN`] bytes, a
//! [`HeadBuffer`] that grows with the head, or your own with
//! `with_storage`), until the blank line. Each byte is copied and
//! searched once, so byte-at-a-time input stays linear.
//!
//! # Leftover bytes: the `consumed` contract
//!
//! A peer may send WebSocket frames right behind its handshake, in the same
//! TCP segment; a client may even send its first message before the answer
//! arrives. [`Request::consumed`] and [`Response::consumed`] say how many
//! bytes of the input of the call that completed the head were head
//! (through the blank line). The bytes after them belong to the WebSocket
//! connection and **MUST** be handed to it, never dropped: feed
//! `input[consumed..]` to the connection, as you would feed
//! `input[received.consumed..]` to its next `receive`. The machines never
//! look past the head: once complete, later calls consume nothing.
//!
//! # Memory
//!
//! Nothing is allocated (unless the head is kept in a [`HeadBuffer`]):
//! header values borrow the machine's storage and headers go into your
//! array. Writers
//! measure the exact length first, claim it from the [`Output`](crate::Output)
//! once and fill it completely, so a too-small buffer leaves nothing written.
//! Errors are sticky: after one, every call returns it again.
//!
//! # Limits
//!
//! - Head size: [`HandshakeConfig::max_head_len`], default
//!   [`DEFAULT_MAX_HEAD_LEN`] (8 KiB), and never more than the machine's
//!   storage. Exceeded → 431, reported as soon as the head reaches the limit
//!   without its blank line.
//! - Header count: the length of your header array. More header lines → 431.
//!   [`DEFAULT_MAX_HEADERS`] (64) fits browsers with room to spare.
//!
//! # Strictness
//!
//! Strict by default; each choice closes a request-smuggling or confusion
//! shape, or follows an RFC MUST:
//!
//! - Line endings are CRLF only; a bare LF is 400 (RFC 9112 §2.2). A line
//!   folded onto the previous one (obs-fold) is 400 (RFC 9112 §5.2). NUL,
//!   lone CR, DEL and other control bytes anywhere in the head are 400;
//!   HTAB is allowed inside header values only. An empty line before the
//!   request line is 400.
//! - Header names are tokens; whitespace between name and colon is 400
//!   (RFC 9112 §5.1).
//! - The request line has single spaces; the version is `HTTP/d.d`
//!   (malformed → 400) and must be 1.1 or a later 1.x (otherwise 505).
//! - The method must be `GET`, case-sensitively; another method is **405**
//!   with `Allow: GET`.
//! - The target is origin-form (`/path?query`) or, as RFC 6455 §4.1 allows,
//!   absolute-form `http://` / `https://` — whose authority then takes the
//!   place of `Host` (RFC 9112 §3.2.2). `*`, authority-form, other schemes,
//!   userinfo, fragments and non-ASCII bytes are 400.
//! - `Host`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version` and `Origin` must
//!   appear at most once (400); `Host` must be present and non-empty.
//! - `Upgrade` must list the token `websocket` and `Connection` the token
//!   `Upgrade`, both as comma-separated lists across all such headers, ASCII
//!   case-insensitive (so `Connection: keep-alive, Upgrade` is fine). A
//!   request with no `Upgrade` header at all (a plain GET) is 400.
//! - `Sec-WebSocket-Key` must be canonical padded base64 of exactly 16
//!   bytes (non-zero unused bits are tolerated: RFC 6455's own example has
//!   them).
//! - `Sec-WebSocket-Version` missing or other than `13` is **426** with
//!   `Sec-WebSocket-Version: 13`. The 2010 hixie-76 draft
//!   (`Sec-WebSocket-Key1`/`Key2`, no version) gets its own error,
//!   [`HandshakeError::LegacyHixie76`], also 426. The 426 answer carries
//!   `Upgrade: websocket` and `Connection: Upgrade, close`, as RFC 9110
//!   §15.5.22 and §7.8 require of a 426 and of a sender of `Upgrade`.
//! - `Transfer-Encoding`, or a `Content-Length` other than 0, is 400: a body
//!   on the upgrade request would be read as frames here and as HTTP by an
//!   intermediary.
//! - `Sec-WebSocket-Protocol` must be a token list and
//!   `Sec-WebSocket-Extensions` an RFC 6455 §9.1 extension list (400
//!   otherwise). Repeated subprotocols in an offer are tolerated.
//! - Client side: the answer must be `101`, list `websocket` in `Upgrade` and
//!   `Upgrade` in `Connection`, carry exactly one matching
//!   `Sec-WebSocket-Accept`, at most one subprotocol (one that was offered,
//!   compared exactly) and only extensions that were offered (names compared
//!   ASCII case-insensitively). A status line without a reason phrase is
//!   tolerated.

mod accept;
pub(crate) mod client;
mod error;
pub(crate) mod ext;
mod extended_connect;
pub(crate) mod head;
#[cfg(feature = "http")]
pub mod http;
mod server;
mod storage;
mod write;

pub use accept::{accept_key, AcceptKey, WEBSOCKET_GUID};
pub use client::{ClientHandshake, ClientOptions, Response};
pub use error::{HandshakeError, ResponseError, UrlError, UsageError};
pub use ext::{Extension, ExtensionParam, ExtensionParams, Extensions, Protocols};
pub use extended_connect::{ExtendedConnect, ExtendedConnectError, ResponseHeaders};
pub use head::Header;
pub use server::{Accept, Request, ServerHandshake};
#[cfg(feature = "alloc")]
pub use storage::HeadBuffer;
pub use storage::HeadStorage;
pub use write::Reject;

#[cfg(feature = "alloc")]
pub(crate) use server::parse_plain_request;
#[cfg(feature = "http")]
pub(crate) use write::check_extra_headers;
#[cfg(feature = "alloc")]
pub(crate) use write::write_closing_answer;

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
    /// soon as the head reaches the limit without its blank line.
    ///
    /// The machines keep the head in their storage, which bounds it too:
    /// `new` and `default` use an inline array of [`DEFAULT_MAX_HEAD_LEN`]
    /// bytes, so a larger limit needs a [`HeadBuffer`] (which grows to any
    /// limit) or fixed storage of that size passed to `with_storage`
    /// ([`ServerHandshake::with_storage`],
    /// [`ClientHandshake::with_storage`]). The session layer
    /// ([`ServerStart`](crate::ServerStart),
    /// [`ClientStart`](crate::ClientStart)) and the adapters use a
    /// `HeadBuffer`, so there the limit is this field alone.
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
