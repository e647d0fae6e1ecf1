//! The server side: read the client's upgrade request, answer it.

use crate::Output;

use super::accept::{accept_key, is_valid_key, AcceptKey};
use super::error::{HandshakeError, UsageError};
use super::ext::{is_extension_list, Extension, Extensions, Protocols, Source};
use super::head::{
    check_head_bytes, is_supported_version, is_token, is_token_list, lists_token, parse_headers, parse_version,
    split_line, sub_str, values, HeadScanner, Header,
};
use super::write::{check_extra_headers, put_header, write_with};
use super::{HandshakeConfig, Status};

/// The server's opening-handshake machine: fed the bytes of the client's
/// request until the head is complete, it validates it (RFC 6455 §4.2.1)
/// and hands back a [`Request`] view to accept or reject.
///
/// # Feeding
///
/// Accumulate the bytes read from the transport in your own buffer and pass
/// the whole buffer (all bytes so far) to [`receive`](Self::receive) after
/// each read. The buffer MUST start with the same bytes on every call; only
/// appending is allowed. The search for the end of the head resumes where
/// the previous call stopped, so feeding one byte at a time stays linear.
///
/// `Partial` means "read more"; an error means "answer with
/// [`HandshakeError::write_response`] and close". Errors are sticky: later
/// calls return the same error.
///
/// Header values borrow the buffer and go into the header array you pass.
/// Because of that borrow, create the array inside your read loop (as with
/// httparse), or call `receive` once more after the head is complete.
///
/// # Leftover bytes
///
/// A client may send WebSocket frames right behind its request, in the same
/// read. `buf[request.head_len()..]` are those bytes: they belong to the
/// WebSocket connection and MUST be handed to it, never dropped.
///
/// # Example: the whole exchange, in memory
///
/// ```
/// use wsmachine::handshake::{
///     Accept, ClientHandshake, ClientOptions, Header, ServerHandshake, Status, DEFAULT_MAX_HEADERS,
/// };
/// use wsmachine::SecureRandom;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Client: build the request.
/// let mut rng = SecureRandom::from_seed([7; 32]);
/// let options = ClientOptions { protocols: &["chat"], ..ClientOptions::default() };
/// let mut client = ClientHandshake::new("ws://example.com/chat?room=1", options, &mut rng)?;
/// let mut wire = Vec::new();
/// client.write_request(&mut wire)?;
/// wire.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]); // a first frame, sent eagerly
///
/// // Server: feed the bytes as they arrive (here in two reads).
/// let mut server = ServerHandshake::default();
/// let mut answer = Vec::new();
/// let mut received = 0;
/// let leftover = loop {
///     received = (received + 40).min(wire.len());
///     let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
///     match server.receive(&wire[..received], &mut headers) {
///         Ok(Status::Partial) => continue,
///         Ok(Status::Complete(request)) => {
///             assert_eq!(request.split_path(), ("/chat", Some("room=1")));
///             assert_eq!(request.host(), "example.com");
///             let protocol = request.protocols().find(|p| *p == "chat");
///             request.accept(&Accept { protocol, ..Accept::default() }, &mut answer)?;
///             break &wire[request.head_len()..received];
///         }
///         Err(e) => {
///             e.write_response(&mut answer)?;
///             return Err(e.into());
///         }
///     }
/// };
/// // Hand `leftover` to the connection; it is the frame sent eagerly (or its start).
/// assert!(leftover.starts_with(&[0x81]));
///
/// // Client: validate the answer.
/// let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
/// let Status::Complete(response) = client.receive(&answer, &mut headers)? else { unreachable!() };
/// assert_eq!(response.protocol(), Some("chat"));
/// assert_eq!(response.head_len(), answer.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServerHandshake {
    config: HandshakeConfig,
    scanner: HeadScanner,
    /// Set by the first error; returned by every later call.
    failed: Option<HandshakeError>,
}

impl Default for ServerHandshake {
    fn default() -> Self {
        Self::new(HandshakeConfig::default())
    }
}

impl ServerHandshake {
    /// A machine waiting for the first bytes of a request.
    pub const fn new(config: HandshakeConfig) -> Self {
        ServerHandshake { config, scanner: HeadScanner::new(), failed: None }
    }

