//! Our frame decoder against tungstenite's (a dependency of the fuzz harness
//! only).
//!
//! Replays the `differential_tungstenite` fuzz target's corpus and
//! regressions through the same comparison (`src/differential.rs`), and
//! shows every deliberate difference with its exact bytes and both
//! verdicts — at the decoder, and at the connection where the two
//! libraries make their final decision.

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use tungstenite::error::{CapacityError, Error as TError, ProtocolError as TProtocolError};
use tungstenite::protocol::Role as TRole;
use tungstenite::{Message as TMessage, WebSocket};
use wsmachine::{CloseCode, Config, Connection, Event, ProtocolError, SecureRandom};
use wsmachine_fuzzing::differential::{compare, compare_one, ours, theirs, Agreement, Difference, Fields, Verdict};

#[test]
fn the_fuzz_corpus_agrees() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let dir = root.join(dir).join("differential_tungstenite");
        for entry in fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.expect("readable directory entry").path();
            let data = fs::read(&path).expect("readable corpus file");
            let outcome = std::panic::catch_unwind(|| compare(&data));
            assert!(outcome.is_ok(), "input {} fails", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no corpus committed");
}

#[test]
fn the_rfc_examples_agree_field_by_field() {
    // RFC 6455 §5.7: "Hello" unmasked and masked, fragmented, ping, 256 bytes.
    let mut wire = vec![0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
    wire.extend_from_slice(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    wire.extend_from_slice(&[0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o']);
    wire.extend_from_slice(&[0x89, 0x05, b'H', b'e', b'l', b'l', b'o']);
    wire.extend_from_slice(&[0x82, 0x7E, 0x01, 0x00]);
    wire.extend_from_slice(&[0; 256]);
    let seen = compare(&wire);
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|a| matches!(a, Agreement::Frame(_))), "{seen:?}");
    assert_eq!(compare_one(&[0x81]), Agreement::Partial);
    assert_eq!(compare_one(&[0x81, 0xFE, 0x01]), Agreement::Partial);
}

/// An in-memory stream for tungstenite's `WebSocket`: reads `input`,
/// swallows writes.
struct Mem(Cursor<Vec<u8>>);

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What tungstenite's client makes of server frames.
fn tungstenite_client_reads(bytes: &[u8]) -> Result<TMessage, TError> {
    WebSocket::from_raw_socket(Mem(Cursor::new(bytes.to_vec())), TRole::Client, None).read()
}

/// What our client makes of server frames: the first event's payload, or
/// the error.
fn our_client_reads(bytes: &[u8], config: Config) -> Result<Vec<u8>, ProtocolError> {
    let mut conn = Connection::client(config, SecureRandom::from_seed([1; 32]));
    let mut input = bytes.to_vec();
    let received = conn.receive(&mut input)?;
    match received.event {
        Some(Event::Binary { data, .. } | Event::Text { data, .. }) => Ok(data.to_vec()),
        other => panic!("unexpected {other:?}"),
    }
}

/// RFC 6455 §5.2: "the most significant bit MUST be 0". We refuse the
/// header; tungstenite's header parser returns the length, and its reader
/// refuses it only as larger than its frame size limit.
#[test]
fn difference_a_64_bit_length_with_its_msb_set() {
    let bytes = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0x01];
    assert_eq!(ours(&bytes), Verdict::Rejected("LengthMsbSet".into()));
    let fields =
        Fields { fin: true, rsv: [false; 3], opcode: 0x2, mask: None, payload_len: (1 << 63) + 1, header_len: 10 };
    assert_eq!(theirs(&bytes), Verdict::Frame(fields));
    assert_eq!(compare_one(&bytes), Agreement::Deliberate(Difference::LengthMsbSet));

    // At the connection: ours fails with 1002 at the header; tungstenite
    // with a capacity error (it would close with 1009).
    assert_eq!(our_client_reads(&bytes, Config::default()), Err(ProtocolError::LengthMsbSet));
    assert_eq!(ProtocolError::LengthMsbSet.close_code(), CloseCode::PROTOCOL_ERROR);
    let theirs = tungstenite_client_reads(&bytes);
    assert!(matches!(theirs, Err(TError::Capacity(CapacityError::MessageTooLong { .. }))), "{theirs:?}");
}

/// Reserved opcodes (0x3–0x7, 0xB–0xF): our decoder reports them as
/// `OpCode::Reserved` so that a user of the codec alone sees what arrived,
/// and the connection fails with 1002; tungstenite's header parser refuses
/// them itself. Both connections end in the same place.
#[test]
fn difference_reserved_opcodes() {
    for op in (0x3..=0x7).chain(0xB..=0xF) {
        let bytes = [0x80 | op, 0x00];
        let fields = Fields { fin: true, rsv: [false; 3], opcode: op, mask: None, payload_len: 0, header_len: 2 };
        assert_eq!(ours(&bytes), Verdict::Frame(fields));
        assert_eq!(theirs(&bytes), Verdict::Rejected(format!("InvalidOpcode({op})")));
        assert_eq!(compare_one(&bytes), Agreement::Deliberate(Difference::ReservedOpcode));

        assert_eq!(our_client_reads(&bytes, Config::default()), Err(ProtocolError::ReservedOpcode(op)));
        let theirs = tungstenite_client_reads(&bytes);
        assert!(matches!(theirs, Err(TError::Protocol(TProtocolError::InvalidOpcode(o))) if o == op), "{theirs:?}");
    }
    // A reserved opcode in a header that is not complete yet: both wait.
    assert_eq!(compare_one(&[0x83, 0x7E, 0x00]), Agreement::Partial);
}

/// Not a decoder difference: both decoders read a length that is not in its
/// shortest form the same way. The difference is at the connection: RFC
/// 6455 §5.2 says the minimal form MUST be used, so ours fails with 1002
/// unless `allow_non_minimal_lengths` is set; tungstenite accepts it.
#[test]
fn same_at_the_decoder_non_minimal_lengths_differ_at_the_connection() {
    let mut bytes = vec![0x82, 0x7E, 0x00, 0x05];
    bytes.extend_from_slice(b"abcde");
    let fields = Fields { fin: true, rsv: [false; 3], opcode: 0x2, mask: None, payload_len: 5, header_len: 4 };
    assert_eq!(compare_one(&bytes), Agreement::Frame(fields));
    assert_eq!(compare(&bytes).len(), 1);
    let mut long = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x05];
    long.extend_from_slice(b"abcde");
    assert_eq!(compare_one(&long), Agreement::Frame(Fields { header_len: 10, ..fields }));

    for bytes in [&bytes, &long] {
        assert_eq!(our_client_reads(bytes, Config::default()), Err(ProtocolError::NonMinimalLength));
        let lenient = Config { allow_non_minimal_lengths: true, ..Config::default() };
        assert_eq!(our_client_reads(bytes, lenient), Ok(b"abcde".to_vec()));
        let theirs = tungstenite_client_reads(bytes).expect("tungstenite accepts it");
        assert_eq!(theirs, TMessage::Binary(b"abcde".to_vec().into()));
    }
}

/// Both refuse: the MSB rule and a reserved opcode together.
#[test]
fn both_refuse_a_reserved_opcode_with_the_msb_set() {
    let bytes = [0x83, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(compare_one(&bytes), Agreement::Rejected);
}
