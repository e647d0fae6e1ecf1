//! Whole-message assembly for callers who do not stream (feature `alloc`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::conn::{Event, MessageKind};
use crate::error::ProtocolError;

/// A complete data message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Binary(_) => MessageKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// A text message.
    ///
    /// ```
    /// use wsmachine::Message;
    /// assert_eq!(Message::text("hi"), Message::Text("hi".to_string()));
    /// assert_eq!(Message::binary([1, 2]), Message::Binary(vec![1, 2]));
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Message::Binary(data.into())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data)
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Self {
        Message::Binary(data.into())
    }
}

/// Collects the pieces of data events into whole messages, holding at most
/// `max_size` bytes.
///
/// The connection already refuses messages over `Config::max_message_size`
/// from their frame headers; the assembler enforces its own limit too, so
/// it is safe to use on events from any source. The buffer is reused from
/// one message to the next.
///
/// The assembler knows nothing of the connection its events came from: an
/// error from [`push`](Self::push) does not fail that connection. The caller
/// MUST hand it to [`Connection::fail_with`](crate::Connection::fail_with),
/// which queues the Close with the error's code (1009 or 1007) for
/// `poll_transmit`, as below. (The assembler takes no connection because
/// its events may come from elsewhere, e.g. from `Deflate::decode`, which
/// holds the connection while its events are pushed.)
///
/// ```
/// use wsmachine::{Config, Connection, Message, MessageAssembler};
/// let mut server = Connection::server(Config::default());
/// let mut assembler = MessageAssembler::new(server.config().max_message_size);
/// // Fragmented masked "Hello": "Hel" then "lo", key 00 00 00 00.
/// let mut wire = [0x01, 0x83, 0, 0, 0, 0, b'H', b'e', b'l', 0x80, 0x82, 0, 0, 0, 0, b'l', b'o'];
/// let mut messages = Vec::new();
/// let mut pos = 0;
/// while pos < wire.len() {
///     let Ok(received) = server.receive(&mut wire[pos..]) else { break };
///     pos += received.consumed;
///     if let Some(event) = &received.event {
///         match assembler.push(event) {
///             Ok(Some(message)) => messages.push(message),
///             Ok(None) => {}
///             Err(error) => {
///                 server.fail_with(error); // queues the Close with its code
///                 break;
///             }
///         }
///     }
/// }
/// assert_eq!(server.error(), None);
/// assert_eq!(messages, [Message::Text("Hello".into())]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MessageAssembler {
    buf: Vec<u8>,
    max_size: u64,
}

impl MessageAssembler {
    /// An assembler that refuses messages over `max_size` bytes.
    pub fn new(max_size: u64) -> Self {
        MessageAssembler { buf: Vec::new(), max_size }
    }

    /// Adds an event. Returns the message when `event` is its last piece;
    /// non-data events return `None` (handle them from the event itself).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MessageTooLarge`] (1009) when the message grows past
    /// the limit — checked before copying — and
    /// [`ProtocolError::InvalidUtf8`] (1007) if a text message is not UTF-8.
    /// The partial message is dropped either way. The connection the event
    /// came from is not failed: pass the error to `Connection::fail_with`.
    pub fn push(&mut self, event: &Event<'_>) -> Result<Option<Message>, ProtocolError> {
        let (kind, data, fin) = match *event {
            Event::Text { data, fin, .. } => (MessageKind::Text, data, fin),
            Event::Binary { data, fin, .. } => (MessageKind::Binary, data, fin),
            _ => return Ok(None),
        };
        if (self.buf.len() as u64).saturating_add(data.len() as u64) > self.max_size {
            self.buf.clear();
            return Err(ProtocolError::MessageTooLarge);
        }
        let needed = self.buf.len() + data.len();
        if needed > self.buf.capacity() {
            // Grow by doubling, but never past the limit: left to `Vec`, the
            // capacity could reach twice `max_size`.
            let limit = usize::try_from(self.max_size).unwrap_or(usize::MAX);
            let capacity = self.buf.capacity().saturating_mul(2).max(needed).min(limit);
            self.buf.reserve_exact(capacity - self.buf.len());
        }
        self.buf.extend_from_slice(data);
        if !fin {
            return Ok(None);
        }
        let bytes = core::mem::take(&mut self.buf);
        match kind {
            MessageKind::Binary => Ok(Some(Message::Binary(bytes))),
            MessageKind::Text => {
                String::from_utf8(bytes).map(|t| Some(Message::Text(t))).map_err(|_| ProtocolError::InvalidUtf8)
            }
        }
    }

    /// Bytes of the unfinished message held so far.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_checked_before_copying() {
        let mut a = MessageAssembler::new(4);
        let first = Event::Binary { data: b"abc", frame_end: true, fin: false };
        assert_eq!(a.push(&first), Ok(None));
        let second = Event::Binary { data: b"de", frame_end: true, fin: true };
        assert_eq!(a.push(&second), Err(ProtocolError::MessageTooLarge));
        assert_eq!(a.buffered(), 0);
        let whole = Event::Text { data: "ok".as_bytes(), frame_end: true, fin: true };
        assert_eq!(a.push(&whole), Ok(Some(Message::Text("ok".into()))));
    }

    #[test]
    fn invalid_text_is_refused() {
        let mut a = MessageAssembler::new(10);
        let bad = Event::Text { data: &[0xFF], frame_end: true, fin: true };
        assert_eq!(a.push(&bad), Err(ProtocolError::InvalidUtf8));
    }
}
