//! WebSockets over blocking `std::io` streams (feature `std`).
//!
//! The adapter most programs want: [`connect`] to a `ws://` URL (or
//! [`client`] over any stream, such as your own TLS stream), [`accept`] a
//! connection on a server (or [`accept_with`] with options,
//! [`accept_or_reject`] to look at the request first, [`accept_or_serve`]
//! to also answer browsers with a page), then
//! [`WebSocket::send`] and [`WebSocket::read`] whole [`Message`]s. Pings
//! are answered, keepalive and dead-peer timers run, permessage-deflate is
//! applied when enabled, and the connection is closed the way RFC 6455
//! §7.1.1 asks. Every protocol rule lives in the sans-IO layers below; this
//! module only moves bytes ([`Session`] does the rest).
//!
//! # Example: a server and a client
//!
//! ```
//! use std::net::TcpListener;
//! use std::thread;
//! use wsmachine::{blocking, CloseCode, Message};
//!
//! # fn main() -> Result<(), blocking::Error> {
//! // Server: echo every message of one connection.
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let url = format!("ws://{}/echo", listener.local_addr()?);
//! let server = thread::spawn(move || -> Result<(), blocking::Error> {
//!     let (stream, _) = listener.accept()?;
//!     let mut ws = blocking::accept(stream)?;
//!     while let Some(message) = ws.read()? {
//!         ws.send(message)?;
//!     }
//!     Ok(()) // the client closed: the close handshake is done
//! });
//!
//! // Client.
//! let mut ws = blocking::connect(&url)?;
//! ws.send("hello")?;
//! assert_eq!(ws.read()?, Some(Message::text("hello")));
//! ws.send(vec![0u8; 200 * 1024])?;
//! assert_eq!(ws.read()?.map(|m| m.as_bytes().len()), Some(200 * 1024));
//! ws.close(CloseCode::NORMAL, "done")?;
//! server.join().expect("server thread")?;
//! # Ok(()) }
//! ```
//!
//! # Reading
//!
//! [`WebSocket::read`] returns `Ok(Some(message))` for each message, and
//! `Ok(None)` once the peer closed the connection with a close handshake
//! (its code and reason are in [`WebSocket::close_frame`]); every read after
//! that returns `Ok(None)` too, as an iterator ends. A connection that ends
//! any other way is an `Err`: [`Error::Protocol`] when the peer broke the
//! protocol (or a timer found it dead), [`Error::ConnectionLost`] when the
//! transport ended without a Close ([`Error::is_disconnect`] is true for
//! that and for a reset: the peer or the network gone).
//! [`WebSocket::read_ref`] lends each
//! message instead (no allocation per message; the borrow ends at the next
//! call). A message larger than you want to hold
//! can be read piece by piece with [`WebSocket::read_piece`] (and sent so
//! with [`WebSocket::send_fragment`]); [`WebSocket::read_incoming`] also
//! reports pings, pongs and the peer's Close. [`WebSocket::set_read_timeout`]
//! bounds each read call ([`Error::ReadTimeout`]), so one thread can both
//! read and send what other threads hand it.
//!
//! # Time
//!
//! Timers (keepalive Ping, dead peer, close timeout; see
//! [`ConnectOptions`] and [`AcceptOptions`]) run through the stream's read
//! timeout, set before each read to the next deadline: they advance while
//! a `read`, `read_ref`, `read_piece` or `close` call waits for input, and
//! in a thread that only sends, at its sends (see [`WebSocket::send`]). The opening
//! handshake is bounded by the options' `handshake_timeout` (a server
//! answers 408).
//!
//! # Closing
//!
//! [`WebSocket::close`] sends a Close and finishes the close handshake;
//! [`WebSocket::send_close`] sends it and leaves the reading to you, so the
//! messages already on their way are not dropped.
//! Whenever the session has sent everything it ever will (a server after
//! its Close, either side after failing the connection), the adapter shuts
//! down the stream's write side with [`Stream::shutdown_write`] and keeps
//! reading until the peer closes or the close timeout passes, so the peer
//! gets our last bytes instead of a reset. A client waits for the server to
//! close the TCP connection first (RFC 6455 §7.1.1).
//!
//! # Streams
//!
//! Anything [`Read`] + [`Write`] that also implements [`Stream`] (two
//! methods: read timeouts and shutting down the write side; a third,
//! [`Stream::try_read`], lets sends read what has arrived):
//! [`TcpStream`], Unix sockets, and your TLS stream with a few lines.

use std::boxed::Box;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub use crate::adapter_error::Error;
use crate::close::{CloseCode, CloseFrame};
use crate::config::DEFAULT_CLOSE_TIMEOUT;
use crate::conn::MessageKind;
use crate::error::{ProtocolError, SendError};
use crate::handshake::Request;
use crate::message::{Message, MessageRef};
use crate::options::{AcceptOptions, ConnectOptions};
use crate::random::SecureRandom;
use crate::session::{
    Answer, ClientStart, Incoming, IncomingRef, Piece, PlainRequest, PlainResponse, Rejection, RequestParts,
    ServerStart, Session, Streamed, Transport, UpgradeError,
};
use crate::time::Instant;

mod read_ahead;
mod tls;

pub use tls::MaybeTlsStream;

/// Pieces of output gathered for one vectored write.
const WRITE_SLICES: usize = 32;

