//! permessage-deflate on the receive path: decompression bombs, the ratio
//! limit, invalid data, fail-fast UTF-8 of inflated text, streaming, and
//! round trips for every parameter combination.
#![cfg(feature = "deflate")]

use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
use wsmachine::{
    Config, Connection, Event, FrameHeader, Message, MessageAssembler, MessageKind, OpCode, ProtocolError, Role,
    SecureRandom, State,
};

/// What feeding a wire produced on a client.
#[derive(Debug, Default)]
struct Seen {
    messages: Vec<Message>,
    /// Sizes of the inflated pieces handed out.
    pieces: Vec<usize>,
    /// The largest message prefix handed out (bytes since the last `fin`).
    largest_partial: usize,
    error: Option<ProtocolError>,
    /// What the connection wrote after the error (its Close).
    sent: Vec<u8>,
}

fn feed(conn: &mut Connection, deflate: &mut Deflate, wire: &mut [u8], chop: usize, limit: u64) -> Seen {
    let mut seen = Seen::default();
    let mut assembler = MessageAssembler::new(limit);
    let mut partial = 0;
    let mut start = 0;
    'outer: while start < wire.len() {
        let end = (start + chop).min(wire.len());
        let mut pos = start;
        while pos < end {
            let received = match conn.receive(&mut wire[pos..end]) {
                Ok(r) => r,
                Err(e) => {
                    seen.error = Some(e);
                    break 'outer;
                }
            };
            pos += received.consumed;
            let Some(event) = received.event else { continue };
            let mut decoded = deflate.decode(conn, event);
            while let Some(event) = decoded.next() {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        seen.error = Some(e);
                        break 'outer;
                    }
                };
                if let Event::Text { data, fin, .. } | Event::Binary { data, fin, .. } = event {
                    seen.pieces.push(data.len());
                    partial += data.len();
                    seen.largest_partial = seen.largest_partial.max(partial);
                    if fin {
                        partial = 0;
                    }
                }
                if let Some(m) = assembler.push(&event).expect("the assembler takes what decode yields") {
                    seen.messages.push(m);
                }
            }
        }
        start = end;
    }
    conn.poll_transmit(&mut seen.sent).unwrap();
    seen
}

fn pair(params: DeflateParams, config: &DeflateConfig, limit: u64) -> (Connection, Deflate, Connection, Deflate) {
    let conn_config = Deflate::connection_config(Config { max_message_size: limit, ..Config::default() });
    let server = Connection::server(conn_config);
    let client = Connection::client(conn_config, SecureRandom::from_seed([5; 32]));
    (server, Deflate::new(Role::Server, params, config), client, Deflate::new(Role::Client, params, config))
}

/// The code of the (masked) Close frame a client wrote.
fn close_code(sent: &[u8]) -> u16 {
    let Ok(wsmachine::HeaderStatus::Complete { header, len }) = FrameHeader::decode(sent) else { panic!("no frame") };
    assert_eq!(header.opcode, OpCode::Close);
    let key = header.mask.expect("a client masks");
    u16::from_be_bytes([sent[len] ^ key[0], sent[len + 1] ^ key[1]])
}

/// A frame header for a server-to-client frame.
fn frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut header =
        FrameHeader::new(first_byte & 0x80 != 0, OpCode::from_bits(first_byte & 0x0F), None, payload.len() as u64);
    header.rsv1 = first_byte & 0x40 != 0;
    header.encode(&mut out).unwrap();
    out.extend_from_slice(payload);
    out
}

/// Compressed payloads of zeros from one context: `first` inflates to
/// `n` zeros, and `more`, which only refers back into zeros, inflates to `n`
/// more each time it is appended (every piece ends on a byte boundary).
fn zero_bomb_parts(n: usize) -> (Vec<u8>, Vec<u8>) {
    let (mut server, mut deflate, _, _) =
        pair(DeflateParams::default(), &DeflateConfig { level: 9, ..DeflateConfig::default() }, u64::MAX >> 1);
    let zeros = vec![0u8; n];
    let mut payload = |fin| {
        let mut out = Vec::new();
        deflate.send_fragment(&mut server, MessageKind::Binary, &zeros, fin, &mut out).unwrap();
        let Ok(wsmachine::HeaderStatus::Complete { len, .. }) = FrameHeader::decode(&out) else { panic!("a frame") };
        out[len..].to_vec()
    };
    (payload(false), payload(false))
}

