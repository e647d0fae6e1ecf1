//! The `h2_server` example (the README's HTTP/2 server) over loopback
//! TLS: a WebSocket over HTTP/2 from `h2::client::open_with_tls` (ALPN
//! `h2`), one over HTTP/1.1 from `connect_with_tls` on the same port, and
//! an ordinary HTTP/2 request answered 404. The README shows the example's
//! code verbatim.

#![cfg(all(feature = "h2", feature = "rustls"))]

mod common;

use common::bounded;
use common::tls::trusting;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wsmachine_tokio::rustls::pki_types::CertificateDer;
use wsmachine_tokio::{connect_with_tls, h2, CloseCode, ConnectOptions, Message};

#[allow(dead_code)]
#[path = "../examples/h2_server.rs"]
mod h2_server;

/// The TLS acceptor and its certificate, offering HTTP/2 and HTTP/1.1.
fn tls_server() -> (CertificateDer<'static>, TlsAcceptor) {
    common::tls::server(&[b"h2", b"http/1.1"])
}

#[tokio::test]
async fn the_example_serves_http2_and_http1_websockets_on_one_port() {
    bounded(async {
        let (cert, acceptor) = tls_server();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("wss://127.0.0.1:{}", listener.local_addr().expect("address").port());
        tokio::spawn(h2_server::serve(listener, acceptor));
        let tls = trusting(cert);

        let connection = h2::client::open_with_tls(&base, tls.clone()).await.expect("HTTP/2 over TLS");
        let mut over_h2 = h2::client::connect(&connection, &format!("{base}/echo")).await.expect("connect");
        over_h2.send("over HTTP/2").await.expect("send");
        assert_eq!(over_h2.recv().await.expect("recv"), Some(Message::text("over HTTP/2")));

        let mut over_h1 =
            connect_with_tls(&format!("{base}/echo"), &ConnectOptions::default(), tls).await.expect("HTTP/1.1");
        over_h1.send("over HTTP/1.1").await.expect("send");
        assert_eq!(over_h1.recv().await.expect("recv"), Some(Message::text("over HTTP/1.1")));

        let mut send = connection.clone();
        let request = http::Request::get(format!("{base}/")).body(()).expect("request");
        let (response, _) = send.send_request(request, true).expect("a plain request");
        assert_eq!(response.await.expect("an answer").status(), 404);

        over_h2.close(CloseCode::NORMAL, "").await.expect("close");
        over_h1.close(CloseCode::NORMAL, "").await.expect("close");
    })
    .await;
}

#[test]
fn the_readme_shows_the_example_verbatim() {
    let example = include_str!("../examples/h2_server.rs");
    let code = &example[example.find("use std::sync::Arc;").expect("the example's first line of code")..];
    let readme = include_str!("../README.md");
    assert!(readme.contains(code), "tokio/README.md must show examples/h2_server.rs from `use std::sync::Arc;` on");
}
