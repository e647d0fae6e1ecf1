//! The examples' handshakes (`echo_server` and `client` on the blocking
//! adapter, `tokio_echo` on the tokio one) with the peer's head split at
//! every byte: over in-memory streams whose reads return exactly the
//! pieces given, so every split the network could make is tried,
//! deterministically.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use wsmachine::handshake::{Accept, Header, ServerHandshake, Status, DEFAULT_MAX_HEADERS};
use wsmachine::{blocking, AcceptOptions, Message};

#[allow(dead_code)]
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/tokio_echo.rs"]
mod tokio_echo;

const REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// RFC 6455 §5.7: a masked "Hello", sent right behind the request.
const HELLO: &[u8] = &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

/// A stream whose reads return the scripted pieces one by one (then end of
/// stream), and whose writes are collected.
struct Script {
    reads: VecDeque<Vec<u8>>,
    written: Vec<u8>,
}

impl Script {
    /// `data` in two reads, split at `at` (one read when `at` is 0 or the end).
    fn split(data: &[u8], at: usize) -> Script {
        let (a, b) = data.split_at(at);
        Script {
            reads: [a, b].into_iter().filter(|p| !p.is_empty()).map(<[u8]>::to_vec).collect(),
            written: Vec::new(),
        }
    }

    /// `data` one byte per read.
    fn bytewise(data: &[u8]) -> Script {
        Script { reads: data.chunks(1).map(<[u8]>::to_vec).collect(), written: Vec::new() }
    }

    fn take(&mut self, buf: &mut [u8]) -> usize {
        let Some(mut piece) = self.reads.pop_front() else { return 0 };
        let n = piece.len().min(buf.len());
        buf[..n].copy_from_slice(&piece[..n]);
        if n < piece.len() {
            self.reads.push_front(piece.split_off(n));
        }
        n
    }

