//! A WebSocket echo server on tokio: many connections on one multi-threaded
//! runtime, the same behaviour and command line as `echo_server`.
//!
//! ```sh
//! cargo run --release --example tokio_echo -- 127.0.0.1:9002
//! ```
//!
//! Every text and binary message is sent back unchanged, pings are answered
//! and closes completed (with the peer's code and reason), on any path. A
//! plain `GET /` (no Upgrade) gets the page that opens `new WebSocket(...)`
//! to this server: open <http://127.0.0.1:9002/> in a browser; a plain GET
//! on another path gets a short page saying this is a WebSocket endpoint. Pass `127.0.0.1:0` for a free port;
//! the first line printed names the address.
//!
//! wsmachine itself knows nothing of tokio. [`run`] is all a runtime needs:
//! read into a buffer, feed it, write what the machine produced (awaiting the
//! write before reading again is the backpressure), sleep until the
//! machine's next deadline or the next read, whichever comes first, and
//! close the transport when the machine says so.
//!
//! Timers, as in `echo_server`: a request head must arrive within 10 s
//! (else 408); a connection quiet for 20 s gets a Ping, and one that stays
//! quiet 20 s more is dropped (Close 1011 "keepalive ping timeout"); a Close
//! we send waits 10 s at most for its answer.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsmachine::handshake::{Accept, Header, ServerHandshake, Status, DEFAULT_MAX_HEADERS};
use wsmachine::{Config, Connection, Event, HandshakeError, Instant, Message, MessageAssembler};

/// The page served on `GET /`, shared with `echo_server`.
const PAGE: &str = include_str!("echo_page.html");

/// The page a plain GET gets on any path but `/`.
const ENDPOINT_PAGE: &str = include_str!("endpoint_page.html");

/// How long to keep reading after our side of the transport is shut down.
const LINGER: Duration = Duration::from_secs(2);

/// How long a client may take to send its request head (then 408).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections' limits and timers: the defaults, plus keepalive and a
/// close timeout.
pub fn config() -> Config {
    Config {
        ping_interval: Some(Duration::from_secs(20)),
        ping_timeout: Some(Duration::from_secs(20)),
        close_timeout: Some(Duration::from_secs(10)),
        ..Config::default()
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("tokio_echo listening on ws://{}/ (page at http://{0}/)", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = handle(stream).await {
                eprintln!("connection ended with an error: {e}");
            }
        });
    }
}

/// One connection: the handshake (or the page), then the echo loop.
async fn handle(stream: TcpStream) -> io::Result<()> {
    handle_with(stream, config()).await
}

/// [`handle`] with the given limits and timers.
pub async fn handle_with(mut stream: TcpStream, config: Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let Ok(handshake) = tokio::time::timeout(HANDSHAKE_TIMEOUT, server_handshake(&mut stream)).await else {
        // The machine has no clock: the deadline is ours, answered with 408.
        let mut out = Vec::new();
        HandshakeError::Timeout.write_response(&mut out).map_err(io_error)?;
        return stream.write_all(&out).await;
    };
    match handshake? {
        Some(leftover) => run(stream, Connection::server(config), leftover).await,
        None => Ok(()),
    }
}

/// Reads the request and answers it: 101 for a valid upgrade (returning the
/// bytes that followed the head), for a plain GET without any WebSocket
/// header the page on `/` and a short "this is a WebSocket endpoint" page
/// elsewhere, the error's own status otherwise.
pub async fn server_handshake(stream: &mut (impl AsyncRead + AsyncWrite + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut machine = ServerHandshake::default();
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        // Only the bytes of this read: the machine keeps the head it has seen.
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        match machine.receive(&buf[..n], &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(request)) => {
                // No subprotocol and no extension: permessage-deflate offers
                // (browsers, Python websockets) are declined by not answering them.
                let accept = Accept { extra_headers: &[("Server", "wsmachine-tokio")], ..Accept::default() };
                request.accept(&accept, &mut out).map_err(io_error)?;
                stream.write_all(&out).await?;
                return Ok(Some(buf[request.consumed()..n].to_vec()));
            }
            Err(e) => {
                // On this error the request's header lines are in `headers`.
                if e == HandshakeError::MissingHeader("Upgrade") && is_plain_http(&headers) {
                    let body = if is_root(machine.head()) { PAGE } else { ENDPOINT_PAGE };
                    stream.write_all(&plain_http_answer(body.as_bytes())).await?;
                } else {
                    e.write_response(&mut out).map_err(io_error)?;
                    stream.write_all(&out).await?;
                }
                return Ok(None);
            }
        }
    }
}

