//! Property tests: whatever one role sends, the other receives identically
//! in any read chunking, in both directions, ending in a completed close
//! handshake; and arbitrary input never panics and fails stickily.

#[path = "../../../tests/common/mod.rs"]
mod common;

use common::*;
use proptest::prelude::*;
use wsmachine::{
    CloseCode, Config, Connection, MessageKind, OpCode, ProtocolError, Role, RsvBits, SecureRandom, State,
};

// ---------------------------------------------------------------------------
// What is sent.

#[derive(Debug, Clone)]
enum Item {
    Message {
        kind: MessageKind,
        len: usize,
        seed: u32,
        /// `None`: one `send_text` / `send_binary`. `Some(cuts)`: frames
        /// through `send_fragment`, cut at these points (may be equal: empty
        /// fragments), text possibly inside a character.
        cuts: Option<Vec<u16>>,
        /// Pings sent after fragment `i` (taken modulo the fragment count).
        pings: Vec<(u16, Vec<u8>)>,
    },
    Ping(Vec<u8>),
}

/// Text with one-to-four-byte characters, or bytes, `len` bytes or a few more.
fn content(kind: MessageKind, len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    match kind {
        MessageKind::Binary => (0..len).map(|_| next() as u8).collect(),
        MessageKind::Text => {
            const CHARS: [char; 8] = ['a', 'Z', ' ', 'é', 'ß', '€', '語', '𝄞'];
            let mut s = String::with_capacity(len + 3);
            while s.len() < len {
                s.push(CHARS[(next() % 8) as usize]);
            }
            s.into_bytes()
        }
    }
}

/// `f` as a position in `0..size`: a fraction of 65 536ths.
fn frac(f: u16, size: usize) -> usize {
    (usize::from(f) * size) >> 16
}

fn control_payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=125)
}

fn item() -> impl Strategy<Value = Item> {
    let len = prop_oneof![8 => 0usize..300, 2 => 300usize..5000, 1 => 60_000usize..70_000];
    let kind = prop_oneof![Just(MessageKind::Text), Just(MessageKind::Binary)];
    let cuts = prop::option::weighted(0.5, prop::collection::vec(any::<u16>(), 0..6));
    let pings = prop::collection::vec((any::<u16>(), control_payload()), 0..3);
    prop_oneof![
        6 => (kind, len, any::<u32>(), cuts, pings)
            .prop_map(|(kind, len, seed, cuts, pings)| Item::Message { kind, len, seed, cuts, pings }),
        1 => control_payload().prop_map(Item::Ping),
    ]
}

/// What the receiver must see, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
}

/// Sends `items` then a Close; returns the wire and the expected sequence.
fn send_all(sender: &mut Connection, items: &[Item]) -> (Vec<u8>, Vec<Got>) {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for item in items {
        match item {
            Item::Ping(payload) => {
                sender.send_ping(payload, &mut wire).expect("ping");
                expected.push(Got::Ping(payload.clone()));
            }
            Item::Message { kind, len, seed, cuts, pings } => {
                let data = content(*kind, *len, *seed);
                match cuts {
                    None => {
                        match kind {
                            MessageKind::Text => {
                                sender.send_text(std::str::from_utf8(&data).expect("text"), &mut wire).expect("text")
                            }
                            MessageKind::Binary => sender.send_binary(&data, &mut wire).expect("binary"),
                        };
                        for (_, payload) in pings {
                            sender.send_ping(payload, &mut wire).expect("ping");
                            expected.push(Got::Ping(payload.clone()));
                        }
                    }
                    Some(cuts) => {
                        let mut points: Vec<usize> = cuts.iter().map(|&f| frac(f, data.len() + 1)).collect();
                        points.sort_unstable();
                        let bounds: Vec<usize> = [0].into_iter().chain(points).chain([data.len()]).collect();
                        let frames = bounds.len() - 1;
                        for f in 0..frames {
                            let fin = f + 1 == frames;
                            let piece = &data[bounds[f]..bounds[f + 1]];
                            let n = sender.send_fragment(*kind, piece, fin, &mut wire).expect("fragment");
                            assert!(n >= piece.len() + 2);
                            if fin {
                                break;
                            }
                            for (at, payload) in pings {
                                if frac(*at, frames) == f {
                                    sender.send_ping(payload, &mut wire).expect("ping between fragments");
                                    expected.push(Got::Ping(payload.clone()));
                                }
                            }
                        }
                        for (at, payload) in pings {
                            if frac(*at, frames) == frames - 1 {
                                sender.send_ping(payload, &mut wire).expect("ping after the message");
                                expected.push(Got::Ping(payload.clone()));
                            }
                        }
                    }
                }
                // The ping after the last fragment was pushed after the
                // message; put the message before it.
                let trailing = match cuts {
                    None => pings.len(),
                    Some(cuts) => {
                        let frames = cuts.len() + 1;
                        pings.iter().filter(|(at, _)| frac(*at, frames) == frames - 1).count()
                    }
                };
                let at = expected.len() - trailing;
                expected.insert(at, Got::Message(*kind, data));
            }
        }
    }
    sender.send_close(CloseCode::NORMAL, "done", &mut wire).expect("close");
    assert_eq!(sender.state(), State::CloseSent);
    (wire, expected)
}

