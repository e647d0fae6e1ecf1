//! RFC 6455 §5.7 examples, byte for byte, in both directions: decoded by the
//! right role (masked frames by a server, unmasked by a client), encoded
//! with the codec and with `Connection` sends, and re-fed in every chunking.

mod common;

use common::*;
use wsmachine::{
    apply_mask, BufferTooSmall, Config, Connection, FrameHeader, HeaderStatus, MessageKind, OpCode, Role, SecureRandom,
    SendError, MAX_HEADER_LEN,
};

const HELLO: &[u8] = b"Hello";
const MASKED_HELLO: [u8; 5] = [0x7f, 0x9f, 0x4d, 0x51, 0x58];

// ---------------------------------------------------------------------------
// The vectors, as the RFC prints them.

/// `81 05 48 65 6c 6c 6f`: a single-frame unmasked text message "Hello".
const UNMASKED_TEXT: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// `81 85 37 fa 21 3d 7f 9f 4d 51 58`: a single-frame masked text message "Hello".
const MASKED_TEXT: &[u8] = &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// `01 03 48 65 6c` then `80 02 6c 6f`: a fragmented unmasked text message.
const FRAGMENTED_TEXT: &[u8] = &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
/// `89 05 48 65 6c 6c 6f`: an unmasked Ping "Hello".
const UNMASKED_PING: &[u8] = &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// `8a 85 37 fa 21 3d 7f 9f 4d 51 58`: a masked Pong "Hello".
const MASKED_PONG: &[u8] = &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

/// 256 bytes of binary data: any bytes will do; these cover every value.
fn payload_256() -> Vec<u8> {
    (0..=255u8).collect()
}

