//! The output side's fixed costs, wsmachine only.
//!
//! - `encode-into`: one frame of 16 B … 1 MiB encoded into a slice and
//!   appended to a `Vec<u8>` (cleared between frames, so its capacity is
//!   reused), client role (masked) and server role (unmasked). The `Vec`
//!   path should cost what the slice path costs: it must not zero-fill the
//!   room it is about to overwrite.
//! - `idle`: what the "drain after every event" loop costs when nothing is
//!   queued: `Connection::poll_transmit` into a slice and into a `Vec`, and
//!   `Session::poll_output` + `consume_output`, per call (1000 calls per
//!   iteration); and server-role decode of 16 B frames with and without a
//!   `poll_transmit` after every event (1000 frames per iteration), whose
//!   difference is the drain's cost per frame.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wsmachine::{Config, Connection, Event, FrameHeader, SecureRandom, Session};

mod common;
use common::{masked_frames, payload, Kind};

const SIZES: [(usize, &str); 4] = [(16, "16B"), (1024, "1KiB"), (64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];

/// Calls or frames per iteration of the idle benches.
const CALLS: usize = 1000;

fn encode_into(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode-into");
    for (size, label) in SIZES {
        let data = payload(Kind::Binary, size, size as u32);
        group.throughput(Throughput::Bytes(size as u64));
        for (role, masked) in [("client", true), ("server", false)] {
            let conn = || {
                if masked {
                    Connection::client(Config::default(), SecureRandom::from_seed([7; 32]))
                } else {
                    Connection::server(Config::default())
                }
            };
            // Same bytes either way (same key sequence from the same seed).
            let (mut a, mut b) = (conn(), conn());
            let mut slice = vec![0u8; FrameHeader::encoded_len_for(size as u64, masked) + size];
            let mut vec = Vec::new();
            let n = a.send_binary(&data, &mut slice[..]).expect("room");
            b.send_binary(&data, &mut vec).expect("memory");
            assert_eq!(&slice[..n], &vec[..]);

            group.bench_function(BenchmarkId::new(format!("{role}-slice"), label), |bench| {
                let mut conn = conn();
                bench.iter(|| black_box(conn.send_binary(black_box(&data), &mut slice[..]).expect("room")))
            });
            group.bench_function(BenchmarkId::new(format!("{role}-vec"), label), |bench| {
                let mut conn = conn();
                bench.iter(|| {
                    vec.clear();
                    black_box(conn.send_binary(black_box(&data), &mut vec).expect("memory"));
                    black_box(&vec);
                })
            });
        }
    }
    group.finish();
}

fn idle(c: &mut Criterion) {
    let mut group = c.benchmark_group("idle");
    group.throughput(Throughput::Elements(CALLS as u64));
    group.bench_function("poll_transmit-slice", |b| {
        let mut conn = Connection::server(Config::default());
        let mut out = [0u8; 256];
        b.iter(|| {
            for _ in 0..CALLS {
                black_box(black_box(&mut conn).poll_transmit(&mut out[..]).expect("room"));
            }
        })
    });
    group.bench_function("poll_transmit-vec", |b| {
        let mut conn = Connection::server(Config::default());
        let mut out = Vec::new();
        b.iter(|| {
            for _ in 0..CALLS {
                black_box(black_box(&mut conn).poll_transmit(&mut out).expect("memory"));
            }
        })
    });
    group.bench_function("session-poll_output", |b| {
        let mut session = Session::new(Connection::server(Config::default()));
        b.iter(|| {
            for _ in 0..CALLS {
                let s = black_box(&mut session);
                let n = s.poll_output().len();
                s.consume_output(black_box(n));
            }
        })
    });
    // 16 B frames; unmasking twice restores them, so the same buffer is
    // decoded over and over (see frames.rs).
    let data = payload(Kind::Binary, 16, 16);
    let mut wire = masked_frames(Kind::Binary, &data, CALLS);
    for drain in [false, true] {
        let name = if drain { "decode-16B-drain-each" } else { "decode-16B" };
        group.bench_function(name, |b| {
            let mut conn = Connection::server(Config::default());
            let mut out = [0u8; 256];
            b.iter(|| {
                let mut pos = 0;
                while pos < wire.len() {
                    let r = conn.receive(&mut wire[pos..]).expect("valid frames");
                    pos += r.consumed;
                    if let Some(Event::Binary { data, .. }) = r.event {
                        black_box(data);
                    }
                    if drain {
                        black_box(conn.poll_transmit(&mut out[..]).expect("room"));
                    }
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = encode_into, idle
}
criterion_main!(benches);
