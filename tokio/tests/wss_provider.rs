//! `connect` uses the rustls provider the program installed as the process
//! default. A test binary of its own: the process default can be set once.

#![cfg(feature = "rustls")]

mod common;

use std::sync::Arc;

use common::bounded;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wsmachine_tokio::rustls::crypto::{ring, CryptoProvider};
use wsmachine_tokio::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use wsmachine_tokio::rustls::{ServerConfig, SupportedCipherSuite};
use wsmachine_tokio::{connect, Error};

/// rustls's `ring` provider with one cipher suite.
#[allow(deprecated)] // rustls 0.23.48 deprecates `ring::default_provider`; earlier versions do not.
fn ring_with(suite: SupportedCipherSuite) -> CryptoProvider {
    CryptoProvider { cipher_suites: vec![suite], ..ring::default_provider() }
}

#[tokio::test]
async fn connect_uses_the_installed_provider() {
    bounded(async {
        // The program's provider offers ChaCha20 alone; the server takes
        // AES-128-GCM alone. With the program's provider the client offers
        // nothing the server takes, and the server refuses the hello. With
        // the provider `connect` falls back to, the two would agree on
        // AES-128-GCM and the client would refuse the self-signed
        // certificate instead.
        ring_with(ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256)
            .install_default()
            .expect("no provider installed yet");

        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let server =
            ServerConfig::builder_with_provider(Arc::new(ring_with(ring::cipher_suite::TLS13_AES_128_GCM_SHA256)))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(vec![certified.cert.der().clone()], key)
                .expect("server config");
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            acceptor.accept(tcp).await.map(drop)
        });

        match connect(format!("wss://127.0.0.1:{port}/")).await {
            Err(Error::Io(e)) => {
                assert!(e.to_string().contains("HandshakeFailure"), "expected the server's refusal, got {e}")
            }
            other => panic!("expected the server's refusal, got {other:?}"),
        }
        let refused = server.await.expect("server task").expect_err("no common cipher suite");
        assert!(refused.to_string().contains("NoCipherSuitesInCommon"), "{refused}");
    })
    .await;
}
