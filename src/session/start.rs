//! The opening handshake, sequenced for the adapters: the server's answer
//! from the request and the [`AcceptOptions`], the client's request and
//! the check of the answer from the [`ConnectOptions`], each ending in a
//! [`Session`] that already holds the bytes that followed the head.

use alloc::string::String;
use alloc::vec::Vec;

use super::refusal::{Framing, Refusal};
use super::Session;
use crate::config::Config;
use crate::conn::Connection;
use crate::handshake::{
    parse_plain_request, write_closing_answer, Accept, ClientHandshake, ClientOptions, ExtendedConnectError, Extension,
    HandshakeError, HeadBuffer, Header, Reject, Request, Response, ResponseError, ServerHandshake, Status, UsageError,
    DEFAULT_MAX_HEADERS,
};
use crate::options::{AcceptOptions, ConnectOptions};
use crate::random::{RandomSource, SecureRandom};

#[cfg(feature = "deflate")]
use crate::ext::deflate::{Deflate, DeflateConfig, NegotiationError};

/// The opening handshake failed. Every variant says what happened on the
/// wire: a server has the answer to send in [`ServerStart::response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Server: the client's request is invalid, or did not arrive within
    /// the handshake timeout ([`HandshakeError::Timeout`], 408). Answered
    /// with the error's status.
    Request(HandshakeError),
    /// Server: the application refused the request with this status.
    Rejected(u16),
    /// Server: the request was a plain HTTP request, not an upgrade, and
    /// the application answered it with this status (a page, see
    /// [`ServerStart::receive_or_serve`]). Not a failure: there is simply
    /// no WebSocket connection.
    Served(u16),
    /// Client: the server's answer is not an acceptance. A status other
    /// than 101 is [`ResponseError::UnexpectedStatus`], and
    /// [`ClientStart::take_refusal`] then gives its headers and body (the
    /// adapters return them as `Error::Refused`); an answer that did not
    /// arrive within the handshake timeout is
    /// `ResponseError::Head(HandshakeError::Timeout)`.
    Response(ResponseError),
    /// Client: the server's permessage-deflate answer does not fit the
    /// offer (RFC 7692 §5.1).
    #[cfg(feature = "deflate")]
    Deflate(NegotiationError),
    /// The options or the application's answer are invalid: a subprotocol
    /// that is not a token or was not offered, a malformed header, a bad
    /// URL. A server answers 500.
    Usage(UsageError),
    /// The transport ended before the handshake head was complete.
    Incomplete,
    /// The handshake already completed: this start is used up.
    Done,
    /// Server: the HTTP/2 or HTTP/3 extended CONNECT request (RFC 8441,
    /// RFC 9220) is invalid; answered with the error's status (400, or 501
    /// for a `:protocol` other than `websocket`).
    ExtendedConnect(ExtendedConnectError),
}

impl UpgradeError {
    /// The HTTP status involved: the one a server answered, or the one a
    /// client received instead of 101. A usage error is the 500 a server
    /// answers it with, but for a URL that is not a WebSocket URL, which
    /// only a client has, and which fails before anything is sent: `None`.
    pub fn status(&self) -> Option<u16> {
        match self {
            UpgradeError::Request(e) => Some(e.status()),
            UpgradeError::ExtendedConnect(e) => Some(e.status()),
            UpgradeError::Rejected(status) | UpgradeError::Served(status) => Some(*status),
            UpgradeError::Response(ResponseError::UnexpectedStatus { status, .. }) => Some(*status),
            UpgradeError::Usage(UsageError::InvalidUrl(_)) => None,
            UpgradeError::Usage(_) => Some(500),
            _ => None,
        }
    }
}

