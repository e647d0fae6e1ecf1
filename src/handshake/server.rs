//! The server side: read the client's upgrade request, answer it.

use crate::output::claim;
use crate::Output;

use super::accept::{accept_key, is_valid_key, AcceptKey};
use super::error::{HandshakeError, UsageError};
use super::ext::{is_extension_list, Extension, Extensions, Protocols, Source};
use super::head::{
    check_head_bytes, eq_ignore_case, is_supported_version, is_token, is_token_list, lists_token, parse_headers,
    parse_version, split_crlf_line, sub_str, values, Fed, HeadScanner, Header, HeaderLines,
};
use super::storage::HeadStorage;
use super::write::{check_extra_headers, put_header, write_with};
use super::{HandshakeConfig, Status, DEFAULT_MAX_HEAD_LEN};

/// The server's opening-handshake machine: fed the bytes of the client's
/// request until the head is complete, it validates it (RFC 6455 §4.2.1)
/// and hands back a [`Request`] view to accept or reject.
///
/// # Feeding
///
/// Feed each read's bytes to [`receive`](Self::receive) as they arrive,
/// exactly as with [`Connection::receive`](crate::Connection::receive):
/// only the new bytes, never again the ones fed before. The machine copies
/// the head into its own storage until the blank line, so a request that
/// arrives in many reads parses the same as one that arrives in one; each
/// byte is copied and searched once, so feeding one byte at a time stays
/// linear.
///
/// `Partial` means "read more" (the whole input was taken); an error means
/// "answer with [`HandshakeError::write_response`] and close". Errors are
/// sticky: later calls return the same error. After `Complete`, later calls
/// return the same request again and consume nothing.
///
/// Header values borrow the machine's storage and go into the header array
/// you pass, so create the array inside your read loop (as with httparse).
///
/// # Storage
///
/// [`new`](Self::new) and [`default`](Self::default) keep the head in an
/// inline array of [`DEFAULT_MAX_HEAD_LEN`](super::DEFAULT_MAX_HEAD_LEN)
/// bytes, which needs no allocator. With `alloc`, a
/// [`HeadBuffer`](super::HeadBuffer) passed to
/// [`with_storage`](Self::with_storage) grows to the head instead, so a
/// machine waiting for a request holds only what arrived and any limit
/// holds ([`ServerStart`](crate::ServerStart) and the adapters use one).
/// Other fixed storage (`&mut [u8]`, an array, a `Vec<u8>` of the wanted
/// length…) works too. A head is at most
/// [`HandshakeConfig::max_head_len`] bytes and never more than the storage holds.
///
/// # Leftover bytes
///
/// A client may send WebSocket frames right behind its request, in the same
/// read. `input[request.consumed()..]` (the input of the call that returned
/// `Complete`) are those bytes: they belong to the WebSocket connection and
/// MUST be handed to it, never dropped.
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
/// // Server: feed each read as it arrives (here reads of 40 bytes).
/// let mut server = ServerHandshake::default();
/// let mut answer = Vec::new();
/// let mut reads = wire.chunks(40);
/// let leftover = loop {
///     let Some(read) = reads.next() else { return Err("the client stopped sending".into()) };
///     let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
///     match server.receive(read, &mut headers) {
///         Ok(Status::Partial) => continue,
///         Ok(Status::Complete(request)) => {
///             assert_eq!(request.split_path(), ("/chat", Some("room=1")));
///             assert_eq!(request.host(), "example.com");
///             let protocol = request.protocols().find(|p| *p == "chat");
///             request.accept(&Accept { protocol, ..Accept::default() }, &mut answer)?;
///             break &read[request.consumed()..];
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
/// assert_eq!(response.consumed(), answer.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerHandshake<S = [u8; DEFAULT_MAX_HEAD_LEN]> {
    config: HandshakeConfig,
    scanner: HeadScanner,
    /// Set by the first error; returned by every later call.
    failed: Option<HandshakeError>,
    /// `storage[..]` up to the scanner's `stored` count is the head so far.
    storage: S,
}

impl<S> core::fmt::Debug for ServerHandshake<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerHandshake")
            .field("config", &self.config)
            .field("scanner", &self.scanner)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Default for ServerHandshake {
    fn default() -> Self {
        Self::new(HandshakeConfig::new())
    }
}

