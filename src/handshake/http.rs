//! Interop with the `http` crate (feature `http`): for servers and
//! clients built on hyper, axum or another HTTP library that already holds
//! an `http::Request` or `http::Response` when the upgrade happens.
//!
//! # Server
//!
//! The HTTP library parsed the request; [`UpgradeRequest::parse`] validates
//! it as a WebSocket upgrade with exactly the rules of
//! [`ServerHandshake`](super::ServerHandshake) (RFC 6455 §4.2.1 and the
//! strictness listed in [the module docs](super#strictness)), then
//! [`UpgradeRequest::accept`] builds the `101 Switching Protocols`
//! `http::Response<()>` (headers only) for the library to send. A refusal is
//! [`reject_response`]: the error's status with its headers (426 with
//! `Sec-WebSocket-Version: 13`, 405 with `Allow: GET`).
//!
//! Once the library hands over the upgraded stream (hyper:
//! `hyper::upgrade::on(request)`), run a server [`Connection`](crate::Connection)
//! on it. Bytes the library read past the request head belong to the
//! WebSocket stream and MUST reach the connection first. hyper's
//! `Upgraded` returns them before the socket's own bytes, so reading from
//! it is enough; only a stream taken out of it (`Upgraded::downcast`,
//! which fails when the server wraps its sockets, as axum and hyper-util's
//! `auto` builder do) needs its `Parts::read_buf` fed first.
//!
//! [`accept_http`](crate::accept_http) does all of this with
//! [`AcceptOptions`](crate::AcceptOptions) (subprotocols, extra headers,
//! permessage-deflate, limits and timers) and gives the
//! [`Session`](crate::Session) to run; wsmachine-tokio's `hyper` module
//! wraps it for hyper and axum servers. The items below are the steps it
//! takes, for a server that needs them one by one.
//!
//! The HTTP library has already bounded the head's size and header count, so
//! [`HandshakeConfig`](super::HandshakeConfig) limits do not apply here.
//! HTTP/2 and HTTP/3 requests are [`HandshakeError::UnsupportedHttpVersion`]:
//! validate those extended CONNECTs with [`ExtendedConnect`](super::ExtendedConnect).
//!
//! ```
//! use wsmachine::handshake::http::{reject_response, UpgradeRequest};
//! use wsmachine::handshake::Accept;
//! use wsmachine::{Config, Connection, Event};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // What the HTTP library hands the route handler.
//! let request = http::Request::get("/chat?room=1")
//!     .header("host", "example.com")
//!     .header("upgrade", "websocket")
//!     .header("connection", "Upgrade")
//!     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("sec-websocket-version", "13")
//!     .header("sec-websocket-protocol", "chat, superchat")
//!     .header("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
//!     .body(())?;
//!
//! let response = match UpgradeRequest::parse(&request) {
//!     Ok(upgrade) => {
//!         assert_eq!(upgrade.split_path(), ("/chat", Some("room=1")));
//!         let protocol = upgrade.protocols().find(|p| *p == "chat");
//!         // permessage-deflate is declined by not answering it.
//!         upgrade.accept(&Accept { protocol, ..Accept::default() })?
//!     }
//!     Err(e) => reject_response(&e), // e.g. 426 with Sec-WebSocket-Version: 13
//! };
//! assert_eq!(response.status(), 101);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
//!
//! // After the library upgraded the stream: feed the bytes it read past the
//! // head first (here, a masked "Hi" the client sent eagerly), then each read.
//! let mut leftover = vec![0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
//! let mut conn = Connection::server(Config::default());
//! let received = conn.receive(&mut leftover)?;
//! assert!(matches!(received.event, Some(Event::Text { data: b"Hi", fin: true, .. })));
//! # Ok(()) }
//! ```
//!
//! # Client
//!
//! [`ClientUpgrade::new`] turns a `GET` `http::Request` (URI `ws://`,
//! `wss://`, `http://` or `https://`, or a path with a `Host` header) into
//! an upgrade request: it adds `Upgrade`, `Connection`, a fresh random
//! `Sec-WebSocket-Key` and `Sec-WebSocket-Version`, and `Host` if missing,
//! keeping the caller's other headers (`Origin`, `Authorization`, offered
//! `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions`…). Send it with
//! the HTTP library (or write its head with [`write_request_head`] to a
//! plain stream), then check the answer with [`ClientUpgrade::check_response`].
//!
//! ```
//! use wsmachine::handshake::http::ClientUpgrade;
//! use wsmachine::SecureRandom;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = SecureRandom::from_seed([3; 32]); // SecureRandom::from_os()? in real code
//! let mut request = http::Request::get("ws://example.com:9001/feed")
//!     .header("sec-websocket-protocol", "v2, v1")
//!     .header("authorization", "Bearer abc")
//!     .body(())?;
//! let upgrade = ClientUpgrade::new(&mut request, &mut rng)?;
//! assert_eq!(request.headers()["host"], "example.com:9001");
//! assert_eq!(request.headers()["sec-websocket-key"], upgrade.key());
//!
//! // The server's answer, as the HTTP library returns it.
//! let response = http::Response::builder()
//!     .status(101)
//!     .header("upgrade", "websocket")
//!     .header("connection", "Upgrade")
//!     .header("sec-websocket-accept", upgrade.expected_accept().as_str())
//!     .header("sec-websocket-protocol", "v1")
//!     .body(())?;
//! assert_eq!(upgrade.check_response(&response)?, Some("v1"));
//! # Ok(()) }
//! ```

