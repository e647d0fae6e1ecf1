//! The entry points: connecting a client, accepting on a server.

use std::future::Future;
use std::io::{self, ErrorKind};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wsmachine::{
    AcceptOptions, Answer, ClientStart, ConnectOptions, PlainRequest, PlainResponse, Rejection, Request, RequestParts,
    SecureRandom, ServerStart, UpgradeError, DEFAULT_CLOSE_TIMEOUT,
};

use crate::driver::Driver;
use crate::{Error, MaybeTlsStream, WebSocketStream};

/// Bytes read per read of the handshake head.
const HEAD_READ: usize = 4096;

/// Connects to a `ws://` or `wss://` URL with the default
/// [`ConnectOptions`]. `url` is anything that gives a `&str`: a literal, a
/// `String` from `format!`, a `url::Url`.
///
/// `wss://` needs the `rustls` feature: the server's certificate is checked
/// against the webpki roots (Mozilla's list), with the rustls provider the
/// application installed as the process default
/// (`CryptoProvider::install_default`, before the first `wss://` connect),
/// else rustls's `ring` provider. Without the feature, or to trust other
/// roots, connect TLS yourself and use [`client`], or use
/// `connect_with_tls`.
///
/// ```no_run
/// # async fn run() -> Result<(), wsmachine_tokio::Error> {
/// let mut ws = wsmachine_tokio::connect("ws://127.0.0.1:9002/chat").await?;
/// ws.send("hello").await?;
/// while let Some(message) = ws.recv().await? {
///     println!("{message:?}");
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Io`] when the connection cannot be made (or the URL is
/// `wss://` without the `rustls` feature), [`Error::Refused`] when the
/// server answers with a status other than 101 (its headers and body
/// included), [`Error::Handshake`] when its answer is not a valid
/// acceptance.
pub async fn connect(url: impl AsRef<str>) -> Result<WebSocketStream<MaybeTlsStream>, Error> {
    connect_with(url, &ConnectOptions::default()).await
}

/// Connects to a `ws://` or `wss://` URL with `options`; the handshake
/// timeout bounds connecting, TLS and the opening handshake together.
///
/// # Errors
///
/// As [`connect`].
pub async fn connect_with(
    url: impl AsRef<str>,
    options: &ConnectOptions,
) -> Result<WebSocketStream<MaybeTlsStream>, Error> {
    #[cfg(feature = "rustls")]
    {
        connect_inner(url.as_ref(), options, None).await
    }
    #[cfg(not(feature = "rustls"))]
    {
        connect_inner(url.as_ref(), options).await
    }
}

