//! The limits from both sides: every message within `max_message_size` is
//! accepted however the peer framed or compressed it (the Autobahn
//! testsuite's own fragmentations at full size, one frame of the maximum,
//! incompressible data near each limit), and what goes over a limit is
//! refused from the header with 1009. The flood shapes, with their memory
//! bounded, are in `hostile.rs`.

use wsmachine::{Config, Connection, Event, FrameHeader, OpCode, ProtocolError, Role, SecureRandom, State};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// The masking key of frames sent to a server.
const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

fn connection(role: Role, config: Config) -> Connection {
    match role {
        Role::Server => Connection::server(config),
        Role::Client => Connection::client(config, SecureRandom::from_seed([9; 32])),
    }
}

/// Appends a frame as a peer of `role` sends it: masked with [`KEY`] to a
/// server (the payload is masked from offset 0, so a payload whose length
/// is a multiple of 4 can be masked once and repeated).
fn push_frame(wire: &mut Vec<u8>, role: Role, fin: bool, opcode: OpCode, rsv1: bool, payload: &[u8]) {
    let mask = (role == Role::Server).then_some(KEY);
    let mut header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
    header.rsv1 = rsv1;
    header.encode(wire).expect("a Vec grows");
    let start = wire.len();
    wire.extend_from_slice(payload);
    if mask.is_some() {
        wsmachine::apply_mask(&mut wire[start..], KEY, 0);
    }
}

/// What a connection made of a wire fed in reads of `read` bytes.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// Bytes of data delivered, and whether each was the expected byte.
    bytes: usize,
    all_expected: bool,
    /// Data events with `fin`.
    messages: usize,
    error: Option<ProtocolError>,
}

fn feed(conn: &mut Connection, wire: &mut [u8], read: usize, expected_byte: u8) -> Outcome {
    let mut outcome = Outcome { all_expected: true, ..Outcome::default() };
    for chunk in wire.chunks_mut(read) {
        let mut pos = 0;
        while pos < chunk.len() {
            let Ok(received) = conn.receive(&mut chunk[pos..]) else {
                outcome.error = conn.error();
                return outcome;
            };
            pos += received.consumed;
            if let Some(Event::Text { data, fin, .. } | Event::Binary { data, fin, .. }) = received.event {
                outcome.bytes += data.len();
                outcome.all_expected &= data.iter().all(|&b| b == expected_byte);
                outcome.messages += usize::from(fin);
            }
        }
    }
    outcome
}

/// The Autobahn sender's shape for 9.3.x / 9.4.x: a 4 MiB message in
/// fragments of `frag` bytes; when 4 MiB is an exact multiple of `frag`
/// (always, for the suite's sizes) every fragment is full and an empty
/// final frame follows.
fn autobahn_fragmented(role: Role, text: bool, frag: usize) -> (Vec<u8>, u8, usize) {
    let byte = if text { b'*' } else { 0xFE };
    let len = 4 * MIB;
    assert_eq!(len % frag, 0);
    let piece = vec![byte; frag];
    let mut wire = Vec::with_capacity(len + (len / frag + 1) * 14);
    let first = if text { OpCode::Text } else { OpCode::Binary };
    for i in 0..len / frag {
        push_frame(&mut wire, role, false, if i == 0 { first } else { OpCode::Continuation }, false, &piece);
    }
    push_frame(&mut wire, role, true, OpCode::Continuation, false, &[]);
    (wire, byte, len / frag + 1)
}

#[test]
fn autobahn_9_3_and_9_4_fragmentations_pass_unscaled_in_both_roles() {
    // 64 B … 4 MiB fragments of a 4 MiB message (9.3.1–9.3.9 text,
    // 9.4.1–9.4.9 binary), each followed by an empty final frame: 9.3.1 is
    // 65 537 frames, which a count limit of 65 536 refused.
    let sizes = [64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB];
    for role in [Role::Server, Role::Client] {
        for text in [true, false] {
            for frag in sizes {
                let (mut wire, byte, frames) = autobahn_fragmented(role, text, frag);
                if frag == 64 {
                    assert_eq!(frames, 65_537);
                }
                let mut conn = connection(role, Config::default());
                let outcome = feed(&mut conn, &mut wire, 64 * KIB, byte);
                let expected = Outcome { bytes: 4 * MIB, all_expected: true, messages: 1, error: None };
                assert_eq!(outcome, expected, "{role:?}, text {text}, {frag}-byte fragments");
                assert_eq!(conn.state(), State::Open);
            }
        }
    }
}

#[test]
fn a_count_limit_still_refuses_when_set_on_purpose() {
    let (mut wire, byte, _) = autobahn_fragmented(Role::Server, false, 64);
    let config = Config { max_fragments: 65_536, ..Config::default() };
    let mut conn = connection(Role::Server, config);
    let outcome = feed(&mut conn, &mut wire, 64 * KIB, byte);
    assert_eq!((outcome.bytes, outcome.error), (4 * MIB, Some(ProtocolError::TooManyFragments)));
    assert_eq!(ProtocolError::TooManyFragments.close_code().0, 1009);
}