use std::string::{String, ToString};
use std::vec::Vec;

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::{Method, Request, Response, StatusCode, Version};

use crate::output::BufferTooSmall;
use crate::{Output, RandomSource};

use super::accept::{accept_key, AcceptKey};
use super::client::{ClientHandshake, ClientOptions};
use super::error::{HandshakeError, ResponseError, UrlError, UsageError};
use super::ext::{is_extension_list, Extension, Extensions};
use super::head::{has_token, is_token_list, list_items, single, values, Header};
use super::server::{parse_request, Accept};
use super::write::{put_decimal, put_header, write_with, Sink};

/// The version as it appears on an HTTP/1 request line.
fn version_str(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Puts a header map as `name: value` lines.
fn put_headers(w: &mut dyn Sink, headers: &HeaderMap) {
    for (name, value) in headers {
        put_header(w, name.as_str(), value.as_bytes());
    }
}

/// The header lines of a map, borrowed, for the shared list helpers.
fn header_lines(headers: &HeaderMap) -> Vec<Header<'_>> {
    headers.iter().map(|(name, value)| Header { name: name.as_str(), value: value.as_bytes() }).collect()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A WebSocket upgrade request received through the `http` crate, validated
/// as [`ServerHandshake`](super::ServerHandshake) validates one read from
/// the wire. Borrows the `http::Request`.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeRequest<'a> {
    headers: &'a HeaderMap,
    path: &'a str,
    host: &'a str,
    key: &'a str,
}

impl<'a> UpgradeRequest<'a> {
    /// Validates `request` as a WebSocket upgrade (RFC 6455 §4.2.1), with
    /// the same rules and errors as [`ServerHandshake::receive`](super::ServerHandshake::receive): an error
    /// carries the status to answer ([`reject_response`] builds that answer).
    /// The body is not looked at; a request announcing one
    /// (`Transfer-Encoding`, non-zero `Content-Length`) is refused.
    pub fn parse<B>(request: &'a Request<B>) -> Result<Self, HandshakeError> {
        // Re-encode the head and run the wire parser over it, so both paths
        // share every rule. `http` types cannot hold CR, LF or NUL in a
        // method, URI, name or value, so the encoding is faithful.
        let target = request.uri().to_string();
        let emit = |w: &mut dyn Sink| {
            w.put(request.method().as_str().as_bytes());
            w.put(b" ");
            w.put(target.as_bytes());
            w.put(b" ");
            w.put(version_str(request.version()).as_bytes());
            w.put(b"\r\n");
            put_headers(w, request.headers());
            w.put(b"\r\n");
        };
        let mut head = Vec::new();
        write_with(&mut head, emit).map_err(|_| HandshakeError::HeadTooLarge)?;
        // The HTTP library already bounded the head and the header count.
        let mut lines = std::vec![Header::EMPTY; request.headers().len() + 1];
        parse_request(&head, &mut lines)?;
        let headers = request.headers();
        let uri = request.uri();
        let path = match uri.path_and_query() {
            Some(p) if !p.as_str().is_empty() => p.as_str(),
            _ => "/",
        };
        // RFC 9112 §3.2.2: an absolute-form target's authority is the host.
        let host = match uri.authority() {
            Some(authority) => authority.as_str(),
            None => header_str(headers, "host").ok_or(HandshakeError::InvalidHeaderValue("Host"))?,
        };
        let key = header_str(headers, "sec-websocket-key").ok_or(HandshakeError::InvalidKey)?.trim();
        Ok(UpgradeRequest { headers, path, host, key })
    }

