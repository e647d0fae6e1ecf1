//! Limits and switches for a [`Connection`](crate::Connection).

/// Limits and behaviour switches for a connection.
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
        }
    }
}
