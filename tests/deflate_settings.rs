//! `DeflateConfig::threshold` and the memory-lean setting
//! (`DeflateConfig::memory_lean`, `free_idle_state`): which messages go out
//! compressed, that the peer reads both kinds, and how many heap bytes a
//! connection's permessage-deflate state holds between messages, counted
//! by a global allocator.
#![cfg(feature = "deflate")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
use wsmachine::handshake::Extensions;
use wsmachine::{Config, Connection, FrameHeader, HeaderStatus, Message, MessageAssembler, Role, SecureRandom};

struct CountingAlloc;

thread_local! {
    /// Bytes this thread allocated minus the bytes it freed (tests run on
    /// several threads at once; each test allocates and frees on its own).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: the slot may be gone while the thread shuts down; a
    // const-initialised `Cell` never allocates itself.
    let _ = LIVE.try_with(|n| n.set(n.get() + delta));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; counting touches only a
// thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: forwarded as received; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: forwarded as received; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        // SAFETY: `ptr` came from this allocator, i.e. from `System`; the
        // caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        // SAFETY: `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn live() -> isize {
    LIVE.with(Cell::get)
}

/// JSON-like text of `len` bytes that compresses to about a fifth.
fn json(len: usize, seed: u32) -> String {
    let mut x = seed | 1;
    let mut s = String::with_capacity(len + 100);
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.push_str(&format!(r#"{{"id":{},"user":"u{}","online":{}}},"#, x % 100_000, x % 37, x & 1 == 0));
    }
    s.truncate(len);
    s
}

/// Both ends of a negotiated connection: the server takes the client's
/// offer, each end gets the parameters it agreed.
struct Pair {
    client: Connection,
    client_deflate: Deflate,
    server: Connection,
    server_deflate: Deflate,
}

fn pair(client_config: DeflateConfig, server_config: DeflateConfig) -> Pair {
    let offer = client_config.offer();
    let server_params = server_config.accept(Extensions::parse(&offer).unwrap()).expect("accepted");
    let answer = server_params.answer();
    let client_params: DeflateParams =
        client_config.check_response(Extensions::parse(&answer).unwrap()).unwrap().expect("agreed");
    let config = Deflate::connection_config(Config::default());
    Pair {
        client: Connection::client(config, SecureRandom::from_seed([3; 32])),
        client_deflate: Deflate::new(Role::Client, client_params, &client_config),
        server: Connection::server(config),
        server_deflate: Deflate::new(Role::Server, server_params, &server_config),
    }
}

/// Feeds `wire` to `conn` through `deflate` and returns the messages.
fn receive(conn: &mut Connection, deflate: &mut Deflate, wire: &mut [u8]) -> Vec<Message> {
    let mut assembler = MessageAssembler::new(1 << 24);
    let mut messages = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let received = conn.receive(&mut wire[pos..]).expect("valid frames");
        pos += received.consumed;
        let Some(event) = received.event else { continue };
        let mut decoded = deflate.decode(conn, event);
        while let Some(event) = decoded.next() {
            messages.extend(assembler.push(&event.expect("inflates")).unwrap());
        }
    }
    messages
}

/// Whether each frame in `wire` has RSV1 set.
fn rsv1_of_frames(wire: &[u8]) -> Vec<bool> {
    let mut rsv1 = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(&wire[pos..]) else { panic!("a frame") };
        rsv1.push(header.rsv1);
        pos += len + header.payload_len as usize;
    }
    rsv1
}

#[test]
fn messages_below_the_threshold_go_out_uncompressed_and_the_peer_reads_both() {
    let config = DeflateConfig { threshold: 100, ..DeflateConfig::default() };
    let mut p = pair(config, config);
    let texts = [json(99, 1), json(100, 2), String::new(), json(5000, 3), "Hello".to_string()];
    let mut wire = Vec::new();
    for text in &texts {
        p.server_deflate.send_text(&mut p.server, text, &mut wire).unwrap();
    }
    p.server_deflate.send_binary(&mut p.server, &[7; 99], &mut wire).unwrap();
    p.server_deflate.send_binary(&mut p.server, &[7; 100], &mut wire).unwrap();
    assert_eq!(rsv1_of_frames(&wire), [false, true, false, true, false, false, true]);
    let messages = receive(&mut p.client, &mut p.client_deflate, &mut wire);
    let mut expected: Vec<Message> = texts.iter().map(|t| Message::Text(t.clone())).collect();
    expected.push(Message::Binary(vec![7; 99]));
    expected.push(Message::Binary(vec![7; 100]));
    assert_eq!(messages, expected);

    // The other direction, masked, with context takeover across the mix.
    let mut wire = Vec::new();
    for text in texts.iter().chain(&texts) {
        p.client_deflate.send_text(&mut p.client, text, &mut wire).unwrap();
    }
    assert_eq!(rsv1_of_frames(&wire), [false, true, false, true, false, false, true, false, true, false]);
    let messages = receive(&mut p.server, &mut p.server_deflate, &mut wire);
    let expected: Vec<Message> = texts.iter().chain(&texts).map(|t| Message::Text(t.clone())).collect();
    assert_eq!(messages, expected);
}

