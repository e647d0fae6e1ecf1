//! The blocking adapter over loopback TCP: echo, the server's decision,
//! plain HTTP requests, fragments and control frames, compression, timers,
//! read timeouts and the closing of the transport. Timeouts here are
//! short so the tests end quickly; none is a measured threshold.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use wsmachine::blocking::{self, Error};
use wsmachine::{
    accept_key, AcceptOptions, CloseCode, Config, ConnectOptions, HandshakeError, Incoming, Message, MessageKind,
    MessageRef, PlainRequest, PlainResponse, ProtocolError, Rejection, ResponseError, UpgradeError,
};

/// A listener on a free port and its `ws://` URL.
fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// A server thread echoing every message of one connection.
fn echo_server(options: AcceptOptions) -> (String, thread::JoinHandle<Result<(), Error>>) {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        let mut ws = blocking::accept_with(stream, &options)?;
        while let Some(message) = ws.read()? {
            ws.send(message)?;
        }
        Ok(())
    });
    (url, server)
}

/// A server thread running `serve` on one connection accepted with short
/// timers ([`short`]: a ping after `ping` ms, `close` ms to close); the
/// listener's address.
fn timed_server<T: Send + 'static>(
    ping: u64,
    close: u64,
    serve: impl FnOnce(blocking::WebSocket<TcpStream>) -> T + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<T>) {
    let (listener, _) = listen();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let options = AcceptOptions { config: short(Some(ping), close), ..AcceptOptions::default() };
        serve(blocking::accept_with(stream, &options).unwrap())
    });
    (addr, server)
}

/// A configuration with short timers, so timer tests end in seconds.
fn short(ping: Option<u64>, close_ms: u64) -> Config {
    Config {
        ping_interval: ping.map(Duration::from_millis),
        ping_timeout: ping.map(Duration::from_millis),
        close_timeout: Some(Duration::from_millis(close_ms)),
        ..Config::default()
    }
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A raw client: connects, sends the upgrade request, reads the 101 head.
/// Reads are bounded so a broken adapter fails the test instead of hanging it.
fn raw_client(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// Reads an HTTP head byte by byte (so nothing after it is consumed).
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "head ended early: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads until the end of the stream; an error (a reset) fails the test.
fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("an orderly end of the stream, not a reset");
    all
}

/// A raw server: accepts one connection and answers its upgrade with 101.
fn raw_server(listener: &TcpListener) -> TcpStream {
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = read_head(&mut stream);
    let key = head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap();
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    stream.write_all(answer.as_bytes()).unwrap();
    stream
}

#[test]
fn text_binary_and_a_200_kib_message_come_back() {
    let (url, server) = echo_server(AcceptOptions::default());
    let mut ws = blocking::connect(&url).unwrap();
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    let line = String::from("three");
    ws.send("one").unwrap();
    ws.send(b"two").unwrap();
    ws.send(&line).unwrap();
    ws.send(big.clone()).unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::text("one")));
    assert_eq!(ws.read().unwrap(), Some(Message::binary(b"two".to_vec())));
    assert_eq!(ws.read().unwrap().as_ref().and_then(Message::as_text), Some(line.as_str()));
    assert_eq!(ws.read().unwrap(), Some(Message::Binary(big)));
    ws.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(ws.close_frame().map(|c| c.code()), Some(CloseCode::NORMAL));
    assert_eq!(ws.read().unwrap(), None);
    assert!(matches!(ws.send("late"), Err(Error::Closed)));
    server.join().unwrap().unwrap();
}

/// `read_ref` lends each message, in both roles, skipping pongs; it
/// reports the end of the connection as `read` does.
#[test]
fn read_ref_lends_each_message_in_both_roles() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        let mut ws = blocking::accept(stream)?;
        let mut seen = Vec::new();
        while let Some(message) = ws.read_ref()? {
            let reply = message.to_message();
            seen.push(reply.clone());
            ws.send(reply)?;
        }
        Ok::<_, Error>((seen, ws.close_frame().map(|c| c.code())))
    });
    let mut ws = blocking::connect(&url).unwrap();
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    ws.send("one").unwrap();
    ws.ping(b"p").unwrap();
    ws.send(b"two".as_slice()).unwrap();
    ws.send(big.clone()).unwrap();
    ws.send("κό").unwrap();
    assert_eq!(ws.read_ref().unwrap(), Some(MessageRef::Text("one")));
    assert_eq!(ws.read_ref().unwrap(), Some(MessageRef::Binary(b"two")));
    assert_eq!(ws.read_ref().unwrap(), Some(MessageRef::Binary(&big)));
    assert_eq!(ws.read_ref().unwrap(), Some(MessageRef::Text("κό")));
    ws.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(ws.read_ref().unwrap(), None);
    let (seen, code) = server.join().unwrap().unwrap();
    let expected = [Message::text("one"), Message::binary(b"two".to_vec()), Message::Binary(big), Message::text("κό")];
    assert_eq!((seen.as_slice(), code), (expected.as_slice(), Some(CloseCode::NORMAL)));
}

