//! The client side: build the upgrade request, validate the answer.

use crate::output::BufferTooSmall;
use crate::{Output, RandomSource};

use super::accept::{accept_key, encode_key, AcceptKey};
use super::error::{ResponseError, UrlError, UsageError};
use super::ext::{is_extension_list, Extensions, Source};
use super::head::{
    check_head_bytes, has_token, is_field_value, is_supported_version, is_token, parse_headers, parse_version, single,
    split_line, values, Fed, HeadScanner, Header,
};
use super::storage::HeadStorage;
use super::write::{check_extra_headers, put_decimal, put_header, write_with};
use super::{HandshakeConfig, Status, DEFAULT_MAX_HEAD_LEN};

/// What the client offers and sends besides the required headers. The
/// handshake borrows these until it completes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientOptions<'a> {
    /// Subprotocols to offer, by preference. Each MUST be a token and
    /// appear once (RFC 6455 §4.1 item 10).
    pub protocols: &'a [&'a str],
    /// The `Sec-WebSocket-Extensions` offer (e.g. from the permessage-deflate
    /// negotiation). MUST be a valid extension list.
    pub extensions: Option<&'a str>,
    /// The `Origin` header. Browsers always send it; other clients MAY.
    pub origin: Option<&'a str>,
    /// More headers (`Authorization`, `Cookie`, `User-Agent`…). Names must
    /// be tokens, values free of control bytes, and none of the headers
    /// the request carries itself.
    pub extra_headers: &'a [(&'a str, &'a str)],
}

/// The parts of a `ws://` / `wss://` URL (RFC 6455 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    pub(crate) secure: bool,
    /// As written in the URL; IPv6 literals keep their brackets.
    pub(crate) host: &'a str,
    /// The port written in the URL, if any.
    pub(crate) port: Option<u16>,
    /// Everything after the authority: empty, `/path…` or `?query`.
    pub(crate) resource: &'a str,
}

fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+')
        || matches!(b, b',' | b';' | b'=')
}

fn parse_port(p: &str) -> Result<u16, UrlError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => u16::try_from(n).map_err(|_| UrlError::InvalidPort),
        _ => Err(UrlError::InvalidPort),
    }
}

pub(crate) fn parse_url(url: &str) -> Result<Url<'_>, UrlError> {
    let (scheme, rest) = url.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
    let secure = if scheme.eq_ignore_ascii_case("ws") {
        false
    } else if scheme.eq_ignore_ascii_case("wss") {
        true
    } else {
        return Err(UrlError::UnsupportedScheme);
    };
    // RFC 6455 §3: fragment identifiers are meaningless and MUST NOT be used.
    if rest.contains('#') {
        return Err(UrlError::Fragment);
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, resource) = rest.split_at(end);
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    if authority.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let close = inner.find(']').ok_or(UrlError::InvalidHost)?;
        let (literal, after) = inner.split_at(close);
        let after = after.get(1..).unwrap_or("");
        let ok = literal.contains(':') && literal.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ok {
            return Err(UrlError::InvalidHost);
        }
        let host = authority.get(..close + 2).ok_or(UrlError::InvalidHost)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?),
        };
        (host, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(UrlError::EmptyHost);
        }
        if !host.bytes().all(is_reg_name_byte) {
            return Err(UrlError::InvalidHost);
        }
        (host, port)
    };
    let port = port.map(parse_port).transpose()?;
    if !resource.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(UrlError::InvalidPath);
    }
    Ok(Url { secure, host, port, resource })
}

