//! RFC 7692 §7.2.3 examples, byte for byte, through the public API: the
//! frames are server-to-client (unmasked), so a server `Deflate` must write
//! them and a client `Deflate` must read them.
#![cfg(feature = "deflate")]

use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
use wsmachine::{Config, Connection, Message, MessageAssembler, ProtocolError, Role, SecureRandom};

/// Every message compressed, however short: the RFC's examples are "Hello".
fn config() -> DeflateConfig {
    DeflateConfig { threshold: 0, ..DeflateConfig::default() }
}

fn client(params: DeflateParams) -> (Connection, Deflate) {
    let conn = Connection::client(Deflate::connection_config(Config::default()), SecureRandom::from_seed([3; 32]));
    (conn, Deflate::new(Role::Client, params, &config()))
}

fn server(params: DeflateParams) -> (Connection, Deflate) {
    let conn = Connection::server(Deflate::connection_config(Config::default()));
    (conn, Deflate::new(Role::Server, params, &config()))
}

/// Feeds `wire` in chunks of `chop` bytes; returns the messages, or the error.
fn receive_all(
    conn: &mut Connection,
    deflate: &mut Deflate,
    wire: &[u8],
    chop: usize,
) -> Result<Vec<Message>, ProtocolError> {
    let mut assembler = MessageAssembler::new(1 << 30);
    let mut messages = Vec::new();
    let mut buf = wire.to_vec();
    let mut start = 0;
    while start < buf.len() {
        let end = (start + chop).min(buf.len());
        let mut pos = start;
        while pos < end {
            let received = conn.receive(&mut buf[pos..end])?;
            pos += received.consumed;
            let Some(event) = received.event else { continue };
            let mut decoded = deflate.decode(conn, event);
            while let Some(event) = decoded.next() {
                if let Some(m) = assembler.push(&event?)? {
                    messages.push(m);
                }
            }
        }
        start = end;
    }
    Ok(messages)
}

fn hello() -> Message {
    Message::Text("Hello".into())
}

