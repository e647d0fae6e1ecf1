//! A hyper 1.x server that upgrades requests to WebSockets and echoes
//! every message: hyper parses the HTTP request, wsmachine validates the
//! upgrade (`wsmachine::handshake::http`) and builds the `101` answer, then
//! the tokio adapter runs on the upgraded connection.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features http --example hyper_upgrade -- 127.0.0.1:9002
//! ```
//!
//! Upgrades on any path of the address given as the first argument
//! (`127.0.0.1:0` picks a free port; the first line printed names it). A
//! request that is not an upgrade gets the error's status (400, 426…).
//!
//! Bytes hyper read past the request head (a client may send its first
//! frame right behind the request) belong to the WebSocket: they are fed
//! to the session before the first read.

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::wsmachine::handshake::http::{reject_response, UpgradeRequest};
use wsmachine_tokio::wsmachine::handshake::Accept;
use wsmachine_tokio::wsmachine::{Connection, Session};
use wsmachine_tokio::{AcceptOptions, Error, WebSocketStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    serve(TcpListener::bind(addr).await?).await
}

/// Serves HTTP/1.1 on every connection, with upgrades.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    println!("hyper upgrade echo on ws://{}/", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service_fn(upgrade));
            if let Err(e) = connection.with_upgrades().await {
                eprintln!("HTTP connection failed: {e}");
            }
        });
    }
}

/// Answers one request: `101` and a WebSocket task for an upgrade, the
/// error's status otherwise.
async fn upgrade(mut request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    let answer = match UpgradeRequest::parse(&request) {
        // No subprotocol; a permessage-deflate offer is declined by not answering it.
        Ok(upgrade) => upgrade.accept(&Accept::default()).map_err(|e| e.to_string()),
        Err(e) => return Ok(reject_response(&e).map(|()| format!("{e}\n"))),
    };
    let response = match answer {
        Ok(response) => response,
        Err(e) => return Ok(Response::builder().status(500).body(e).unwrap_or_default()),
    };
    let upgraded = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let result = match upgraded.await {
            Ok(upgraded) => echo(upgraded).await,
            Err(e) => Err(Error::Io(std::io::Error::other(e))),
        };
        if let Err(e) = result {
            eprintln!("WebSocket ended: {e}");
        }
    });
    Ok(response.map(|()| String::new()))
}

/// The WebSocket on the upgraded connection: the bytes hyper read past the
/// head first, then the socket itself.
async fn echo(upgraded: hyper::upgrade::Upgraded) -> Result<(), Error> {
    let parts = upgraded
        .downcast::<TokioIo<TcpStream>>()
        .map_err(|_| Error::Io(std::io::Error::other("not the TCP stream this server runs on")))?;
    let options = AcceptOptions::default();
    let mut session = Session::new(Connection::server(options.config));
    session.receive(&parts.read_buf);
    let mut ws = WebSocketStream::from_session(parts.io.into_inner(), session, options.max_write_buffer);
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
