//! WebSockets in a hyper 1.x or axum server (feature `hyper`): the HTTP
//! server has read the upgrade request; [`upgrade`] answers it and runs a
//! handler on the WebSocket once hyper hands the connection over, as
//! axum's `WebSocketUpgrade::on_upgrade` does.
//!
//! ```no_run
//! use axum::{extract::Request, response::Response, routing::any, Router};
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
//! // `any`: a GET over HTTP/1.1, a CONNECT over HTTP/2.
//! let app: Router = Router::new().route("/ws", any(ws));
//! ```
//!
//! [`accept`] gives the same response and an [`Upgrade`] to await where
//! you choose, for a server that wants the error or its own task.
//! The same handlers serve a plain hyper `service_fn`, whose requests are
//! `Request<Incoming>`; the response's body is any type built from a
//! `Vec<u8>`, as axum's `Body` and http-body-util's `Full<Bytes>` are.
//!
//! The same calls answer HTTP/1.1 upgrades (`GET` with `Upgrade:
//! websocket`, answered `101`) and, over HTTP/2, extended CONNECT
//! requests (RFC 8441, answered `200`): the WebSocket is then one stream
//! of the HTTP/2 connection, and a browser that reached the server over
//! HTTP/2 opens it there. hyper offers extended CONNECT once its HTTP/2
//! builder calls `enable_connect_protocol()` (`axum::serve` does with
//! axum's `http2` feature); route `CONNECT` to the
//! handler as well as `GET` (axum: `any(ws)` rather than `get(ws)`). A
//! `decide` callback sees either as an [`UpgradeRequest`]. A `CONNECT`
//! over HTTP/1.1 is refused as other methods are (405; 400 for a proxy's
//! `host:port` target). Without the `h2` feature, which gives hyper the
//! type of its `:protocol`, an HTTP/2 request is refused with 505.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::hyper::upgrade::{OnUpgrade, Upgraded};
use http::header::HeaderMap;
#[cfg(feature = "h2")]
use http::header::{HeaderName, HeaderValue};
#[cfg(feature = "h2")]
use http::{Method, StatusCode, Version};
use http::{Request, Response};
use hyper_util::rt::TokioIo;
#[cfg(feature = "h2")]
use wsmachine::accept_extended_connect;
#[cfg(feature = "h2")]
use wsmachine::handshake::http::extended_connect_fields;
use wsmachine::handshake::{ExtendedConnect, Extension};
use wsmachine::{accept_http, AcceptOptions, Answer, Rejection, Session, UpgradeError};

use crate::{Error, WebSocketStream};

/// A WebSocket on a connection hyper upgraded (HTTP/1.1), or on a stream
/// of an HTTP/2 connection (extended CONNECT).
pub type HyperWebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// The validated WebSocket request a `decide` callback looks at: an
/// HTTP/1.1 upgrade or an HTTP/2 extended CONNECT. Borrows the request.
///
/// ```
/// use wsmachine_tokio::AcceptOptions;
///
/// let mut request = http::Request::builder()
///     .uri("/chat?room=1")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .header("sec-websocket-protocol", "chat.v1, chat.v2")
///     .body(())?;
/// let (response, upgrade) = wsmachine_tokio::hyper::accept_or_reject::<_, Vec<u8>, _>(
///     &mut request,
///     &AcceptOptions { protocols: vec!["chat.v2".into()], ..AcceptOptions::default() },
///     |request, _| {
///         assert!(!request.is_extended_connect());
///         assert_eq!(request.split_path(), ("/chat", Some("room=1")));
///         assert_eq!(request.host(), "example.com");
///         assert_eq!(request.protocols().collect::<Vec<_>>(), ["chat.v1", "chat.v2"]);
///         Ok(())
///     },
/// );
/// assert_eq!(response.status(), 101);
/// assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
/// assert!(upgrade.is_ok());
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct UpgradeRequest<'r> {
    form: Form<'r>,
    headers: &'r HeaderMap,
}

/// How the request asked for its WebSocket.
#[derive(Debug, Clone, Copy)]
enum Form<'r> {
    /// `GET` with `Upgrade: websocket`.
    Upgrade(wsmachine::handshake::http::UpgradeRequest<'r>),
    /// `CONNECT` with `:protocol: websocket` (only with the `h2` feature,
    /// which gives hyper the type of its `:protocol` extension).
    #[cfg_attr(not(feature = "h2"), allow(dead_code))]
    ExtendedConnect(ExtendedConnect<'r, 'r>),
}

