//! A payload copied to where it lands just past its source, modulo 4 KiB,
//! wsmachine only.
//!
//! glibc's `memcpy` copies runs of a few KiB up to about the L2 cache's
//! size with `rep movsb`, which on some CPUs (AMD Zen 4, where this was
//! measured) runs about 20 times slower when the destination starts 1 to
//! 15 bytes past the source modulo 4 KiB, and up to twice as slow from 16
//! to 31 bytes past. Where two buffers lie is up to the
//! allocator: two large ones start at the same offset in their pages, so
//! a payload appended behind a frame header lands as far past its source
//! as the header is long.
//!
//! `payload-copy`: one server-role frame (unmasked, so the payload is a
//! plain copy) of 4 KiB, 16 KiB and 256 KiB encoded with
//! `Connection::send_binary` into a `Vec` and into a slice, placed so that
//! the payload lands 8 bytes ("8B-past"), 24 bytes ("24B-past") or 2 KiB
//! ("2KiB-past") past its source, modulo 4 KiB; beside them `memcpy`, a
//! `copy_from_slice` of the payload to the same place, as any copy of it
//! that does not look where it lands.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wsmachine::{Config, Connection, FrameHeader};

mod common;
use common::{payload, Kind};

const SIZES: [(usize, &str); 3] = [(4 * 1024, "4KiB"), (16 * 1024, "16KiB"), (256 * 1024, "256KiB")];

/// How far past its source each case lands the payload, modulo 4 KiB.
const PAST: [(usize, &str); 3] = [(8, "8B-past"), (24, "24B-past"), (2048, "2KiB-past")];

const PAGE: usize = 4096;

/// The index in a buffer starting at `base` at which a copy of `src`
/// lands `past` bytes past it, modulo 4 KiB (within the buffer's first 4 KiB).
fn landing(base: *const u8, src: *const u8, past: usize) -> usize {
    (src as usize + past).wrapping_sub(base as usize) % PAGE
}

fn payload_copy(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload-copy");
    for (size, label) in SIZES {
        let data = payload(Kind::Binary, size, size as u32);
        let head = FrameHeader::encoded_len_for(size as u64, false);
        group.throughput(Throughput::Bytes(size as u64));
        for (past, past_label) in PAST {
            let mut room = vec![0u8; PAGE + head + size];
            group.bench_function(BenchmarkId::new(format!("memcpy-{past_label}"), label), |b| {
                let at = landing(room.as_ptr(), data.as_ptr(), past);
                b.iter(|| {
                    room[at..at + size].copy_from_slice(black_box(&data));
                    black_box(&room);
                })
            });
            group.bench_function(BenchmarkId::new(format!("server-slice-{past_label}"), label), |b| {
                // The frame starts `head` bytes before where its payload lands.
                let at = (landing(room.as_ptr(), data.as_ptr(), past) + PAGE - head) % PAGE;
                let mut conn = Connection::server(Config::default());
                b.iter(|| black_box(conn.send_binary(black_box(&data), &mut room[at..]).expect("room")))
            });
            let mut vec: Vec<u8> = Vec::with_capacity(PAGE + head + size);
            group.bench_function(BenchmarkId::new(format!("server-vec-{past_label}"), label), |b| {
                // Bytes already in the vector put the frame where its payload lands as asked.
                let filled = (landing(vec.as_ptr(), data.as_ptr(), past) + PAGE - head) % PAGE;
                let mut conn = Connection::server(Config::default());
                b.iter(|| {
                    vec.resize(filled, 0);
                    black_box(conn.send_binary(black_box(&data), &mut vec).expect("memory"));
                    black_box(&vec);
                    vec.truncate(filled);
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = payload_copy
}
criterion_main!(benches);
