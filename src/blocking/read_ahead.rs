//! What a send reads ahead: a thread that only sends still answers the
//! peer's pings, runs the timers and sees the peer's Close, and what it
//! reads waits for the reads, in order and bounded.

use core::time::Duration;
use std::io::ErrorKind;

use super::{is_retry, Error, Stream, WebSocket};
use crate::error::ProtocolError;
use crate::message::Message;
use crate::session::Incoming;
use crate::time::Instant;

/// How often a send that follows no read looks at what has arrived
/// ([`WebSocket::send`]): often enough to answer a ping long before any
/// peer's ping timeout, rarely enough that the three system calls of a
/// look cost a sending thread nothing measurable.
const READ_AHEAD_EVERY: Duration = Duration::from_millis(100);

/// The bytes of items a send reads ahead for the next reads before it
/// reads no further, as wsmachine-tokio's sends do ([`cost`]).
const READ_AHEAD_LIMIT: usize = 64 * 1024;

/// What an item read ahead counts against [`READ_AHEAD_LIMIT`]: its
/// payload and its place in the queue, so that a flood of empty messages
/// or pings is bounded as large messages are.
fn cost(item: &Incoming) -> usize {
    let payload = match item {
        Incoming::Message(message) => message.len(),
        Incoming::Ping(payload) | Incoming::Pong(payload) => payload.as_bytes().len(),
        Incoming::Close(_) => 0,
    };
    core::mem::size_of::<Incoming>() + payload
}

impl<S: Stream> WebSocket<S> {
    /// Reads ahead ([`read_arrived`](Self::read_arrived)) if no read call
    /// ran since the last send and a send last looked 100 ms ago or more:
    /// a send that answers what a read returned leaves the rest to the
    /// next read, and a thread that only sends pays the system calls of a
    /// look ten times a second at most. What each such send pays is the
    /// clock reading: about 30 ns, against a few hundred for the write.
    #[inline]
    pub(super) fn read_ahead_if_due(&mut self) -> Result<(), Error> {
        if core::mem::take(&mut self.read_since_send) {
            return Ok(());
        }
        let elapsed = self.epoch.elapsed();
        if elapsed < self.next_read_ahead {
            return Ok(());
        }
        self.next_read_ahead = elapsed + READ_AHEAD_EVERY;
        self.read_arrived(Instant::from_duration(elapsed))
    }

    /// Runs the timers, then takes the items the session holds and what
    /// has already arrived on the stream, without waiting, into `ahead`,
    /// so that the pings are answered and the peer's Close seen by the
    /// send that follows. Stops at the [`READ_AHEAD_LIMIT`] of messages
    /// waiting, and never runs while `read_piece` is inside a message.
    fn read_arrived(&mut self, now: Instant) -> Result<(), Error> {
        if self.in_pieces || self.transport_closed {
            return Ok(());
        }
        self.session.handle_timeout(now);
        if !self.take_ahead() {
            return Ok(());
        }
        match self.stream.try_read(self.session.read_buf()) {
            Ok(0) => self.session.receive_eof(),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => self.session.receive_eof(),
            Ok(n) => self.session.filled(n),
            Err(e) if is_retry(&e) || e.kind() == ErrorKind::Unsupported => return Ok(()),
            Err(e) => return Err(self.lost(e)),
        }
        self.take_ahead();
        Ok(())
    }

    /// Moves the session's items into `ahead` until it has none left
    /// (true: the stream may be read) or the messages waiting reach
    /// [`READ_AHEAD_LIMIT`].
    fn take_ahead(&mut self) -> bool {
        while self.ahead_bytes < READ_AHEAD_LIMIT {
            match self.session.poll_message() {
                Ok(Some(item)) => {
                    // Known at once: `close_frame` names it after the send
                    // it makes fail.
                    if let Incoming::Close(frame) = &item {
                        self.peer_close = Some(*frame);
                    }
                    self.ahead_bytes += cost(&item);
                    self.ahead.push_back(item);
                }
                Ok(None) => return true,
                // The session queued its Close; the send reports the
                // failure, and the reads report it as ever.
                Err(e) => self.error = Some(e),
            }
        }
        false
    }

    /// The next item: one read ahead first, then the session's.
    #[inline]
    pub(super) fn next_item(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        if self.ahead.is_empty() {
            return self.session.poll_message();
        }
        Ok(self.take_front())
    }

