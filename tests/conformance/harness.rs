//! The in-memory Autobahn harness.
//!
//! Two sides, as in the Autobahn testsuite:
//!
//! - The **fuzzer** is written here, independent of the crate's codec: a raw
//!   frame builder ([`Frame`], [`Script`]) that encodes exactly the frames an
//!   Autobahn case sends (any opcode, any RSV bits, FIN as given, masked with
//!   explicit keys when it plays the client) and remembers where the case's
//!   writes and waits fall ("as sent" chops), where every frame starts and
//!   ends, and the unmasked payload at every wire offset.
//! - The **testee** is a wsmachine [`Connection`] acting as an echo server
//!   (or, with the roles reversed, an echo client): every whole text/binary
//!   message is echoed with the same kind and payload (assembled with
//!   [`MessageAssembler`]), pings are answered by the automatic pong, the
//!   peer's Close is answered by the automatic echo, and `poll_transmit` is
//!   drained after every event and after every error.
//!
//! Every case is run fed as sent, whole, one byte at a time and in several
//! deterministic pseudo-random splits; each run must meet the expectation and
//! all runs must produce the same bytes, the same error and the same state.
//!
//! What a run checks beyond the Autobahn verdict itself:
//!
//! - every data event's bytes are exactly the unmasked payload bytes at the
//!   wire position they were borrowed from;
//! - every reply (echo, pong, Close echo) is written as soon as the frame
//!   that causes it has been fed, not later;
//! - a failure is reported while feeding the chunk that holds the offending
//!   byte (the fail window), never later, and no data event carries bytes at
//!   or past it;
//! - after a failure the error is sticky and its Close is written once;
//! - who closes the transport: the server after the handshake or a failure,
//!   the client after a failure, or only on end of stream after a clean close.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use wsmachine::{
    Config, Connection, Event, FrameHeader, HeaderStatus, Message, MessageAssembler, OpCode, ProtocolError, Role,
    SecureRandom, State,
};

/// Testee roles for cases that make sense both ways (sections 1–7).
pub const BOTH: &[Role] = &[Role::Server, Role::Client];
/// Testee roles for cases only run against a server (sections 9 and 10, as
/// the Autobahn fuzzing client runs them).
pub const SERVER: &[Role] = &[Role::Server];

// ---------------------------------------------------------------------------
// The fuzzer: frames and scripts
// ---------------------------------------------------------------------------

/// A frame the fuzzer sends, before encoding.
#[derive(Debug, Clone)]
pub struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: Vec<u8>,
}

/// A frame with any 4-bit opcode, FIN set and no RSV bits.
pub fn frame(opcode: u8, payload: impl AsRef<[u8]>) -> Frame {
    Frame { fin: true, rsv: 0, opcode: opcode & 0x0F, payload: payload.as_ref().to_vec() }
}

/// A text frame (opcode 0x1).
pub fn text(payload: impl AsRef<[u8]>) -> Frame {
    frame(0x1, payload)
}

/// A binary frame (opcode 0x2).
pub fn binary(payload: impl AsRef<[u8]>) -> Frame {
    frame(0x2, payload)
}

/// A continuation frame (opcode 0x0).
pub fn cont(payload: impl AsRef<[u8]>) -> Frame {
    frame(0x0, payload)
}

/// A ping (opcode 0x9).
pub fn ping(payload: impl AsRef<[u8]>) -> Frame {
    frame(0x9, payload)
}

/// A pong (opcode 0xA).
pub fn pong(payload: impl AsRef<[u8]>) -> Frame {
    frame(0xA, payload)
}

/// A Close frame with a status code and a reason (raw bytes, so invalid
/// UTF-8 can be sent).
pub fn close(code: u16, reason: impl AsRef<[u8]>) -> Frame {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_ref());
    frame(0x8, payload)
}

/// A Close frame with an arbitrary payload (empty, one byte, ...).
pub fn close_raw(payload: impl AsRef<[u8]>) -> Frame {
    frame(0x8, payload)
}

impl Frame {
    /// Sets or clears FIN.
    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// Sets the three RSV bits (0–7; 1 = RSV3 ... 4 = RSV1, as Autobahn counts).
    pub fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv & 0x07;
        self
    }
}

