//! [`WebSocketStream`]: one connection, driven by whoever polls it.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use wsmachine::{CloseCode, CloseFrame, Incoming, Message, MessageRef, Session};

use crate::driver::Driver;
use crate::split::{self, ReadHalf, WriteHalf};
use crate::Error;

/// A WebSocket connection over an async stream `S` (TCP, TLS, a hyper
/// upgrade, a Unix socket…).
///
/// Made by [`connect`](crate::connect), [`client`](crate::client),
/// [`accept`](crate::accept) and its variants, or
/// from a [`Session`] upgraded elsewhere with
/// [`from_session`](Self::from_session).
///
/// - **Receive** with [`recv`](Self::recv) or as a
///   [`Stream`] of `Result<Message, Error>`; or lent, with no allocation,
///   with [`recv_ref`](Self::recv_ref).
/// - **Send** with [`send`](Self::send) or as a [`Sink<Message>`](Sink).
/// - **Split** into a reader and a writer for two tasks with
///   [`split`](Self::split).
///
/// There is no background task: the connection makes progress while one
/// of its futures is polled. Receiving also answers pings, completes the
/// close handshake, sends keepalive pings, drops a silent peer and writes
/// whatever sends left queued, so a program that is always receiving
/// (directly, or through the [`ReadHalf`] in another task) keeps the
/// connection healthy.
///
/// # Writes are bounded
///
/// A send queues the message and writes what the transport takes at once;
/// the rest goes out while the connection is polled. Sends wait while
/// `max_write_buffer` bytes or more are queued (the options' setting, 1 MiB
/// by default): a peer that stops reading makes the sender wait, never
/// the memory grow. [`flush`](Self::flush) waits until everything is
/// written. The reading side stops reading too while the queue is over the
/// bound, so a peer cannot pile up pongs it never reads.
#[derive(Debug)]
pub struct WebSocketStream<S> {
    driver: Driver<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    pub(crate) fn new(driver: Driver<S>) -> Self {
        WebSocketStream { driver }
    }

    /// A connection over `stream`, whose opening handshake was done
    /// elsewhere: by an HTTP server that upgraded it (for hyper and axum,
    /// the `hyper` module does it all), by
    /// `wsmachine::accept_http`, or with wsmachine's
    /// [`ServerStart`](wsmachine::ServerStart) /
    /// [`ClientStart`](wsmachine::ClientStart). Bytes read past the
    /// handshake head that `stream` will not return itself MUST already be
    /// in the session ([`Session::receive`]); hyper's upgraded connection
    /// returns them itself. Sends wait while `max_write_buffer` bytes are
    /// queued.
    ///
    /// ```no_run
    /// use wsmachine_tokio::wsmachine::{Config, Connection, Session};
    /// use wsmachine_tokio::WebSocketStream;
    ///
    /// # async fn run(io: tokio::net::TcpStream, leftover: &[u8]) {
    /// // `io` was upgraded by an HTTP server, which read `leftover` past the head.
    /// let mut session = Session::new(Connection::server(Config::default()));
    /// session.receive(leftover);
    /// let ws = WebSocketStream::from_session(io, session, wsmachine_tokio::wsmachine::DEFAULT_MAX_WRITE_BUFFER);
    /// # }
    /// ```
    pub fn from_session(stream: S, session: Session, max_write_buffer: usize) -> Self {
        WebSocketStream::new(Driver::new(stream, Box::new(session), max_write_buffer, tokio::time::Instant::now()))
    }

