//! permessage-deflate (RFC 7692): negotiation, compression and bounded
//! decompression (feature `deflate`).
//!
//! # Using it
//!
//! 1. **Negotiate.** A server picks from the client's offers with
//!    [`DeflateConfig::accept`] (give it `request.extensions()`) and answers
//!    with [`DeflateParams::answer`] in `Accept { extensions, .. }`. A client
//!    offers [`DeflateConfig::offer`] (or several with [`offer_all`]) in
//!    `ClientOptions { extensions, .. }` and checks the answer with
//!    [`DeflateConfig::check_response`] (give it `response.extensions()`),
//!    failing the handshake on an error.
//! 2. **Set up the connection** with [`Deflate::connection_config`], which
//!    lets RSV1 through on the first frame of a message, and keep a
//!    [`Deflate`] beside it.
//! 3. **Receive**: hand every event from `Connection::receive` to
//!    [`Deflate::decode`] and take the events it yields. Uncompressed
//!    messages and control frames come through unchanged (still borrowed
//!    from your buffer); compressed ones come out inflated, in pieces of at
//!    most [`DeflateConfig::chunk_size`] bytes, so a large message never has
//!    to be held whole. A [`MessageAssembler`](crate::MessageAssembler)
//!    assembles either kind.
//! 4. **Send** with [`Deflate::send_text`], [`Deflate::send_binary`] or
//!    [`Deflate::send_fragment`]. Whole messages shorter than
//!    [`DeflateConfig::threshold`] (1 KiB by default) go out uncompressed;
//!    to send any other message uncompressed, use the connection's own
//!    `send_text` / `send_binary`.
//!
//! ```
//! use wsmachine::ext::deflate::{Deflate, DeflateConfig};
//! use wsmachine::handshake::Extensions;
//! use wsmachine::{Config, Connection, Event, MessageAssembler, Message, Role, SecureRandom};
//!
//! // The server's side of the negotiation (normally `request.extensions()`).
//! let offers = Extensions::parse("permessage-deflate; client_max_window_bits").unwrap();
//! let params = DeflateConfig::default().accept(offers).unwrap();
//! assert_eq!(params.answer(), "permessage-deflate");
//!
//! let config = Deflate::connection_config(Config::default());
//! // Compress every message, however short (by default, whole messages
//! // under `threshold`, 1 KiB, go out uncompressed).
//! let deflate_config = DeflateConfig { threshold: 0, ..DeflateConfig::default() };
//! let mut client = Connection::client(config, SecureRandom::from_seed([1; 32]));
//! let mut client_deflate = Deflate::new(Role::Client, params, &deflate_config);
//! let mut server = Connection::server(config);
//! let mut server_deflate = Deflate::new(Role::Server, params, &deflate_config);
//!
//! let mut wire = Vec::new();
//! client_deflate.send_text(&mut client, "Hello, Hello, Hello", &mut wire)?;
//! assert_eq!(wire[0], 0xC1); // FIN, RSV1, text
//!
//! let mut assembler = MessageAssembler::new(1 << 20);
//! let received = server.receive(&mut wire)?;
//! let mut decoded = server_deflate.decode(&mut server, received.event.unwrap());
//! let mut messages = Vec::new();
//! while let Some(event) = decoded.next() {
//!     messages.extend(assembler.push(&event?)?);
//! }
//! assert_eq!(messages, [Message::Text("Hello, Hello, Hello".into())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decompression bombs
//!
//! A compressed message is inflated only as far as
//! [`Config::max_message_size`](crate::Config::max_message_size) allows: the
//! inflater is never given room for more than the limit plus one byte, so a
//! 1 KiB frame that would inflate to 1 GiB fails the connection with 1009
//! ([`ProtocolError::MessageTooLarge`]) after producing at most the limit,
//! in pieces of `chunk_size`, none of which is handed out past the limit.
//! On the wire, a compressed message's frames may carry up to twice
//! `max_message_size` (and twice `Config::max_frame_payload` when that is
//! set): incompressible data grows slightly when compressed, and a sender
//! that flushes each fragment adds a few bytes per fragment, so a message
//! within the limit is never refused for how it compressed.
//! [`DeflateConfig::max_ratio`] optionally refuses messages that inflate
//! past a ratio (1009, [`ProtocolError::CompressionRatio`]). Inflated text is
//! UTF-8 validated as it comes out, failing with 1007 at the first invalid
//! byte; data that is not valid DEFLATE fails with 1007
//! ([`ProtocolError::InvalidCompressedData`]). Every such failure fails the
//! connection (`Connection::fail_with`): its Close is queued and later
//! `receive` calls return the error.
//!
//! # Compressor, inflater and windows
//!
//! The compressor is wsmachine's own (pure Rust, `no_std` + `alloc`, no
//! unsafe code): hash chains over a buffer of twice the window, zlib's
//! effort levels, blocks stored, fixed or fitted, whichever is shortest.
//! It is sized by the window it compresses with, and no back-reference
//! reaches further back than 2^bits − 1 bytes, so every window from 8 to 15
//! is honoured exactly and none has to be declined or rounded up; the
//! tests check each one against zlib inflating with exactly that window.
//! The inflater is `miniz_oxide`'s (pure Rust, `no_std` + `alloc`), which
//! reads any window (it always keeps 32 KiB).
//!
//! # Memory
//!
//! The state is allocated at the first compressed message in each
//! direction: about 190 KiB to compress at window 15 (a 64 KiB window
//! buffer, 64 KiB of hash chains, a 32 KiB hash table and 24 KiB of block
//! tokens; about 43 KiB at window 11) and 43 KiB to inflate (the 32 KiB
//! window), plus [`DeflateConfig::chunk_size`]. With context takeover that
//! state is the context and stays between messages: 253 KiB for a
//! connection that compresses both ways, buffers included, under zlib's
//! default of 302 KiB for a compressor and an inflater. The memory-lean
//! setting, [`DeflateConfig::memory_lean`], negotiates no context takeover
//! both ways and frees everything after each message
//! ([`DeflateConfig::free_idle_state`]): an idle connection then holds no
//! permessage-deflate memory at all, for a few µs more per compressed
//! message and larger output for streams of similar small messages. A
//! connection whose messages all stay under [`DeflateConfig::threshold`]
//! never allocates a compressor.
//!
//! The compressor replaced `miniz_oxide`'s by measurement (the README has
//! the tables): `miniz_oxide`'s holds about 310 KiB whatever the window
//! (354 KiB with its inflater, 17 % over zlib's default), and `zlib-rs`
//! holds more still (418 KiB at window 15), needs `std` or a C allocator
//! and is unsafe code inside. On JSON-like text it compresses 1.03× as
//! fast as `miniz_oxide` at level 2 with output 0.1–0.3 point smaller,
//! 0.94–0.99× as fast at level 1 (smaller output too; level 1's own scan
//! came after that run and is 1.02–1.18× faster) and 1.26–1.36× as fast
//! at level 6 (output 0.1–0.2 point larger); the README has the tables.
//!
//! # Decisions
//!
//! - A message whose DEFLATE data ends with a final block (BFINAL) is
//!   accepted (RFC 7692 §7.2.3.3); what follows that block in the message is
//!   ignored and the next message starts a new stream.
//! - An empty compressed payload is an empty message.
//! - Data that stops inside a block at the end of a message is not detected
//!   there (the inflater only learns of it from what follows), as with zlib.
//! - A server confirms a client's `client_no_context_takeover` hint in its
//!   answer; a client always offers `client_max_window_bits`, since it keeps
//!   any window a server asks for.

