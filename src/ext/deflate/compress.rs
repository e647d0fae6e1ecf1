//! The send side: compressing messages into DEFLATE data that ends on a
//! byte boundary, keeping the negotiated window.
//!
//! # Keeping a window below 15 bits
//!
//! `miniz_oxide`'s compressor always searches back as far as its own 32 KiB
//! dictionary reaches, whatever window it is told. A full flush empties
//! that dictionary, so the compressor here issues one whenever 2^bits input
//! bytes went in since the last: no back-reference can then reach further
//! than 2^bits − 1 bytes, and a peer inflating with a 2^bits window (zlib's
//! `inflateInit2(-bits)`, which rejects anything further) reads it. The
//! cost is a few percent of size for small windows; at 15 bits there is no
//! flush at all. Tests check every window from 8 to 15 against Python's zlib.

use alloc::boxed::Box;
use alloc::vec::Vec;

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};

use super::decompress::TAIL;

/// The compressor of one connection's send direction.
pub(crate) struct Compressor {
    /// Allocated at the first compressed message (about 300 KiB with
    /// `miniz_oxide`'s hash chains and buffers).
    state: Option<Box<CompressorOxide>>,
    level: u8,
    /// 2^bits: the most input between two full flushes; `None` at 15 bits.
    window: Option<usize>,
    reset_each_message: bool,
    /// Free the state (and the output) after each message instead of
    /// resetting it; only with `reset_each_message`.
    free_idle: bool,
    /// Input bytes since the dictionary was last emptied.
    since_flush: usize,
    /// The output of the latest call.
    pub(crate) buf: Vec<u8>,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("allocated", &self.state.is_some())
            .field("level", &self.level)
            .field("window", &self.window)
            .field("reset_each_message", &self.reset_each_message)
            .field("free_idle", &self.free_idle)
            .field("since_flush", &self.since_flush)
            .finish_non_exhaustive()
    }
}

/// The compressor refused its input (a backend failure: not expected with
/// the parameters used here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompressFailed;

impl Compressor {
    /// `free_idle` frees the state after each message when
    /// `reset_each_message` (no context takeover) allows it.
    pub(crate) fn new(level: u8, window_bits: u8, reset_each_message: bool, free_idle: bool) -> Self {
        let window = (window_bits < 15).then(|| 1usize << window_bits);
        Compressor {
            state: None,
            level: level.min(9),
            window,
            reset_each_message,
            free_idle: free_idle && reset_each_message,
            since_flush: 0,
            buf: Vec::new(),
        }
    }

    fn state(&mut self) -> &mut CompressorOxide {
        let level = self.level;
        self.state.get_or_insert_with(|| {
            // Negative window bits: raw DEFLATE, no zlib header.
            let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
            Box::new(CompressorOxide::new(flags))
        })
    }

    fn run(&mut self, input: &[u8], flush: TDEFLFlush) -> Result<(), CompressFailed> {
        let mut rest = input;
        let mut out = core::mem::take(&mut self.buf);
        let state = self.state();
        let result = loop {
            let (status, used) = compress_to_output(state, rest, flush, |bytes| {
                out.extend_from_slice(bytes);
                true
            });
            match status {
                TDEFLStatus::Okay | TDEFLStatus::Done => {}
                TDEFLStatus::BadParam | TDEFLStatus::PutBufFailed => break Err(CompressFailed),
            }
            rest = rest.get(used..).unwrap_or(&[]);
            if rest.is_empty() {
                break Ok(());
            }
            if used == 0 {
                break Err(CompressFailed);
            }
        };
        self.buf = out;
        result
    }

    /// Compresses `data`, a whole message or the next piece of one, into
    /// [`buf`](Self::buf) (replacing what was there), ending on a byte
    /// boundary. When `fin`, the trailing `00 00 ff ff` is removed (RFC 7692
    /// §7.2.1) and the context reset if so negotiated.
    pub(crate) fn compress(&mut self, data: &[u8], fin: bool) -> Result<(), CompressFailed> {
        self.buf.clear();
        let mut rest = data;
        let mut flushed = false;
        while !rest.is_empty() {
            let (piece, flush) = match self.window {
                Some(window) if self.since_flush + rest.len() >= window => {
                    let n = window - self.since_flush;
                    (&rest[..n], TDEFLFlush::Full)
                }
                _ => (rest, TDEFLFlush::None),
            };
            if let Err(e) = self.run(piece, flush) {
                self.abandon();
                return Err(e);
            }
            rest = &rest[piece.len()..];
            if flush == TDEFLFlush::Full {
                self.since_flush = 0;
                flushed = true;
            } else {
                self.since_flush += piece.len();
                flushed = false;
            }
        }
        // A sync flush (RFC 7692 §7.2.1) ends the data on a byte boundary
        // with an empty stored block, `00 00 ff ff` at the very end.
        if !flushed {
            if let Err(e) = self.run(&[], TDEFLFlush::Sync) {
                self.abandon();
                return Err(e);
            }
        }
        if fin {
            if self.buf.ends_with(&TAIL) {
                self.buf.truncate(self.buf.len() - TAIL.len());
            }
            if self.reset_each_message {
                self.reset();
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        if self.free_idle {
            // Re-created (fresh, as a reset leaves it) at the next message.
            self.state = None;
        } else if let Some(state) = self.state.as_mut() {
            state.reset();
        }
        self.since_flush = 0;
    }

    /// The message's last piece was written out: with `free_idle`, free
    /// the output buffer too, so nothing is held until the next message.
    pub(crate) fn end_message(&mut self) {
        if self.free_idle {
            self.buf = Vec::new();
        }
    }

    /// The compressed data could not be sent: forget the context, so later
    /// messages refer to nothing the peer has not seen. (A compressor that
    /// forgets is always understood by an inflater that remembers.)
    pub(crate) fn abandon(&mut self) {
        self.reset();
        self.buf.clear();
    }
}