    /// The limits in force.
    pub fn config(&self) -> &HandshakeConfig {
        &self.config
    }

    /// The error the machine failed with, if any.
    pub fn error(&self) -> Option<HandshakeError> {
        self.failed
    }

    /// Feeds all bytes received so far. See the type docs for the contract.
    ///
    /// Returns `Partial` until the head (through the blank line) is in
    /// `buf`, then the validated request. More headers than `headers` holds
    /// is [`HandshakeError::TooManyHeaders`] (431).
    pub fn receive<'h, 'b>(
        &mut self,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<Request<'h, 'b>>, HandshakeError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = match self.scanner.scan(buf, self.config.max_head_len) {
            Ok(None) => Ok(Status::Partial),
            Ok(Some(head_len)) => parse_request(buf.get(..head_len).unwrap_or(&[]), headers).map(Status::Complete),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.failed = Some(e);
        }
        result
    }
}

/// Splits an absolute-form target into (authority, origin-form path).
fn split_absolute(target: &str) -> Option<(&str, &str)> {
    let rest = ["http://", "https://"].iter().find_map(|scheme| {
        let prefix = target.get(..scheme.len())?;
        prefix.eq_ignore_ascii_case(scheme).then(|| target.get(scheme.len()..)).flatten()
    })?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some((authority, path))
}

/// Parses and validates a complete request head.
fn parse_request<'h, 'b>(head: &'b [u8], headers: &'h mut [Header<'b>]) -> Result<Request<'h, 'b>, HandshakeError> {
    use HandshakeError as E;
    let head_len = head.len();
    check_head_bytes(head)?;
    let (line, rest) = split_line(head);
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if is_token(m) && !t.is_empty() => (m, t, v),
        _ => return Err(E::MalformedRequestLine),
    };
    let version = parse_version(version).ok_or(E::InvalidHttpVersion)?;
    // Visible ASCII only, no fragment (RFC 9112 §3.2).
    if !target.iter().all(|&b| (0x21..0x7f).contains(&b) && b != b'#') {
        return Err(E::InvalidRequestTarget);
    }
    // Parts of the head as text: sliced from the head validated once.
    let head_text = crate::utf8::as_str(head);
    let text = |part| sub_str(head_text, part);
    let method = text(method).ok_or(E::InvalidRequestTarget)?;
    let target = text(target).ok_or(E::InvalidRequestTarget)?;
    // RFC 6455 §4.1 item 3: a resource name (origin-form) or an absolute
    // http/https URI. RFC 9112 §3.2.2: with absolute-form, the target's
    // authority is the host, not the Host header.
    let (authority, path) = if target.starts_with('/') {
        (None, target)
    } else {
        let (authority, path) = split_absolute(target).ok_or(E::InvalidRequestTarget)?;
        (Some(authority), if path.is_empty() { "/" } else { path })
    };
    if path.starts_with('?') {
        return Err(E::InvalidRequestTarget);
    }

    let count = parse_headers(head_text, rest, &mut *headers)?;
    let headers: &'h [Header<'b>] = headers;
    let headers = headers.get(..count).unwrap_or(&[]);

    if !is_supported_version(version) {
        return Err(E::UnsupportedHttpVersion);
    }
    // RFC 6455 §4.2.1 item 1: the method MUST be GET.
    if method != "GET" {
        return Err(E::MethodNotAllowed);
    }
    let known = KnownHeaders::collect(headers);
    let host = known.host.single("Host")?;
    let key = known.key.single("Sec-WebSocket-Key")?;
    let ws_version = known.version.single("Sec-WebSocket-Version")?;
    let origin = known.origin.single("Origin")?;

    // RFC 6455 §4.2.1 items 3 and 4 (token lists, ASCII case-insensitive).
    if !known.upgrade.present {
        return Err(E::MissingHeader("Upgrade"));
    }
    if !known.upgrade.lists_token {
        return Err(E::UpgradeNotWebSocket);
    }
    if !known.connection.present {
        return Err(E::MissingHeader("Connection"));
    }
    if !known.connection.lists_token {
        return Err(E::ConnectionNotUpgrade);
    }
    // RFC 6455 §4.2.2 /version/: a version we do not speak is answered 426
    // with `Sec-WebSocket-Version: 13`. The hixie-76 draft sent no version
    // but `Sec-WebSocket-Key1`/`Key2`, with an 8-byte body after the head.
    match ws_version {
        None if known.hixie76_key => return Err(E::LegacyHixie76),
        None => return Err(E::MissingVersion),
        Some(b"13") => {}
        Some(_) => return Err(E::UnsupportedVersion),
    }
    let host = host.ok_or(E::MissingHeader("Host"))?;
    if host.is_empty() || !host.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return Err(E::InvalidHeaderValue("Host"));
    }
    let host = text(host).ok_or(E::InvalidHeaderValue("Host"))?;
    let key = key.ok_or(E::MissingHeader("Sec-WebSocket-Key"))?;
    // RFC 6455 §4.2.1 item 5: base64 of exactly 16 bytes.
    if !is_valid_key(key) {
        return Err(E::InvalidKey);
    }
    let key = text(key).ok_or(E::InvalidKey)?;
    // A body on the upgrade GET would be read as WebSocket frames by us and
    // as HTTP by an intermediary: reject rather than guess (request smuggling).
    known.body?;
    let origin = match origin {
        Some(o) => Some(text(o).ok_or(E::InvalidHeaderValue("Origin"))?),
        None => None,
    };
    // RFC 6455 §4.1 item 10: 1#token.
    if !known.protocols_valid {
        return Err(E::InvalidHeaderValue("Sec-WebSocket-Protocol"));
    }
    // RFC 6455 §9.1: extension-list.
    if !known.extensions_valid {
        return Err(E::InvalidHeaderValue("Sec-WebSocket-Extensions"));
    }
    Ok(Request { method, target, path, version, host: authority.unwrap_or(host), origin, key, headers, head_len })
}

