//! Limits, timers and switches for a [`Connection`](crate::Connection).

use core::num::NonZeroU32;
use core::time::Duration;

/// Keepalive Ping after this long with nothing received: 20 s, short
/// enough for NATs and proxies that drop quiet flows after 30–60 s.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Time allowed for any sign of life after a keepalive Ping: 20 s, so a
/// vanished peer is dropped 20–40 s after its last byte.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Time allowed for the close handshake and for the peer to close the
/// transport: 10 s, far more than a round trip, short enough that a peer
/// that never answers does not hold a thread or task for long.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits, timers and behaviour switches for a connection.
///
/// The defaults are safe for a public server: every limit is enforced from
/// a frame's header, before any of its payload is accepted, so a peer cannot
/// make the connection hold more than a control frame (125 bytes) of its
/// data, whatever it sends.
///
/// # How the limits fit together
///
/// [`max_message_size`](Self::max_message_size) is the one limit most
/// callers set. A message within it is never refused because of how the
/// peer framed it (one frame or many, of any size) or compressed it:
///
/// - the frame limit follows it unless set
///   ([`max_frame_payload`](Self::max_frame_payload) is 0 by default);
/// - frames that carry data need no count limit: each brings at least one
///   byte, so the size limit bounds their number, and the work a message
///   costs stays proportional to its bytes on the wire;
/// - frames that carry nothing and do not end the message (an empty-fragment
///   flood) are charged [`EMPTY_FRAME_COST`] bytes each, and a message's
///   empty frames may cost at most `max_message_size` (about a million of
///   them at the default; never fewer than 1 024, whatever the limit), then
///   the connection fails with 1009;
/// - a compressed message (RSV1 on its first frame, with RSV1 claimed by
///   permessage-deflate) is held to `max_message_size` as it inflates, and
///   its compressed frames may carry up to twice each limit: DEFLATE grows
///   incompressible data slightly, and a sender that flushes every fragment
///   adds a few bytes per fragment.
///
/// ```
/// use wsmachine::Config;
/// let config = Config { max_message_size: 1 << 20, ..Config::default() };
/// assert!(config.auto_pong);
/// assert_eq!(config.frame_limit(), 1 << 20, "the frame limit follows the message limit");
/// ```
///
/// # Timers
///
/// The defaults turn on a keepalive Ping after 20 s of silence, drop a
/// peer that answers nothing 20 s after it, and wait 10 s for the close
/// handshake, as Python `websockets` does; the adapters run them on their
/// clock, so `..Config::default()` keeps them wherever a `Config` is
/// built. A [`Connection`](crate::Connection) has no clock: the timers
/// act only when its caller drives time
/// ([`poll_timeout`](crate::Connection::poll_timeout) and
/// [`handle_timeout`](crate::Connection::handle_timeout)), and do nothing
/// otherwise. [`without_timers`](Self::without_timers) turns them all off.
///
/// ```
/// use std::time::Duration;
/// use wsmachine::Config;
/// let config = Config::default();
/// assert_eq!(config.ping_interval, Some(Duration::from_secs(20)));
/// assert_eq!(config.close_timeout, Some(Duration::from_secs(10)));
/// assert_eq!(Config::default().without_timers().ping_interval, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest payload of a single data frame, or 0 (the default) for no
    /// limit of its own: a frame is then bounded by
    /// [`max_message_size`](Self::max_message_size) like the rest of its
    /// message. (Control frames are bounded at 125 bytes by RFC 6455 §5.5
    /// whatever this says.) A frame over it fails the connection with 1009
    /// from its header.
    ///
    /// Streaming never buffers a payload, so this bounds what a peer may
    /// announce rather than memory. Set it only if frames must be smaller
    /// than messages (say, a caller that buffers whole frames); peers such
    /// as Python `websockets` send a whole message as one frame, so a value
    /// below `max_message_size` refuses messages the size limit admits. A
    /// compressed frame may carry up to twice this value.
    pub max_frame_payload: u64,
    /// Largest message: the sum of its frames' payloads, after decompression
    /// for a compressed one. Default 64 MiB.
    ///
    /// Enforced from each frame header: an uncompressed message is refused
    /// with 1009 as soon as a header announces more than fits, before the
    /// payload arrives. A compressed message is refused with 1009 by the
    /// extension before it inflates past this ([`ext::deflate`]); its frames
    /// may carry up to twice this on the wire. This is also the limit to
    /// give a [`MessageAssembler`], so it bounds the memory of a caller who
    /// assembles whole messages.
    ///
    /// [`MessageAssembler`]: crate::MessageAssembler
    /// [`ext::deflate`]: crate::ext
    pub max_message_size: u64,
    /// Most frames one message may span, or 0 (the default) for no count
    /// limit: the frames of a message are then bounded by what they cost
    /// (see [How the limits fit together](Self#how-the-limits-fit-together)).
    ///
    /// A count refuses legal traffic: a sender may split a message as finely
    /// as it likes, and the Autobahn testsuite sends 4 MiB in 64-byte
    /// fragments and an empty final frame, 65 537 frames. Set it only to
    /// refuse such peers on purpose; a message over it fails with 1009.
    pub max_fragments: u32,
    /// Answer every ping with a pong automatically. Default `true`.
    ///
    /// Pongs not yet written are not queued up: a newer ping replaces the
    /// pending pong (RFC 6455 §5.5.3 allows answering only the most recent
    /// ping), so a ping flood costs 125 bytes of state at most.
    pub auto_pong: bool,
    /// Accept lengths that are not in their shortest form. Default `false`:
    /// RFC 6455 §5.2 says the minimal number of bytes MUST be used.
    pub allow_non_minimal_lengths: bool,
    /// RSV bits a negotiated extension has claimed. Default
    /// [`RsvBits::NONE`]: any RSV bit fails the connection with 1002 (§5.2).
    ///
    /// When RSV1 is claimed (permessage-deflate), a message whose first frame
    /// has RSV1 set is passed through without UTF-8 validation: its bytes are
    /// compressed, and the extension validates the inflated text.
    pub extension_rsv_bits: RsvBits,
    /// Keepalive: after this long with nothing received, send a Ping.
    /// Default [`DEFAULT_PING_INTERVAL`] (20 s); `None` turns it off.
    ///
    /// A Ping keeps NATs and proxies from dropping a quiet connection, and
    /// with [`ping_timeout`](Self::ping_timeout) detects a peer that went
    /// away without closing. Any byte received counts as activity, so a busy
    /// connection sends no pings. Receiving only notes that bytes came (it
    /// reads no clock); the deadline that falls due next sees the note and
    /// starts the period again from then. So the Ping goes out one to two
    /// intervals after the last byte (20–40 s with the default), and a
    /// peer gone silent is dropped 40–60 s after its last byte. Needs the caller to drive time (see
    /// [`Connection::poll_timeout`](crate::Connection::poll_timeout)).
    pub ping_interval: Option<Duration>,
    /// Dead peer: fail the connection when nothing at all arrives within
    /// this long of a keepalive Ping. Default [`DEFAULT_PING_TIMEOUT`]
    /// (20 s); `None` turns it off (pings are still sent).
    ///
    /// The connection then sends Close 1011 with the reason "keepalive ping
    /// timeout" (as Python's `websockets` does), and
    /// [`Connection::handle_timeout`](crate::Connection::handle_timeout)
    /// reports a Close event with code 1006, since no Close came from the
    /// peer.
    pub ping_timeout: Option<Duration>,
    /// Dead peer: fail the connection when nothing at all arrives for this
    /// long, pings or not. Default `None` (off). Reported like
    /// [`ping_timeout`](Self::ping_timeout), with the reason "idle timeout".
    pub idle_timeout: Option<Duration>,
    /// Close handshake: once our Close is sent, wait at most this long for
    /// the peer's Close (and, for a client, for the server to close the
    /// transport after it, RFC 6455 §7.1.1). Default
    /// [`DEFAULT_CLOSE_TIMEOUT`] (10 s); `None` waits forever.
    ///
    /// When it passes, [`Connection::should_close_transport`](crate::Connection::should_close_transport)
    /// becomes true and, if the peer's Close never came,
    /// [`Connection::handle_timeout`](crate::Connection::handle_timeout)
    /// reports a Close event with code 1006, as for an abrupt end.
    pub close_timeout: Option<Duration>,
}

