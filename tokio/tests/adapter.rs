//! The tokio adapter over loopback TCP: messages, Stream + Sink, split
//! halves from two tasks, automatic pongs, the bounded write buffer,
//! closing, the handshake callbacks and the timers.

mod common;

use std::task::Poll;
use std::time::Duration;

use common::{bounded, listen, RawServer};
use futures_util::{poll, SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use wsmachine_tokio::wsmachine::{Config, Incoming};
use wsmachine_tokio::{
    accept, accept_or_reject, accept_or_serve, accept_with, client_with, connect, connect_with, AcceptOptions,
    CloseCode, ConnectOptions, Error, Message, PlainRequest, PlainResponse, ProtocolError, Rejection, UpgradeError,
};

/// A server task echoing every message of one connection; its result is
/// the code and reason of the Close that ended it.
fn echo_reporting_close(
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<Result<Option<(CloseCode, String)>, Error>> {
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut ws = accept(tcp).await?;
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
        }
        Ok(ws.close_frame().map(|frame| (frame.code(), frame.reason().to_string())))
    })
}

#[tokio::test]
async fn messages_go_both_ways_and_the_close_handshake_completes() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = echo_reporting_close(listener);
        let mut ws = connect(&url).await.expect("connect");
        let big: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8).collect();
        ws.send("hello").await.expect("send");
        ws.send(big.clone()).await.expect("send");
        ws.send(Message::text("")).await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("hello")));
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::Binary(big)));
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("")));
        ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        assert_eq!(ws.close_frame().map(|frame| frame.code()), Some(CloseCode::NORMAL));
        // After the end, receiving reports the end again, and sending is refused.
        assert_eq!(ws.recv().await.expect("recv after the end"), None);
        assert!(matches!(ws.send("late").await, Err(Error::Closed)));
        let closed = server.await.expect("server task").expect("server");
        assert_eq!(closed, Some((CloseCode::NORMAL, "bye".to_string())));
    })
    .await;
}

#[tokio::test]
async fn a_close_reason_over_123_bytes_is_cut_and_the_close_still_goes_out() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = echo_reporting_close(listener);
        let mut ws = connect(&url).await.expect("connect");
        // "é" is two bytes: the 62nd would end at byte 124, so 61 are kept.
        let reason = "é".repeat(100);
        ws.close(CloseCode::INTERNAL_ERROR, &reason).await.expect("close");
        let seen = server.await.expect("server task").expect("server");
        assert_eq!(seen, Some((CloseCode::INTERNAL_ERROR, "é".repeat(61))));
    })
    .await;
}

#[tokio::test]
async fn stream_and_sink_as_tokio_tungstenite_users_write_them() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let ws = accept(tcp).await?;
            // The futures idiom: split with StreamExt and forward.
            let (sink, stream) = StreamExt::split(ws);
            stream.forward(sink).await
        });
        let mut ws = connect(&url).await.expect("connect");
        for i in 0..100 {
            ws.feed(Message::text(format!("m{i}"))).await.expect("feed");
        }
        ws.flush().await.expect("flush");
        for i in 0..100 {
            let message = ws.next().await.expect("a message").expect("no error");
            assert_eq!(message, Message::text(format!("m{i}")));
        }
        SinkExt::close(&mut ws).await.expect("Sink::close");
        // The server answers the Close and closes; the stream ends.
        assert!(ws.next().await.is_none());
        server.await.expect("server task").expect("forwarding ends cleanly");
    })
    .await;
}

#[tokio::test]
async fn split_halves_exchange_ten_thousand_messages_each_way() {
    const N: usize = 10_000;
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let (mut reader, mut writer) = accept(tcp).await?.split();
            let sending = tokio::spawn(async move {
                for i in 0..N {
                    writer.send(format!("server {i}")).await?;
                }
                writer.flush().await?;
                Ok::<_, Error>(writer)
            });
            for i in 0..N {
                assert_eq!(reader.recv().await?, Some(Message::text(format!("client {i}"))));
            }
            // The client's Close ends the stream.
            assert_eq!(reader.recv().await?, None);
            sending.await.expect("server writer")?;
            Ok::<_, Error>(())
        });
        let (mut reader, mut writer) = connect(&url).await.expect("connect").split();
        let sending = tokio::spawn(async move {
            for i in 0..N {
                writer.send(format!("client {i}")).await?;
            }
            writer.flush().await?;
            Ok::<_, Error>(writer)
        });
        let receiving = tokio::spawn(async move {
            for i in 0..N {
                assert_eq!(reader.recv().await?, Some(Message::text(format!("server {i}"))));
            }
            Ok::<_, Error>(reader)
        });
        let mut writer = sending.await.expect("client writer").expect("sent");
        let mut reader = receiving.await.expect("client reader").expect("received");
        writer.close(CloseCode::NORMAL, "done").await.expect("close");
        assert_eq!(reader.recv().await.expect("the end"), None);
        assert_eq!(reader.close_frame().map(|frame| frame.code()), Some(CloseCode::NORMAL));
        server.await.expect("server task").expect("server");
        // The halves go back together.
        let ws = reader.reunite(writer).expect("same connection");
        assert_eq!(ws.buffered_amount(), 0);
    })
    .await;
}

#[tokio::test]
async fn pongs_go_out_while_the_writer_is_idle() {
    bounded(async {
        let (listener, url) = listen().await;
        let client = tokio::spawn(async move {
            let (mut reader, writer) = connect(&url).await?.split();
            // Only the reader is polled; the writer is held, never used.
            let ended = reader.recv().await;
            drop(writer);
            ended
        });
        let mut server = RawServer::accept(&listener, &AcceptOptions::default()).await;
        for i in 0..100u8 {
            server.session.send_ping(&[i, i, i]).expect("ping");
            server.write().await;
            match server.next().await {
                Some(Incoming::Pong(payload)) => assert_eq!(&*payload, &[i, i, i]),
                other => panic!("expected the pong to ping {i}, got {other:?}"),
            }
        }
        // The Close is answered by the reader alone too.
        server.session.send_close(CloseCode::GOING_AWAY, "restart").expect("close");
        match server.next().await {
            Some(Incoming::Close(frame)) => assert_eq!(frame.code(), CloseCode::GOING_AWAY),
            other => panic!("expected the Close echo, got {other:?}"),
        }
        server.write().await;
        drop(server); // the server closes TCP first
        assert_eq!(client.await.expect("client task").expect("clean end"), None);
    })
    .await;
}

/// A TCP connection whose kernel buffers are small, so that a peer that
/// does not read fills them quickly.
async fn small_buffered(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("ws://").trim_end_matches("/test").parse().expect("address");
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(4096).expect("SO_SNDBUF");
    socket.connect(addr).await.expect("connect")
}

