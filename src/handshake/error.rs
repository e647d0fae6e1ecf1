//! Handshake errors: what the peer got wrong (with the HTTP status to answer)
//! and what the caller got wrong.

use core::fmt;

use crate::output::BufferTooSmall;
use crate::Output;

use super::write::{put_decimal, put_status_line, write_with, Sink};

/// An error in the client's opening handshake (the request), found by
/// [`ServerHandshake`](super::ServerHandshake).
///
/// Every variant knows the HTTP status to answer with ([`status`](Self::status))
/// and can write that answer itself ([`write_response`](Self::write_response)).
/// After answering, close the connection: the request stream cannot be trusted.
///
/// Statuses: 400 for a malformed or incomplete request, 405 for a method other
/// than `GET`, 426 (with `Sec-WebSocket-Version: 13`) for a missing or
/// different WebSocket version and for the obsolete hixie-76 dialect, 431 for
/// a head over the size limit or with more headers than the caller's array,
/// 505 for a well-formed HTTP version other than 1.1 or a later 1.x, and 408
/// ([`Timeout`](Self::Timeout)) for a head the caller stopped waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head did not end within the configured maximum size or the
    /// machine's storage, whichever is smaller (431).
    HeadTooLarge,
    /// More header lines than the caller's header array holds (431).
    TooManyHeaders,
    /// A line ended with a bare `\n` instead of `\r\n` (400).
    BareLf,
    /// A header line began with a space or tab: obsolete line folding,
    /// rejected as RFC 9112 §5.2 allows (400).
    ObsFold,
    /// A control byte (NUL, a lone CR, DEL, …) in the head; only HTAB is
    /// allowed, and only inside header values (400).
    ControlByte,
    /// The request line is not `method SP request-target SP HTTP-version` (400).
    MalformedRequestLine,
    /// The request target is not an origin-form path (`/…`) or an absolute
    /// `http`/`https` URI, or holds bytes outside visible ASCII (400).
    InvalidRequestTarget,
    /// The HTTP version is not of the form `HTTP/d.d` (400).
    InvalidHttpVersion,
    /// A well-formed HTTP version other than 1.1 or a later 1.x (505).
    UnsupportedHttpVersion,
    /// The method is not `GET` (405, answered with `Allow: GET`).
    MethodNotAllowed,
    /// A header line without a colon (400).
    MalformedHeaderLine,
    /// A header name that is empty or not an RFC 9110 token (400).
    InvalidHeaderName,
    /// Whitespace between a header name and its colon (RFC 9112 §5.1) (400).
    WhitespaceBeforeColon,
    /// A required header is missing (400). The context names it.
    MissingHeader(&'static str),
    /// A header that must appear once appeared more than once (400).
    DuplicateHeader(&'static str),
    /// A header value is malformed (400). The context names the header.
    InvalidHeaderValue(&'static str),
    /// `Upgrade` does not contain the token `websocket` (400).
    UpgradeNotWebSocket,
    /// `Connection` does not contain the token `Upgrade` (400).
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Key` is not the base64 encoding of 16 bytes (400).
    InvalidKey,
    /// No `Sec-WebSocket-Version` header (426).
    MissingVersion,
    /// `Sec-WebSocket-Version` is not 13 (426).
    UnsupportedVersion,
    /// A request in the 2010 hixie-76 draft dialect (`Sec-WebSocket-Key1`/`Key2`,
    /// no version): obsolete and unsafe, answered 426 naming version 13.
    LegacyHixie76,
    /// `Transfer-Encoding` or a non-zero `Content-Length` on the upgrade
    /// request: a body would be smuggled into the frame stream (400).
    RequestBody,
    /// The head did not arrive by the deadline the caller set (408). The
    /// handshake machines have no clock: the wrapper bounds the wait (a read
    /// timeout, a runtime timer) and answers with this error's response.
    Timeout,
}

impl HandshakeError {
    /// The most bytes [`write_response`](Self::write_response) writes for
    /// an error this crate reports: a buffer of this size always holds the
    /// answer.
    pub const MAX_RESPONSE_LEN: usize = 512;

    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        use HandshakeError::*;
        match self {
            HeadTooLarge | TooManyHeaders => 431,
            MethodNotAllowed => 405,
            Timeout => 408,
            MissingVersion | UnsupportedVersion | LegacyHixie76 => 426,
            UnsupportedHttpVersion => 505,
            _ => 400,
        }
    }

    /// Writes the complete HTTP answer for this error into `out`: status
    /// line, `Sec-WebSocket-Version: 13` and `Upgrade: websocket` for 426,
    /// `Allow: GET` for 405, `Connection: close` (with the `Upgrade` option
    /// for 426, as RFC 9110 §7.8 requires of a sender of `Upgrade`), and a
    /// `text/plain` body that says what was wrong ([`write_body`](Self::write_body)),
    /// so that someone who opens the address with curl or a browser reads
    /// why. A 405 has no body: the method may be `HEAD`.
    ///
    /// Returns the number of bytes written, at most
    /// [`MAX_RESPONSE_LEN`](Self::MAX_RESPONSE_LEN). On error nothing was
    /// written.
    ///
    /// ```
    /// use wsmachine::handshake::HandshakeError;
    ///
    /// let mut out = Vec::new();
    /// HandshakeError::MissingHeader("Upgrade").write_response(&mut out).unwrap();
    /// let answer = String::from_utf8(out).unwrap();
    /// assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    /// assert!(answer.contains("Connection: close\r\n\r\nmissing Upgrade header\n"));
    /// ```
    pub fn write_response<O: Output + ?Sized>(&self, out: &mut O) -> Result<usize, BufferTooSmall> {
        let status = self.status();
        let mut length = Length(0);
        let _ = self.write_body(&mut length);
        write_with(out, |w| {
            put_status_line(w, status);
            match status {
                426 => w.put(b"Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n"),
                405 => w.put(b"Allow: GET\r\n"),
                _ => {}
            }
            if length.0 > 0 {
                w.put(b"Content-Type: text/plain; charset=utf-8\r\n");
            }
            w.put(b"Content-Length: ");
            put_decimal(w, length.0 as u64);
            w.put(if status == 426 {
                b"\r\nConnection: Upgrade, close\r\n\r\n"
            } else {
                b"\r\nConnection: close\r\n\r\n"
            });
            if length.0 > 0 {
                let _ = self.write_body(&mut SinkText(w));
            }
        })
    }

    /// Writes the body of the answer to this error: what was wrong, on one
    /// line, and for a request with no `Upgrade` header (a browser or curl
    /// opening the address) a second line saying that it takes WebSocket
    /// clients. Nothing for a 405, whose method may be `HEAD`.
    pub fn write_body(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        if self.status() == 405 {
            return Ok(());
        }
        writeln!(out, "{self}")?;
        if *self == HandshakeError::MissingHeader("Upgrade") {
            out.write_str("This address takes WebSocket connections: open it with a WebSocket client.\n")?;
        }
        Ok(())
    }
}

/// Counts the bytes of text written to it.
struct Length(usize);

impl fmt::Write for Length {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

/// Text written into a head's sink.
struct SinkText<'w>(&'w mut dyn Sink);

impl fmt::Write for SinkText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put(s.as_bytes());
        Ok(())
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HandshakeError::*;
        match self {
            HeadTooLarge => f.write_str("handshake head exceeds the size limit"),
            TooManyHeaders => f.write_str("too many header lines in the handshake"),
            BareLf => f.write_str("bare LF line ending in the handshake (CRLF required)"),
            ObsFold => f.write_str("obsolete header line folding in the handshake"),
            ControlByte => f.write_str("control byte in the handshake head"),
            MalformedRequestLine => f.write_str("malformed request line"),
            InvalidRequestTarget => f.write_str("invalid request target"),
            InvalidHttpVersion => f.write_str("malformed HTTP version"),
            UnsupportedHttpVersion => f.write_str("unsupported HTTP version (HTTP/1.1 or a later 1.x required)"),
            MethodNotAllowed => f.write_str("method not allowed (GET required)"),
            MalformedHeaderLine => f.write_str("malformed header line (no colon)"),
            InvalidHeaderName => f.write_str("invalid header name"),
            WhitespaceBeforeColon => f.write_str("whitespace between header name and colon"),
            MissingHeader(h) => write!(f, "missing {h} header"),
            DuplicateHeader(h) => write!(f, "duplicate {h} header"),
            InvalidHeaderValue(h) => write!(f, "invalid {h} header value"),
            UpgradeNotWebSocket => f.write_str("Upgrade header does not contain \"websocket\""),
            ConnectionNotUpgrade => f.write_str("Connection header does not contain \"Upgrade\""),
            InvalidKey => f.write_str("Sec-WebSocket-Key is not the base64 encoding of 16 bytes"),
            MissingVersion => f.write_str("missing Sec-WebSocket-Version header (version 13 required)"),
            UnsupportedVersion => f.write_str("unsupported Sec-WebSocket-Version (version 13 required)"),
            LegacyHixie76 => f.write_str(
                "obsolete WebSocket draft (hixie-76, Sec-WebSocket-Key1/Key2) is not supported; \
                 version 13 (RFC 6455) is required",
            ),
            RequestBody => f.write_str("upgrade request carries a body (Transfer-Encoding or Content-Length)"),
            Timeout => f.write_str("the handshake head did not arrive in time"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}

/// An error in the server's answer (the response), found by
/// [`ClientHandshake`](super::ClientHandshake). The connection MUST be
/// failed (RFC 6455 §4.1); no answer is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The head is malformed or over a limit; the inner error says how
    /// (its HTTP status is meaningless on this side).
    Head(HandshakeError),
    /// The status line is not `HTTP/d.d SP 3DIGIT [SP reason]`.
    MalformedStatusLine,
    /// A well-formed HTTP version other than 1.1 or a later 1.x.
    UnsupportedHttpVersion,
    /// The status is not 101. The head is well-formed: the body, if any,
    /// follows it, from `consumed` in the input of the call that completed
    /// the head (RFC 6455 §4.1: handle it per HTTP, e.g. authenticate on
    /// 401 or follow a redirect on 3xx).
    UnexpectedStatus {
        /// The status code received.
        status: u16,
        /// Length of the response head, over all the reads it took.
        head_len: usize,
        /// How many bytes of the completing call's input were head; the
        /// body starts there.
        consumed: usize,
    },
    /// `Upgrade` is missing or does not contain `websocket`.
    UpgradeNotWebSocket,
    /// `Connection` is missing or does not contain `Upgrade`.
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Accept` is missing.
    MissingAccept,
    /// A header that must appear once appeared more than once.
    DuplicateHeader(&'static str),
    /// `Sec-WebSocket-Accept` does not match the key that was sent.
    AcceptMismatch,
    /// `Sec-WebSocket-Protocol` names a subprotocol that was not offered
    /// (or none was offered).
    ProtocolNotOffered,
    /// `Sec-WebSocket-Protocol` holds more than one value.
    MultipleProtocols,
    /// `Sec-WebSocket-Extensions` names an extension that was not offered.
    ExtensionNotOffered,
    /// `Sec-WebSocket-Extensions` is not a valid extension list.
    InvalidExtensions,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseError::*;
        match self {
            Head(e) => write!(f, "malformed handshake response: {e}"),
            MalformedStatusLine => f.write_str("malformed status line in the handshake response"),
            UnsupportedHttpVersion => f.write_str("unsupported HTTP version in the handshake response"),
            UnexpectedStatus { status, .. } => write!(f, "server answered {status} instead of 101"),
            UpgradeNotWebSocket => f.write_str("response Upgrade header does not contain \"websocket\""),
            ConnectionNotUpgrade => f.write_str("response Connection header does not contain \"Upgrade\""),
            MissingAccept => f.write_str("response lacks Sec-WebSocket-Accept"),
            DuplicateHeader(h) => write!(f, "duplicate {h} header in the handshake response"),
            AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match the key sent"),
            ProtocolNotOffered => f.write_str("server chose a subprotocol that was not offered"),
            MultipleProtocols => f.write_str("server chose more than one subprotocol"),
            ExtensionNotOffered => f.write_str("server chose an extension that was not offered"),
            InvalidExtensions => f.write_str("malformed Sec-WebSocket-Extensions in the handshake response"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ResponseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResponseError::Head(e) => Some(e),
            _ => None,
        }
    }
}

/// What is wrong with a `ws://` / `wss://` URL given to
/// [`ClientHandshake::new`](super::ClientHandshake::new).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws` or `wss`.
    UnsupportedScheme,
    /// The URL has userinfo (`user@host`); credentials belong in a header.
    Userinfo,
    /// The URL has a fragment (`#…`), which WebSocket URIs MUST NOT have (RFC 6455 §3).
    Fragment,
    /// The host is empty.
    EmptyHost,
    /// The host has characters a host name or IP literal cannot have.
    InvalidHost,
    /// The port is empty, not a number, zero or over 65535.
    InvalidPort,
    /// The path or query has bytes outside visible ASCII.
    InvalidPath,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::UnsupportedScheme => "URL scheme must be ws or wss",
            UrlError::Userinfo => "URL must not contain userinfo",
            UrlError::Fragment => "URL must not contain a fragment",
            UrlError::EmptyHost => "URL host is empty",
            UrlError::InvalidHost => "URL host is invalid",
            UrlError::InvalidPort => "URL port is invalid",
            UrlError::InvalidPath => "URL path or query has invalid characters",
        })
    }
}