impl ServerHandshake {
    /// A machine waiting for the first bytes of a request, keeping the head
    /// in an inline array of [`DEFAULT_MAX_HEAD_LEN`] bytes (so a
    /// `max_head_len` above that is capped to it; see
    /// [`with_storage`](Self::with_storage)).
    pub const fn new(config: HandshakeConfig) -> Self {
        Self::with_storage(config, [0; DEFAULT_MAX_HEAD_LEN])
    }
}

impl<S> ServerHandshake<S> {
    /// A machine that keeps the head in `storage`: a head is at most
    /// `config.max_head_len` bytes and never more than `storage` holds.
    pub const fn with_storage(config: HandshakeConfig, storage: S) -> Self {
        ServerHandshake { config, scanner: HeadScanner::new(), failed: None, storage }
    }

    /// The limits in force.
    pub fn config(&self) -> &HandshakeConfig {
        &self.config
    }

    /// The error the machine failed with, if any.
    pub fn error(&self) -> Option<HandshakeError> {
        self.failed
    }
}

impl<S: HeadStorage> ServerHandshake<S> {
    /// The bytes of the head received so far (the whole head once
    /// complete; after an error, what had arrived up to it). For logging a
    /// refused request, or for answering a plain HTTP request yourself.
    pub fn head(&self) -> &[u8] {
        self.storage.held(self.scanner.stored())
    }

    /// Feeds the bytes read since the last call. See the type docs for the
    /// contract.
    ///
    /// Returns `Partial` until the head (through the blank line) is
    /// complete, then the validated request; bytes of `input` after
    /// [`Request::consumed`] are the first WebSocket frames. More headers
    /// than `headers` holds is [`HandshakeError::TooManyHeaders`] (431).
    pub fn receive<'h, 'b>(
        &'b mut self,
        input: &[u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<Request<'h, 'b>>, HandshakeError> {
        let ServerHandshake { config, scanner, failed, storage } = self;
        if let Some(e) = *failed {
            return Err(e);
        }
        let max = config.max_head_len;
        // A head that came whole is parsed before it is searched: the
        // parser checks each line's ending as it goes. If it finds the head
        // is not one (an earlier blank line, a bare LF) or refuses it, the
        // search decides, and the answer is as if it had come first.
        let result = match scanner.take_whole(storage, input, max) {
            Some(head_len) => {
                let storage: &'b S = storage;
                match parse_request_lines(storage.held(head_len), &mut *headers) {
                    Ok(lines) if lines.headers.exact => {
                        scanner.confirm(head_len);
                        validate_request(lines, headers, head_len).map(Status::Complete)
                    }
                    _ => parse_found(scanner.search_stored(storage, max), storage, headers),
                }
            }
            None => {
                let fed = scanner.feed(storage, input, max);
                parse_found(fed, storage, headers)
            }
        };
        if let Err(e) = result {
            *failed = Some(e);
        }
        result
    }
}

/// The target of the request line every client sends, `GET` of a valid
/// target over HTTP/1.1, found without a search for the spaces; `None` for
/// any other line.
fn split_usual_request_line(line: &[u8]) -> Option<&[u8]> {
    let target = line.strip_prefix(b"GET ")?.strip_suffix(b" HTTP/1.1")?;
    (!target.is_empty() && is_target(target)).then_some(target)
}

/// A request line's parts, checked.
struct RequestLine<'b> {
    /// A token.
    method: &'b [u8],
    /// Visible ASCII, no fragment.
    target: &'b [u8],
    /// (major, minor).
    version: (u8, u8),
}

/// Splits a request line into its method, target and version, checked.
fn split_request_line(line: &[u8]) -> Result<RequestLine<'_>, HandshakeError> {
    use HandshakeError as E;
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if is_token(m) && !t.is_empty() => (m, t, v),
        _ => return Err(E::MalformedRequestLine),
    };
    let version = parse_version(version).ok_or(E::InvalidHttpVersion)?;
    if !is_target(target) {
        return Err(E::InvalidRequestTarget);
    }
    Ok(RequestLine { method, target, version })
}

/// Whether a request target has only visible ASCII and no fragment
/// (RFC 9112 §3.2).
fn is_target(target: &[u8]) -> bool {
    target.iter().all(|&b| (0x21..0x7f).contains(&b) && b != b'#')
}