#[tokio::test]
async fn send_waits_at_max_write_buffer_while_the_peer_does_not_read() {
    const MAX: usize = 64 * 1024;
    const MESSAGE: usize = 4096;
    bounded(async {
        let (listener, url) = listen().await;
        let (accepted, tcp) = tokio::join!(listener.accept(), small_buffered(&url));
        let (server_tcp, _) = accepted.expect("accept");
        server_tcp.set_nodelay(true).expect("nodelay");
        let options = ConnectOptions { max_write_buffer: MAX, ..ConnectOptions::default() };
        let (server, client) = tokio::join!(accept(server_tcp), client_with(&url, tcp, &options));
        let mut server = server.expect("accept");
        let mut ws = client.expect("client");

        // The server reads nothing. Send until a send waits, then keep
        // trying: it keeps waiting, and what is queued stays bounded.
        let mut sent = 0usize;
        let mut waits = 0;
        while waits < 1000 {
            let payload = vec![(sent % 251) as u8; MESSAGE];
            let polled = {
                let send = ws.send(payload);
                tokio::pin!(send);
                poll!(send.as_mut())
                // A send dropped while it waits sends nothing.
            };
            match polled {
                Poll::Ready(result) => {
                    result.expect("send");
                    sent += 1;
                    waits = 0;
                }
                Poll::Pending => waits += 1,
            }
            let queued = ws.buffered_amount();
            assert!(queued < MAX + MESSAGE + 16, "{queued} bytes queued, over the bound");
            tokio::task::yield_now().await;
        }
        assert!(ws.buffered_amount() >= MAX, "sends wait only once the buffer is full");
        // Ten times over whatever the kernel holds, and still flat:
        // nothing more was accepted while waiting.
        let accepted = sent;

        // Once the server reads, the waiting send goes through and every
        // message arrives, in order.
        let reading = tokio::spawn(async move {
            let mut count = 0usize;
            while let Some(message) = server.recv().await? {
                assert_eq!(message, Message::Binary(vec![(count % 251) as u8; MESSAGE]));
                count += 1;
            }
            Ok::<_, Error>(count)
        });
        ws.send(vec![(accepted % 251) as u8; MESSAGE]).await.expect("the waiting send completes");
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        assert_eq!(reading.await.expect("server task").expect("server"), accepted + 1);
    })
    .await;
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    const ROUNDS: usize = 40;
    bounded(async {
        let (listener, url) = listen().await;
        let client = tokio::spawn(async move {
            let mut ws = connect(&url).await?;
            for round in 0..ROUNDS {
                // Half of the message is sent: this recv reads it, cannot
                // finish, and is dropped.
                let polled = {
                    let recv = ws.recv();
                    tokio::pin!(recv);
                    poll!(recv.as_mut())
                };
                assert!(polled.is_pending(), "round {round}: only half the message was sent");
                ws.send("more").await?;
                // The next recv returns the whole message, nothing lost.
                let expected = Message::Binary((0..round * 997 + 10).map(|i| (i % 251) as u8).collect());
                assert_eq!(ws.recv().await?, Some(expected), "round {round}");
            }
            ws.close(CloseCode::NORMAL, "").await?;
            Ok::<_, Error>(())
        });
        let mut server = RawServer::accept(&listener, &AcceptOptions::default()).await;
        for round in 0..ROUNDS {
            let payload: Vec<u8> = (0..round * 997 + 10).map(|i| (i % 251) as u8).collect();
            server.session.send_binary(&payload).expect("send");
            let frame = server.session.poll_output().to_vec();
            server.session.consume_output(frame.len());
            let half = frame.len() / 2;
            server.tcp.write_all(&frame[..half]).await.expect("write");
            match server.next().await {
                Some(Incoming::Message(message)) => assert_eq!(message, Message::text("more")),
                other => panic!("expected the client's request for more, got {other:?}"),
            }
            server.tcp.write_all(&frame[half..]).await.expect("write");
        }
        match server.next().await {
            Some(Incoming::Close(frame)) => assert_eq!(frame.code(), CloseCode::NORMAL),
            other => panic!("expected the client's Close, got {other:?}"),
        }
        server.write().await;
        drop(server);
        client.await.expect("client task").expect("client");
    })
    .await;
}

#[tokio::test]
async fn a_refusal_whose_body_ends_with_the_connection_is_read_to_its_end() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await.expect("read");
                assert_ne!(n, 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            // No Content-Length: the body ends with the connection, after
            // a write of its own.
            let head = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"chat\"\r\n\r\nlog";
            tcp.write_all(head.as_bytes()).await.expect("write");
            tokio::time::sleep(Duration::from_millis(20)).await;
            tcp.write_all(b" in").await.expect("write");
        });
        match connect(&url).await {
            Err(Error::Refused(refusal)) => {
                assert_eq!(refusal.status, 401);
                assert_eq!(refusal.header("www-authenticate"), Some("Basic realm=\"chat\""));
                assert_eq!(refusal.body, b"log in");
            }
            other => panic!("expected the refusal, got {:?}", other.map(|_| ())),
        }
        server.await.expect("server task");
    })
    .await;
}

#[tokio::test]
async fn the_request_is_seen_a_protocol_picked_or_the_request_refused() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            // First connection: refused.
            let (tcp, _) = listener.accept().await.expect("accept");
            let refused = accept_or_reject(tcp, &AcceptOptions::default(), |request, _| {
                assert_eq!(request.path(), "/test");
                Err(Rejection::new(403).header("Retry-After", "5").body("no"))
            })
            .await;
            assert!(matches!(refused, Err(Error::Handshake(UpgradeError::Rejected(403)))));
            // Second: a subprotocol picked and a header added.
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = accept_or_reject(tcp, &AcceptOptions::default(), |request, answer| {
                assert_eq!(request.origin(), Some("https://app.example"));
                answer.protocol = request.protocols().find(|p| *p == "chat.v2").map(String::from);
                answer.headers.push(("X-Room".into(), "lobby".into()));
                Ok(())
            })
            .await
            .expect("accept");
            assert_eq!(ws.protocol(), Some("chat.v2"));
            while ws.recv().await.expect("recv").is_some() {}
        });
        let options = ConnectOptions {
            protocols: vec!["chat.v1".into(), "chat.v2".into()],
            origin: Some("https://app.example".into()),
            ..ConnectOptions::default()
        };
        match connect_with(&url, &options).await {
            Err(Error::Refused(refusal)) => {
                assert_eq!(refusal.status, 403);
                assert_eq!(refusal.header("retry-after"), Some("5"));
                assert_eq!(refusal.body, b"no");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let mut ws = connect_with(&url, &options).await.expect("connect");
        assert_eq!(ws.protocol(), Some("chat.v2"));
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        server.await.expect("server task");
    })
    .await;
}

#[tokio::test]
async fn a_request_that_never_completes_is_answered_408() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let options = AcceptOptions { handshake_timeout: Some(Duration::from_millis(100)), ..Default::default() };
            accept_with(tcp, &options).await.map(drop)
        });
        let mut tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches("/test")).await.expect("tcp");
        use tokio::io::AsyncReadExt;
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("half a request");
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.expect("the answer, then the end");
        drop(tcp);
        assert!(answer.starts_with(b"HTTP/1.1 408 "), "{}", String::from_utf8_lossy(&answer));
        let e = server.await.expect("server task").expect_err("a timeout");
        assert!(e.is_timeout());
    })
    .await;
}