/// A mistake by the caller of the handshake API (not the peer): the
/// destination buffer is too small, or an argument would produce an invalid
/// or unsafe handshake. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// The output buffer cannot hold the answer.
    BufferTooSmall(BufferTooSmall),
    /// The subprotocol to accept was not offered by the client.
    ProtocolNotOffered,
    /// The extensions answer names an extension the client did not offer.
    ExtensionNotOffered,
    /// An extensions string is not a valid `Sec-WebSocket-Extensions` list.
    InvalidExtensions,
    /// A subprotocol is not a token, or is offered twice.
    InvalidProtocol,
    /// A header name is not a token.
    InvalidHeaderName,
    /// A header value contains CR, LF, NUL or another control byte.
    InvalidHeaderValue,
    /// An extra header names one the handshake writes itself
    /// (`Upgrade`, `Connection`, `Sec-WebSocket-*`, `Host`, `Content-Length`,
    /// `Transfer-Encoding`).
    ReservedHeader,
    /// A rejection status outside 300–599.
    InvalidStatus,
    /// The URL given to the client is not a valid WebSocket URL.
    InvalidUrl(UrlError),
}

impl From<BufferTooSmall> for UsageError {
    fn from(e: BufferTooSmall) -> Self {
        UsageError::BufferTooSmall(e)
    }
}

