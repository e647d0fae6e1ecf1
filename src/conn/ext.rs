//! Hooks for the layers above the connection (extensions, the application):
//! failing the connection on their behalf, and writing data frames whose
//! payload an extension transformed (RSV1 set on the first frame).

use super::Connection;
use crate::error::ProtocolError;
use crate::random::RandomSource;
#[cfg(feature = "deflate")]
use {super::MessageKind, crate::error::SendError, crate::frame::OpCode, crate::output::Output};

impl<R: RandomSource> Connection<R> {
    /// Fails the connection because of a peer violation found above the
    /// framing layer: by an extension (a compressed message that does not
    /// inflate, or inflates past a limit) or by the application.
    ///
    /// Like a failure found by [`receive`](Self::receive): a Close with
    /// `error`'s close code and [reason](ProtocolError::reason) is queued
    /// (unless ours was already sent), every later `receive` returns the
    /// error, and
    /// [`should_close_transport`](Self::should_close_transport) becomes true
    /// once the Close is written. If the connection had already failed, the
    /// first error stays and is returned.
    pub fn fail_with(&mut self, error: ProtocolError) -> ProtocolError {
        if let Some(first) = self.failed {
            return first;
        }
        self.fail(error)
    }

    #[cfg(feature = "deflate")]
    /// Writes one frame of a data message whose payload an extension
    /// produced: the first frame of a message carries RSV1 when `rsv1` is
    /// set (RFC 7692 §6: the "Per-Message Compressed" bit), continuations
    /// never do. The payload is not UTF-8 validated here: the extension
    /// validated the text before transforming it. Same state rules and
    /// errors as [`send_fragment`](Self::send_fragment).
    pub(crate) fn send_extension_frame<O: Output + ?Sized>(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
        rsv1: bool,
        out: &mut O,
    ) -> Result<usize, SendError> {
        let opcode = self.next_data_opcode(kind)?;
        if payload.len() as u64 > i64::MAX as u64 {
            return Err(SendError::PayloadTooLong);
        }
        let len = self.encode_frame(opcode, fin, rsv1 && opcode != OpCode::Continuation, payload, out)?;
        if opcode != OpCode::Continuation {
            self.tx_utf8.reset();
        }
        self.tx_message = if fin { None } else { Some(kind) };
        Ok(len)
    }
}