    /// The path with its query (`/chat?room=1`).
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The path and the query (without `?`), split.
    pub fn split_path(&self) -> (&'a str, Option<&'a str>) {
        match self.path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (self.path, None),
        }
    }

    /// The server's authority as the client named it: the `Host` header, or
    /// the authority of an absolute-form target.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The `Origin` header, sent by every browser. A server that does not
    /// check it accepts connections from scripts on any site (RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&'a str> {
        header_str(self.headers, "origin").map(str::trim)
    }

    /// The `Sec-WebSocket-Key` value.
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value for this request's key.
    pub fn accept_key(&self) -> AcceptKey {
        accept_key(self.key.as_bytes())
    }

    /// The offered subprotocols, in the client's order of preference,
    /// across every `Sec-WebSocket-Protocol` header.
    pub fn protocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .flat_map(|v| list_items(v.as_bytes()))
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// The offered extensions with their parameters, across every
    /// `Sec-WebSocket-Extensions` header.
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'a>> + 'a {
        self.headers
            .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(Extensions::parse)
            .flatten()
    }

    /// The request's headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The `101 Switching Protocols` answer, headers only: `upgrade:
    /// websocket`, `connection: Upgrade`, `sec-websocket-accept`, the chosen
    /// subprotocol and extensions, then the extra headers. Checked as
    /// [`Request::accept`](super::Request::accept) checks them.
    pub fn accept(&self, accept: &Accept<'_>) -> Result<Response<()>, UsageError> {
        accept.check(self.protocols(), || self.extensions())?;
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value(self.accept_key().as_str())?);
        if let Some(p) = accept.protocol {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value(p)?);
        }
        if let Some(e) = accept.extensions {
            headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value(e)?);
        }
        for (name, v) in accept.extra_headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| UsageError::InvalidHeaderName)?;
            headers.append(name, value(v)?);
        }
        Ok(response)
    }
}

fn value(v: &str) -> Result<HeaderValue, UsageError> {
    HeaderValue::from_bytes(v.as_bytes()).map_err(|_| UsageError::InvalidHeaderValue)
}

/// An HTTP/2 or HTTP/3 request's header list, pseudo-headers first, as
/// [`ExtendedConnect::parse`](super::ExtendedConnect::parse) and
/// `accept_extended_connect` read it: `:method`, then `:protocol` when
/// the HTTP library gave one (hyper and h2 keep it in a request
/// extension: pass its `as_str()`), `:scheme`, `:path` and `:authority`
/// from the URI, then every header. The values are borrowed from the
/// request.
///
/// ```
/// use wsmachine::handshake::http::extended_connect_fields;
/// use wsmachine::handshake::ExtendedConnect;
///
/// let request = http::Request::builder()
///     .method("CONNECT")
///     .uri("https://example.com/chat")
///     .header("sec-websocket-version", "13")
///     .body(())?;
/// let fields = extended_connect_fields(&request, Some("websocket"))?;
/// assert_eq!(fields[..2], [(":method", "CONNECT"), (":protocol", "websocket")]);
/// assert_eq!(ExtendedConnect::parse(&fields)?.path(), "/chat");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ExtendedConnectError::InvalidHeaderValue`](super::ExtendedConnectError::InvalidHeaderValue)
/// when a header value is not visible ASCII (the request cannot be a valid
/// extended CONNECT; answer its status, 400).
pub fn extended_connect_fields<'a, B>(
    request: &'a Request<B>,
    protocol: Option<&'a str>,
) -> Result<Vec<(&'a str, &'a str)>, super::ExtendedConnectError> {
    let uri = request.uri();
    let mut fields = Vec::with_capacity(5 + request.headers().len());
    fields.push((":method", request.method().as_str()));
    if let Some(protocol) = protocol {
        fields.push((":protocol", protocol));
    }
    if let Some(scheme) = uri.scheme_str() {
        fields.push((":scheme", scheme));
    }
    if let Some(path) = uri.path_and_query() {
        fields.push((":path", path.as_str()));
    }
    if let Some(authority) = uri.authority() {
        fields.push((":authority", authority.as_str()));
    }
    for (name, value) in request.headers() {
        let value = value.to_str().map_err(|_| super::ExtendedConnectError::InvalidHeaderValue("field"))?;
        fields.push((name.as_str(), value));
    }
    Ok(fields)
}