/// What a data frame that carries no payload and does not end its message
/// costs, in bytes of the message's allowance for such frames:
/// [`Config::max_message_size`], or 64 KiB (1 024 such frames) if that is
/// less, so that small limits still admit a few empty fragments (Autobahn
/// case 6.1.2 sends three).
///
/// Such a frame brings nothing, so the size limit alone would let a peer
/// keep one message open forever at a few bytes per frame (the fragment
/// flood Node's `ws` patched in 2026). Charging each as if it carried 64
/// bytes, the smallest fragment the Autobahn testsuite sends, lets a message
/// have as many empty frames as a message of the maximum size has 64-byte
/// fragments, and no more.
pub const EMPTY_FRAME_COST: u64 = 64;

/// The least allowance for a message's empty frames, in bytes: 1 024 frames.
pub(crate) const MIN_EMPTY_ALLOWANCE: u64 = 1024 * EMPTY_FRAME_COST;

impl Config {
    /// The largest data frame payload admitted:
    /// [`max_frame_payload`](Self::max_frame_payload), or
    /// [`max_message_size`](Self::max_message_size) when that is 0 or
    /// larger. A compressed frame may carry up to twice this.
    ///
    /// ```
    /// use wsmachine::Config;
    /// assert_eq!(Config::default().frame_limit(), 64 << 20);
    /// let config = Config { max_frame_payload: 1 << 20, ..Config::default() };
    /// assert_eq!(config.frame_limit(), 1 << 20);
    /// ```
    #[inline]
    pub const fn frame_limit(&self) -> u64 {
        frame_limit(self.max_frame_payload, self.max_message_size)
    }

