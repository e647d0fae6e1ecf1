//! One named test per RFC 6455 rule the connection enforces, with the exact
//! `ProtocolError`, its close code, the Close frame written for it, and the
//! failure being sticky; then the close handshake, pings, send-side errors
//! and the `MessageAssembler` on top of a connection.

mod common;

use common::*;
use wsmachine::{
    CloseCode, ClosePayloadError as CP, Config, Connection, FrameHeader, HeaderStatus, Message, MessageAssembler,
    MessageKind, OpCode, ProtocolError, ProtocolError as P, Role, RsvBits, SendError, State,
};

// ---------------------------------------------------------------------------
// The failure harness.

/// When the connection must have noticed the violation, fed one byte at a time.
#[derive(Clone, Copy, Debug)]
enum At {
    /// Once the offending frame's header is complete, before its payload.
    Header,
    /// At the last byte of the input (the violation is in the payload).
    End,
}

fn header_len(frame: &[u8]) -> usize {
    match FrameHeader::decode(frame) {
        Ok(HeaderStatus::Complete { len, .. }) => len,
        // A 64-bit length with its MSB set fails in the decoder, at 10 bytes.
        Err(_) => 10 + usize::from(frame[1] & 0x80 != 0) * 4,
        Ok(HeaderStatus::Partial { .. }) => panic!("the offending frame has no complete header"),
    }
}

/// Feeds `before` (valid frames) then `bad` to a connection from `make`, all
/// at once and one byte at a time. Both must fail with `err` (close `code`),
/// byte at a time no later than `at` says, after the same control events
/// and data; then the whole failure contract is checked on both. Returns the
/// events seen before the failure (all at once).
fn reject_case(make: fn() -> Connection, before: &[u8], bad: &[u8], err: ProtocolError, code: u16, at: At) -> Vec<Ev> {
    let input = cat(&[before, bad]);

    let mut conn = make();
    let (events, got) = feed(&mut conn, &mut input.clone());
    assert_eq!(got, Some(err), "all at once");

    let mut bytewise = make();
    let mut seen = Vec::new();
    let mut fed = 0;
    for i in 0..input.len() {
        let (mut evs, got) = feed(&mut bytewise, &mut [input[i]]);
        seen.append(&mut evs);
        fed = i + 1;
        if let Some(e) = got {
            assert_eq!(e, err, "byte at a time, at byte {fed}");
            break;
        }
        assert!(i + 1 < input.len(), "byte at a time: no error");
    }
    assert!(fed > before.len(), "the frames before the offending one are valid");
    match at {
        At::Header => assert!(fed <= before.len() + header_len(bad), "noticed at byte {fed}, after the header"),
        At::End => assert_eq!(fed, input.len(), "noticed at byte {fed}"),
    }

    // Same control events; data delivered all at once is a prefix of what
    // arrived byte at a time (smaller reads can only deliver more, earlier).
    let control = |evs: &[Ev]| evs.iter().filter(|e| e.data().is_none()).cloned().collect::<Vec<_>>();
    let data = |evs: &[Ev]| evs.iter().filter_map(Ev::data).flatten().copied().collect::<Vec<u8>>();
    assert_eq!(control(&events), control(&seen));
    assert!(data(&seen).starts_with(&data(&events)));

    assert_failed(&mut conn, err, code);
    assert_failed(&mut bytewise, err, code);
    events
}

macro_rules! reject {
    ($name:ident, $make:expr, before: $before:expr, bad: $bad:expr, $err:expr, $code:expr, $at:expr) => {
        #[test]
        fn $name() {
            reject_case($make, &$before, &$bad, $err, $code, $at);
        }
    };
    ($name:ident, $make:expr, bad: $bad:expr, $err:expr, $code:expr, $at:expr) => {
        reject!($name, $make, before: [], bad: $bad, $err, $code, $at);
    };
}

fn ext_rsv1() -> Connection {
    server_with(Config { extension_rsv_bits: RsvBits::RSV1, ..Config::default() })
}

fn non_minimal_ok() -> Connection {
    client_with(Config { allow_non_minimal_lengths: true, ..Config::default() })
}

fn small_frames() -> Connection {
    server_with(Config { max_frame_payload: 1000, ..Config::default() })
}

fn small_messages() -> Connection {
    server_with(Config { max_message_size: 10, ..Config::default() })
}

fn three_fragments() -> Connection {
    server_with(Config { max_fragments: 3, ..Config::default() })
}

/// A masked header (no payload) announcing `len` bytes, with the shortest
/// length form: what a client sends before the payload.
fn masked_header(b0: u8, len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    FrameHeader { fin: b0 & 0x80 != 0, ..FrameHeader::new(false, OpCode::from_bits(b0), Some(TEST_KEY), len) }
        .encode(&mut out)
        .expect("fits");
    out
}

// ---------------------------------------------------------------------------
// §5.1 Masking, per role, both directions.

reject!(reject_unmasked_frame_from_client, server, bad: sf(0x81, b"hi"), P::UnmaskedFrame, 1002, At::Header);
reject!(reject_unmasked_control_frame_from_client, server, bad: sf(0x89, b"ping"), P::UnmaskedFrame, 1002, At::Header);
reject!(reject_unmasked_continuation_from_client, server,
    before: cf(0x01, b"a"), bad: sf(0x80, b"b"), P::UnmaskedFrame, 1002, At::Header);
reject!(reject_masked_frame_from_server, client, bad: cf(0x81, b"hi"), P::MaskedFrame, 1002, At::Header);
reject!(reject_masked_control_frame_from_server, client, bad: cf(0x8A, b"pong"), P::MaskedFrame, 1002, At::Header);
reject!(reject_masked_continuation_from_server, client,
    before: sf(0x02, b"a"), bad: cf(0x80, b"b"), P::MaskedFrame, 1002, At::Header);

// ---------------------------------------------------------------------------
// §5.2 RSV bits: refused without an extension; RSV1 with one, on a first
// data frame only.

reject!(reject_rsv1_without_extension, server, bad: cf(0xC1, b"a"), P::ReservedBits, 1002, At::Header);
reject!(reject_rsv2_without_extension, server, bad: cf(0xA1, b"a"), P::ReservedBits, 1002, At::Header);
reject!(reject_rsv3_without_extension, server, bad: cf(0x92, b"a"), P::ReservedBits, 1002, At::Header);
reject!(reject_rsv1_from_server_without_extension, client, bad: sf(0xC2, b"a"), P::ReservedBits, 1002, At::Header);
reject!(reject_rsv3_on_control_frame_without_extension, server, bad: cf(0x99, b""), P::ReservedBits, 1002, At::Header);
reject!(reject_rsv1_on_continuation_with_extension, ext_rsv1,
    before: cf(0x41, b"a"), bad: cf(0xC0, b"b"), P::ReservedBits, 1002, At::Header);
reject!(reject_rsv1_on_control_frame_with_extension, ext_rsv1, bad: cf(0xC9, b"p"), P::ReservedBits, 1002, At::Header);
reject!(reject_rsv2_when_only_rsv1_is_claimed, ext_rsv1, bad: cf(0xE1, b"a"), P::ReservedBits, 1002, At::Header);

#[test]
fn only_rsv_bits_can_be_claimed() {
    // FIN, opcode bits and mixtures are refused when the set is built, so a
    // Config can never claim them.
    for bits in [0x80, 0x0F, 0x01, 0x8F, 0xF0, 0x41] {
        assert_eq!(RsvBits::from_bits(bits), None, "{bits:#04x}");
    }
    for bits in [0x00, 0x10, 0x20, 0x40, 0x50, 0x70] {
        assert_eq!(RsvBits::from_bits(bits).map(RsvBits::bits), Some(bits));
    }
    assert_eq!(RsvBits::RSV1 | RsvBits::RSV2 | RsvBits::RSV3, RsvBits::ALL);
    assert!(RsvBits::ALL.contains(RsvBits::RSV2) && !RsvBits::RSV1.contains(RsvBits::RSV2));
    assert_eq!(Config::default().extension_rsv_bits, RsvBits::NONE);
    // A claimed RSV2 passes on a first data frame; RSV1, unclaimed, does not.
    let mut conn = server_with(Config { extension_rsv_bits: RsvBits::RSV2, ..Config::default() });
    let (events, err) = feed(&mut conn, &mut cf(0xA2, b"x"));
    assert_eq!((events, err), (vec![Ev::binary(b"x", true)], None));
    assert_eq!(feed(&mut conn, &mut cf(0xC2, b"x")).1, Some(P::ReservedBits));
}

