//! Time as an input: keepalive pings, dead-peer detection and the close
//! handshake timeout, as deadlines the caller honours.
//!
//! The receive path only sets a flag when bytes arrive; every deadline is
//! worked out here, from a few stamps, in O(1). [`Connection::poll_timeout`]
//! and [`Connection::handle_timeout`] share one computation
//! ([`Connection::deadlines`]), so they always agree on what is due.

use super::Connection;
use crate::close::{CloseCode, CloseFrame};
use crate::conn::Event;
use crate::error::ProtocolError;
use crate::random::RandomSource;
use crate::time::Instant;
use core::num::NonZeroU32;

/// The reason on the 1006 event when the peer's Close never came.
const CLOSE_TIMEOUT_REASON: &str = "close handshake timeout";

/// The timers' stamps and the queued keepalive Ping: 2 instants and 5 flags.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timers {
    /// When activity was last seen: the first `handle_timeout` after bytes
    /// arrived, or the one that started the timers.
    last_rx: Instant,
    /// While open, when the outstanding keepalive Ping was queued; once our
    /// Close is sent, when the first `handle_timeout` saw it sent.
    mark: Instant,
    /// The first `handle_timeout` has given the timers a time base.
    started: bool,
    /// Bytes arrived since `last_rx` was stamped. Set by `receive`, the only
    /// thing the receive path does for the timers.
    pub(super) rx_activity: bool,
    /// A keepalive Ping was queued and nothing arrived since.
    ping_outstanding: bool,
    /// `mark` holds when our Close was seen sent.
    close_started: bool,
    /// A keepalive Ping (empty payload) is queued for `poll_transmit`.
    pub(super) pending_ping: bool,
}

/// Every deadline the timers have now, each `None` when it does not apply.
#[derive(Clone, Copy, Default)]
struct Deadlines {
    /// The timers need a time base (a stamp) before anything else: at once.
    stamp: bool,
    /// Give up on the close handshake.
    close: Option<Instant>,
    /// Fail: nothing arrived for `idle_timeout`.
    idle: Option<Instant>,
    /// Fail: nothing arrived since the keepalive Ping.
    ping_timeout: Option<Instant>,
    /// Send a keepalive Ping.
    keepalive: Option<Instant>,
}

impl Deadlines {
    fn earliest(&self) -> Option<Instant> {
        if self.stamp {
            return Some(Instant::ZERO);
        }
        [self.close, self.idle, self.ping_timeout, self.keepalive].into_iter().flatten().min()
    }
}

fn after(t: Instant, millis: NonZeroU32) -> Instant {
    Instant::from_millis(t.as_millis().saturating_add(u64::from(millis.get())))
}

