//! UTF-8 validation of text payloads, ASCII and multibyte, at 64 KiB and
//! 1 MiB: wsmachine's incremental validator (whole, and fed in 4 KiB
//! pieces as frames and reads split a message) against
//! `core::str::from_utf8` and `simdutf8` (what fastwebsockets and
//! tokio-websockets use) as references.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wsmachine::Utf8Validator;

mod common;
use common::{ascii_text, multibyte_text};

/// The piece size of the chunked variant.
const PIECE: usize = 4096;

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let inputs = [
        ("ascii-64KiB", ascii_text(64 * 1024)),
        ("ascii-1MiB", ascii_text(1024 * 1024)),
        ("multibyte-64KiB", multibyte_text(64 * 1024)),
        ("multibyte-1MiB", multibyte_text(1024 * 1024)),
    ];
    for (label, text) in &inputs {
        let bytes = text.as_bytes();
        assert!(bytes.len().is_power_of_two());
        group.throughput(Throughput::Bytes(bytes.len() as u64));

        group.bench_function(BenchmarkId::new("core", label), |b| {
            b.iter(|| assert!(core::str::from_utf8(black_box(bytes)).is_ok()))
        });
        group.bench_function(BenchmarkId::new("simdutf8", label), |b| {
            b.iter(|| assert!(simdutf8::basic::from_utf8(black_box(bytes)).is_ok()))
        });
        group.bench_function(BenchmarkId::new("wsmachine", label), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                assert!(v.feed(black_box(bytes)).is_ok() && v.finish().is_ok());
            })
        });
        // Pieces split characters (4096 is not a multiple of every
        // sequence length in the multibyte text), exercising the carry-over.
        group.bench_function(BenchmarkId::new("wsmachine-4k-pieces", label), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for piece in black_box(bytes).chunks(PIECE) {
                    assert!(v.feed(piece).is_ok());
                }
                assert!(v.finish().is_ok());
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = utf8
}
criterion_main!(benches);
