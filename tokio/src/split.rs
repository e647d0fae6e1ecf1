//! The two halves of a split connection.
//!
//! Both share one [`Driver`] behind a `std::sync::Mutex`, locked inside a
//! poll and released before it returns. Only the reader reads the stream,
//! with its own waker; once it is dropped, the writer's sends read what
//! arrived, as an unsplit connection's do. Writes and timers are polled
//! with a waker that wakes both halves, since either may be waiting on
//! them: the writer for room in the queue, the reader to get a pong out.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use wsmachine::{CloseCode, CloseFrame, Message};

use crate::driver::Driver;
use crate::{Error, WebSocketStream};

const READER: usize = 0;
const WRITER: usize = 1;

/// The wakers of the halves waiting on the transport's writes or on a
/// timer; woken together.
#[derive(Debug, Default)]
struct Wakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Wakers {
    fn register(&self, slot: usize, waker: &Waker) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut slots[slot] {
            Some(current) if current.will_wake(waker) => {}
            other => *other = Some(waker.clone()),
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            [slots[READER].take(), slots[WRITER].take()]
        };
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

struct Shared<S> {
    driver: Mutex<Driver<S>>,
    wakers: Arc<Wakers>,
    /// Wakes both halves (`wakers`).
    io: Waker,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Driver<S>> {
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn split<S>(mut driver: Driver<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    driver.reads_on_send = false;
    let wakers = Arc::new(Wakers::default());
    let io = Waker::from(wakers.clone());
    let shared = Arc::new(Shared { driver: Mutex::new(driver), wakers, io });
    (ReadHalf { shared: shared.clone() }, WriteHalf { shared })
}

/// The receiving half of a [`WebSocketStream`], from
/// [`split`](WebSocketStream::split): [`recv`](Self::recv) or a
/// [`Stream`] of `Result<Message, Error>`.
///
/// Receiving drives the whole connection: pings are answered, the peer's
/// Close is answered, timers run and messages the writer queued are
/// written, even while the [`WriteHalf`] is idle.
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The sending half of a [`WebSocketStream`], from
/// [`split`](WebSocketStream::split): [`send`](Self::send) or a
/// [`Sink<Message>`](Sink).
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// Receives the next whole message, as [`WebSocketStream::recv`]
    /// (cancel-safe; `Ok(None)` once the peer closed).
    ///
    /// # Errors
    ///
    /// As [`WebSocketStream::recv`].
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message, as [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Message>, Error>> {
        self.shared.wakers.register(READER, cx.waker());
        self.shared.lock().poll_recv(cx, Some(&self.shared.io))
    }

    /// The peer's Close frame once it came (code 1006 if the transport
    /// ended without one). `None` while the connection is open, and when
    /// it ended with an error: the error (a protocol violation, a limit, a
    /// dead peer) is what a receive returned.
    pub fn close_frame(&self) -> Option<CloseFrame> {
        self.shared.lock().peer_close().copied()
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// The halves, when they come from different connections.
    pub fn reunite(self, writer: WriteHalf<S>) -> Result<WebSocketStream<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &writer.shared) {
            return Err(ReuniteError(self, writer));
        }
        let shared = Arc::clone(&self.shared);
        // Dropping the reader lets sends read again.
        drop(self);
        drop(writer);
        match Arc::try_unwrap(shared) {
            Ok(shared) => Ok(WebSocketStream::new(shared.driver.into_inner().unwrap_or_else(PoisonError::into_inner))),
            // Not expected: the two halves held the only references.
            Err(shared) => {
                shared.lock().reads_on_send = false;
                Err(ReuniteError(ReadHalf { shared: shared.clone() }, WriteHalf { shared }))
            }
        }
    }
}

/// A writer left alone reads at its sends, as an unsplit connection does
/// (see [`WebSocketStream::send`]): pings are answered, pongs keep the
/// keepalive from dropping a live peer, the peer's Close is seen.
impl<S> Drop for ReadHalf<S> {
    fn drop(&mut self) {
        self.shared.lock().reads_on_send = true;
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// Sends a message, as [`WebSocketStream::send`]: waits while
    /// `max_write_buffer` bytes or more are queued, queues it and writes
    /// what the transport takes now.
    ///
    /// # Errors
    ///
    /// As [`WebSocketStream::send`].
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| self.poll_ready_inner(cx)).await?;
        self.shared.lock().start_send(message)?;
        self.write_now();
        Ok(())
    }

    /// Sends a ping (at most 125 bytes of payload).
    ///
    /// # Errors
    ///
    /// As [`WebSocketStream::ping`].
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_inner(cx)).await?;
        self.shared.lock().start_ping(payload)?;
        self.write_now();
        Ok(())
    }

    /// Waits until everything queued is written and the stream flushed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the stream failed.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush_inner(cx)).await
    }

    /// Sends a Close with `code` and `reason` (cut to its first 123 bytes
    /// at a character boundary) and writes it (a server then shuts down
    /// its write side). The close handshake finishes in the
    /// [`ReadHalf`], whose `recv` returns `Ok(None)` once the peer
    /// answered; nothing more can be sent.
    ///
    /// # Errors
    ///
    /// [`Error::Send`] for a code that may not be sent; [`Error::Io`] when
    /// the stream failed.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.lock().start_close(code, reason)?;
        self.flush().await
    }

    /// Bytes queued and not yet written to the stream.
    pub fn buffered_amount(&self) -> usize {
        self.shared.lock().session.buffered_output()
    }

    fn poll_ready_inner(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.wakers.register(WRITER, cx.waker());
        self.shared.lock().poll_ready(&self.shared.io)
    }

    fn poll_flush_inner(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.wakers.register(WRITER, cx.waker());
        self.shared.lock().poll_flush(&self.shared.io)
    }

    /// Writes what the transport takes now; if it takes less, the reader
    /// (or the next send) writes the rest.
    fn write_now(&self) {
        self.shared.lock().write_now(&self.shared.io);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Result::transpose)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_ready_inner(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.shared.lock().start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush_inner(cx)
    }

    /// Sends a Close (1000) unless one was sent, and writes it; the close
    /// handshake finishes in the [`ReadHalf`].
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.lock().start_close(CloseCode::NORMAL, "")?;
        self.poll_flush_inner(cx)
    }
}

/// [`ReadHalf::reunite`] was given halves of two different connections:
/// here they are back.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves come from different connections")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}