mod compress;
mod decompress;
mod encoder;
mod params;

pub use params::{
    check_response_any, offer_all, DeflateConfig, DeflateParams, NegotiationError, EXTENSION_NAME, MAX_WINDOW_BITS,
    MIN_WINDOW_BITS,
};

use alloc::vec::Vec;

use compress::Compressor;
use decompress::{Decompressor, Limits, TAIL};

use crate::config::{Config, RsvBits};
use crate::conn::{Connection, Event, MessageKind, Role};
use crate::error::{ProtocolError, SendError};
use crate::frame::OpCode;
use crate::output::Output;
use crate::random::{RandomSource, SecureRandom};
use crate::utf8::Utf8Validator;

/// The RSV bit permessage-deflate claims (RSV1, RFC 7692 §6).
pub const RSV1: RsvBits = RsvBits::RSV1;

/// The permessage-deflate state of one connection: a compressor for what we
/// send and an inflater for what we receive, each keeping or resetting its
/// context as negotiated.
///
/// Memory: nothing until the first compressed message in each direction;
/// then about 43 KiB to inflate (the 32 KiB window) plus
/// [`DeflateConfig::chunk_size`], and about 190 KiB to compress at window
/// 15 (less for smaller windows), held between messages. With
/// [`DeflateConfig::memory_lean`] nothing is held between messages (see
/// [`DeflateConfig::free_idle_state`]; drain each [`Decode`] until it
/// returns `None`).
pub struct Deflate {
    compressor: Compressor,
    decompressor: Decompressor,
    max_ratio: u32,
    chunk_size: usize,
    /// Whole messages shorter than this go out uncompressed.
    threshold: usize,
    /// Free `scratch` between messages ([`DeflateConfig::free_idle_state`]).
    free_scratch: bool,
    /// Inflated bytes handed out by [`Decode`]: `scratch[..]` is scratch space.
    scratch: Vec<u8>,
    /// The message being received is compressed (decided at its first event).
    rx_compressed: Option<bool>,
    /// Validate inflated text here (always, but inside a `Session`, which
    /// validates it as it assembles messages).
    rx_check_text: bool,
    /// Validates outgoing fragmented text before it is compressed.
    tx_utf8: Utf8Validator,
    tx_kind: Option<MessageKind>,
}

