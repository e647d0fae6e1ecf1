//! WebSockets in a hyper 1.x or axum server (feature `hyper`): the HTTP
//! server has read the upgrade request; [`upgrade`] answers it and runs a
//! handler on the WebSocket once hyper hands the connection over, as
//! axum's `WebSocketUpgrade::on_upgrade` does.
//!
//! ```no_run
//! use axum::{extract::Request, response::Response, routing::get, Router};
//!
//! async fn ws(mut request: Request) -> Response {
//!     // 101 and the handler in a task of its own, or the status that says
//!     // what was wrong with the request (400, 426…).
//!     wsmachine_tokio::hyper::upgrade(&mut request, |mut ws| async move {
//!         while let Some(message) = ws.recv().await? {
//!             ws.send(message).await?;
//!         }
//!         Ok(())
//!     })
//! }
//!
//! let app: Router = Router::new().route("/ws", get(ws));
//! ```
//!
//! [`accept`] gives the same response and an [`Upgrade`] to await where
//! you choose, for a server that wants the error or its own task.
//! The same handlers serve a plain hyper `service_fn`, whose requests are
//! `Request<Incoming>`; the response's body is any type built from a
//! `Vec<u8>`, as axum's `Body` and http-body-util's `Full<Bytes>` are.
//!
//! This answers HTTP/1.1 upgrades (`GET` with `Upgrade: websocket`). An
//! HTTP/2 extended CONNECT (RFC 8441) is refused with 405: over HTTP/2,
//! answer it with [`wsmachine::accept_extended_connect`], as the
//! `hyper_upgrade` example does.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::hyper::upgrade::{OnUpgrade, Upgraded};
use http::{Request, Response};
use hyper_util::rt::TokioIo;
// What a `decide` callback sees (its own docs shown unchanged).
pub use wsmachine::handshake::http::UpgradeRequest;
use wsmachine::{accept_http, AcceptOptions, Answer, Rejection, Session};

use crate::{Error, WebSocketStream};

/// A WebSocket on a connection hyper upgraded.
pub type HyperWebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// Answers the WebSocket upgrade `request` asks for, with the default
/// [`AcceptOptions`], and runs `handler` on the WebSocket in a task of its
/// own (`tokio::spawn`) once hyper hands the connection over. Return the
/// response from the HTTP handler: `101`, or the status that says why the
/// request was refused, as [`accept`] gives.
///
/// An error `handler` returns ends its task and goes no further (log it
/// in the handler to see it), and so does a connection hyper never hands
/// over (the client left before the `101`); [`accept`] gives both to a
/// server that wants them.
pub fn upgrade<B, R, F, Fut>(request: &mut Request<B>, handler: F) -> Response<R>
where
    R: From<Vec<u8>>,
    F: FnOnce(HyperWebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    upgrade_with(request, &AcceptOptions::default(), handler)
}

/// As [`upgrade`], with `options` (subprotocols, headers, limits, timers,
/// permessage-deflate, the write buffer's bound).
pub fn upgrade_with<B, R, F, Fut>(request: &mut Request<B>, options: &AcceptOptions, handler: F) -> Response<R>
where
    R: From<Vec<u8>>,
    F: FnOnce(HyperWebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    upgrade_or_reject(request, options, |_, _| Ok(()), handler)
}