/// The runtime wrapper: the whole of what tokio adds to the machine.
pub async fn run(mut stream: TcpStream, mut conn: Connection, mut leftover: Vec<u8>) -> io::Result<()> {
    let mut assembler = MessageAssembler::new(conn.config().max_message_size);
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = Vec::new();
    let mut input: &mut [u8] = &mut leftover; // bytes that came with the handshake come first
    let epoch = tokio::time::Instant::now();
    let now = || Instant::from_duration(epoch.elapsed());
    loop {
        feed(&mut conn, &mut assembler, input, &mut out);
        conn.handle_timeout(now()); // keepalive Ping, dead peer, close timeout
        let _ = conn.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?; // backpressure: no new read until this is written
            out.clear();
        }
        if conn.should_close_transport() {
            // Closes after both Close frames (or a failure's): our side ends,
            // and what the peer still sends is read and dropped until it
            // closes too, so no reset throws our Close away.
            stream.shutdown().await?;
            let _ =
                tokio::time::timeout(LINGER, async { while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {} })
                    .await;
            return Ok(());
        }
        let deadline = conn.poll_timeout().map(|at| epoch + at.as_duration());
        let n = tokio::select! {
            read = stream.read(&mut buf) => read?,
            _ = tokio::time::sleep_until(deadline.unwrap_or(epoch)), if deadline.is_some() => {
                input = &mut [];
                continue; // handle_timeout runs at the top of the next turn
            }
        };
        if n == 0 {
            conn.receive_eof(); // the peer vanished: a 1006 Close event
            return Ok(());
        }
        input = &mut buf[..n];
    }
}

/// Feeds one read to the machine, echoing each whole message into `out` and
/// draining automatic replies (pongs, the Close echo) after every event.
fn feed(conn: &mut Connection, assembler: &mut MessageAssembler, input: &mut [u8], out: &mut Vec<u8>) {
    let mut pos = 0;
    while pos < input.len() {
        let received = match conn.receive(&mut input[pos..]) {
            Ok(received) => received,
            Err(_) => break, // a protocol error: its Close is queued below
        };
        pos += received.consumed;
        let Some(event) = received.event else { continue };
        // A send fails only once the connection is closing, when the echo is moot.
        let _ = match assembler.push(&event) {
            Ok(Some(Message::Text(text))) => conn.send_text(&text, out),
            Ok(Some(Message::Binary(data))) => conn.send_binary(&data, out),
            Ok(None) => Ok(0),
            Err(e) => {
                // Over the assembler's limit: fail the connection with 1009.
                let _ = conn.send_close(e.close_code(), "", out);
                break;
            }
        };
        if let Event::Close(frame) = &event {
            // Echo the code and the reason (the automatic answer is then not sent).
            let _ = conn.send_close(frame.code(), frame.reason(), out);
        }
        let _ = conn.poll_transmit(out);
        if matches!(event, Event::Close(_)) {
            break;
        }
    }
    let _ = conn.poll_transmit(out); // the Close a failure queued, if any
}

/// Whether a GET that lacks `Upgrade` carries no other sign of a WebSocket
/// handshake either (no `Sec-WebSocket-*` header, `Connection` without
/// `upgrade`): a browser or curl asking for a page, not a broken client.
/// `headers` holds the request's header lines, as the machine left them.
fn is_plain_http(headers: &[Header<'_>]) -> bool {
    headers.iter().take_while(|h| !h.name.is_empty()).all(|h| {
        let name = h.name.to_ascii_lowercase();
        let upgrade_token = name == "connection"
            && h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
        !name.starts_with("sec-websocket-") && !upgrade_token
    })
}

/// Whether the request line in `head` asks for `/` (with or without a query).
fn is_root(head: &[u8]) -> bool {
    let target = head.split(|&b| b == b' ').nth(1).unwrap_or(b"");
    target == b"/" || target.starts_with(b"/?")
}

/// A `200 OK` HTML answer that closes the connection.
fn plain_http_answer(body: &[u8]) -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}