/// The answer to a refused upgrade, headers only, as
/// [`HandshakeError::write_response`] writes it: the error's status,
/// `sec-websocket-version: 13` and `upgrade: websocket` for 426, `allow: GET`
/// for 405, and `connection: close` (with `Upgrade` for 426). The body is
/// yours to add: [`HandshakeError::write_body`] writes the text
/// `write_response` sends (`wsmachine::accept_http` adds it).
///
/// ```
/// use wsmachine::handshake::http::{reject_response, UpgradeRequest};
/// let request = http::Request::get("/")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "8")
///     .body(())
///     .unwrap();
/// let error = UpgradeRequest::parse(&request).unwrap_err();
/// let answer = reject_response(&error);
/// assert_eq!(answer.status(), 426);
/// assert_eq!(answer.headers()["sec-websocket-version"], "13");
/// ```
pub fn reject_response(error: &HandshakeError) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    match error.status() {
        426 => {
            headers.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade, close"));
        }
        405 => {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// Why [`ClientUpgrade::new`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientRequestError {
    /// The method is not `GET` (RFC 6455 §4.1 item 2).
    NotGet,
    /// The version is not HTTP/1.1; over HTTP/2 and HTTP/3 a WebSocket
    /// starts with an extended CONNECT instead.
    UnsupportedVersion,
    /// The URI, an offered subprotocol or the extension offer is invalid.
    Usage(UsageError),
}

impl From<UsageError> for ClientRequestError {
    fn from(e: UsageError) -> Self {
        ClientRequestError::Usage(e)
    }
}

impl core::fmt::Display for ClientRequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientRequestError::NotGet => f.write_str("a WebSocket upgrade request must be a GET"),
            ClientRequestError::UnsupportedVersion => f.write_str("a WebSocket upgrade request must be HTTP/1.1"),
            ClientRequestError::Usage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ClientRequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientRequestError::Usage(e) => Some(e),
            _ => None,
        }
    }
}

/// The client side of an upgrade made through the `http` crate: what was
/// offered, and the `Sec-WebSocket-Accept` the answer must carry.
#[derive(Debug, Clone)]
pub struct ClientUpgrade {
    key: String,
    accept: AcceptKey,
    protocols: Vec<String>,
    extensions: Option<String>,
}

impl ClientUpgrade {
    /// Turns `request` into a WebSocket upgrade request (RFC 6455 §4.1):
    /// sets `upgrade: websocket`, `connection: Upgrade`,
    /// `sec-websocket-version: 13` and a fresh `sec-websocket-key` drawn from
    /// `rng`, and `host` from the URI if the request has none. Other headers
    /// stay; offered subprotocols (`sec-websocket-protocol`) and extensions
    /// (`sec-websocket-extensions`) are checked and remembered for
    /// [`check_response`](Self::check_response).
    ///
    /// The URI is `ws://`, `wss://`, `http://` or `https://` (HTTP client
    /// libraries connect by the latter two), or a path when the request
    /// carries a `host` header; it is checked as [`ClientHandshake::new`]
    /// checks a URL (no userinfo, no fragment, a valid host and port).
    pub fn new<B, R: RandomSource + ?Sized>(request: &mut Request<B>, rng: &mut R) -> Result<Self, ClientRequestError> {
        if request.method() != Method::GET {
            return Err(ClientRequestError::NotGet);
        }
        if request.version() != Version::HTTP_11 {
            return Err(ClientRequestError::UnsupportedVersion);
        }
        let uri = request.uri();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("ws") => "ws",
            Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("wss") => "wss",
            Some(_) => return Err(UsageError::InvalidUrl(UrlError::UnsupportedScheme).into()),
            None => "ws",
        };
        let authority = match uri.authority() {
            Some(a) => a.as_str(),
            None => header_str(request.headers(), "host").ok_or(UsageError::InvalidUrl(UrlError::EmptyHost))?,
        };
        let url = std::format!("{scheme}://{authority}{path}");

