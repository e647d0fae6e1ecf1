//! The interop suite's client for WebSockets over HTTP/2 (RFC 8441): runs
//! named exchanges against an echo server reached by an extended CONNECT,
//! and prints `ok NAME` or `FAIL NAME: why` for each.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features h2 --example h2_interop_client -- ws://127.0.0.1:PORT/echo
//! ```
//!
//! `ws://` speaks cleartext HTTP/2 with prior knowledge; `wss://` needs the
//! `rustls` feature and a trusted certificate. The server must echo every
//! message and understand the texts of `interop/node_h2.js`: `ping-me P`
//! (it pings with P and answers `pong-ok P` when our pong came back), a
//! ping of ours reported as the text `got-ping P`, and `close-me CODE
//! REASON` (it closes).

use wsmachine_tokio::h2::{self, H2Stream};
use wsmachine_tokio::{CloseCode, Error, Message, WebSocketStream};

type Ws = WebSocketStream<H2Stream>;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/echo".into());
    let connection = match h2::client::open(&url).await {
        Ok(connection) => connection,
        Err(e) => {
            println!("FAIL connect: {e}");
            std::process::exit(1);
        }
    };
    let mut failed = 0;
    let mut report = |name: &str, result: Result<(), String>| match result {
        Ok(()) => println!("ok {name}"),
        Err(why) => {
            failed += 1;
            println!("FAIL {name}: {why}");
        }
    };
    let mut ws = match h2::client::connect(&connection, &url).await {
        Ok(ws) => ws,
        Err(e) => {
            println!("FAIL connect: {e}");
            std::process::exit(1);
        }
    };
    report("text", echo(&mut ws, Message::text("hello over HTTP/2, κόσμε 🌍")).await);
    report("binary", echo(&mut ws, Message::Binary(vec![0, 1, 2, 253, 254, 255])).await);
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    report("1MiB", echo(&mut ws, Message::Binary(big)).await);
    report("ping", ping(&mut ws).await);
    report("pong", expect_after(&mut ws, Message::text("ping-me from the peer"), "pong-ok from the peer").await);
    report("close", close(&mut ws).await);
    report("server-close", server_close(&connection, &url).await);
    report("multiplexed-after-close", multiplexed(&connection, &url).await);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

/// The next message, as a sentence on failure.
async fn next(ws: &mut Ws) -> Result<Message, String> {
    match ws.recv().await {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(format!("the peer closed ({:?})", ws.close_frame())),
        Err(e) => Err(e.to_string()),
    }
}

async fn echo(ws: &mut Ws, message: Message) -> Result<(), String> {
    ws.send(message.clone()).await.map_err(|e| e.to_string())?;
    match next(ws).await? {
        got if got == message => Ok(()),
        got => Err(format!("the echo differs: {} bytes", got.as_bytes().len())),
    }
}

/// Sends `message` and expects the text `answer`.
async fn expect_after(ws: &mut Ws, message: Message, answer: &str) -> Result<(), String> {
    ws.send(message).await.map_err(|e| e.to_string())?;
    match next(ws).await? {
        Message::Text(text) if text == answer => Ok(()),
        got => Err(format!("expected {answer:?}, got {got:?}")),
    }
}

async fn ping(ws: &mut Ws) -> Result<(), String> {
    ws.ping(b"are you there").await.map_err(|e| e.to_string())?;
    match next(ws).await? {
        Message::Text(text) if text == "got-ping are you there" => Ok(()),
        got => Err(format!("the peer did not report our ping: {got:?}")),
    }
}

async fn close(ws: &mut Ws) -> Result<(), String> {
    ws.close(CloseCode::NORMAL, "bye").await.map_err(|e| e.to_string())?;
    match ws.close_frame() {
        Some(frame) if frame.code() == CloseCode::NORMAL && frame.reason() == "bye" => Ok(()),
        other => Err(format!("the peer answered {other:?}")),
    }
}

/// The peer closes a WebSocket on a second stream with its own code.
async fn server_close(connection: &h2::client::SendRequest, url: &str) -> Result<(), String> {
    let mut ws = h2::client::connect(connection, url).await.map_err(|e| e.to_string())?;
    ws.send("close-me 4001 done").await.map_err(|e| e.to_string())?;
    match ws.recv().await {
        Ok(None) => {}
        other => return Err(format!("expected the close, got {other:?}")),
    }
    match ws.close_frame() {
        Some(frame) if u16::from(frame.code()) == 4001 && frame.reason() == "done" => Ok(()),
        other => Err(format!("closed with {other:?}")),
    }
}

/// Ten WebSockets at once on the same connection, after the closes.
async fn multiplexed(connection: &h2::client::SendRequest, url: &str) -> Result<(), String> {
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (connection, url) = (connection.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut ws = h2::client::connect(&connection, &url).await?;
            ws.send(format!("socket {i}")).await?;
            let echoed = ws.recv().await?;
            ws.close(CloseCode::NORMAL, "").await?;
            Ok::<_, Error>(echoed == Some(Message::text(format!("socket {i}"))))
        }));
    }
    for task in tasks {
        match task.await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Err("an echo differs".into()),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