#[test]
fn accept_rsv1_on_first_data_frame_with_extension() {
    let mut conn = ext_rsv1();
    // Compressed bytes are not UTF-8: with RSV1 they pass unvalidated.
    let wire = cat(&[&cf(0x41, &[0xFF, 0x00]), &cf(0x89, b"p"), &cf(0x80, &[0xFE])]);
    let (events, err) = feed(&mut conn, &mut wire.clone());
    assert_eq!(err, None);
    assert_eq!(events, vec![Ev::text(&[0xFF, 0x00], false), Ev::Ping(b"p".to_vec()), Ev::text(&[0xFE], true)]);
    assert!(conn.message_rsv1());
    // Binary with RSV1 too.
    let (events, err) = feed(&mut conn, &mut cf(0xC2, b"zz"));
    assert_eq!((events, err), (vec![Ev::binary(b"zz", true)], None));
    assert!(conn.message_rsv1());
    // The next message without RSV1 is plain text again, and validated.
    let (events, err) = feed(&mut conn, &mut cf(0x81, b"ok"));
    assert_eq!((events, err), (vec![Ev::text(b"ok", true)], None));
    assert!(!conn.message_rsv1());
    let (_, err) = feed(&mut conn, &mut cf(0x81, &[0xFF]));
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
}

// ---------------------------------------------------------------------------
// §5.2 Reserved opcodes: 3–7 (data) and B–F (control).

reject!(reject_reserved_opcode_0x3, server, bad: cf(0x83, b""), P::ReservedOpcode(0x3), 1002, At::Header);
reject!(reject_reserved_opcode_0x4, server, bad: cf(0x84, b"x"), P::ReservedOpcode(0x4), 1002, At::Header);
reject!(reject_reserved_opcode_0x5, server, bad: cf(0x05, b"x"), P::ReservedOpcode(0x5), 1002, At::Header);
reject!(reject_reserved_opcode_0x6, server, bad: cf(0x86, b""), P::ReservedOpcode(0x6), 1002, At::Header);
reject!(reject_reserved_opcode_0x7, client, bad: sf(0x87, b"x"), P::ReservedOpcode(0x7), 1002, At::Header);
reject!(reject_reserved_opcode_0xb, server, bad: cf(0x8B, b""), P::ReservedOpcode(0xB), 1002, At::Header);
reject!(reject_reserved_opcode_0xc, server, bad: cf(0x8C, b"x"), P::ReservedOpcode(0xC), 1002, At::Header);
reject!(reject_reserved_opcode_0xd, server, bad: cf(0x8D, b""), P::ReservedOpcode(0xD), 1002, At::Header);
reject!(reject_reserved_opcode_0xe, client, bad: sf(0x8E, b"x"), P::ReservedOpcode(0xE), 1002, At::Header);
reject!(reject_reserved_opcode_0xf, server, bad: cf(0x8F, b""), P::ReservedOpcode(0xF), 1002, At::Header);
reject!(reject_reserved_opcode_inside_fragmented_message, server,
    before: cf(0x01, b"a"), bad: cf(0x83, b""), P::ReservedOpcode(0x3), 1002, At::Header);

// ---------------------------------------------------------------------------
// Partial input: kept inside the connection, never handed back.

#[test]
fn not_enough_for_a_header() {
    let wire = cf(0x82, &[1; 300]); // 2 + 2 + 4 header bytes
    for cut in 1..8 {
        let mut conn = server();
        let mut head = wire[..cut].to_vec();
        let r = conn.receive(&mut head).expect("valid so far");
        assert_eq!((r.consumed, r.event), (cut, None), "cut {cut}");
        let (events, err) = feed(&mut conn, &mut wire[cut..].to_vec());
        assert_eq!(err, None);
        assert_eq!(events, vec![Ev::binary(&[1; 300], true)], "cut {cut}");
    }
}

#[test]
fn not_enough_for_a_control_payload() {
    let wire = cf(0x89, b"split ping");
    let mut conn = server();
    let mut first = wire[..9].to_vec();
    let r = conn.receive(&mut first).expect("valid so far");
    assert_eq!((r.consumed, r.event), (9, None), "header and 3 payload bytes kept");
    assert!(!conn.wants_write());
    let (events, err) = feed(&mut conn, &mut wire[9..].to_vec());
    assert_eq!((events, err), (vec![Ev::Ping(b"split ping".to_vec())], None));
}

#[test]
fn not_enough_for_a_data_payload_delivers_what_arrived() {
    let wire = cf(0x81, b"streamed");
    let mut conn = server();
    let mut first = wire[..9].to_vec();
    let r = conn.receive(&mut first).expect("valid so far");
    assert_eq!(r.consumed, 9);
    assert_eq!(r.event.as_ref().map(Ev::of), Some(Ev::Text { data: b"str".to_vec(), frame_end: false, fin: false }));
}

// ---------------------------------------------------------------------------
// §5.5 Control frames: at most 125 bytes, never fragmented.

reject!(reject_ping_payload_126, server, bad: cf(0x89, &[b'p'; 126]), P::ControlFrameTooLong, 1002, At::Header);
reject!(reject_pong_payload_126, client, bad: sf(0x8A, &[b'p'; 126]), P::ControlFrameTooLong, 1002, At::Header);
reject!(reject_close_payload_126, server,
    bad: cf(0x88, &cat(&[&[0x03, 0xE8], &[b'r'; 124]])), P::ControlFrameTooLong, 1002, At::Header);
reject!(reject_fragmented_ping, server, bad: cf(0x09, b"p"), P::FragmentedControlFrame, 1002, At::Header);
reject!(reject_fragmented_pong, client, bad: sf(0x0A, b""), P::FragmentedControlFrame, 1002, At::Header);
reject!(reject_fragmented_close, server, bad: cf(0x08, &[0x03, 0xE8]), P::FragmentedControlFrame, 1002, At::Header);

#[test]
fn accept_control_payload_125() {
    let payload = [0x5Au8; 125];
    let mut conn = server();
    let (events, err) = feed_bytewise(&mut conn, &cf(0x89, &payload));
    assert_eq!((events, err), (vec![Ev::Ping(payload.to_vec())], None));
    let frames = parse_frames_masked(&transmit(&mut conn), false);
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].opcode(), &frames[0].payload[..]), (OpCode::Pong, &payload[..]));
}

// ---------------------------------------------------------------------------
// §5.4 Fragmentation.

reject!(reject_continuation_without_message, server, bad: cf(0x80, b"a"), P::UnexpectedContinuation, 1002, At::Header);
reject!(reject_continuation_after_finished_message, server,
    before: cf(0x01, b"a").into_iter().chain(cf(0x80, b"b")).collect::<Vec<u8>>(),
    bad: cf(0x00, b"c"), P::UnexpectedContinuation, 1002, At::Header);
reject!(reject_text_inside_fragmented_message, server,
    before: cf(0x01, b"a"), bad: cf(0x81, b"b"), P::ExpectedContinuation, 1002, At::Header);
reject!(reject_binary_inside_fragmented_message, server,
    before: cf(0x02, b"a"), bad: cf(0x02, b"b"), P::ExpectedContinuation, 1002, At::Header);
reject!(reject_binary_inside_fragmented_text_after_a_ping, client,
    before: cat(&[&sf(0x01, b"a"), &sf(0x89, b"")]), bad: sf(0x82, b"b"), P::ExpectedContinuation, 1002, At::Header);

#[test]
fn accept_control_frames_between_fragments() {
    let wire = cat(&[
        &cf(0x01, b"Hel"),
        &cf(0x89, b"p1"),
        &cf(0x8A, b"p2"),
        &cf(0x00, b"l"),
        &cf(0x89, b"p3"),
        &cf(0x00, b""),
        &cf(0x80, b"o"),
    ]);
    let expected = vec![
        Ev::text(b"Hel", false),
        Ev::Ping(b"p1".to_vec()),
        Ev::Pong(b"p2".to_vec()),
        Ev::text(b"l", false),
        Ev::Ping(b"p3".to_vec()),
        Ev::text(b"", false),
        Ev::text(b"o", true),
    ];
    for cut in 1..wire.len() {
        let mut conn = server();
        let (events, err) = feed_pieces(&mut conn, &wire, &[cut]);
        assert_eq!(err, None, "cut {cut}");
        assert_eq!(merge(events), expected, "cut {cut}");
        // Only the newest ping is answered when nothing was polled between.
        let frames = parse_frames_masked(&transmit(&mut conn), false);
        assert_eq!(frames.len(), 1);
        assert_eq!((frames[0].opcode(), &frames[0].payload[..]), (OpCode::Pong, &b"p3"[..]));
        assert_eq!(conn.state(), State::Open);
    }
}

#[test]
fn close_between_fragments_is_delivered() {
    let mut conn = server();
    let wire = cat(&[&cf(0x01, b"Hel"), &cf(0x88, &[0x03, 0xE8])]);
    let (events, err) = feed(&mut conn, &mut wire.clone());
    assert_eq!(err, None);
    assert_eq!(events, vec![Ev::text(b"Hel", false), Ev::close(1000, "")]);
    assert_eq!(conn.state(), State::CloseReceived);
    let frames = parse_frames_masked(&transmit(&mut conn), false);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].close_code(), 1000);
    assert_eq!(conn.state(), State::Closed);
}

// ---------------------------------------------------------------------------
// §5.2 Payload length encodings.

fn nonminimal_16() -> Vec<u8> {
    cat(&[&[0x82, 0x7E, 0x00, 0x7D], &[7u8; 125]])
}

fn nonminimal_64() -> Vec<u8> {
    cat(&[&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF], &vec![9u8; 0xFFFF]])
}

fn nonminimal_64_small() -> Vec<u8> {
    cat(&[&[0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5], b"Hello"])
}

