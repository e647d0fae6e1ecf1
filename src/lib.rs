//! # wsmachine
//!
//! A sans-IO WebSocket protocol engine: RFC 6455 for both roles, as state
//! machines that consume byte slices and produce events and bytes.
//!
//! **The contract: no I/O, no clock, no randomness of its own.** You read
//! bytes from your transport and feed them in; wsmachine hands back events
//! (message data, ping, pong, close) that borrow from your buffer, unmasked
//! in place. You ask it to send; it writes whole frames into a buffer you
//! own ([`Output`]), and you write those bytes to the transport. Blocking
//! `std::net`, tokio, mio, an embedded executor or a fuzzer all drive the
//! same code, and every behaviour is a deterministic exchange of bytes.
//!
//! # Most programs: the blocking adapter
//!
//! [`blocking`] (feature `std`) runs all of this over any `Read + Write`
//! stream: `blocking::connect(url)` (`ws://`, and `wss://` with the
//! `rustls` feature), `blocking::accept(stream)`, then
//! `send` and `read` whole messages, with keepalive, dead-peer detection,
//! permessage-deflate and a proper close built in. The async adapter for
//! tokio is the `wsmachine-tokio` crate. Both drive the sans-IO [`Session`],
//! which sequences the layers below; it is there for other runtimes too.
//!
//! ```no_run
//! use wsmachine::{blocking, CloseCode};
//! # fn main() -> Result<(), blocking::Error> {
//! let mut ws = blocking::connect("ws://127.0.0.1:9002/")?;
//! ws.send("hello")?;
//! println!("{:?}", ws.read()?);
//! ws.close(CloseCode::NORMAL, "done")?;
//! # Ok(()) }
//! ```
//!
//! # Layers
//!
//! 1. **Wire codec**, no allocation: [`FrameHeader`], [`OpCode`],
//!    [`apply_mask`], [`Utf8Validator`], [`CloseFrame`] / [`CloseCode`].
//! 2. **Handshake machines** ([`handshake`]): parse and answer the HTTP/1.1
//!    Upgrade (server), build the request and check the answer (client),
//!    and the HTTP/2 / HTTP/3 extended CONNECT bootstrap (RFC 8441,
//!    RFC 9220; with `alloc`, `accept_extended_connect` and
//!    `ExtendedConnectStart` sequence it for a `Session` on one stream).
//! 3. **The connection machine**, [`Connection`], for [`Role::Client`] or
//!    [`Role::Server`]: bytes in, [`Event`]s out; send calls write frames.
//! 4. **Conveniences** (feature `alloc`): [`MessageAssembler`] for whole
//!    [`Message`]s with a size limit, and `Vec<u8>` as an [`Output`].
//! 5. **Time**, in the connection machine: keepalive pings, dead-peer
//!    detection and the close handshake timeout are deadlines it computes
//!    ([`Connection::poll_timeout`]) and acts on when the caller says the
//!    time has come ([`Connection::handle_timeout`] with an [`Instant`]).
//!
//! # The loop
//!
//! Over a blocking `std::net::TcpStream`, after the opening handshake, with
//! keepalive pings and a close timeout. Time is an input: the loop reads its
//! own clock, and sleeps in `read` until input arrives or the next deadline
//! passes.
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::time::Duration;
//! use wsmachine::{Config, Connection, Event, Instant};
//!
//! # fn serve(mut stream: std::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config {
//!     ping_interval: Some(Duration::from_secs(20)), // keepalive
//!     ping_timeout: Some(Duration::from_secs(20)),  // dead peer
//!     close_timeout: Some(Duration::from_secs(5)),
//!     ..Config::default()
//! };
//! let mut conn = Connection::server(config);
//! let epoch = std::time::Instant::now();
//! let now = || Instant::from_duration(epoch.elapsed());
//! let mut buf = vec![0u8; 64 * 1024];
//! let mut out = Vec::new();
//! loop {
//!     // 1. Time: act on every deadline that is due (a ping, a dead peer, a
//!     //    Close never answered).
//!     if let Some(Event::Close(frame)) = conn.handle_timeout(now()) {
//!         println!("gave up: {}", frame.reason());
//!     }
//!     // 2. Write what the machine produced.
//!     conn.poll_transmit(&mut out)?;
//!     stream.write_all(&out)?;
//!     out.clear();
//!     if conn.should_close_transport() {
//!         break;
//!     }
//!     // 3. Sleep until input or the next deadline.
//!     let wait = conn.poll_timeout().map(|at| at.saturating_duration_since(now()).max(Duration::from_millis(1)));
//!     stream.set_read_timeout(wait)?;
//!     let n = match stream.read(&mut buf) {
//!         Ok(n) => n,
//!         Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
//!         Err(e) => return Err(e.into()),
//!     };
//!     if n == 0 {
//!         conn.receive_eof(); // a 1006 Close event if the peer vanished
//!         break;
//!     }
//!     // 4. Feed every byte read, passing the unconsumed rest back.
//!     let mut pos = 0;
//!     while pos < n {
//!         // Not `?`: on an error, stop feeding. The Close it queued is
//!         // written below, and `conn.error()` keeps the error.
//!         let Ok(received) = conn.receive(&mut buf[pos..n]) else { break };
//!         pos += received.consumed;
//!         match received.event {
//!             Some(Event::Text { data, .. }) => { /* a piece of a text message */ }
//!             Some(Event::Binary { data, .. }) => { /* a piece of a binary message */ }
//!             Some(Event::Close(frame)) => println!("peer closed: {}", frame.code()),
//!             _ => {}
//!         }
//!         // Drain after every event, so each ping gets its pong in order.
//!         conn.poll_transmit(&mut out)?;
//!     }
//! }
//! // The Close is out: now report what failed the connection, if anything.
//! match conn.error() {
//!     Some(error) => Err(error.into()),
//!     None => Ok(()),
//! }
//! # }
//! ```
//!
//! This is the one loop to copy; the rules it keeps:
//!
//! - **Feed each byte once**, from `consumed` on, and only the bytes after
//!   the handshake head (HTTP fed by mistake fails with
//!   [`ProtocolError::HttpInput`]; bytes fed twice are not detected).
//! - **Never `?` on `receive`**: returning there drops the Close the error
//!   queued, and the peer sees 1006 instead of the code.
//! - **Drain [`Connection::poll_transmit`] and write it** after feeding
//!   each read: it holds the pongs and the Close answer, which nothing
//!   else writes. A connection never drained hangs the close handshake
//!   until the peer gives up; [`Connection::receive_eof`] then reports
//!   1006 with [`UNWRITTEN_CLOSE`] as the reason.
//!
//! # Wrapping it in a runtime
//!
//! The crate stays runtime-free; a runtime adds a dozen lines around the
//! machine. With tokio (a sketch: the `wsmachine-tokio` crate is the whole
//! adapter, which the `tokio_echo` example runs on, and [`blocking`] the
//! one for `std::io` streams):
//!
//! ```no_run
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use wsmachine::{Connection, Event, Instant};
//!
//! # async fn run(mut stream: tokio::net::TcpStream, mut conn: Connection, mut leftover: Vec<u8>) -> std::io::Result<()> {
//! let epoch = tokio::time::Instant::now();
//! let now = || Instant::from_duration(epoch.elapsed());
//! let (mut buf, mut out) = (vec![0u8; 64 * 1024], Vec::new());
//! let mut input: &mut [u8] = &mut leftover; // bytes that came with the handshake
//! loop {
//!     let mut pos = 0;
//!     while pos < input.len() {
//!         let Ok(received) = conn.receive(&mut input[pos..]) else { break }; // see `conn.error()`
//!         pos += received.consumed;
//!         if let Some(Event::Text { data, fin, .. }) = received.event { /* hand on */ }
//!         conn.poll_transmit(&mut out).ok(); // pongs, the Close echo
//!     }
//!     conn.handle_timeout(now()); // keepalive ping, dead peer, close timeout
//!     conn.poll_transmit(&mut out).ok(); // the Close a failure queued, a ping
//!     stream.write_all(&out).await?; // backpressure: no new read until written
//!     out.clear();
//!     if conn.should_close_transport() {
//!         return stream.shutdown().await;
//!     }
//!     let deadline = conn.poll_timeout().map(|at| epoch + at.as_duration());
//!     let n = tokio::select! {
//!         read = stream.read(&mut buf) => read?,
//!         _ = tokio::time::sleep_until(deadline.unwrap_or(epoch)), if deadline.is_some() => {
//!             input = &mut [];
//!             continue; // handle_timeout runs at the top of the next turn
//!         }
//!     };
//!     if n == 0 {
//!         conn.receive_eof(); // a 1006 Close event
//!         return Ok(());
//!     }
//!     input = &mut buf[..n];
//! }
//! # }
//! ```
//!
//! The rules, whatever the runtime:
//!
//! - **Leftover bytes first.** Bytes read past the handshake head belong to
//!   the connection: feed them before the first read.
//! - **Write what the machine produced** after feeding each read, then read
//!   again. Awaiting that write before the next read is the backpressure: a
//!   peer that does not read its answers stops being read. Sends from other
//!   tasks go through the same `Connection` (behind a lock or a channel to
//!   the task owning it), so frames leave in the order they were made.
//! - **Close** the transport when [`Connection::should_close_transport`]
//!   says so, and report a read of 0 bytes with [`Connection::receive_eof`].
//! - **Time** is the runtime's clock and the machine's rules: sleep until
//!   [`Connection::poll_timeout`] (a `tokio::time::sleep_until` raced
//!   against the read), then call [`Connection::handle_timeout`]. Keepalive
//!   pings, dead-peer detection and the close handshake timeout all run
//!   through these two calls.
//! - **The handshake deadline** is the wrapper's: the handshake machines
//!   have no clock. Bound the head's reads (a read timeout, a runtime
//!   timer) and answer a server's late request with
//!   [`HandshakeError::Timeout`] (408).
//!
//! Servers on hyper or axum already hold an `http::Request` at the upgrade:
//! with feature `http`, `accept_http` answers it with the
//! [`AcceptOptions`] and gives the [`Session`] to run on the upgraded
//! stream (wsmachine-tokio's `hyper` module does both for hyper and axum),
//! and `handshake::http` has the steps one by one.
//!
//! # Errors say what to send
//!
//! A peer's violation is a [`ProtocolError`] that knows its close code
//! (1002, 1007, 1009…) and leaves the connection failed, with that Close
//! queued. Handshake errors know their HTTP status (400, 426, 431…). A
//! normal close is an [`Event::Close`], not an error. Caller mistakes are
//! [`SendError`]s that change nothing.
//!
//! # Limits
//!
//! [`Config::max_message_size`] is the limit to set: a message within it is
//! never refused for how the peer framed or compressed it, and the frame
//! limit follows it unless set. Frames that carry nothing are charged
//! [`EMPTY_FRAME_COST`] each, so an empty-fragment flood ends with 1009.
//! Every limit is checked from the frame header before the payload is
//! accepted (see [`Config`] for how they fit together). The connection
//! itself holds at most one partial header (14 bytes) and one control
//! payload (125 bytes) of peer data.
//!
//! # Crate features
//!
//! - `std` (default): implies `alloc`; `std::error::Error` impls,
//!   [`SecureRandom::from_os`], and on x86/x86-64 [`apply_mask`] with AVX2
//!   when the CPU has it (detected at run time).
//! - `alloc`: [`MessageAssembler`], [`Message`], `Vec<u8>` as [`Output`],
//!   the adapters' driver [`Session`] and their options.
//! - `std` also brings [`blocking`], the adapter over `std::io` streams.
//! - `simdutf8` (default): SIMD UTF-8 validation.
//! - `http`: `handshake::http`, the bridge to the `http` crate's request
//!   and response types.
//! - `deflate`: permessage-deflate (RFC 7692) in `ext::deflate`, safe
//!   against decompression bombs; implies `alloc` (wsmachine's own
//!   compressor, `miniz_oxide` to inflate; pure Rust, `no_std`).
//! - `rustls`: `wss://` in `blocking::connect` (rustls with its `ring`
//!   provider and the webpki roots), `blocking::connect_with_tls` for a
//!   `rustls::ClientConfig` of yours, `default_tls_config` and the
//!   re-exported `rustls`; implies `std`.
//!
//! With `default-features = false` the crate is `#![no_std]` and allocates
//! nothing: a client then seeds [`SecureRandom`] from its platform's entropy.
#![no_std]
// On docs.rs (nightly rustdoc), each item shows the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
// `unsafe` is allowed in one module only, `mask::simd` (AVX2 chosen at run
// time), with a `SAFETY:` comment on every block.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
mod adapter_error;
#[cfg(feature = "std")]
pub mod blocking;
pub mod ext;
pub mod handshake;
mod output;
mod random;
#[cfg(feature = "rustls")]
mod tls;

