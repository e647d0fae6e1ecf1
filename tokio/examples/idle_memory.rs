//! How much memory an idle connection costs: opens many loopback
//! connections, upgrades each on a server running `wsmachine_tokio::accept`
//! and `recv` in its own task, lets them idle, and prints the growth of
//! the process's resident memory per connection.
//!
//! ```sh
//! ulimit -n 65536
//! cargo run --release -p wsmachine-tokio --example idle_memory -- 10000
//! ```
//!
//! The client ends are bare TCP sockets that sent a handshake request by
//! hand and read the answer, so nearly all the growth is the server side:
//! the socket, the task, the `WebSocketStream` with its session and timer.
//! Both ends' sockets are counted. Linux only (it reads `/proc/self/status`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::WebSocketStream;

const REQUEST: &[u8] = b"GET /idle HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).map_or(Ok(10_000), |n| n.parse())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let idle = Arc::new(AtomicUsize::new(0));
    let server_idle = idle.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let idle = server_idle.clone();
            tokio::spawn(async move {
                let mut ws = wsmachine_tokio::accept(tcp).await?;
                idle.fetch_add(1, Ordering::Relaxed);
                while ws.recv().await?.is_some() {}
                Ok::<_, wsmachine_tokio::Error>(())
            });
        }
    });
    // Let the runtime's threads start before the first measurement.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss()?;

    let mut clients = Vec::with_capacity(count);
    let mut answer = [0u8; 512];
    for _ in 0..count {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.write_all(REQUEST).await?;
        let n = tcp.read(&mut answer).await?;
        if !answer[..n].starts_with(b"HTTP/1.1 101") {
            return Err("the server refused the upgrade".into());
        }
        clients.push(tcp);
    }
    while idle.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Idle a while: every connection sits in `recv`.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss()?;

    let grown = after.saturating_sub(before);
    println!("{count} idle connections: resident memory {before} -> {after} bytes");
    println!("{} bytes per connection (both ends' sockets and the server's task)", grown / count as u64);
    println!("size_of::<WebSocketStream<TcpStream>>() = {} bytes", std::mem::size_of::<WebSocketStream<TcpStream>>());
    drop(clients);
    Ok(())
}

/// The resident set size, in bytes (`VmRSS` in `/proc/self/status`).
fn rss() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).ok_or("no VmRSS line")?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse()?;
    Ok(kib * 1024)
}
