//! WebSockets over HTTP/2 (RFC 8441), our client against our server over
//! loopback (cleartext HTTP/2 with prior knowledge): messages both ways,
//! 100 WebSockets multiplexed on one connection, flow control under large
//! messages, closing one stream only, resets reported as 1006, refusals
//! and a server that does not allow extended CONNECT.

#![cfg(feature = "h2")]

mod common;

use std::time::Duration;

use common::bounded;
use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::h2::{self as ws_h2, H2Stream};
use wsmachine_tokio::{AcceptOptions, CloseCode, Error, Message, Rejection, UpgradeError, WebSocketStream};

/// A loopback listener and its address.
async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    (listener, address)
}

/// Serves one HTTP/2 connection: every WebSocket echoes until closed;
/// `/refuse` is refused with 403, other requests get 404.
async fn echo_server(listener: TcpListener) -> Result<(), Error> {
    let (tcp, _) = listener.accept().await?;
    let mut connection = ws_h2::server::handshake(tcp).await?;
    while let Some(accepted) = connection.accept().await {
        let Ok((request, mut respond)) = accepted else { break };
        if !ws_h2::server::is_websocket(&request) {
            let answer = http::Response::builder().status(404).body(()).expect("response");
            let _ = respond.send_response(answer, true);
            continue;
        }
        let decide = |request: &wsmachine_tokio::wsmachine::handshake::ExtendedConnect<'_, '_>, _: &mut _| match request
            .path()
        {
            "/refuse" => Err(Rejection::new(403).header("retry-after", "5").body("no")),
            _ => Ok(()),
        };
        let Ok(mut ws) = ws_h2::server::accept_or_reject(request, respond, &AcceptOptions::default(), decide) else {
            continue;
        };
        tokio::spawn(async move {
            while let Ok(Some(message)) = ws.recv().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}

/// A client connection to a fresh echo server.
async fn client() -> (ws_h2::client::SendRequest, String) {
    let (listener, address) = listen().await;
    tokio::spawn(echo_server(listener));
    let tcp = TcpStream::connect(&address).await.expect("connect");
    let connection = ws_h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    (connection, format!("ws://{address}"))
}

#[tokio::test]
async fn messages_ping_and_close_over_one_stream() {
    bounded(async {
        let (connection, base) = client().await;
        let mut ws = ws_h2::client::connect(&connection, format!("{base}/echo")).await.expect("connect");
        ws.send("hello").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("hello")));
        let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        ws.send(big.clone()).await.expect("send 1 MiB");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::Binary(big)));
        ws.ping(b"are you there").await.expect("ping");
        ws.send(Message::text("after the ping")).await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("after the ping")));
        ws.close(CloseCode::NORMAL, "done").await.expect("close");
        assert_eq!(ws.close_frame().map(|f| f.code()), Some(CloseCode::NORMAL));
        assert_eq!(ws.recv().await.expect("after the close"), None);
    })
    .await;
}

#[tokio::test]
async fn a_hundred_websockets_share_one_connection() {
    bounded(async {
        let (connection, base) = client().await;
        let mut tasks = Vec::new();
        for i in 0..100u32 {
            let connection = connection.clone();
            let url = format!("{base}/ws/{i}");
            tasks.push(tokio::spawn(async move {
                let mut ws = ws_h2::client::connect(&connection, &url).await?;
                for round in 0..20u32 {
                    let text = format!("socket {i} round {round}");
                    ws.send(text.as_str()).await?;
                    let size = 1000 + (i as usize * 977 + round as usize * 131) % 70_000;
                    let data: Vec<u8> = (0..size).map(|b| (b as u32 ^ i) as u8).collect();
                    ws.send(data.clone()).await?;
                    assert_eq!(ws.recv().await?, Some(Message::text(text)));
                    assert_eq!(ws.recv().await?, Some(Message::Binary(data)));
                }
                ws.close(CloseCode::NORMAL, "").await?;
                Ok::<_, Error>(u32::from(ws.get_ref().stream_id()))
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.expect("task").expect("a WebSocket failed"));
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 100, "each WebSocket had a stream of its own");
    })
    .await;
}

#[tokio::test]
async fn closing_one_websocket_leaves_the_others_and_the_connection() {
    bounded(async {
        let (connection, base) = client().await;
        let mut first = ws_h2::client::connect(&connection, &format!("{base}/a")).await.expect("connect");
        let mut second = ws_h2::client::connect(&connection, &format!("{base}/b")).await.expect("connect");
        first.close(CloseCode::NORMAL, "first done").await.expect("close");
        second.send("still here").await.expect("send");
        assert_eq!(second.recv().await.expect("recv"), Some(Message::text("still here")));
        let mut third = ws_h2::client::connect(&connection, &format!("{base}/c")).await.expect("a new stream");
        third.send("new").await.expect("send");
        assert_eq!(third.recv().await.expect("recv"), Some(Message::text("new")));
    })
    .await;
}

#[tokio::test]
async fn a_reset_stream_reads_as_a_close_without_handshake() {
    bounded(async {
        let (listener, address) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut connection = ws_h2::server::handshake(tcp).await.expect("handshake");
            let (request, respond) = connection.accept().await.expect("a request").expect("a valid request");
            let mut ws = ws_h2::server::accept(request, respond).expect("accept");
            let drive = tokio::spawn(async move { while connection.accept().await.is_some() {} });
            assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("reset me")));
            ws.get_mut().send_stream().send_reset(h2::Reason::CANCEL);
            (ws, drive)
        });
        let tcp = TcpStream::connect(&address).await.expect("connect");
        let connection = ws_h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
        let mut ws = ws_h2::client::connect(&connection, &format!("ws://{address}/")).await.expect("connect");
        ws.send("reset me").await.expect("send");
        let (_server_ws, _drive) = server.await.expect("server");
        assert!(matches!(ws.recv().await, Err(Error::ConnectionLost)));
        assert_eq!(ws.close_frame().map(|f| f.code()), Some(CloseCode::ABNORMAL));
        assert_eq!(ws.get_ref().reset_reason(), Some(h2::Reason::CANCEL));
    })
    .await;
}

