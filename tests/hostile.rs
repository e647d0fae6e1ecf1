//! Hostile peers, deterministically: each test plays one abusive pattern
//! against the machines, asserts the exact error, close code or HTTP status
//! it ends in, and measures with a counting allocator that the memory the
//! machines hold stays within the configured limits. For the handshake
//! machines that is zero bytes; a connection holds at most
//! [`CONNECTION_HEAP`] bytes, whatever it is fed.
//!
//! The allocator keeps per-thread counters (tests run on several threads at
//! once): bytes currently allocated by this thread and the peak since the
//! last reset. Everything a test feeds is built before measuring starts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use wsmachine::handshake::{
    ClientHandshake, ClientOptions, HandshakeConfig, HandshakeError, Header, ResponseError, ServerHandshake, Status,
    DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEAD_LEN,
};
use wsmachine::{
    CloseCode, CloseFrame, Config, Connection, Event, MessageAssembler, MessageKind, ProtocolError, SecureRandom, State,
};

/// The most heap a connection may hold, however hostile its input: its
/// control slots (a control payload split across reads, the queued pong
/// and Close; 378 bytes on x86_64), allocated once when first needed, and
/// a client's mask source (112 bytes), allocated when it is created.
const CONNECTION_HEAP: usize = 512;

// --- the counting allocator ----------------------------------------------------

struct CountingAlloc;

thread_local! {
    /// Bytes this thread holds now (may go negative when it frees memory
    /// another thread allocated).
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    /// The highest `CURRENT` since the last `reset_peak`.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: the slots may be gone while the thread shuts down; a
    // const-initialised `Cell` never allocates itself.
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; counting touches only
// thread-local `Cell`s and never allocates.
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

/// Runs `f`; returns the most bytes this thread held meanwhile beyond what
/// it held when `f` started, and `f`'s value.
fn peak_during<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let value = f();
    let peak = PEAK.with(Cell::get) - start;
    (peak.max(0) as usize, value)
}

#[test]
fn the_allocator_counts() {
    let (peak, v) = peak_during(|| vec![0u8; 10_000].len());
    assert_eq!(v, 10_000);
    assert!(peak >= 10_000, "{peak}");
}

// --- helpers -------------------------------------------------------------------

/// A client-masked frame (key 1 2 3 4) with `payload`, any length form.
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut out = vec![b0];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// What a run of `receive` calls made of some input.
#[derive(Debug, Default)]
struct Fed {
    /// Events per kind.
    data: usize,
    pings: usize,
    /// The last Close event, and after how many data events it came
    /// (no `Vec`: the test must not allocate while measuring).
    close: Option<(CloseCode, usize)>,
    /// The error that ended it, and after how many data events.
    error: Option<ProtocolError>,
    consumed: usize,
}

/// Feeds `input` to `conn` in reads of `read` bytes, as a caller would.
fn feed(conn: &mut Connection, input: &mut [u8], read: usize) -> Fed {
    let mut fed = Fed::default();
    for chunk in input.chunks_mut(read) {
        let mut pos = 0;
        while pos < chunk.len() {
            match conn.receive(&mut chunk[pos..]) {
                Ok(r) => {
                    pos += r.consumed;
                    fed.consumed += r.consumed;
                    match r.event {
                        Some(Event::Text { .. } | Event::Binary { .. }) => fed.data += 1,
                        Some(Event::Ping(_)) => fed.pings += 1,
                        Some(Event::Close(c)) => fed.close = Some((c.code(), fed.data)),
                        _ => {}
                    }
                }
                Err(e) => {
                    fed.error = Some(e);
                    return fed;
                }
            }
        }
    }
    fed
}

/// The Close frame `conn` queued, as (code, reason), read by a peer.
fn queued_close(conn: &mut Connection) -> CloseFrame {
    let mut out = [0u8; 512];
    let n = conn.poll_transmit(&mut out[..]).expect("fits");
    close_in(&out[..n])
}

/// Decodes the single unmasked Close frame (a server's) in `frame`.
fn close_in(frame: &[u8]) -> CloseFrame {
    assert_eq!(frame[0], 0x88, "a final Close frame: {frame:02x?}");
    let len = usize::from(frame[1]);
    assert_eq!(frame.len(), 2 + len, "{frame:02x?}");
    CloseFrame::decode(&frame[2..]).expect("a valid Close payload")
}

// --- the connection ------------------------------------------------------------

