//! permessage-deflate compressors side by side: wsmachine's own (driven
//! through `Deflate`), `miniz_oxide` (wsmachine's inflater) and `zlib-rs`
//! (the Rust port of zlib), on the same JSON-like
//! text, as permessage-deflate uses them (raw DEFLATE, a sync flush after
//! every message, context takeover), and wsmachine's own `Deflate` with its
//! default and memory-lean settings.
//!
//! Prints two Markdown tables:
//!
//! - throughput: MB/s (10^6 bytes of *uncompressed* text per second) to
//!   compress and to inflate messages of 1 KiB, 16 KiB and 256 KiB at
//!   levels 1, 2 and 6, with the compressed size in percent;
//! - memory: heap bytes held by one connection's compressor and inflater
//!   after one 16 KiB message each way, counted by a global allocator, at
//!   window 15 and at windows 9–11 (and zlib-rs's memory levels).
//!
//! A plain timing loop (the median of five runs of about 0.2 s each), not
//! criterion: run with `cargo bench -p wsmachine-benches --bench deflate`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
use wsmachine::{Config, Connection, Event, Role, SecureRandom};

mod common;
use common::deflate_backends::{json_text, miniz, own, zlib, Backend};

/// Counts the bytes live on the heap, all threads together (this binary
/// runs on one).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; counting only touches an atomic and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System`; forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Runs `f` (which handles `bytes` of text) until about 0.2 s have passed,
/// five times, and returns the median MB/s.
fn mbps(bytes: usize, mut f: impl FnMut()) -> f64 {
    let mut runs = [0f64; 5];
    for run in &mut runs {
        let start = Instant::now();
        let mut done = 0usize;
        while start.elapsed() < Duration::from_millis(200) {
            f();
            done += bytes;
        }
        *run = done as f64 / start.elapsed().as_secs_f64() / 1e6;
    }
    runs.sort_by(f64::total_cmp);
    runs[2]
}

/// Compress and inflate MB/s and the compressed size (percent) for
/// `backend`, over messages of `size` bytes, one connection (context
/// takeover), a new message each time from a rotating set.
fn throughput(mut make: impl FnMut() -> Box<dyn Backend>, size: usize) -> (f64, f64, f64) {
    // Distinct messages, more than a 32 KiB window's worth, so none is
    // found whole in the window.
    let count = (96 * 1024 / size).max(8);
    let messages: Vec<Vec<u8>> = (0..count).map(|i| json_text(size, 17 + i as u32)).collect();
    let mut tx = make();
    let mut out = Vec::new();
    let mut i = 0;
    let compress = mbps(size, || {
        tx.compress(black_box(&messages[i % count]), &mut out);
        i += 1;
    });
    // A fresh pair for the inflate side: a stream of compressed messages
    // replayed into one inflater, restarted when the stream runs out.
    let mut tx = make();
    let stream: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            tx.compress(&messages[i], &mut out);
            out.clone()
        })
        .collect();
    let ratio = stream.iter().map(Vec::len).sum::<usize>() as f64 / (count * size) as f64 * 100.0;
    let mut rx = make();
    let mut plain = Vec::new();
    let mut j = 0;
    let inflate = mbps(size, || {
        if j == stream.len() {
            rx = make();
            j = 0;
        }
        rx.inflate(black_box(&stream[j]), &mut plain);
        debug_assert_eq!(plain, messages[j]);
        j += 1;
    });
    (compress, inflate, ratio)
}

/// Heap bytes held by a backend's compressor and inflater after one 16 KiB
/// message each way.
fn backend_bytes(make: impl FnOnce() -> Box<dyn Backend>) -> isize {
    let msg = json_text(16 * 1024, 3);
    let (mut comp, mut plain) = (Vec::with_capacity(32 * 1024), Vec::with_capacity(32 * 1024));
    let before = live();
    let mut backend = make();
    backend.compress(&msg, &mut comp);
    backend.inflate(&comp, &mut plain);
    assert_eq!(plain, msg);
    let held = live() - before;
    drop(backend);
    held
}

/// Heap bytes a server's `Deflate` holds after sending and receiving one
/// 16 KiB message with `config` (both ends configured alike).
fn wsmachine_bytes(config: DeflateConfig) -> isize {
    let msg = String::from_utf8(json_text(16 * 1024, 3)).unwrap();
    let offers = wsmachine::handshake::Extensions::parse(Box::leak(config.offer().into_boxed_str())).unwrap();
    let params: DeflateParams = config.accept(offers).expect("an offer the server takes");
    let conn_config = Deflate::connection_config(Config::default());
    let mut client = Connection::client(conn_config, SecureRandom::from_seed([7; 32]));
    let mut client_deflate = Deflate::new(Role::Client, params, &config);
    let mut server = Connection::server(conn_config);
    let mut wire = Vec::with_capacity(64 * 1024);
    let mut received = 0;
    let mut out = Vec::with_capacity(64 * 1024);
    // Client → server: the server inflates. (The client compresses before
    // the count starts.)
    client_deflate.send_text(&mut client, &msg, &mut wire).unwrap();
    let before = live();
    let mut server_deflate = Deflate::new(Role::Server, params, &config);
    let mut pos = 0;
    while pos < wire.len() {
        let r = server.receive(&mut wire[pos..]).unwrap();
        pos += r.consumed;
        let Some(event) = r.event else { continue };
        let mut decoded = server_deflate.decode(&mut server, event);
        while let Some(event) = decoded.next() {
            if let Ok(Event::Text { data, .. }) = event {
                received += data.len();
            }
        }
    }
    assert_eq!(received, msg.len());
    // Server → client: the server compresses.
    server_deflate.send_text(&mut server, &msg, &mut out).unwrap();
    let held = live() - before;
    drop(server_deflate);
    held
}