impl core::fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UpgradeError::Request(e) => write!(f, "the client's request was refused with {}: {e}", e.status()),
            UpgradeError::Rejected(status) => write!(f, "the request was refused with {status}"),
            UpgradeError::Served(status) => {
                write!(f, "the request was not a WebSocket upgrade; it was answered with {status}")
            }
            UpgradeError::Response(ResponseError::Head(HandshakeError::Timeout)) => {
                f.write_str("no answer from the server within the handshake timeout")
            }
            UpgradeError::Response(e) => write!(f, "the server's answer was refused: {e}"),
            #[cfg(feature = "deflate")]
            UpgradeError::Deflate(e) => write!(f, "the server's permessage-deflate answer was refused: {e}"),
            UpgradeError::Usage(e) => write!(f, "the handshake cannot be made as asked: {e}"),
            UpgradeError::Incomplete => f.write_str("the transport ended during the opening handshake"),
            UpgradeError::Done => f.write_str("the opening handshake was already completed"),
            UpgradeError::ExtendedConnect(e) => {
                write!(f, "the client's extended CONNECT was refused with {}: {e}", e.status())
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UpgradeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpgradeError::Request(e) => Some(e),
            UpgradeError::Response(e) => Some(e),
            #[cfg(feature = "deflate")]
            UpgradeError::Deflate(e) => Some(e),
            UpgradeError::Usage(e) => Some(e),
            UpgradeError::ExtendedConnect(e) => Some(e),
            _ => None,
        }
    }
}

/// The server's answer to a request, as the application shapes it in the
/// adapters' `accept_or_reject` callback (or [`ServerStart::receive`]'s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// The subprotocol to answer with. Starts as the first of
    /// [`AcceptOptions::protocols`] the client offered; it MUST be one the
    /// client offered (else the answer is 500).
    pub protocol: Option<String>,
    /// Headers added to the `101` answer. Starts as
    /// [`AcceptOptions::headers`].
    pub headers: Vec<(String, String)>,
}

/// A refusal of the request: the status (300–599), headers and body to
/// answer with.
///
/// ```
/// use wsmachine::Rejection;
/// let no = Rejection::new(403).header("Server", "demo").body("not from this origin");
/// assert_eq!(no.status, 403);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status, 300–599 (another is answered as 500).
    pub status: u16,
    /// Headers to send (`WWW-Authenticate`, `Location`…).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Rejection {
    /// A refusal with `status`, no headers and no body.
    pub fn new(status: u16) -> Self {
        Rejection { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A plain HTTP request: a `GET` that carries no sign of a WebSocket
/// handshake (no `Upgrade`, no `Sec-WebSocket-*` header, no `upgrade` in
/// `Connection`), as a browser or curl sends when the WebSocket's address
/// is opened as a page. [`ServerStart::receive_or_serve`] (and the
/// adapters' `accept_or_serve`) hand it to the application, which answers
/// it with a [`PlainResponse`]; the connection is then closed.
///
/// Any other request that is not a valid upgrade (another method, a
/// broken handshake) is still answered with its error's status.
#[derive(Debug, Clone, Copy)]
pub struct PlainRequest<'h, 'b> {
    target: &'b str,
    path: &'b str,
    headers: &'h [Header<'b>],
}

impl<'h, 'b> PlainRequest<'h, 'b> {
    /// The request target exactly as sent (`/path?query`, or an absolute
    /// `http(s)://authority/path?query`).
    pub fn target(&self) -> &'b str {
        self.target
    }

    /// The path with its query (`/index.html?x=1`); for an absolute-form
    /// target, the part after the authority.
    pub fn path(&self) -> &'b str {
        self.path
    }

    /// The path and the query (without `?`), split.
    pub fn split_path(&self) -> (&'b str, Option<&'b str>) {
        match self.path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (self.path, None),
        }
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    }

    /// All header lines, in order.
    pub fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }
}

