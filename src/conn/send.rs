//! The send path: application commands and automatic replies, written as
//! whole frames into the caller's output.

use super::{Connection, ControlPayload, MessageKind, MAX_CONTROL_PAYLOAD};
use crate::close::{CloseCode, CloseFrame};
use crate::error::SendError;
use crate::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
#[cfg(feature = "alloc")]
use crate::mask::apply_mask;
use crate::output::{claim, BufferTooSmall, Output};
use crate::random::RandomSource;

impl<R: RandomSource> Connection<R> {
    /// Writes a whole text message as one frame. Returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`SendError::BufferTooSmall`] (nothing written), [`SendError::Closing`]
    /// after a Close was sent or received, [`SendError::MessageInProgress`]
    /// inside a fragmented message, [`SendError::Failed`] after a failure.
    pub fn send_text<O: Output + ?Sized>(&mut self, text: &str, out: &mut O) -> Result<usize, SendError> {
        self.check_data_allowed()?;
        if self.tx_message.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.write_frame(OpCode::Text, true, text.as_bytes(), out)
    }

    /// Writes a whole binary message as one frame. Returns the bytes written.
    ///
    /// # Errors
    ///
    /// As for [`send_text`](Self::send_text).
    pub fn send_binary<O: Output + ?Sized>(&mut self, data: &[u8], out: &mut O) -> Result<usize, SendError> {
        self.check_data_allowed()?;
        if self.tx_message.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.write_frame(OpCode::Binary, true, data, out)
    }

    /// Writes the header of a whole message's frame into `out` and masks
    /// `payload` in place (client role): the frame is the bytes written
    /// followed by `payload`, exactly what [`send_text`](Self::send_text) or
    /// [`send_binary`](Self::send_binary) would have written (one masking
    /// key drawn, as they draw it). For a payload the caller owns and
    /// writes after the header without copying it. Returns the header's
    /// length. On an error nothing is written and `payload` is unchanged.
    #[cfg(feature = "alloc")]
    pub(crate) fn send_message_header<O: Output + ?Sized>(
        &mut self,
        kind: MessageKind,
        payload: &mut [u8],
        out: &mut O,
    ) -> Result<usize, SendError> {
        self.check_data_allowed()?;
        if self.tx_message.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if payload.len() as u64 > i64::MAX as u64 {
            return Err(SendError::PayloadTooLong);
        }
        let (header_len, key) = self.write_head_and(kind.opcode(), true, false, payload.len() as u64, &[], out)?;
        if let Some(key) = key {
            apply_mask(payload, key, 0);
        }
        Ok(header_len)
    }

    /// Writes one frame of a fragmented message (RFC 6455 §5.4): the first
    /// call starts a message of `kind`, later calls continue it (with the
    /// same `kind`), and the call with `fin` ends it. Use it to stream a
    /// message whose size is not known up front. Control frames may be sent
    /// between fragments.
    ///
    /// Text fragments may split a character between calls; the text as a
    /// whole must be valid UTF-8 when `fin` is set.
    ///
    /// ```
    /// use wsmachine::{Config, Connection, MessageKind};
    /// let mut server = Connection::server(Config::default());
    /// let mut out = Vec::new();
    /// server.send_fragment(MessageKind::Text, b"Hel", false, &mut out)?;
    /// server.send_fragment(MessageKind::Text, b"lo", true, &mut out)?;
    /// assert_eq!(out, [0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o']); // RFC 6455 §5.7
    /// # Ok::<(), wsmachine::SendError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`send_text`](Self::send_text), plus
    /// [`SendError::MessageInProgress`] when `kind` differs from the message
    /// in progress and [`SendError::InvalidUtf8`] for invalid text.
    pub fn send_fragment<O: Output + ?Sized>(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        out: &mut O,
    ) -> Result<usize, SendError> {
        let opcode = self.next_data_opcode(kind)?;
        let mut utf8 = if opcode == OpCode::Continuation { self.tx_utf8.clone() } else { Default::default() };
        if kind == MessageKind::Text && (utf8.feed(data).is_err() || (fin && utf8.finish().is_err())) {
            return Err(SendError::InvalidUtf8);
        }
        let written = self.write_frame(opcode, fin, data, out)?;
        self.tx_utf8 = utf8;
        self.tx_message = if fin { None } else { Some(kind) };
        Ok(written)
    }

