//! The `hyper` module under a real axum server on loopback: the
//! `axum_echo` example driven by clients, the options of `upgrade_with`
//! and the refusals of `accept_or_reject`.
#![cfg(feature = "hyper")]

mod common;

use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use common::bounded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::hyper::HyperWebSocket;
use wsmachine_tokio::{connect, connect_with, AcceptOptions, CloseCode, ConnectOptions, Error, Message, Rejection};

#[allow(dead_code)]
#[path = "../examples/axum_echo.rs"]
mod axum_echo;

/// Starts the example on a free port; returns its address.
async fn start_example() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    tokio::spawn(axum_echo::serve(listener));
    addr
}

/// Serves `app` on a free port; returns its address.
async fn start(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Echoes each text message prefixed with the subprotocol chosen.
async fn echo_with_protocol(mut ws: HyperWebSocket) -> Result<(), Error> {
    let protocol = ws.protocol().unwrap_or("none").to_string();
    while let Some(message) = ws.recv().await? {
        ws.send(format!("{protocol}: {}", message.as_text().unwrap_or("binary"))).await?;
    }
    Ok(())
}

/// Writes `request` on a new connection and reads until the server closes
/// it or `until` is in what arrived.
async fn exchange(addr: &str, request: &[u8], until: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(until.len()).any(|w| w == until) {
        let n = tcp.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    answer
}

#[tokio::test]
async fn the_axum_example_echoes_and_closes() {
    bounded(async {
        let addr = start_example().await;
        let mut ws = connect(format!("ws://{addr}/ws")).await.expect("upgrade");
        ws.send("hello").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("hello")));
        ws.send(vec![7u8; 1 << 20]).await.expect("send 1 MiB");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::binary(vec![7u8; 1 << 20])));
        ws.close(CloseCode(4001), "bye").await.expect("close");
        let answer = ws.close_frame().expect("the server's answer");
        assert_eq!((answer.code(), answer.reason()), (CloseCode(4001), "bye"));
    })
    .await;
}

#[tokio::test]
async fn the_axum_example_broadcasts_its_chat() {
    bounded(async {
        let addr = start_example().await;
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(connect(format!("ws://{addr}/chat")).await.expect("join"));
        }
        clients[0].send("hi all").await.expect("send");
        for client in &mut clients {
            assert_eq!(client.recv().await.expect("recv"), Some(Message::text("hi all")));
        }
    })
    .await;
}

