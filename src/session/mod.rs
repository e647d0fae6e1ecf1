//! The sans-IO driver the runtime adapters share (feature `alloc`): a
//! [`Session`] sequences a [`Connection`], permessage-deflate, whole-message
//! assembly, the read and write buffers and the closing of the transport,
//! so an adapter is a thin loop of reads, writes and a clock.

mod connect;
#[cfg(feature = "http")]
mod http_upgrade;
mod refusal;
mod start;

pub use connect::{accept_extended_connect, ConnectResponse, ExtendedConnectStart, CONNECT_PROTOCOL};

#[cfg(feature = "http")]
pub use http_upgrade::accept_http;
pub use refusal::Refusal;
pub use start::{Answer, ClientStart, PlainRequest, PlainResponse, Rejection, RequestParts, ServerStart, UpgradeError};

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::conn::{Connection, ControlPayload, Event, MessageKind, Role, State};
use crate::error::{ProtocolError, SendError};
use crate::frame::{FrameHeader, HeaderStatus, OpCode, MAX_HEADER_LEN};
use crate::message::{Assembly, Message, SPARE_MAX};
use crate::random::{RandomSource, SecureRandom};
use crate::time::Instant;

use alloc::boxed::Box;

#[cfg(feature = "deflate")]
use crate::ext::deflate::Deflate;

/// Room [`Session::read_buf`] offers for each read: 32 KiB.
pub const READ_CHUNK: usize = 32 * 1024;

/// The smallest payload [`Session::send_owned`] queues without copying:
/// 4 KiB. Below it the message is copied into the output buffer, as by
/// [`Session::send`]: copying a few KiB costs less than the extra slice
/// in a vectored write (and the extra write call on a transport without
/// them), and small messages batched into one write stay one slice.
pub const SEND_OWNED_MIN: usize = 4 * 1024;

/// In streaming mode with compression, input is fed to the connection in
/// slices of at most this many bytes, so one piece inflates to at most
/// about 264 KiB (DEFLATE's ratio is bounded near 1032:1), typically a few
/// KiB.
const COMPRESSED_STREAM_INPUT: usize = 256;

/// Something the peer sent, whole: what [`Session::poll_message`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text or binary message, inflated if it came compressed.
    Message(Message),
    /// A ping; the pong is already queued (with `Config::auto_pong`).
    Ping(ControlPayload),
    /// A pong.
    Pong(ControlPayload),
    /// The connection ended: the peer's Close frame (our answer is queued),
    /// or code 1006 when the transport ended without one or our own Close
    /// was never answered within `close_timeout`. Nothing follows.
    Close(CloseFrame),
}

/// Something the peer sent, whole, lent by the session: what
/// [`Session::poll_message_ref`] returns. The message borrows the session
/// until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingRef<'a> {
    /// A complete text message (validated UTF-8), inflated if it came
    /// compressed.
    Text(&'a str),
    /// A complete binary message, inflated if it came compressed.
    Binary(&'a [u8]),
    /// A ping, as [`Incoming::Ping`].
    Ping(ControlPayload),
    /// A pong.
    Pong(ControlPayload),
    /// The connection ended, as [`Incoming::Close`].
    Close(CloseFrame),
}

impl IncomingRef<'_> {
    /// The item as [`Session::poll_message`] would have returned it (the
    /// message copied into an owned buffer).
    pub fn to_incoming(self) -> Incoming {
        match self {
            IncomingRef::Text(text) => Incoming::Message(Message::Text(text.into())),
            IncomingRef::Binary(data) => Incoming::Message(Message::Binary(data.into())),
            IncomingRef::Ping(p) => Incoming::Ping(p),
            IncomingRef::Pong(p) => Incoming::Pong(p),
            IncomingRef::Close(c) => Incoming::Close(c),
        }
    }
}

/// Something the peer sent, in pieces: what [`Session::poll_piece`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed<'a> {
    /// A piece of a message.
    Piece(Piece<'a>),
    /// A ping; the pong is already queued (with `Config::auto_pong`).
    Ping(ControlPayload),
    /// A pong.
    Pong(ControlPayload),
    /// The connection ended, as [`Incoming::Close`].
    Close(CloseFrame),
}

/// A piece of a message: the pieces of one message, in order, are its
/// payload (inflated, if it came compressed).
///
/// Text pieces may end inside a character that the next piece completes;
/// the whole message is valid UTF-8 (the session fails with 1007 at the
/// piece holding the first byte that makes it invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The message's kind.
    pub kind: MessageKind,
    /// Payload bytes.
    pub data: &'a [u8],
    /// The last piece of the message.
    pub fin: bool,
}

/// A payload queued by [`Session::send_owned`], written after `out[..at]`
/// and before `out[at..]`.
#[derive(Debug)]
struct Segment {
    at: usize,
    data: Vec<u8>,
}

/// What to do with the transport now: [`Session::poll_transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Keep it open: write what [`Session::poll_output`] holds, read into
    /// [`Session::read_buf`].
    Open,
    /// Everything we will ever send is written: shut down the write side
    /// (TCP `shutdown(Write)`, TLS close_notify), then keep reading until
    /// the peer closes, handing what arrives to the session (it is
    /// discarded). Closing at once could make the kernel reset the
    /// connection and destroy bytes the peer has not read yet, such as our
    /// Close frame. Returned once.
    ShutdownWrite,
    /// Close the transport: the peer closed its side, a timeout passed, or
    /// a timer found the peer dead (our Close is written; nothing is
    /// waited for from a peer that answers nothing). When the peer took
    /// none of our last output within `close_timeout`, the output is
    /// dropped and the transport is to be closed without shutting down
    /// its write side, which could wait on the same peer
    /// ([`Session::output_abandoned`]).
    Close,
}

/// The largest finished message kept aside in `done` while the next one
/// starts in the assembly buffer. Above it, alternating two buffers costs
/// more in cache misses (1 MiB messages: about 1.3× slower) than the copy
/// of the next message's first read through the read buffer saves.
const DONE_ASIDE_MAX: usize = 256 * 1024;

/// The most finished messages that wait in `queued` behind the one in
/// `done`. A read of 64 KiB holds fewer than 16 messages large enough to
/// be queued (over 4 KiB); past this bound the read buffer takes the
/// rest, as it takes everything when the caller reads again and again
/// without asking for messages.
const QUEUED_MAX: usize = 32;

/// The smallest frame that ends in its read and still goes straight into
/// an owned message (rather than through the read buffer, whose copy costs
/// less than a frame's second trip through the connection below it).
const DIRECT_MIN: u64 = 4 * 1024;

/// The block in which text received straight into a message is unmasked
/// before it is validated into the `String`: small enough to stay in L1.
const TEXT_BLOCK: usize = 4 * 1024;

/// Where a found item's bytes are. A range in the read buffer is kept
/// beside it, in the session's `found_start` and `found_end`, so that the
/// item fits in a register: the item loop returns it in one, and an item
/// kept in `ready` is written and read back whole. With the range inside
/// it, the item was returned through memory, and a copy of it (into
/// `ready`, as `message_ready` and `piece_ready` keep what they find) read
/// the fields the loop had just written in wider pieces than it wrote
/// them, which the processor cannot forward from its pending stores: 7 to
/// 10 ns of waiting per small message (`benches/README.md`).
#[derive(Debug, Clone, Copy)]
enum Found {
    /// A message in the assembly buffer.
    Message(MessageKind),
    /// A message in `done` / `done_text`, finished by `receive`.
    Done(MessageKind),
    /// A message that arrived whole in one read, in the found range of
    /// `rx` (its text not yet validated: lending it does that).
    RxMessage(MessageKind),
    /// A control frame, in `control`: its payload (up to 125 bytes) is
    /// kept out of this type, which every session holds and which is
    /// moved for every message.
    Control,
    /// A piece in the found range of `rx`.
    RxPiece { kind: MessageKind, fin: bool },
    /// A piece in `piece` (inflated, or a whole message asked for as a
    /// piece).
    BufPiece { kind: MessageKind, fin: bool },
    /// The first piece of a message begun whole and asked for in pieces:
    /// what the assembly buffer holds so far, moved into `piece` when the
    /// piece is taken (left where it is, a whole-message call goes on
    /// assembling the message).
    SoFar(MessageKind),
}

#[derive(Debug, Clone, Copy)]
enum Control {
    Ping(ControlPayload),
    Pong(ControlPayload),
    Close(CloseFrame),
}