impl From<UrlError> for UsageError {
    fn from(e: UrlError) -> Self {
        UsageError::InvalidUrl(e)
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::BufferTooSmall(e) => e.fmt(f),
            UsageError::ProtocolNotOffered => f.write_str("subprotocol to accept was not offered by the client"),
            UsageError::ExtensionNotOffered => f.write_str("extension in the answer was not offered by the client"),
            UsageError::InvalidExtensions => f.write_str("invalid Sec-WebSocket-Extensions value"),
            UsageError::InvalidProtocol => f.write_str("subprotocol is not a token or is repeated"),
            UsageError::InvalidHeaderName => f.write_str("header name is not a token"),
            UsageError::InvalidHeaderValue => f.write_str("header value contains a control byte"),
            UsageError::ReservedHeader => f.write_str("header is written by the handshake itself"),
            UsageError::InvalidStatus => f.write_str("rejection status must be in 300-599"),
            UsageError::InvalidUrl(e) => write!(f, "invalid WebSocket URL: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UsageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UsageError::BufferTooSmall(e) => Some(e),
            UsageError::InvalidUrl(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UrlError {}

#[cfg(test)]
mod tests {
    use super::HandshakeError::{self, *};

    #[test]
    fn every_answer_fits_the_documented_bound() {
        let fixed = [
            HeadTooLarge,
            TooManyHeaders,
            BareLf,
            ObsFold,
            ControlByte,
            MalformedRequestLine,
            InvalidRequestTarget,
            InvalidHttpVersion,
            UnsupportedHttpVersion,
            MethodNotAllowed,
            MalformedHeaderLine,
            InvalidHeaderName,
            WhitespaceBeforeColon,
            UpgradeNotWebSocket,
            ConnectionNotUpgrade,
            InvalidKey,
            MissingVersion,
            UnsupportedVersion,
            LegacyHixie76,
            RequestBody,
            Timeout,
        ];
        // The longest header names the crate reports.
        let named = ["Sec-WebSocket-Extensions", "Sec-WebSocket-Version", "Upgrade"]
            .into_iter()
            .flat_map(|name| [MissingHeader(name), DuplicateHeader(name), InvalidHeaderValue(name)]);
        for error in fixed.into_iter().chain(named) {
            let mut answer = [0u8; HandshakeError::MAX_RESPONSE_LEN];
            let written = error.write_response(&mut answer[..]);
            assert!(written.is_ok(), "{error:?}: {written:?}");
        }
    }
}