/// The request in the head the scanner found, if it found one.
fn parse_found<'h, 'b, S: HeadStorage>(
    fed: Result<Fed, HandshakeError>,
    storage: &'b S,
    headers: &'h mut [Header<'b>],
) -> Result<Status<Request<'h, 'b>>, HandshakeError> {
    match fed? {
        Fed::Partial => Ok(Status::Partial),
        Fed::Complete { head_len, consumed } => parse_request(storage.held(head_len), headers)
            .map(|request| Status::Complete(Request { consumed, ..request })),
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
pub(crate) fn parse_request<'h, 'b>(
    head: &'b [u8],
    headers: &'h mut [Header<'b>],
) -> Result<Request<'h, 'b>, HandshakeError> {
    let lines = parse_request_lines(head, &mut *headers)?;
    validate_request(lines, headers, head.len())
}

/// A request head's start line, with its header lines parsed into the
/// caller's array, not yet checked against RFC 6455.
#[derive(Debug, Clone, Copy)]
struct RequestLines<'b> {
    method: &'b str,
    target: &'b str,
    /// The target's authority when it is in absolute form.
    authority: Option<&'b str>,
    path: &'b str,
    version: (u8, u8),
    head_text: Option<&'b str>,
    headers: HeaderLines,
}

/// The HTTP syntax of a request head: the request line and the header
/// lines, stored in `headers`. `head` is a complete head, or (from
/// `HeadScanner::take_whole`) one that is if the answer's
/// `headers.exact` says so; any error or an inexact answer for such a
/// head is to be ignored in favour of the head the scanner finds.
fn parse_request_lines<'b>(head: &'b [u8], headers: &mut [Header<'b>]) -> Result<RequestLines<'b>, HandshakeError> {
    use HandshakeError as E;
    check_head_bytes(head)?;
    let (line, rest, crlf) = split_crlf_line(head);
    let RequestLine { method, target, version } = match split_usual_request_line(line) {
        // The method sliced from the line, not a literal, so that it is
        // taken from the head's text below rather than validated apart.
        Some(target) => RequestLine { method: line.get(..3).unwrap_or(b"GET"), target, version: (1, 1) },
        None => split_request_line(line)?,
    };
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
    let mut lines = parse_headers(head_text, rest, headers)?;
    lines.exact &= crlf;
    Ok(RequestLines { method, target, authority, path, version, head_text, headers: lines })
}

/// Checks a parsed request head against RFC 6455 §4.2.1 (`headers` is
/// the array [`parse_request_lines`] stored its lines in).
fn validate_request<'h, 'b>(
    lines: RequestLines<'b>,
    headers: &'h [Header<'b>],
    head_len: usize,
) -> Result<Request<'h, 'b>, HandshakeError> {
    use HandshakeError as E;
    let headers = headers.get(..lines.headers.count).unwrap_or(&[]);
    let RequestLines { method, target, authority, path, version, head_text, .. } = lines;
    let text = |part| sub_str(head_text, part);
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
    Ok(Request {
        method,
        target,
        path,
        version,
        host: authority.unwrap_or(host),
        origin,
        key,
        headers,
        head_len,
        consumed: head_len,
    })
}

/// A complete head that [`parse_request`] refused only for its missing
/// `Upgrade` (so a well-formed HTTP/1.1 `GET`), read as a plain HTTP
/// request: its target, its origin-form path and its header lines. `None`
/// when a header shows a WebSocket handshake after all (a `Sec-WebSocket-*`
/// header, or `upgrade` in `Connection`): that is a broken client, not a
/// browser or curl asking for a page.
#[cfg(feature = "alloc")]
pub(crate) fn parse_plain_request<'h, 'b>(
    head: &'b [u8],
    headers: &'h mut [Header<'b>],
) -> Option<(&'b str, &'b str, &'h [Header<'b>])> {
    let head_text = crate::utf8::as_str(head);
    let (line, rest) = super::head::split_line(head);
    let target = sub_str(head_text, line.split(|&b| b == b' ').nth(1)?)?;
    let path = if target.starts_with('/') {
        target
    } else {
        match split_absolute(target)? {
            (_, "") => "/",
            (_, path) => path,
        }
    };
    let count = parse_headers(head_text, rest, &mut *headers).ok()?.count;
    let headers: &'h [Header<'b>] = headers;
    let headers = headers.get(..count)?;
    let websocket = headers.iter().any(|h| {
        let sec = h.name.get(..14).is_some_and(|p| p.eq_ignore_ascii_case("sec-websocket-"));
        sec || (h.name.eq_ignore_ascii_case("Connection") && lists_token(h.value, "upgrade"))
    });
    (!websocket).then_some((target, path, headers))
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
            let is = |expected: &str| eq_ignore_case(name.as_bytes(), expected.as_bytes());
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