#[tokio::test]
async fn accept_or_serve_answers_a_plain_get_with_a_page_and_upgrades_the_rest() {
    bounded(async {
        let (listener, url) = listen().await;
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let page = |request: &PlainRequest| {
                let body = format!("a page for {}", request.path());
                PlainResponse::new(200).header("Content-Type", "text/plain").body(body)
            };
            let options = AcceptOptions::default();
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                let (tcp, _) = listener.accept().await.expect("accept");
                let mut path = String::new();
                let note_path = |request: &wsmachine_tokio::Request, _: &mut _| {
                    path = request.path().to_string();
                    Ok(())
                };
                match accept_or_serve(tcp, &options, note_path, page).await {
                    Ok(None) => outcomes.push("served".to_string()),
                    Ok(Some(mut ws)) => {
                        while let Some(message) = ws.recv().await.expect("recv") {
                            ws.send(message).await.expect("send");
                        }
                        outcomes.push(format!("upgraded on {path}"));
                    }
                    Err(Error::Handshake(e)) => outcomes.push(format!("refused with {:?}", e.status())),
                    Err(e) => panic!("{e}"),
                }
            }
            outcomes
        });
        use tokio::io::AsyncReadExt;
        // A browser opening the address: the page, then the end of the stream.
        let mut browser = TcpStream::connect(addr).await.expect("tcp");
        browser.write_all(b"GET /docs?x=1 HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n").await.expect("GET");
        let mut answer = Vec::new();
        browser.read_to_end(&mut answer).await.expect("the page, then the end");
        drop(browser); // the server drains until the client closes
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\na page for /docs?x=1"), "{answer}");
        // A WebSocket client on the same server: upgraded.
        let mut ws = connect(&url).await.expect("connect");
        ws.send("hello").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("hello")));
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        // WebSocket headers without `Upgrade`: a broken client, not a page.
        let mut broken = TcpStream::connect(addr).await.expect("tcp");
        broken
            .write_all(
                b"GET /test HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .expect("request");
        let mut answer = Vec::new();
        broken.read_to_end(&mut answer).await.expect("the answer, then the end");
        drop(broken);
        assert!(answer.starts_with(b"HTTP/1.1 400 "), "{}", String::from_utf8_lossy(&answer));
        let outcomes = server.await.expect("server task");
        assert_eq!(outcomes, ["served", "upgraded on /test", "refused with Some(400)"]);
    })
    .await;
}

#[tokio::test]
async fn a_silent_peer_is_dropped_by_the_keepalive() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            // Answers the handshake, then goes silent: reads nothing, so
            // keepalive pings get no pong.
            let ws = accept(tcp).await.expect("accept");
            tokio::time::sleep(common::BOUND).await;
            drop(ws);
        });
        let config = Config {
            ping_interval: Some(Duration::from_millis(50)),
            ping_timeout: Some(Duration::from_millis(50)),
            close_timeout: Some(Duration::from_millis(50)),
            ..Config::default()
        };
        let options = ConnectOptions { config, ..ConnectOptions::default() };
        let mut ws = connect_with(&url, &options).await.expect("connect");
        let e = ws.recv().await.expect_err("the peer is dead");
        assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
        assert!(e.is_timeout());
        assert_eq!(ws.recv().await.expect("then the end"), None);
        server.abort();
    })
    .await;
}

/// Short timers for the keepalive tests over an in-memory pipe.
fn quick_timers() -> AcceptOptions {
    let config = Config {
        ping_interval: Some(Duration::from_millis(50)),
        ping_timeout: Some(Duration::from_millis(50)),
        close_timeout: Some(Duration::from_millis(50)),
        ..Config::default()
    };
    AcceptOptions { config, ..AcceptOptions::default() }
}

/// A connection that only sends still runs its timers: each send looks
/// at them (a send that answers a message just received leaves that to
/// the receive), so a peer that answers no ping is found dead. The clock
/// is paused: the waits are simulated.
#[tokio::test(start_paused = true)]
async fn a_connection_that_only_sends_finds_a_silent_peer_dead() {
    let (client, mut server) = upgraded(quick_timers()).await;
    // The client is never polled: it reads nothing and answers no ping.
    let start = tokio::time::Instant::now();
    let e = tick_until_refused(&mut server).await.expect("a send fails once the peer is found dead");
    // A ping after 50 ms without input, then 50 ms for its pong.
    assert!(start.elapsed() >= Duration::from_millis(100), "{:?}: {e:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_millis(300), "{:?}: {e:?}", start.elapsed());
    // The send says why, not only that the connection is closed.
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    assert!(e.is_timeout());
    let e = server.recv().await.expect_err("the dead peer is reported");
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    drop(client);
}

/// A peer that stops reading: our sends pile up unwritten until a send
/// waits for room, the keepalive finds the peer dead, and the failure's
/// Close waits behind the rest. The close timeout bounds that wait: the
/// output is dropped, the connection closed, and the send says why.
/// Before, the send waited for as long as the peer kept the connection.
/// The clock is paused: the waits are simulated.
#[tokio::test(start_paused = true)]
async fn a_send_to_a_peer_that_stops_reading_ends_within_the_timers() {
    let (client, mut server) = upgraded(quick_timers()).await;
    let start = tokio::time::Instant::now();
    let sending = async {
        loop {
            if let Err(e) = server.send(vec![7u8; 256 * 1024]).await {
                return e;
            }
        }
    };
    let e = tokio::time::timeout(Duration::from_secs(10), sending).await.expect("the send ends");
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    // A ping after 50 ms of silence, 50 ms for its pong, then 50 ms for
    // the peer to take the rest.
    assert!(start.elapsed() >= Duration::from_millis(150), "{:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_millis(400), "{:?}", start.elapsed());
    drop(client);
}

/// The same for an echo whose send waits for room while answering a
/// message the receive took from those read ahead: the peer sends but
/// does not read. A small pipe and write buffer make each read hold
/// several messages and each echo wait. The clock is paused: the waits
/// are simulated.
#[tokio::test(start_paused = true)]
async fn an_echo_to_a_peer_that_stops_reading_ends_within_the_timers() {
    let options = AcceptOptions { max_write_buffer: 2048, ..quick_timers() };
    let (mut client, mut server) = upgraded_over(4096, options, &ConnectOptions::default()).await;
    // The client sends and never receives (its sends read 64 KiB ahead,
    // then stop reading), until its own sends wait for room.
    let flood = tokio::spawn(async move {
        while client.send(vec![1u8; 1000]).await.is_ok() {}
        client
    });
    let echo = async {
        loop {
            let message = match server.recv().await {
                Ok(Some(message)) => message,
                Ok(None) => return Error::Closed,
                Err(e) => return e,
            };
            if let Err(e) = server.send(message).await {
                return e;
            }
        }
    };
    let e = tokio::time::timeout(Duration::from_secs(10), echo).await.expect("the echo ends");
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    flood.abort();
}

/// Sends a text every 10 ms (of the paused clock), at most 100 times,
/// until a send fails: its error.
async fn tick_until_refused(ws: &mut Piped) -> Option<Error> {
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Err(e) = ws.send("tick").await {
            return Some(e);
        }
    }
    None
}

/// Server and client with [`quick_timers`] over an in-memory pipe.
async fn upgraded_with_quick_timers() -> (Piped, Piped) {
    let client_options = ConnectOptions { config: quick_timers().config, ..ConnectOptions::default() };
    upgraded_with(quick_timers(), &client_options).await
}

/// A task that only sends (a feed pushed to a client) reads what arrived
/// at each send: the peer's pongs keep its keepalive from dropping a live
/// peer, and the peer's pings are answered. Before, its keepalive pings
/// went out and their pongs were never read: the connection failed after
/// the ping interval and timeout (here 100 ms; 40 s with the defaults).
/// The clock is paused: the waits are simulated.
#[tokio::test(start_paused = true)]
async fn a_connection_that_only_sends_keeps_a_live_peer_and_answers_its_pings() {
    let (mut client, mut server) = upgraded_with_quick_timers().await;
    // Messages nobody receives until the end: the pings and pongs behind
    // them act all the same.
    for request in ["subscribe", "hello", "still here"] {
        client.send(request).await.expect("send");
    }
    let reader = tokio::spawn(async move {
        let (mut messages, mut pings, mut pongs) = (0, 0, 0);
        loop {
            match client.recv_incoming().await? {
                Some(Incoming::Message(_)) => messages += 1,
                Some(Incoming::Ping(_)) => pings += 1,
                Some(Incoming::Pong(_)) => pongs += 1,
                Some(Incoming::Close(_)) | None => return Ok::<_, Error>((messages, pings, pongs)),
            }
        }
    });
    // A send every 80 ms for 800 ms: each side goes 50 ms without input
    // between two, and pings.
    for i in 0..10u32 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        server.send(i.to_string()).await.expect("a live peer is kept");
    }
    // What was read ahead is received in order.
    for request in ["subscribe", "hello", "still here"] {
        assert_eq!(server.recv().await.expect("recv"), Some(Message::text(request)));
    }
    server.close(CloseCode::NORMAL, "done").await.expect("close");
    assert_eq!(server.close_frame().map(|frame| frame.code()), Some(CloseCode::NORMAL));
    let (messages, pings, pongs) = reader.await.expect("reader task").expect("the client saw no failure");
    assert_eq!(messages, 10);
    assert!(pings >= 1, "the server's keepalive pinged: {pings}");
    assert!(pongs >= 1, "the server answered the client's pings while sending: {pongs}");
}