    /// Takes the first item read ahead.
    fn take_front(&mut self) -> Option<Incoming> {
        let item = self.ahead.pop_front()?;
        self.ahead_bytes -= cost(&item);
        Some(item)
    }

    /// The start of a lending read: whether a message was read ahead,
    /// now in `lent` for the borrow (the items before it taken, a Close
    /// noted); if not, the last one lent is dropped.
    pub(super) fn lend_ahead(&mut self) -> bool {
        self.read_since_send = true;
        self.lent = self.take_ahead_until_message();
        let lent = self.lent.is_some();
        if lent {
            self.flush_soon();
        }
        lent
    }

    /// Takes the items read ahead up to their first message, which it
    /// returns; notes a Close.
    fn take_ahead_until_message(&mut self) -> Option<Message> {
        while let Some(item) = self.take_front() {
            match item {
                Incoming::Message(message) => return Some(message),
                Incoming::Close(frame) => self.peer_close = Some(frame),
                Incoming::Ping(_) | Incoming::Pong(_) => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Connection, Session};
    use std::io::{self, Read, Write};

    /// A peer that has sent an endless run of one frame, all arrived:
    /// `try_read` always has more.
    struct Flood {
        frame: std::vec::Vec<u8>,
        /// Bytes handed out so far.
        taken: usize,
    }

    impl Flood {
        /// A WebSocket over a flood of `frame`.
        fn socket(frame: std::vec::Vec<u8>) -> WebSocket<Flood> {
            let session = Session::new(Connection::server(Config::default()));
            WebSocket::new(Flood { frame, taken: 0 }, session, std::time::Instant::now())
        }
    }

    impl Read for Flood {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(ErrorKind::WouldBlock.into())
        }
    }

    impl Write for Flood {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Stream for Flood {
        fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            for (i, byte) in buf.iter_mut().enumerate() {
                *byte = self.frame[(self.taken + i) % self.frame.len()];
            }
            self.taken += buf.len();
            Ok(buf.len())
        }
    }

    /// Looks at what arrived until one reads nothing more; returns the
    /// bytes read then.
    fn look_until_full(ws: &mut WebSocket<Flood>) -> usize {
        let now = Instant::from_duration(Duration::ZERO);
        for _ in 0..1_000 {
            let before = ws.stream.taken;
            ws.read_arrived(now).unwrap();
            if ws.stream.taken == before {
                return before;
            }
        }
        panic!("the looks never stop reading");
    }

    /// However much has arrived, a send reads ahead up to 64 KiB of
    /// messages waiting (one past it at most), and no further until they
    /// are taken.
    #[test]
    fn what_sends_read_ahead_is_bounded_until_a_read_takes_it() {
        // 1 KiB binary messages, masked with a zero key.
        let mut frame = std::vec![0x82, 0x80 | 126, 0x04, 0x00, 0, 0, 0, 0];
        frame.extend_from_slice(&[7u8; 1024]);
        let mut ws = Flood::socket(frame);
        let one = core::mem::size_of::<Incoming>() + 1024;
        let held = look_until_full(&mut ws);
        assert!(ws.ahead_bytes >= READ_AHEAD_LIMIT, "{}", ws.ahead_bytes);
        assert!(ws.ahead_bytes < READ_AHEAD_LIMIT + one, "{}", ws.ahead_bytes);
        assert!(held < 2 * READ_AHEAD_LIMIT, "{held} bytes read");
        // Reads take messages; the looks refill from what the session
        // holds, then read again once it holds none.
        let now = Instant::from_duration(Duration::ZERO);
        for _ in 0..held / 1024 + 1 {
            assert_eq!(ws.read().unwrap().map(|m| m.len()), Some(1024));
            ws.read_arrived(now).unwrap();
            assert!(ws.ahead_bytes < READ_AHEAD_LIMIT + one, "{}", ws.ahead_bytes);
        }
        assert!(ws.stream.taken > held);
    }

    /// Items with no payload count too: a flood of empty pings read ahead
    /// stops at the same bound, in items, as large messages do in bytes.
    #[test]
    fn a_flood_of_empty_pings_read_ahead_is_bounded() {
        let mut ws = Flood::socket(std::vec![0x89, 0x80, 0, 0, 0, 0]);
        look_until_full(&mut ws);
        let most = READ_AHEAD_LIMIT / core::mem::size_of::<Incoming>() + 1;
        assert!(ws.ahead.len() <= most, "{} pings waiting", ws.ahead.len());
        assert!(matches!(ws.read_incoming().unwrap(), Some(Incoming::Ping(_))));
    }
}