/// A header that must appear at most once: its first value, and whether
/// another followed.
#[derive(Debug, Clone, Copy, Default)]
struct Once<'b> {
    value: Option<&'b [u8]>,
    repeated: bool,
}

impl<'b> Once<'b> {
    fn see(&mut self, value: &'b [u8]) {
        self.repeated |= self.value.is_some();
        self.value = self.value.or(Some(value));
    }

    fn single(self, name: &'static str) -> Result<Option<&'b [u8]>, HandshakeError> {
        if self.repeated {
            return Err(HandshakeError::DuplicateHeader(name));
        }
        Ok(self.value)
    }
}

/// A token-list header (`Upgrade`, `Connection`): whether it appeared, and
/// whether any of its values lists the token the handshake needs.
#[derive(Debug, Clone, Copy, Default)]
struct Listed {
    present: bool,
    lists_token: bool,
}

impl Listed {
    fn see(&mut self, value: &[u8], token: &str) {
        self.present = true;
        self.lists_token = self.lists_token || lists_token(value, token);
    }
}

/// What §4.2.1 needs from the header lines, gathered in one pass: each name
/// is compared only with the known names of its length, instead of every
/// header being searched once per name.
#[derive(Debug, Clone, Copy)]
struct KnownHeaders<'b> {
    host: Once<'b>,
    key: Once<'b>,
    version: Once<'b>,
    origin: Once<'b>,
    upgrade: Listed,
    connection: Listed,
    /// `Sec-WebSocket-Key1` or `Key2` (hixie-76).
    hixie76_key: bool,
    /// The first problem with a message body: `Transfer-Encoding`, or a
    /// `Content-Length` that is not a string of zeros.
    body: Result<(), HandshakeError>,
    /// Every `Sec-WebSocket-Protocol` value is a token list.
    protocols_valid: bool,
    /// Every `Sec-WebSocket-Extensions` value is an extension list.
    extensions_valid: bool,
}