/// The client's opening-handshake machine: it writes the upgrade request
/// for a `ws://` or `wss://` URL with a fresh random key, then is fed the
/// server's answer until the head is complete and validates it
/// (RFC 6455 §4.1).
///
/// Feeding follows the same rules as [`ServerHandshake`](super::ServerHandshake)
/// and [`Connection::receive`](crate::Connection::receive): pass each read's
/// new bytes once; `Partial` means read more; errors are sticky. Bytes of
/// the completing call's input after [`Response::consumed`] are the first
/// WebSocket frames from the server and MUST be handed to the connection.
///
/// The machine borrows the URL and options (`'a`) and keeps the key, the
/// expected accept value and the answer's head in fixed arrays: no
/// allocation. [`with_storage`](Self::with_storage) takes other storage
/// for the head, as on the server (a [`HeadBuffer`](super::HeadBuffer)
/// grows to the answer's head).
///
/// # Example: the whole exchange, in memory
///
/// ```
/// use wsmachine::handshake::{Accept, ClientHandshake, ClientOptions, Header, ServerHandshake, Status};
/// use wsmachine::SecureRandom;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut rng = SecureRandom::from_seed([1; 32]); // SecureRandom::from_os() with feature std
/// let options = ClientOptions {
///     protocols: &["v2.chat", "v1.chat"],
///     extensions: Some("permessage-deflate; client_max_window_bits"),
///     origin: Some("https://app.example"),
///     ..ClientOptions::default()
/// };
/// let mut client = ClientHandshake::new("wss://example.com:8443/feed", options, &mut rng)?;
/// assert_eq!((client.host(), client.port(), client.is_secure()), ("example.com", 8443, true));
/// let mut request = [0u8; 512];
/// let n = client.write_request(&mut request[..])?;
/// assert!(request[..n].starts_with(b"GET /feed HTTP/1.1\r\nHost: example.com:8443\r\n"));
///
/// // The server side (normally another process).
/// let mut server = ServerHandshake::default();
/// let mut headers = [Header::EMPTY; 16];
/// let Status::Complete(req) = server.receive(&request[..n], &mut headers)? else {
///     unreachable!("the request is complete")
/// };
/// let mut answer = Vec::new();
/// req.accept(&Accept { protocol: Some("v1.chat"), ..Accept::default() }, &mut answer)?;
///
/// // Back on the client: the answer arrives one byte at a time.
/// let mut response = None;
/// for byte in answer.chunks(1) {
///     let mut headers = [Header::EMPTY; 16];
///     if let Status::Complete(r) = client.receive(byte, &mut headers)? {
///         // The answer borrows the machine: keep what you need.
///         response = Some((r.protocol().map(String::from), r.extensions().count(), r.head_len(), r.consumed()));
///         break;
///     }
/// }
/// assert_eq!(response, Some((Some("v1.chat".to_string()), 0, answer.len(), 1)));
/// # Ok(()) }
/// ```
///
/// # Example: a refusal
///
/// ```
/// use wsmachine::handshake::{ClientHandshake, ClientOptions, Header, ResponseError};
/// use wsmachine::SecureRandom;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut rng = SecureRandom::from_seed([1; 32]);
/// let mut client = ClientHandshake::new("ws://example.com/feed", ClientOptions::default(), &mut rng)?;
/// let answer = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno";
/// let mut headers = [Header::EMPTY; 16];
/// match client.receive(answer, &mut headers) {
///     Err(ResponseError::UnexpectedStatus { status: 403, consumed, .. }) => assert_eq!(&answer[consumed..], b"no"),
///     other => panic!("{other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientHandshake<'a, S = [u8; DEFAULT_MAX_HEAD_LEN]> {
    config: HandshakeConfig,
    scanner: HeadScanner,
    failed: Option<ResponseError>,
    url: Url<'a>,
    options: ClientOptions<'a>,
    /// The `Sec-WebSocket-Key` sent: base64 of 16 random bytes.
    key: [u8; 24],
    accept: AcceptKey,
    /// The answer's head so far (up to the scanner's `stored` count).
    storage: S,
}

impl<S> core::fmt::Debug for ClientHandshake<'_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("config", &self.config)
            .field("scanner", &self.scanner)
            .field("failed", &self.failed)
            .field("url", &self.url)
            .field("options", &self.options)
            .field("key", &self.key())
            .field("accept", &self.accept)
            .finish()
    }
}

impl<'a> ClientHandshake<'a> {
    /// Prepares a handshake for `url` with default limits, drawing the
    /// 16-byte key nonce from `rng` (RFC 6455 §4.1 item 7: fresh and random
    /// for every connection).
    pub fn new<R: RandomSource + ?Sized>(
        url: &'a str,
        options: ClientOptions<'a>,
        rng: &mut R,
    ) -> Result<Self, UsageError> {
        Self::with_config(url, options, HandshakeConfig::default(), rng)
    }

