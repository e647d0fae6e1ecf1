//! The control frames a connection holds between calls: a control payload
//! arriving across reads, the pong it owes and the Close it must write.
//!
//! Their bytes (about 380) live in one [`Cold`] slot, created the first
//! time one of them is needed: a control frame that arrives whole in one
//! read is unmasked in the caller's buffer and never copied here, so a
//! connection whose peer never pings, never splits a control frame and has
//! not closed yet holds only a pointer and three small fields. The flags
//! that say what is queued stay inline, so the check made after every event
//! ([`Connection::wants_write`](super::Connection::wants_write)) reads no
//! heap memory.

use super::cold::Cold;
use super::event::{ControlPayload, MAX_CONTROL_PAYLOAD};
use crate::close::{CloseCode, CloseFrame};
use crate::mask::apply_mask;

/// The payload bytes: the slots behind [`ControlState`].
#[derive(Debug, Clone)]
struct Slots {
    /// A control payload so far, still masked: `partial[..partial_len]`.
    partial: [u8; MAX_CONTROL_PAYLOAD],
    /// The pong to write, when [`ControlState::pong`] is set.
    pong: ControlPayload,
    /// The Close to write, when [`ControlState::close`] is set.
    close: CloseFrame,
}

impl Slots {
    fn empty() -> Self {
        Slots {
            partial: [0; MAX_CONTROL_PAYLOAD],
            pong: ControlPayload::from_frame(&[]),
            close: CloseFrame::new(CloseCode::NO_STATUS, ""),
        }
    }
}

/// A split control payload, the queued pong and the queued Close.
#[derive(Debug, Clone)]
pub(super) struct ControlState {
    slots: Cold<Slots>,
    /// Bytes of a split control payload kept so far.
    partial_len: u8,
    /// A pong answering the most recent ping is queued.
    pong: bool,
    /// A Close (the echo of the peer's, or ours after a failure) is queued.
    close: bool,
}

impl ControlState {
    pub(super) const fn new() -> Self {
        ControlState { slots: Cold::empty(), partial_len: 0, pong: false, close: false }
    }

    fn slots(&mut self) -> &mut Slots {
        self.slots.get_or_insert_with(Slots::empty)
    }

    /// Bytes of a split control payload kept so far.
    #[inline]
    pub(super) fn partial_len(&self) -> usize {
        usize::from(self.partial_len)
    }

    /// Keeps `bytes` of a control payload that goes on in a later read. The
    /// header check (§5.5: at most 125 bytes) guarantees they fit; bytes
    /// beyond 125 in all would be dropped.
    pub(super) fn push_partial(&mut self, bytes: &[u8]) {
        let start = self.partial_len();
        let end = (start + bytes.len()).min(MAX_CONTROL_PAYLOAD);
        self.slots().partial[start..end].copy_from_slice(&bytes[..end - start]);
        self.partial_len = end as u8;
    }

    /// The kept payload, unmasked with `mask`; the slot is free again.
    pub(super) fn take_partial(&mut self, mask: Option<[u8; 4]>) -> ControlPayload {
        let len = self.partial_len();
        self.partial_len = 0;
        let partial = &mut self.slots().partial[..len];
        if let Some(key) = mask {
            apply_mask(partial, key, 0);
        }
        ControlPayload::from_frame(partial)
    }

    /// Whether a pong or a Close is queued.
    #[inline]
    pub(super) fn has_queued(&self) -> bool {
        self.pong | self.close
    }

    /// Whether a Close is queued.
    #[inline]
    pub(super) fn has_close(&self) -> bool {
        self.close
    }

    /// The queued pong's payload.
    pub(super) fn pong(&self) -> Option<ControlPayload> {
        self.slots.get().filter(|_| self.pong).map(|s| s.pong)
    }

    /// Queues a pong with `payload`, replacing any queued one (§5.5.3
    /// allows answering only the most recent ping).
    pub(super) fn queue_pong(&mut self, payload: ControlPayload) {
        self.slots().pong = payload;
        self.pong = true;
    }

    pub(super) fn clear_pong(&mut self) {
        self.pong = false;
    }

    /// The queued Close.
    pub(super) fn close(&self) -> Option<CloseFrame> {
        self.slots.get().filter(|_| self.close).map(|s| s.close)
    }

    /// Queues `close`, replacing any queued one.
    pub(super) fn queue_close(&mut self, close: CloseFrame) {
        self.slots().close = close;
        self.close = true;
    }

    pub(super) fn clear_close(&mut self) {
        self.close = false;
    }
}

#[cfg(test)]
mod tests {
    use crate::{CloseCode, Config, Connection, Event, SecureRandom};

    /// Runs with and without `alloc` (`cargo test --lib
    /// --no-default-features`): the slots on the heap and inline behave
    /// the same. A server is pinged, then gets a pong and a Close split
    /// across reads before it drains anything: the pong it writes answers
    /// the ping, and the Close echo keeps its whole reason.
    #[test]
    fn the_queued_pong_outlives_split_control_frames_in_both_storages() {
        let mut client = Connection::client(Config::default(), SecureRandom::from_seed([2; 32]));
        let mut server = Connection::server(Config::default());
        let ping = [7u8; 125];
        let pong = [9u8; 125];
        let reason = "ü".repeat(61); // 122 bytes
        let mut frames = [[0u8; 131]; 3];
        let mut lens = [0; 3];
        lens[0] = client.send_ping(&ping, &mut frames[0]).expect("fits");
        lens[1] = client.send_pong(&pong, &mut frames[1]).expect("fits");
        lens[2] = client.send_close(CloseCode(4000), &reason, &mut frames[2]).expect("fits");

        let mut events = 0;
        for (frame, len) in frames.iter_mut().zip(lens) {
            // Whole for the ping; in two reads, cut inside the payload, for the others.
            let cuts: &[usize] = if events == 0 { &[len] } else { &[9, len] };
            let mut start = 0;
            for &end in cuts {
                let mut pos = start;
                while pos < end {
                    let r = server.receive(&mut frame[pos..end]).expect("valid frames");
                    pos += r.consumed;
                    match r.event {
                        Some(Event::Ping(p)) => assert_eq!((events, &*p), (0, &ping[..])),
                        Some(Event::Pong(p)) => assert_eq!((events, &*p), (1, &pong[..])),
                        Some(Event::Close(c)) => assert_eq!((events, c.reason()), (2, &reason[..])),
                        Some(other) => panic!("unexpected {other:?}"),
                        None => {}
                    }
                    events += usize::from(r.event.is_some());
                }
                start = end;
            }
        }
        assert_eq!(events, 3);

        let mut out = [0u8; 512];
        let n = server.poll_transmit(&mut out).expect("room");
        let mut pos = 0;
        let r = client.receive(&mut out[pos..n]).expect("a pong");
        assert!(matches!(r.event, Some(Event::Pong(p)) if *p == ping));
        pos += r.consumed;
        let r = client.receive(&mut out[pos..n]).expect("the echo");
        assert!(matches!(r.event, Some(Event::Close(c)) if c.code() == CloseCode(4000) && c.reason() == reason));
        assert_eq!(pos + r.consumed, n);
    }
}
