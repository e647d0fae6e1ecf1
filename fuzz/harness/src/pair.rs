//! Fuzz body for two connections talking to each other, both ways at once.
//!
//! The input is a schedule: each step either makes one side send something
//! (text, binary, a fragment, a ping, a pong, its Close) or moves some of
//! the bytes one side wrote to the other side, cut wherever the input says.
//! Every side records what it wrote, in wire order (its own sends and the
//! automatic pongs and Close echo `poll_transmit` produced); at the end each
//! side must have received exactly what the other wrote, the close handshake
//! must have completed and `should_close_transport` must say what its
//! documentation promises for each role.
//!
//! With the timers on (a flag bit), each delivery step also moves virtual
//! time forward by the step's low bits: keepalive Pings go out, and a side
//! whose peer stays quiet too long gives up on it. Both ends must then still
//! agree on how the connection ended: what the side that gave up wrote (its
//! Close 1011) is what the other received, and every message before it
//! arrived intact.

use alloc::string::String;
use alloc::vec::Vec;

use super::conn::Record;
use super::time::{advance, with_timers};
use wsmachine::{
    CloseCode, CloseFrame, Config, Connection, Event, MessageKind, ProtocolError, Role, SecureRandom, SendError, State,
};

/// Both sides' message limit. Fragments that would take a message past it
/// are not sent (a sender may send more, and the receiver then refuses it
/// with 1009, but that is not the valid traffic this target checks).
const MAX_MESSAGE_SIZE: u64 = 1 << 20;

/// The close codes a `Close` step picks from (`NO_STATUS` means "no payload").
const CLOSE_CODES: [u16; 8] = [1000, 1001, 1003, 1005, 1008, 1011, 3000, 4999];

/// One end of the pair and what it has done.
struct Peer {
    conn: Connection,
    /// Bytes written and not yet delivered to the other side.
    wire: Vec<u8>,
    /// What the bytes it wrote say, in order: what the other side must receive.
    wrote: Vec<Record>,
    /// What it received, chunk boundaries erased.
    received: Vec<Record>,
    /// The data message being received, so far.
    rx_current: Vec<u8>,
    /// The fragmented message being sent: its kind, the bytes so far and,
    /// for text, the bytes of a character split across fragments.
    tx_message: Option<(MessageKind, Vec<u8>)>,
    tx_carry: Vec<u8>,
    /// The 1006 Close a timer reported: this side gave up on its peer.
    ended: Option<CloseFrame>,
}

impl Peer {
    fn new(conn: Connection) -> Self {
        Peer {
            conn,
            wire: Vec::new(),
            wrote: Vec::new(),
            received: Vec::new(),
            rx_current: Vec::new(),
            tx_message: None,
            tx_carry: Vec::new(),
            ended: None,
        }
    }

    /// Whether this side failed because its peer went quiet.
    fn timed_out(&self) -> bool {
        matches!(self.conn.state(), State::Failed(ProtocolError::PingTimeout | ProtocolError::IdleTimeout))
    }

    /// Lets time run on to `until` on this side (see [`advance`]).
    fn wait(&mut self, now: u64, until: u64) {
        let mut now = now;
        let timed = advance(&mut self.conn, &mut now, until, &mut self.wire);
        self.wrote.extend(timed.wrote);
        if let Some(frame) = timed.ended {
            assert!(self.ended.is_none(), "the end is reported once");
            self.ended = Some(frame);
            self.tx_message = None;
        }
    }

    /// Checks the outcome of a send: on success bytes were written, and on
    /// failure nothing was, and the failure is the one the state explains.
    fn sent(&mut self, result: Result<usize, SendError>, before: usize) -> bool {
        match result {
            Ok(n) => {
                assert_eq!(self.wire.len() - before, n);
                true
            }
            Err(e) => {
                assert_eq!(self.wire.len(), before, "a failed send wrote bytes");
                let explained = match e {
                    SendError::Closing => self.conn.state() != State::Open,
                    SendError::Failed(_) => self.timed_out(),
                    _ => false,
                };
                assert!(explained, "{e:?} in state {:?}", self.conn.state());
                false
            }
        }
    }

