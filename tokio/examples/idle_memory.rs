//! How much memory an idle connection costs a server: opens many loopback
//! connections, upgrades each with `wsmachine_tokio::accept` and leaves it
//! waiting in `recv` in its own task, then prints the growth of the
//! process's resident memory per connection.
//!
//! ```sh
//! ulimit -n 16384
//! cargo run --release -p wsmachine-tokio --example idle_memory -- 10000
//! ```
//!
//! The clients run in a child process (the same program, `--clients`):
//! bare TCP sockets that send a handshake request by hand and read the
//! answer. So the figure is the server's side alone: the accepted socket,
//! the task, the `WebSocketStream` with its session and its keepalive
//! timer. Linux only (it reads `/proc/self/status`).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::WebSocketStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const REQUEST: &[u8] = b"GET /idle HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, addr, count] if flag == "--clients" => clients(addr, count.parse()?),
        [] => server(10_000),
        [count] => server(count.parse()?),
        _ => Err("usage: idle_memory [COUNT]".into()),
    }
}

#[tokio::main]
async fn server(count: usize) -> Result<(), BoxError> {
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss()?;

    let mut child = Command::new(std::env::current_exe()?)
        .args(["--clients", &addr.to_string(), &count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = ready.await??;
    if line.trim() != "ready" {
        return Err(format!("the clients failed: {line}").into());
    }
    while idle.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Idle a while: every connection waits in `recv`.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss()?;

    let grown = after.saturating_sub(before);
    println!("{count} idle connections: server resident memory {before} -> {after} bytes");
    println!("{} bytes per connection", grown / count as u64);
    println!("size_of::<WebSocketStream<TcpStream>>() = {} bytes", std::mem::size_of::<WebSocketStream<TcpStream>>());
    println!("size_of::<Session>() = {} bytes (boxed)", std::mem::size_of::<wsmachine_tokio::wsmachine::Session>());
    drop(child.stdin.take()); // the clients leave
    child.wait()?;
    Ok(())
}

/// The client process: `count` upgraded connections, held until stdin ends.
fn clients(addr: &str, count: usize) -> Result<(), BoxError> {
    let mut held = Vec::with_capacity(count);
    let mut answer = [0u8; 512];
    for _ in 0..count {
        let mut tcp = std::net::TcpStream::connect(addr)?;
        tcp.write_all(REQUEST)?;
        let n = tcp.read(&mut answer)?;
        if !answer[..n].starts_with(b"HTTP/1.1 101") {
            println!("refused: {}", String::from_utf8_lossy(&answer[..n]));
            return Ok(());
        }
        held.push(tcp);
    }
    println!("ready");
    std::io::stdout().flush()?;
    std::io::stdin().read_to_end(&mut Vec::new())?;
    Ok(())
}

/// The resident set size, in bytes (`VmRSS` in `/proc/self/status`).
fn rss() -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).ok_or("no VmRSS line")?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse()?;
    Ok(kib * 1024)
}