    /// The same limits with every timer off: no keepalive, no idle
    /// timeout, a close handshake waited for as long as it takes.
    ///
    /// ```
    /// use wsmachine::Config;
    /// let config = Config { max_message_size: 1 << 20, ..Config::default() }.without_timers();
    /// assert_eq!((config.ping_interval, config.ping_timeout), (None, None));
    /// assert_eq!((config.idle_timeout, config.close_timeout), (None, None));
    /// assert_eq!(config.max_message_size, 1 << 20);
    /// ```
    #[must_use]
    pub const fn without_timers(self) -> Self {
        Config { ping_interval: None, ping_timeout: None, idle_timeout: None, close_timeout: None, ..self }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_payload: 0,
            max_message_size: 64 << 20,
            max_fragments: 0,
            auto_pong: true,
            allow_non_minimal_lengths: false,
            extension_rsv_bits: RsvBits::NONE,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            ping_timeout: Some(DEFAULT_PING_TIMEOUT),
            idle_timeout: None,
            close_timeout: Some(DEFAULT_CLOSE_TIMEOUT),
        }
    }
}

/// The [`Config`] a connection keeps: the same limits, with the timer
/// durations packed into whole milliseconds (rounded up, at least 1, at most
/// `u32::MAX`: about 49 days), so the timers cost a connection 16 bytes
/// rather than 64.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) max_frame_payload: u64,
    pub(crate) max_message_size: u64,
    pub(crate) max_fragments: u32,
    pub(crate) auto_pong: bool,
    pub(crate) allow_non_minimal_lengths: bool,
    pub(crate) extension_rsv_bits: RsvBits,
    pub(crate) ping_interval: Option<NonZeroU32>,
    pub(crate) ping_timeout: Option<NonZeroU32>,
    pub(crate) idle_timeout: Option<NonZeroU32>,
    pub(crate) close_timeout: Option<NonZeroU32>,
}