/// Invalid UTF-8 fails a lending read with 1007, its Close sent, after
/// the valid message before it was lent.
#[test]
fn read_ref_refuses_invalid_text_with_1007() {
    let (listener, _) = listen();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        let first = ws.read_ref().map(|message| message.map(|m| m.to_message()));
        (first, ws.read_ref().map(|message| message.map(|m| m.to_message())))
    });
    let mut peer = raw_client(addr);
    // A binary message, then text that is not UTF-8 (masked with a zero key).
    peer.write_all(&[0x82, 0x81, 0, 0, 0, 0, 7, 0x81, 0x82, 0, 0, 0, 0, 0xFF, 0xFE]).unwrap();
    let reason = ProtocolError::InvalidUtf8.reason().as_bytes();
    let mut close = vec![0u8; 4 + reason.len()];
    peer.read_exact(&mut close).unwrap();
    assert_eq!(close[..4], [0x88, 2 + reason.len() as u8, 0x03, 0xEF]);
    assert_eq!(&close[4..], reason);
    // The end of our stream ends the server's wait for our Close.
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut peer), []);
    let (first, second) = server.join().unwrap();
    assert_eq!(first.unwrap(), Some(Message::binary(vec![7])));
    assert!(matches!(second, Err(Error::Protocol(ProtocolError::InvalidUtf8))), "{second:?}");
}

#[test]
fn the_server_may_refuse_or_pick_a_subprotocol() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let refused = blocking::accept_or_reject(stream, &AcceptOptions::default(), |request, _| {
            assert_eq!(request.path(), "/private");
            Err(Rejection::new(403).header("Retry-After", "5").body("no"))
        });
        assert!(matches!(refused, Err(Error::Handshake(UpgradeError::Rejected(403)))));
        let (stream, _) = listener.accept().unwrap();
        let mut ws = blocking::accept_or_reject(stream, &AcceptOptions::default(), |request, answer| {
            assert!(request.protocols().eq(["a", "b"]));
            answer.protocol = Some("b".into());
            Ok(())
        })
        .unwrap();
        assert_eq!(ws.protocol(), Some("b"));
        while let Some(message) = ws.read().unwrap() {
            ws.send(message).unwrap();
        }
    });
    let refused = blocking::connect(format!("{url}private")).unwrap_err();
    match &refused {
        Error::Refused(refusal) => {
            assert_eq!(refusal.status, 403);
            assert_eq!(refusal.header("retry-after"), Some("5"));
            assert_eq!(refusal.body, b"no");
        }
        other => panic!("{other}"),
    }
    assert_eq!(refused.status(), Some(403));
    let options = ConnectOptions { protocols: vec!["a".into(), "b".into()], ..ConnectOptions::default() };
    let mut ws = blocking::connect_with(&url, &options).unwrap();
    assert_eq!(ws.protocol(), Some("b"));
    ws.send("hi").unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::text("hi")));
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap();
}

#[test]
fn a_refusal_whose_body_follows_its_head_is_read_whole() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert_ne!(n, 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        let head = "HTTP/1.1 307 Temporary Redirect\r\nLocation: ws://127.0.0.1:1/moved\r\nContent-Length: 9\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        stream.flush().unwrap();
        // The body in writes of its own, as a server streaming a page sends it.
        thread::sleep(Duration::from_millis(20));
        stream.write_all(b"moved ").unwrap();
        thread::sleep(Duration::from_millis(20));
        stream.write_all(b"on\n").unwrap();
    });
    match blocking::connect(url) {
        Err(Error::Refused(refusal)) => {
            assert_eq!(refusal.status, 307);
            assert_eq!(refusal.header("Location"), Some("ws://127.0.0.1:1/moved"));
            assert_eq!(refusal.body, b"moved on\n");
            // The message says why, as the body's first line does.
            let e = Error::Refused(refusal);
            assert_eq!(e.to_string(), "the server refused the upgrade with 307: moved on");
        }
        other => panic!("expected the refusal, got {:?}", other.map(|_| ())),
    }
    server.join().unwrap();
}

#[test]
fn a_close_the_peer_never_answers_ends_after_the_close_timeout_as_1006() {
    let (listener, url) = listen();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let server = thread::spawn(move || {
        // Answers the handshake, then reads nothing until the client is done.
        let ws = blocking::accept(listener.accept().unwrap().0).unwrap();
        let _ = wait.recv();
        drop(ws);
    });
    let options = ConnectOptions { config: short(None, 100), ..ConnectOptions::default() };
    let mut ws = blocking::connect_with(&url, &options).unwrap();
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(ws.close_frame().map(|frame| frame.code()), Some(CloseCode::ABNORMAL));
    done.send(()).unwrap();
    server.join().unwrap();
}

