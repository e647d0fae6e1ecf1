//! The client's side of RFC 8441: WebSockets opened as streams of an
//! HTTP/2 connection to a server that enabled extended CONNECT.

use std::future::poll_fn;

use bytes::Bytes;
use h2::RecvStream;
use http::{Method, Request};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use wsmachine::handshake::ResponseError;
use wsmachine::{ConnectOptions, ExtendedConnectStart, Refusal, SecureRandom, UpgradeError};

use super::h2_error;
use super::io::H2Stream;
use crate::{Error, WebSocketStream};

/// A handle to an HTTP/2 client connection that opens streams: from
/// [`handshake`] or [`open`]; clone it to open WebSockets from several
/// tasks.
pub type SendRequest = h2::client::SendRequest<Bytes>;

/// Starts the client side of an HTTP/2 connection on `io` (TLS with ALPN
/// `h2`, or cleartext with prior knowledge), drives it on a task of its
/// own, and waits until the server's settings arrived. Open WebSockets on
/// it with [`connect`]; clone the handle to open them from several tasks.
/// The connection ends when every handle and stream is dropped.
///
/// # Errors
///
/// [`Error::Io`] when the HTTP/2 handshake fails, or when the server's
/// settings do not allow extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL`,
/// RFC 8441 §3): such a server cannot carry WebSockets over HTTP/2.
pub async fn handshake<S>(io: S) -> Result<SendRequest, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = h2::client::Builder::new()
        .initial_window_size(super::STREAM_WINDOW)
        .initial_connection_window_size(super::CONNECTION_WINDOW)
        .handshake(io)
        .await
        .map_err(h2_error)?;
    let mut ping = connection.ping_pong();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // The server's SETTINGS is the first frame it sends, so once a PING
    // came back they have been applied.
    if let Some(ping) = ping.as_mut() {
        ping.ping(h2::Ping::opaque()).await.map_err(h2_error)?;
    }
    if !send.is_extended_connect_protocol_enabled() {
        return Err(not_enabled());
    }
    Ok(send)
}

fn not_enabled() -> Error {
    Error::Io(std::io::Error::other(
        "the HTTP/2 server does not allow extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL), so it cannot carry WebSockets",
    ))
}

/// Opens a WebSocket to `url` (`wss://` or `ws://`: the `:scheme` is
/// `https` or `http`) as a new stream of the HTTP/2 connection behind
/// `send_request`, with the default [`ConnectOptions`]. `url` is anything
/// that gives a `&str` (a literal, a `String`, a `url::Url`).
///
/// # Errors
///
/// As [`connect_with`].
pub async fn connect(send_request: &SendRequest, url: impl AsRef<str>) -> Result<WebSocketStream<H2Stream>, Error> {
    connect_with(send_request, url, &ConnectOptions::default()).await
}

/// As [`connect`], with `options` (subprotocols, headers, `origin`,
/// limits, timers, permessage-deflate, the write buffer's bound). The
/// handshake timeout bounds the wait for a stream and for the answer.
///
/// # Errors
///
/// [`Error::Refused`] when the answer is not 2xx (with its headers and
/// up to the head's limit of its body), [`Error::Handshake`] when it does
/// not fit the request; [`Error::Io`] when the
/// server does not allow extended CONNECT, the connection failed, the
/// stream was refused or reset, or the handshake timed out.
pub async fn connect_with(
    send_request: &SendRequest,
    url: impl AsRef<str>,
    options: &ConnectOptions,
) -> Result<WebSocketStream<H2Stream>, Error> {
    let rng = SecureRandom::from_os().map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let start = ExtendedConnectStart::new(url.as_ref(), options, rng).map_err(Error::Handshake)?;
    if !send_request.is_extended_connect_protocol_enabled() {
        return Err(not_enabled());
    }
    let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
    let mut request = Request::builder()
        .method(Method::CONNECT)
        .uri(format!("{}://{}{}", start.scheme(), start.authority(), start.path()))
        .extension(h2::ext::Protocol::from_static(wsmachine::CONNECT_PROTOCOL));
    for (name, value) in start.headers() {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(()).map_err(|e| Error::Handshake(UpgradeError::Usage(usage(e))))?;
    let mut sender = send_request.clone();
    within(deadline, poll_fn(|cx| sender.poll_ready(cx))).await?.map_err(h2_error)?;
    let (response, send) = sender.send_request(request, false).map_err(h2_error)?;
    let response = within(deadline, response).await?.map_err(h2_error)?;
    let (parts, mut body) = response.into_parts();
    let fields: Vec<(&str, &str)> =
        parts.headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect();
    let session = match start.finish(parts.status.as_u16(), &fields) {
        Ok(session) => session,
        Err(UpgradeError::Response(ResponseError::UnexpectedStatus { status, .. })) => {
            let headers = parts
                .headers
                .iter()
                .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect();
            let body = refusal_body(&mut body, options.handshake.max_head_len, deadline).await;
            return Err(Error::Refused(Box::new(Refusal { status, headers, body })));
        }
        Err(e) => return Err(Error::Handshake(e)),
    };
    Ok(WebSocketStream::from_session(H2Stream::new(send, body), session, options.max_write_buffer))
}

/// The body of a refusal, up to `max` bytes: what arrives before the
/// stream ends, fails or the handshake's deadline passes.
async fn refusal_body(body: &mut RecvStream, max: usize, deadline: Option<Instant>) -> Vec<u8> {
    let mut kept = Vec::new();
    while kept.len() < max {
        let Ok(Some(Ok(data))) = within(deadline, body.data()).await else { break };
        let _ = body.flow_control().release_capacity(data.len());
        kept.extend_from_slice(data.get(..max - kept.len()).unwrap_or(&data));
    }
    kept
}

/// An `http` builder error: only a header the options hold can cause one.
fn usage(_: http::Error) -> wsmachine::handshake::UsageError {
    wsmachine::handshake::UsageError::InvalidHeaderValue
}

/// Awaits `future` until `deadline`.
async fn within<F: std::future::Future>(deadline: Option<Instant>, future: F) -> Result<F::Output, Error> {
    match deadline {
        None => Ok(future.await),
        Some(at) => tokio::time::timeout_at(at, future).await.map_err(|_| {
            Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "the WebSocket's HTTP/2 handshake timed out"))
        }),
    }
}

