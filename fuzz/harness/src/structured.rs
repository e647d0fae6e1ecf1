//! Fuzz body for valid-but-unusual frame sequences.
//!
//! A [`Script`] describes frames a well-behaved but odd peer may send: empty
//! frames, payloads at the 125/126/65 535/65 536 length boundaries,
//! non-minimal length encodings (with `allow_non_minimal_lengths`), a control
//! frame between every pair of fragments, exactly `max_fragments` fragments,
//! text cut inside characters, and a Close with any valid code. The body
//! builds the bytes, feeds them to a server (masked) and a client
//! (unmasked) in the script's split sizes, and checks the events, the
//! automatic replies and the final state against what the script implies.
//!
//! The `structured` fuzz target derives `arbitrary::Arbitrary` for a mirror
//! of these types in the fuzz crate (so `arbitrary` is no dependency of this
//! crate), converts, and passes [`Script::encode`]'s bytes to
//! [`structured`]: that compact form is what regression files hold, and
//! what `cargo test` replays.

use alloc::string::String;
use alloc::vec::Vec;

use super::conn::{run_connection, run_connection_in_time, Record};
use super::time::{advance, with_timers};
use wsmachine::{
    apply_mask, CloseCode, Config, Connection, Event, FrameHeader, MessageKind, OpCode, ProtocolError, Role,
    SecureRandom, State, MAX_CLOSE_REASON,
};

/// Payload lengths at the edges of the length forms (RFC 6455 §5.2).
pub const BOUNDARIES: [usize; 9] = [0, 1, 2, 125, 126, 127, 65_535, 65_536, 65_537];

/// Characters a filled text payload is made of (1 to 4 bytes each).
const FILL_CHARS: [&str; 4] = ["a", "é", "€", "🦀"];

/// No more ops are turned into frames once the wire holds this much.
const MAX_WIRE: usize = 1 << 20;

/// How a frame's payload length is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    /// The shortest form, as RFC 6455 §5.2 requires.
    Minimal,
    /// The 16-bit form whatever the length (the 64-bit one above 65 535).
    Ext16,
    /// The 64-bit form whatever the length.
    Ext64,
}

/// A message's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// These bytes (made valid UTF-8, lossily, for a text message).
    Bytes(Vec<u8>),
    /// This text (as bytes for a binary message).
    Text(String),
    /// `BOUNDARIES[boundary % 9]` bytes: `byte` repeated, or for text the
    /// character `FILL_CHARS[byte % 4]` repeated, padded with `a` to the
    /// exact length.
    Fill { boundary: u8, byte: u8 },
}

/// A control frame sent between every two fragments of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Between {
    Nothing,
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// One data message, possibly fragmented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageOp {
    pub text: bool,
    pub content: Content,
    /// Cut points into the payload (each taken modulo `len + 1`, then
    /// sorted): `n` cuts make `n + 1` frames, repeated cuts empty ones.
    /// At most `max_fragments - 1` are used.
    pub cuts: Vec<u16>,
    /// Add empty frames until the message has exactly `max_fragments`.
    pub pad_to_max: bool,
    pub between: Between,
    pub form: LengthForm,
}

/// One thing the peer sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Message(MessageOp),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// How the script ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A Close with the `code`-th valid close code (modulo their number) and
    /// `reason` (cut to 123 bytes at a character boundary).
    Close { code: u16, reason: String },
    /// A Close without payload: reported as 1005.
    EmptyClose,
    /// The transport ends without a Close: reported as 1006.
    Eof,
    /// A message of `max_fragments + 1` frames: 1009 at the last header.
    OneFragmentTooMany,
}

/// A whole valid-but-unusual conversation from one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub allow_non_minimal: bool,
    /// `Config::max_fragments` is `1 + max_fragments % 64`.
    pub max_fragments: u8,
    /// Seeds the masking keys of the frames fed to the server.
    pub mask_seed: u8,
    /// Read sizes (`run_connection` cycles through them; 0: the rest).
    pub splits: Vec<u8>,
    pub ops: Vec<Op>,
    pub ending: Ending,
}

