//! Allocation and size facts, deterministic and untimed: frames stream
//! through a `Connection` in both roles without a single heap allocation,
//! a `Session` hands out a whole message for one allocation, and the
//! connection stays within a documented size budget.
//!
//! A counting global allocator counts the allocations made by the current
//! thread (tests run on several threads at once, so a global count would
//! see the others' work).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use wsmachine::{
    Config, Connection, Event, Incoming, IncomingRef, Message, MessageKind, Output, SecureRandom, Session,
    SEND_OWNED_MIN,
};

struct CountingAlloc;

thread_local! {
    /// Allocations (including reallocations) made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the slot may be gone while the thread shuts down; a
    // const-initialised `Cell` never allocates itself.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; counting touches only a
// thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as received; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as received; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: `ptr` came from this allocator, i.e. from `System`; the
        // caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns how many allocations this thread made meanwhile.
fn allocations_during<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let value = f();
    (ALLOCATIONS.with(Cell::get) - before, value)
}

/// The frames the streaming test sends, in a repeating pattern: text and
/// binary at every length form, multibyte text, fragmented messages with
/// pings between their fragments, and empty frames.
const FRAMES: usize = 10_000;

/// Sends one step of the pattern from `client` into `out`; returns the
/// number of frames written.
fn send_step<O: Output + ?Sized>(client: &mut Connection, step: usize, out: &mut O, text: &str, bytes: &[u8]) -> usize {
    let multibyte = "κόσμε 日本語 🦀 ";
    let frames = match step % 10 {
        0 => client.send_text(&text[..16], out).map(|_| 1),
        1 => client.send_binary(&bytes[..125], out).map(|_| 1),
        2 => client.send_text(multibyte, out).map(|_| 1),
        3 => client.send_binary(&bytes[..1024], out).map(|_| 1),
        4 => client.send_ping(b"are you there?", out).map(|_| 1),
        5 => {
            // Fragmented text, split inside a character, a ping in between.
            let m = multibyte.as_bytes();
            client.send_fragment(MessageKind::Text, &m[..2], false, out).expect("fragment");
            client.send_ping(b"mid-message", out).expect("ping");
            client.send_fragment(MessageKind::Text, &m[2..9], false, out).expect("fragment");
            client.send_fragment(MessageKind::Text, &m[9..], true, out).map(|_| 4)
        }
        6 => client.send_binary(&[], out).map(|_| 1),
        7 => client.send_text(&text[..126], out).map(|_| 1),
        8 if step % 500 == 8 => client.send_binary(&bytes[..70_000], out).map(|_| 1),
        8 => client.send_binary(&bytes[..300], out).map(|_| 1),
        _ => {
            client.send_fragment(MessageKind::Binary, &bytes[..10], false, out).expect("fragment");
            client.send_fragment(MessageKind::Binary, &bytes[10..20], true, out).map(|_| 2)
        }
    };
    frames.expect("the client sends")
}

/// A recording of the pattern, at least [`FRAMES`] frames long, masked by a
/// client. Built before any counting starts.
fn client_stream() -> (Vec<u8>, usize) {
    let text: String = "The quick brown fox jumps over the lazy dog. ".chars().cycle().take(200).collect();
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut client = Connection::client(Config::default(), SecureRandom::from_seed([3; 32]));
    let mut wire = Vec::new();
    let (mut frames, mut step) = (0, 0);
    while frames < FRAMES {
        frames += send_step(&mut client, step, &mut wire, &text, &bytes);
        step += 1;
    }
    (wire, frames)
}

/// What the server saw.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    frame_ends: usize,
    messages: usize,
    pings: usize,
    /// The size of the pongs that answer them (unmasked: 2 + payload bytes).
    expected_pong_bytes: usize,
    pong_bytes: usize,
    payload_bytes: usize,
}