    /// Writes a ping with `payload` (at most 125 bytes).
    ///
    /// # Errors
    ///
    /// [`SendError::ControlPayloadTooLong`], [`SendError::BufferTooSmall`],
    /// [`SendError::Closing`] after our Close, [`SendError::Failed`].
    pub fn send_ping<O: Output + ?Sized>(&mut self, payload: &[u8], out: &mut O) -> Result<usize, SendError> {
        self.send_control(OpCode::Ping, payload, out)
    }

    /// Writes an unsolicited pong (a heartbeat; RFC 6455 §5.5.3). Pongs that
    /// answer pings are written by [`poll_transmit`](Self::poll_transmit)
    /// unless `Config::auto_pong` is off.
    ///
    /// # Errors
    ///
    /// As for [`send_ping`](Self::send_ping).
    pub fn send_pong<O: Output + ?Sized>(&mut self, payload: &[u8], out: &mut O) -> Result<usize, SendError> {
        let written = self.send_control(OpCode::Pong, payload, out)?;
        self.control.clear_pong();
        Ok(written)
    }

    /// Writes a Close frame with `code` and `reason`, starting the close
    /// handshake, or answering the peer's Close with a code of our own
    /// instead of the automatic echo. Pass [`CloseCode::NO_STATUS`] with an
    /// empty reason to send a Close without a payload.
    ///
    /// A reason over [`MAX_CLOSE_REASON`](crate::MAX_CLOSE_REASON) (123)
    /// bytes is cut at the last character boundary within them, as
    /// [`CloseFrame::new`] cuts it: the reason is for debugging, and a
    /// Close refused for its length would leave the peer with no code at
    /// all, where a reason built from an error message (`&e.to_string()`)
    /// outgrows the frame only now and then.
    ///
    /// After this, no frame of any kind may be sent (§5.5.1); incoming data
    /// is still delivered until the peer's Close arrives.
    ///
    /// # Errors
    ///
    /// [`SendError::InvalidCloseCode`] for a code that may not be sent
    /// (§7.4), [`SendError::BufferTooSmall`],
    /// [`SendError::Closing`] if our Close was already sent,
    /// [`SendError::Failed`] after a failure (its own Close is queued).
    pub fn send_close<O: Output + ?Sized>(
        &mut self,
        code: CloseCode,
        reason: &str,
        out: &mut O,
    ) -> Result<usize, SendError> {
        self.check_control_allowed()?;
        let valid = if code == CloseCode::NO_STATUS { reason.is_empty() } else { code.is_valid_on_wire() };
        if !valid {
            return Err(SendError::InvalidCloseCode(code));
        }
        let frame = CloseFrame::new(code, reason);
        let written = self.write_close(&frame, out)?;
        Ok(written)
    }

    /// Writes the frames the connection queued by itself: the pong answering
    /// the latest ping, the keepalive Ping [`handle_timeout`](Self::handle_timeout)
    /// queued, and the Close answering the peer's Close or reporting a
    /// failure, in that order. Returns the bytes written (0 when nothing is
    /// queued).
    ///
    /// The caller MUST call it after each [`receive`](Self::receive) that
    /// returned an event and after each [`handle_timeout`](Self::handle_timeout),
    /// or at least before reading from the transport again whenever
    /// [`wants_write`](Self::wants_write) is true, and write what it gives:
    /// the peer waits for these frames.
    ///
    /// # Errors
    ///
    /// [`BufferTooSmall`] when `out` cannot hold everything queued (at most
    /// 268 bytes); nothing is written then.
    #[inline]
    pub fn poll_transmit<O: Output + ?Sized>(&mut self, out: &mut O) -> Result<usize, BufferTooSmall> {
        // The common case, after almost every event: nothing queued. Tested
        // on the flags alone, before any payload is looked at.
        if !self.wants_write() {
            return Ok(0);
        }
        self.transmit_queued(out)
    }

