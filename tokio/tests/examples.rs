//! The examples, run over loopback: each example file is compiled in here
//! and its `serve` function driven by real clients.

mod common;

use common::bounded;
use tokio::net::TcpListener;
use wsmachine_tokio::{connect, CloseCode, Message};

#[allow(dead_code)]
#[path = "../examples/chat.rs"]
mod chat;

async fn start(serve: impl FnOnce(TcpListener) -> tokio::task::JoinHandle<()>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/any/path", listener.local_addr().expect("address"));
    serve(listener);
    url
}

#[tokio::test]
async fn chat_broadcasts_to_two_clients_at_once() {
    bounded(async {
        let url = start(|listener| tokio::spawn(async move { drop(chat::serve(listener).await) })).await;
        let mut alice = connect(&url).await.expect("alice connects");
        let mut bob = connect(&url).await.expect("bob connects");
        alice.send("hello from alice").await.expect("send");
        for client in [&mut alice, &mut bob] {
            assert_eq!(client.recv().await.expect("recv"), Some(Message::text("hello from alice")));
        }
        bob.send("hello from bob").await.expect("send");
        for client in [&mut alice, &mut bob] {
            assert_eq!(client.recv().await.expect("recv"), Some(Message::text("hello from bob")));
        }
        // Both talk at once.
        let (a, b) = tokio::join!(alice.send("a"), bob.send("b"));
        a.and(b).expect("send");
        for client in [&mut alice, &mut bob] {
            let mut got = vec![client.recv().await.expect("recv"), client.recv().await.expect("recv")];
            got.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
            assert_eq!(got, [Some(Message::text("a")), Some(Message::text("b"))]);
        }
        alice.close(CloseCode::NORMAL, "").await.expect("close");
        bob.send("still here").await.expect("send");
        assert_eq!(bob.recv().await.expect("recv"), Some(Message::text("still here")));
        bob.close(CloseCode::NORMAL, "").await.expect("close");
    })
    .await;
}

#[cfg(feature = "deflate")]
#[allow(dead_code)]
#[path = "../examples/deflate_echo.rs"]
mod deflate_echo;

#[cfg(feature = "deflate")]
#[tokio::test]
async fn deflate_echo_compresses_for_clients_that_offer_it() {
    use wsmachine_tokio::{connect_with, ConnectOptions, DeflateConfig};
    bounded(async {
        let url = start(|listener| tokio::spawn(async move { drop(deflate_echo::serve(listener).await) })).await;
        let options = ConnectOptions { deflate: Some(DeflateConfig::default()), ..ConnectOptions::default() };
        let mut compressed = connect_with(&url, &options).await.expect("connect");
        assert!(compressed.is_compressed());
        let mut plain = connect(&url).await.expect("connect");
        assert!(!plain.is_compressed());
        let text = "the same words, again and again; ".repeat(500);
        for ws in [&mut compressed, &mut plain] {
            ws.send(text.as_str()).await.expect("send");
            assert_eq!(ws.recv().await.expect("recv"), Some(Message::text(text.clone())));
            ws.send(vec![1u8, 2, 3]).await.expect("send");
            assert_eq!(ws.recv().await.expect("recv"), Some(Message::binary([1, 2, 3])));
            ws.close(CloseCode::NORMAL, "").await.expect("close");
        }
    })
    .await;
}

#[cfg(all(feature = "hyper", feature = "h2"))]
#[allow(dead_code)]
#[path = "../examples/hyper_upgrade.rs"]
mod hyper_upgrade;

#[cfg(all(feature = "hyper", feature = "h2"))]
#[tokio::test]
async fn hyper_upgrades_and_the_adapter_runs_on_the_upgraded_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    bounded(async {
        let url = start(|listener| tokio::spawn(async move { drop(hyper_upgrade::serve(listener).await) })).await;
        let addr = url.trim_start_matches("ws://").split('/').next().expect("address").to_string();

        // The tokio adapter's client.
        let mut ws = connect(&url).await.expect("connect");
        ws.send("through hyper").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("through hyper")));
        ws.close(CloseCode::NORMAL, "").await.expect("close");

        // tungstenite, another implementation.
        let tungstenite_url = url.clone();
        tokio::task::spawn_blocking(move || {
            let (mut ws, response) = tungstenite::connect(tungstenite_url.as_str()).expect("tungstenite connects");
            assert_eq!(response.status(), 101);
            ws.send(tungstenite::Message::binary(vec![9u8; 70_000])).expect("send");
            assert_eq!(ws.read().expect("read").into_data().len(), 70_000);
            ws.close(None).expect("close");
            while ws.read().is_ok() {}
        })
        .await
        .expect("tungstenite client");

        // A client whose first frame follows the request in the same
        // write: hyper reads it with the head, and it must come first.
        let mut tcp = TcpStream::connect(&addr).await.expect("tcp");
        let mut eager = b"GET /eager HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .to_vec();
        eager.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2]);
        tcp.write_all(&eager).await.expect("request and frame");
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        let echo = loop {
            let n = tcp.read(&mut buf).await.expect("read");
            assert!(n > 0, "the server closed early: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                if answer.len() >= end + 4 + 4 {
                    break answer[end + 4..end + 8].to_vec();
                }
            }
        };
        assert!(answer.starts_with(b"HTTP/1.1 101 "));
        assert_eq!(echo, [0x81, 0x02, b'H', b'i'], "the eager frame echoed");

        // Not an upgrade: the error's status.
        let mut tcp = TcpStream::connect(&addr).await.expect("tcp");
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("request");
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.expect("answer");
        assert!(answer.starts_with(b"HTTP/1.1 4"), "{}", String::from_utf8_lossy(&answer));
    })
    .await;
}

#[cfg(all(feature = "hyper", feature = "h2"))]
#[tokio::test]
async fn hyper_takes_websockets_over_http2_streams_too() {
    use wsmachine_tokio::h2;
    bounded(async {
        let url = start(|listener| tokio::spawn(async move { drop(hyper_upgrade::serve(listener).await) })).await;
        // Prior-knowledge HTTP/2 to the same port that takes HTTP/1.1 upgrades.
        let connection = h2::client::open(&url).await.expect("HTTP/2 with extended CONNECT");
        let mut first = h2::client::connect(&connection, &url).await.expect("a WebSocket over hyper's HTTP/2");
        let mut second = h2::client::connect(&connection, &url).await.expect("another on the same connection");
        first.send("one").await.expect("send");
        second.send(vec![5u8; 300_000]).await.expect("send");
        assert_eq!(first.recv().await.expect("recv"), Some(Message::text("one")));
        assert_eq!(second.recv().await.expect("recv"), Some(Message::Binary(vec![5u8; 300_000])));
        first.close(CloseCode::NORMAL, "").await.expect("close");
        second.send("still open").await.expect("send");
        assert_eq!(second.recv().await.expect("recv"), Some(Message::text("still open")));
        second.close(CloseCode::NORMAL, "").await.expect("close");
    })
    .await;
}