/// What the adapter needs from a stream besides [`Read`] and [`Write`]:
/// a read timeout, through which the timers run, a way to shut down
/// the write side, through which the connection is closed without a reset,
/// and blocking mode.
///
/// Implemented for [`TcpStream`] and (on Unix) `UnixStream`. For a TLS
/// stream, forward to the socket underneath; shutting down should send
/// TLS close_notify, flush it, then shut down the socket's write side:
///
/// ```
/// use std::io::{self, Read, Write};
/// use std::net::{Shutdown, TcpStream};
/// use std::time::Duration;
///
/// /// A stand-in for a TLS stream (e.g. `rustls::StreamOwned<_, TcpStream>`).
/// struct Tls { sock: TcpStream }
/// # impl Read for Tls { fn read(&mut self, b: &mut [u8]) -> io::Result<usize> { self.sock.read(b) } }
/// # impl Write for Tls {
/// #     fn write(&mut self, b: &[u8]) -> io::Result<usize> { self.sock.write(b) }
/// #     fn flush(&mut self) -> io::Result<()> { self.sock.flush() }
/// # }
///
/// impl wsmachine::blocking::Stream for Tls {
///     fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
///         self.sock.set_read_timeout(timeout)
///     }
///     fn shutdown_write(&mut self) -> io::Result<()> {
///         // With rustls: self.conn.send_close_notify(); self.flush()?;
///         self.sock.shutdown(Shutdown::Write)
///     }
///     fn set_blocking(&mut self) -> io::Result<()> {
///         self.sock.set_nonblocking(false)
///     }
///     fn set_nodelay(&mut self) -> io::Result<()> {
///         self.sock.set_nodelay(true)
///     }
///     fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
///         // The TLS layer's read, with its socket in non-blocking mode.
///         self.sock.set_nonblocking(true)?;
///         let read = self.read(buf);
///         self.sock.set_nonblocking(false)?;
///         read
///     }
/// }
/// ```
pub trait Stream: Read + Write {
    /// Sets how long a `read` may block (`None`: forever). A stream that
    /// cannot time out may ignore this; timers then only run when input
    /// arrives.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Shuts down the write side: the peer reads the end of the stream
    /// after the bytes already written, and we can still read.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Sets how long a `write` may block (`None`: forever). The adapter
    /// sets it once, to the shortest of the connection's timers, so that
    /// a write to a peer that stopped reading returns now and then and the
    /// timers run: the keepalive finds that peer dead, and the close
    /// timeout bounds the wait for it to take our last output. The
    /// provided method does nothing (such a write then blocks until the
    /// peer reads or the connection breaks); [`TcpStream`] and
    /// `UnixStream` set their socket's write timeout.
    ///
    /// # Errors
    ///
    /// When the timeout cannot be set (the adapter then goes on without).
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Whether [`Write::write_vectored`] writes several slices in one
    /// call (`writev`) rather than only the first. When it does, a large
    /// message's payload is written after its header without being
    /// copied ([`Session::send_owned`]). The provided method says `false`;
    /// [`TcpStream`] and `UnixStream` say `true`.
    fn vectored_writes(&self) -> bool {
        false
    }

    /// Puts the stream in blocking mode, which the adapter's reads and
    /// writes need; called once, before the handshake. In non-blocking
    /// mode a read that finds nothing would return at once and be tried
    /// again, spinning, and a write to a full socket would fail with
    /// `WouldBlock`. The provided method does nothing, so a stream of your
    /// own must block (a TLS stream over a socket in blocking mode does).
    /// [`TcpStream`] and `UnixStream` leave non-blocking mode: a stream
    /// accepted from a non-blocking listener keeps that mode on macOS and
    /// the BSDs (not on Linux).
    ///
    /// # Errors
    ///
    /// When the mode cannot be set.
    fn set_blocking(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Turns off Nagle's algorithm (`TCP_NODELAY`), so that a small
    /// message written while an earlier one is not yet acknowledged goes
    /// out at once instead of waiting for that acknowledgement, which a
    /// peer that delays its ACKs sends up to 40 ms later (200 ms on
    /// Windows). On loopback the wait never shows. Called once, before the
    /// handshake, as browsers, Node `ws` and Python's asyncio do for every
    /// connection. The provided method does nothing; [`TcpStream`] sets
    /// the option (call `set_nodelay(false)` on `ws.get_mut()` to undo
    /// it), and a TLS stream of your own can set it on its socket.
    ///
    /// # Errors
    ///
    /// When the option cannot be set (the adapter then goes on without).
    fn set_nodelay(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Reads what has already arrived into `buf`, without waiting: `Ok(0)`
    /// at the end of the stream, an error of kind `WouldBlock` when
    /// nothing has arrived. A send calls it now and then, so that a
    /// thread that only sends still answers the peer's pings and sees its
    /// Close (see [`WebSocket::send`]).
    ///
    /// The provided method returns an error of kind `Unsupported`, and
    /// sends then read nothing. [`TcpStream`] and `UnixStream` read in
    /// non-blocking mode, set for that one read; a TLS stream over one of
    /// them can do the same on its socket, then read as usual.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing has arrived; any other error fails the
    /// connection as a read's would.
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _ = buf;
        Err(ErrorKind::Unsupported.into())
    }
}

/// A socket of the standard library as a [`Stream`]: its own read and
/// write timeouts, `shutdown(Write)`, `writev`, a non-blocking mode set
/// for [`Stream::try_read`]'s one read, and (given `set_nodelay`)
/// `TCP_NODELAY`.
macro_rules! socket_stream {
    ($socket:ty $(, $set_nodelay:ident)?) => {
        impl Stream for $socket {
            fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
                <$socket>::set_read_timeout(self, timeout)
            }

            fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
                <$socket>::set_write_timeout(self, timeout)
            }

            fn shutdown_write(&mut self) -> io::Result<()> {
                self.shutdown(std::net::Shutdown::Write)
            }

            fn vectored_writes(&self) -> bool {
                true
            }

            fn set_blocking(&mut self) -> io::Result<()> {
                self.set_nonblocking(false)
            }

            $(
                fn $set_nodelay(&mut self) -> io::Result<()> {
                    <$socket>::$set_nodelay(self, true)
                }
            )?

            fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.set_nonblocking(true)?;
                let read = self.read(buf);
                self.set_nonblocking(false)?;
                read
            }
        }
    };
}

socket_stream!(TcpStream, set_nodelay);
// A Unix socket has no Nagle's algorithm to turn off.
#[cfg(unix)]
socket_stream!(std::os::unix::net::UnixStream);

/// A pointer to a [`Stream`] is one: every method forwarded.
macro_rules! forwarded_stream {
    ($pointer:ty) => {
        impl<S: Stream + ?Sized> Stream for $pointer {
            fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
                (**self).set_read_timeout(timeout)
            }

            fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
                (**self).set_write_timeout(timeout)
            }

            fn shutdown_write(&mut self) -> io::Result<()> {
                (**self).shutdown_write()
            }

            fn vectored_writes(&self) -> bool {
                (**self).vectored_writes()
            }

            fn set_blocking(&mut self) -> io::Result<()> {
                (**self).set_blocking()
            }

            fn set_nodelay(&mut self) -> io::Result<()> {
                (**self).set_nodelay()
            }

            fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                (**self).try_read(buf)
            }
        }
    };
}