#[test]
fn a_length_of_2_pow_63_fails_with_1002_before_any_payload() {
    for role_is_server in [true, false] {
        let mask_bit = if role_is_server { 0x80 } else { 0 };
        let mut input = vec![0x82, mask_bit | 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        if role_is_server {
            input.extend_from_slice(&[1, 2, 3, 4]);
        }
        input.extend_from_slice(&[0xAB; 4096]); // the "payload" keeps coming
        let (peak, (fed, close)) = peak_during(|| {
            let mut conn = if role_is_server {
                Connection::server(Config::default())
            } else {
                Connection::client(Config::default(), SecureRandom::from_seed([1; 32]))
            };
            // One byte at a time: the header is buffered inside the machine.
            let fed = feed(&mut conn, &mut input, 1);
            assert_eq!(conn.state(), State::Failed(ProtocolError::LengthMsbSet));
            let mut out = [0u8; 512];
            let n = conn.poll_transmit(&mut out[..]).expect("fits");
            (fed, (n, out))
        });
        assert!(peak <= CONNECTION_HEAP, "the connection holds {peak} bytes");
        assert_eq!(fed.error, Some(ProtocolError::LengthMsbSet));
        let header_len = if role_is_server { 14 } else { 10 };
        assert_eq!(fed.consumed, header_len - 1, "refused at the header's last byte, before any payload");
        assert_eq!(ProtocolError::LengthMsbSet.close_code(), CloseCode::PROTOCOL_ERROR);
        let (n, out) = close;
        let frame = &out[..n];
        if role_is_server {
            assert_eq!(close_in(frame).code(), CloseCode(1002));
        } else {
            // A client masks its Close: 2 + 4 bytes, then the code and reason.
            let payload = 2 + ProtocolError::LengthMsbSet.reason().len();
            assert_eq!((frame[0], frame[1], n), (0x88, 0x80 | payload as u8, 2 + 4 + payload));
        }
    }
}

#[test]
fn the_largest_legal_length_fails_with_1009_at_the_header() {
    let largest = [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4];
    // 2 MiB: within the message limit, over an explicit 1 MiB frame limit.
    let two_mib = [0x82, 0xFF, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4];
    for (header, config, error) in [
        // The frame limit follows the message limit: the message is too large.
        (largest, Config::default(), ProtocolError::MessageTooLarge),
        (two_mib, Config { max_frame_payload: 1 << 20, ..Config::default() }, ProtocolError::FrameTooLarge),
    ] {
        let mut input = header.to_vec();
        input.extend_from_slice(&[0; 1000]);
        let (peak, (fed, close)) = peak_during(|| {
            let mut conn = Connection::server(config);
            let fed = feed(&mut conn, &mut input, 7);
            (fed, queued_close(&mut conn))
        });
        assert!(peak <= CONNECTION_HEAP, "the connection holds {peak} bytes");
        assert_eq!(fed.error, Some(error));
        assert_eq!(fed.consumed, 7, "only the first read was looked at");
        assert_eq!(close.code(), CloseCode::MESSAGE_TOO_BIG);
    }
}

/// A masked text frame, not final, then empty continuations (not final)
/// until `frames` frames in all.
fn empty_fragment_flood(frames: usize) -> Vec<u8> {
    let empty = masked(0x00, b""); // an empty continuation, not final
    let mut input = Vec::with_capacity(11 + frames * empty.len());
    input.extend_from_slice(&masked(0x01, b"start")); // text, not final
    for _ in 1..frames {
        input.extend_from_slice(&empty);
    }
    input
}

#[test]
fn endless_empty_continuation_frames_fail_with_1009_when_their_cost_runs_out() {
    // Each empty frame that does not end the message costs EMPTY_FRAME_COST
    // bytes of an allowance of max_message_size: 64 MiB / 64 = 1 Mi frames
    // at the default. The flood is cut off right after them, having cost
    // no memory and one `receive` call per frame (CPU bounded by the count).
    let config = Config::default();
    let allowed = (config.max_message_size / wsmachine::EMPTY_FRAME_COST) as usize;
    assert_eq!(allowed, 1 << 20);
    let mut input = empty_fragment_flood(allowed + 100);
    let (peak, (fed, close)) = peak_during(|| {
        let mut conn = Connection::server(config);
        let fed = feed(&mut conn, &mut input, 4096);
        (fed, queued_close(&mut conn))
    });
    assert!(peak <= CONNECTION_HEAP, "the connection holds {peak} bytes");
    assert_eq!(fed.error, Some(ProtocolError::TooManyFragments));
    // The first frame and `allowed` empty ones are fine (one data event
    // each); the next fails at its header.
    assert_eq!(fed.data, 1 + allowed);
    let before_failing_frame = 11 + allowed * 6;
    assert!(
        (before_failing_frame..before_failing_frame + 6).contains(&fed.consumed),
        "stopped in the header of the frame after the allowance: {} bytes consumed",
        fed.consumed
    );
    assert_eq!(close.code(), CloseCode::MESSAGE_TOO_BIG);
    assert_eq!(ProtocolError::TooManyFragments.close_code().0, 1009);
}

#[test]
fn empty_fragment_allowance_follows_the_message_limit_with_a_floor() {
    // 1 MiB messages: 16 384 empty frames; 1 KiB messages: still 1 024.
    for (max_message_size, allowed) in [(1u64 << 20, 16_384usize), (1024, 1024), (0, 1024)] {
        let config = Config { max_message_size: max_message_size.max(5), ..Config::default() };
        let mut ok = empty_fragment_flood(1 + allowed);
        ok.extend_from_slice(&masked(0x80, b"")); // the final frame, empty, free
        let mut conn = Connection::server(config);
        let fed = feed(&mut conn, &mut ok, 4096);
        assert_eq!((fed.error, fed.data), (None, allowed + 2), "{max_message_size}: all {allowed} admitted");

        let mut flood = empty_fragment_flood(2 + allowed);
        let mut conn = Connection::server(config);
        let fed = feed(&mut conn, &mut flood, 4096);
        assert_eq!((fed.error, fed.data), (Some(ProtocolError::TooManyFragments), allowed + 1));
    }
}

#[test]
fn a_one_byte_fragment_flood_is_bounded_by_the_message_size() {
    // Frames that carry data need no count limit: each brings a byte, so
    // the size limit cuts the flood off after max_message_size frames.
    let config = Config { max_message_size: 64 * 1024, ..Config::default() };
    let frames = 64 * 1024 + 10;
    let one = masked(0x00, b"x");
    let mut input = masked(0x02, b"x");
    for _ in 1..frames {
        input.extend_from_slice(&one);
    }
    let (peak, fed) = peak_during(|| {
        let mut conn = Connection::server(config);
        feed(&mut conn, &mut input, 4096)
    });
    assert!(peak <= CONNECTION_HEAP, "the connection holds {peak} bytes");
    assert_eq!(fed.error, Some(ProtocolError::MessageTooLarge));
    assert_eq!(fed.data, 64 * 1024, "every byte within the limit was delivered");
}

/// An output that is a fixed slice: what "writing" looks like without
/// allocating.
struct Slice<'a> {
    buf: &'a mut [u8],
    used: usize,
}