impl<'b> KnownHeaders<'b> {
    fn collect(headers: &[Header<'b>]) -> Self {
        let mut known = KnownHeaders {
            host: Once::default(),
            key: Once::default(),
            version: Once::default(),
            origin: Once::default(),
            upgrade: Listed::default(),
            connection: Listed::default(),
            hixie76_key: false,
            body: Ok(()),
            protocols_valid: true,
            extensions_valid: true,
        };
        let mut transfer_encoding = false;
        for h in headers {
            let name = h.name;
            let is = |expected: &str| name.eq_ignore_ascii_case(expected);
            match name.len() {
                4 if is("Host") => known.host.see(h.value),
                6 if is("Origin") => known.origin.see(h.value),
                7 if is("Upgrade") => known.upgrade.see(h.value, "websocket"),
                10 if is("Connection") => known.connection.see(h.value, "Upgrade"),
                // The first problem decides.
                14 if known.body.is_ok() && is("Content-Length") => known.body = content_length(h.value),
                17 if is("Sec-WebSocket-Key") => known.key.see(h.value),
                17 if is("Transfer-Encoding") => transfer_encoding = true,
                18 if is("Sec-WebSocket-Key1") || is("Sec-WebSocket-Key2") => known.hixie76_key = true,
                21 if is("Sec-WebSocket-Version") => known.version.see(h.value),
                22 if is("Sec-WebSocket-Protocol") => known.protocols_valid &= is_token_list(h.value),
                24 if is("Sec-WebSocket-Extensions") => known.extensions_valid &= is_extension_list(h.value),
                _ => {}
            }
        }
        if transfer_encoding {
            known.body = Err(HandshakeError::RequestBody);
        }
        known
    }
}

/// A `Content-Length` on the upgrade request: digits only, and zero.
fn content_length(value: &[u8]) -> Result<(), HandshakeError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(HandshakeError::InvalidHeaderValue("Content-Length"));
    }
    if value.iter().any(|&b| b != b'0') {
        return Err(HandshakeError::RequestBody);
    }
    Ok(())
}

/// A validated WebSocket upgrade request. Everything borrows the caller's
/// buffer (`'b`) and header array (`'h`).
#[derive(Debug, Clone, Copy)]
pub struct Request<'h, 'b> {
    method: &'b str,
    target: &'b str,
    /// Origin-form path and query, derived from `target`.
    path: &'b str,
    version: (u8, u8),
    host: &'b str,
    origin: Option<&'b str>,
    key: &'b str,
    headers: &'h [Header<'b>],
    head_len: usize,
}

/// The server's positive answer, given to [`Request::accept`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Accept<'a> {
    /// The chosen subprotocol; it MUST be one the client offered
    /// (RFC 6455 §4.2.2), else [`UsageError::ProtocolNotOffered`].
    pub protocol: Option<&'a str>,
    /// The `Sec-WebSocket-Extensions` answer value (e.g. from the
    /// permessage-deflate negotiation). Every extension it names MUST have
    /// been offered, else [`UsageError::ExtensionNotOffered`].
    pub extensions: Option<&'a str>,
    /// More headers to send (`Set-Cookie`, `Server`, CORS headers…). Names
    /// must be tokens, values free of control bytes, and none of the
    /// headers the answer carries itself.
    pub extra_headers: &'a [(&'a str, &'a str)],
}

impl Accept<'_> {
    /// Checks the answer against the client's offer: the protocol is one it
    /// offered, every extension named was offered (names compared ASCII
    /// case-insensitively), and the extra headers are well-formed.
    pub(super) fn check<'o, E: Iterator<Item = Extension<'o>>>(
        &self,
        mut offered_protocols: impl Iterator<Item = &'o str>,
        offered_extensions: impl Fn() -> E,
    ) -> Result<(), UsageError> {
        if let Some(p) = self.protocol {
            if !offered_protocols.any(|offered| offered == p) {
                return Err(UsageError::ProtocolNotOffered);
            }
        }
        if let Some(e) = self.extensions {
            let answer = Extensions::parse(e).ok_or(UsageError::InvalidExtensions)?;
            for ext in answer {
                if !offered_extensions().any(|offered| offered.name().eq_ignore_ascii_case(ext.name())) {
                    return Err(UsageError::ExtensionNotOffered);
                }
            }
        }
        check_extra_headers(self.extra_headers)
    }
}