    /// Receives the next whole message (up to `Config::max_message_size`),
    /// or `Ok(None)` once the peer closed the connection with a close
    /// handshake (its code and reason are in
    /// [`close_frame`](Self::close_frame)). After the end was reported,
    /// every call returns `Ok(None)`.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no
    /// message is lost; the next call returns it. So it can wait beside
    /// other work in `tokio::select!`:
    ///
    /// ```no_run
    /// # async fn run(mut ws: wsmachine_tokio::WebSocketStream<tokio::net::TcpStream>,
    /// #     mut outbox: tokio::sync::mpsc::Receiver<String>) -> Result<(), wsmachine_tokio::Error> {
    /// loop {
    ///     tokio::select! {
    ///         received = ws.recv() => match received? {
    ///             Some(message) => println!("got {message:?}"),
    ///             None => return Ok(()), // closed by the peer
    ///         },
    ///         Some(text) = outbox.recv() => ws.send(text).await?,
    ///     }
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when the peer broke the protocol or a limit, or
    /// went silent past the ping timeout (our Close is sent and the
    /// connection closed); [`Error::ConnectionLost`] when the transport
    /// ended without a Close; [`Error::Io`] when the stream failed.
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next whole message as [`recv`](Self::recv) does, lent
    /// instead of handed over: no allocation per message. A binary
    /// message that arrived in one read is lent from the read buffer where
    /// it was unmasked; text, and longer messages, from a buffer the
    /// connection keeps and reuses. The borrow ends at the next call on
    /// the connection; turn the message into an owned [`Message`]
    /// (`.into()`) to keep it longer. Cancel-safe, as `recv`.
    ///
    /// ```no_run
    /// use wsmachine_tokio::wsmachine::MessageRef;
    ///
    /// # async fn run(mut ws: wsmachine_tokio::WebSocketStream<tokio::net::TcpStream>) -> Result<(), wsmachine_tokio::Error> {
    /// let mut total = 0u64;
    /// while let Some(message) = ws.recv_ref().await? {
    ///     // The borrow of `ws` ends with the message: answer after it.
    ///     let reply = match message {
    ///         MessageRef::Text(text) => text.len(),
    ///         MessageRef::Binary(data) => data.len(),
    ///     };
    ///     total += reply as u64;
    ///     ws.send(total.to_string()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// The split halves have no lending receive: the message would borrow
    /// the connection both halves share.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub async fn recv_ref(&mut self) -> Result<Option<MessageRef<'_>>, Error> {
        let received = poll_fn(|cx| self.driver.poll_recv_lent(cx)).await?;
        Ok(received.and_then(|received| self.driver.lend(received)))
    }

    /// Receives the next thing the peer sent, control frames included: a
    /// whole [`Message`](Incoming::Message), a [`Ping`](Incoming::Ping)
    /// (its pong is already queued), a [`Pong`](Incoming::Pong) (to a
    /// [`ping`](Self::ping)) or the peer's [`Close`](Incoming::Close) (our
    /// answer is queued; keep receiving until `Ok(None)`, which comes once
    /// the connection is over, as for [`recv`](Self::recv)). In the order
    /// they came. `recv` and `recv_ref` handle the control frames and
    /// report none; one that came before a message they returned is not
    /// reported later. Cancel-safe, as `recv`.
    ///
    /// ```no_run
    /// use wsmachine_tokio::{Error, Incoming};
    ///
    /// # async fn run(mut ws: wsmachine_tokio::WebSocketStream<tokio::net::TcpStream>) -> Result<(), Error> {
    /// ws.ping(b"are you there?").await?;
    /// while let Some(incoming) = ws.recv_incoming().await? {
    ///     match incoming {
    ///         Incoming::Pong(payload) if payload.as_bytes() == b"are you there?" => break,
    ///         Incoming::Message(message) => println!("{message:?}"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub async fn recv_incoming(&mut self) -> Result<Option<Incoming>, Error> {
        poll_fn(|cx| self.driver.poll_recv_incoming(cx)).await
    }

    /// Polls for the next message, as [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Message>, Error>> {
        self.driver.poll_recv(cx, None)
    }

    /// Sends a message: anything that converts into one (`&str`, `String`
    /// and `&String` as text; `Vec<u8>`, `&[u8]`, `b"bytes"` and `[u8; N]`
    /// as binary), compressed when
    /// permessage-deflate is in use.
    ///
    /// Waits while `max_write_buffer` bytes or more are queued, then queues
    /// the message and writes what the transport takes now; the rest is
    /// written while the connection is polled ([`flush`](Self::flush)
    /// waits for it). If the future is dropped before it completes, the
    /// message was not sent.
    ///
    /// Replies are batched per read: when this send follows a
    /// [`recv`](Self::recv) and another whole message has already arrived
    /// (the peer sent several at once), the write waits for the next
    /// `recv`, so a burst of requests is answered in one write once all of
    /// them are received (as uWebSockets corks a socket while its handlers
    /// run). Only while the handler is quick: a send that finds the
    /// replies waiting since 100 µs or more writes them, and a handler
    /// that takes its time over each message before answering (a query, a
    /// sleep) has each reply written by its own send. The first reply of a
    /// batch and every fourth after it look at the clock, so one that
    /// slows down within a burst holds the replies before it for at most
    /// three more messages. A reply held for the
    /// batch waits for this connection's next call (`recv`, `send`,
    /// `flush`), so a handler that does slow work after answering (a
    /// database write, a wait on something else) calls
    /// [`flush`](Self::flush) first, or its reply waits for that work.
    /// A second send without a `recv` between, [`flush`](Self::flush) or
    /// the split halves write at once, and a connection dropped with
    /// replies waiting writes what the transport takes without waiting.
    /// A returned send means the message is queued: to know it was handed
    /// to the transport (before a long pause in receiving, say), call
    /// [`flush`](Self::flush).
    ///
    /// A send that does not answer a message just received also reads,
    /// without waiting, what has already arrived: a task that only sends
    /// (a feed pushed to a client) answers the peer's pings, sees its
    /// pongs, so that the keepalive keeps a live peer, and its Close (the
    /// next send then fails with [`Error::Closed`]). Data messages found
    /// there wait for the next `recv`s, in order, and the items behind them
    /// act; once 64 KiB of them beyond the first wait, reading stops until
    /// they are taken, so a peer that sends more than that nobody receives
    /// is found dead by the keepalive, its pongs unread. After [`split`](Self::split)
    /// the reader alone reads, while it lives: keep its `recv` running, or
    /// drop it, and the writer's sends read as this one does.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once a Close was sent or received,
    /// [`Error::Protocol`] after a failure (a keepalive ping the peer never
    /// answered is [`ProtocolError::PingTimeout`](crate::ProtocolError::PingTimeout)),
    /// [`Error::Io`] when the stream failed.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| self.driver.poll_ready(cx.waker())).await?;
        self.driver.start_send(message)?;
        if self.driver.defer_write() {
            // Replies to a burst of messages go out in one write once the
            // burst has been received: one system call instead of one each.
            return Ok(());
        }
        poll_fn(|cx| {
            self.driver.write_now(cx.waker());
            Poll::Ready(())
        })
        .await;
        Ok(())
    }

    /// Sends a ping (at most 125 bytes of payload); the pong is handled
    /// while receiving, and reported by [`recv_incoming`](Self::recv_incoming)
    /// only.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), and [`Error::Send`] for a payload too long.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_ready(cx.waker())).await?;
        self.driver.start_ping(payload)?;
        poll_fn(|cx| {
            self.driver.write_now(cx.waker());
            Poll::Ready(())
        })
        .await;
        Ok(())
    }

    /// Waits until everything queued is written to the stream and the
    /// stream is flushed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the stream failed.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_flush(cx.waker())).await
    }

    /// Closes the connection: sends a Close with `code` and `reason` (cut
    /// to its first 123 bytes at a character boundary), then finishes the
    /// close handshake, dropping messages that still arrive, until the
    /// transport is done with: the peer's Close came and (for a client) the
    /// server closed the TCP connection, or `close_timeout` passed. Called
    /// after the peer closed, it finishes the handshake the same way.
    ///
    /// A peer that never answers is not an error: `close` returns `Ok`
    /// once `close_timeout` passed, and [`close_frame`](Self::close_frame)
    /// then gives 1006 where a peer's Close gives its code.
    ///
    /// # Errors
    ///
    /// [`Error::Send`] for a code that may not be sent; nothing is sent
    /// then.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.driver.start_close(code, reason)?;
        poll_fn(|cx| loop {
            match self.poll_recv(cx) {
                Poll::Ready(Ok(Some(_))) => {}
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await;
        Ok(())
    }

    /// Splits the connection into a reader and a writer that two tasks
    /// can use at once. Whichever half is polled drives the connection;
    /// receiving alone keeps answering pings and closes while the writer
    /// is idle. Each call locks the shared state only within a poll, never
    /// across an `.await`.
    ///
    /// The reader comes first, as with `tokio::io::split`; futures'
    /// `StreamExt::split`, which code written for tokio-tungstenite calls,
    /// returns the writer (the `Sink`) first. So write `let (mut reader,
    /// mut writer) = ws.split();`. The halves are a `Stream` and a `Sink`
    /// too: `reader.forward(writer)` works as it does there.
    ///
    /// ```
    /// use wsmachine_tokio::{CloseCode, Error, Message};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Error> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let url = format!("ws://{}/", listener.local_addr()?);
    /// let server = tokio::spawn(async move {
    ///     let (mut reader, mut writer) = wsmachine_tokio::accept(listener.accept().await?.0).await?.split();
    ///     // One task writes while this one reads.
    ///     let greeter = tokio::spawn(async move { writer.send("welcome").await });
    ///     let first = reader.recv().await?;
    ///     greeter.await.expect("task")?;
    ///     while reader.recv().await?.is_some() {} // until the client closes
    ///     Ok::<_, Error>(first)
    /// });
    /// let mut ws = wsmachine_tokio::connect(&url).await?;
    /// ws.send("hi").await?;
    /// assert_eq!(ws.recv().await?, Some(Message::text("welcome")));
    /// ws.close(CloseCode::NORMAL, "").await?;
    /// assert_eq!(server.await.expect("task")?, Some(Message::text("hi")));
    /// # Ok(()) }
    /// ```
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        split::split(self.driver)
    }
}