impl Deflate {
    /// The state for one connection in `role`, with the parameters
    /// negotiated in the handshake, the compression level and the inflation
    /// limits of `config`.
    pub fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Self {
        let peer = if role == Role::Server { Role::Client } else { Role::Server };
        Deflate {
            compressor: Compressor::new(
                config.level,
                params.window_bits(role),
                params.no_context_takeover(role),
                config.free_idle_state,
            ),
            decompressor: Decompressor::new(params.no_context_takeover(peer), config.free_idle_state),
            max_ratio: config.max_ratio,
            chunk_size: config.chunk_size.max(1),
            threshold: config.threshold,
            free_scratch: config.free_idle_state && params.no_context_takeover(peer),
            scratch: Vec::new(),
            rx_compressed: None,
            rx_check_text: true,
            tx_utf8: Utf8Validator::new(),
            tx_kind: None,
        }
    }

    /// Leaves the UTF-8 validation of inflated text to the caller, which
    /// MUST validate every inflated text byte itself and fail the
    /// connection with 1007 as `decode` would ([`Session`](crate::Session)
    /// does).
    pub(crate) fn leave_text_validation_to_caller(&mut self) {
        self.rx_check_text = false;
    }

    /// `config` with RSV1 claimed for permessage-deflate: the connection then
    /// admits RSV1 on the first frame of a data message (still 1002 on
    /// continuations and control frames, RFC 7692 §6).
    pub fn connection_config(config: Config) -> Config {
        Config { extension_rsv_bits: config.extension_rsv_bits | RSV1, ..config }
    }

    /// Decodes one event from `conn.receive` (call it right after, before
    /// feeding more bytes). Iterate the result with [`Decode::next`]:
    ///
    /// - a data event of an uncompressed message, or a control event, comes
    ///   back unchanged, once;
    /// - a data event of a compressed message (RSV1 on its first frame)
    ///   comes back as zero or more inflated data events of the same kind,
    ///   the last of the message with `fin` set.
    ///
    /// A failure (1007 or 1009, see the module docs) fails `conn`, so its
    /// Close is queued for `poll_transmit`.
    pub fn decode<'d, 'e, R: RandomSource>(
        &'d mut self,
        conn: &'d mut Connection<R>,
        event: Event<'e>,
    ) -> Decode<'d, 'e, R> {
        let (kind, data, frame_end, fin) = match event {
            Event::Text { data, frame_end, fin } => (MessageKind::Text, data, frame_end, fin),
            Event::Binary { data, frame_end, fin } => (MessageKind::Binary, data, frame_end, fin),
            other => return Decode { deflate: self, conn, state: DecodeState::Pass(Some(other)) },
        };
        let compressed = *self.rx_compressed.get_or_insert(conn.message_rsv1());
        if fin {
            self.rx_compressed = None;
        }
        if !compressed {
            return Decode { deflate: self, conn, state: DecodeState::Pass(Some(event)) };
        }
        let limits = Limits { max_message_size: conn.max_message_size(), max_ratio: self.max_ratio };
        Decode {
            deflate: self,
            conn,
            state: DecodeState::Inflate { input: data, kind, frame_end, fin, tail: 0, limits },
        }
    }

