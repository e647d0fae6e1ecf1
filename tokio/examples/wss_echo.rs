//! A `wss://` echo server: TLS with rustls, then the same echo loop as over
//! plain TCP (the adapter is generic over the stream).
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features rustls --example wss_echo -- 127.0.0.1:9443 [CERT.pem KEY.pem]
//! ```
//!
//! Serves on any path of the address given as the first argument. With a
//! certificate chain and its PKCS#8 key (PEM files), it serves those;
//! without, it makes a self-signed certificate for `localhost` and
//! `127.0.0.1` and writes it to `wss_echo_cert.pem`, for clients to trust
//! (`wsmachine_tokio::connect_with_tls` with that root, or
//! `websocat --ca wss_echo_cert.pem`…).

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wsmachine_tokio::rustls::pki_types::pem::PemObject;
use wsmachine_tokio::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wsmachine_tokio::rustls::ServerConfig;
use wsmachine_tokio::Error;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9443".into());
    let (chain, key) = match (args.next(), args.next()) {
        (Some(cert), Some(key)) => {
            (CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?, PrivateKeyDer::from_pem_file(key)?)
        }
        _ => self_signed()?,
    };
    let config = ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(addr).await?;
    println!("wss echo on wss://{}/", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?; // see wsmachine_tokio::accept
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let tls = acceptor.accept(tcp).await?;
            let mut ws = wsmachine_tokio::accept(tls).await?;
            while let Some(message) = ws.recv().await? {
                ws.send(message).await?;
            }
            Ok::<_, Error>(())
        });
    }
}

/// A fresh self-signed certificate, also written to `wss_echo_cert.pem`.
fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), BoxError> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    std::fs::write("wss_echo_cert.pem", certified.cert.pem())?;
    println!("self-signed certificate written to wss_echo_cert.pem");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    Ok((vec![certified.cert.der().clone()], key))
}
