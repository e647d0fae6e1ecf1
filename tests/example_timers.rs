//! The examples' timers over a real loopback socket (127.0.0.1, ephemeral
//! ports), with timeouts short enough that each test takes about a second:
//! `echo_server`, `tokio_echo` and `session_mio` drop a peer that goes
//! silent after the handshake, answer a request head that never ends with
//! 408, `session_mio` drops a peer that stops reading, and the `client`
//! closes its transport when its Close is never answered.

use std::io::{Cursor, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use wsmachine::{AcceptOptions, Config, ConnectOptions, FrameHeader, HeaderStatus, OpCode};

#[allow(dead_code)]
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/client.rs"]
mod client;

#[allow(dead_code)]
#[path = "../examples/tokio_echo.rs"]
mod tokio_echo;

#[allow(dead_code)]
#[path = "../examples/session_mio.rs"]
mod session_mio;

const REQUEST: &[u8] = b"GET /quiet HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// Keepalive after 200 ms of silence, then 300 ms for any answer.
fn short_keepalive() -> Config {
    Config {
        ping_interval: Some(Duration::from_millis(200)),
        ping_timeout: Some(Duration::from_millis(300)),
        close_timeout: Some(Duration::from_millis(300)),
        ..Config::default()
    }
}

/// `echo_server`'s options with [`short_keepalive`].
fn echo_options() -> AcceptOptions {
    AcceptOptions { config: short_keepalive(), ..echo_server::options() }
}

fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("bound address");
    (listener, addr)
}

/// Connects, sends the upgrade request and reads the 101 answer; then the
/// peer says nothing more.
fn silent_client(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a bound on the test");
    stream.write_all(REQUEST).expect("send the request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("the answer");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    stream
}

/// Reads frames (unmasked, from a server) until the server closes the
/// transport; returns their opcodes and payloads.
fn frames_until_eof(stream: &mut TcpStream) -> Vec<(OpCode, Vec<u8>)> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("the server closes the transport, no reset");
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(&bytes[pos..]) else {
            panic!("a whole frame at {pos} of {bytes:?}");
        };
        let end = pos + len + header.payload_len as usize;
        frames.push((header.opcode, bytes[pos + len..end].to_vec()));
        pos = end;
    }
    frames
}

/// What a server sends a silent peer: a keepalive Ping, then Close 1011
/// "keepalive ping timeout", then the end of the transport.
fn assert_dropped_after_a_ping(stream: &mut TcpStream) {
    let started = Instant::now();
    let frames = frames_until_eof(stream);
    let close_payload = [&1011u16.to_be_bytes()[..], b"keepalive ping timeout"].concat();
    assert_eq!(frames, [(OpCode::Ping, Vec::new()), (OpCode::Close, close_payload)]);
    // Bounded, not timed: the server gave up long before the test's own limit.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn echo_server_drops_a_peer_that_goes_silent() {
    let (listener, addr) = listener();
    thread::spawn(move || echo_server::serve(listener, &echo_options()));
    let mut stream = silent_client(addr);
    assert_dropped_after_a_ping(&mut stream);
}

#[test]
fn tokio_echo_drops_a_peer_that_goes_silent() {
    let (listener, addr) = listener();
    listener.set_nonblocking(true).expect("nonblocking for tokio");
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let options = AcceptOptions { config: short_keepalive(), ..tokio_echo::options() };
            tokio_echo::serve(listener, options).await
        })
    });
    let mut stream = silent_client(addr);
    assert_dropped_after_a_ping(&mut stream);
}

#[test]
fn a_pong_keeps_the_connection_alive() {
    let (listener, addr) = listener();
    thread::spawn(move || echo_server::serve(listener, &echo_options()));
    let mut stream = silent_client(addr);
    // Answer three keepalive pings with masked pongs: still connected.
    for _ in 0..3 {
        let mut ping = [0u8; 2];
        stream.read_exact(&mut ping).expect("a keepalive ping");
        assert_eq!(ping, [0x89, 0x00]);
        stream.write_all(&[0x8A, 0x80, 1, 2, 3, 4]).expect("pong");
    }
    stream.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8]).expect("close 1000");
    let frames = frames_until_eof(&mut stream);
    assert_eq!(frames.last().map(|f| f.0), Some(OpCode::Close), "{frames:?}");
    assert!(frames.iter().all(|(op, _)| matches!(op, OpCode::Ping | OpCode::Close)));
}

#[test]
fn echo_server_answers_a_request_head_that_never_ends_with_408() {
    let (listener, addr) = listener();
    let options = AcceptOptions { handshake_timeout: Some(Duration::from_millis(300)), ..echo_server::options() };
    thread::spawn(move || echo_server::serve(listener, &options));
    assert_half_a_head_gets_408(addr);
}

/// Sends half a request head and never the rest: the answer is 408, then
/// the end of the connection.
fn assert_half_a_head_gets_408(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a bound on the test");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").expect("half a head");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("the answer, then the end");
    assert!(answer.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"), "{}", String::from_utf8_lossy(&answer));
}

