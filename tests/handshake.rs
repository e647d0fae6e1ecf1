//! Opening handshake tests through the public API: RFC 6455 vectors,
//! malformed-request table, every split, leftover bytes, client requests and
//! response validation, a client↔server round trip, extended CONNECT.

use wsmachine::handshake::{
    accept_key, Accept, ClientHandshake, ClientOptions, ExtendedConnect, ExtendedConnectError, Extensions,
    HandshakeConfig, HandshakeError, HeadBuffer, HeadStorage, Header, Reject, Request, ResponseError, ServerHandshake,
    Status, UrlError, UsageError, DEFAULT_MAX_HEADERS,
};
use wsmachine::{BufferTooSmall, RandomSource, SecureRandom};

/// RFC 6455 §1.3's sample request.
const RFC_SAMPLE: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// A deterministic nonce source for tests only.
struct Fixed([u8; 16]);

impl RandomSource for Fixed {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for (d, s) in dest.iter_mut().zip(self.0.iter().cycle()) {
            *d = *s;
        }
    }
}

/// A comparable summary of one parse.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Partial,
    Request { head_len: usize, path: String, host: String, key: String, protocols: Vec<String>, headers: usize },
    Error(HandshakeError),
}

fn summary(r: Result<Status<Request<'_, '_>>, HandshakeError>) -> Outcome {
    match r {
        Ok(Status::Partial) => Outcome::Partial,
        Ok(Status::Complete(req)) => Outcome::Request {
            head_len: req.head_len(),
            path: req.path().into(),
            host: req.host().into(),
            key: req.key().into(),
            protocols: req.protocols().map(String::from).collect(),
            headers: req.headers().len(),
        },
        Err(e) => Outcome::Error(e),
    }
}

/// Parses `data` fed in one call, with the default (fixed) storage and with
/// a growing [`HeadBuffer`]: both must give the same outcome.
fn parse_whole(data: &[u8]) -> Outcome {
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let fixed = summary(ServerHandshake::default().receive(data, &mut headers));
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let mut growing = ServerHandshake::with_storage(HandshakeConfig::new(), HeadBuffer::new());
    assert_eq!(summary(growing.receive(data, &mut headers)), fixed, "a HeadBuffer parses differently");
    fixed
}

/// Feeds one byte per call; returns the first non-Partial outcome.
/// Parses `data` fed a byte at a time, with both storages as
/// [`parse_whole`] does.
fn parse_bytewise(data: &[u8]) -> Outcome {
    let fixed = parse_bytewise_into(ServerHandshake::default(), data);
    let growing = parse_bytewise_into(ServerHandshake::with_storage(HandshakeConfig::new(), HeadBuffer::new()), data);
    assert_eq!(growing, fixed, "a HeadBuffer parses differently");
    return fixed;

    fn parse_bytewise_into<S: HeadStorage>(mut hs: ServerHandshake<S>, data: &[u8]) -> Outcome {
        for byte in data.chunks(1) {
            let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
            let outcome = summary(hs.receive(byte, &mut headers));
            if outcome != Outcome::Partial {
                return outcome;
            }
        }
        Outcome::Partial
    }
}

