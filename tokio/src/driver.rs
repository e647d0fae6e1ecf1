//! The loop around a [`Session`]: reads, writes, the transport's end and
//! the timers, as poll functions. [`WebSocketStream`](crate::WebSocketStream)
//! calls them directly; the split halves call them under a lock, released
//! before each poll returns.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, ErrorKind, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use wsmachine::{
    CloseCode, CloseFrame, Incoming, IncomingRef, Instant, Message, MessageRef, ProtocolError, SendError, Session,
    State, Transport,
};

use crate::Error;

/// Bytes read per `poll_read`, into a buffer on the stack: the session
/// keeps only what it has not used yet, so an idle connection holds no
/// read buffer. 64 KiB, so a 16 KiB message and its header arrive in one
/// read rather than two (the load test's 200 × 16 KiB cell: about 12 %
/// more messages per second than with 16 KiB).
const READ_SIZE: usize = 64 * 1024;

/// Bytes read per `poll_read` while the reads are small (the last one
/// brought fewer bytes than this): a buffer smaller than a page, whose
/// stack frame needs no probing page by page as the 64 KiB one does (about
/// 65 instructions per read, twice per message in a closed loop). A read
/// that fills it switches to [`READ_SIZE`] for the next one.
const SMALL_READ_SIZE: usize = 2 * 1024;

/// Pieces of output gathered for one vectored write: a message's header
/// and its payload queued without a copy are two, a batch of replies a
/// few more.
const WRITE_SLICES: usize = 32;

/// Rounds of `handle_timeout` in one poll before yielding; each round moves
/// the deadline past `now`, so more than two is not expected.
const TIMER_ROUNDS: usize = 4;

/// How long a connection goes without reading anything before the
/// session's buffers are freed at its next wait for input: an idle
/// connection holds none, while one whose messages come closer together
/// keeps them instead of allocating them again for each message.
const SHRINK_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// How many bytes of messages, beyond the first, a send that answers
/// none of them reads ahead (see [`Driver::read_arrived`]): 64 KiB.
const READ_AHEAD_LIMIT: usize = 64 * 1024;

/// How long replies gathered for one write may wait (see
/// [`Driver::defer_write`]): 100 µs, the time of some twenty write system
/// calls. A burst answered faster than that goes out in one write; a
/// handler that takes longer over a message (a query, a sleep) has each
/// reply written by its own send, as if nothing had been read ahead.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_micros(100);

/// Of the replies a window gathers, the first and then every fourth read
/// the clock to see whether the window passed (see
/// [`Driver::defer_write`]). Reading it for every reply took about a
/// fifth of the server's own time with small pipelined messages (the
/// load test's 100 × 20 B cell with 16 in flight); a handler slow over
/// every message is still seen at its first reply, and one that slows
/// down within a burst holds the replies before it for at most three
/// more messages.
const CLOCK_EVERY: u8 = 4;

/// Bytes a receive reads without waiting before it gives the other tasks
/// on its thread a turn (it wakes its own task and returns `Pending`
/// once): one full read. A peer that keeps the socket full, as a client
/// that pipelines messages and sends one more for each reply does, would
/// otherwise keep the task running until tokio's budget of 128 operations
/// per turn ran out, megabytes of reads when replies are written in
/// batches, and every other connection on the thread would wait that long
/// (the load test's 10 × 16 KiB cell with 16 in flight: p99 latency 7–12
/// ms before, 1–1.5 ms with this, as many messages per second).
const READ_PER_TURN: usize = READ_SIZE;

/// Where the message a receive found is.
#[derive(Debug)]
pub(crate) enum Received {
    /// Taken from the session, owned.
    Owned(Message),
    /// Left in the session, to be lent (`Session::poll_message_ref`).
    InSession,
    /// Read ahead owned, then asked for by a lending receive: in `held`.
    Held,
}