/// What a task that only sends reads ahead is bounded: past 64 KiB of
/// messages nobody received it stops reading, and a peer whose pongs wait
/// behind more is found dead by the keepalive, as it would be by a
/// receive that stopped.
#[tokio::test(start_paused = true)]
async fn a_connection_that_only_sends_stops_reading_what_it_never_receives() {
    let (mut client, mut server) = upgraded_with_quick_timers().await;
    for _ in 0..100 {
        client.send(vec![7u8; 4096]).await.expect("send");
    }
    let reader = tokio::spawn(async move { while let Ok(Some(_)) = client.recv().await {} });
    let e = tick_until_refused(&mut server).await.expect("the peer's pongs were never read");
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    let mut received = 0;
    while let Ok(Some(_)) = server.recv().await {
        received += 1;
    }
    // 64 KiB beyond the first message, and what the last read brought.
    assert!((17..40).contains(&received), "{received} of 100 read ahead");
    reader.abort();
}

/// A writer whose reader was dropped reads at its sends, as an unsplit
/// connection does: nothing else would answer the peer's pings or see the
/// pongs of its own keepalive.
#[tokio::test(start_paused = true)]
async fn a_writer_whose_reader_was_dropped_keeps_a_live_peer() {
    let (mut client, server) = upgraded_with_quick_timers().await;
    let (reader, mut writer) = server.split();
    drop(reader);
    let client_task = tokio::spawn(async move {
        let (mut messages, mut pongs) = (0, 0);
        loop {
            match client.recv_incoming().await? {
                Some(Incoming::Message(_)) => messages += 1,
                Some(Incoming::Pong(_)) => pongs += 1,
                Some(Incoming::Ping(_)) => {}
                Some(Incoming::Close(_)) | None => return Ok::<_, Error>((messages, pongs)),
            }
        }
    });
    for i in 0..10u32 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        writer.send(i.to_string()).await.expect("a live peer is kept");
    }
    writer.close(CloseCode::NORMAL, "done").await.expect("close");
    let (messages, pongs) = client_task.await.expect("client task").expect("the client saw no failure");
    assert_eq!(messages, 10);
    assert!(pongs >= 1, "the writer answered the client's pings: {pongs}");
}

/// A task that only sends sees the peer's Close at its next send, which
/// answers it and then fails with [`Error::Closed`].
#[tokio::test(start_paused = true)]
async fn a_connection_that_only_sends_sees_the_peers_close() {
    let (mut client, mut server) = upgraded_with_quick_timers().await;
    let closer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(25)).await;
        client.close(CloseCode::GOING_AWAY, "bye").await.expect("close");
        client.close_frame().map(|frame| frame.code())
    });
    let e = tick_until_refused(&mut server).await.expect("the peer's Close is seen");
    assert!(matches!(e, Error::Closed), "{e:?}");
    let frame = server.close_frame().expect("the peer's Close");
    assert_eq!((frame.code(), frame.reason()), (CloseCode::GOING_AWAY, "bye"));
    // The client got the answer to its Close, not the close timeout's 1006.
    assert_eq!(closer.await.expect("closer task"), Some(CloseCode::GOING_AWAY));
}

/// An echo loop (each send answering the message just received) finds a
/// peer that stops answering dead while it waits for the next message.
#[tokio::test(start_paused = true)]
async fn an_echo_loop_finds_a_peer_that_falls_silent_dead() {
    let (mut client, mut server) = upgraded(quick_timers()).await;
    let echo = tokio::spawn(async move {
        loop {
            match server.recv().await {
                Ok(Some(message)) => server.send(message).await.expect("echo"),
                outcome => return outcome,
            }
        }
    });
    for i in 0..10u8 {
        client.send(vec![i; 10]).await.expect("send");
        assert_eq!(client.recv().await.expect("recv"), Some(Message::Binary(vec![i; 10])));
    }
    // The client falls silent: it is no longer polled.
    let outcome = echo.await.expect("echo task");
    assert!(matches!(outcome, Err(Error::Protocol(ProtocolError::PingTimeout))), "{outcome:?}");
    drop(client);
}

/// A peer found dead is reported once the Close is written: the
/// connection does not wait out the close timeout (10 s here) for the end
/// of a transport whose peer answered no ping.
#[tokio::test(start_paused = true)]
async fn a_dead_peer_is_reported_without_waiting_out_the_close_timeout() {
    let config = Config {
        ping_interval: Some(Duration::from_millis(50)),
        ping_timeout: Some(Duration::from_millis(50)),
        close_timeout: Some(Duration::from_secs(10)),
        ..Config::default()
    };
    let (client, mut server) = upgraded(AcceptOptions { config, ..AcceptOptions::default() }).await;
    // The client is never polled: it answers no ping.
    let start = tokio::time::Instant::now();
    let e = server.recv().await.expect_err("the peer is dead");
    assert!(matches!(e, Error::Protocol(ProtocolError::PingTimeout)), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(1), "reported after {:?}", start.elapsed());
    drop(client);
}

#[tokio::test]
async fn a_transport_that_ends_without_a_close_is_a_lost_connection() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = accept(tcp).await.expect("accept");
            assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("hi")));
            drop(ws); // no Close
        });
        let mut ws = connect(&url).await.expect("connect");
        ws.send("hi").await.expect("send");
        assert!(matches!(ws.recv().await, Err(Error::ConnectionLost)));
        assert_eq!(ws.close_frame().map(|frame| frame.code()), Some(CloseCode::ABNORMAL));
        server.await.expect("server task");
    })
    .await;
}

