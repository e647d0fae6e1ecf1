//! The `http` feature: upgrades that arrive as `http::Request`s (hyper, axum…)
//! are judged exactly like those read from the wire, the answers are right,
//! and a connection runs on the upgraded stream with the leftover bytes.
#![cfg(feature = "http")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use wsmachine::handshake::http::{
    reject_response, write_request_head, write_response_head, ClientRequestError, ClientUpgrade, UpgradeRequest,
};
use wsmachine::handshake::{Accept, Header, ServerHandshake, Status, UrlError, DEFAULT_MAX_HEADERS};
use wsmachine::{
    Config, Connection, Event, HandshakeError, Message, MessageAssembler, ResponseError, SecureRandom, UsageError,
};

/// What an HTTP library would hand over: the request parsed by httparse.
fn to_http_request(raw: &[u8]) -> Option<(http::Request<()>, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = parsed.parse(raw).ok()? else { return None };
    let mut builder = http::Request::builder()
        .method(parsed.method?)
        .uri(parsed.path?)
        .version(if parsed.version? == 0 { http::Version::HTTP_10 } else { http::Version::HTTP_11 });
    for h in parsed.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    Some((builder.body(()).ok()?, head_len))
}

fn to_http_response(raw: &[u8]) -> Option<(http::Response<()>, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = parsed.parse(raw).ok()? else { return None };
    let mut builder = http::Response::builder().status(parsed.code?);
    for h in parsed.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    Some((builder.body(()).ok()?, head_len))
}

fn wire_verdict(raw: &[u8]) -> Result<(), HandshakeError> {
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    match ServerHandshake::default().receive(raw, &mut headers)? {
        Status::Complete(_) => Ok(()),
        Status::Partial => panic!("incomplete test request"),
    }
}

const VALID: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn same_verdicts_as_the_wire_parser() {
    let variants: Vec<String> = vec![
        VALID.to_string(),
        VALID.replace("GET ", "POST "),
        VALID.replace("HTTP/1.1", "HTTP/1.0"),
        VALID.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
        VALID.replace("Sec-WebSocket-Version: 13\r\n", ""),
        VALID.replace("Upgrade: websocket\r\n", ""),
        VALID.replace("Upgrade: websocket", "Upgrade: h2c"),
        VALID.replace("keep-alive, Upgrade", "keep-alive"),
        VALID.replace("Host: server.example.com\r\n", ""),
        VALID.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
        VALID.replace("Origin:", "Content-Length: 5\r\nOrigin:"),
        VALID.replace("Origin:", "Transfer-Encoding: chunked\r\nOrigin:"),
        VALID.replace("Origin:", "Content-Length: 0\r\nOrigin:"),
        VALID.replace("Origin: http://example.com\r\n", "Origin: a\r\nOrigin: b\r\n"),
        VALID.replace("chat, superchat", "chat, super chat"),
        VALID.replace("permessage-deflate; client_max_window_bits", "permessage-deflate;"),
        VALID.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Key1: 1 2\r\nSec-WebSocket-Key2: 3 4"),
        VALID.replace("/chat?room=1", "http://other.example/chat"),
        VALID.replace("/chat?room=1", "ftp://other.example/chat"),
    ];
    for raw in &variants {
        let (request, _) = to_http_request(raw.as_bytes()).expect("httparse accepts the test request");
        let wire = wire_verdict(raw.as_bytes());
        let via_http = UpgradeRequest::parse(&request).map(|_| ());
        assert_eq!(via_http, wire, "{raw}");
    }
}

