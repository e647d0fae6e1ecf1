//! Limits, timers and switches for a [`Connection`](crate::Connection).

use core::num::NonZeroU32;
use core::time::Duration;

/// Limits, timers and behaviour switches for a connection.
///
/// The defaults are safe for a public server: every limit is enforced from
/// a frame's header, before any of its payload is accepted, so a peer cannot
/// make the connection hold more than a control frame (125 bytes) of its
/// data, whatever it sends.
///
/// ```
/// use wsmachine::Config;
/// let config = Config { max_message_size: 1 << 20, ..Config::default() };
/// assert!(config.auto_pong);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest payload of a single data frame. Default 16 MiB. (Control
    /// frames are bounded at 125 bytes by RFC 6455 §5.5 whatever this says.)
    ///
    /// Streaming never buffers a payload, so this bounds what a peer may
    /// announce rather than memory; it matches tungstenite's default, which
    /// browsers and servers stay far below.
    pub max_frame_payload: u64,
    /// Largest message (the sum of its frames' payloads). Default 64 MiB.
    ///
    /// Enforced from each frame header: a message is refused with 1009 as
    /// soon as a header announces more than fits, before the payload
    /// arrives. This is also the limit the [`MessageAssembler`] holds, so
    /// it bounds the memory of a caller who assembles whole messages.
    ///
    /// [`MessageAssembler`]: crate::MessageAssembler
    pub max_message_size: u64,
    /// Most frames one message may span (0 counts as 1). Default 65 536.
    ///
    /// Empty continuation frames never grow a message, so a size limit alone
    /// lets a peer keep one message open forever at a few bytes per frame
    /// (the fragment flood Node's `ws` patched in 2026). 65 536 still admits
    /// the Autobahn testsuite's 4 MiB messages in 64-byte fragments.
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
    /// RSV bits a negotiated extension has claimed, as the bits of the first
    /// header byte (`0x40` = RSV1, `0x20` = RSV2, `0x10` = RSV3). Default 0:
    /// any RSV bit fails the connection with 1002 (§5.2).
    ///
    /// When RSV1 is claimed (permessage-deflate), a message whose first frame
    /// has RSV1 set is passed through without UTF-8 validation: its bytes are
    /// compressed, and the extension validates the inflated text.
    pub extension_rsv_bits: u8,
    /// Keepalive: after this long with nothing received, send a Ping.
    /// Default `None` (off).
    ///
    /// A Ping keeps NATs and proxies from dropping a quiet connection, and
    /// with [`ping_timeout`](Self::ping_timeout) detects a peer that went
    /// away without closing. Any byte received counts as activity, so a busy
    /// connection sends no pings. Needs the caller to drive time (see
    /// [`Connection::poll_timeout`](crate::Connection::poll_timeout)).
    pub ping_interval: Option<Duration>,
    /// Dead peer: fail the connection when nothing at all arrives within
    /// this long of a keepalive Ping. Default `None` (off).
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
    /// transport after it, RFC 6455 §7.1.1). Default `None` (wait forever).
    ///
    /// When it passes, [`Connection::should_close_transport`](crate::Connection::should_close_transport)
    /// becomes true and, if the peer's Close never came,
    /// [`Connection::handle_timeout`](crate::Connection::handle_timeout)
    /// reports a Close event with code 1006, as for an abrupt end.
    pub close_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_payload: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 65_536,
            auto_pong: true,
            allow_non_minimal_lengths: false,
            extension_rsv_bits: 0,
            ping_interval: None,
            ping_timeout: None,
            idle_timeout: None,
            close_timeout: None,
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
    pub(crate) extension_rsv_bits: u8,
    pub(crate) ping_interval: Option<NonZeroU32>,
    pub(crate) ping_timeout: Option<NonZeroU32>,
    pub(crate) idle_timeout: Option<NonZeroU32>,
    pub(crate) close_timeout: Option<NonZeroU32>,
}

impl Settings {
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