/// Connects to a `ws://` or `wss://` URL with `options`, using `tls` for
/// `wss://` (your roots, client certificates, ALPN; feature `rustls`).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use wsmachine_tokio::rustls::pki_types::{pem::PemObject, CertificateDer};
/// use wsmachine_tokio::rustls::{ClientConfig, RootCertStore};
///
/// let mut roots = RootCertStore::empty();
/// roots.add(CertificateDer::from_pem_file("ca.pem")?)?; // your CA, or the server's self-signed certificate
/// let tls = ClientConfig::builder() // the process-wide provider (ring)
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// let options = wsmachine_tokio::ConnectOptions::default();
/// let ws = wsmachine_tokio::connect_with_tls("wss://localhost:9443/", &options, Arc::new(tls)).await?;
/// # Ok(()) }
/// ```
///
/// Two things that trip a first program:
/// - A self-signed server certificate trusted this way must not be marked
///   as a CA: rustls refuses one the server presents itself
///   (`CaUsedAsEndEntity`). `openssl req -x509` marks it so unless given
///   `-addext basicConstraints=critical,CA:FALSE`.
/// - Build the configuration with the rustls re-exported here
///   (`wsmachine_tokio::rustls`). A program that also depends on rustls
///   with its default features compiles in a second provider (aws-lc-rs),
///   and `ClientConfig::builder()` then panics until the program installs
///   one with `CryptoProvider::install_default`.
///
/// # Errors
///
/// As [`connect`]; a certificate that does not verify is an
/// [`Error::Io`] with kind `InvalidData`.
#[cfg(feature = "rustls")]
pub async fn connect_with_tls(
    url: impl AsRef<str>,
    options: &ConnectOptions,
    tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<WebSocketStream<MaybeTlsStream>, Error> {
    connect_inner(url.as_ref(), options, Some(tls)).await
}

async fn connect_inner(
    url: &str,
    options: &ConnectOptions,
    #[cfg(feature = "rustls")] tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
) -> Result<WebSocketStream<MaybeTlsStream>, Error> {
    let epoch = Instant::now();
    let deadline = options.handshake_timeout.map(|timeout| epoch + timeout);
    let parts = RequestParts::new(options);
    // Boxed, as the server's start in `accept_inner`: the answer's head is
    // inline and would stay in the connection's future.
    let start = Box::new(ClientStart::new(url, &parts, os_random()?)?);
    #[cfg(not(feature = "rustls"))]
    if start.is_secure() {
        let e = "a wss:// URL needs the `rustls` feature, or a TLS stream of your own passed to `client`";
        return Err(Error::Io(io::Error::new(ErrorKind::Unsupported, e)));
    }
    let (host, port) = (start.host(), start.port());
    let tcp = within(deadline, TcpStream::connect((host, port))).await.ok_or_else(timed_out)??;
    tcp.set_nodelay(true)?;
    #[cfg(feature = "rustls")]
    let stream = if start.is_secure() {
        let tls = match tls {
            Some(tls) => tls,
            None => wsmachine::default_tls_config()?,
        };
        within(deadline, crate::tls::tls_connect(tcp, host, tls)).await.ok_or_else(timed_out)??
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    #[cfg(not(feature = "rustls"))]
    let stream = MaybeTlsStream::Plain(tcp);
    finish_client(stream, start, epoch, deadline, options.max_write_buffer).await
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
pub async fn client<S>(url: impl AsRef<str>, stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_with(url, stream, &ConnectOptions::default()).await
}

/// As [`client`], with `options`.
///
/// # Errors
///
/// As [`client`].
pub async fn client_with<S>(
    url: impl AsRef<str>,
    stream: S,
    options: &ConnectOptions,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let epoch = Instant::now();
    let deadline = options.handshake_timeout.map(|timeout| epoch + timeout);
    let parts = RequestParts::new(options);
    // Boxed, as the server's start in `accept_inner`: the answer's head is
    // inline and would stay in the connection's future.
    let start = Box::new(ClientStart::new(url.as_ref(), &parts, os_random()?)?);
    finish_client(stream, start, epoch, deadline, options.max_write_buffer).await
}

/// Accepts a WebSocket connection on `stream` with the default
/// [`AcceptOptions`], on any path.
///
/// Turn off Nagle's algorithm on an accepted `TcpStream` first
/// (`tcp.set_nodelay(true)`), as the example does: with it on, a small
/// message written while the one before is not yet acknowledged waits
/// for the peer's delayed ACK, up to 40 ms (200 ms on Windows), which
/// never shows on loopback. [`connect`](crate::connect) sets it on the
/// socket it opens; this function cannot reach the socket under a
/// stream of any type.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
/// loop {
///     let (tcp, _) = listener.accept().await?;
///     tcp.set_nodelay(true)?;
///     tokio::spawn(async move {
///         let mut ws = wsmachine_tokio::accept(tcp).await?;
///         while let Some(message) = ws.recv().await? {
///             ws.send(message).await?;
///         }
///         Ok::<_, wsmachine_tokio::Error>(())
///     });
/// }
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Handshake`] when the request is not a valid upgrade (it was
/// answered with its status: 400, 426…, or 408 when it did not arrive
/// within the handshake timeout), [`Error::Io`] when the stream fails.
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, &AcceptOptions::default()).await
}

/// As [`accept`], with `options` (subprotocols, headers, limits, timers,
/// permessage-deflate, the handshake timeout, the write buffer's bound).
///
/// ```no_run
/// use wsmachine_tokio::{AcceptOptions, Config};
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), wsmachine_tokio::Error> {
/// let options = AcceptOptions {
///     config: Config { max_message_size: 1 << 20, ..Config::default() },
///     protocols: vec!["chat.v1".into()],
///     ..AcceptOptions::default()
/// };
/// let ws = wsmachine_tokio::accept_with(tcp, &options).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`accept`].
pub async fn accept_with<S>(stream: S, options: &AcceptOptions) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_or_reject(stream, options, |_, _| Ok(())).await
}

/// Accepts a WebSocket connection on `stream` after `decide` looked at the
/// request: its path, headers, `Origin` and offered subprotocols. It may
/// pick a subprotocol or add headers in the [`Answer`], or refuse with a
/// [`Rejection`] (any status from 300 to 599, headers, a body).
///
/// ```no_run
/// use wsmachine_tokio::{AcceptOptions, Rejection};
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), wsmachine_tokio::Error> {
/// let ws = wsmachine_tokio::accept_or_reject(tcp, &AcceptOptions::default(), |request, answer| {
///     if request.origin() != Some("https://app.example") {
///         return Err(Rejection::new(403));
///     }
///     answer.protocol = request.protocols().find(|p| *p == "chat.v1").map(String::from);
///     Ok(())
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`accept`]; a refusal is `Error::Handshake(UpgradeError::Rejected(status))`.
pub async fn accept_or_reject<S, F>(stream: S, options: &AcceptOptions, decide: F) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
{
    accept_inner(stream, options, decide, None::<fn(&PlainRequest<'_, '_>) -> PlainResponse>).await
}

/// As [`accept_or_reject`], and a plain HTTP request (a `GET` without
/// any WebSocket header, as a browser sends when the address is opened as
/// a page) is answered with what `serve` returns: a page, a redirect, a
/// 404. Then the result is `Ok(None)`: the request was served and the
/// connection closed (the answer written, the write side shut down and
/// the client's last bytes drained, as for a refusal). Every path is
/// served by one `decide` or the other.
///
/// ```no_run
/// use wsmachine_tokio::{AcceptOptions, PlainRequest, PlainResponse};
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), wsmachine_tokio::Error> {
/// let page = |_: &PlainRequest| PlainResponse::new(200).header("Content-Type", "text/html").body("<h1>Hello</h1>");
/// let options = AcceptOptions::default();
/// let Some(mut ws) = wsmachine_tokio::accept_or_serve(tcp, &options, |_, _| Ok(()), page).await? else {
///     return Ok(()); // a browser got the page
/// };
/// while let Some(message) = ws.recv().await? {
///     ws.send(message).await?;
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`accept_or_reject`].
pub async fn accept_or_serve<S, F, G>(
    stream: S,
    options: &AcceptOptions,
    decide: F,
    serve: G,
) -> Result<Option<WebSocketStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
    G: FnOnce(&PlainRequest<'_, '_>) -> PlainResponse,
{
    match accept_inner(stream, options, decide, Some(serve)).await {
        Ok(ws) => Ok(Some(ws)),
        Err(Error::Handshake(UpgradeError::Served(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The server's handshake; `serve`, when given, answers plain requests.
async fn accept_inner<S, F, G>(
    mut stream: S,
    options: &AcceptOptions,
    decide: F,
    serve: Option<G>,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
    G: FnOnce(&PlainRequest<'_, '_>) -> PlainResponse,
{
    let epoch = Instant::now();
    let deadline = options.handshake_timeout.map(|timeout| epoch + timeout);
    // Boxed: a future holds room for its largest state for as long as it
    // lives, so a task that accepts and then serves the connection would
    // carry the handshake's state until the connection ends. On the heap
    // it goes with the handshake.
    let mut start = Box::new(ServerStart::new(options));
    let (mut decide, mut serve) = (Some(decide), serve);
    let result = loop {
        let read = read_with(&mut stream, |read| {
            if read.is_empty() {
                return None;
            }
            // Each is called at most once: the start is done after either.
            let decide = |request: &Request<'_, '_>, answer: &mut Answer| match decide.take() {
                Some(decide) => decide(request, answer),
                None => Ok(()),
            };
            Some(if serve.is_some() {
                let serve = |request: &PlainRequest<'_, '_>| match serve.take() {
                    Some(serve) => serve(request),
                    None => PlainResponse::new(500),
                };
                start.receive_or_serve(read, decide, serve)
            } else {
                start.receive(read, decide)
            })
        });
        let received = match within(deadline, read).await {
            Some(Ok(Some(received))) => received,
            Some(Ok(None)) => return Err(Error::Handshake(UpgradeError::Incomplete)),
            Some(Err(e)) => return Err(e.into()),
            None => break Err(start.timeout()),
        };
        match received {
            Ok(None) => {}
            // Boxed at once: the session never takes room in this future.
            Ok(Some(session)) => break Ok(Box::new(session)),
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(session) => {
            let mut ws = WebSocketStream::new(Driver::new(stream, session, options.max_write_buffer, epoch));
            ws.flush().await?;
            Ok(ws)
        }
        Err(e) => {
            // Boxed: a rare path, kept out of the connection's future.
            Box::pin(refuse(stream, start.response(), options.config.close_timeout)).await;
            Err(Error::Handshake(e))
        }
    }
}

/// Sends the request, reads the answer, within the deadline.
async fn finish_client<S>(
    mut stream: S,
    mut start: Box<ClientStart<'_>>,
    epoch: Instant,
    deadline: Option<Instant>,
    max_write_buffer: usize,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = async {
        stream.write_all(start.request()).await?;
        stream.flush().await?;
        loop {
            let received = read_with(&mut stream, |read| (!read.is_empty()).then(|| start.receive(read))).await?;
            match received {
                None => return Ok(Err(start.ended())),
                Some(Ok(Some(session))) => return Ok::<_, Error>(Ok(Box::new(session))),
                Some(Ok(None)) => {}
                Some(Err(e)) => return Ok(Err(e)),
            }
        }
    };
    let failed = match within(deadline, handshake).await {
        Some(Ok(Ok(session))) => {
            return Ok(WebSocketStream::new(Driver::new(stream, session, max_write_buffer, epoch)))
        }
        Some(Err(e)) => return Err(e),
        Some(Ok(Err(e))) => e,
        None => start.timeout(),
    };
    Err(match start.take_refusal() {
        Some(refusal) => Error::Refused(Box::new(refusal)),
        None => Error::Handshake(failed),
    })
}

/// Reads once, into a buffer on the stack of the poll that reads, and hands
/// the bytes (none at the end of the stream) to `feed`: between polls a
/// handshake waiting for bytes holds no read buffer, and none is zeroed per
/// connection.
async fn read_with<S, T>(stream: &mut S, mut feed: impl FnMut(&[u8]) -> T) -> io::Result<T>
where
    S: AsyncRead + Unpin,
{
    std::future::poll_fn(|cx| {
        let mut buf = [MaybeUninit::<u8>::uninit(); HEAD_READ];
        let mut buf = ReadBuf::uninit(&mut buf);
        loop {
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(feed(buf.filled()))),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}

/// Answers a refused handshake, then closes without a reset: our FIN after
/// the answer, and reads until the client closes (at most `drain`).
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, response: &[u8], drain: Option<Duration>) {
    if stream.write_all(response).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + drain.unwrap_or(DEFAULT_CLOSE_TIMEOUT);
    let mut buf = [0u8; 512];
    while let Some(Ok(n)) = within(Some(deadline), stream.read(&mut buf)).await {
        if n == 0 {
            break;
        }
    }
}

/// Runs `future` until `deadline`: `None` if it passed first.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

fn timed_out() -> Error {
    Error::Io(io::Error::new(
        ErrorKind::TimedOut,
        "the handshake timeout passed before the connection (TCP, then TLS for wss://) was made",
    ))
}

fn os_random() -> Result<SecureRandom, Error> {
    SecureRandom::from_os().map_err(|e| Error::Io(io::Error::other(e)))
}