/// The frame limit in force: `max_frame_payload`, or `max_message_size`
/// when that is 0 or larger.
const fn frame_limit(max_frame_payload: u64, max_message_size: u64) -> u64 {
    if max_frame_payload == 0 || max_frame_payload > max_message_size {
        max_message_size
    } else {
        max_frame_payload
    }
}

impl Settings {
    /// As [`Config::frame_limit`].
    #[inline]
    pub(crate) const fn frame_limit(&self) -> u64 {
        frame_limit(self.max_frame_payload, self.max_message_size)
    }

    pub(crate) fn new(config: Config) -> Self {
        let Config {
            max_frame_payload,
            max_message_size,
            max_fragments,
            auto_pong,
            allow_non_minimal_lengths,
            extension_rsv_bits,
            ping_interval,
            ping_timeout,
            idle_timeout,
            close_timeout,
        } = config;
        Settings {
            max_frame_payload,
            max_message_size,
            max_fragments,
            auto_pong,
            allow_non_minimal_lengths,
            extension_rsv_bits,
            ping_interval: ping_interval.map(packed_millis),
            ping_timeout: ping_timeout.map(packed_millis),
            idle_timeout: idle_timeout.map(packed_millis),
            close_timeout: close_timeout.map(packed_millis),
        }
    }

    pub(crate) fn config(&self) -> Config {
        let duration = |millis: Option<NonZeroU32>| millis.map(|m| Duration::from_millis(u64::from(m.get())));
        Config {
            max_frame_payload: self.max_frame_payload,
            max_message_size: self.max_message_size,
            max_fragments: self.max_fragments,
            auto_pong: self.auto_pong,
            allow_non_minimal_lengths: self.allow_non_minimal_lengths,
            extension_rsv_bits: self.extension_rsv_bits,
            ping_interval: duration(self.ping_interval),
            ping_timeout: duration(self.ping_timeout),
            idle_timeout: duration(self.idle_timeout),
            close_timeout: duration(self.close_timeout),
        }
    }
}

/// Whole milliseconds, rounded up: a timer never fires before its duration.
/// A zero duration counts as 1 ms, so a due timer always moves time on.
fn packed_millis(duration: Duration) -> NonZeroU32 {
    let millis = u32::try_from(crate::time::millis_rounded_up(duration)).unwrap_or(u32::MAX);
    NonZeroU32::new(millis).unwrap_or(NonZeroU32::MIN)
}

/// A set of the RSV bits of a frame header (RFC 6455 §5.2), as extensions
/// claim them: only RSV1, RSV2 and RSV3 can be represented, so a
/// [`Config`] cannot claim a bit that is not an RSV bit.
///
/// ```
/// use wsmachine::RsvBits;
/// assert_eq!(RsvBits::from_bits(0x40), Some(RsvBits::RSV1));
/// assert_eq!(RsvBits::from_bits(0x80), None, "FIN is no RSV bit");
/// assert_eq!((RsvBits::RSV1 | RsvBits::RSV3).bits(), 0x50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RsvBits(u8);

impl RsvBits {
    /// No bit.
    pub const NONE: RsvBits = RsvBits(0);
    /// RSV1 (`0x40` in the first header byte): permessage-deflate's bit.
    pub const RSV1: RsvBits = RsvBits(0x40);
    /// RSV2 (`0x20`).
    pub const RSV2: RsvBits = RsvBits(0x20);
    /// RSV3 (`0x10`).
    pub const RSV3: RsvBits = RsvBits(0x10);
    /// Every RSV bit.
    pub const ALL: RsvBits = RsvBits(0x70);

    /// The set with the bits of `bits` as they sit in the first header byte,
    /// or `None` if any other bit (FIN, an opcode bit) is set.
    pub const fn from_bits(bits: u8) -> Option<RsvBits> {
        if bits & !Self::ALL.0 == 0 {
            Some(RsvBits(bits))
        } else {
            None
        }
    }

    /// The bits as they sit in the first header byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is in this set.
    pub const fn contains(self, other: RsvBits) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for RsvBits {
    type Output = RsvBits;
    fn bitor(self, other: RsvBits) -> RsvBits {
        RsvBits(self.0 | other.0)
    }
}