/// Feeds `wire` cut at `cuts` to `receiver`, polling after every event.
/// Returns what arrived, the Close seen, and everything it wrote back.
fn receive_all(receiver: &mut Connection, wire: &[u8], cuts: &[usize]) -> (Vec<Got>, Vec<Ev>, Vec<u8>) {
    let mut buf = wire.to_vec();
    let mut got = Vec::new();
    let mut closes = Vec::new();
    let mut back = Vec::new();
    let mut message: Option<(MessageKind, Vec<u8>)> = None;
    let mut start = 0;
    for end in cuts.iter().copied().chain([wire.len()]) {
        let piece = &mut buf[start..end];
        let mut pos = 0;
        while pos < piece.len() {
            let r = receiver.receive(&mut piece[pos..]).expect("valid input");
            assert!(r.consumed > 0 || r.event.is_some(), "progress");
            pos += r.consumed;
            let Some(ev) = &r.event else {
                assert_eq!(pos, piece.len(), "no event: the whole read is consumed");
                continue;
            };
            match Ev::of(ev) {
                Ev::Text { data, fin, frame_end } | Ev::Binary { data, fin, frame_end } => {
                    let kind = if matches!(ev, wsmachine::Event::Text { .. }) {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    assert!(frame_end || !fin);
                    let (k, bytes) = message.get_or_insert((kind, Vec::new()));
                    assert_eq!(*k, kind, "a message keeps its kind");
                    bytes.extend_from_slice(&data);
                    if fin {
                        let (kind, bytes) = message.take().expect("in progress");
                        if kind == MessageKind::Text {
                            assert!(std::str::from_utf8(&bytes).is_ok(), "fin text is valid UTF-8");
                        }
                        got.push(Got::Message(kind, bytes));
                    }
                }
                Ev::Ping(p) => got.push(Got::Ping(p)),
                ev @ Ev::Close { .. } => closes.push(ev),
                ev @ Ev::Pong(_) => panic!("nobody pinged the receiver: {ev:?}"),
            }
            receiver.poll_transmit(&mut back).expect("Vec");
        }
        start = end;
    }
    assert!(message.is_none(), "no message left unfinished");
    (got, closes, back)
}

fn cut_points(cuts: &[u16], len: usize) -> Vec<usize> {
    let mut points: Vec<usize> = cuts.iter().map(|&f| frac(f, len + 1)).collect();
    points.sort_unstable();
    points
}

fn round_trip(client_sends: bool, items: &[Item], seed: [u8; 32], cuts: &[u16], back_cuts: &[u16]) {
    let mut client = Connection::client(Config::default(), SecureRandom::from_seed(seed));
    let mut server = Connection::server(Config::default());
    let (sender, receiver) = if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };

    let (wire, expected) = send_all(sender, items);
    let (got, closes, back) = receive_all(receiver, &wire, &cut_points(cuts, wire.len()));
    assert!(got == expected, "received {} items, expected {}", got.len(), expected.len());
    assert_eq!(closes, vec![Ev::close(1000, "done")]);
    assert_eq!(receiver.state(), State::Closed, "the receiver echoed the Close");

    // One pong per ping, then the echo, arrive back at the sender.
    let pings: Vec<Vec<u8>> = expected
        .iter()
        .filter_map(|g| match g {
            Got::Ping(p) => Some(p.clone()),
            Got::Message(..) => None,
        })
        .collect();
    let (events, err) = feed_pieces(sender, &back, &cut_points(back_cuts, back.len()));
    assert_eq!(err, None);
    let mut want: Vec<Ev> = pings.into_iter().map(Ev::Pong).collect();
    want.push(Ev::close(1000, "done")); // the echo carries the reason
    assert_eq!(events, want);
    assert_eq!(sender.state(), State::Closed);
    assert!(!sender.wants_write() && !receiver.wants_write());
    // The server closes the transport first; the client waits for it.
    assert!(server.should_close_transport());
    assert!(!client.should_close_transport());
    assert_eq!(client.receive_eof(), None);
    assert_eq!((client.state(), server.state()), (State::Closed, State::Closed));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn client_to_server_arrives_identical(
        items in prop::collection::vec(item(), 0..8),
        seed in any::<[u8; 32]>(),
        cuts in prop::collection::vec(any::<u16>(), 0..24),
        back_cuts in prop::collection::vec(any::<u16>(), 0..4),
    ) {
        round_trip(true, &items, seed, &cuts, &back_cuts);
    }

    #[test]
    fn server_to_client_arrives_identical(
        items in prop::collection::vec(item(), 0..8),
        seed in any::<[u8; 32]>(),
        cuts in prop::collection::vec(any::<u16>(), 0..24),
        back_cuts in prop::collection::vec(any::<u16>(), 0..4),
    ) {
        round_trip(false, &items, seed, &cuts, &back_cuts);
    }

    /// Small messages read in tiny pieces (1 to 7 bytes each).
    #[test]
    fn small_reads_arrive_identical(
        client_sends in any::<bool>(),
        items in prop::collection::vec(item(), 0..5).prop_filter("small", |items| items.iter().all(|i| match i {
            Item::Message { len, .. } => *len < 2000,
            Item::Ping(_) => true,
        })),
        seed in any::<[u8; 32]>(),
        read in 1usize..8,
    ) {
        let mut client = Connection::client(Config::default(), SecureRandom::from_seed(seed));
        let mut server = Connection::server(Config::default());
        let (sender, receiver) = if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };
        let (wire, expected) = send_all(sender, &items);
        let cuts: Vec<usize> = (1..wire.len()).filter(|p| p % read == 0).collect();
        let (got, closes, _) = receive_all(receiver, &wire, &cuts);
        prop_assert!(got == expected);
        prop_assert_eq!(closes, vec![Ev::close(1000, "done")]);
    }
}