/// 64 KiB of binary data, not periodic in 4 (so a mask slip would show).
fn payload_64k() -> Vec<u8> {
    let mut x = 0x2545_f491u32;
    (0..65536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `82 7E 0100` + 256 bytes.
fn binary_256() -> Vec<u8> {
    cat(&[&[0x82, 0x7E, 0x01, 0x00], &payload_256()])
}

/// `82 7F 0000000000010000` + 65536 bytes.
fn binary_64k() -> Vec<u8> {
    cat(&[&[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00], &payload_64k()])
}

struct Vector {
    wire: Vec<u8>,
    /// Who receives it: masked frames go to a server, unmasked to a client.
    receiver: Role,
    /// The events, one per frame.
    events: Vec<Ev>,
}

fn vector(name: &str) -> Vector {
    let (wire, receiver, events) = match name {
        "unmasked_text" => (UNMASKED_TEXT.to_vec(), Role::Client, vec![Ev::text(HELLO, true)]),
        "masked_text" => (MASKED_TEXT.to_vec(), Role::Server, vec![Ev::text(HELLO, true)]),
        "fragmented_text" => {
            (FRAGMENTED_TEXT.to_vec(), Role::Client, vec![Ev::text(b"Hel", false), Ev::text(b"lo", true)])
        }
        "unmasked_ping" => (UNMASKED_PING.to_vec(), Role::Client, vec![Ev::Ping(HELLO.to_vec())]),
        "masked_pong" => (MASKED_PONG.to_vec(), Role::Server, vec![Ev::Pong(HELLO.to_vec())]),
        "binary_256" => (binary_256(), Role::Client, vec![Ev::binary(&payload_256(), true)]),
        "binary_64k" => (binary_64k(), Role::Client, vec![Ev::binary(&payload_64k(), true)]),
        _ => unreachable!("no vector {name}"),
    };
    Vector { wire, receiver, events }
}

fn receiver(role: Role) -> Connection {
    match role {
        Role::Client => client(),
        Role::Server => server(),
    }
}

// ---------------------------------------------------------------------------
// Decoding: the whole vector in one read yields exactly one event per frame.

fn check_decode(name: &str) {
    let v = vector(name);
    let mut conn = receiver(v.receiver);
    let mut wire = v.wire.clone();
    let (events, err) = feed(&mut conn, &mut wire);
    assert_eq!(err, None, "{name}");
    assert_eq!(events, v.events, "{name}: one read gives one event per frame");
    assert_eq!(conn.state(), wsmachine::State::Open);
}

#[test]
fn decode_unmasked_text() {
    check_decode("unmasked_text");
}

#[test]
fn decode_masked_text() {
    check_decode("masked_text");
}

#[test]
fn decode_fragmented_text() {
    check_decode("fragmented_text");
}

#[test]
fn decode_unmasked_ping_and_answer_with_the_masked_pong_vector() {
    check_decode("unmasked_ping");
    // The client answering the RFC's ping with the RFC's key writes the
    // RFC's masked pong, byte for byte.
    let mut conn = Connection::client(Config::default(), FixedKey(RFC_KEY));
    let mut wire = UNMASKED_PING.to_vec();
    let (events, err) = feed(&mut conn, &mut wire);
    assert_eq!((events, err), (vec![Ev::Ping(HELLO.to_vec())], None));
    assert!(conn.wants_write());
    assert_eq!(transmit(&mut conn), MASKED_PONG);
}

#[test]
fn decode_masked_pong() {
    check_decode("masked_pong");
    // A pong asks for no answer.
    let mut conn = server();
    feed(&mut conn, &mut MASKED_PONG.to_vec());
    assert!(!conn.wants_write());
}

#[test]
fn decode_binary_256() {
    check_decode("binary_256");
}

#[test]
fn decode_binary_64k() {
    check_decode("binary_64k");
}

/// The wrong role refuses each vector: the masking rule is what routes them.
#[test]
fn decode_vectors_refused_by_the_other_role() {
    for (wire, role) in [
        (UNMASKED_TEXT.to_vec(), Role::Server),
        (MASKED_TEXT.to_vec(), Role::Client),
        (FRAGMENTED_TEXT.to_vec(), Role::Server),
        (UNMASKED_PING.to_vec(), Role::Server),
        (MASKED_PONG.to_vec(), Role::Client),
        (binary_256(), Role::Server),
    ] {
        let mut conn = receiver(role);
        let (events, err) = feed(&mut conn, &mut wire.clone());
        assert!(events.is_empty());
        let expected = match role {
            Role::Server => wsmachine::ProtocolError::UnmaskedFrame,
            Role::Client => wsmachine::ProtocolError::MaskedFrame,
        };
        assert_eq!(err, Some(expected), "{wire:02x?}");
    }
}

// ---------------------------------------------------------------------------
// Chunkings: every split in two, every pair of splits in three (short
// vectors), one byte at a time. Same concatenated data, same events.

fn check_chunking(v: &Vector, cuts: &[usize]) {
    let mut conn = receiver(v.receiver);
    let (events, err) = feed_pieces(&mut conn, &v.wire, cuts);
    assert_eq!(err, None, "cuts {cuts:?}");
    // Every data piece is non-empty except an empty frame's single event.
    for e in &events {
        if let Some(data) = e.data() {
            assert!(!data.is_empty(), "empty data piece at cuts {cuts:?}");
        }
    }
    let merged = merge(events);
    assert!(merged == v.events, "cuts {cuts:?}: events differ");
}

fn check_every_chunking(name: &str, three_pieces: bool) {
    let v = vector(name);
    let n = v.wire.len();
    for a in 1..n {
        check_chunking(&v, &[a]);
    }
    if three_pieces {
        for a in 1..n {
            for b in a + 1..n {
                check_chunking(&v, &[a, b]);
            }
        }
    }
    let bytewise: Vec<usize> = (1..n).collect();
    check_chunking(&v, &bytewise);

    // One byte at a time, every data byte arrives as its own piece, in order.
    let mut conn = receiver(v.receiver);
    let (events, _) = feed_bytewise(&mut conn, &v.wire);
    let data_pieces = events.iter().filter_map(Ev::data).filter(|d| d.len() != 1).count();
    assert_eq!(data_pieces, 0, "{name}: byte at a time gives one-byte data pieces");
}

#[test]
fn chunkings_unmasked_text() {
    check_every_chunking("unmasked_text", true);
}

#[test]
fn chunkings_masked_text() {
    check_every_chunking("masked_text", true);
}

#[test]
fn chunkings_fragmented_text() {
    check_every_chunking("fragmented_text", true);
}

#[test]
fn chunkings_unmasked_ping() {
    check_every_chunking("unmasked_ping", true);
}

#[test]
fn chunkings_masked_pong() {
    check_every_chunking("masked_pong", true);
}

#[test]
fn chunkings_binary_256() {
    check_every_chunking("binary_256", true);
}

#[test]
fn chunkings_binary_64k() {
    check_every_chunking("binary_64k", false);
}

/// The 64 KiB vector cut into three around the header and at payload
/// offsets that are not multiples of 4.
#[test]
fn chunkings_binary_64k_three_pieces_near_the_header() {
    let v = vector("binary_64k");
    let points: Vec<usize> = (1..=16).chain([101, 4097, 32771, 65535, 65545]).collect();
    for (i, &a) in points.iter().enumerate() {
        for &b in &points[i + 1..] {
            check_chunking(&v, &[a, b]);
        }
    }
}

/// The same vectors fed to one connection back to back, in one read and one
/// byte at a time: state carries correctly from frame to frame.
#[test]
fn all_unmasked_vectors_in_one_stream() {
    let wire = cat(&[UNMASKED_TEXT, FRAGMENTED_TEXT, UNMASKED_PING, &binary_256(), &binary_64k()]);
    let expected: Vec<Ev> = ["unmasked_text", "fragmented_text", "unmasked_ping", "binary_256", "binary_64k"]
        .iter()
        .flat_map(|n| vector(n).events)
        .collect();
    let (events, err) = feed(&mut client(), &mut wire.clone());
    assert_eq!(err, None);
    assert!(events == expected);
    let (events, err) = feed_bytewise(&mut client(), &wire);
    assert_eq!(err, None);
    assert!(merge(events) == expected);
}

#[test]
fn all_masked_vectors_in_one_stream() {
    let wire = cat(&[MASKED_TEXT, MASKED_PONG, MASKED_TEXT]);
    let expected = vec![Ev::text(HELLO, true), Ev::Pong(HELLO.to_vec()), Ev::text(HELLO, true)];
    for a in 1..wire.len() {
        for b in a + 1..wire.len() {
            let (events, err) = feed_pieces(&mut server(), &wire, &[a, b]);
            assert_eq!(err, None);
            assert_eq!(merge(events), expected, "cuts {a} {b}");
        }
    }
}

// ---------------------------------------------------------------------------
// Encoding with the codec: FrameHeader::encode + apply_mask.

fn encode_with_codec(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head[..]).expect("a header fits in 14 bytes");
    assert_eq!(n, header.encoded_len());
    let mut out = head[..n].to_vec();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[n..], key, 0);
    }
    out
}

