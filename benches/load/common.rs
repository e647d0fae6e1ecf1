//! What the load test's programs share: the command line's address, the
//! runtime, and the opening handshake done by hand where a library leaves
//! it to the application (fastwebsockets, and the load generator's bare
//! sockets, which must not spend their core on a WebSocket library).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// RFC 6455 §1.3: appended to the client's key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC11B85";

/// The request every client of the load test sends (the RFC 6455 §1.3 key).
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The address to listen on, the first argument (`127.0.0.1:0`, any free
/// port, when missing).
pub fn address() -> String {
    std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into())
}

/// Tells the driver script where the server listens: `listening on ADDR`,
/// the first line on stdout.
pub fn listening(addr: std::net::SocketAddr) {
    use std::io::Write;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {addr}");
    let _ = stdout.flush();
}

/// A current-thread runtime: one server, one core, as the peers publish
/// their figures.
pub fn current_thread() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    use base64::Engine as _;
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha1.digest().bytes())
}

/// The server's half of the opening handshake, as fastwebsockets' README
/// leaves it to the application: reads the request head, answers 101.
/// The client of this test sends nothing before the answer, so no frame
/// bytes can be left over after the head.
pub async fn server_handshake(tcp: &mut TcpStream) -> io::Result<()> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let end = loop {
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if head.len() > 8192 {
            return Err(invalid("request head too long"));
        }
    };
    if end != head.len() {
        return Err(invalid("bytes after the request head"));
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(&head).map_err(|_| invalid("malformed request"))?;
    let key = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .ok_or_else(|| invalid("no Sec-WebSocket-Key"))?
        .value;
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    tcp.write_all(answer.as_bytes()).await
}

/// The client's half over a bare socket: sends `request`, reads the answer
/// head and checks its status. The servers send nothing after the 101
/// until they get a frame, so the head ends the read.
pub async fn client_handshake(tcp: &mut TcpStream, request: &[u8]) -> io::Result<()> {
    tcp.write_all(request).await?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let text = String::from_utf8_lossy(&head).into_owned();
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("refused: {text}")));
    }
    Ok(())
}
