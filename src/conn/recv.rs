//! The receive path: bytes in, events out.

use super::{Connection, Event, FrameInProgress, MessageInProgress, MessageKind, Received, Role};
use crate::close::CloseFrame;
use crate::config::{EMPTY_FRAME_COST, MIN_EMPTY_ALLOWANCE};
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, HeaderError, HeaderStatus, OpCode};
use crate::mask::{apply_mask, rotate_key};
use crate::random::RandomSource;

use super::event::ControlPayload;

/// What a piece of a data frame's payload makes: its event, once paired
/// with the (unmasked) bytes.
#[derive(Clone, Copy)]
struct DataPiece {
    kind: MessageKind,
    frame_end: bool,
    fin: bool,
}

impl DataPiece {
    #[inline(always)]
    fn event(self, data: &[u8]) -> Event<'_> {
        let DataPiece { kind, frame_end, fin } = self;
        match kind {
            MessageKind::Text => Event::Text { data, frame_end, fin },
            MessageKind::Binary => Event::Binary { data, frame_end, fin },
        }
    }
}

/// A whole frame found by [`Connection::whole_message_frame`]: its event and
/// payload length (the payload ends where the consumed bytes end).
struct WholeFrame {
    kind: DataPiece,
    len: usize,
}

/// A whole single-frame message at the start of the input, found by
/// [`Connection::whole_frame_start`]: its payload follows its header.
struct WholeFrameStart {
    kind: MessageKind,
    header_len: usize,
    len: usize,
}

