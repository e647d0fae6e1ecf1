//! One HTTP/2 stream's body halves as a byte stream: what a WebSocket
//! runs over after an extended CONNECT (RFC 8441 §5: the DATA frames carry
//! the WebSocket's bytes, END_STREAM is the TCP FIN, RST_STREAM the reset).

use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h2::{Reason, RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The body halves of one HTTP/2 stream as `AsyncRead + AsyncWrite`, so a
/// [`WebSocketStream`](crate::WebSocketStream) runs over it as over TCP.
///
/// Reading releases HTTP/2 flow-control capacity only for the bytes the
/// WebSocket has taken, so a slow reader slows its own stream and no
/// other. Writing waits for send capacity. Shutting down the write side
/// ends the stream (`END_STREAM`); dropping both halves resets it, as
/// h2 does for any abandoned stream.
///
/// A reset by the peer reads as the end of the stream: the WebSocket
/// reports a close without handshake (1006, [`Error::ConnectionLost`](crate::Error::ConnectionLost)),
/// and [`reset_reason`](Self::reset_reason) says which reset.
#[derive(Debug)]
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received bytes not yet read.
    chunk: Bytes,
    /// The peer ended or reset its half.
    recv_done: bool,
    /// `END_STREAM` was sent.
    send_done: bool,
    reset: Option<Reason>,
}

impl H2Stream {
    /// The stream made of `send` and `recv`: from `SendResponse::send_response`
    /// and the request body on a server, from `SendRequest::send_request`
    /// and the response body on a client.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        H2Stream { send, recv, chunk: Bytes::new(), recv_done: false, send_done: false, reset: None }
    }

    /// The reason the peer reset the stream with, once it did.
    pub fn reset_reason(&self) -> Option<Reason> {
        self.reset
    }

    /// The HTTP/2 stream identifier.
    pub fn stream_id(&self) -> h2::StreamId {
        self.send.stream_id()
    }

    /// The send half.
    pub fn send_stream(&mut self) -> &mut SendStream<Bytes> {
        &mut self.send
    }

    /// The receive half.
    pub fn recv_stream(&mut self) -> &mut RecvStream {
        &mut self.recv
    }
}

/// An h2 error as an I/O error; a reset keeps its kind.
fn io_error(e: h2::Error) -> io::Error {
    if e.is_reset() || e.is_go_away() {
        return io::Error::new(ErrorKind::ConnectionReset, e);
    }
    super::into_io(e)
}

impl AsyncRead for H2Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.chunk.is_empty() && !this.recv_done {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.chunk = data,
                Some(Err(e)) => {
                    this.recv_done = true;
                    if let Some(reason) = e.reason() {
                        this.reset = Some(reason);
                    } else {
                        return Poll::Ready(Err(io_error(e)));
                    }
                }
                None => this.recv_done = true,
            }
        }
        let n = this.chunk.len().min(buf.remaining());
        buf.put_slice(&this.chunk[..n]);
        this.chunk.advance(n);
        if n > 0 {
            // The window reopens by what the WebSocket took, no sooner.
            let _ = this.recv.flow_control().release_capacity(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.send_done {
            return Poll::Ready(Err(io::Error::new(ErrorKind::BrokenPipe, "the HTTP/2 stream was ended")));
        }
        this.send.reserve_capacity(buf.len());
        let mut capacity = this.send.capacity();
        if capacity == 0 {
            capacity = match ready!(this.send.poll_capacity(cx)) {
                Some(Ok(n)) => n,
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                None => return Poll::Ready(Err(io::Error::new(ErrorKind::BrokenPipe, "the HTTP/2 stream is closed"))),
            };
        }
        let n = capacity.min(buf.len());
        match this.send.send_data(Bytes::copy_from_slice(&buf[..n]), false) {
            Ok(()) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection's task writes what the streams queued.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.send_done {
            this.send_done = true;
            this.send.reserve_capacity(0);
            if let Err(e) = this.send.send_data(Bytes::new(), true) {
                return Poll::Ready(Err(io_error(e)));
            }
        }
        Poll::Ready(Ok(()))
    }
}