#[test]
fn codec_encodes_unmasked_text() {
    assert_eq!(encode_with_codec(true, OpCode::Text, None, HELLO), UNMASKED_TEXT);
}

#[test]
fn codec_encodes_masked_text() {
    assert_eq!(encode_with_codec(true, OpCode::Text, Some(RFC_KEY), HELLO), MASKED_TEXT);
    // Masking in pieces at running offsets gives the same bytes.
    for split in 0..=HELLO.len() {
        let mut payload = HELLO.to_vec();
        let next = apply_mask(&mut payload[..split], RFC_KEY, 0);
        assert_eq!(next, split);
        apply_mask(&mut payload[split..], RFC_KEY, next);
        assert_eq!(payload, MASKED_HELLO, "split {split}");
    }
}

#[test]
fn codec_encodes_fragmented_text() {
    let frames = cat(&[
        &encode_with_codec(false, OpCode::Text, None, b"Hel"),
        &encode_with_codec(true, OpCode::Continuation, None, b"lo"),
    ]);
    assert_eq!(frames, FRAGMENTED_TEXT);
}

#[test]
fn codec_encodes_ping_and_masked_pong() {
    assert_eq!(encode_with_codec(true, OpCode::Ping, None, HELLO), UNMASKED_PING);
    assert_eq!(encode_with_codec(true, OpCode::Pong, Some(RFC_KEY), HELLO), MASKED_PONG);
}