#[tokio::test]
async fn a_protocol_violation_fails_with_its_close_code() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = accept(tcp).await.expect("accept");
            ws.recv().await
        });
        let mut raw = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches("/test")).await.expect("tcp");
        use tokio::io::AsyncReadExt;
        raw.write_all(
            b"GET /test HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("request");
        // An unmasked text frame from a client: 1002.
        raw.write_all(&[0x81, 0x02, b'h', b'i']).await.expect("frame");
        let mut answer = Vec::new();
        raw.read_to_end(&mut answer).await.expect("the answer, a Close, then the end");
        drop(raw);
        let close = answer.windows(4).position(|w| w == b"\r\n\r\n").map(|at| &answer[at + 4..]).expect("101 head");
        assert_eq!(&close[..4], &[0x88, close[1], 0x03, 0xEA], "Close 1002");
        let e = server.await.expect("server task").expect_err("a protocol error");
        assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    })
    .await;
}

#[tokio::test]
async fn a_tungstenite_client_talks_to_the_server() {
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut ws = accept(tcp).await?;
            while let Some(message) = ws.recv().await? {
                ws.send(message).await?;
            }
            Ok::<_, Error>(())
        });
        tokio::task::spawn_blocking(move || {
            let (mut ws, _) = tungstenite::connect(url.as_str()).expect("tungstenite connects");
            ws.send(tungstenite::Message::text("from tungstenite")).expect("send");
            let echoed = ws.read().expect("read");
            assert_eq!(echoed.into_text().expect("text").as_str(), "from tungstenite");
            ws.close(None).expect("close");
            // Read until the close handshake is over.
            while ws.read().is_ok() {}
        })
        .await
        .expect("client thread");
        server.await.expect("server task").expect("server");
    })
    .await;
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn compression_is_a_switch() {
    use wsmachine_tokio::wsmachine::ext::deflate::DeflateConfig;
    bounded(async {
        let (listener, url) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let options = AcceptOptions { deflate: Some(DeflateConfig::default()), ..AcceptOptions::default() };
            let mut ws = accept_with(tcp, &options).await?;
            assert!(ws.is_compressed());
            while let Some(message) = ws.recv().await? {
                ws.send(message).await?;
            }
            Ok::<_, Error>(())
        });
        let options = ConnectOptions { deflate: Some(DeflateConfig::default()), ..ConnectOptions::default() };
        let mut ws = connect_with(&url, &options).await.expect("connect");
        assert!(ws.is_compressed());
        let text = "a fairly repetitive sentence. ".repeat(1000);
        for _ in 0..3 {
            ws.send(text.as_str()).await.expect("send");
            assert_eq!(ws.recv().await.expect("recv"), Some(Message::text(text.clone())));
        }
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        server.await.expect("server task").expect("server");
    })
    .await;
}

#[test]
fn the_futures_are_send() {
    fn send<T: Send>(_: T) {}
    send(connect("ws://127.0.0.1:1/"));
    send(accept(tokio::io::duplex(64).0));
    let page = |_: &PlainRequest| PlainResponse::new(404);
    send(accept_or_serve(tokio::io::duplex(64).0, &AcceptOptions::default(), |_, _| Ok(()), page));
}

/// A task that accepts a connection and then serves it is one future, as
/// large as its largest state for the connection's whole life: the
/// handshake's inline head storage (8 KiB) must not be part of it, or every
/// idle connection carries it (10.9 KB per connection instead of 2.8 KB in
/// the `idle_memory` example). The bound leaves room for the TLS connect
/// inside `connect` with the `rustls` feature (about 3 KiB).
#[tokio::test]
async fn the_handshake_futures_stay_small() {
    let (_client, server) = tokio::io::duplex(64);
    let options = AcceptOptions::default();
    let accepting = accept_with(server, &options);
    assert!(size_of_val(&accepting) < 4096, "accept future: {} bytes", size_of_val(&accepting));
    let connecting = connect("ws://127.0.0.1:9/");
    assert!(size_of_val(&connecting) < 4096, "connect future: {} bytes", size_of_val(&connecting));
    let (stream, _) = tokio::io::duplex(64);
    let connect_options = ConnectOptions::default();
    let client = client_with("ws://127.0.0.1:9/", stream, &connect_options);
    assert!(size_of_val(&client) < 4096, "client future: {} bytes", size_of_val(&client));
}

/// A stream that counts the writes made to it and records the room each
/// read offers.
struct CountingWrites {
    inner: tokio::io::DuplexStream,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    rooms: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
}

impl tokio::io::AsyncRead for CountingWrites {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.rooms.lock().expect("rooms").push(buf.remaining());
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountingWrites {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if written.is_ready() {
            self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        written
    }

    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The next `n` bytes from `stream`.
async fn read_n(stream: &mut tokio::io::DuplexStream, n: usize) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).await.expect("read");
    buf
}

/// Masked (with a zero key) client text frames, one per payload.
fn client_frames(payloads: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for payload in payloads {
        out.extend_from_slice(&[0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0]);
        out.extend_from_slice(payload.as_bytes());
    }
    out
}

/// A server connection over an in-memory pipe whose writes are counted,
/// upgraded by a raw client (the other end, its 101 read) with `options`:
/// the client end, the connection and its count of writes.
async fn counted_upgrade(
    options: AcceptOptions,
) -> (
    tokio::io::DuplexStream,
    wsmachine_tokio::WebSocketStream<CountingWrites>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let (client, ws, writes, _) = observed_upgrade(options).await;
    (client, ws, writes)
}

/// As [`counted_upgrade`], with the record of the room each read offered
/// as well.
async fn observed_upgrade(
    options: AcceptOptions,
) -> (
    tokio::io::DuplexStream,
    wsmachine_tokio::WebSocketStream<CountingWrites>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
) {
    use tokio::io::AsyncReadExt;

    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let rooms = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stream = CountingWrites { inner: server, writes: writes.clone(), rooms: rooms.clone() };
    let accepting = tokio::spawn(async move { accept_with(stream, &options).await });
    client
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("request");
    let ws = accepting.await.expect("task").expect("accept");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(client.read_u8().await.expect("answer"));
    }
    (client, ws, writes, rooms)
}

#[tokio::test(start_paused = true)]
async fn replies_to_a_burst_go_out_in_one_write_and_a_lone_reply_at_once() {
    use std::sync::atomic::Ordering::SeqCst;

    bounded(async {
        let (mut client, mut ws, writes) = counted_upgrade(AcceptOptions::default()).await;

        // Three messages in one read: three replies, one write.
        client.write_all(&client_frames(&["a", "b", "c"])).await.expect("frames");
        let before = writes.load(SeqCst);
        for _ in 0..3 {
            let message = ws.recv().await.expect("recv").expect("a message");
            ws.send(message).await.expect("send");
        }
        assert_eq!(writes.load(SeqCst) - before, 1, "one write for the burst's replies");
        assert_eq!(read_n(&mut client, 9).await, b"\x81\x01a\x81\x01b\x81\x01c");

        // A lone message: its reply is written by the send itself.
        client.write_all(&client_frames(&["d"])).await.expect("frame");
        let message = ws.recv().await.expect("recv").expect("a message");
        ws.send(message).await.expect("send");
        assert_eq!(read_n(&mut client, 3).await, b"\x81\x01d");

        // A second send without a receive between writes everything queued.
        client.write_all(&client_frames(&["e", "f"])).await.expect("frames");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("e")));
        let before = writes.load(SeqCst);
        ws.send("x").await.expect("send");
        assert_eq!(writes.load(SeqCst), before, "the reply waits: another message was received");
        ws.send("y").await.expect("send");
        assert_eq!(read_n(&mut client, 6).await, b"\x81\x01x\x81\x01y");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("f")));
    })
    .await;
}