impl<'r> UpgradeRequest<'r> {
    /// The path with its query (`/chat?room=1`).
    pub fn path(&self) -> &'r str {
        match self.form {
            Form::Upgrade(upgrade) => upgrade.path(),
            Form::ExtendedConnect(connect) => connect.path(),
        }
    }

    /// The path and the query (without `?`), split.
    pub fn split_path(&self) -> (&'r str, Option<&'r str>) {
        match self.form {
            Form::Upgrade(upgrade) => upgrade.split_path(),
            Form::ExtendedConnect(connect) => connect.split_path(),
        }
    }

    /// The server's authority as the client named it: the `Host` header
    /// (HTTP/1.1) or the `:authority` (HTTP/2).
    pub fn host(&self) -> &'r str {
        match self.form {
            Form::Upgrade(upgrade) => upgrade.host(),
            Form::ExtendedConnect(connect) => connect.authority(),
        }
    }

    /// The `Origin` header, sent by every browser. A server that does not
    /// check it accepts connections from scripts on any site (RFC 6455
    /// §10.2).
    pub fn origin(&self) -> Option<&'r str> {
        match self.form {
            Form::Upgrade(upgrade) => upgrade.origin(),
            Form::ExtendedConnect(connect) => connect.origin(),
        }
    }

    /// The offered subprotocols, in the client's order of preference,
    /// across every `Sec-WebSocket-Protocol` header.
    pub fn protocols(&self) -> impl Iterator<Item = &'r str> + 'r {
        let (upgrade, connect) = match self.form {
            Form::Upgrade(upgrade) => (Some(upgrade.protocols()), None),
            Form::ExtendedConnect(connect) => (None, Some(connect.protocols())),
        };
        upgrade.into_iter().flatten().chain(connect.into_iter().flatten())
    }

    /// The offered extensions with their parameters, across every
    /// `Sec-WebSocket-Extensions` header.
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'r>> + 'r {
        let (upgrade, connect) = match self.form {
            Form::Upgrade(upgrade) => (Some(upgrade.extensions()), None),
            Form::ExtendedConnect(connect) => (None, Some(connect.extensions())),
        };
        upgrade.into_iter().flatten().chain(connect.into_iter().flatten())
    }

    /// The request's headers.
    pub fn headers(&self) -> &'r HeaderMap {
        self.headers
    }

    /// Whether this is an HTTP/2 extended CONNECT (RFC 8441) rather than
    /// an HTTP/1.1 upgrade.
    pub fn is_extended_connect(&self) -> bool {
        matches!(self.form, Form::ExtendedConnect(_))
    }
}

/// Answers the WebSocket upgrade `request` asks for, with the default
/// [`AcceptOptions`], and runs `handler` on the WebSocket in a task of its
/// own (`tokio::spawn`) once hyper hands the connection over. Return the
/// response from the HTTP handler: `101` (`200` for an HTTP/2 extended
/// CONNECT), or the status that says why the request was refused, as
/// [`accept`] gives.
///
/// An error `handler` returns ends its task and goes no further (log it
/// in the handler to see it), and so does a connection hyper never hands
/// over (the client left before the answer); [`accept`] gives both to a
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
/// Returns the response in every case: `101` to accept (`200` for an
/// HTTP/2 extended CONNECT), else the status that says why not (400 for
/// a request that is not a valid upgrade, 426 for another WebSocket
/// version, 405 for another method), with `Connection: close` over
/// HTTP/1.1.
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
/// [`UpgradeError::Rejected`].
pub fn accept_or_reject<B, R, F>(
    request: &mut Request<B>,
    options: &AcceptOptions,
    decide: F,
) -> (Response<R>, Result<Upgrade, Error>)
where
    R: From<Vec<u8>>,
    F: FnOnce(&UpgradeRequest<'_>, &mut Answer) -> Result<(), Rejection>,
{
    #[cfg(feature = "h2")]
    if request.method() == Method::CONNECT && matches!(request.version(), Version::HTTP_2 | Version::HTTP_3) {
        let (response, session) = answer_extended_connect(request, options, decide);
        return with_upgrade(request, options, response, session);
    }
    let (response, session) = accept_http(options, request, |upgrade, answer| {
        decide(&UpgradeRequest { form: Form::Upgrade(*upgrade), headers: upgrade.headers() }, answer)
    });
    with_upgrade(request, options, response.map(R::from), session)
}

/// The response, and the [`Upgrade`] that gives the WebSocket once hyper
/// hands the connection (or the HTTP/2 stream) over.
fn with_upgrade<B, R>(
    request: &mut Request<B>,
    options: &AcceptOptions,
    response: Response<R>,
    session: Result<Session, UpgradeError>,
) -> (Response<R>, Result<Upgrade, Error>) {
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

/// An extended CONNECT's answer (`200`, or the refusal's status, headers
/// and body) and its session. hyper keeps the `:protocol` pseudo-header
/// in a request extension, whose type comes with its `http2` feature
/// (which the `h2` feature turns on).
#[cfg(feature = "h2")]
fn answer_extended_connect<B, R, F>(
    request: &Request<B>,
    options: &AcceptOptions,
    decide: F,
) -> (Response<R>, Result<Session, UpgradeError>)
where
    R: From<Vec<u8>>,
    F: FnOnce(&UpgradeRequest<'_>, &mut Answer) -> Result<(), Rejection>,
{
    let protocol = request.extensions().get::<::hyper::ext::Protocol>().map(::hyper::ext::Protocol::as_str);
    let fields = match extended_connect_fields(request, protocol) {
        Ok(fields) => fields,
        Err(e) => {
            let response = response(e.status(), &[], Vec::new());
            return (response, Err(UpgradeError::ExtendedConnect(e)));
        }
    };
    let headers = request.headers();
    let (answer, session) = accept_extended_connect(options, &fields, |connect, answer| {
        decide(&UpgradeRequest { form: Form::ExtendedConnect(*connect), headers }, answer)
    });
    (response(answer.status, &answer.headers, answer.body), session)
}

#[cfg(feature = "h2")]
/// A response with `status`, `headers` and `body`. The headers were
/// checked when the answer was built (a refusal's extra headers too), so
/// none is dropped here in practice; a status outside 100–999 cannot
/// come from there either.
fn response<R: From<Vec<u8>>>(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Response<R> {
    let mut response = Response::new(R::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// An accepted upgrade: `.await` it for the WebSocket, once the handler
/// has returned the `101` or `200` (hyper hands the connection or the
/// HTTP/2 stream over after writing it, so await it in a task of its
/// own, not in the handler).
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
    /// client went away before the answer was written, or the response
    /// sent was not the one [`accept`] gave).
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