    /// Like [`new`](Self::new) with explicit limits for the response (the
    /// head is kept in an inline array of [`DEFAULT_MAX_HEAD_LEN`] bytes,
    /// which caps `max_head_len`; [`with_storage`](Self::with_storage) with
    /// a [`HeadBuffer`](super::HeadBuffer) does not).
    pub fn with_config<R: RandomSource + ?Sized>(
        url: &'a str,
        options: ClientOptions<'a>,
        config: HandshakeConfig,
        rng: &mut R,
    ) -> Result<Self, UsageError> {
        Self::with_storage(url, options, config, [0; DEFAULT_MAX_HEAD_LEN], rng)
    }
}

impl<'a, S> ClientHandshake<'a, S> {
    /// Like [`with_config`](Self::with_config), keeping the answer's head in
    /// `storage`: a head is at most `config.max_head_len` bytes and never
    /// more than `storage` holds.
    pub fn with_storage<R: RandomSource + ?Sized>(
        url: &'a str,
        options: ClientOptions<'a>,
        config: HandshakeConfig,
        storage: S,
        rng: &mut R,
    ) -> Result<Self, UsageError> {
        let url = parse_url(url)?;
        for (i, p) in options.protocols.iter().enumerate() {
            let repeated = options.protocols.get(..i).is_some_and(|before| before.contains(p));
            if !is_token(p.as_bytes()) || repeated {
                return Err(UsageError::InvalidProtocol);
            }
        }
        if let Some(e) = options.extensions {
            if !is_extension_list(e.as_bytes()) {
                return Err(UsageError::InvalidExtensions);
            }
        }
        if let Some(o) = options.origin {
            if !is_field_value(o.as_bytes()) {
                return Err(UsageError::InvalidHeaderValue);
            }
        }
        check_extra_headers(options.extra_headers)?;
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let key = encode_key(&nonce);
        let accept = accept_key(&key);
        Ok(ClientHandshake { config, scanner: HeadScanner::new(), failed: None, url, options, key, accept, storage })
    }

    /// The `Sec-WebSocket-Key` this handshake sends.
    pub fn key(&self) -> &str {
        core::str::from_utf8(&self.key).unwrap_or("")
    }

    /// The `Sec-WebSocket-Accept` value the server must answer with.
    pub fn expected_accept(&self) -> &AcceptKey {
        &self.accept
    }

    /// Whether the URL is `wss://` (connect with TLS, SNI for [`host`](Self::host)).
    pub fn is_secure(&self) -> bool {
        self.url.secure
    }

    /// The host to connect to, without the brackets of an IPv6 literal.
    pub fn host(&self) -> &'a str {
        let h = self.url.host;
        h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h)
    }

    /// The port to connect to: the URL's, or 80 for `ws` and 443 for `wss`.
    pub fn port(&self) -> u16 {
        self.url.port.unwrap_or(if self.url.secure { 443 } else { 80 })
    }

    /// The error the machine failed with, if any.
    pub fn error(&self) -> Option<ResponseError> {
        self.failed
    }

    /// Writes the upgrade request into `out` and returns its length; on
    /// error nothing was written. It can be written again (to retry a
    /// write), but a new connection needs a new `ClientHandshake`.
    pub fn write_request<O: Output + ?Sized>(&self, out: &mut O) -> Result<usize, BufferTooSmall> {
        let url = self.url;
        let default_port = if url.secure { 443 } else { 80 };
        write_with(out, |w| {
            w.put(b"GET ");
            if !url.resource.starts_with('/') {
                w.put(b"/");
            }
            w.put(url.resource.as_bytes());
            w.put(b" HTTP/1.1\r\nHost: ");
            w.put(url.host.as_bytes());
            // RFC 6455 §4.1 item 4: the port only when not the default.
            if let Some(port) = url.port.filter(|&p| p != default_port) {
                w.put(b":");
                put_decimal(w, u64::from(port));
            }
            w.put(b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
            put_header(w, "Sec-WebSocket-Key", &self.key);
            w.put(b"Sec-WebSocket-Version: 13\r\n");
            if let Some(origin) = self.options.origin {
                put_header(w, "Origin", origin.as_bytes());
            }
            if let Some((first, rest)) = self.options.protocols.split_first() {
                w.put(b"Sec-WebSocket-Protocol: ");
                w.put(first.as_bytes());
                for p in rest {
                    w.put(b", ");
                    w.put(p.as_bytes());
                }
                w.put(b"\r\n");
            }
            if let Some(e) = self.options.extensions {
                put_header(w, "Sec-WebSocket-Extensions", e.as_bytes());
            }
            for (name, value) in self.options.extra_headers {
                put_header(w, name, value.as_bytes());
            }
            w.put(b"\r\n");
        })
    }
}