fn nonminimal_16_ping() -> Vec<u8> {
    cat(&[&[0x89, 0x7E, 0x00, 0x02], b"hi"])
}

/// A client frame with a 16-bit length for 5 bytes.
fn nonminimal_16_masked() -> Vec<u8> {
    let mut payload = *b"Hello";
    wsmachine::apply_mask(&mut payload, TEST_KEY, 0);
    cat(&[&[0x81, 0xFE, 0x00, 0x05], &TEST_KEY, &payload])
}

reject!(reject_non_minimal_16_bit_length, client, bad: nonminimal_16(), P::NonMinimalLength, 1002, At::Header);
reject!(reject_non_minimal_16_bit_length_of_zero, client,
    bad: [0x82, 0x7E, 0x00, 0x00], P::NonMinimalLength, 1002, At::Header);
reject!(reject_non_minimal_16_bit_length_on_control_frame, client,
    bad: nonminimal_16_ping(), P::NonMinimalLength, 1002, At::Header);
reject!(reject_non_minimal_16_bit_length_from_client, server,
    bad: nonminimal_16_masked(), P::NonMinimalLength, 1002, At::Header);
reject!(reject_non_minimal_64_bit_length, client, bad: nonminimal_64(), P::NonMinimalLength, 1002, At::Header);
reject!(reject_non_minimal_64_bit_length_for_a_short_payload, client,
    bad: nonminimal_64_small(), P::NonMinimalLength, 1002, At::Header);
reject!(reject_64_bit_length_msb, client,
    bad: [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1], P::LengthMsbSet, 1002, At::Header);
reject!(reject_64_bit_length_msb_even_with_non_minimal_lengths_allowed, non_minimal_ok,
    bad: [0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], P::LengthMsbSet, 1002, At::Header);
reject!(reject_64_bit_length_msb_from_client, server,
    bad: [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], P::LengthMsbSet, 1002, At::Header);

#[test]
fn accept_non_minimal_lengths_when_allowed() {
    let cases: [(Vec<u8>, Ev); 4] = [
        (nonminimal_16(), Ev::binary(&[7u8; 125], true)),
        (nonminimal_64(), Ev::binary(&vec![9u8; 0xFFFF], true)),
        (nonminimal_64_small(), Ev::text(b"Hello", true)),
        (nonminimal_16_ping(), Ev::Ping(b"hi".to_vec())),
    ];
    for (wire, expected) in cases {
        let (events, err) = feed(&mut non_minimal_ok(), &mut wire.clone());
        assert_eq!(err, None);
        assert!(events == vec![expected.clone()]);
        let (events, err) = feed_bytewise(&mut non_minimal_ok(), &wire);
        assert_eq!(err, None);
        assert!(merge(events) == vec![expected]);
    }
    let mut conn = server_with(Config { allow_non_minimal_lengths: true, ..Config::default() });
    let (events, err) = feed(&mut conn, &mut nonminimal_16_masked());
    assert_eq!((events, err), (vec![Ev::text(b"Hello", true)], None));
}

#[test]
fn accept_largest_legal_64_bit_length_header() {
    // i64::MAX announced: legal on the wire, refused only by the size limit.
    let mut wire = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    let mut conn = client_with(Config { max_frame_payload: u64::MAX, max_message_size: u64::MAX, ..Config::default() });
    assert_eq!(feed(&mut conn, &mut wire), (vec![], None));
    // With the default limits (the frame limit follows the message limit),
    // it is the message that is too large.
    let mut conn = client();
    assert_eq!(feed(&mut conn, &mut wire).1, Some(ProtocolError::MessageTooLarge));
}

// ---------------------------------------------------------------------------
// §8.1 UTF-8: fail as soon as the invalid byte arrives.

/// Feeds `wire` in pieces of `k` bytes; returns the bytes fed when the
/// error came and the data delivered before it.
fn fed_until_error(conn: &mut Connection, wire: &[u8], k: usize) -> (usize, Vec<u8>, Option<ProtocolError>) {
    let mut buf = wire.to_vec();
    let mut delivered = Vec::new();
    let mut start = 0;
    while start < buf.len() {
        let end = (start + k).min(buf.len());
        let (events, err) = feed(conn, &mut buf[start..end]);
        delivered.extend(events.iter().filter_map(Ev::data).flatten());
        if err.is_some() {
            return (end, delivered, err);
        }
        start = end;
    }
    (buf.len(), delivered, None)
}

#[test]
fn reject_invalid_utf8_in_the_middle_of_a_frame_fed_in_pieces() {
    let payload = b"hello\xFFworld, this never arrives";
    let wire = cf(0x81, payload);
    let bad_at = 6 + 5; // header, then "hello"
    for k in 1..=wire.len() {
        let mut conn = server();
        let (fed, delivered, err) = fed_until_error(&mut conn, &wire, k);
        assert_eq!(err, Some(ProtocolError::InvalidUtf8), "pieces of {k}");
        // Failed on the read that brought the invalid byte, not later.
        let read_start = bad_at / k * k;
        assert_eq!(fed, (read_start + k).min(wire.len()), "pieces of {k}");
        // No data event carried the invalid byte or anything after it, and
        // every payload byte of the earlier reads was delivered.
        assert!(b"hello".starts_with(&delivered), "pieces of {k}: delivered {delivered:02x?}");
        assert!(delivered.len() >= read_start.saturating_sub(6), "pieces of {k}: delivered {delivered:02x?}");
        assert_failed(&mut conn, ProtocolError::InvalidUtf8, 1007);
    }
}

#[test]
fn reject_surrogate_at_its_second_byte() {
    // U+D800 encoded: ED A0 80. A0 already makes it invalid.
    let wire = cf(0x81, b"ab\xED\xA0\x80cd");
    let mut conn = server();
    let (fed, delivered, err) = fed_until_error(&mut conn, &wire, 1);
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(fed, 6 + 4, "at A0, not at the end of the sequence");
    assert_eq!(delivered, b"ab\xED");
    assert_failed(&mut conn, ProtocolError::InvalidUtf8, 1007);
}

#[test]
fn reject_invalid_utf8_in_a_later_fragment_fails_fast() {
    let wire = cat(&[&cf(0x01, "κό".as_bytes()), &cf(0x80, b"ok\xC0\xAFrest")]);
    let bad_at = 6 + 4 + 6 + 2; // the C0 lead byte can start nothing valid
    let mut conn = server();
    let (fed, delivered, err) = fed_until_error(&mut conn, &wire, 1);
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(fed, bad_at + 1);
    assert_eq!(delivered, "κόok".as_bytes());
}

reject!(reject_invalid_utf8_in_continuation, server,
    before: cf(0x01, b"\xCE"), bad: cf(0x80, b"A"), P::InvalidUtf8, 1007, At::End);
reject!(reject_text_ending_inside_a_character_at_fin, server, bad: cf(0x81, b"a\xCE"), P::InvalidUtf8, 1007, At::End);
reject!(reject_fragmented_text_ending_inside_a_character, server,
    before: cf(0x01, b"a\xE2\x82"), bad: cf(0x80, b""), P::InvalidUtf8, 1007, At::End);
reject!(reject_invalid_utf8_from_server, client, bad: sf(0x81, b"\xF5"), P::InvalidUtf8, 1007, At::End);

#[test]
fn accept_utf8_split_across_fragments() {
    // κ = CE BA split between frames, 𝄞 = F0 9D 84 9E split over three.
    let wire =
        cat(&[&cf(0x01, b"\xCE"), &cf(0x00, b"\xBA\xF0"), &cf(0x89, b""), &cf(0x00, b"\x9D\x84"), &cf(0x80, b"\x9E!")]);
    let expected = vec![
        Ev::text(b"\xCE", false),
        Ev::text(b"\xBA\xF0", false),
        Ev::Ping(vec![]),
        Ev::text(b"\x9D\x84", false),
        Ev::text(b"\x9E!", true),
    ];
    for a in 1..wire.len() {
        for b in a + 1..wire.len() {
            let (events, err) = feed_pieces(&mut server(), &wire, &[a, b]);
            assert_eq!(err, None, "cuts {a} {b}");
            assert_eq!(merge(events), expected, "cuts {a} {b}");
        }
    }
    // Binary data is never validated.
    let (events, err) = feed(&mut server(), &mut cf(0x82, b"\xFF\xCE"));
    assert_eq!((events, err), (vec![Ev::binary(b"\xFF\xCE", true)], None));
}

// ---------------------------------------------------------------------------
// §5.5.1, §7.4 Close payloads.

reject!(reject_close_payload_of_one_byte, server,
    bad: cf(0x88, &[0x03]), P::InvalidClosePayload(CP::TooShort), 1002, At::End);
reject!(reject_close_reason_invalid_utf8, server,
    bad: cf(0x88, b"\x03\xE8ok\xFF"), P::InvalidClosePayload(CP::InvalidReason), 1007, At::End);
reject!(reject_close_reason_truncated_character, client,
    bad: sf(0x88, b"\x03\xE8\xCE"), P::InvalidClosePayload(CP::InvalidReason), 1007, At::End);