#[test]
fn a_request_head_that_never_ends_gets_408() {
    // tokio_echo keeps the adapter's 10 s handshake deadline: checked with
    // the runtime's clock paused, so that it advances when all is idle.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("rt");
    let (listener, addr) = listener();
    listener.set_nonblocking(true).expect("nonblocking for tokio");
    let (answer, ended) = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            tokio_echo::handle(stream, "test", &tokio_echo::options()).await
        });
        let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("half a head");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("the answer, then the end");
        drop(client); // the server drains until the client closes
        (answer, server.await.expect("server task"))
    });
    assert!(answer.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"), "{}", String::from_utf8_lossy(&answer));
    assert!(ended.as_ref().is_err_and(wsmachine_tokio::Error::is_timeout), "{ended:?}");
}

#[test]
fn client_closes_its_transport_when_its_close_is_never_answered() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a bound on the test");
        // Answer the handshake, then read everything and never answer.
        let mut machine = wsmachine::ServerHandshake::default();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).expect("the request");
            let mut headers = [wsmachine::handshake::Header::EMPTY; 32];
            if let Ok(wsmachine::handshake::Status::Complete(request)) = machine.receive(&buf[..n], &mut headers) {
                let mut out = Vec::new();
                request.accept(&wsmachine::Accept::default(), &mut out).expect("101");
                stream.write_all(&out).expect("answer");
                break;
            }
        }
        let mut rest = Vec::new();
        // Ends when the client closes its side: no Close from us, ever.
        stream.read_to_end(&mut rest).expect("the client closes, no reset");
        rest
    });
    let started = Instant::now();
    let mut output = Vec::new();
    let config = Config { close_timeout: Some(Duration::from_millis(300)), ..Config::default() };
    let options = ConnectOptions { config, ..ConnectOptions::default() };
    client::run(&format!("ws://{addr}/"), &options, Cursor::new("hello\n"), &mut output).expect("client run");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(String::from_utf8_lossy(&output), "[gave up: close handshake timeout]\n");
    let seen = server.join().expect("server thread");
    // The server saw the text and the client's Close (masked frames).
    let opcodes: Vec<u8> = {
        let mut ops = Vec::new();
        let mut pos = 0;
        while let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(&seen[pos..]) {
            ops.push(header.opcode.bits());
            pos += len + header.payload_len as usize;
        }
        ops
    };
    assert_eq!(opcodes, [0x1, 0x8]);
}

/// Runs `session_mio` with `options` on a free port; returns its address.
fn start_session_mio(options: AcceptOptions) -> SocketAddr {
    let (listener, addr) = listener();
    listener.set_nonblocking(true).expect("nonblocking for mio");
    thread::spawn(move || session_mio::serve(mio::net::TcpListener::from_std(listener), &options));
    addr
}

#[test]
fn session_mio_echoes_many_connections_at_once() {
    let addr = start_session_mio(AcceptOptions::default());
    let clients: Vec<_> = (0..20)
        .map(|i| {
            thread::spawn(move || {
                let mut ws = wsmachine::blocking::connect(format!("ws://{addr}/")).expect("connect");
                for round in 0..10 {
                    let text = format!("client {i} round {round}");
                    ws.send(text.as_str()).expect("send");
                    assert_eq!(ws.read().expect("read"), Some(wsmachine::Message::text(text)));
                }
                ws.send(vec![7u8; 300_000]).expect("send a large message");
                assert_eq!(ws.read().expect("read").map(|m| m.len()), Some(300_000));
                ws.close(wsmachine::CloseCode::NORMAL, "").expect("close");
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client");
    }
}

#[test]
fn session_mio_drops_a_peer_that_goes_silent() {
    let addr = start_session_mio(AcceptOptions { config: short_keepalive(), ..AcceptOptions::default() });
    let mut stream = silent_client(addr);
    assert_dropped_after_a_ping(&mut stream);
}

#[test]
fn session_mio_answers_a_request_head_that_never_ends_with_408() {
    let options = AcceptOptions { handshake_timeout: Some(Duration::from_millis(300)), ..AcceptOptions::default() };
    assert_half_a_head_gets_408(start_session_mio(options));
}

/// A peer that sends large messages and never reads the echoes, nor
/// answers a ping: the server's output piles up unwritten, the keepalive
/// finds the peer dead, and the close timeout bounds the wait for it to
/// take the rest. The server then drops the connection.
#[test]
fn session_mio_drops_a_peer_that_stops_reading() {
    let addr = start_session_mio(AcceptOptions { config: short_keepalive(), ..AcceptOptions::default() });
    let mut stream = silent_client(addr);
    let payload = vec![0u8; 1 << 20];
    let mut frame = vec![0x82, 0xFF];
    frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]); // a zero mask: the payload as it is
    frame.extend_from_slice(&payload);
    // Until the socket takes no more: the server's echoes fill its side,
    // then it stops reading ours.
    stream.set_write_timeout(Some(Duration::from_millis(500))).expect("a bound on each write");
    for _ in 0..64 {
        if stream.write_all(&frame).is_err() {
            break;
        }
    }
    // Reading nothing ever, the client only writes: once the server drops
    // the connection (with our frames unread, which resets it), a write
    // fails. Until then each write waits for room and times out.
    let started = Instant::now();
    loop {
        match stream.write(&frame) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break, // reset, or a broken pipe
            Ok(_) => {}
        }
        // The bound of the test, not a measured threshold.
        assert!(started.elapsed() < Duration::from_secs(20), "the server kept the connection");
    }
}