impl<S: HeadStorage> ClientHandshake<'_, S> {
    /// The bytes of the answer's head received so far (the whole head once
    /// complete; after an error, what had arrived up to it).
    pub fn head(&self) -> &[u8] {
        self.storage.held(self.scanner.stored())
    }

    /// Feeds the bytes of the answer read since the last call, as
    /// [`ServerHandshake::receive`](super::ServerHandshake::receive) does.
    ///
    /// Returns `Partial` until the head is complete, then the validated
    /// response. A status other than 101 is
    /// [`ResponseError::UnexpectedStatus`]: the body (if any) follows the
    /// head, from `consumed` in this call's input, and `headers` holds the
    /// response's header lines (in order; entries past the last one keep
    /// their previous value, so start from [`Header::EMPTY`] to recognise
    /// the end by an empty name).
    pub fn receive<'h, 'b>(
        &'b mut self,
        input: &[u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<Response<'h, 'b>>, ResponseError> {
        let ClientHandshake { config, scanner, failed, options, accept, storage, .. } = self;
        if let Some(e) = *failed {
            return Err(e);
        }
        let result = match scanner.feed(storage, input, config.max_head_len) {
            Ok(Fed::Partial) => Ok(Status::Partial),
            Ok(Fed::Complete { head_len, consumed }) => {
                let storage: &'b S = storage;
                let head = storage.held(head_len);
                parse_response(accept, options, head, consumed, headers).map(Status::Complete)
            }
            Err(e) => Err(ResponseError::Head(e)),
        };
        if let Err(e) = result {
            *failed = Some(e);
        }
        result
    }
}

/// Validates a complete answer head against what the client sent.
/// `consumed`: how many of the head's bytes came with the completing call.
fn parse_response<'h, 'b>(
    expected: &AcceptKey,
    options: &ClientOptions<'_>,
    head: &'b [u8],
    consumed: usize,
    headers: &'h mut [Header<'b>],
) -> Result<Response<'h, 'b>, ResponseError> {
    use ResponseError as E;
    let head_len = head.len();
    check_head_bytes(head).map_err(E::Head)?;
    let (line, rest) = split_line(head);
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    // (a missing final SP is tolerated).
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parts.next().and_then(parse_version).ok_or(E::MalformedStatusLine)?;
    let status = match parts.next() {
        Some(&[a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9']) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(E::MalformedStatusLine),
    };
    let count = parse_headers(crate::utf8::as_str(head), rest, &mut *headers).map_err(E::Head)?.count;
    let headers: &'h [Header<'b>] = headers;
    let headers = headers.get(..count).unwrap_or(&[]);
    // An HTTP/1.0 server cannot upgrade; its answer (a 404 page, a
    // redirect) is still a refusal with a status to report, as a 1.1
    // one is.
    let refusal_from_1_0 = version == (1, 0) && status != 101;
    if !is_supported_version(version) && !refusal_from_1_0 {
        return Err(E::UnsupportedHttpVersion);
    }
    // RFC 6455 §4.1: anything but 101 is handled per HTTP by the caller.
    if status != 101 {
        return Err(E::UnexpectedStatus { status, head_len, consumed });
    }
    if !has_token(headers, "Upgrade", "websocket") {
        return Err(E::UpgradeNotWebSocket);
    }
    if !has_token(headers, "Connection", "Upgrade") {
        return Err(E::ConnectionNotUpgrade);
    }
    let accept = single(headers, "Sec-WebSocket-Accept").map_err(E::DuplicateHeader)?;
    if !expected.matches(accept.ok_or(E::MissingAccept)?) {
        return Err(E::AcceptMismatch);
    }
    // RFC 6455 §4.1 step 6 and §4.2.2: a single token, one that was offered.
    let protocol = match single(headers, "Sec-WebSocket-Protocol") {
        Err(_) => return Err(E::MultipleProtocols),
        Ok(None) => None,
        Ok(Some(p)) if p.contains(&b',') => return Err(E::MultipleProtocols),
        Ok(Some(p)) => {
            let p = core::str::from_utf8(p).map_err(|_| E::ProtocolNotOffered)?;
            if !options.protocols.contains(&p) {
                return Err(E::ProtocolNotOffered);
            }
            Some(p)
        }
    };
    // RFC 6455 §4.1 step 5: only extensions that were offered.
    if !values(headers, "Sec-WebSocket-Extensions").all(is_extension_list) {
        return Err(E::InvalidExtensions);
    }
    let offer = options.extensions.and_then(Extensions::parse);
    let answered = Extensions::new(Source::Http1(headers.iter(), "Sec-WebSocket-Extensions"));
    for ext in answered {
        let was_offered = offer.clone().is_some_and(|mut o| o.any(|x| x.name().eq_ignore_ascii_case(ext.name())));
        if !was_offered {
            return Err(E::ExtensionNotOffered);
        }
    }
    Ok(Response { status, protocol, headers, head_len, consumed })
}

/// A validated `101 Switching Protocols` answer. Borrows the caller's
/// buffer (`'b`) and header array (`'h`).
#[derive(Debug, Clone, Copy)]
pub struct Response<'h, 'b> {
    status: u16,
    protocol: Option<&'b str>,
    headers: &'h [Header<'b>],
    head_len: usize,
    /// How many bytes of the completing call's input were head.
    consumed: usize,
}