        let mut protocols = Vec::new();
        for v in request.headers().get_all(header::SEC_WEBSOCKET_PROTOCOL) {
            if !is_token_list(v.as_bytes()) {
                return Err(UsageError::InvalidProtocol.into());
            }
            for p in list_items(v.as_bytes()) {
                protocols.push(String::from_utf8_lossy(p).into_owned());
            }
        }
        let mut extensions: Option<String> = None;
        for v in request.headers().get_all(header::SEC_WEBSOCKET_EXTENSIONS) {
            let v = v.to_str().map_err(|_| UsageError::InvalidExtensions)?;
            extensions = Some(match extensions {
                Some(before) => std::format!("{before}, {v}"),
                None => v.to_string(),
            });
        }
        let offered: Vec<&str> = protocols.iter().map(String::as_str).collect();
        let options =
            ClientOptions { protocols: &offered, extensions: extensions.as_deref(), ..ClientOptions::default() };
        let machine = ClientHandshake::new(&url, options, rng)?;
        let key = machine.key().to_string();
        let accept = *machine.expected_accept();
        let host = (!request.headers().contains_key(header::HOST)).then(|| value(authority)).transpose()?;
        drop(offered);

        let headers = request.headers_mut();
        if let Some(host) = host {
            headers.insert(header::HOST, host);
        }
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::SEC_WEBSOCKET_KEY, value(&key)?);
        headers.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        Ok(ClientUpgrade { key, accept, protocols, extensions })
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` value the server must answer with.
    pub fn expected_accept(&self) -> &AcceptKey {
        &self.accept
    }

    /// Validates the server's answer as
    /// [`ClientHandshake::receive`](super::ClientHandshake::receive) does:
    /// status 101, `websocket` in `Upgrade`, `Upgrade` in `Connection`,
    /// exactly one matching `Sec-WebSocket-Accept`, at most one subprotocol
    /// (an offered one) and only offered extensions. Returns the chosen
    /// subprotocol. Another status is [`ResponseError::UnexpectedStatus`]
    /// with `head_len` and `consumed` 0 (the body is the `http::Response`'s own).
    pub fn check_response<'r, B>(&self, response: &'r Response<B>) -> Result<Option<&'r str>, ResponseError> {
        use ResponseError as E;
        let status = response.status().as_u16();
        if status != 101 {
            return Err(E::UnexpectedStatus { status, head_len: 0, consumed: 0 });
        }
        let lines = header_lines(response.headers());
        if !has_token(&lines, "Upgrade", "websocket") {
            return Err(E::UpgradeNotWebSocket);
        }
        if !has_token(&lines, "Connection", "Upgrade") {
            return Err(E::ConnectionNotUpgrade);
        }
        let accept = single(&lines, "Sec-WebSocket-Accept").map_err(E::DuplicateHeader)?;
        if !self.accept.matches(accept.ok_or(E::MissingAccept)?) {
            return Err(E::AcceptMismatch);
        }
        let protocol = match single(&lines, "Sec-WebSocket-Protocol") {
            Err(_) => return Err(E::MultipleProtocols),
            Ok(None) => None,
            Ok(Some(p)) if p.contains(&b',') => return Err(E::MultipleProtocols),
            Ok(Some(p)) => {
                let p = core::str::from_utf8(p).map_err(|_| E::ProtocolNotOffered)?;
                if !self.protocols.iter().any(|offered| offered == p) {
                    return Err(E::ProtocolNotOffered);
                }
                // Borrow from the response, not from `lines`.
                header_str(response.headers(), "sec-websocket-protocol").map(str::trim)
            }
        };
        if !values(&lines, "Sec-WebSocket-Extensions").all(is_extension_list) {
            return Err(E::InvalidExtensions);
        }
        for v in values(&lines, "Sec-WebSocket-Extensions") {
            let answered = core::str::from_utf8(v).ok().and_then(Extensions::parse).ok_or(E::InvalidExtensions)?;
            for ext in answered {
                let offer = self.extensions.as_deref().and_then(Extensions::parse);
                if !offer.is_some_and(|mut o| o.any(|x| x.name().eq_ignore_ascii_case(ext.name()))) {
                    return Err(E::ExtensionNotOffered);
                }
            }
        }
        Ok(protocol)
    }
}

/// Writes the head of `request` as HTTP/1.1 (origin-form target, headers in
/// map order, blank line) into `out`, for a client that sends the upgrade
/// request over a plain stream itself. Returns the bytes written; on error
/// nothing was written. The body is not written.
///
/// ```
/// use wsmachine::handshake::http::{write_request_head, ClientUpgrade};
/// let mut request = http::Request::get("ws://127.0.0.1:9001/echo").body(())?;
/// ClientUpgrade::new(&mut request, &mut wsmachine::SecureRandom::from_seed([5; 32]))?;
/// let mut head = Vec::new();
/// write_request_head(&request, &mut head)?;
/// assert!(head.starts_with(b"GET /echo HTTP/1.1\r\nhost: 127.0.0.1:9001\r\nupgrade: websocket\r\n"));
/// assert!(head.ends_with(b"\r\n\r\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_request_head<B, O: Output + ?Sized>(request: &Request<B>, out: &mut O) -> Result<usize, BufferTooSmall> {
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    write_with(out, |w| {
        w.put(request.method().as_str().as_bytes());
        w.put(b" ");
        w.put(target.as_bytes());
        w.put(b" HTTP/1.1\r\n");
        put_headers(w, request.headers());
        w.put(b"\r\n");
    })
}

