//! Server-role decode of back-to-back masked frames and client-role encode
//! (masking included), binary and text, at the benchmark sizes, for
//! wsmachine and its peers over the same bytes, next to a `memcpy` floor.
//!
//! Every decoder reads one buffer of masked client frames, generated once
//! per (kind, size): about 1 MiB of payload, at least 4 frames. The peers
//! read it through an in-memory transport ([`common::MemStream`]) that
//! hands out at most 64 KiB per read; the async peers run on a
//! current-thread tokio runtime. wsmachine is measured twice:
//!
//! - `wsmachine`: the caller's read buffer *is* the input and is unmasked in
//!   place, the zero-copy path the crate is built for. Unmasking again
//!   re-masks, so the bench decodes the same buffer over and over; the
//!   masking keys keep ASCII text ASCII either way, so text frames stay
//!   valid in both states.
//! - `wsmachine-read64k`: the bytes are first copied into a 64 KiB read
//!   buffer, as a `read()` from a socket would, then decoded there. The
//!   peers pay the same copy inside their `Read`/`AsyncRead`.
//!
//! The floor is `memcpy`, a copy of the same bytes into a buffer as large as
//! the input; for text also `memcpy+simdutf8`, that copy followed by
//! `simdutf8` over every payload. `wsmachine-read64k` and the peers do the
//! work a server does after `read()`, copy included, so their time over the
//! floor is the cost of decoding on top of receiving.
//!
//! Peers deliver whole messages (tungstenite, tokio-websockets) or frames
//! (fastwebsockets); every frame here is a whole message, so the work is
//! the same. All validate text as UTF-8.

use std::future::poll_fn;
use std::hint::black_box;
use std::pin::Pin;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_core::Stream;
use futures_sink::Sink;
use wsmachine::{Config, Connection, Event, FrameHeader, SecureRandom};

mod common;
use common::{frames_for, leak, masked_frames, payload, runtime, Kind, MemStream, READ_CHUNK, SIZES};

/// Size of the output buffer a wsmachine sender fills before "writing" it
/// to the transport; tungstenite's default write buffer is the same.
const WRITE_BUF: usize = 128 * 1024;

/// Decodes a buffer of whole frames in place; returns the messages seen.
fn wsmachine_decode(conn: &mut Connection, buf: &mut [u8]) -> usize {
    let mut messages = 0;
    let mut pos = 0;
    while pos < buf.len() {
        let r = conn.receive(&mut buf[pos..]).expect("valid frames");
        pos += r.consumed;
        if let Some(Event::Binary { data, fin, .. } | Event::Text { data, fin, .. }) = r.event {
            black_box(data);
            messages += usize::from(fin);
        }
    }
    messages
}

/// Copies `wire` through a read buffer, 64 KiB at a time, decoding each read.
fn wsmachine_decode_read(conn: &mut Connection, wire: &[u8], rbuf: &mut [u8]) -> usize {
    let mut messages = 0;
    for chunk in wire.chunks(rbuf.len()) {
        let n = chunk.len();
        rbuf[..n].copy_from_slice(chunk);
        messages += wsmachine_decode(conn, &mut rbuf[..n]);
    }
    messages
}

