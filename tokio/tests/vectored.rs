//! Large messages go out after their header without a copy when the stream
//! takes vectored writes, and byte for byte as before either way, however
//! little each write takes.

mod common;

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

use common::bounded;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use wsmachine_tokio::accept;

/// A stream that takes at most `limit` bytes per write, vectored or not,
/// counting its write calls and the slices of its vectored ones.
struct Dribble {
    inner: DuplexStream,
    vectored: bool,
    limit: usize,
    writes: Arc<AtomicUsize>,
    slices: Arc<AtomicUsize>,
}

impl AsyncRead for Dribble {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Dribble {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let limit = self.limit.min(buf.len());
        let written = Pin::new(&mut self.inner).poll_write(cx, &buf[..limit]);
        if written.is_ready() {
            self.writes.fetch_add(1, SeqCst);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        assert!(self.vectored, "a vectored write on a stream that does not take them");
        // Gathered as a writev would, up to the limit.
        let mut gathered = Vec::new();
        for buf in bufs {
            gathered.extend_from_slice(buf);
        }
        gathered.truncate(self.limit);
        let written = Pin::new(&mut self.inner).poll_write(cx, &gathered);
        if written.is_ready() {
            self.writes.fetch_add(1, SeqCst);
            self.slices.fetch_add(bufs.len(), SeqCst);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A masked (zero key) client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

/// The server's unmasked frame for the same message.
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = client_frame(opcode, payload);
    frame[1] &= 0x7f;
    let header = frame.len() - payload.len() - 4;
    frame.drain(header..header + 4);
    frame
}

/// Echoes `messages` (sent by a raw client in one go) through a server on
/// a [`Dribble`] stream; returns the bytes the client read back, the
/// write calls and the vectored slices.
async fn echo(messages: &[(u8, Vec<u8>)], vectored: bool, limit: usize) -> (Vec<u8>, usize, usize) {
    let (mut client, server) = tokio::io::duplex(256 * 1024);
    let writes = Arc::new(AtomicUsize::new(0));
    let slices = Arc::new(AtomicUsize::new(0));
    let stream = Dribble { inner: server, vectored, limit, writes: writes.clone(), slices: slices.clone() };
    let accepting = tokio::spawn(accept(stream));
    client
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("request");
    let mut ws = accepting.await.expect("task").expect("accept");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(client.read_u8().await.expect("answer"));
    }
    let before = (writes.load(SeqCst), slices.load(SeqCst));

    let mut frames = Vec::new();
    for (opcode, payload) in messages {
        frames.extend(client_frame(*opcode, payload));
    }
    frames.extend(client_frame(0x8, &1000u16.to_be_bytes()));
    let expected_len: usize = messages.iter().map(|(op, p)| server_frame(*op, p).len()).sum::<usize>() + 4;
    let (mut read_half, mut write_half) = tokio::io::split(client);
    let peer = tokio::spawn(async move {
        write_half.write_all(&frames).await.expect("frames");
        let mut back = vec![0u8; expected_len];
        read_half.read_exact(&mut back).await.expect("echo");
        back
    });
    while let Some(message) = ws.recv().await.expect("recv") {
        ws.send(message).await.expect("send");
    }
    let back = peer.await.expect("peer");
    (back, writes.load(SeqCst) - before.0, slices.load(SeqCst) - before.1)
}

fn expected(messages: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut wire = Vec::new();
    for (opcode, payload) in messages {
        wire.extend(server_frame(*opcode, payload));
    }
    wire.extend([0x88, 0x02, 0x03, 0xe8]);
    wire
}

fn mixed() -> Vec<(u8, Vec<u8>)> {
    let big = |n: usize, seed: u8| (0..n).map(|i| (i as u8).wrapping_add(seed)).collect::<Vec<u8>>();
    vec![
        (0x1, b"small".to_vec()),
        (0x2, big(16 * 1024, 1)),
        (0x2, big(100, 2)),
        (0x1, "é".repeat(10_000).into_bytes()),
        (0x2, big(70_000, 3)),
        (0x2, big(4096, 4)),
        (0x2, Vec::new()),
    ]
}

#[tokio::test]
async fn echoed_bytes_are_the_same_vectored_or_not_however_writes_split() {
    bounded(async {
        let messages = mixed();
        let expected = expected(&messages);
        for vectored in [true, false] {
            for limit in [1, 7, 4100, 20_000, usize::MAX] {
                let (back, _, slices) = echo(&messages, vectored, limit).await;
                assert!(back == expected, "vectored {vectored}, writes of at most {limit}: different bytes");
                if !vectored {
                    assert_eq!(slices, 0);
                }
            }
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_large_replies_goes_out_in_one_vectored_write() {
    bounded(async {
        // Three messages and the Close, arriving in one read.
        let messages: Vec<(u8, Vec<u8>)> = (0..3).map(|i| (0x2, vec![i as u8; 16 * 1024])).collect();
        let (back, writes, slices) = echo(&messages, true, usize::MAX).await;
        assert!(back == expected(&messages));
        // Their replies and the answering Close in one write of seven
        // slices: header and payload for each reply, then the Close.
        assert_eq!((writes, slices), (1, 7));
    })
    .await;
}