    /// Compresses `text` and writes it as one frame with RSV1 set, or, when
    /// it is shorter than [`DeflateConfig::threshold`], writes it
    /// uncompressed with RSV1 clear (as `Connection::send_text`). Returns
    /// the bytes written.
    ///
    /// # Errors
    ///
    /// As `Connection::send_text`. If the frame cannot be written after
    /// compressing (e.g. [`SendError::BufferTooSmall`] on a slice), the
    /// compression context is reset, so later messages stay decodable.
    pub fn send_text<R: RandomSource, O: Output + ?Sized>(
        &mut self,
        conn: &mut Connection<R>,
        text: &str,
        out: &mut O,
    ) -> Result<usize, SendError> {
        if text.len() < self.threshold && self.tx_kind.is_none() {
            return conn.send_text(text, out);
        }
        self.send_whole(conn, MessageKind::Text, text.as_bytes(), out)
    }

    /// Compresses `data` and writes it as one binary frame with RSV1 set,
    /// or uncompressed below [`DeflateConfig::threshold`], as
    /// [`send_text`](Self::send_text).
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    pub fn send_binary<R: RandomSource, O: Output + ?Sized>(
        &mut self,
        conn: &mut Connection<R>,
        data: &[u8],
        out: &mut O,
    ) -> Result<usize, SendError> {
        if data.len() < self.threshold && self.tx_kind.is_none() {
            return conn.send_binary(data, out);
        }
        self.send_whole(conn, MessageKind::Binary, data, out)
    }

    /// Compresses one piece of a message streamed in fragments and writes
    /// it as one frame (RSV1 on the first): as `Connection::send_fragment`,
    /// for messages whose size is not known up front. Each piece is flushed
    /// to a byte boundary, so the peer can inflate it as it arrives.
    ///
    /// # Errors
    ///
    /// As `Connection::send_fragment` (including [`SendError::InvalidUtf8`]
    /// for text that cannot be valid).
    pub fn send_fragment<R: RandomSource, O: Output + ?Sized>(
        &mut self,
        conn: &mut Connection<R>,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        out: &mut O,
    ) -> Result<usize, SendError> {
        let first = self.tx_kind.is_none();
        if self.tx_kind.is_some_and(|k| k != kind) {
            return Err(SendError::MessageInProgress);
        }
        let mut utf8 = if first { Utf8Validator::new() } else { self.tx_utf8.clone() };
        if kind == MessageKind::Text && (utf8.feed(data).is_err() || (fin && utf8.finish().is_err())) {
            return Err(SendError::InvalidUtf8);
        }
        let written = self.send_piece(conn, kind, data, fin, first, out)?;
        self.tx_utf8 = utf8;
        self.tx_kind = if fin { None } else { Some(kind) };
        Ok(written)
    }

    fn send_whole<R: RandomSource, O: Output + ?Sized>(
        &mut self,
        conn: &mut Connection<R>,
        kind: MessageKind,
        data: &[u8],
        out: &mut O,
    ) -> Result<usize, SendError> {
        if self.tx_kind.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.send_piece(conn, kind, data, true, true, out)
    }

    fn send_piece<R: RandomSource, O: Output + ?Sized>(
        &mut self,
        conn: &mut Connection<R>,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        first: bool,
        out: &mut O,
    ) -> Result<usize, SendError> {
        // Refuse what the connection would refuse before touching the
        // context, including a message the connection itself is sending
        // (with `send_fragment`) that this state does not know of.
        let continues = conn.next_data_opcode(kind)? == OpCode::Continuation;
        if continues == first {
            return Err(SendError::MessageInProgress);
        }
        self.compressor.compress(data, fin);
        match conn.send_extension_frame(kind, &self.compressor.buf, fin, true, out) {
            Ok(written) => {
                if fin {
                    self.compressor.end_message();
                }
                Ok(written)
            }
            Err(e) => {
                self.compressor.abandon();
                Err(e)
            }
        }
    }
}

impl core::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflate")
            .field("compressor", &self.compressor)
            .field("decompressor", &self.decompressor)
            .field("max_ratio", &self.max_ratio)
            .field("chunk_size", &self.chunk_size)
            .field("threshold", &self.threshold)
            .field("free_scratch", &self.free_scratch)
            .field("rx_compressed", &self.rx_compressed)
            .field("tx_kind", &self.tx_kind)
            .finish_non_exhaustive()
    }
}

