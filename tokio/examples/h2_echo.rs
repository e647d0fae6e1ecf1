//! A `wss://` echo server that takes WebSockets over HTTP/1.1 and over
//! HTTP/2 on one port: TLS offers ALPN `h2` and `http/1.1`; an HTTP/2
//! connection allows extended CONNECT (RFC 8441), so a browser that loaded
//! the page over HTTP/2 opens its `wss://` WebSocket as a stream of that
//! same connection.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features rustls,h2 --example h2_echo -- 127.0.0.1:9443 [CERT.pem KEY.pem]
//! ```
//!
//! `https://127.0.0.1:9443/` serves the demo page (which opens
//! `new WebSocket("wss://…/echo")`), `/stats` counts the WebSockets taken
//! over each protocol, any other plain request gets a note. Each WebSocket
//! is logged with the protocol that carried it. Without a certificate and
//! key (PEM files), a self-signed certificate for `localhost` and
//! `127.0.0.1` is made and written to `h2_echo_cert.pem`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wsmachine_tokio::h2::server::{accept_with, handshake, is_websocket, serve};
use wsmachine_tokio::rustls::pki_types::pem::PemObject;
use wsmachine_tokio::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wsmachine_tokio::rustls::ServerConfig;
use wsmachine_tokio::{AcceptOptions, Error, PlainRequest, PlainResponse, WebSocketStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The demo page on `GET /`, shared with the `echo_server` example.
const PAGE: &str = include_str!("../../examples/echo_page.html");

/// WebSockets accepted so far: over HTTP/1.1, over HTTP/2.
#[derive(Default)]
struct Counts {
    http1: AtomicUsize,
    http2: AtomicUsize,
}

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
    let mut config = ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(addr).await?;
    println!("h2_echo listening on wss://{}/ (page at https://{0}/)", listener.local_addr()?);
    let counts = Arc::new(Counts::default());
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true).ok();
        let (acceptor, counts) = (acceptor.clone(), Arc::clone(&counts));
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => return println!("{peer}: TLS failed: {e}"),
            };
            let result = match tls.get_ref().1.alpn_protocol() {
                Some(b"h2") => serve_http2(tls, &peer.to_string(), counts).await,
                _ => serve_http1(tls, &peer.to_string(), &counts).await,
            };
            if let Err(e) = result {
                println!("{peer}: {e}");
            }
        });
    }
}

/// One HTTP/2 connection: WebSockets on extended CONNECT streams, pages
/// on the other requests.
async fn serve_http2<S>(tls: S, peer: &str, counts: Arc<Counts>) -> Result<(), Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut connection = handshake(tls).await?;
    while let Some(Ok((request, respond))) = connection.accept().await {
        if !is_websocket(&request) {
            serve(respond, &answer(request.uri().path(), &counts))?;
            continue;
        }
        let path = request.uri().path().to_string();
        let ws = accept_with(request, respond, &AcceptOptions::default())?;
        counts.http2.fetch_add(1, Ordering::Relaxed);
        println!("{peer}: connected to {path} over HTTP/2 (stream {})", u32::from(ws.get_ref().stream_id()));
        let peer = peer.to_string();
        tokio::spawn(async move { echo(ws, &peer).await });
    }
    Ok(())
}

/// One HTTP/1.1 connection: a WebSocket upgrade, or a page.
async fn serve_http1<S>(tls: S, peer: &str, counts: &Counts) -> Result<(), Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let page = |request: &PlainRequest| answer(request.split_path().0, counts);
    let options = AcceptOptions::default();
    let Some(ws) = wsmachine_tokio::accept_or_serve(tls, &options, |_, _| Ok(()), page).await? else {
        return Ok(());
    };
    counts.http1.fetch_add(1, Ordering::Relaxed);
    println!("{peer}: connected over HTTP/1.1");
    echo(ws, peer).await;
    Ok(())
}

/// Sends every message back until the peer closes.
async fn echo<S>(mut ws: WebSocketStream<S>, peer: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match ws.recv().await {
            Ok(Some(message)) => {
                if let Err(e) = ws.send(message).await {
                    return println!("{peer}: {e}");
                }
            }
            Ok(None) => break,
            Err(e) => return println!("{peer}: {e}"),
        }
    }
    if let Some(close) = ws.close_frame() {
        println!("{peer}: closed with {} {:?}", close.code(), close.reason());
    }
}

/// A plain request's answer: the page on `/`, the counts on `/stats`.
fn answer(path: &str, counts: &Counts) -> PlainResponse {
    match path {
        "/" => PlainResponse::new(200).body(PAGE),
        "/stats" => PlainResponse::new(200).body(format!(
            "<p>WebSockets over HTTP/1.1: {}, over HTTP/2: {}</p>\n",
            counts.http1.load(Ordering::Relaxed),
            counts.http2.load(Ordering::Relaxed)
        )),
        _ => PlainResponse::new(404).body("<p>Not here: open / for the page.</p>\n"),
    }
    .header("Content-Type", "text/html; charset=utf-8")
}

/// A fresh self-signed certificate, also written to `h2_echo_cert.pem`.
fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), BoxError> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    std::fs::write("h2_echo_cert.pem", certified.cert.pem())?;
    println!("self-signed certificate written to h2_echo_cert.pem");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    Ok((vec![certified.cert.der().clone()], key))
}