/// The example as it stands, served by `axum::serve` (which offers
/// extended CONNECT with axum's `http2` feature): WebSockets over one
/// HTTP/2 connection reach both routes, beside an HTTP/1.1 client.
#[cfg(feature = "h2")]
#[tokio::test]
async fn the_axum_example_serves_its_websockets_over_http2_too() {
    use wsmachine_tokio::h2;

    bounded(async {
        let addr = start_example().await;
        let connection = h2::client::open(format!("ws://{addr}")).await.expect("HTTP/2 with extended CONNECT");
        let mut echo = h2::client::connect(&connection, format!("ws://{addr}/ws")).await.expect("/ws over HTTP/2");
        echo.send("over a stream").await.expect("send");
        assert_eq!(echo.recv().await.expect("recv"), Some(Message::text("over a stream")));

        let mut over_h2 = h2::client::connect(&connection, format!("ws://{addr}/chat")).await.expect("/chat");
        let mut over_h1 = connect(format!("ws://{addr}/chat")).await.expect("/chat over HTTP/1.1");
        over_h1.send("hi from HTTP/1.1").await.expect("send");
        assert_eq!(over_h2.recv().await.expect("recv"), Some(Message::text("hi from HTTP/1.1")));
        assert_eq!(over_h1.recv().await.expect("recv"), Some(Message::text("hi from HTTP/1.1")));

        echo.close(CloseCode::NORMAL, "").await.expect("close");
        assert_eq!(echo.close_frame().map(|frame| frame.code()), Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn the_axum_example_serves_its_page_and_refuses_a_plain_get_on_the_websocket() {
    bounded(async {
        let addr = start_example().await;
        let page = exchange(&addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"</p>").await;
        assert!(page.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&page));
        let refused = exchange(&addr, b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"\r\n\r\n").await;
        assert!(refused.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&refused));
    })
    .await;
}

/// A client may send its first frame right behind its request, before the
/// 101: hyper has read it with the head, and the WebSocket still gets it.
#[tokio::test]
async fn a_frame_behind_the_request_reaches_the_websocket() {
    bounded(async {
        let addr = start_example().await;
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        // "Hello", masked, as RFC 6455 §5.7 gives it.
        let frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let answer = exchange(&addr, &[request.as_bytes(), &frame].concat(), b"Hello").await;
        assert!(answer.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&answer));
        assert!(answer.ends_with(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']), "{answer:?}");
    })
    .await;
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn upgrade_with_applies_the_options_subprotocol_and_compression() {
    use wsmachine_tokio::DeflateConfig;

    async fn handler(mut request: Request) -> Response {
        let options = AcceptOptions {
            protocols: vec!["chat.v2".into()],
            deflate: Some(DeflateConfig::default()),
            ..AcceptOptions::default()
        };
        wsmachine_tokio::hyper::upgrade_with(&mut request, &options, echo_with_protocol)
    }
    bounded(async {
        let addr = start(Router::new().route("/", get(handler))).await;
        let options = ConnectOptions {
            protocols: vec!["chat.v1".into(), "chat.v2".into()],
            deflate: Some(DeflateConfig::default()),
            ..ConnectOptions::default()
        };
        let mut ws = connect_with(format!("ws://{addr}/"), &options).await.expect("upgrade");
        assert_eq!(ws.protocol(), Some("chat.v2"));
        let long = "compressible ".repeat(10_000);
        ws.send(long.as_str()).await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text(format!("chat.v2: {long}"))));
    })
    .await;
}

#[tokio::test]
async fn accept_or_reject_sends_the_rejection_to_the_client() {
    async fn handler(mut request: Request) -> Response {
        let (response, upgrade) = wsmachine_tokio::hyper::accept_or_reject(
            &mut request,
            &AcceptOptions::default(),
            |request, _| match request.origin() {
                Some("https://app.example") => Ok(()),
                _ => Err(Rejection::new(403).header("X-Reason", "origin").body("not from this origin")),
            },
        );
        assert!(matches!(upgrade, Err(Error::Handshake(wsmachine_tokio::UpgradeError::Rejected(403)))));
        response
    }
    bounded(async {
        let addr = start(Router::new().route("/", get(handler))).await;
        let options = ConnectOptions { origin: Some("https://elsewhere.example".into()), ..ConnectOptions::default() };
        match connect_with(format!("ws://{addr}/"), &options).await {
            Err(Error::Refused(refusal)) => {
                assert_eq!(refusal.status, 403);
                assert_eq!(refusal.header("X-Reason"), Some("origin"));
                assert_eq!(refusal.body, b"not from this origin");
            }
            other => panic!("expected the 403, got {:?}", other.map(|_| ())),
        }
    })
    .await;
}

#[tokio::test]
async fn upgrade_or_reject_runs_the_handler_only_for_an_accepted_request() {
    async fn handler(mut request: Request) -> Response {
        let options = AcceptOptions { protocols: vec!["chat.v2".into()], ..AcceptOptions::default() };
        let decide = |request: &wsmachine_tokio::hyper::UpgradeRequest<'_>, _: &mut _| match request.origin() {
            Some("https://app.example") => Ok(()),
            _ => Err(Rejection::new(403).body("not from this origin")),
        };
        wsmachine_tokio::hyper::upgrade_or_reject(&mut request, &options, decide, echo_with_protocol)
    }
    bounded(async {
        let addr = start(Router::new().route("/", get(handler))).await;
        let ours = ConnectOptions {
            origin: Some("https://app.example".into()),
            protocols: vec!["chat.v2".into()],
            ..ConnectOptions::default()
        };
        let mut ws = connect_with(format!("ws://{addr}/"), &ours).await.expect("accepted");
        ws.send("hi").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("chat.v2: hi")));
        let theirs = ConnectOptions { origin: Some("https://elsewhere.example".into()), ..ConnectOptions::default() };
        match connect_with(format!("ws://{addr}/"), &theirs).await {
            Err(Error::Refused(refusal)) => {
                assert_eq!((refusal.status, &refusal.body[..]), (403, &b"not from this origin"[..]))
            }
            other => panic!("expected the 403, got {:?}", other.map(|_| ())),
        }
    })
    .await;
}