/// The sans-IO driver of one WebSocket connection, for the runtime adapters
/// (`wsmachine::blocking`, the tokio crate) and for anyone writing another.
///
/// It owns the [`Connection`], permessage-deflate when negotiated (feature
/// `deflate`), the assembly of whole messages, a read buffer and an output
/// buffer. It does no I/O and reads no clock: the adapter moves bytes and
/// time in and out. All protocol rules stay in the layers below; the
/// session only sequences them. Nothing is allocated per frame: the
/// buffers are reused, and a whole [`Message`] is the one allocation per
/// message, sized from its frame headers and handed to the caller; none
/// when the caller gives earlier messages back, sending them with
/// [`send_owned`](Self::send_owned) or with [`recycle`](Self::recycle),
/// since later ones are received into their buffers. Text is
/// validated as UTF-8 once per byte, as it arrives (fail-fast, after
/// inflation for compressed messages): the validation of a whole message
/// is what builds its `String`.
///
/// Sessions come from the handshake halves, [`ServerStart`] and
/// [`ClientStart`], which also hand over the bytes that followed the
/// handshake head; or from [`Session::new`] for a connection upgraded
/// elsewhere.
///
/// # The adapter's loop
///
/// 1. **Input**: read into [`read_buf`](Self::read_buf), then report the
///    count with [`filled`](Self::filled) (or copy bytes in with
///    [`receive`](Self::receive)); a read of 0 bytes is
///    [`receive_eof`](Self::receive_eof).
/// 2. **Items**: call [`poll_message`](Self::poll_message) (whole messages;
///    [`recycle`](Self::recycle) them once done) or
///    [`poll_piece`](Self::poll_piece) (streaming) until `None`. An
///    `Err` is a [`ProtocolError`] by the peer: its Close is queued and
///    the session is finished.
/// 3. **Sends**: [`send`](Self::send), [`send_ping`](Self::send_ping),
///    [`send_close`](Self::send_close)… append frames to the output,
///    compressed when negotiated.
/// 4. **Output**: write [`poll_output`](Self::poll_output) to the
///    transport, then report the count with
///    [`consume_output`](Self::consume_output).
/// 5. **Transport**: after writing, ask [`poll_transport`](Self::poll_transport):
///    keep it open, shut down its write side, or close it.
/// 6. **Time**: sleep until input arrives or [`poll_timeout`](Self::poll_timeout)
///    passes; at that deadline call [`handle_timeout(now)`](Self::handle_timeout).
///
/// # Closing
///
/// [`poll_transport`](Self::poll_transport) follows RFC 6455 §7.1.1: a
/// server shuts down its write side once its Close is sent (and after a
/// failure, either role does, once the failure's Close is written), then
/// reads until the peer closes or `close_timeout` passes. A client whose
/// close handshake is done waits for the server to close the transport
/// first, for at most `close_timeout`.
///
/// # Example: two sessions in memory
///
/// ```
/// use wsmachine::{Config, Connection, Incoming, Message, SecureRandom, Session};
///
/// let mut client = Session::new(Connection::client(Config::default(), SecureRandom::from_seed([3; 32])));
/// let mut server = Session::new(Connection::server(Config::default()));
/// client.send(&Message::text("hello"))?;
/// let wire = client.poll_output().to_vec();
/// client.consume_output(wire.len());
/// server.receive(&wire);
/// assert_eq!(server.poll_message()?, Some(Incoming::Message(Message::text("hello"))));
/// assert_eq!(server.poll_message()?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Session<R: RandomSource = SecureRandom> {
    conn: Connection<R>,
    #[cfg(feature = "deflate")]
    deflate: Option<Box<Deflate>>,
    protocol: Option<String>,

    // --- input ---
    /// `rx[rx_start..rx_end]` was read and not yet fed to the connection;
    /// `rx[..rx_start]` may still back the piece last returned.
    rx: Vec<u8>,
    rx_start: usize,
    rx_end: usize,
    /// The transport ended; reported once the buffered input is used up.
    eof: bool,

    // --- messages ---
    /// The kind of the message in progress (whole, streamed or skipped).
    message_kind: Option<MessageKind>,
    /// The message being assembled (whole mode), and the UTF-8 validation
    /// of the text message in progress in every mode.
    whole: Assembly,
    /// The message in progress is being handed out in pieces.
    streaming: bool,
    /// Drop the rest of the message in progress (whole mode was asked for
    /// in the middle of a streamed message).
    skipping: bool,
    /// Inflated bytes of the piece last returned, or a partly assembled
    /// message handed out as a piece.
    piece: Vec<u8>,
    /// An item found by [`piece_ready`](Self::piece_ready) or
    /// [`message_ready`](Self::message_ready), not yet returned.
    ready: Option<Found>,
    /// Where the `RxMessage` or `RxPiece` found last lies in `rx`.
    found_start: usize,
    found_end: usize,
    /// The piece in `ready` continues a message of which earlier pieces
    /// were handed out (rather than beginning one).
    piece_continues: bool,
    /// The control frame the last `Found::Control` stands for, in a box
    /// kept for the next one while the connection is busy (freed by
    /// `shrink_buffers`).
    control: Option<Box<Control>>,
    /// The assembly buffer holds a message lent by
    /// [`poll_message_ref`](Self::poll_message_ref): cleared (capacity
    /// kept) by the next call.
    lent: bool,
    /// A binary message finished by [`receive`](Self::receive) (`ready` is
    /// then `Found::Done`), so that the assembly buffer can take the next
    /// message's payload before this one is taken. Empty otherwise; its
    /// capacity is kept for the next message.
    done: Vec<u8>,
    /// The same for a text message.
    done_text: String,
    /// `done` holds a message lent by `poll_message_ref`: cleared by the
    /// next call.
    lent_done: bool,
    /// Messages finished by `receive` while the one in `done` waited,
    /// oldest first: each large message of a read goes straight into its
    /// own buffer, not only the first. They all came before anything in
    /// the read buffer, so they are handed out before it is read.
    queued: VecDeque<Message>,
    /// The last call asked for whole messages (rather than pieces): a
    /// message that starts in a read may then be copied straight into the
    /// assembly buffer.
    whole_mode: bool,
    /// The last whole-message call lent its message (`poll_message_ref`):
    /// a frame that ends in its read is then lent from the read buffer.
    lend_mode: bool,

    // --- what ended the connection ---
    /// Reported by the next poll: the end (from a timeout or the EOF).
    /// Boxed: it is set at most once per connection, and inline its
    /// reason's 123 bytes would be in every session.
    pending_close: Option<Box<CloseFrame>>,
    /// Reported by the next poll: a dead peer found by a timer.
    pending_error: Option<ProtocolError>,
    /// The error the session failed with, once reported.
    error: Option<ProtocolError>,
    /// A Close or an error was reported: nothing more comes.
    finished: bool,

    // --- output ---
    /// `out[out_pos..]` is still to be written, with the payloads of
    /// `segments` in between, each at its position.
    out: Vec<u8>,
    out_pos: usize,
    /// Owned payloads queued by `send_owned`, in order (their `at` never
    /// decreasing, the first's at least `out_pos`).
    segments: VecDeque<Segment>,
    /// Bytes of the first segment already written.
    segment_pos: usize,
    /// Bytes of the segments still to be written.
    segment_bytes: usize,

    // --- the transport ---
    /// The connection's close timer gave up on the peer, or a timer found
    /// it dead: the transport is closed once the output is written.
    gave_up: bool,
    /// [`Transport::ShutdownWrite`] was returned.
    write_shut: bool,
    /// When the session started finishing (stamped by the first
    /// `handle_timeout` after it): writing its last output, then, once the
    /// write side is shut down, draining until the peer's end. One
    /// `close_timeout` bounds both, so that a peer that stops reading
    /// cannot hold the connection open with output it never takes.
    drain_since: Option<Instant>,
    /// That `close_timeout` passed: the transport is closed, and any
    /// output still waiting was dropped.
    drain_expired: bool,
    close_timeout: Option<Duration>,
}

impl<R: RandomSource> Session<R> {
    /// A session around a connection that is already open (its handshake
    /// done elsewhere, e.g. an `http` crate upgrade). Hand it the bytes
    /// that followed the handshake head with [`receive`](Self::receive)
    /// before any read.
    pub fn new(mut conn: Connection<R>) -> Self {
        let close_timeout = conn.config().close_timeout;
        conn.leave_text_validation_to_caller();
        Session {
            conn,
            #[cfg(feature = "deflate")]
            deflate: None,
            protocol: None,
            rx: Vec::new(),
            rx_start: 0,
            rx_end: 0,
            eof: false,
            message_kind: None,
            whole: Assembly::default(),
            streaming: false,
            skipping: false,
            piece: Vec::new(),
            ready: None,
            found_start: 0,
            found_end: 0,
            piece_continues: false,
            control: None,
            lent: false,
            done: Vec::new(),
            done_text: String::new(),
            lent_done: false,
            queued: VecDeque::new(),
            whole_mode: false,
            lend_mode: false,
            pending_close: None,
            pending_error: None,
            error: None,
            finished: false,
            out: Vec::new(),
            out_pos: 0,
            segments: VecDeque::new(),
            segment_pos: 0,
            segment_bytes: 0,
            gave_up: false,
            write_shut: false,
            drain_since: None,
            drain_expired: false,
            close_timeout,
        }
    }

    /// A session with permessage-deflate in use (feature `deflate`), for a
    /// connection upgraded elsewhere: `deflate` is built with the
    /// parameters negotiated in the handshake. The connection is made to
    /// let RSV1 through on the first frame of a message, as
    /// [`Deflate::connection_config`] does, whether or not `conn` was
    /// built with it (without, every compressed message failed with 1002).
    #[cfg(feature = "deflate")]
    pub fn with_deflate(mut conn: Connection<R>, deflate: Deflate) -> Self {
        conn.claim_rsv(crate::config::RsvBits::RSV1);
        let mut session = Session::new(conn);
        let mut deflate = Box::new(deflate);
        deflate.leave_text_validation_to_caller();
        session.deflate = Some(deflate);
        session
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Records the subprotocol agreed in the handshake.
    pub fn set_protocol(&mut self, protocol: Option<String>) {
        self.protocol = protocol;
    }

    /// Whether permessage-deflate is in use.
    pub fn is_compressed(&self) -> bool {
        #[cfg(feature = "deflate")]
        let compressed = self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        let compressed = false;
        compressed
    }

    /// The connection underneath (its state, role, configuration).
    pub fn connection(&self) -> &Connection<R> {
        &self.conn
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.conn.role()
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// The connection's limits and timers.
    pub fn config(&self) -> Config {
        self.conn.config()
    }

    /// The protocol error the session failed with, once reported.
    pub fn error(&self) -> Option<ProtocolError> {
        self.error
    }

    /// Whether a Close or an error was reported: no item follows.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    // --- input ---

    /// Room to read into: at least [`READ_CHUNK`] bytes. Report how many
    /// were read with [`filled`](Self::filled).
    ///
    /// Call it only after polling returned `None` (everything buffered was
    /// used), so the buffer never holds more than one read's worth.
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.compact_input();
        if self.rx.len() < self.rx_end + READ_CHUNK {
            self.rx.resize(self.rx_end + READ_CHUNK, 0);
        }
        &mut self.rx[self.rx_end..]
    }

    /// Moves the input still needed to the front of the read buffer.
    fn compact_input(&mut self) {
        let keep = match self.ready {
            Some(Found::RxPiece { .. } | Found::RxMessage(_)) => self.found_start.min(self.rx_start),
            _ => self.rx_start,
        };
        if keep > 0 {
            // Usually every byte was used: the move would be a call to
            // `memmove` for nothing, once per read.
            if keep < self.rx_end {
                self.rx.copy_within(keep..self.rx_end, 0);
            }
            self.rx_end -= keep;
            self.rx_start -= keep;
            if let Some(Found::RxPiece { .. } | Found::RxMessage(_)) = self.ready {
                self.found_start -= keep;
                self.found_end -= keep;
            }
        }
    }

    /// Reports that `n` bytes were read into [`read_buf`](Self::read_buf).
    ///
    /// When nothing else was buffered, whole messages are taken from the
    /// read as [`receive`](Self::receive) takes them: a large frame's
    /// payload is unmasked on its way into its message, once, rather than
    /// unmasked where it lies and then copied.
    pub fn filled(&mut self, n: usize) {
        let start = self.rx_end;
        let end = (start + n).min(self.rx.len());
        if self.rx_start == start && end > start {
            // The read buffer is lent to the direct path and back; the
            // path only reads the bytes given to it.
            let rx = core::mem::take(&mut self.rx);
            let rest = self.receive_into_message(&rx[start..end]).len();
            self.rx = rx;
            self.rx_start = end - rest;
        }
        self.rx_end = end;
    }

    /// Copies bytes read elsewhere into the session: the bytes that
    /// followed the handshake head, or reads made into the caller's own
    /// buffer. The read buffer grows by what `bytes` needs, no more.
    pub fn receive(&mut self, bytes: &[u8]) {
        let bytes = self.receive_into_message(bytes);
        if bytes.is_empty() {
            return;
        }
        self.compact_input();
        self.rx.truncate(self.rx_end);
        crate::copy::extend(&mut self.rx, bytes);
        self.rx_end = self.rx.len();
    }

    /// Whole mode, with no other input buffered: the payload of an
    /// uncompressed message's frame at the start of `bytes` goes straight
    /// into the assembly buffer instead of through the read buffer (one copy
    /// fewer): binary is copied in and unmasked there by the connection,
    /// text is unmasked a block at a time and validated into the `String`.
    /// That holds for the rest of a frame in progress and for the frames
    /// [`start_frame_directly`](Self::start_frame_directly) takes (their
    /// header goes to the connection first), one after another while each
    /// finished message can wait in `done` or behind it in `queued`.
    /// Returns the bytes left for the read buffer.
    #[inline]
    fn receive_into_message<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        // The usual read of a small message: a whole frame too short to
        // take directly, seen from its length field alone.
        if self.conn.between_frames() && is_small_and_whole(bytes) {
            return bytes;
        }
        self.take_into_message(bytes)
    }