/// One connection's state: the stream, the session and what the adapter
/// knows about the transport.
#[derive(Debug)]
pub(crate) struct Driver<S> {
    pub(crate) stream: S,
    /// Boxed: a connection's future then stays small while it idles.
    pub(crate) session: Box<Session>,
    /// Time zero of the session's [`Instant`]s.
    epoch: tokio::time::Instant,
    /// Armed at the session's next deadline, `timer_at`; `None` while no
    /// deadline is set.
    timer: Option<Pin<Box<Sleep>>>,
    timer_at: Option<Instant>,
    /// The waker the timer was last polled with at `timer_at`: while a poll
    /// would wake the same task, the timer is asked only whether it passed.
    timer_waker: Option<Waker>,
    /// Armed when a receive began to wait with buffers held: once a whole
    /// period passed without a read, the next wait frees them
    /// ([`SHRINK_AFTER`]).
    shrink_timer: Option<Pin<Box<Sleep>>>,
    shrink_waker: Option<Waker>,
    /// Something was read since the shrink timer was armed: when it
    /// passes, it is armed again instead of freeing the buffers.
    read_while_armed: bool,
    /// Sends wait while at least this many bytes are queued.
    max_write_buffer: usize,
    /// Bytes were written since the last flush of the stream.
    unflushed: bool,
    /// The session asked to shut down the write side; done once `write_shut`.
    shutdown_due: bool,
    write_shut: bool,
    /// A read returned 0 bytes.
    read_eof: bool,
    /// The last read brought [`SMALL_READ_SIZE`] bytes or more: the next
    /// one reads up to [`READ_SIZE`].
    large_reads: bool,
    /// The last read returned data without filling its buffer, and the
    /// receive has not waited since: the transport most likely holds
    /// nothing more until it wakes the task (tokio clears a socket's
    /// readiness after a short read), so the reads until then, expected
    /// to find nothing and register the waker, are small ones.
    drained: bool,
    /// Bytes arrived since a receive last waited for input.
    read_since_wait: bool,
    /// Bytes read since the receive last waited or gave way
    /// ([`READ_PER_TURN`]).
    read_this_turn: usize,
    /// The session may have an item: it was given input (bytes, their
    /// end, a deadline) since its last poll returned none.
    may_have_item: bool,
    /// [`poll_write`](Self::poll_write) found nothing to do (everything
    /// written and flushed, the transport open) and nothing that could
    /// change that happened since (a send, an item other than a data
    /// message, the transport's end or failure, a deadline): the next call
    /// has nothing to do either. Bytes read do not count: what they hold
    /// acts through the items.
    write_idle: bool,
    /// The transport is done with: by the session's rules, or it failed.
    closed: bool,
    /// The stream's error that ended the connection, not reported yet.
    io_error: Option<io::Error>,
    /// The peer's Close, or the 1006 the session reported.
    peer_close: Option<CloseFrame>,
    /// The protocol error the session failed with.
    error: Option<ProtocolError>,
    /// We sent (or queued) a Close.
    we_closed: bool,
    /// The end of the connection was returned by a receive.
    end_reported: bool,
    /// A message read ahead by [`defer_write`](Self::defer_write) or a
    /// send's [`read_arrived`](Self::read_arrived), returned by the next
    /// receive before anything else.
    ready: Option<Message>,
    /// Messages that came after `ready`, read ahead by a send that answers
    /// none of them ([`read_arrived`](Self::read_arrived)), so that the
    /// pings, pongs and Close behind them act; returned in order after it.
    ready_more: VecDeque<Message>,
    /// The payload bytes in `ready_more`, held to [`READ_AHEAD_LIMIT`].
    ready_more_bytes: usize,
    /// The same, for a lending receive: the message waits in the session
    /// (found by `Session::message_ready`), not taken yet.
    ready_in_session: bool,
    /// The last receive lent its message: a read ahead leaves the next one
    /// in the session, to be lent in turn.
    lending: bool,
    /// The last receive reported pings, pongs and the peer's Close
    /// ([`poll_recv_incoming`](Self::poll_recv_incoming)): one met while
    /// taking messages waits in `control`, and ends a read ahead.
    reporting: bool,
    /// A ping, a pong or the peer's Close met while `reporting`, for the
    /// next reporting receive. Boxed: it has room for a control payload,
    /// and is rarely there.
    control: Option<Box<Incoming>>,
    /// A message read ahead owned and then asked for by a lending receive,
    /// which lends it from here; dropped at the next receive.
    held: Option<Message>,
    /// Output waits for the end of the read batch: a send left it queued
    /// because a received message waited to be read. Cleared by
    /// [`poll_write`](Self::poll_write).
    deferred: bool,
    /// A receive returned a message and no send or flush followed yet: the
    /// one send that may join the batch (a second send without a receive
    /// between writes, so a task that stops receiving never holds output
    /// back).
    received: bool,
    /// When the window in which replies may wait ends: [`BATCH_WINDOW`]
    /// after the receive loop last returned a message with more input
    /// behind it, or after the replies gathered since were last written.
    /// Kept as its end, so that a reply compares two instants instead of
    /// working out a duration.
    batch_end: tokio::time::Instant,
    /// Replies deferred in the window, counted modulo
    /// [`CLOCK_EVERY`]: the clock is read when it is 0.
    window_replies: u8,
    /// Writes what is queued before the connection is dropped, without
    /// waiting (set where the stream's bounds are known; `Drop` has none).
    write_before_drop: fn(&mut Driver<S>),
    /// A send that answers no message just received reads what arrived
    /// ([`read_arrived`](Self::read_arrived)). Off once split: only the
    /// reader reads, with its own waker.
    pub(crate) reads_on_send: bool,
}

impl<S> Drop for Driver<S> {
    fn drop(&mut self) {
        (self.write_before_drop)(self);
    }
}

