//! A WebSocket echo server on the blocking adapter, one thread per
//! connection.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! Every text and binary message is sent back unchanged, pings are
//! answered and closes completed (with the peer's own code and reason), on
//! any path. Built with feature `deflate`, it accepts permessage-deflate
//! and compresses its echoes. A plain `GET /` (no Upgrade) gets a page that
//! opens `new WebSocket(...)` to this server: open <http://127.0.0.1:9001/>
//! in a browser; a plain GET on another path gets a short page saying this
//! is a WebSocket endpoint. It prints a line for each WebSocket connection
//! and for each close. Pass `127.0.0.1:0` for a free port.
//!
//! The adapter's timers: a request head must arrive within 10 s (else
//! 408); a connection quiet for 20 s gets a Ping, and one that stays quiet
//! 20 s more is dropped (Close 1011 "keepalive ping timeout"); a Close
//! waits 10 s at most for its answer.

use std::net::TcpListener;
use std::thread;

use wsmachine::{blocking, AcceptOptions, PlainRequest, PlainResponse};

/// The page served on `GET /`.
const PAGE: &str = include_str!("echo_page.html");

/// The page a plain GET gets on any other path.
const ENDPOINT_PAGE: &str = include_str!("endpoint_page.html");

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = TcpListener::bind(&addr)?;
    println!("echo_server listening on ws://{}/ (page at http://{0}/)", listener.local_addr()?);
    serve(listener, &options())
}

/// The adapter's defaults (limits and timers), a `Server` header, and
/// permessage-deflate when built with feature `deflate`.
pub fn options() -> AcceptOptions {
    AcceptOptions {
        headers: vec![("Server".into(), "wsmachine".into())],
        // Every echo compressed, however short (`threshold: 0`): this
        // server is the conformance testee, and the interop checks count
        // compressed echoes.
        #[cfg(feature = "deflate")]
        deflate: Some(wsmachine::ext::deflate::DeflateConfig { threshold: 0, ..Default::default() }),
        ..AcceptOptions::default()
    }
}

/// Accepts connections forever, each on its own thread.
pub fn serve(listener: TcpListener, options: &AcceptOptions) -> std::io::Result<()> {
    for stream in listener.incoming() {
        let (stream, options) = (stream?, options.clone());
        thread::spawn(move || {
            let peer = stream.peer_addr().map_or_else(|_| "?".to_string(), |addr| addr.to_string());
            if let Err(e) = handle(stream, &peer, &options) {
                println!("{peer}: {e}");
            }
        });
    }
    Ok(())
}

/// One connection: the page, or the handshake and the echo loop.
pub fn handle<S: blocking::Stream>(stream: S, peer: &str, options: &AcceptOptions) -> Result<(), blocking::Error> {
    let mut path = String::new();
    let note_path = |request: &wsmachine::Request, _: &mut _| {
        path = request.path().to_string();
        Ok(())
    };
    let Some(mut ws) = blocking::accept_or_serve(stream, options, note_path, page)? else {
        return Ok(()); // a plain GET, answered with a page
    };
    println!("{peer}: connected to {path}");
    let (mut compressed, mut echoes) = (0, 0);
    while let Some(message) = ws.read()? {
        // For the interop checks: whether the message came compressed.
        compressed += usize::from(ws.session().connection().message_rsv1());
        ws.send(message)?;
        echoes += 1;
    }
    if ws.is_compressed() {
        println!("permessage-deflate: received {compressed} compressed messages, sent {echoes}");
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
