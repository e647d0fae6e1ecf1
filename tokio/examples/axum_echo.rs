//! An axum server with a page on `/`, an echo WebSocket on `/ws` and a
//! broadcast chat on `/chat`, the WebSockets accepted by
//! `wsmachine_tokio::hyper`, over HTTP/1.1 and (with the `h2` feature)
//! HTTP/2.
//!
//! ```sh
//! cargo run -p wsmachine-tokio --features hyper --example axum_echo -- 127.0.0.1:9002
//! ```
//!
//! (`127.0.0.1:0` picks a free port; the first line printed names it.)

use axum::extract::{Request, State};
use axum::response::{Html, Response};
use axum::routing::{any, get};
use axum::Router;
use tokio::sync::broadcast;
use wsmachine_tokio::hyper::HyperWebSocket;
use wsmachine_tokio::{Error, Message};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    serve(tokio::net::TcpListener::bind(addr).await?).await
}

/// Serves the page and both WebSocket routes on `listener`.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let (chat, _) = broadcast::channel::<Message>(100);
    // `any`, not `get`: over HTTP/2 (with the `h2` feature, and axum's
    // `http2`) a WebSocket opens with a CONNECT, where HTTP/1.1 sends a GET.
    let app = Router::new()
        .route("/", get(|| async { Html("<p>WebSockets on /ws (echo) and /chat</p>") }))
        .route("/ws", any(echo))
        .route("/chat", any(join_chat))
        .with_state(chat);
    println!("axum echo on ws://{}/ws", listener.local_addr()?);
    axum::serve(listener, app).await
}

/// `/ws`: answers the upgrade (101, or the status that says what was
/// wrong), then echoes every message in a task of its own.
async fn echo(mut request: Request) -> Response {
    wsmachine_tokio::hyper::upgrade(&mut request, |mut ws| async move {
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
        }
        Ok(())
    })
}

/// `/chat`: every message a client sends goes to every client.
async fn join_chat(State(chat): State<broadcast::Sender<Message>>, mut request: Request) -> Response {
    wsmachine_tokio::hyper::upgrade(&mut request, |ws| run_chat(ws, chat))
}

async fn run_chat(mut ws: HyperWebSocket, chat: broadcast::Sender<Message>) -> Result<(), Error> {
    let mut others = chat.subscribe();
    loop {
        tokio::select! {
            received = ws.recv() => match received? {
                Some(message) => drop(chat.send(message)),
                None => return Ok(()), // the client closed
            },
            Ok(message) = others.recv() => ws.send(message).await?,
        }
    }
}