#[test]
fn one_frame_of_max_message_size_is_accepted_and_one_byte_more_is_not() {
    for role in [Role::Server, Role::Client] {
        for max in [125, 126, 65_536, MIB] {
            let config = Config { max_message_size: max as u64, ..Config::default() };
            for (len, error) in [(max, None), (max + 1, Some(ProtocolError::MessageTooLarge))] {
                let mut wire = Vec::new();
                push_frame(&mut wire, role, true, OpCode::Binary, false, &vec![7; len]);
                let mut conn = connection(role, config);
                let outcome = feed(&mut conn, &mut wire, 64 * KIB, 7);
                let bytes = if error.is_none() { len } else { 0 };
                assert_eq!((outcome.bytes, outcome.error), (bytes, error), "{role:?}, {len} of {max}");
            }
        }
    }
}

#[test]
fn one_frame_of_the_default_maximum_is_accepted() {
    // Python `websockets` sends a message as one frame: 20 MiB, refused by
    // the old 16 MiB frame limit, and the full 64 MiB of the default.
    for len in [20 * MIB, 64 * MIB] {
        for role in [Role::Server, Role::Client] {
            let mut wire = Vec::new();
            push_frame(&mut wire, role, true, OpCode::Binary, false, &vec![1; len]);
            let mut conn = connection(role, Config::default());
            let outcome = feed(&mut conn, &mut wire, MIB, 1);
            assert_eq!((outcome.bytes, outcome.messages, outcome.error), (len, 1, None), "{role:?}, {len}");
        }
    }
    // One byte more, announced: refused from the header.
    let mut wire = Vec::new();
    FrameHeader::new(true, OpCode::Binary, Some(KEY), 64 * MIB as u64 + 1).encode(&mut wire).expect("Vec");
    let mut conn = connection(Role::Server, Config::default());
    assert_eq!(feed(&mut conn, &mut wire, 64, 0).error, Some(ProtocolError::MessageTooLarge));
}

#[test]
fn the_frame_limit_follows_the_message_limit_unless_set() {
    let config = Config { max_message_size: 1000, ..Config::default() };
    assert_eq!(config.frame_limit(), 1000);
    let config = Config { max_message_size: 1000, max_frame_payload: 100, ..Config::default() };
    assert_eq!(config.frame_limit(), 100);
    let config = Config { max_message_size: 1000, max_frame_payload: 5000, ..Config::default() };
    assert_eq!(config.frame_limit(), 1000, "a frame is never larger than a message");

    // Set: frames over it are refused even though the message fits.
    let config = Config { max_frame_payload: 100, ..Config::default() };
    let mut wire = Vec::new();
    push_frame(&mut wire, Role::Server, true, OpCode::Binary, false, &[0; 100]);
    push_frame(&mut wire, Role::Server, true, OpCode::Binary, false, &[0; 101]);
    let mut conn = connection(Role::Server, config);
    let outcome = feed(&mut conn, &mut wire, 4096, 0);
    assert_eq!((outcome.bytes, outcome.error), (100, Some(ProtocolError::FrameTooLarge)));
}

#[cfg(feature = "deflate")]
mod compressed {
    //! Incompressible data (random bytes grow slightly when compressed)
    //! near each limit.

    use super::*;
    use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
    use wsmachine::{Message, MessageAssembler, MessageKind};

    /// Deterministic bytes that do not compress (xorshift64*).
    fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// A server's compressed frames carrying `data` in pieces of `piece`
    /// bytes (one frame if `piece` is `data.len()`), for a client; returns
    /// the wire and the payload bytes of its frames.
    fn compressed_wire(params: DeflateParams, config: Config, data: &[u8], piece: usize) -> (Vec<u8>, u64) {
        let mut server = Connection::server(Deflate::connection_config(config));
        let mut deflate = Deflate::new(Role::Server, params, &DeflateConfig::default());
        let mut wire = Vec::new();
        if piece >= data.len() {
            deflate.send_binary(&mut server, data, &mut wire).expect("sent");
        } else {
            let mut pieces = data.chunks(piece).peekable();
            while let Some(p) = pieces.next() {
                let fin = pieces.peek().is_none();
                deflate.send_fragment(&mut server, MessageKind::Binary, p, fin, &mut wire).expect("sent");
            }
        }
        let mut payload = 0;
        let mut pos = 0;
        while pos < wire.len() {
            let Ok(wsmachine::HeaderStatus::Complete { header, len }) = FrameHeader::decode(&wire[pos..]) else {
                panic!("whole frames")
            };
            payload += header.payload_len;
            pos += len + header.payload_len as usize;
        }
        (wire, payload)
    }