    /// The body of [`receive_into_message`](Self::receive_into_message).
    fn take_into_message<'b>(&mut self, mut bytes: &'b [u8]) -> &'b [u8] {
        let idle = !self.streaming
            && !self.skipping
            && !self.lent
            && !self.lent_done
            && !self.finished
            && !self.eof
            && matches!(self.ready, None | Some(Found::Done(_)))
            && self.pending_error.is_none()
            && self.pending_close.is_none()
            && self.rx_start == self.rx_end
            && !self.is_compressed();
        if !idle {
            return bytes;
        }
        loop {
            if let Some(kind) = self.message_kind.filter(|_| self.conn.data_payload_remaining() > 0) {
                let rest = self.payload_into_message(kind, bytes);
                if rest.len() == bytes.len() || self.pending_error.is_some() {
                    return rest; // left to the read buffer, or failed
                }
                bytes = rest;
                continue;
            }
            match self.start_frame_directly(bytes) {
                Some(used) => bytes = &bytes[used..],
                // After a refused header the rest is never read.
                None if self.pending_error.is_some() => return &[],
                None => return bytes,
            }
        }
    }

    /// The frame in progress's payload at the start of `bytes`, into the
    /// assembly buffer (see [`receive_into_message`](Self::receive_into_message)).
    fn payload_into_message<'b>(&mut self, kind: MessageKind, bytes: &'b [u8]) -> &'b [u8] {
        let remaining = self.conn.data_payload_remaining();
        let n = usize::try_from(remaining).map_or(bytes.len(), |r| r.min(bytes.len()));
        if n == 0 || (n as u64 == remaining && !self.may_finish_another(self.conn.message_announced_len())) {
            // Nothing to take, or it would finish a message when no more
            // can wait: the read buffer keeps it for later.
            return bytes;
        }
        let (payload, rest) = bytes.split_at(n);
        let limit = self.conn.max_message_size();
        let announced = self.conn.message_announced_len();
        let fin = match kind {
            MessageKind::Binary => {
                // Unmasked as it is copied in; the connection only counts
                // the bytes (at most the frame's remaining payload).
                let Some((key, fin)) = self.conn.take_payload(n) else { return bytes };
                if let Err(e) = self.whole.push_masked(payload, key, announced, limit) {
                    self.pending_error = Some(e); // reported by the next poll
                    return &[];
                }
                fin
            }
            MessageKind::Text => {
                // Text must be unmasked before it is validated into the
                // `String`: it is unmasked as it is copied into a scratch
                // block small enough to stay in L1, validated there and
                // appended, so the bytes reach memory once. The connection
                // only counts them, as for binary.
                let Some((key, fin)) = self.conn.take_payload(n) else { return bytes };
                let mut scratch = [0u8; TEXT_BLOCK];
                let mut copied = 0;
                for block in payload.chunks(TEXT_BLOCK) {
                    let scratch = &mut scratch[..block.len()];
                    // Blocks are a multiple of 4 bytes: each starts at the
                    // key's phase for the first.
                    match key {
                        Some(key) => crate::mask::copy_masked(scratch, block, key),
                        None => crate::copy::copy(scratch, block),
                    }
                    copied += block.len();
                    let last = fin && copied == payload.len();
                    if let Err(e) = self.whole.push(kind, scratch, last, announced, limit) {
                        self.pending_error = Some(e);
                        return &[];
                    }
                }
                fin
            }
        };
        if fin {
            self.finish_direct(kind);
        }
        rest
    }

    /// Whether the direct path may finish a message of `len` bytes now:
    /// nothing waits, or only finished messages do, the queue has room and
    /// the message is larger than a kept buffer ([`SPARE_MAX`]), which it
    /// could not have been received in anyway (a smaller one waits in the
    /// read buffer, so that it takes the kept buffer when its turn comes).
    fn may_finish_another(&self, len: u64) -> bool {
        match self.ready {
            None if self.queued.is_empty() => true,
            None | Some(Found::Done(_)) => len > SPARE_MAX as u64 && self.queued.len() < QUEUED_MAX,
            Some(_) => false,
        }
    }

    /// A message received straight into the assembly buffer is complete.
    fn finish_direct(&mut self, kind: MessageKind) {
        self.message_kind = None;
        if self.ready.is_some() || !self.queued.is_empty() {
            // Another finished message waits: this one queues behind it,
            // in its own buffer.
            self.queued.push_back(match kind {
                MessageKind::Binary => Message::Binary(core::mem::take(&mut self.whole.binary)),
                MessageKind::Text => Message::Text(core::mem::take(&mut self.whole.text)),
            });
            return;
        }
        let len = self.whole.binary.len() + self.whole.text.len();
        if len > DONE_ASIDE_MAX {
            // Two large buffers in turn would push each other out of the
            // cache: the next message waits in the read buffer instead, and
            // this one stays where it is.
            self.ready = Some(Found::Message(kind));
            return;
        }
        // Handed to `done`, so that the assembly buffer (with the capacity
        // `done` had) can take the next message.
        match kind {
            MessageKind::Binary => {
                self.done.clear();
                core::mem::swap(&mut self.whole.binary, &mut self.done);
            }
            MessageKind::Text => {
                self.done_text.clear();
                core::mem::swap(&mut self.whole.text, &mut self.done_text);
            }
        }
        self.ready = Some(Found::Done(kind));
    }

    /// When nothing is ready, the oldest queued message moves to `done`
    /// (a lent one there is dropped first): it comes before anything else.
    fn next_queued(&mut self) {
        if self.ready.is_some() {
            return;
        }
        let Some(message) = self.queued.pop_front() else { return };
        self.lent_done = false;
        self.ready = Some(match message {
            Message::Binary(data) => {
                self.done = data;
                Found::Done(MessageKind::Binary)
            }
            Message::Text(text) => {
                self.done_text = text;
                Found::Done(MessageKind::Text)
            }
        });
    }

    /// Between frames, after whole messages were asked for: when `bytes`
    /// starts with the whole header of an uncompressed data frame (a new
    /// message, or the next frame of the message in progress) whose
    /// payload goes on past `bytes` (or, for owned messages, a large frame
    /// that ends in it), hands the header to the connection and returns its
    /// length, so that the payload can go straight into the assembly
    /// buffer. Other frames stay in the read buffer, where a lent message
    /// that arrived in one read needs no copy at all.
    fn start_frame_directly(&mut self, bytes: &[u8]) -> Option<usize> {
        if !self.whole_mode || !self.conn.between_frames() {
            return None;
        }
        if !matches!(self.ready, None | Some(Found::Done(_))) {
            return None; // the assembly buffer holds a finished message
        }
        let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(bytes) else { return None };
        let expected = match (self.message_kind, header.opcode) {
            (None, OpCode::Binary) => Some(MessageKind::Binary),
            (None, OpCode::Text) => Some(MessageKind::Text),
            (Some(_), OpCode::Continuation) => self.message_kind,
            _ => None,
        };
        let kind = expected?;
        let arrived = (bytes.len() - len) as u64;
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return None;
        }
        // A frame that ends in this read: lent, it needs no copy from the
        // read buffer; owned, a large one is copied once, into its message,
        // instead of twice; while finished messages wait, it may finish
        // another only to queue it behind them.
        let ends_here = header.payload_len <= arrived;
        if ends_here
            && (self.lend_mode || header.payload_len < DIRECT_MIN || !self.may_finish_another(header.payload_len))
        {
            return None;
        }
        let mut head = [0u8; MAX_HEADER_LEN];
        let head = &mut head[..len];
        head.copy_from_slice(&bytes[..len]);
        // The header alone: the connection takes it all and expects the
        // payload (a frame with a payload completes no event here).
        if let Err(e) = self.conn.receive(head) {
            self.pending_error = Some(e); // reported by the next poll
            return None;
        }
        if self.message_kind.is_none() {
            self.whole.utf8.reset(); // a new message
            self.message_kind = Some(kind);
        }
        Some(len)
    }

    /// A whole message found by [`receive`](Self::receive), asked for in
    /// pieces: it becomes the last piece.
    fn ready_message_as_piece(&mut self) {
        if let Some(Found::RxMessage(MessageKind::Binary)) = self.ready {
            // Found by `message_ready`, which leaves only binary there.
            self.ready = Some(Found::RxPiece { kind: MessageKind::Binary, fin: true });
            self.piece_continues = false;
        }
        if let Some(Found::Done(kind)) = self.ready {
            self.piece.clear();
            match kind {
                MessageKind::Binary => core::mem::swap(&mut self.piece, &mut self.done),
                MessageKind::Text => {
                    crate::copy::extend(&mut self.piece, self.done_text.as_bytes());
                    self.done_text.clear();
                }
            }
            self.ready = Some(Found::BufPiece { kind, fin: true });
            self.piece_continues = false;
        }
        if let Some(Found::Message(kind)) = self.ready {
            self.piece.clear();
            match kind {
                MessageKind::Binary => core::mem::swap(&mut self.piece, &mut self.whole.binary),
                MessageKind::Text => {
                    crate::copy::extend(&mut self.piece, self.whole.text.as_bytes());
                    self.whole.text.clear();
                }
            }
            self.ready = Some(Found::BufPiece { kind, fin: true });
            self.piece_continues = false;
        }
    }

    /// Reports that the transport ended (a read returned 0). Bytes still
    /// buffered are delivered first; then, if the peer's Close never came,
    /// a Close with code 1006.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Frees the buffers that hold nothing now: the read buffer once its
    /// input is used, the output buffer once it is written, the piece
    /// buffer once its piece was returned. Call it when the transport has
    /// nothing to read, so that an idle connection holds no buffer; the
    /// next read or send allocates what it needs.
    pub fn shrink_buffers(&mut self) {
        if self.lent {
            self.whole.clear();
            self.lent = false;
        }
        if self.lent_done || self.ready.is_none() {
            self.done = Vec::new();
            self.done_text = String::new();
            self.lent_done = false;
        }
        if self.rx_start == self.rx_end && self.ready.is_none() {
            self.rx = Vec::new();
            self.rx_start = 0;
            self.rx_end = 0;
        }
        if self.out_pos == self.out.len() {
            self.out = Vec::new();
            self.out_pos = 0;
        }
        if self.segments.is_empty() {
            self.segments = VecDeque::new();
        }
        if self.queued.is_empty() {
            self.queued = VecDeque::new();
        }
        if self.ready.is_none() {
            self.piece = Vec::new();
            self.control = None;
        }
        if self.whole.is_empty() {
            self.whole.binary = Vec::new();
            self.whole.text = String::new();
        }
        self.whole.free_spare();
    }

    /// The bytes the session's buffers hold allocated (their capacity): the
    /// read buffer, the output buffer and the payloads queued after it, and
    /// the buffers messages are assembled in. 0 for a session that holds
    /// no buffer, as after [`shrink_buffers`](Self::shrink_buffers) once
    /// everything was read and written. For an adapter that decides when
    /// to shrink, and for tests of it.
    pub fn buffer_capacity(&self) -> usize {
        let segments = self.segments.capacity() * core::mem::size_of::<Segment>()
            + self.segments.iter().map(|segment| segment.data.capacity()).sum::<usize>();
        self.rx.capacity()
            + self.out.capacity()
            + segments
            + self.piece.capacity()
            + self.whole.binary.capacity()
            + self.whole.text.capacity()
            + self.whole.spare_capacity()
            + self.done.capacity()
            + self.done_text.capacity()
            + self.queued.capacity() * core::mem::size_of::<Message>()
            + self
                .queued
                .iter()
                .map(|message| match message {
                    Message::Binary(data) => data.capacity(),
                    Message::Text(text) => text.capacity(),
                })
                .sum::<usize>()
    }

    // --- items ---

    /// The next item, with data messages whole (inflated when compressed),
    /// or `None` when the buffered input is used up: read more.
    ///
    /// Messages are limited to `Config::max_message_size`. A message whose
    /// first pieces were taken with [`poll_piece`](Self::poll_piece) is
    /// finished in pieces: here its rest is skipped. A piece that
    /// [`piece_ready`](Self::piece_ready) found and nobody took was not
    /// handed out: the message it begins comes whole.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the peer broke the protocol, a limit was
    /// exceeded or a timer found the peer dead. The Close with its code and
    /// [reason](ProtocolError::reason) is queued in the output and the session is finished: later calls
    /// return `Ok(None)`, and [`poll_transport`](Self::poll_transport)
    /// leads the transport to its end. So do not leave the connection on
    /// the error (`poll_message()?` out of the loop that writes): write
    /// the output first, or the peer gets no Close and reports 1006.
    // Always inline: called from an adapter's own function, its large
    // result went back through memory, written in pieces that the
    // adapter's wider loads straddled, and the processor waited for
    // those stores at every message. `#[inline]` alone left it out of
    // line in wsmachine-tokio. What is inlined is this shell: the item
    // loop stays one call, whose answer comes back in a register.
    #[inline(always)]
    pub fn poll_message(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        if self.finds_nothing(false) {
            return Ok(None);
        }
        let Some(found) = self.next_whole(false)? else { return Ok(None) };
        // A message leaves by its own return: when the arms built one
        // `Incoming` together, every message was copied out through a
        // temporary with room for a control payload (about 130 bytes).
        let message = match found {
            // The buffer is handed over; the next message gets a new one.
            // Text was validated as it arrived.
            Found::Message(MessageKind::Binary) => Message::Binary(core::mem::take(&mut self.whole.binary)),
            Found::Done(MessageKind::Binary) => Message::Binary(core::mem::take(&mut self.done)),
            Found::Done(MessageKind::Text) => Message::Text(core::mem::take(&mut self.done_text)),
            Found::Message(MessageKind::Text) => Message::Text(core::mem::take(&mut self.whole.text)),
            Found::Control => return Ok(self.control_incoming()),
            // Found by `message_ready` and taken owned after all.
            Found::RxMessage(kind) => self.rx_message_owned(kind)?,
            // Not produced for owned messages.
            Found::RxPiece { .. } | Found::BufPiece { .. } | Found::SoFar(_) => return Ok(None),
        };
        Ok(Some(Incoming::Message(message)))
    }

    /// A message left in the read buffer by
    /// [`message_ready`](Self::message_ready), copied out (text validated
    /// as it is). Out of line: the owned loop never finds such a message.
    #[cold]
    #[inline(never)]
    fn rx_message_owned(&mut self, kind: MessageKind) -> Result<Message, ProtocolError> {
        let data = self.found_bytes();
        match kind {
            MessageKind::Binary => Ok(Message::Binary(crate::copy::to_vec(data))),
            MessageKind::Text => match crate::utf8::as_str(data) {
                Some(text) => Ok(Message::Text(text.into())),
                None => Err(self.fail(ProtocolError::InvalidUtf8)),
            },
        }
    }

    /// The control frame found last, as an owned item.
    fn control_incoming(&self) -> Option<Incoming> {
        Some(match *self.control.as_deref()? {
            Control::Ping(p) => Incoming::Ping(p),
            Control::Pong(p) => Incoming::Pong(p),
            Control::Close(c) => Incoming::Close(c),
        })
    }

    /// What the whole-message calls hand out next: a piece found earlier
    /// and not taken goes back to its message, a message in progress as
    /// pieces is skipped, then the item found earlier or the next one
    /// (`lend`: may stay in the read buffer).
    fn next_whole(&mut self, lend: bool) -> Result<Option<Found>, ProtocolError> {
        self.whole_mode = true;
        self.lend_mode = lend;
        if self.streaming && self.message_kind.is_some() {
            self.skipping = true;
            self.streaming = false;
        }
        if let Some(Found::RxPiece { .. } | Found::BufPiece { .. } | Found::SoFar(_)) = self.ready {
            self.ready_piece_as_message()?;
        }
        self.next_queued();
        // Emptied only when it holds an item, as `advance` does with
        // `pending_error`: `take` writes `None` back on every call (up to
        // 3 % of a small message's time in the owned, recycled and
        // streaming loops of `benches/message_instructions.sh`).
        match self.ready {
            Some(found) => {
                self.ready = None;
                Ok(Some(found))
            }
            None if lend => self.advance::<false, true>(),
            None => self.advance::<false, false>(),
        }
    }

    /// Whether a whole-message call finds nothing, known without the item
    /// loop: the read buffer is used up and nothing was found earlier,
    /// queued or left to settle (an error or a Close to report, the end of
    /// input, or a message in progress as pieces, which the loop skips).
    /// Then a message lent before is released and the call's mode is noted,
    /// as [`next_whole`](Self::next_whole) would.
    ///
    /// Adapters ask once more after each message, and in a
    /// request-and-reply exchange that second call, through the item
    /// loop, cost about as much as the message's own bookkeeping; after a
    /// message lent from a buffer the session keeps, it went through the
    /// loop only to release that buffer (about 70 instructions of a lent
    /// 16-byte text message's 590, one per read).
    #[inline]
    fn finds_nothing(&mut self, lend: bool) -> bool {
        let nothing = !self.has_unread_input() && !self.streaming;
        if nothing {
            self.release_lent();
            self.whole_mode = true;
            self.lend_mode = lend;
        }
        nothing
    }

    /// Empties the buffer the last message was lent from, if it was lent
    /// from one the session keeps: the next call's borrow of the session
    /// ended its loan.
    #[inline]
    fn release_lent(&mut self) {
        if self.lent {
            self.whole.clear();
            self.lent = false;
        }
        if self.lent_done {
            self.done.clear();
            self.done_text.clear();
            self.lent_done = false;
        }
    }

    /// A piece [`piece_ready`](Self::piece_ready) found, asked for by a
    /// whole-message call instead of `poll_piece`. When it begins its
    /// message, nothing of that message was handed out: the message is
    /// whole after all (found, when the piece ends it; assembled from the
    /// piece on, when more follows; `next_whole` took it for a streamed
    /// message and marked it skipped, which is undone here). When earlier
    /// pieces were handed out, it is dropped, as the rest of that message
    /// is.
    #[cold]
    #[inline(never)]
    fn ready_piece_as_message(&mut self) -> Result<(), ProtocolError> {
        let ready = self.ready.take();
        if self.piece_continues {
            return Ok(());
        }
        // The first piece of a message that goes on: the assembly buffer
        // (empty, or the piece would be `SoFar`) takes it, validated again
        // from the message's start, and goes on with the message.
        let (kind, first) = match ready {
            Some(Found::RxPiece { kind, fin: true }) => {
                // Still where it was unmasked: found as such a message is.
                self.ready = Some(Found::RxMessage(kind));
                return Ok(());
            }
            Some(Found::BufPiece { kind, fin: true }) => {
                // A whole message asked for as a piece, or inflated in one
                // piece: it waits in `done`, as a finished message does
                // (the assembly buffer may already hold the next one).
                let piece = core::mem::take(&mut self.piece);
                match kind {
                    MessageKind::Binary => self.done = piece,
                    MessageKind::Text => match String::from_utf8(piece) {
                        Ok(text) => self.done_text = text,
                        Err(_) => return Err(self.fail(ProtocolError::InvalidUtf8)),
                    },
                }
                self.lent_done = false;
                self.ready = Some(Found::Done(kind));
                return Ok(());
            }
            Some(Found::SoFar(_)) => {
                // Still in the assembly buffer, which goes on with it.
                self.skipping = false;
                return Ok(());
            }
            Some(Found::RxPiece { kind, fin: false }) => {
                (kind, self.rx.get(self.found_start..self.found_end).unwrap_or(&[]))
            }
            // An inflated piece.
            Some(Found::BufPiece { kind, fin: false }) => (kind, &self.piece[..]),
            _ => return Ok(()),
        };
        self.whole.clear();
        let limit = self.conn.max_message_size();
        if let Err(e) = self.whole.push(kind, first, false, 0, limit) {
            return Err(self.fail(e));
        }
        self.piece.clear();
        self.skipping = false;
        Ok(())
    }

    /// Processes buffered input until [`poll_message_ref`](Self::poll_message_ref)
    /// has an item, without borrowing the session: returns whether it has
    /// one, and [`has_message`](Self::has_message) whether that item is a
    /// data message. For adapters whose read loop cannot hold the
    /// message's borrow while it handles pings, pongs and the Close: they
    /// loop on this, take control items with
    /// [`poll_message`](Self::poll_message), and lend the message with
    /// `poll_message_ref` once the loop is done.
    ///
    /// A binary message that arrived in one read stays where it was
    /// unmasked, in the read buffer; a text one is validated here, as it
    /// is copied into a buffer the session keeps (so that this call, not
    /// the one that lends it, reports invalid UTF-8). Either is lent with
    /// no allocation. A message found here may also be taken owned, with
    /// `poll_message`.
    ///
    /// ```
    /// use wsmachine::{Config, Connection, IncomingRef, Session};
    ///
    /// let mut session = Session::new(Connection::server(Config::default()));
    /// // A ping, then a masked text message "Hello" (RFC 6455, section 5.7).
    /// session.receive(&[0x89, 0x80, 1, 2, 3, 4]);
    /// session.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// let mut pings = 0;
    /// while session.message_ready()? && !session.has_message() {
    ///     session.poll_message()?; // the ping (its pong is queued)
    ///     pings += 1;
    /// }
    /// assert_eq!(pings, 1);
    /// assert_eq!(session.poll_message_ref()?, Some(IncomingRef::Text("Hello")));
    /// # Ok::<(), wsmachine::ProtocolError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`poll_message`](Self::poll_message).
    pub fn message_ready(&mut self) -> Result<bool, ProtocolError> {
        if self.finds_nothing(true) {
            return Ok(false);
        }
        // Found as `poll_message_ref` finds it (the one caller of the
        // lending loop, which is then inlined there), and kept.
        self.ready = self.next_whole(true)?;
        if let Some(Found::RxMessage(MessageKind::Text)) = self.ready {
            // Validated now, into the assembly buffer (kept from the last
            // message lent from it): lending it from the read buffer would
            // validate it a second time, to make its `&str`.
            if let Err(e) = self.whole.set_text(self.rx.get(self.found_start..self.found_end).unwrap_or(&[])) {
                return Err(self.fail(e));
            }
            self.ready = Some(Found::Message(MessageKind::Text));
        }
        Ok(self.ready.is_some())
    }

    /// Whether the session holds input it has not handed out: bytes
    /// received and not yet decoded, an item found ahead or a message
    /// finished and queued, or an end found by a timer still to report.
    /// Once the input ended ([`receive_eof`](Self::receive_eof)) it stays
    /// `true`, also after the polls reported the end. When it is `false`,
    /// [`poll_message`](Self::poll_message),
    /// [`poll_message_ref`](Self::poll_message_ref) and
    /// [`poll_piece`](Self::poll_piece) return `Ok(None)` until the next
    /// [`receive`](Self::receive), [`filled`](Self::filled),
    /// [`receive_eof`](Self::receive_eof) or
    /// [`handle_timeout`](Self::handle_timeout).
    ///
    /// A runtime that gathers the replies to the messages of one read into
    /// one write asks it after taking a message: with nothing unread, no
    /// other message can come before the next read, and the reply need not
    /// wait (wsmachine-tokio then reads no clock for the reply's window).
    ///
    /// ```
    /// use wsmachine::{Config, Connection, Incoming, Message, Session};
    ///
    /// let mut server = Session::new(Connection::server(Config::default()));
    /// assert!(!server.has_unread_input());
    /// // Two masked text frames, "a" and "b", in one read.
    /// server.receive(&[0x81, 0x81, 0, 0, 0, 0, b'a', 0x81, 0x81, 0, 0, 0, 0, b'b']);
    /// assert!(server.has_unread_input());
    /// assert_eq!(server.poll_message()?, Some(Incoming::Message(Message::text("a"))));
    /// assert!(server.has_unread_input(), "\"b\" is still to come");
    /// assert_eq!(server.poll_message()?, Some(Incoming::Message(Message::text("b"))));
    /// assert!(!server.has_unread_input());
    /// assert_eq!(server.poll_message()?, None);
    /// # Ok::<(), wsmachine::ProtocolError>(())
    /// ```
    #[inline]
    pub fn has_unread_input(&self) -> bool {
        self.rx_start != self.rx_end
            || self.ready.is_some()
            || !self.queued.is_empty()
            || self.eof
            || self.pending_error.is_some()
            || self.pending_close.is_some()
    }

    /// Whether the item [`message_ready`](Self::message_ready) found is a
    /// data message (rather than a ping, a pong or a Close).
    pub fn has_message(&self) -> bool {
        matches!(self.ready, Some(Found::Message(_) | Found::Done(_) | Found::RxMessage(_)))
    }

    /// The next item as [`poll_message`](Self::poll_message) finds it, with
    /// the message lent instead of handed over: no allocation per message.
    /// A message that arrived in one read is lent from the read buffer
    /// where it was unmasked (no copy; its text validated in place); a
    /// longer one is assembled in a buffer the session keeps and reuses.
    /// The borrow ends at the next call; copy what must be kept (or take
    /// owned messages from `poll_message`, which costs one allocation per
    /// message).
    ///
    /// # Errors
    ///
    /// As [`poll_message`](Self::poll_message).
    // Always inline, as `poll_message` and for the same reason: the
    // lent slice came back through memory in two 8-byte stores that the
    // adapter's `lend` read as one 16-byte load.
    #[inline(always)]
    pub fn poll_message_ref(&mut self) -> Result<Option<IncomingRef<'_>>, ProtocolError> {
        let found = match self.ready {
            // What `message_ready` found, as the adapters' lending receives
            // ask for it: `next_whole(true)` would note the mode and take
            // it, nothing more.
            Some(found @ (Found::Message(_) | Found::Done(_) | Found::RxMessage(_) | Found::Control))
                if !self.streaming =>
            {
                self.whole_mode = true;
                self.lend_mode = true;
                self.ready = None;
                found
            }
            _ => {
                if self.finds_nothing(true) {
                    return Ok(None);
                }
                let Some(found) = self.next_whole(true)? else { return Ok(None) };
                found
            }
        };
        Ok(Some(match found {
            Found::Control => match self.control.as_deref() {
                Some(&Control::Ping(p)) => IncomingRef::Ping(p),
                Some(&Control::Pong(p)) => IncomingRef::Pong(p),
                Some(&Control::Close(c)) => IncomingRef::Close(c),
                None => return Ok(None),
            },
            Found::Done(kind) => {
                self.lent_done = true;
                match kind {
                    MessageKind::Binary => IncomingRef::Binary(&self.done),
                    MessageKind::Text => IncomingRef::Text(&self.done_text),
                }
            }
            Found::Message(kind) => {
                self.lent = true;
                match kind {
                    MessageKind::Binary => IncomingRef::Binary(&self.whole.binary),
                    MessageKind::Text => IncomingRef::Text(&self.whole.text),
                }
            }
            Found::RxMessage(MessageKind::Binary) => IncomingRef::Binary(self.found_bytes()),
            Found::RxMessage(MessageKind::Text) => {
                // The one validation of this message, which makes the `&str`.
                match crate::utf8::as_str(self.rx.get(self.found_start..self.found_end).unwrap_or(&[])) {
                    Some(text) => IncomingRef::Text(text),
                    None => {
                        let e = fail_with(
                            &mut self.conn,
                            &mut self.out,
                            &mut self.whole,
                            &mut self.error,
                            &mut self.finished,
                            &mut self.ready,
                            ProtocolError::InvalidUtf8,
                        );
                        return Err(e);
                    }
                }
            }
            // Not produced for whole messages.
            Found::RxPiece { .. } | Found::BufPiece { .. } | Found::SoFar(_) => return Ok(None),
        }))
    }

    /// The next item, with data messages in pieces as they arrive, or
    /// `None` when the buffered input is used up: read more.
    ///
    /// Uncompressed pieces borrow the read buffer (no copy); compressed
    /// ones come out of the inflater. A message partly assembled by
    /// [`poll_message`](Self::poll_message) continues here, its bytes so
    /// far as the first piece.
    ///
    /// # Errors
    ///
    /// As [`poll_message`](Self::poll_message).
    pub fn poll_piece(&mut self) -> Result<Option<Streamed<'_>>, ProtocolError> {
        self.whole_mode = false;
        self.next_queued();
        self.ready_message_as_piece();
        // Emptied only when it holds an item (see `next_whole`).
        let found = match self.ready {
            Some(found) => {
                self.ready = None;
                found
            }
            None => match self.advance::<true, false>()? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        Ok(Some(match found {
            Found::Control => match self.control.as_deref() {
                Some(&Control::Ping(p)) => Streamed::Ping(p),
                Some(&Control::Pong(p)) => Streamed::Pong(p),
                Some(&Control::Close(c)) => Streamed::Close(c),
                None => return Ok(None),
            },
            Found::RxPiece { kind, fin } => Streamed::Piece(Piece { kind, data: self.found_bytes(), fin }),
            Found::BufPiece { kind, fin } => Streamed::Piece(Piece { kind, data: &self.piece, fin }),
            Found::SoFar(kind) => {
                self.take_so_far(kind);
                Streamed::Piece(Piece { kind, data: &self.piece, fin: false })
            }
            // Not produced in streaming mode.
            Found::Message(_) | Found::Done(_) | Found::RxMessage(_) => return Ok(None),
        }))
    }

    /// Processes buffered input until [`poll_piece`](Self::poll_piece) has
    /// an item, without borrowing the session: returns whether it has one.
    /// For adapters whose read loop cannot hold the piece's borrow.
    ///
    /// A piece found here stays found until it is taken. Asked for by a
    /// whole-message call instead, it is not lost: when it begins its
    /// message, that message comes whole; when it continues one whose
    /// first pieces were taken, it is skipped with the rest of that
    /// message, as `poll_message` documents.
    ///
    /// ```
    /// use wsmachine::{Config, Connection, Incoming, Message, Session};
    ///
    /// let mut session = Session::new(Connection::server(Config::default()));
    /// // A masked text message "Hello" (RFC 6455, section 5.7).
    /// session.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// assert!(session.piece_ready()? && session.has_piece());
    /// assert_eq!(session.poll_message()?, Some(Incoming::Message(Message::text("Hello"))));
    /// # Ok::<(), wsmachine::ProtocolError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`poll_message`](Self::poll_message).
    pub fn piece_ready(&mut self) -> Result<bool, ProtocolError> {
        self.whole_mode = false;
        self.next_queued();
        self.ready_message_as_piece();
        if self.ready.is_none() {
            // Pieces of the message in progress were handed out: a piece
            // found now continues it (see `ready_piece_as_message`).
            self.piece_continues = self.streaming;
            self.ready = self.advance::<true, false>()?;
        }
        Ok(self.ready.is_some())
    }

    /// Whether the item [`piece_ready`](Self::piece_ready) found is a
    /// piece of a message (rather than a ping, a pong or a Close).
    pub fn has_piece(&self) -> bool {
        matches!(self.ready, Some(Found::RxPiece { .. } | Found::BufPiece { .. } | Found::SoFar(_)))
    }

    /// The bytes of the `RxMessage` or `RxPiece` found last, in `rx`.
    #[inline]
    fn found_bytes(&self) -> &[u8] {
        self.rx.get(self.found_start..self.found_end).unwrap_or(&[])
    }

    /// Moves what the assembly buffer holds of the message in progress into
    /// the piece buffer, to be handed out as its first piece (with the
    /// bytes of an unfinished character: the next piece completes it).
    fn take_so_far(&mut self, kind: MessageKind) {
        self.piece.clear();
        match kind {
            MessageKind::Binary => core::mem::swap(&mut self.piece, &mut self.whole.binary),
            MessageKind::Text => {
                crate::copy::extend(&mut self.piece, self.whole.text.as_bytes());
                self.piece.extend_from_slice(self.whole.utf8.pending());
                self.whole.text.clear();
            }
        }
    }

    /// Feeds buffered input to the connection until an item is complete:
    /// a piece (`PIECES`) or a whole message, which may be lent from the
    /// read buffer (`LEND`). Each mode is its own copy of this loop, so
    /// that none pays for another's branches.
    ///
    /// [`finds_nothing`](Self::finds_nothing) answers for the whole-message
    /// modes when this loop would only settle nothing and find nothing: a
    /// state this loop comes to settle before it reads belongs in that
    /// check too.
    fn advance<const PIECES: bool, const LEND: bool>(&mut self) -> Result<Option<Found>, ProtocolError> {
        let (pieces, lend) = (PIECES, LEND);
        self.piece.clear();
        self.release_lent();
        // Emptied only when it holds an error: `take` would write `None`
        // back on every call, a narrower store than the next call's read
        // of the slot, which then waits for the store to complete.
        if let Some(e) = self.pending_error {
            self.pending_error = None;
            return Err(self.fail(e));
        }
        if let Some(close) = self.pending_close.take() {
            self.finished = true;
            return Ok(Some(self.found_control(Control::Close(*close))));
        }
        if self.finished {
            self.rx_start = self.rx_end;
            return Ok(None);
        }
        if pieces && !self.streaming {
            if let Some(kind) = self.message_kind.filter(|_| !self.whole.is_empty()) {
                // Whole mode began this message: what it holds is the
                // first piece. (Streaming begins with a piece that holds
                // something: until then, nothing was handed out.)
                self.streaming = true;
                return Ok(Some(Found::SoFar(kind)));
            }
        }
        loop {
            if self.rx_start == self.rx_end {
                return Ok(self.end_of_input());
            }
            // Owned whole messages of a 16-bit length, or short and
            // masked (seen from the first two bytes alone): see
            // `frame_into_message`.
            if !pieces
                && !lend
                && !self.skipping
                && self.message_kind.is_none()
                && self.rx_start + 1 < self.rx_end
                && takes_frame_into_message(self.rx[self.rx_start], self.rx[self.rx_start + 1])
            {
                if let Some(kind) = self.frame_into_message()? {
                    return Ok(Some(Found::Message(kind)));
                }
            }
            // Lent messages the same way: see `frame_lent`.
            if !pieces
                && lend
                && !self.skipping
                && self.message_kind.is_none()
                && self.rx_start + 1 < self.rx_end
                && lends_frame_directly(self.rx[self.rx_start], self.rx[self.rx_start + 1])
            {
                if let Some(found) = self.frame_lent()? {
                    return Ok(Some(found));
                }
            }
            let end = if pieces && self.is_compressed() {
                self.rx_end.min(self.rx_start + COMPRESSED_STREAM_INPUT)
            } else {
                self.rx_end
            };
            let base = self.rx.as_ptr() as usize;
            // Read where the connection wrote it: moving the result out
            // copies the whole `Event` (a control payload's room
            // included), which costs as much as the rest of a small
            // message's bookkeeping here.
            let result = self.conn.receive(&mut self.rx[self.rx_start..end]);
            let received = match &result {
                Ok(received) => received,
                Err(e) => {
                    let e = *e;
                    return Err(self.fail(e));
                }
            };
            self.rx_start += received.consumed;
            let Some(event) = &received.event else { continue };
            let (kind, data, fin) = match *event {
                Event::Ping(p) => return Ok(Some(self.control(Control::Ping(p)))),
                Event::Pong(p) => return Ok(Some(self.control(Control::Pong(p)))),
                Event::Close(c) => return Ok(Some(self.control(Control::Close(c)))),
                Event::Text { data, fin, .. } => (MessageKind::Text, data, fin),
                Event::Binary { data, fin, .. } => (MessageKind::Binary, data, fin),
            };
            let limit = self.conn.max_message_size();
            if self.message_kind.is_none() {
                self.whole.utf8.reset(); // a new message
            }
            #[cfg(feature = "deflate")]
            if let Some(deflate) = self.deflate.as_deref_mut().filter(|_| self.conn.message_rsv1()) {
                // A compressed message: inflate into the assembly buffer,
                // or (streaming) into the piece buffer.
                let mut decoded = deflate.decode(&mut self.conn, *event);
                let mut last = false;
                while let Some(piece) = decoded.next() {
                    let (data, fin) = match piece {
                        Ok(Event::Text { data, fin, .. } | Event::Binary { data, fin, .. }) => (data, fin),
                        Ok(_) => continue,
                        Err(e) => {
                            drop(decoded);
                            return Err(self.fail(e));
                        }
                    };
                    last |= fin;
                    let taken = if self.skipping {
                        self.whole.check(kind, data, fin)
                    } else if pieces {
                        if (self.piece.len() as u64).saturating_add(data.len() as u64) > limit {
                            Err(ProtocolError::MessageTooLarge)
                        } else {
                            crate::copy::extend(&mut self.piece, data);
                            self.whole.check(kind, data, fin)
                        }
                    } else {
                        // The inflated size is not known ahead.
                        self.whole.push(kind, data, fin, 0, limit)
                    };
                    if let Err(e) = taken {
                        drop(decoded);
                        return Err(self.fail(e));
                    }
                }
                drop(decoded);
                match self.data_done(kind, last, pieces) {
                    Some(found) => return Ok(Some(found)),
                    None => continue,
                }
            }
            if self.skipping || pieces {
                if let Err(e) = self.whole.check(kind, data, fin) {
                    return Err(self.fail(e));
                }
            }
            if self.skipping {
            } else if pieces {
                // The piece is where the connection unmasked it, in `rx`.
                let start = (data.as_ptr() as usize).saturating_sub(base);
                let end = start + data.len();
                self.message_kind = if fin { None } else { Some(kind) };
                if start == end && !fin {
                    // An empty frame inside a message: nothing to hand out
                    // (and nothing handed out yet, if it begins one).
                    continue;
                }
                self.streaming = !fin;
                (self.found_start, self.found_end) = (start, end);
                return Ok(Some(Found::RxPiece { kind, fin }));
            } else {
                if lend && fin && self.message_kind.is_none() {
                    // The whole message is here, unmasked in `rx`: lend it
                    // from there (validated as it is lent).
                    let start = (data.as_ptr() as usize).saturating_sub(base);
                    (self.found_start, self.found_end) = (start, start + data.len());
                    return Ok(Some(Found::RxMessage(kind)));
                }
                // The frame headers announced the message's length so far
                // (the connection checked it against the limit).
                let announced = self.conn.message_announced_len();
                if let Err(e) = self.whole.push_inline(kind, data, fin, announced, limit) {
                    return Err(self.fail(e));
                }
            }
            if let Some(found) = self.data_done(kind, fin, pieces) {
                return Ok(Some(found));
            }
        }
    }

    /// Owned whole messages: a message of one frame with a 16-bit length
    /// (126 bytes to 64 KiB) that lies whole in the read buffer is unmasked
    /// as it is copied out, in one pass, rather than unmasked where it lies
    /// and then copied: binary straight into its message, text into the
    /// piece buffer (unused by whole messages), validated from there into
    /// its `String`. A masked frame with a 7-bit length, binary or text
    /// short enough to be validated after its copy, is unmasked straight
    /// into its message's buffer: unmasked where it lies, its copy read
    /// back the bytes just written, in loads wider than the stores, and
    /// waited for them (see [`Assembly::take_short_binary_masked`]). The
    /// caller checks that no message is in progress and that the frame is
    /// one of these (`takes_frame_into_message`). Returns the kind of the
    /// message taken.
    ///
    /// Inlined into [`next_whole`](Self::next_whole), its one caller:
    /// called, it saved and restored registers of its own for every
    /// message, 26 instructions of the 348 a recycled 16-byte message took.
    #[inline(always)]
    fn frame_into_message(&mut self) -> Result<Option<MessageKind>, ProtocolError> {
        let bytes = &self.rx[self.rx_start..self.rx_end];
        let Some((kind, header_len, len, key)) = self.conn.take_whole_frame_masked(bytes) else { return Ok(None) };
        let payload = &bytes[header_len..header_len + len];
        self.rx_start += header_len + len;
        let limit = self.conn.max_message_size();
        let pushed = match kind {
            MessageKind::Binary => match key {
                Some(key) if self.whole.take_short_binary_masked(payload, key, limit) => Ok(()),
                _ => self.whole.push_masked(payload, key, len as u64, limit),
            },
            MessageKind::Text => match key.and_then(|key| self.whole.take_short_text_masked(payload, key, limit)) {
                Some(taken) => taken,
                None => text_into_message(&mut self.whole, &mut self.piece, payload, key, limit),
            },
        };
        match pushed {
            Ok(()) => Ok(Some(kind)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Lent whole messages of one frame that lie whole in the read buffer
    /// (the caller checks that no message is in progress and that
    /// `lends_frame_directly` takes the frame), taken without the
    /// connection's general path, whose bookkeeping costs a small message
    /// more than the rest of its work. Short text (under
    /// [`TEXT_COPY_FIRST`](crate::message::TEXT_COPY_FIRST) bytes) is
    /// unmasked as it is copied into the text buffer kept from the message
    /// lent before ([`Assembly::set_short_text_masked`]) and validated
    /// there, word-aligned: a short message's place in the read buffer
    /// seldom is, and there `core`'s validator goes a byte at a time. The
    /// rest is unmasked where it lies and lent from there, as that path
    /// would leave it (text validated as it is lent). Returns the item
    /// found.
    ///
    /// Out of line, unlike [`frame_into_message`](Self::frame_into_message):
    /// inlined into the lending loop, it made lent 16-byte text take 6 %
    /// more time, and longer messages no less.
    #[inline(never)]
    fn frame_lent(&mut self) -> Result<Option<Found>, ProtocolError> {
        let bytes = &self.rx[self.rx_start..self.rx_end];
        let Some((kind, header_len, len, key)) = self.conn.take_whole_frame_masked(bytes) else { return Ok(None) };
        let start = self.rx_start + header_len;
        self.rx_start = start + len;
        // Refused as the connection's path refuses it.
        if len as u64 > self.conn.max_message_size() {
            return Err(self.fail(ProtocolError::MessageTooLarge));
        }
        if kind == MessageKind::Text && len < crate::message::TEXT_COPY_FIRST {
            // A zero key leaves the bytes as they are, for a frame that is
            // not masked.
            let payload = &self.rx[start..start + len];
            return match self.whole.set_short_text_masked(payload, key.unwrap_or_default()) {
                Ok(()) => Ok(Some(Found::Message(MessageKind::Text))),
                Err(e) => Err(self.fail(e)),
            };
        }
        if let Some(key) = key {
            crate::mask::apply_mask(&mut self.rx[start..start + len], key, 0);
        }
        (self.found_start, self.found_end) = (start, start + len);
        Ok(Some(Found::RxMessage(kind)))
    }

    /// Bookkeeping after a data event's bytes went where they belong; the
    /// item it completes, if any (a piece is in `piece`: only inflated
    /// pieces come here).
    fn data_done(&mut self, kind: MessageKind, fin: bool, pieces: bool) -> Option<Found> {
        if self.skipping {
            if fin {
                self.skipping = false;
                self.message_kind = None;
            }
            return None;
        }
        self.message_kind = if fin { None } else { Some(kind) };
        if pieces {
            if self.piece.is_empty() && !fin {
                return None;
            }
            self.streaming = !fin;
            return Some(Found::BufPiece { kind, fin });
        }
        fin.then_some(Found::Message(kind))
    }

    /// All buffered input is used: report the end of the transport, if it
    /// came.
    fn end_of_input(&mut self) -> Option<Found> {
        if !self.eof {
            return None;
        }
        let close = match self.conn.receive_eof() {
            Some(Event::Close(close)) => close,
            _ => return None,
        };
        self.finished = true;
        Some(self.found_control(Control::Close(close)))
    }

    /// A control event: queue the automatic answer; a Close ends the items.
    fn control(&mut self, control: Control) -> Found {
        self.transmit();
        if let Control::Close(_) = control {
            self.finished = true;
        }
        self.found_control(control)
    }

    /// `control` into its slot (the box kept from the last one, if any),
    /// and the item that stands for it.
    fn found_control(&mut self, control: Control) -> Found {
        match &mut self.control {
            Some(slot) => **slot = control,
            None => self.control = Some(Box::new(control)),
        }
        Found::Control
    }

    /// The session failed with `e` (the connection too, if not yet).
    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.queued.clear();
        fail_with(
            &mut self.conn,
            &mut self.out,
            &mut self.whole,
            &mut self.error,
            &mut self.finished,
            &mut self.ready,
            e,
        )
    }

    // --- sends ---

    /// Sends a whole message, compressed when permessage-deflate is in use.
    ///
    /// # Errors
    ///
    /// As [`Connection::send_text`]: [`SendError::Closing`] once a Close
    /// was sent or received, [`SendError::Failed`] after a failure.
    #[inline]
    pub fn send(&mut self, message: &Message) -> Result<(), SendError> {
        match message {
            Message::Text(text) => self.send_text(text),
            Message::Binary(data) => self.send_binary(data),
        }
    }

    /// Sends a whole message it takes over: as [`send`](Self::send), the
    /// same bytes on the wire, but an uncompressed payload of
    /// [`SEND_OWNED_MIN`] bytes or more is not copied into the output
    /// buffer. Only its frame header is, and the payload is queued after
    /// it as a piece of its own (masked in place in the client role);
    /// [`poll_output_vectored`](Self::poll_output_vectored) hands out the
    /// header and the payload together, for one vectored write
    /// (`writev`). Smaller messages, and every message when
    /// permessage-deflate is in use, are sent as by `send`.
    ///
    /// Worth it when the transport takes vectored writes (TCP, TLS in
    /// `tokio-rustls`): on one that does not, the header and the payload
    /// are two writes.
    ///
    /// The message's buffer, once copied or written, is kept to receive a
    /// later message in, as by [`recycle`](Self::recycle): a server that
    /// echoes or forwards the messages it takes allocates nothing per
    /// message of up to 4 KiB (a larger buffer is freed, which keeps the
    /// memory each message is written into in cache; see `recycle`).
    ///
    /// ```
    /// use wsmachine::{Config, Connection, Message, Session};
    ///
    /// let mut copied = Session::new(Connection::server(Config::default()));
    /// let mut owned = Session::new(Connection::server(Config::default()));
    /// copied.send(&Message::Binary(vec![7; 10_000]))?;
    /// owned.send_owned(Message::Binary(vec![7; 10_000]))?;
    /// assert_eq!(owned.buffered_output(), copied.buffered_output());
    ///
    /// let mut slices = [&[][..]; 4];
    /// let n = owned.poll_output_vectored(&mut slices);
    /// assert_eq!(n, 2); // the header, then the payload
    /// assert_eq!([slices[0], slices[1]].concat(), copied.poll_output());
    /// # Ok::<(), wsmachine::SendError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); the message is dropped.
    pub fn send_owned(&mut self, message: Message) -> Result<(), SendError> {
        if self.is_compressed() || message.as_bytes().len() < SEND_OWNED_MIN {
            // Copied: its buffer is kept to receive a later message in.
            let sent = self.send(&message);
            self.recycle(message);
            return sent;
        }
        self.transmit();
        let (kind, mut data) = match message {
            Message::Text(text) => (MessageKind::Text, text.into_bytes()),
            Message::Binary(data) => (MessageKind::Binary, data),
        };
        self.conn.send_message_header(kind, &mut data, &mut self.out)?;
        self.segment_bytes += data.len();
        self.segments.push_back(Segment { at: self.out.len(), data });
        Ok(())
    }

    /// Gives back a message taken from [`poll_message`](Self::poll_message)
    /// (or any message) once done with it: its buffer is kept, emptied, and
    /// the next message of about its size is received into it instead of
    /// a new allocation. One buffer of at most 4 KiB ([`SEND_OWNED_MIN`])
    /// is kept, the last one given; a larger one is freed, since the
    /// allocator gives the block freed last to the next message still in
    /// cache, while a buffer kept by each of many busy connections is not.
    /// A message received into the kept buffer has a capacity of at most
    /// twice its length (or 128 bytes), so a message kept long holds
    /// little more than its bytes. [`shrink_buffers`](Self::shrink_buffers)
    /// frees it with the others.
    ///
    /// ```
    /// use wsmachine::{Config, Connection, Incoming, Message, Session};
    ///
    /// let mut session = Session::new(Connection::server(Config::default()));
    /// // Two masked client frames, "hello" and "world".
    /// let frame = |text: &[u8]| {
    ///     let mut f = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
    ///     f.extend_from_slice(text);
    ///     f
    /// };
    /// session.receive(&frame(b"hello"));
    /// let Some(Incoming::Message(first)) = session.poll_message()? else { panic!() };
    /// let buffer = first.as_bytes().as_ptr();
    /// session.recycle(first);
    ///
    /// session.receive(&frame(b"world"));
    /// let Some(Incoming::Message(second)) = session.poll_message()? else { panic!() };
    /// assert_eq!(second, Message::text("world"));
    /// assert_eq!(second.as_bytes().as_ptr(), buffer); // the same allocation
    /// # Ok::<(), wsmachine::ProtocolError>(())
    /// ```
    pub fn recycle(&mut self, message: Message) {
        self.whole.keep_spare(match message {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) => data,
        });
    }

    /// Sends a text message (see [`send`](Self::send)).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.transmit();
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_deref_mut() {
            return deflate.send_text(&mut self.conn, text, &mut self.out).map(drop);
        }
        self.conn.send_text(text, &mut self.out).map(drop)
    }

    /// Sends a binary message (see [`send`](Self::send)).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.transmit();
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_deref_mut() {
            return deflate.send_binary(&mut self.conn, data, &mut self.out).map(drop);
        }
        self.conn.send_binary(data, &mut self.out).map(drop)
    }

    /// Sends one piece of a message streamed in fragments (compressed when
    /// permessage-deflate is in use), as [`Connection::send_fragment`].
    ///
    /// # Errors
    ///
    /// As [`Connection::send_fragment`].
    pub fn send_fragment(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), SendError> {
        self.transmit();
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_deref_mut() {
            return deflate.send_fragment(&mut self.conn, kind, data, fin, &mut self.out).map(drop);
        }
        self.conn.send_fragment(kind, data, fin, &mut self.out).map(drop)
    }

    /// Sends a ping (at most 125 bytes of payload).
    ///
    /// # Errors
    ///
    /// As [`Connection::send_ping`].
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.transmit();
        self.conn.send_ping(payload, &mut self.out).map(drop)
    }

    /// Sends an unsolicited pong.
    ///
    /// # Errors
    ///
    /// As [`Connection::send_pong`].
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.transmit();
        self.conn.send_pong(payload, &mut self.out).map(drop)
    }

    /// Starts the close handshake (or answers the peer's Close with a code
    /// of our own). Then keep polling and reading: the peer's Close comes
    /// as [`Incoming::Close`], and [`poll_transport`](Self::poll_transport)
    /// says when the transport is done.
    ///
    /// # Errors
    ///
    /// As [`Connection::send_close`].
    pub fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.transmit();
        self.conn.send_close(code, reason, &mut self.out).map(drop)
    }

    // --- output ---

    /// Moves the connection's queued frames (pongs, Close answers, the
    /// keepalive Ping) into the output buffer.
    fn transmit(&mut self) {
        // Into a Vec this fails only if memory runs out; the frames then
        // stay queued in the connection for the next try.
        let _ = self.conn.poll_transmit(&mut self.out);
    }

    /// The bytes to write to the transport next, in order (empty when
    /// nothing is due). Report what was written with
    /// [`consume_output`](Self::consume_output), then ask again.
    ///
    /// This is all the output unless a payload was queued by
    /// [`send_owned`](Self::send_owned): then it is the next contiguous
    /// piece (the bytes up to that payload, or the payload), and
    /// [`poll_output_vectored`](Self::poll_output_vectored) gives the
    /// pieces together.
    pub fn poll_output(&mut self) -> &[u8] {
        self.transmit();
        if self.segments.is_empty() {
            return &self.out[self.out_pos..];
        }
        let mut first = [&[][..]];
        self.output_pieces(&mut first);
        first[0]
    }

    /// The output as [`poll_output`](Self::poll_output) gives it, in up to
    /// `slices.len()` pieces at once, for a vectored write (`writev`,
    /// `Write::write_vectored`): fills `slices` from the start with the
    /// next pieces in order (the output buffer's bytes up to a payload
    /// queued by [`send_owned`](Self::send_owned), the payload, the bytes
    /// after it…) and returns how many it filled, 0 when nothing is due.
    /// No piece is empty. Report the bytes written, across the pieces,
    /// with [`consume_output`](Self::consume_output).
    pub fn poll_output_vectored<'a>(&'a mut self, slices: &mut [&'a [u8]]) -> usize {
        self.transmit();
        self.output_pieces(slices)
    }

    /// Fills `slices` from the start with the pieces of the output still
    /// to write, in one walk over the segments, and returns how many.
    /// Pieces alternate between `out` ranges and segments; empty `out`
    /// ranges (between segments at the same place) are skipped.
    fn output_pieces<'a>(&'a self, slices: &mut [&'a [u8]]) -> usize {
        let mut slots = slices.iter_mut();
        let mut filled = 0;
        let mut pos = self.out_pos;
        let mut skip = self.segment_pos;
        for segment in &self.segments {
            if pos < segment.at {
                let Some(slot) = slots.next() else { return filled };
                *slot = &self.out[pos..segment.at];
                filled += 1;
                pos = segment.at;
            }
            let Some(slot) = slots.next() else { return filled };
            *slot = &segment.data[skip..];
            filled += 1;
            skip = 0;
        }
        if pos < self.out.len() {
            if let Some(slot) = slots.next() {
                *slot = &self.out[pos..];
                filled += 1;
            }
        }
        filled
    }

    /// Reports that `n` bytes of [`poll_output`](Self::poll_output) (or
    /// of the pieces of [`poll_output_vectored`](Self::poll_output_vectored),
    /// in order) were written.
    pub fn consume_output(&mut self, n: usize) {
        if self.segments.is_empty() {
            // Only the output buffer to advance in.
            self.out_pos = (self.out_pos + n).min(self.out.len());
            if self.out_pos == self.out.len() {
                self.out.clear();
                self.out_pos = 0;
            } else if self.out_pos >= READ_CHUNK && self.out_pos * 2 >= self.out.len() {
                self.out.drain(..self.out_pos);
                self.out_pos = 0;
            }
            return;
        }
        let mut n = n;
        while n > 0 {
            match self.segments.front() {
                Some(segment) if self.out_pos == segment.at => {
                    let left = segment.data.len() - self.segment_pos;
                    if n < left {
                        self.segment_pos += n;
                        self.segment_bytes -= n;
                        break;
                    }
                    n -= left;
                    self.segment_bytes -= left;
                    self.segment_pos = 0;
                    if let Some(written) = self.segments.pop_front() {
                        self.whole.keep_spare(written.data);
                    }
                }
                Some(segment) => {
                    let taken = n.min(segment.at - self.out_pos);
                    self.out_pos += taken;
                    n -= taken;
                }
                None => {
                    self.out_pos = (self.out_pos + n).min(self.out.len());
                    break;
                }
            }
        }
        let drained = if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos
        } else if self.out_pos >= READ_CHUNK && self.out_pos * 2 >= self.out.len() {
            self.out.drain(..self.out_pos);
            self.out_pos
        } else {
            return;
        };
        self.out_pos = 0;
        self.segments.iter_mut().for_each(|segment| segment.at -= drained);
    }

    /// Bytes waiting to be written, the payloads queued by
    /// [`send_owned`](Self::send_owned) included (for a bound on the
    /// write buffer).
    pub fn buffered_output(&self) -> usize {
        self.out.len() - self.out_pos + self.segment_bytes
    }

    /// Whether there is anything to write.
    pub fn wants_write(&self) -> bool {
        self.buffered_output() > 0 || self.conn.wants_write()
    }

    // --- the transport ---

    /// What to do with the transport now; ask after writing the output.
    /// While output is waiting this is [`Transport::Open`]: write it first.
    pub fn poll_transport(&mut self) -> Transport {
        if self.wants_write() {
            return Transport::Open;
        }
        let input_used = self.rx_start == self.rx_end && self.ready.is_none() && self.queued.is_empty();
        if (self.eof && input_used) || self.gave_up || self.drain_expired {
            return Transport::Close;
        }
        let shut_down = match self.conn.state() {
            // The failure's Close is written.
            State::Failed(_) => self.conn.should_close_transport(),
            // §7.1.1: the server closes first, once its Close is sent.
            State::CloseSent | State::Closed => self.conn.role() == Role::Server,
            State::Open | State::CloseReceived => false,
        };
        if shut_down && !self.write_shut {
            self.write_shut = true;
            return Transport::ShutdownWrite;
        }
        Transport::Open
    }

    /// Whether the session gave up on writing: it was finishing (the
    /// connection failed or ended, or its close handshake gave up) and the
    /// peer took none of the output left within `close_timeout`, so the
    /// output was dropped. Close the transport without shutting down its
    /// write side (a TLS close_notify would wait on the same peer).
    pub fn output_abandoned(&self) -> bool {
        self.drain_expired && !self.write_shut
    }

    /// The session only has its last output to write and the peer's end
    /// to wait for (see `drain_since`).
    fn finishing(&self) -> bool {
        self.write_shut
            || self.gave_up
            || self.eof
            || matches!(self.conn.state(), State::Failed(_))
            || self.conn.should_close_transport()
    }

    /// While finishing, whether anything is still waited for: output the
    /// peer has not taken, or, after the write side was shut down, the
    /// peer's end.
    fn finish_waits(&self) -> bool {
        !self.drain_expired && self.finishing() && (self.buffered_output() > 0 || (self.write_shut && !self.eof))
    }

    // --- time ---

    /// The next instant at which [`handle_timeout`](Self::handle_timeout)
    /// has work (a keepalive Ping, a dead peer, the close timeout, the end
    /// of the drain after shutting down the write side), or `None`.
    /// [`Instant::ZERO`] means at once.
    ///
    /// Once the connection failed or ended, `close_timeout` also bounds
    /// the wait for the peer to take our last output (the failure's Close
    /// among it): a peer that stopped reading is dropped then
    /// ([`output_abandoned`](Self::output_abandoned)) instead of holding
    /// the connection open with bytes it never takes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let drain = match self.close_timeout {
            Some(timeout) if self.finish_waits() => {
                Some(self.drain_since.map_or(Instant::ZERO, |since| since + timeout))
            }
            _ => None,
        };
        match (self.conn.poll_timeout(), drain) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on every deadline due at `now` (measured from the adapter's
    /// epoch, never going backwards). What it finds is reported by the
    /// next poll: a dead peer as an error, a close handshake never
    /// completed as a Close with 1006.
    pub fn handle_timeout(&mut self, now: Instant) {
        let before = self.conn.should_close_transport();
        if let Some(Event::Close(close)) = self.conn.handle_timeout(now) {
            match self.conn.state() {
                State::Failed(e) => {
                    self.pending_error = Some(e);
                    // A peer found dead has nothing left to drain: once
                    // the Close is written the transport is closed, not
                    // kept for `close_timeout` more waiting for its end.
                    self.gave_up |= matches!(e, ProtocolError::PingTimeout | ProtocolError::IdleTimeout);
                }
                _ => self.pending_close = Some(Box::new(close)),
            }
        }
        if !before && self.conn.should_close_transport() && !matches!(self.conn.state(), State::Failed(_)) {
            self.gave_up = true;
        }
        self.transmit();
        if self.finish_waits() {
            match (self.drain_since, self.close_timeout) {
                (None, _) => self.drain_since = Some(now),
                (Some(since), Some(timeout)) if since + timeout <= now => {
                    self.drain_expired = true;
                    // A peer that took none of it in that long never will.
                    self.consume_output(self.buffered_output());
                }
                _ => {}
            }
        }
    }
}