#[cfg(feature = "deflate")]
#[test]
fn compression_is_negotiated_and_transparent() {
    use wsmachine::ext::deflate::DeflateConfig;
    let deflate = Some(DeflateConfig::default());
    let (url, server) = echo_server(AcceptOptions { deflate, ..AcceptOptions::default() });
    let mut ws = blocking::connect_with(&url, &ConnectOptions { deflate, ..ConnectOptions::default() }).unwrap();
    assert!(ws.is_compressed());
    let text = "compressible ".repeat(10_000);
    ws.send(text.as_str()).unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::Text(text)));
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap().unwrap();
}

#[test]
fn a_large_message_can_be_read_in_pieces() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        let (mut total, mut pieces, mut sum) = (0usize, 0, 0u64);
        while let Some(piece) = ws.read_piece().unwrap() {
            total += piece.data.len();
            sum += piece.data.iter().map(|&b| u64::from(b)).sum::<u64>();
            pieces += 1;
            if piece.fin {
                break;
            }
        }
        ws.send(format!("{total} {sum} {}", pieces > 1)).unwrap();
        assert_eq!(ws.read().unwrap(), None);
    });
    let mut ws = blocking::connect(&url).unwrap();
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 7) as u8).collect();
    let sum: u64 = big.iter().map(|&b| u64::from(b)).sum();
    ws.send(big).unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::Text(format!("{} {sum} true", 1 << 20))));
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap();
}

#[test]
fn a_silent_peer_is_detected_and_dropped() {
    let (addr, server) = timed_server(100, 500, |mut ws| ws.read());
    // A peer that completes the handshake, then never answers.
    let mut peer = raw_client(addr);
    let result = server.join().unwrap();
    assert!(matches!(result, Err(Error::Protocol(ProtocolError::PingTimeout))), "{result:?}");
    assert!(result.unwrap_err().is_timeout());
    // What the peer got: a keepalive Ping, a Close 1011, then the end.
    let wire = read_to_end(&mut peer);
    assert_eq!(&wire[..2], [0x89, 0x00]);
    assert_eq!(&wire[2..6], [0x88, 0x18, 0x03, 0xF3]);
    assert_eq!(&wire[6..], b"keepalive ping timeout");
}

/// A thread that only sends: its sends read what has arrived now and
/// then, so the peer's ping is answered while the feed runs, and the
/// peer's Close ends it with `Error::Closed`. Before, a send read nothing:
/// the ping waited for a read that never came, and the sends went on after
/// the Close.
#[test]
fn a_thread_that_only_sends_answers_pings_and_sees_the_close() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        let mut ws = blocking::accept(stream)?;
        // Bounded: 20 s of sends, far beyond what the client needs.
        let mut result = Ok(());
        for i in 0..2_000 {
            result = ws.send(format!("update {i}"));
            if result.is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        // What ended the feed and the Close it saw, then the read that
        // finishes the connection.
        let seen = ws.close_frame().map(|f| f.code());
        Ok::<_, Error>((result, seen, ws.read()?, ws.close_frame().map(|f| f.code())))
    });
    let mut ws = blocking::connect(&url).unwrap();
    // A bound for the test, not a measured threshold.
    ws.set_read_timeout(Some(Duration::from_secs(10)));
    assert_eq!(ws.read().unwrap(), Some(Message::text("update 0")));
    ws.ping(b"are you there?").unwrap();
    let mut updates = 1;
    loop {
        match ws.read_incoming().expect("the pong comes while the feed runs") {
            Some(Incoming::Pong(payload)) => {
                assert_eq!(payload.as_bytes(), b"are you there?");
                // Answered by a send: the feed still has most of its 2 000
                // updates to go (a read after the feed answers after all).
                assert!(updates < 1_000, "the pong came after {updates} updates");
                break;
            }
            Some(Incoming::Message(message)) => {
                assert_eq!(message, Message::text(format!("update {updates}")), "in order, none lost");
                updates += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    ws.close(CloseCode::NORMAL, "enough").unwrap();
    let (ended, seen, read, code) = server.join().unwrap().unwrap();
    assert!(matches!(ended, Err(Error::Closed)), "{ended:?}");
    assert_eq!(seen, Some(CloseCode::NORMAL), "known when the send fails");
    assert_eq!(read, None);
    assert_eq!(code, Some(CloseCode::NORMAL));
}

/// What a send reads ahead waits for the reads, in order, whichever read
/// call takes it; the ping among it is answered before the send's message.
#[test]
fn messages_a_send_read_ahead_come_in_order_to_every_read_call() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        // The client's messages and ping arrive meanwhile.
        thread::sleep(Duration::from_millis(300));
        ws.send("reply").unwrap();
        let first = ws.read_ref().unwrap().map(Message::from);
        let ping = ws.read_incoming().unwrap();
        let piece = ws.read_piece().unwrap().map(|p| (p.kind, p.data.to_vec(), p.fin));
        let last = ws.read().unwrap();
        ws.close(CloseCode::NORMAL, "").unwrap();
        (first, ping, piece, last)
    });
    let mut ws = blocking::connect(&url).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10)));
    ws.send("one").unwrap();
    ws.ping(b"p").unwrap();
    ws.send(vec![2u8; 3]).unwrap();
    ws.send("three").unwrap();
    // The pong, written with the send that read the ping, comes first.
    assert!(matches!(ws.read_incoming().unwrap(), Some(Incoming::Pong(p)) if p.as_bytes() == b"p"));
    assert_eq!(ws.read().unwrap(), Some(Message::text("reply")));
    assert_eq!(ws.read().unwrap(), None);
    let (first, ping, piece, last) = server.join().unwrap();
    assert_eq!(first, Some(Message::text("one")));
    assert!(matches!(ping, Some(Incoming::Ping(p)) if p.as_bytes() == b"p"), "{ping:?}");
    assert_eq!(piece, Some((MessageKind::Binary, vec![2u8; 3], true)));
    assert_eq!(last, Some(Message::text("three")));
}