/// The events one received event decodes to: see [`Deflate::decode`].
/// Borrows the [`Deflate`] and the connection until dropped.
#[derive(Debug)]
#[must_use = "the decoded events are only produced by calling `next`"]
pub struct Decode<'d, 'e, R: RandomSource = SecureRandom> {
    deflate: &'d mut Deflate,
    conn: &'d mut Connection<R>,
    state: DecodeState<'e>,
}

#[derive(Debug)]
enum DecodeState<'e> {
    Pass(Option<Event<'e>>),
    Inflate {
        /// Compressed bytes of the event not yet inflated.
        input: &'e [u8],
        kind: MessageKind,
        frame_end: bool,
        fin: bool,
        /// How much of [`TAIL`] went in (message end only).
        tail: usize,
        limits: Limits,
    },
    Done,
}

impl<R: RandomSource> Decode<'_, '_, R> {
    /// The next decoded event, `None` when the received event is used up.
    /// After an error the connection has failed and `None` follows. Call it
    /// until it returns `None`: with [`DeflateConfig::free_idle_state`],
    /// that last call frees the inflate buffer once a compressed message
    /// has ended (the events that borrowed it are gone by then).
    #[allow(clippy::should_implement_trait)] // a lending iterator: events borrow the inflate buffer
    pub fn next(&mut self) -> Option<Result<Event<'_>, ProtocolError>> {
        let state = core::mem::replace(&mut self.state, DecodeState::Done);
        let DecodeState::Inflate { mut input, kind, frame_end, fin, mut tail, limits } = state else {
            return match state {
                DecodeState::Pass(event) => event.map(Ok),
                _ => {
                    if self.deflate.free_scratch && self.deflate.rx_compressed.is_none() {
                        self.deflate.scratch = Vec::new();
                    }
                    None
                }
            };
        };
        let deflate = &mut *self.deflate;
        let text = kind == MessageKind::Text && deflate.rx_check_text;
        let chunk = deflate.chunk_size;
        if deflate.scratch.len() < chunk {
            deflate.scratch.resize(chunk, 0);
        }
        let room = usize::try_from(deflate.decompressor.room(&limits)).unwrap_or(usize::MAX);
        let cap = chunk.min(room);
        let mut n = 0;
        let mut last = false;
        loop {
            let at_tail = input.is_empty();
            // A message with no compressed byte at all is an empty message:
            // the tail would open a stored block and leave it open.
            let wants_tail = fin && !(tail == 0 && deflate.decompressor.message_is_empty());
            let src: &[u8] = if !at_tail {
                input
            } else if wants_tail {
                TAIL.get(tail..).unwrap_or(&[])
            } else {
                &[]
            };
            let out = deflate.scratch.get_mut(n..cap).unwrap_or(&mut []);
            let step = match deflate.decompressor.step(src, at_tail, out, text, &limits) {
                Ok(step) => step,
                Err(e) => return Some(Err(self.conn.fail_with(e))),
            };
            if at_tail {
                tail += step.consumed;
            } else {
                input = input.get(step.consumed..).unwrap_or(&[]);
            }
            n += step.written;
            let all_in = input.is_empty() && (!wants_tail || tail >= TAIL.len());
            if step.written == 0 && step.consumed == 0 {
                // Nothing more comes out of what went in so far.
                last = all_in;
                if !all_in {
                    // Input left but no progress: the data cannot be inflated.
                    return Some(Err(self.conn.fail_with(ProtocolError::InvalidCompressedData)));
                }
                break;
            }
            if n == cap {
                break;
            }
        }
        if last && fin {
            if let Err(e) = deflate.decompressor.end_message(text) {
                return Some(Err(self.conn.fail_with(e)));
            }
        }
        if !last {
            self.state = DecodeState::Inflate { input, kind, frame_end, fin, tail, limits };
        } else if n == 0 && !fin && !frame_end {
            return None;
        }
        let data = deflate.scratch.get(..n).unwrap_or(&[]);
        let (frame_end, fin) = (last && frame_end, last && fin);
        Some(Ok(match kind {
            MessageKind::Text => Event::Text { data, frame_end, fin },
            MessageKind::Binary => Event::Binary { data, frame_end, fin },
        }))
    }
}
