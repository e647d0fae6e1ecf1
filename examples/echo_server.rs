//! A WebSocket echo server on blocking `std::net`, one thread per connection.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! Every text and binary message is sent back unchanged, pings are
//! answered and closes completed, on any path. Built with feature
//! `deflate`, it accepts permessage-deflate and compresses its echoes. A plain `GET /` (no
//! Upgrade) gets a page that opens `new WebSocket(...)` to this server:
//! open <http://127.0.0.1:9001/> in a browser; a plain GET on another path
//! gets a short page saying this is a WebSocket endpoint. A peer's Close is
//! answered with its own code and reason. It prints a line for each
//! WebSocket connection and for each close, with its code and reason.
//!
//! Timers: a request head must arrive within 10 s (else 408); a connection
//! quiet for 20 s gets a Ping, and one that stays quiet 20 s more is dropped
//! (Close 1011 "keepalive ping timeout"); a Close we send waits 10 s at most
//! for its answer.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use wsmachine::Config;

mod support;

/// The page served on `GET /`.
pub const PAGE: &str = include_str!("support/echo_page.html");

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = TcpListener::bind(&addr)?;
    println!("echo_server listening on ws://{}/ (page at http://{0}/)", listener.local_addr()?);
    serve(listener)
}

/// The connections' limits and timers: the defaults, plus keepalive and a
/// close timeout.
pub fn config() -> Config {
    Config {
        ping_interval: Some(Duration::from_secs(20)),
        ping_timeout: Some(Duration::from_secs(20)),
        close_timeout: Some(Duration::from_secs(10)),
        ..Config::default()
    }
}

/// Accepts connections forever, each on its own thread.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    serve_with(listener, config())
}

/// [`serve`] with the given limits and timers.
pub fn serve_with(listener: TcpListener, config: Config) -> io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            if let Err(e) = handle(stream, config) {
                eprintln!("connection ended with an error: {e}");
            }
        });
    }
    Ok(())
}

/// One connection: the handshake (or the page), then the echo loop. Prints
/// a line when a WebSocket connection opens and one when it closes.
pub fn handle(mut stream: TcpStream, config: Config) -> io::Result<()> {
    let peer = stream.peer_addr()?;
    match support::server_handshake(&mut stream, config, PAGE.as_bytes())? {
        support::Upgrade::WebSocket { conn, path, leftover, deflate } => {
            println!("{peer}: connected to {path}");
            let ended = support::echo_with(stream, *conn, deflate, leftover)?;
            println!("{peer}: {ended}");
            Ok(())
        }
        support::Upgrade::Answered => Ok(()),
    }
}