impl<'h, 'b> Request<'h, 'b> {
    /// The method (always `GET` once validated).
    pub fn method(&self) -> &'b str {
        self.method
    }

    /// The request target exactly as sent (origin-form `/path?query`, or an
    /// absolute `http(s)://authority/path?query`).
    pub fn target(&self) -> &'b str {
        self.target
    }

    /// The path with its query (`/chat?room=1`): the /resource name/ of
    /// RFC 6455 §3. For an absolute-form target, the part after the authority.
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

    /// The HTTP version as (major, minor), e.g. (1, 1).
    pub fn http_version(&self) -> (u8, u8) {
        self.version
    }

    /// The server's authority as the client named it: the `Host` header, or
    /// the authority of an absolute-form target (RFC 9112 §3.2.2).
    pub fn host(&self) -> &'b str {
        self.host
    }

    /// The `Origin` header, sent by every browser. A server that does not
    /// check it accepts connections from scripts on any site (RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&'b str> {
        self.origin
    }

    /// The `Sec-WebSocket-Key` value.
    pub fn key(&self) -> &'b str {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value for this request's key.
    pub fn accept_key(&self) -> AcceptKey {
        accept_key(self.key.as_bytes())
    }

    /// The offered subprotocols, in the client's order of preference,
    /// across every `Sec-WebSocket-Protocol` header.
    pub fn protocols(&self) -> Protocols<'h, 'b> {
        Protocols::new(Source::Http1(self.headers.iter(), "Sec-WebSocket-Protocol"))
    }

    /// The offered extensions with their parameters, across every
    /// `Sec-WebSocket-Extensions` header.
    pub fn extensions(&self) -> Extensions<'h, 'b> {
        Extensions::new(Source::Http1(self.headers.iter(), "Sec-WebSocket-Extensions"))
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        values(self.headers, name).next()
    }

    /// All header lines, in order.
    pub fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// How many bytes of the buffer the head used, through its blank line.
    /// Bytes after it are the start of the WebSocket stream and MUST be
    /// handed to the connection, never dropped.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// Writes the `101 Switching Protocols` answer into `out`:
    /// `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept`,
    /// the chosen subprotocol and extensions, then the extra headers.
    ///
    /// Returns the bytes written; on error nothing was written. After
    /// sending it, the connection speaks WebSocket.
    pub fn accept<O: Output + ?Sized>(&self, accept: &Accept<'_>, out: &mut O) -> Result<usize, UsageError> {
        accept.check(self.protocols(), || self.extensions())?;
        let key = self.accept_key();
        let n = write_with(out, |w| {
            w.put(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
            put_header(w, "Sec-WebSocket-Accept", key.as_bytes());
            if let Some(p) = accept.protocol {
                put_header(w, "Sec-WebSocket-Protocol", p.as_bytes());
            }
            if let Some(e) = accept.extensions {
                put_header(w, "Sec-WebSocket-Extensions", e.as_bytes());
            }
            for (name, value) in accept.extra_headers {
                put_header(w, name, value.as_bytes());
            }
            w.put(b"\r\n");
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn sample_request_parses() {
        let mut hs = ServerHandshake::default();
        let mut headers = [Header::EMPTY; 16];
        let Ok(Status::Complete(req)) = hs.receive(SAMPLE, &mut headers) else { panic!("not complete") };
        assert_eq!(req.path(), "/chat");
        assert_eq!(req.host(), "server.example.com");
        assert_eq!(req.origin(), Some("http://example.com"));
        assert!(req.protocols().eq(["chat", "superchat"]));
        assert_eq!(req.head_len(), SAMPLE.len());
    }

    #[test]
    fn errors_are_sticky() {
        let mut hs = ServerHandshake::default();
        let mut headers = [Header::EMPTY; 16];
        assert_eq!(hs.receive(b"GET / HTTP/1.1\n", &mut headers).err(), Some(HandshakeError::BareLf));
        assert_eq!(hs.receive(SAMPLE, &mut headers).err(), Some(HandshakeError::BareLf));
        assert_eq!(hs.error(), Some(HandshakeError::BareLf));
    }

    #[test]
    fn absolute_form_target() {
        assert_eq!(split_absolute("http://a.example:80/x?y"), Some(("a.example:80", "/x?y")));
        assert_eq!(split_absolute("HTTPS://a"), Some(("a", "")));
        assert_eq!(split_absolute("ws://a/"), None);
        assert_eq!(split_absolute("http:///x"), None);
        assert_eq!(split_absolute("http://u@a/"), None);
    }
}
