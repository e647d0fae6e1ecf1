//! WebSockets over HTTP/2 (RFC 8441), on the [`h2`] crate (feature `h2`).
//!
//! A WebSocket over HTTP/2 is one stream of an HTTP/2 connection, opened
//! by an extended CONNECT (`:method CONNECT`, `:protocol websocket`) and
//! answered 200; the stream's DATA frames then carry the WebSocket's
//! bytes. Many WebSockets share one connection, each with its own flow
//! control, beside ordinary requests. Browsers use it for `wss://` when
//! the page's HTTP/2 server allows it.
//!
//! The WebSockets are the same [`WebSocketStream`](crate::WebSocketStream)
//! as over TCP, over an [`H2Stream`]: `recv`, `send`, `Stream` + `Sink`,
//! `split`, timers. Closing one ends its stream only; a stream reset by
//! the peer is reported as a close without handshake (1006,
//! [`Error::ConnectionLost`](crate::Error::ConnectionLost)).
//!
//! # Flow control
//!
//! Each WebSocket has its own stream window (256 KiB), reopened as its
//! reader takes the bytes, so a WebSocket that stops reading slows its own
//! sender and no other. Connections started by [`server::handshake`] and
//! [`client::handshake`] have a connection window as large as the windows
//! of 128 streams together (32 MiB), and a server lets a client open 128
//! streams at once. On a connection you build yourself, keep the
//! connection window at least as large as the stream window times the
//! streams allowed, or a few stalled WebSockets stall all the others.
//!
//! # Server
//!
//! ```no_run
//! use wsmachine_tokio::h2;
//!
//! # async fn run(tls: tokio::net::TcpStream) -> Result<(), wsmachine_tokio::Error> {
//! // `tls`: an accepted connection whose ALPN chose "h2".
//! let mut connection = h2::server::handshake(tls).await?;
//! while let Some(Ok((request, respond))) = connection.accept().await {
//!     if !h2::server::is_websocket(&request) {
//!         continue; // an ordinary request: answer it on `respond`
//!     }
//!     let mut ws = h2::server::accept(request, respond)?;
//!     tokio::spawn(async move {
//!         while let Ok(Some(message)) = ws.recv().await {
//!             if ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # Ok(()) }
//! ```
//!
//! # Client
//!
//! ```no_run
//! use wsmachine_tokio::{h2, CloseCode};
//!
//! # async fn run(tls: tokio::net::TcpStream) -> Result<(), wsmachine_tokio::Error> {
//! // `tls`: a connection to the server whose ALPN chose "h2".
//! let connection = h2::client::handshake(tls).await?;
//! let mut chat = h2::client::connect(&connection, "wss://example.com/chat").await?;
//! let mut feed = h2::client::connect(&connection, "wss://example.com/feed").await?;
//! chat.send("hello").await?;
//! let first = feed.recv().await?;
//! chat.close(CloseCode::NORMAL, "").await?; // `feed` goes on
//! # Ok(()) }
//! ```

pub mod client;
mod io;
pub mod server;

/// Each stream's receive window: room for a 256 KiB burst per WebSocket
/// before its sender waits for the reader.
pub(crate) const STREAM_WINDOW: u32 = 256 * 1024;

/// How many streams a server lets a client open at once.
pub(crate) const MAX_STREAMS: u32 = 128;

/// The connection's receive window: every stream's window at once, so
/// WebSockets whose readers stopped cannot use up the connection's window
/// and stall the others (h2 returns connection capacity only as each
/// stream's data is read).
pub(crate) const CONNECTION_WINDOW: u32 = STREAM_WINDOW * MAX_STREAMS;

pub use io::H2Stream;

/// An h2 failure as the adapters' error.
pub(crate) fn h2_error(e: ::h2::Error) -> crate::Error {
    crate::Error::Io(into_io(e))
}

/// An h2 failure as an I/O error, keeping its message.
pub(crate) fn into_io(e: ::h2::Error) -> std::io::Error {
    if !e.is_io() {
        return std::io::Error::other(e);
    }
    e.into_io().unwrap_or_else(|| std::io::Error::other("HTTP/2 I/O error"))
}
