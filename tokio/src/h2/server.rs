//! The server's side of RFC 8441: an HTTP/2 connection that offers
//! extended CONNECT, and WebSockets accepted on its streams.

use bytes::Bytes;
use h2::RecvStream;
use http::{Method, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use wsmachine::handshake::http::extended_connect_fields;
use wsmachine::handshake::ExtendedConnect;
use wsmachine::{
    accept_extended_connect, AcceptOptions, Answer, ConnectResponse, PlainResponse, Rejection, UpgradeError,
};

use super::h2_error;
use super::io::H2Stream;
use crate::{Error, WebSocketStream};

/// A server HTTP/2 connection: call `accept().await` on it in a loop to
/// receive requests (it also drives the connection).
pub type Connection<S> = h2::server::Connection<S, Bytes>;

/// Where the answer to one request goes.
pub type SendResponse = h2::server::SendResponse<Bytes>;

/// Starts the server side of an HTTP/2 connection on `io` (TLS with ALPN
/// `h2`, or cleartext with prior knowledge) with
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL` on, so clients may open WebSockets
/// on its streams (RFC 8441 §3). Then call `accept()` on the connection
/// in a loop, and hand each request that [`is_websocket`] to [`accept`].
///
/// # Errors
///
/// [`Error::Io`] when the client's connection preface does not arrive or
/// the transport fails.
pub async fn handshake<S>(io: S) -> Result<Connection<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    h2::server::Builder::new()
        .enable_connect_protocol()
        .initial_window_size(super::STREAM_WINDOW)
        .initial_connection_window_size(super::CONNECTION_WINDOW)
        .max_concurrent_streams(super::MAX_STREAMS)
        .handshake(io)
        .await
        .map_err(h2_error)
}

/// Whether `request` asks for a WebSocket: `CONNECT` with `:protocol`
/// `websocket` (RFC 8441 §4). Other requests are ordinary HTTP/2 requests
/// for the application to answer.
pub fn is_websocket<B>(request: &Request<B>) -> bool {
    request.method() == Method::CONNECT
        && request.extensions().get::<h2::ext::Protocol>().is_some_and(|p| p.as_str() == wsmachine::CONNECT_PROTOCOL)
}

/// Accepts the WebSocket that `request` asks for with the default
/// [`AcceptOptions`]: answers 200 on `respond` and runs the WebSocket over
/// the stream. The answer is queued at once; nothing here waits.
///
/// # Errors
///
/// As [`accept_or_reject`].
pub fn accept(request: Request<RecvStream>, respond: SendResponse) -> Result<WebSocketStream<H2Stream>, Error> {
    accept_with(request, respond, &AcceptOptions::default())
}

/// As [`accept`], with `options` (subprotocols, headers, limits, timers,
/// permessage-deflate, the write buffer's bound).
///
/// # Errors
///
/// As [`accept_or_reject`].
pub fn accept_with(
    request: Request<RecvStream>,
    respond: SendResponse,
    options: &AcceptOptions,
) -> Result<WebSocketStream<H2Stream>, Error> {
    accept_or_reject(request, respond, options, |_, _| Ok(()))
}

/// Accepts the WebSocket that `request` asks for, after `decide` looked
/// at it (path, `:authority`, `origin`, offered subprotocols, every
/// header): it may pick a subprotocol or add headers in the [`Answer`], or
/// refuse with a [`Rejection`]. Permessage-deflate is negotiated when the
/// options enable it.
///
/// # Errors
///
/// [`Error::Handshake`] when the request is not a valid extended CONNECT
/// ([`UpgradeError::ExtendedConnect`], answered 400 or 501) or was
/// refused (answered with the rejection); the stream is then ended.
/// [`Error::Io`] when the stream was already reset.
pub fn accept_or_reject<F>(
    request: Request<RecvStream>,
    mut respond: SendResponse,
    options: &AcceptOptions,
    decide: F,
) -> Result<WebSocketStream<H2Stream>, Error>
where
    F: FnOnce(&ExtendedConnect<'_, '_>, &mut Answer) -> Result<(), Rejection>,
{
    let protocol = request.extensions().get::<h2::ext::Protocol>().map(h2::ext::Protocol::as_str);
    let (answer, session) = match extended_connect_fields(&request, protocol) {
        Ok(fields) => accept_extended_connect(options, &fields, decide),
        Err(e) => (
            ConnectResponse { status: e.status(), ..ConnectResponse::default() },
            Err(UpgradeError::ExtendedConnect(e)),
        ),
    };
    let session = match session {
        Ok(session) => session,
        Err(e) => {
            respond_refusal(&mut respond, &answer);
            return Err(Error::Handshake(e));
        }
    };
    let send = respond.send_response(response(&answer)?, false).map_err(h2_error)?;
    Ok(WebSocketStream::from_session(H2Stream::new(send, request.into_body()), session, options.max_write_buffer))
}

/// The answer as an `http` response head.
fn response(answer: &ConnectResponse) -> Result<Response<()>, Error> {
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response.body(()).map_err(|e| Error::Io(std::io::Error::other(e)))
}

/// Sends a refusal and its body, ending the stream; a stream the client
/// already reset takes nothing.
fn respond_refusal(respond: &mut SendResponse, answer: &ConnectResponse) {
    let head = match response(answer) {
        Ok(head) => head,
        Err(_) => Response::builder().status(500).body(()).unwrap_or_default(),
    };
    let empty = answer.body.is_empty();
    if let Ok(mut send) = respond.send_response(head, empty) {
        if !empty {
            let _ = send.send_data(Bytes::copy_from_slice(&answer.body), true);
        }
    }
}

/// Answers an ordinary request (one that is not [`is_websocket`]) with
/// `page`: its status, headers and body, the stream ended after the body.
/// The same [`PlainResponse`] serves the HTTP/1.1 side's
/// [`accept_or_serve`](crate::accept_or_serve), so one function can
/// answer pages over both protocols.
///
/// # Errors
///
/// [`Error::Io`] when a header cannot be sent as given or the stream was
/// reset.
pub fn serve(mut respond: SendResponse, page: &PlainResponse) -> Result<(), Error> {
    let mut head = Response::builder().status(page.status);
    for (name, value) in &page.headers {
        head = head.header(name.as_str(), value.as_str());
    }
    let head = head.body(()).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let empty = page.body.is_empty();
    let mut send = respond.send_response(head, empty).map_err(h2_error)?;
    if !empty {
        send.send_data(Bytes::copy_from_slice(&page.body), true).map_err(h2_error)?;
    }
    Ok(())
}
