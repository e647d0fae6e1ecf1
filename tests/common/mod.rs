//! Helpers shared by the integration tests: owned copies of events, feeding
//! loops that follow the documented `receive` contract, a frame builder and
//! a frame parser built on the public codec, and a fixed-key random source.
#![allow(dead_code)]

use wsmachine::{
    apply_mask, CloseCode, Config, Connection, Event, FrameHeader, HeaderStatus, OpCode, ProtocolError, RandomSource,
    SecureRandom, State,
};

/// The masking key of the RFC 6455 §5.7 examples.
pub const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The key the rule tests mask their client frames with.
pub const TEST_KEY: [u8; 4] = [0xa1, 0x5b, 0x0c, 0xe7];

/// A random source that hands out the same four bytes every time: lets a
/// client `Connection` reproduce the RFC's masked examples exactly. A
/// predictable key is a security bug outside tests (§10.3).
#[derive(Debug, Clone)]
pub struct FixedKey(pub [u8; 4]);

impl RandomSource for FixedKey {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for (i, b) in dest.iter_mut().enumerate() {
            *b = self.0[i % 4];
        }
    }
}

/// An owned copy of an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Text { data: Vec<u8>, frame_end: bool, fin: bool },
    Binary { data: Vec<u8>, frame_end: bool, fin: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close { code: u16, reason: String },
}

impl Ev {
    pub fn of(event: &Event<'_>) -> Ev {
        match *event {
            Event::Text { data, frame_end, fin } => Ev::Text { data: data.to_vec(), frame_end, fin },
            Event::Binary { data, frame_end, fin } => Ev::Binary { data: data.to_vec(), frame_end, fin },
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Close(f) => Ev::Close { code: f.code().0, reason: f.reason().to_owned() },
        }
    }

    pub fn text(data: &[u8], fin: bool) -> Ev {
        Ev::Text { data: data.to_vec(), frame_end: true, fin }
    }

    pub fn binary(data: &[u8], fin: bool) -> Ev {
        Ev::Binary { data: data.to_vec(), frame_end: true, fin }
    }

    pub fn close(code: u16, reason: &str) -> Ev {
        Ev::Close { code, reason: reason.to_owned() }
    }

    pub fn data(&self) -> Option<&[u8]> {
        match self {
            Ev::Text { data, .. } | Ev::Binary { data, .. } => Some(data),
            _ => None,
        }
    }
}

pub fn server() -> Connection {
    Connection::server(Config::default())
}

pub fn server_with(config: Config) -> Connection {
    Connection::server(config)
}

pub fn client() -> Connection {
    Connection::client(Config::default(), SecureRandom::from_seed([0x5a; 32]))
}

pub fn client_with(config: Config) -> Connection {
    Connection::client(config, SecureRandom::from_seed([0x5a; 32]))
}

/// Feeds `input` with the documented loop, checking the `Received` contract
/// on every call. Returns the events, and the error that stopped it if any.
pub fn feed<R: RandomSource>(conn: &mut Connection<R>, input: &mut [u8]) -> (Vec<Ev>, Option<ProtocolError>) {
    let mut events = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let rest = input.len() - pos;
        match conn.receive(&mut input[pos..]) {
            Ok(r) => {
                assert!(r.consumed <= rest, "consumed {} of {rest}", r.consumed);
                match &r.event {
                    None => assert_eq!(r.consumed, rest, "no event, so the whole input must be consumed"),
                    Some(ev) => events.push(Ev::of(ev)),
                }
                pos += r.consumed;
            }
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

/// Feeds a copy of `data` cut at `cuts` (ascending positions), one
/// transport read per piece, stopping at the first error.
pub fn feed_pieces<R: RandomSource>(
    conn: &mut Connection<R>,
    data: &[u8],
    cuts: &[usize],
) -> (Vec<Ev>, Option<ProtocolError>) {
    let mut buf = data.to_vec();
    let mut events = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([data.len()]) {
        let (mut evs, err) = feed(conn, &mut buf[start..end]);
        events.append(&mut evs);
        if err.is_some() {
            return (events, err);
        }
        start = end;
    }
    (events, None)
}

/// Feeds `data` one byte per read.
pub fn feed_bytewise<R: RandomSource>(conn: &mut Connection<R>, data: &[u8]) -> (Vec<Ev>, Option<ProtocolError>) {
    let cuts: Vec<usize> = (1..data.len()).collect();
    feed_pieces(conn, data, &cuts)
}

/// Joins the data pieces of each frame into one event, so event sequences
/// can be compared whatever the read boundaries were.
pub fn merge(events: Vec<Ev>) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for ev in events {
        match (out.last_mut(), ev) {
            (Some(Ev::Text { data, frame_end, fin }), Ev::Text { data: more, frame_end: end2, fin: fin2 })
            | (Some(Ev::Binary { data, frame_end, fin }), Ev::Binary { data: more, frame_end: end2, fin: fin2 })
                if !*frame_end =>
            {
                assert!(!*fin, "a piece that is not the end of its frame cannot end the message");
                data.extend_from_slice(&more);
                *frame_end = end2;
                *fin = fin2;
            }
            (_, ev) => {
                if let Some(Ev::Text { frame_end: false, .. } | Ev::Binary { frame_end: false, .. }) = out.last() {
                    panic!("frame left unfinished, then {ev:?}");
                }
                out.push(ev)
            }
        }
    }
    out
}

/// A frame with first byte `b0` (FIN, RSV bits, opcode), masked with `mask`
/// if given, encoded with the public codec.
pub fn frame(b0: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        rsv2: b0 & 0x20 != 0,
        rsv3: b0 & 0x10 != 0,
        opcode: OpCode::from_bits(b0),
        mask,
        payload_len: payload.len() as u64,
    };
    let mut out = Vec::new();
    let n = header.encode(&mut out).expect("a Vec has room");
    assert_eq!(n, out.len());
    assert_eq!(out[0], b0, "the codec keeps the first byte as given");
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[n..], key, 0);
    }
    out
}