/// The answer to a [`PlainRequest`]: a status from 200 to 599, headers and
/// a body, sent with `Content-Length` and `Connection: close`.
///
/// ```
/// use wsmachine::PlainResponse;
/// let page = PlainResponse::new(200).header("Content-Type", "text/plain").body("a WebSocket endpoint\n");
/// assert_eq!(page.status, 200);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainResponse {
    /// The HTTP status, 200–599 (another is answered as 500).
    pub status: u16,
    /// Headers to send (`Content-Type`, `Location`…); not `Content-Length`,
    /// `Connection` nor any the handshake owns.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl PlainResponse {
    /// An answer with `status`, no headers and no body.
    pub fn new(status: u16) -> Self {
        PlainResponse { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// Feeds the request head: the one place that knows the handshake
/// machine's feeding contract (only the new bytes; the machine keeps the
/// head). Returns the machine's status and the bytes of `input` after the
/// head (empty until it is complete).
fn feed_request<'h, 'b, 'i>(
    machine: &'b mut ServerHandshake<HeadBuffer>,
    input: &'i [u8],
    headers: &'h mut [Header<'b>],
) -> Result<(Status<Request<'h, 'b>>, &'i [u8]), HandshakeError> {
    let status = machine.receive(input, headers)?;
    let rest = match &status {
        Status::Complete(request) => input.get(request.consumed()..).unwrap_or(&[]),
        Status::Partial => &[],
    };
    Ok((status, rest))
}

/// Feeds the response head; as [`feed_request`] for the client.
fn feed_response<'h, 'b, 'i>(
    machine: &'b mut ClientHandshake<'_, HeadBuffer>,
    input: &'i [u8],
    headers: &'h mut [Header<'b>],
) -> Result<(Status<Response<'h, 'b>>, &'i [u8]), ResponseError> {
    let status = machine.receive(input, headers)?;
    let rest = match &status {
        Status::Complete(response) => input.get(response.consumed()..).unwrap_or(&[]),
        Status::Partial => &[],
    };
    Ok((status, rest))
}

/// The server's half of the opening handshake, sans-IO: fed the bytes of
/// the request, it calls the application's decision once the head is
/// complete and gives back a [`Session`] whose output starts with the
/// `101` answer, or an error whose answer (400, 408, 426, a rejection…) is
/// in [`response`](Self::response).
///
/// ```
/// use wsmachine::{AcceptOptions, Answer, Request, Rejection, ServerStart};
///
/// let options = AcceptOptions { protocols: vec!["chat".into()], ..AcceptOptions::default() };
/// let mut start = ServerStart::new(&options);
/// let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let decide = |request: &Request<'_, '_>, _: &mut Answer| match request.path() {
///     "/chat" => Ok(()),
///     _ => Err(Rejection::new(404)),
/// };
/// let mut session = start.receive(request, decide)?.expect("the head is complete");
/// assert_eq!(session.protocol(), Some("chat"));
/// assert!(session.poll_output().starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// # Ok::<(), wsmachine::UpgradeError>(())
/// ```
#[derive(Debug)]
pub struct ServerStart<'o> {
    options: &'o AcceptOptions,
    machine: ServerHandshake<HeadBuffer>,
    /// The answer to a failed handshake.
    response: Vec<u8>,
    done: bool,
}

impl<'o> ServerStart<'o> {
    /// A handshake waiting for the request, answering by `options`.
    pub fn new(options: &'o AcceptOptions) -> Self {
        ServerStart {
            options,
            machine: ServerHandshake::with_storage(options.handshake, HeadBuffer::new()),
            response: Vec::new(),
            done: false,
        }
    }

    /// Feeds bytes read from the transport. `Ok(None)`: read more.
    ///
    /// Once the head is complete, `decide` sees the request (path, `Host`,
    /// `Origin`, offered subprotocols, every header) and the [`Answer`]
    /// prepared from the options; it may change the answer, or refuse with
    /// a [`Rejection`]. Then permessage-deflate is negotiated (when the
    /// options enable it) and the result is a [`Session`] whose output
    /// starts with the `101` answer and whose input holds the bytes that
    /// followed the head.
    ///
    /// # Errors
    ///
    /// An [`UpgradeError`] whose answer is in [`response`](Self::response):
    /// write it, then shut down the write side and close.
    pub fn receive<F>(&mut self, input: &[u8], decide: F) -> Result<Option<Session>, UpgradeError>
    where
        F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
    {
        self.receive_inner(input, decide, None::<fn(&PlainRequest<'_, '_>) -> PlainResponse>)
    }