#[test]
fn request_view_and_accept() {
    let (request, _) = to_http_request(VALID.as_bytes()).unwrap();
    let upgrade = UpgradeRequest::parse(&request).unwrap();
    assert_eq!(upgrade.path(), "/chat?room=1");
    assert_eq!(upgrade.split_path(), ("/chat", Some("room=1")));
    assert_eq!(upgrade.host(), "server.example.com");
    assert_eq!(upgrade.origin(), Some("http://example.com"));
    assert!(upgrade.protocols().eq(["chat", "superchat"]));
    let ext: Vec<_> = upgrade.extensions().map(|e| e.name()).collect();
    assert_eq!(ext, ["permessage-deflate"]);

    let response = upgrade
        .accept(&Accept { protocol: Some("superchat"), extra_headers: &[("Server", "t")], ..Accept::default() })
        .unwrap();
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    let h = response.headers();
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["connection"], "Upgrade");
    assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); // RFC 6455 §1.3
    assert_eq!(h["sec-websocket-protocol"], "superchat");
    assert_eq!(h["server"], "t");
    assert!(h.get("sec-websocket-extensions").is_none(), "permessage-deflate declined by not answering");

    // The same bytes as the wire machine's answer, header for header.
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let mut machine = ServerHandshake::default();
    let Ok(Status::Complete(wire)) = machine.receive(VALID.as_bytes(), &mut headers) else { panic!() };
    let mut wire_answer = Vec::new();
    wire.accept(
        &Accept { protocol: Some("superchat"), extra_headers: &[("Server", "t")], ..Accept::default() },
        &mut wire_answer,
    )
    .unwrap();
    let mut http_answer = Vec::new();
    write_response_head(&response, &mut http_answer).unwrap();
    assert_eq!(
        String::from_utf8(http_answer).unwrap().to_lowercase(),
        String::from_utf8(wire_answer).unwrap().to_lowercase()
    );
}

#[test]
fn accept_checks_its_arguments() {
    let (request, _) = to_http_request(VALID.as_bytes()).unwrap();
    let upgrade = UpgradeRequest::parse(&request).unwrap();
    let accept = |a: Accept<'_>| upgrade.accept(&a).map(|_| ());
    assert_eq!(accept(Accept { protocol: Some("v9"), ..Accept::default() }), Err(UsageError::ProtocolNotOffered));
    assert_eq!(
        accept(Accept { extensions: Some("x-other"), ..Accept::default() }),
        Err(UsageError::ExtensionNotOffered)
    );
    assert_eq!(accept(Accept { extensions: Some("bad;"), ..Accept::default() }), Err(UsageError::InvalidExtensions));
    assert_eq!(
        accept(Accept { extra_headers: &[("Upgrade", "x")], ..Accept::default() }),
        Err(UsageError::ReservedHeader)
    );
    assert_eq!(
        accept(Accept { extra_headers: &[("X-A", "a\r\nb: c")], ..Accept::default() }),
        Err(UsageError::InvalidHeaderValue)
    );
    assert!(accept(Accept { extensions: Some("permessage-deflate"), ..Accept::default() }).is_ok());
}

#[test]
fn rejections_carry_their_headers() {
    let cases = [
        (VALID.replace("GET ", "POST "), 405, Some(("allow", "GET"))),
        (VALID.replace("Version: 13", "Version: 8"), 426, Some(("sec-websocket-version", "13"))),
        (VALID.replace("Upgrade: websocket\r\n", ""), 400, None),
        (VALID.replace("HTTP/1.1", "HTTP/1.0"), 505, None),
    ];
    for (raw, status, header) in cases {
        let (request, _) = to_http_request(raw.as_bytes()).unwrap();
        let error = UpgradeRequest::parse(&request).unwrap_err();
        let response = reject_response(&error);
        assert_eq!(response.status().as_u16(), status, "{raw}");
        if let Some((name, value)) = header {
            assert_eq!(response.headers()[name], value);
        }
        assert!(response.headers()["connection"].to_str().unwrap().contains("close"));
    }
    let h2 = http::Request::get("/").version(http::Version::HTTP_2).body(()).unwrap();
    assert_eq!(UpgradeRequest::parse(&h2).unwrap_err(), HandshakeError::UnsupportedHttpVersion);
}

#[test]
fn client_request_is_accepted_by_the_wire_server() {
    let mut rng = SecureRandom::from_seed([9; 32]);
    let mut request = http::Request::get("http://127.0.0.1:8080/feed?x=1")
        .header("sec-websocket-protocol", "v2, v1")
        .header("sec-websocket-extensions", "permessage-deflate")
        .header("origin", "http://app.example")
        .body(())
        .unwrap();
    let upgrade = ClientUpgrade::new(&mut request, &mut rng).unwrap();
    let mut head = Vec::new();
    write_request_head(&request, &mut head).unwrap();

    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let mut machine = ServerHandshake::default();
    let Ok(Status::Complete(wire)) = machine.receive(&head, &mut headers) else {
        panic!("{}", String::from_utf8_lossy(&head))
    };
    assert_eq!(wire.path(), "/feed?x=1");
    assert_eq!(wire.host(), "127.0.0.1:8080");
    assert_eq!(wire.key(), upgrade.key());
    assert!(wire.protocols().eq(["v2", "v1"]));
    let mut answer = Vec::new();
    wire.accept(
        &Accept { protocol: Some("v1"), extensions: Some("permessage-deflate"), ..Accept::default() },
        &mut answer,
    )
    .unwrap();
    let (response, _) = to_http_response(&answer).unwrap();
    assert_eq!(upgrade.check_response(&response), Ok(Some("v1")));
}