#[test]
fn a_small_frame_that_inflates_far_past_the_limit_fails_with_1009_at_the_limit() {
    // ~1 KiB that inflates to 1 MiB, against a 64 KiB limit.
    let (first, _) = zero_bomb_parts(1 << 20);
    assert!(first.len() <= 1100, "the bomb is {} bytes", first.len());
    let limit = 64 * 1024;
    let (_, _, mut client, mut deflate) = pair(DeflateParams::default(), &DeflateConfig::default(), limit);
    let mut wire = frame(0xC2, &first);
    let seen = feed(&mut client, &mut deflate, &mut wire, usize::MAX, limit);
    assert_eq!(seen.error, Some(ProtocolError::MessageTooLarge));
    assert_eq!(seen.error.unwrap().close_code().0, 1009);
    assert!(seen.largest_partial as u64 <= limit, "handed out {} bytes past a {limit} limit", seen.largest_partial);
    assert!(seen.messages.is_empty());
    assert_eq!(close_code(&seen.sent), 1009, "a Close with 1009 is written");
    assert!(matches!(client.state(), State::Failed(ProtocolError::MessageTooLarge)));
}

#[test]
fn a_gigabyte_bomb_stops_at_the_limit() {
    // ~1 MiB of payload that would inflate to 1 GiB (DEFLATE's ratio tops
    // out near 1032:1), with the default 64 MiB message limit... scaled to a
    // 4 MiB limit so the test stays fast in debug builds.
    let (first, more) = zero_bomb_parts(1 << 20);
    let mut payload = first;
    for _ in 1..1024 {
        payload.extend_from_slice(&more);
    }
    assert!(payload.len() < 2 << 20, "the bomb is {} bytes", payload.len());
    let limit = 4 << 20;
    let (_, _, mut client, mut deflate) = pair(DeflateParams::default(), &DeflateConfig::default(), limit);
    let mut wire = frame(0xC2, &payload);
    let started = std::time::Instant::now();
    let seen = feed(&mut client, &mut deflate, &mut wire, 64 * 1024, limit);
    assert_eq!(seen.error, Some(ProtocolError::MessageTooLarge));
    assert!(seen.largest_partial as u64 <= limit);
    assert!(seen.pieces.iter().all(|&n| n <= DeflateConfig::default().chunk_size));
    println!(
        "bomb of {} bytes refused after {} bytes inflated in {:?}",
        payload.len(),
        seen.largest_partial,
        started.elapsed()
    );
}

#[test]
fn a_message_inflating_exactly_to_the_limit_is_accepted() {
    let limit = 100_000u64;
    let (mut server, mut sd, mut client, mut cd) = pair(DeflateParams::default(), &DeflateConfig::default(), limit);
    let mut wire = Vec::new();
    sd.send_binary(&mut server, &vec![7u8; limit as usize], &mut wire).unwrap();
    sd.send_binary(&mut server, &vec![7u8; limit as usize + 1], &mut wire).unwrap();
    let seen = feed(&mut client, &mut cd, &mut wire, 1000, limit);
    assert_eq!(seen.messages.len(), 1);
    assert_eq!(seen.messages[0].as_bytes().len(), limit as usize);
    assert_eq!(seen.error, Some(ProtocolError::MessageTooLarge));
}

#[test]
fn the_ratio_limit_refuses_repetitive_payloads() {
    let config = DeflateConfig { max_ratio: 100, ..DeflateConfig::default() };
    let (mut server, mut sd, mut client, mut cd) = pair(DeflateParams::default(), &config, 1 << 30);
    let mut wire = Vec::new();
    // Text that compresses about 3:1 passes, a megabyte of one byte does not.
    let text: String = (0..20_000).map(|i| format!("{} ", i * 7919 % 10007)).collect();
    sd.send_text(&mut server, &text, &mut wire).unwrap();
    sd.send_binary(&mut server, &vec![b'a'; 1 << 20], &mut wire).unwrap();
    let seen = feed(&mut client, &mut cd, &mut wire, 4096, 1 << 30);
    assert_eq!(seen.messages, [Message::Text(text)]);
    assert_eq!(seen.error, Some(ProtocolError::CompressionRatio));
    assert_eq!(seen.error.unwrap().close_code().0, 1009);
}