forwarded_stream!(&mut S);
forwarded_stream!(Box<S>);

/// Connects to a `ws://` URL over TCP, or with the `rustls` feature a
/// `wss://` one over TLS (the webpki roots:
/// `wsmachine::default_tls_config`), with the default [`ConnectOptions`].
///
/// `url` is anything that gives a `&str`: a literal, a `String` from
/// `format!`, a `url::Url`. For TLS settings of your own use
/// `connect_with_tls` (feature `rustls`); for a TLS stream of your own,
/// [`client`].
///
/// ```no_run
/// # fn run(port: u16) -> Result<(), wsmachine::blocking::Error> {
/// let mut ws = wsmachine::blocking::connect(format!("ws://127.0.0.1:{port}/chat"))?;
/// ws.send("hello")?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Io`] when the connection or the TLS handshake cannot be made
/// (or the URL is `wss://` without the `rustls` feature), [`Error::Refused`] when the server answers with a status
/// other than 101 (its headers and body included), [`Error::Handshake`]
/// when its answer is not a valid acceptance.
pub fn connect(url: impl AsRef<str>) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_with(url, &ConnectOptions::default())
}

/// Connects to a `ws://` or `wss://` URL with `options`; the handshake
/// timeout bounds connecting, TLS and the opening handshake together.
///
/// # Errors
///
/// As [`connect`].
pub fn connect_with(url: impl AsRef<str>, options: &ConnectOptions) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_inner(
        url.as_ref(),
        options,
        #[cfg(feature = "rustls")]
        None,
    )
}

/// Connects to a `ws://` or `wss://` URL with `options`, using `tls` for
/// `wss://` (your roots, client certificates, ALPN; feature `rustls`).
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use wsmachine::rustls::pki_types::{pem::PemObject, CertificateDer};
/// use wsmachine::rustls::{ClientConfig, RootCertStore};
///
/// let mut roots = RootCertStore::empty();
/// roots.add(CertificateDer::from_pem_file("ca.pem")?)?; // your CA, or the server's self-signed certificate
/// let tls = ClientConfig::builder() // the process-wide provider (ring)
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// let options = wsmachine::ConnectOptions::default();
/// let ws = wsmachine::blocking::connect_with_tls("wss://localhost:9443/", &options, Arc::new(tls))?;
/// # Ok(()) }
/// ```
///
/// A self-signed server certificate trusted this way must not be marked
/// as a CA: rustls refuses one the server presents itself
/// (`CaUsedAsEndEntity`). `openssl req -x509` marks it so unless given
/// `-addext basicConstraints=critical,CA:FALSE`.
///
/// # Errors
///
/// As [`connect`]; a certificate that does not verify is an
/// [`Error::Io`] with kind `InvalidData`.
#[cfg(feature = "rustls")]
pub fn connect_with_tls(
    url: impl AsRef<str>,
    options: &ConnectOptions,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_inner(url.as_ref(), options, Some(tls))
}

fn connect_inner(
    url: &str,
    options: &ConnectOptions,
    #[cfg(feature = "rustls")] tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let epoch = std::time::Instant::now();
    let parts = RequestParts::new(options);
    let start = ClientStart::new(url, &parts, os_random()?)?;
    let timeout = options.handshake_timeout;
    #[cfg(not(feature = "rustls"))]
    if start.is_secure() {
        let e = "a wss:// URL needs TLS: enable wsmachine's `rustls` feature, or connect a TLS stream and pass it to blocking::client";
        return Err(Error::Io(io::Error::new(ErrorKind::Unsupported, e)));
    }
    let tcp = connect_tcp(start.host(), start.port(), timeout)?;
    tcp.set_nodelay(true)?;
    #[cfg(feature = "rustls")]
    if start.is_secure() {
        let tls = match tls {
            Some(tls) => tls,
            None => crate::default_tls_config()?,
        };
        let left = timeout.map(|timeout| timeout.saturating_sub(epoch.elapsed()));
        let stream = tls::tls_connect(tcp, start.host(), tls, left)?;
        return finish_client(stream, start, epoch, timeout);
    }
    finish_client(MaybeTlsStream::Plain(tcp), start, epoch, timeout)
}

/// Opens a WebSocket over `stream`, already connected to the server of
/// `url` (a TLS stream for `wss://`), with the default [`ConnectOptions`].
/// `url` is anything that gives a `&str`, as for [`connect`].
///
/// # Errors
///
/// [`Error::Io`] when the stream fails; [`Error::Refused`] or
/// [`Error::Handshake`] when the server does not accept the connection, as
/// for [`connect`].
pub fn client<S: Stream>(url: impl AsRef<str>, stream: S) -> Result<WebSocket<S>, Error> {
    client_with(url, stream, &ConnectOptions::default())
}

/// As [`client`], with `options`.
///
/// # Errors
///
/// As [`client`].
pub fn client_with<S: Stream>(
    url: impl AsRef<str>,
    stream: S,
    options: &ConnectOptions,
) -> Result<WebSocket<S>, Error> {
    let epoch = std::time::Instant::now();
    let parts = RequestParts::new(options);
    let start = ClientStart::new(url.as_ref(), &parts, os_random()?)?;
    finish_client(stream, start, epoch, options.handshake_timeout)
}

/// Accepts a WebSocket connection on `stream` with the default
/// [`AcceptOptions`], on any path.
///
/// # Errors
///
/// [`Error::Handshake`] when the request is not a valid upgrade (it was
/// answered with its status: 400, 426…, or 408 when it did not arrive
/// within the handshake timeout), [`Error::Io`] when the stream fails.
pub fn accept<S: Stream>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, &AcceptOptions::default())
}

