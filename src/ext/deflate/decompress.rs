//! The receive side: inflating compressed messages piece by piece, under
//! the message size limit, a ratio limit, and with fail-fast UTF-8
//! validation of inflated text.

use alloc::boxed::Box;

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use crate::error::ProtocolError;
use crate::utf8::Utf8Validator;

/// RFC 7692 §6.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end
/// of the payload of the message" before inflating.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Messages may inflate this far before the ratio limit is looked at, so
/// short, highly compressible messages are never refused by it.
const RATIO_GRACE: u64 = 64 * 1024;

/// Limits for one inflation step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest inflated message.
    pub(crate) max_message_size: u64,
    /// Largest inflated / compressed ratio; 0 = off.
    pub(crate) max_ratio: u32,
}

/// The inflater of one connection's receive direction.
pub(crate) struct Decompressor {
    /// Allocated at the first compressed message (about 43 KiB: the 32 KiB
    /// window and the Huffman tables).
    state: Option<Box<InflateState>>,
    /// The peer resets its context after every message (it agreed to
    /// no context takeover), so we may too.
    reset_each_message: bool,
    /// Free the state after each message instead of resetting it; only
    /// with `reset_each_message`.
    free_idle: bool,
    /// The peer ended the DEFLATE stream (a block with BFINAL): the rest of
    /// the message is padding, and the next message starts a new stream.
    stream_ended: bool,
    /// Inflated bytes of the current message.
    produced: u64,
    /// Compressed bytes of the current message consumed so far.
    consumed: u64,
    utf8: Utf8Validator,
}

impl core::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decompressor")
            .field("allocated", &self.state.is_some())
            .field("reset_each_message", &self.reset_each_message)
            .field("free_idle", &self.free_idle)
            .field("stream_ended", &self.stream_ended)
            .field("produced", &self.produced)
            .field("consumed", &self.consumed)
            .finish_non_exhaustive()
    }
}

/// What one step produced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    /// Input bytes used.
    pub(crate) consumed: usize,
    /// Bytes written to the output.
    pub(crate) written: usize,
}

impl Decompressor {
    /// `free_idle` frees the state after each message when
    /// `reset_each_message` (the peer has no context takeover) allows it.
    pub(crate) fn new(reset_each_message: bool, free_idle: bool) -> Self {
        Decompressor {
            state: None,
            reset_each_message,
            free_idle: free_idle && reset_each_message,
            stream_ended: false,
            produced: 0,
            consumed: 0,
            utf8: Utf8Validator::new(),
        }
    }

    /// How many more bytes the current message may inflate to, plus one
    /// (so that going over the limit is seen without inflating further).
    pub(crate) fn room(&self, limits: &Limits) -> u64 {
        limits.max_message_size.saturating_sub(self.produced).saturating_add(1)
    }

    /// Inflates from `input` into `out` (sized by the caller from
    /// [`room`](Self::room)). `tail` marks the RFC 7692 tail bytes, which do
    /// not count towards the ratio. After the stream ended (BFINAL), input
    /// is dropped unread.
    pub(crate) fn step(
        &mut self,
        input: &[u8],
        tail: bool,
        out: &mut [u8],
        text: bool,
        limits: &Limits,
    ) -> Result<Step, ProtocolError> {
        if self.stream_ended {
            return Ok(Step { consumed: input.len(), written: 0 });
        }
        let state = self.state.get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
        let result = inflate(state, input, out, MZFlush::None);
        match result.status {
            Ok(MZStatus::StreamEnd) => self.stream_ended = true,
            Ok(_) | Err(MZError::Buf) => {} // Buf: no progress possible without more input
            Err(_) => return Err(ProtocolError::InvalidCompressedData),
        }
        let written = result.bytes_written;
        self.produced += written as u64;
        if !tail {
            self.consumed += result.bytes_consumed as u64;
        }
        // The limits hold before the bytes are handed on.
        if self.produced > limits.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        if limits.max_ratio > 0
            && self.produced > RATIO_GRACE
            && self.produced > self.consumed.saturating_mul(u64::from(limits.max_ratio))
        {
            return Err(ProtocolError::CompressionRatio);
        }
        if text && self.utf8.feed(out.get(..written).unwrap_or(&[])).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        let consumed = if self.stream_ended { input.len() } else { result.bytes_consumed };
        Ok(Step { consumed, written })
    }

    /// Whether the current message has had no compressed byte yet.
    pub(crate) fn message_is_empty(&self) -> bool {
        self.consumed == 0 && self.produced == 0
    }

    /// The message is complete: checks the text ended on a character
    /// boundary and gets ready for the next message.
    pub(crate) fn end_message(&mut self, text: bool) -> Result<(), ProtocolError> {
        let complete = !text || self.utf8.finish().is_ok();
        if self.free_idle {
            self.state = None;
            self.stream_ended = false;
        } else if self.reset_each_message || self.stream_ended {
            if let Some(state) = self.state.as_mut() {
                state.reset(DataFormat::Raw);
            }
            self.stream_ended = false;
        }
        self.produced = 0;
        self.consumed = 0;
        self.utf8.reset();
        if complete {
            Ok(())
        } else {
            Err(ProtocolError::InvalidUtf8)
        }
    }
}