/// Checks once, before timing, that every implementation decodes `wire` to
/// `count` messages carrying `expected`.
fn check_decoders(kind: Kind, wire: &'static [u8], count: usize, expected: &[u8]) {
    let mut conn = Connection::server(Config::default());
    let mut buf = wire.to_vec();
    let mut pos = 0;
    let mut seen = 0;
    while pos < buf.len() {
        let r = conn.receive(&mut buf[pos..]).expect("valid frames");
        pos += r.consumed;
        match r.event {
            Some(Event::Binary { data, .. }) if kind == Kind::Binary => assert_eq!(data, expected),
            Some(Event::Text { data, .. }) if kind == Kind::Text => assert_eq!(data, expected),
            None => continue,
            other => panic!("unexpected event {other:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, count);

    let mut ws =
        tungstenite::WebSocket::from_raw_socket(MemStream::new(wire), tungstenite::protocol::Role::Server, None);
    for _ in 0..count {
        let m = ws.read().expect("tungstenite reads");
        assert_eq!(m.is_text(), kind == Kind::Text);
        assert_eq!(&m.into_data()[..], expected);
    }

    let rt = runtime();
    rt.block_on(async {
        let mut ws = fastwebsockets::WebSocket::after_handshake(MemStream::new(wire), fastwebsockets::Role::Server);
        for _ in 0..count {
            let f = ws.read_frame().await.expect("fastwebsockets reads");
            assert!(f.fin);
            assert_eq!(&f.payload[..], expected);
        }
        let mut ws = tokio_websockets::ServerBuilder::new().serve(MemStream::new(wire));
        for _ in 0..count {
            let m = poll_fn(|cx| Pin::new(&mut ws).poll_next(cx))
                .await
                .expect("a message")
                .expect("tokio-websockets reads");
            assert_eq!(m.is_text(), kind == Kind::Text);
            assert_eq!(&m.as_payload()[..], expected);
        }
    });
}

fn decode(c: &mut Criterion) {
    let rt = runtime();
    for kind in [Kind::Binary, Kind::Text] {
        let mut group = c.benchmark_group(format!("decode-{}", kind.name()));
        for (size, label) in SIZES {
            let count = frames_for(size);
            let data = payload(kind, size, size as u32);
            let wire: &'static [u8] = leak(masked_frames(kind, &data, count));
            check_decoders(kind, wire, count, &data);
            group.throughput(Throughput::Bytes((count * size) as u64));

            group.bench_function(BenchmarkId::new("memcpy", label), |b| {
                let mut dst = vec![0u8; wire.len()];
                b.iter(|| {
                    dst.copy_from_slice(black_box(wire));
                    black_box(&mut dst);
                })
            });
            // The floor for text: the same copy, then `simdutf8` over each
            // copied payload (masked ASCII with an ASCII key is still ASCII,
            // so it validates as the unmasked text would).
            if kind == Kind::Text {
                let header = wire.len() / count - size;
                group.bench_function(BenchmarkId::new("memcpy+simdutf8", label), |b| {
                    let mut dst = vec![0u8; wire.len()];
                    b.iter(|| {
                        dst.copy_from_slice(black_box(wire));
                        for frame in black_box(&dst).chunks_exact(header + size) {
                            assert!(simdutf8::basic::from_utf8(&frame[header..]).is_ok());
                        }
                    })
                });
            }
            group.bench_function(BenchmarkId::new("wsmachine", label), |b| {
                let mut conn = Connection::server(Config::default());
                let mut buf = wire.to_vec();
                b.iter(|| assert_eq!(wsmachine_decode(&mut conn, black_box(&mut buf)), count))
            });
            group.bench_function(BenchmarkId::new("wsmachine-read64k", label), |b| {
                let mut conn = Connection::server(Config::default());
                let mut rbuf = vec![0u8; READ_CHUNK];
                b.iter(|| assert_eq!(wsmachine_decode_read(&mut conn, black_box(wire), &mut rbuf), count))
            });
            group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
                let mut ws = tungstenite::WebSocket::from_raw_socket(
                    MemStream::new(wire),
                    tungstenite::protocol::Role::Server,
                    None,
                );
                b.iter(|| {
                    for _ in 0..count {
                        black_box(ws.read().expect("tungstenite reads"));
                    }
                })
            });
            group.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
                let mut ws =
                    fastwebsockets::WebSocket::after_handshake(MemStream::new(wire), fastwebsockets::Role::Server);
                b.iter(|| {
                    rt.block_on(async {
                        for _ in 0..count {
                            let frame = ws.read_frame().await.expect("fastwebsockets reads");
                            black_box(&frame.payload[..]);
                        }
                    })
                })
            });
            group.bench_function(BenchmarkId::new("tokio-websockets", label), |b| {
                let mut ws = tokio_websockets::ServerBuilder::new().serve(MemStream::new(wire));
                b.iter(|| {
                    rt.block_on(async {
                        for _ in 0..count {
                            let m = poll_fn(|cx| Pin::new(&mut ws).poll_next(cx)).await;
                            black_box(m.expect("a message").expect("tokio-websockets reads"));
                        }
                    })
                })
            });
        }
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    let rt = runtime();
    for kind in [Kind::Binary, Kind::Text] {
        let mut group = c.benchmark_group(format!("encode-{}", kind.name()));
        for (size, label) in SIZES {
            let count = frames_for(size);
            let data: &'static [u8] = leak(payload(kind, size, size as u32));
            let text: &'static str = std::str::from_utf8(data).unwrap_or("");
            let frame_len = FrameHeader::encoded_len_for(size as u64, true) + size;
            let out_len = WRITE_BUF.max(frame_len);
            group.throughput(Throughput::Bytes((count * size) as u64));

            // The floor: the same bytes copied (unmasked, no header) into the
            // same places of the same output buffer.
            group.bench_function(BenchmarkId::new("memcpy", label), |b| {
                let mut out = vec![0u8; out_len];
                b.iter(|| {
                    let mut used = 0;
                    for _ in 0..count {
                        if used + frame_len > out.len() {
                            black_box(&out[..used]);
                            used = 0;
                        }
                        out[used..used + size].copy_from_slice(black_box(data));
                        used += frame_len;
                    }
                    black_box(&out[..used]);
                })
            });
            group.bench_function(BenchmarkId::new("wsmachine", label), |b| {
                let mut conn = Connection::client(Config::default(), SecureRandom::from_seed([7; 32]));
                let mut out = vec![0u8; out_len];
                b.iter(|| {
                    let mut used = 0;
                    for _ in 0..count {
                        if used + frame_len > out.len() {
                            black_box(&out[..used]);
                            used = 0;
                        }
                        let sent = match kind {
                            Kind::Binary => conn.send_binary(black_box(data), &mut out[used..]),
                            Kind::Text => conn.send_text(black_box(text), &mut out[used..]),
                        };
                        used += sent.expect("room for the frame");
                    }
                    black_box(&out[..used]);
                })
            });
            group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
                let mut ws = tungstenite::WebSocket::from_raw_socket(
                    MemStream::sink(),
                    tungstenite::protocol::Role::Client,
                    None,
                );
                b.iter(|| {
                    for _ in 0..count {
                        let m = match kind {
                            Kind::Binary => tungstenite::Message::Binary(tungstenite::Bytes::from_static(data)),
                            Kind::Text => tungstenite::Message::Text(tungstenite::Utf8Bytes::from_static(text)),
                        };
                        ws.write(m).expect("tungstenite writes");
                    }
                    ws.flush().expect("tungstenite flushes");
                })
            });
            // fastwebsockets masks the caller's payload in place; a caller
            // who keeps its data copies it first (into a reused buffer here,
            // the cheapest way).
            group.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
                let mut ws =
                    fastwebsockets::WebSocket::after_handshake(MemStream::sink(), fastwebsockets::Role::Client);
                let mut scratch = vec![0u8; size];
                let opcode = match kind {
                    Kind::Binary => fastwebsockets::OpCode::Binary,
                    Kind::Text => fastwebsockets::OpCode::Text,
                };
                b.iter(|| {
                    rt.block_on(async {
                        for _ in 0..count {
                            scratch.copy_from_slice(black_box(data));
                            let payload = fastwebsockets::Payload::BorrowedMut(&mut scratch);
                            let frame = fastwebsockets::Frame::new(true, opcode, None, payload);
                            ws.write_frame(frame).await.expect("fastwebsockets writes");
                        }
                    })
                })
            });
            // tokio-websockets copies a shared (here: static) payload into a
            // fresh buffer to mask it; that is its documented behaviour.
            group.bench_function(BenchmarkId::new("tokio-websockets", label), |b| {
                let mut ws = tokio_websockets::ClientBuilder::new().take_over(MemStream::sink());
                b.iter(|| {
                    rt.block_on(async {
                        for _ in 0..count {
                            poll_fn(|cx| Pin::new(&mut ws).poll_ready(cx)).await.expect("ready");
                            let m = match kind {
                                Kind::Binary => tokio_websockets::Message::binary(data),
                                Kind::Text => tokio_websockets::Message::text(text),
                            };
                            Pin::new(&mut ws).start_send(m).expect("tokio-websockets queues");
                        }
                        poll_fn(|cx| Pin::new(&mut ws).poll_flush(cx)).await.expect("tokio-websockets flushes");
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = decode, encode
}
criterion_main!(benches);
