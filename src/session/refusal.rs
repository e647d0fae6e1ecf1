//! The server's answer when it does not accept a client's upgrade: its
//! status, headers and the start of its body, kept so that the client can
//! follow a redirect, read `WWW-Authenticate` or `Retry-After`, or show
//! the page the server sent.

use alloc::string::String;
use alloc::vec::Vec;

use crate::handshake::Header;

/// The server refused the upgrade: it answered a status other than `101`
/// (HTTP/1.1), or outside 200–299 (an extended CONNECT over HTTP/2 or
/// HTTP/3). The adapters return it as `Error::Refused`.
///
/// The body is what the server sent of it within the handshake's limits:
/// at most
/// [`HandshakeConfig::max_head_len`](crate::handshake::HandshakeConfig::max_head_len)
/// bytes, and what arrived before the handshake timeout. Over HTTP/1.1 it
/// is delimited as HTTP says: by its `Content-Length`, else by the end of
/// the connection; none for 1xx, 204 and 304. A body in a transfer coding
/// (chunked) is not decoded: it holds the bytes that came with the head,
/// as sent.
///
/// ```
/// use wsmachine::Refusal;
/// let refusal = Refusal {
///     status: 302,
///     headers: vec![("Location".into(), "wss://example.com/chat".into())],
///     body: Vec::new(),
/// };
/// assert_eq!(refusal.header("location"), Some("wss://example.com/chat"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status the server answered.
    pub status: u16,
    /// The header lines, in order, names as sent. A value that is not
    /// UTF-8 (HTTP allows other bytes) has them replaced with U+FFFD.
    pub headers: Vec<(String, String)>,
    /// The body, or as much of it as was kept (see above).
    pub body: Vec<u8>,
}

impl Refusal {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A refusal read from an HTTP/1.1 head's header lines (the array the
    /// handshake filled, which ends at the first empty name).
    pub(crate) fn from_head(status: u16, headers: &[Header<'_>]) -> Self {
        let headers = headers
            .iter()
            .take_while(|h| !h.name.is_empty())
            .map(|h| (String::from(h.name), String::from_utf8_lossy(h.value).into_owned()))
            .collect();
        Refusal { status, headers, body: Vec::new() }
    }

    /// How the body is delimited (RFC 9112 §6.3).
    pub(crate) fn framing(&self) -> Framing {
        if matches!(self.status, 100..=199 | 204 | 304) {
            return Framing::Empty;
        }
        if self.header("transfer-encoding").is_some() {
            return Framing::AsSent;
        }
        match self.header("content-length").map(str::parse) {
            Some(Ok(length)) => Framing::Length(length),
            _ => Framing::UntilEnd,
        }
    }
}

/// How a refusal's body is delimited, and so how much of it to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body: 1xx, 204 and 304.
    Empty,
    /// `Content-Length` bytes.
    Length(usize),
    /// A transfer coding (chunked): not decoded, so the bytes that came
    /// with the head are kept as sent, without waiting for more.
    AsSent,
    /// No length: the body ends with the connection.
    UntilEnd,
}