/// Replies wait for the burst's one write only while the handler is quick:
/// one that takes its time over each message (10 ms here, on the paused
/// clock: past the 100 µs window) has each reply written by its own send,
/// so that no reply waits for the handling of the messages after it.
#[tokio::test(start_paused = true)]
async fn a_slow_handler_has_each_reply_written_by_its_send() {
    use std::sync::atomic::Ordering::SeqCst;

    bounded(async {
        let (mut client, mut ws, writes) = counted_upgrade(AcceptOptions::default()).await;
        client.write_all(&client_frames(&["a", "b", "c"])).await.expect("frames");
        for letter in ["a", "b", "c"] {
            let message = ws.recv().await.expect("recv").expect("a message");
            assert_eq!(message, Message::text(letter));
            tokio::time::sleep(Duration::from_millis(10)).await;
            let before = writes.load(SeqCst);
            ws.send(message).await.expect("send");
            assert_eq!(writes.load(SeqCst) - before, 1, "the reply to {letter} is written by its send");
            assert_eq!(read_n(&mut client, 3).await, [0x81, 1, letter.as_bytes()[0]]);
        }
    })
    .await;
}

/// A handler quick over the first message of a burst and slow over the
/// ones after it (10 ms each, on the paused clock): the replies held for
/// the burst's write go out by the fourth reply after the first, the next
/// that reads the clock, so none waits for the rest of the burst.
#[tokio::test(start_paused = true)]
async fn replies_held_by_a_handler_that_slows_down_go_out_within_four_replies() {
    use std::sync::atomic::Ordering::SeqCst;

    bounded(async {
        let (mut client, mut ws, writes) = counted_upgrade(AcceptOptions::default()).await;
        client.write_all(&client_frames(&["a", "b", "c", "d", "e", "f", "g"])).await.expect("frames");
        let message = ws.recv().await.expect("recv").expect("a message");
        let before = writes.load(SeqCst);
        ws.send(message).await.expect("send");
        assert_eq!(writes.load(SeqCst), before, "a quick reply waits: another message was received");
        for _ in ["b", "c", "d", "e"] {
            let message = ws.recv().await.expect("recv").expect("a message");
            tokio::time::sleep(Duration::from_millis(10)).await;
            ws.send(message).await.expect("send");
        }
        assert!(writes.load(SeqCst) > before, "the fifth reply found the window passed");
        assert_eq!(read_n(&mut client, 15).await, b"\x81\x01a\x81\x01b\x81\x01c\x81\x01d\x81\x01e");
        let message = ws.recv().await.expect("recv").expect("a message");
        assert_eq!(message, Message::text("f"));
    })
    .await;
}

/// A reply held for the burst's one write is not lost when the connection
/// is dropped right after its send: the drop writes it.
#[tokio::test(start_paused = true)]
async fn a_reply_held_for_the_burst_is_written_when_the_connection_is_dropped() {
    use std::sync::atomic::Ordering::SeqCst;
    use tokio::io::AsyncReadExt;

    bounded(async {
        let (mut client, mut ws, writes) = counted_upgrade(AcceptOptions::default()).await;
        client.write_all(&client_frames(&["a", "b"])).await.expect("frames");
        let message = ws.recv().await.expect("recv").expect("a message");
        let before = writes.load(SeqCst);
        ws.send(message).await.expect("send");
        assert_eq!(writes.load(SeqCst), before, "the reply waits: another message was received");
        drop(ws);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.expect("read");
        assert_eq!(rest, b"\x81\x01a");
    })
    .await;
}

/// A server connection sent, in one write, the text "a", a ping "p", the
/// text "b" and then `rest`; it took "a" with `recv_incoming` and answered
/// "A", whose send read ahead and met the ping, kept for the next
/// reporting receive. The client end and the connection.
async fn ping_kept_by_a_reply(
    rest: &[u8],
) -> (tokio::io::DuplexStream, wsmachine_tokio::WebSocketStream<CountingWrites>) {
    use wsmachine_tokio::Incoming;

    let (mut client, mut ws, _) = counted_upgrade(AcceptOptions::default()).await;
    let mut frames = client_frames(&["a"]);
    frames.extend_from_slice(&[0x89, 0x81, 0, 0, 0, 0, b'p']);
    frames.extend(client_frames(&["b"]));
    frames.extend_from_slice(rest);
    client.write_all(&frames).await.expect("frames");
    assert_eq!(ws.recv_incoming().await.expect("recv"), Some(Incoming::Message(Message::text("a"))));
    ws.send("A").await.expect("send");
    (client, ws)
}

/// `recv_incoming` reports pings, pongs and the peer's Close in the order
/// they came among the messages, one met by a reply's read ahead
/// included; then `Ok(None)` once the connection is over.
#[tokio::test(start_paused = true)]
async fn recv_incoming_reports_control_frames_in_order() {
    use tokio::io::AsyncReadExt;
    use wsmachine_tokio::Incoming;

    bounded(async {
        // A message, a ping, a message and a pong, in one write.
        let (mut client, mut ws) = ping_kept_by_a_reply(&[0x8a, 0x81, 0, 0, 0, 0, b'q']).await;
        assert_eq!(read_n(&mut client, 6).await, b"\x81\x01A\x8a\x01p");
        match ws.recv_incoming().await.expect("recv") {
            Some(Incoming::Ping(payload)) => assert_eq!(payload.as_bytes(), b"p"),
            other => panic!("expected the ping, got {other:?}"),
        }
        assert_eq!(ws.recv_incoming().await.expect("recv"), Some(Incoming::Message(Message::text("b"))));
        match ws.recv_incoming().await.expect("recv") {
            Some(Incoming::Pong(payload)) => assert_eq!(payload.as_bytes(), b"q"),
            other => panic!("expected the pong, got {other:?}"),
        }
        // The peer's Close (1000): reported, answered, then the end.
        client.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).await.expect("close");
        match ws.recv_incoming().await.expect("recv") {
            Some(Incoming::Close(frame)) => assert_eq!(frame.code(), CloseCode::NORMAL),
            other => panic!("expected the Close, got {other:?}"),
        }
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("answer");
        assert_eq!(answer, b"\x88\x02\x03\xe8");
        drop(client);
        assert_eq!(ws.recv_incoming().await.expect("the end"), None);
    })
    .await;
}

/// A control item kept for `recv_incoming` is dropped by a `recv` that
/// comes instead: a later `recv_incoming` does not report it after the
/// messages that followed it.
#[tokio::test(start_paused = true)]
async fn recv_drops_a_control_item_kept_for_recv_incoming() {
    use wsmachine_tokio::Incoming;

    bounded(async {
        let (mut client, mut ws) = ping_kept_by_a_reply(&[]).await;
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("b")));
        client.write_all(&client_frames(&["c"])).await.expect("frame");
        assert_eq!(ws.recv_incoming().await.expect("recv"), Some(Incoming::Message(Message::text("c"))));
        assert_eq!(read_n(&mut client, 6).await, b"\x81\x01A\x8a\x01p");
    })
    .await;
}

