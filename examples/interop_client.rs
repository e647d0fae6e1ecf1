//! Runs a fixed script of exchanges against a WebSocket echo server and
//! prints one line per exchange: `ok NAME` or `FAIL NAME: why`. Used by
//! `interop/run.py` against other implementations' echo servers.
//!
//! ```sh
//! cargo run --release --example interop_client -- ws://127.0.0.1:9001/ [--no-server-close]
//! ```
//!
//! On one connection: text, binary, empty text and binary, binary messages
//! of 125, 126, 65535, 65536 bytes and 16 MiB, a fragmented text message
//! (a character split across fragments), a fragmented binary message with a
//! ping between its fragments, a ping with a payload expecting its pong, and
//! a close with code 4001 and a reason, expecting the server to echo the
//! code (`close-by-client`). Then, unless `--no-server-close`, on a second
//! connection it sends the text `close-me 4002 server says bye` and expects
//! the server to close with that code and reason (`close-by-server`): the
//! interop echo servers in `interop/` implement that command; plain echo
//! servers (such as `echo_server`) do not.
//!
//! Exits 0 when every exchange passed. Each exchange has a 20 s deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wsmachine::{CloseCode, Connection, Event, Message, MessageAssembler, MessageKind};

mod support;

/// How long one exchange may take.
const DEADLINE: Duration = Duration::from_secs(20);

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001/".to_string());
    let server_close = !args.any(|a| a == "--no-server-close");
    let mut failed = 0;
    let mut report = |name: &str, result: Result<(), String>| match result {
        Ok(()) => println!("ok {name}"),
        Err(why) => {
            failed += 1;
            println!("FAIL {name}: {why}");
        }
    };

    match Client::connect(&url) {
        Ok(mut client) => {
            for (name, exchange) in exchanges() {
                let result = exchange(&mut client);
                report(name, result);
            }
        }
        Err(e) => report("connect", Err(e.to_string())),
    }
    if server_close {
        let result = Client::connect(&url).map_err(|e| e.to_string()).and_then(|mut c| close_by_server(&mut c));
        report("close-by-server", result);
    }
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

type Exchange = fn(&mut Client) -> Result<(), String>;

/// The exchanges on the first connection, in order.
fn exchanges() -> Vec<(&'static str, Exchange)> {
    vec![
        ("text", |c| c.echo_text("hello from wsmachine, κόσμε 🌍")),
        ("binary", |c| c.echo_binary(&pattern(256))),
        ("empty-text", |c| c.echo_text("")),
        ("empty-binary", |c| c.echo_binary(&[])),
        ("size-125", |c| c.echo_binary(&pattern(125))),
        ("size-126", |c| c.echo_binary(&pattern(126))),
        ("size-65535", |c| c.echo_binary(&pattern(65535))),
        ("size-65536", |c| c.echo_binary(&pattern(65536))),
        ("size-16MiB", |c| c.echo_binary(&pattern(16 << 20))),
        ("fragmented-text", fragmented_text),
        ("fragmented-binary-with-ping", fragmented_binary),
        ("ping", ping),
        ("close-by-client", close_by_client),
    ]
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A text whose second character ("ό") is split across two of three frames.
fn fragmented_text(c: &mut Client) -> Result<(), String> {
    let text = "fragments: κόσμε";
    let bytes = text.as_bytes();
    let cut = bytes.len() - 7; // inside the two-byte "ό"
    c.send(|conn, out| conn.send_fragment(MessageKind::Text, &bytes[..11], false, out))?;
    c.send(|conn, out| conn.send_fragment(MessageKind::Text, &bytes[11..cut], false, out))?;
    c.send(|conn, out| conn.send_fragment(MessageKind::Text, &bytes[cut..], true, out))?;
    c.expect_message(&Message::Text(text.into()))
}

/// Three binary fragments with a ping between the first two.
fn fragmented_binary(c: &mut Client) -> Result<(), String> {
    let data = pattern(3000);
    c.send(|conn, out| conn.send_fragment(MessageKind::Binary, &data[..1000], false, out))?;
    c.send(|conn, out| conn.send_ping(b"between fragments", out))?;
    c.send(|conn, out| conn.send_fragment(MessageKind::Binary, &data[1000..2000], false, out))?;
    c.send(|conn, out| conn.send_fragment(MessageKind::Binary, &data[2000..], true, out))?;
    let (mut pong, mut message) = (false, false);
    let deadline = Instant::now() + DEADLINE;
    while !(pong && message) {
        match c.next(deadline)? {
            Got::Pong(p) if p == b"between fragments" => pong = true,
            Got::Message(Message::Binary(got)) if got == data => message = true,
            other => return Err(format!("unexpected {other}")),
        }
    }
    Ok(())
}

fn ping(c: &mut Client) -> Result<(), String> {
    let payload = b"ping payload \x00\xff 123";
    c.send(|conn, out| conn.send_ping(payload, out))?;
    match c.next(Instant::now() + DEADLINE)? {
        Got::Pong(p) if p == payload => Ok(()),
        other => Err(format!("expected the pong, got {other}")),
    }
}

fn close_by_client(c: &mut Client) -> Result<(), String> {
    c.send(|conn, out| conn.send_close(CloseCode(4001), "client says bye", out))?;
    match c.next(Instant::now() + DEADLINE)? {
        Got::Close(4001, _) => c.wait_for_transport_close(),
        other => Err(format!("expected the server to echo Close 4001, got {other}")),
    }
}

fn close_by_server(c: &mut Client) -> Result<(), String> {
    c.send(|conn, out| conn.send_text("close-me 4002 server says bye", out))?;
    match c.next(Instant::now() + DEADLINE)? {
        Got::Close(4002, reason) if reason == "server says bye" => {
            // Our echo of the Close was written after the event; the server
            // now closes the transport.
            c.wait_for_transport_close()
        }
        other => Err(format!("expected Close 4002 \"server says bye\", got {other}")),
    }
}

/// What the client saw.
enum Got {
    Message(Message),
    Pong(Vec<u8>),
    Close(u16, String),
}

impl std::fmt::Display for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Message(Message::Text(t)) if t.len() > 40 => write!(f, "a text message of {} bytes", t.len()),
            Got::Message(Message::Text(t)) => write!(f, "text {t:?}"),
            Got::Message(Message::Binary(b)) => write!(f, "a binary message of {} bytes", b.len()),
            Got::Pong(p) => write!(f, "a pong {p:?}"),
            Got::Close(code, reason) => write!(f, "Close {code} {reason:?}"),
        }
    }
}