#[test]
fn codec_encodes_binary_256_and_64k() {
    assert_eq!(encode_with_codec(true, OpCode::Binary, None, &payload_256()), binary_256());
    assert_eq!(encode_with_codec(true, OpCode::Binary, None, &payload_64k()), binary_64k());
}

#[test]
fn codec_decodes_every_vector_header() {
    let cases: [(&[u8], FrameHeader, usize); 7] = [
        (UNMASKED_TEXT, FrameHeader::new(true, OpCode::Text, None, 5), 2),
        (MASKED_TEXT, FrameHeader::new(true, OpCode::Text, Some(RFC_KEY), 5), 6),
        (FRAGMENTED_TEXT, FrameHeader::new(false, OpCode::Text, None, 3), 2),
        (&FRAGMENTED_TEXT[5..], FrameHeader::new(true, OpCode::Continuation, None, 2), 2),
        (UNMASKED_PING, FrameHeader::new(true, OpCode::Ping, None, 5), 2),
        (MASKED_PONG, FrameHeader::new(true, OpCode::Pong, Some(RFC_KEY), 5), 6),
        (&[0x82, 0x7E, 0x01, 0x00], FrameHeader::new(true, OpCode::Binary, None, 256), 4),
    ];
    for (wire, header, len) in cases {
        assert_eq!(FrameHeader::decode(wire), Ok(HeaderStatus::Complete { header, len }), "{wire:02x?}");
        assert!(header.is_minimal_length(len));
        // Every proper prefix of the header is partial, asking for the rest.
        for cut in 0..len {
            match FrameHeader::decode(&wire[..cut]) {
                Ok(HeaderStatus::Partial { needed }) => assert!(needed >= 1 && cut + needed <= len),
                other => panic!("{wire:02x?} cut {cut}: {other:?}"),
            }
        }
    }
    let wire = binary_64k();
    assert_eq!(
        FrameHeader::decode(&wire),
        Ok(HeaderStatus::Complete { header: FrameHeader::new(true, OpCode::Binary, None, 65536), len: 10 })
    );
}

// ---------------------------------------------------------------------------
// Encoding with Connection sends.

#[test]
fn server_sends_unmasked_text() {
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_text("Hello", &mut out), Ok(7));
    assert_eq!(out, UNMASKED_TEXT);
}

#[test]
fn server_sends_fragmented_text() {
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_fragment(MessageKind::Text, b"Hel", false, &mut out), Ok(5));
    assert_eq!(conn.send_fragment(MessageKind::Text, b"lo", true, &mut out), Ok(4));
    assert_eq!(out, FRAGMENTED_TEXT);
}

#[test]
fn server_sends_ping() {
    let mut out = Vec::new();
    assert_eq!(server().send_ping(HELLO, &mut out), Ok(7));
    assert_eq!(out, UNMASKED_PING);
}

#[test]
fn server_sends_binary_256_and_64k() {
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_binary(&payload_256(), &mut out), Ok(260));
    assert_eq!(out, binary_256());
    // Into a slice: the frame lands at its start.
    let mut buf = vec![0u8; 65546];
    assert_eq!(conn.send_binary(&payload_64k(), &mut buf[..]), Ok(65546));
    assert_eq!(buf, binary_64k());
}

