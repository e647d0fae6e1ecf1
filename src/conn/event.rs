//! What [`Connection::receive`](crate::Connection::receive) hands back.

use crate::close::CloseFrame;

/// The largest control frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The reason of the 1006 Close event `Connection::receive_eof` returns
/// when the transport ended while the Close answering the peer's was still
/// queued: the caller never called `Connection::poll_transmit` after the
/// peer's Close, so the close handshake did not complete.
pub const UNWRITTEN_CLOSE: &str =
    "the transport ended before our Close answer was written: call poll_transmit after each event";

/// Something the peer sent.
///
/// Data events borrow the caller's input buffer: their payload was unmasked
/// in place and is never copied. Control events own their (at most 125 byte)
/// payload, because a control frame may arrive split across reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A piece of a text message.
    ///
    /// The pieces of one message, concatenated, are its text. Each piece has
    /// been validated as far as it goes: a piece may end inside a multi-byte
    /// character that the next piece completes, but no piece contains a byte
    /// that makes the text invalid (the connection fails with 1007 instead,
    /// as soon as that byte arrives). When `fin` is true the whole message is
    /// valid UTF-8.
    Text {
        /// The payload bytes, unmasked.
        data: &'a [u8],
        /// The last piece of the current frame.
        frame_end: bool,
        /// The last piece of the message.
        fin: bool,
    },
    /// A piece of a binary message.
    Binary {
        /// The payload bytes, unmasked.
        data: &'a [u8],
        /// The last piece of the current frame.
        frame_end: bool,
        /// The last piece of the message.
        fin: bool,
    },
    /// A ping. With `Config::auto_pong` the pong is already queued; drain it
    /// with `Connection::poll_transmit`.
    Ping(ControlPayload),
    /// A pong.
    Pong(ControlPayload),
    /// The peer's Close frame, or (from `Connection::receive_eof`) the end of
    /// the transport without one, reported as code 1006. If we had not sent
    /// a Close yet, the answering Close (echoing the code and the reason) is
    /// now queued:
    /// drain it with `Connection::poll_transmit`, or send one with a code of
    /// your own with `Connection::send_close` first.
    Close(CloseFrame),
}

/// A ping or pong payload: at most 125 bytes, kept inline.
///
/// ```
/// use wsmachine::ControlPayload;
/// let p = ControlPayload::new(b"are you there?").expect("short enough");
/// assert_eq!(&*p, b"are you there?");
/// assert!(ControlPayload::new(&[0; 126]).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ControlPayload {
    /// `bytes[..len]` is the payload.
    bytes: [u8; MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl ControlPayload {
    /// A copy of `data`, or `None` if it is longer than 125 bytes.
    pub fn new(data: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; MAX_CONTROL_PAYLOAD];
        bytes.get_mut(..data.len())?.copy_from_slice(data);
        Some(ControlPayload { bytes, len: data.len() as u8 })
    }

    /// A control frame's payload. Every caller takes it from a frame whose
    /// header passed the §5.5 length check (at most 125 bytes); anything
    /// longer would be cut there.
    pub(crate) fn from_frame(data: &[u8]) -> Self {
        let len = data.len().min(MAX_CONTROL_PAYLOAD);
        let mut bytes = [0u8; MAX_CONTROL_PAYLOAD];
        bytes[..len].copy_from_slice(&data[..len]);
        ControlPayload { bytes, len: len as u8 }
    }

    /// The payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl core::ops::Deref for ControlPayload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl core::fmt::Debug for ControlPayload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ControlPayload").field(&self.as_bytes()).finish()
    }
}

/// The result of one [`Connection::receive`](crate::Connection::receive) call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// How many bytes of the input were used. The caller MUST pass the rest
    /// (`input[consumed..]`) to the next call, and never the used bytes
    /// again: the connection does not notice bytes fed twice (a client's
    /// payload was unmasked in place, so binary data is silently corrupted).
    /// When `event` is `None`, this is the whole input: partial headers and
    /// control payloads are kept inside the connection, so the caller never
    /// has to keep bytes back.
    pub consumed: usize,
    /// What the consumed bytes completed, if anything.
    pub event: Option<Event<'a>>,
}
