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
