//! The server handshakes that the `handshake` bench times and the
//! `handshake_instructions` example counts, shared so that both measure
//! the same code: a browser-like request, the httparse floor and
//! wsmachine's `ServerHandshake` with either head storage.

use base64::Engine as _;
use wsmachine::handshake::{Accept, HandshakeConfig, HeadBuffer, Header, ServerHandshake, Status, DEFAULT_MAX_HEADERS};

/// A request modelled on what Chromium sends (its headers, in its order,
/// with a cookie), carrying the RFC 6455 §1.3 example key.
pub const REQUEST: &[u8] = b"GET /chat?room=lobby HTTP/1.1\r\n\
Host: example.com:8000\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://example.com:8000\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n\
Cookie: session=2f1c9a7e4b3d8a6f0e5c1b9d7a3f6e2c; theme=dark\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

/// The answer to [`REQUEST`]'s key (RFC 6455 §1.3).
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// RFC 6455 §1.3.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether a comma-separated header value lists `token` (any case).
fn lists_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The floor: parse with httparse (into as many header slots as wsmachine
/// is given), check what §4.2.1 requires, hash the key
/// and write the 101 answer into `out`. Returns the answer's length.
pub fn httparse_floor(request: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; DEFAULT_MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    if !req.parse(request).ok()?.is_complete() || req.method != Some("GET") || req.version != Some(1) {
        return None;
    }
    let (mut key, mut upgrade, mut connection, mut version, mut host) = (None, false, false, false, false);
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"sec-websocket-key") {
            key = Some(h.value);
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade = lists_token(h.value, b"websocket");
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection = lists_token(h.value, b"upgrade");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-version") {
            version = h.value == b"13";
        } else if name.eq_ignore_ascii_case(b"host") {
            host = true;
        }
    }
    let key = key.filter(|k| k.len() == 24)?;
    if !(upgrade && connection && version && host) {
        return None;
    }
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut accept = [0u8; 28];
    base64::engine::general_purpose::STANDARD.encode_slice(sha.digest().bytes(), &mut accept).ok()?;
    let parts: [&[u8]; 3] = [
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        &accept,
        b"\r\n\r\n",
    ];
    let mut n = 0;
    for part in parts {
        out.get_mut(n..n + part.len())?.copy_from_slice(part);
        n += part.len();
    }
    Some(n)
}

/// wsmachine's server handshake: parse and validate `request` with
/// [`ServerHandshake`], accept it and write the 101 answer into `out`;
/// returns the answer's length.
pub fn wsmachine_accept(request: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut server = ServerHandshake::default();
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    match server.receive(request, &mut headers).ok()? {
        Status::Complete(req) => req.accept(&Accept::default(), out).ok(),
        Status::Partial => None,
    }
}

/// As [`wsmachine_accept`], keeping the head in a [`HeadBuffer`] that grows
/// to it (as `ServerStart` and the adapters do): an allocation instead of
/// zeroing an 8 KiB array.
pub fn wsmachine_accept_head_buffer(request: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut server = ServerHandshake::with_storage(HandshakeConfig::new(), HeadBuffer::new());
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    match server.receive(request, &mut headers).ok()? {
        Status::Complete(req) => req.accept(&Accept::default(), out).ok(),
        Status::Partial => None,
    }
}
