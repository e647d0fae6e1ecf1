//! Writing HTTP heads: measure first, claim once, fill completely.

use crate::output::{claim, BufferTooSmall};
use crate::Output;

use super::error::UsageError;
use super::head::{is_field_value, is_token};

/// Where a head is written: first into a counter, then into the claimed region.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

struct Counter(usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
}

/// Invariant: `buf[..pos]` has been written; `pos <= buf.len()` as long as
/// the same bytes are put as were counted.
struct Filler<'o> {
    buf: &'o mut [u8],
    pos: usize,
}

impl Sink for Filler<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// Runs `emit` twice: once to measure, once to fill the region claimed from
/// `out`. `emit` MUST put the same bytes both times.
pub(crate) fn write_with<O, F>(out: &mut O, emit: F) -> Result<usize, BufferTooSmall>
where
    O: Output + ?Sized,
    F: Fn(&mut dyn Sink),
{
    let mut counter = Counter(0);
    emit(&mut counter);
    let len = counter.0;
    if len == usize::MAX {
        return Err(BufferTooSmall { needed: len });
    }
    let region = claim(out, len)?;
    let mut filler = Filler { buf: region, pos: 0 };
    emit(&mut filler);
    Ok(len)
}

/// Puts `n` in decimal.
pub(crate) fn put_decimal(w: &mut dyn Sink, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    w.put(digits.get(i..).unwrap_or(&[]));
}

/// The reason phrase for common statuses; empty (which HTTP allows) otherwise.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// `HTTP/1.1 <status> <reason>\r\n`.
pub(crate) fn put_status_line(w: &mut dyn Sink, status: u16) {
    w.put(b"HTTP/1.1 ");
    put_decimal(w, u64::from(status));
    w.put(b" ");
    w.put(reason_phrase(status).as_bytes());
    w.put(b"\r\n");
}

/// `name: value\r\n`.
pub(crate) fn put_header(w: &mut dyn Sink, name: &str, value: &[u8]) {
    w.put(name.as_bytes());
    w.put(b": ");
    w.put(value);
    w.put(b"\r\n");
}

/// Headers the handshake writers produce themselves; a caller-supplied copy
/// would duplicate or contradict them.
const RESERVED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "host",
    "content-length",
    "transfer-encoding",
];

/// Checks caller-supplied extra headers: token names, values without
/// control bytes (HTAB allowed), no header the writer emits itself.
pub(crate) fn check_extra_headers(headers: &[(&str, &str)]) -> Result<(), UsageError> {
    for (name, value) in headers {
        if !is_token(name.as_bytes()) {
            return Err(UsageError::InvalidHeaderName);
        }
        if !is_field_value(value.as_bytes()) {
            return Err(UsageError::InvalidHeaderValue);
        }
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(UsageError::ReservedHeader);
        }
    }
    Ok(())
}

/// A refusal of the handshake: any HTTP status from 300 to 599 with extra
/// headers and an optional body (RFC 6455 §4.2.2 steps 2–4: 401 with
/// `WWW-Authenticate`, a 3xx redirect, 403 for an unwanted `Origin`, 404
/// for an unknown resource…).
///
/// ```
/// use wsmachine::handshake::Reject;
/// let mut out = [0u8; 256];
/// let n = Reject { status: 403, extra_headers: &[("Server", "demo")], body: b"no" }.write(&mut out[..])?;
/// assert_eq!(
///     &out[..n],
///     b"HTTP/1.1 403 Forbidden\r\nServer: demo\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
/// );
/// # Ok::<(), wsmachine::handshake::UsageError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Reject<'a> {
    /// The status code, 300–599.
    pub status: u16,
    /// Extra headers written after the status line, in order. Names must be
    /// tokens, values free of control bytes, and none of `Content-Length`,
    /// `Connection`, `Transfer-Encoding`, `Upgrade`, `Host`, `Sec-WebSocket-*`.
    pub extra_headers: &'a [(&'a str, &'a str)],
    /// The body, possibly empty. Its length is sent as `Content-Length`.
    pub body: &'a [u8],
}

impl Reject<'_> {
    /// Writes the response: status line, extra headers, `Content-Length`,
    /// `Connection: close`, blank line, body. Returns the bytes written; on
    /// error nothing was written. The caller SHOULD close the connection
    /// after sending it.
    pub fn write<O: Output + ?Sized>(&self, out: &mut O) -> Result<usize, UsageError> {
        if !(300..=599).contains(&self.status) {
            return Err(UsageError::InvalidStatus);
        }
        write_closing_answer(self.status, self.extra_headers, self.body, out)
    }
}

/// Writes an answer after which the connection closes: status line, extra
/// headers (checked), `Content-Length`, `Connection: close`, blank line,
/// body. The caller checks that the status fits the answer. On error
/// nothing was written.
pub(crate) fn write_closing_answer<O: Output + ?Sized>(
    status: u16,
    extra_headers: &[(&str, &str)],
    body: &[u8],
    out: &mut O,
) -> Result<usize, UsageError> {
    check_extra_headers(extra_headers)?;
    let n = write_with(out, |w| {
        put_status_line(w, status);
        for (name, value) in extra_headers {
            put_header(w, name, value.as_bytes());
        }
        w.put(b"Content-Length: ");
        put_decimal(w, body.len() as u64);
        w.put(b"\r\nConnection: close\r\n\r\n");
        w.put(body);
    })?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_edges() {
        for (n, s) in [(0u64, "0"), (7, "7"), (10, "10"), (65535, "65535"), (u64::MAX, "18446744073709551615")] {
            let mut buf = [0u8; 32];
            let len = write_with(&mut buf[..], |w| put_decimal(w, n)).unwrap();
            assert_eq!(&buf[..len], s.as_bytes());
        }
    }

    #[test]
    fn too_small_writes_nothing() {
        let mut buf = [0xAAu8; 10];
        let r = Reject { status: 404, extra_headers: &[], body: b"" }.write(&mut buf[..]);
        assert!(matches!(r, Err(UsageError::BufferTooSmall(BufferTooSmall { .. }))));
        assert_eq!(buf, [0xAA; 10]);
    }

    #[test]
    fn reject_checks_arguments() {
        let mut buf = [0u8; 256];
        let r = Reject { status: 101, extra_headers: &[], body: b"" }.write(&mut buf[..]);
        assert_eq!(r, Err(UsageError::InvalidStatus));
        let r = Reject { status: 400, extra_headers: &[("X-A", "b\r\nInjected: 1")], body: b"" }.write(&mut buf[..]);
        assert_eq!(r, Err(UsageError::InvalidHeaderValue));
        let r = Reject { status: 400, extra_headers: &[("X A", "b")], body: b"" }.write(&mut buf[..]);
        assert_eq!(r, Err(UsageError::InvalidHeaderName));
        let r = Reject { status: 400, extra_headers: &[("content-length", "5")], body: b"" }.write(&mut buf[..]);
        assert_eq!(r, Err(UsageError::ReservedHeader));
    }
}