/// Feeds `wire` to a fresh server through a fixed read buffer, in reads of
/// varying sizes (so headers, control payloads and characters split across
/// reads), draining automatic pongs into a fixed array after every event.
fn stream_through_server(wire: &[u8], rbuf: &mut [u8]) -> Tally {
    const READ_SIZES: [usize; 6] = [1, 7, 100, 1500, 4096, 65_536];
    let mut server = Connection::server(Config::default());
    let mut pongs = [0u8; 512];
    let mut tally = Tally::default();
    let (mut at, mut read) = (0, 0);
    while at < wire.len() {
        let n = READ_SIZES[read % READ_SIZES.len()].min(wire.len() - at).min(rbuf.len());
        read += 1;
        rbuf[..n].copy_from_slice(&wire[at..at + n]);
        at += n;
        let mut pos = 0;
        while pos < n {
            let r = server.receive(&mut rbuf[pos..n]).expect("valid frames");
            pos += r.consumed;
            match r.event {
                Some(Event::Text { data, frame_end, fin } | Event::Binary { data, frame_end, fin }) => {
                    tally.payload_bytes += data.len();
                    tally.frame_ends += usize::from(frame_end);
                    tally.messages += usize::from(fin);
                }
                Some(Event::Ping(payload)) => {
                    tally.pings += 1;
                    tally.expected_pong_bytes += 2 + payload.len();
                    tally.frame_ends += 1;
                }
                Some(other) => panic!("unexpected event {other:?}"),
                None => {}
            }
            if server.wants_write() {
                tally.pong_bytes += server.poll_transmit(&mut pongs).expect("room for a pong");
            }
        }
    }
    tally
}

#[test]
fn zero_allocations_while_10_000_frames_stream_through_a_server() {
    let (wire, frames) = client_stream();
    let mut rbuf = vec![0u8; 65_536];
    let (allocations, tally) = allocations_during(|| stream_through_server(&wire, &mut rbuf));
    // One, ever: the connection's control slots, the first time a ping's
    // pong or a split control payload has to be kept. None per frame.
    assert_eq!(allocations, 1, "the receive path allocated per frame");
    // The run really did what it claims.
    assert_eq!(tally.frame_ends, frames);
    assert!(tally.messages > 6_000 && tally.pings > 1_000, "{tally:?}");
    assert_eq!(tally.pong_bytes, tally.expected_pong_bytes, "every ping answered: {tally:?}");
    // The allocator does count: the same work with a `Vec` does allocate.
    let (allocations, _) = allocations_during(|| stream_through_server(&wire, &mut vec![0u8; 65_536]));
    assert!(allocations > 0);
}

#[test]
fn zero_allocations_while_a_client_sends_10_000_frames_into_a_slice() {
    let text: String = "The quick brown fox jumps over the lazy dog. ".chars().cycle().take(200).collect();
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut out = vec![0u8; 128 * 1024];
    // Made outside the count: a client keeps its mask source out of line,
    // one allocation when it is created.
    let mut client = Connection::client(Config::default(), SecureRandom::from_seed([9; 32]));
    let (allocations, (frames, written)) = allocations_during(|| {
        let (mut frames, mut written, mut step) = (0, 0, 0);
        while frames < FRAMES {
            // Each step writes at most one 70 000-byte frame plus small
            // ones: "send" the buffer to the transport when it is half full.
            let mut used = 0;
            while used < out.len() / 2 && frames < FRAMES {
                let mut slice = SliceOut { buf: &mut out[..], used };
                frames += send_step(&mut client, step, &mut slice, &text, &bytes);
                used = slice.used;
                step += 1;
            }
            written += used;
        }
        (frames, written)
    });
    assert_eq!(allocations, 0, "the send path allocated");
    assert!(frames >= FRAMES && written > 1_000_000, "{frames} frames, {written} bytes");
}

#[test]
fn zero_allocations_while_timers_run_for_a_simulated_day() {
    use core::time::Duration;
    let config = Config {
        ping_interval: Some(Duration::from_secs(20)),
        ping_timeout: Some(Duration::from_secs(10)),
        idle_timeout: Some(Duration::from_secs(3600)),
        close_timeout: Some(Duration::from_secs(5)),
        ..Config::default()
    };
    // A pong from the peer (masked, as from a client) after every ping.
    let pong = [0x8A, 0x80, 1, 2, 3, 4];
    let mut out = [0u8; 512];
    let (allocations, pings) = allocations_during(|| {
        let mut server = Connection::server(config);
        let mut pings = 0;
        while let Some(deadline) = server.poll_timeout() {
            if deadline.as_millis() > 24 * 3600 * 1000 {
                break;
            }
            assert!(server.handle_timeout(deadline).is_none());
            if server.wants_write() {
                pings += 1;
                server.poll_transmit(&mut out[..]).expect("room");
                let mut input = pong;
                server.receive(&mut input).expect("a pong");
            }
        }
        pings
    });
    assert_eq!(allocations, 0, "the timers allocated");
    // One every 30 s: a ping at 20 s, its pong seen at the 10 s ping timeout.
    assert_eq!(pings, 24 * 3600 / 30, "keepalive pings in a day");
}

/// A fixed slice written front to back: each frame goes to `buf[used..]`.
struct SliceOut<'a> {
    buf: &'a mut [u8],
    used: usize,
}

