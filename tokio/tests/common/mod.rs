//! Helpers shared by the tests: loopback listeners, a time bound, and a
//! raw peer that drives a wsmachine `Session` by hand so a test can see
//! every ping and pong.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::wsmachine::{AcceptOptions, Incoming, ServerStart, Session};

/// Every test finishes well within this, or fails instead of hanging.
pub const BOUND: Duration = Duration::from_secs(60);

/// Runs `test` under [`BOUND`].
pub async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(BOUND, test).await.expect("the test did not finish in time")
}

/// A listener on a free loopback port and its `ws://` URL.
pub async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/test", listener.local_addr().expect("address"));
    (listener, url)
}

/// A server that drives a `Session` directly, to see pings and pongs.
pub struct RawServer {
    pub tcp: TcpStream,
    pub session: Session,
}

impl RawServer {
    /// Accepts one connection and answers its handshake.
    pub async fn accept(listener: &TcpListener, options: &AcceptOptions) -> RawServer {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        let mut start = ServerStart::new(options);
        let mut buf = vec![0u8; 4096];
        let session = loop {
            let n = tcp.read(&mut buf).await.expect("read the request");
            assert!(n > 0, "the client left during the handshake");
            if let Some(session) = start.receive(&buf[..n], |_, _| Ok(())).expect("a valid request") {
                break session;
            }
        };
        let mut server = RawServer { tcp, session };
        server.write().await;
        server
    }

    /// Writes everything the session queued.
    pub async fn write(&mut self) {
        let out = self.session.poll_output().to_vec();
        self.tcp.write_all(&out).await.expect("write");
        self.session.consume_output(out.len());
    }

    /// The next item from the client (`None` when the transport ended).
    pub async fn next(&mut self) -> Option<Incoming> {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Some(item) = self.session.poll_message().expect("the client keeps the protocol") {
                return Some(item);
            }
            self.write().await;
            let n = self.tcp.read(&mut buf).await.ok()?;
            if n == 0 {
                self.session.receive_eof();
                return self.session.poll_message().ok().flatten();
            }
            self.session.receive(&buf[..n]);
        }
    }
}

/// TLS for loopback tests (feature `rustls`): a self-signed certificate
/// and the client settings that trust it.
#[cfg(feature = "rustls")]
pub mod tls {
    use std::sync::Arc;

    use tokio_rustls::TlsAcceptor;
    use wsmachine_tokio::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use wsmachine_tokio::rustls::{ClientConfig, RootCertStore, ServerConfig};

    /// A certificate for `localhost` and `127.0.0.1`, and the TLS acceptor
    /// that serves it, offering `alpn` (none when empty).
    pub fn server(alpn: &[&[u8]]) -> (CertificateDer<'static>, TlsAcceptor) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).expect("cert");
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        (cert, TlsAcceptor::from(Arc::new(config)))
    }

    /// Client settings trusting `cert` alone.
    pub fn trusting(cert: CertificateDer<'static>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(cert).expect("root");
        let config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        Arc::new(config)
    }
}