#[tokio::test]
async fn refusals_carry_their_status_headers_and_body() {
    bounded(async {
        let (connection, base) = client().await;
        let refused = ws_h2::client::connect(&connection, &format!("{base}/refuse")).await;
        match refused {
            Err(Error::Refused(refusal)) => {
                assert_eq!(refusal.status, 403);
                assert_eq!(refusal.header("Retry-After"), Some("5"));
                assert_eq!(refusal.body, b"no");
            }
            other => panic!("expected a 403 refusal, got {:?}", other.map(|_| ())),
        }
        // The connection is still good.
        let mut ws = ws_h2::client::connect(&connection, &format!("{base}/ok")).await.expect("connect");
        ws.send("ok").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("ok")));
    })
    .await;
}

#[tokio::test]
async fn a_server_without_extended_connect_is_refused_clearly() {
    bounded(async {
        let (listener, address) = listen().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut connection = h2::server::handshake(tcp).await.expect("plain HTTP/2");
            while connection.accept().await.is_some() {}
        });
        let tcp = TcpStream::connect(&address).await.expect("connect");
        let err = ws_h2::client::handshake(tcp).await.expect_err("no extended CONNECT");
        assert!(err.to_string().contains("SETTINGS_ENABLE_CONNECT_PROTOCOL"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn an_invalid_extended_connect_is_answered_400() {
    bounded(async {
        let (listener, address) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut connection = ws_h2::server::handshake(tcp).await.expect("handshake");
            let (request, respond) = connection.accept().await.expect("a request").expect("valid HTTP/2");
            let result = ws_h2::server::accept(request, respond).map(|_| ());
            tokio::spawn(async move { while connection.accept().await.is_some() {} });
            result
        });
        let tcp = TcpStream::connect(&address).await.expect("connect");
        let mut send = ws_h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
        // No sec-websocket-version.
        let request = http::Request::builder()
            .method("CONNECT")
            .uri(format!("http://{address}/"))
            .extension(h2::ext::Protocol::from_static("websocket"))
            .body(())
            .expect("request");
        let (response, _send) = send.send_request(request, false).expect("send");
        let response = response.await.expect("a response");
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(matches!(server.await.expect("server"), Err(Error::Handshake(UpgradeError::ExtendedConnect(_)))));
    })
    .await;
}

#[tokio::test]
async fn split_halves_and_timers_work_over_a_stream() {
    bounded(async {
        let (connection, base) = client().await;
        let options = wsmachine_tokio::ConnectOptions {
            config: wsmachine_tokio::wsmachine::Config {
                ping_interval: Some(Duration::from_millis(50)),
                ..wsmachine_tokio::wsmachine::Config::default()
            },
            ..Default::default()
        };
        let ws: WebSocketStream<H2Stream> =
            ws_h2::client::connect_with(&connection, &format!("{base}/split"), &options).await.expect("connect");
        let (mut reader, mut writer) = ws.split();
        let sender = tokio::spawn(async move {
            for i in 0..50 {
                writer.send(format!("{i}")).await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, Error>(writer)
        });
        for i in 0..50 {
            assert_eq!(reader.recv().await.expect("recv"), Some(Message::text(format!("{i}"))));
        }
        let mut writer = sender.await.expect("task").expect("sends");
        writer.close(CloseCode::NORMAL, "").await.expect("close");
        assert_eq!(reader.recv().await.expect("end"), None);
    })
    .await;
}

#[tokio::test]
async fn a_websocket_that_stops_reading_does_not_stall_the_others() {
    bounded(async {
        let (connection, base) = client().await;
        let mut stalled = ws_h2::client::connect(&connection, &format!("{base}/stalled")).await.expect("connect");
        // Echoes pile up towards a reader that never reads: its stream's
        // window fills, and only its own.
        let chunk = vec![7u8; 200_000];
        for _ in 0..4 {
            stalled.send(chunk.clone()).await.expect("send");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut other = ws_h2::client::connect(&connection, &format!("{base}/other")).await.expect("connect");
        for i in 0..20 {
            let message = Message::Binary(vec![i as u8; 50_000]);
            other.send(message.clone()).await.expect("send");
            let echoed = tokio::time::timeout(Duration::from_secs(5), other.recv()).await;
            assert_eq!(echoed.expect("the other WebSocket stalled").expect("recv"), Some(message));
        }
        // The stalled one still gets everything once it reads.
        for _ in 0..4 {
            assert_eq!(stalled.recv().await.expect("recv"), Some(Message::Binary(chunk.clone())));
        }
    })
    .await;
}