/// A thread that only sends runs the timers too: its keepalive pings a
/// peer that never answers, and a send fails once the ping timed out.
#[test]
fn a_thread_that_only_sends_finds_a_silent_peer_dead() {
    let (addr, server) = timed_server(100, 500, |mut ws| {
        // Bounded: 20 s of sends, far beyond the 200 ms of the timers.
        for _ in 0..2_000 {
            if let Err(e) = ws.send("tick") {
                return Some(e);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    });
    // A peer that completes the handshake, then never answers.
    let mut peer = raw_client(addr);
    let e = server.join().unwrap().expect("a send fails");
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    // The ticks, the keepalive's Ping among them, and the Close 1011 last.
    let wire = read_to_end(&mut peer);
    let tick = [0x81, 0x04, b't', b'i', b'c', b'k'];
    let mut rest = &wire[..];
    let mut pings = 0;
    while let Some(frame) = rest.get(..2) {
        match frame {
            [0x81, 0x04] => rest = &rest[tick.len()..],
            [0x89, 0x00] => {
                pings += 1;
                rest = &rest[2..];
            }
            _ => break,
        }
    }
    assert_eq!(pings, 1);
    assert_eq!(&rest[..4], [0x88, 0x18, 0x03, 0xF3]);
    assert_eq!(&rest[4..], b"keepalive ping timeout");
}

/// A peer that stops reading: the sends fill the socket buffers, then a
/// write blocks. The write timeout the adapter sets lets the timers run
/// meanwhile: the keepalive finds the peer dead, the close timeout bounds
/// the wait for it to take the rest, and the send fails with the reason.
/// Before, the thread stayed in that write for as long as the peer kept
/// the connection.
#[test]
fn a_send_to_a_peer_that_stops_reading_fails_within_the_timers() {
    let (done, result) = std::sync::mpsc::channel();
    let (addr, _server) = timed_server(100, 200, move |mut ws| {
        // Bounded: at most 4 GiB, far more than any socket buffer holds.
        for _ in 0..16_384 {
            if let Err(e) = ws.send(vec![7u8; 256 * 1024]) {
                return done.send(Some(e));
            }
        }
        done.send(None)
    });
    // A peer that completes the handshake, then reads nothing.
    let peer = raw_client(addr);
    // A bound for the test, not a measured threshold: a broken adapter
    // fails it instead of hanging the run.
    let e = result.recv_timeout(Duration::from_secs(60)).expect("the send ends").expect("a send fails");
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    drop(peer);
}

#[test]
fn a_close_never_answered_ends_after_the_close_timeout() {
    let (listener, url) = listen();
    let options = ConnectOptions { config: short(None, 300), ..ConnectOptions::default() };
    let client = thread::spawn(move || {
        let mut ws = blocking::connect_with(&url, &options).unwrap();
        ws.close(CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(ws.close_frame().map(|c| c.code()), Some(CloseCode::ABNORMAL));
        ws // kept alive: the transport must end without dropping it
    });
    let mut server = raw_server(&listener);
    // The client's Close (masked, 5 payload bytes), then the end of its stream.
    let wire = read_to_end(&mut server);
    assert_eq!((wire.len(), wire[0], wire[1]), (2 + 4 + 5, 0x88, 0x85));
    drop(client.join().unwrap());
}

#[test]
fn a_close_reason_over_123_bytes_is_cut_and_the_close_still_goes_out() {
    // A reason built from an error message may outgrow the frame: the
    // peer still gets the code, with the reason's first 123 bytes.
    let (listener, url) = listen();
    let server = thread::spawn(move || -> Result<_, Error> {
        let (stream, _) = listener.accept()?;
        let mut ws = blocking::accept(stream)?;
        assert_eq!(ws.read()?, None);
        Ok(ws.close_frame().map(|frame| (frame.code(), frame.reason().to_string())))
    });
    let mut ws = blocking::connect(&url).unwrap();
    let reason = format!("upstream failed: {}", "x".repeat(300));
    ws.close(CloseCode::INTERNAL_ERROR, &reason).unwrap();
    let seen = server.join().unwrap().unwrap();
    assert_eq!(seen, Some((CloseCode::INTERNAL_ERROR, reason[..123].to_string())));
}

#[test]
fn a_peer_that_vanishes_is_a_disconnect_and_a_protocol_error_is_not() {
    let (listener, _) = listen();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut errors = Vec::new();
        for _ in 0..3 {
            let (stream, _) = listener.accept().unwrap();
            let mut ws = blocking::accept(stream).unwrap();
            ws.send("hello").unwrap();
            errors.push(ws.read().unwrap_err());
        }
        errors
    });
    // A peer that ends TCP without a Close.
    let mut gone = raw_client(addr);
    let mut hello = [0u8; 7];
    gone.read_exact(&mut hello).unwrap();
    drop(gone);
    // A peer that closes with "hello" unread: the kernel resets the connection.
    let reset = raw_client(addr);
    reset.peek(&mut [0u8]).unwrap();
    drop(reset);
    // A peer that sends an unmasked frame.
    let mut rude = raw_client(addr);
    rude.read_exact(&mut hello).unwrap();
    rude.write_all(&[0x81, 0x01, b'x']).unwrap();
    let mut head = [0u8; 4];
    rude.read_exact(&mut head).unwrap();
    // A Close with 1002.
    assert_eq!([head[0], head[2], head[3]], [0x88, 0x03, 0xea]);
    // The failed server reads on to the end of our side before it closes.
    rude.shutdown(std::net::Shutdown::Write).unwrap();
    read_to_end(&mut rude);
    let errors = server.join().unwrap();
    assert!(matches!(errors[0], Error::ConnectionLost), "{:?}", errors[0]);
    assert!(errors[0].is_disconnect());
    assert!(matches!(&errors[1], Error::Io(e) if e.kind() == ErrorKind::ConnectionReset), "{:?}", errors[1]);
    assert!(errors[1].is_disconnect());
    assert!(matches!(errors[2], Error::Protocol(_)), "{:?}", errors[2]);
    assert!(!errors[2].is_disconnect());
    assert!(!errors.iter().any(Error::is_timeout));
}

#[test]
fn both_ends_turn_off_nagles_algorithm() {
    // Left on, a small message written while the one before is not yet
    // acknowledged waits for the peer's delayed ACK (up to 40 ms): never
    // on loopback, often in production.
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        assert!(!stream.nodelay().unwrap());
        let ws = blocking::accept(stream).unwrap();
        ws.get_ref().nodelay().unwrap()
    });
    let tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    let ws = blocking::client(&url, tcp).unwrap();
    assert!(ws.get_ref().nodelay().unwrap(), "client over a stream of the caller's");
    assert!(server.join().unwrap(), "server");
}