/// A fixed large case, so the 64-bit length path always runs once.
#[test]
fn large_fragmented_text_with_pings_both_ways() {
    let items = vec![
        Item::Message {
            kind: MessageKind::Text,
            len: 69_999,
            seed: 7,
            cuts: Some(vec![13_000, 32_768, 32_768]),
            pings: vec![(6_000, b"one".to_vec()), (65_000, b"last".to_vec())],
        },
        Item::Ping(vec![]),
        Item::Message { kind: MessageKind::Binary, len: 65_536, seed: 9, cuts: None, pings: vec![] },
    ];
    let cuts = [1, 20_000, 45_000];
    round_trip(true, &items, [1; 32], &cuts, &[]);
    round_trip(false, &items, [1; 32], &cuts, &[32_768]);
}

// ---------------------------------------------------------------------------
// Arbitrary input.

/// A frame that is often valid for the role: opcode, FIN, RSV, masking and
/// length form each mostly right, sometimes not.
fn plausible_frame() -> impl Strategy<Value = (u8, bool, u8, Vec<u8>)> {
    let b0 = prop_oneof![
        4 => (any::<bool>(), prop::sample::select(vec![0x0u8, 0x1, 0x2, 0x8, 0x9, 0xA]))
            .prop_map(|(fin, op)| (u8::from(fin) << 7) | op),
        1 => any::<u8>(),
    ];
    let payload = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..40),
        2 => "[a-zé€𝄞]{0,20}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 100..300),
    ];
    // (first byte, right masking for the role, length form 0/1/2, payload)
    (b0, prop::bool::weighted(0.9), prop::sample::select(vec![0u8, 0, 0, 0, 1, 2]), payload)
}