#[test]
fn invalid_deflate_data_fails_with_1007() {
    for payload in [&[0x07][..], &[0xff, 0xff, 0xff], &[0x00, 0x05, 0x00, 0x00, 0x00]] {
        let (_, _, mut client, mut deflate) = pair(DeflateParams::default(), &DeflateConfig::default(), 1 << 20);
        let mut wire = frame(0xC2, payload);
        let seen = feed(&mut client, &mut deflate, &mut wire, 1, 1 << 20);
        assert_eq!(seen.error, Some(ProtocolError::InvalidCompressedData), "{payload:02x?}");
        assert_eq!(seen.error.unwrap().close_code().0, 1007);
        assert_eq!(close_code(&seen.sent), 1007);
    }
}

#[test]
fn inflated_text_is_validated_as_it_comes_out() {
    // 40 000 valid bytes, then an invalid one, then more: the error comes
    // with the piece holding the bad byte, and nothing after it is handed out.
    let mut bad = vec![b'a'; 40_000];
    bad.push(0xFF);
    bad.extend_from_slice(&[b'b'; 40_000]);
    let (mut server, mut sd, mut client, mut cd) = pair(DeflateParams::default(), &DeflateConfig::default(), 1 << 20);
    let mut wire = Vec::new();
    sd.send_binary(&mut server, &bad, &mut wire).unwrap();
    wire[0] = 0xC1; // the same payload as a text message
    let seen = feed(&mut client, &mut cd, &mut wire, usize::MAX, 1 << 20);
    assert_eq!(seen.error, Some(ProtocolError::InvalidUtf8));
    assert!(seen.largest_partial <= 40_000, "bytes past the invalid one were handed out");
    // Text cut inside a character fails at the end of the message (sent
    // compressed, however short).
    let all = DeflateConfig { threshold: 0, ..DeflateConfig::default() };
    let (mut server, mut sd, mut client, mut cd) = pair(DeflateParams::default(), &all, 1 << 20);
    let mut wire = Vec::new();
    sd.send_binary(&mut server, "ok κ".as_bytes().split_last().unwrap().1, &mut wire).unwrap();
    wire[0] = 0xC1;
    assert_eq!(feed(&mut client, &mut cd, &mut wire, 1, 1 << 20).error, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn rsv1_on_a_continuation_is_a_protocol_error() {
    let (_, _, mut client, mut deflate) = pair(DeflateParams::default(), &DeflateConfig::default(), 1 << 20);
    let mut wire = [frame(0x41, &[0xf2, 0x48, 0xcd]), frame(0xC0, &[0xc9, 0xc9, 0x07, 0x00])].concat();
    let seen = feed(&mut client, &mut deflate, &mut wire, 100, 1 << 20);
    assert_eq!(seen.error, Some(ProtocolError::ReservedBits));
}

#[test]
fn a_large_message_inflates_in_pieces() {
    let config = DeflateConfig { chunk_size: 4096, ..DeflateConfig::default() };
    let (mut server, mut sd, mut client, mut cd) = pair(DeflateParams::default(), &config, 1 << 30);
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8 ^ (i / 4096) as u8).collect();
    let mut wire = Vec::new();
    sd.send_binary(&mut server, &big, &mut wire).unwrap();
    assert!(wire.len() < big.len() / 4);
    let seen = feed(&mut client, &mut cd, &mut wire, 16 * 1024, 1 << 30);
    assert_eq!(seen.error, None);
    assert_eq!(seen.messages, [Message::Binary(big)]);
    assert!(seen.pieces.len() > 700, "{} pieces", seen.pieces.len());
    assert!(seen.pieces.iter().all(|&n| n <= 4096));
}

/// Client and server exchange messages in both directions, fragmented and
/// whole, compressed and not, under every parameter combination, fed in
/// several chops.
#[test]
fn round_trips_under_every_parameter_combination() {
    let texts: Vec<String> = (0..12)
        .map(|i| match i % 4 {
            0 => String::new(),
            1 => "Hello".repeat(i + 1),
            2 => (0..(i * 700)).map(|j| format!("{{\"k\":{},\"v\":\"κόσμε\"}}", j % 97)).collect(),
            _ => "x".into(),
        })
        .collect();
    for bits in [8, 9, 12, 15] {
        for (snct, cnct) in [(false, false), (true, false), (false, true), (true, true)] {
            let params = DeflateParams {
                server_no_context_takeover: snct,
                client_no_context_takeover: cnct,
                server_max_window_bits: Some(bits),
                client_max_window_bits: Some(bits),
            };
            let (mut server, mut sd, mut client, mut cd) = pair(params, &DeflateConfig::default(), 1 << 24);
            let mut to_client = Vec::new();
            let mut to_server = Vec::new();
            for (i, t) in texts.iter().enumerate() {
                match i % 3 {
                    0 => {
                        sd.send_text(&mut server, t, &mut to_client).unwrap();
                        cd.send_text(&mut client, t, &mut to_server).unwrap();
                    }
                    1 => {
                        let (a, b) = t.as_bytes().split_at(t.len() / 2);
                        for (conn, d, out) in
                            [(&mut server, &mut sd, &mut to_client), (&mut client, &mut cd, &mut to_server)]
                        {
                            d.send_fragment(conn, MessageKind::Binary, a, false, out).unwrap();
                            conn.send_ping(b"between", out).unwrap();
                            d.send_fragment(conn, MessageKind::Binary, b, true, out).unwrap();
                        }
                    }
                    _ => {
                        // Uncompressed, between compressed ones.
                        server.send_text(t, &mut to_client).unwrap();
                        client.send_text(t, &mut to_server).unwrap();
                    }
                }
            }
            let expected: Vec<Message> = texts
                .iter()
                .enumerate()
                .map(
                    |(i, t)| {
                        if i % 3 == 1 {
                            Message::Binary(t.clone().into_bytes())
                        } else {
                            Message::Text(t.clone())
                        }
                    },
                )
                .collect();
            for chop in [1, 7, 1000, usize::MAX] {
                let (_, _, mut c, mut d) = pair(params, &DeflateConfig::default(), 1 << 24);
                let seen = feed(&mut c, &mut d, &mut to_client.clone(), chop, 1 << 24);
                assert_eq!(seen.error, None, "to client, bits {bits}, {params:?}, chop {chop}");
                assert_eq!(seen.messages, expected, "to client, bits {bits}, {params:?}, chop {chop}");
                let mut s = Connection::server(Deflate::connection_config(Config::default()));
                let mut d = Deflate::new(Role::Server, params, &DeflateConfig::default());
                let seen = feed_server(&mut s, &mut d, &mut to_server.clone(), chop);
                assert_eq!(seen, expected, "to server, bits {bits}, {params:?}, chop {chop}");
            }
        }
    }
}

fn feed_server(conn: &mut Connection, deflate: &mut Deflate, wire: &mut [u8], chop: usize) -> Vec<Message> {
    let mut assembler = MessageAssembler::new(1 << 24);
    let mut messages = Vec::new();
    for piece in wire.chunks_mut(chop) {
        let mut pos = 0;
        while pos < piece.len() {
            let received = conn.receive(&mut piece[pos..]).unwrap();
            pos += received.consumed;
            let Some(event) = received.event else { continue };
            let mut decoded = deflate.decode(conn, event);
            while let Some(event) = decoded.next() {
                messages.extend(assembler.push(&event.unwrap()).unwrap());
            }
        }
    }
    messages
}

#[test]
fn a_failed_write_resets_the_context_and_later_messages_still_decode() {
    let (mut server, mut sd, mut client, mut cd) = pair(DeflateParams::default(), &DeflateConfig::default(), 1 << 20);
    let mut wire = Vec::new();
    sd.send_text(&mut server, "Hello, world, hello", &mut wire).unwrap();
    let mut tiny = [0u8; 4];
    assert!(sd.send_text(&mut server, "Hello, world, hello again", &mut tiny[..]).is_err());
    sd.send_text(&mut server, "Hello, world, hello again", &mut wire).unwrap();
    let seen = feed(&mut client, &mut cd, &mut wire, 3, 1 << 20);
    assert_eq!(seen.error, None);
    assert_eq!(
        seen.messages,
        [Message::Text("Hello, world, hello".into()), Message::Text("Hello, world, hello again".into())]
    );
}
