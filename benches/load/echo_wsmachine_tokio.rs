//! Echo server on `wsmachine-tokio`, current-thread runtime, for the load
//! test: `echo_wsmachine_tokio [ADDR]`. Each connection receives and sends
//! whole messages through the adapter's ordinary API (`recv`, `send`).

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    common::current_thread()?.block_on(async {
        let listener = TcpListener::bind(common::address()).await?;
        common::listening(listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            tokio::spawn(async move {
                let mut ws = wsmachine_tokio::accept(tcp).await?;
                while let Some(message) = ws.recv().await? {
                    ws.send(message).await?;
                }
                Ok::<_, wsmachine_tokio::Error>(())
            });
        }
    })
}