/// Writes the head of `response` as HTTP/1.1 (status line, headers in map
/// order, blank line) into `out`, for a server that answers over a plain
/// stream itself. Returns the bytes written; on error nothing was written.
///
/// ```
/// use wsmachine::handshake::http::write_response_head;
/// let response = http::Response::builder().status(101).header("upgrade", "websocket").body(())?;
/// let mut head = Vec::new();
/// write_response_head(&response, &mut head)?;
/// assert_eq!(head, b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_response_head<B, O: Output + ?Sized>(
    response: &Response<B>,
    out: &mut O,
) -> Result<usize, BufferTooSmall> {
    let status = response.status();
    write_with(out, |w| {
        w.put(b"HTTP/1.1 ");
        put_decimal(w, u64::from(status.as_u16()));
        w.put(b" ");
        w.put(status.canonical_reason().unwrap_or("").as_bytes());
        w.put(b"\r\n");
        put_headers(w, response.headers());
        w.put(b"\r\n");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade() -> ::http::request::Builder {
        Request::get("/x")
            .header("host", "h.example")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
    }

    #[test]
    fn versions_map_to_the_wire_parser() {
        let request = upgrade().version(Version::HTTP_10).body(()).unwrap();
        assert_eq!(UpgradeRequest::parse(&request).err(), Some(HandshakeError::UnsupportedHttpVersion));
        let request = upgrade().version(Version::HTTP_2).body(()).unwrap();
        assert_eq!(UpgradeRequest::parse(&request).err(), Some(HandshakeError::UnsupportedHttpVersion));
        let request = upgrade().body(()).unwrap();
        assert!(UpgradeRequest::parse(&request).is_ok());
    }

    #[test]
    fn many_headers_are_not_a_limit_here() {
        let mut builder = upgrade();
        for i in 0..200 {
            builder = builder.header(std::format!("x-h{i}"), "v");
        }
        assert!(UpgradeRequest::parse(&builder.body(()).unwrap()).is_ok());
    }
}
