//! Whole messages against streamed pieces, through the `Session` the
//! blocking and tokio adapters drive, server role, binary and text.
//!
//! Each iteration feeds the same masked client frames (about 1 MiB of
//! payload, at least 4 messages, as in `frames.rs`) through the session's
//! documented loop: each 64 KiB read is copied into the session
//! (`Session::receive`), items are polled until `None`, then the replies
//! are drained (`poll_output` / `consume_output`, empty here).
//!
//! - `streaming`: `poll_piece`, the pieces borrowed from the read buffer;
//! - `whole`: `poll_message`, each message an owned `Vec<u8>` / `String`
//!   handed to the caller (and dropped by it): one allocation per message;
//! - `whole-recycled`: `poll_message`, each message given back with
//!   `Session::recycle` once used (as an echo's `send_owned` does), so the
//!   next one is received into its buffer: no allocation per message up to
//!   4 KiB (a larger buffer given back is freed);
//! - `whole-ref`: `poll_message_ref`, each message lent by the session
//!   (from the read buffer when it arrived in one read, else from an
//!   assembly buffer it reuses).
//!
//! The target: whole messages within 1.3× of streaming at every
//! size.
//!
//! The `messages-one-per-read-*` groups feed the same frames one per read
//! (16 B and 1 KiB), as in a request-and-reply exchange: each read's
//! message is taken, then the call that finds nothing left, which there
//! is made once per message rather than once per 64 KiB.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wsmachine::{Config, Connection, Incoming, IncomingRef, Message, Session};

mod common;
use common::session_modes::{feed, feed_reads, take_lent, take_messages, take_pieces};
use common::{frames_for, masked_frame_len, masked_frames, payload, Kind, READ_CHUNK};

/// The sizes measured: small, 16-bit length, read-sized and large.
const SIZES: [(usize, &str); 4] = [(16, "16B"), (1024, "1KiB"), (64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];

/// A server session whose message limit admits 1 MiB messages.
fn server() -> Session {
    Session::new(Connection::server(Config::default()))
}

/// The pieces of `wire`; returns the messages finished.
fn streaming(session: &mut Session, wire: &[u8]) -> usize {
    feed(session, wire, take_pieces)
}

/// The whole messages of `wire`, dropped once used or, with `recycle`,
/// given back; returns how many.
fn whole(session: &mut Session, wire: &[u8], recycle: bool) -> usize {
    feed(session, wire, |session| take_messages(session, recycle))
}

/// The whole messages of `wire`, lent; returns how many.
fn whole_ref(session: &mut Session, wire: &[u8]) -> usize {
    feed(session, wire, take_lent)
}

fn messages(c: &mut Criterion) {
    for kind in [Kind::Binary, Kind::Text] {
        let mut group = c.benchmark_group(format!("messages-{}", kind.name()));
        for (size, label) in SIZES {
            let count = frames_for(size);
            let data = payload(kind, size, size as u32);
            let wire = masked_frames(kind, &data, count);
            // Checked once: both modes see every message, whole and right.
            let mut s = server();
            assert_eq!(streaming(&mut s, &wire), count);
            let mut s = server();
            for read in wire.chunks(READ_CHUNK) {
                s.receive(read);
                while let Some(item) = s.poll_message().expect("valid frames") {
                    let expected = match kind {
                        Kind::Binary => Message::Binary(data.clone()),
                        Kind::Text => Message::Text(String::from_utf8(data.clone()).expect("ASCII")),
                    };
                    assert_eq!(item, Incoming::Message(expected));
                }
            }
            let mut s = server();
            for read in wire.chunks(READ_CHUNK) {
                s.receive(read);
                while let Some(item) = s.poll_message_ref().expect("valid frames") {
                    match item {
                        IncomingRef::Binary(got) => assert_eq!(got, data),
                        IncomingRef::Text(got) => assert_eq!(got.as_bytes(), data),
                        other => panic!("{other:?}"),
                    }
                }
            }
            group.throughput(Throughput::Bytes((count * size) as u64));
            group.bench_function(BenchmarkId::new("streaming", label), |b| {
                let mut session = server();
                b.iter(|| streaming(&mut session, &wire))
            });
            group.bench_function(BenchmarkId::new("whole", label), |b| {
                let mut session = server();
                b.iter(|| whole(&mut session, &wire, false))
            });
            group.bench_function(BenchmarkId::new("whole-recycled", label), |b| {
                let mut session = server();
                b.iter(|| whole(&mut session, &wire, true))
            });
            group.bench_function(BenchmarkId::new("whole-ref", label), |b| {
                let mut session = server();
                b.iter(|| whole_ref(&mut session, &wire))
            });
        }
        group.finish();
    }
}

/// Takes the items a read brought, in one of the modes; returns how many
/// messages they finished.
type TakeItems = fn(&mut Session) -> usize;

/// Each mode again with one message per read, at the sizes where the
/// call that finds nothing left weighs against a message's own work.
fn one_message_per_read(c: &mut Criterion) {
    for kind in [Kind::Binary, Kind::Text] {
        let mut group = c.benchmark_group(format!("messages-one-per-read-{}", kind.name()));
        for (size, label) in SIZES.into_iter().filter(|&(size, _)| size <= 1024) {
            let count = frames_for(size);
            let wire = masked_frames(kind, &payload(kind, size, size as u32), count);
            let read_len = masked_frame_len(size);
            assert_eq!(wire.len(), count * read_len, "one frame per read");
            let modes: [(&str, TakeItems); 3] = [
                ("streaming", take_pieces),
                ("whole", |session| take_messages(session, false)),
                ("whole-ref", take_lent),
            ];
            group.throughput(Throughput::Bytes((count * size) as u64));
            for (mode, take) in modes {
                // Checked once: every message, one per read.
                assert_eq!(feed_reads(&mut server(), &wire, read_len, take), count);
                group.bench_function(BenchmarkId::new(mode, label), |b| {
                    let mut session = server();
                    b.iter(|| feed_reads(&mut session, &wire, read_len, take))
                });
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = messages, one_message_per_read
}
criterion_main!(benches);