    /// One send step, `op` choosing what and `body` giving the bytes.
    fn send(&mut self, op: u8, body: &[u8], cut: usize) {
        let before = self.wire.len();
        match op % 8 {
            0 | 1 if self.tx_message.is_none() => {
                let text = String::from_utf8_lossy(body);
                let (result, record) = if op % 8 == 0 {
                    let r = self.conn.send_text(&text, &mut self.wire);
                    (r, Record::Message(MessageKind::Text, text.as_bytes().to_vec()))
                } else {
                    let r = self.conn.send_binary(body, &mut self.wire);
                    (r, Record::Message(MessageKind::Binary, body.to_vec()))
                };
                if self.sent(result, before) {
                    self.wrote.push(record);
                }
            }
            0 | 1 => {
                // A whole message inside a fragmented one is refused.
                let r = self.conn.send_binary(body, &mut self.wire);
                let refused = matches!(r, Err(SendError::MessageInProgress | SendError::Closing))
                    || (self.timed_out() && matches!(r, Err(SendError::Failed(_))));
                assert!(refused, "{r:?}");
                assert_eq!(self.wire.len(), before);
            }
            2..=4 => {
                let fin = op % 8 == 4;
                let kind = match &self.tx_message {
                    Some((kind, _)) => *kind,
                    None if op & 0x10 != 0 => MessageKind::Text,
                    None => MessageKind::Binary,
                };
                // Valid traffic stays within the receiver's message limit:
                // a fragment that would take the message (with the text
                // still carried for later fragments) past it is not sent.
                let body_len = match kind {
                    MessageKind::Binary => body.len(),
                    MessageKind::Text => String::from_utf8_lossy(body).len(),
                };
                let so_far = self.tx_message.as_ref().map_or(0, |(_, acc)| acc.len()) + self.tx_carry.len();
                if (so_far + body_len) as u64 > MAX_MESSAGE_SIZE {
                    return;
                }
                // Text fragments: valid text as a whole, cut at any byte, so a
                // character may straddle two fragments.
                let chunk: Vec<u8> = match kind {
                    MessageKind::Binary => body.to_vec(),
                    MessageKind::Text => {
                        let mut all = core::mem::take(&mut self.tx_carry);
                        all.extend_from_slice(String::from_utf8_lossy(body).as_bytes());
                        let at = if fin || all.is_empty() { all.len() } else { cut % (all.len() + 1) };
                        self.tx_carry = all.split_off(at);
                        all
                    }
                };
                let result = self.conn.send_fragment(kind, &chunk, fin, &mut self.wire);
                if self.sent(result, before) {
                    let (_, mut acc) = self.tx_message.take().unwrap_or((kind, Vec::new()));
                    acc.extend_from_slice(&chunk);
                    if fin {
                        self.wrote.push(Record::Message(kind, acc));
                    } else {
                        self.tx_message = Some((kind, acc));
                    }
                } else if kind == MessageKind::Text {
                    // Put the cut-off tail back in front of the carry.
                    let mut carry = chunk;
                    carry.append(&mut self.tx_carry);
                    self.tx_carry = carry;
                }
            }
            5 | 6 => {
                let payload = &body[..body.len().min(125)];
                let (result, record) = if op % 8 == 5 {
                    (self.conn.send_ping(payload, &mut self.wire), Record::Ping(payload.to_vec()))
                } else {
                    (self.conn.send_pong(payload, &mut self.wire), Record::Pong(payload.to_vec()))
                };
                if self.sent(result, before) {
                    self.wrote.push(record);
                }
            }
            _ => self.close(op >> 3, body),
        }
    }

    /// Sends our Close (once; nothing may follow it).
    fn close(&mut self, pick: u8, reason: &[u8]) {
        let code = CloseCode(CLOSE_CODES[usize::from(pick) % CLOSE_CODES.len()]);
        let reason = if code == CloseCode::NO_STATUS {
            String::new()
        } else {
            let text = String::from_utf8_lossy(&reason[..reason.len().min(40)]);
            text.chars().take(30).collect()
        };
        let before = self.wire.len();
        let result = self.conn.send_close(code, &reason, &mut self.wire);
        if self.sent(result, before) {
            self.wrote.push(Record::Close(code, reason.into_bytes()));
            self.tx_message = None;
        }
    }

