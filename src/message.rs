//! Whole-message assembly for callers who do not stream (feature `alloc`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::conn::{Event, MessageKind};
use crate::error::ProtocolError;
use crate::utf8::Utf8Validator;

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

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// The text of a text message; `None` for a binary one, whatever its
    /// bytes.
    ///
    /// ```
    /// use wsmachine::Message;
    /// assert_eq!(Message::text("hi").as_text(), Some("hi"));
    /// assert_eq!(Message::binary(*b"hi").as_text(), None);
    /// ```
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        }
    }

    /// The payload, as bytes: a text message's `String` becomes its
    /// bytes without a copy.
    ///
    /// ```
    /// use wsmachine::Message;
    /// assert_eq!(Message::text("hi").into_bytes(), b"hi".to_vec());
    /// assert_eq!(Message::binary([1, 2]).into_bytes(), vec![1, 2]);
    /// ```
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) => data,
        }
    }

    /// The text of a text message, owned; a binary message is given back
    /// unchanged, whatever its bytes (it is not decoded as UTF-8).
    ///
    /// ```
    /// use wsmachine::Message;
    /// assert_eq!(Message::text("hi").into_text(), Ok(String::from("hi")));
    /// assert_eq!(Message::binary(*b"hi").into_text(), Err(Message::binary(*b"hi")));
    /// ```
    ///
    /// # Errors
    ///
    /// The message itself, when it is binary.
    pub fn into_text(self) -> Result<String, Message> {
        match self {
            Message::Text(text) => Ok(text),
            binary @ Message::Binary(_) => Err(binary),
        }
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

impl From<&String> for Message {
    fn from(text: &String) -> Self {
        Message::Text(text.clone())
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

/// So that `send(b"bytes")` sends a binary message.
impl<const N: usize> From<&[u8; N]> for Message {
    fn from(data: &[u8; N]) -> Self {
        Message::Binary(data.to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for Message {
    fn from(data: [u8; N]) -> Self {
        Message::Binary(data.to_vec())
    }
}

impl From<Message> for Vec<u8> {
    fn from(message: Message) -> Self {
        message.into_bytes()
    }
}

/// A complete data message, lent: what the adapters' lending receives
/// return (`blocking::WebSocket::read_ref`, and `recv_ref` in
/// wsmachine-tokio). The bytes stay in the connection's buffers, so
/// taking a message this way allocates nothing; the borrow ends at the
/// next call on the connection.
///
/// ```
/// use wsmachine::{Message, MessageKind, MessageRef};
///
/// let lent = MessageRef::Text("hi");
/// assert_eq!(lent.kind(), MessageKind::Text);
/// assert_eq!(lent.as_bytes(), b"hi");
/// // An owned copy, to keep past the next receive.
/// let kept: Message = lent.into();
/// assert_eq!(kept, Message::text("hi"));
/// assert_eq!(MessageRef::from(&kept), lent);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message (validated UTF-8).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> MessageRef<'a> {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            MessageRef::Text(_) => MessageKind::Text,
            MessageRef::Binary(_) => MessageKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MessageRef::Text(t) => t.as_bytes(),
            MessageRef::Binary(b) => b,
        }
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, MessageRef::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, MessageRef::Binary(_))
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// The text of a text message; `None` for a binary one. The `&str`
    /// keeps the lent message's lifetime.
    pub fn as_text(&self) -> Option<&'a str> {
        match *self {
            MessageRef::Text(text) => Some(text),
            MessageRef::Binary(_) => None,
        }
    }

    /// An owned copy of the message.
    pub fn to_message(&self) -> Message {
        match *self {
            MessageRef::Text(text) => Message::Text(text.into()),
            MessageRef::Binary(data) => Message::Binary(data.into()),
        }
    }
}

impl From<MessageRef<'_>> for Message {
    fn from(message: MessageRef<'_>) -> Self {
        message.to_message()
    }
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    fn from(message: &'a Message) -> Self {
        match message {
            Message::Text(text) => MessageRef::Text(text),
            Message::Binary(data) => MessageRef::Binary(data),
        }
    }
}

/// The most a whole message's buffer is reserved ahead of the bytes that
/// arrived, from the length its frame headers announce: 1 MiB. A message
/// up to this size (or arriving whole in one read) gets its buffer in one
/// allocation; a larger one grows as its bytes come, so a peer cannot make
/// the session reserve much memory with a header alone.
const RESERVE_AHEAD: u64 = 1 << 20;

/// Below this length a whole text message in one piece is copied into
/// its buffer first and validated there, where `core`'s validator takes
/// ASCII a word at a time from the first byte (a buffer from the
/// allocator starts on a word boundary; at the unaligned place a message
/// has in the read buffer it goes byte by byte over short text). From it
/// on the message is validated where it lies, with `simdutf8` when that
/// feature is on, and then copied. With `simdutf8` the turn is at 64
/// bytes: below, copying first took less time (recycled text of 24, 32
/// and 48 bytes: 0.78–0.89× the time of validating first), from 64 bytes
/// on more (64, 100 and 125 bytes: 1.07–1.17×; the loop of
/// `benches/message_instructions.sh`, timed). Without it `core`'s
/// validator runs either way, and whole messages keep the turn they had
/// before, at 128 bytes.
pub(crate) const TEXT_COPY_FIRST: usize = if cfg!(feature = "simdutf8") { 64 } else { 128 };

/// Whole messages in one piece shorter than this are taken by
/// [`Assembly::push_inline`] itself.
const SHORT_WHOLE: usize = 128;

/// Whole-message assembly, and the UTF-8 validation of the text message in
/// progress (in a `Session`, in every mode: the connection and the
/// inflater leave it to the session, so each text byte is validated once).
#[derive(Debug, Clone, Default)]
pub(crate) struct Assembly {
    /// The binary message being assembled.
    pub(crate) binary: Vec<u8>,
    /// The text message being assembled: its complete characters. The
    /// bytes of a character still unfinished are in `utf8`.
    pub(crate) text: String,
    pub(crate) utf8: Utf8Validator,
    /// An empty buffer handed back (a message sent, or given back with
    /// [`Session::recycle`](crate::Session::recycle)), kept to receive a
    /// later message in: an echo or a relay allocates nothing per message
    /// of up to [`SPARE_MAX`].
    spare: Vec<u8>,
}

/// The largest buffer kept as [`Assembly`]'s spare: 4 KiB, the size from
/// which [`Session::send_owned`](crate::Session::send_owned) writes a
/// payload without copying it. A larger buffer goes back to the allocator.
/// With many busy connections, a buffer kept by each is memory the cache
/// cannot hold (500 connections echoing 16 KiB messages: 8 MiB), so each
/// message was written into memory that had left the cache; the
/// allocator instead hands the next message, on whichever connection,
/// the block freed last, which is still in cache. An allocation costs
/// little next to copying more than 4 KiB, and below that size the kept
/// buffers are small enough to stay in cache.
pub(crate) const SPARE_MAX: usize = crate::SEND_OWNED_MIN;

impl Assembly {
    /// Whether no message is being assembled.
    pub(crate) fn is_empty(&self) -> bool {
        self.binary.is_empty() && self.text.is_empty() && self.utf8.pending().is_empty()
    }

    /// Keeps `buffer`, emptied, for a later message (in place of the
    /// one kept before), unless it is larger than [`SPARE_MAX`].
    #[inline]
    pub(crate) fn keep_spare(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() <= SPARE_MAX {
            buffer.clear();
            self.spare = buffer;
        }
    }

    /// The spare buffer for a message of `len` bytes, when it holds at
    /// least that and not much more: the message goes to the caller, who
    /// may keep it long, so it gets at most twice its size (or 128 bytes).
    #[inline]
    fn take_spare(&mut self, len: usize) -> Option<Vec<u8>> {
        let capacity = self.spare.capacity();
        (len <= capacity && capacity <= len.max(64) * 2).then(|| core::mem::take(&mut self.spare))
    }

    /// Frees the spare buffer.
    pub(crate) fn free_spare(&mut self) {
        self.spare = Vec::new();
    }

    /// The bytes the spare buffer holds allocated.
    pub(crate) fn spare_capacity(&self) -> usize {
        self.spare.capacity()
    }

    /// Drops the message in progress.
    pub(crate) fn clear(&mut self) {
        self.binary.clear();
        self.text.clear();
        self.utf8.reset();
    }

    /// Validates a piece of a message that is handed out or skipped, not
    /// assembled (binary pieces need nothing).
    pub(crate) fn check(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), ProtocolError> {
        if kind == MessageKind::Text && (self.utf8.feed(data).is_err() || (fin && self.utf8.finish().is_err())) {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(())
    }

    /// Appends a piece to the whole message, validating text as it goes.
    /// `announced` is the message's length as its frame headers announced
    /// it so far (0 when unknown): the buffer is sized from it, at most
    /// [`RESERVE_AHEAD`] past the bytes that arrived, so a message whose
    /// headers announce it is allocated once.
    pub(crate) fn push(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        announced: u64,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        let held = self.binary.len() + self.text.len() + self.utf8.pending().len();
        if held == 0 && fin && data.len() as u64 <= limit {
            // The whole message in one piece (most small messages): one
            // exact allocation; text validated as a whole, once.
            match kind {
                MessageKind::Binary if self.binary.capacity() == 0 => {
                    self.binary = match self.take_spare(data.len()) {
                        Some(mut spare) => {
                            crate::copy::extend(&mut spare, data);
                            spare
                        }
                        None => crate::copy::to_vec(data),
                    }
                }
                MessageKind::Text if self.text.capacity() == 0 => return self.take_text(data),
                _ => return self.push_slow(kind, data, fin, announced, limit, held),
            }
            return Ok(());
        }
        self.push_slow(kind, data, fin, announced, limit, held)
    }

    /// [`push`](Self::push), with a whole message of under [`SHORT_WHOLE`]
    /// bytes in one piece (most small messages) taken inline, as `push`
    /// takes it (text with [`take_text`](Self::take_text)). Out of line, the call
    /// and `push`'s general checks cost such a message 10 to 30
    /// instructions more (`benches/message_instructions.sh`). Longer
    /// messages keep `push`'s copies, which look where they land, and its
    /// choice of validator.
    #[inline(always)]
    pub(crate) fn push_inline(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        announced: u64,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        if fin
            && self.binary.capacity() == 0
            && self.text.capacity() == 0
            && self.utf8.is_complete()
            && data.len() < SHORT_WHOLE
            && data.len() as u64 <= limit
        {
            match kind {
                MessageKind::Binary => {
                    self.binary = match self.take_spare(data.len()) {
                        Some(mut spare) => {
                            spare.extend_from_slice(data);
                            spare
                        }
                        None => data.to_vec(),
                    };
                    return Ok(());
                }
                MessageKind::Text => return self.take_text(data),
            }
        }
        self.push(kind, data, fin, announced, limit)
    }

    /// A whole binary message of under [`SHORT_WHOLE`] bytes in one frame,
    /// still masked with `key` where it lies in the read buffer, into its
    /// empty buffer (the spare one or a new one of its size), unmasked as
    /// it is copied. False, with nothing done, when a message is in
    /// progress or the message is longer: [`push_masked`](Self::push_masked)
    /// appends it then.
    ///
    /// Unmasked where it lies and then copied, the payload was read back
    /// right after the unmasking wrote it, by `memcpy`'s 16-byte loads
    /// over the 8-byte stores of the words just unmasked, and each load
    /// waited for those stores to reach the cache. Unmasked on the way, its
    /// bytes are read where the read's copy left them long before.
    #[inline(always)]
    pub(crate) fn take_short_binary_masked(&mut self, data: &[u8], key: [u8; 4], limit: u64) -> bool {
        if !self.takes_short(data.len(), SHORT_WHOLE, limit) {
            return false;
        }
        let mut bytes = self.short_buffer(data.len());
        crate::mask::extend_masked(&mut bytes, data, key);
        self.binary = bytes;
        true
    }

    /// As [`take_short_binary_masked`](Self::take_short_binary_masked),
    /// for a text message of under [`TEXT_COPY_FIRST`] bytes (which
    /// [`push_inline`](Self::push_inline) too copies before it validates):
    /// validated where it landed. `None`, with nothing done, when it is
    /// not taken.
    #[inline]
    pub(crate) fn take_short_text_masked(
        &mut self,
        data: &[u8],
        key: [u8; 4],
        limit: u64,
    ) -> Option<Result<(), ProtocolError>> {
        if !self.takes_short(data.len(), TEXT_COPY_FIRST, limit) {
            return None;
        }
        let mut bytes = self.short_buffer(data.len());
        crate::mask::extend_masked(&mut bytes, data, key);
        Some(self.validated_text(bytes))
    }

    /// Whether a whole message of `len` bytes in one frame is taken into
    /// an empty buffer of its own: no message in progress, shorter than
    /// `short`, and within `limit`.
    #[inline(always)]
    fn takes_short(&self, len: usize, short: usize, limit: u64) -> bool {
        self.binary.capacity() == 0
            && self.text.capacity() == 0
            && self.utf8.is_complete()
            && len < short
            && len as u64 <= limit
    }

    /// An empty buffer for a whole message of `len` bytes: the spare one
    /// when it suits, or a new one of that size.
    #[inline(always)]
    fn short_buffer(&mut self, len: usize) -> Vec<u8> {
        self.take_spare(len).unwrap_or_else(|| Vec::with_capacity(len))
    }

    /// `bytes`, a whole text message, validated as the text message taken;
    /// invalid, its buffer is kept as the spare one.
    #[inline(always)]
    fn validated_text(&mut self, bytes: Vec<u8>) -> Result<(), ProtocolError> {
        match String::from_utf8(bytes) {
            Ok(text) => {
                self.text = text;
                Ok(())
            }
            Err(e) => {
                self.keep_spare(e.into_bytes());
                Err(ProtocolError::InvalidUtf8)
            }
        }
    }

    /// A whole text message in one piece into its empty buffer (the spare
    /// buffer or a new one of its size): below [`TEXT_COPY_FIRST`] bytes
    /// copied and then validated where it lands, from it on validated and
    /// then copied.
    #[inline]
    fn take_text(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        if data.len() >= TEXT_COPY_FIRST {
            let text = crate::utf8::as_str(data).ok_or(ProtocolError::InvalidUtf8)?;
            self.text = match self.take_spare(text.len()) {
                // Empty, so valid UTF-8.
                Some(spare) => String::from_utf8(spare).unwrap_or_default(),
                None => String::with_capacity(text.len()),
            };
            crate::copy::push_str(&mut self.text, text);
            return Ok(());
        }
        let mut bytes = self.short_buffer(data.len());
        bytes.extend_from_slice(data);
        self.validated_text(bytes)
    }

    /// [`push`](Self::push) into a buffer that holds bytes or capacity.
    fn push_slow(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        announced: u64,
        limit: u64,
        held: usize,
    ) -> Result<(), ProtocolError> {
        self.reserve_for(kind, held, data.len(), announced, limit)?;
        match kind {
            MessageKind::Binary => crate::copy::extend(&mut self.binary, data),
            MessageKind::Text => {
                if self.utf8.feed_into(data, &mut self.text).is_err() || (fin && self.utf8.finish().is_err()) {
                    return Err(ProtocolError::InvalidUtf8);
                }
            }
        }
        Ok(())
    }

    /// A whole text message, validated, into the text buffer (emptied
    /// first, its capacity kept): no allocation once the buffer grew.
    pub(crate) fn set_text(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        if data.len() < TEXT_COPY_FIRST {
            // Copied first, validated where it lands (word-aligned), as in
            // `push`.
            let mut bytes = core::mem::take(&mut self.text).into_bytes();
            bytes.clear();
            bytes.extend_from_slice(data);
            // Invalid, the session fails: where the buffer goes then
            // makes no difference.
            return self.validated_text(bytes);
        }
        self.text.clear();
        let text = crate::utf8::as_str(data).ok_or(ProtocolError::InvalidUtf8)?;
        crate::copy::push_str(&mut self.text, text);
        Ok(())
    }

    /// As [`set_text`](Self::set_text), for a whole text message of under
    /// [`TEXT_COPY_FIRST`] bytes in one frame, still masked with `key`
    /// where it lies in the read buffer: unmasked as it is copied into the
    /// text buffer (its capacity kept from the last message lent), then
    /// validated there. Unmasked where it lies, it was validated from
    /// there, and a short message's place in the read buffer is seldom
    /// word-aligned, where `core`'s validator goes a byte at a time.
    #[inline(always)]
    pub(crate) fn set_short_text_masked(&mut self, data: &[u8], key: [u8; 4]) -> Result<(), ProtocolError> {
        let mut bytes = core::mem::take(&mut self.text).into_bytes();
        bytes.clear();
        crate::mask::extend_masked(&mut bytes, data, key);
        self.validated_text(bytes)
    }

    /// Appends a piece of a binary message as it arrived, unmasking it with
    /// `key` (as seen from `data`'s first byte) on the way: the bytes are
    /// copied once, and reach memory once.
    pub(crate) fn push_masked(
        &mut self,
        data: &[u8],
        key: Option<[u8; 4]>,
        announced: u64,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        self.reserve_for(MessageKind::Binary, self.binary.len(), data.len(), announced, limit)?;
        match key {
            Some(key) => crate::mask::extend_masked(&mut self.binary, data, key),
            None => crate::copy::extend(&mut self.binary, data),
        }
        Ok(())
    }

    /// Makes room for `len` more bytes after the `held` ones, sized as
    /// [`push`](Self::push) says; refuses what would pass `limit`. Inline:
    /// each large frame taken directly calls it once, and out of line it
    /// costs them about 30 instructions.
    #[inline]
    fn reserve_for(
        &mut self,
        kind: MessageKind,
        held: usize,
        len: usize,
        announced: u64,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        let needed = (held as u64).saturating_add(len as u64);
        if needed > limit {
            return Err(ProtocolError::MessageTooLarge);
        }
        let capacity = match kind {
            MessageKind::Binary => self.binary.capacity(),
            MessageKind::Text => self.text.capacity(),
        };
        if needed > capacity as u64 {
            // At least double (amortised growth for pieces of unknown
            // size), at most the limit: left to `Vec`, the capacity could
            // reach twice `limit`.
            let ahead = announced.min(needed.saturating_add(RESERVE_AHEAD));
            let target = ahead.max(needed).max((capacity as u64).saturating_mul(2)).min(limit);
            let target = usize::try_from(target).unwrap_or(usize::MAX);
            if capacity == 0 {
                if let Some(spare) = self.take_spare(target) {
                    match kind {
                        MessageKind::Binary => self.binary = spare,
                        // Empty, so valid UTF-8.
                        MessageKind::Text => self.text = String::from_utf8(spare).unwrap_or_default(),
                    }
                    return Ok(());
                }
            }
            let reserved = match kind {
                MessageKind::Binary => self.binary.try_reserve_exact(target - self.binary.len()),
                MessageKind::Text => self.text.try_reserve_exact(target - self.text.len()),
            };
            // Out of memory (or of address space): too big for this end.
            reserved.map_err(|_| ProtocolError::MessageTooLarge)?;
        }
        Ok(())
    }
}

/// Collects the pieces of data events into whole messages, holding at most
/// `max_size` bytes.
///
/// The connection already refuses messages over `Config::max_message_size`
/// from their frame headers; the assembler enforces its own limit too, so
/// it is safe to use on events from any source. For the same reason it
/// validates text itself, as the pieces arrive (it cannot tell that a
/// `Connection` validated them already): that validation builds the
/// message's `String`, so text is not checked again at the end. Each
/// message is one buffer handed to the caller: sized exactly when the
/// message comes in one piece, grown by doubling (at most to `max_size`)
/// when it comes in several. [`Session`](crate::Session) assembles
/// messages without the second validation, sizes them from their frame
/// headers, and can lend them without allocating
/// ([`Session::poll_message_ref`](crate::Session::poll_message_ref)).
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
    whole: Assembly,
    /// The kind of the message in progress (its first piece's).
    kind: Option<MessageKind>,
    max_size: u64,
}

impl MessageAssembler {
    /// An assembler that refuses messages over `max_size` bytes.
    pub fn new(max_size: u64) -> Self {
        MessageAssembler { whole: Assembly::default(), kind: None, max_size }
    }

    /// Adds an event. Returns the message when `event` is its last piece;
    /// non-data events return `None` (handle them from the event itself).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MessageTooLarge`] (1009) when the message grows past
    /// the limit — checked before copying — and
    /// [`ProtocolError::InvalidUtf8`] (1007) at the first piece that makes a
    /// text message invalid (or at its end, if it ends inside a character).
    /// The partial message is dropped either way. The connection the event
    /// came from is not failed: pass the error to `Connection::fail_with`.
    pub fn push(&mut self, event: &Event<'_>) -> Result<Option<Message>, ProtocolError> {
        let (kind, data, fin) = match *event {
            Event::Text { data, fin, .. } => (MessageKind::Text, data, fin),
            Event::Binary { data, fin, .. } => (MessageKind::Binary, data, fin),
            _ => return Ok(None),
        };
        let kind = *self.kind.get_or_insert(kind);
        if let Err(e) = self.whole.push(kind, data, fin, 0, self.max_size) {
            self.whole.clear();
            self.kind = None;
            return Err(e);
        }
        if !fin {
            return Ok(None);
        }
        self.kind = None;
        Ok(Some(match kind {
            MessageKind::Binary => Message::Binary(core::mem::take(&mut self.whole.binary)),
            MessageKind::Text => Message::Text(core::mem::take(&mut self.whole.text)),
        }))
    }

    /// Bytes of the unfinished message held so far.
    pub fn buffered(&self) -> usize {
        self.whole.binary.len() + self.whole.text.len() + self.whole.utf8.pending().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_tell_text_from_binary() {
        let text = Message::text("héllo");
        let binary = Message::binary([0xFF, 0, 1]);
        let empty = Message::binary(Vec::new());
        assert!(text.is_text() && !text.is_binary());
        assert!(binary.is_binary() && !binary.is_text());
        assert_eq!((text.len(), binary.len(), empty.len()), (6, 3, 0));
        assert!(!text.is_empty() && !binary.is_empty() && empty.is_empty());
        assert_eq!((text.as_text(), binary.as_text()), (Some("héllo"), None));
        for message in [&text, &binary, &empty] {
            let lent = MessageRef::from(message);
            assert_eq!(lent.is_text(), message.is_text());
            assert_eq!(lent.is_binary(), message.is_binary());
            assert_eq!((lent.len(), lent.is_empty()), (message.len(), message.is_empty()));
            assert_eq!(lent.as_text(), message.as_text());
        }
        assert_eq!(text.into_bytes(), "héllo".as_bytes());
        assert_eq!(Vec::from(binary), [0xFF, 0, 1]);
    }

    #[test]
    fn conversions_pick_the_kind_from_the_type() {
        let line = String::from("a line");
        assert_eq!(Message::from(&line), Message::Text(line.clone()));
        assert_eq!(Message::from(b"raw"), Message::Binary(b"raw".to_vec()));
        assert_eq!(Message::from([7u8; 3]), Message::Binary([7, 7, 7].to_vec()));
        assert_eq!(Message::from(&b""[..]), Message::Binary(Vec::new()));
    }

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
        // At the piece with the bad byte, before the message ends.
        let first = Event::Text { data: b"ok", frame_end: true, fin: false };
        let bad = Event::Text { data: &[b'a', 0xC0, 0xAF], frame_end: true, fin: false };
        assert_eq!(a.push(&first), Ok(None));
        assert_eq!(a.push(&bad), Err(ProtocolError::InvalidUtf8));
        assert_eq!(a.buffered(), 0);
        // Ending inside a character.
        let cut = Event::Text { data: &[b'a', 0xCE], frame_end: true, fin: true };
        assert_eq!(a.push(&cut), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn a_character_split_between_pieces_is_whole() {
        let text = "κόσμε 🦀".as_bytes();
        for cut in 0..=text.len() {
            let mut a = MessageAssembler::new(100);
            let first = Event::Text { data: &text[..cut], frame_end: true, fin: false };
            let last = Event::Text { data: &text[cut..], frame_end: true, fin: true };
            assert_eq!(a.push(&first), Ok(None));
            assert_eq!(a.buffered(), cut);
            assert_eq!(a.push(&last), Ok(Some(Message::text("κόσμε 🦀"))), "cut {cut}");
        }
    }

    /// A whole text message in one piece is taken, or refused as invalid
    /// UTF-8, the same at every length on both sides of
    /// [`TEXT_COPY_FIRST`] and of [`SHORT_WHOLE`] (where it is copied
    /// before or after it is validated, inline or not), by `push`,
    /// `push_inline` and `set_text`: valid text lands whole, in the spare
    /// buffer when that fits it; invalid text (a bad byte first, in the
    /// middle or last, or a character cut at the end) fails with no text
    /// buffer taken and no spare buffer lost.
    #[test]
    fn whole_text_is_checked_alike_on_both_sides_of_each_turn() {
        for len in 0..=2 * SHORT_WHOLE + 8 {
            // Two-byte characters after an ASCII run, so each turn sees
            // both (an odd length ends in an ASCII byte).
            let valid: String =
                (0..len).map(|i| if i < len / 2 || len % 2 == 1 && i == len - 1 { 'a' } else { 'é' }).collect();
            let valid = valid.as_bytes()[..len].to_vec();
            let valid = match String::from_utf8(valid) {
                Ok(text) => text,
                // The cut fell inside an 'é': made ASCII again.
                Err(e) => {
                    let mut bytes = e.into_bytes();
                    bytes[len - 1] = b'a';
                    String::from_utf8(bytes).expect("ASCII ending")
                }
            };
            let mut invalid: Vec<Vec<u8>> = Vec::new();
            for at in [0, len / 2, len.saturating_sub(1)] {
                if len > 0 {
                    let mut bytes = valid.clone().into_bytes();
                    bytes[at] = 0xFF;
                    invalid.push(bytes);
                }
            }
            if len > 0 {
                let mut cut = valid.clone().into_bytes();
                cut[len - 1] = 0xCE;
                invalid.push(cut);
            }
            for spare in [0, len, 2 * len + 64] {
                let fresh = || {
                    let mut a = Assembly::default();
                    a.keep_spare(Vec::with_capacity(spare));
                    a
                };
                let took_spare = len <= spare && spare <= len.max(64) * 2 && spare > 0;
                for inline in [false, true] {
                    let mut a = fresh();
                    let got = if inline {
                        a.push_inline(MessageKind::Text, valid.as_bytes(), true, 0, 1 << 20)
                    } else {
                        a.push(MessageKind::Text, valid.as_bytes(), true, 0, 1 << 20)
                    };
                    assert_eq!(got, Ok(()), "len {len} spare {spare} inline {inline}");
                    assert_eq!(a.text, valid, "len {len} spare {spare} inline {inline}");
                    if took_spare {
                        assert_eq!(a.text.capacity(), spare, "len {len}: the spare buffer holds it");
                    }
                    for bad in &invalid {
                        let mut a = fresh();
                        let got = if inline {
                            a.push_inline(MessageKind::Text, bad, true, 0, 1 << 20)
                        } else {
                            a.push(MessageKind::Text, bad, true, 0, 1 << 20)
                        };
                        assert_eq!(got, Err(ProtocolError::InvalidUtf8), "len {len} {bad:?}");
                        // The spare buffer kept, or the new buffer the
                        // text was copied into kept in its place.
                        assert!(spare == 0 || a.spare_capacity() > 0, "len {len} spare {spare}: a spare kept");
                        assert_eq!(a.text.capacity(), 0, "len {len}: no text buffer");
                    }
                }
                let mut a = fresh();
                a.text = String::with_capacity(spare);
                assert_eq!(a.set_text(valid.as_bytes()), Ok(()), "set_text len {len}");
                assert_eq!(a.text, valid);
                for bad in &invalid {
                    assert_eq!(a.set_text(bad), Err(ProtocolError::InvalidUtf8), "set_text len {len} {bad:?}");
                    assert!(a.text.is_empty(), "set_text len {len}: nothing of the invalid text kept");
                }
            }
        }
    }

    /// `push_inline` assembles what `push` assembles, into buffers of the
    /// same capacity, and fails where it fails: a whole message in one piece
    /// (which it takes itself, from the spare buffer or a new one), one
    /// after an empty first piece, one in progress, too long for its inline
    /// case, over the limit, and invalid text.
    #[test]
    fn push_inline_assembles_what_push_does() {
        use MessageKind::{Binary, Text};
        let long = [b'x'; 200];
        let cases: &[&[(MessageKind, &[u8], bool)]] = &[
            &[(Binary, b"hello", true)],
            &[(Text, "κόσμε".as_bytes(), true)],
            &[(Text, b"ab\xFFcd", true)],
            &[(Binary, b"", false), (Binary, b"abc", true)],
            &[(Text, b"", false), (Text, "é".as_bytes(), true)],
            &[(Binary, b"ab", false), (Binary, b"cd", true)],
            &[(Text, b"\xCE", false), (Text, b"\xBA", true)],
            &[(Text, b"\xCE", false), (Text, b"a", true)],
            &[(Binary, &long, true)],
            &[(Text, &long, true)],
        ];
        let assembly = |spare: usize, text: usize| {
            let mut a = Assembly::default();
            a.keep_spare(Vec::with_capacity(spare));
            a.text = String::with_capacity(text);
            a
        };
        // After a piece that was only validated (streamed or skipped), a
        // character it began is finished by the next piece.
        for (kind, data) in [(Text, "κ".as_bytes()), (Binary, b"ab")] {
            let (mut inline, mut general) = (assembly(0, 0), assembly(0, 0));
            for a in [&mut inline, &mut general] {
                assert_eq!(a.check(kind, &data[..1], false), Ok(()));
            }
            let got = inline.push_inline(kind, &data[1..], true, 0, 1 << 20);
            assert_eq!(got, general.push(kind, &data[1..], true, 0, 1 << 20));
            assert_eq!((&inline.binary, &inline.text), (&general.binary, &general.text), "{kind:?}");
        }
        for limit in [4, 1 << 20] {
            for spare in [0, 16, 1000] {
                for text in [0, 8] {
                    for pieces in cases {
                        let (mut inline, mut general) = (assembly(spare, text), assembly(spare, text));
                        for &(kind, data, fin) in *pieces {
                            let got = inline.push_inline(kind, data, fin, 0, limit);
                            let expected = general.push(kind, data, fin, 0, limit);
                            assert_eq!(got, expected, "{pieces:?} limit {limit} spare {spare}");
                            if got.is_err() {
                                break;
                            }
                        }
                        let state = |a: &Assembly| {
                            (
                                a.binary.clone(),
                                a.binary.capacity(),
                                a.text.clone(),
                                a.text.capacity(),
                                a.spare_capacity(),
                            )
                        };
                        assert_eq!(
                            state(&inline),
                            state(&general),
                            "{pieces:?} limit {limit} spare {spare} text {text}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_one_piece_message_is_allocated_exactly() {
        let mut a = MessageAssembler::new(1 << 20);
        let data = [7u8; 1000];
        let whole = Event::Binary { data: &data, frame_end: true, fin: true };
        let Ok(Some(Message::Binary(bytes))) = a.push(&whole) else { panic!() };
        assert_eq!((bytes.len(), bytes.capacity()), (1000, 1000));
    }
}