/// Over HTTP/2 (hyper's `auto` builder with extended CONNECT offered),
/// `upgrade_or_reject` answers an extended CONNECT: `decide` sees it as
/// one, with its path, authority and offered subprotocols, picks one, and
/// the WebSocket runs on the stream with `200`; a refusal carries its
/// status and body, and the connection goes on serving.
#[cfg(feature = "h2")]
#[tokio::test]
async fn over_http2_upgrade_or_reject_decides_and_answers_an_extended_connect() {
    use std::sync::{Arc, Mutex};

    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use wsmachine_tokio::h2;

    bounded(async {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("address"));
        let server_seen = seen.clone();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                let seen = server_seen.clone();
                async move {
                    let options = AcceptOptions { protocols: vec!["chat.v2".into()], ..AcceptOptions::default() };
                    let decide = |request: &wsmachine_tokio::hyper::UpgradeRequest<'_>, _: &mut _| {
                        let protocols: Vec<_> = request.protocols().collect();
                        seen.lock().expect("lock").push(format!(
                            "{} {:?} {} {protocols:?}",
                            request.is_extended_connect(),
                            request.split_path(),
                            request.host(),
                        ));
                        match request.split_path().0 {
                            "/private" => Err(Rejection::new(403).body("not here")),
                            _ => Ok(()),
                        }
                    };
                    let response: hyper::Response<Vec<u8>> =
                        wsmachine_tokio::hyper::upgrade_or_reject(&mut request, &options, decide, echo_with_protocol);
                    Ok::<_, std::convert::Infallible>(response.map(|body| String::from_utf8_lossy(&body).into_owned()))
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http2().enable_connect_protocol();
            let _ = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).await;
        });

        let connection = h2::client::open(&url).await.expect("HTTP/2 with extended CONNECT");
        let options =
            ConnectOptions { protocols: vec!["chat.v1".into(), "chat.v2".into()], ..ConnectOptions::default() };
        match h2::client::connect_with(&connection, format!("{url}/private"), &options).await {
            Err(Error::Refused(refusal)) => {
                assert_eq!(refusal.status, 403);
                assert_eq!(refusal.body, b"not here");
            }
            other => panic!("expected a 403 refusal, got {:?}", other.map(|_| ())),
        }
        let mut ws = h2::client::connect_with(&connection, format!("{url}/chat?room=1"), &options)
            .await
            .expect("a WebSocket over hyper's HTTP/2");
        assert_eq!(ws.protocol(), Some("chat.v2"));
        ws.send("over a stream").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("chat.v2: over a stream")));
        ws.close(CloseCode::NORMAL, "").await.expect("close");

        let host = url.trim_start_matches("ws://");
        assert_eq!(
            *seen.lock().expect("lock"),
            [
                format!(r#"true ("/private", None) {host} ["chat.v1", "chat.v2"]"#),
                format!(r#"true ("/chat", Some("room=1")) {host} ["chat.v1", "chat.v2"]"#),
            ]
        );
    })
    .await;
}

/// A `CONNECT` that is no WebSocket request gets the status that says
/// why. Over HTTP/1.1: 405 as for any method but `GET`, and 400 for a
/// proxy's `host:port` target. Over HTTP/2 with the `h2` feature: 400 for
/// one without `:protocol`, 501 for another protocol, and 400 with the
/// version this server speaks for another WebSocket version (RFC 8441's
/// answer in place of HTTP/1.1's 426). Without the feature, hyper's
/// `:protocol` cannot be read, and HTTP/2 is refused with 505.
#[test]
fn a_connect_that_asks_for_no_websocket_is_refused_with_its_status() {
    let connect = |version, target: &str, websocket_version: &str, protocol: Option<&'static str>| {
        let mut request = http::Request::builder()
            .method("CONNECT")
            .version(version)
            .uri(target)
            .header("sec-websocket-version", websocket_version)
            .body(())
            .expect("request");
        #[cfg(feature = "h2")]
        if let Some(protocol) = protocol {
            request.extensions_mut().insert(hyper::ext::Protocol::from_static(protocol));
        }
        #[cfg(not(feature = "h2"))]
        let _ = protocol;
        let (response, upgrade) = wsmachine_tokio::hyper::accept::<_, Vec<u8>>(&mut request);
        assert!(matches!(upgrade, Err(Error::Handshake(_))));
        response
    };
    let http11 = http::Version::HTTP_11;
    assert_eq!(connect(http11, "/chat", "13", None).status(), 405);
    assert_eq!(connect(http11, "example.com:443", "13", None).status(), 400);

    let http2 = http::Version::HTTP_2;
    let target = "https://example.com/chat";
    if cfg!(feature = "h2") {
        assert_eq!(connect(http2, target, "13", None).status(), 400);
        assert_eq!(connect(http2, target, "13", Some("connect-udp")).status(), 501);
        let response = connect(http2, target, "8", Some("websocket"));
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
    } else {
        assert_eq!(connect(http2, target, "13", Some("websocket")).status(), 505);
    }
}
