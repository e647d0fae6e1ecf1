//! Echo server on tokio-tungstenite 0.30, current-thread runtime, for the
//! load test: `echo_tokio_tungstenite [ADDR]`. Its documented usage:
//! `accept_async`, then `StreamExt::next` and `SinkExt::send` (which
//! flushes each message).

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    common::current_thread()?.block_on(async {
        let listener = TcpListener::bind(common::address()).await?;
        common::listening(listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await?;
                while let Some(message) = ws.next().await {
                    let message = message?;
                    if message.is_text() || message.is_binary() {
                        ws.send(message).await?;
                    }
                }
                Ok::<_, tokio_tungstenite::tungstenite::Error>(())
            });
        }
    })
}
