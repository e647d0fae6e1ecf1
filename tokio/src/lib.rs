//! # wsmachine-tokio
//!
//! WebSockets on tokio, over the sans-IO engine [`wsmachine`]: the
//! protocol lives there, this crate moves bytes and time. [`connect`] to a
//! `ws://` or `wss://` URL (or [`client`] over any stream), [`accept`] on
//! a server (or [`accept_with`] with options, [`accept_or_reject`] to
//! look at the request first, [`accept_or_serve`] to also answer browsers
//! with a page), then
//! [`recv`](WebSocketStream::recv) and [`send`](WebSocketStream::send)
//! whole [`Message`]s, or use the connection as a
//! `Stream<Item = Result<Message, Error>>` and a `Sink<Message>`, as code
//! written for tokio-tungstenite expects.
//!
//! Pings are answered, keepalive pings and dead-peer detection run on
//! `tokio::time`, permessage-deflate is applied when switched on in the
//! options, writes are bounded, and the connection is closed the way
//! RFC 6455 §7.1.1 asks.
//!
//! # Example: a server and a client
//!
//! ```
//! use tokio::net::TcpListener;
//! use wsmachine_tokio::{CloseCode, Error, Message};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     // Server: echo every message, on any path.
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let url = format!("ws://{}/echo", listener.local_addr()?);
//!     let server = tokio::spawn(async move {
//!         let (tcp, _) = listener.accept().await?;
//!         tcp.set_nodelay(true)?; // see `accept`
//!         let mut ws = wsmachine_tokio::accept(tcp).await?;
//!         while let Some(message) = ws.recv().await? {
//!             ws.send(message).await?;
//!         }
//!         Ok::<_, Error>(()) // the client closed: the close handshake is done
//!     });
//!
//!     // Client.
//!     let mut ws = wsmachine_tokio::connect(&url).await?;
//!     ws.send("hello").await?;
//!     assert_eq!(ws.recv().await?, Some(Message::text("hello")));
//!     ws.send(vec![7u8; 100_000]).await?;
//!     assert_eq!(ws.recv().await?.map(|m| m.as_bytes().len()), Some(100_000));
//!     ws.close(CloseCode::NORMAL, "done").await?;
//!     server.await.expect("server task")?;
//!     Ok(())
//! }
//! ```
//!
//! # Receiving
//!
//! [`recv`](WebSocketStream::recv) returns `Ok(Some(message))` for each
//! message and `Ok(None)` once the peer closed with a close handshake (its
//! frame is in [`close_frame`](WebSocketStream::close_frame)). A connection
//! that ends any other way is an `Err`: [`Error::Protocol`] when the peer
//! broke the protocol or a timer found it dead, [`Error::ConnectionLost`]
//! when the transport ended without a Close ([`Error::is_disconnect`] is
//! true for that and for a reset stream: the peer or the network gone).
//! `recv` is cancel-safe, so it can sit in a `tokio::select!` loop.
//!
//! # Sending, and the write buffer
//!
//! [`send`](WebSocketStream::send) queues a message and writes what the
//! transport takes at once. It waits while `max_write_buffer` bytes (1 MiB
//! by default, in [`AcceptOptions`] and [`ConnectOptions`]) are queued, so
//! a peer that stops reading makes the sender wait instead of the memory
//! grow. [`flush`](WebSocketStream::flush) waits until all is written.
//! The timers run while a send waits: such a peer answers no ping and is
//! found dead, `close_timeout` bounds the wait for it to take our last
//! output, and the send then fails with the reason.
//!
//! # No background task
//!
//! The connection makes progress while one of its futures is polled.
//! Receiving also answers pings and the peer's Close, runs the timers and
//! writes what sends left queued. A program that keeps receiving (most
//! do) keeps the connection healthy. Sending runs the timers too, so a
//! connection that only sends still pings and drops a silent peer; a send
//! that answers the message a receive just returned leaves them to that
//! receive, which runs them whenever it waits for input.
//!
//! # Two tasks: `split`
//!
//! [`split`](WebSocketStream::split) gives a [`ReadHalf`] and a
//! [`WriteHalf`] for two tasks. They share the connection behind a lock
//! that is taken inside a poll and never held across an `.await`; the
//! reader alone keeps answering pings and closes while the writer is idle.
//!
//! ```no_run
//! # async fn run(ws: wsmachine_tokio::WebSocketStream<tokio::net::TcpStream>) -> Result<(), wsmachine_tokio::Error> {
//! let (mut reader, mut writer) = ws.split();
//! let ticker = tokio::spawn(async move {
//!     let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
//!     loop {
//!         tick.tick().await;
//!         writer.send("tick").await?;
//!     }
//!     #[allow(unreachable_code)]
//!     Ok::<_, wsmachine_tokio::Error>(())
//! });
//! while let Some(message) = reader.recv().await? {
//!     println!("{message:?}");
//! }
//! ticker.abort();
//! # Ok(()) }
//! ```
//!
//! # Closing
//!
//! [`close`](WebSocketStream::close) sends a Close and finishes the close
//! handshake. Once the session has sent all it ever will (a server after
//! its Close, either side after failing the connection) the stream's write
//! side is shut down (`AsyncWrite::poll_shutdown`: TCP FIN, TLS
//! close_notify) and reading goes on until the peer closes or
//! `close_timeout` passes, so the peer gets our last bytes instead of a
//! reset. A client waits for the server to close the TCP connection first.
//!
//! # Upgrades from hyper or axum
//!
//! With the `hyper` feature, `hyper::upgrade(&mut request, handler)`
//! answers an upgrade request a hyper or axum server received (with the
//! options' subprotocols, headers, limits and permessage-deflate) and
//! runs `handler` on the WebSocket once hyper hands the connection over
//! (the `hyper` module); with the `h2` feature as well, it answers an
//! HTTP/2 extended CONNECT too. Underneath it is `wsmachine::accept_http`
//! (feature `http`), which any server on the `http` crate's types can
//! call, with [`WebSocketStream::from_session`] on the upgraded stream.
//!
//! # Crate features
//!
//! - `rustls`: `wss://` in [`connect`] with rustls and the webpki roots
//!   (the provider installed as the process default, else `ring`);
//!   `connect_with_tls` for other roots.
//! - `deflate`: permessage-deflate (RFC 7692), switched on with the
//!   options' `deflate` field.
//! - `hyper`: the `hyper` module, WebSockets in hyper 1.x and axum
//!   servers.
//! - `http`: wsmachine's `handshake::http` and `accept_http`, for servers
//!   on other stacks built on the `http` crate.
//! - `h2`: WebSockets over HTTP/2 (RFC 8441) on the `h2` crate, both
//!   roles: the `h2` module; with `hyper`, the `hyper` module answers
//!   extended CONNECT requests too.
#![forbid(unsafe_code)]
// On docs.rs (nightly rustdoc), each item shows the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