/// Microseconds per message for a wsmachine server sending `size`-byte
/// text messages with `config`, and the bytes on the wire per message
/// (uncompressed messages included).
fn wsmachine_send(config: DeflateConfig, size: usize) -> (f64, f64) {
    let count = (96 * 1024 / size).max(8);
    let messages: Vec<String> =
        (0..count).map(|i| String::from_utf8(json_text(size, 99 + i as u32)).unwrap()).collect();
    let offers = wsmachine::handshake::Extensions::parse(Box::leak(config.offer().into_boxed_str())).unwrap();
    let params = config.accept(offers).expect("an offer the server takes");
    let mut server = Connection::server(Deflate::connection_config(Config::default()));
    let mut deflate = Deflate::new(Role::Server, params, &config);
    let mut out = Vec::with_capacity(2 * size + 64);
    let wire: usize = messages
        .iter()
        .map(|m| {
            out.clear();
            deflate.send_text(&mut server, m, &mut out).unwrap()
        })
        .sum();
    let mut i = 0;
    let rate = mbps(size, || {
        out.clear();
        deflate.send_text(&mut server, black_box(&messages[i % count]), &mut out).unwrap();
        i += 1;
    });
    (size as f64 / rate, wire as f64 / count as f64)
}

fn kib(bytes: isize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter is not supported.
    let levels = [1u8, 2, 6];
    let sizes = [(1024usize, "1 KiB"), (16 * 1024, "16 KiB"), (256 * 1024, "256 KiB")];
    println!("## Throughput (MB/s of uncompressed text; window 15, context takeover)\n");
    println!("| level | size | wsmachine compress | miniz_oxide compress | zlib-rs compress | miniz_oxide inflate | zlib-rs inflate | wsmachine size | miniz_oxide size | zlib-rs size |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for level in levels {
        for (size, name) in sizes {
            let (wc, _, wr) = throughput(|| Box::new(own::Own::new(level, 15)), size);
            let (mc, mi, mr) = throughput(|| Box::new(miniz::Miniz::new(level)), size);
            let (zc, zi, zr) = throughput(|| Box::new(zlib::Zlib::new(level, 15, 8)), size);
            println!(
                "| {level} | {name} | {wc:.0} | {mc:.0} | {zc:.0} | {mi:.0} | {zi:.0} | {wr:.1} % | {mr:.1} % | {zr:.1} % |"
            );
        }
    }

    println!("\n## Heap bytes per connection (compressor + inflater, after one 16 KiB message each way)\n");
    println!("| backend | window bits | memory level | bytes |");
    println!("| --- | ---: | ---: | ---: |");
    for bits in [15u8, 11, 10, 9] {
        let bytes = backend_bytes(|| Box::new(own::Own::new(2, bits)));
        println!("| wsmachine compressor, miniz_oxide inflater | {bits} | — | {} |", kib(bytes));
    }
    let miniz = backend_bytes(|| Box::new(miniz::Miniz::new(2)));
    println!("| miniz_oxide | any (always 32 KiB) | — | {} |", kib(miniz));
    for bits in [15u8, 11, 10, 9] {
        for mem_level in [8u8, 1] {
            let bytes = backend_bytes(|| Box::new(zlib::Zlib::new(2, bits, mem_level)));
            println!("| zlib-rs | {bits} | {mem_level} | {} |", kib(bytes));
        }
    }

    println!("\n## wsmachine `Deflate` (server, after one 16 KiB message each way, buffers included)\n");
    println!("| setting | bytes held between messages |");
    println!("| --- | ---: |");
    println!("| `DeflateConfig::default()` | {} |", kib(wsmachine_bytes(DeflateConfig::default())));
    println!("| `DeflateConfig::memory_lean()` | {} |", kib(wsmachine_bytes(DeflateConfig::memory_lean())));

    println!("\n## wsmachine `Deflate::send_text` per message (level 2, window 15)\n");
    println!(
        "| size | default: µs | default: bytes sent | memory_lean: µs | memory_lean: bytes sent | uncompressed: µs |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    let all = |config: DeflateConfig| DeflateConfig { threshold: 0, ..config };
    let never = DeflateConfig { threshold: usize::MAX, ..DeflateConfig::default() };
    for size in [64usize, 256, 1024, 4096, 16 * 1024, 256 * 1024] {
        let (dt, db) = wsmachine_send(all(DeflateConfig::default()), size);
        let (lt, lb) = wsmachine_send(all(DeflateConfig::memory_lean()), size);
        let (ut, _) = wsmachine_send(never, size);
        println!("| {size} | {dt:.2} | {db:.0} | {lt:.2} | {lb:.0} | {ut:.2} |");
    }
}
