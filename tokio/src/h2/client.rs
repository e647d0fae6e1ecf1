//! The client's side of RFC 8441: WebSockets opened as streams of an
//! HTTP/2 connection to a server that enabled extended CONNECT.

use std::future::poll_fn;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Method, Request};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use wsmachine::{ConnectOptions, ExtendedConnectStart, SecureRandom, UpgradeError};

use super::h2_error;
use super::io::H2Stream;
use crate::{Error, WebSocketStream};

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
pub async fn handshake<S>(io: S) -> Result<SendRequest<Bytes>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = h2::client::handshake(io).await.map_err(h2_error)?;
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
/// `send_request`, with the default [`ConnectOptions`].
///
/// # Errors
///
/// As [`connect_with`].
pub async fn connect(send_request: &SendRequest<Bytes>, url: &str) -> Result<WebSocketStream<H2Stream>, Error> {
    connect_with(send_request, url, &ConnectOptions::default()).await
}

/// As [`connect`], with `options` (subprotocols, headers, `origin`,
/// limits, timers, permessage-deflate, the write buffer's bound). The
/// handshake timeout bounds the wait for a stream and for the answer.
///
/// # Errors
///
/// [`Error::Handshake`] when the answer is not 2xx (`UpgradeError::Response`
/// with the status) or does not fit the request; [`Error::Io`] when the
/// server does not allow extended CONNECT, the connection failed, the
/// stream was refused or reset, or the handshake timed out.
pub async fn connect_with(
    send_request: &SendRequest<Bytes>,
    url: &str,
    options: &ConnectOptions,
) -> Result<WebSocketStream<H2Stream>, Error> {
    let rng = SecureRandom::from_os().map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let start = ExtendedConnectStart::new(url, options, rng).map_err(Error::Handshake)?;
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
    let (parts, body) = response.into_parts();
    let fields: Vec<(&str, &str)> =
        parts.headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect();
    let session = start.finish(parts.status.as_u16(), &fields).map_err(Error::Handshake)?;
    Ok(WebSocketStream::from_session(H2Stream::new(send, body), session, options.max_write_buffer))
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
