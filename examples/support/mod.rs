//! What the std examples share: the opening handshake over a blocking
//! `TcpStream` on either side, and the receive loop. Each example includes
//! this file with `mod support;`.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use wsmachine::handshake::{
    Accept, ClientHandshake, ClientOptions, Header, ServerHandshake, Status, DEFAULT_MAX_HEADERS,
};
use wsmachine::{Config, Connection, Event, HandshakeError, Message, MessageAssembler, ProtocolError, SecureRandom};

/// Any displayable error as an `io::Error`.
pub fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// How a server-side handshake ended.
pub enum Upgrade {
    /// A WebSocket connection, with the bytes that followed the request.
    WebSocket { conn: Box<Connection>, leftover: Vec<u8> },
    /// A plain HTTP request that was answered (the page, or an error).
    Answered,
}

/// Reads the client's request and answers it: the 101 for a valid
/// WebSocket upgrade, `page` with 200 for a plain `GET /`, the error's own
/// status (400, 405, 426, 431…) for anything else.
pub fn server_handshake(stream: &mut TcpStream, config: Config, page: &[u8]) -> io::Result<Upgrade> {
    let mut machine = ServerHandshake::default();
    let mut buf = vec![0u8; machine.config().max_head_len];
    let mut n = 0;
    let mut out = Vec::new();
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    loop {
        let read = stream.read(&mut buf[n..])?;
        if read == 0 {
            return Ok(Upgrade::Answered);
        }
        n += read;
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        match machine.receive(&buf[..n], &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(request)) => {
                // No subprotocol and no extension: permessage-deflate offers
                // from browsers are declined by not answering them.
                request
                    .accept(&Accept { extra_headers: &[("Server", "wsmachine")], ..Accept::default() }, &mut out)
                    .map_err(io_error)?;
                stream.write_all(&out)?;
                stream.set_read_timeout(None)?;
                let leftover = buf[request.head_len()..n].to_vec();
                return Ok(Upgrade::WebSocket { conn: Box::new(Connection::server(config)), leftover });
            }
            Err(HandshakeError::MissingHeader("Upgrade"))
                if buf.starts_with(b"GET / ") || buf.starts_with(b"GET /?") =>
            {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    page.len()
                );
                stream.write_all(head.as_bytes())?;
                stream.write_all(page)?;
                return Ok(Upgrade::Answered);
            }
            Err(e) => {
                e.write_response(&mut out).map_err(io_error)?;
                stream.write_all(&out)?;
                return Ok(Upgrade::Answered);
            }
        }
    }
}

/// Connects to a `ws://` URL and performs the client handshake. Returns the
/// stream, the connection and the bytes that followed the server's answer.
pub fn client_handshake(url: &str, protocols: &[&str]) -> io::Result<(TcpStream, Connection, Vec<u8>)> {
    let mut rng = SecureRandom::from_os().map_err(io_error)?;
    let options = ClientOptions { protocols, ..ClientOptions::default() };
    let mut machine = ClientHandshake::new(url, options, &mut rng).map_err(io_error)?;
    if machine.is_secure() {
        return Err(io_error("wss:// needs TLS, which these examples do not include"));
    }
    let mut stream = TcpStream::connect((machine.host(), machine.port()))?;
    stream.set_nodelay(true)?;
    let mut request = Vec::new();
    machine.write_request(&mut request).map_err(io_error)?;
    stream.write_all(&request)?;

    let mut buf = vec![0u8; 16 * 1024];
    let mut n = 0;
    loop {
        let read = stream.read(&mut buf[n..])?;
        if read == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed during the handshake"));
        }
        n += read;
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        match machine.receive(&buf[..n], &mut headers).map_err(io_error)? {
            Status::Partial => continue,
            Status::Complete(response) => {
                let leftover = buf[response.head_len()..n].to_vec();
                let conn = Connection::client(Config::default(), rng);
                return Ok((stream, conn, leftover));
            }
        }
    }
}

/// What the receive loop reports to its caller.
pub enum Incoming {
    /// A whole message.
    Message(Message),
    /// The peer's Close frame or the end of the transport.
    Closed { code: u16, reason: String },
    /// The peer broke the protocol; the Close with the error's code was sent.
    Failed(ProtocolError),
}

/// Feeds `input` to `conn`, calling `on_message` for each whole message and
/// writing the connection's automatic replies (and whatever `on_message`
/// sends) to `out` after every event, so each ping gets its pong in order.
pub fn feed(
    conn: &mut Connection,
    assembler: &mut MessageAssembler,
    input: &mut [u8],
    out: &mut Vec<u8>,
    mut on_message: impl FnMut(&mut Connection, Incoming, &mut Vec<u8>),
) {
    let mut pos = 0;
    while pos < input.len() {
        let received = match conn.receive(&mut input[pos..]) {
            Ok(received) => received,
            Err(e) => {
                let _ = conn.poll_transmit(out);
                on_message(conn, Incoming::Failed(e), out);
                return;
            }
        };
        pos += received.consumed;
        let Some(event) = received.event else { continue };
        match assembler.push(&event) {
            Ok(Some(message)) => on_message(conn, Incoming::Message(message), out),
            Ok(None) => {}
            Err(e) => on_message(conn, Incoming::Failed(e), out),
        }
        if let Event::Close(frame) = event {
            on_message(conn, Incoming::Closed { code: frame.code().0, reason: frame.reason().to_string() }, out);
        }
        let _ = conn.poll_transmit(out);
    }
}

/// Serves one upgraded connection: every text and binary message is sent
/// back unchanged, pings are answered, closes are completed.
pub fn echo(mut stream: TcpStream, mut conn: Connection, mut leftover: Vec<u8>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut assembler = MessageAssembler::new(conn.config().max_message_size);
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = Vec::new();
    let mut input: &mut [u8] = &mut leftover;
    loop {
        feed(&mut conn, &mut assembler, input, &mut out, |conn, incoming, out| {
            // A send fails only once the connection is closing, when the echo is moot.
            let _ = match incoming {
                Incoming::Message(Message::Text(text)) => conn.send_text(&text, out),
                Incoming::Message(Message::Binary(data)) => conn.send_binary(&data, out),
                Incoming::Closed { .. } | Incoming::Failed(_) => Ok(0),
            };
        });
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if conn.should_close_transport() {
            return Ok(());
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            conn.receive_eof();
            return Ok(());
        }
        input = &mut buf[..n];
    }
}
