//! The connection state machine (RFC 6455 §5–§7), for both roles.

mod cold;
mod control;
mod event;
mod ext;
mod recv;
mod send;
mod timer;

pub use event::{ControlPayload, Event, Received, MAX_CONTROL_PAYLOAD, UNWRITTEN_CLOSE};

use crate::config::{Config, Settings};
use crate::error::ProtocolError;
use crate::frame::{OpCode, MAX_HEADER_LEN};
use crate::random::{RandomSource, SecureRandom};
use crate::utf8::Utf8Validator;

/// Which end of the connection this is. It decides the masking rules
/// (RFC 6455 §5.1): clients mask every frame they send, servers none, and
/// each fails the connection if the other breaks that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that opened the connection.
    Client,
    /// The end that accepted it.
    Server,
}

/// The kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Arbitrary bytes (opcode 0x2).
    Binary,
}

impl MessageKind {
    /// The opcode of the first frame of a message of this kind.
    pub const fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// Where the close handshake stands (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We sent a Close frame and wait for the peer's. Incoming data is
    /// still delivered; nothing more may be sent.
    CloseSent,
    /// The peer sent a Close frame; ours is queued (or the caller may send
    /// one with its own code). Incoming bytes are ignored from here on.
    CloseReceived,
    /// Both Close frames were exchanged, or the transport ended.
    Closed,
    /// The peer broke the protocol. A Close frame with the error's code and
    /// [reason](ProtocolError::reason) is queued until written; every
    /// `receive` returns the error.
    Failed(ProtocolError),
}

/// A WebSocket connection, client or server, with no I/O of its own.
///
/// # Driving it
///
/// The connection is a machine with inputs and outputs; the caller owns the
/// transport and the buffers, and MUST:
///
/// 1. **Feed every byte it reads** to [`receive`](Self::receive), exactly
///    once, passing the unconsumed rest back until it is empty. Each call
///    returns at most one [`Event`]; data events borrow the caller's buffer
///    (unmasked in place), so handle each before the next call. Feed only
///    what follows the opening handshake's head.
/// 2. **Drain automatic replies** after feeding: [`poll_transmit`](Self::poll_transmit)
///    writes queued pongs and Close answers; [`wants_write`](Self::wants_write)
///    says whether anything is queued. Nothing else writes them: a caller
///    who never drains leaves the peer waiting for its pongs and its Close
///    answer until it gives up, and then [`receive_eof`](Self::receive_eof)
///    reports the unfinished close handshake as 1006 with the reason
///    [`UNWRITTEN_CLOSE`](crate::UNWRITTEN_CLOSE).
/// 3. **Send** with [`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
///    [`send_fragment`](Self::send_fragment), [`send_ping`](Self::send_ping),
///    [`send_pong`](Self::send_pong), [`send_close`](Self::send_close): each
///    writes one whole frame into an [`Output`](crate::Output) or fails
///    without writing anything.
/// 4. **Report the end of the transport** with [`receive_eof`](Self::receive_eof),
///    and close the transport when [`should_close_transport`](Self::should_close_transport)
///    says so.
/// 5. **Drive time**, when [`Config`] sets a timer (keepalive, dead peer,
///    close handshake): ask [`poll_timeout`](Self::poll_timeout) for the next
///    deadline after every call above, wait for input *or* that deadline,
///    whichever comes first, and at the deadline call
///    [`handle_timeout(now)`](Self::handle_timeout), then drain
///    `poll_transmit` again. `now` is an [`Instant`](crate::Instant) from
///    the caller's clock; the connection never reads one.
///
/// In one loop: feed input, drain `poll_transmit`, ask `poll_timeout`, then
/// sleep until that deadline or until more input arrives.
///
/// Getters: [`role`](Self::role), [`state`](Self::state), [`is_closed`](Self::is_closed),
/// [`error`](Self::error), [`config`](Self::config). Time: [`poll_timeout`](Self::poll_timeout),
/// [`handle_timeout`](Self::handle_timeout).
///
/// The loop over a real transport is in the [crate docs](crate#the-loop);
/// the example below is the same loop in memory.
///
/// # Errors
///
/// A [`ProtocolError`] from `receive` is fatal and sticky: the connection
/// queues a Close frame carrying the error's close code, returns the same
/// error from every later `receive`, and still lets `poll_transmit` write
/// the Close; [`error`](Self::error) returns it from then on. So on an
/// error, stop feeding and go on to write what `poll_transmit` gives: a
/// caller that returns at once (`?` on `receive`) drops the Close, and the
/// peer sees the transport vanish (1006) instead of the code it earned.
/// Report the error after the Close is written. Caller mistakes are
/// [`SendError`](crate::SendError)s that change nothing.
///
/// # Example
///
/// A server echoing what a client sends, the two wired together in memory:
///
/// ```
/// use wsmachine::{Config, Connection, Event, SecureRandom};
///
/// let mut client = Connection::client(Config::default(), SecureRandom::from_seed([7; 32]));
/// let mut server = Connection::server(Config::default());
///
/// let mut wire = Vec::new();
/// client.send_text("hello", &mut wire)?;
///
/// let mut reply = Vec::new();
/// let mut pos = 0;
/// while pos < wire.len() {
///     // Not `?`: on an error, stop feeding; the Close it queued is still written.
///     let Ok(received) = server.receive(&mut wire[pos..]) else { break };
///     pos += received.consumed;
///     if let Some(Event::Text { data, fin: true, .. }) = received.event {
///         let text = core::str::from_utf8(data).expect("validated");
///         server.send_text(text, &mut reply)?;
///     }
///     server.poll_transmit(&mut reply)?; // pongs, the Close answer
/// }
/// server.poll_transmit(&mut reply)?; // the Close a failure queued, if any
/// assert_eq!(server.error(), None);
///
/// let received = client.receive(&mut reply).expect("the echo is a valid frame");
/// assert!(matches!(received.event, Some(Event::Text { data: b"hello", fin: true, .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Connection<R = SecureRandom> {
    role: Role,
    config: Settings,
    /// Mask keys for a client; empty for a server, which never masks.
    /// Out of line: a server's connections do not pay for a client's
    /// generator.
    rng: cold::Cold<R>,

    // --- receive side ---
    /// Bytes of a frame header that arrived split: `header[..header_len]`.
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    /// The frame whose payload is arriving, if a header has been decoded.
    frame: Option<FrameInProgress>,
    /// A control payload split across reads, the queued pong and Close.
    control: control::ControlState,
    /// The data message being received.
    rx_message: Option<MessageInProgress>,
    /// RSV1 of the latest message's first frame, kept after the message ends.
    rx_rsv1: bool,
    /// A frame header passed its checks: the stream is known to be frames.
    rx_started: bool,
    rx_utf8: Utf8Validator,
    /// Validate received text here (always, but inside a `Session`, which
    /// validates text itself as it assembles messages, so that each byte
    /// is checked once).
    rx_check_text: bool,

    // --- send side ---
    /// The kind of the fragmented message we are sending, if any.
    tx_message: Option<MessageKind>,
    tx_utf8: Utf8Validator,

    // --- time ---
    timers: timer::Timers,

    // --- close handshake ---
    close_sent: bool,
    close_received: bool,
    eof: bool,
    failed: Option<ProtocolError>,
}