/// Every code a Close frame may carry (RFC 6455 §7.4): 1000–1003,
/// 1007–1011 and 3000–4999, in order.
pub fn valid_close_code(index: u16) -> CloseCode {
    const LOW: [u16; 9] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011];
    let index = usize::from(index) % VALID_CLOSE_CODES;
    match LOW.get(index) {
        Some(&code) => CloseCode(code),
        None => CloseCode(3000 + (index - LOW.len()) as u16),
    }
}

/// How many close codes are valid on the wire.
pub const VALID_CLOSE_CODES: usize = 9 + 2000;

// --- the compact byte form -------------------------------------------------

/// Reads the compact form; missing bytes read as zero, so any input is a
/// script.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn short(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8());
        self.bytes(n).to_vec()
    }

    fn control(&mut self) -> Vec<u8> {
        let mut p = self.short();
        p.truncate(125);
        p
    }

    fn long(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.bytes(n)
    }
}

fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(255);
    out.push(n as u8);
    out.extend_from_slice(&bytes[..n]);
}

fn put_long(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&bytes[..n]);
}

impl Script {
    /// Decodes the compact form (any bytes decode to some script).
    pub fn decode(data: &[u8]) -> Script {
        let mut r = Reader(data);
        let allow_non_minimal = r.u8() & 1 != 0;
        let max_fragments = r.u8();
        let mask_seed = r.u8();
        let splits = r.short();
        let count = r.u8();
        let mut ops = Vec::new();
        for _ in 0..count {
            let op = match r.u8() % 3 {
                0 => {
                    let flags = r.u8();
                    let content = match r.u8() % 3 {
                        0 => Content::Bytes(r.long().to_vec()),
                        1 => Content::Text(String::from_utf8_lossy(r.long()).into_owned()),
                        _ => Content::Fill { boundary: r.u8(), byte: r.u8() },
                    };
                    let between = match (flags >> 4) % 3 {
                        0 => Between::Nothing,
                        1 => Between::Ping(r.control()),
                        _ => Between::Pong(r.control()),
                    };
                    let cuts = (0..r.u8()).map(|_| r.u16()).collect();
                    let form = match (flags >> 2) % 4 {
                        1 => LengthForm::Ext16,
                        2 => LengthForm::Ext64,
                        _ => LengthForm::Minimal,
                    };
                    Op::Message(MessageOp {
                        text: flags & 1 != 0,
                        content,
                        cuts,
                        pad_to_max: flags & 2 != 0,
                        between,
                        form,
                    })
                }
                1 => Op::Ping(r.control()),
                _ => Op::Pong(r.control()),
            };
            ops.push(op);
        }
        let ending = match r.u8() % 4 {
            0 => {
                let code = r.u16();
                let reason = String::from_utf8_lossy(&r.short()).into_owned();
                Ending::Close { code, reason }
            }
            1 => Ending::EmptyClose,
            2 => Ending::Eof,
            _ => Ending::OneFragmentTooMany,
        };
        Script { allow_non_minimal, max_fragments, mask_seed, splits, ops, ending }
    }

    /// The compact form [`decode`](Self::decode) reads. Long parts are cut
    /// (255 split sizes, ops and short fields of 255 bytes, payloads of
    /// 65 535), so only a script within those sizes decodes to itself.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&[u8::from(self.allow_non_minimal), self.max_fragments, self.mask_seed]);
        put_short(&mut out, &self.splits);
        let ops = &self.ops[..self.ops.len().min(255)];
        out.push(ops.len() as u8);
        for op in ops {
            match op {
                Op::Message(m) => {
                    let form = match m.form {
                        LengthForm::Minimal => 0,
                        LengthForm::Ext16 => 1,
                        LengthForm::Ext64 => 2,
                    };
                    let between = match m.between {
                        Between::Nothing => 0,
                        Between::Ping(_) => 1,
                        Between::Pong(_) => 2,
                    };
                    out.push(0);
                    out.push(u8::from(m.text) | (u8::from(m.pad_to_max) << 1) | (form << 2) | (between << 4));
                    match &m.content {
                        Content::Bytes(b) => {
                            out.push(0);
                            put_long(&mut out, b);
                        }
                        Content::Text(t) => {
                            out.push(1);
                            put_long(&mut out, t.as_bytes());
                        }
                        Content::Fill { boundary, byte } => out.extend_from_slice(&[2, *boundary, *byte]),
                    }
                    if let Between::Ping(p) | Between::Pong(p) = &m.between {
                        put_short(&mut out, &p[..p.len().min(125)]);
                    }
                    let cuts = &m.cuts[..m.cuts.len().min(255)];
                    out.push(cuts.len() as u8);
                    for c in cuts {
                        out.extend_from_slice(&c.to_le_bytes());
                    }
                }
                Op::Ping(p) => {
                    out.push(1);
                    put_short(&mut out, &p[..p.len().min(125)]);
                }
                Op::Pong(p) => {
                    out.push(2);
                    put_short(&mut out, &p[..p.len().min(125)]);
                }
            }
        }
        match &self.ending {
            Ending::Close { code, reason } => {
                out.push(0);
                out.extend_from_slice(&code.to_le_bytes());
                put_short(&mut out, reason.as_bytes());
            }
            Ending::EmptyClose => out.push(1),
            Ending::Eof => out.push(2),
            Ending::OneFragmentTooMany => out.push(3),
        }
        out
    }
}

