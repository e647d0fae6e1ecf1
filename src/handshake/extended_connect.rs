//! Bootstrapping WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220)
//! with an extended CONNECT request.
//!
//! The HTTP/2 or HTTP/3 library decodes the request's header block; this
//! module validates it as a WebSocket bootstrap and produces the header
//! block of the `200` answer. There is no `Sec-WebSocket-Key`,
//! `Sec-WebSocket-Accept`, `Upgrade` or `Connection`: the stream itself is
//! the tunnel, and after the answer it carries ordinary RFC 6455 frames.
//!
//! The server MUST have sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`
//! (RFC 8441 §3) for a client to send this request; that is the HTTP/2
//! library's business.

use core::fmt;

use super::error::UsageError;
use super::ext::{is_extension_list, Extensions, Protocols, Source};
use super::head::{is_field_value, is_token, is_token_list};

/// An error in an extended CONNECT request. Answer with
/// [`response_headers`](Self::response_headers) and end the stream.
///
/// Statuses: 501 when `:protocol` is not `websocket` (the server does not
/// implement that protocol), 400 for everything else — including a missing
/// or different `sec-websocket-version`, answered with
/// `sec-websocket-version: 13` (426 Upgrade Required does not fit HTTP/2,
/// where `Upgrade` is forbidden). Malformed requests (RFC 9113 §8.1.1) may
/// instead be treated as a stream error of type `PROTOCOL_ERROR` by the
/// HTTP/2 layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtendedConnectError {
    /// A required pseudo-header is missing; the context names it (400).
    MissingPseudoHeader(&'static str),
    /// A pseudo-header appears twice (400).
    DuplicatePseudoHeader(&'static str),
    /// A pseudo-header other than the request ones, e.g. `:status` (400).
    UnknownPseudoHeader,
    /// A pseudo-header after a regular header (RFC 9113 §8.3) (400).
    PseudoHeaderAfterRegular,
    /// `:method` is not `CONNECT`: not an extended CONNECT request (400).
    NotConnect,
    /// `:protocol` is not `websocket` (501).
    UnsupportedProtocol,
    /// A header name with uppercase letters, malformed in HTTP/2
    /// (RFC 9113 §8.2.1) and HTTP/3 (400).
    UppercaseHeaderName,
    /// A header name that is not a token (400).
    InvalidHeaderName,
    /// A connection-specific header (`connection`, `upgrade`,
    /// `transfer-encoding`, `keep-alive`, `proxy-connection`, or `te` other
    /// than `trailers`), forbidden in HTTP/2 and HTTP/3 (RFC 9113 §8.2.2) (400).
    ConnectionSpecificHeader(&'static str),
    /// A header value is malformed; the context names the header (400).
    InvalidHeaderValue(&'static str),
    /// A header that must appear once appeared more than once (400).
    DuplicateHeader(&'static str),
    /// No `sec-websocket-version` (400, answered with version 13).
    MissingVersion,
    /// `sec-websocket-version` is not 13 (400, answered with version 13).
    UnsupportedVersion,
}

impl ExtendedConnectError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            ExtendedConnectError::UnsupportedProtocol => 501,
            _ => 400,
        }
    }

    /// The answer's header block: `:status`, plus `sec-websocket-version: 13`
    /// for a version error.
    pub fn response_headers(&self) -> ResponseHeaders<'static> {
        let mut h = ResponseHeaders::new(if self.status() == 501 { "501" } else { "400" });
        if matches!(self, ExtendedConnectError::MissingVersion | ExtendedConnectError::UnsupportedVersion) {
            h.push("sec-websocket-version", "13");
        }
        h
    }
}

impl fmt::Display for ExtendedConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ExtendedConnectError::*;
        match self {
            MissingPseudoHeader(h) => write!(f, "extended CONNECT lacks the {h} pseudo-header"),
            DuplicatePseudoHeader(h) => write!(f, "duplicate {h} pseudo-header"),
            UnknownPseudoHeader => f.write_str("unknown pseudo-header in a request"),
            PseudoHeaderAfterRegular => f.write_str("pseudo-header after a regular header"),
            NotConnect => f.write_str(":method is not CONNECT"),
            UnsupportedProtocol => f.write_str(":protocol is not websocket"),
            UppercaseHeaderName => f.write_str("uppercase header name"),
            InvalidHeaderName => f.write_str("invalid header name"),
            ConnectionSpecificHeader(h) => write!(f, "connection-specific header {h} is forbidden"),
            InvalidHeaderValue(h) => write!(f, "invalid {h} header value"),
            DuplicateHeader(h) => write!(f, "duplicate {h} header"),
            MissingVersion => f.write_str("missing sec-websocket-version (version 13 required)"),
            UnsupportedVersion => f.write_str("unsupported sec-websocket-version (version 13 required)"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ExtendedConnectError {}

/// A response header block of at most three fields, without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeaders<'r> {
    /// `fields[..len]` are set.
    fields: [(&'r str, &'r str); 3],
    len: usize,
}

impl<'r> ResponseHeaders<'r> {
    fn new(status: &'static str) -> Self {
        ResponseHeaders { fields: [(":status", status), ("", ""), ("", "")], len: 1 }
    }

    fn push(&mut self, name: &'r str, value: &'r str) {
        if let Some(slot) = self.fields.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
    }

    /// The fields, `:status` first.
    pub fn as_slice(&self) -> &[(&'r str, &'r str)] {
        self.fields.get(..self.len).unwrap_or(&[])
    }

    /// Iterates the fields, `:status` first.
    pub fn iter(&self) -> core::slice::Iter<'_, (&'r str, &'r str)> {
        self.as_slice().iter()
    }
}