impl Output for SliceOut<'_> {
    fn claim(&mut self, len: usize) -> Option<&mut [u8]> {
        let start = self.used;
        let room = self.buf.get_mut(start..start + len)?;
        self.used += len;
        Some(room)
    }
}

/// `count` client frames of `len` payload bytes of `kind` (ASCII text or
/// bytes), written by a client connection: what a server reads.
fn client_messages(kind: MessageKind, len: usize, count: usize) -> Vec<u8> {
    let mut client = Connection::client(Config::default(), SecureRandom::from_seed([5; 32]));
    let text: String = "whole messages ".chars().cycle().take(len).collect();
    let mut wire = Vec::new();
    for _ in 0..count {
        match kind {
            MessageKind::Text => client.send_text(&text, &mut wire),
            MessageKind::Binary => client.send_binary(text.as_bytes(), &mut wire),
        }
        .expect("a Vec has room");
    }
    wire
}

/// A server session reads `wire` in 64 KiB reads, taking whole messages
/// (and dropping them); returns how many it took.
fn whole_messages(server: &mut Session, wire: &[u8], kind: MessageKind, len: usize) -> usize {
    let mut taken = 0;
    for read in wire.chunks(64 * 1024) {
        server.receive(read);
        while let Some(item) = server.poll_message().expect("valid frames") {
            let Incoming::Message(message) = item else { panic!("{item:?}") };
            assert_eq!((message.kind(), message.as_bytes().len()), (kind, len));
            taken += 1;
        }
        assert!(server.poll_output().is_empty());
    }
    taken
}

/// Whole messages through a `Session` (what the blocking and tokio
/// adapters hand out): one allocation per message, the buffer handed to
/// the caller, sized once from the frame headers, also when a message
/// spans many reads. Nothing else is allocated once the read buffer has
/// grown.
#[test]
fn a_whole_message_is_one_allocation() {
    for kind in [MessageKind::Text, MessageKind::Binary] {
        for len in [16, 1024, 64 * 1024, 1 << 20] {
            let count = ((4 << 20) / len).clamp(4, 1000);
            let wire = client_messages(kind, len, count);
            let mut server = Session::new(Connection::server(Config::default()));
            // Warm up: the read and output buffers reach their size.
            assert_eq!(whole_messages(&mut server, &wire, kind, len), count);
            let (allocations, taken) = allocations_during(|| whole_messages(&mut server, &wire, kind, len));
            assert_eq!(taken, count);
            assert_eq!(allocations, count as u64, "{kind:?} {len} B: {allocations} allocations for {count} messages");
        }
    }
}

/// Whole messages of up to 4 KiB taken from a `Session` and handed back
/// allocate nothing once its buffers grew: echoed with `send_owned` (copied
/// into the output, or at 4 KiB written after their header, then kept) or
/// given back with `recycle`, each buffer receives a later message. A
/// larger buffer goes back to the allocator, so a larger message is one
/// allocation, as when it is not handed back.
#[test]
fn echoed_or_recycled_messages_up_to_4_kib_allocate_nothing() {
    for echo in [true, false] {
        for kind in [MessageKind::Text, MessageKind::Binary] {
            for len in [16, 1024, 4 * 1024, 4 * 1024 + 1, 16 * 1024, 64 * 1024] {
                let count = ((4 << 20) / len).clamp(4, 1000);
                let wire = client_messages(kind, len, count);
                let mut server = Session::new(Connection::server(Config::default()));
                let run = |server: &mut Session| {
                    let mut taken = 0;
                    for read in wire.chunks(64 * 1024) {
                        server.receive(read);
                        while let Some(item) = server.poll_message().expect("valid frames") {
                            let Incoming::Message(message) = item else { panic!("{item:?}") };
                            assert_eq!((message.kind(), message.as_bytes().len()), (kind, len));
                            taken += 1;
                            if echo {
                                server.send_owned(message).expect("open");
                                // Written at once, as a transport that takes it all.
                                let mut slices = [&[][..]; 8];
                                let n = server.poll_output_vectored(&mut slices);
                                let written = slices[..n].iter().map(|s| s.len()).sum();
                                server.consume_output(written);
                            } else {
                                server.recycle(message);
                            }
                        }
                    }
                    taken
                };
                assert_eq!(run(&mut server), count);
                let (allocations, taken) = allocations_during(|| run(&mut server));
                let expected = if len <= SEND_OWNED_MIN { 0 } else { count as u64 };
                assert_eq!((allocations, taken), (expected, count), "echo {echo}, {kind:?} {len} B");
            }
        }
    }
}