macro_rules! reject_close_code {
    ($($name:ident: $code:expr,)*) => {$(
        reject!(
            $name, server,
            bad: cf(0x88, &cat(&[&u16::to_be_bytes($code), b"why"])),
            P::InvalidClosePayload(CP::InvalidCode($code)), 1002, At::End
        );
    )*};
}

reject_close_code! {
    reject_close_code_0: 0,
    reject_close_code_999: 999,
    reject_close_code_1004: 1004,
    reject_close_code_1005: 1005,
    reject_close_code_1006: 1006,
    reject_close_code_1016: 1016,
    reject_close_code_1015: 1015,
    reject_close_code_2999: 2999,
    reject_close_code_5000: 5000,
    reject_close_code_65535: 65535,
}

/// The peer's Close with `code` is accepted and echoed with that code.
fn accept_close_code(code: u16) {
    for role in [Role::Server, Role::Client] {
        let (mut conn, wire) = match role {
            Role::Server => (server(), cf(0x88, &code.to_be_bytes())),
            Role::Client => (client(), sf(0x88, &code.to_be_bytes())),
        };
        let (events, err) = feed(&mut conn, &mut wire.clone());
        assert_eq!((events, err), (vec![Ev::close(code, "")], None), "{code}");
        let frames = parse_frames_masked(&transmit(&mut conn), role == Role::Client);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].payload, code.to_be_bytes(), "echoed {code}");
        assert_eq!(conn.state(), State::Closed);
    }
}

macro_rules! accept_close_code {
    ($($name:ident: $code:expr,)*) => {$(
        #[test]
        fn $name() {
            accept_close_code($code);
        }
    )*};
}

accept_close_code! {
    accept_close_code_1000: 1000,
    accept_close_code_1001: 1001,
    accept_close_code_1002: 1002,
    accept_close_code_1003: 1003,
    accept_close_code_1007: 1007,
    accept_close_code_1008: 1008,
    accept_close_code_1009: 1009,
    accept_close_code_1010: 1010,
    accept_close_code_1011: 1011,
    accept_close_code_1012: 1012, // IANA: service restart
    accept_close_code_1013: 1013, // IANA: try again later
    accept_close_code_1014: 1014, // IANA: bad gateway
    accept_close_code_3000: 3000,
    accept_close_code_4999: 4999,
}

#[test]
fn accept_close_with_125_byte_payload() {
    let reason = "é".repeat(61) + "!"; // 123 bytes, ending after a 2-byte char
    assert_eq!(reason.len(), 123);
    let wire = cf(0x88, &cat(&[&4000u16.to_be_bytes(), reason.as_bytes()]));
    let (events, err) = feed_bytewise(&mut server(), &wire);
    assert_eq!((events, err), (vec![Ev::close(4000, &reason)], None));
}

// ---------------------------------------------------------------------------
// §10.4 Limits, enforced from the header.

reject!(reject_frame_over_max_frame_payload, small_frames,
    bad: masked_header(0x82, 1001), P::FrameTooLarge, 1009, At::End);
reject!(reject_continuation_over_max_frame_payload, small_frames,
    before: cf(0x01, b"a"), bad: masked_header(0x80, 1001), P::FrameTooLarge, 1009, At::End);
// With the default limits the frame limit follows the message limit.
reject!(reject_huge_frame_with_default_limits, server,
    bad: masked_header(0x82, 1 << 40), P::MessageTooLarge, 1009, At::End);
reject!(reject_message_over_max_message_size_across_fragments, small_messages,
    before: cf(0x02, &[1; 6]), bad: masked_header(0x80, 5), P::MessageTooLarge, 1009, At::End);
reject!(reject_single_frame_message_over_max_message_size, small_messages,
    bad: masked_header(0x81, 11), P::MessageTooLarge, 1009, At::End);
reject!(reject_max_fragments_exceeded, three_fragments,
    before: cat(&[&cf(0x02, b"a"), &cf(0x00, b"b"), &cf(0x89, b""), &cf(0x00, b"")]),
    bad: masked_header(0x80, 1), P::TooManyFragments, 1009, At::End);

#[test]
fn accept_frame_at_max_frame_payload() {
    let mut conn = small_frames();
    let wire = cf(0x82, &[3u8; 1000]);
    // The header alone is accepted and yields nothing yet.
    assert_eq!(feed(&mut conn, &mut wire[..8].to_vec()), (vec![], None));
    let (events, err) = feed(&mut conn, &mut wire[8..].to_vec());
    assert_eq!(err, None);
    assert_eq!(merge(events), vec![Ev::binary(&[3u8; 1000], true)]);
}

#[test]
fn accept_message_of_exactly_max_message_size() {
    let mut conn = small_messages();
    let wire = cat(&[&cf(0x02, &[1; 6]), &cf(0x80, &[2; 4]), &cf(0x82, &[3; 10])]);
    let (events, err) = feed(&mut conn, &mut wire.clone());
    assert_eq!(err, None);
    assert_eq!(events, vec![Ev::binary(&[1; 6], false), Ev::binary(&[2; 4], true), Ev::binary(&[3; 10], true)]);
}

#[test]
fn accept_exactly_max_fragments() {
    let mut conn = three_fragments();
    // Control frames between fragments do not count; the count restarts
    // with each message.
    let message = cat(&[&cf(0x01, b"a"), &cf(0x89, b""), &cf(0x00, b""), &cf(0x80, b"c")]);
    let wire = cat(&[&message, &message]);
    let (events, err) = feed(&mut conn, &mut wire.clone());
    assert_eq!(err, None);
    assert_eq!(events.len(), 8);
    assert_eq!(events[3], Ev::text(b"c", true));
}

// ---------------------------------------------------------------------------
// §7 The close handshake.

#[test]
fn peer_initiated_close_is_echoed_and_closes() {
    let mut conn = server();
    let wire = cat(&[&cf(0x81, b"last"), &cf(0x88, b"\x03\xE9bye")]);
    let (events, err) = feed(&mut conn, &mut wire.clone());
    assert_eq!(err, None);
    assert_eq!(events, vec![Ev::text(b"last", true), Ev::close(1001, "bye")]);
    assert_eq!(conn.state(), State::CloseReceived);
    assert!(conn.wants_write());
    assert!(!conn.should_close_transport(), "not before the echo is written");

    // Data may no longer be sent; the echo carries the code and the reason.
    let mut out = Vec::new();
    assert_eq!(conn.send_text("late", &mut out), Err(SendError::Closing));
    assert_eq!(conn.send_binary(b"late", &mut out), Err(SendError::Closing));
    assert_eq!(conn.send_fragment(MessageKind::Binary, b"late", true, &mut out), Err(SendError::Closing));
    assert!(out.is_empty());
    assert_eq!(transmit(&mut conn), [0x88, 0x05, 0x03, 0xE9, b'b', b'y', b'e']);
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.is_closed());
    assert!(conn.should_close_transport(), "the server closes the transport first");
    assert!(transmit(&mut conn).is_empty(), "echoed once");

    // Anything the peer sends after its Close is ignored.
    let mut more = cat(&[&cf(0x81, b"ignored"), &cf(0x89, b"ping"), &[0xFF, 0xFF]]);
    let received = conn.receive(&mut more).expect("ignored, not an error");
    assert_eq!((received.consumed, received.event.is_none()), (more.len(), true));
    assert!(!conn.wants_write(), "no pong after the close");
    assert_eq!(conn.send_text("x", &mut out), Err(SendError::Closing));
    assert_eq!(conn.send_ping(b"x", &mut out), Err(SendError::Closing));
    assert_eq!(conn.send_close(CloseCode::NORMAL, "", &mut out), Err(SendError::Closing));
    assert!(out.is_empty());
    assert_eq!(conn.receive_eof(), None, "a clean close is not abnormal");
}

#[test]
fn peer_initiated_close_on_a_client() {
    let mut conn = client();
    let (events, err) = feed(&mut conn, &mut sf(0x88, b"\x03\xE8"));
    assert_eq!((events, err), (vec![Ev::close(1000, "")], None));
    let frames = parse_frames_masked(&transmit(&mut conn), true);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, [0x03, 0xE8]);
    assert_eq!(conn.state(), State::Closed);
    assert!(!conn.should_close_transport(), "a client waits for the server to close the TCP connection");
    assert_eq!(conn.receive_eof(), None);
    assert!(conn.should_close_transport());
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn locally_initiated_close() {
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_close(CloseCode(4001), "done", &mut out), Ok(8));
    assert_eq!(out, [0x88, 0x06, 0x0F, 0xA1, b'd', b'o', b'n', b'e']);
    assert_eq!(conn.state(), State::CloseSent);
    assert!(!conn.should_close_transport());

    // Nothing more may be sent.
    out.clear();
    assert_eq!(conn.send_text("x", &mut out), Err(SendError::Closing));
    assert_eq!(conn.send_ping(b"x", &mut out), Err(SendError::Closing));
    assert_eq!(conn.send_pong(b"x", &mut out), Err(SendError::Closing));
    assert_eq!(conn.send_close(CloseCode::NORMAL, "", &mut out), Err(SendError::Closing));
    assert!(out.is_empty());

    // Incoming data is still delivered; pings get no pong after our Close.
    let wire = cat(&[&cf(0x01, b"still "), &cf(0x89, b"p"), &cf(0x80, b"here")]);
    let (events, err) = feed(&mut conn, &mut wire.clone());
    assert_eq!(err, None);
    assert_eq!(events, vec![Ev::text(b"still ", false), Ev::Ping(b"p".to_vec()), Ev::text(b"here", true)]);
    assert!(!conn.wants_write());
    assert_eq!(conn.state(), State::CloseSent);

    // The peer's Close completes the handshake; it is not echoed.
    let (events, err) = feed(&mut conn, &mut cf(0x88, b"\x0F\xA1"));
    assert_eq!((events, err), (vec![Ev::close(4001, "")], None));
    assert_eq!(conn.state(), State::Closed);
    assert!(!conn.wants_write());
    assert!(transmit(&mut conn).is_empty(), "no echo of an answer");
    assert!(conn.should_close_transport());
}

