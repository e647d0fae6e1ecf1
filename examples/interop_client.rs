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
//! Exits 0 when every exchange passed. Each read has a 20 s deadline. It
//! runs on the blocking adapter, down to single fragments, pings and pongs.

use std::io::Read;
use std::time::Duration;

use wsmachine::blocking::{self, MaybeTlsStream, WebSocket};
use wsmachine::{CloseCode, Incoming, Message, MessageKind};

/// How long one read may wait.
const DEADLINE: Duration = Duration::from_secs(20);

type Client = WebSocket<MaybeTlsStream>;

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

    match connect(&url) {
        Ok(mut client) => {
            for (name, exchange) in exchanges() {
                let result = exchange(&mut client);
                report(name, result);
            }
        }
        Err(e) => report("connect", Err(e)),
    }
    if server_close {
        report("close-by-server", connect(&url).and_then(|mut c| close_by_server(&mut c)));
    }
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

fn connect(url: &str) -> Result<Client, String> {
    let mut ws = blocking::connect(url).map_err(|e| e.to_string())?;
    ws.set_read_timeout(Some(DEADLINE));
    Ok(ws)
}

type Exchange = fn(&mut Client) -> Result<(), String>;

/// The exchanges on the first connection, in order.
fn exchanges() -> Vec<(&'static str, Exchange)> {
    vec![
        ("text", |c| echo(c, Message::text("hello from wsmachine, κόσμε 🌍"))),
        ("binary", |c| echo(c, Message::binary(pattern(256)))),
        ("empty-text", |c| echo(c, Message::text(""))),
        ("empty-binary", |c| echo(c, Message::binary(Vec::new()))),
        ("size-125", |c| echo(c, Message::binary(pattern(125)))),
        ("size-126", |c| echo(c, Message::binary(pattern(126)))),
        ("size-65535", |c| echo(c, Message::binary(pattern(65535)))),
        ("size-65536", |c| echo(c, Message::binary(pattern(65536)))),
        ("size-16MiB", |c| echo(c, Message::binary(pattern(16 << 20)))),
        ("fragmented-text", fragmented_text),
        ("fragmented-binary-with-ping", fragmented_binary),
        ("ping", ping),
        ("close-by-client", close_by_client),
    ]
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn echo(c: &mut Client, message: Message) -> Result<(), String> {
    c.send(message.clone()).map_err(|e| format!("send: {e}"))?;
    expect_message(c, &message)
}

fn expect_message(c: &mut Client, expected: &Message) -> Result<(), String> {
    match next(c)? {
        Incoming::Message(m) if m == *expected => Ok(()),
        Incoming::Message(m) => Err(format!("echo differs: sent {}, got {}", show(expected), show(&m))),
        other => Err(format!("expected the echo, got {}", describe(&other))),
    }
}

/// A text whose second character ("ό") is split across two of three frames.
fn fragmented_text(c: &mut Client) -> Result<(), String> {
    let text = "fragments: κόσμε";
    let bytes = text.as_bytes();
    let cut = bytes.len() - 7; // inside the two-byte "ό"
    for (piece, fin) in [(&bytes[..11], false), (&bytes[11..cut], false), (&bytes[cut..], true)] {
        c.send_fragment(MessageKind::Text, piece, fin).map_err(|e| format!("send: {e}"))?;
    }
    expect_message(c, &Message::text(text))
}

/// Three binary fragments with a ping between the first two.
fn fragmented_binary(c: &mut Client) -> Result<(), String> {
    let data = pattern(3000);
    let send = |result: Result<(), blocking::Error>| result.map_err(|e| format!("send: {e}"));
    send(c.send_fragment(MessageKind::Binary, &data[..1000], false))?;
    send(c.ping(b"between fragments"))?;
    send(c.send_fragment(MessageKind::Binary, &data[1000..2000], false))?;
    send(c.send_fragment(MessageKind::Binary, &data[2000..], true))?;
    let (mut pong, mut message) = (false, false);
    while !(pong && message) {
        match next(c)? {
            Incoming::Pong(p) if p.as_bytes() == b"between fragments" => pong = true,
            Incoming::Message(Message::Binary(got)) if got == data => message = true,
            other => return Err(format!("unexpected {}", describe(&other))),
        }
    }
    Ok(())
}

fn ping(c: &mut Client) -> Result<(), String> {
    let payload = b"ping payload \x00\xff 123";
    c.ping(payload).map_err(|e| format!("send: {e}"))?;
    match next(c)? {
        Incoming::Pong(p) if p.as_bytes() == payload => Ok(()),
        other => Err(format!("expected the pong, got {}", describe(&other))),
    }
}

fn close_by_client(c: &mut Client) -> Result<(), String> {
    c.send_close(CloseCode(4001), "client says bye").map_err(|e| format!("send: {e}"))?;
    match next(c)? {
        Incoming::Close(frame) if frame.code() == CloseCode(4001) => wait_for_transport_close(c),
        other => Err(format!("expected the server to echo Close 4001, got {}", describe(&other))),
    }
}

fn close_by_server(c: &mut Client) -> Result<(), String> {
    c.send("close-me 4002 server says bye").map_err(|e| format!("send: {e}"))?;
    match next(c)? {
        Incoming::Close(frame) if frame.code() == CloseCode(4002) && frame.reason() == "server says bye" => {
            // Our echo of the Close is sent; the server now closes the transport.
            wait_for_transport_close(c)
        }
        other => Err(format!("expected Close 4002 \"server says bye\", got {}", describe(&other))),
    }
}

/// The next message, pong or Close (pings are answered and skipped).
fn next(c: &mut Client) -> Result<Incoming, String> {
    loop {
        match c.read_incoming() {
            Ok(Some(Incoming::Ping(_))) => {}
            Ok(Some(incoming)) => return Ok(incoming),
            Ok(None) => return Err("the server closed the connection".into()),
            Err(blocking::Error::ReadTimeout) => return Err("timed out".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// After the close handshake the client waits for the server to close the
/// transport first (RFC 6455 §7.1.1): the adapter does, for at most its
/// close timeout; then the stream shows whether the server did.
fn wait_for_transport_close(c: &mut Client) -> Result<(), String> {
    match c.read_incoming() {
        Ok(None) => {}
        Ok(Some(other)) => return Err(format!("{} after the close handshake", describe(&other))),
        Err(e) => return Err(e.to_string()),
    }
    let mut stream = c.get_ref().tcp();
    stream.set_read_timeout(Some(Duration::from_secs(1))).map_err(|e| format!("read: {e}"))?;
    match stream.read(&mut [0u8; 1024]) {
        Ok(0) => Ok(()),
        Ok(_) => Err("data after the close handshake".into()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(_) => Err("the server did not close the transport".into()),
    }
}

fn show(message: &Message) -> String {
    match message {
        Message::Text(t) if t.len() > 40 => format!("a text message of {} bytes", t.len()),
        Message::Text(t) => format!("text {t:?}"),
        Message::Binary(b) => format!("a binary message of {} bytes", b.len()),
    }
}

fn describe(incoming: &Incoming) -> String {
    match incoming {
        Incoming::Message(m) => show(m),
        Incoming::Ping(p) => format!("a ping {:?}", p.as_bytes()),
        Incoming::Pong(p) => format!("a pong {:?}", p.as_bytes()),
        Incoming::Close(frame) => format!("Close {} {:?}", frame.code(), frame.reason()),
    }
}