// --- building the wire -------------------------------------------------------

/// The frames of a script for one receiving role, and what that role must
/// make of them.
struct Wire {
    role: Role,
    form_allowed: bool,
    keys: u32,
    bytes: Vec<u8>,
}

impl Wire {
    /// A fresh masking key (xorshift: deterministic, and varied).
    fn key(&mut self) -> [u8; 4] {
        self.keys ^= self.keys << 13;
        self.keys ^= self.keys >> 17;
        self.keys ^= self.keys << 5;
        self.keys.to_le_bytes()
    }

    fn frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8], form: LengthForm) {
        let mask = (self.role == Role::Server).then(|| self.key());
        let len = payload.len() as u64;
        let form = if self.form_allowed { form } else { LengthForm::Minimal };
        match form {
            LengthForm::Minimal => {
                let header = FrameHeader::new(fin, opcode, mask, len);
                header.encode(&mut self.bytes).expect("a Vec grows");
            }
            LengthForm::Ext16 | LengthForm::Ext64 => {
                let mask_bit = if mask.is_some() { 0x80 } else { 0 };
                self.bytes.push((u8::from(fin) << 7) | opcode.bits());
                match u16::try_from(len) {
                    Ok(short) if form == LengthForm::Ext16 => {
                        self.bytes.push(mask_bit | 126);
                        self.bytes.extend_from_slice(&short.to_be_bytes());
                    }
                    _ => {
                        self.bytes.push(mask_bit | 127);
                        self.bytes.extend_from_slice(&len.to_be_bytes());
                    }
                }
                if let Some(key) = mask {
                    self.bytes.extend_from_slice(&key);
                }
            }
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.bytes[start..], key, 0);
        }
    }
}

/// A message's payload bytes, valid UTF-8 when `text`.
fn payload(content: &Content, text: bool) -> Vec<u8> {
    match content {
        Content::Bytes(b) if text => String::from_utf8_lossy(b).into_owned().into_bytes(),
        Content::Bytes(b) => b.clone(),
        Content::Text(t) => t.as_bytes().to_vec(),
        Content::Fill { boundary, byte } => {
            let len = BOUNDARIES[usize::from(*boundary) % BOUNDARIES.len()];
            if !text {
                return alloc::vec![*byte; len];
            }
            let c = FILL_CHARS[usize::from(*byte) % FILL_CHARS.len()];
            let mut s = c.repeat(len / c.len());
            while s.len() < len {
                s.push('a');
            }
            s.into_bytes()
        }
    }
}

/// Splits `len` bytes at `cuts` into at most `max` frames (exactly `max`
/// when `pad`), as (start, end) pairs.
fn fragments(len: usize, cuts: &[u16], max: usize, pad: bool) -> Vec<(usize, usize)> {
    let mut points: Vec<usize> = cuts.iter().map(|&c| usize::from(c) % (len + 1)).collect();
    points.truncate(max - 1);
    points.sort_unstable();
    if pad {
        points.resize(max - 1, len);
    }
    let mut out = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for p in points {
        out.push((start, p));
        start = p;
    }
    out.push((start, len));
    out
}