/// The 101 answer up to the `Sec-WebSocket-Accept` value.
const ANSWER_START: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";

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
    /// How many bytes of the completing call's input were head.
    consumed: usize,
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

    /// The size of the head, through its blank line, over all the reads it
    /// took.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// How many bytes of the input given to the call that returned this
    /// request were part of the head (0 when the head was already complete
    /// before that call). The bytes after them, `input[consumed..]`, are
    /// the start of the WebSocket stream and MUST be handed to the
    /// connection, never dropped.
    pub fn consumed(&self) -> usize {
        self.consumed
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
        if accept.protocol.is_none() && accept.extensions.is_none() && accept.extra_headers.is_empty() {
            // The usual answer has a fixed length: no measuring pass.
            let parts: [&[u8]; 3] = [ANSWER_START, key.as_bytes(), b"\r\n\r\n"];
            let region = claim(out, ANSWER_START.len() + 28 + 4)?;
            let mut at = 0;
            for part in parts {
                if let Some(dst) = region.get_mut(at..at + part.len()) {
                    dst.copy_from_slice(part);
                }
                at += part.len();
            }
            return Ok(at);
        }
        let n = write_with(out, |w| {
            w.put(ANSWER_START);
            w.put(key.as_bytes());
            w.put(b"\r\n");
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
    fn a_request_split_anywhere_parses_the_same() {
        let mut wire = SAMPLE.to_vec();
        wire.extend_from_slice(b"frames");
        for split in 0..=wire.len() {
            let mut hs = ServerHandshake::default();
            let (first, second) = wire.split_at(split);
            let mut headers = [Header::EMPTY; 16];
            let (input, req) = match hs.receive(first, &mut headers) {
                Ok(Status::Complete(req)) => (first, req),
                Ok(Status::Partial) => {
                    let mut headers = [Header::EMPTY; 16];
                    let Ok(Status::Complete(req)) = hs.receive(second, &mut headers) else { panic!("at {split}") };
                    assert_eq!((req.path(), req.head_len()), ("/chat", SAMPLE.len()), "at {split}");
                    assert_eq!(&second[req.consumed()..], b"frames", "at {split}");
                    continue;
                }
                Err(e) => panic!("at {split}: {e}"),
            };
            assert_eq!((req.path(), req.head_len()), ("/chat", SAMPLE.len()));
            assert_eq!(&input[req.consumed()..], &wire[SAMPLE.len()..split]);
        }
    }

    #[test]
    fn after_complete_the_request_stays_and_nothing_is_consumed() {
        let mut hs = ServerHandshake::default();
        let mut headers = [Header::EMPTY; 16];
        assert!(hs.receive(SAMPLE, &mut headers).is_ok_and(|s| s.is_complete()));
        let mut headers = [Header::EMPTY; 16];
        let Ok(Status::Complete(req)) = hs.receive(b"more", &mut headers) else { panic!("not complete") };
        assert_eq!((req.host(), req.consumed(), req.head_len()), ("server.example.com", 0, SAMPLE.len()));
    }

    #[test]
    fn own_storage_sets_a_larger_limit() {
        let mut head = SAMPLE.to_vec();
        let pad = [b'a'; 9000];
        head.splice(head.len() - 2..head.len() - 2, b"X-Pad: ".iter().chain(&pad).chain(b"\r\n").copied());
        let config = HandshakeConfig::new().with_max_head_len(16 * 1024);
        let mut headers = [Header::EMPTY; 16];
        let small = ServerHandshake::new(config).receive(&head, &mut headers).map(|s| s.is_complete());
        assert_eq!(small, Err(HandshakeError::HeadTooLarge));
        let mut storage = [0u8; 16 * 1024];
        let mut hs = ServerHandshake::with_storage(config, &mut storage[..]);
        let mut headers = [Header::EMPTY; 16];
        assert_eq!(hs.receive(&head, &mut headers).map(|s| s.is_complete()), Ok(true));
    }

    #[test]
    fn errors_are_sticky() {
        let mut hs = ServerHandshake::default();
        let mut headers = [Header::EMPTY; 16];
        assert_eq!(hs.receive(b"GET / HTTP/1.1\n", &mut headers).err(), Some(HandshakeError::BareLf));
        let mut headers = [Header::EMPTY; 16];
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
