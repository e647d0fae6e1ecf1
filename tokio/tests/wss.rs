//! `wss://` over loopback, against a TLS server whose self-signed
//! certificate the test makes.

#![cfg(feature = "rustls")]

mod common;

use common::bounded;
use common::tls::trusting;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wsmachine_tokio::rustls::pki_types::CertificateDer;
use wsmachine_tokio::{accept, connect, connect_with_tls, CloseCode, ConnectOptions, Error, Message};

/// The TLS acceptor and its certificate.
fn tls_server() -> (CertificateDer<'static>, TlsAcceptor) {
    common::tls::server(&[])
}

/// An echo server on TLS, for `connections` connections.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor, connections: usize) -> Result<(), Error> {
    for _ in 0..connections {
        let (tcp, _) = listener.accept().await?;
        let Ok(tls) = acceptor.accept(tcp).await else { continue }; // a client that refused our certificate
        let mut ws = accept(tls).await?;
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn wss_echo_over_loopback() {
    bounded(async {
        let (cert, acceptor) = tls_server();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = tokio::spawn(serve(listener, acceptor, 3));

        // The default roots do not know this certificate: refused.
        let refused = connect(format!("wss://localhost:{port}/")).await;
        match refused {
            Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}"),
            other => panic!("expected a certificate error, got {other:?}"),
        }

        // Trusting it, by name and by address.
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("wss://{host}:{port}/echo");
            let mut ws = connect_with_tls(&url, &ConnectOptions::default(), trusting(cert.clone()))
                .await
                .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
            ws.send("over TLS").await.expect("send");
            assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("over TLS")));
            let big = vec![3u8; 200_000];
            ws.send(big.clone()).await.expect("send");
            assert_eq!(ws.recv().await.expect("recv"), Some(Message::Binary(big)));
            ws.close(CloseCode::NORMAL, "").await.expect("close");
        }
        server.await.expect("server task").expect("server");
    })
    .await;
}

/// A server that drops its connection without a close handshake, and
/// without TLS's close_notify: the client's receive says the connection
/// was lost, as over TCP, not an I/O error (rustls reports the missing
/// close_notify as `UnexpectedEof`).
#[tokio::test]
async fn a_tls_peer_that_drops_the_connection_is_connection_lost() {
    bounded(async {
        let (cert, acceptor) = tls_server();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut ws = accept(acceptor.accept(tcp).await?).await?;
            ws.recv().await?;
            drop(ws); // no Close, no close_notify: the TCP connection just ends
            Ok::<_, Error>(())
        });
        let url = format!("wss://localhost:{port}/");
        let mut ws = connect_with_tls(&url, &ConnectOptions::default(), trusting(cert)).await.expect("connect");
        ws.send("bye").await.expect("send");
        server.await.expect("server task").expect("server");
        match ws.recv().await {
            Err(Error::ConnectionLost) => {}
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
    })
    .await;
}