/// A request with the standard valid headers, minus those named in `drop`,
/// plus the raw `add` lines.
fn request(start: &str, drop: &[&str], add: &[&str]) -> Vec<u8> {
    let standard = [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    let mut out = format!("{start}\r\n");
    for (name, value) in standard {
        if !drop.contains(&name) {
            out += &format!("{name}: {value}\r\n");
        }
    }
    for line in add {
        out += line;
        out += "\r\n";
    }
    out += "\r\n";
    out.into_bytes()
}

fn parse_error(data: &[u8]) -> HandshakeError {
    let whole = parse_whole(data);
    assert_eq!(whole, parse_bytewise(data), "whole and byte-at-a-time disagree");
    match whole {
        Outcome::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn valid_baseline_is_accepted() {
    assert!(matches!(parse_whole(&request("GET / HTTP/1.1", &[], &[])), Outcome::Request { .. }));
}

macro_rules! reject {
    ($name:ident, $data:expr, $status:expr, $pattern:pat) => {
        #[test]
        fn $name() {
            let err = parse_error(&$data);
            assert!(matches!(err, $pattern), "got {err:?}");
            assert_eq!(err.status(), $status, "{err:?}");
            let mut out = Vec::new();
            err.write_response(&mut out).unwrap();
            let answer = String::from_utf8(out).unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {} ", $status)), "{head}");
            assert!(head.ends_with("\r\nConnection: close") || $status == 426, "{head}");
            // The body says what was wrong, except to a method that may be HEAD.
            if $status == 405 {
                assert_eq!(body, "");
            } else {
                assert!(body.starts_with(&format!("{err}\n")), "{body}");
                assert!(head.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"), "{head}");
            }
            assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())), "{head}");
        }
    };
}

use HandshakeError as E;

// Request line.
reject!(reject_post_method, request("POST / HTTP/1.1", &[], &[]), 405, E::MethodNotAllowed);
reject!(reject_lowercase_get, request("get / HTTP/1.1", &[], &[]), 405, E::MethodNotAllowed);
reject!(reject_http_1_0, request("GET / HTTP/1.0", &[], &[]), 505, E::UnsupportedHttpVersion);
reject!(reject_http_2_0_text, request("GET / HTTP/2.0", &[], &[]), 505, E::UnsupportedHttpVersion);
reject!(reject_truncated_version, request("GET / HTTP/1", &[], &[]), 400, E::InvalidHttpVersion);
reject!(reject_lowercase_http, request("GET / http/1.1", &[], &[]), 400, E::InvalidHttpVersion);
reject!(reject_trailing_space_after_version, request("GET / HTTP/1.1 ", &[], &[]), 400, E::InvalidHttpVersion);
reject!(reject_double_space_in_request_line, request("GET  / HTTP/1.1", &[], &[]), 400, E::MalformedRequestLine);
reject!(reject_missing_target, request("GET HTTP/1.1", &[], &[]), 400, E::MalformedRequestLine);
reject!(reject_empty_target, request("GET  HTTP/1.1", &[], &[]), 400, E::MalformedRequestLine);
reject!(reject_relative_target, request("GET chat HTTP/1.1", &[], &[]), 400, E::InvalidRequestTarget);
reject!(reject_asterisk_target, request("GET * HTTP/1.1", &[], &[]), 400, E::InvalidRequestTarget);
reject!(reject_ws_scheme_target, request("GET ws://example.com/ HTTP/1.1", &[], &[]), 400, E::InvalidRequestTarget);
reject!(reject_fragment_in_target, request("GET /a#b HTTP/1.1", &[], &[]), 400, E::InvalidRequestTarget);
reject!(reject_non_ascii_target, request("GET /café HTTP/1.1", &[], &[]), 400, E::InvalidRequestTarget);
reject!(reject_control_in_request_line, request("GET /\x01 HTTP/1.1", &[], &[]), 400, E::ControlByte);
reject!(reject_tab_in_request_line, request("GET\t/ HTTP/1.1", &[], &[]), 400, E::MalformedRequestLine);
reject!(
    reject_leading_empty_line,
    [b"\r\n".as_slice(), &request("GET / HTTP/1.1", &[], &[])].concat(),
    400,
    E::MalformedRequestLine
);

// Header syntax and smuggling shapes.
reject!(reject_obs_fold, request("GET / HTTP/1.1", &[], &["X-A: 1", " continued"]), 400, E::ObsFold);
reject!(reject_obs_fold_tab, request("GET / HTTP/1.1", &[], &["X-A: 1", "\tcontinued"]), 400, E::ObsFold);
reject!(reject_bare_lf, request("GET / HTTP/1.1", &[], &["X-A: 1\nX-B: 2"]), 400, E::BareLf);
reject!(reject_bare_lf_terminator, *b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, E::BareLf);
reject!(reject_nul_in_value, request("GET / HTTP/1.1", &[], &["X-A: a\0b"]), 400, E::ControlByte);
reject!(reject_lone_cr_in_value, request("GET / HTTP/1.1", &[], &["X-A: a\rb"]), 400, E::ControlByte);
reject!(reject_del_in_value, request("GET / HTTP/1.1", &[], &["X-A: a\x7fb"]), 400, E::ControlByte);
reject!(
    reject_space_before_colon,
    request("GET / HTTP/1.1", &["Host"], &["Host : example.com"]),
    400,
    E::WhitespaceBeforeColon
);
reject!(reject_tab_before_colon, request("GET / HTTP/1.1", &[], &["X-A\t: 1"]), 400, E::WhitespaceBeforeColon);
reject!(reject_non_token_header_name, request("GET / HTTP/1.1", &[], &["X(A): 1"]), 400, E::InvalidHeaderName);
reject!(reject_empty_header_name, request("GET / HTTP/1.1", &[], &[": 1"]), 400, E::InvalidHeaderName);
reject!(reject_header_without_colon, request("GET / HTTP/1.1", &[], &["NoColon"]), 400, E::MalformedHeaderLine);
reject!(reject_transfer_encoding, request("GET / HTTP/1.1", &[], &["Transfer-Encoding: chunked"]), 400, E::RequestBody);
reject!(reject_content_length, request("GET / HTTP/1.1", &[], &["Content-Length: 8"]), 400, E::RequestBody);
reject!(
    reject_invalid_content_length,
    request("GET / HTTP/1.1", &[], &["Content-Length: -1"]),
    400,
    E::InvalidHeaderValue("Content-Length")
);

// RFC 6455 §4.2.1 requirements.
reject!(reject_missing_host, request("GET / HTTP/1.1", &["Host"], &[]), 400, E::MissingHeader("Host"));
reject!(reject_empty_host, request("GET / HTTP/1.1", &["Host"], &["Host:"]), 400, E::InvalidHeaderValue("Host"));
reject!(
    reject_duplicate_host,
    request("GET / HTTP/1.1", &[], &["Host: evil.example"]),
    400,
    E::DuplicateHeader("Host")
);
reject!(reject_missing_upgrade, request("GET / HTTP/1.1", &["Upgrade"], &[]), 400, E::MissingHeader("Upgrade"));
reject!(
    reject_upgrade_not_websocket,
    request("GET / HTTP/1.1", &["Upgrade"], &["Upgrade: h2c"]),
    400,
    E::UpgradeNotWebSocket
);
reject!(
    reject_missing_connection,
    request("GET / HTTP/1.1", &["Connection"], &[]),
    400,
    E::MissingHeader("Connection")
);
reject!(
    reject_connection_keep_alive_only,
    request("GET / HTTP/1.1", &["Connection"], &["Connection: keep-alive"]),
    400,
    E::ConnectionNotUpgrade
);
reject!(
    reject_connection_upgrade_prefix,
    request("GET / HTTP/1.1", &["Connection"], &["Connection: Upgraded"]),
    400,
    E::ConnectionNotUpgrade
);
reject!(
    reject_missing_key,
    request("GET / HTTP/1.1", &["Sec-WebSocket-Key"], &[]),
    400,
    E::MissingHeader("Sec-WebSocket-Key")
);
reject!(
    reject_short_key,
    request("GET / HTTP/1.1", &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="]),
    400,
    E::InvalidKey
);
reject!(
    reject_unpadded_key,
    request("GET / HTTP/1.1", &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"]),
    400,
    E::InvalidKey
);
reject!(
    reject_key_not_base64,
    request("GET / HTTP/1.1", &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: not*base64*at*all*!!!!"]),
    400,
    E::InvalidKey
);
reject!(
    reject_duplicate_key,
    request("GET / HTTP/1.1", &[], &["Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEC=="]),
    400,
    E::DuplicateHeader("Sec-WebSocket-Key")
);
reject!(reject_missing_version, request("GET / HTTP/1.1", &["Sec-WebSocket-Version"], &[]), 426, E::MissingVersion);
reject!(
    reject_version_8,
    request("GET / HTTP/1.1", &["Sec-WebSocket-Version"], &["Sec-WebSocket-Version: 8"]),
    426,
    E::UnsupportedVersion
);
reject!(
    reject_version_list,
    request("GET / HTTP/1.1", &["Sec-WebSocket-Version"], &["Sec-WebSocket-Version: 13, 8"]),
    426,
    E::UnsupportedVersion
);
reject!(
    reject_duplicate_version,
    request("GET / HTTP/1.1", &[], &["Sec-WebSocket-Version: 13"]),
    400,
    E::DuplicateHeader("Sec-WebSocket-Version")
);
reject!(
    reject_duplicate_origin,
    request("GET / HTTP/1.1", &[], &["Origin: http://a", "Origin: http://b"]),
    400,
    E::DuplicateHeader("Origin")
);
reject!(
    reject_bad_protocol_list,
    request("GET / HTTP/1.1", &[], &["Sec-WebSocket-Protocol: chat, super chat"]),
    400,
    E::InvalidHeaderValue("Sec-WebSocket-Protocol")
);
reject!(
    reject_empty_protocol_header,
    request("GET / HTTP/1.1", &[], &["Sec-WebSocket-Protocol:"]),
    400,
    E::InvalidHeaderValue("Sec-WebSocket-Protocol")
);
reject!(
    reject_bad_extension_list,
    request("GET / HTTP/1.1", &[], &["Sec-WebSocket-Extensions: permessage-deflate; =1"]),
    400,
    E::InvalidHeaderValue("Sec-WebSocket-Extensions")
);
reject!(reject_hixie76, HIXIE_76, 426, E::LegacyHixie76);

/// A hixie-76 (draft-ietf-hybi-thewebsocketprotocol-00) request with its 8-byte key3 body.
const HIXIE_76: &[u8] = b"GET /demo HTTP/1.1\r\n\
Host: example.com\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\
Sec-WebSocket-Protocol: sample\r\n\
Upgrade: WebSocket\r\n\
Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
Origin: http://example.com\r\n\r\n^n:ds[4U";

#[test]
fn hixie76_answer_names_version_13() {
    let err = parse_error(HIXIE_76);
    let text = err.to_string();
    assert!(text.contains("obsolete") && text.contains("version 13"), "{text}");
    let mut out = [0u8; 512];
    let n = err.write_response(&mut out[..]).unwrap();
    let body = format!("{text}\n");
    assert_eq!(
        out[..n],
        *format!(
            "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: Upgrade, close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes()
    );
}

#[test]
fn error_answers() {
    let mut out = Vec::new();
    HandshakeError::MissingHeader("Host").write_response(&mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\n\
Connection: close\r\n\r\nmissing Host header\n"
    );
    out.clear();
    // A browser or curl opening the address learns what it is for.
    HandshakeError::MissingHeader("Upgrade").write_response(&mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 98\r\n\
Connection: close\r\n\r\nmissing Upgrade header\n\
This address takes WebSocket connections: open it with a WebSocket client.\n"
    );
    out.clear();
    HandshakeError::MethodNotAllowed.write_response(&mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    out.clear();
    HandshakeError::HeadTooLarge.write_response(&mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    out.clear();
    // The answer a wrapper sends when the head does not arrive in time.
    HandshakeError::Timeout.write_response(&mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 42\r\n\
Connection: close\r\n\r\nthe handshake head did not arrive in time\n"
    );
    let mut small = [0u8; 8];
    assert!(matches!(HandshakeError::BareLf.write_response(&mut small[..]), Err(BufferTooSmall { .. })));
    assert_eq!(small, [0; 8]);
}

#[test]
fn reject_too_many_headers() {
    let data = request("GET / HTTP/1.1", &[], &["A: 1", "B: 2", "C: 3"]);
    let mut headers = [Header::EMPTY; 7];
    let mut machine = ServerHandshake::default();
    let err = machine.receive(&data, &mut headers).unwrap_err();
    assert_eq!(err, HandshakeError::TooManyHeaders);
    assert_eq!(err.status(), 431);
    let mut headers = [Header::EMPTY; 8];
    assert!(ServerHandshake::default().receive(&data, &mut headers).unwrap().is_complete());
}

#[test]
fn a_head_buffer_holds_any_limit_and_only_what_arrived() {
    // 12 KiB of cookies: over the default limit, within a 16 KiB one.
    let cookie = "Cookie: ".to_string() + &"c".repeat(12 * 1024);
    let data = request("GET / HTTP/1.1", &[], &[&cookie]);
    let config = HandshakeConfig::new().with_max_head_len(16 * 1024);
    // The default storage is an 8 KiB array, which caps the limit.
    let mut headers = [Header::EMPTY; 16];
    assert_eq!(ServerHandshake::new(config).receive(&data, &mut headers).err(), Some(HandshakeError::HeadTooLarge));
    let mut hs = ServerHandshake::with_storage(config, HeadBuffer::new());
    let mut headers = [Header::EMPTY; 16];
    assert_eq!(hs.receive(&data, &mut headers).map(|s| s.is_complete()), Ok(true));
    assert_eq!(hs.head(), &data[..]);
    // Past the configured limit it refuses as fixed storage does.
    let mut hs = ServerHandshake::with_storage(config.with_max_head_len(12 * 1024), HeadBuffer::new());
    let mut headers = [Header::EMPTY; 16];
    assert_eq!(hs.receive(&data, &mut headers).err(), Some(HandshakeError::HeadTooLarge));

    // The session layer's machine grows its storage, so its options'
    // limit holds whatever it is.
    let options = wsmachine::AcceptOptions { handshake: config, ..wsmachine::AcceptOptions::default() };
    let mut start = wsmachine::ServerStart::new(&options);
    let session = start.receive(&data, |request, _| {
        assert!(request.headers().iter().any(|h| h.name == "Cookie"));
        Ok(())
    });
    assert!(matches!(session, Ok(Some(_))), "{:?}", session.err());

    // Bytes past the head are left to the caller, not kept as head.
    let mut storage = HeadBuffer::new();
    let mut with_frame = data.clone();
    with_frame.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
    let mut hs = ServerHandshake::with_storage(config, &mut storage);
    let mut headers = [Header::EMPTY; 16];
    let Ok(Status::Complete(request)) = hs.receive(&with_frame, &mut headers) else { panic!("complete") };
    assert_eq!(request.consumed(), data.len());
    assert_eq!(hs.head(), &data[..]);
    // Lent again, it serves the next handshake with what it allocated.
    let capacity = storage.capacity();
    assert!(capacity >= with_frame.len());
    let mut hs = ServerHandshake::with_storage(config, &mut storage);
    let mut headers = [Header::EMPTY; 16];
    assert_eq!(summary(hs.receive(RFC_SAMPLE, &mut headers)), parse_whole(RFC_SAMPLE));
    assert_eq!(hs.head(), RFC_SAMPLE);
    assert_eq!(storage.capacity(), capacity);
}

#[test]
fn reject_head_too_large_as_soon_as_limit_is_reached() {
    let config = HandshakeConfig::default().with_max_head_len(100);
    let data = request("GET / HTTP/1.1", &[], &["X-Padding: 0123456789"]);
    assert!(data.len() > 100);
    let mut hs = ServerHandshake::new(config);
    for n in 0..99 {
        let mut headers = [Header::EMPTY; 16];
        assert!(hs.receive(&data[n..n + 1], &mut headers).unwrap().is_partial(), "at {n}");
    }
    let mut headers = [Header::EMPTY; 16];
    let err = hs.receive(&data[99..100], &mut headers).unwrap_err();
    assert_eq!((err, err.status()), (HandshakeError::HeadTooLarge, 431));
    // Sticky.
    let mut headers = [Header::EMPTY; 16];
    assert_eq!(hs.receive(&data[100..], &mut headers).unwrap_err(), HandshakeError::HeadTooLarge);
    // The default limit is 8 KiB.
    let big = "X: ".to_string() + &"a".repeat(8 * 1024);
    assert_eq!(parse_error(&request("GET / HTTP/1.1", &[], &[&big])), HandshakeError::HeadTooLarge);
    // A head of exactly the limit is accepted.
    let exact = request("GET / HTTP/1.1", &[], &[]);
    let mut hs = ServerHandshake::new(HandshakeConfig::default().with_max_head_len(exact.len()));
    let mut headers = [Header::EMPTY; 16];
    assert!(hs.receive(&exact, &mut headers).unwrap().is_complete());
}

#[test]
fn errors_are_sticky() {
    let mut hs = ServerHandshake::default();
    let mut headers = [Header::EMPTY; 16];
    let bad = request("POST / HTTP/1.1", &[], &[]);
    assert_eq!(hs.receive(&bad, &mut headers).unwrap_err(), HandshakeError::MethodNotAllowed);
    let mut headers = [Header::EMPTY; 16];
    assert_eq!(hs.receive(RFC_SAMPLE, &mut headers).unwrap_err(), HandshakeError::MethodNotAllowed);
    assert_eq!(hs.error(), Some(HandshakeError::MethodNotAllowed));
}

#[test]
fn accept_key_vectors() {
    assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(accept_key(b"uRovscZjNol/umbTt5uKmw==").as_str(), "rLHCkw/SKsO9GAH/ZSFhBATDKrU=");
}

#[test]
fn rfc6455_sample_request_accepted_with_chat() {
    let mut headers = [Header::EMPTY; 16];
    let mut machine = ServerHandshake::default();
    let req = machine.receive(RFC_SAMPLE, &mut headers).unwrap().complete().unwrap();
    assert_eq!(req.method(), "GET");
    assert_eq!(req.path(), "/chat");
    assert_eq!(req.split_path(), ("/chat", None));
    assert_eq!(req.http_version(), (1, 1));
    assert_eq!(req.host(), "server.example.com");
    assert_eq!(req.origin(), Some("http://example.com"));
    assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert!(req.protocols().eq(["chat", "superchat"]));
    assert_eq!(req.extensions().count(), 0);
    assert_eq!(req.header("sec-websocket-version"), Some(&b"13"[..]));
    assert_eq!(req.headers().len(), 7);
    assert_eq!(req.head_len(), RFC_SAMPLE.len());
    let mut out = [0u8; 256];
    let n = req.accept(&Accept { protocol: Some("chat"), ..Accept::default() }, &mut out[..]).unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
}

#[test]
fn second_pair_full_answer_byte_for_byte() {
    let data = b"GET /ws HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: uRovscZjNol/umbTt5uKmw==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut headers = [Header::EMPTY; 16];
    let mut machine = ServerHandshake::default();
    let req = machine.receive(data, &mut headers).unwrap().complete().unwrap();
    let mut out = Vec::new();
    req.accept(&Accept::default(), &mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: rLHCkw/SKsO9GAH/ZSFhBATDKrU=\r\n\r\n"
    );
}

/// Valid requests in the shapes real clients send.
const VALID: &[&[u8]] = &[
    RFC_SAMPLE,
    // Chromium.
    b"GET /socket?token=abc HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0\r\nUpgrade: websocket\r\nOrigin: http://127.0.0.1:9001\r\n\
Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    // Firefox: Connection lists keep-alive too.
    b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0)\r\n\
Accept: */*\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEC==\r\n\
Connection: keep-alive, Upgrade\r\nSec-Fetch-Mode: websocket\r\nUpgrade: websocket\r\n\r\n",
    // Lowercase names, tabs around values, several protocol headers, Content-Length: 0, absolute form.
    b"GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nhost:example.com:8080\r\nupgrade:\tWebSocket \r\n\
connection: UPGRADE\r\nsec-websocket-key:  dGhlIHNhbXBsZSBub25jZQ==\t\r\nsec-websocket-version: 13\r\n\
sec-websocket-protocol: v1.chat\r\nsec-websocket-protocol: v2.chat, v3.chat\r\ncontent-length: 0\r\n\r\n",
    // HTTP/1.2 is "HTTP/1.1 or later".
    b"GET / HTTP/1.2\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Empty:\r\n\r\n",
];

#[test]
fn every_valid_vector_bytewise_equals_whole() {
    for (i, data) in VALID.iter().enumerate() {
        let whole = parse_whole(data);
        assert!(matches!(whole, Outcome::Request { .. }), "vector {i}: {whole:?}");
        assert_eq!(whole, parse_bytewise(data), "vector {i}");
        // And in chunks of every size.
        for chunk in 2..data.len() {
            let mut hs = ServerHandshake::default();
            let mut outcome = Outcome::Partial;
            let mut pieces = data.chunks(chunk);
            while outcome == Outcome::Partial {
                let Some(piece) = pieces.next() else { break };
                let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
                outcome = summary(hs.receive(piece, &mut headers));
            }
            assert_eq!(whole, outcome, "vector {i}, chunk {chunk}");
        }
    }
}

/// A head that arrives whole is parsed before it is searched. Whatever is
/// wrong with it, and wherever it really ends, the answer must be the one
/// byte-at-a-time input gets, which is searched as it arrives: for the RFC
/// sample with a line ending, a blank line, a control byte or a space put
/// in at every position, or with any one byte left out; and with one line
/// ending a bare LF and a CR put in at every position, which keeps the
/// count of CRs that the control-byte check relies on.
#[test]
fn whole_head_parsed_first_answers_as_searched() {
    let inserts: [&[u8]; 8] = [b"\n", b"\r", b"\r\n", b"\r\n\r\n", b"\n\r\n", b"\r\n\n", b"\x01", b" "];
    let mut variants = Vec::new();
    for at in 0..=RFC_SAMPLE.len() {
        for insert in inserts {
            variants.push([&RFC_SAMPLE[..at], insert, &RFC_SAMPLE[at..]].concat());
        }
        if at < RFC_SAMPLE.len() {
            variants.push([&RFC_SAMPLE[..at], &RFC_SAMPLE[at + 1..]].concat());
        }
    }
    let crs: Vec<usize> = (0..RFC_SAMPLE.len()).filter(|&i| RFC_SAMPLE[i] == b'\r').collect();
    for bare in [crs[0], crs[1]] {
        let one_bare_lf = [&RFC_SAMPLE[..bare], &RFC_SAMPLE[bare + 1..]].concat();
        for at in 0..=one_bare_lf.len() {
            variants.push([&one_bare_lf[..at], b"\r", &one_bare_lf[at..]].concat());
        }
    }
    let mut taken_whole = 0;
    for data in &variants {
        let whole = parse_whole(data);
        assert_eq!(whole, parse_bytewise(data), "{}", data.escape_ascii());
        taken_whole += usize::from(data.ends_with(b"\r\n\r\n"));
    }
    // Most variants still end with the blank line, so they take that path.
    assert!(taken_whole > variants.len() / 2, "{taken_whole} of {}", variants.len());
}

#[test]
fn absolute_form_uses_target_authority() {
    let mut headers = [Header::EMPTY; 16];
    let mut machine = ServerHandshake::default();
    let req = machine.receive(VALID[3], &mut headers).unwrap().complete().unwrap();
    assert_eq!(req.target(), "http://example.com:8080/a/b?c=d");
    assert_eq!(req.path(), "/a/b?c=d");
    assert_eq!(req.split_path(), ("/a/b", Some("c=d")));
    assert_eq!(req.host(), "example.com:8080");
    assert!(req.protocols().eq(["v1.chat", "v2.chat", "v3.chat"]));
    assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
}

#[test]
fn extensions_with_params_across_headers() {
    let data = request(
        "GET / HTTP/1.1",
        &[],
        &[
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\"",
            "Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate",
        ],
    );
    let mut headers = [Header::EMPTY; 16];
    let mut machine = ServerHandshake::default();
    let req = machine.receive(&data, &mut headers).unwrap().complete().unwrap();
    let names: Vec<_> = req.extensions().map(|e| e.name()).collect();
    assert_eq!(names, ["permessage-deflate", "x-webkit-deflate-frame", "permessage-deflate"]);
    let first = req.extensions().next().unwrap();
    let params: Vec<_> = first.params().map(|p| (p.name(), p.value())).collect();
    assert_eq!(params, [("client_max_window_bits", None), ("server_max_window_bits", Some("10"))]);
    assert_eq!(req.extensions().nth(2).unwrap().params().count(), 0);
}

#[test]
fn consumed_points_at_frame_bytes() {
    // A masked text frame "Hello" (RFC 6455 §5.7) sent in the same read.
    let frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    let data = [RFC_SAMPLE, &frame].concat();
    // The request in two reads, split at every byte: the second read (or the
    // first, when it holds the whole head) ends the head, and the bytes of
    // that read after `consumed` are the frame's.
    for split in 0..=data.len() {
        let (first, second) = data.split_at(split);
        let mut machine = ServerHandshake::default();
        let mut headers = [Header::EMPTY; 16];
        let (input, req) = match machine.receive(first, &mut headers).unwrap() {
            Status::Complete(req) => (first, req),
            Status::Partial => {
                let mut headers = [Header::EMPTY; 16];
                let req = machine.receive(second, &mut headers).unwrap().complete().expect("complete");
                assert_eq!(req.head_len(), RFC_SAMPLE.len(), "split at {split}");
                assert_eq!(&second[req.consumed()..], &frame, "split at {split}");
                continue;
            }
        };
        assert!(split >= RFC_SAMPLE.len());
        assert_eq!((req.head_len(), req.consumed()), (RFC_SAMPLE.len(), RFC_SAMPLE.len()));
        assert_eq!(&input[req.consumed()..], &frame[..split - RFC_SAMPLE.len()]);
    }
    // Bytewise: complete with the last byte of the head; later calls
    // consume nothing and look for no terminator in the frame bytes.
    let mut hs = ServerHandshake::default();
    let mut done = None;
    for (n, byte) in data.chunks(1).enumerate() {
        let mut headers = [Header::EMPTY; 16];
        if let Status::Complete(req) = hs.receive(byte, &mut headers).unwrap() {
            let first = *done.get_or_insert(n + 1);
            assert_eq!(req.head_len(), RFC_SAMPLE.len());
            assert_eq!(req.consumed(), usize::from(n + 1 == first));
        }
    }
    assert_eq!(done, Some(RFC_SAMPLE.len()));
}

#[test]
fn accept_with_extensions_and_extra_headers() {
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let mut machine = ServerHandshake::default();
    let req = machine.receive(VALID[1], &mut headers).unwrap().complete().unwrap();
    let accept = Accept {
        protocol: None,
        extensions: Some("permessage-deflate; client_max_window_bits=15"),
        extra_headers: &[("Server", "wsmachine"), ("Set-Cookie", "id=1; HttpOnly")],
    };
    let mut out = Vec::new();
    let n = req.accept(&accept, &mut out).unwrap();
    assert_eq!(n, out.len());
    let expected = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\
Server: wsmachine\r\nSet-Cookie: id=1; HttpOnly\r\n\r\n",
        accept_key(b"x3JJHMbDL1EzLkh9GBhXDw==")
    );
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn accept_rejects_caller_mistakes_and_writes_nothing() {
    let mut headers = [Header::EMPTY; 16];
    let mut machine = ServerHandshake::default();
    let req = machine.receive(RFC_SAMPLE, &mut headers).unwrap().complete().unwrap();
    let cases: &[(Accept<'_>, UsageError)] = &[
        (Accept { protocol: Some("mqtt"), ..Accept::default() }, UsageError::ProtocolNotOffered),
        (Accept { protocol: Some("Chat"), ..Accept::default() }, UsageError::ProtocolNotOffered),
        (Accept { extensions: Some("permessage-deflate"), ..Accept::default() }, UsageError::ExtensionNotOffered),
        (Accept { extensions: Some(""), ..Accept::default() }, UsageError::InvalidExtensions),
        (Accept { extensions: Some("a\r\nX: y"), ..Accept::default() }, UsageError::InvalidExtensions),
        (
            Accept { extra_headers: &[("X-A", "1\r\nX-Injected: 2")], ..Accept::default() },
            UsageError::InvalidHeaderValue,
        ),
        (Accept { extra_headers: &[("X-A", "1\0")], ..Accept::default() }, UsageError::InvalidHeaderValue),
        (Accept { extra_headers: &[("X A", "1")], ..Accept::default() }, UsageError::InvalidHeaderName),
        (Accept { extra_headers: &[("", "1")], ..Accept::default() }, UsageError::InvalidHeaderName),
        (Accept { extra_headers: &[("X-A:", "1")], ..Accept::default() }, UsageError::InvalidHeaderName),
        (Accept { extra_headers: &[("sec-websocket-accept", "x")], ..Accept::default() }, UsageError::ReservedHeader),
        (Accept { extra_headers: &[("Connection", "close")], ..Accept::default() }, UsageError::ReservedHeader),
    ];
    for (accept, expected) in cases {
        let mut out = Vec::new();
        assert_eq!(req.accept(accept, &mut out), Err(*expected), "{accept:?}");
        assert!(out.is_empty());
    }
    let mut small = [0u8; 64];
    let err = req.accept(&Accept::default(), &mut small[..]).unwrap_err();
    assert!(matches!(err, UsageError::BufferTooSmall(BufferTooSmall { needed: 129 })), "{err:?}");
    assert_eq!(small, [0; 64]);
}

#[test]
fn reject_with_status_headers_and_body() {
    let mut headers = [Header::EMPTY; 16];
    let mut machine = ServerHandshake::default();
    let req = machine.receive(RFC_SAMPLE, &mut headers).unwrap().complete().unwrap();
    assert_eq!(req.origin(), Some("http://example.com"));
    let mut out = Vec::new();
    Reject { status: 403, extra_headers: &[("Content-Type", "text/plain")], body: b"origin not allowed" }
        .write(&mut out)
        .unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nConnection: close\r\n\r\n\
origin not allowed"
    );
    out.clear();
    Reject { status: 599, extra_headers: &[], body: b"" }.write(&mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 599 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    for status in [0, 101, 200, 600] {
        assert_eq!(Reject { status, extra_headers: &[], body: b"" }.write(&mut out), Err(UsageError::InvalidStatus));
    }
}

// ---- Client ----

const SAMPLE_NONCE: [u8; 16] = *b"the sample nonce";

fn client_request(url: &str, options: ClientOptions<'_>) -> Result<String, UsageError> {
    let client = ClientHandshake::new(url, options, &mut Fixed(SAMPLE_NONCE))?;
    assert_eq!(client.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    let mut out = Vec::new();
    client.write_request(&mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn client_request_bytes() {
    let options = ClientOptions {
        protocols: &["chat", "superchat"],
        extensions: Some("permessage-deflate; client_max_window_bits"),
        origin: Some("http://example.com"),
        extra_headers: &[("User-Agent", "wsmachine-test")],
    };
    assert_eq!(
        client_request("ws://server.example.com/chat", options).unwrap(),
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nUser-Agent: wsmachine-test\r\n\r\n"
    );
}

#[test]
fn client_request_line_and_host() {
    let cases = [
        ("ws://example.com", "GET / HTTP/1.1\r\nHost: example.com\r\n"),
        ("ws://example.com:80/", "GET / HTTP/1.1\r\nHost: example.com\r\n"),
        ("ws://example.com:443/", "GET / HTTP/1.1\r\nHost: example.com:443\r\n"),
        ("wss://example.com:443/a", "GET /a HTTP/1.1\r\nHost: example.com\r\n"),
        ("wss://example.com:80/a", "GET /a HTTP/1.1\r\nHost: example.com:80\r\n"),
        ("ws://example.com:9001/a/b?c=d&e", "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com:9001\r\n"),
        ("ws://example.com?x=1", "GET /?x=1 HTTP/1.1\r\nHost: example.com\r\n"),
        ("ws://[::1]:9001/chat", "GET /chat HTTP/1.1\r\nHost: [::1]:9001\r\n"),
        ("wss://[2001:db8::7]/", "GET / HTTP/1.1\r\nHost: [2001:db8::7]\r\n"),
        ("WS://127.0.0.1:8080/%20x", "GET /%20x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"),
    ];
    for (url, start) in cases {
        let req = client_request(url, ClientOptions::default()).unwrap();
        assert!(req.starts_with(start), "{url}: {req}");
    }
    let mut rng = SecureRandom::from_seed([3; 32]);
    let c = ClientHandshake::new("wss://[::1]/x", ClientOptions::default(), &mut rng).unwrap();
    assert_eq!((c.host(), c.port(), c.is_secure()), ("::1", 443, true));
    let c = ClientHandshake::new("ws://h:81", ClientOptions::default(), &mut rng).unwrap();
    assert_eq!((c.host(), c.port(), c.is_secure()), ("h", 81, false));
}

#[test]
fn client_keys_are_fresh() {
    let mut rng = SecureRandom::from_seed([9; 32]);
    let a = ClientHandshake::new("ws://h/", ClientOptions::default(), &mut rng).unwrap();
    let b = ClientHandshake::new("ws://h/", ClientOptions::default(), &mut rng).unwrap();
    assert_ne!(a.key(), b.key());
    assert_eq!(a.expected_accept(), &accept_key(a.key().as_bytes()));
}

#[test]
fn client_rejects_bad_urls_and_options() {
    let url_cases = [
        ("http://example.com/", UrlError::UnsupportedScheme),
        ("example.com", UrlError::UnsupportedScheme),
        ("ws://user:pass@example.com/", UrlError::Userinfo),
        ("ws://example.com/#frag", UrlError::Fragment),
        ("ws:///path", UrlError::EmptyHost),
        ("ws://", UrlError::EmptyHost),
        ("ws://example.com:/", UrlError::InvalidPort),
        ("ws://example.com:0/", UrlError::InvalidPort),
        ("ws://example.com:70000/", UrlError::InvalidPort),
        ("ws://example.com:http/", UrlError::InvalidPort),
        ("ws://[::1/", UrlError::InvalidHost),
        ("ws://exa mple.com/", UrlError::InvalidHost),
        ("ws://example.com/a b", UrlError::InvalidPath),
        ("ws://example.com/\r\nX: y", UrlError::InvalidPath),
    ];
    for (url, expected) in url_cases {
        let err = ClientHandshake::new(url, ClientOptions::default(), &mut Fixed(SAMPLE_NONCE)).unwrap_err();
        assert_eq!(err, UsageError::InvalidUrl(expected), "{url}");
    }
    let option_cases = [
        (ClientOptions { protocols: &["chat", "chat"], ..Default::default() }, UsageError::InvalidProtocol),
        (ClientOptions { protocols: &["a b"], ..Default::default() }, UsageError::InvalidProtocol),
        (ClientOptions { protocols: &[""], ..Default::default() }, UsageError::InvalidProtocol),
        (ClientOptions { extensions: Some("x;"), ..Default::default() }, UsageError::InvalidExtensions),
        (ClientOptions { origin: Some("http://a\r\nX: y"), ..Default::default() }, UsageError::InvalidHeaderValue),
        (ClientOptions { extra_headers: &[("Host", "x")], ..Default::default() }, UsageError::ReservedHeader),
        (ClientOptions { extra_headers: &[("A\nB", "x")], ..Default::default() }, UsageError::InvalidHeaderName),
    ];
    for (options, expected) in option_cases {
        let err = ClientHandshake::new("ws://h/", options, &mut Fixed(SAMPLE_NONCE)).unwrap_err();
        assert_eq!(err, expected, "{options:?}");
    }
    let client = ClientHandshake::new("ws://h/", ClientOptions::default(), &mut Fixed(SAMPLE_NONCE)).unwrap();
    let mut small = [0u8; 16];
    assert!(client.write_request(&mut small[..]).is_err());
    assert_eq!(small, [0; 16]);
}

const OK_RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

fn sample_client(protocols: &'static [&'static str], extensions: Option<&'static str>) -> ClientHandshake<'static> {
    let options = ClientOptions { protocols, extensions, ..ClientOptions::default() };
    ClientHandshake::new("ws://server.example.com/chat", options, &mut Fixed(SAMPLE_NONCE)).unwrap()
}

fn response_result(client: &mut ClientHandshake<'_>, data: &[u8]) -> Result<(Option<String>, usize), ResponseError> {
    let mut headers = [Header::EMPTY; 16];
    match client.receive(data, &mut headers)? {
        Status::Complete(r) => Ok((r.protocol().map(String::from), r.head_len())),
        Status::Partial => panic!("partial"),
    }
}

#[test]
fn client_accepts_valid_responses() {
    let mut client = sample_client(&["chat", "superchat"], Some("permessage-deflate; client_max_window_bits, x-foo"));
    let data = format!(
        "{OK_RESPONSE}Sec-WebSocket-Protocol: chat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\
Server: test\r\n\r\n"
    );
    let data = [data.as_bytes(), b"\x81\x05Hello"].concat();
    let data = &data[..];
    let mut headers = [Header::EMPTY; 16];
    let resp = client.receive(data, &mut headers).unwrap().complete().unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.protocol(), Some("chat"));
    assert_eq!(resp.header("server"), Some(&b"test"[..]));
    assert_eq!(&data[resp.consumed()..], b"\x81\x05Hello");
    let ext = resp.extensions().next().unwrap();
    assert_eq!(ext.name(), "permessage-deflate");
    assert!(ext.param("server_no_context_takeover").is_some_and(|p| p.value().is_none()));
    assert_eq!(ext.param("client_max_window_bits").and_then(|p| p.value()), Some("10"));
    assert_eq!(resp.extensions().count(), 1);

    // Byte at a time gives the same result.
    let whole = response_result(&mut sample_client(&["chat"], Some("permessage-deflate")), data);
    let mut client = sample_client(&["chat"], Some("permessage-deflate"));
    let mut bytewise = None;
    for byte in data.chunks(1) {
        let mut headers = [Header::EMPTY; 16];
        match client.receive(byte, &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(r)) => bytewise = Some(Ok((r.protocol().map(String::from), r.head_len()))),
            Err(e) => bytewise = Some(Err(e)),
        }
        break;
    }
    assert_eq!(Some(whole), bytewise);

    // Upgrade and Connection as token lists, any case; no optional headers.
    let data = b"HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n";
    assert_eq!(response_result(&mut sample_client(&[], None), data), Ok((None, data.len())));
}

macro_rules! bad_response {
    ($name:ident, $protocols:expr, $extensions:expr, $data:expr, $expected:expr) => {
        #[test]
        fn $name() {
            let data: String = $data;
            let mut client = sample_client($protocols, $extensions);
            assert_eq!(response_result(&mut client, data.as_bytes()), Err($expected));
            // Sticky.
            assert_eq!(client.error(), Some($expected));
        }
    };
}

fn ok_with(extra: &str) -> String {
    format!("{OK_RESPONSE}{extra}\r\n")
}

bad_response!(
    response_wrong_accept,
    &[],
    None,
    ok_with("").replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "rLHCkw/SKsO9GAH/ZSFhBATDKrU="),
    ResponseError::AcceptMismatch
);
bad_response!(
    response_missing_accept,
    &[],
    None,
    ok_with("").replace("Sec-WebSocket-Accept", "X-Accept"),
    ResponseError::MissingAccept
);
bad_response!(
    response_duplicate_accept,
    &[],
    None,
    ok_with("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
    ResponseError::DuplicateHeader("Sec-WebSocket-Accept")
);
bad_response!(
    response_missing_upgrade,
    &[],
    None,
    ok_with("").replace("Upgrade: websocket\r\n", ""),
    ResponseError::UpgradeNotWebSocket
);
bad_response!(
    response_upgrade_not_websocket,
    &[],
    None,
    ok_with("").replace("Upgrade: websocket", "Upgrade: h2c"),
    ResponseError::UpgradeNotWebSocket
);
bad_response!(
    response_missing_connection,
    &[],
    None,
    ok_with("").replace("Connection: Upgrade\r\n", ""),
    ResponseError::ConnectionNotUpgrade
);
bad_response!(
    response_unoffered_protocol,
    &["chat"],
    None,
    ok_with("Sec-WebSocket-Protocol: superchat\r\n"),
    ResponseError::ProtocolNotOffered
);
bad_response!(
    response_protocol_none_offered,
    &[],
    None,
    ok_with("Sec-WebSocket-Protocol: chat\r\n"),
    ResponseError::ProtocolNotOffered
);
bad_response!(
    response_empty_protocol,
    &["chat"],
    None,
    ok_with("Sec-WebSocket-Protocol:\r\n"),
    ResponseError::ProtocolNotOffered
);
bad_response!(
    response_two_protocols,
    &["chat", "superchat"],
    None,
    ok_with("Sec-WebSocket-Protocol: chat, superchat\r\n"),
    ResponseError::MultipleProtocols
);
bad_response!(
    response_two_protocol_headers,
    &["chat", "superchat"],
    None,
    ok_with("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
    ResponseError::MultipleProtocols
);
bad_response!(
    response_unoffered_extension,
    &[],
    Some("permessage-deflate"),
    ok_with("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"),
    ResponseError::ExtensionNotOffered
);
bad_response!(
    response_extension_none_offered,
    &[],
    None,
    ok_with("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
    ResponseError::ExtensionNotOffered
);
bad_response!(
    response_invalid_extensions,
    &[],
    Some("permessage-deflate"),
    ok_with("Sec-WebSocket-Extensions: permessage-deflate;\r\n"),
    ResponseError::InvalidExtensions
);
bad_response!(
    response_http_1_0,
    &[],
    None,
    ok_with("").replace("HTTP/1.1", "HTTP/1.0"),
    ResponseError::UnsupportedHttpVersion
);
bad_response!(
    response_malformed_status_line,
    &[],
    None,
    ok_with("").replace("HTTP/1.1 101", "HTTP/1.1 1O1"),
    ResponseError::MalformedStatusLine
);
bad_response!(response_obs_fold, &[], None, ok_with("X-A: 1\r\n 2\r\n"), ResponseError::Head(HandshakeError::ObsFold));
bad_response!(response_bare_lf, &[], None, ok_with("X-A: 1\n"), ResponseError::Head(HandshakeError::BareLf));

/// An HTTP/1.0 server cannot upgrade, but its answer is still the
/// server's refusal, with a status to report (a plain web server's 404),
/// not a version error. A 101 over HTTP/1.0 is refused above.
#[test]
fn response_non_101_over_http_1_0_is_a_refusal() {
    let data = b"HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n<h1>no</h1>";
    let mut client = sample_client(&[], None);
    let mut headers = [Header::EMPTY; 16];
    let err = client.receive(data, &mut headers).unwrap_err();
    let ResponseError::UnexpectedStatus { status, consumed, .. } = err else { panic!("{err:?}") };
    assert_eq!(status, 404);
    assert_eq!(&data[consumed..], b"<h1>no</h1>");
}

#[test]
fn response_non_101_carries_status_and_body_offset() {
    let data = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 5\r\n\r\nlogin";
    let mut client = sample_client(&[], None);
    let mut headers = [Header::EMPTY; 16];
    let err = client.receive(data, &mut headers).unwrap_err();
    let ResponseError::UnexpectedStatus { status, head_len, consumed } = err else { panic!("{err:?}") };
    assert_eq!((status, head_len), (401, consumed));
    assert_eq!(&data[consumed..], b"login");
    assert_eq!(headers[0].name, "WWW-Authenticate");
    assert_eq!(headers[2], Header::EMPTY);
    assert!(err.to_string().contains("401"));
}

#[test]
fn round_trip_between_client_and_server() {
    for seed in 0..32u8 {
        let mut rng = SecureRandom::from_seed([seed; 32]);
        let options = ClientOptions {
            protocols: &["v2.chat", "v1.chat"],
            extensions: Some("permessage-deflate; client_max_window_bits, x-foo"),
            origin: Some("https://app.example"),
            extra_headers: &[("Authorization", "Bearer t0k3n")],
        };
        let mut client = ClientHandshake::new("wss://[::1]:8443/rt?x=1", options, &mut rng).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire).unwrap();

        let mut server = ServerHandshake::default();
        let mut headers = [Header::EMPTY; 16];
        let req = server.receive(&wire, &mut headers).unwrap().complete().unwrap();
        assert_eq!(req.host(), "[::1]:8443");
        assert_eq!(req.split_path(), ("/rt", Some("x=1")));
        assert_eq!(req.origin(), Some("https://app.example"));
        assert_eq!(req.key(), client.key());
        assert_eq!(req.header("authorization"), Some(&b"Bearer t0k3n"[..]));
        assert!(req.protocols().eq(["v2.chat", "v1.chat"]));
        assert_eq!(req.extensions().map(|e| e.name()).collect::<Vec<_>>(), ["permessage-deflate", "x-foo"]);
        let chosen = req.protocols().find(|p| *p == "v1.chat");
        let mut answer = Vec::new();
        let accept = Accept { protocol: chosen, extensions: Some("permessage-deflate"), extra_headers: &[] };
        req.accept(&accept, &mut answer).unwrap();
        answer.extend_from_slice(&[0x89, 0x00]); // a ping right behind the answer

        let mut headers = [Header::EMPTY; 16];
        let resp = client.receive(&answer, &mut headers).unwrap().complete().unwrap();
        assert_eq!(resp.protocol(), Some("v1.chat"));
        assert_eq!(resp.extensions().map(|e| e.name()).collect::<Vec<_>>(), ["permessage-deflate"]);
        assert_eq!(&answer[resp.consumed()..], &[0x89, 0x00]);
    }
}

// ---- Extended CONNECT (RFC 8441 / RFC 9220) ----

const CONNECT_BASE: &[(&str, &str)] = &[
    (":method", "CONNECT"),
    (":protocol", "websocket"),
    (":scheme", "https"),
    (":path", "/chat?room=1"),
    (":authority", "server.example.com"),
    ("sec-websocket-protocol", "chat, superchat"),
    ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"),
    ("sec-websocket-version", "13"),
    ("origin", "http://www.example.com"),
];

#[test]
fn extended_connect_valid() {
    let req = ExtendedConnect::parse(CONNECT_BASE).unwrap();
    assert_eq!(req.scheme(), "https");
    assert_eq!(req.path(), "/chat?room=1");
    assert_eq!(req.split_path(), ("/chat", Some("room=1")));
    assert_eq!(req.authority(), "server.example.com");
    assert_eq!(req.origin(), Some("http://www.example.com"));
    assert!(req.protocols().eq(["chat", "superchat"]));
    let ext = req.extensions().next().unwrap();
    assert_eq!(ext.name(), "permessage-deflate");
    assert_eq!(req.header("SEC-WEBSOCKET-VERSION"), Some("13"));
    assert_eq!(req.fields().len(), CONNECT_BASE.len());

    let answer = req.accept(Some("chat"), Some("permessage-deflate")).unwrap();
    assert_eq!(
        answer.as_slice(),
        &[(":status", "200"), ("sec-websocket-protocol", "chat"), ("sec-websocket-extensions", "permessage-deflate")]
    );
    assert_eq!(req.accept(None, None).unwrap().as_slice(), &[(":status", "200")]);
    assert_eq!(req.accept(Some("mqtt"), None), Err(UsageError::ProtocolNotOffered));
    assert_eq!(req.accept(None, Some("x-foo")), Err(UsageError::ExtensionNotOffered));
    assert_eq!(req.accept(None, Some("permessage-deflate;")), Err(UsageError::InvalidExtensions));

    // Minimal request, te: trailers allowed, http scheme (RFC 9220 over HTTP/3 alike).
    let minimal = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "h:8080"),
        ("sec-websocket-version", "13"),
        ("te", "trailers"),
    ];
    let req = ExtendedConnect::parse(&minimal).unwrap();
    assert_eq!(req.origin(), None);
    assert_eq!(req.protocols().count(), 0);
}

fn connect_with(
    change: &[(&'static str, Option<&'static str>)],
    add: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut fields: Vec<(&str, &str)> = CONNECT_BASE
        .iter()
        .filter_map(|&(n, v)| match change.iter().find(|(c, _)| *c == n) {
            Some((_, Some(new))) => Some((n, *new)),
            Some((_, None)) => None,
            None => Some((n, v)),
        })
        .collect();
    fields.extend_from_slice(add);
    fields
}

#[test]
fn extended_connect_invalid() {
    use ExtendedConnectError as X;
    type Case = (Vec<(&'static str, &'static str)>, X, u16);
    let cases: Vec<Case> = vec![
        (connect_with(&[(":method", None)], &[]), X::MissingPseudoHeader(":method"), 400),
        (connect_with(&[(":method", Some("GET"))], &[]), X::NotConnect, 400),
        (connect_with(&[(":protocol", None)], &[]), X::MissingPseudoHeader(":protocol"), 400),
        (connect_with(&[(":protocol", Some("webtransport"))], &[]), X::UnsupportedProtocol, 501),
        (connect_with(&[(":scheme", None)], &[]), X::MissingPseudoHeader(":scheme"), 400),
        (connect_with(&[(":path", None)], &[]), X::MissingPseudoHeader(":path"), 400),
        (connect_with(&[(":path", Some("chat"))], &[]), X::InvalidHeaderValue(":path"), 400),
        (connect_with(&[(":authority", None)], &[]), X::MissingPseudoHeader(":authority"), 400),
        (connect_with(&[(":authority", Some(""))], &[]), X::InvalidHeaderValue(":authority"), 400),
        (connect_with(&[("sec-websocket-version", None)], &[]), X::MissingVersion, 400),
        (connect_with(&[("sec-websocket-version", Some("8"))], &[]), X::UnsupportedVersion, 400),
        (connect_with(&[], &[("sec-websocket-version", "13")]), X::DuplicateHeader("sec-websocket-version"), 400),
        (connect_with(&[], &[(":path", "/x")]), X::PseudoHeaderAfterRegular, 400),
        ([&[(":path", "/x")][..], &connect_with(&[], &[])].concat(), X::DuplicatePseudoHeader(":path"), 400),
        ([&[(":status", "200")][..], CONNECT_BASE].concat(), X::UnknownPseudoHeader, 400),
        (connect_with(&[], &[("connection", "Upgrade")]), X::ConnectionSpecificHeader("connection"), 400),
        (connect_with(&[], &[("upgrade", "websocket")]), X::ConnectionSpecificHeader("upgrade"), 400),
        (connect_with(&[], &[("transfer-encoding", "chunked")]), X::ConnectionSpecificHeader("transfer-encoding"), 400),
        (connect_with(&[], &[("keep-alive", "5")]), X::ConnectionSpecificHeader("keep-alive"), 400),
        (connect_with(&[], &[("te", "gzip")]), X::ConnectionSpecificHeader("te"), 400),
        (connect_with(&[], &[("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]), X::UppercaseHeaderName, 400),
        (connect_with(&[], &[("x y", "1")]), X::InvalidHeaderName, 400),
        (connect_with(&[], &[("x-a", "1\r\n")]), X::InvalidHeaderValue("field"), 400),
        (
            connect_with(&[("sec-websocket-protocol", Some("a b"))], &[]),
            X::InvalidHeaderValue("sec-websocket-protocol"),
            400,
        ),
        (
            connect_with(&[("sec-websocket-extensions", Some(";"))], &[]),
            X::InvalidHeaderValue("sec-websocket-extensions"),
            400,
        ),
        (connect_with(&[], &[("origin", "http://evil")]), X::DuplicateHeader("origin"), 400),
    ];
    for (fields, expected, status) in cases {
        let err = ExtendedConnect::parse(&fields).unwrap_err();
        assert_eq!(err, expected, "{fields:?}");
        assert_eq!(err.status(), status, "{err:?}");
        let headers = err.response_headers();
        assert_eq!(headers.as_slice()[0], (":status", if status == 501 { "501" } else { "400" }));
        let has_version = headers.iter().any(|&(n, v)| n == "sec-websocket-version" && v == "13");
        assert_eq!(has_version, matches!(err, X::MissingVersion | X::UnsupportedVersion));
    }
}

// ---- Extension list parsing ----

#[test]
fn extension_list_parsing() {
    assert!(Extensions::parse("").is_none());
    assert!(Extensions::parse("a; b=\"c d\"").is_none());
    let mut it = Extensions::parse("a; b=\"c\", d ; e = f").unwrap();
    let a = it.next().unwrap();
    assert_eq!((a.name(), a.param("b").unwrap().value()), ("a", Some("c")));
    let d = it.next().unwrap();
    assert_eq!((d.name(), d.param("e").unwrap().value()), ("d", Some("f")));
    assert!(it.next().is_none());
}