    /// Every way to deliver `data`: split at each byte, and one byte per read.
    fn all(data: &[u8]) -> impl Iterator<Item = (String, Script)> + '_ {
        (0..=data.len())
            .map(|at| (format!("split at {at}"), Script::split(data, at)))
            .chain([("one byte per read".to_string(), Script::bytewise(data))])
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.take(buf))
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads never wait: the pieces are all there.
impl blocking::Stream for Script {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Script {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = this.take(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Script {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn answer_text(script: &Script) -> String {
    String::from_utf8_lossy(&script.written).into_owned()
}

#[test]
fn echo_server_handshake_with_the_request_split_anywhere() {
    let data = [REQUEST, HELLO].concat();
    for (how, mut stream) in Script::all(&data) {
        // The stream ends after "Hello" without a Close: the connection is lost.
        let ended = echo_server::handle(&mut stream, "test", &echo_server::options());
        assert!(matches!(ended, Err(blocking::Error::ConnectionLost)), "{how}: {ended:?}");
        let answer = answer_text(&stream);
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{how}: {answer}");
        assert!(answer.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{how}: {answer}");
        // The frame that came with the head was handed on and echoed.
        assert!(stream.written.ends_with(b"\r\n\r\n\x81\x05Hello"), "{how}: {answer}");
    }
}

#[test]
fn tokio_echo_handshake_with_the_request_split_anywhere() {
    let runtime = a_runtime();
    let data = [REQUEST, HELLO].concat();
    for (how, mut stream) in Script::all(&data) {
        // The stream ends after "Hello" without a Close: the connection is lost.
        let ended = runtime.block_on(tokio_echo::handle(&mut stream, "test", &tokio_echo::options()));
        assert!(matches!(ended, Err(wsmachine_tokio::Error::ConnectionLost)), "{how}: {ended:?}");
        let answer = answer_text(&stream);
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{how}: {answer}");
        assert!(answer.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{how}: {answer}");
        assert!(answer.contains("\r\nServer: wsmachine-tokio\r\n"), "{how}: {answer}");
        // The frame that came with the head was handed on and echoed.
        assert!(stream.written.ends_with(b"\r\n\r\n\x81\x05Hello"), "{how}: {answer}");
    }
}

/// A runtime for the in-memory streams; its clock runs the handshake deadline.
fn a_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime")
}

/// What both servers answer to `request`, delivered in every split.
fn server_answers(request: &[u8], mut check: impl FnMut(&str, &str)) {
    let runtime = a_runtime();
    for (how, mut stream) in Script::all(request) {
        // A page is served (`Ok`), or the request refused with its status.
        let served = echo_server::handle(&mut stream, "test", &AcceptOptions::default());
        assert!(matches!(served, Ok(()) | Err(blocking::Error::Handshake(_))), "{how}: {served:?}");
        check(&format!("echo_server, {how}"), &answer_text(&stream));
    }
    for (how, mut stream) in Script::all(request) {
        let served = runtime.block_on(tokio_echo::handle(&mut stream, "test", &AcceptOptions::default()));
        assert!(matches!(served, Ok(()) | Err(wsmachine_tokio::Error::Handshake(_))), "{how}: {served:?}");
        check(&format!("tokio_echo, {how}"), &answer_text(&stream));
    }
}

#[test]
fn a_plain_get_gets_a_page_on_any_path() {
    let root = b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n";
    server_answers(root, |how, answer| {
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{how}: {answer}");
        assert!(answer.contains("text/html"), "{how}: {answer}");
        assert!(answer.contains("new WebSocket("), "{how}: {answer}");
    });
    let echo = b"GET /echo?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\r\n";
    server_answers(echo, |how, answer| {
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{how}: {answer}");
        assert!(answer.contains("This is a WebSocket endpoint"), "{how}: {answer}");
        assert!(answer.contains("<a href=\"/\">"), "{how}: {answer}");
    });
}

#[test]
fn a_broken_upgrade_keeps_its_error_status() {
    // WebSocket headers without `Upgrade`: a broken client, not a browser.
    let no_upgrade = b"GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    server_answers(no_upgrade, |how, answer| {
        assert!(answer.starts_with("HTTP/1.1 400 "), "{how}: {answer}");
    });
    let only_key = b"GET / HTTP/1.1\r\nHost: localhost\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    server_answers(only_key, |how, answer| {
        assert!(answer.starts_with("HTTP/1.1 400 "), "{how}: {answer}");
    });
    let post = b"POST /echo HTTP/1.1\r\nHost: localhost\r\n\r\n";
    server_answers(post, |how, answer| {
        assert!(answer.starts_with("HTTP/1.1 405 "), "{how}: {answer}");
    });
}

/// A server that answers the client's request (whatever its key) with a
/// 101 followed by `frame`, delivered as `split` says.
struct MockServer {
    split: Option<usize>,
    frame: &'static [u8],
    script: Option<Script>,
}

impl Read for MockServer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let script = self.script.as_mut().expect("the request was written first");
        Ok(script.take(buf))
    }
}

impl Write for MockServer {
    fn write(&mut self, request: &[u8]) -> io::Result<usize> {
        if self.script.is_some() {
            return Ok(request.len()); // frames after the handshake
        }
        let mut server = ServerHandshake::default();
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let Ok(Status::Complete(req)) = server.receive(request, &mut headers) else {
            panic!("the client writes its whole request at once")
        };
        let mut answer = Vec::new();
        req.accept(&Accept::default(), &mut answer).expect("accept");
        answer.extend_from_slice(self.frame);
        self.script = Some(match self.split {
            Some(at) => Script::split(&answer, at.min(answer.len())),
            None => Script::bytewise(&answer),
        });
        Ok(request.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl blocking::Stream for MockServer {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn client_handshake_with_the_answer_split_anywhere() {
    // An unmasked text frame "Hello" (RFC 6455 §5.7) right behind the answer.
    const FRAME: &[u8] = &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
    // The 101 answer has the same length for every key.
    let mut answer = Vec::new();
    let mut server = ServerHandshake::default();
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let Ok(Status::Complete(req)) = server.receive(REQUEST, &mut headers) else { panic!("valid request") };
    let head_len = req.accept(&Accept::default(), &mut answer).expect("accept");
    for split in (0..=head_len + FRAME.len()).map(Some).chain([None]) {
        let stream = MockServer { split, frame: FRAME, script: None };
        let mut ws =
            blocking::client("ws://localhost:9001/", stream).unwrap_or_else(|e| panic!("split {split:?}: {e}"));
        // The frame bytes that came in the read completing the answer reach the connection.
        let hello = ws.read().unwrap_or_else(|e| panic!("split {split:?}: {e}"));
        assert_eq!(hello, Some(Message::text("Hello")), "split {split:?}");
    }
}
