//! Virtual time for the fuzz bodies: a clock the schedule moves forward,
//! and the sleep loop a caller runs around `poll_timeout` and
//! `handle_timeout`, with the timers' promises checked at every deadline.

use alloc::vec::Vec;
use core::time::Duration;

use super::conn::Record;
use wsmachine::{CloseCode, CloseFrame, Config, Connection, Event, Instant, ProtocolError, State};

/// `config` with every timer on, short enough for a schedule of a few
/// hundred steps to reach each of them.
pub fn with_timers(config: Config) -> Config {
    Config {
        ping_interval: Some(Duration::from_millis(1_000)),
        ping_timeout: Some(Duration::from_millis(700)),
        idle_timeout: Some(Duration::from_millis(4_000)),
        close_timeout: Some(Duration::from_millis(2_000)),
        ..config
    }
}

/// What the timers did while time moved on.
#[derive(Debug, Default)]
pub struct Timed {
    /// The Close event a timer reported (always code 1006): the connection
    /// gave up on its peer.
    pub ended: Option<CloseFrame>,
    /// What the timers made the connection write, in order: keepalive
    /// Pings and the Close of a dead-peer failure.
    pub wrote: Vec<Record>,
}

/// Moves `now` to `until` as a caller's sleep loop does: `handle_timeout`
/// at every deadline on the way, then `poll_transmit` into `wire`. Checks
/// that each deadline makes progress (the next one is later), that a timer
/// reports only a 1006 Close and leaves the connection ended, and that what
/// it writes is one keepalive Ping or the failure's Close.
pub fn advance(conn: &mut Connection, now: &mut u64, until: u64, wire: &mut Vec<u8>) -> Timed {
    let mut timed = Timed::default();
    while let Some(due) = conn.poll_timeout() {
        let due = due.as_millis();
        if due > until {
            break;
        }
        *now = (*now).max(due);
        let before = conn.state();
        let event = conn.handle_timeout(Instant::from_millis(*now));
        if let Some(next) = conn.poll_timeout() {
            assert!(next.as_millis() > *now, "deadline {next:?} repeats at {now}");
        }
        let start = wire.len();
        let n = conn.poll_transmit(wire).expect("a Vec grows");
        assert_eq!(wire.len() - start, n);
        match event {
            None if n == 0 => {}
            None => {
                assert_eq!(before, State::Open, "keepalive only while open");
                assert_eq!(n, if conn.role() == wsmachine::Role::Client { 6 } else { 2 }, "one empty Ping");
                timed.wrote.push(Record::Ping(Vec::new()));
            }
            Some(Event::Close(frame)) => {
                assert_eq!(frame.code(), CloseCode::ABNORMAL, "the peer sent no Close");
                assert!(conn.should_close_transport(), "a timer's end closes the transport");
                match conn.state() {
                    State::Failed(e @ (ProtocolError::PingTimeout | ProtocolError::IdleTimeout)) => {
                        if n > 0 {
                            let reason = frame.reason().as_bytes().to_vec();
                            timed.wrote.push(Record::Close(e.close_code(), reason));
                        } else {
                            assert_eq!(before, State::CloseSent, "no Close only when ours went out");
                        }
                    }
                    State::Closed => assert_eq!(n, 0, "giving up on the close handshake writes nothing"),
                    other => panic!("a timer ended the connection in state {other:?}"),
                }
                assert_eq!(conn.poll_timeout(), None, "no timer after the end");
                timed.ended = Some(frame);
                break;
            }
            Some(other) => panic!("timers report only a Close, not {other:?}"),
        }
    }
    *now = (*now).max(until);
    timed
}