/// `pattern` repeated and cut to `len` bytes, as Autobahn's `payload_len`.
pub fn repeat_to(pattern: &[u8], len: usize) -> Vec<u8> {
    pattern.iter().copied().cycle().take(len).collect()
}

/// Where one frame the fuzzer sent sits on the wire.
#[derive(Debug, Clone, Copy)]
pub struct FrameInfo {
    pub opcode: u8,
    pub fin: bool,
    pub start: usize,
    pub payload_start: usize,
    pub end: usize,
}

/// The bytes a case sends, with its write boundaries and frame layout.
#[derive(Debug, Clone)]
pub struct Script {
    /// The testee's role: a server testee gets masked frames.
    role: Role,
    wire: Vec<u8>,
    /// `wire` with every payload unmasked: what data events must carry.
    plain: Vec<u8>,
    /// Offsets where the case starts a new write (after a sync, a wait or a chop).
    cuts: BTreeSet<usize>,
    frames: Vec<FrameInfo>,
    key_state: u32,
    /// `Some` when a case breaks the masking rule on purpose.
    masking: Option<bool>,
}

impl Script {
    pub fn new(role: Role) -> Self {
        Script {
            role,
            wire: Vec::new(),
            plain: Vec::new(),
            cuts: BTreeSet::new(),
            frames: Vec::new(),
            key_state: 0x1234_5678,
            masking: None,
        }
    }

    /// Overrides the masking rule for the frames sent from now on: `true`
    /// masks them, `false` does not, whatever the role (to break §5.1 on
    /// purpose).
    pub fn set_masking(&mut self, masked: bool) {
        self.masking = Some(masked);
    }

    /// The next masking key: explicit and deterministic (xorshift32), with
    /// all four bytes usually non-zero so a missing unmask shows.
    fn next_key(&mut self) -> [u8; 4] {
        let mut x = self.key_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.key_state = x;
        x.to_be_bytes()
    }