#[test]
fn client_request_errors() {
    let mut rng = SecureRandom::from_seed([1; 32]);
    let mut new = |b: http::request::Builder| ClientUpgrade::new(&mut b.body(()).unwrap(), &mut rng).map(|_| ());
    assert_eq!(new(http::Request::post("ws://h/")), Err(ClientRequestError::NotGet));
    assert_eq!(
        new(http::Request::get("ws://h/").version(http::Version::HTTP_2)),
        Err(ClientRequestError::UnsupportedVersion)
    );
    assert_eq!(
        new(http::Request::get("ftp://h/")),
        Err(ClientRequestError::Usage(UsageError::InvalidUrl(UrlError::UnsupportedScheme)))
    );
    assert_eq!(
        new(http::Request::get("/x")),
        Err(ClientRequestError::Usage(UsageError::InvalidUrl(UrlError::EmptyHost)))
    );
    assert!(new(http::Request::get("/x").header("host", "h.example")).is_ok());
    assert_eq!(
        new(http::Request::get("ws://h/").header("sec-websocket-protocol", "a b")),
        Err(ClientRequestError::Usage(UsageError::InvalidProtocol))
    );
    assert_eq!(
        new(http::Request::get("ws://h/").header("sec-websocket-extensions", "x;")),
        Err(ClientRequestError::Usage(UsageError::InvalidExtensions))
    );
}

#[test]
fn client_checks_the_answer() {
    let mut rng = SecureRandom::from_seed([2; 32]);
    let mut request = http::Request::get("ws://h/").header("sec-websocket-protocol", "v1").body(()).unwrap();
    let upgrade = ClientUpgrade::new(&mut request, &mut rng).unwrap();
    let accept = upgrade.expected_accept().as_str().to_string();
    let answer = |status: u16, headers: &[(&str, &str)]| {
        let mut b = http::Response::builder().status(status);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        upgrade.check_response(&b.body(()).unwrap()).map(|p| p.map(str::to_string))
    };
    let ok = [("upgrade", "websocket"), ("connection", "upgrade"), ("sec-websocket-accept", accept.as_str())];
    assert_eq!(answer(101, &ok), Ok(None));
    assert_eq!(answer(403, &ok), Err(ResponseError::UnexpectedStatus { status: 403, head_len: 0, consumed: 0 }));
    assert_eq!(answer(101, &ok[1..]), Err(ResponseError::UpgradeNotWebSocket));
    assert_eq!(answer(101, &[ok[0], ok[2]]), Err(ResponseError::ConnectionNotUpgrade));
    assert_eq!(answer(101, &ok[..2]), Err(ResponseError::MissingAccept));
    assert_eq!(
        answer(101, &[ok[0], ok[1], ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]),
        Err(ResponseError::AcceptMismatch)
    );
    assert_eq!(answer(101, &[ok[0], ok[1], ok[2], ("sec-websocket-protocol", "v1")]), Ok(Some("v1".into())));
    assert_eq!(
        answer(101, &[ok[0], ok[1], ok[2], ("sec-websocket-protocol", "v2")]),
        Err(ResponseError::ProtocolNotOffered)
    );
    assert_eq!(
        answer(101, &[ok[0], ok[1], ok[2], ("sec-websocket-protocol", "v1, v1")]),
        Err(ResponseError::MultipleProtocols)
    );
    assert_eq!(
        answer(101, &[ok[0], ok[1], ok[2], ("sec-websocket-extensions", "permessage-deflate")]),
        Err(ResponseError::ExtensionNotOffered)
    );
}