    /// Feeds bytes the other side wrote, in one read, draining automatic
    /// replies after every call as the crate documents.
    fn deliver(&mut self, bytes: &mut [u8]) {
        let (mut pos, len) = (0, bytes.len());
        while pos < len {
            let state_before = self.conn.state();
            let r = match self.conn.receive(&mut bytes[pos..]) {
                Ok(r) => r,
                // A side that gave up on its peer reads nothing more.
                Err(ProtocolError::PingTimeout | ProtocolError::IdleTimeout) if self.timed_out() => return,
                Err(e) => panic!("valid traffic failed with {e:?}"),
            };
            assert!(r.consumed <= len - pos);
            assert!(r.event.is_some() || r.consumed == len - pos, "no event means all consumed");
            pos += r.consumed;
            let mut expect_pong = None;
            let mut expect_echo = None;
            match r.event {
                Some(Event::Text { data, fin, .. }) | Some(Event::Binary { data, fin, .. }) => {
                    let kind = if matches!(r.event, Some(Event::Text { .. })) {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    self.rx_current.extend_from_slice(data);
                    if fin {
                        let message = core::mem::take(&mut self.rx_current);
                        if kind == MessageKind::Text {
                            assert!(core::str::from_utf8(&message).is_ok());
                        }
                        self.received.push(Record::Message(kind, message));
                    }
                }
                Some(Event::Ping(p)) => {
                    self.received.push(Record::Ping(p.to_vec()));
                    // §5.5.2: answered with a pong, unless our Close went out.
                    if self.conn.config().auto_pong && state_before == State::Open {
                        expect_pong = Some(p.to_vec());
                    }
                }
                Some(Event::Pong(p)) => self.received.push(Record::Pong(p.to_vec())),
                Some(Event::Close(c)) => {
                    self.received.push(Record::Close(c.code(), c.reason().as_bytes().to_vec()));
                    match state_before {
                        // §5.5.1: the echo carries the peer's code (and reason).
                        State::Open => {
                            assert_eq!(self.conn.state(), State::CloseReceived);
                            expect_echo = Some((c.code(), c.reason().as_bytes().to_vec()));
                        }
                        State::CloseSent => assert_eq!(self.conn.state(), State::Closed),
                        other => panic!("a Close event in state {other:?}"),
                    }
                }
                None => {}
            }
            assert_eq!(self.conn.wants_write(), expect_pong.is_some() || expect_echo.is_some());
            let before = self.wire.len();
            let n = self.conn.poll_transmit(&mut self.wire).expect("a Vec grows");
            assert_eq!(self.wire.len() - before, n);
            assert!(!self.conn.wants_write());
            if n == 0 {
                assert!(expect_pong.is_none() && expect_echo.is_none());
            }
            if let Some(p) = expect_pong {
                self.wrote.push(Record::Pong(p));
            }
            if let Some((code, reason)) = expect_echo {
                self.wrote.push(Record::Close(code, reason));
                assert_eq!(self.conn.state(), State::Closed, "the echo completes our side");
                self.tx_message = None;
            }
        }
    }
}

/// Moves up to `n` bytes (all when `n` is 0) of `from`'s output to `to`.
fn transfer(from: &mut Peer, to: &mut Peer, n: usize) {
    let n = if n == 0 { from.wire.len() } else { n.min(from.wire.len()) };
    let mut bytes: Vec<u8> = from.wire.drain(..n).collect();
    to.deliver(&mut bytes);
}

/// Fuzz body: a client and a server, each with its own script of sends,
/// exchanging bytes both ways in an interleaved schedule with arbitrary
/// split points; every message arrives identical and in order on each
/// side, and the close handshake completes whoever starts it.
pub fn pair(mut data: &[u8]) {
    let flags = data.first().copied().unwrap_or(0);
    data = data.get(1..).unwrap_or(&[]);
    let config = Config { auto_pong: flags & 1 == 0, max_message_size: MAX_MESSAGE_SIZE, ..Config::default() };
    let timers = flags & 0x20 != 0;
    let config = if timers { with_timers(config) } else { config };
    let closer_is_client = flags & 2 == 0;
    // Virtual time, in milliseconds; delivery steps move it when timers run.
    let mut now = 0;
    let mut client = Peer::new(Connection::client(config, SecureRandom::from_seed([flags; 32])));
    let mut server = Peer::new(Connection::server(config));

    while let Some((&step, rest)) = data.split_first() {
        let arg = rest.first().copied().unwrap_or(0);
        let rest = rest.get(1..).unwrap_or(&[]);
        match step >> 6 {
            // Sends: `arg` is the body length (the body follows), or, with the
            // top bit of `step` clear and a length of 255, a long body that
            // crosses the 16-bit length form.
            0 | 1 => {
                let len = usize::from(arg);
                let body = &rest[..len.min(rest.len())];
                data = &rest[body.len()..];
                let long;
                let body = if len == 255 && step & 0x20 != 0 {
                    long = body.iter().copied().cycle().take(65_536 + usize::from(step & 0x7)).collect::<Vec<u8>>();
                    if long.is_empty() {
                        &[][..]
                    } else {
                        &long[..]
                    }
                } else {
                    body
                };
                let peer = if step >> 6 == 0 { &mut client } else { &mut server };
                peer.send(step, body, usize::from(arg) * 7 + usize::from(step));
            }
            // Deliveries: `arg` bytes (0: all) one way or the other, after
            // `step & 0x3f` × 100 ms of virtual time when the timers run.
            kind => {
                data = rest;
                if timers {
                    let until = now + u64::from(step & 0x3f) * 100;
                    client.wait(now, until);
                    server.wait(now, until);
                    now = until;
                }
                if kind == 2 {
                    transfer(&mut client, &mut server, usize::from(arg));
                } else {
                    transfer(&mut server, &mut client, usize::from(arg));
                }
            }
        }
    }

    // Whoever the input names closes now unless a Close went out already.
    let open = |p: &Peer| p.conn.state() == State::Open;
    if open(&client) && open(&server) {
        let closer = if closer_is_client { &mut client } else { &mut server };
        closer.close(flags >> 2, b"bye");
    }
    // Drain both ways until nothing moves: at most a few rounds.
    for _ in 0..4 {
        if client.wire.is_empty() && server.wire.is_empty() {
            break;
        }
        transfer(&mut client, &mut server, 0);
        transfer(&mut server, &mut client, 0);
    }
    assert!(client.wire.is_empty() && server.wire.is_empty(), "replies kept coming");

    if client.ended.is_some() || server.ended.is_some() {
        agree_on_a_timeout(&client, &server);
        return;
    }
    assert_eq!(server.received, client.wrote, "what the server received");
    assert_eq!(client.received, server.wrote, "what the client received");
    assert_eq!(client.conn.state(), State::Closed);
    assert_eq!(server.conn.state(), State::Closed);
    assert!(client.conn.is_closed() && server.conn.is_closed());
    // §7.1.1: the server closes the transport first; a client waits for it.
    assert!(server.conn.should_close_transport());
    assert_eq!(server.conn.poll_timeout(), None, "the server is done");
    if timers {
        // The server never closes the transport here: the client stops
        // waiting after its close timeout (perhaps already during the
        // schedule), with nothing more to report.
        client.wait(now, now + 60_000);
        assert!(client.ended.is_none(), "the Close was already reported");
        assert!(client.conn.should_close_transport());
    } else {
        assert!(!client.conn.should_close_transport());
        assert_eq!(client.conn.receive_eof(), None, "the peer's Close came first");
        assert!(client.conn.should_close_transport());
    }
    assert_eq!(client.conn.role(), Role::Client);
}

/// The ends after one or both gave up on the other: each received what the
/// other wrote (a side that gave up, a prefix of it), each is ended, and a
/// side that did not give up ended with the other's Close.
fn agree_on_a_timeout(client: &Peer, server: &Peer) {
    for (rx, tx) in [(server, client), (client, server)] {
        if rx.ended.is_some() {
            assert!(tx.wrote.starts_with(&rx.received), "a side that gave up read a prefix");
            let ended = rx.timed_out() || rx.conn.state() == State::Closed;
            assert!(ended, "{:?}", rx.conn.state());
            assert!(rx.conn.should_close_transport());
        } else {
            assert_eq!(rx.received, tx.wrote, "a side that did not give up read everything");
            assert_eq!(rx.conn.state(), State::Closed, "it saw the other's Close and answered");
            let last_close = rx.received.iter().rev().find(|r| matches!(r, Record::Close(..)));
            let sent_close = tx.wrote.iter().rev().find(|r| matches!(r, Record::Close(..)));
            assert_eq!(last_close, sent_close, "both ends name the same Close");
        }
    }
}