#[test]
fn server_picks_the_shortest_length_form_at_each_boundary() {
    // §5.2: 7-bit length up to 125, the 16-bit form up to 65 535, then
    // the 64-bit form; a server's frames carry no key.
    let cases: [(usize, &[u8]); 5] = [
        (0, &[0x82, 0x00]),
        (125, &[0x82, 0x7D]),
        (126, &[0x82, 0x7E, 0x00, 0x7E]),
        (65_535, &[0x82, 0x7E, 0xFF, 0xFF]),
        (65_536, &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
    ];
    for (len, head) in cases {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let frame = cat(&[head, &payload]);
        let mut out = Vec::new();
        assert_eq!(server().send_binary(&payload, &mut out), Ok(frame.len()), "{len} bytes");
        assert_eq!(out, frame, "{len} bytes into a Vec");
        let mut buf = vec![0u8; frame.len()];
        assert_eq!(server().send_binary(&payload, &mut buf[..]), Ok(frame.len()), "{len} bytes");
        assert_eq!(buf, frame, "{len} bytes into a slice");
        // One byte short: nothing is written, and the error names the
        // frame's whole length.
        let mut short = vec![0xAAu8; frame.len() - 1];
        assert_eq!(
            server().send_binary(&payload, &mut short[..]),
            Err(SendError::BufferTooSmall(BufferTooSmall { needed: frame.len() })),
            "{len} bytes into a slice one byte short"
        );
        assert!(short.iter().all(|&b| b == 0xAA), "{len} bytes: nothing written");
    }
}

#[test]
fn client_with_rfc_key_sends_the_masked_vectors() {
    let mut conn = Connection::client(Config::default(), FixedKey(RFC_KEY));
    let mut out = Vec::new();
    assert_eq!(conn.send_text("Hello", &mut out), Ok(11));
    assert_eq!(out, MASKED_TEXT);
    out.clear();
    assert_eq!(conn.send_pong(HELLO, &mut out), Ok(11));
    assert_eq!(out, MASKED_PONG);
}

/// A real client draws a fresh key per frame: its output is not the RFC's
/// bytes, but decodes back to the same frames, and the keys differ.
#[test]
fn client_with_random_keys_round_trips_the_masked_vectors() {
    let mut conn = Connection::client(Config::default(), SecureRandom::from_seed([3; 32]));
    let mut out = Vec::new();
    conn.send_text("Hello", &mut out).expect("sent");
    conn.send_pong(HELLO, &mut out).expect("sent");
    conn.send_fragment(MessageKind::Text, b"Hel", false, &mut out).expect("sent");
    conn.send_fragment(MessageKind::Text, b"lo", true, &mut out).expect("sent");
    conn.send_binary(&payload_256(), &mut out).expect("sent");
    conn.send_binary(&payload_64k(), &mut out).expect("sent");

    let frames = parse_frames_masked(&out, true);
    let shapes: Vec<(bool, OpCode, Vec<u8>)> =
        frames.iter().map(|f| (f.header.fin, f.opcode(), f.payload.clone())).collect();
    assert_eq!(
        shapes,
        vec![
            (true, OpCode::Text, HELLO.to_vec()),
            (true, OpCode::Pong, HELLO.to_vec()),
            (false, OpCode::Text, b"Hel".to_vec()),
            (true, OpCode::Continuation, b"lo".to_vec()),
            (true, OpCode::Binary, payload_256()),
            (true, OpCode::Binary, payload_64k()),
        ]
    );
    let mut keys: Vec<[u8; 4]> = frames.iter().map(|f| f.header.mask.expect("masked")).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), frames.len(), "a fresh key for every frame");
    assert_ne!(&out[..11], MASKED_TEXT, "not the RFC's fixed key");

    // And a server decodes it to the vectors' events, in any chunking.
    let expected = vec![
        Ev::text(HELLO, true),
        Ev::Pong(HELLO.to_vec()),
        Ev::text(b"Hel", false),
        Ev::text(b"lo", true),
        Ev::binary(&payload_256(), true),
        Ev::binary(&payload_64k(), true),
    ];
    let (events, err) = feed(&mut server(), &mut out.clone());
    assert_eq!(err, None);
    assert!(events == expected);
    let (events, err) = feed_bytewise(&mut server(), &out);
    assert_eq!(err, None);
    assert!(merge(events) == expected);
}

/// The server's output for each unmasked vector decodes, in a client, to the
/// events of the vector.
#[test]
fn server_output_decodes_in_a_client() {
    let mut conn = server();
    let mut out = Vec::new();
    conn.send_text("Hello", &mut out).expect("sent");
    conn.send_ping(HELLO, &mut out).expect("sent");
    conn.send_binary(&payload_256(), &mut out).expect("sent");
    let (events, err) = feed(&mut client(), &mut out);
    assert_eq!(err, None);
    assert_eq!(events, vec![Ev::text(HELLO, true), Ev::Ping(HELLO.to_vec()), Ev::binary(&payload_256(), true)]);
}
