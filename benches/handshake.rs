//! The server side of the opening handshake (RFC 6455 §4.2): parse a
//! browser-like Upgrade request and write the 101 answer.
//!
//! - `httparse-floor`: `httparse` alone, the few header checks §4.2.1 asks
//!   for, SHA-1 (`sha1_smol`) + base64 of the key, and the answer written
//!   into a fixed buffer. No validation beyond that, no allocation: the
//!   floor a complete implementation can approach.
//! - `wsmachine`: `ServerHandshake::receive` (full §4.2.1 validation and
//!   the strictness rules of `wsmachine::handshake`), then `Request::accept`
//!   into a fixed buffer; the head in the default 8 KiB array.
//! - `wsmachine-head-buffer`: the same with the head in a `HeadBuffer`, as
//!   `ServerStart` and the adapters keep it.
//! - `tungstenite`: `tungstenite::accept` over an in-memory stream (it also
//!   sets up the `WebSocket` it returns, as any caller of it pays).
//! - `tokio-websockets`: `ServerBuilder::accept` on a current-thread runtime.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod common;
use common::handshake_cases::{httparse_floor, wsmachine_accept, wsmachine_accept_head_buffer, ACCEPT, REQUEST};
use common::{runtime, MemStream};

fn handshake(c: &mut Criterion) {
    let mut out = [0u8; 512];
    let n = httparse_floor(REQUEST, &mut out).expect("the floor accepts the request");
    let answer = std::str::from_utf8(&out[..n]).expect("ASCII");
    assert!(answer.starts_with("HTTP/1.1 101 ") && answer.contains(ACCEPT), "{answer}");
    for accept in [wsmachine_accept, wsmachine_accept_head_buffer] {
        let n = accept(REQUEST, &mut out).expect("wsmachine accepts the request");
        let answer = std::str::from_utf8(&out[..n]).expect("ASCII");
        assert!(answer.starts_with("HTTP/1.1 101 ") && answer.contains(ACCEPT), "{answer}");
    }
    let rt = runtime();

    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("httparse-floor", |b| b.iter(|| httparse_floor(black_box(REQUEST), &mut out)));
    group.bench_function("wsmachine", |b| b.iter(|| wsmachine_accept(black_box(REQUEST), &mut out)));
    group.bench_function("wsmachine-head-buffer", |b| {
        b.iter(|| wsmachine_accept_head_buffer(black_box(REQUEST), &mut out))
    });
    group.bench_function("tungstenite", |b| {
        b.iter(|| {
            let ws = tungstenite::accept(MemStream::new(black_box(REQUEST))).expect("tungstenite accepts");
            assert!(ws.get_ref().written() > 0);
            ws
        })
    });
    group.bench_function("tokio-websockets", |b| {
        let server = tokio_websockets::ServerBuilder::new();
        b.iter(|| {
            rt.block_on(async {
                let (request, ws) =
                    server.accept(MemStream::new(black_box(REQUEST))).await.expect("tokio-websockets accepts");
                assert!(ws.get_ref().written() > 0);
                (request, ws)
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = handshake
}
criterion_main!(benches);