    fn push_frame(&mut self, f: &Frame) -> usize {
        let start = self.wire.len();
        let masked = self.masking.unwrap_or(self.role == Role::Server);
        let len = f.payload.len();
        let mut head = vec![(u8::from(f.fin) << 7) | (f.rsv << 4) | f.opcode];
        let mask_bit = if masked { 0x80 } else { 0 };
        if len < 126 {
            head.push(mask_bit | len as u8);
        } else if len <= 0xFFFF {
            head.push(mask_bit | 126);
            head.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            head.push(mask_bit | 127);
            head.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let key = if masked { Some(self.next_key()) } else { None };
        if let Some(k) = key {
            head.extend_from_slice(&k);
        }
        self.wire.extend_from_slice(&head);
        self.plain.extend_from_slice(&head);
        let payload_start = self.wire.len();
        match key {
            Some(k) => self.wire.extend(f.payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4])),
            None => self.wire.extend_from_slice(&f.payload),
        }
        self.plain.extend_from_slice(&f.payload);
        self.frames.push(FrameInfo { opcode: f.opcode, fin: f.fin, start, payload_start, end: self.wire.len() });
        self.frames.len() - 1
    }

    fn cut_here(&mut self) {
        if !self.wire.is_empty() {
            self.cuts.insert(self.wire.len());
        }
    }

    /// Sends a frame in the same write as the frames before it (Autobahn
    /// `sendFrame` without `sync`). Returns the frame's index.
    pub fn send(&mut self, f: Frame) -> usize {
        self.push_frame(&f)
    }

    /// Sends a frame as a write of its own (Autobahn `sync = True`).
    pub fn send_sync(&mut self, f: Frame) -> usize {
        self.cut_here();
        let i = self.push_frame(&f);
        self.cut_here();
        i
    }

    /// Sends a frame's octets in writes of `chop` bytes (Autobahn `chopsize`).
    pub fn send_chopped(&mut self, f: Frame, chop: usize) -> usize {
        self.cut_here();
        let i = self.push_frame(&f);
        let info = self.frames[i];
        let mut at = info.start + chop;
        while at < info.end {
            self.cuts.insert(at);
            at += chop;
        }
        self.cut_here();
        i
    }

    /// Sends one frame in pieces with a wait after each: the header and the
    /// payload up to `payload_cuts[0]`, then up to `payload_cuts[1]`, ...
    /// (Autobahn `beginMessageFrame` + `sendMessageFrameData` + `continueLater`).
    pub fn send_in_pieces(&mut self, f: Frame, payload_cuts: &[usize]) -> usize {
        self.cut_here();
        let i = self.push_frame(&f);
        let info = self.frames[i];
        for &c in payload_cuts {
            assert!(info.payload_start + c < info.end, "piece boundary outside the payload");
            self.cuts.insert(info.payload_start + c);
        }
        self.cut_here();
        i
    }

    /// A wait (Autobahn `continueLater`): what follows is a new write.
    pub fn wait(&mut self) {
        self.cut_here();
    }

    pub fn frame_info(&self, i: usize) -> FrameInfo {
        self.frames[i]
    }

    /// The fail window of a frame whose header breaks a rule: from its first
    /// byte to its last header byte.
    pub fn header_window(&self, i: usize) -> (usize, usize) {
        let f = self.frames[i];
        (f.start, f.payload_start - 1)
    }

    /// The fail window of a frame that is only known to be invalid once
    /// (part of) its payload is in, e.g. a Close with a bad code or reason.
    pub fn frame_window(&self, i: usize) -> (usize, usize) {
        let f = self.frames[i];
        (f.start, f.end - 1)
    }

    /// The wire offset of the byte that makes the first text message invalid
    /// UTF-8: the first byte after which no continuation can make the text
    /// valid, or, for text cut short inside a character, the last byte of
    /// the final frame. `None` when every text message is valid.
    pub fn utf8_fail_at(&self) -> Option<usize> {
        let mut text: Vec<u8> = Vec::new();
        let mut good = 0; // text[..good] is known to be valid
        let mut in_text = false;
        for f in &self.frames {
            match f.opcode {
                0x1 => {
                    in_text = true;
                    text.clear();
                    good = 0;
                }
                0x0 if in_text => {}
                0x0..=0x7 => {
                    in_text = false;
                    continue;
                }
                _ => continue,
            }
            for (i, &b) in self.plain[f.payload_start..f.end].iter().enumerate() {
                text.push(b);
                match std::str::from_utf8(&text[good..]) {
                    Ok(_) => good = text.len(),
                    Err(e) if e.error_len().is_some() => return Some(f.payload_start + i),
                    Err(e) => good += e.valid_up_to(),
                }
            }
            if f.fin {
                if good != text.len() {
                    return Some(f.end - 1);
                }
                in_text = false;
            }
        }
        None
    }

    /// The utf8 fail window, for cases that expect 1007.
    pub fn utf8_window(&self) -> (usize, usize) {
        let at = self.utf8_fail_at().expect("the script sends invalid UTF-8");
        (at, at)
    }
}

// ---------------------------------------------------------------------------
// Chops
// ---------------------------------------------------------------------------

/// How the wire bytes are handed to `receive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chop {
    /// As the Autobahn case writes them: one chunk per write between syncs,
    /// waits and chops.
    AsSent,
    /// Everything in one buffer.
    Whole,
    /// One byte per call.
    Bytewise,
    /// Pseudo-random chunk lengths in `1..=max`, from a fixed seed.
    Random { seed: u64, max: usize },
}

/// The chops every case is run with.
pub const CHOPS: &[Chop] = &[
    Chop::AsSent,
    Chop::Whole,
    Chop::Bytewise,
    Chop::Random { seed: 1, max: 3 },
    Chop::Random { seed: 2, max: 17 },
    Chop::Random { seed: 3, max: 200 },
    Chop::Random { seed: 4, max: 5000 },
];

