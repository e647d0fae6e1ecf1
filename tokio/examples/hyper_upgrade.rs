//! A hyper 1.x server that upgrades requests to WebSockets and echoes
//! every message: hyper parses the HTTP request, wsmachine validates the
//! upgrade and builds the answer, then the tokio adapter runs on the
//! connection hyper hands over. The same server speaks HTTP/2 (cleartext,
//! prior knowledge, through hyper-util's `auto` builder) with extended
//! CONNECT allowed, so a WebSocket can also be one stream of an HTTP/2
//! connection (RFC 8441): `wsmachine_tokio::hyper::accept` answers both
//! kinds of request, `101` for an HTTP/1.1 upgrade and `200` for an
//! extended CONNECT.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features hyper,h2 --example hyper_upgrade -- 127.0.0.1:9002
//! ```
//!
//! Upgrades on any path of the address given as the first argument
//! (`127.0.0.1:0` picks a free port; the first line printed names it). A
//! request that is not an upgrade gets the error's status (400, 426…).
//!
//! Bytes hyper read past an HTTP/1.1 request's head (a client may send
//! its first frame right behind the request) belong to the WebSocket:
//! hyper's upgraded connection returns them first.

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    serve(TcpListener::bind(addr).await?).await
}

/// Serves HTTP/1.1 and HTTP/2 on every connection, with upgrades.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    println!("hyper upgrade echo on ws://{}/", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?; // see wsmachine_tokio::accept
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http2().enable_connect_protocol();
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service_fn(upgrade)).await {
                eprintln!("HTTP connection failed: {e}");
            }
        });
    }
}

/// Answers one request: `101` (HTTP/1.1) or `200` (HTTP/2) and a
/// WebSocket task for an upgrade, the error's status otherwise.
async fn upgrade(mut request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    let (response, upgrade) = wsmachine_tokio::hyper::accept::<_, Vec<u8>>(&mut request);
    if let Ok(upgrade) = upgrade {
        tokio::spawn(async move {
            let result = match upgrade.await {
                Ok(ws) => echo(ws).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                eprintln!("WebSocket ended: {e}");
            }
        });
    }
    Ok(response.map(|body| String::from_utf8_lossy(&body).into_owned()))
}

/// Sends every message back until the peer closes.
async fn echo(mut ws: wsmachine_tokio::hyper::HyperWebSocket) -> Result<(), wsmachine_tokio::Error> {
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