/// Replies gathered for a burst's one write stay within `max_write_buffer`:
/// once they reach it, the next send writes them, and the burst's replies
/// go out in several writes, in order.
#[tokio::test(start_paused = true)]
async fn replies_to_a_burst_are_written_once_they_reach_max_write_buffer() {
    use std::sync::atomic::Ordering::SeqCst;

    bounded(async {
        // Each reply is 3 bytes: the fifth send finds 12 bytes waiting.
        let options = AcceptOptions { max_write_buffer: 10, ..AcceptOptions::default() };
        let (mut client, mut ws, writes) = counted_upgrade(options).await;
        let letters = ["a", "b", "c", "d", "e", "f", "g", "h"];
        client.write_all(&client_frames(&letters)).await.expect("frames");
        let before = writes.load(SeqCst);
        for letter in letters {
            let message = ws.recv().await.expect("recv").expect("a message");
            assert_eq!(message, Message::text(letter));
            ws.send(message).await.expect("send");
            assert!(ws.buffered_amount() <= 10 + 3, "{} bytes wait", ws.buffered_amount());
        }
        assert!(writes.load(SeqCst) - before >= 2, "the bound cuts the burst's write");
        let expected: Vec<u8> = letters.iter().flat_map(|l| [0x81, 1, l.as_bytes()[0]]).collect();
        assert_eq!(read_n(&mut client, expected.len()).await, expected);
    })
    .await;
}

/// `recv_ref` lends each message, gathers the replies to a burst into one
/// write as `recv` does, and mixes with `recv` in any order: a message read
/// ahead for one kind of receive is returned by the other. Pings met on
/// the way are answered; the peer's Close ends it with `None`.
#[tokio::test(start_paused = true)]
async fn recv_ref_lends_messages_and_mixes_with_recv() {
    use std::sync::atomic::Ordering::SeqCst;
    use tokio::io::AsyncReadExt;
    use wsmachine_tokio::wsmachine::MessageRef;

    bounded(async {
        let (mut client, mut ws, writes) = counted_upgrade(AcceptOptions::default()).await;

        // Three messages in one read: lent, answered, the replies in one write.
        client.write_all(&client_frames(&["a", "b", "c"])).await.expect("frames");
        let before = writes.load(SeqCst);
        for expected in ["a", "b", "c"] {
            let reply = match ws.recv_ref().await.expect("recv_ref") {
                Some(MessageRef::Text(text)) if text == expected => text.to_uppercase(),
                other => panic!("{other:?}"),
            };
            ws.send(reply).await.expect("send");
        }
        assert_eq!(writes.load(SeqCst) - before, 1, "one write for the burst's replies");
        assert_eq!(read_n(&mut client, 9).await, b"\x81\x01A\x81\x01B\x81\x01C");

        // Read ahead after a lent message (left in the session), taken
        // owned; read ahead owned, then lent.
        client.write_all(&client_frames(&["d", "e", "f"])).await.expect("frames");
        assert_eq!(ws.recv_ref().await.expect("recv_ref"), Some(MessageRef::Text("d")));
        ws.send("1").await.expect("send");
        assert_eq!(ws.recv().await.expect("recv"), Some(Message::text("e")));
        ws.send("2").await.expect("send");
        assert_eq!(ws.recv_ref().await.expect("recv_ref"), Some(MessageRef::Text("f")));
        ws.send("3").await.expect("send");
        assert_eq!(read_n(&mut client, 9).await, b"\x81\x011\x81\x012\x81\x013");

        // A binary message, a ping and a Close (1000), masked with a zero key.
        let mut frames = vec![0x82, 0x83, 0, 0, 0, 0, 1, 2, 3];
        frames.extend_from_slice(&[0x89, 0x81, 0, 0, 0, 0, b'p']);
        frames.extend_from_slice(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        client.write_all(&frames).await.expect("frames");
        assert_eq!(ws.recv_ref().await.expect("recv_ref"), Some(MessageRef::Binary(&[1, 2, 3])));
        // The pong, the Close's answer and the end of the server's writes;
        // then the client's end, which ends the connection.
        let peer = async move {
            let mut answers = Vec::new();
            client.read_to_end(&mut answers).await.expect("answers");
            answers
        };
        let (end, answers) = tokio::join!(ws.recv_ref(), peer);
        assert_eq!(end.expect("recv_ref"), None);
        assert_eq!(answers, b"\x8a\x01p\x88\x02\x03\xe8");
        assert_eq!(ws.close_frame().map(|frame| frame.code()), Some(CloseCode::NORMAL));
        assert_eq!(ws.recv_ref().await.expect("after the end"), None);
    })
    .await;
}

/// Control frames are answered while the server only echoes, alone or
/// behind a message in the same read: the pong, and the Close's answer
/// (then the server shuts its write side down), go out after the echo.
#[tokio::test(start_paused = true)]
async fn pings_and_a_close_are_answered_alone_or_behind_a_message() {
    use tokio::io::AsyncReadExt;

    bounded(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        // No keepalive: nothing but the frames received makes the server
        // write.
        let config = Config { ping_interval: None, ping_timeout: None, ..Config::default() };
        let options = AcceptOptions { config, ..AcceptOptions::default() };
        let echo = tokio::spawn(async move {
            let mut ws = accept_with(server, &options).await?;
            while let Some(message) = ws.recv().await? {
                ws.send(message).await?;
            }
            Ok::<_, Error>(ws.close_frame().map(|frame| frame.code()))
        });
        client
            .write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .expect("request");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(client.read_u8().await.expect("answer"));
        }
        // A first echo, so that the server waits with nothing to write.
        client.write_all(&client_frames(&["a"])).await.expect("frame");
        assert_eq!(read_n(&mut client, 3).await, b"\x81\x01a");
        // A ping (masked with a zero key) alone: the pong.
        client.write_all(&[0x89, 0x81, 0, 0, 0, 0, b'q']).await.expect("ping");
        assert_eq!(read_n(&mut client, 3).await, b"\x8a\x01q");
        // A message and a ping in one write: the echo, then the pong.
        let mut frames = client_frames(&["b"]);
        frames.extend_from_slice(&[0x89, 0x81, 0, 0, 0, 0, b'p']);
        client.write_all(&frames).await.expect("frames");
        assert_eq!(read_n(&mut client, 6).await, b"\x81\x01b\x8a\x01p");
        // A message and a Close (1000): the echo, the Close's answer, the
        // end of the server's writes.
        let mut frames = client_frames(&["c"]);
        frames.extend_from_slice(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        client.write_all(&frames).await.expect("frames");
        let mut answers = Vec::new();
        client.read_to_end(&mut answers).await.expect("answers");
        assert_eq!(answers, b"\x81\x01c\x88\x02\x03\xe8");
        drop(client); // the transport ends: the server is done
        assert_eq!(echo.await.expect("server task").expect("server"), Some(CloseCode::NORMAL));
    })
    .await;
}

/// One end of a connection over an in-memory pipe.
type Piped = wsmachine_tokio::WebSocketStream<tokio::io::DuplexStream>;

/// A connection and its client over an in-memory pipe, upgraded; the
/// server's options are `options`.
async fn upgraded(options: AcceptOptions) -> (Piped, Piped) {
    upgraded_with(options, &ConnectOptions::default()).await
}