pub use output::{BufferTooSmall, Output};
#[cfg(feature = "std")]
pub use random::OsRandomError;
pub use random::{RandomSource, SecureRandom};
mod close;
mod config;
mod conn;
mod copy;
mod error;
mod frame;
mod mask;
#[cfg(feature = "alloc")]
mod message;
#[cfg(feature = "alloc")]
mod options;
#[cfg(feature = "alloc")]
mod session;
mod time;
mod utf8;

#[cfg(feature = "std")]
pub use adapter_error::Error;
pub use close::{CloseCode, CloseFrame, ClosePayloadError, MAX_CLOSE_REASON};
pub use config::{
    Config, RsvBits, DEFAULT_CLOSE_TIMEOUT, DEFAULT_PING_INTERVAL, DEFAULT_PING_TIMEOUT, EMPTY_FRAME_COST,
};
pub use conn::{
    Connection, ControlPayload, Event, MessageKind, Received, Role, State, MAX_CONTROL_PAYLOAD, UNWRITTEN_CLOSE,
};
pub use error::{ProtocolError, SendError};
pub use frame::{FrameHeader, HeaderError, HeaderStatus, OpCode, MAX_HEADER_LEN};
pub use handshake::{
    accept_key, Accept, ClientHandshake, ClientOptions, HandshakeConfig, HandshakeError, Reject, Request, Response,
    ResponseError, ServerHandshake, UsageError,
};
pub use mask::{apply_mask, apply_mask_naive};
#[cfg(feature = "alloc")]
pub use message::{Message, MessageAssembler, MessageRef};
#[cfg(feature = "alloc")]
pub use options::{AcceptOptions, ConnectOptions, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_WRITE_BUFFER};
/// The rustls crate `wss://` connections are made with (feature `rustls`),
/// for building a [`rustls::ClientConfig`] of your own.
#[cfg(feature = "rustls")]
pub use rustls;
#[cfg(feature = "http")]
pub use session::accept_http;
#[cfg(feature = "alloc")]
pub use session::{
    accept_extended_connect, Answer, ClientStart, ConnectResponse, ExtendedConnectStart, Incoming, IncomingRef, Piece,
    PlainRequest, PlainResponse, Refusal, Rejection, RequestParts, ServerStart, Session, Streamed, Transport,
    UpgradeError, CONNECT_PROTOCOL, READ_CHUNK, SEND_OWNED_MIN,
};
pub use time::Instant;
#[cfg(feature = "rustls")]
pub use tls::default_tls_config;
pub use utf8::{Utf8Error, Utf8Validator};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