    /// As [`receive`](Self::receive), and a [`PlainRequest`] (a `GET`
    /// without any WebSocket header: a browser opening the address as a
    /// page) goes to `serve`, whose [`PlainResponse`] becomes the answer
    /// in [`response`](Self::response), with the error
    /// [`UpgradeError::Served`]: write it, then shut down the write side
    /// and close, as after any other error.
    ///
    /// ```
    /// use wsmachine::{AcceptOptions, PlainRequest, PlainResponse, ServerStart, UpgradeError};
    ///
    /// let options = AcceptOptions::default();
    /// let mut start = ServerStart::new(&options);
    /// let page = |_: &PlainRequest| PlainResponse::new(200).header("Content-Type", "text/plain").body("hello\n");
    /// let result = start.receive(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", |_, _| Ok(()));
    /// assert_eq!(result.err(), Some(UpgradeError::Request(wsmachine::HandshakeError::MissingHeader("Upgrade"))));
    ///
    /// let mut start = ServerStart::new(&options);
    /// let result = start.receive_or_serve(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", |_, _| Ok(()), page);
    /// assert_eq!(result.err(), Some(UpgradeError::Served(200)));
    /// assert!(start.response().starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"));
    /// assert!(start.response().ends_with(b"Connection: close\r\n\r\nhello\n"));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`receive`](Self::receive), and [`UpgradeError::Served`] once a
    /// plain request was answered.
    pub fn receive_or_serve<F, G>(&mut self, input: &[u8], decide: F, serve: G) -> Result<Option<Session>, UpgradeError>
    where
        F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
        G: FnOnce(&PlainRequest<'_, '_>) -> PlainResponse,
    {
        self.receive_inner(input, decide, Some(serve))
    }

    fn receive_inner<F, G>(
        &mut self,
        input: &[u8],
        decide: F,
        serve: Option<G>,
    ) -> Result<Option<Session>, UpgradeError>
    where
        F: FnOnce(&Request<'_, '_>, &mut Answer) -> Result<(), Rejection>,
        G: FnOnce(&PlainRequest<'_, '_>) -> PlainResponse,
    {
        if self.done {
            return Err(UpgradeError::Done);
        }
        let options = self.options;
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let (status, leftover) = match feed_request(&mut self.machine, input, &mut headers) {
            Ok(fed) => fed,
            Err(e) => {
                self.done = true;
                if let (HandshakeError::MissingHeader("Upgrade"), Some(serve)) = (e, serve) {
                    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
                    if let Some((target, path, headers)) = parse_plain_request(self.machine.head(), &mut headers) {
                        return Err(answer_plain(&mut self.response, &serve(&PlainRequest { target, path, headers })));
                    }
                }
                return Err(refuse(&mut self.response, e));
            }
        };
        let Status::Complete(request) = status else { return Ok(None) };
        self.done = true;
        let mut answer = Answer::prepared(options, |p| request.protocols().any(|offer| offer == p));
        if let Err(rejection) = decide(&request, &mut answer) {
            let headers: Vec<(&str, &str)> = rejection.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let reject = Reject { status: rejection.status, extra_headers: &headers, body: &rejection.body };
            self.response.clear();
            return match reject.write(&mut self.response) {
                Ok(_) => Err(UpgradeError::Rejected(rejection.status)),
                Err(e) => Err(internal_error(&mut self.response, e)),
            };
        }
        let extensions = ServerExtensions::negotiate(options, request.extensions());
        let headers: Vec<(&str, &str)> = answer.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let accept =
            Accept { protocol: answer.protocol.as_deref(), extensions: extensions.answer(), extra_headers: &headers };
        let mut session = extensions.session(options.config);
        if let Err(e) = request.accept(&accept, &mut session.out) {
            return Err(internal_error(&mut self.response, e));
        }
        session.protocol = answer.protocol;
        session.receive(leftover);
        Ok(Some(session))
    }

    /// The handshake timeout passed before the head was complete: writes
    /// the 408 answer into [`response`](Self::response) and returns the
    /// error ([`HandshakeError::Timeout`]).
    pub fn timeout(&mut self) -> UpgradeError {
        self.done = true;
        refuse(&mut self.response, HandshakeError::Timeout)
    }