/// As [`upgraded`], with the client's options too.
async fn upgraded_with(options: AcceptOptions, client_options: &ConnectOptions) -> (Piped, Piped) {
    upgraded_over(1 << 16, options, client_options).await
}

/// As [`upgraded_with`], over a pipe that holds `pipe_bytes` each way.
async fn upgraded_over(pipe_bytes: usize, options: AcceptOptions, client_options: &ConnectOptions) -> (Piped, Piped) {
    let (client_io, server_io) = tokio::io::duplex(pipe_bytes);
    let server = tokio::spawn(async move { accept_with(server_io, &options).await });
    let client = client_with("ws://localhost/", client_io, client_options).await.expect("client");
    (client, server.await.expect("server task").expect("accept"))
}

/// As [`upgraded`], after three messages echoed.
async fn echoed_three(options: AcceptOptions) -> (Piped, Piped) {
    let (mut client, mut server) = upgraded(options).await;
    for i in 0..3u8 {
        client.send(vec![i; 1000]).await.expect("send");
        let message = server.recv().await.expect("recv").expect("a message");
        server.send(message).await.expect("echo");
        assert_eq!(client.recv().await.expect("recv"), Some(Message::Binary(vec![i; 1000])));
    }
    (client, server)
}

/// An idle connection holds no buffer: once a receive has waited a while
/// with nothing to do, the session's buffers are freed. Until then they
/// are kept, so that messages that follow each other closely do not
/// allocate them again each time. The clock is paused: the wait is
/// simulated, not slept.
#[tokio::test(start_paused = true)]
async fn an_idle_connection_frees_its_buffers() {
    let (mut client, mut server) = echoed_three(AcceptOptions::default()).await;
    // The receive that waits for the next message keeps the buffers.
    assert!(poll!(std::pin::pin!(server.recv())).is_pending());
    assert!(server.session().buffer_capacity() > 0);
    // A receive that waits long enough frees them.
    assert!(tokio::time::timeout(Duration::from_secs(1), server.recv()).await.is_err());
    assert_eq!(server.session().buffer_capacity(), 0);
    // Messages still go both ways, and the connection idles again.
    client.send("again").await.expect("send");
    assert_eq!(server.recv().await.expect("recv"), Some(Message::text("again")));
    assert!(tokio::time::timeout(Duration::from_secs(1), server.recv()).await.is_err());
    assert_eq!(server.session().buffer_capacity(), 0);
}

/// Messages that keep coming, less than the shrink period apart, keep the
/// buffers however long the traffic lasts: they go only after a whole
/// period without a read.
#[tokio::test(start_paused = true)]
async fn steady_traffic_keeps_the_buffers() {
    let (mut client, mut server) = echoed_three(AcceptOptions::default()).await;
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        client.send(format!("message {i}")).await.expect("send");
        assert_eq!(server.recv().await.expect("recv"), Some(Message::text(format!("message {i}"))));
        // The receive that waits for the next one keeps them.
        assert!(poll!(std::pin::pin!(server.recv())).is_pending());
        assert!(server.session().buffer_capacity() > 0, "freed during traffic, after {} ms", (i + 1) * 60);
    }
    assert!(tokio::time::timeout(Duration::from_secs(1), server.recv()).await.is_err());
    assert_eq!(server.session().buffer_capacity(), 0);
}

/// Nothing read since the handshake: the first wait frees the buffer its
/// answer went out from.
#[tokio::test]
async fn the_first_wait_frees_the_handshake_answer() {
    let (_client, mut server) = upgraded(AcceptOptions::default()).await;
    assert!(poll!(std::pin::pin!(server.recv())).is_pending());
    assert_eq!(server.session().buffer_capacity(), 0);
}

/// Without timers (none configured, so the runtime may have no time
/// driver), the buffers are freed as soon as a receive waits.
#[tokio::test]
async fn without_timers_the_buffers_are_freed_at_once() {
    let config = Config::default().without_timers();
    let options = AcceptOptions { config, ..AcceptOptions::default() };
    let (_client, mut server) = echoed_three(options).await;
    assert!(poll!(std::pin::pin!(server.recv())).is_pending());
    assert_eq!(server.session().buffer_capacity(), 0);
}

/// `close` ends well when the peer never answers, after `close_timeout`
/// (simulated on the paused clock), and `close_frame` then tells it: 1006.
#[tokio::test(start_paused = true)]
async fn a_close_the_peer_never_answers_ends_after_the_close_timeout_as_1006() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        // Answers the handshake, then reads nothing.
        let ws = accept(tcp).await.expect("accept");
        tokio::time::sleep(Duration::from_secs(100)).await;
        drop(ws);
    });
    let config = Config { close_timeout: Some(Duration::from_secs(2)), ..Config::default() };
    let options = ConnectOptions { config, ..ConnectOptions::default() };
    let mut ws = connect_with(&url, &options).await.expect("connect");
    let start = tokio::time::Instant::now();
    ws.close(CloseCode::NORMAL, "bye").await.expect("close");
    let waited = start.elapsed();
    assert!((Duration::from_secs(2)..Duration::from_millis(2010)).contains(&waited), "{waited:?}");
    let frame = ws.close_frame().expect("the end is reported");
    assert_eq!(frame.code(), CloseCode::ABNORMAL);
    server.abort();
}

/// Reads are small (2 KiB) until one fills its buffer, then large
/// (64 KiB). A large read that does not fill its buffer drained the
/// transport, and the reads after it until the receive waits, which find
/// nothing, are small: in a request-and-reply exchange of large messages
/// they would otherwise pay the large buffer's stack probe once per
/// message. Once the receive waited, reads are large again, and the next
/// message comes in one.
#[tokio::test]
async fn the_read_after_one_that_drained_the_transport_is_small() {
    bounded(async {
        let (mut client, mut ws, _, rooms) = observed_upgrade(AcceptOptions::default()).await;

        // A masked (zero key) binary frame of 16 KiB, twice, each echoed.
        let mut frame = vec![0x82, 0xFE, 0x40, 0x00, 0, 0, 0, 0];
        frame.resize(frame.len() + 16 * 1024, 7);
        for round in 0..2 {
            rooms.lock().expect("rooms").clear();
            client.write_all(&frame).await.expect("frame");
            let message = ws.recv().await.expect("recv").expect("a message");
            assert_eq!(message.as_bytes().len(), 16 * 1024);
            ws.send(message).await.expect("send");
            assert!(poll!(std::pin::pin!(ws.recv())).is_pending());
            let echo = read_n(&mut client, 4 + 16 * 1024).await;
            assert_eq!(echo[..4], [0x82, 0x7E, 0x40, 0x00]);
            // Round 0: a 2 KiB read that fills, then a 64 KiB one that
            // takes the rest. Round 1, after a read of 2 KiB or more: one
            // 64 KiB read for the whole message. Neither fills its buffer,
            // and the reads after it are small ones, which find nothing
            // (the send's look at what arrived, the receive's).
            let rooms = rooms.lock().expect("rooms").clone();
            let message_reads: &[usize] = if round == 0 { &[2048, 65536] } else { &[65536] };
            let (head, rest) = rooms.split_at(message_reads.len());
            assert_eq!(head, message_reads, "round {round}: {rooms:?}");
            assert!(!rest.is_empty() && rest.iter().all(|&room| room == 2048), "round {round}: {rooms:?}");
        }
    })
    .await;
}