fn chunks(script: &Script, chop: Chop) -> Vec<(usize, usize)> {
    let n = script.wire.len();
    let mut bounds: Vec<usize> = match chop {
        Chop::AsSent => script.cuts.iter().copied().filter(|&c| c > 0 && c < n).collect(),
        Chop::Whole => Vec::new(),
        Chop::Bytewise => (1..n).collect(),
        Chop::Random { seed, max } => {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut at = 0;
            let mut v = Vec::new();
            loop {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                at += 1 + (x % max as u64) as usize;
                if at >= n {
                    break v;
                }
                v.push(at);
            }
        }
    };
    bounds.push(n);
    let mut out = Vec::with_capacity(bounds.len());
    let mut start = 0;
    for b in bounds {
        if b > start {
            out.push((start, b));
            start = b;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------

/// Something the testee writes back (other than its Close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

impl Reply {
    pub fn text(p: impl AsRef<[u8]>) -> Reply {
        Reply::Text(p.as_ref().to_vec())
    }
    pub fn binary(p: impl AsRef<[u8]>) -> Reply {
        Reply::Binary(p.as_ref().to_vec())
    }
    pub fn pong(p: impl AsRef<[u8]>) -> Reply {
        Reply::Pong(p.as_ref().to_vec())
    }
}

/// Whether `receive` must fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No error: the connection stays healthy through the close handshake.
    None,
    /// An error whose close code is this.
    Code(u16),
    /// An error; its close code is judged by `Expect::close_codes` alone.
    Required,
    /// Either (informational cases).
    Any,
}

/// What the strict "OK" verdict of a case requires of the testee.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Every frame the testee writes before its Close, in order.
    pub replies: Vec<Reply>,
    /// The status codes its Close may carry (Autobahn `closeCode`).
    pub close_codes: Vec<u16>,
    /// A Close without a status code is also fine (Autobahn: "or empty").
    pub close_without_code_ok: bool,
    pub failure: Failure,
    /// Wire offsets `(lo, hi)`: the failure must be reported while feeding a
    /// chunk that holds a byte in `lo..=hi`, and no data event may carry a
    /// byte at or after `lo`.
    pub fail_window: Option<(usize, usize)>,
    /// The fuzzer starts the close handshake with Close(1000) once the case's
    /// frames are sent (Autobahn `closedByMe` and `finishWhenDone`).
    pub fuzzer_closes: bool,
}

impl Expect {
    /// The replies, then the fuzzer closes with 1000 and the testee echoes it.
    pub fn echo(replies: Vec<Reply>) -> Expect {
        Expect {
            replies,
            close_codes: vec![1000],
            close_without_code_ok: false,
            failure: Failure::None,
            fail_window: None,
            fuzzer_closes: true,
        }
    }

    /// The script itself sends the fuzzer's Close; the testee answers it with
    /// one of `codes`.
    pub fn closed_by_script(replies: Vec<Reply>, codes: &[u16]) -> Expect {
        Expect { fuzzer_closes: false, close_codes: codes.to_vec(), ..Expect::echo(replies) }
    }

    /// The replies, then the testee fails the connection with `code`, which
    /// the offending input must trigger within `window`.
    pub fn fail(code: u16, replies: Vec<Reply>, window: (usize, usize)) -> Expect {
        Expect {
            replies,
            close_codes: vec![code],
            close_without_code_ok: false,
            failure: Failure::Code(code),
            fail_window: Some(window),
            fuzzer_closes: false,
        }
    }
}

// ---------------------------------------------------------------------------
// The testee
// ---------------------------------------------------------------------------

type Testee = Connection<SecureRandom>;

fn testee(role: Role, config: Config) -> Testee {
    match role {
        Role::Server => Connection::server(config),
        Role::Client => Connection::client(config, SecureRandom::from_seed([0x5A; 32])),
    }
}

/// One write by the testee: `out[..out_end]` was written by then, while the
/// first `wire_pos` wire bytes had been fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Write {
    out_end: usize,
    wire_pos: usize,
    after_error: bool,
}

/// What one run produced.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    out: Vec<u8>,
    writes: Vec<Write>,
    error: Option<ProtocolError>,
    /// The chunk being fed when the error came.
    error_chunk: Option<(usize, usize)>,
    /// The end of the highest wire range a data event carried.
    data_end: usize,
    messages: Vec<Message>,
    closes: Vec<u16>,
    /// `should_close_transport()` once everything was fed and drained.
    close_transport: bool,
    state: State,
    /// The event `receive_eof` returned at the end, and
    /// `should_close_transport()` after it.
    eof_event: Option<u16>,
    close_transport_after_eof: bool,
    /// `is_closed()` once everything was fed and drained.
    is_closed: bool,
    /// Invariant violations seen while feeding (not comparable across chops
    /// in general, but each one is a failure).
    problems: Vec<String>,
}