/// Over loopback: the client sends its request and a first frame in one
/// write; the server parses the head as an HTTP library would, answers with
/// the `http::Response`, and runs a connection fed the leftover bytes first.
#[test]
fn loopback_upgrade_with_leftover_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut n = 0;
        let (request, head_len) = loop {
            n += stream.read(&mut buf[n..]).unwrap();
            if let Some(parsed) = to_http_request(&buf[..n]) {
                break parsed;
            }
        };
        let response = match UpgradeRequest::parse(&request) {
            Ok(upgrade) => upgrade.accept(&Accept::default()).unwrap(),
            Err(e) => reject_response(&e),
        };
        let mut out = Vec::new();
        write_response_head(&response, &mut out).unwrap();
        let mut conn = Connection::server(Config::default());
        let mut assembler = MessageAssembler::new(1 << 20);
        let mut leftover = buf[head_len..n].to_vec();
        let mut input: &mut [u8] = &mut leftover;
        loop {
            let mut pos = 0;
            while pos < input.len() {
                let received = conn.receive(&mut input[pos..]).unwrap();
                pos += received.consumed;
                if let Some(event) = received.event {
                    if let Ok(Some(Message::Text(text))) = assembler.push(&event) {
                        conn.send_text(&text, &mut out).unwrap();
                    }
                }
                conn.poll_transmit(&mut out).unwrap();
            }
            stream.write_all(&out).unwrap();
            out.clear();
            if conn.should_close_transport() {
                return;
            }
            let read = stream.read(&mut buf).unwrap();
            if read == 0 {
                return;
            }
            input = &mut buf[..read];
        }
    });

    let mut rng = SecureRandom::from_os().unwrap();
    let mut request = http::Request::get(format!("ws://{addr}/echo")).body(()).unwrap();
    let upgrade = ClientUpgrade::new(&mut request, &mut rng).unwrap();
    let mut conn = Connection::client(Config::default(), rng);
    let mut wire = Vec::new();
    write_request_head(&request, &mut wire).unwrap();
    conn.send_text("sent with the request", &mut wire).unwrap(); // leftover for the server
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(&wire).unwrap();

    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0;
    let (response, head_len) = loop {
        let read = stream.read(&mut buf[n..]).unwrap();
        assert!(read > 0, "server closed early");
        n += read;
        if let Some(parsed) = to_http_response(&buf[..n]) {
            break parsed;
        }
    };
    assert_eq!(upgrade.check_response(&response), Ok(None));
    let mut pending = buf[head_len..n].to_vec();
    let mut assembler = MessageAssembler::new(1 << 20);
    let mut out = Vec::new();
    let mut got = None;
    let mut closed = false;
    while !closed {
        let mut pos = 0;
        while pos < pending.len() {
            let received = conn.receive(&mut pending[pos..]).unwrap();
            pos += received.consumed;
            match received.event {
                Some(Event::Close(_)) => closed = true,
                Some(event) => {
                    if let Ok(Some(Message::Text(text))) = assembler.push(&event) {
                        got = Some(text);
                        conn.send_close(wsmachine::CloseCode::NORMAL, "", &mut out).unwrap();
                    }
                }
                None => {}
            }
        }
        stream.write_all(&out).unwrap();
        out.clear();
        if !closed {
            let read = stream.read(&mut buf).unwrap();
            assert!(read > 0, "server closed before the close handshake");
            pending = buf[..read].to_vec();
        }
    }
    assert_eq!(got.as_deref(), Some("sent with the request"));
    server.join().unwrap();
}

/// A head's status and its header fields, names lowercased and sorted,
/// without `Content-Length` (the wire answer needs it, an `http::Response`
/// leaves it to the HTTP library).
fn answer_of_wire(raw: &[u8]) -> (u16, Vec<(String, String)>) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    assert!(parsed.parse(raw).unwrap().is_complete());
    let mut fields: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8(h.value.to_vec()).unwrap()))
        .filter(|(name, _)| name != "content-length")
        .collect();
    fields.sort();
    (parsed.code.unwrap(), fields)
}

fn answer_of_http<B>(response: &http::Response<B>) -> (u16, Vec<(String, String)>) {
    let mut fields: Vec<(String, String)> =
        response.headers().iter().map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string())).collect();
    fields.sort();
    (response.status().as_u16(), fields)
}

