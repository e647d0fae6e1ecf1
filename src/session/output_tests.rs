//! The output side with owned payloads (`send_owned`): the same wire bytes
//! as the copying path, in order, however the writes split them.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// A step of a sequence of sends, made the same way on both sessions
/// except for whole messages: `send` (copied) on one, `send_owned` on the
/// other.
#[derive(Debug, Clone)]
enum Step {
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    /// A ping from the peer: the automatic pong is queued.
    PeerPing(Vec<u8>),
    Close,
}

fn binary(len: usize, seed: u8) -> Message {
    Message::Binary((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect())
}

fn text(len: usize) -> Message {
    // Two-byte characters and ASCII, cut to `len` bytes on a boundary.
    let mut s = String::new();
    while s.len() < len {
        s.push(if s.len() % 3 == 0 { 'é' } else { 'x' });
    }
    while s.len() > len {
        s.pop();
    }
    Message::Text(s)
}

/// A masked ping frame as a client sends it, for a server session.
fn peer_ping(payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut frame = vec![0x89, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// A mixed sequence: small and large, text and binary, around the
/// threshold and the 16- and 64-bit length encodings, control frames and
/// fragments in between, then a Close.
fn mixed(peer_pings: bool) -> Vec<Step> {
    let mut steps = vec![
        Step::Message(text(5)),
        Step::Message(binary(SEND_OWNED_MIN, 1)),
        Step::Message(binary(SEND_OWNED_MIN - 1, 2)),
        Step::Ping(b"p".to_vec()),
        Step::Message(text(20_000)),
        Step::Message(binary(70_000, 3)),
        Step::Message(binary(70_000, 4)),
        Step::Fragment(MessageKind::Binary, vec![5; 3000], false),
        Step::Ping(Vec::new()),
        Step::Fragment(MessageKind::Binary, vec![6; 9000], true),
        Step::Pong(b"unsolicited".to_vec()),
        Step::Message(binary(0, 0)),
        Step::Message(binary(65_535, 5)),
        Step::Message(binary(65_536, 6)),
        Step::Message(text(126)),
        Step::Message(binary(5000, 7)),
    ];
    if peer_pings {
        steps.insert(3, Step::PeerPing(b"first".to_vec()));
        steps.insert(8, Step::PeerPing(Vec::new()));
    }
    steps.push(Step::Close);
    steps
}

fn apply<R: RandomSource>(session: &mut Session<R>, step: &Step, owned: bool) {
    match step {
        Step::Message(m) if owned => session.send_owned(m.clone()).unwrap(),
        Step::Message(m) => session.send(m).unwrap(),
        Step::Ping(p) => session.send_ping(p).unwrap(),
        Step::Pong(p) => session.send_pong(p).unwrap(),
        Step::Fragment(kind, data, fin) => session.send_fragment(*kind, data, *fin).unwrap(),
        Step::PeerPing(p) => {
            session.receive(&peer_ping(p));
            assert!(matches!(session.poll_message().unwrap(), Some(Incoming::Ping(_))));
        }
        Step::Close => session.send_close(CloseCode::NORMAL, "bye").unwrap(),
    }
}

fn server() -> Session {
    Session::new(Connection::server(Config::default()))
}

fn client() -> Session {
    Session::new(Connection::client(Config::default(), SecureRandom::from_seed([5; 32])))
}

/// Everything the session wants to write, piece by piece, consumed.
fn drain<R: RandomSource>(session: &mut Session<R>) -> Vec<u8> {
    let mut wire = Vec::new();
    loop {
        let piece = session.poll_output();
        if piece.is_empty() {
            return wire;
        }
        let n = piece.len();
        wire.extend_from_slice(piece);
        session.consume_output(n);
    }
}

/// Writes `n` bytes through the vectored pieces (as a `writev` that took
/// `n`), returning them.
fn write_vectored<R: RandomSource>(session: &mut Session<R>, slots: usize, n: usize) -> Vec<u8> {
    let mut slices = vec![&[][..]; slots];
    let filled = session.poll_output_vectored(&mut slices);
    assert!(slices[..filled].iter().all(|s| !s.is_empty()), "no empty piece");
    let written: Vec<u8> = slices[..filled].concat().into_iter().take(n).collect();
    let count = written.len();
    session.consume_output(count);
    written
}

/// The wire bytes of `steps`, sent with `send` or `send_owned`, written
/// after each step by `write` (which may leave bytes queued); checks the
/// byte count after every step against `buffered_output`.
fn run<R: RandomSource>(
    mut session: Session<R>,
    steps: &[Step],
    owned: bool,
    mut write: impl FnMut(&mut Session<R>, usize) -> Vec<u8>,
) -> (Vec<u8>, Vec<usize>) {
    let mut wire = Vec::new();
    let mut buffered = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        apply(&mut session, step, owned);
        buffered.push(session.buffered_output());
        wire.extend(write(&mut session, i));
        buffered.push(session.buffered_output());
    }
    wire.extend(drain(&mut session));
    assert_eq!(session.buffered_output(), 0);
    assert!(!session.wants_write());
    (wire, buffered)
}

/// The reference: the copying path, everything written after the last step.
fn reference<R: RandomSource>(session: Session<R>, steps: &[Step]) -> Vec<u8> {
    run(session, steps, false, |_, _| Vec::new()).0
}

#[test]
fn owned_sends_write_the_same_bytes_as_copies() {
    for peer_pings in [false, true] {
        let steps = mixed(peer_pings);
        let expected = reference(server(), &steps);
        // Everything at the end, piece by piece.
        let (wire, _) = run(server(), &steps, true, |_, _| Vec::new());
        assert_eq!(wire, expected, "server, piece by piece");
        // Vectored, after every step, in writes of every shape.
        for slots in [1, 2, 3, 64] {
            for chunk in [1, 7, 4096, 100_000, usize::MAX] {
                let (wire, _) = run(server(), &steps, true, |s, _| write_vectored(s, slots, chunk));
                assert_eq!(wire, expected, "server, {slots} slots, writes of {chunk}");
            }
        }
    }
    // The client masks with the same key sequence: in place for owned
    // payloads, while copying for the rest.
    let steps = mixed(false);
    let expected = reference(client(), &steps);
    let (wire, _) = run(client(), &steps, true, |_, _| Vec::new());
    assert_eq!(wire, expected, "client");
    let (wire, _) = run(client(), &steps, true, |s, i| write_vectored(s, 4, 1000 * i + 1));
    assert_eq!(wire, expected, "client, partial vectored writes");
    // And the peer reads the messages back.
    let mut reader = server();
    reader.receive(&expected);
    let mut got = Vec::new();
    while let Some(item) = reader.poll_message().unwrap() {
        got.push(item);
    }
    let sent: Vec<Incoming> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Message(m) => Some(Incoming::Message(m.clone())),
            _ => None,
        })
        .collect();
    let received: Vec<Incoming> = got.into_iter().filter(|i| matches!(i, Incoming::Message(_))).collect();
    assert_eq!(received.len(), sent.len() + 1, "the fragmented message too");
    assert_eq!(received.iter().filter(|i| sent.contains(i)).count(), sent.len());
}

