//! Hooks for the layers above the connection (extensions, the application):
//! failing the connection on their behalf, and writing data frames whose
//! payload an extension transformed (RSV1 set on the first frame).

use super::Connection;
use crate::error::ProtocolError;
use crate::random::RandomSource;
#[cfg(feature = "deflate")]
use {
    super::MessageKind,
    crate::error::SendError,
    crate::frame::{FrameHeader, OpCode},
    crate::mask::copy_masked,
    crate::output::{claim, Output},
};

impl<R: RandomSource> Connection<R> {
    /// Fails the connection because of a peer violation found above the
    /// framing layer: by an extension (a compressed message that does not
    /// inflate, or inflates past a limit) or by the application.
    ///
    /// Like a failure found by [`receive`](Self::receive): a Close with
    /// `error`'s close code is queued (unless ours was already sent), every
    /// later `receive` returns the error, and
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
    /// Whether a data frame of `kind` may be sent now, and its opcode: the
    /// checks of [`send_fragment`](Self::send_fragment), made before an
    /// extension transforms the payload.
    pub(crate) fn check_extension_send(&self, kind: MessageKind) -> Result<OpCode, SendError> {
        if let Some(e) = self.failed {
            return Err(SendError::Failed(e));
        }
        if self.close_sent || self.close_received || self.eof {
            return Err(SendError::Closing);
        }
        match self.tx_message {
            None => Ok(kind.opcode()),
            Some(current) if current == kind => Ok(OpCode::Continuation),
            Some(_) => Err(SendError::MessageInProgress),
        }
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
        let opcode = self.check_extension_send(kind)?;
        if payload.len() as u64 > i64::MAX as u64 {
            return Err(SendError::PayloadTooLong);
        }
        let masked = self.rng.is_some();
        let len = FrameHeader::encoded_len_for(payload.len() as u64, masked) + payload.len();
        let buf = claim(out, len)?;
        let mask = self.rng.as_mut().map(|rng| {
            let mut key = [0u8; 4];
            rng.fill_bytes(&mut key);
            key
        });
        let mut header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
        header.rsv1 = rsv1 && opcode != OpCode::Continuation;
        let (head, body) = buf.split_at_mut(header.encoded_len());
        header.write_into(head);
        match mask {
            Some(key) => copy_masked(body, payload, key),
            None => body.copy_from_slice(payload),
        }
        if opcode != OpCode::Continuation {
            self.tx_utf8.reset();
        }
        self.tx_message = if fin { None } else { Some(kind) };
        Ok(len)
    }
}