#[test]
fn the_client_waits_for_the_server_to_close_first() {
    let (listener, url) = listen();
    let server_closed = Arc::new(AtomicBool::new(false));
    let closed = Arc::clone(&server_closed);
    let server = thread::spawn(move || {
        let mut stream = raw_server(&listener);
        stream.write_all(&[0x88, 0x02, 0x03, 0xE8]).unwrap(); // Close 1000
        let mut echo = [0u8; 8];
        stream.read_exact(&mut echo).unwrap(); // the client's answer, masked
        assert_eq!(&echo[..2], [0x88, 0x82]);
        // The client must still be connected, waiting for us.
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut byte = [0u8];
        let waiting = stream.read(&mut byte).unwrap_err();
        assert!(matches!(waiting.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{waiting}");
        closed.store(true, Ordering::SeqCst);
        drop(stream);
    });
    let mut ws = blocking::connect(&url).unwrap();
    assert_eq!(ws.read().unwrap(), None);
    assert!(server_closed.load(Ordering::SeqCst), "the client returned before the server closed");
    assert_eq!(ws.close_frame().map(|c| c.code()), Some(CloseCode::NORMAL));
    server.join().unwrap();
}

#[test]
fn a_handshake_that_never_completes_gets_408() {
    let (listener, _) = listen();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let options = AcceptOptions { handshake_timeout: Some(Duration::from_millis(200)), ..AcceptOptions::default() };
        blocking::accept_with(stream, &options).map(drop)
    });
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    peer.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let answer = String::from_utf8(read_to_end(&mut peer)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    drop(peer); // the server reads until we close
    let e = server.join().unwrap().unwrap_err();
    assert!(matches!(e, Error::Handshake(UpgradeError::Request(HandshakeError::Timeout))), "{e}");
    assert!(e.is_timeout());
}

#[test]
fn a_client_times_out_on_a_silent_server() {
    let (listener, url) = listen();
    let options = ConnectOptions { handshake_timeout: Some(Duration::from_millis(200)), ..ConnectOptions::default() };
    let e = blocking::connect_with(&url, &options).unwrap_err();
    assert!(matches!(e, Error::Handshake(UpgradeError::Response(ResponseError::Head(HandshakeError::Timeout)))));
    drop(listener);
}

#[test]
fn a_failure_sends_its_close_and_loses_nothing_the_peer_should_read() {
    let (listener, _) = listen();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        ws.read()
    });
    let mut peer = raw_client(addr);
    // An unmasked frame (1002), followed by much more the server never reads.
    let mut bytes = vec![0u8; 4 + 512 * 1024];
    bytes[..4].copy_from_slice(&[0x81, 0x02, b'h', b'i']);
    let mut writer = peer.try_clone().unwrap();
    let sender = thread::spawn(move || {
        // The server stops caring; writing may fail once it closes.
        let _ = writer.write_all(&bytes);
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    // The Close 1002, then an orderly end of stream: no reset.
    let wire = read_to_end(&mut peer);
    let reason = ProtocolError::UnmaskedFrame.reason().as_bytes();
    assert_eq!(wire[..4], [0x88, 2 + reason.len() as u8, 0x03, 0xEA]);
    assert_eq!(&wire[4..], reason);
    sender.join().unwrap();
    let result = server.join().unwrap();
    assert!(matches!(result, Err(Error::Protocol(ProtocolError::UnmaskedFrame))), "{result:?}");
}

#[test]
fn a_client_failure_shuts_down_its_write_side() {
    let (listener, url) = listen();
    let client = thread::spawn(move || blocking::connect(&url).unwrap().read());
    let mut server = raw_server(&listener);
    server.write_all(&[0x81, 0x81, 1, 2, 3, 4, 5]).unwrap(); // masked: 1002
                                                             // The client's Close 1002 (masked), then the end of its stream.
    let wire = read_to_end(&mut server);
    let payload = 2 + ProtocolError::MaskedFrame.reason().len();
    assert_eq!((wire.len(), wire[0], wire[1]), (2 + 4 + payload, 0x88, 0x80 | payload as u8));
    drop(server);
    assert!(matches!(client.join().unwrap(), Err(Error::Protocol(ProtocolError::MaskedFrame))));
}

#[test]
fn a_plain_request_is_served_and_an_upgrade_still_accepted() {
    let (listener, url) = listen();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let page = |request: &PlainRequest| {
            assert_eq!(request.split_path(), ("/index", Some("x=1")));
            assert_eq!(request.header("accept"), Some(&b"text/html"[..]));
            PlainResponse::new(200).header("Content-Type", "text/plain").body("a page")
        };
        let (stream, _) = listener.accept().unwrap();
        let served = blocking::accept_or_serve(stream, &AcceptOptions::default(), |_, _| Ok(()), page).unwrap();
        assert!(served.is_none());
        // Another method is not a plain request: it keeps its status.
        let (stream, _) = listener.accept().unwrap();
        let no_page = |_: &PlainRequest| panic!("a POST is not served");
        let refused = blocking::accept_or_serve(stream, &AcceptOptions::default(), |_, _| Ok(()), no_page);
        assert!(matches!(refused, Err(Error::Handshake(UpgradeError::Request(HandshakeError::MethodNotAllowed)))));
        let (stream, _) = listener.accept().unwrap();
        let no_page = |_: &PlainRequest| panic!("an upgrade is not served");
        let mut ws = blocking::accept_or_serve(stream, &AcceptOptions::default(), |_, _| Ok(()), no_page)
            .unwrap()
            .expect("an upgrade");
        while let Some(message) = ws.read().unwrap() {
            ws.send(message).unwrap();
        }
    });
    let mut browser = TcpStream::connect(addr).unwrap();
    browser.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    browser.write_all(b"GET /index?x=1 HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n").unwrap();
    let answer = String::from_utf8(read_to_end(&mut browser)).unwrap();
    assert_eq!(
        answer,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\na page"
    );
    drop(browser); // the server waits for the end of the connection
    let mut poster = TcpStream::connect(addr).unwrap();
    poster.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    poster.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(String::from_utf8(read_to_end(&mut poster)).unwrap().starts_with("HTTP/1.1 405 "));
    drop(poster);
    let mut ws = blocking::connect(&url).unwrap();
    ws.send("hi").unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::text("hi")));
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap();
}