#[test]
fn locally_initiated_close_on_a_client_waits_for_the_server() {
    let mut conn = client();
    let mut out = Vec::new();
    conn.send_close(CloseCode::NORMAL, "", &mut out).expect("sent");
    let frames = parse_frames_masked(&out, true);
    assert_eq!(frames[0].payload, [0x03, 0xE8]);
    let (events, err) = feed(&mut conn, &mut sf(0x88, b"\x03\xE8"));
    assert_eq!((events, err), (vec![Ev::close(1000, "")], None));
    assert_eq!(conn.state(), State::Closed);
    assert!(!conn.should_close_transport());
    assert_eq!(conn.receive_eof(), None);
    assert!(conn.should_close_transport());
}

#[test]
fn send_close_replaces_the_automatic_echo() {
    let mut conn = server();
    let (events, err) = feed(&mut conn, &mut cf(0x88, b"\x03\xE8"));
    assert_eq!((events, err), (vec![Ev::close(1000, "")], None));
    assert!(conn.wants_write());
    let mut out = Vec::new();
    assert_eq!(conn.send_close(CloseCode::GOING_AWAY, "restart", &mut out), Ok(11));
    assert_eq!(out, cat(&[&[0x88, 0x09, 0x03, 0xE9], b"restart"]));
    assert!(!conn.wants_write());
    assert!(transmit(&mut conn).is_empty(), "the echo is not written as well");
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.should_close_transport());
}

#[test]
fn empty_close_is_reported_as_1005_and_echoed_empty() {
    let mut conn = server();
    let (events, err) = feed(&mut conn, &mut cf(0x88, b""));
    assert_eq!((events, err), (vec![Ev::close(1005, "")], None));
    assert_eq!(transmit(&mut conn), [0x88, 0x00]);
    assert_eq!(conn.state(), State::Closed);

    let mut conn = client();
    let (events, err) = feed(&mut conn, &mut sf(0x88, b""));
    assert_eq!((events, err), (vec![Ev::close(1005, "")], None));
    let frames = parse_frames_masked(&transmit(&mut conn), true);
    assert_eq!((frames.len(), frames[0].payload.len()), (1, 0));
}

#[test]
fn send_close_without_status() {
    let mut out = Vec::new();
    assert_eq!(server().send_close(CloseCode::NO_STATUS, "", &mut out), Ok(2));
    assert_eq!(out, [0x88, 0x00]);
}

#[test]
fn receive_eof_when_open_reports_1006() {
    for mut conn in [server(), client()] {
        assert!(!conn.should_close_transport());
        assert_eq!(conn.receive_eof().as_ref().map(Ev::of), Some(Ev::close(1006, "")));
        assert_eq!(conn.state(), State::Closed);
        assert!(conn.should_close_transport());
        assert!(!conn.wants_write(), "nothing to write to a dead transport");
        assert_eq!(conn.receive_eof(), None, "reported once");
        let mut out = Vec::new();
        assert_eq!(conn.send_text("x", &mut out), Err(SendError::Closing));
        assert_eq!(conn.send_close(CloseCode::NORMAL, "", &mut out), Err(SendError::Closing));
        let mut late = cf(0x81, b"x");
        let received = conn.receive(&mut late).expect("ignored");
        assert!(received.event.is_none());
    }
}

#[test]
fn receive_eof_mid_message_and_after_close_sent_reports_1006() {
    let mut conn = server();
    feed(&mut conn, &mut cf(0x01, b"part"));
    assert_eq!(conn.receive_eof().as_ref().map(Ev::of), Some(Ev::close(1006, "")));

    let mut conn = server();
    conn.send_close(CloseCode::NORMAL, "", &mut Vec::new()).expect("sent");
    assert_eq!(conn.receive_eof().as_ref().map(Ev::of), Some(Ev::close(1006, "")));
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn receive_eof_after_a_clean_close_reports_nothing() {
    let mut conn = server();
    feed(&mut conn, &mut cf(0x88, b"\x03\xE8"));
    transmit(&mut conn);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.receive_eof(), None);
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn receive_eof_with_the_close_answer_never_written_reports_why() {
    // The mistake: the caller never calls poll_transmit. The peer's Close
    // was delivered, our answer sat in the queue, the peer gave up and
    // closed the transport. The handshake did not complete: 1006, and the
    // reason names the cause.
    for mut conn in [server(), client()] {
        let mut close = if conn.role() == Role::Server { cf(0x88, b"\x03\xE8bye") } else { sf(0x88, b"\x03\xE8bye") };
        let (events, err) = feed(&mut conn, &mut close);
        assert_eq!((events, err), (vec![Ev::close(1000, "bye")], None));
        assert!(conn.wants_write());
        let event = conn.receive_eof();
        assert_eq!(event.as_ref().map(Ev::of), Some(Ev::close(1006, wsmachine::UNWRITTEN_CLOSE)));
        assert!(wsmachine::UNWRITTEN_CLOSE.contains("poll_transmit"));
        assert!(wsmachine::UNWRITTEN_CLOSE.len() <= wsmachine::MAX_CLOSE_REASON);
        assert_eq!(conn.receive_eof(), None, "reported once");
        assert!(!conn.wants_write() && conn.should_close_transport());
        assert_eq!(conn.state(), State::Closed);
    }
    // Written, the same ending is clean.
    let mut conn = server();
    feed(&mut conn, &mut cf(0x88, b"\x03\xE8"));
    assert!(!transmit(&mut conn).is_empty());
    assert_eq!(conn.receive_eof(), None);
}

#[test]
fn receive_eof_after_a_failure_ends_the_connection() {
    // The transport ended before the failure's Close was written: the
    // connection is over all the same ("the transport ended").
    let mut conn = server();
    let (_, err) = feed(&mut conn, &mut sf(0x81, b"unmasked"));
    assert_eq!(err, Some(ProtocolError::UnmaskedFrame));
    assert!(!conn.is_closed());
    assert_eq!(conn.receive_eof(), None, "a failure is not reported again as 1006");
    assert!(conn.should_close_transport());
    assert!(conn.is_closed(), "the transport ended");
    assert_eq!(conn.state(), State::Failed(ProtocolError::UnmaskedFrame));
}

#[test]
fn the_close_echo_carries_the_peers_reason() {
    // A browser page or a C# client reports the reason of the Close it gets
    // back: echo the whole payload, from the longest reason down to none.
    let longest = "é".repeat(61) + "x"; // 123 bytes, a two-byte character last but one
    assert_eq!(longest.len(), 123);
    for reason in ["going away now", "", "ünïcödé ✓", longest.as_str()] {
        let mut client = client();
        let mut server = server();
        let mut wire = Vec::new();
        client.send_close(CloseCode::GOING_AWAY, reason, &mut wire).expect("sent");
        let (events, _) = feed(&mut server, &mut wire);
        assert_eq!(events, vec![Ev::close(1001, reason)]);
        let mut answer = transmit(&mut server);
        let mut expected = vec![0x88, 2 + reason.len() as u8, 0x03, 0xE9];
        expected.extend_from_slice(reason.as_bytes());
        assert_eq!(answer, expected, "{reason:?}");
        let (events, _) = feed(&mut client, &mut answer);
        assert_eq!(events, vec![Ev::close(1001, reason)]);
    }
    // An empty Close (1005 reported) is answered with an empty Close.
    let mut server = server();
    let (events, _) = feed(&mut server, &mut cf(0x88, b""));
    assert_eq!(events, vec![Ev::close(1005, "")]);
    assert_eq!(transmit(&mut server), [0x88, 0x00]);
}

#[test]
fn should_close_transport_server_versus_client() {
    // A full handshake between the two, initiated by the client.
    let mut client = client();
    let mut server = server();
    let mut wire = Vec::new();
    client.send_close(CloseCode::NORMAL, "bye", &mut wire).expect("sent");
    let (events, _) = feed(&mut server, &mut wire);
    assert_eq!(events, vec![Ev::close(1000, "bye")]);
    assert!(!server.should_close_transport());
    let mut answer = transmit(&mut server);
    assert!(server.should_close_transport(), "server: after both Closes");
    let (events, _) = feed(&mut client, &mut answer);
    assert_eq!(events, vec![Ev::close(1000, "bye")], "the echo carries the reason");
    assert_eq!((client.state(), server.state()), (State::Closed, State::Closed));
    assert!(!client.should_close_transport(), "client: waits for the server's TCP close");
    client.receive_eof();
    assert!(client.should_close_transport());

    // Initiated by the server: the same split.
    let mut client = common::client();
    let mut server = common::server();
    let mut wire = Vec::new();
    server.send_close(CloseCode::NORMAL, "", &mut wire).expect("sent");
    feed(&mut client, &mut wire);
    let mut answer = transmit(&mut client);
    assert_eq!(client.state(), State::Closed);
    assert!(!client.should_close_transport());
    assert!(!server.should_close_transport());
    feed(&mut server, &mut answer);
    assert_eq!(server.state(), State::Closed);
    assert!(server.should_close_transport());
}

// ---------------------------------------------------------------------------
// §5.5.2, §5.5.3 Ping and pong.

#[test]
fn auto_pong_echoes_the_ping_payload() {
    let mut conn = server();
    let (events, err) = feed_bytewise(&mut conn, &cf(0x89, b"are you there?"));
    assert_eq!((events, err), (vec![Ev::Ping(b"are you there?".to_vec())], None));
    assert!(conn.wants_write());
    assert_eq!(transmit(&mut conn), cat(&[&[0x8A, 14], b"are you there?"]));
    assert!(!conn.wants_write());
    assert!(transmit(&mut conn).is_empty());

    let mut conn = client();
    feed(&mut conn, &mut sf(0x89, b""));
    let frames = parse_frames_masked(&transmit(&mut conn), true);
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].opcode(), frames[0].payload.len()), (OpCode::Pong, 0));
}

