//! The encoder against `miniz_oxide`'s inflater: every level and window,
//! context kept across calls, each kind of block.

use alloc::vec;
use alloc::vec::Vec;

use super::{Effort, Encoder};

/// A final empty fixed-Huffman block, so a stream of sync-flushed calls is
/// complete for `decompress_to_vec`.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

fn inflate(stream: &[u8]) -> Vec<u8> {
    let mut complete = stream.to_vec();
    complete.extend_from_slice(&FINAL_BLOCK);
    miniz_oxide::inflate::decompress_to_vec(&complete).expect("the encoder's output inflates")
}

/// Text with repeats near and far (up to 40 KiB back, past every window).
fn text(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if x % 4 == 0 && out.len() > 16 {
            let dist = 1 + (x as usize >> 4) % out.len().min(40 * 1024);
            let start = out.len() - dist;
            let take = (3 + (x as usize >> 22) % 300).min(dist);
            let stretch = out[start..start + take].to_vec();
            out.extend_from_slice(&stretch);
        } else {
            let word = [b"{\"id\":".as_slice(), b"\"name\":\"", b"alice", b"\"},", b"status", b" ", b"0123456789"];
            out.extend_from_slice(word[(x as usize >> 9) % word.len()]);
            out.push(b'a' + (x >> 27) as u8 % 26);
        }
    }
    out.truncate(len);
    out
}

/// Random bytes: incompressible, so they go out stored.
fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Encodes `messages` in turn with one encoder (context kept) and checks
/// that the stream inflates to them.
fn round_trip(level: u8, bits: u8, messages: &[Vec<u8>]) -> Vec<u8> {
    let mut encoder = Encoder::new(level, bits);
    let mut stream = Vec::new();
    let mut plain = Vec::new();
    for message in messages {
        let start = stream.len();
        encoder.encode(message, &mut stream);
        assert!(stream[start..].ends_with(&[0, 0, 0xff, 0xff]), "each call ends with a sync flush");
        plain.extend_from_slice(message);
    }
    assert!(inflate(&stream) == plain, "level {level}, window {bits}: the stream inflates to other bytes");
    stream
}

#[test]
fn every_level_and_window_inflates_to_the_input() {
    for level in 0..=9 {
        for bits in 8..=15 {
            let messages = [text(level.into(), 5000), Vec::new(), text(7, 70_000), b"x".to_vec(), noise(3, 3000)];
            round_trip(level, bits, &messages);
        }
    }
}

#[test]
fn input_in_every_small_piece_inflates_to_the_input() {
    let data = text(11, 3000);
    for level in [1, 2, 6, 9] {
        for piece in 1..=9 {
            let messages: Vec<Vec<u8>> = data.chunks(piece).map(<[u8]>::to_vec).collect();
            round_trip(level, 15, &messages);
        }
    }
}

#[test]
fn long_runs_and_long_input_cross_the_buffer_halves() {
    let mut run = vec![b'a'; 200_000];
    run.extend_from_slice(&text(5, 150_000));
    run.extend(core::iter::repeat(0u8).take(70_000));
    for level in [1, 2, 4, 9] {
        let stream = round_trip(level, 15, core::slice::from_ref(&run));
        assert!(stream.len() < run.len() / 4, "level {level}: {} bytes", stream.len());
    }
}

#[test]
fn reset_forgets_the_context() {
    // Noise: only the earlier copy can shorten it.
    let message = noise(9, 2000);
    let mut encoder = Encoder::new(2, 15);
    let mut first = Vec::new();
    encoder.encode(&message, &mut first);
    let mut again = Vec::new();
    encoder.encode(&message, &mut again);
    assert!(
        again.len() < first.len() / 10,
        "the second copy refers to the first: {} and {} bytes",
        first.len(),
        again.len()
    );
    encoder.reset();
    let mut fresh = Vec::new();
    encoder.encode(&message, &mut fresh);
    assert_eq!(fresh, first, "after a reset the output is as from a new encoder");
    assert_eq!(inflate(&fresh), message);
}

#[test]
fn each_block_kind_is_chosen_when_it_is_shortest() {
    // The block type is in bits 1–2 of the first byte.
    let kind = |data: &[u8], level: u8| {
        let mut out = Vec::new();
        Encoder::new(level, 15).encode(data, &mut out);
        assert_eq!(inflate(&out), data);
        (out[0] >> 1) & 3
    };
    assert_eq!(kind(&noise(1, 5000), 2), 0b00, "noise is stored");
    assert_eq!(kind(b"Hello, Hello, Hello", 2), 0b01, "a short message takes the fixed code");
    assert_eq!(kind(&text(2, 20_000), 2), 0b10, "long text takes a fitted code");
    assert_eq!(kind(&text(2, 20_000), 0), 0b00, "level 0 stores");
}

#[test]
fn an_empty_call_is_one_empty_stored_block() {
    let mut out = Vec::new();
    Encoder::new(2, 15).encode(&[], &mut out);
    assert_eq!(out, [0x00, 0x00, 0x00, 0xff, 0xff]);
}

#[test]
fn rfc_7692_hello_compresses_as_the_rfc_shows() {
    // RFC 7692 §7.2.3.1: "Hello" alone is f2 48 cd c9 c9 07 00 after the
    // flush marker is removed; §7.2.3.2: the second "Hello" with context
    // takeover is f2 00 11 00 00.
    let mut encoder = Encoder::new(2, 15);
    let mut out = Vec::new();
    encoder.encode(b"Hello", &mut out);
    assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff]);
    out.clear();
    encoder.encode(b"Hello", &mut out);
    assert_eq!(out, [0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff]);
}

#[test]
fn level_1_keeps_no_chains_and_still_finds_matches() {
    let level_1 = Encoder::new(1, 15);
    assert!(level_1.prev.is_empty(), "level 1 follows no chain, so holds none");
    assert_eq!(Encoder::new(2, 15).prev.len(), 1 << 15);
    let message = noise(4, 3000);
    let twice = [message.clone(), message].concat();
    let stream = round_trip(1, 15, &[twice]);
    assert!(stream.len() < 3100, "the repeat is found without chains: {} bytes", stream.len());
}

#[test]
fn level_1_without_chains_gives_what_one_chain_link_gives() {
    // Level 1 keeps no chains and takes its own scan; an encoder that keeps
    // chains but searches with level 1's effort takes the general greedy
    // scan. Both must write the same bytes, call after call.
    let messages =
        [text(1, 100), text(2, 5000), noise(3, 2000), vec![b'a'; 4000], text(4, 150_000), text(5, 3), Vec::new()];
    for bits in [9, 11, 15] {
        let mut latest = Encoder::new(1, bits);
        let mut chained = Encoder::new(2, bits);
        chained.effort = Effort::of_level(1);
        assert!(latest.prev.is_empty() && !chained.prev.is_empty());
        for (i, message) in messages.iter().enumerate() {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            latest.encode(message, &mut a);
            chained.encode(message, &mut b);
            assert!(a == b, "window {bits}, message {i}: {} bytes against {}", a.len(), b.len());
        }
    }
}