fn execute(script: &Script, config: Config, chop: Chop) -> Outcome {
    let role = script.role;
    let mut conn = testee(role, config);
    let mut assembler = MessageAssembler::new(config.max_message_size);
    let mut buf = script.wire.clone();
    let base = buf.as_ptr() as usize;
    let mut o = Outcome {
        out: Vec::new(),
        writes: Vec::new(),
        error: None,
        error_chunk: None,
        data_end: 0,
        messages: Vec::new(),
        closes: Vec::new(),
        close_transport: false,
        state: State::Open,
        eof_event: None,
        close_transport_after_eof: false,
        is_closed: false,
        problems: Vec::new(),
    };
    'feed: for (s, e) in chunks(script, chop) {
        let mut pos = s;
        while pos < e {
            let received = match conn.receive(&mut buf[pos..e]) {
                Ok(r) => r,
                Err(err) => {
                    o.error = Some(err);
                    o.error_chunk = Some((s, e));
                    break 'feed;
                }
            };
            let before = pos;
            if received.consumed > e - pos {
                o.problems.push(format!("receive consumed {} of {} bytes", received.consumed, e - pos));
                break 'feed;
            }
            if received.consumed == 0 && received.event.is_none() {
                o.problems.push(format!("receive made no progress at wire offset {pos}"));
                break 'feed;
            }
            pos += received.consumed;
            let Some(event) = received.event else { continue };
            match event {
                Event::Text { data, .. } | Event::Binary { data, .. } => {
                    if !data.is_empty() {
                        let off = data.as_ptr() as usize - base;
                        let end = off + data.len();
                        if off < before || end > pos {
                            o.problems.push(format!(
                                "data event borrowed wire {off}..{end}, outside the bytes consumed by the call ({before}..{pos})"
                            ));
                        } else if data != &script.plain[off..end] {
                            o.problems.push(format!(
                                "data event at wire {off}..{end} carries {:02x?}, the unmasked payload there is {:02x?}",
                                data,
                                &script.plain[off..end]
                            ));
                        }
                        o.data_end = o.data_end.max(end);
                    }
                    match assembler.push(&event) {
                        Ok(Some(message)) => {
                            let sent = match &message {
                                Message::Text(t) => conn.send_text(t, &mut o.out),
                                Message::Binary(b) => conn.send_binary(b, &mut o.out),
                            };
                            if let Err(err) = sent {
                                o.problems.push(format!("echo failed: {err:?}"));
                            }
                            o.writes.push(Write { out_end: o.out.len(), wire_pos: pos, after_error: false });
                            o.messages.push(message);
                        }
                        Ok(None) => {}
                        Err(err) => o
                            .problems
                            .push(format!("the assembler refused what the connection delivered as valid: {err:?}")),
                    }
                }
                Event::Ping(_) | Event::Pong(_) => {}
                Event::Close(frame) => o.closes.push(frame.code().0),
            }
            if let Err(err) = conn.poll_transmit(&mut o.out) {
                o.problems.push(format!("poll_transmit failed: {err:?}"));
            }
            o.writes.push(Write { out_end: o.out.len(), wire_pos: pos, after_error: false });
        }
    }
    if let Some(err) = o.error {
        if let Err(e) = conn.poll_transmit(&mut o.out) {
            o.problems.push(format!("poll_transmit after the error failed: {e:?}"));
        }
        o.writes.push(Write { out_end: o.out.len(), wire_pos: usize::MAX, after_error: true });
        let mut more = [0x89, 0x00];
        let again = conn.receive(&mut more);
        if again != Err(err) {
            o.problems.push(format!("the error is not sticky: the next receive returned {again:?}"));
        }
        let n = conn.poll_transmit(&mut o.out);
        if n != Ok(0) {
            o.problems.push(format!("a second poll_transmit after the error wrote again: {n:?}"));
        }
    }
    if conn.wants_write() {
        o.problems.push("wants_write() is still true after draining".into());
    }
    o.close_transport = conn.should_close_transport();
    o.is_closed = conn.is_closed();
    o.state = conn.state();
    o.eof_event = match conn.receive_eof() {
        Some(Event::Close(f)) => Some(f.code().0),
        Some(other) => {
            o.problems.push(format!("receive_eof returned {other:?}"));
            None
        }
        None => None,
    };
    o.close_transport_after_eof = conn.should_close_transport();
    // Keep only the consecutive-duplicate-free write list (empty writes are noise).
    let mut last = 0;
    o.writes.retain(|w| {
        let keep = w.out_end > last;
        last = last.max(w.out_end);
        keep
    });
    o
}

