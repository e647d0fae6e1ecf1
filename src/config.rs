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
    /// RSV bits a negotiated extension has claimed. Default
    /// [`RsvBits::NONE`]: any RSV bit fails the connection with 1002 (§5.2).
    ///
    /// When RSV1 is claimed (permessage-deflate), a message whose first frame
    /// has RSV1 set is passed through without UTF-8 validation: its bytes are
    /// compressed, and the extension validates the inflated text.
    pub extension_rsv_bits: RsvBits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_payload: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 65_536,
            auto_pong: true,
            allow_non_minimal_lengths: false,
            extension_rsv_bits: RsvBits::NONE,
        }
    }
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