#[test]
fn fragments_pings_pongs_and_the_close_through_read_incoming() {
    let (url, server) = echo_server(AcceptOptions::default());
    let mut ws = blocking::connect(&url).unwrap();
    ws.send_fragment(MessageKind::Text, "κό".as_bytes().get(..3).unwrap(), false).unwrap();
    ws.ping(b"between").unwrap();
    ws.send_fragment(MessageKind::Text, "κό".as_bytes().get(3..).unwrap(), true).unwrap();
    // A new message may not start before the last one's final piece.
    ws.send_fragment(MessageKind::Binary, b"a", false).unwrap();
    assert!(matches!(ws.send("whole"), Err(Error::Send(_))));
    ws.send_fragment(MessageKind::Binary, b"b", true).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match ws.read_incoming().unwrap() {
            Some(Incoming::Pong(payload)) => seen.push(format!("pong {:?}", payload.as_bytes())),
            Some(Incoming::Message(message)) => seen.push(format!("{message:?}")),
            other => panic!("{other:?}"),
        }
    }
    let text = format!("{:?}", Message::text("κό"));
    let binary = format!("{:?}", Message::binary(b"ab".to_vec()));
    assert_eq!(seen, [format!("pong {:?}", b"between"), text, binary]);
    ws.send_close(CloseCode(4001), "bye").unwrap();
    match ws.read_incoming().unwrap() {
        Some(Incoming::Close(frame)) => assert_eq!((frame.code(), frame.reason()), (CloseCode(4001), "bye")),
        other => panic!("{other:?}"),
    }
    assert_eq!(ws.read_incoming().unwrap(), None);
    server.join().unwrap().unwrap();
}