#[test]
fn accept_http_answers_as_server_start_does() {
    use wsmachine::{accept_http, AcceptOptions, Answer, Rejection, ServerStart, UpgradeError};

    let mut requests: Vec<String> = vec![
        VALID.to_string(),
        VALID.replace("Sec-WebSocket-Protocol: chat, superchat\r\n", ""),
        VALID.replace("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", ""),
        VALID.replace("permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover"),
        VALID.replace("permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=10"),
    ];
    requests.extend(
        [
            ("GET ", "POST "),
            ("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            ("Upgrade: websocket\r\n", ""),
            ("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
            ("Origin:", "Content-Length: 5\r\nOrigin:"),
        ]
        .map(|(from, to)| VALID.replace(from, to)),
    );
    #[allow(unused_mut)] // only the deflate feature adds to it
    let mut all_options = vec![
        AcceptOptions::default(),
        AcceptOptions {
            protocols: vec!["superchat".into(), "chat".into()],
            headers: vec![("Server".into(), "demo".into()), ("Set-Cookie".into(), "a=1".into())],
            ..AcceptOptions::default()
        },
    ];
    #[cfg(feature = "deflate")]
    all_options.push(AcceptOptions {
        deflate: Some(wsmachine::ext::deflate::DeflateConfig::default()),
        ..AcceptOptions::default()
    });
    type Decide = fn(&str, &mut Answer) -> Result<(), Rejection>;
    let decisions: [Decide; 5] = [
        |_, _| Ok(()),
        |_, answer| {
            answer.protocol = None;
            answer.headers.push(("X-Room".into(), "1".into()));
            Ok(())
        },
        |path, _| Err(Rejection::new(403).header("X-Why", path).body("not here")),
        |_, _| Err(Rejection::new(200)), // not a refusal: 500
        |_, _| Err(Rejection::new(400).header("Content-Length", "99")), // written by the answer: 500
    ];
    for raw in &requests {
        let (request, _) = to_http_request(raw.as_bytes()).unwrap();
        for options in &all_options {
            for decide in decisions {
                let mut start = ServerStart::new(options);
                let (wire_answer, wire_body, wire_result) =
                    match start.receive(raw.as_bytes(), |r, a| decide(r.path(), a)) {
                        Ok(Some(mut session)) => {
                            let answer = answer_of_wire(session.poll_output());
                            (answer, Vec::new(), Ok(session))
                        }
                        Ok(None) => panic!("incomplete test request"),
                        Err(e) => {
                            let wire = start.response();
                            let head_end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                            (answer_of_wire(wire), wire[head_end..].to_vec(), Err(e))
                        }
                    };
                let (response, result) = accept_http(options, &request, |r, a| decide(r.path(), a));
                let case = format!("{raw}{options:?}");
                assert_eq!(answer_of_http(&response), wire_answer, "{case}");
                let body = &response.body()[..];
                match (result, wire_result) {
                    (Ok(mut session), Ok(wire_session)) => {
                        assert_eq!(session.protocol(), wire_session.protocol(), "{case}");
                        assert_eq!(session.poll_output(), b"", "{case}: the HTTP library writes the 101");
                        assert_eq!(body, b"");
                    }
                    (Err(e), Err(wire_e)) => {
                        assert_eq!(e, wire_e, "{case}");
                        assert_eq!(body, wire_body, "{case}");
                        match e {
                            UpgradeError::Rejected(_) => assert_eq!(body, b"not here"),
                            UpgradeError::Request(error) if error.status() != 405 => {
                                assert!(body.starts_with(format!("{error}\n").as_bytes()), "{case}")
                            }
                            _ => assert_eq!(body, b""),
                        }
                    }
                    (result, wire_result) => panic!("{case}: {:?} against {:?}", result.err(), wire_result.err()),
                }
            }
        }
    }
}

#[cfg(feature = "deflate")]
#[test]
fn accept_http_runs_the_negotiated_compression() {
    use wsmachine::ext::deflate::DeflateConfig;
    use wsmachine::{accept_http, AcceptOptions, ClientStart, ConnectOptions, SecureRandom};

    let client_options = ConnectOptions { deflate: Some(DeflateConfig::default()), ..ConnectOptions::default() };
    let parts = wsmachine::RequestParts::new(&client_options);
    let mut client = ClientStart::new("ws://example.com/chat", &parts, SecureRandom::from_seed([3; 32])).unwrap();
    let (request, _) = to_http_request(client.request()).unwrap();
    let options = AcceptOptions { deflate: Some(DeflateConfig::default()), ..AcceptOptions::default() };
    let (response, server) = accept_http(&options, &request, |_, _| Ok(()));
    let mut server = server.unwrap();
    let mut head = Vec::new();
    write_response_head(&response, &mut head).unwrap();
    let mut client = client.receive(&head).unwrap().expect("the 101 is complete");

    let text = "compressible ".repeat(1000);
    client.send_text(&text).unwrap();
    let wire = client.poll_output().to_vec();
    assert!(wire.len() < text.len() / 10, "{} bytes on the wire: compressed", wire.len());
    server.receive(&wire);
    assert_eq!(server.poll_message().unwrap(), Some(wsmachine::Incoming::Message(Message::Text(text))));
}