    /// Feeds `wire` to a client with deflate; returns the messages and the error.
    fn receive(params: DeflateParams, config: Config, wire: &mut [u8]) -> (Vec<Message>, Option<ProtocolError>) {
        let config = Deflate::connection_config(config);
        let mut conn = Connection::client(config, SecureRandom::from_seed([3; 32]));
        let mut deflate = Deflate::new(Role::Client, params, &DeflateConfig::default());
        let mut assembler = MessageAssembler::new(config.max_message_size);
        let mut messages = Vec::new();
        let mut pos = 0;
        'feed: while pos < wire.len() {
            let end = (pos + 64 * KIB).min(wire.len());
            let Ok(received) = conn.receive(&mut wire[pos..end]) else { break };
            pos += received.consumed;
            let Some(event) = received.event else { continue };
            let mut decoded = deflate.decode(&mut conn, event);
            while let Some(event) = decoded.next() {
                let Ok(event) = event else { break 'feed };
                match assembler.push(&event) {
                    Ok(Some(m)) => messages.push(m),
                    Ok(None) => {}
                    Err(e) => {
                        drop(decoded);
                        conn.fail_with(e);
                        break 'feed;
                    }
                }
            }
        }
        (messages, conn.error())
    }

    fn check(params: DeflateParams, config: Config, len: usize, piece: usize) -> (u64, Option<ProtocolError>) {
        let data = random_bytes(len, len as u64);
        let (mut wire, payload) = compressed_wire(params, config, &data, piece);
        let (messages, error) = receive(params, config, &mut wire);
        if error.is_none() {
            assert_eq!(messages, [Message::Binary(data)]);
        }
        (payload, error)
    }

    #[test]
    fn an_incompressible_message_at_the_limit_is_accepted_in_one_frame() {
        // The reported shape: 16 MiB of random bytes makes a frame a little
        // over 16 MiB, with the default limits.
        let (payload, error) = check(DeflateParams::default(), Config::default(), 16 * MIB, usize::MAX);
        assert!(payload > 16 * MIB as u64, "random data grows: {payload}");
        assert_eq!(error, None);

        // Exactly at a message limit: the frame is over it, and accepted;
        // one byte more inflates past it and is refused with 1009.
        let config = Config { max_message_size: MIB as u64, ..Config::default() };
        let (payload, error) = check(DeflateParams::default(), config, MIB, usize::MAX);
        assert!(payload > MIB as u64, "{payload}");
        assert_eq!(error, None);
        let (_, error) = check(DeflateParams::default(), config, MIB + 1, usize::MAX);
        assert_eq!(error, Some(ProtocolError::MessageTooLarge));
    }

    #[test]
    fn an_incompressible_message_at_an_explicit_frame_limit_is_accepted() {
        let config = Config { max_frame_payload: 256 * KIB as u64, ..Config::default() };
        let (payload, error) = check(DeflateParams::default(), config, 256 * KIB, usize::MAX);
        assert!(payload > 256 * KIB as u64, "{payload}");
        assert_eq!(error, None);
    }

    #[test]
    fn an_incompressible_message_with_the_smallest_window_is_accepted() {
        // An 8-bit window flushes every 256 bytes: a few percent more.
        let params = DeflateParams { server_max_window_bits: Some(8), ..DeflateParams::default() };
        let config = Config { max_message_size: MIB as u64, ..Config::default() };
        let (payload, error) = check(params, config, MIB, usize::MAX);
        assert!(payload > MIB as u64, "{payload}");
        assert_eq!(error, None);
    }

    #[test]
    fn an_incompressible_message_streamed_in_flushed_fragments_is_accepted() {
        // Every fragment flushed on its own: more overhead per fragment.
        let config = Config { max_message_size: 256 * KIB as u64, ..Config::default() };
        for piece in [64, 1000, 16 * KIB] {
            let (payload, error) = check(DeflateParams::default(), config, 256 * KIB, piece);
            assert!(payload > 256 * KIB as u64, "{piece}: {payload}");
            assert_eq!(error, None, "{piece}-byte pieces");
        }
    }

    #[test]
    fn compressed_frames_over_twice_a_limit_are_refused_from_the_header() {
        let params = DeflateParams::default();
        // A compressed message announcing more than twice the message limit.
        // Its first 1 500 bytes are empty stored blocks (they inflate to
        // nothing); the second frame's header goes past 2 000.
        let config = Config { max_message_size: 1000, ..Config::default() };
        let empty_blocks = [0x00, 0x00, 0x00, 0xFF, 0xFF].repeat(300);
        let mut wire = Vec::new();
        push_frame(&mut wire, Role::Client, false, OpCode::Binary, true, &empty_blocks);
        push_frame(&mut wire, Role::Client, true, OpCode::Continuation, false, &[0; 501]);
        assert_eq!(receive(params, config, &mut wire).1, Some(ProtocolError::MessageTooLarge));
        // A compressed frame over twice an explicit frame limit.
        let config = Config { max_frame_payload: 100, ..Config::default() };
        let mut wire = Vec::new();
        push_frame(&mut wire, Role::Client, true, OpCode::Binary, true, &[0; 201]);
        assert_eq!(receive(params, config, &mut wire).1, Some(ProtocolError::FrameTooLarge));
        // Uncompressed, the limits are exact.
        let mut wire = Vec::new();
        push_frame(&mut wire, Role::Client, true, OpCode::Binary, false, &[0; 101]);
        assert_eq!(receive(params, config, &mut wire).1, Some(ProtocolError::FrameTooLarge));
    }
}
