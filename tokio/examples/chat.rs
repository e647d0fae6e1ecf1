//! A chat server: every message a client sends goes to every client.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --example chat -- 127.0.0.1:9002
//! ```
//!
//! Serves WebSockets on any path of the address given as the first argument
//! (`127.0.0.1:0` picks a free port; the first line printed names it).

use tokio::net::TcpListener;
use tokio::sync::broadcast;
use wsmachine_tokio::{Error, Message};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    serve(TcpListener::bind(addr).await?).await
}

/// Accepts connections on `listener`, each in its own task.
pub async fn serve(listener: TcpListener) -> Result<(), Error> {
    println!("chat on ws://{}/", listener.local_addr()?);
    let (hub, _) = broadcast::channel::<Message>(1024);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?; // each message out at once, not after the last one's ACK
        let (hub, mut inbox) = (hub.clone(), hub.subscribe());
        tokio::spawn(async move {
            let mut ws = wsmachine_tokio::accept(tcp).await?;
            loop {
                tokio::select! {
                    received = ws.recv() => match received? {
                        Some(message) => drop(hub.send(message)),
                        None => return Ok::<_, Error>(()),
                    },
                    // A client too slow to keep up misses messages (`Lagged`).
                    Ok(message) = inbox.recv() => ws.send(message).await?,
                }
            }
        });
    }
}