/// A buffer given back is used only for a message of about its size (at
/// most twice as large as the message, or 128 bytes): a small message kept
/// long never holds a large buffer; and only a buffer of at most 4 KiB is
/// kept. `shrink_buffers` frees it.
#[test]
fn a_recycled_buffer_serves_only_messages_of_about_its_size() {
    let wire = client_messages(MessageKind::Binary, 16, 1);
    let mut server = Session::new(Connection::server(Config::default()));
    let take = |server: &mut Session| {
        let (allocations, item) = allocations_during(|| {
            server.receive(&wire);
            server.poll_message().expect("valid frames")
        });
        let Some(Incoming::Message(message)) = item else { panic!("{item:?}") };
        (allocations, message.as_bytes().len(), message)
    };
    // The read buffer grows at the first read.
    take(&mut server);
    let held = server.buffer_capacity();
    server.recycle(Message::Binary(Vec::with_capacity(4 * 1024 + 1)));
    assert_eq!(server.buffer_capacity(), held, "over 4 KiB: freed, not kept");
    server.recycle(Message::Binary(Vec::with_capacity(4 * 1024)));
    assert_eq!(server.buffer_capacity(), held + 4 * 1024, "4 KiB: kept");
    let (allocations, len, message) = take(&mut server);
    assert_eq!((allocations, len), (1, 16), "too large to hand out for 16 bytes: a new buffer");
    let Message::Binary(data) = message else { panic!() };
    assert_eq!(data.capacity(), 16);
    server.recycle(Message::Binary(Vec::with_capacity(100)));
    assert!(server.buffer_capacity() >= 100, "the kept buffer counts");
    let (allocations, _, message) = take(&mut server);
    assert_eq!(allocations, 0, "100 bytes for 16: within 128, reused");
    let Message::Binary(data) = message else { panic!() };
    assert_eq!(data.capacity(), 100);
    server.recycle(Message::Binary(data));
    server.shrink_buffers();
    assert_eq!(server.buffer_capacity(), 0);
}

/// Whole messages lent by `Session::poll_message_ref` allocate nothing once
/// the session's buffers grew: a message in one read is lent from the read
/// buffer, a longer one from an assembly buffer that is reused. The same
/// when each is found first with `Session::message_ready`, as the adapters'
/// lending receives do (text is then validated into a reused buffer).
#[test]
fn lent_whole_messages_allocate_nothing() {
    for (kind, len, ready_first) in [MessageKind::Text, MessageKind::Binary]
        .into_iter()
        .flat_map(|kind| [16, 1024, 64 * 1024, 1 << 20].map(|len| (kind, len)))
        .flat_map(|(kind, len)| [false, true].map(|ready_first| (kind, len, ready_first)))
    {
        let count = ((4 << 20) / len).clamp(4, 1000);
        let wire = client_messages(kind, len, count);
        let mut server = Session::new(Connection::server(Config::default()));
        let run = |server: &mut Session| {
            let mut taken = 0;
            for read in wire.chunks(64 * 1024) {
                server.receive(read);
                loop {
                    if ready_first {
                        if !server.message_ready().expect("valid frames") {
                            break;
                        }
                        assert!(server.has_message());
                    }
                    let Some(item) = server.poll_message_ref().expect("valid frames") else { break };
                    let size = match item {
                        IncomingRef::Text(text) => (MessageKind::Text, text.len()),
                        IncomingRef::Binary(data) => (MessageKind::Binary, data.len()),
                        other => panic!("{other:?}"),
                    };
                    assert_eq!(size, (kind, len));
                    taken += 1;
                }
            }
            taken
        };
        assert_eq!(run(&mut server), count);
        let (allocations, taken) = allocations_during(|| run(&mut server));
        assert_eq!((allocations, taken), (0, count), "{kind:?} {len} B, ready first: {ready_first}");
    }
}

/// Streaming through a `Session` allocates nothing once its buffers grew.
#[test]
fn streamed_pieces_through_a_session_allocate_nothing() {
    let wire = client_messages(MessageKind::Text, 1000, 2000);
    let mut server = Session::new(Connection::server(Config::default()));
    let run = |server: &mut Session| {
        let mut fins = 0;
        for read in wire.chunks(64 * 1024) {
            server.receive(read);
            while let Some(item) = server.poll_piece().expect("valid frames") {
                if let wsmachine::Streamed::Piece(piece) = item {
                    fins += usize::from(piece.fin);
                }
            }
        }
        fins
    };
    assert_eq!(run(&mut server), 2000);
    let (allocations, fins) = allocations_during(|| run(&mut server));
    assert_eq!((allocations, fins), (0, 2000));
}