/// The frames for `role`, the records it must produce, and the records the
/// peer must get back from its automatic replies.
fn build(script: &Script, config: &Config, role: Role) -> (Vec<u8>, Vec<Record>, Vec<Record>) {
    let max = config.max_fragments as usize;
    let mut wire = Wire {
        role,
        form_allowed: config.allow_non_minimal_lengths,
        keys: 0x9E37_79B9 ^ u32::from(script.mask_seed),
        bytes: Vec::new(),
    };
    let mut expected = Vec::new();
    let mut replies = Vec::new();
    for op in &script.ops {
        if wire.bytes.len() > MAX_WIRE {
            break;
        }
        match op {
            Op::Ping(p) => {
                wire.frame(true, OpCode::Ping, p, LengthForm::Minimal);
                expected.push(Record::Ping(p.clone()));
                replies.push(Record::Pong(p.clone()));
            }
            Op::Pong(p) => {
                wire.frame(true, OpCode::Pong, p, LengthForm::Minimal);
                expected.push(Record::Pong(p.clone()));
            }
            Op::Message(m) => {
                let data = payload(&m.content, m.text);
                let frames = fragments(data.len(), &m.cuts, max, m.pad_to_max);
                let kind = if m.text { MessageKind::Text } else { MessageKind::Binary };
                for (i, &(start, end)) in frames.iter().enumerate() {
                    let opcode = if i > 0 { OpCode::Continuation } else { kind.opcode() };
                    let fin = i + 1 == frames.len();
                    wire.frame(fin, opcode, &data[start..end], m.form);
                    match &m.between {
                        Between::Ping(p) if !fin => {
                            wire.frame(true, OpCode::Ping, p, m.form);
                            expected.push(Record::Ping(p.clone()));
                            replies.push(Record::Pong(p.clone()));
                        }
                        Between::Pong(p) if !fin => {
                            wire.frame(true, OpCode::Pong, p, m.form);
                            expected.push(Record::Pong(p.clone()));
                        }
                        _ => {}
                    }
                }
                expected.push(Record::Message(kind, data));
            }
        }
    }
    match &script.ending {
        Ending::Close { code, reason } => {
            let code = valid_close_code(*code);
            let mut end = reason.len().min(MAX_CLOSE_REASON);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            let mut payload = code.0.to_be_bytes().to_vec();
            payload.extend_from_slice(&reason.as_bytes()[..end]);
            wire.frame(true, OpCode::Close, &payload, LengthForm::Minimal);
            expected.push(Record::Close(code, reason.as_bytes()[..end].to_vec()));
            replies.push(Record::Close(code, reason.as_bytes()[..end].to_vec()));
        }
        Ending::EmptyClose => {
            wire.frame(true, OpCode::Close, &[], LengthForm::Minimal);
            expected.push(Record::Close(CloseCode::NO_STATUS, Vec::new()));
            replies.push(Record::Close(CloseCode::NO_STATUS, Vec::new()));
        }
        Ending::Eof => {}
        Ending::OneFragmentTooMany => {
            for i in 0..=max {
                let opcode = if i > 0 { OpCode::Continuation } else { OpCode::Binary };
                wire.frame(i == max, opcode, b"x", LengthForm::Minimal);
            }
            expected.push(Record::Error(ProtocolError::TooManyFragments));
            let reason = ProtocolError::TooManyFragments.reason();
            replies.push(Record::Close(CloseCode::MESSAGE_TOO_BIG, reason.as_bytes().to_vec()));
        }
    }
    (wire.bytes, expected, replies)
}