impl<S> WebSocketStream<S> {
    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.driver.session.protocol()
    }

    /// Whether permessage-deflate is in use.
    pub fn is_compressed(&self) -> bool {
        self.driver.session.is_compressed()
    }

    /// The peer's Close frame once it came (code 1006 if the transport
    /// ended without one). `None` while the connection is open, and when
    /// it ended with an error: the error (a protocol violation, a limit, a
    /// dead peer) is what a receive returned.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.driver.peer_close()
    }

    /// Bytes queued and not yet written to the stream; sends wait while
    /// this is at least [`max_write_buffer`](Self::max_write_buffer).
    pub fn buffered_amount(&self) -> usize {
        self.driver.session.buffered_output()
    }

    /// The bound on queued bytes.
    pub fn max_write_buffer(&self) -> usize {
        self.driver.max_write_buffer()
    }

    /// The sans-IO session underneath (state, configuration).
    pub fn session(&self) -> &Session {
        &self.driver.session
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.driver.stream
    }

    /// The stream. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.driver.stream
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    /// The next message, as [`WebSocketStream::recv`]: `None` after the
    /// close handshake, or after the error that ended the connection.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Result::transpose)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().driver.poll_ready(cx.waker())
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().driver.start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().driver.poll_flush(cx.waker())
    }

    /// Sends a Close (1000) unless one was sent, and writes it. The close
    /// handshake completes while the connection is received from (or use
    /// [`WebSocketStream::close`], which waits for it).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let driver = &mut self.get_mut().driver;
        driver.start_close(CloseCode::NORMAL, "")?;
        driver.poll_flush(cx.waker())
    }
}