impl<S> Driver<S> {
    pub(crate) fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    pub(crate) fn max_write_buffer(&self) -> usize {
        self.max_write_buffer
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    pub(crate) fn new(stream: S, session: Box<Session>, max_write_buffer: usize, epoch: tokio::time::Instant) -> Self {
        Driver {
            stream,
            session,
            epoch,
            timer: None,
            timer_at: None,
            timer_waker: None,
            shrink_timer: None,
            shrink_waker: None,
            read_while_armed: false,
            max_write_buffer,
            unflushed: false,
            shutdown_due: false,
            write_shut: false,
            read_eof: false,
            large_reads: false,
            drained: false,
            read_since_wait: false,
            read_this_turn: 0,
            // The bytes that followed the handshake head may hold messages.
            may_have_item: true,
            write_idle: false,
            closed: false,
            io_error: None,
            peer_close: None,
            error: None,
            we_closed: false,
            end_reported: false,
            ready: None,
            ready_more: VecDeque::new(),
            ready_more_bytes: 0,
            ready_in_session: false,
            lending: false,
            reporting: false,
            control: None,
            held: None,
            reads_on_send: true,
            deferred: false,
            received: false,
            batch_end: epoch,
            window_replies: 0,
            write_before_drop: Self::write_queued_without_waiting,
        }
    }

    /// Hands the transport what is queued, as far as it takes it now: a
    /// reply that [`defer_write`](Self::defer_write) held for the batch's
    /// write, or the rest of a large send, is not lost when the connection
    /// is dropped right after its send returned.
    fn write_queued_without_waiting(&mut self) {
        if self.closed || !self.session.wants_write() {
            return;
        }
        let waker = Waker::from(std::sync::Arc::new(NoWake));
        let _ = self.poll_write(&mut Context::from_waker(&waker));
    }

    // --- receiving ---

    /// The next message; `Ok(None)` once the connection ended with a close
    /// handshake (and after the end was reported once, whatever it was).
    ///
    /// Reads with `cx`'s waker; writes (pongs, Close answers, keepalive
    /// pings) and timers wake `io`, or the same waker when `None` (no
    /// clone of it per call).
    #[inline]
    pub(crate) fn poll_recv(&mut self, cx: &Context<'_>, io: Option<&Waker>) -> Poll<Result<Option<Message>, Error>> {
        match self.poll_receive::<false, false>(cx, io) {
            Poll::Ready(Ok(Some(Received::Owned(message)))) => Poll::Ready(Ok(Some(message))),
            // Not produced for owned messages.
            Poll::Ready(Ok(Some(Received::InSession | Received::Held) | None)) => Poll::Ready(Ok(None)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// As [`poll_recv`](Self::poll_recv), for a lending receive: ready
    /// when a message waits to be lent by [`lend`](Self::lend), which the
    /// caller calls next.
    #[inline]
    pub(crate) fn poll_recv_lent(&mut self, cx: &Context<'_>) -> Poll<Result<Option<Received>, Error>> {
        self.poll_receive::<true, false>(cx, None)
    }

    /// As [`poll_recv`](Self::poll_recv), reporting pings (already
    /// answered), pongs and the peer's Close too, in the order they came
    /// among the messages.
    pub(crate) fn poll_recv_incoming(&mut self, cx: &Context<'_>) -> Poll<Result<Option<Incoming>, Error>> {
        // A message read ahead came before any item met after it.
        if self.ready.is_none() {
            if let Some(control) = self.control.take() {
                self.reporting = true;
                self.received = false;
                return Poll::Ready(Ok(Some(*control)));
            }
        }
        match self.poll_receive::<false, true>(cx, None) {
            Poll::Ready(Ok(Some(Received::Owned(message)))) => Poll::Ready(Ok(Some(Incoming::Message(message)))),
            // The receive loop stopped at a control item.
            Poll::Ready(Ok(_)) => Poll::Ready(Ok(self.control.take().map(|control| *control))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The message [`poll_recv_lent`](Self::poll_recv_lent) found, lent
    /// until the next call.
    pub(crate) fn lend(&mut self, received: Received) -> Option<MessageRef<'_>> {
        match received {
            Received::Held => self.held.as_ref().map(MessageRef::from),
            Received::InSession => match self.session.poll_message_ref() {
                Ok(Some(IncomingRef::Text(text))) => Some(MessageRef::Text(text)),
                Ok(Some(IncomingRef::Binary(data))) => Some(MessageRef::Binary(data)),
                // `message_ready` found a message: nothing else comes.
                _ => None,
            },
            Received::Owned(_) => None,
        }
    }

    /// A receive, for owned messages or (`LEND`) for messages left in the
    /// session to be lent. A message read ahead with the last one (see
    /// `defer_write`) is returned here, inline in the caller's loop;
    /// anything else goes to [`poll_receive_loop`](Self::poll_receive_loop).
    #[inline]
    fn poll_receive<const LEND: bool, const REPORT: bool>(
        &mut self,
        cx: &Context<'_>,
        io: Option<&Waker>,
    ) -> Poll<Result<Option<Received>, Error>> {
        self.lending = LEND;
        self.reporting = REPORT;
        if !REPORT && self.control.is_some() {
            // Kept for a reporting receive, this one handled it already: a
            // later one must not report it after the messages that followed.
            self.control = None;
        }
        self.held = None;
        if let Some(message) = self.ready.take() {
            if !self.ready_more.is_empty() {
                self.ready = self.ready_more.pop_front();
                self.ready_more_bytes -= self.ready.as_ref().map_or(0, Message::len);
            }
            self.received = true;
            if LEND {
                self.held = Some(message);
                return Poll::Ready(Ok(Some(Received::Held)));
            }
            return Poll::Ready(Ok(Some(Received::Owned(message))));
        }
        // Read ahead for a lending receive, the message is still in the
        // session: an owned receive takes it from there as it would anyway.
        if std::mem::take(&mut self.ready_in_session) && LEND {
            self.received = true;
            return Poll::Ready(Ok(Some(Received::InSession)));
        }
        self.poll_receive_loop::<LEND, REPORT>(cx, io)
    }

    /// The receive loop: items the session holds, then reads, writes and
    /// timers until one comes.
    #[inline(never)]
    fn poll_receive_loop<const LEND: bool, const REPORT: bool>(
        &mut self,
        cx: &Context<'_>,
        io: Option<&Waker>,
    ) -> Poll<Result<Option<Received>, Error>> {
        let mut read_cx = Context::from_waker(cx.waker());
        let mut io_cx = Context::from_waker(io.unwrap_or(cx.waker()));
        loop {
            if let Some(received) = self.next_received::<LEND>() {
                // Pongs and answers queued meanwhile go out now if the
                // transport takes them, unless replies to this read's
                // messages are being gathered into one write.
                if !self.deferred {
                    let _ = self.poll_write(&mut io_cx);
                }
                self.received = true;
                self.window_replies = 0;
                if self.session.has_unread_input() {
                    // Another message may follow in what was read: the
                    // reply to this one may wait for it, within a window
                    // that starts now. Otherwise the reply is written by
                    // its send, and the clock (some 20 ns a read) is not
                    // read for every message of a request-and-reply
                    // exchange. A window left as it was has passed or is
                    // about to, and the reply's look at the clock (the
                    // count was reset) writes it.
                    self.batch_end = tokio::time::Instant::now() + BATCH_WINDOW;
                } else {
                    // Nothing can come before the next read, timer or end
                    // of input (each sets this again): the reply's look
                    // for a message read ahead and the next receive learn
                    // that without asking the session.
                    self.may_have_item = false;
                }
                return Poll::Ready(Ok(Some(received)));
            }
            if REPORT && self.control.is_some() {
                // A ping, a pong or the peer's Close to report: its answer
                // goes out first if the transport takes it.
                let _ = self.poll_write(&mut io_cx);
                self.received = false;
                return Poll::Ready(Ok(None));
            }
            if self.closed {
                return Poll::Ready(self.outcome().map(|()| None));
            }
            let written = self.poll_write(&mut io_cx);
            if self.closed {
                continue;
            }
            if written.is_pending() && (self.read_eof || self.session.buffered_output() > self.max_write_buffer) {
                // Backpressure: a peer that does not read what we send
                // (pongs included) is not read either.
                if self.poll_timers(&mut io_cx) {
                    continue;
                }
                self.drained = false;
                self.read_this_turn = 0;
                return Poll::Pending;
            }
            if self.read_eof {
                // Everything is written and the session keeps the transport
                // open after its end: nothing more can happen.
                self.closed = true;
                continue;
            }
            if self.read_this_turn >= READ_PER_TURN {
                // Other tasks' turn; this one comes back at once to read.
                self.read_this_turn = 0;
                read_cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self.poll_read(&mut read_cx).is_pending() {
                self.read_this_turn = 0;
                // Last, the timers: a deadline due now is acted on (and
                // its effects handled by another turn), the next one armed.
                if self.poll_timers(&mut io_cx) {
                    continue;
                }
                self.poll_shrink(&mut io_cx);
                // What wakes the task may be new input.
                self.drained = false;
                return Poll::Pending;
            }
        }
    }

    /// The next message: taken owned, or (`LEND`) found and left in the
    /// session. The answer "nothing new", which the receive after each
    /// reply of a request-and-reply exchange gets, is found without a
    /// call. ([`defer_write`](Self::defer_write) leaves it to the callee's
    /// own check: made inline there, it changed how the compiler built
    /// `defer_write`, a larger frame and a call to drop an empty slot,
    /// about 15 instructions more per message of a pipelined burst.)
    #[inline]
    fn next_received<const LEND: bool>(&mut self) -> Option<Received> {
        if !self.may_have_item {
            return None;
        }
        if LEND {
            self.next_lent().then_some(Received::InSession)
        } else {
            self.next_message().map(Received::Owned)
        }
    }

    /// Called after a send queued its message: whether its write may wait
    /// for the end of the read batch. It may when it answers the message a
    /// receive just returned and the bytes already read hold one more
    /// whole message (read ahead into `ready`, returned by the next
    /// receive): that receive, or the one that finds no message waiting,
    /// writes every reply at once. It may not once the replies waited
    /// [`BATCH_WINDOW`], which the first reply of the window and every
    /// [`CLOCK_EVERY`]th after it look at. Pings, pongs and the peer's Close met on the way
    /// are handled as a receive would.
    pub(crate) fn defer_write(&mut self) -> bool {
        if !std::mem::take(&mut self.received) {
            return false;
        }
        if self.ready.is_none() && !self.ready_in_session {
            if self.lending {
                if !self.next_lent() {
                    return false;
                }
                self.ready_in_session = true;
            } else {
                let Some(message) = self.next_message() else { return false };
                // Empty, as checked above: no drop of an old message to
                // call, which an assignment makes after the call above.
                self.ready.get_or_insert(message);
            }
        }
        // Replies wait for the batch's write only within its window: once
        // it passed (the handler took its time over a message, or the
        // burst is long), this send writes what waits, and the replies
        // that follow start a new window.
        let looks = self.window_replies == 0;
        self.window_replies = (self.window_replies + 1) % CLOCK_EVERY;
        if looks {
            let now = tokio::time::Instant::now();
            if now >= self.batch_end {
                self.batch_end = now + BATCH_WINDOW;
                self.window_replies = 0;
                return false;
            }
        }
        self.deferred = true;
        true
    }

    /// The session's next message, asked for only if the session was
    /// given input since it last had none. What comes before it is noted
    /// on the way: the peer's Close, a protocol error (both reported once
    /// the items run out), pings and pongs. Matched where the session
    /// wrote it: only the message is moved, not the whole item, whose
    /// room for a control payload makes it four times larger.
    fn next_message(&mut self) -> Option<Message> {
        while self.may_have_item {
            match self.session.poll_message() {
                // A data message neither queues output nor moves the close
                // handshake on.
                Ok(Some(Incoming::Message(message))) => return Some(message),
                Ok(None) => self.may_have_item = false,
                Ok(Some(control)) if self.reporting => {
                    self.control = Some(Box::new(control.clone()));
                    self.note_control(Ok(Some(control)));
                    return None;
                }
                other => self.note_control(other),
            }
        }
        None
    }

    /// As [`next_message`](Self::next_message), with the message left in
    /// the session to be lent: whether one waits there.
    fn next_lent(&mut self) -> bool {
        while self.may_have_item {
            match self.session.message_ready() {
                Ok(true) if self.session.has_message() => return true,
                // A ping, a pong or a Close, taken.
                Ok(true) => {
                    let control = self.session.poll_message();
                    self.note_control(control);
                }
                Ok(false) => self.may_have_item = false,
                Err(e) => self.note_control(Err(e)),
            }
        }
        false
    }

    /// Notes an item other than a data message: each may queue an answer
    /// (a pong, a Close) or end the connection.
    fn note_control(&mut self, item: Result<Option<Incoming>, ProtocolError>) {
        match item {
            Ok(Some(Incoming::Close(frame))) => {
                self.peer_close = Some(frame);
                self.write_idle = false;
            }
            Ok(Some(Incoming::Ping(_) | Incoming::Pong(_))) => self.write_idle = false,
            // Never passed a data message.
            Ok(Some(Incoming::Message(_)) | None) => {}
            Err(e) => {
                self.error = Some(e);
                self.write_idle = false;
            }
        }
    }

    /// How the connection ended, reported once; then `Ok(())`.
    fn outcome(&mut self) -> Result<(), Error> {
        if self.end_reported {
            return Ok(());
        }
        self.end_reported = true;
        if let Some(e) = self.error {
            return Err(Error::Protocol(e));
        }
        if let Some(e) = self.io_error.take() {
            return Err(Error::Io(e));
        }
        match self.peer_close {
            Some(frame) if frame.code() != CloseCode::ABNORMAL => Ok(()),
            _ if self.we_closed => Ok(()),
            _ => Err(Error::ConnectionLost),
        }
    }

    /// One read into the session, of up to [`READ_SIZE`] bytes, or
    /// [`SMALL_READ_SIZE`] while the reads are small or the last one
    /// drained the transport: the read that follows a large message in a
    /// request-and-reply exchange finds nothing, and the small buffer
    /// spares it the large one's stack probe. Data it does find is read as
    /// after any small read: a full buffer makes the next read large.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.large_reads && !self.drained {
            self.poll_read_up_to::<READ_SIZE>(cx)
        } else {
            self.poll_read_up_to::<SMALL_READ_SIZE>(cx)
        }
    }

    /// One read of up to `N` bytes into the session. Never inlined: the
    /// caller's stack frame stays small whichever size it reads.
    #[inline(never)]
    fn poll_read_up_to<const N: usize>(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut buf = [MaybeUninit::<u8>::uninit(); N];
        let mut buf = ReadBuf::uninit(&mut buf);
        let read = Pin::new(&mut self.stream).poll_read(cx, &mut buf);
        if read.is_ready() {
            self.may_have_item = true;
        }
        match read {
            // A TLS stream reports a peer that closed TCP without its
            // close_notify as `UnexpectedEof`: the transport ended, as
            // for TCP, and a connection without a close handshake is
            // lost (`ConnectionLost`), the same over TLS as without.
            Poll::Ready(Ok(())) if buf.filled().is_empty() => self.read_ended(),
            Poll::Ready(Err(e)) if e.kind() == ErrorKind::UnexpectedEof => self.read_ended(),
            Poll::Ready(Ok(())) => {
                self.read_since_wait = true;
                self.read_this_turn += buf.filled().len();
                self.large_reads = buf.filled().len() >= SMALL_READ_SIZE;
                self.drained = buf.filled().len() < N;
                self.session.receive(buf.filled());
            }
            Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => {
                self.write_idle = false;
                self.lost(e);
            }
            Poll::Pending => return Poll::Pending,
        }
        Poll::Ready(())
    }

    /// The transport's read side ended; the session decides what becomes
    /// of the connection.
    fn read_ended(&mut self) {
        self.write_idle = false;
        self.read_eof = true;
        self.session.receive_eof();
    }

    // --- sending ---

    /// Ready when a message may be queued: fewer than `max_write_buffer`
    /// bytes wait (or none, for a single larger message).
    #[inline]
    pub(crate) fn poll_ready(&mut self, io: &Waker) -> Poll<Result<(), Error>> {
        // The answer to a message of a burst whose replies are gathered:
        // what the loop below would conclude, without calling it.
        if self.deferred && self.received && !self.closed && self.session.buffered_output() < self.max_write_buffer {
            return Poll::Ready(Ok(()));
        }
        self.poll_ready_slow(io)
    }

    /// [`poll_ready`](Self::poll_ready) when a write or the timers may
    /// have work.
    #[inline(never)]
    fn poll_ready_slow(&mut self, io: &Waker) -> Poll<Result<(), Error>> {
        let mut io_cx = Context::from_waker(io);
        if !self.received {
            // Its pongs, pings and Close act in the loop below.
            self.read_arrived(&mut io_cx);
        }
        for _ in 0..TIMER_ROUNDS {
            // Output gathered for one write stays until the batch ends,
            // within the bound.
            if !(self.deferred && self.session.buffered_output() < self.max_write_buffer) {
                let _ = self.poll_write(&mut io_cx);
            }
            if self.closed {
                return Poll::Ready(Err(self.send_refusal()));
            }
            // The answer to the message a receive just returned: the
            // receive looks at the timers whenever it waits for input, and
            // while input keeps coming none of them has work (a keepalive
            // ping or a dead peer needs a silent one). Sends of their own
            // (a second one, or one after a flush) look every time.
            if self.received || !self.poll_timers(&mut io_cx) {
                break;
            }
        }
        let buffered = self.session.buffered_output();
        if buffered == 0 || buffered < self.max_write_buffer {
            return Poll::Ready(Ok(()));
        }
        // `poll_write` is pending on the transport, which wakes `io`. A
        // peer that stopped reading would keep it pending for ever: the
        // timers run here too (even for the answer to a received message),
        // so the keepalive finds that peer dead and the close timeout
        // bounds the wait for it to take our last output.
        for _ in 0..TIMER_ROUNDS {
            if !self.poll_timers(&mut io_cx) {
                return Poll::Pending;
            }
            let _ = self.poll_write(&mut io_cx);
            if self.closed {
                return Poll::Ready(Err(self.send_refusal()));
            }
            if self.session.buffered_output() < self.max_write_buffer {
                return Poll::Ready(Ok(()));
            }
        }
        // Deadlines kept falling due: let the task run and come back.
        io.wake_by_ref();
        Poll::Pending
    }

    /// What a send does with input: a task that only sends (a feed pushed
    /// to a client, a stream of updates) still answers the peer's pings,
    /// sees its pongs, which keep the keepalive from dropping a live peer,
    /// and its Close. Takes the items the session holds, then reads once,
    /// without waiting, what already arrived, and takes those. Data
    /// messages are read ahead for the next receives, in order, so that
    /// the items behind them act too; reading stops once those beyond the
    /// first hold [`READ_AHEAD_LIMIT`] bytes, so what a sender never
    /// receives costs at most that, one message (within
    /// `max_message_size`) and one read. After a lending receive the
    /// message found stays in the session, and reading stops at it; a
    /// ping, a pong or a Close kept for a reporting receive stops it too.
    fn read_arrived(&mut self, cx: &mut Context<'_>) {
        if !self.reads_on_send || self.closed || self.ready_in_session || self.control.is_some() {
            return;
        }
        if !self.take_arrived() || self.read_eof || self.poll_read(cx).is_pending() {
            return;
        }
        self.take_arrived();
    }

    /// Takes the items the session holds: data messages read ahead,
    /// the others handled. Whether it took them all, so that reading may
    /// go on.
    fn take_arrived(&mut self) -> bool {
        if self.lending {
            if self.ready.is_some() {
                return false;
            }
            self.ready_in_session = self.next_lent();
            return !self.ready_in_session && self.control.is_none();
        }
        while self.ready_more_bytes < READ_AHEAD_LIMIT {
            let Some(message) = self.next_message() else { return self.control.is_none() };
            if self.ready.is_none() {
                self.ready = Some(message);
            } else {
                self.ready_more_bytes += message.len();
                self.ready_more.push_back(message);
            }
        }
        false
    }

    /// Queues a message (compressed when negotiated). On a stream that
    /// takes vectored writes a large payload is not copied: the session
    /// queues it after its header, and one vectored write sends both.
    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        if self.closed {
            return Err(self.send_refusal());
        }
        self.write_idle = false;
        if self.stream.is_write_vectored() {
            self.session.send_owned(message).map_err(Error::from)
        } else {
            // Copied; its buffer is kept for a later message.
            let sent = self.session.send(&message);
            self.session.recycle(message);
            sent.map_err(Error::from)
        }
    }

    /// Queues a ping.
    pub(crate) fn start_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(self.send_refusal());
        }
        self.write_idle = false;
        self.session.send_ping(payload).map_err(Error::from)
    }

    /// Queues our Close (a no-op once the connection is closing or over).
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.closed || self.we_closed {
            return Ok(());
        }
        self.write_idle = false;
        match self.session.send_close(code, reason) {
            Ok(()) | Err(SendError::Closing | SendError::Failed(_)) => {
                self.we_closed = true;
                Ok(())
            }
            Err(e) => Err(Error::Send(e)),
        }
    }

    /// Writes everything queued and flushes the stream (shutting down its
    /// write side when the session says so).
    pub(crate) fn poll_flush(&mut self, io: &Waker) -> Poll<Result<(), Error>> {
        self.received = false;
        let mut io_cx = Context::from_waker(io);
        let mut rounds = 0;
        while self.poll_write(&mut io_cx).is_pending() {
            // As for a send that waits: the timers bound the wait for a
            // peer that stopped reading.
            rounds += 1;
            if rounds > TIMER_ROUNDS {
                // Deadlines kept falling due: let the task run and come back.
                io.wake_by_ref();
                return Poll::Pending;
            }
            if !self.poll_timers(&mut io_cx) {
                return Poll::Pending;
            }
        }
        match self.io_error.take() {
            Some(e) => Poll::Ready(Err(Error::Io(e))),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Writes what the transport takes now, without waiting.
    pub(crate) fn write_now(&mut self, io: &Waker) {
        self.received = false;
        let _ = self.poll_write(&mut Context::from_waker(io));
    }

    /// Why nothing can be sent: the failure that ended the connection
    /// (a keepalive ping the peer never answered, a protocol error met
    /// while reading), the stream's error, or the close handshake.
    fn send_refusal(&mut self) -> Error {
        if let Some(e) = self.session.connection().error() {
            return Error::Protocol(e);
        }
        match self.io_error.take() {
            Some(e) => Error::Io(e),
            None => Error::Closed,
        }
    }

    /// Writes the session's output, then does what the session says with
    /// the transport. Ready once everything is written and flushed (or the
    /// transport is done with); errors end the connection and are kept for
    /// the next report.
    ///
    /// Inline for its usual answer: a receive or a send asks several times
    /// per message, and between writes nothing has changed.
    #[inline]
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.deferred = false;
        if self.write_idle {
            return Poll::Ready(());
        }
        self.write_out(cx)
    }

    /// The work of [`poll_write`](Self::poll_write) once something may be
    /// due.
    fn write_out(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.closed {
                return Poll::Ready(());
            }
            let written = if !self.session.wants_write() {
                // Nothing to write (the common case, asked before and after
                // most reads): on to the flush and the transport.
                None
            } else if self.stream.is_write_vectored() {
                // Three pieces first: the output is one piece unless a
                // payload was queued without a copy, and a message's
                // header and payload are two; only more fill the arrays of
                // a longer vectored write.
                let mut first = [&[][..]; 3];
                match self.session.poll_output_vectored(&mut first) {
                    0 => None,
                    1 => Some(Pin::new(&mut self.stream).poll_write(cx, first[0])),
                    2 => {
                        let slices = [IoSlice::new(first[0]), IoSlice::new(first[1])];
                        Some(Pin::new(&mut self.stream).poll_write_vectored(cx, &slices))
                    }
                    _ => {
                        let mut pieces = [&[][..]; WRITE_SLICES];
                        let n = self.session.poll_output_vectored(&mut pieces);
                        let slices: [IoSlice<'_>; WRITE_SLICES] = std::array::from_fn(|i| IoSlice::new(pieces[i]));
                        Some(Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..n]))
                    }
                }
            } else {
                let out = self.session.poll_output();
                (!out.is_empty()).then(|| Pin::new(&mut self.stream).poll_write(cx, out))
            };
            if let Some(written) = written {
                match written {
                    Poll::Ready(Ok(0)) => self.lost(ErrorKind::WriteZero.into()),
                    Poll::Ready(Ok(n)) => {
                        self.session.consume_output(n);
                        self.unflushed = true;
                    }
                    Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => self.lost(e),
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            if self.unflushed {
                match Pin::new(&mut self.stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.unflushed = false,
                    Poll::Ready(Err(e)) => self.lost(e),
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            if self.shutdown_due && !self.write_shut {
                match Pin::new(&mut self.stream).poll_shutdown(cx) {
                    // An error means the peer is gone: reading ends too.
                    Poll::Ready(_) => self.write_shut = true,
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            match self.session.poll_transport() {
                Transport::Open => {
                    self.write_idle = true;
                    return Poll::Ready(());
                }
                Transport::ShutdownWrite => self.shutdown_due = true,
                // Output the peer never took was dropped: a shutdown (a TLS
                // close_notify) would wait on the same peer.
                Transport::Close if !self.write_shut && !self.session.output_abandoned() => self.shutdown_due = true,
                Transport::Close => self.closed = true,
            }
        }
    }

    /// The stream failed: the connection is over. The error is reported
    /// unless the connection was ending anyway.
    fn lost(&mut self, e: io::Error) {
        self.closed = true;
        if !(self.session.is_finished() || self.we_closed) && self.io_error.is_none() {
            self.io_error = Some(e);
        }
    }

    /// A receive waits for input: frees the session's buffers once a
    /// whole [`SHRINK_AFTER`] has passed without a read, counted from the
    /// first wait that found them held (a timer armed then, armed again
    /// when it passes after reads). So an idle connection holds no buffer
    /// (freed within one to two periods of its last message), and one with
    /// traffic keeps its buffers from one message to the next instead of
    /// allocating them again. They are freed at once when nothing was read
    /// since the last wait (the first wait after the handshake: its
    /// answer's buffer goes), and without timers (none configured, or the
    /// connection is ending): the runtime may have no time driver.
    fn poll_shrink(&mut self, cx: &mut Context<'_>) {
        let read = std::mem::take(&mut self.read_since_wait);
        if self.timer.is_none() || (!read && self.shrink_timer.is_none()) {
            self.shrink();
            return;
        }
        match &mut self.shrink_timer {
            None if self.session.buffer_capacity() == 0 => {}
            None => {
                self.read_while_armed = false;
                let timer = self.shrink_timer.insert(Box::pin(tokio::time::sleep(SHRINK_AFTER)));
                if sleep_passed(timer, &mut self.shrink_waker, cx) {
                    self.shrink();
                }
            }
            Some(timer) => {
                self.read_while_armed |= read;
                if !sleep_passed(timer, &mut self.shrink_waker, cx) {
                    return;
                }
                if !std::mem::take(&mut self.read_while_armed) {
                    self.shrink();
                    return;
                }
                // Traffic during the period: another one, on the same timer.
                timer.as_mut().reset(tokio::time::Instant::now() + SHRINK_AFTER);
                self.shrink_waker = None;
                if sleep_passed(timer, &mut self.shrink_waker, cx) {
                    self.shrink();
                }
            }
        }
    }

    /// Frees the buffers that hold nothing now, and disarms the timer.
    fn shrink(&mut self) {
        self.session.shrink_buffers();
        self.shrink_timer = None;
        self.shrink_waker = None;
    }

    // --- time ---

    /// Acts on the session's deadlines that are due and arms the timer at
    /// the next one, waking `cx` when it passes. Returns whether a deadline
    /// was due: its effects (a ping, a Close, the end) are then waiting to
    /// be polled and written.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        if self.closed {
            self.timer = None;
            self.timer_waker = None;
            return false;
        }
        if let Some(timer) = self.timer.as_mut().filter(|_| self.session.state() == State::Open) {
            // While the connection is open, its deadline moves only when
            // `handle_timeout` acts (arriving bytes are only noted, and the
            // period restarts when the deadline falls due): the armed timer
            // is still at it, and nothing is due until it passes.
            if !sleep_passed(timer, &mut self.timer_waker, cx) {
                return false;
            }
        }
        let mut fired = false;
        for _ in 0..TIMER_ROUNDS {
            let Some(at) = self.session.poll_timeout() else {
                self.timer = None;
                self.timer_at = None;
                self.timer_waker = None;
                return fired;
            };
            if let Some(timer) = self.timer.as_mut().filter(|_| self.timer_at == Some(at) && !fired) {
                // Armed at this deadline already: the timer says whether it
                // passed, so the clock is read only when it did (most polls
                // come from reads and writes, long before a deadline). Polled
                // already with a waker for this task, it need not be polled
                // again until it passed: it wakes that task then.
                if !sleep_passed(timer, &mut self.timer_waker, cx) {
                    return false;
                }
            }
            let now = Instant::from_duration(self.epoch.elapsed());
            if at <= now {
                self.session.handle_timeout(now);
                self.may_have_item = true;
                self.write_idle = false;
                fired = true;
                continue;
            }
            if fired {
                // Let the caller handle what fired; it polls again.
                return true;
            }
            let deadline = self.epoch + at.as_duration();
            let timer = match &mut self.timer {
                Some(timer) => {
                    if self.timer_at != Some(at) {
                        timer.as_mut().reset(deadline);
                    }
                    timer
                }
                None => self.timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            self.timer_at = Some(at);
            self.timer_waker = None;
            if !sleep_passed(timer, &mut self.timer_waker, cx) {
                return false;
            }
            // The timer passed (its clock is a little ahead of ours): the
            // next round finds the deadline due.
        }
        // Still due after a few rounds: come back soon rather than sleep
        // without a timer.
        cx.waker().wake_by_ref();
        fired
    }
}

/// Whether `sleep` passed. It is polled unless it was polled already with
/// a waker for the same task (`registered`), which it then wakes when it
/// passes: until then, asking whether it passed is enough. `registered`
/// is kept up to date.
#[inline]
fn sleep_passed(sleep: &mut Pin<Box<Sleep>>, registered: &mut Option<Waker>, cx: &mut Context<'_>) -> bool {
    // Inline, the usual answer (several times per message, long before
    // the deadline); out of line, the poll.
    if registered.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) && !sleep.is_elapsed() {
        return false;
    }
    poll_sleep(sleep, registered, cx)
}

/// [`sleep_passed`] once asking is not enough: polls `sleep`, keeping
/// `registered` up to date.
#[inline(never)]
fn poll_sleep(sleep: &mut Pin<Box<Sleep>>, registered: &mut Option<Waker>, cx: &mut Context<'_>) -> bool {
    let same = registered.as_ref().is_some_and(|waker| waker.will_wake(cx.waker()));
    if sleep.as_mut().poll(cx).is_ready() {
        *registered = None;
        return true;
    }
    if !same {
        *registered = Some(cx.waker().clone());
    }
    false
}

/// A waker that does nothing: for the one write attempt made when a
/// connection is dropped, after which nobody waits.
struct NoWake;

impl std::task::Wake for NoWake {
    fn wake(self: std::sync::Arc<Self>) {}
}