/// The text of a message that arrived whole and masked (see
/// [`Session::frame_into_message`]): unmasked as it is copied into
/// `scratch`, then validated into the message's `String`. Out of line, so
/// that the binary path beside its call stays short.
#[inline(never)]
fn text_into_message(
    whole: &mut Assembly,
    scratch: &mut Vec<u8>,
    payload: &[u8],
    key: Option<[u8; 4]>,
    limit: u64,
) -> Result<(), ProtocolError> {
    scratch.clear();
    match key {
        Some(key) => crate::mask::extend_masked(scratch, payload, key),
        None => crate::copy::extend(scratch, payload),
    }
    whole.utf8.reset();
    let pushed = whole.push(MessageKind::Text, scratch, true, payload.len() as u64, limit);
    scratch.clear();
    pushed
}

/// Whether [`Session::frame_into_message`] takes the frame whose first two
/// bytes are `b0` and `b1`, seen from them alone: a 16-bit length, or a
/// masked 7-bit one (binary, or text short enough to be copied before it
/// is validated) of a final text or binary frame. The others of 7-bit
/// length are left to the connection: unmasked frames, where nothing was
/// written where they lie and whose path costs them less than the call,
/// longer text, validated where it lies, and control frames and
/// fragments. (Whatever else the call refuses goes there too.)
#[inline(always)]
fn takes_frame_into_message(b0: u8, b1: u8) -> bool {
    match b1 {
        0x7E | 0xFE => true,
        0x80..=0xFD => b0 == 0x82 || (b0 == 0x81 && usize::from(b1 & 0x7F) < crate::message::TEXT_COPY_FIRST),
        _ => false,
    }
}