impl wsmachine::Output for Slice<'_> {
    fn claim(&mut self, len: usize) -> Option<&mut [u8]> {
        let room = self.buf.get_mut(self.used..self.used + len)?;
        self.used += len;
        Some(room)
    }
}

#[test]
fn a_ping_flood_while_we_write_leaves_at_most_one_pong_pending() {
    const PINGS: usize = 100_000;
    const PER_READ: usize = 10;
    // 100 000 pings, each with a distinct payload up to 125 bytes.
    let mut input = Vec::new();
    let mut last_payload = Vec::new();
    for i in 0..PINGS {
        let len = i % 126;
        last_payload = (0..len).map(|j| (i + j) as u8).collect();
        input.extend_from_slice(&masked(0x89, &last_payload));
    }
    let frame_lens: Vec<usize> = (0..PINGS).map(|i| 6 + i % 126).collect();
    let mut wire = vec![0u8; 4 << 20];
    let chunk = [b'x'; 100];

    let (peak, (used, polls, pong_bytes)) = peak_during(|| {
        let mut conn = Connection::server(Config::default());
        let mut out = Slice { buf: &mut wire, used: 0 };
        let (mut at, mut polls, mut pong_bytes) = (0, 0usize, 0usize);
        for (read, lens) in frame_lens.chunks(PER_READ).enumerate() {
            // We are in the middle of streaming a message to the peer.
            conn.send_fragment(MessageKind::Binary, &chunk, false, &mut out).expect("we may write");
            let n: usize = lens.iter().sum();
            let fed = feed(&mut conn, &mut input[at..at + n], n);
            at += n;
            assert_eq!((fed.pings, fed.error), (PER_READ.min(lens.len()), None));
            // Ten pings arrived and we did not poll: one pong is pending, no more.
            assert!(conn.wants_write());
            let mut pong = [0u8; 2 + 125 + 4];
            if read % 3 == 0 {
                let n = conn.poll_transmit(&mut pong[..]).expect("one pong fits in 131 bytes");
                assert!(n <= 2 + 125);
                out.buf[out.used..out.used + n].copy_from_slice(&pong[..n]);
                out.used += n;
                polls += 1;
                pong_bytes += n;
            }
        }
        let n = conn.poll_transmit(&mut out).expect("room");
        pong_bytes += n;
        polls += usize::from(n > 0);
        conn.send_fragment(MessageKind::Binary, b"", true, &mut out).expect("the message ends");
        (out.used, polls, pong_bytes)
    });
    assert!(peak <= CONNECTION_HEAP, "the connection holds {peak} bytes");
    // Pongs did not pile up: one per poll, never one per ping.
    assert!(pong_bytes <= polls * (2 + 125), "{pong_bytes} bytes of pongs for {polls} polls");

    // What we wrote is a valid stream: our message, with pongs between its
    // fragments, the last one answering the last ping.
    let mut client = Connection::client(Config::default(), SecureRandom::from_seed([2; 32]));
    let (mut pos, mut pongs, mut data, mut last) = (0, 0, 0, Vec::new());
    while pos < used {
        let r = client.receive(&mut wire[pos..used]).expect("a valid stream");
        pos += r.consumed;
        match r.event {
            Some(Event::Pong(p)) => {
                pongs += 1;
                last = p.to_vec();
            }
            Some(Event::Binary { data: d, .. }) => data += d.len(),
            other => assert!(other.is_none(), "{other:?}"),
        }
    }
    assert_eq!(pongs, polls);
    assert_eq!(data, PINGS / PER_READ * chunk.len());
    assert_eq!(last, last_payload);
}