// ---------------------------------------------------------------------------
// Reading what the testee wrote
// ---------------------------------------------------------------------------

/// A frame the testee wrote, unmasked, with where it ends in the output.
#[derive(Debug, Clone)]
struct OutFrame {
    opcode: OpCode,
    fin: bool,
    payload: Vec<u8>,
    out_end: usize,
}

fn parse_output(out: &[u8], role: Role) -> Result<Vec<OutFrame>, String> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < out.len() {
        let (h, len) = match FrameHeader::decode(&out[at..]) {
            Ok(HeaderStatus::Complete { header, len }) => (header, len),
            Ok(HeaderStatus::Partial { needed }) => {
                return Err(format!("output ends inside a frame header at {at} ({needed} more needed)"))
            }
            Err(e) => return Err(format!("undecodable frame header at {at}: {e}")),
        };
        if !h.is_minimal_length(len) {
            return Err(format!("frame at {at} uses a non-minimal length"));
        }
        if h.rsv1 || h.rsv2 || h.rsv3 {
            return Err(format!("frame at {at} has RSV bits set"));
        }
        match (role, h.mask) {
            (Role::Server, Some(_)) => return Err(format!("the server masked its frame at {at}")),
            (Role::Client, None) => return Err(format!("the client did not mask its frame at {at}")),
            _ => {}
        }
        let start = at + len;
        let end = start + h.payload_len as usize;
        if end > out.len() {
            return Err(format!("output ends inside the payload of the frame at {at}"));
        }
        let mut payload = out[start..end].to_vec();
        if let Some(k) = h.mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        frames.push(OutFrame { opcode: h.opcode, fin: h.fin, payload, out_end: end });
        at = end;
    }
    Ok(frames)
}

/// The testee's replies and Close payloads, each with the output offset
/// where it ends.
type Written = (Vec<(Reply, usize)>, Vec<(Vec<u8>, usize)>);

/// Turns the testee's frames into replies (fragmented messages joined) and
/// its Close payloads.
fn replies_of(frames: &[OutFrame]) -> Result<Written, String> {
    let mut replies = Vec::new();
    let mut closes = Vec::new();
    let mut message: Option<(OpCode, Vec<u8>)> = None;
    for f in frames {
        match f.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let (op, mut data) = match (f.opcode, message.take()) {
                    (OpCode::Continuation, Some(m)) => m,
                    (OpCode::Continuation, None) => return Err("the testee sent a stray continuation".into()),
                    (_, Some(_)) => return Err("the testee interleaved two data messages".into()),
                    (op, None) => (op, Vec::new()),
                };
                data.extend_from_slice(&f.payload);
                if f.fin {
                    let r = if op == OpCode::Text { Reply::Text(data) } else { Reply::Binary(data) };
                    replies.push((r, f.out_end));
                } else {
                    message = Some((op, data));
                }
            }
            OpCode::Ping => replies.push((Reply::Ping(f.payload.clone()), f.out_end)),
            OpCode::Pong => replies.push((Reply::Pong(f.payload.clone()), f.out_end)),
            OpCode::Close => closes.push((f.payload.clone(), f.out_end)),
            OpCode::Reserved(op) => return Err(format!("the testee sent reserved opcode {op:#x}")),
        }
    }
    if message.is_some() {
        return Err("the testee left a data message unfinished".into());
    }
    Ok((replies, closes))
}