#[test]
fn a_partial_write_may_stop_at_every_byte() {
    // Two owned payloads with frames before, between and after, so the
    // pieces are: out, payload, out, payload, out.
    let steps = [
        Step::Message(text(3)),
        Step::Message(binary(SEND_OWNED_MIN + 3, 1)),
        Step::Ping(b"between".to_vec()),
        Step::Message(binary(SEND_OWNED_MIN, 2)),
        Step::Message(binary(SEND_OWNED_MIN + 200, 3)),
        Step::Message(text(10)),
    ];
    for make in [server as fn() -> Session, client] {
        let expected = reference(make(), &steps);
        let mut session = make();
        for step in &steps {
            apply(&mut session, step, true);
        }
        let mut slices = [&[][..]; 8];
        assert_eq!(session.poll_output_vectored(&mut slices), 7);
        for split in 0..=expected.len() {
            let mut session = make();
            for step in &steps {
                apply(&mut session, step, true);
            }
            let mut wire = write_vectored(&mut session, 8, split);
            assert_eq!(wire.len(), split);
            assert_eq!(session.buffered_output(), expected.len() - split, "split at {split}");
            wire.extend(write_vectored(&mut session, 8, usize::MAX));
            assert_eq!(session.buffered_output(), 0);
            assert_eq!(wire, expected, "split at {split}");
        }
    }
}

#[test]
fn buffered_output_counts_the_owned_payloads() {
    let steps = mixed(true);
    let (_, copied) = run(server(), &steps, false, |s, i| write_vectored(s, 3, 777 * i));
    let (_, owned) = run(server(), &steps, true, |s, i| write_vectored(s, 3, 777 * i));
    assert_eq!(owned, copied);

    let mut session = server();
    session.send_owned(binary(10_000, 1)).unwrap();
    assert_eq!(session.buffered_output(), 4 + 10_000);
    assert!(session.wants_write());
    session.consume_output(4 + 5000);
    assert_eq!(session.buffered_output(), 5000);
    assert_eq!(session.poll_output().len(), 5000);
    session.consume_output(5000);
    assert_eq!(session.buffered_output(), 0);
    assert!(session.poll_output().is_empty());
    assert!(!session.wants_write());
}

