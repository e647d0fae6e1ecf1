//! Unmasking in place (RFC 6455 §5.3) at the benchmark sizes, next to a
//! `memcpy` of the same size (the physical floor: every byte read and
//! written once) and `fastwebsockets::unmask`. tungstenite's and
//! tokio-websockets' maskers are private, so they are measured inside the
//! decode benches (`frames.rs`) only.
//!
//! The payload starts 6 bytes into its buffer, where a small masked frame's
//! payload sits after its header, so no implementation gets an aligned
//! start for free.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;
use common::{XorShift, SIZES};

/// Where the payload starts in its buffer (a 2-byte header plus the key).
const START: usize = 6;

fn unmask(c: &mut Criterion) {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut group = c.benchmark_group("unmask");
    for (size, label) in SIZES {
        let mut src = vec![0u8; START + size];
        XorShift(size as u32 | 1).fill(&mut src);
        let mut buf = src.clone();
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            let src = &src[START..];
            b.iter(|| {
                let dst = &mut buf[START..];
                dst.copy_from_slice(black_box(src));
                black_box(dst);
            })
        });
        // XOR is its own inverse: repeating in place toggles the buffer
        // between two states and costs the same each time.
        group.bench_function(BenchmarkId::new("wsmachine", label), |b| {
            b.iter(|| black_box(wsmachine::apply_mask(black_box(&mut buf[START..]), key, 0)))
        });
        group.bench_function(BenchmarkId::new("wsmachine-offset1", label), |b| {
            b.iter(|| black_box(wsmachine::apply_mask(black_box(&mut buf[START..]), key, 1)))
        });
        group.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf[START..]), key))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = unmask
}
criterion_main!(benches);