#[test]
fn after_send_close_the_messages_already_on_their_way_are_read() {
    let (url, server) = echo_server(AcceptOptions::default());
    let mut ws = blocking::connect(&url).unwrap();
    ws.send("on its way").unwrap();
    ws.send_close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.send("too late"), Err(Error::Closed)));
    assert_eq!(ws.read().unwrap(), Some(Message::text("on its way")));
    assert_eq!(ws.read().unwrap(), None);
    assert_eq!(ws.close_frame().map(|c| c.code()), Some(CloseCode::NORMAL));
    server.join().unwrap().unwrap();
}

#[test]
fn a_read_timeout_returns_and_the_connection_goes_on() {
    let (listener, url) = listen();
    let (timed_out, wait) = std::sync::mpsc::channel();
    let server = thread::spawn(move || {
        let mut server = raw_server(&listener);
        wait.recv().unwrap();
        // A text "hi" and a Close 1000; the client's text (masked, 16
        // bytes), then its Close (8 bytes).
        server.write_all(&[0x81, 0x02, b'h', b'i', 0x88, 0x02, 0x03, 0xE8]).unwrap();
        let mut frames = [0u8; 16 + 8];
        server.read_exact(&mut frames).unwrap();
        assert_eq!([frames[0], frames[1], frames[16], frames[17]], [0x81, 0x8A, 0x88, 0x82]);
    });
    let mut ws = blocking::connect(&url).unwrap();
    ws.set_read_timeout(Some(Duration::from_millis(20)));
    assert!(matches!(ws.read(), Err(Error::ReadTimeout)));
    assert!(matches!(ws.read_incoming(), Err(Error::ReadTimeout)));
    ws.send("still open").unwrap();
    timed_out.send(()).unwrap();
    ws.set_read_timeout(None);
    assert_eq!(ws.read().unwrap(), Some(Message::text("hi")));
    assert_eq!(ws.read().unwrap(), None);
    server.join().unwrap();
}

/// A `TcpStream` that counts the read timeouts set on it.
struct CountingStream {
    tcp: TcpStream,
    timeouts_set: Arc<AtomicUsize>,
}

impl Read for CountingStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for CountingStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

impl blocking::Stream for CountingStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.timeouts_set.fetch_add(1, Ordering::SeqCst);
        self.tcp.set_read_timeout(timeout)
    }

    fn shutdown_write(&mut self) -> std::io::Result<()> {
        self.tcp.shutdown(std::net::Shutdown::Write)
    }
}

#[test]
fn the_read_timeout_is_not_set_again_for_every_message() {
    // Each message moves the ping timer's deadline (a ping is due 20 s
    // after the last input, the adapters' default), so the wait before
    // each read is a little different every time: setting it exactly was
    // a system call per message whenever the clock (in milliseconds) had
    // moved on, as it does here between messages.
    const MESSAGES: usize = 100;
    let (listener, url) = listen();
    let timeouts_set = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&timeouts_set);
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept()?;
        let mut ws = blocking::accept(CountingStream { tcp, timeouts_set: counter })?;
        while let Some(message) = ws.read()? {
            ws.send(message)?;
        }
        Ok::<_, Error>(())
    });
    let mut ws = blocking::connect(&url).unwrap();
    for i in 0..MESSAGES {
        thread::sleep(Duration::from_millis(1));
        ws.send(format!("message {i}")).unwrap();
        assert_eq!(ws.read().unwrap(), Some(Message::text(format!("message {i}"))));
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap().unwrap();
    // Once for the handshake's bound, once for the timers' wait, and again
    // only if a wait changes by more than a sixteenth (a stall of over a
    // second here), or as the close ends.
    let set = timeouts_set.load(Ordering::SeqCst);
    assert!(set <= 8, "the read timeout was set {set} times for {MESSAGES} messages");
}