/// Whether [`Session::frame_lent`] takes the frame whose first two bytes
/// are `b0` and `b1`, seen from them alone: a final text or binary frame
/// with a 16-bit length, or a masked one with a 7-bit length. Unmasked
/// short frames are left to the connection (as in
/// `takes_frame_into_message`), and so are control frames and fragments.
#[inline(always)]
fn lends_frame_directly(b0: u8, b1: u8) -> bool {
    matches!(b0, 0x81 | 0x82) && matches!(b1, 0x7E | 0x80..=0xFE)
}

/// [`Session::fail`] on the fields it changes, for a caller that holds a
/// borrow of the read buffer.
fn fail_with<R: RandomSource>(
    conn: &mut Connection<R>,
    out: &mut Vec<u8>,
    whole: &mut Assembly,
    error: &mut Option<ProtocolError>,
    finished: &mut bool,
    ready: &mut Option<Found>,
    e: ProtocolError,
) -> ProtocolError {
    let e = conn.fail_with(e);
    whole.clear();
    *error = Some(e);
    *finished = true;
    *ready = None;
    // As `Session::transmit`: into a Vec this fails only if memory runs out.
    let _ = conn.poll_transmit(out);
    e
}

/// Whether `bytes` starts with a frame whose payload is under
/// [`DIRECT_MIN`] and which ends within `bytes`, read from its length
/// field alone: such a frame is never taken directly, so the direct
/// path leaves it to the read buffer without decoding its whole header.
/// False when unsure (the header's full decode then decides).
fn is_small_and_whole(bytes: &[u8]) -> bool {
    let (head, len) = match bytes {
        [_, b1, ..] if b1 & 0x7F < 126 => (2, usize::from(b1 & 0x7F)),
        [_, b1, hi, lo, ..] if b1 & 0x7F == 126 => (4, usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => return false,
    };
    let key = if bytes[1] & 0x80 != 0 { 4 } else { 0 };
    (len as u64) < DIRECT_MIN && bytes.len() >= head + key + len
}

#[cfg(test)]
mod output_tests;
#[cfg(test)]
mod tests;