fn encode_plausible(role: Role, (b0, right_mask, form, payload): &(u8, bool, u8, Vec<u8>)) -> Vec<u8> {
    // A server expects masked frames, a client unmasked ones.
    let masked = (role == Role::Server) == *right_mask;
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![*b0];
    match form {
        1 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        2 => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
        _ => return frame(*b0, masked.then_some(TEST_KEY), payload),
    }
    let at = out.len();
    if masked {
        out.extend_from_slice(&TEST_KEY);
    }
    out.extend_from_slice(payload);
    if masked {
        wsmachine::apply_mask(&mut out[at + 4..], TEST_KEY, 0);
    }
    out
}

fn config() -> impl Strategy<Value = Config> {
    (any::<bool>(), any::<bool>(), any::<bool>(), prop::sample::select(vec![0u8, 0x40, 0x70])).prop_map(
        |(small, lenient, auto_pong, rsv)| Config {
            max_frame_payload: if small { 64 } else { 16 << 20 },
            max_message_size: if small { 100 } else { 64 << 20 },
            max_fragments: if small { 4 } else { 65_536 },
            allow_non_minimal_lengths: lenient,
            auto_pong,
            extension_rsv_bits: RsvBits::from_bits(rsv).expect("RSV bits only"),
            ..Config::default()
        },
    )
}

