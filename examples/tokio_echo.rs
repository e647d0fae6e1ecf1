//! A WebSocket echo server on the tokio adapter (`wsmachine-tokio`), a task
//! per connection on a multi-threaded runtime: the same behaviour and
//! command line as `echo_server`.
//!
//! ```sh
//! cargo run --release --example tokio_echo -- 127.0.0.1:9002
//! ```
//!
//! Every text and binary message is sent back unchanged, pings are
//! answered and closes completed (with the peer's own code and reason), on
//! any path. A plain `GET /` (no Upgrade) gets a page that opens
//! `new WebSocket(...)` to this server: open <http://127.0.0.1:9002/> in a
//! browser; a plain GET on another path gets a short page saying this is a
//! WebSocket endpoint. It prints a line for each WebSocket connection and
//! for each close. Pass `127.0.0.1:0` for a free port.
//!
//! The adapter's timers: a request head must arrive within 10 s (else
//! 408); a connection quiet for 20 s gets a Ping, and one that stays quiet
//! 20 s more is dropped (Close 1011 "keepalive ping timeout"); a Close
//! waits 10 s at most for its answer.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use wsmachine_tokio::{AcceptOptions, Error, PlainRequest, PlainResponse, Request};

/// The page served on `GET /`, shared with `echo_server`.
const PAGE: &str = include_str!("echo_page.html");

/// The page a plain GET gets on any other path, shared with `echo_server`.
const ENDPOINT_PAGE: &str = include_str!("endpoint_page.html");

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("tokio_echo listening on ws://{}/ (page at http://{0}/)", listener.local_addr()?);
    serve(listener, options()).await
}

/// The adapter's defaults (limits and timers) and a `Server` header.
pub fn options() -> AcceptOptions {
    AcceptOptions { headers: vec![("Server".into(), "wsmachine-tokio".into())], ..AcceptOptions::default() }
}

/// Accepts connections forever, each in its own task.
pub async fn serve(listener: TcpListener, options: AcceptOptions) -> std::io::Result<()> {
    let options = Arc::new(options);
    loop {
        let (stream, peer) = listener.accept().await?;
        // Only a latency hint (small echoes leave at once): not worth failing over.
        stream.set_nodelay(true).ok();
        let options = Arc::clone(&options);
        tokio::spawn(async move {
            let peer = peer.to_string();
            if let Err(e) = handle(stream, &peer, &options).await {
                println!("{peer}: {e}");
            }
        });
    }
}

/// One connection: the page, or the handshake and the echo loop.
pub async fn handle<S>(stream: S, peer: &str, options: &AcceptOptions) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut path = String::new();
    let note_path = |request: &Request, _: &mut _| {
        path = request.path().to_string();
        Ok(())
    };
    let Some(mut ws) = wsmachine_tokio::accept_or_serve(stream, options, note_path, page).await? else {
        return Ok(()); // a plain GET, answered with a page
    };
    println!("{peer}: connected to {path}");
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    if let Some(close) = ws.close_frame() {
        println!("{peer}: closed with {} {:?}", close.code(), close.reason());
    }
    Ok(())
}

/// The answer to a plain GET: the demo page on `/`, a note elsewhere.
fn page(request: &PlainRequest) -> PlainResponse {
    let body = if request.split_path().0 == "/" { PAGE } else { ENDPOINT_PAGE };
    PlainResponse::new(200).header("Content-Type", "text/html; charset=utf-8").body(body)
}