#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    opcode: OpCode,
    fin: bool,
    /// The masking key as seen from the next payload byte: rotated past
    /// the bytes already unmasked, so no offset needs keeping.
    mask: Option<[u8; 4]>,
    /// Payload bytes still to come.
    remaining: u64,
}

#[derive(Debug, Clone, Copy)]
struct MessageInProgress {
    kind: MessageKind,
    /// Sum of the announced payload lengths of its frames so far.
    len: u64,
    frames: u32,
    /// Its frames that carried no payload and did not end it (saturating:
    /// at `u32::MAX` no more are admitted, whatever the allowance).
    empty: u32,
}

impl Connection<SecureRandom> {
    /// A server-side connection. Servers never mask, so they need no
    /// randomness.
    pub fn server(config: Config) -> Self {
        Self::with_rng(Role::Server, config, None)
    }
}

impl<R: RandomSource> Connection<R> {
    /// A client-side connection drawing its masking keys from `rng`, which
    /// MUST be unpredictable to whoever chooses the payload (RFC 6455 §10.3);
    /// [`SecureRandom`] is the usual choice.
    pub fn client(config: Config, rng: R) -> Self {
        Self::with_rng(Role::Client, config, Some(rng))
    }

    fn with_rng(role: Role, config: Config, rng: Option<R>) -> Self {
        Connection {
            role,
            config: Settings::new(config),
            rng: rng.map_or(cold::Cold::empty(), cold::Cold::new),
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            frame: None,
            control: control::ControlState::new(),
            rx_message: None,
            rx_rsv1: false,
            rx_started: false,
            rx_utf8: Utf8Validator::new(),
            rx_check_text: true,
            tx_message: None,
            tx_utf8: Utf8Validator::new(),
            timers: timer::Timers::default(),
            close_sent: false,
            close_received: false,
            eof: false,
            failed: None,
        }
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration the connection was built with (timer durations
    /// as kept: in whole milliseconds, rounded up).
    pub fn config(&self) -> Config {
        self.config.config()
    }

    /// Lets `bits` through on the first frame of a data message, for an
    /// extension put in place after the connection was built.
    #[cfg(feature = "deflate")]
    pub(crate) fn claim_rsv(&mut self, bits: crate::config::RsvBits) {
        self.config.extension_rsv_bits = self.config.extension_rsv_bits | bits;
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        if let Some(e) = self.failed {
            return State::Failed(e);
        }
        match (self.close_sent, self.close_received) {
            _ if self.eof => State::Closed,
            (true, true) => State::Closed,
            (true, false) => State::CloseSent,
            (false, true) => State::CloseReceived,
            (false, false) => State::Open,
        }
    }

    /// The connection is over: both Close frames were exchanged, the
    /// transport ended, or it failed and its Close frame was written.
    pub fn is_closed(&self) -> bool {
        match self.state() {
            State::Closed => true,
            // A failure's Close can no longer be written once the transport ended.
            State::Failed(_) => self.eof || !self.control.has_close(),
            _ => false,
        }
    }

    /// Whether the caller should now close the transport (RFC 6455 §7.1.1).
    ///
    /// - After a failure: once the Close frame was written.
    /// - A server: once both Close frames were exchanged ("the server SHOULD
    ///   close first").
    /// - A client: after a clean close it SHOULD wait for the server to
    ///   close the transport, so this stays `false` until
    ///   [`receive_eof`](Self::receive_eof); a client MAY give up waiting
    ///   after a timeout of its choosing and close anyway.
    pub fn should_close_transport(&self) -> bool {
        if self.eof {
            return true;
        }
        match self.state() {
            State::Failed(_) => !self.control.has_close(),
            State::Closed => self.role == Role::Server,
            _ => false,
        }
    }

    /// The error that failed the connection, if it failed: the peer's
    /// violation that [`receive`](Self::receive) returned, or the one given
    /// to [`fail_with`](Self::fail_with). It stays after the failure's Close
    /// was written, so a loop that stopped feeding on the error can report
    /// it once the Close is out.
    pub fn error(&self) -> Option<ProtocolError> {
        self.failed
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has bytes to write.
    pub fn wants_write(&self) -> bool {
        self.control.has_queued() || self.timers.pending_ping
    }

    /// Whether the latest message received (or being received) had RSV1 set
    /// on its first frame while an extension claims RSV1: its payload is then
    /// the extension's (e.g. compressed) and was not UTF-8 validated here.
    pub fn message_rsv1(&self) -> bool {
        self.rx_rsv1
    }

    /// Leaves the UTF-8 validation of received text to the caller, which
    /// MUST validate every text byte of every message itself and fail the
    /// connection with 1007 as `receive` would ([`Session`] does). Text
    /// events then carry unchecked bytes.
    ///
    /// [`Session`]: crate::Session
    #[cfg(feature = "alloc")]
    pub(crate) fn leave_text_validation_to_caller(&mut self) {
        self.rx_check_text = false;
        self.rx_utf8.reset();
    }

    /// How many payload bytes of the current data frame are still to come,
    /// when the next input bytes are sure to be nothing but that: a data
    /// frame is in progress and the connection takes input (no Close
    /// received, no end of input, not failed). 0 otherwise.
    #[cfg(feature = "alloc")]
    pub(crate) fn data_payload_remaining(&self) -> u64 {
        match self.frame {
            Some(frame)
                if !frame.opcode.is_control()
                    && self.header_len == 0
                    && !self.close_received
                    && !self.eof
                    && self.failed.is_none() =>
            {
                frame.remaining
            }
            _ => 0,
        }
    }

    /// `Config::max_message_size`, without rebuilding the whole `Config`.
    #[cfg(feature = "alloc")]
    pub(crate) fn max_message_size(&self) -> u64 {
        self.config.max_message_size
    }

    /// No frame is in progress and no partial header is buffered, and the
    /// connection takes input: the next byte starts a frame header.
    #[cfg(feature = "alloc")]
    pub(crate) fn between_frames(&self) -> bool {
        self.frame.is_none() && self.header_len == 0 && !self.close_received && !self.eof && self.failed.is_none()
    }

    /// The payload length the frame headers of the data message in progress
    /// announced so far (already checked against the limits), or 0 between
    /// messages.
    #[cfg(feature = "alloc")]
    pub(crate) fn message_announced_len(&self) -> u64 {
        self.rx_message.map_or(0, |m| m.len)
    }
}