impl<R: RandomSource> Connection<R> {
    /// The next instant at which [`handle_timeout`](Self::handle_timeout)
    /// has work, or `None` when no timer is running.
    ///
    /// Timers run only when [`Config`](crate::Config) sets one
    /// (`ping_interval`, `idle_timeout`, `close_timeout`), until the
    /// connection fails, the transport ends or the caller should close it.
    /// The answer is [`Instant::ZERO`] (due at once) when the timers need
    /// to read the time: before the first `handle_timeout`, and once our
    /// Close was sent, to start the close timeout.
    ///
    /// The deadline changes only through calls on the connection, so ask
    /// again after each of them; it costs a few comparisons.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines().earliest()
    }

    /// Acts on every deadline that is due at `now`; does nothing (and
    /// changes nothing) when `now` is before [`poll_timeout`](Self::poll_timeout).
    ///
    /// `now` is measured from the caller's epoch (see [`Instant`]) and must
    /// not go backwards. Calling this exactly at the instant `poll_timeout`
    /// gave always makes progress: a stamp is taken, a Ping is queued, or
    /// the connection ends, and the next deadline is later than `now`.
    ///
    /// - **Keepalive:** queues a Ping (drain it with
    ///   [`poll_transmit`](Self::poll_transmit)).
    /// - **Dead peer** (`ping_timeout`, `idle_timeout`): fails the connection
    ///   with [`ProtocolError::PingTimeout`] or [`ProtocolError::IdleTimeout`],
    ///   queues Close 1011 with the reason "keepalive ping timeout" or
    ///   "idle timeout", and returns an [`Event::Close`] with code 1006
    ///   (the peer sent no Close) and the same reason.
    /// - **Close timeout:** gives up waiting, as if the transport had ended:
    ///   [`should_close_transport`](Self::should_close_transport) becomes
    ///   true and, if the peer's Close never came, an [`Event::Close`] with
    ///   code 1006 is returned, as [`receive_eof`](Self::receive_eof) does.
    ///
    /// Bytes that arrived are noted by `receive` and seen here when a
    /// deadline falls due, which then starts its period again from `now`:
    /// the timers never fire early, and a silent peer is caught within one
    /// to two periods of its last byte.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{Config, Connection, Event, Instant};
    ///
    /// let config = Config { ping_interval: Some(Duration::from_secs(20)), ..Config::default() };
    /// let mut server = Connection::server(config);
    /// // The first call gives the timers their time base.
    /// assert_eq!(server.poll_timeout(), Some(Instant::ZERO));
    /// server.handle_timeout(Instant::from_millis(0));
    /// let deadline = server.poll_timeout().expect("keepalive runs");
    /// assert_eq!(deadline, Instant::from_millis(20_000));
    ///
    /// // Twenty quiet seconds later, a Ping is queued.
    /// assert!(server.handle_timeout(deadline).is_none());
    /// let mut out = Vec::new();
    /// server.poll_transmit(&mut out)?;
    /// assert_eq!(out, [0x89, 0x00]);
    /// # Ok::<(), wsmachine::BufferTooSmall>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Event<'static>> {
        match self.poll_timeout() {
            Some(due) if due <= now => {}
            _ => return None,
        }
        // Stamps first: what arrived, and when the timers or the close
        // handshake started. Each moves its deadlines past `now`.
        let t = &mut self.timers;
        if !t.started || t.rx_activity {
            t.started = true;
            t.rx_activity = false;
            t.ping_outstanding = false;
            t.last_rx = now;
        }
        if self.close_sent && !t.close_started {
            t.close_started = true;
            t.mark = now;
        }
        let d = self.deadlines();
        let due = |deadline: Option<Instant>| deadline.is_some_and(|at| at <= now);
        if due(d.close) {
            return self.give_up_closing();
        }
        if due(d.idle) {
            return Some(self.fail_dead_peer(ProtocolError::IdleTimeout));
        }
        if due(d.ping_timeout) {
            return Some(self.fail_dead_peer(ProtocolError::PingTimeout));
        }
        if due(d.keepalive) {
            self.timers.pending_ping = true;
            self.timers.ping_outstanding = true;
            self.timers.mark = now;
        }
        None
    }

    /// The one computation behind both `poll_timeout` and `handle_timeout`.
    fn deadlines(&self) -> Deadlines {
        let c = &self.config;
        let t = &self.timers;
        let configured = c.ping_interval.is_some() || c.idle_timeout.is_some() || c.close_timeout.is_some();
        if !configured || self.eof || self.failed.is_some() || self.should_close_transport() {
            return Deadlines::default();
        }
        if !t.started || (self.close_sent && !t.close_started && c.close_timeout.is_some()) {
            return Deadlines { stamp: true, ..Deadlines::default() };
        }
        let mut d = Deadlines::default();
        if self.close_sent {
            d.close = c.close_timeout.map(|ms| after(t.mark, ms));
        }
        // Once the peer's Close arrived the next move is ours (our Close,
        // then the close timeout), so silence is no longer the peer's fault.
        if !self.close_received {
            d.idle = c.idle_timeout.map(|ms| after(t.last_rx, ms));
        }
        // Keepalive only while open: no Ping may follow our Close (§5.5.1).
        if !self.close_sent && !self.close_received {
            if let Some(interval) = c.ping_interval {
                match (t.ping_outstanding, c.ping_timeout) {
                    (true, Some(timeout)) => d.ping_timeout = Some(after(t.mark, timeout)),
                    // Without a ping timeout, ping again each interval.
                    (true, None) => d.keepalive = Some(after(t.mark, interval)),
                    (false, _) => d.keepalive = Some(after(t.last_rx, interval)),
                }
            }
        }
        d
    }

    /// Dead peer: fail with `error`, whose Close (1011) carries its
    /// reason, and report the abrupt end (1006, no Close came) with that
    /// reason.
    fn fail_dead_peer(&mut self, error: ProtocolError) -> Event<'static> {
        self.fail(error);
        Event::Close(CloseFrame::new(CloseCode::ABNORMAL, error.reason()))
    }

    /// The close timeout passed: stop waiting, as if the transport ended.
    fn give_up_closing(&mut self) -> Option<Event<'static>> {
        let report = self.receive_eof();
        report.map(|_| Event::Close(CloseFrame::new(CloseCode::ABNORMAL, CLOSE_TIMEOUT_REASON)))
    }
}