/// As [`accept`], with `options` (subprotocols, headers, limits, timers,
/// permessage-deflate, the handshake timeout).
///
/// ```no_run
/// use wsmachine::{blocking, AcceptOptions, Config};
/// # fn run(stream: std::net::TcpStream) -> Result<(), blocking::Error> {
/// let options = AcceptOptions {
///     config: Config { max_message_size: 1 << 20, ..Config::default() },
///     protocols: vec!["chat.v1".into()],
///     ..AcceptOptions::default()
/// };
/// let ws = blocking::accept_with(stream, &options)?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`accept`].
pub fn accept_with<S: Stream>(stream: S, options: &AcceptOptions) -> Result<WebSocket<S>, Error> {
    accept_or_reject(stream, options, |_, _| Ok(()))
}

/// Accepts a WebSocket connection on `stream` after `decide` looked at the
/// request: its path, headers, `Origin` and offered subprotocols. It may
/// pick a subprotocol or add headers in the [`Answer`], or refuse with a
/// [`Rejection`] (any status from 300 to 599, headers, a body).
///
/// ```no_run
/// use wsmachine::{blocking, AcceptOptions, Rejection};
/// # fn run(stream: std::net::TcpStream) -> Result<(), blocking::Error> {
/// let ws = blocking::accept_or_reject(stream, &AcceptOptions::default(), |request, answer| {
///     if request.origin() != Some("https://app.example") {
///         return Err(Rejection::new(403));
///     }
///     answer.protocol = request.protocols().find(|p| *p == "chat.v1").map(String::from);
///     Ok(())
/// })?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`accept`]; a refusal is `Error::Handshake(UpgradeError::Rejected(status))`.
pub fn accept_or_reject<S, F>(stream: S, options: &AcceptOptions, decide: F) -> Result<WebSocket<S>, Error>
where
    S: Stream,
    F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
{
    accept_inner(stream, options, decide, None::<fn(&PlainRequest<'_, '_>) -> PlainResponse>)
}

