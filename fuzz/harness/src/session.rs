//! The `session` target: a server `Session` fed the same masked client
//! frames, cut into the same reads, once for each way of taking what
//! arrives: pieces (`poll_piece`, assembled here), owned whole messages
//! (`poll_message`), owned ones each given back with `Session::recycle`
//! (so later ones are received into the buffers of earlier ones, as an
//! echo's `send_owned` gives them back), lent ones (`poll_message_ref`),
//! and each found first
//! with `message_ready`, as the adapters' lending receives take them, then
//! taken lent, owned or as one piece in turn; last, each item found with
//! `piece_ready` and then taken whole, owned or lent in turn (a piece
//! found and not taken goes back to its message). Whole messages
//! travel by other paths than pieces (straight from the read into the
//! message, unmasked on the way; through the read buffer; aside while the
//! next one starts), so every mode must report the same messages, pings
//! and first error. When the input asked for nothing invalid, that is
//! exactly what was sent, with no error.

use alloc::vec::Vec;

use wsmachine::{Config, Connection, Incoming, IncomingRef, MessageKind, ProtocolError, Session, Streamed};

/// What a mode saw: complete messages and pings, in order, then the
/// first error, if any.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Error(ProtocolError),
}

/// Reads the fuzzer's bytes as choices; zeros once they run out.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The characters text messages are made of: one to four bytes each.
const CHARACTERS: [&str; 5] = ["a", "κ", "€", "🦀", "z"];

/// Wire bytes at most: several reads of 64 KiB, a few messages.
const MAX_WIRE: usize = 300 * 1024;