/// As [`upgrade_with`], after `decide` looked at the validated request
/// (path, `Origin`, offered subprotocols, every header): it may pick a
/// subprotocol or add headers in the [`Answer`], or refuse with a
/// [`Rejection`], whose status, headers and body the response carries
/// (and `handler` then never runs).
///
/// ```no_run
/// use axum::{extract::Request, response::Response};
/// use wsmachine_tokio::{AcceptOptions, Rejection};
///
/// async fn chat(mut request: Request) -> Response {
///     let options = AcceptOptions { protocols: vec!["chat.v2".into()], ..AcceptOptions::default() };
///     let only_our_pages = |request: &wsmachine_tokio::hyper::UpgradeRequest<'_>, _: &mut _| {
///         match request.origin() {
///             Some("https://app.example") => Ok(()),
///             _ => Err(Rejection::new(403).body("not from this origin")),
///         }
///     };
///     wsmachine_tokio::hyper::upgrade_or_reject(&mut request, &options, only_our_pages, |mut ws| async move {
///         while let Some(message) = ws.recv().await? {
///             ws.send(message).await?;
///         }
///         Ok(())
///     })
/// }
/// ```
pub fn upgrade_or_reject<B, R, D, F, Fut>(
    request: &mut Request<B>,
    options: &AcceptOptions,
    decide: D,
    handler: F,
) -> Response<R>
where
    R: From<Vec<u8>>,
    D: FnOnce(&UpgradeRequest<'_>, &mut Answer) -> Result<(), Rejection>,
    F: FnOnce(HyperWebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    let (response, upgrade) = accept_or_reject(request, options, decide);
    if let Ok(upgrade) = upgrade {
        tokio::spawn(async move {
            if let Ok(ws) = upgrade.await {
                // The handler's error ends its task, as documented.
                let _ = handler(ws).await;
            }
        });
    }
    response
}

/// Answers the WebSocket upgrade `request` asks for, with the default
/// [`AcceptOptions`], leaving the WebSocket to the caller: send the
/// response back from the handler, then `.await` the [`Upgrade`] (in a
/// task of its own: hyper hands the connection over only after the
/// response is written).
///
/// Returns the response in every case: `101` to accept, else the status
/// that says why not (400 for a request that is not a valid upgrade, 426
/// for another WebSocket version, 405 for another method), with
/// `Connection: close`.
///
/// # Errors
///
/// [`Error::Handshake`] when the request was refused (the response says
/// how).
pub fn accept<B, R>(request: &mut Request<B>) -> (Response<R>, Result<Upgrade, Error>)
where
    R: From<Vec<u8>>,
{
    accept_with(request, &AcceptOptions::default())
}

/// As [`accept`], with `options` (subprotocols, headers, limits, timers,
/// permessage-deflate, the write buffer's bound).
///
/// # Errors
///
/// As [`accept`].
pub fn accept_with<B, R>(request: &mut Request<B>, options: &AcceptOptions) -> (Response<R>, Result<Upgrade, Error>)
where
    R: From<Vec<u8>>,
{
    accept_or_reject(request, options, |_, _| Ok(()))
}

/// As [`accept_with`], after `decide` looked at the validated request
/// (path, `Origin`, offered subprotocols, every header): it may pick a
/// subprotocol or add headers in the [`Answer`], or refuse with a
/// [`Rejection`], whose status, headers and body the response carries.
///
/// ```
/// use wsmachine_tokio::{AcceptOptions, Rejection};
///
/// let mut request = http::Request::builder()
///     .uri("/chat")
///     .header("host", "example.com")
///     .header("origin", "https://elsewhere.example")
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .body(())?;
/// let (response, upgrade) = wsmachine_tokio::hyper::accept_or_reject::<_, Vec<u8>, _>(
///     &mut request,
///     &AcceptOptions::default(),
///     |request, _| match request.origin() {
///         Some("https://app.example") => Ok(()),
///         _ => Err(Rejection::new(403).body("not from this origin")),
///     },
/// );
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.body(), b"not from this origin");
/// assert!(upgrade.is_err());
/// # Ok::<(), http::Error>(())
/// ```
///
/// # Errors
///
/// As [`accept`]; a rejection is [`Error::Handshake`] with
/// [`UpgradeError::Rejected`](wsmachine::UpgradeError::Rejected).
pub fn accept_or_reject<B, R, F>(
    request: &mut Request<B>,
    options: &AcceptOptions,
    decide: F,
) -> (Response<R>, Result<Upgrade, Error>)
where
    R: From<Vec<u8>>,
    F: FnOnce(&UpgradeRequest<'_>, &mut Answer) -> Result<(), Rejection>,
{
    let (response, session) = accept_http(options, request, decide);
    let response = response.map(R::from);
    match session {
        Ok(session) => {
            let upgrade = Upgrade {
                on_upgrade: ::hyper::upgrade::on(request),
                session: Some(session),
                max_write_buffer: options.max_write_buffer,
            };
            (response, Ok(upgrade))
        }
        Err(e) => (response, Err(Error::Handshake(e))),
    }
}

/// An accepted upgrade: `.await` it for the WebSocket, once the handler
/// has returned the `101` (hyper hands the connection over after writing
/// it, so await it in a task of its own, not in the handler).
///
/// Bytes the client sent right behind its request (its first frames) are
/// not lost: hyper's upgraded connection returns them first.
#[must_use = "the WebSocket runs only once the upgrade is awaited"]
#[derive(Debug)]
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    session: Option<Session>,
    max_write_buffer: usize,
}

impl Future for Upgrade {
    type Output = Result<HyperWebSocket, Error>;

    /// # Errors
    ///
    /// [`Error::Io`] when hyper did not hand the connection over (the
    /// client went away before the `101` was written, or the response
    /// sent was not the `101`).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let upgraded = match Pin::new(&mut this.on_upgrade).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(upgraded)) => upgraded,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(io::Error::other(e)))),
        };
        let Some(session) = this.session.take() else {
            return Poll::Ready(Err(Error::Closed));
        };
        Poll::Ready(Ok(WebSocketStream::from_session(TokioIo::new(upgraded), session, this.max_write_buffer)))
    }
}