fn show(r: &Reply) -> String {
    fn bytes(b: &[u8]) -> String {
        if b.len() > 40 {
            format!("{} bytes {:02x?}...", b.len(), &b[..16])
        } else {
            match std::str::from_utf8(b) {
                Ok(s) => format!("{s:?}"),
                Err(_) => format!("{b:02x?}"),
            }
        }
    }
    match r {
        Reply::Text(b) => format!("Text({})", bytes(b)),
        Reply::Binary(b) => format!("Binary({})", bytes(b)),
        Reply::Ping(b) => format!("Ping({})", bytes(b)),
        Reply::Pong(b) => format!("Pong({})", bytes(b)),
    }
}

fn show_all(rs: &[Reply]) -> String {
    let v: Vec<String> = rs.iter().map(show).collect();
    format!("[{}]", v.join(", "))
}

// ---------------------------------------------------------------------------
// Checking a run
// ---------------------------------------------------------------------------

fn check(script: &Script, exp: &Expect, o: &Outcome) -> Vec<String> {
    let role = script.role;
    let mut p = o.problems.clone();

    // The failure, and where it came.
    match (exp.failure, o.error) {
        (Failure::None, Some(e)) => {
            p.push(format!("receive failed with {e:?} (close {}), expected no error", e.close_code()))
        }
        (Failure::Code(c), None) => p.push(format!("receive never failed, expected an error with close code {c}")),
        (Failure::Required, None) => {
            p.push(format!("receive never failed, expected an error with a close code in {:?}", exp.close_codes))
        }
        (Failure::Code(c), Some(e)) if e.close_code().0 != c => {
            p.push(format!("receive failed with {e:?} (close {}), expected close code {c}", e.close_code()))
        }
        _ => {}
    }
    if let (Some((lo, hi)), Some((s, e))) = (exp.fail_window, o.error_chunk) {
        if e <= lo {
            p.push(format!(
                "the error came while feeding wire {s}..{e}, before the offending byte(s) at {lo}..={hi} arrived"
            ));
        } else if s > hi {
            p.push(format!(
                "fail-fast: the error came only while feeding wire {s}..{e}, after the chunk holding the offending byte(s) at {lo}..={hi}"
            ));
        }
    }
    if let (Some((lo, _)), Some(_)) = (exp.fail_window, o.error) {
        if o.data_end > lo {
            p.push(format!(
                "a data event carried wire bytes up to {}, at or past the offending byte at {lo}",
                o.data_end
            ));
        }
    }

    // What the testee wrote.
    let frames = match parse_output(&o.out, role) {
        Ok(f) => f,
        Err(e) => {
            p.push(format!("testee output: {e}"));
            return p;
        }
    };
    let (replies, closes) = match replies_of(&frames) {
        Ok(x) => x,
        Err(e) => {
            p.push(format!("testee output: {e}"));
            return p;
        }
    };
    let got: Vec<Reply> = replies.iter().map(|(r, _)| r.clone()).collect();
    if got != exp.replies {
        p.push(format!("the testee wrote {}, expected {}", show_all(&got), show_all(&exp.replies)));
    }
    match closes.as_slice() {
        [] => p.push(format!("the testee sent no Close, expected one with code {:?}", exp.close_codes)),
        [(payload, end)] => {
            if *end != o.out.len() {
                p.push("the testee wrote frames after its Close".into());
            }
            match payload.as_slice() {
                [] if exp.close_without_code_ok => {}
                [] => p.push(format!("the testee's Close has no code, expected {:?}", exp.close_codes)),
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    if !exp.close_codes.contains(&code) {
                        p.push(format!("the testee closed with {code}, expected {:?}", exp.close_codes));
                    }
                    if std::str::from_utf8(reason).is_err() {
                        p.push("the testee's close reason is not UTF-8".into());
                    }
                }
                [_] => p.push("the testee's Close payload is one byte".into()),
            }
        }
        more => p.push(format!("the testee sent {} Close frames", more.len())),
    }

    // Every reply is written as soon as the frame that causes it is fed.
    let frame_ends: HashSet<usize> = script.frames.iter().map(|f| f.end).collect();
    for (r, out_end) in &replies {
        let Some(w) = o.writes.iter().find(|w| w.out_end >= *out_end) else { continue };
        if w.after_error || !frame_ends.contains(&w.wire_pos) {
            p.push(format!(
                "{} was written when wire offset {} had been fed, not at the end of the frame that caused it",
                show(r),
                w.wire_pos
            ));
        }
    }

    // Who closes the transport.
    let failed = o.error.is_some();
    let handshake_done = !failed && o.state == State::Closed;
    if failed || handshake_done {
        if !o.is_closed {
            p.push(format!("is_closed() is false after the close (state {:?})", o.state));
        }
        if o.eof_event.is_some() {
            p.push(format!("receive_eof after the close reported Close({:?})", o.eof_event));
        }
        if !o.close_transport_after_eof {
            p.push("should_close_transport() is false after end of stream".into());
        }
    }
    if failed {
        if !o.close_transport {
            p.push("should_close_transport() is false after the failure's Close was written".into());
        }
    } else if exp.failure != Failure::Any {
        if !handshake_done {
            p.push(format!("the close handshake did not complete: state {:?}", o.state));
        }
        match role {
            Role::Server if !o.close_transport => {
                p.push("server: should_close_transport() is false after the close handshake".into())
            }
            Role::Client if o.close_transport => p.push(
                "client: should_close_transport() is true after a clean close; the client should wait for the server to close the TCP connection"
                    .into(),
            ),
            _ => {}
        }
    }
    p
}