#[test]
fn small_messages_are_copied() {
    let mut session = server();
    session.send_owned(binary(SEND_OWNED_MIN - 1, 1)).unwrap();
    let mut slices = [&[][..]; 4];
    assert_eq!(session.poll_output_vectored(&mut slices), 1, "one piece: copied");
    assert!(session.segments.is_empty());
    session.send_owned(binary(SEND_OWNED_MIN, 1)).unwrap();
    assert_eq!(session.segments.len(), 1);
}

#[test]
fn the_output_buffer_compacts_and_frees_around_queued_payloads() {
    // More than READ_CHUNK of small frames before and after a payload:
    // a partial write past half of them moves the rest to the front.
    let mut steps = Vec::new();
    for i in 0..600 {
        steps.push(Step::Message(binary(100, i as u8)));
    }
    steps.push(Step::Message(binary(50_000, 9)));
    for i in 0..600 {
        steps.push(Step::Message(binary(100, i as u8)));
    }
    steps.push(Step::Message(binary(50_000, 10)));
    let expected = reference(server(), &steps);
    for chunk in [1000, 30_000, 40_000, 61_000] {
        let mut session = server();
        for step in &steps {
            apply(&mut session, step, true);
        }
        let mut wire = Vec::new();
        while session.buffered_output() > 0 {
            wire.extend(write_vectored(&mut session, 2, chunk));
            // An idle moment between writes frees nothing still needed.
            session.shrink_buffers();
        }
        assert_eq!(wire, expected, "writes of {chunk}");
        // Everything written: the queued payloads' memory went with it.
        assert_eq!(session.buffer_capacity(), 0, "writes of {chunk}");
    }

    // The bytes before a payload written, the buffer freed: the payload
    // and what follows it still go out in order.
    let mut session = server();
    session.send_owned(binary(10_000, 1)).unwrap();
    session.consume_output(4);
    session.shrink_buffers();
    session.send(&Message::text("after")).unwrap();
    let mut expected = server();
    expected.send(&binary(10_000, 1)).unwrap();
    expected.send(&Message::text("after")).unwrap();
    let expected = drain(&mut expected);
    let mut wire = expected[..4].to_vec();
    wire.extend(drain(&mut session));
    assert_eq!(wire, expected);
}

#[test]
fn send_owned_refuses_as_send_does() {
    let mut session = server();
    session.send_fragment(MessageKind::Binary, b"begun", false).unwrap();
    let before = session.buffered_output();
    assert_eq!(session.send_owned(binary(10_000, 1)), Err(SendError::MessageInProgress));
    assert_eq!(session.buffered_output(), before);
    session.send_close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(session.send_owned(binary(10_000, 1)), Err(SendError::Closing));
    assert!(session.segments.is_empty());
}

#[test]
fn a_failure_after_queued_payloads_puts_its_close_last() {
    let mut owned = server();
    let mut copied = server();
    owned.send_owned(binary(10_000, 1)).unwrap();
    copied.send(&binary(10_000, 1)).unwrap();
    // An unmasked frame from a client: a protocol error, Close 1002 queued.
    for session in [&mut owned, &mut copied] {
        session.receive(&[0x82, 0x01, 0x00]);
        assert!(session.poll_message().is_err());
    }
    let expected = drain(&mut copied);
    assert_eq!(drain(&mut owned), expected);
    let reason = ProtocolError::UnmaskedFrame.reason();
    assert!(expected.ends_with(reason.as_bytes()));
    let close = expected.len() - reason.len() - 4;
    assert_eq!(expected[close..close + 4], [0x88, 2 + reason.len() as u8, 0x03, 0xEA]);
}

#[cfg(feature = "deflate")]
#[test]
fn compressed_messages_keep_the_copying_path() {
    use crate::ext::deflate::{Deflate, DeflateConfig, DeflateParams};

    let make = || {
        let config = DeflateConfig::default();
        let deflate = Deflate::new(Role::Server, DeflateParams::default(), &config);
        Session::with_deflate(Connection::server(Deflate::connection_config(Config::default())), deflate)
    };
    let steps = mixed(false);
    let expected = reference(make(), &steps);
    let mut session = make();
    for step in &steps {
        apply(&mut session, step, true);
        assert!(session.segments.is_empty());
    }
    assert_eq!(drain(&mut session), expected);
}
