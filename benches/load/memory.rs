//! How much memory an idle connection costs a server, for wsmachine-tokio
//! and its peers in one run: `memory [COUNT]` (10 000 by default) prints a
//! markdown table of bytes per connection.
//!
//! ```sh
//! ulimit -n 32768
//! cargo run --release -p wsmachine-benches --example memory -- 10000
//! ```
//!
//! The method of wsmachine-tokio's `idle_memory` example, once per server
//! and each in a fresh process (resident memory does not shrink after a
//! measurement): the server (`memory --serve KIND COUNT`) accepts on the
//! multi-threaded runtime, a task per connection waiting for the next
//! message; the clients run in another process (`memory --clients …`), bare
//! sockets that do the handshake by hand and stay open. The figure is the
//! growth of the server's resident memory divided by `COUNT`: the socket's
//! registration with tokio, the task and the library's connection state and
//! buffers. The kernel's socket buffers are not process memory.
//!
//! wsmachine-tokio is also measured after one message each way (each
//! client sends a 1 KiB binary message and reads the echo): the buffers
//! that carried it are freed once the connection idles. And with
//! permessage-deflate negotiated (the client offers it, the server
//! accepts with `DeflateConfig::default()` and `threshold: 0`, so that its
//! five-byte echo is compressed), idle, and
//! after one message each way: each client sends the compressed "Hello" of
//! RFC 7692 §7.2.3.1 (RSV1, masked) and reads the compressed echo, so both
//! the inflater and the compressor have run. The same again with
//! `DeflateConfig::memory_lean()`, which frees both after every message.
//!
//! Last, a handshake in progress: each client sends the first half of its
//! request and waits, for wsmachine-tokio (without its handshake deadline,
//! as the peers have none), tokio-tungstenite and tokio-websockets.

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::{AcceptOptions, DeflateConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The servers measured: name on the command line, name in the table, and
/// what the clients do.
const KINDS: &[(&str, &str, Clients)] = &[
    ("wsmachine_tokio", "wsmachine-tokio", Clients::Plain),
    ("wsmachine_tokio_echo", "wsmachine-tokio, after one message each way", Clients::Echo),
    ("wsmachine_tokio_deflate", "wsmachine-tokio, permessage-deflate negotiated", Clients::Deflate),
    (
        "wsmachine_tokio_deflate_echo",
        "wsmachine-tokio, permessage-deflate, after one message each way",
        Clients::DeflateEcho,
    ),
    (
        "wsmachine_tokio_lean_echo",
        "wsmachine-tokio, permessage-deflate `memory_lean()`, after one message each way",
        Clients::DeflateEcho,
    ),
    ("tokio_tungstenite", "tokio-tungstenite 0.30", Clients::Plain),
    ("fastwebsockets", "fastwebsockets 0.10", Clients::Plain),
    ("tokio_websockets", "tokio-websockets 0.13", Clients::Plain),
    ("wsmachine_tokio_pending", "wsmachine-tokio, half a request sent", Clients::Partial),
    ("tokio_tungstenite_pending", "tokio-tungstenite 0.30, half a request sent", Clients::Partial),
    ("tokio_websockets_pending", "tokio-websockets 0.13, half a request sent", Clients::Partial),
];

/// What each client connection does after connecting.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Clients {
    /// The handshake, then nothing.
    Plain,
    /// The handshake, then one 1 KiB binary message out and its echo read.
    Echo,
    /// The handshake offering permessage-deflate, then nothing.
    Deflate,
    /// As `Deflate`, then one compressed message out and its echo read.
    DeflateEcho,
    /// The first half of the request ([`PARTIAL_REQUEST`]), then nothing:
    /// the server holds a handshake in progress.
    Partial,
}

impl Clients {
    fn name(self) -> &'static str {
        match self {
            Clients::Plain => "plain",
            Clients::Echo => "echo",
            Clients::Deflate => "deflate",
            Clients::DeflateEcho => "deflate-echo",
            Clients::Partial => "partial",
        }
    }
}

/// The request through `Connection: Upgrade` (74 bytes): no key, no
/// version, no blank line.
const PARTIAL_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";