const COMPRESSED_HELLO: &[u8] = &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
const TAKEOVER_HELLO: &[u8] = &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
const STORED_HELLO: &[u8] = &[0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
const BFINAL_HELLO: &[u8] = &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
const FRAGMENTED_HELLO: &[u8] = &[0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn rfc7692_7_2_3_1_compressed_hello_is_written_byte_for_byte() {
    let (mut conn, mut deflate) = server(DeflateParams::default());
    let mut out = Vec::new();
    deflate.send_text(&mut conn, "Hello", &mut out).unwrap();
    assert_eq!(out, COMPRESSED_HELLO);
}

#[test]
fn rfc7692_7_2_3_2_context_takeover_is_written_byte_for_byte() {
    let (mut conn, mut deflate) = server(DeflateParams::default());
    let mut out = Vec::new();
    deflate.send_text(&mut conn, "Hello", &mut out).unwrap();
    out.clear();
    deflate.send_text(&mut conn, "Hello", &mut out).unwrap();
    assert_eq!(out, TAKEOVER_HELLO);
}

#[test]
fn rfc7692_7_2_3_2_no_context_takeover_repeats_the_first_frame() {
    let params = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
    let (mut conn, mut deflate) = server(params);
    for _ in 0..3 {
        let mut out = Vec::new();
        deflate.send_text(&mut conn, "Hello", &mut out).unwrap();
        assert_eq!(out, COMPRESSED_HELLO);
    }
}

#[test]
fn rfc7692_vectors_are_read_in_every_chop() {
    let cases: &[(&str, Vec<u8>, usize)] = &[
        ("7.2.3.1 compressed", COMPRESSED_HELLO.to_vec(), 1),
        ("7.2.3.2 takeover", [COMPRESSED_HELLO, TAKEOVER_HELLO].concat(), 2),
        ("7.2.3.3 stored block", STORED_HELLO.to_vec(), 1),
        ("7.2.3.4 BFINAL", BFINAL_HELLO.to_vec(), 1),
        ("7.2.3.4 BFINAL twice", [BFINAL_HELLO, BFINAL_HELLO].concat(), 2),
        ("7.2.3.5 fragmented", FRAGMENTED_HELLO.to_vec(), 1),
        ("mixed", [BFINAL_HELLO, COMPRESSED_HELLO, STORED_HELLO, FRAGMENTED_HELLO].concat(), 4),
    ];
    for (name, wire, count) in cases {
        for chop in 1..=wire.len() {
            let (mut conn, mut deflate) = client(DeflateParams::default());
            let messages =
                receive_all(&mut conn, &mut deflate, wire, chop).unwrap_or_else(|e| panic!("{name}, chop {chop}: {e}"));
            assert_eq!(messages, vec![hello(); *count], "{name}, chop {chop}");
        }
    }
}

#[test]
fn uncompressed_messages_pass_through_unchanged() {
    // RFC 6455 §5.7 unmasked "Hello", RSV1 clear, then a compressed one.
    let wire = [&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'][..], COMPRESSED_HELLO].concat();
    let (mut conn, mut deflate) = client(DeflateParams::default());
    assert_eq!(receive_all(&mut conn, &mut deflate, &wire, 100).unwrap(), vec![hello(), hello()]);
}

#[test]
fn level_0_writes_the_stored_block_example() {
    // RFC 7692 §7.2.3.3: "Hello" in a DEFLATE block with no compression.
    let mut conn = Connection::server(Deflate::connection_config(Config::default()));
    let config = DeflateConfig { level: 0, ..config() };
    let mut deflate = Deflate::new(Role::Server, DeflateParams::default(), &config);
    let mut out = Vec::new();
    deflate.send_text(&mut conn, "Hello", &mut out).unwrap();
    assert_eq!(out, STORED_HELLO);
}

#[test]
fn fragments_are_written_with_rsv1_on_the_first_only() {
    let (mut conn, mut deflate) = server(DeflateParams::default());
    let mut out = Vec::new();
    deflate.send_fragment(&mut conn, wsmachine::MessageKind::Text, b"Hel", false, &mut out).unwrap();
    deflate.send_fragment(&mut conn, wsmachine::MessageKind::Text, b"lo", true, &mut out).unwrap();
    assert_eq!(out[0], 0x41, "RSV1, text, no FIN");
    let second = 2 + usize::from(out[1]);
    assert_eq!(out[second], 0x80, "FIN, continuation, no RSV1");
    let (mut client, mut cd) = client(DeflateParams::default());
    assert_eq!(receive_all(&mut client, &mut cd, &out, 1).unwrap(), [hello()]);
}

#[test]
fn empty_message() {
    // RFC 7692 §7.2.3.6 is an empty stored block; a compressor writes `00`.
    let (mut conn, mut deflate) = server(DeflateParams::default());
    let mut out = Vec::new();
    deflate.send_binary(&mut conn, b"", &mut out).unwrap();
    assert_eq!(out, [0xc2, 0x01, 0x00]);
    for wire in [&[0xc2, 0x01, 0x00][..], &[0xc2, 0x00], &[0xc1, 0x00]] {
        let (mut conn, mut deflate) = client(DeflateParams::default());
        let messages = receive_all(&mut conn, &mut deflate, &[wire, COMPRESSED_HELLO].concat(), 1).unwrap();
        assert_eq!(messages.len(), 2, "{wire:02x?}");
        assert!(messages[0].as_bytes().is_empty());
        assert_eq!(messages[1], hello());
    }
}

#[test]
fn compressed_and_plain_sends_do_not_interleave() {
    let (mut conn, mut deflate) = server(DeflateParams::default());
    let mut out = Vec::new();
    // A plain fragmented message in progress: no compressed message may start.
    conn.send_fragment(wsmachine::MessageKind::Text, b"He", false, &mut out).unwrap();
    assert_eq!(deflate.send_text(&mut conn, "x", &mut out), Err(wsmachine::SendError::MessageInProgress));
    assert_eq!(
        deflate.send_fragment(&mut conn, wsmachine::MessageKind::Text, b"llo", true, &mut out),
        Err(wsmachine::SendError::MessageInProgress)
    );
    conn.send_fragment(wsmachine::MessageKind::Text, b"llo", true, &mut out).unwrap();
    // And the other way round.
    deflate.send_fragment(&mut conn, wsmachine::MessageKind::Binary, b"ab", false, &mut out).unwrap();
    assert_eq!(conn.send_binary(b"x", &mut out), Err(wsmachine::SendError::MessageInProgress));
    assert_eq!(deflate.send_binary(&mut conn, b"x", &mut out), Err(wsmachine::SendError::MessageInProgress));
    deflate.send_fragment(&mut conn, wsmachine::MessageKind::Binary, b"cd", true, &mut out).unwrap();
    deflate.send_text(&mut conn, "Hello", &mut out).unwrap();
}
