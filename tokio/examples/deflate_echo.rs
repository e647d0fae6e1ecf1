//! An echo server with permessage-deflate (RFC 7692): messages arrive
//! inflated and go back compressed, with no code of ours touching either.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features deflate --example deflate_echo -- 127.0.0.1:9002
//! ```
//!
//! Serves WebSockets on any path of the address given as the first argument
//! (`127.0.0.1:0` picks a free port; the first line printed names it).
//! Clients that do not offer compression are served uncompressed.

use std::sync::Arc;

use tokio::net::TcpListener;
use wsmachine_tokio::{AcceptOptions, DeflateConfig, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    serve(TcpListener::bind(addr).await?).await
}

/// Accepts connections on `listener`, each in its own task.
pub async fn serve(listener: TcpListener) -> Result<(), Error> {
    println!("deflate echo on ws://{}/", listener.local_addr()?);
    let options = Arc::new(AcceptOptions { deflate: Some(DeflateConfig::default()), ..Default::default() });
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?; // see wsmachine_tokio::accept
        let options = options.clone();
        tokio::spawn(async move {
            let mut ws = wsmachine_tokio::accept_with(tcp, &options).await?;
            while let Some(message) = ws.recv().await? {
                ws.send(message).await?;
            }
            Ok::<_, Error>(())
        });
    }
}
