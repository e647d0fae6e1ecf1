//! Echo server on fastwebsockets 0.10, current-thread runtime, for the
//! load test: `echo_fastwebsockets [ADDR]`. As its README: the handshake
//! by the application, `WebSocket::after_handshake` with auto-close and
//! auto-pong, and a `FragmentCollector` so that a message is echoed whole
//! (as its echo example; the other servers also assemble messages).

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket, WebSocketError};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    common::current_thread()?.block_on(async {
        let listener = TcpListener::bind(common::address()).await?;
        common::listening(listener.local_addr()?);
        loop {
            let (mut tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            tokio::spawn(async move {
                common::server_handshake(&mut tcp).await?;
                let mut ws = WebSocket::after_handshake(tcp, Role::Server);
                ws.set_auto_close(true);
                ws.set_auto_pong(true);
                let mut ws = FragmentCollector::new(ws);
                loop {
                    let frame = ws.read_frame().await?;
                    match frame.opcode {
                        OpCode::Close => break,
                        OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                        _ => {}
                    }
                }
                Ok::<_, WebSocketError>(())
            });
        }
    })
}
