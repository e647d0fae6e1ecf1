//! A feed on the blocking adapter: every client gets a line every 100 ms
//! from a thread that never reads. Its sends answer the client's pings
//! (a client that pings, as Python `websockets` does, keeps the
//! connection) and see the client's Close.
//!
//! ```sh
//! cargo run --example blocking_feed -- 127.0.0.1:9002
//! ```

use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use wsmachine::blocking::{self, Error};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let listener = TcpListener::bind(&addr)?;
    println!("blocking_feed listening on ws://{}/", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || match feed(stream) {
            Ok(Some(close)) => println!("client left: {} {}", u16::from(close.code()), close.reason()),
            Ok(None) => println!("client left"),
            Err(e) => eprintln!("connection ended: {e}"),
        });
    }
    Ok(())
}

/// One connection: a line every 100 ms until the client closes; returns
/// its Close.
fn feed(stream: TcpStream) -> Result<Option<wsmachine::CloseFrame>, Error> {
    let mut ws = blocking::accept(stream)?;
    for tick in 0u64.. {
        match ws.send(format!("tick {tick}")) {
            Ok(()) => thread::sleep(Duration::from_millis(100)),
            Err(Error::Closed) => break,
            Err(e) => return Err(e),
        }
    }
    // The close handshake: our answer is on its way; `read` finishes it.
    while ws.read()?.is_some() {}
    Ok(ws.close_frame().copied())
}