    /// The answer to write after an error: the error's status, the
    /// application's rejection, or 500. Empty before an error.
    pub fn response(&self) -> &[u8] {
        &self.response
    }
}

impl Answer {
    /// The answer `options` prepare for a request: the first of
    /// [`AcceptOptions::protocols`] that `offered` says the client
    /// offered, and [`AcceptOptions::headers`].
    pub(super) fn prepared(options: &AcceptOptions, offered: impl Fn(&str) -> bool) -> Answer {
        Answer { protocol: options.protocols.iter().find(|p| offered(p)).cloned(), headers: options.headers.clone() }
    }
}

/// What a server's options make of the extensions a request offers: the
/// `Sec-WebSocket-Extensions` answer, then the session that runs them.
/// Every server handshake shares it (HTTP/1.1 read from a socket or
/// through the `http` crate, extended CONNECT).
pub(super) struct ServerExtensions {
    #[cfg(feature = "deflate")]
    deflate: Option<(DeflateConfig, crate::ext::deflate::DeflateParams)>,
    answer: Option<String>,
}

impl ServerExtensions {
    /// Accepts what `options` allow of the `offered` extensions.
    pub(super) fn negotiate<'b>(options: &AcceptOptions, offered: impl IntoIterator<Item = Extension<'b>>) -> Self {
        #[cfg(feature = "deflate")]
        {
            let deflate = options.deflate.and_then(|config| Some((config, config.accept(offered)?)));
            let answer = deflate.map(|(_, params)| params.answer());
            ServerExtensions { deflate, answer }
        }
        #[cfg(not(feature = "deflate"))]
        {
            let _ = (options, offered);
            ServerExtensions { answer: None }
        }
    }

    /// The `Sec-WebSocket-Extensions` value to answer with, if any.
    pub(super) fn answer(&self) -> Option<&str> {
        self.answer.as_deref()
    }

    /// The server session running the accepted extensions.
    pub(super) fn session(&self, config: Config) -> Session {
        #[cfg(feature = "deflate")]
        if let Some((deflate, params)) = self.deflate {
            return Session::with_deflate(
                Connection::server(Deflate::connection_config(config)),
                Deflate::new(crate::conn::Role::Server, params, &deflate),
            );
        }
        Session::new(Connection::server(config))
    }
}

/// Writes the answer to a bad request.
fn refuse(response: &mut Vec<u8>, e: HandshakeError) -> UpgradeError {
    response.clear();
    let _ = e.write_response(response);
    UpgradeError::Request(e)
}

/// Writes the application's answer to a plain request (500 if it cannot
/// be written as given).
fn answer_plain(response: &mut Vec<u8>, plain: &PlainResponse) -> UpgradeError {
    if !(200..=599).contains(&plain.status) {
        return internal_error(response, UsageError::InvalidStatus);
    }
    let headers: Vec<(&str, &str)> = plain.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    response.clear();
    match write_closing_answer(plain.status, &headers, &plain.body, response) {
        Ok(_) => UpgradeError::Served(plain.status),
        Err(e) => internal_error(response, e),
    }
}

/// The server's own mistake (an answer that cannot be written): 500.
fn internal_error(response: &mut Vec<u8>, e: UsageError) -> UpgradeError {
    response.clear();
    let _ = Reject { status: 500, extra_headers: &[], body: b"" }.write(response);
    UpgradeError::Usage(e)
}

/// What a client's request is made of, borrowed from [`ConnectOptions`]
/// in the shape the handshake machine borrows: build it, then start the
/// handshake from it with [`ClientStart::new`].
#[derive(Debug, Clone)]
pub struct RequestParts<'o> {
    options: &'o ConnectOptions,
    protocols: Vec<&'o str>,
    headers: Vec<(&'o str, &'o str)>,
    /// The `Sec-WebSocket-Extensions` offer.
    extensions: Option<String>,
}

impl<'o> RequestParts<'o> {
    /// The parts of a request made by `options`.
    pub fn new(options: &'o ConnectOptions) -> Self {
        #[cfg(feature = "deflate")]
        let extensions = options.deflate.map(|config| config.offer());
        #[cfg(not(feature = "deflate"))]
        let extensions = None;
        RequestParts {
            options,
            protocols: options.protocols.iter().map(String::as_str).collect(),
            headers: options.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            extensions,
        }
    }
}

