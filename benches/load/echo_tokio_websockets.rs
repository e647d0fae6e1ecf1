//! Echo server on tokio-websockets 0.13, current-thread runtime, for the
//! load test: `echo_tokio_websockets [ADDR]`. As its own echo example:
//! `ServerBuilder::accept`, then `StreamExt::next` and `SinkExt::send`,
//! with the default limits (its example lifts them; every message here is
//! within them).

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_websockets::ServerBuilder;

fn main() -> std::io::Result<()> {
    common::current_thread()?.block_on(async {
        let listener = TcpListener::bind(common::address()).await?;
        common::listening(listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            tokio::spawn(async move {
                let (_request, mut ws) = ServerBuilder::new().accept(tcp).await?;
                while let Some(message) = ws.next().await {
                    let message = message?;
                    if message.is_text() || message.is_binary() {
                        ws.send(message).await?;
                    }
                }
                Ok::<_, tokio_websockets::Error>(())
            });
        }
    })
}