/// A masked client frame carrying `payload`, in the minimal length form.
fn push_frame(wire: &mut Vec<u8>, first: u8, payload: &[u8], key: [u8; 4]) {
    wire.push(first);
    match payload.len() {
        len @ 0..=125 => wire.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            wire.push(0x80 | 126);
            wire.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            wire.push(0x80 | 127);
            wire.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    wire.extend_from_slice(&key);
    wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
}

/// Feeds `wire` to a fresh server session in reads of `reads` (cycled),
/// taking items in `mode` (0: pieces, 1: owned, 2: lent, 3: found with
/// `message_ready`, then lent, owned or as a piece in turn, 4: found with
/// `piece_ready`, then owned or lent in turn, 5: owned, each given back
/// with `recycle` once seen).
fn run(config: Config, wire: &[u8], reads: &[usize], mode: u8) -> Vec<Seen> {
    let mut session = Session::new(Connection::server(config));
    let mut seen = Vec::new();
    let mut pieces: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut found = 0u32;
    for &read in reads.iter().cycle() {
        if at >= wire.len() {
            break;
        }
        let end = (at + read).min(wire.len());
        session.receive(&wire[at..end]);
        at = end;
        loop {
            let mode = match mode {
                3 => match session.message_ready() {
                    Ok(true) => {
                        found += 1;
                        [2, 1, 0][found as usize % 3]
                    }
                    Ok(false) => break,
                    Err(e) => {
                        seen.push(Seen::Error(e));
                        return seen;
                    }
                },
                4 => match session.piece_ready() {
                    Ok(true) => {
                        found += 1;
                        [1, 2][found as usize % 2]
                    }
                    Ok(false) => break,
                    Err(e) => {
                        seen.push(Seen::Error(e));
                        return seen;
                    }
                },
                mode => mode,
            };
            let step = match mode {
                0 => session.poll_piece().map(|item| {
                    item.map(|item| match item {
                        Streamed::Piece(piece) => {
                            pieces.extend_from_slice(piece.data);
                            piece.fin.then(|| Seen::Message(piece.kind, core::mem::take(&mut pieces)))
                        }
                        Streamed::Ping(p) => Some(Seen::Ping(p.to_vec())),
                        _ => None,
                    })
                }),
                1 | 5 => session.poll_message().map(|item| {
                    item.map(|item| match item {
                        Incoming::Message(m) => {
                            let seen = Seen::Message(m.kind(), m.as_bytes().to_vec());
                            if mode == 5 {
                                session.recycle(m);
                            }
                            Some(seen)
                        }
                        Incoming::Ping(p) => Some(Seen::Ping(p.to_vec())),
                        _ => None,
                    })
                }),
                _ => session.poll_message_ref().map(|item| {
                    item.map(|item| match item {
                        IncomingRef::Text(t) => Some(Seen::Message(MessageKind::Text, t.as_bytes().to_vec())),
                        IncomingRef::Binary(b) => Some(Seen::Message(MessageKind::Binary, b.to_vec())),
                        IncomingRef::Ping(p) => Some(Seen::Ping(p.to_vec())),
                        _ => None,
                    })
                }),
            };
            match step {
                Ok(Some(Some(item))) => seen.push(item),
                Ok(Some(None)) => {}
                Ok(None) => break,
                Err(e) => {
                    seen.push(Seen::Error(e));
                    return seen;
                }
            }
        }
        let n = session.poll_output().len();
        session.consume_output(n);
    }
    seen
}

pub fn session(data: &[u8]) {
    let mut choices = Choices(data);
    // A message limit from 1 KiB to about 1 MiB.
    let limit = 1024 + u64::from(choices.u16()) * 16;
    let config = Config { max_message_size: limit, ..Config::default() };
    // Up to eight read sizes, from 1 byte to 64 KiB, cycled.
    let mut reads: Vec<usize> = (0..1 + choices.byte() % 8).map(|_| 1 + usize::from(choices.u16())).collect();
    if reads.iter().all(|&r| r < 16) {
        reads.push(65_536); // keep the run short
    }
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let mut valid = true;
    while !choices.is_empty() && wire.len() < MAX_WIRE {
        let flags = choices.byte();
        let kind = if flags & 1 == 0 { MessageKind::Text } else { MessageKind::Binary };
        // Short, 16-bit or (from 64 KiB) 64-bit lengths.
        let len = match flags >> 6 {
            0 => usize::from(choices.byte()),
            1 | 2 => usize::from(choices.u16()),
            _ => 65_536 + usize::from(choices.u16()) * 2,
        };
        let mut payload = Vec::with_capacity(len);
        match kind {
            MessageKind::Binary => payload.extend((0..len).map(|i| (i * 31 + len) as u8)),
            MessageKind::Text => {
                let pick = usize::from(choices.byte());
                let mut i = 0;
                while payload.len() < len {
                    let c = CHARACTERS[(pick + i / (1 + pick % 7)) % CHARACTERS.len()];
                    payload.extend_from_slice(c.as_bytes());
                    i += 1;
                }
            }
        }
        if flags & 2 != 0 && kind == MessageKind::Text && !payload.is_empty() {
            // One byte that can never be UTF-8.
            let at = usize::from(choices.u16()) % payload.len();
            payload[at] = 0xFF;
            valid = false;
        }
        if payload.len() as u64 > limit {
            valid = false;
        }
        // One to three frames, cut anywhere (inside a character too), a
        // ping between the first two when asked.
        let frames = 1 + usize::from(flags >> 2 & 3) % 3;
        let mut cuts: Vec<usize> = (1..frames).map(|_| usize::from(choices.u16()) % (payload.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(payload.len());
        let key = [choices.byte(), choices.byte(), choices.byte(), choices.byte()];
        let mut start = 0;
        for (n, &end) in cuts.iter().enumerate() {
            let opcode = match (n, kind) {
                (0, MessageKind::Text) => 0x1,
                (0, MessageKind::Binary) => 0x2,
                _ => 0x0,
            };
            let fin = if n + 1 == cuts.len() { 0x80 } else { 0 };
            push_frame(&mut wire, fin | opcode, &payload[start..end], key);
            start = end;
            if n == 0 && cuts.len() > 1 && flags & 32 != 0 {
                push_frame(&mut wire, 0x89, b"between", key);
                expected.push(Seen::Ping(b"between".to_vec()));
            }
        }
        expected.push(Seen::Message(kind, payload));
    }
    let pieces = run(config, &wire, &reads, 0);
    let owned = run(config, &wire, &reads, 1);
    let lent = run(config, &wire, &reads, 2);
    let ready = run(config, &wire, &reads, 3);
    let pieces_found = run(config, &wire, &reads, 4);
    let recycled = run(config, &wire, &reads, 5);
    assert_eq!(owned, pieces, "owned whole messages differ from the pieces");
    assert_eq!(recycled, pieces, "owned messages received into recycled buffers differ from the pieces");
    assert_eq!(lent, pieces, "lent whole messages differ from the pieces");
    assert_eq!(ready, pieces, "messages found by message_ready differ from the pieces");
    assert_eq!(pieces_found, pieces, "messages found by piece_ready and taken whole differ from the pieces");
    if valid {
        assert_eq!(pieces, expected, "valid traffic not received as sent");
    }
}