    /// [`poll_transmit`](Self::poll_transmit) once something is queued.
    #[inline(never)]
    fn transmit_queued<O: Output + ?Sized>(&mut self, out: &mut O) -> Result<usize, BufferTooSmall> {
        let pong = self.control.pong().filter(|_| !self.close_sent);
        let ping = self.timers.pending_ping && !self.close_sent;
        let close = self.control.close().filter(|_| !self.close_sent);
        let pong_len = pong.map_or(0, |p| self.frame_len(p.len()));
        let ping_len = if ping { self.frame_len(0) } else { 0 };
        let close_len = close.map_or(0, |c| self.frame_len(c.encoded_len()));
        let total = pong_len + ping_len + close_len;
        if total == 0 {
            self.control.clear_pong();
            self.timers.pending_ping = false;
            self.control.clear_close();
            return Ok(0);
        }
        let buf = claim(out, total)?;
        let (pong_buf, rest) = buf.split_at_mut(pong_len);
        let (ping_buf, close_buf) = rest.split_at_mut(ping_len);
        if let Some(p) = pong {
            self.encode_control(OpCode::Pong, &p, pong_buf);
        }
        if ping {
            self.encode_control(OpCode::Ping, &[], ping_buf);
        }
        if let Some(c) = close {
            let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
            let n = c.encoded_len();
            c.write_into(&mut payload[..n]);
            self.encode_control(OpCode::Close, &payload[..n], close_buf);
            self.close_sent = true;
        }
        self.control.clear_pong();
        self.timers.pending_ping = false;
        self.control.clear_close();
        Ok(total)
    }

    fn write_close<O: Output + ?Sized>(&mut self, frame: &CloseFrame, out: &mut O) -> Result<usize, SendError> {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let n = frame.encoded_len();
        frame.write_into(&mut payload[..n]);
        let written = self.write_frame(OpCode::Close, true, &payload[..n], out)?;
        self.close_sent = true;
        self.control.clear_close();
        self.control.clear_pong();
        self.timers.pending_ping = false;
        Ok(written)
    }

    fn send_control<O: Output + ?Sized>(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut O,
    ) -> Result<usize, SendError> {
        self.check_control_allowed()?;
        if ControlPayload::new(payload).is_none() {
            return Err(SendError::ControlPayloadTooLong);
        }
        self.write_frame(opcode, true, payload, out)
    }

    /// Whether a data frame of `kind` may be sent now, and its opcode: the
    /// checks of [`send_fragment`](Self::send_fragment), also made by an
    /// extension before it transforms the payload.
    pub(crate) fn next_data_opcode(&self, kind: MessageKind) -> Result<OpCode, SendError> {
        self.check_data_allowed()?;
        match self.tx_message {
            None => Ok(kind.opcode()),
            Some(current) if current == kind => Ok(OpCode::Continuation),
            Some(_) => Err(SendError::MessageInProgress),
        }
    }

    /// Data frames: only while open (§5.5.1, and nothing after a received
    /// Close but the answering Close).
    fn check_data_allowed(&self) -> Result<(), SendError> {
        if let Some(e) = self.failed {
            return Err(SendError::Failed(e));
        }
        if self.close_sent || self.close_received || self.eof {
            return Err(SendError::Closing);
        }
        Ok(())
    }

    /// Control frames: until our Close is sent.
    fn check_control_allowed(&self) -> Result<(), SendError> {
        if let Some(e) = self.failed {
            return Err(SendError::Failed(e));
        }
        if self.close_sent || self.eof {
            return Err(SendError::Closing);
        }
        Ok(())
    }

    /// The size of a frame carrying `payload_len` bytes in this role.
    fn frame_len(&self, payload_len: usize) -> usize {
        FrameHeader::encoded_len_for(payload_len as u64, self.rng.is_some()) + payload_len
    }

    /// Claims room for one frame in `out` and encodes it there.
    fn write_frame<O: Output + ?Sized>(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut O,
    ) -> Result<usize, SendError> {
        if payload.len() as u64 > i64::MAX as u64 {
            return Err(SendError::PayloadTooLong);
        }
        self.encode_frame(opcode, fin, false, payload, out)
    }