#[test]
fn ping_flood_leaves_one_pong_for_the_newest_ping() {
    let mut conn = server();
    let wire: Vec<u8> = (0u32..1000).flat_map(|i| cf(0x89, &i.to_be_bytes())).collect();
    let (events, err) = feed(&mut conn, &mut wire.clone());
    assert_eq!(err, None);
    assert_eq!(events.len(), 1000);
    assert_eq!(events[999], Ev::Ping(999u32.to_be_bytes().to_vec()));
    assert_eq!(transmit(&mut conn), cat(&[&[0x8A, 4], &999u32.to_be_bytes()]));
    assert!(transmit(&mut conn).is_empty());
}

#[test]
fn pong_queued_before_a_close_echo_is_written_first() {
    let mut conn = server();
    let wire = cat(&[&cf(0x89, b"p"), &cf(0x88, b"\x03\xE8")]);
    feed(&mut conn, &mut wire.clone());
    let frames = parse_frames_masked(&transmit(&mut conn), false);
    let shapes: Vec<_> = frames.iter().map(|f| (f.opcode(), f.payload.clone())).collect();
    assert_eq!(shapes, vec![(OpCode::Pong, b"p".to_vec()), (OpCode::Close, vec![0x03, 0xE8])]);
}

/// The queued pong, a control payload split across reads and the Close
/// echo share nothing: a caller that drains only once, after all of them,
/// still writes the pong for the ping and the echo with its full reason,
/// at every read boundary and in both roles.
#[test]
fn a_queued_pong_survives_split_control_frames_and_a_close() {
    let ping: Vec<u8> = (0..125u8).collect();
    let pong: Vec<u8> = (0..125u8).rev().collect();
    let reason = "r".repeat(123);
    let close_payload = cat(&[&[0x0F, 0xA0], reason.as_bytes()]);
    for role_is_server in [true, false] {
        let frame = |b0, payload: &[u8]| if role_is_server { cf(b0, payload) } else { sf(b0, payload) };
        let wire = cat(&[&frame(0x89, &ping), &frame(0x8A, &pong), &frame(0x88, &close_payload)]);
        for cut in 1..wire.len() {
            let mut conn = if role_is_server { server() } else { client() };
            let (events, err) = feed_pieces(&mut conn, &wire, &[cut]);
            assert_eq!(err, None);
            assert_eq!(
                events,
                vec![Ev::Ping(ping.clone()), Ev::Pong(pong.clone()), Ev::close(4000, &reason)],
                "cut at {cut}"
            );
            let frames = parse_frames_masked(&transmit(&mut conn), !role_is_server);
            let shapes: Vec<_> = frames.iter().map(|f| (f.opcode(), f.payload.clone())).collect();
            assert_eq!(
                shapes,
                vec![(OpCode::Pong, ping.clone()), (OpCode::Close, close_payload.clone())],
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn auto_pong_off_queues_nothing() {
    let mut conn = server_with(Config { auto_pong: false, ..Config::default() });
    let (events, err) = feed(&mut conn, &mut cf(0x89, b"hi"));
    assert_eq!((events, err), (vec![Ev::Ping(b"hi".to_vec())], None));
    assert!(!conn.wants_write());
    assert!(transmit(&mut conn).is_empty());
    // The application answers itself.
    let mut out = Vec::new();
    assert_eq!(conn.send_pong(b"hi", &mut out), Ok(4));
    assert_eq!(out, [0x8A, 0x02, b'h', b'i']);
}

#[test]
fn manual_pong_replaces_the_automatic_one() {
    let mut conn = server();
    feed(&mut conn, &mut cf(0x89, b"hi"));
    let mut out = Vec::new();
    conn.send_pong(b"mine", &mut out).expect("sent");
    assert!(!conn.wants_write());
    assert!(transmit(&mut conn).is_empty());
}

#[test]
fn pong_event_needs_no_answer() {
    let mut conn = client();
    let (events, err) = feed(&mut conn, &mut sf(0x8A, b"beat"));
    assert_eq!((events, err), (vec![Ev::Pong(b"beat".to_vec())], None));
    assert!(!conn.wants_write());
}

// ---------------------------------------------------------------------------
// Send-side errors: nothing written, nothing changed.

#[test]
fn send_control_payload_over_125_is_refused() {
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_ping(&[0; 126], &mut out), Err(SendError::ControlPayloadTooLong));
    assert_eq!(conn.send_pong(&[0; 126], &mut out), Err(SendError::ControlPayloadTooLong));
    assert!(out.is_empty());
    assert_eq!(conn.send_ping(&[0; 125], &mut out), Ok(127));
    assert_eq!(conn.state(), State::Open);
}

#[test]
fn send_close_with_invalid_code_is_refused() {
    let mut conn = server();
    let mut out = Vec::new();
    for code in [0, 999, 1004, 1006, 1015, 1016, 2999, 5000] {
        assert_eq!(conn.send_close(CloseCode(code), "", &mut out), Err(SendError::InvalidCloseCode(CloseCode(code))));
    }
    assert_eq!(
        conn.send_close(CloseCode::NO_STATUS, "reason without a code", &mut out),
        Err(SendError::InvalidCloseCode(CloseCode::NO_STATUS))
    );
    assert!(out.is_empty());
    assert_eq!(conn.state(), State::Open);
}

#[test]
fn send_close_with_a_registered_code_is_sent() {
    for code in [CloseCode::SERVICE_RESTART, CloseCode::TRY_AGAIN_LATER, CloseCode::BAD_GATEWAY] {
        let mut conn = server();
        let mut out = Vec::new();
        conn.send_close(code, "restarting", &mut out).unwrap();
        let frames = parse_frames_masked(&out, false);
        assert_eq!(frames[0].payload, [&code.0.to_be_bytes()[..], b"restarting"].concat());
    }
}

#[test]
fn send_close_cuts_a_reason_over_123_bytes_at_a_character_boundary() {
    // 123 bytes fit whole.
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_close(CloseCode::NORMAL, &"r".repeat(123), &mut out), Ok(127));
    let frames = parse_frames_masked(&out, false);
    assert_eq!(frames[0].payload, [&1000u16.to_be_bytes()[..], "r".repeat(123).as_bytes()].concat());

    // 124 bytes lose the last one, and the close handshake starts.
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_close(CloseCode::GOING_AWAY, &"r".repeat(124), &mut out), Ok(127));
    let frames = parse_frames_masked(&out, false);
    assert_eq!(frames[0].payload, [&1001u16.to_be_bytes()[..], "r".repeat(123).as_bytes()].concat());
    assert_eq!(conn.state(), State::CloseSent);

    // A character across byte 123 goes whole: 122 bytes, then one of
    // three (bytes 123 to 125), leave 122.
    let mut conn = server();
    let mut out = Vec::new();
    let reason = "r".repeat(122) + "\u{20ac}" + &"r".repeat(500);
    assert_eq!(conn.send_close(CloseCode::NORMAL, &reason, &mut out), Ok(126));
    let frames = parse_frames_masked(&out, false);
    assert_eq!(frames[0].payload, [&1000u16.to_be_bytes()[..], "r".repeat(122).as_bytes()].concat());
}

#[test]
fn send_text_during_fragmented_send_is_refused() {
    let mut conn = server();
    let mut out = Vec::new();
    conn.send_fragment(MessageKind::Text, b"part", false, &mut out).expect("sent");
    let before = out.len();
    assert_eq!(conn.send_text("whole", &mut out), Err(SendError::MessageInProgress));
    assert_eq!(conn.send_binary(b"whole", &mut out), Err(SendError::MessageInProgress));
    assert_eq!(out.len(), before);
    // Control frames are fine between fragments; then finish the message.
    conn.send_ping(b"p", &mut out).expect("sent");
    conn.send_fragment(MessageKind::Text, b"!", true, &mut out).expect("sent");
    conn.send_text("next", &mut out).expect("a new message may start");
    let (events, err) = feed(&mut client(), &mut out);
    assert_eq!(err, None);
    assert_eq!(
        events,
        vec![Ev::text(b"part", false), Ev::Ping(b"p".to_vec()), Ev::text(b"!", true), Ev::text(b"next", true)]
    );
}

#[test]
fn send_fragment_of_another_kind_is_refused() {
    let mut conn = server();
    let mut out = Vec::new();
    conn.send_fragment(MessageKind::Binary, b"a", false, &mut out).expect("sent");
    let before = out.clone();
    assert_eq!(conn.send_fragment(MessageKind::Text, b"b", false, &mut out), Err(SendError::MessageInProgress));
    assert_eq!(conn.send_fragment(MessageKind::Text, b"b", true, &mut out), Err(SendError::MessageInProgress));
    assert_eq!(out, before);
    conn.send_fragment(MessageKind::Binary, b"c", true, &mut out).expect("same kind continues");
    let frames = parse_frames_masked(&out, false);
    assert_eq!(frames[1].opcode(), OpCode::Continuation);
}

#[test]
fn send_fragment_invalid_utf8_is_refused() {
    let mut conn = server();
    let mut out = Vec::new();
    assert_eq!(conn.send_fragment(MessageKind::Text, b"ab\xFF", false, &mut out), Err(SendError::InvalidUtf8));
    assert!(out.is_empty());
    // Refused as a first fragment: no message was started.
    conn.send_text("ok", &mut out).expect("no message in progress");
    out.clear();

    // A character split across fragments is fine...
    conn.send_fragment(MessageKind::Text, b"\xE2\x82", false, &mut out).expect("valid prefix");
    // ...a byte that cannot continue it is not...
    assert_eq!(conn.send_fragment(MessageKind::Text, b"A", false, &mut out), Err(SendError::InvalidUtf8));
    // ...nor is ending the message inside it.
    assert_eq!(conn.send_fragment(MessageKind::Text, b"", true, &mut out), Err(SendError::InvalidUtf8));
    conn.send_fragment(MessageKind::Text, b"\xAC", true, &mut out).expect("completes the euro sign");
    let (events, err) = feed(&mut client(), &mut out);
    assert_eq!(err, None);
    assert_eq!(merge(events).last(), Some(&Ev::text(b"\xAC", true)));
    // Binary fragments are not validated.
    out.clear();
    conn.send_fragment(MessageKind::Binary, b"\xFF", true, &mut out).expect("binary");
}

#[test]
fn send_into_a_buffer_too_small_leaves_it_untouched() {
    for role in [Role::Server, Role::Client] {
        let mut conn = if role == Role::Server { server() } else { client() };
        let masked = role == Role::Client;
        let need = |payload: usize| payload + if masked { 6 } else { 2 };
        let mut buf = [0xAAu8; 6];
        type Send = fn(&mut Connection, &mut [u8]) -> Result<usize, SendError>;
        let sends: [(&str, usize, Send); 6] = [
            ("text", 5, |c, b| c.send_text("Hello", b)),
            ("binary", 5, |c, b| c.send_binary(b"Hello", b)),
            ("fragment", 5, |c, b| c.send_fragment(MessageKind::Text, b"Hello", false, b)),
            ("ping", 5, |c, b| c.send_ping(b"Hello", b)),
            ("pong", 5, |c, b| c.send_pong(b"Hello", b)),
            ("close", 7, |c, b| c.send_close(CloseCode::NORMAL, "bye!!", b)),
        ];
        for (what, payload, send) in sends {
            let too_small = need(payload) - 1;
            let result = send(&mut conn, &mut buf[..too_small.min(6)]);
            assert_eq!(
                result,
                Err(SendError::BufferTooSmall(wsmachine::BufferTooSmall { needed: need(payload) })),
                "{role:?} {what}"
            );
            assert_eq!(buf, [0xAA; 6], "{role:?} {what}: untouched");
            assert_eq!(conn.state(), State::Open, "{role:?} {what}");
        }
        // No fragmented message was started, no close was sent: all still work.
        let mut out = Vec::new();
        conn.send_text("Hello", &mut out).expect("whole message allowed");
        conn.send_close(CloseCode::NORMAL, "", &mut out).expect("close allowed");
        assert_eq!(conn.state(), State::CloseSent);
    }
}

#[test]
fn poll_transmit_into_a_buffer_too_small_keeps_the_queue() {
    let mut conn = server();
    feed(&mut conn, &mut cat(&[&cf(0x89, b"abc"), &cf(0x88, b"\x03\xE8")]));
    let mut small = [0xAAu8; 8]; // needs 5 + 4
    assert_eq!(conn.poll_transmit(&mut small[..]), Err(wsmachine::BufferTooSmall { needed: 9 }));
    assert_eq!(small, [0xAA; 8]);
    assert!(conn.wants_write());
    assert_eq!(conn.state(), State::CloseReceived);
    let mut big = [0u8; 16];
    assert_eq!(conn.poll_transmit(&mut big[..]), Ok(9));
    assert_eq!(big[..9], [0x8A, 0x03, b'a', b'b', b'c', 0x88, 0x02, 0x03, 0xE8]);
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn failed_connection_refuses_sends_but_writes_its_close() {
    let mut conn = server();
    let mut out = Vec::new();
    feed(&mut conn, &mut sf(0x81, b"unmasked"));
    let e = ProtocolError::UnmaskedFrame;
    assert_eq!(conn.send_close(CloseCode::NORMAL, "", &mut out), Err(SendError::Failed(e)));
    assert_eq!(conn.send_fragment(MessageKind::Text, b"", true, &mut out), Err(SendError::Failed(e)));
    assert_eq!(conn.send_pong(b"", &mut out), Err(SendError::Failed(e)));
    assert!(out.is_empty());
    assert_failed(&mut conn, e, 1002);
}

#[test]
fn failure_after_close_sent_queues_no_second_close() {
    let mut conn = server();
    let mut out = Vec::new();
    conn.send_close(CloseCode::NORMAL, "", &mut out).expect("sent");
    let (_, err) = feed(&mut conn, &mut cf(0x81, b"\xFF"));
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(conn.state(), State::Failed(ProtocolError::InvalidUtf8));
    assert!(!conn.wants_write(), "our Close already went out");
    assert!(transmit(&mut conn).is_empty());
    assert!(conn.should_close_transport());
}

// ---------------------------------------------------------------------------
// MessageAssembler on top of a connection.

fn assemble(conn: &mut Connection, assembler: &mut MessageAssembler, wire: &[u8], cuts: &[usize]) -> Vec<Message> {
    let mut buf = wire.to_vec();
    let mut messages = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([wire.len()]) {
        let piece = &mut buf[start..end];
        let mut pos = 0;
        while pos < piece.len() {
            let r = conn.receive(&mut piece[pos..]).expect("valid input");
            pos += r.consumed;
            if let Some(ev) = &r.event {
                if let Some(m) = assembler.push(ev).expect("within limits") {
                    messages.push(m);
                }
            }
        }
        start = end;
    }
    messages
}

#[test]
fn assembler_collects_messages_from_a_connection() {
    let wire = cat(&[
        &cf(0x01, "κό".as_bytes()),
        &cf(0x89, b"ping"),
        &cf(0x00, &"σμε".as_bytes()[..3]), // ends inside μ
        &cf(0x80, &"σμε".as_bytes()[3..]),
        &cf(0x82, &[0, 1, 2]),
        &cf(0x81, b""),
        &cf(0x02, b""),
        &cf(0x80, b""),
    ]);
    let expected = vec![
        Message::Text("κόσμε".into()),
        Message::Binary(vec![0, 1, 2]),
        Message::Text(String::new()),
        Message::Binary(vec![]),
    ];
    for cut in 0..=wire.len() {
        let mut conn = server();
        let mut assembler = MessageAssembler::new(conn.config().max_message_size);
        let messages = assemble(&mut conn, &mut assembler, &wire, &[cut]);
        assert_eq!(messages, expected, "cut {cut}");
        assert_eq!(assembler.buffered(), 0);
    }
    assert_eq!(expected[0].kind(), MessageKind::Text);
    assert_eq!(expected[1].as_bytes(), [0, 1, 2]);
}

#[test]
fn assembler_enforces_its_own_limit_over_a_connection() {
    let mut conn = server();
    let mut assembler = MessageAssembler::new(8);
    let mut wire = cat(&[&cf(0x02, &[1; 5]), &cf(0x80, &[2; 4])]);
    let mut pos = 0;
    let mut result = Ok(None);
    while pos < wire.len() {
        let r = conn.receive(&mut wire[pos..]).expect("the connection's own limit is larger");
        pos += r.consumed;
        if let Some(ev) = &r.event {
            result = assembler.push(ev);
            if result.is_err() {
                break;
            }
        }
    }
    assert_eq!(result, Err(ProtocolError::MessageTooLarge));
    assert_eq!(ProtocolError::MessageTooLarge.close_code(), CloseCode::MESSAGE_TOO_BIG);
    assert_eq!(assembler.buffered(), 0, "the partial message is dropped");
}

#[test]
fn connection_limit_matches_assembler_limit() {
    // With max_message_size as the assembler limit, an oversized message is
    // refused by the connection from its header, before the assembler sees
    // a byte of it.
    let mut conn = small_messages();
    let mut assembler = MessageAssembler::new(conn.config().max_message_size);
    let mut wire = cat(&[&cf(0x02, &[1; 6]), &masked_header(0x80, 5)]);
    let r = conn.receive(&mut wire).expect("first fragment fits");
    assert_eq!(assembler.push(&r.event.expect("data")), Ok(None));
    let consumed = r.consumed;
    assert_eq!(conn.receive(&mut wire[consumed..]).err(), Some(ProtocolError::MessageTooLarge));
    assert_eq!(assembler.buffered(), 6);
}

// ---------------------------------------------------------------------------
// Caller mistakes the connection can name.

#[test]
fn http_fed_to_a_connection_is_named_not_blamed_on_the_peer() {
    let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n".to_vec();
    let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
    let other_methods: [&[u8]; 8] = [
        b"POST / HTTP/1.1\r\n",
        b"PUT / HTTP/1.1\r\n",
        b"HEAD / HTTP/1.1\r\n",
        b"DELETE / HTTP/1.1\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
        b"PATCH / HTTP/1.1\r\n",
        b"CONNECT a:1 HTTP/1.1\r\n",
        b"TRACE / HTTP/1.1\r\n",
    ];
    let deflate = Config { extension_rsv_bits: RsvBits::RSV1, ..Config::default() };
    type Make = fn(Config) -> Connection;
    let mut cases: Vec<(Vec<u8>, Make)> = vec![(request.clone(), server_with), (response.clone(), client_with)];
    cases.extend(other_methods.iter().map(|m| (m.to_vec(), server_with as Make)));
    for (input, make) in cases {
        for config in [Config::default(), deflate] {
            let mut conn = make(config);
            assert_eq!(feed(&mut conn, &mut input.clone()).1, Some(P::HttpInput), "{:?}", input);
            // Split anywhere, even inside the first frame header.
            let mut conn = make(config);
            assert_eq!(feed_bytewise(&mut conn, &input).1, Some(P::HttpInput), "{:?} bytewise", input);
            assert_eq!(conn.state(), State::Failed(P::HttpInput));
            assert_eq!(conn.error(), Some(P::HttpInput));
        }
    }
    assert_eq!(P::HttpInput.close_code(), CloseCode::PROTOCOL_ERROR);
    let text = P::HttpInput.to_string();
    assert!(text.contains("HTTP") && text.contains("handshake"), "{text}");

    // Not on the first frame: the same bytes are the peer's broken framing.
    let mut conn = server();
    let wire = cat(&[&cf(0x81, b"hi"), &request]);
    assert_eq!(feed(&mut conn, &mut wire.clone()).1, Some(P::ReservedBits));
    // A first frame with reserved bits that spells nothing is still that.
    let mut conn = server();
    assert_eq!(feed(&mut conn, &mut cf(0xC1, b"GET ")).1, Some(P::ReservedBits));

    // The verdict reads the header's own bytes only, never what follows in
    // the read, so the way the bytes were split cannot change it (found by
    // fuzzing: `HE` then a byte no HTTP word has).
    for input in [&b"HE\xf3\xe8\x00\x08\x01\x01~"[..], b"GEt", b"Ho"] {
        let whole = feed(&mut client(), &mut input.to_vec()).1;
        let bytewise = feed_bytewise(&mut client(), input).1;
        assert_eq!(whole, bytewise, "{input:?}");
    }
}

#[test]
fn a_caller_who_leaves_with_question_mark_can_still_write_the_close() {
    // The mistake: `?` on `receive` returns before the Close is written.
    fn handle(conn: &mut Connection, input: &mut [u8]) -> Result<usize, ProtocolError> {
        let mut pos = 0;
        let mut events = 0;
        while pos < input.len() {
            let received = conn.receive(&mut input[pos..])?;
            pos += received.consumed;
            events += usize::from(received.event.is_some());
        }
        Ok(events)
    }
    let mut conn = server();
    let mut wire = cat(&[&cf(0x81, b"ok"), &cf(0x81, &[0xFF])]);
    assert_eq!(handle(&mut conn, &mut wire), Err(P::InvalidUtf8));
    // The error is kept, and the Close with its code is still there to write.
    assert_eq!(conn.error(), Some(P::InvalidUtf8));
    assert!(conn.wants_write() && !conn.should_close_transport());
    assert_eq!(transmit(&mut conn), failure_close(P::InvalidUtf8)); // 1007
    assert!(conn.should_close_transport());
    assert_eq!(conn.error(), Some(P::InvalidUtf8), "still there after the Close was written");
    assert_eq!(handle(&mut conn, &mut cf(0x81, b"x")), Err(P::InvalidUtf8), "sticky");
    // A connection that did not fail has no error.
    assert_eq!(server().error(), None);
}

#[test]
fn assembler_errors_fail_the_connection_only_through_fail_with() {
    // The assembler holds less than the connection admits.
    let mut conn = server();
    let mut assembler = MessageAssembler::new(4);
    let mut wire = cf(0x82, b"12345");
    let received = conn.receive(&mut wire).expect("within the connection's limit");
    let event = received.event.expect("a data event");
    let error = assembler.push(&event).expect_err("over the assembler's limit");
    assert_eq!(error, P::MessageTooLarge);
    // The connection knows nothing of it: still open, nothing queued.
    assert_eq!((conn.state(), conn.error(), conn.wants_write()), (State::Open, None, false));
    // Handing the error over fails it, with the Close the error's code names.
    assert_eq!(conn.fail_with(error), P::MessageTooLarge);
    assert_eq!(conn.state(), State::Failed(P::MessageTooLarge));
    assert_eq!(transmit(&mut conn), failure_close(P::MessageTooLarge)); // 1009
    assert_eq!(conn.receive(&mut cf(0x81, b"x")).map(|r| r.consumed), Err(P::MessageTooLarge));
}

/// Whole single-frame messages of up to 65 535 bytes (a 7-bit or 16-bit
/// length) are decoded without the general path when a read holds all of
/// them: what they make, valid or not, is what the same bytes make fed one
/// at a time, in both roles, at the edges of the length forms.
#[test]
fn whole_frames_with_16_bit_lengths_decode_as_when_fed_in_pieces() {
    let valid_text = |len: usize| "é".repeat(len / 2) + &"a".repeat(len % 2);
    let mut invalid_text = valid_text(300).into_bytes();
    invalid_text[299] = 0xFF;
    let cases: Vec<(u8, Vec<u8>)> = [125, 126, 127, 1000, 4096, 65_535]
        .into_iter()
        .flat_map(|len| [(0x82, vec![len as u8; len]), (0x81, valid_text(len).into_bytes())])
        .chain([(0x81, invalid_text)])
        .collect();
    for role in [Role::Server, Role::Client] {
        for (b0, payload) in &cases {
            let (make, wire): (fn() -> Connection, Vec<u8>) = match role {
                Role::Server => (server, cf(*b0, payload)),
                Role::Client => (client, sf(*b0, payload)),
            };
            // Followed by a second frame, so the read holds more than one.
            let wire = cat(&[&wire, &wire]);
            let whole = feed(&mut make(), &mut wire.clone());
            let (events, err) = feed_bytewise(&mut make(), &wire);
            let what = format!("{role:?}, {b0:#x}, {} bytes", payload.len());
            if std::str::from_utf8(payload).is_ok() || *b0 == 0x82 {
                assert_eq!(whole, (merge(events), err), "{what}");
                assert_eq!(whole.1, None, "{what}");
                assert_eq!(whole.0.len(), 2, "{what}");
                assert_eq!(whole.0[0].data(), Some(&payload[..]), "{what}");
            } else {
                // In pieces, the valid bytes before the bad one come out
                // first; whole, the frame fails at once.
                assert_eq!(whole, (vec![], Some(P::InvalidUtf8)), "{what}");
                assert_eq!(err, Some(P::InvalidUtf8), "{what}");
            }
        }
    }
    // Over the frame limit, in the shortest length form and not: refused,
    // whole or in pieces.
    let mut nonminimal = cf(0x82, &[7; 125]);
    nonminimal.splice(1..2, [0xFE, 0x00, 0x7D]);
    for wire in [cf(0x82, &[1; 1001]), nonminimal] {
        let (events, err) = feed(&mut small_frames(), &mut wire.clone());
        assert_eq!(events, vec![]);
        assert!(matches!(err, Some(P::FrameTooLarge | P::NonMinimalLength)), "{err:?}");
        assert_eq!(feed_bytewise(&mut small_frames(), &wire).1, err);
    }
}