/// The budget for `size_of::<Connection>()`, in bytes. The connection is
/// 168 bytes on x86_64 (rustc 1.95) with `alloc`; a server with 100 000
/// clients holds one per client, so a new field that adds a buffer should
/// be a decision, not an accident.
///
/// Where the bytes go: the kept settings (limits, flags and the timers'
/// durations), 40; the timers' stamps, 24; the partial frame header, 15;
/// the frame and message in progress, 40; two UTF-8 validators, 10; the
/// sticky error; flags; and two pointers for what is kept out of line:
/// a client's mask source (`SecureRandom`, 112 bytes) and the control slots
/// (a control payload split across reads, the queued pong and the queued
/// Close, about 380 bytes), allocated the first time they are needed.
/// Without `alloc` those are inline, and the connection is about 650 bytes.
const CONNECTION_BUDGET: usize = 256;

#[test]
fn connection_size_is_within_budget() {
    let size = core::mem::size_of::<Connection>();
    assert!(size <= CONNECTION_BUDGET, "size_of::<Connection>() = {size} > budget {CONNECTION_BUDGET}");
}

/// The budget for `size_of::<Session>()`, in bytes: what every connection
/// of an adapter holds besides its buffers, idle or not (600 on x86_64,
/// rustc 1.95, with every feature). The connection, 168; the buffers'
/// handles (read, output, assembly, piece, finished messages and their
/// queue, queued payloads, the protocol), about 300; the rest is offsets,
/// flags and the item found ahead. What is large and rare is boxed: a
/// control frame's payload (up to 125 bytes, in a box kept while the
/// connection is busy) and the Close a timer found.
const SESSION_BUDGET: usize = 608;

#[test]
fn session_size_is_within_budget() {
    let size = core::mem::size_of::<wsmachine::Session>();
    assert!(size <= SESSION_BUDGET, "size_of::<Session>() = {size} > budget {SESSION_BUDGET}");
}

/// The session layer's handshake machines keep the head in a buffer that
/// grows with it, not in an 8 KiB array: a handshake in progress holds
/// only what arrived. (About 130 bytes for the server, 520 for the client
/// with every feature: its URL, options, key and request.)
const START_BUDGET: usize = 1024;

#[test]
fn handshakes_in_progress_are_small() {
    let server = core::mem::size_of::<wsmachine::ServerStart<'_>>();
    let client = core::mem::size_of::<wsmachine::ClientStart<'_>>();
    assert!(server <= START_BUDGET, "size_of::<ServerStart>() = {server} > budget {START_BUDGET}");
    assert!(client <= START_BUDGET, "size_of::<ClientStart>() = {client} > budget {START_BUDGET}");
}

#[test]
fn a_server_that_is_never_pinged_never_allocates() {
    let mut client = Connection::client(Config::default(), SecureRandom::from_seed([4; 32]));
    let mut wire = Vec::with_capacity(64);
    let (allocations, events) = allocations_during(|| {
        let mut server = Connection::server(Config::default());
        // Data and pongs, each whole in its read: the control payloads are
        // unmasked where they lie, not kept.
        let mut events = 0;
        for i in 0..1000u32 {
            wire.clear();
            client.send_text("hello", &mut wire).expect("sent");
            client.send_pong(&i.to_be_bytes(), &mut wire).expect("sent");
            let mut pos = 0;
            while pos < wire.len() {
                let r = server.receive(&mut wire[pos..]).expect("valid frames");
                pos += r.consumed;
                events += usize::from(r.event.is_some());
            }
            assert!(!server.wants_write());
        }
        events
    });
    assert_eq!((allocations, events), (0, 2000));
}

#[test]
fn a_server_allocates_its_control_slots_once_however_often_it_is_pinged() {
    let mut client = Connection::client(Config::default(), SecureRandom::from_seed([6; 32]));
    let mut server = Connection::server(Config::default());
    let mut pongs = [0u8; 256];
    let mut wire = Vec::with_capacity(64);
    let mut ping_rounds = |server: &mut Connection, rounds: u32| {
        for i in 0..rounds {
            wire.clear();
            client.send_ping(&i.to_be_bytes(), &mut wire).expect("sent");
            let r = server.receive(&mut wire).expect("a ping");
            assert!(matches!(r.event, Some(Event::Ping(p)) if *p == i.to_be_bytes()));
            assert_eq!(server.poll_transmit(&mut pongs[..]), Ok(6));
        }
    };
    let (first, ()) = allocations_during(|| ping_rounds(&mut server, 1));
    let (more, ()) = allocations_during(|| ping_rounds(&mut server, 1000));
    assert_eq!((first, more), (1, 0));
}