/// What the bytes given to [`Connection::read_header`] completed.
enum HeaderProgress {
    /// Nothing yet: all of them are buffered as a partial header.
    Buffered,
    /// A header whose payload follows.
    Frame(FrameInProgress),
    /// An empty frame, already handled.
    Event(Event<'static>),
}

impl<R: RandomSource> Connection<R> {
    /// Feeds bytes read from the transport; returns how many were used and
    /// the event they completed, if any.
    ///
    /// Payload bytes are unmasked in place, which is why `input` is mutable;
    /// data events borrow it. Call again with `input[consumed..]` until the
    /// input is used up (see [`Received`]). Partial frame headers and control
    /// payloads are kept inside the connection (at most 14 + 125 bytes), so
    /// the caller never holds bytes back between reads.
    ///
    /// After the peer's Close frame, further input is ignored (RFC 6455
    /// §5.5.1: the peer sends nothing after Close).
    ///
    /// The caller MUST pass each byte exactly once: the rest of the input
    /// starts at `consumed`, and bytes passed before are already used (a
    /// client's payload is unmasked in place). Bytes fed twice are read as
    /// new frames, which for binary data can go unnoticed; that mistake is
    /// not detected. Feeding the opening handshake itself is:
    /// [`ProtocolError::HttpInput`].
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the peer broke the protocol or a limit; the
    /// connection is then failed for good (see [`Connection`]). Its Close
    /// is queued: write it with [`poll_transmit`](Self::poll_transmit)
    /// before giving up on the transport, so do not leave the loop with `?`
    /// here (see [the loop](crate#the-loop)); [`error`](Self::error) keeps
    /// the error for later.
    pub fn receive<'a>(&mut self, input: &'a mut [u8]) -> Result<Received<'a>, ProtocolError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        // All the timers need from the receive path: any byte is a sign of life.
        self.timers.rx_activity |= !input.is_empty();
        if let Some(whole) = self.whole_message_frame(input) {
            let (consumed, piece) = whole?;
            let start = consumed - piece.len;
            return Ok(Received { consumed, event: Some(piece.kind.event(&input[start..consumed])) });
        }
        let mut pos = 0;
        loop {
            if self.close_received || self.eof {
                return Ok(Received { consumed: input.len(), event: None });
            }
            let mut frame = match self.frame {
                Some(frame) => frame,
                None => {
                    let (used, progress) = self.read_header(&input[pos..])?;
                    pos += used;
                    match progress {
                        HeaderProgress::Buffered => return Ok(Received { consumed: pos, event: None }),
                        HeaderProgress::Event(event) => return Ok(Received { consumed: pos, event: Some(event) }),
                        // The frame stays local on the fast path (a whole frame
                        // in the input): it is stored only if it spans reads.
                        HeaderProgress::Frame(frame) => frame,
                    }
                }
            };
            let available = input.len() - pos;
            if available == 0 {
                self.frame = Some(frame);
                return Ok(Received { consumed: pos, event: None });
            }
            let n = usize::try_from(frame.remaining).map_or(available, |r| r.min(available));
            if frame.opcode.is_control() {
                self.frame = None;
                if self.control.partial_len() == 0 && n as u64 == frame.remaining {
                    // Whole in this read (the usual case): unmasked where it
                    // lies, like a data frame, and never kept.
                    let payload = &mut input[pos..pos + n];
                    if let Some(key) = frame.mask {
                        apply_mask(payload, key, 0);
                    }
                    let event = self.act_on_control(frame.opcode, ControlPayload::from_frame(payload))?;
                    return Ok(Received { consumed: pos + n, event: Some(event) });
                }
                self.control.push_partial(&input[pos..pos + n]);
                pos += n;
                frame.remaining -= n as u64;
                if frame.remaining == 0 {
                    let payload = self.control.take_partial(frame.mask);
                    let event = self.act_on_control(frame.opcode, payload)?;
                    return Ok(Received { consumed: pos, event: Some(event) });
                }
                self.frame = Some(frame);
                continue;
            }
            let piece = self.data_chunk(frame, &mut input[pos..pos + n])?;
            // Built in place: moving a finished `Event` around costs more than
            // the rest of a small frame's work.
            return Ok(Received { consumed: pos + n, event: Some(piece.event(&input[pos..pos + n])) });
        }
    }

    /// Reports that the transport ended (read returned 0, or the stream
    /// closed). Returns a Close event with code 1006 when that happened
    /// before the peer's Close arrived (RFC 6455 §7.1.5: "The WebSocket
    /// Connection is Closed" without a Close frame is abnormal), and `None`
    /// after the peer's Close or a failure.
    ///
    /// One more case is reported as 1006: the peer's Close arrived but the
    /// Close answering it was never taken with
    /// [`poll_transmit`](Self::poll_transmit). The close handshake did not
    /// complete (the peer, still waiting for our Close, gave up and closed
    /// the transport), and the event's reason names the cause:
    /// [`UNWRITTEN_CLOSE`](crate::UNWRITTEN_CLOSE).
    ///
    /// The connection is closed from here on: anything still queued is
    /// dropped, since there is no transport left to carry it.
    pub fn receive_eof(&mut self) -> Option<Event<'static>> {
        if self.eof {
            return None;
        }
        self.eof = true;
        let unwritten_answer = self.close_received && self.control.has_close();
        self.control.clear_pong();
        self.control.clear_close();
        self.timers.pending_ping = false;
        if unwritten_answer && self.failed.is_none() {
            return Some(Event::Close(CloseFrame::new(CloseFrame::abnormal().code(), super::UNWRITTEN_CLOSE)));
        }
        if self.failed.is_some() || self.close_received {
            return None;
        }
        Some(Event::Close(CloseFrame::abnormal()))
    }

    /// The fast path for the most common input: a whole single-frame text
    /// or binary message of at most 65 535 bytes at the start of `input`
    /// ([`whole_frame_start`](Self::whole_frame_start)), unmasked where it
    /// lies; anything else returns `None` for the general path, before any
    /// byte is touched.
    #[inline(always)]
    fn whole_message_frame(&mut self, input: &mut [u8]) -> Option<Result<(usize, WholeFrame), ProtocolError>> {
        let WholeFrameStart { kind, header_len, len } = self.whole_frame_start(input)?;
        let frame = input.get_mut(..header_len + len)?;
        let (header, payload) = frame.split_at_mut(header_len);
        if let (Role::Server, Some(&key)) = (self.role, header.last_chunk::<4>()) {
            apply_mask(payload, key, 0);
        }
        self.rx_rsv1 = false;
        self.rx_started = true;
        if kind == MessageKind::Text && self.rx_check_text && !crate::utf8::is_valid(payload) {
            return Some(Err(self.fail(ProtocolError::InvalidUtf8)));
        }
        Some(Ok((header_len + len, WholeFrame { kind: DataPiece { kind, frame_end: true, fin: true }, len })))
    }

    /// For a session assembling owned messages: the fast path's frame,
    /// taken without unmasking it (or validating text), so that the caller
    /// unmasks the payload while copying it into its message (one pass
    /// over it instead of two) and validates text there. Returns the
    /// message's kind, the header's length (the payload follows it, whole
    /// in `input`), the payload's length and the masking key, or `None` for
    /// [`receive`](Self::receive), with nothing taken.
    #[cfg(feature = "alloc")]
    #[inline]
    pub(crate) fn take_whole_frame_masked(
        &mut self,
        input: &[u8],
    ) -> Option<(MessageKind, usize, usize, Option<[u8; 4]>)> {
        if self.failed.is_some() || self.rx_check_text {
            return None;
        }
        let WholeFrameStart { kind, header_len, len } = self.whole_frame_start(input)?;
        if input.len() < header_len + len {
            return None;
        }
        let key = match self.role {
            Role::Server => Some(*input[..header_len].last_chunk::<4>()?),
            Role::Client => None,
        };
        self.timers.rx_activity = true;
        self.rx_rsv1 = false;
        self.rx_started = true;
        Some((kind, header_len, len, key))
    }

    /// Where the fast path applies: a single-frame text or binary message
    /// of at most 65 535 bytes at the start of `input` (whether it is
    /// whole there is for the caller to check), with no
    /// frame or message in progress, no RSV bits and the mask bit this role
    /// requires. Such a frame passes every check of
    /// [`check_header`](Self::check_header) but the size limits, which are
    /// tested here.
    #[inline(always)]
    fn whole_frame_start(&self, input: &[u8]) -> Option<WholeFrameStart> {
        if self.frame.is_some() || self.header_len != 0 || self.rx_message.is_some() || self.close_received {
            return None;
        }
        let (&b0, &b1) = (input.first()?, input.get(1)?);
        let kind = match b0 {
            0x81 => MessageKind::Text,
            0x82 => MessageKind::Binary,
            _ => return None, // fragments, control frames, RSV bits: general path
        };
        let masked = b1 & 0x80 != 0;
        // A 7-bit length, or a 16-bit one (126 to 65 535 bytes, in its
        // minimal encoding; anything else takes the general path, which
        // checks it). 64-bit lengths are rare enough to go there too.
        let (len, len_bytes) = match b1 & 0x7F {
            127 => return None,
            126 => {
                let (&l0, &l1) = (input.get(2)?, input.get(3)?);
                (usize::from(u16::from_be_bytes([l0, l1])), 2)
            }
            short => (usize::from(short), 0),
        };
        if (len_bytes != 0 && len < 126)
            || masked != (self.role == Role::Server)
            || len as u64 > self.config.frame_limit()
        {
            return None;
        }
        if self.eof {
            return None;
        }
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        Some(WholeFrameStart { kind, header_len, len })
    }

    /// Decodes a header from the buffered bytes plus `input`. Returns the
    /// input bytes used and what they completed.
    fn read_header(&mut self, input: &[u8]) -> Result<(usize, HeaderProgress), ProtocolError> {
        let buffered = usize::from(self.header_len);
        let (status, used) = if buffered == 0 {
            match FrameHeader::decode(input) {
                Ok(HeaderStatus::Complete { header, len }) => (Ok(HeaderStatus::Complete { header, len }), len),
                Ok(HeaderStatus::Partial { .. }) => {
                    // Everything left is a header prefix (under 14 bytes): keep it.
                    self.header[..input.len()].copy_from_slice(input);
                    self.header_len = input.len() as u8;
                    return Ok((input.len(), HeaderProgress::Buffered));
                }
                Err(e) => (Err(e), 0),
            }
        } else {
            let mut used = 0;
            loop {
                match FrameHeader::decode(&self.header[..usize::from(self.header_len)]) {
                    Ok(HeaderStatus::Partial { needed }) => {
                        let take = needed.min(input.len() - used);
                        if take == 0 {
                            return Ok((used, HeaderProgress::Buffered));
                        }
                        let at = usize::from(self.header_len);
                        self.header[at..at + take].copy_from_slice(&input[used..used + take]);
                        self.header_len += take as u8;
                        used += take;
                    }
                    other => {
                        self.header_len = 0;
                        break (other, used);
                    }
                }
            }
        };
        match status {
            Ok(HeaderStatus::Complete { header, len }) => match self.start_frame(header, len) {
                Ok(progress) => Ok((used, progress)),
                Err(e) => Err(self.name_http_input(e, input, buffered, used)),
            },
            Ok(HeaderStatus::Partial { .. }) => Ok((used, HeaderProgress::Buffered)),
            Err(HeaderError::LengthMsbSet) => Err(self.fail(ProtocolError::LengthMsbSet)),
        }
    }

    /// Checks a decoded header against every rule of RFC 6455 §5 and the
    /// configured limits, then sets up the frame. An empty frame completes
    /// at once and yields its event here.
    fn start_frame(&mut self, h: FrameHeader, len: usize) -> Result<HeaderProgress, ProtocolError> {
        if let Err(e) = self.check_header(&h, len) {
            return Err(self.fail(e));
        }
        self.rx_started = true;
        let frame = FrameInProgress { opcode: h.opcode, fin: h.fin, mask: h.mask, remaining: h.payload_len };
        if h.opcode.is_control() {
            if h.payload_len == 0 {
                return self.act_on_control(h.opcode, ControlPayload::from_frame(&[])).map(HeaderProgress::Event);
            }
            return Ok(HeaderProgress::Frame(frame));
        }
        match (h.opcode, self.rx_message.as_mut()) {
            (OpCode::Continuation, Some(m)) => {
                m.len += h.payload_len;
                m.frames = m.frames.saturating_add(1);
                if h.payload_len == 0 && !h.fin {
                    m.empty = m.empty.saturating_add(1);
                }
            }
            (op, _) => {
                let kind = if op == OpCode::Text { MessageKind::Text } else { MessageKind::Binary };
                self.rx_rsv1 = h.rsv1;
                self.rx_utf8.reset();
                let empty = u32::from(h.payload_len == 0 && !h.fin);
                self.rx_message = Some(MessageInProgress { kind, len: h.payload_len, frames: 1, empty });
            }
        }
        if h.payload_len == 0 {
            return self.data_chunk(frame, &mut []).map(|piece| HeaderProgress::Event(piece.event(&[])));
        }
        Ok(HeaderProgress::Frame(frame))
    }

    fn check_header(&self, h: &FrameHeader, len: usize) -> Result<(), ProtocolError> {
        // §5.2: "the minimal number of bytes MUST be used to encode the length".
        if !self.config.allow_non_minimal_lengths && !h.is_minimal_length(len) {
            return Err(ProtocolError::NonMinimalLength);
        }
        // §5.2: RSV bits MUST be 0 unless an extension defines them. Extension
        // bits (RFC 7692 §6) only mark the first frame of a data message.
        let rsv = (u8::from(h.rsv1) << 6) | (u8::from(h.rsv2) << 5) | (u8::from(h.rsv3) << 4);
        let starts_message = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        let claimed = if starts_message { self.config.extension_rsv_bits.bits() } else { 0 };
        if rsv & !claimed != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        if let OpCode::Reserved(op) = h.opcode {
            return Err(ProtocolError::ReservedOpcode(op));
        }
        // §5.1: a server MUST fail on an unmasked frame, a client on a masked one.
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            // §5.5: control frames have at most 125 bytes and MUST NOT be fragmented.
            if h.payload_len > crate::conn::MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
            if !h.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            return Ok(());
        }
        // §5.4: continuations only inside a message, new messages only outside one.
        let message = match (h.opcode, &self.rx_message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(m)) => Some(m),
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (_, None) => None,
        };
        // A compressed message (RSV1 on its first frame, claimed by the
        // extension) is held to the size limit as it inflates; on the wire
        // its frames may carry up to twice each limit, so that no message
        // within the limit is refused for how it compressed.
        let compressed = match message {
            Some(_) => self.rx_rsv1,
            None => h.rsv1,
        };
        let wire = |limit: u64| if compressed { limit.saturating_mul(2) } else { limit };
        let (len_so_far, frames, empty) = message.map_or((0, 0, 0), |m| (m.len, m.frames, m.empty));
        if len_so_far.saturating_add(h.payload_len) > wire(self.config.max_message_size) {
            return Err(ProtocolError::MessageTooLarge);
        }
        if h.payload_len > wire(self.config.frame_limit()) {
            return Err(ProtocolError::FrameTooLarge);
        }
        if self.config.max_fragments != 0 && frames >= self.config.max_fragments {
            return Err(ProtocolError::TooManyFragments);
        }
        // Frames that carry data are bounded by the size limit; an empty one
        // that does not end the message brings nothing, so it is charged
        // `EMPTY_FRAME_COST` against an allowance of the size limit.
        if h.payload_len == 0 && !h.fin {
            let allowance = self.config.max_message_size.max(MIN_EMPTY_ALLOWANCE);
            // The count saturates: at its end no more are admitted.
            if empty == u32::MAX || (u64::from(empty) + 1).saturating_mul(EMPTY_FRAME_COST) > allowance {
                return Err(ProtocolError::TooManyFragments);
            }
        }
        Ok(())
    }

    /// On a failure at a frame header: when the first frame ever fails the
    /// RSV or opcode check because its header bytes spell the start of an
    /// HTTP request or response, the caller fed the handshake to the
    /// connection; say so instead of blaming the peer's framing. Only on this
    /// error path, so it costs the fast path nothing. The header is
    /// `input[..used]`, or `self.header[..buffered + used]` when it came in
    /// pieces.
    ///
    /// Only the header's own bytes are looked at (two, for any ASCII text),
    /// never what follows it in the read: the verdict must not depend on how
    /// the bytes were split into reads.
    #[cold]
    fn name_http_input(&mut self, e: ProtocolError, input: &[u8], buffered: usize, used: usize) -> ProtocolError {
        if self.rx_started || !matches!(e, ProtocolError::ReservedBits | ProtocolError::ReservedOpcode(_)) {
            return e;
        }
        let header = if buffered == 0 { input.get(..used) } else { self.header.get(..buffered + used) };
        if looks_like_http(header.unwrap_or(&[])) {
            return self.fail(ProtocolError::HttpInput);
        }
        e
    }

    /// Unmasks and validates a piece of a data frame's payload; says what
    /// event it makes.
    #[inline]
    fn data_chunk(&mut self, frame: FrameInProgress, chunk: &mut [u8]) -> Result<DataPiece, ProtocolError> {
        let n = chunk.len();
        if let Some(key) = frame.mask {
            apply_mask(chunk, key, 0);
        }
        let kind = self.rx_message.map_or(MessageKind::Binary, |m| m.kind);
        if kind == MessageKind::Text && !self.rx_rsv1 && self.rx_check_text {
            // §8.1: fail as soon as the invalid byte arrives, not at the end.
            let fin = frame.remaining == n as u64 && frame.fin;
            let valid = self.rx_utf8.feed(chunk).is_ok() && (!fin || self.rx_utf8.finish().is_ok());
            if !valid {
                return Err(self.fail(ProtocolError::InvalidUtf8));
            }
        }
        Ok(self.advance_data(frame, kind, n))
    }

    /// Moves the data frame in progress on by `n` payload bytes (at most
    /// its remaining ones), ending the frame and the message where they
    /// end; says what event the bytes make.
    #[inline(always)]
    fn advance_data(&mut self, frame: FrameInProgress, kind: MessageKind, n: usize) -> DataPiece {
        let remaining = frame.remaining - n as u64;
        let frame_end = remaining == 0;
        let fin = frame_end && frame.fin;
        if frame_end {
            self.frame = None;
            if fin {
                self.rx_message = None;
            }
        } else {
            let mask = frame.mask.map(|key| rotate_key(key, n));
            self.frame = Some(FrameInProgress { remaining, mask, ..frame });
        }
        DataPiece { kind, frame_end, fin }
    }

    /// For a `Session` receiving a binary frame's payload straight into its
    /// message: takes the next `n` payload bytes of the data frame in
    /// progress without seeing them, for the caller to copy and unmask
    /// itself. Returns the masking key as it applies to the first of them
    /// and whether they end the message; `None` (nothing taken) unless a
    /// data frame of a binary message, or of a text message whose
    /// validation the caller took over, has at least `n` bytes to come.
    #[cfg(feature = "alloc")]
    pub(crate) fn take_payload(&mut self, n: usize) -> Option<(Option<[u8; 4]>, bool)> {
        let frame = self.frame.filter(|f| !f.opcode.is_control() && f.remaining >= n as u64)?;
        let kind = self.rx_message.map_or(MessageKind::Binary, |m| m.kind);
        if self.header_len != 0 || (kind == MessageKind::Text && self.rx_check_text) || self.failed.is_some() {
            return None;
        }
        self.timers.rx_activity |= n > 0;
        Some((frame.mask, self.advance_data(frame, kind, n).fin))
    }

    /// A control frame arrived whole, with `payload` (unmasked): queue
    /// what answers it and return its event.
    fn act_on_control<'a>(&mut self, opcode: OpCode, payload: ControlPayload) -> Result<Event<'a>, ProtocolError> {
        match opcode {
            OpCode::Ping => {
                if self.config.auto_pong && !self.close_sent {
                    // §5.5.3: answering only the most recent ping is allowed.
                    self.control.queue_pong(payload);
                }
                Ok(Event::Ping(payload))
            }
            OpCode::Pong => Ok(Event::Pong(payload)),
            _ => {
                let close = match CloseFrame::decode(&payload) {
                    Ok(close) => close,
                    Err(e) => return Err(self.fail(ProtocolError::InvalidClosePayload(e))),
                };
                self.close_received = true;
                if !self.close_sent {
                    // §5.5.1: answer with a Close, echoing the status code
                    // (and the reason, so the peer reports what it sent).
                    self.control.queue_close(close);
                }
                Ok(Event::Close(close))
            }
        }
    }

    /// Moves to the failed state, queueing a Close with the error's code
    /// and reason unless one was already sent.
    pub(super) fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.failed = Some(e);
        self.control.clear_pong();
        self.timers.pending_ping = false;
        if self.close_sent {
            self.control.clear_close();
        } else {
            self.control.queue_close(CloseFrame::new(e.close_code(), e.reason()));
        }
        e
    }
}

/// Whether a frame header's bytes (at least 2) start an HTTP/1.x request (a
/// method and a space) or response (`HTTP/`), as far as they go. Text is
/// read as a 2-byte header (ASCII has no mask bit and a 7-bit length under
/// 126), so this looks at the first two letters: `GE`, `PO`, `HT`…
fn looks_like_http(start: &[u8]) -> bool {
    const STARTS: [&[u8]; 10] =
        [b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ", b"HTTP/"];
    start.len() >= 2
        && STARTS.iter().any(|s| {
            let n = s.len().min(start.len());
            s.get(..n) == start.get(..n)
        })
}