/// As [`accept_or_reject`], and a plain HTTP request (a `GET` without
/// any WebSocket header, as a browser sends when the address is opened as
/// a page) is answered with what `serve` returns: a page, a redirect, a
/// 404. Then the result is `Ok(None)`: the request was served and the
/// connection closed. Every path is served by one `decide` or the other.
///
/// ```no_run
/// use wsmachine::{blocking, AcceptOptions, PlainRequest, PlainResponse};
/// # fn run(stream: std::net::TcpStream) -> Result<(), blocking::Error> {
/// let page = |_: &PlainRequest| PlainResponse::new(200).header("Content-Type", "text/html").body("<h1>Hello</h1>");
/// let Some(mut ws) = blocking::accept_or_serve(stream, &AcceptOptions::default(), |_, _| Ok(()), page)? else {
///     return Ok(()); // a browser got the page
/// };
/// while let Some(message) = ws.read()? {
///     ws.send(message)?;
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`accept_or_reject`].
pub fn accept_or_serve<S, F, G>(
    stream: S,
    options: &AcceptOptions,
    decide: F,
    serve: G,
) -> Result<Option<WebSocket<S>>, Error>
where
    S: Stream,
    F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
    G: FnOnce(&PlainRequest<'_, '_>) -> PlainResponse,
{
    match accept_inner(stream, options, decide, Some(serve)) {
        Ok(ws) => Ok(Some(ws)),
        Err(Error::Handshake(UpgradeError::Served(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

fn accept_inner<S, F, G>(
    mut stream: S,
    options: &AcceptOptions,
    decide: F,
    serve: Option<G>,
) -> Result<WebSocket<S>, Error>
where
    S: Stream,
    F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
    G: FnOnce(&PlainRequest<'_, '_>) -> PlainResponse,
{
    let epoch = std::time::Instant::now();
    stream.set_blocking()?;
    // Best effort: latency, not correctness, depends on it.
    let _ = stream.set_nodelay();
    let mut start = ServerStart::new(options);
    let (mut decide, mut serve) = (Some(decide), serve);
    let mut buf = [0u8; 4096];
    loop {
        let result = match read_until(&mut stream, &mut buf, epoch, options.handshake_timeout)? {
            Some(0) => return Err(Error::Handshake(UpgradeError::Incomplete)),
            Some(n) => {
                let decide = |request: &Request<'_, '_>, answer: &mut Answer| match decide.take() {
                    Some(decide) => decide(request, answer),
                    None => Ok(()),
                };
                if serve.is_some() {
                    // Called at most once: the start is done after it.
                    let serve = |request: &PlainRequest<'_, '_>| match serve.take() {
                        Some(serve) => serve(request),
                        None => PlainResponse::new(500),
                    };
                    start.receive_or_serve(&buf[..n], decide, serve)
                } else {
                    start.receive(&buf[..n], decide)
                }
            }
            None => Err(start.timeout()),
        };
        match result {
            Ok(None) => {}
            Ok(Some(session)) => {
                let mut ws = WebSocket::new(stream, session, epoch);
                ws.flush()?;
                return Ok(ws);
            }
            Err(e) => {
                refuse(stream, start.response(), options.config.close_timeout);
                return Err(Error::Handshake(e));
            }
        }
    }
}

fn os_random() -> Result<SecureRandom, Error> {
    SecureRandom::from_os().map_err(|e| Error::Io(io::Error::other(e)))
}

fn connect_tcp(host: &str, port: u16, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let Some(timeout) = timeout else { return TcpStream::connect((host, port)) };
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(ErrorKind::NotFound, "the host has no address")))
}

/// One read of the handshake, bounded by the deadline: `None` once it passed.
fn read_until<S: Stream>(
    stream: &mut S,
    buf: &mut [u8],
    epoch: std::time::Instant,
    timeout: Option<Duration>,
) -> io::Result<Option<usize>> {
    loop {
        let left = match timeout {
            Some(timeout) => match timeout.checked_sub(epoch.elapsed()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Ok(None),
            },
            None => None,
        };
        stream.set_read_timeout(left)?;
        match stream.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if is_retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The read timeout to give the stream before a read that may wait up
/// to `wait` (`None`: until input comes), or `None` to keep the one set
/// last (`current`).
///
/// Every message moves the timers' next deadline (the ping is due a
/// whole interval after the last input), so setting the exact wait before
/// each read would cost a system call per message. A timeout set earlier
/// is kept while it ends no later than `wait` and no sooner than half of
/// it; a new one ends a sixteenth early, so that the waits of the reads
/// that follow, each a little shorter or longer, keep it. A read that
/// times out early only costs a turn: the next one waits for what is
/// left. Waits are at least 1 ms, the timers' resolution here.
fn stream_timeout_to_set(current: Option<Option<Duration>>, wait: Option<Duration>) -> Option<Option<Duration>> {
    let Some(wait) = wait else {
        return (current != Some(None)).then_some(None);
    };
    let min = Duration::from_millis(1);
    let wait = wait.max(min);
    match current {
        Some(Some(set)) if set <= wait && set >= wait / 2 => None,
        _ => Some(Some((wait - wait / 16).max(min))),
    }
}

fn is_retry(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

fn finish_client<S: Stream>(
    mut stream: S,
    mut start: ClientStart<'_>,
    epoch: std::time::Instant,
    timeout: Option<Duration>,
) -> Result<WebSocket<S>, Error> {
    stream.set_blocking()?;
    // Best effort: latency, not correctness, depends on it.
    let _ = stream.set_nodelay();
    stream.write_all(start.request())?;
    stream.flush()?;
    let mut buf = [0u8; 4096];
    loop {
        let failed = match read_until(&mut stream, &mut buf, epoch, timeout)? {
            Some(0) => start.ended(),
            Some(n) => match start.receive(&buf[..n]) {
                Ok(Some(session)) => return Ok(WebSocket::new(stream, session, epoch)),
                Ok(None) => continue,
                Err(e) => e,
            },
            None => start.timeout(),
        };
        return Err(match start.take_refusal() {
            Some(refusal) => Error::Refused(Box::new(refusal)),
            None => Error::Handshake(failed),
        });
    }
}

/// Answers a refused handshake, then closes without a reset: our FIN after
/// the answer, and reads until the client closes (at most `drain`).
fn refuse<S: Stream>(mut stream: S, response: &[u8], drain: Option<Duration>) {
    if stream.write_all(response).and_then(|()| stream.flush()).is_err() {
        return;
    }
    let _ = stream.shutdown_write();
    let epoch = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    while let Ok(Some(n)) = read_until(&mut stream, &mut buf, epoch, Some(drain.unwrap_or(DEFAULT_CLOSE_TIMEOUT))) {
        if n == 0 {
            break;
        }
    }
}

/// A WebSocket connection over a blocking stream.
///
/// Made by [`connect`], [`client`], [`accept`] and its variants. Each
/// call does its I/O before returning: `send` writes the frame through,
/// `read` reads until a message is complete, answering pings and running
/// the timers meanwhile.
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    session: Session,
    epoch: std::time::Instant,
    /// The stream's read timeout last set, kept while it still suits
    /// ([`stream_timeout_to_set`]).
    stream_timeout: Option<Option<Duration>>,
    /// The bound on each read call ([`WebSocket::set_read_timeout`]).
    read_timeout: Option<Duration>,
    /// The peer's Close, or the 1006 the session reported.
    peer_close: Option<CloseFrame>,
    error: Option<ProtocolError>,
    we_closed: bool,
    /// The stream is done with: closed by the session's rules or failed.
    transport_closed: bool,
    /// Writes time out (`Stream::set_write_timeout`), so a write that
    /// returns `WouldBlock` or `TimedOut` is that timeout, not an error.
    write_timeout: bool,
    /// Items a send read ahead ([`WebSocket::read_arrived`]), which the
    /// reads return first, in order.
    ahead: VecDeque<Incoming>,
    /// What the items in `ahead` count against the read-ahead limit.
    ahead_bytes: usize,
    /// The message read ahead that `read_ref` or `read_piece` lent last.
    lent: Option<Message>,
    /// `read_piece` returned a message's first pieces and not yet its
    /// last: reading ahead would take the rest of it whole.
    in_pieces: bool,
    /// A read call ran since the last send, which then answers what it
    /// returned and reads nothing ahead: an echo's send does not take the
    /// peer's Close that came after the message it answers.
    read_since_send: bool,
    /// Time since `epoch` before which a send reads nothing ahead.
    next_read_ahead: Duration,
}

impl<S: Stream> WebSocket<S> {
    fn new(mut stream: S, session: Session, epoch: std::time::Instant) -> Self {
        let config = session.config();
        let shortest = [config.ping_interval, config.ping_timeout, config.idle_timeout, config.close_timeout]
            .into_iter()
            .flatten()
            .min();
        // Writes return at least this often, so the timers run while a
        // peer that stopped reading holds one (see `flush`).
        let write_timeout =
            shortest.filter(|t| !t.is_zero()).is_some_and(|timeout| stream.set_write_timeout(Some(timeout)).is_ok());
        WebSocket {
            stream,
            session,
            epoch,
            stream_timeout: None,
            read_timeout: None,
            peer_close: None,
            error: None,
            we_closed: false,
            transport_closed: false,
            write_timeout,
            ahead: VecDeque::new(),
            ahead_bytes: 0,
            lent: None,
            in_pieces: false,
            read_since_send: false,
            next_read_ahead: Duration::ZERO,
        }
    }

    /// Sends a message: anything that converts into one (`&str`, `String`
    /// and `&String` as text; `Vec<u8>`, `&[u8]`, `b"bytes"` and `[u8; N]`
    /// as binary), compressed when
    /// permessage-deflate is in use, written through before returning.
    ///
    /// A thread that only sends (a feed pushed to a client) needs no read
    /// for the connection to stay healthy: when no read call ran since the
    /// last send and 100 ms passed since a send last looked, a send first
    /// reads what has already arrived, without waiting
    /// ([`Stream::try_read`]), and runs the timers. The peer's pings are
    /// answered with the message, our keepalive pings go out, a silent
    /// peer is found dead, and after the peer's Close the send fails with
    /// [`Error::Closed`]. Messages the peer sends meanwhile wait, in
    /// order, for the next read; past 64 KiB of them (each counted with
    /// its place in the queue, about 128 bytes) a send reads no further
    /// until they are taken. A stream of your own reads ahead only
    /// if it implements [`Stream::try_read`].
    ///
    /// A write to a peer that stopped reading blocks, but not for ever:
    /// the stream's write timeout ([`Stream::set_write_timeout`]) lets the
    /// timers run, the keepalive finds the peer dead, and once
    /// `close_timeout` passed without the peer taking anything the send
    /// fails with [`Error::Protocol`] (`PingTimeout`).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once a Close was sent or received,
    /// [`Error::Protocol`] after a failure, [`Error::Io`] when the stream
    /// fails.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        self.read_ahead_if_due()?;
        let sent = if self.stream.vectored_writes() {
            // A large payload goes out after its header without a copy.
            self.session.send_owned(message)
        } else {
            // Copied; its buffer is kept for a later message.
            let sent = self.session.send(&message);
            self.session.recycle(message);
            sent
        };
        self.sent(sent)
    }

    /// Writes what a send queued; after a refused send, the answers a read
    /// ahead queued (the pong, the Close echoed).
    fn sent(&mut self, sent: Result<(), SendError>) -> Result<(), Error> {
        if let Err(e) = sent {
            self.flush_soon();
            return Err(e.into());
        }
        self.flush()
    }

    /// Sends one piece of a message streamed in fragments, for messages
    /// too large to hold whole (the counterpart of
    /// [`read_piece`](Self::read_piece)): the first piece's `kind` is the
    /// message's, the last has `fin` set. Pings and other messages' frames
    /// may not interleave with a streamed message's pieces (only pings,
    /// pongs and a Close may). Text pieces may split a character; the
    /// whole message must be UTF-8.
    ///
    /// ```no_run
    /// # fn run(mut ws: wsmachine::blocking::WebSocket<std::net::TcpStream>) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::Read;
    /// use wsmachine::MessageKind;
    /// let mut file = std::fs::File::open("upload.bin")?;
    /// let mut chunk = vec![0u8; 64 * 1024];
    /// loop {
    ///     let n = file.read(&mut chunk)?;
    ///     ws.send_fragment(MessageKind::Binary, &chunk[..n], n == 0)?;
    ///     if n == 0 {
    ///         break;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and [`Error::Send`] for a piece out of
    /// order (a new message before the last one's final piece).
    pub fn send_fragment(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), Error> {
        self.read_ahead_if_due()?;
        let sent = self.session.send_fragment(kind, data, fin);
        self.sent(sent)
    }

    /// Sends a ping (at most 125 bytes of payload); its pong is read like
    /// any other input and reported only by
    /// [`read_incoming`](Self::read_incoming).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and [`Error::Send`] for a payload too long.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.session.send_ping(payload)?;
        self.flush()
    }

    /// Reads the next whole message (up to `Config::max_message_size`),
    /// or `Ok(None)` once the peer closed the connection: see the
    /// [module docs](self#reading).
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when the peer broke the protocol or a limit, or
    /// went silent past the ping timeout (the connection is then closed,
    /// our Close sent first); [`Error::ConnectionLost`] when the transport
    /// ended without a Close; [`Error::Io`] when the stream fails.
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        self.read_since_send = true;
        let deadline = self.read_deadline();
        loop {
            match self.next_item() {
                Ok(Some(Incoming::Message(message))) => {
                    self.flush_soon();
                    return Ok(Some(message));
                }
                Ok(Some(Incoming::Close(frame))) => self.peer_close = Some(frame),
                Ok(Some(Incoming::Ping(_) | Incoming::Pong(_))) => {}
                Ok(None) if self.transport_closed => return self.outcome().map(|()| None),
                Ok(None) => self.advance(deadline)?,
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Reads the next whole message as [`read`](Self::read) does, lent
    /// instead of handed over: no allocation per message. A binary message
    /// that arrived in one read is lent from the read buffer where it was
    /// unmasked; text, and longer messages, from a buffer the connection
    /// keeps and reuses. The borrow ends at the next call; turn the
    /// message into an owned [`Message`] (`.into()`) to keep it longer.
    ///
    /// ```no_run
    /// # fn run(mut ws: wsmachine::blocking::WebSocket<std::net::TcpStream>) -> Result<(), wsmachine::blocking::Error> {
    /// use wsmachine::MessageRef;
    /// let mut bytes = 0;
    /// while let Some(message) = ws.read_ref()? {
    ///     if let MessageRef::Text("bye") = message {
    ///         break;
    ///     }
    ///     bytes += message.as_bytes().len();
    /// }
    /// println!("{bytes} bytes received");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn read_ref(&mut self) -> Result<Option<MessageRef<'_>>, Error> {
        if self.lend_ahead() {
            return Ok(self.lent.as_ref().map(MessageRef::from));
        }
        let deadline = self.read_deadline();
        loop {
            match self.session.message_ready() {
                Ok(true) if self.session.has_message() => break,
                Ok(true) => {
                    if let Ok(Some(Incoming::Close(frame))) = self.session.poll_message() {
                        self.peer_close = Some(frame);
                    }
                }
                Ok(false) if self.transport_closed => return self.outcome().map(|()| None),
                Ok(false) => self.advance(deadline)?,
                Err(e) => self.error = Some(e),
            }
        }
        self.flush_soon();
        match self.session.poll_message_ref() {
            Ok(Some(IncomingRef::Text(text))) => Ok(Some(MessageRef::Text(text))),
            Ok(Some(IncomingRef::Binary(data))) => Ok(Some(MessageRef::Binary(data))),
            // `message_ready` found a message; nothing else comes.
            Ok(Some(_) | None) => Ok(None),
            Err(e) => Err(Error::Protocol(e)),
        }
    }

    /// Reads the next thing the peer sent, control frames included: a
    /// whole message, a ping (already answered), a pong (to a
    /// [`ping`](Self::ping)), or the peer's Close (our answer is sent; keep
    /// reading until `Ok(None)`, which comes once the connection is over,
    /// as for [`read`](Self::read)).
    ///
    /// ```no_run
    /// # fn run(mut ws: wsmachine::blocking::WebSocket<std::net::TcpStream>) -> Result<(), wsmachine::blocking::Error> {
    /// use wsmachine::Incoming;
    /// ws.ping(b"are you there?")?;
    /// while let Some(incoming) = ws.read_incoming()? {
    ///     match incoming {
    ///         Incoming::Pong(payload) if payload.as_bytes() == b"are you there?" => break,
    ///         Incoming::Message(message) => println!("{message:?}"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn read_incoming(&mut self) -> Result<Option<Incoming>, Error> {
        self.read_since_send = true;
        let deadline = self.read_deadline();
        loop {
            match self.next_item() {
                // The end without a Close frame (1006): reported by the outcome.
                Ok(Some(Incoming::Close(frame))) if frame.code() == CloseCode::ABNORMAL => {
                    self.peer_close = Some(frame);
                }
                Ok(Some(incoming)) => {
                    if let Incoming::Close(frame) = incoming {
                        self.peer_close = Some(frame);
                    }
                    self.flush_soon();
                    return Ok(Some(incoming));
                }
                Ok(None) if self.transport_closed => return self.outcome().map(|()| None),
                Ok(None) => self.advance(deadline)?,
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Bounds how long each [`read`](Self::read),
    /// [`read_ref`](Self::read_ref), [`read_incoming`](Self::read_incoming)
    /// and [`read_piece`](Self::read_piece) call waits: once `timeout` passes
    /// with nothing to return, it returns [`Error::ReadTimeout`] and the
    /// connection goes on, so one thread can read and also send what other
    /// threads hand it. `None` (the default) waits as long as it takes.
    /// A zero timeout (or a deadline a loop computed and already passed)
    /// still takes what has already arrived: only a read that finds
    /// nothing there is the timeout.
    /// The timers run either way; [`close`](Self::close) is bounded by the
    /// close timeout alone.
    ///
    /// ```no_run
    /// # fn run(mut ws: wsmachine::blocking::WebSocket<std::net::TcpStream>, outbox: std::sync::mpsc::Receiver<String>) -> Result<(), wsmachine::blocking::Error> {
    /// use std::time::Duration;
    /// use wsmachine::blocking::Error;
    /// ws.set_read_timeout(Some(Duration::from_millis(50)));
    /// loop {
    ///     while let Ok(text) = outbox.try_recv() {
    ///         ws.send(text)?;
    ///     }
    ///     match ws.read() {
    ///         Ok(Some(message)) => println!("{message:?}"),
    ///         Ok(None) => return Ok(()),
    ///         Err(Error::ReadTimeout) => {}
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// When the read call starting now gives up.
    fn read_deadline(&self) -> Option<std::time::Instant> {
        self.read_timeout.and_then(|timeout| std::time::Instant::now().checked_add(timeout))
    }

    /// Reads the next piece of a message, as it arrives, for messages too
    /// large to hold whole: the pieces of one message, concatenated, are
    /// its payload; the last has `fin` set. `Ok(None)` once the peer closed
    /// the connection, as for [`read`](Self::read).
    ///
    /// ```no_run
    /// # fn run(mut ws: wsmachine::blocking::WebSocket<std::net::TcpStream>) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::Write;
    /// let mut file = std::fs::File::create("upload.bin")?;
    /// while let Some(piece) = ws.read_piece()? {
    ///     file.write_all(piece.data)?;
    ///     if piece.fin {
    ///         break;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn read_piece(&mut self) -> Result<Option<Piece<'_>>, Error> {
        if self.lend_ahead() {
            // Read ahead whole: one piece, the last.
            return Ok(self.lent.as_ref().map(|message| Piece {
                kind: message.kind(),
                data: message.as_bytes(),
                fin: true,
            }));
        }
        let deadline = self.read_deadline();
        loop {
            match self.session.piece_ready() {
                Ok(true) if self.session.has_piece() => break,
                Ok(true) => {
                    if let Ok(Some(Streamed::Close(frame))) = self.session.poll_piece() {
                        self.peer_close = Some(frame);
                    }
                }
                Ok(false) if self.transport_closed => return self.outcome().map(|()| None),
                Ok(false) => self.advance(deadline)?,
                Err(e) => self.error = Some(e),
            }
        }
        self.flush_soon();
        match self.session.poll_piece() {
            Ok(Some(Streamed::Piece(piece))) => {
                self.in_pieces = !piece.fin;
                Ok(Some(piece))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(Error::Protocol(e)),
        }
    }

    /// Closes the connection: sends a Close with `code` and `reason` (cut
    /// to its first 123 bytes at a character boundary), then finishes the
    /// close handshake, dropping messages that still arrive, until the peer
    /// closed or `close_timeout` passed. Returns once the stream is done
    /// with.
    ///
    /// A peer that never answers is not an error: `close` returns `Ok`
    /// once `close_timeout` passed, and [`close_frame`](Self::close_frame)
    /// then gives 1006 where a peer's Close gives its code.
    ///
    /// # Errors
    ///
    /// [`Error::Send`] for a code that may not be sent (nothing is sent
    /// then); [`Error::Io`] when the stream fails.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.start_close(code, reason)?;
        loop {
            match self.next_item() {
                Ok(Some(Incoming::Close(frame))) => self.peer_close = Some(frame),
                Ok(Some(_)) => {}
                Ok(None) if self.transport_closed => return Ok(()),
                Ok(None) => self.advance(None)?,
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Starts the close handshake and returns: sends a Close with `code`
    /// and `reason` (cut as [`close`](Self::close) cuts it). Keep reading:
    /// messages the peer sent before it saw our Close still come, then
    /// `Ok(None)` once the close handshake is done and the stream with it
    /// (or the close timeout passed; [`close_frame`](Self::close_frame)
    /// then has code 1006).
    /// [`close`](Self::close) does both, dropping those messages.
    ///
    /// # Errors
    ///
    /// As [`close`](Self::close).
    pub fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.start_close(code, reason)?;
        // The close timeout starts now, not at the next read.
        let now = Instant::from_duration(self.epoch.elapsed());
        self.session.handle_timeout(now);
        self.flush()
    }

    /// Queues our Close (unless the connection is already closing).
    fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        match self.session.send_close(code, reason) {
            Ok(()) | Err(SendError::Closing | SendError::Failed(_)) => {}
            Err(e) => return Err(Error::Send(e)),
        }
        self.we_closed = true;
        Ok(())
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.session.protocol()
    }

    /// The peer's Close frame once it came (code 1006 if the transport
    /// ended without one). `None` while the connection is open, and when
    /// it ended with an error: the error (a protocol violation, a limit, a
    /// dead peer) is what a receive returned.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// Whether permessage-deflate is in use.
    pub fn is_compressed(&self) -> bool {
        self.session.is_compressed()
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The sans-IO session underneath (state, configuration).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// How the connection ended, once the stream is done with.
    fn outcome(&self) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(Error::Protocol(e));
        }
        match self.peer_close {
            Some(frame) if frame.code() != CloseCode::ABNORMAL => Ok(()),
            _ if self.we_closed => Ok(()),
            _ => Err(Error::ConnectionLost),
        }
    }

    /// Writes everything the session produced.
    fn flush(&mut self) -> Result<(), Error> {
        loop {
            let written = if self.stream.vectored_writes() {
                let mut pieces = [&[][..]; WRITE_SLICES];
                match self.session.poll_output_vectored(&mut pieces) {
                    0 => None,
                    1 => Some(self.stream.write(pieces[0])),
                    n => {
                        let slices: [IoSlice<'_>; WRITE_SLICES] = core::array::from_fn(|i| IoSlice::new(pieces[i]));
                        Some(self.stream.write_vectored(&slices[..n]))
                    }
                }
            } else {
                let out = self.session.poll_output();
                (!out.is_empty()).then(|| self.stream.write(out))
            };
            let Some(written) = written else {
                if self.session.output_abandoned() {
                    // The peer took none of it within the close timeout:
                    // the connection is over, and says why.
                    self.transport_closed = true;
                    self.error = self.error.or(self.session.connection().error());
                    return Err(self.error.map_or(Error::ConnectionLost, Error::Protocol));
                }
                match self.stream.flush() {
                    // A stream that buffers (TLS) meets the write timeout
                    // here: the timers run, as after a write below.
                    Err(e) if self.write_timeout && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        self.session.handle_timeout(Instant::from_duration(self.epoch.elapsed()));
                        continue;
                    }
                    flushed => return flushed.map_err(|e| self.lost(e)),
                }
            };
            match written {
                Ok(0) => return Err(self.lost(ErrorKind::WriteZero.into())),
                Ok(n) => self.session.consume_output(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // The write timeout `new` set: the peer takes nothing.
                // The timers run, and may find it dead and then give up
                // on the output.
                Err(e) if self.write_timeout && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.session.handle_timeout(Instant::from_duration(self.epoch.elapsed()));
                }
                Err(e) => return Err(self.lost(e)),
            }
        }
    }

    /// Writes automatic answers (pongs) now if there are any; a failure
    /// shows at the next call.
    fn flush_soon(&mut self) {
        if self.session.wants_write() {
            let _ = self.flush();
        }
    }

    fn lost(&mut self, e: io::Error) -> Error {
        self.transport_closed = true;
        Error::Io(e)
    }

    /// One turn: timers, output, the transport's fate, then one read
    /// bounded by the next deadline (the timers' or the read call's).
    /// Once the connection is over, a failing stream only ends it.
    fn advance(&mut self, deadline: Option<std::time::Instant>) -> Result<(), Error> {
        match self.step(deadline) {
            Err(Error::Io(_)) if self.session.is_finished() || self.we_closed => {
                self.transport_closed = true;
                Ok(())
            }
            other => other,
        }
    }

    fn step(&mut self, deadline: Option<std::time::Instant>) -> Result<(), Error> {
        let now = Instant::from_duration(self.epoch.elapsed());
        self.session.handle_timeout(now);
        self.flush()?;
        match self.session.poll_transport() {
            Transport::Close => {
                // The peer sees the end now, even if this value lives on.
                let _ = self.stream.shutdown_write();
                self.transport_closed = true;
                return Ok(());
            }
            Transport::ShutdownWrite => {
                // If the peer is already gone this fails; reading then ends too.
                let _ = self.stream.shutdown_write();
                return Ok(());
            }
            Transport::Open => {}
        }
        let mut wait = self.session.poll_timeout().map(|at| at.saturating_duration_since(now));
        // Past the read call's deadline (or given none at all: a zero
        // timeout), one more read takes what has already arrived, waiting
        // at most the shortest wait; nothing there is the timeout.
        let mut last_read = false;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            last_read = left.is_zero();
            wait = Some(wait.map_or(left, |wait| wait.min(left)));
        }
        if let Some(timeout) = stream_timeout_to_set(self.stream_timeout, wait) {
            self.stream.set_read_timeout(timeout).map_err(|e| self.lost(e))?;
            self.stream_timeout = Some(timeout);
        }
        match self.stream.read(self.session.read_buf()) {
            // A TLS stream reports a peer that closed TCP without its
            // close_notify as `UnexpectedEof`: the transport ended.
            Ok(0) => self.session.receive_eof(),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => self.session.receive_eof(),
            Ok(n) => self.session.filled(n),
            Err(e) if is_retry(&e) && last_read => return Err(Error::ReadTimeout),
            Err(e) if is_retry(&e) => {}
            Err(e) => return Err(self.lost(e)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_read_timeout_is_kept_while_it_ends_within_the_wait() {
        let set = stream_timeout_to_set(None, Some(16_000 * MS));
        assert_eq!(set, Some(Some(15_000 * MS)), "a sixteenth early");
        for wait in [15_000 * MS, 20_000 * MS, 30_000 * MS] {
            assert_eq!(stream_timeout_to_set(set, Some(wait)), None, "{wait:?}");
        }
        // Never later than the wait, nor sooner than half of it.
        assert_eq!(stream_timeout_to_set(set, Some(14_999 * MS)), Some(Some(Duration::from_nanos(14_061_562_500))));
        assert_eq!(stream_timeout_to_set(set, Some(30_001 * MS)), Some(Some(Duration::from_nanos(28_125_937_500))));
        // Waits are at least 1 ms.
        assert_eq!(stream_timeout_to_set(None, Some(Duration::ZERO)), Some(Some(MS)));
        assert_eq!(stream_timeout_to_set(Some(Some(MS)), Some(MS / 2)), None);
        // Waiting for input alone: no timeout, set once.
        assert_eq!(stream_timeout_to_set(set, None), Some(None));
        assert_eq!(stream_timeout_to_set(Some(None), None), None);
        assert_eq!(stream_timeout_to_set(Some(None), Some(MS)), Some(Some(MS)));
    }
}