impl<'a, 'r> IntoIterator for &'a ResponseHeaders<'r> {
    type Item = &'a (&'r str, &'r str);
    type IntoIter = core::slice::Iter<'a, (&'r str, &'r str)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A validated extended CONNECT request for a WebSocket (RFC 8441 §4,
/// RFC 9220 §3), borrowing the decoded header list.
///
/// ```
/// use wsmachine::handshake::ExtendedConnect;
/// let fields = [
///     (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
///     (":path", "/chat?room=1"), (":authority", "server.example.com"),
///     ("sec-websocket-protocol", "chat, superchat"), ("sec-websocket-version", "13"),
///     ("origin", "http://www.example.com"),
/// ];
/// let request = ExtendedConnect::parse(&fields)?;
/// assert_eq!(request.split_path(), ("/chat", Some("room=1")));
/// let answer = request.accept(Some("chat"), None)?;
/// assert_eq!(answer.as_slice(), &[(":status", "200"), ("sec-websocket-protocol", "chat")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ExtendedConnect<'h, 'b> {
    scheme: &'b str,
    path: &'b str,
    authority: &'b str,
    origin: Option<&'b str>,
    fields: &'h [(&'b str, &'b str)],
}

const CONNECTION_SPECIFIC: &[&str] = &["connection", "upgrade", "transfer-encoding", "keep-alive", "proxy-connection"];

fn set_once<'b>(slot: &mut Option<&'b str>, value: &'b str, name: &'static str) -> Result<(), ExtendedConnectError> {
    if slot.replace(value).is_some() {
        return Err(ExtendedConnectError::DuplicatePseudoHeader(name));
    }
    Ok(())
}