/// Connects to the server of `url` and starts HTTP/2 on the connection,
/// ready for [`connect`]: TLS with ALPN `h2` for `wss://` (feature
/// `rustls`, the webpki roots, and the rustls provider installed as the
/// process default, else `ring`, as in [`crate::connect`]), cleartext
/// HTTP/2 with prior knowledge for `ws://`. The path of `url` is not used:
/// each [`connect`] names its own.
///
/// ```no_run
/// # async fn run() -> Result<(), wsmachine_tokio::Error> {
/// use wsmachine_tokio::h2;
/// let connection = h2::client::open("wss://example.com").await?;
/// let mut ws = h2::client::connect(&connection, "wss://example.com/chat").await?;
/// ws.send("hello").await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Io`] when the connection or TLS fails, the server does not
/// choose `h2` in ALPN, or it does not allow extended CONNECT;
/// [`Error::Handshake`] for an invalid URL.
pub async fn open(url: impl AsRef<str>) -> Result<SendRequest, Error> {
    #[cfg(feature = "rustls")]
    {
        open_inner(url.as_ref(), None).await
    }
    #[cfg(not(feature = "rustls"))]
    {
        open_inner(url.as_ref()).await
    }
}

/// As [`open`], with `tls` for `wss://` (your roots, client certificates;
/// its ALPN list is replaced by `h2`). Feature `rustls`.
///
/// # Errors
///
/// As [`open`].
#[cfg(feature = "rustls")]
pub async fn open_with_tls(
    url: impl AsRef<str>,
    tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<SendRequest, Error> {
    open_inner(url.as_ref(), Some(tls)).await
}

async fn open_inner(
    url: &str,
    #[cfg(feature = "rustls")] tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
) -> Result<SendRequest, Error> {
    // Only the URL is read here: the key stream is never used.
    let target = ExtendedConnectStart::new(url, &ConnectOptions::default(), SecureRandom::from_seed([0; 32]))
        .map_err(Error::Handshake)?;
    let deadline = ConnectOptions::default().handshake_timeout.map(|timeout| Instant::now() + timeout);
    let tcp = within(deadline, tokio::net::TcpStream::connect((target.host(), target.port()))).await??;
    tcp.set_nodelay(true)?;
    if !target.is_secure() {
        return within(deadline, handshake(tcp)).await?;
    }
    #[cfg(feature = "rustls")]
    {
        let mut config = match tls {
            Some(tls) => (*tls).clone(),
            None => (*wsmachine::default_tls_config()?).clone(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tls = within(deadline, crate::tls::tls_connect(tcp, target.host(), std::sync::Arc::new(config))).await??;
        let h2_chosen = match &tls {
            crate::MaybeTlsStream::Rustls(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
            crate::MaybeTlsStream::Plain(_) => false,
        };
        if !h2_chosen {
            let e = "the server did not choose HTTP/2 (ALPN h2) for this TLS connection";
            return Err(Error::Io(std::io::Error::new(std::io::ErrorKind::Unsupported, e)));
        }
        within(deadline, handshake(tls)).await?
    }
    #[cfg(not(feature = "rustls"))]
    {
        let e = "a wss:// URL needs the `rustls` feature, or a TLS stream of your own passed to `handshake`";
        Err(Error::Io(std::io::Error::new(std::io::ErrorKind::Unsupported, e)))
    }
}
