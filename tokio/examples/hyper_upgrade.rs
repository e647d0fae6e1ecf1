//! A hyper 1.x server that upgrades requests to WebSockets and echoes
//! every message: hyper parses the HTTP request, wsmachine validates the
//! upgrade and builds the `101` answer, then the tokio adapter runs on
//! the upgraded connection. The same server
//! speaks HTTP/2 (cleartext, prior knowledge, through hyper-util's `auto`
//! builder) with extended CONNECT allowed, so a WebSocket can also be one
//! stream of an HTTP/2 connection (RFC 8441): hyper hands over the stream
//! as an upgrade, and `accept_extended_connect` answers the request.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features hyper --example hyper_upgrade -- 127.0.0.1:9002
//! ```
//!
//! Upgrades on any path of the address given as the first argument
//! (`127.0.0.1:0` picks a free port; the first line printed names it). A
//! request that is not an upgrade gets the error's status (400, 426…).
//!
//! HTTP/1.1 upgrades go through `wsmachine_tokio::hyper::accept`, which
//! also serves axum (see the `axum_echo` example). Bytes hyper read past
//! the request head (a client may send its first frame right behind the
//! request) belong to the WebSocket: hyper's upgraded connection returns
//! them first.

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use wsmachine_tokio::wsmachine::accept_extended_connect;
use wsmachine_tokio::wsmachine::handshake::http::extended_connect_fields;
use wsmachine_tokio::{AcceptOptions, Error, WebSocketStream};

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
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http2().enable_connect_protocol();
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service_fn(upgrade)).await {
                eprintln!("HTTP connection failed: {e}");
            }
        });
    }
}

/// Answers one request: `101` and a WebSocket task for an upgrade, the
/// error's status otherwise.
async fn upgrade(request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    if request.method() == Method::CONNECT {
        return Ok(extended_connect(request));
    }
    Ok(http1_upgrade(request))
}

/// An HTTP/2 extended CONNECT: `200` and a WebSocket task on the stream.
fn extended_connect(mut request: Request<Incoming>) -> Response<String> {
    let options = AcceptOptions::default();
    let protocol = request.extensions().get::<hyper::ext::Protocol>().map(hyper::ext::Protocol::as_str);
    let (answer, session) = match extended_connect_fields(&request, protocol) {
        Ok(fields) => accept_extended_connect(&options, &fields, |_, _| Ok(())),
        Err(e) => return Response::builder().status(e.status()).body(format!("{e}\n")).unwrap_or_default(),
    };
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    let Ok(session) = session else {
        return response.body(String::from_utf8_lossy(&answer.body).into_owned()).unwrap_or_default();
    };
    let upgraded = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let result = match upgraded.await {
            // The stream's bytes go straight to the WebSocket: HTTP/2 leaves none behind.
            Ok(upgraded) => {
                echo(WebSocketStream::from_session(TokioIo::new(upgraded), session, options.max_write_buffer)).await
            }
            Err(e) => Err(Error::Io(std::io::Error::other(e))),
        };
        if let Err(e) = result {
            eprintln!("WebSocket ended: {e}");
        }
    });
    response.body(String::new()).unwrap_or_default()
}

/// An HTTP/1.1 upgrade request: `101` and a WebSocket task, or the status
/// that says what was wrong with the request.
fn http1_upgrade(mut request: Request<Incoming>) -> Response<String> {
    let (response, upgrade) = wsmachine_tokio::hyper::accept::<_, Vec<u8>>(&mut request);
    if let Ok(upgrade) = upgrade {
        tokio::spawn(async move {
            // hyper's upgraded connection first returns the bytes it read
            // past the head (a first frame sent right behind the request).
            let result = match upgrade.await {
                Ok(ws) => echo(ws).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                eprintln!("WebSocket ended: {e}");
            }
        });
    }
    response.map(|body| String::from_utf8_lossy(&body).into_owned())
}

/// Sends every message back until the peer closes.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
