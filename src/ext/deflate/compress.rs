//! The send side: compressing messages into DEFLATE data that ends on a
//! byte boundary, keeping the negotiated window.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::decompress::TAIL;
use super::encoder::Encoder;

/// The compressor of one connection's send direction.
pub(crate) struct Compressor {
    /// Allocated at the first compressed message (about 190 KiB at window
    /// 15, less for smaller windows; see the encoder).
    state: Option<Box<Encoder>>,
    level: u8,
    window_bits: u8,
    reset_each_message: bool,
    /// Free the state (and the output) after each message instead of
    /// resetting it; only with `reset_each_message`.
    free_idle: bool,
    /// The output of the latest call.
    pub(crate) buf: Vec<u8>,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("allocated", &self.state.is_some())
            .field("level", &self.level)
            .field("window_bits", &self.window_bits)
            .field("reset_each_message", &self.reset_each_message)
            .field("free_idle", &self.free_idle)
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// `free_idle` frees the state after each message when
    /// `reset_each_message` (no context takeover) allows it.
    pub(crate) fn new(level: u8, window_bits: u8, reset_each_message: bool, free_idle: bool) -> Self {
        Compressor {
            state: None,
            level: level.min(9),
            window_bits,
            reset_each_message,
            free_idle: free_idle && reset_each_message,
            buf: Vec::new(),
        }
    }

    /// Compresses `data`, a whole message or the next piece of one, into
    /// [`buf`](Self::buf) (replacing what was there), ending on a byte
    /// boundary. When `fin`, the trailing `00 00 ff ff` is removed (RFC 7692
    /// §7.2.1) and the context reset if so negotiated.
    pub(crate) fn compress(&mut self, data: &[u8], fin: bool) {
        self.buf.clear();
        let (level, bits) = (self.level, self.window_bits);
        let state = self.state.get_or_insert_with(|| Box::new(Encoder::new(level, bits)));
        // A sync flush (RFC 7692 §7.2.1) ends every call on a byte
        // boundary with an empty stored block, `00 00 ff ff` at the end.
        state.encode(data, &mut self.buf);
        if fin {
            if self.buf.ends_with(&TAIL) {
                self.buf.truncate(self.buf.len() - TAIL.len());
            }
            if self.reset_each_message {
                self.reset();
            }
        }
    }

    fn reset(&mut self) {
        if self.free_idle {
            // Re-created (fresh, as a reset leaves it) at the next message.
            self.state = None;
        } else if let Some(state) = self.state.as_mut() {
            state.reset();
        }
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
