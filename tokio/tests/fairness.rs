//! A connection whose peer never lets its socket run dry still lets the
//! other tasks on its thread run: a receive that has read a full read's
//! worth without waiting gives way once.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsmachine_tokio::wsmachine::{Config, Connection, Session, DEFAULT_MAX_WRITE_BUFFER};
use wsmachine_tokio::{MessageRef, WebSocketStream};

/// Payload bytes of each frame the endless peer sends.
const PAYLOAD: usize = 1000;

/// More than any receive should read before the other tasks get a turn:
/// the adapter gives way after one 64 KiB read; before it did, a peer as
/// quick as this one kept the task running for ever.
const BOUND: usize = 1024 * 1024;

/// A transport that is always ready: every read is filled with masked
/// binary frames of [`PAYLOAD`] bytes (zero key), one after another across
/// reads, and every write is taken whole. It never returns `Pending` and
/// spends none of tokio's budget, as a socket a pipelining peer keeps full
/// would look between two of the runtime's turns.
struct Endless {
    frame: Vec<u8>,
    at: usize,
}

impl Endless {
    fn new() -> Self {
        let mut frame = vec![0x82, 0x80 | 126];
        frame.extend_from_slice(&(PAYLOAD as u16).to_be_bytes());
        frame.extend_from_slice(&[0; 4]);
        frame.extend((0..PAYLOAD).map(|i| i as u8));
        Endless { frame, at: 0 }
    }
}

impl AsyncRead for Endless {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        while buf.remaining() > 0 {
            let at = self.at;
            let n = buf.remaining().min(self.frame.len() - at);
            buf.put_slice(&self.frame[at..at + n]);
            self.at = (at + n) % self.frame.len();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Endless {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A server connection over [`Endless`].
fn endless_connection() -> WebSocketStream<Endless> {
    let session = Session::new(Connection::server(Config::default()));
    WebSocketStream::from_session(Endless::new(), session, DEFAULT_MAX_WRITE_BUFFER)
}

/// A task that marks when it has run.
fn other_task() -> Arc<AtomicBool> {
    let ran = Arc::new(AtomicBool::new(false));
    let mark = ran.clone();
    tokio::spawn(async move { mark.store(true, SeqCst) });
    ran
}

/// Adds a message of `len` bytes to `received`, which must stay within
/// [`BOUND`] until the other task has run.
fn count(received: &mut usize, len: usize) {
    assert_eq!(len, PAYLOAD);
    *received += len;
    assert!(*received <= BOUND, "{received} bytes received without giving the other task a turn");
}

#[tokio::test]
async fn an_echo_loop_on_a_peer_that_never_pauses_lets_other_tasks_run() {
    let mut ws = endless_connection();
    let other_ran = other_task();
    let mut received = 0;
    while !other_ran.load(SeqCst) {
        let message = ws.recv().await.expect("recv").expect("a message");
        count(&mut received, message.len());
        ws.send(message).await.expect("send");
    }
    // Receiving goes on where it gave way.
    let message = ws.recv().await.expect("recv").expect("a message");
    assert_eq!(message.as_bytes(), &Endless::new().frame[8..]);
}

#[tokio::test]
async fn a_lending_receive_on_a_peer_that_never_pauses_lets_other_tasks_run() {
    let mut ws = endless_connection();
    let other_ran = other_task();
    let mut received = 0;
    while !other_ran.load(SeqCst) {
        let Some(MessageRef::Binary(data)) = ws.recv_ref().await.expect("recv_ref") else {
            panic!("a binary message");
        };
        count(&mut received, data.len());
    }
}
