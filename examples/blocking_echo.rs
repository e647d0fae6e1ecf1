//! A WebSocket echo server on the blocking adapter, one thread per
//! connection: every text and binary message comes back unchanged.
//!
//! ```sh
//! cargo run --example blocking_echo -- 127.0.0.1:9002
//! cargo run --example blocking_echo --features deflate   # with permessage-deflate
//! ```

use std::net::{TcpListener, TcpStream};
use std::thread;

use wsmachine::{blocking, AcceptOptions};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let listener = TcpListener::bind(&addr)?;
    println!("blocking_echo listening on ws://{}/", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            if let Err(e) = echo(stream) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    Ok(())
}

/// One connection: the handshake, then each message sent back until the
/// client closes.
fn echo(stream: TcpStream) -> Result<(), blocking::Error> {
    let options = AcceptOptions {
        #[cfg(feature = "deflate")]
        deflate: Some(wsmachine::ext::deflate::DeflateConfig::default()),
        ..AcceptOptions::default()
    };
    let mut ws = blocking::accept_with(stream, &options)?;
    while let Some(message) = ws.read()? {
        ws.send(message)?;
    }
    Ok(())
}