#[test]
fn the_default_threshold_is_1_kib_and_zero_compresses_everything() {
    assert_eq!(DeflateConfig::default().threshold, 1024);
    let mut p = pair(DeflateConfig::default(), DeflateConfig::default());
    let mut wire = Vec::new();
    p.server_deflate.send_text(&mut p.server, &json(1023, 4), &mut wire).unwrap();
    p.server_deflate.send_text(&mut p.server, &json(1024, 5), &mut wire).unwrap();
    assert_eq!(rsv1_of_frames(&wire), [false, true]);

    let all = DeflateConfig { threshold: 0, ..DeflateConfig::default() };
    let mut p = pair(all, all);
    let mut wire = Vec::new();
    p.server_deflate.send_text(&mut p.server, "", &mut wire).unwrap();
    p.server_deflate.send_text(&mut p.server, "x", &mut wire).unwrap();
    assert_eq!(rsv1_of_frames(&wire), [true, true]);
    let messages = receive(&mut p.client, &mut p.client_deflate, &mut wire);
    assert_eq!(messages, [Message::Text(String::new()), Message::Text("x".into())]);
}

#[test]
fn fragments_are_compressed_whatever_their_size() {
    let mut p = pair(DeflateConfig::default(), DeflateConfig::default());
    let mut wire = Vec::new();
    p.server_deflate.send_fragment(&mut p.server, wsmachine::MessageKind::Text, b"ab", false, &mut wire).unwrap();
    p.server_deflate.send_fragment(&mut p.server, wsmachine::MessageKind::Text, b"c", true, &mut wire).unwrap();
    assert_eq!(rsv1_of_frames(&wire), [true, false]);
    assert_eq!(receive(&mut p.client, &mut p.client_deflate, &mut wire), [Message::Text("abc".into())]);
}

/// Heap bytes the server's `Deflate` holds after a few 16 KiB messages
/// each way with `config` at both ends (the wire buffers are allocated
/// before counting).
fn held_between_messages(config: DeflateConfig) -> isize {
    let mut p = pair(config, config);
    let mut to_server = Vec::with_capacity(1 << 20);
    let mut to_client = Vec::with_capacity(1 << 20);
    let messages: Vec<String> = (0..4).map(|i| json(16 * 1024, 10 + i)).collect();
    for m in &messages {
        p.client_deflate.send_text(&mut p.client, m, &mut to_server).unwrap();
    }
    let before = live();
    let mut server_deflate = p.server_deflate;
    let mut received = 0;
    for m in &messages {
        server_deflate.send_text(&mut p.server, m, &mut to_client).unwrap();
        // Receive one message per message sent, interleaved.
        let frame_len = {
            let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(&to_server[received..]) else {
                panic!("a frame")
            };
            len + header.payload_len as usize
        };
        let got = receive(&mut p.server, &mut server_deflate, &mut to_server[received..received + frame_len]);
        assert_eq!(got, [Message::Text(m.clone())]);
        received += frame_len;
    }
    let held = live() - before;
    drop(server_deflate);
    held
}

#[test]
fn a_memory_lean_connection_holds_at_most_32_kib_between_messages() {
    let lean = held_between_messages(DeflateConfig::memory_lean());
    assert!(lean <= 32 * 1024, "memory-lean connection holds {lean} bytes between messages");
    // The same exchange without the setting keeps the backend's state: the
    // count above is not blind.
    let default = held_between_messages(DeflateConfig::default());
    assert!(default > 128 * 1024, "default connection holds only {default} bytes");
    // No context takeover alone resets the state but keeps it.
    let reset_only = DeflateConfig { free_idle_state: false, ..DeflateConfig::memory_lean() };
    let kept = held_between_messages(reset_only);
    assert!(kept > 128 * 1024, "no context takeover without free_idle_state holds only {kept} bytes");
}

#[test]
fn a_default_connection_holds_no_more_than_zlib_default_state() {
    // zlib 1.2.13 at window 15 and memory level 8 holds 302 KiB for a
    // compressor and an inflater (README, Compression). A wsmachine
    // connection keeping its context both ways holds less, with its
    // inflate buffer and compressed output counted too.
    let default = held_between_messages(DeflateConfig::default());
    assert!(default <= 302 * 1024, "default connection holds {default} bytes between messages");
}

#[test]
fn the_memory_lean_setting_negotiates_no_context_takeover_both_ways() {
    let lean = DeflateConfig::memory_lean();
    // A server with it imposes client_no_context_takeover even when unasked.
    let params = lean.accept(Extensions::parse("permessage-deflate; client_max_window_bits").unwrap()).unwrap();
    assert_eq!(params.answer(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    // A lean client against a default server: both directions reset, and
    // nothing is held between messages on either end.
    let mut p = pair(lean, DeflateConfig::default());
    let mut wire = Vec::new();
    for i in 0..3 {
        p.client_deflate.send_text(&mut p.client, &json(4000, i), &mut wire).unwrap();
    }
    let messages = receive(&mut p.server, &mut p.server_deflate, &mut wire);
    assert_eq!(messages.len(), 3);
    let mut wire = Vec::new();
    for i in 0..3 {
        p.server_deflate.send_text(&mut p.server, &json(4000, i), &mut wire).unwrap();
    }
    let before = live();
    let messages = receive(&mut p.client, &mut p.client_deflate, &mut wire);
    drop(messages);
    assert!(live() - before <= 0, "the lean client kept {} bytes after inflating", live() - before);
}