/// Feeds `input` cut at `cuts`, checking every invariant of `receive`.
fn feed_arbitrary(role: Role, config: Config, input: &[u8], cuts: &[usize]) -> Result<(), TestCaseError> {
    let mut conn = match role {
        Role::Client => Connection::client(config, SecureRandom::from_seed([2; 32])),
        Role::Server => Connection::server(config),
    };
    let mut buf = input.to_vec();
    let mut failed: Option<ProtocolError> = None;
    let mut closed = false;
    let mut text: Option<Vec<u8>> = None;
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        let piece = &mut buf[start..end];
        start = end;
        let mut pos = 0;
        let mut calls = 0;
        loop {
            calls += 1;
            prop_assert!(calls <= piece.len() + 2, "no progress");
            let rest = piece.len() - pos;
            match conn.receive(&mut piece[pos..]) {
                Err(e) => {
                    if let Some(first) = failed {
                        prop_assert_eq!(e, first, "sticky");
                    } else {
                        failed = Some(e);
                        prop_assert_eq!(conn.state(), State::Failed(e));
                        let frames = parse_frames_masked(&transmit(&mut conn), role == Role::Client);
                        prop_assert_eq!(frames.len(), 1);
                        prop_assert_eq!(frames[0].opcode(), OpCode::Close);
                        prop_assert_eq!(CloseCode(frames[0].close_code()), e.close_code());
                        prop_assert!(conn.should_close_transport());
                    }
                    break;
                }
                Ok(r) => {
                    prop_assert!(failed.is_none(), "an error is sticky, got Ok after {:?}", failed);
                    prop_assert!(r.consumed <= rest);
                    pos += r.consumed;
                    match r.event {
                        None => prop_assert_eq!(r.consumed, rest),
                        Some(ev) => {
                            prop_assert!(!closed, "nothing after the peer's Close");
                            match Ev::of(&ev) {
                                Ev::Text { data, fin, .. } => {
                                    let t = text.get_or_insert_with(Vec::new);
                                    t.extend_from_slice(&data);
                                    if fin {
                                        let t = text.take().unwrap_or_default();
                                        prop_assert!(
                                            conn.message_rsv1() || std::str::from_utf8(&t).is_ok(),
                                            "a finished text message is UTF-8"
                                        );
                                    }
                                }
                                Ev::Binary { .. } => text = None,
                                Ev::Close { code, .. } => {
                                    closed = true;
                                    prop_assert!(CloseCode(code).is_valid_on_wire() || code == 1005);
                                    prop_assert_eq!(conn.state(), State::CloseReceived);
                                }
                                Ev::Ping(_) | Ev::Pong(_) => {}
                            }
                            // Whatever is queued is well-formed frames.
                            let out = transmit(&mut conn);
                            let frames = parse_frames_masked(&out, role == Role::Client);
                            prop_assert!(frames.iter().all(|f| f.opcode().is_control()));
                        }
                    }
                    if pos == piece.len() {
                        break;
                    }
                }
            }
        }
    }
    if let Some(e) = failed {
        prop_assert_eq!(conn.receive(&mut []).err(), Some(e));
        prop_assert_eq!(conn.state(), State::Failed(e));
    }
    conn.receive_eof();
    prop_assert!(conn.should_close_transport());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_errors_are_sticky(
        server_role in any::<bool>(),
        config in config(),
        input in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(any::<u16>(), 0..16),
    ) {
        let role = if server_role { Role::Server } else { Role::Client };
        feed_arbitrary(role, config, &input, &cut_points(&cuts, input.len()))?;
    }

    #[test]
    fn plausible_frames_never_panic_and_errors_are_sticky(
        server_role in any::<bool>(),
        config in config(),
        frames in prop::collection::vec(plausible_frame(), 0..12),
        cuts in prop::collection::vec(any::<u16>(), 0..16),
    ) {
        let role = if server_role { Role::Server } else { Role::Client };
        let input: Vec<u8> = frames.iter().flat_map(|f| encode_plausible(role, f)).collect();
        feed_arbitrary(role, config, &input, &cut_points(&cuts, input.len()))?;
    }
}

/// The outcome of feeding `input` does not depend on how it was cut into
/// reads: the same error, the same control events, and the same data, except
/// that smaller reads may deliver more of a text frame before its invalid
/// byte (the read carrying that byte is refused whole).
fn same_outcome_in_any_chunking(role: Role, config: Config, input: &[u8], cuts: &[usize]) -> Result<(), TestCaseError> {
    let make = || match role {
        Role::Client => Connection::client(config, SecureRandom::from_seed([2; 32])),
        Role::Server => Connection::server(config),
    };
    let (whole, whole_err) = feed(&mut make(), &mut input.to_vec());
    let (split, split_err) = feed_pieces(&mut make(), input, cuts);
    prop_assert_eq!(whole_err, split_err);
    if whole_err.is_none() {
        prop_assert_eq!(merge(whole), merge(split));
    } else {
        let control = |evs: &[Ev]| evs.iter().filter(|e| e.data().is_none()).cloned().collect::<Vec<_>>();
        let data = |evs: &[Ev]| evs.iter().filter_map(Ev::data).flatten().copied().collect::<Vec<u8>>();
        prop_assert_eq!(control(&whole), control(&split));
        prop_assert!(data(&split).starts_with(&data(&whole)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chunking_does_not_change_the_outcome(
        server_role in any::<bool>(),
        config in config(),
        frames in prop::collection::vec(plausible_frame(), 0..12),
        cuts in prop::collection::vec(any::<u16>(), 0..16),
    ) {
        let role = if server_role { Role::Server } else { Role::Client };
        let input: Vec<u8> = frames.iter().flat_map(|f| encode_plausible(role, f)).collect();
        same_outcome_in_any_chunking(role, config, &input, &cut_points(&cuts, input.len()))?;
    }
}