#[test]
fn a_close_in_the_middle_of_a_fragmented_message_ends_it() {
    let mut input = masked(0x01, b"Hel"); // text, not final
    input.extend_from_slice(&masked(0x88, &[0x03, 0xE8, b'b', b'y', b'e']));
    input.extend_from_slice(&masked(0x80, b"lo")); // the rest, after the Close
    let (peak, (fed, echo, state)) = peak_during(|| {
        let mut conn = Connection::server(Config::default());
        let fed = feed(&mut conn, &mut input, 3);
        assert_eq!(conn.state(), State::CloseReceived);
        let echo = queued_close(&mut conn);
        (fed, echo, conn.state())
    });
    assert!(peak <= CONNECTION_HEAP, "the connection holds {peak} bytes");
    assert_eq!(fed.error, None);
    // The fragment, then the Close (a control frame may come between
    // fragments, §5.4); the message never completes.
    assert_eq!(fed.data, 1);
    assert_eq!(fed.close, Some((CloseCode::NORMAL, 1)));
    assert_eq!(fed.consumed, input.len(), "what follows a Close is consumed and ignored");
    assert_eq!(echo.code(), CloseCode::NORMAL, "§5.5.1: the echo carries the code");
    assert_eq!(state, State::Closed);
}

#[test]
fn data_after_close_is_ignored_not_an_error() {
    let mut input = masked(0x88, &[0x0B, 0xB8]); // Close 3000
    input.extend_from_slice(&masked(0x81, b"after the close"));
    input.extend_from_slice(&[0x81, 0x05, b'h', b'e', b'l', b'l', b'o']); // unmasked: would be 1002
    input.extend_from_slice(&[0xFF; 1000]); // garbage
    let (peak, (fed, echo)) = peak_during(|| {
        let mut conn = Connection::server(Config::default());
        let fed = feed(&mut conn, &mut input, 5);
        let echo = queued_close(&mut conn);
        // And once closed, more bytes change nothing.
        let mut more = [0x82u8, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        let r = conn.receive(&mut more).expect("ignored");
        assert_eq!((r.consumed, r.event), (10, None));
        assert_eq!(conn.state(), State::Closed);
        assert!(!conn.wants_write());
        (fed, echo)
    });
    assert!(peak <= CONNECTION_HEAP, "the connection holds {peak} bytes");
    assert_eq!((fed.error, fed.data, fed.close), (None, 0, Some((CloseCode(3000), 0))));
    assert_eq!(fed.consumed, input.len());
    assert_eq!(echo.code(), CloseCode(3000));
    // Sending data after the peer's Close is the caller's error, not a frame.
    let mut conn = Connection::server(Config::default());
    let mut close = masked(0x88, &[0x03, 0xE8]);
    feed(&mut conn, &mut close, 64);
    let mut out = Vec::new();
    assert_eq!(conn.send_text("late", &mut out), Err(wsmachine::SendError::Closing));
    assert!(out.is_empty());
}

// --- the message assembler -----------------------------------------------------

#[test]
fn the_assembler_holds_at_most_its_limit() {
    for limit in [64 * 1024usize, 100_000, 1 << 20] {
        let config = Config { max_message_size: u64::MAX, ..Config::default() };
        // A message of 100-byte fragments, twice the limit in all.
        let fragment = [b'z'; 100];
        let mut input = masked(0x02, &fragment);
        for _ in 1..(2 * limit / fragment.len()) {
            input.extend_from_slice(&masked(0x00, &fragment));
        }
        input.extend_from_slice(&masked(0x80, b""));
        let (peak, (error, data_events)) = peak_during(|| {
            let mut conn = Connection::server(config);
            let mut assembler = MessageAssembler::new(limit as u64);
            let (mut pos, mut events) = (0, 0);
            loop {
                let r = conn.receive(&mut input[pos..]).expect("valid frames");
                pos += r.consumed;
                if let Some(event) = &r.event {
                    events += 1;
                    if let Err(e) = assembler.push(event) {
                        assert_eq!(assembler.buffered(), 0, "the partial message is dropped");
                        break (e, events);
                    }
                }
            }
        });
        assert_eq!(error, ProtocolError::MessageTooLarge);
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
        assert_eq!(data_events, limit / 100 + 1, "refused at the first piece that does not fit");
        // The buffer never grows past the limit; the slack is the
        // allocator's rounding, which the counter does not see anyway.
        assert!(peak <= limit + 64, "limit {limit}: peak {peak} bytes");
    }
}

// --- the handshake -------------------------------------------------------------

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A valid upgrade request whose head is exactly `len` bytes long (padded
/// in an `X-Pad` header).
fn request_of_len(len: usize) -> Vec<u8> {
    let head = |pad: usize| {
        format!(
            "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nX-Pad: {}\r\n\r\n",
            "p".repeat(pad)
        )
    };
    let pad = len - head(0).len();
    let bytes = head(pad).into_bytes();
    assert_eq!(bytes.len(), len);
    bytes
}

#[test]
fn a_half_sent_handshake_stays_partial_without_memory() {
    let full = request_of_len(600);
    // Everything but the final CRLF, one byte per read, then empty reads
    // (a client that stopped sending): Partial every time, nothing allocated.
    let half = &full[..full.len() - 2];
    let (peak, ()) = peak_during(|| {
        let mut server = ServerHandshake::default();
        for (n, byte) in half.chunks(1).enumerate() {
            let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
            assert!(matches!(server.receive(byte, &mut headers), Ok(Status::Partial)), "at {n} bytes");
        }
        for _ in 0..10_000 {
            let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
            assert!(matches!(server.receive(&[], &mut headers), Ok(Status::Partial)));
        }
        // The last two bytes complete it.
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let request = server.receive(&full[half.len()..], &mut headers).expect("valid").complete().expect("complete");
        assert_eq!((request.head_len(), request.consumed()), (full.len(), 2));
    });
    assert_eq!(peak, 0, "the handshake machine allocated");
}

#[test]
fn a_head_just_over_the_limit_is_431_and_one_at_the_limit_is_fine() {
    let at_limit = request_of_len(DEFAULT_MAX_HEAD_LEN);
    let over = request_of_len(DEFAULT_MAX_HEAD_LEN + 1);
    let (peak, ()) = peak_during(|| {
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let mut server = ServerHandshake::default();
        let ok = server.receive(&at_limit, &mut headers);
        assert!(matches!(ok, Ok(Status::Complete(ref r)) if r.head_len() == DEFAULT_MAX_HEAD_LEN), "{ok:?}");

        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let mut server = ServerHandshake::default();
        assert_eq!(server.receive(&over, &mut headers).map(|_| ()), Err(HandshakeError::HeadTooLarge));
        // Sticky, and refused as soon as the head reaches the limit.
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        assert_eq!(server.receive(&over, &mut headers).map(|_| ()), Err(HandshakeError::HeadTooLarge));
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let early = ServerHandshake::default().receive(&over[..DEFAULT_MAX_HEAD_LEN], &mut headers).map(|_| ());
        assert_eq!(early, Err(HandshakeError::HeadTooLarge));
    });
    assert_eq!(peak, 0);
    assert_eq!(HandshakeError::HeadTooLarge.status(), 431);
    let mut answer = Vec::new();
    HandshakeError::HeadTooLarge.write_response(&mut answer).expect("a Vec grows");
    assert!(answer.starts_with(b"HTTP/1.1 431 "), "{}", String::from_utf8_lossy(&answer));

    // The client side applies the same limit to the server's answer.
    let mut rng = SecureRandom::from_seed([4; 32]);
    let mut client = ClientHandshake::new("ws://example.com/", ClientOptions::default(), &mut rng).expect("valid url");
    let mut answer = b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: ".to_vec();
    answer.resize(DEFAULT_MAX_HEAD_LEN + 10, b'p');
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let (peak, result) = peak_during(|| client.receive(&answer, &mut headers).map(|_| ()));
    assert_eq!(peak, 0);
    assert_eq!(result, Err(ResponseError::Head(HandshakeError::HeadTooLarge)));
}

#[test]
fn a_header_repeated_thousands_of_times() {
    let config = HandshakeConfig::default().with_max_head_len(1 << 20);
    let base = request_of_len(300);
    let (head, end) = base.split_at(base.len() - 2);
    let repeat = |line: &str, times: usize| {
        let mut request = head.to_vec();
        for _ in 0..times {
            request.extend_from_slice(line.as_bytes());
        }
        request.extend_from_slice(end);
        request
    };
    let cookies = repeat("Cookie: a=b\r\n", 5_000);
    let hosts = repeat("Host: example.com\r\n", 5_000);
    // Heads this large need storage of their own (the inline one holds 8 KiB).
    let mut storage = vec![0u8; 1 << 20];
    let storage = &mut storage[..];
    let (peak, ()) = peak_during(|| {
        // Into the usual array: more header lines than it holds is 431.
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let result = ServerHandshake::with_storage(config, &mut *storage).receive(&cookies, &mut headers).map(|_| ());
        assert_eq!(result, Err(HandshakeError::TooManyHeaders));
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        let result = ServerHandshake::with_storage(config, &mut *storage).receive(&hosts, &mut headers).map(|_| ());
        assert_eq!(result, Err(HandshakeError::TooManyHeaders));
    });
    assert_eq!(peak, 0);
    assert_eq!(HandshakeError::TooManyHeaders.status(), 431);

    // With an array large enough to hold them, a repeated Host is 400, and
    // a repeated Cookie is no error at all (the array was the caller's
    // choice of memory).
    let mut server = ServerHandshake::with_storage(config, &mut *storage);
    let mut big = vec![Header::EMPTY; 6_000];
    let (peak, result) = peak_during(|| server.receive(&hosts, &mut big).map(|_| ()));
    assert_eq!(peak, 0);
    assert_eq!(result, Err(HandshakeError::DuplicateHeader("Host")));
    assert_eq!(HandshakeError::DuplicateHeader("Host").status(), 400);
    let mut server = ServerHandshake::with_storage(config, &mut *storage);
    let mut big = vec![Header::EMPTY; 6_000];
    let (peak, result) = peak_during(|| server.receive(&cookies, &mut big).map(|s| s.is_complete()));
    assert_eq!(peak, 0);
    assert_eq!(result, Ok(true));
}

#[test]
fn a_slowloris_handshake_is_partial_until_the_limit_then_431_in_linear_time() {
    const LIMIT: usize = 4096;
    let config = HandshakeConfig::default().with_max_head_len(LIMIT);
    // A request whose last header value never ends, one byte per read. Each
    // byte is copied and searched once (the scanner's unit tests probe that).
    let mut buf = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Slow: ".to_vec();
    buf.resize(LIMIT + 100, b'a');
    let (peak, calls) = peak_during(|| {
        let mut server = ServerHandshake::new(config);
        let mut calls = 0;
        for (i, byte) in buf.chunks(1).enumerate() {
            let n = i + 1;
            let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
            let result = server.receive(byte, &mut headers).map(|s| s.is_complete());
            calls += 1;
            if n < LIMIT {
                assert_eq!(result, Ok(false), "Partial at {n} bytes");
            } else {
                assert_eq!(result, Err(HandshakeError::HeadTooLarge), "at {n} bytes");
                break;
            }
        }
        calls
    });
    assert_eq!(peak, 0);
    assert_eq!(calls, LIMIT, "Partial for every read below the limit, 431 at it");
}