mod driver;
#[cfg(feature = "h2")]
pub mod h2;
mod handshake;
#[cfg(feature = "hyper")]
pub mod hyper;
mod split;
mod stream;
mod tls;

#[cfg(feature = "rustls")]
pub use handshake::connect_with_tls;
pub use handshake::{
    accept, accept_or_reject, accept_or_serve, accept_with, client, client_with, connect, connect_with,
};
pub use split::{ReadHalf, ReuniteError, WriteHalf};
pub use stream::WebSocketStream;
pub use tls::MaybeTlsStream;
// The same type as the blocking adapter's, its own docs shown unchanged
// (a doc comment here would be prepended to them). Its `ReadTimeout`
// belongs to the blocking adapter's read timeout and never comes from
// this crate, as its docs say.
pub use wsmachine::Error;

/// The sans-IO engine underneath, re-exported so its version always
/// matches.
pub use wsmachine;
pub use wsmachine::{
    AcceptOptions, Answer, CloseCode, CloseFrame, Config, ConnectOptions, Incoming, Message, MessageRef, PlainRequest,
    PlainResponse, ProtocolError, Refusal, Rejection, Request, SendError, UpgradeError,
};

/// The permessage-deflate settings of the options' `deflate` switch
/// (feature `deflate`); `DeflateConfig::default()` suits most uses.
#[cfg(feature = "deflate")]
pub use wsmachine::ext::deflate::DeflateConfig;

/// rustls, re-exported for [`connect_with_tls`]'s configuration (feature
/// `rustls`).
#[cfg(feature = "rustls")]
pub use tokio_rustls::rustls;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