/// A frame as a client sends it (masked with [`TEST_KEY`]): input for a server.
pub fn cf(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, Some(TEST_KEY), payload)
}

/// A frame as a server sends it (unmasked): input for a client.
pub fn sf(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, None, payload)
}

/// The Close frame a server sends when it fails with `e`: the error's
/// code and its reason, unmasked.
pub fn failure_close(e: wsmachine::ProtocolError) -> Vec<u8> {
    let mut payload = e.close_code().0.to_be_bytes().to_vec();
    payload.extend(e.reason().as_bytes());
    sf(0x88, &payload)
}

/// Concatenates byte strings.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A decoded frame, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: FrameHeader,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn opcode(&self) -> OpCode {
        self.header.opcode
    }

    /// The code of a Close frame's payload (1005 when empty).
    pub fn close_code(&self) -> u16 {
        assert_eq!(self.header.opcode, OpCode::Close);
        match self.payload[..] {
            [] => 1005,
            [hi, lo, ..] => u16::from_be_bytes([hi, lo]),
            _ => panic!("close payload of one byte"),
        }
    }
}

/// Parses `bytes` as a sequence of complete frames with the public codec;
/// panics on anything else.
pub fn parse_frames(bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let (header, len) = match FrameHeader::decode(&bytes[pos..]) {
            Ok(HeaderStatus::Complete { header, len }) => (header, len),
            other => panic!("incomplete or bad frame header at {pos}: {other:?}"),
        };
        assert!(header.is_minimal_length(len), "we only send minimal lengths");
        let start = pos + len;
        let end = start + usize::try_from(header.payload_len).expect("fits");
        assert!(end <= bytes.len(), "truncated frame payload");
        let mut payload = bytes[start..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push(Frame { header, payload });
        pos = end;
    }
    frames
}

/// Parses frames and checks each is masked as `masked` says.
pub fn parse_frames_masked(bytes: &[u8], masked: bool) -> Vec<Frame> {
    let frames = parse_frames(bytes);
    for f in &frames {
        assert_eq!(f.header.mask.is_some(), masked, "masking of {f:?}");
    }
    frames
}

/// Drains `poll_transmit` into a fresh Vec.
pub fn transmit<R: RandomSource>(conn: &mut Connection<R>) -> Vec<u8> {
    let mut out = Vec::new();
    let n = conn.poll_transmit(&mut out).expect("a Vec has room");
    assert_eq!(n, out.len());
    out
}

/// Asserts the connection failed with `expected`, carrying close `code`,
/// then checks the whole failure contract: the error is sticky, sends are
/// refused, `poll_transmit` writes one Close with that code (masked iff we
/// are a client), and only then should the transport be closed.
pub fn assert_failed<R: RandomSource>(conn: &mut Connection<R>, expected: ProtocolError, code: u16) {
    assert_eq!(expected.close_code(), CloseCode(code), "close code of {expected:?}");
    assert_eq!(conn.state(), State::Failed(expected));
    let mut more = cf(0x81, b"more");
    assert_eq!(conn.receive(&mut more).err(), Some(expected), "sticky on more input");
    assert_eq!(conn.receive(&mut []).err(), Some(expected), "sticky on empty input");
    assert!(conn.wants_write(), "a Close is queued");
    assert!(!conn.should_close_transport(), "not before the Close is written");
    assert!(!conn.is_closed());
    let mut out = Vec::new();
    assert_eq!(conn.send_text("x", &mut out), Err(wsmachine::SendError::Failed(expected)));
    assert_eq!(conn.send_ping(b"x", &mut out), Err(wsmachine::SendError::Failed(expected)));
    assert!(out.is_empty());

    let masked = conn.role() == wsmachine::Role::Client;
    let written = transmit(conn);
    let frames = parse_frames_masked(&written, masked);
    assert_eq!(frames.len(), 1, "exactly the Close: {frames:?}");
    assert_eq!(frames[0].opcode(), OpCode::Close);
    assert!(frames[0].header.fin);
    assert_eq!(frames[0].close_code(), code);

    assert!(conn.should_close_transport(), "after the Close is written");
    assert!(conn.is_closed());
    assert!(!conn.wants_write());
    assert!(transmit(conn).is_empty(), "the Close is written once");
    assert_eq!(conn.receive(&mut more).err(), Some(expected), "still sticky");
    assert_eq!(conn.state(), State::Failed(expected));
}
