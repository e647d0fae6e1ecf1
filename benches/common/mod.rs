//! Shared by the bench targets: sizes, the test data every implementation
//! reads (generated once), criterion settings, and an in-memory transport
//! that serves the blocking peer (`Read + Write`) and the async peers
//! (`AsyncRead + AsyncWrite`) alike.
#![allow(dead_code)]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::Criterion;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub mod deflate_backends;
pub mod handshake_cases;
pub mod session_modes;

/// The payload sizes measured: two small-frame sizes either side of the
/// 7-bit length form, one 16-bit form, one at the 16/64-bit border and one
/// large.
pub const SIZES: [(usize, &str); 5] =
    [(16, "16B"), (125, "125B"), (1024, "1KiB"), (64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];

/// The most a simulated socket read returns, and the read buffer of the
/// "read" variant of wsmachine: a typical application read size.
pub const READ_CHUNK: usize = 64 * 1024;

/// Settings that keep the whole run within minutes on a 2-core machine;
/// command-line flags (`--warm-up-time`, `--measurement-time`) override them.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30)
        .noise_threshold(0.03)
        .without_plots()
}

/// How many frames of `size` bytes one decode or encode iteration handles:
/// about 1 MiB of payload, and at least 4 frames.
pub fn frames_for(size: usize) -> usize {
    ((1 << 20) / size).max(4)
}

/// Deterministic pseudo-random bytes (xorshift), for payloads and keys.
pub struct XorShift(pub u32);

impl XorShift {
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u32() as u8;
        }
    }

    /// A masking key whose bytes have the high bit clear: masking ASCII
    /// with it yields ASCII again, which lets the in-place decode bench
    /// decode the same buffer over and over (see `frames.rs`).
    pub fn ascii_key(&mut self) -> [u8; 4] {
        (self.next_u32() & 0x7F7F_7F7F).to_le_bytes()
    }
}

/// ASCII text of exactly `len` bytes, JSON-like, as chat or API traffic is.
pub fn ascii_text(len: usize) -> String {
    let unit = r#"{"id":12345,"user":"alice","text":"hello, world","ts":1714000000,"tags":["a","b"]} "#;
    unit.chars().cycle().take(len).collect()
}

/// Valid UTF-8 of exactly `len` bytes, mostly multibyte (2-, 3- and 4-byte
/// characters from several scripts), padded with ASCII to the exact size.
pub fn multibyte_text(len: usize) -> String {
    let unit = "κόσμε Größe привет 日本語のテキスト 한국어 文字 🦀🚀 ";
    let mut s = String::with_capacity(len);
    for c in unit.chars().cycle() {
        if s.len() + c.len_utf8() > len {
            break;
        }
        s.push(c);
    }
    while s.len() < len {
        s.push('.');
    }
    s
}

/// The kind of data message a bench sends or receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Binary,
    Text,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Text => "text",
        }
    }
}

/// What an `*_instructions` example counts over, from its `KIND SIZE
/// ROUNDS` arguments: the bench's masked frames of that kind and size
/// (`count` of them, about 1 MiB of payload), fed `rounds` times.
pub struct InstructionCase {
    pub rounds: usize,
    pub count: usize,
    pub wire: Vec<u8>,
}

impl InstructionCase {
    /// The case for the arguments `kind` (`binary` or `text`), `size`
    /// and `rounds`.
    pub fn from_args(kind: &str, size: &str, rounds: &str) -> Self {
        let kind = if kind == "text" { Kind::Text } else { Kind::Binary };
        let size: usize = size.parse().expect("SIZE is a number");
        let rounds: usize = rounds.parse().expect("ROUNDS is a number");
        let count = frames_for(size);
        let wire = masked_frames(kind, &payload(kind, size, size as u32), count);
        InstructionCase { rounds, count, wire }
    }
}

/// One payload of `size` bytes of `kind`: random bytes for binary, ASCII
/// text for text.
pub fn payload(kind: Kind, size: usize, seed: u32) -> Vec<u8> {
    match kind {
        Kind::Binary => {
            let mut v = vec![0u8; size];
            XorShift(seed | 1).fill(&mut v);
            v
        }
        Kind::Text => ascii_text(size).into_bytes(),
    }
}

/// The length on the wire of one frame of [`masked_frames`] carrying
/// `size` bytes: its header (length field and key included) and payload.
pub fn masked_frame_len(size: usize) -> usize {
    let length_field = match size {
        0..=125 => 0,
        126..=0xFFFF => 2,
        _ => 8,
    };
    2 + length_field + 4 + size
}

/// `count` client frames (FIN set, masked with varying keys) carrying
/// `payload`, back to back: what a server reads from the wire.
pub fn masked_frames(kind: Kind, payload: &[u8], count: usize) -> Vec<u8> {
    let opcode = match kind {
        Kind::Binary => 0x82,
        Kind::Text => 0x81,
    };
    let mut rng = XorShift(0x9E37_79B9);
    let mut wire = Vec::with_capacity(count * (payload.len() + 14));
    for _ in 0..count {
        let key = rng.ascii_key();
        wire.push(opcode);
        let len = payload.len();
        if len < 126 {
            wire.push(0x80 | len as u8);
        } else if len <= 0xFFFF {
            wire.push(0x80 | 126);
            wire.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            wire.push(0x80 | 127);
            wire.extend_from_slice(&(len as u64).to_be_bytes());
        }
        wire.extend_from_slice(&key);
        wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    }
    wire
}

/// Leaks `v`: payloads the peers take as `Bytes::from_static`, so no
/// implementation pays for an allocation the caller could have avoided.
pub fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

/// An in-memory transport. Reads cycle endlessly over `input` (so a peer's
/// state, including what it buffered, carries over from one iteration to
/// the next, as each iteration reads a whole number of frames), returning
/// at most [`READ_CHUNK`] bytes per call like a socket. Writes are counted
/// and dropped, as a socket's kernel copy is outside every implementation.
pub struct MemStream {
    input: &'static [u8],
    pos: usize,
    written: u64,
}

impl MemStream {
    pub fn new(input: &'static [u8]) -> Self {
        MemStream { input, pos: 0, written: 0 }
    }

    /// A transport with nothing to read (for encode benches).
    pub fn sink() -> Self {
        Self::new(&[])
    }

    /// How many bytes were written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn read_into(&mut self, dst: &mut [u8]) -> usize {
        if self.input.is_empty() {
            return 0;
        }
        if self.pos == self.input.len() {
            self.pos = 0;
        }
        let n = dst.len().min(self.input.len() - self.pos).min(READ_CHUNK);
        dst[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    fn count(&mut self, n: usize) -> usize {
        self.written += n as u64;
        n
    }
}

impl io::Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl io::Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.count(buf.len()))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        Ok(self.count(bufs.iter().map(|b| b.len()).sum()))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream {
    fn poll_read(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // `put_slice` copies into the unfilled part without zeroing it
        // first, as a socket read into spare capacity would.
        let this = self.get_mut();
        if this.input.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if this.pos == this.input.len() {
            this.pos = 0;
        }
        let n = buf.remaining().min(this.input.len() - this.pos).min(READ_CHUNK);
        buf.put_slice(&this.input[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().count(buf.len())))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().count(bufs.iter().map(|b| b.len()).sum())))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The single-threaded runtime the async peers run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime")
}