    /// Writes one frame (masked with a fresh key in the client role) with
    /// [`Output::write_frame`]; returns its length. Nothing is written, and
    /// no masking key is drawn, when `out` has no room.
    #[inline]
    pub(super) fn encode_frame<O: Output + ?Sized>(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        payload: &[u8],
        out: &mut O,
    ) -> Result<usize, SendError> {
        let first = first_byte(opcode, fin, rsv1);
        if payload.len() < 126 {
            // Small frames (most chat, control and game traffic): the
            // header's bytes put together directly, then one
            // `write_frame`, which a `Vec` appends without zero-filling
            // the room first.
            let Some(rng) = self.rng.get_mut() else {
                // A server's frame: two bytes of header and no key, so no
                // `reserve` first (`write_frame` writes nothing when the
                // frame does not fit).
                let len = 2 + payload.len();
                if !out.write_frame(&[first, payload.len() as u8], payload, None) {
                    return Err(SendError::BufferTooSmall(BufferTooSmall { needed: len }));
                }
                return Ok(len);
            };
            let len = 6 + payload.len();
            // The key is drawn once the frame is known to fit.
            if !out.reserve(len) {
                return Err(SendError::BufferTooSmall(BufferTooSmall { needed: len }));
            }
            let key = rng.mask_key();
            let head = small_head(opcode, fin, rsv1, payload.len(), Some(key));
            if !out.write_frame(&head, payload, Some(key)) {
                return Err(SendError::BufferTooSmall(BufferTooSmall { needed: len }));
            }
            return Ok(len);
        }
        if let (false, Ok(short)) = (self.rng.is_some(), u16::try_from(payload.len())) {
            // A server's frame of up to 64 KiB: the 16-bit length form,
            // put together here as the small ones are, rather than through
            // `FrameHeader`'s general encoder.
            let [high, low] = short.to_be_bytes();
            let len = 4 + payload.len();
            if !out.write_frame(&[first, 126, high, low], payload, None) {
                return Err(SendError::BufferTooSmall(BufferTooSmall { needed: len }));
            }
            return Ok(len);
        }
        self.write_head_and(opcode, fin, rsv1, payload.len() as u64, payload, out).map(|(len, _)| len)
    }

    /// Writes the header of a frame announcing `payload_len` bytes, then
    /// `body`: the payload, masked on the way, or nothing when the caller
    /// writes the payload itself. Returns the bytes written and the masking
    /// key drawn.
    fn write_head_and<O: Output + ?Sized>(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        payload_len: u64,
        body: &[u8],
        out: &mut O,
    ) -> Result<(usize, Option<[u8; 4]>), SendError> {
        let header_len = FrameHeader::encoded_len_for(payload_len, self.rng.is_some());
        let len = header_len + body.len();
        let mut head = [0u8; MAX_HEADER_LEN];
        // The key is drawn once the frame is known to fit: a failed write
        // leaves the key sequence as it was.
        if !out.reserve(len) {
            return Err(SendError::BufferTooSmall(BufferTooSmall { needed: len }));
        }
        let key = self.rng.get_mut().map(|rng| rng.mask_key());
        let mut header = FrameHeader::new(fin, opcode, key, payload_len);
        header.rsv1 = rsv1;
        header.write_into(&mut head[..header_len]);
        if !out.write_frame(&head[..header_len], body, key) {
            return Err(SendError::BufferTooSmall(BufferTooSmall { needed: len }));
        }
        Ok((len, key))
    }

    /// Encodes a control frame (a payload of at most 125 bytes, §5.5) into
    /// `buf`, exactly `frame_len(payload.len())` long. A client draws a
    /// fresh masking key per frame (§5.3) and masks while copying.
    fn encode_control(&mut self, opcode: OpCode, payload: &[u8], buf: &mut [u8]) {
        debug_assert!(payload.len() <= MAX_CONTROL_PAYLOAD, "control payloads are at most 125 bytes");
        let mask = self.rng.get_mut().map(|rng| rng.mask_key());
        let head = small_head(opcode, true, false, payload.len(), mask);
        let head_len = if mask.is_some() { 6 } else { 2 };
        // `buf` is the frame's exact length (the caller claimed it so).
        let written = buf.write_frame(head.get(..head_len).unwrap_or(&head), payload, mask);
        debug_assert!(written, "encode_control is given room for the whole frame");
    }
}

/// The header of a frame whose payload is under 126 bytes: the first byte,
/// the 7-bit length (with the mask bit when a key is given) and the key.
/// Its first 2 bytes are the header without a key, all 6 with one.
fn small_head(opcode: OpCode, fin: bool, rsv1: bool, len: usize, key: Option<[u8; 4]>) -> [u8; 6] {
    let first = first_byte(opcode, fin, rsv1);
    match key {
        Some([k0, k1, k2, k3]) => [first, 0x80 | len as u8, k0, k1, k2, k3],
        None => [first, len as u8, 0, 0, 0, 0],
    }
}

/// A header's first byte: FIN, RSV1 and the opcode (RSV2 and RSV3 are
/// never set: no extension here uses them).
#[inline]
fn first_byte(opcode: OpCode, fin: bool, rsv1: bool) -> u8 {
    (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits()
}
