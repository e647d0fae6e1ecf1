//! The `echo_server` and `client` examples' own code, talking over a real
//! loopback socket (127.0.0.1, an ephemeral port, bounded in time).

use std::io::{Cursor, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/client.rs"]
mod client;

fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("bound address");
    thread::spawn(move || echo_server::serve(listener, &echo_server::options()));
    addr
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the echo server");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set a timeout");
    stream
}

/// Reads until the peer closes (or the timeout fires).
fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    got
}

#[test]
fn client_lines_come_back_from_the_echo_server() {
    let addr = start_server();
    let input = Cursor::new("hello\nκόσμε 🌍\n\nlast line\n".as_bytes().to_vec());
    let mut output = Vec::new();
    let options = wsmachine::ConnectOptions::default();
    client::run(&format!("ws://{addr}/any/path?q=1"), &options, input, &mut output).expect("client run");
    let output = String::from_utf8(output).expect("UTF-8 output");
    assert_eq!(output, "hello\nκόσμε 🌍\n\nlast line\n[closed: 1000 ]\n");
}

#[test]
fn the_articles_key_gets_its_accept_value() {
    let addr = start_server();
    let mut stream = connect(addr);
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: uRovscZjNol/umbTt5uKmw==\r\n\r\n",
        )
        .expect("send the request");
    let mut head = [0u8; 512];
    let n = stream.read(&mut head).expect("read the answer");
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{head}");
    assert!(head.contains("\r\nSec-WebSocket-Accept: rLHCkw/SKsO9GAH/ZSFhBATDKrU=\r\n"), "{head}");
}

#[test]
fn a_request_and_its_first_frames_in_one_write() {
    let addr = start_server();
    let mut stream = connect(addr);
    let mut bytes =
        b"GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
                      Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            .to_vec();
    // RFC 6455 §5.7: masked "Hello", then a masked Close 1000.
    bytes.extend_from_slice(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    bytes.extend_from_slice(&[0x88, 0x82, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8]);
    stream.write_all(&bytes).expect("send request and frames together");
    let got = read_all(&mut stream);
    let text = String::from_utf8_lossy(&got);
    let head_end = text.find("\r\n\r\n").expect("a complete head") + 4;
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    // The echo, then the Close echo; the server then closes the transport.
    assert_eq!(&got[head_end..], &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x88, 0x02, 0x03, 0xE8]);
}

#[test]
fn plain_get_gets_the_page_and_bad_requests_their_status() {
    let addr = start_server();
    let mut stream = connect(addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
    let page = String::from_utf8(read_all(&mut stream)).expect("UTF-8 page");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(page.contains("new WebSocket("));

    let mut stream = connect(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .expect("send");
    let answer = String::from_utf8(read_all(&mut stream)).expect("UTF-8 answer");
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(answer.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{answer}");

    let mut stream = connect(addr);
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let answer = String::from_utf8(read_all(&mut stream)).expect("UTF-8 answer");
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
}

#[test]
fn a_close_is_answered_with_its_code_and_reason() {
    let addr = start_server();
    let mut stream = connect(addr);
    let mut bytes = b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        .to_vec();
    // A masked Close 4000 "bye" (zero mask key).
    bytes.extend_from_slice(&[0x88, 0x85, 0, 0, 0, 0, 0x0f, 0xa0, b'b', b'y', b'e']);
    stream.write_all(&bytes).expect("send request and close together");
    let got = read_all(&mut stream);
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    assert_eq!(&got[head_end..], &[0x88, 0x05, 0x0f, 0xa0, b'b', b'y', b'e']);
}