/// RFC 7692 §7.2.3.1: "Hello" compressed, in a text frame with RSV1 set,
/// masked with the key of RFC 6455 §5.7.
const HELLO_COMPRESSED: [u8; 13] = {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let payload = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut frame = [0xc1, 0x80 | 7, key[0], key[1], key[2], key[3], 0, 0, 0, 0, 0, 0, 0];
    let mut i = 0;
    while i < payload.len() {
        frame[6 + i] = payload[i] ^ key[i % 4];
        i += 1;
    }
    frame
};

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, kind, count] if flag == "--serve" => serve(kind, count.parse()?),
        [flag, mode, addr, count] if flag == "--clients" => clients(mode, addr, count.parse()?),
        [] => table(10_000),
        [count] => table(count.parse()?),
        _ => Err("usage: memory [COUNT]".into()),
    }
}

/// Measures every kind, each in its own server process, and prints the table.
fn table(count: usize) -> Result<(), BoxError> {
    let mut rows = Vec::new();
    for &(kind, label, _) in KINDS {
        eprintln!("measuring {label}…");
        let output = Command::new(std::env::current_exe()?)
            .args(["--serve", kind, &count.to_string()])
            .stderr(Stdio::inherit())
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().find(|l| l.starts_with("result ")).ok_or(format!("{kind} failed: {stdout}"))?;
        let fields: Vec<u64> = line.split_whitespace().skip(1).map(str::parse).collect::<Result<_, _>>()?;
        rows.push((label, fields[0], fields[1], fields[2]));
    }
    println!(
        "| server ({} connections) | bytes per connection | resident memory before → after |",
        group(count as u64)
    );
    println!("| --- | ---: | ---: |");
    for (label, per, before, after) in rows {
        println!("| {label} | {} | {:.1} MB → {:.1} MB |", group(per), before as f64 / 1e6, after as f64 / 1e6);
    }
    Ok(())
}

