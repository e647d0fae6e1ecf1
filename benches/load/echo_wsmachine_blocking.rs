//! Echo server on `wsmachine::blocking`, a thread per connection, for the
//! load test: `echo_wsmachine_blocking [ADDR]`.

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use std::net::TcpListener;

use wsmachine::blocking;

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(common::address())?;
    common::listening(listener.local_addr()?);
    for tcp in listener.incoming() {
        let tcp = tcp?;
        tcp.set_nodelay(true)?;
        std::thread::spawn(move || {
            let mut ws = blocking::accept(tcp)?;
            while let Some(message) = ws.read()? {
                ws.send(message)?;
            }
            Ok::<_, blocking::Error>(())
        });
    }
    Ok(())
}
