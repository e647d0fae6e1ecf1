//! The smallest `wss://` echo server taking WebSockets over HTTP/1.1 and
//! HTTP/2 (RFC 8441) on one port: the README's HTTP/2 example.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features rustls,h2 --example h2_server   # wss://127.0.0.1:9443/
//! ```
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wsmachine_tokio::rustls::{self, pki_types::PrivatePkcs8KeyDer};
use wsmachine_tokio::{h2, Error, PlainResponse, WebSocketStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    let key = PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()).into();
    let mut tls =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert.cert.der().clone()], key)?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(serve(TcpListener::bind("127.0.0.1:9443").await?, TlsAcceptor::from(Arc::new(tls))).await?)
}

/// Accepts TLS connections; HTTP/2 ones carry a WebSocket per stream.
pub async fn serve(listener: TcpListener, tls: TlsAcceptor) -> std::io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?; // see wsmachine_tokio::accept
        let tls = tls.clone();
        tokio::spawn(async move {
            let stream = tls.accept(tcp).await?;
            if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                return echo(wsmachine_tokio::accept(stream).await?).await;
            }
            let mut connection = h2::server::handshake(stream).await?;
            while let Some(Ok((request, respond))) = connection.accept().await {
                if h2::server::is_websocket(&request) {
                    tokio::spawn(echo(h2::server::accept(request, respond)?));
                } else {
                    h2::server::serve(respond, &PlainResponse::new(404))?;
                }
            }
            Ok::<_, Error>(())
        });
    }
}

/// Sends every message back until the peer closes.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