/// The client's half of the opening handshake, sans-IO: it writes the
/// request for a `ws://` or `wss://` URL, then is fed the server's answer
/// and gives back a [`Session`] holding the bytes that followed the head.
///
/// ```
/// use wsmachine::{AcceptOptions, ClientStart, ConnectOptions, RequestParts, SecureRandom, ServerStart};
///
/// let options = ConnectOptions::default();
/// let parts = RequestParts::new(&options);
/// let mut client = ClientStart::new("ws://example.com/feed", &parts, SecureRandom::from_seed([5; 32]))?;
/// assert_eq!((client.host(), client.port()), ("example.com", 80));
///
/// // The server, normally across a network.
/// let server_options = AcceptOptions::default();
/// let mut server = ServerStart::new(&server_options);
/// let mut server_session = server.receive(client.request(), |_, _| Ok(()))?.expect("complete");
/// let answer = server_session.poll_output().to_vec();
///
/// let client_session = client.receive(&answer)?.expect("complete");
/// assert_eq!(client_session.protocol(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ClientStart<'p, R: RandomSource = SecureRandom> {
    machine: ClientHandshake<'p, HeadBuffer>,
    config: Config,
    #[cfg(feature = "deflate")]
    deflate: Option<DeflateConfig>,
    /// The mask source, handed to the connection at the end.
    rng: Option<R>,
    request: Vec<u8>,
    /// The server's refusal, once its head arrived: `refused` is the error
    /// to report, `body_left` how many more bytes of its body to keep
    /// before reporting it.
    refusal: Option<Refusal>,
    refused: Option<ResponseError>,
    body_left: usize,
    /// The most of a refusal's body kept: the head's limit.
    max_body: usize,
}

impl<'p, R: RandomSource> ClientStart<'p, R> {
    /// Prepares the request for `url` with `parts`; `rng` draws the key
    /// nonce and then the connection's masking keys, and MUST be
    /// unpredictable ([`SecureRandom`]).
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Usage`] for an invalid URL, subprotocol or header.
    pub fn new(url: &'p str, parts: &'p RequestParts<'_>, mut rng: R) -> Result<Self, UpgradeError> {
        let options = ClientOptions {
            protocols: &parts.protocols,
            extensions: parts.extensions.as_deref(),
            origin: parts.options.origin.as_deref(),
            extra_headers: &parts.headers,
        };
        let machine = ClientHandshake::with_storage(url, options, parts.options.handshake, HeadBuffer::new(), &mut rng)
            .map_err(UpgradeError::Usage)?;
        let mut request = Vec::new();
        machine.write_request(&mut request).map_err(|e| UpgradeError::Usage(e.into()))?;
        Ok(ClientStart {
            machine,
            config: parts.options.config,
            #[cfg(feature = "deflate")]
            deflate: parts.options.deflate,
            rng: Some(rng),
            request,
            refusal: None,
            refused: None,
            body_left: 0,
            max_body: parts.options.handshake.max_head_len,
        })
    }

    /// The request to write to the transport.
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// The host to connect to (without the brackets of an IPv6 literal).
    pub fn host(&self) -> &'p str {
        self.machine.host()
    }

    /// The port to connect to: the URL's, or 80 for `ws` and 443 for `wss`.
    pub fn port(&self) -> u16 {
        self.machine.port()
    }

    /// Whether the URL is `wss://`: the transport must be TLS.
    pub fn is_secure(&self) -> bool {
        self.machine.is_secure()
    }