/// Whether a read on `stream` waits for input (blocking mode) rather than
/// returning at once (non-blocking mode): nothing arrives while it reads,
/// and the read's 100 ms timeout must pass first. Only a lower bound on
/// the time taken, which a slow machine cannot break.
fn waits_for_input(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let start = std::time::Instant::now();
    let error = stream.read(&mut [0u8; 1]).expect_err("nothing is sent while the stream is probed");
    assert!(matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{error}");
    start.elapsed() >= Duration::from_millis(50)
}

#[test]
fn a_non_blocking_tcp_stream_is_put_in_blocking_mode() {
    // On macOS and the BSDs a stream accepted from a non-blocking listener
    // is non-blocking too. The adapter would then spin, each read that
    // finds nothing returning at once, and a write to a full socket would
    // fail with WouldBlock. Both roles get such a stream here. The client
    // sends only once the server's probe is over, so that nothing arrives
    // during it however late the server's thread runs.
    let (listener, url) = listen();
    let addr = listener.local_addr().unwrap();
    let (probed, server_probed) = std::sync::mpsc::channel();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept()?;
        tcp.set_nonblocking(true)?;
        let mut ws = blocking::accept(tcp)?;
        assert!(waits_for_input(ws.get_mut()), "the server's stream is still non-blocking");
        probed.send(()).unwrap();
        while let Some(message) = ws.read()? {
            ws.send(message)?;
        }
        Ok::<_, Error>(())
    });
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_nonblocking(true).unwrap();
    let mut ws = blocking::client(&url, tcp).unwrap();
    assert!(waits_for_input(ws.get_mut()), "the client's stream is still non-blocking");
    server_probed.recv().unwrap();
    ws.send("after the probe").unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::text("after the probe")));
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap().unwrap();
}

/// A TCP stream that reports its end as TLS does when the peer closed TCP
/// without a close_notify: `UnexpectedEof` instead of a read of 0 bytes.
struct TruncatingTls(TcpStream);

impl Read for TruncatingTls {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(ErrorKind::UnexpectedEof.into()),
            n => Ok(n),
        }
    }
}

impl Write for TruncatingTls {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl blocking::Stream for TruncatingTls {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.0.set_read_timeout(timeout)
    }
    fn shutdown_write(&mut self) -> std::io::Result<()> {
        self.0.shutdown(std::net::Shutdown::Write)
    }
}

/// A peer that drops the connection without a Close, over a stream that
/// reports that as `UnexpectedEof` (TLS without close_notify): the read
/// says the connection was lost, as over TCP.
#[test]
fn a_peer_that_drops_a_tls_like_stream_is_connection_lost() {
    let (listener, url) = listen();
    let server = thread::spawn(move || drop(raw_server(&listener)));
    let tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    let mut ws = blocking::client(&url, TruncatingTls(tcp)).unwrap();
    server.join().unwrap();
    assert!(matches!(ws.read(), Err(Error::ConnectionLost)));
}

/// A zero read timeout (as a loop computing what is left of its own
/// deadline gets when it runs late) still takes what has already arrived;
/// only a read that finds nothing is the timeout.
#[test]
fn a_zero_read_timeout_takes_what_already_arrived() {
    let (url, server) = echo_server(AcceptOptions::default());
    let mut ws = blocking::connect(&url).unwrap();
    ws.send("already here").unwrap();
    ws.set_read_timeout(Some(Duration::ZERO));
    // The echo arrives within some of these pauses (they bound the test;
    // none is a measured threshold); before, every read timed out.
    let mut got = None;
    for _ in 0..200 {
        thread::sleep(Duration::from_millis(50));
        match ws.read() {
            Err(Error::ReadTimeout) => continue,
            other => {
                got = Some(other.unwrap());
                break;
            }
        }
    }
    assert_eq!(got, Some(Some(Message::text("already here"))));
    assert!(matches!(ws.read(), Err(Error::ReadTimeout)));
    ws.set_read_timeout(None);
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.join().unwrap().unwrap();
}

/// A plain HTTP/1.0 server's answer (a 404 page, then the end of the
/// connection) is the server's refusal, with its status and body.
#[test]
fn an_http_1_0_answer_is_a_refusal() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_head(&mut stream);
        stream.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such page\n").unwrap();
    });
    match blocking::connect(url) {
        Err(Error::Refused(refusal)) => {
            assert_eq!(refusal.status, 404);
            assert_eq!(refusal.body, b"no such page\n");
        }
        other => panic!("expected the refusal, got {:?}", other.map(|_| ())),
    }
    server.join().unwrap();
}