impl<'h, 'b> ExtendedConnect<'h, 'b> {
    /// Validates a decoded request header list (pseudo-headers first).
    pub fn parse(fields: &'h [(&'b str, &'b str)]) -> Result<Self, ExtendedConnectError> {
        use ExtendedConnectError as E;
        let (mut method, mut protocol, mut scheme, mut path, mut authority) = (None, None, None, None, None);
        let (mut version, mut origin) = (None, None);
        let mut regular_seen = false;
        for &(name, value) in fields {
            if !is_field_value(value.as_bytes()) {
                return Err(E::InvalidHeaderValue(if name.starts_with(':') { "pseudo-header" } else { "field" }));
            }
            if let Some(pseudo) = name.strip_prefix(':') {
                // RFC 9113 §8.3: all pseudo-headers precede regular fields.
                if regular_seen {
                    return Err(E::PseudoHeaderAfterRegular);
                }
                match pseudo {
                    "method" => set_once(&mut method, value, ":method")?,
                    "protocol" => set_once(&mut protocol, value, ":protocol")?,
                    "scheme" => set_once(&mut scheme, value, ":scheme")?,
                    "path" => set_once(&mut path, value, ":path")?,
                    "authority" => set_once(&mut authority, value, ":authority")?,
                    _ => return Err(E::UnknownPseudoHeader),
                }
                continue;
            }
            regular_seen = true;
            // RFC 9113 §8.2.1: uppercase field names are malformed.
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(E::UppercaseHeaderName);
            }
            if !is_token(name.as_bytes()) {
                return Err(E::InvalidHeaderName);
            }
            // RFC 9113 §8.2.2: connection-specific fields are malformed.
            if let Some(h) = CONNECTION_SPECIFIC.iter().find(|h| **h == name) {
                return Err(E::ConnectionSpecificHeader(h));
            }
            if name == "te" && value != "trailers" {
                return Err(E::ConnectionSpecificHeader("te"));
            }
            match name {
                "sec-websocket-version" if version.replace(value).is_some() => {
                    return Err(E::DuplicateHeader("sec-websocket-version"));
                }
                "origin" if origin.replace(value).is_some() => {
                    return Err(E::DuplicateHeader("origin"));
                }
                "sec-websocket-protocol" if !is_token_list(value.as_bytes()) => {
                    return Err(E::InvalidHeaderValue("sec-websocket-protocol"));
                }
                "sec-websocket-extensions" if !is_extension_list(value.as_bytes()) => {
                    return Err(E::InvalidHeaderValue("sec-websocket-extensions"));
                }
                _ => {}
            }
        }
        // RFC 8441 §4: :method CONNECT with :protocol, and :scheme, :path, :authority.
        if method.ok_or(E::MissingPseudoHeader(":method"))? != "CONNECT" {
            return Err(E::NotConnect);
        }
        if !protocol.ok_or(E::MissingPseudoHeader(":protocol"))?.eq_ignore_ascii_case("websocket") {
            return Err(E::UnsupportedProtocol);
        }
        let scheme = scheme.ok_or(E::MissingPseudoHeader(":scheme"))?;
        if scheme.is_empty() {
            return Err(E::InvalidHeaderValue(":scheme"));
        }
        let path = path.ok_or(E::MissingPseudoHeader(":path"))?;
        if !path.starts_with('/') || !path.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'#') {
            return Err(E::InvalidHeaderValue(":path"));
        }
        let authority = authority.ok_or(E::MissingPseudoHeader(":authority"))?;
        if authority.is_empty() || !authority.bytes().all(|b| (0x21..0x7f).contains(&b)) || authority.contains('@') {
            return Err(E::InvalidHeaderValue(":authority"));
        }
        // RFC 8441 §5: sec-websocket-version is still required, and is 13.
        if version.ok_or(E::MissingVersion)? != "13" {
            return Err(E::UnsupportedVersion);
        }
        Ok(ExtendedConnect { scheme, path, authority, origin, fields })
    }

    /// The `:scheme` (`https` or `http`).
    pub fn scheme(&self) -> &'b str {
        self.scheme
    }

    /// The `:path`: path and query.
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

    /// The `:authority` (the host, as `Host` is in HTTP/1.1).
    pub fn authority(&self) -> &'b str {
        self.authority
    }

    /// The `origin` header, if sent.
    pub fn origin(&self) -> Option<&'b str> {
        self.origin
    }

    /// The offered subprotocols, across every `sec-websocket-protocol` field.
    pub fn protocols(&self) -> Protocols<'h, 'b> {
        Protocols::new(Source::Pairs(self.fields.iter(), "sec-websocket-protocol"))
    }

    /// The offered extensions, across every `sec-websocket-extensions` field.
    pub fn extensions(&self) -> Extensions<'h, 'b> {
        Extensions::new(Source::Pairs(self.fields.iter(), "sec-websocket-extensions"))
    }

    /// The first field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// All fields, pseudo-headers first.
    pub fn fields(&self) -> &'h [(&'b str, &'b str)] {
        self.fields
    }

    /// The `200` answer's header block: `:status: 200`, then the chosen
    /// `sec-websocket-protocol` (MUST be one offered) and the
    /// `sec-websocket-extensions` answer (every extension in it MUST have
    /// been offered). Add your own fields after these when sending.
    pub fn accept<'r>(
        &self,
        protocol: Option<&'r str>,
        extensions: Option<&'r str>,
    ) -> Result<ResponseHeaders<'r>, UsageError> {
        let mut h = ResponseHeaders::new("200");
        if let Some(p) = protocol {
            if !self.protocols().any(|offered| offered == p) {
                return Err(UsageError::ProtocolNotOffered);
            }
            h.push("sec-websocket-protocol", p);
        }
        if let Some(e) = extensions {
            let answer = Extensions::parse(e).ok_or(UsageError::InvalidExtensions)?;
            for ext in answer {
                if !self.extensions().any(|offered| offered.name().eq_ignore_ascii_case(ext.name())) {
                    return Err(UsageError::ExtensionNotOffered);
                }
            }
            h.push("sec-websocket-extensions", e);
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 6] = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/"),
        (":authority", "a.example"),
        ("sec-websocket-version", "13"),
    ];

    #[test]
    fn minimal_request_and_answer() {
        let req = ExtendedConnect::parse(&BASE).unwrap();
        assert_eq!((req.path(), req.authority(), req.origin()), ("/", "a.example", None));
        assert_eq!(req.accept(None, None).unwrap().as_slice(), &[(":status", "200")]);
    }

    #[test]
    fn response_headers_hold_three_fields() {
        let mut h = ResponseHeaders::new("200");
        h.push("a", "1");
        h.push("b", "2");
        h.push("c", "3");
        assert_eq!(h.as_slice().len(), 3);
        assert_eq!((&h).into_iter().count(), 3);
    }

    #[test]
    fn version_errors_answer_with_13() {
        let fields = &BASE[..5];
        let err = ExtendedConnect::parse(fields).unwrap_err();
        assert_eq!(err, ExtendedConnectError::MissingVersion);
        assert_eq!(err.response_headers().as_slice(), &[(":status", "400"), ("sec-websocket-version", "13")]);
    }
}