/// What must not depend on how the input was chopped.
fn signature(o: &Outcome) -> impl PartialEq + std::fmt::Debug + '_ {
    (&o.out, o.error, &o.messages, &o.closes, o.close_transport, o.state, o.eof_event, o.close_transport_after_eof)
}

// ---------------------------------------------------------------------------
// Running cases
// ---------------------------------------------------------------------------

/// Runs an Autobahn case for each role in `roles` with the default config
/// and every chop.
pub fn run_case(name: &str, roles: &[Role], build: impl Fn(&mut Script) -> Expect) {
    run_case_with(name, roles, Config::default(), CHOPS, build)
}

/// Runs a case with a given config and chops. Panics with every problem
/// found, naming the case, the role and the chop.
pub fn run_case_with(
    name: &str,
    roles: &[Role],
    config: Config,
    chops: &[Chop],
    build: impl Fn(&mut Script) -> Expect,
) {
    // (role, problem) -> the chops that showed it
    let mut failures: Vec<(Role, String, Vec<Chop>)> = Vec::new();
    let mut note = |role: Role, problem: String, chop: Chop| match failures
        .iter_mut()
        .find(|(r, p, _)| *r == role && *p == problem)
    {
        Some((_, _, chops)) => chops.push(chop),
        None => failures.push((role, problem, vec![chop])),
    };
    for &role in roles {
        let mut script = Script::new(role);
        let exp = build(&mut script);
        if exp.fuzzer_closes {
            script.wait();
            script.send(close(1000, b""));
        }
        let mut baseline: Option<(Chop, Outcome)> = None;
        for &chop in chops {
            let o = execute(&script, config, chop);
            for problem in check(&script, &exp, &o) {
                note(role, problem, chop);
            }
            match &baseline {
                None => baseline = Some((chop, o)),
                Some((first, b)) => {
                    if signature(b) != signature(&o) {
                        let problem = format!(
                            "the result differs from the one fed {first:?}: error {:?} vs {:?}, {} vs {} output bytes, state {:?} vs {:?}",
                            o.error,
                            b.error,
                            o.out.len(),
                            b.out.len(),
                            o.state,
                            b.state
                        );
                        note(role, problem, chop);
                    }
                }
            }
        }
    }
    if !failures.is_empty() {
        let mut msg = format!("Autobahn case {name}: {} problem(s)\n", failures.len());
        for (role, problem, chops) in failures.iter().take(12) {
            let _ = writeln!(msg, "  - [{role:?} testee] {problem}\n      (fed {chops:?})");
        }
        if failures.len() > 12 {
            let _ = writeln!(msg, "  ... and {} more", failures.len() - 12);
        }
        panic!("{msg}");
    }
}