    /// Feeds bytes of the server's answer. `Ok(None)`: read more.
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Response`] when the answer is not a valid
    /// acceptance of this request, `UpgradeError::Deflate` (feature `deflate`) when its
    /// permessage-deflate parameters do not fit the offer. The connection
    /// MUST then be closed (RFC 6455 §4.1); nothing is sent.
    ///
    /// A status other than 101 is reported as
    /// [`ResponseError::UnexpectedStatus`] once its body has arrived, or
    /// as much of it as is kept (the head's limit): its `Content-Length`,
    /// or without one the bytes up to the end of the transport, which
    /// [`ended`](Self::ended) then reports (see [`Refusal`]).
    /// [`take_refusal`](Self::take_refusal) gives the status, headers and
    /// body.
    pub fn receive(&mut self, input: &[u8]) -> Result<Option<Session<R>>, UpgradeError> {
        if self.refused.is_some() {
            return self.keep_body(input);
        }
        if self.rng.is_none() {
            return Err(UpgradeError::Done);
        }
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let (status, leftover) = match feed_response(&mut self.machine, input, &mut headers) {
            Ok(received) => received,
            Err(e @ ResponseError::UnexpectedStatus { status, consumed, .. }) => {
                let refusal = Refusal::from_head(status, &headers);
                let body = input.get(consumed..).unwrap_or(&[]);
                self.body_left = match refusal.framing() {
                    Framing::Empty => 0,
                    Framing::Length(length) => length,
                    Framing::AsSent => body.len(),
                    Framing::UntilEnd => usize::MAX,
                }
                .min(self.max_body);
                self.refusal = Some(refusal);
                self.refused = Some(e);
                self.rng = None;
                return self.keep_body(body);
            }
            Err(e) => return Err(UpgradeError::Response(e)),
        };
        let Status::Complete(response) = status else { return Ok(None) };
        let Some(rng) = self.rng.take() else { return Err(UpgradeError::Done) };
        #[cfg(feature = "deflate")]
        let mut session = match self.deflate {
            Some(config) => match config.check_response(response.extensions()).map_err(UpgradeError::Deflate)? {
                Some(params) => Session::with_deflate(
                    Connection::client(Deflate::connection_config(self.config), rng),
                    Deflate::new(crate::conn::Role::Client, params, &config),
                ),
                None => Session::new(Connection::client(self.config, rng)),
            },
            None => Session::new(Connection::client(self.config, rng)),
        };
        #[cfg(not(feature = "deflate"))]
        let mut session = Session::new(Connection::client(self.config, rng));
        session.protocol = response.protocol().map(String::from);
        session.receive(leftover);
        Ok(Some(session))
    }

    /// Keeps bytes of a refusal's body; reports the refusal once the body
    /// it waits for is whole.
    fn keep_body(&mut self, input: &[u8]) -> Result<Option<Session<R>>, UpgradeError> {
        let taken = input.get(..self.body_left).unwrap_or(input);
        if let Some(refusal) = &mut self.refusal {
            refusal.body.extend_from_slice(taken);
        }
        self.body_left -= taken.len();
        match self.refused {
            Some(e) if self.body_left == 0 => Err(UpgradeError::Response(e)),
            Some(_) => Ok(None),
            None => Err(UpgradeError::Done),
        }
    }

    /// The server's refusal (a status other than 101), its headers and
    /// body, once [`receive`](Self::receive), [`ended`](Self::ended) or
    /// [`timeout`](Self::timeout) has reported it. Taken once.
    pub fn take_refusal(&mut self) -> Option<Refusal> {
        if self.refused.is_some() && self.body_left == 0 {
            self.refusal.take()
        } else {
            None
        }
    }

    /// The transport ended before the answer was complete:
    /// [`UpgradeError::Incomplete`], or the refusal whose body it cut short.
    pub fn ended(&mut self) -> UpgradeError {
        self.stop(UpgradeError::Incomplete)
    }

    /// The handshake timeout passed before the answer was complete: the
    /// timeout, or the refusal whose body was still arriving.
    pub fn timeout(&mut self) -> UpgradeError {
        self.stop(UpgradeError::Response(ResponseError::Head(HandshakeError::Timeout)))
    }

    /// Stops reading the answer: the refusal whose body was arriving is
    /// reported with what came, else `otherwise`.
    fn stop(&mut self, otherwise: UpgradeError) -> UpgradeError {
        self.rng = None;
        self.body_left = 0;
        self.refused.map_or(otherwise, UpgradeError::Response)
    }
}