/// Runs a script against both roles and checks everything it implies.
pub fn run_script(script: &Script) {
    let config = Config {
        allow_non_minimal_lengths: script.allow_non_minimal,
        max_fragments: 1 + u32::from(script.max_fragments % 64),
        ..Config::default()
    };
    for role in [Role::Server, Role::Client] {
        let (wire, expected, replies) = build(script, &config, role);
        let mut conn = match role {
            Role::Server => Connection::server(config),
            Role::Client => Connection::client(config, SecureRandom::from_seed([5; 32])),
        };
        let (got, sent) = run_connection(&mut conn, &wire, &script.splits);
        assert_eq!(got, expected, "{role:?} received");
        let end = match script.ending {
            Ending::Eof => {
                let event = conn.receive_eof();
                assert!(matches!(event, Some(Event::Close(c)) if c.code() == CloseCode::ABNORMAL), "{event:?}");
                State::Closed
            }
            Ending::OneFragmentTooMany => State::Failed(ProtocolError::TooManyFragments),
            _ => State::Closed,
        };
        assert_eq!(conn.state(), end, "{role:?} final state");
        // §7.1.1: the server closes the transport first, the client waits
        // for it unless something went wrong.
        let closes = role == Role::Server || !matches!(script.ending, Ending::Close { .. } | Ending::EmptyClose);
        assert_eq!(conn.should_close_transport(), closes, "{role:?}");

        // The automatic replies, read by the other role.
        let mut peer = match role {
            Role::Server => Connection::client(config, SecureRandom::from_seed([6; 32])),
            Role::Client => Connection::server(config),
        };
        let (back, _) = run_connection(&mut peer, &sent, &[]);
        assert_eq!(back, replies, "{role:?} answered");
        // A Close among the replies made the peer echo it: it is done too.
        let closed = replies.iter().any(|r| matches!(r, Record::Close(..)));
        assert_eq!(peer.state(), if closed { State::Closed } else { State::Open });
    }
    run_script_in_time(script, config);
}

/// The script again with every timer on, each read after a pause of its
/// split value × 20 ms: keepalive Pings go out, and a pause too long makes
/// the connection give up on the peer. What it received is then a prefix of
/// the script, and the peer reads a Close 1011 with the reason the
/// connection reported (with 1006) to its application. Otherwise everything
/// is as without timers, and once the script ended no timer reports more.
fn run_script_in_time(script: &Script, config: Config) {
    for role in [Role::Server, Role::Client] {
        let (wire, expected, replies) = build(script, &config, role);
        let mut conn = match role {
            Role::Server => Connection::server(with_timers(config)),
            Role::Client => Connection::client(with_timers(config), SecureRandom::from_seed([5; 32])),
        };
        let mut now = 0;
        let (got, mut sent) = run_connection_in_time(&mut conn, &wire, &script.splits, Some(&mut now));
        let gave_up = match got.split_last() {
            Some((Record::Close(code, reason), before)) if *code == CloseCode::ABNORMAL => {
                assert!(expected.starts_with(before), "{role:?}: a prefix of the script before giving up");
                Some(reason.clone())
            }
            _ => None,
        };
        if gave_up.is_none() {
            assert_eq!(got, expected, "{role:?} received, in time");
            if script.ending == Ending::Eof {
                assert!(conn.receive_eof().is_some());
            }
            // After the script, time runs out every timer left: nothing more
            // is reported, and the transport is to be closed.
            let until = now + 60_000;
            let timed = advance(&mut conn, &mut now, until, &mut sent);
            assert!(timed.ended.is_none(), "{role:?}: the end was already reported");
            assert!(conn.should_close_transport(), "{role:?} in state {:?}", conn.state());
        }

        let mut peer = match role {
            Role::Server => Connection::client(config, SecureRandom::from_seed([6; 32])),
            Role::Client => Connection::server(config),
        };
        let (back, _) = run_connection(&mut peer, &sent, &[]);
        // Keepalive Pings are the only Pings this side sends.
        let back: Vec<Record> = back.into_iter().filter(|r| !matches!(r, Record::Ping(_))).collect();
        match gave_up {
            None => assert_eq!(back, replies, "{role:?} answered, in time"),
            Some(reason) => {
                let error = match conn.state() {
                    State::Failed(e @ (ProtocolError::PingTimeout | ProtocolError::IdleTimeout)) => e,
                    other => panic!("{role:?} gave up in state {other:?}"),
                };
                let (last, before) = back.split_last().expect("the failure's Close");
                assert_eq!(reason, error.reason().as_bytes(), "{role:?} reported why it gave up");
                assert_eq!(last, &Record::Close(error.close_code(), reason), "both ends name the same end");
                assert!(replies.starts_with(before), "{role:?}: the replies before it");
            }
        }
    }
}

/// Fuzz body: a script in compact form (see [`Script::decode`]).
pub fn structured(data: &[u8]) {
    run_script(&Script::decode(data));
}