impl<'h, 'b> Response<'h, 'b> {
    /// The status code (101).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The subprotocol the server chose, if any (one of those offered).
    pub fn protocol(&self) -> Option<&'b str> {
        self.protocol
    }

    /// The extensions the server accepted, with their parameters, across
    /// every `Sec-WebSocket-Extensions` header. Each was offered.
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
    /// response were part of the head (0 when the head was already complete
    /// before that call). The bytes after them, `input[consumed..]`, are
    /// the server's first WebSocket frames and MUST be handed to the
    /// connection, never dropped.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("ws://example.com").unwrap();
        assert_eq!((u.secure, u.host, u.port, u.resource), (false, "example.com", None, ""));
        let u = parse_url("WSS://[::1]:9001/a?b=c").unwrap();
        assert_eq!((u.secure, u.host, u.port, u.resource), (true, "[::1]", Some(9001), "/a?b=c"));
        let u = parse_url("ws://h?q").unwrap();
        assert_eq!(u.resource, "?q");
        assert_eq!(parse_url("http://h/"), Err(UrlError::UnsupportedScheme));
        assert_eq!(parse_url("ws:/h/"), Err(UrlError::UnsupportedScheme));
        assert_eq!(parse_url("ws://u:p@h/"), Err(UrlError::Userinfo));
        assert_eq!(parse_url("ws://h/#x"), Err(UrlError::Fragment));
        assert_eq!(parse_url("ws:///x"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("ws://:80/x"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("ws://h:/x"), Err(UrlError::InvalidPort));
        assert_eq!(parse_url("ws://h:0/x"), Err(UrlError::InvalidPort));
        assert_eq!(parse_url("ws://h:65536/x"), Err(UrlError::InvalidPort));
        assert_eq!(parse_url("ws://h:8a/x"), Err(UrlError::InvalidPort));
        assert_eq!(parse_url("ws://[::1/x"), Err(UrlError::InvalidHost));
        assert_eq!(parse_url("ws://[zz]/x"), Err(UrlError::InvalidHost));
        assert_eq!(parse_url("ws://[::1]x/"), Err(UrlError::InvalidHost));
        assert_eq!(parse_url("ws://h o/"), Err(UrlError::InvalidHost));
        assert_eq!(parse_url("ws://h/a b"), Err(UrlError::InvalidPath));
    }
}