/// `12345` as `12 345`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The server process for one kind: prints `result <bytes per connection>
/// <rss before> <rss after>`.
#[tokio::main]
async fn serve(kind: &str, count: usize) -> Result<(), BoxError> {
    let &(kind, _, clients) = KINDS.iter().find(|k| k.0 == kind).ok_or("unknown kind")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let upgraded = Arc::new(AtomicUsize::new(0));
    let counter = upgraded.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let upgraded = counter.clone();
            if clients == Clients::Partial {
                // No handshake completes: count the connections instead.
                upgraded.fetch_add(1, Ordering::Relaxed);
            }
            let options = |deflate| AcceptOptions { deflate, ..AcceptOptions::default() };
            // Each kind its own task type: one future covering every kind
            // would be as large as the largest for all of them.
            match kind {
                "tokio_tungstenite" | "tokio_tungstenite_pending" => {
                    drop(tokio::spawn(tokio_tungstenite_echo(tcp, upgraded)))
                }
                "fastwebsockets" => drop(tokio::spawn(fastwebsockets_echo(tcp, upgraded))),
                "tokio_websockets" | "tokio_websockets_pending" => {
                    drop(tokio::spawn(tokio_websockets_echo(tcp, upgraded)))
                }
                "wsmachine_tokio" | "wsmachine_tokio_echo" => {
                    drop(tokio::spawn(wsmachine_tokio_echo(tcp, upgraded, options(None))))
                }
                "wsmachine_tokio_pending" => {
                    // The peers have no handshake deadline: neither here,
                    // so that no connection is answered 408 while the
                    // others connect.
                    let options = AcceptOptions { handshake_timeout: None, ..options(None) };
                    drop(tokio::spawn(wsmachine_tokio_echo(tcp, upgraded, options)))
                }
                "wsmachine_tokio_lean_echo" => {
                    let lean = DeflateConfig { threshold: 0, ..DeflateConfig::memory_lean() };
                    drop(tokio::spawn(wsmachine_tokio_echo(tcp, upgraded, options(Some(lean)))))
                }
                _ => {
                    let deflate = DeflateConfig { threshold: 0, ..DeflateConfig::default() };
                    drop(tokio::spawn(wsmachine_tokio_echo(tcp, upgraded, options(Some(deflate)))))
                }
            }
        }
    });
    // Let the runtime's threads start before the first measurement.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss()?;

    let mut child = Command::new(std::env::current_exe()?)
        .args(["--clients", clients.name(), &addr.to_string(), &count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await??;
    if line.trim() != "ready" {
        return Err(format!("the clients failed: {line}").into());
    }
    while upgraded.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Idle a while: every connection waits for its next message.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss()?;
    println!("result {} {before} {after}", after.saturating_sub(before) / count as u64);
    drop(child.stdin.take()); // the clients leave
    child.wait()?;
    Ok(())
}

// One connection on the server, per kind: upgrade (counted), then echo
// every message, as each library's echo example does. Errors end a
// connection; the count then falls short and the measurement waits, so they
// cannot go unnoticed.

async fn wsmachine_tokio_echo(
    tcp: TcpStream,
    upgraded: Arc<AtomicUsize>,
    options: AcceptOptions,
) -> Result<(), BoxError> {
    let mut ws = wsmachine_tokio::accept_with(tcp, &options).await?;
    if options.deflate.is_some() && !ws.is_compressed() {
        return Err("permessage-deflate was not negotiated".into());
    }
    upgraded.fetch_add(1, Ordering::Relaxed);
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}

async fn tokio_tungstenite_echo(tcp: TcpStream, upgraded: Arc<AtomicUsize>) -> Result<(), BoxError> {
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    upgraded.fetch_add(1, Ordering::Relaxed);
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

async fn fastwebsockets_echo(mut tcp: TcpStream, upgraded: Arc<AtomicUsize>) -> Result<(), BoxError> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    common::server_handshake(&mut tcp).await?;
    let mut ws = WebSocket::after_handshake(tcp, Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let mut ws = FragmentCollector::new(ws);
    upgraded.fetch_add(1, Ordering::Relaxed);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn tokio_websockets_echo(tcp: TcpStream, upgraded: Arc<AtomicUsize>) -> Result<(), BoxError> {
    let (_request, mut ws) = tokio_websockets::ServerBuilder::new().accept(tcp).await?;
    upgraded.fetch_add(1, Ordering::Relaxed);
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// The client process: `count` upgraded connections, held until stdin ends.
fn clients(mode: &str, addr: &str, count: usize) -> Result<(), BoxError> {
    let mode = [Clients::Plain, Clients::Echo, Clients::Deflate, Clients::DeflateEcho, Clients::Partial]
        .into_iter()
        .find(|m| m.name() == mode)
        .ok_or("unknown client mode")?;
    let request = if matches!(mode, Clients::Plain | Clients::Echo) {
        common::REQUEST.to_vec()
    } else {
        let head = std::str::from_utf8(common::REQUEST)?.trim_end();
        format!("{head}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n").into_bytes()
    };
    let mut held = Vec::with_capacity(count);
    let mut answer = [0u8; 1024];
    for _ in 0..count {
        let mut tcp = std::net::TcpStream::connect(addr)?;
        if mode == Clients::Partial {
            tcp.write_all(PARTIAL_REQUEST)?;
            held.push(tcp);
            continue;
        }
        tcp.write_all(&request)?;
        let n = tcp.read(&mut answer)?;
        let head = &answer[..n];
        if !head.starts_with(b"HTTP/1.1 101") || !head.ends_with(b"\r\n\r\n") {
            println!("refused: {}", String::from_utf8_lossy(head));
            return Ok(());
        }
        if mode == Clients::Echo {
            // 1 KiB of zeros, binary, masked with a zero key (so the payload
            // on the wire is the payload); the echo is its header (4 bytes,
            // unmasked) and the payload.
            let mut frame = vec![0x82, 0x80 | 126, 0x04, 0x00, 0, 0, 0, 0];
            frame.resize(frame.len() + 1024, 0);
            tcp.write_all(&frame)?;
            let mut echo = [0u8; 4 + 1024];
            tcp.read_exact(&mut echo)?;
            if echo[..4] != [0x82, 126, 0x04, 0x00] {
                println!("the echo is not the message: {:02x?}", &echo[..4]);
                return Ok(());
            }
        }
        if mode == Clients::DeflateEcho {
            tcp.write_all(&HELLO_COMPRESSED)?;
            // The echo: a compressed text frame (RSV1), unmasked.
            let mut frame = Vec::new();
            while frame.len() < 2 || frame.len() < 2 + usize::from(frame[1] & 0x7f) {
                let n = tcp.read(&mut answer)?;
                if n == 0 {
                    println!("no echo");
                    return Ok(());
                }
                frame.extend_from_slice(&answer[..n]);
            }
            if frame[0] != 0xc1 {
                println!("the echo is not a compressed text frame: {frame:02x?}");
                return Ok(());
            }
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