struct Client {
    stream: TcpStream,
    conn: Connection,
    assembler: MessageAssembler,
    /// `buf[pos..len]` was read and not yet fed.
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    out: Vec<u8>,
}

impl Client {
    /// Connects and completes the opening handshake (`support::client_handshake`);
    /// frames the server sent right behind its 101 are fed first.
    fn connect(url: &str) -> io::Result<Client> {
        let (stream, conn, leftover) = support::client_handshake(url, &[])?;
        stream.set_read_timeout(Some(DEADLINE))?;
        let mut buf = vec![0u8; 256 * 1024];
        let len = leftover.len();
        buf[..len].copy_from_slice(&leftover);
        let assembler = MessageAssembler::new(conn.config().max_message_size);
        Ok(Client { stream, conn, assembler, buf, pos: 0, len, out: Vec::new() })
    }

    /// Writes one frame produced by `send`.
    fn send(
        &mut self,
        send: impl FnOnce(&mut Connection, &mut Vec<u8>) -> Result<usize, wsmachine::SendError>,
    ) -> Result<(), String> {
        send(&mut self.conn, &mut self.out).map_err(|e| format!("send: {e}"))?;
        let written = self.stream.write_all(&self.out).map_err(|e| format!("write: {e}"));
        self.out.clear();
        written
    }

    fn echo_text(&mut self, text: &str) -> Result<(), String> {
        self.send(|conn, out| conn.send_text(text, out))?;
        self.expect_message(&Message::Text(text.into()))
    }

    fn echo_binary(&mut self, data: &[u8]) -> Result<(), String> {
        self.send(|conn, out| conn.send_binary(data, out))?;
        self.expect_message(&Message::Binary(data.to_vec()))
    }

    fn expect_message(&mut self, expected: &Message) -> Result<(), String> {
        match self.next(Instant::now() + DEADLINE)? {
            Got::Message(m) if m == *expected => Ok(()),
            Got::Message(m) => {
                Err(format!("echo differs: sent {}, got {}", Got::Message(expected.clone()), Got::Message(m)))
            }
            other => Err(format!("expected the echo, got {other}")),
        }
    }

    /// Feeds bytes until a whole message, a pong or a Close arrives, writing
    /// automatic replies (pongs, the Close echo) as they are produced.
    fn next(&mut self, deadline: Instant) -> Result<Got, String> {
        loop {
            while self.pos < self.len {
                let received = self.conn.receive(&mut self.buf[self.pos..self.len]);
                let received = match received {
                    Ok(received) => received,
                    Err(e) => {
                        let _ = self.conn.poll_transmit(&mut self.out);
                        let _ = self.stream.write_all(&self.out);
                        return Err(format!("protocol error: {e}"));
                    }
                };
                self.pos += received.consumed;
                let got = match received.event {
                    None => None,
                    Some(Event::Pong(p)) => Some(Got::Pong(p.to_vec())),
                    Some(Event::Close(frame)) => Some(Got::Close(frame.code().0, frame.reason().to_string())),
                    Some(event) => self.assembler.push(&event).map_err(|e| format!("message: {e}"))?.map(Got::Message),
                };
                let _ = self.conn.poll_transmit(&mut self.out);
                if !self.out.is_empty() {
                    self.stream.write_all(&self.out).map_err(|e| format!("write: {e}"))?;
                    self.out.clear();
                }
                if let Some(got) = got {
                    return Ok(got);
                }
            }
            if Instant::now() > deadline {
                return Err("timed out".into());
            }
            self.pos = 0;
            self.len = match self.stream.read(&mut self.buf) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err("timed out".into())
                }
                Err(e) => return Err(format!("read: {e}")),
            };
        }
    }

    /// After the close handshake the client waits for the server to close
    /// the transport first (RFC 6455 §7.1.1).
    fn wait_for_transport_close(&mut self) -> Result<(), String> {
        if !self.conn.is_closed() {
            return Err(format!("close handshake incomplete: {:?}", self.conn.state()));
        }
        let mut scratch = [0u8; 1024];
        match self.stream.read(&mut scratch) {
            Ok(0) => Ok(()),
            Ok(_) => Err("data after the close handshake".into()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err("the server did not close the transport".into())
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    }
}
