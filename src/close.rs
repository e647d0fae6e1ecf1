//! Close codes and the Close frame payload (RFC 6455 §5.5.1, §7.4).

use crate::output::{claim, BufferTooSmall, Output};

/// A close status code (RFC 6455 §7.4).
///
/// ```
/// use wsmachine::CloseCode;
/// assert!(CloseCode::NORMAL.is_valid_on_wire());
/// assert!(!CloseCode::ABNORMAL.is_valid_on_wire()); // 1006 is never sent
/// assert!(CloseCode(4000).is_valid_on_wire());       // private use
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer violated the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a kind of data the endpoint cannot accept (e.g. binary only).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reserved; reports that a Close frame carried no code. Never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reserved; reports that the transport closed without a Close
    /// frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: (server) an unexpected condition prevented fulfilling the request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: (server) the service is restarting; a client may reconnect
    /// (registered with IANA).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: (server) temporary overload; a client should try again later
    /// (registered with IANA).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: (gateway) the upstream server gave an invalid answer
    /// (registered with IANA).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reserved; reports a TLS handshake failure. Never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether the code may appear in a Close frame: 1000–1003 and
    /// 1007–1014 (RFC 6455 §7.4.1 and the codes registered since in the
    /// IANA WebSocket Close Code Number Registry), and 3000–4999
    /// (registered and private use). 0–999, 1004–1006, 1015–2999 (the
    /// never-sent 1015, and codes reserved for future protocol use) and
    /// 5000 and above are not, as the Autobahn testsuite checks.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl core::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The longest close reason: a control payload is at most 125 bytes, two of
/// which are the code.
pub const MAX_CLOSE_REASON: usize = 123;

/// Why a Close frame payload is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClosePayloadError {
    /// A one-byte payload: a code needs two (§5.5.1).
    TooShort,
    /// More than 125 bytes: not a valid control frame (§5.5).
    TooLong,
    /// A code that may not be sent (§7.4).
    InvalidCode(u16),
    /// The reason is not UTF-8 (§5.5.1).
    InvalidReason,
}

impl core::fmt::Display for ClosePayloadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClosePayloadError::TooShort => f.write_str("close payload of one byte"),
            ClosePayloadError::TooLong => f.write_str("close payload over 125 bytes"),
            ClosePayloadError::InvalidCode(c) => write!(f, "close code {c} is not valid on the wire"),
            ClosePayloadError::InvalidReason => f.write_str("close reason is not valid UTF-8"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClosePayloadError {}

/// A Close frame's content, owned (at most 123 bytes of reason, kept inline).
///
/// A frame with no payload has code [`CloseCode::NO_STATUS`] (1005) and an
/// empty reason, which is how RFC 6455 §7.1.5 says to report it.
///
/// ```
/// use wsmachine::{CloseCode, CloseFrame};
/// let frame = CloseFrame::decode(&[0x03, 0xE8, b'b', b'y', b'e'])?;
/// assert_eq!(frame.code(), CloseCode::NORMAL);
/// assert_eq!(frame.reason(), "bye");
/// # Ok::<(), wsmachine::ClosePayloadError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame {
    code: CloseCode,
    /// `reason[..reason_len]` is valid UTF-8.
    reason: [u8; MAX_CLOSE_REASON],
    reason_len: u8,
}

impl core::fmt::Debug for CloseFrame {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CloseFrame").field("code", &self.code).field("reason", &self.reason()).finish()
    }
}

impl CloseFrame {
    /// A frame with `code` and `reason`, truncating the reason at a character
    /// boundary to fit 123 bytes. The code is not checked: use
    /// [`CloseCode::is_valid_on_wire`] before sending one from elsewhere.
    pub fn new(code: CloseCode, reason: &str) -> Self {
        let mut end = reason.len().min(MAX_CLOSE_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; MAX_CLOSE_REASON];
        buf[..end].copy_from_slice(&reason.as_bytes()[..end]);
        CloseFrame { code, reason: buf, reason_len: end as u8 }
    }

    /// The frame for a connection that ended without a Close frame (1006).
    pub fn abnormal() -> Self {
        Self::new(CloseCode::ABNORMAL, "")
    }

    /// Parses and validates a Close payload (already unmasked).
    pub fn decode(payload: &[u8]) -> Result<Self, ClosePayloadError> {
        match payload {
            [] => Ok(Self::new(CloseCode::NO_STATUS, "")),
            [_] => Err(ClosePayloadError::TooShort),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !CloseCode(code).is_valid_on_wire() {
                    return Err(ClosePayloadError::InvalidCode(code));
                }
                if reason.len() > MAX_CLOSE_REASON {
                    return Err(ClosePayloadError::TooLong);
                }
                let reason = core::str::from_utf8(reason).map_err(|_| ClosePayloadError::InvalidReason)?;
                Ok(Self::new(CloseCode(code), reason))
            }
        }
    }

    /// The status code; 1005 when the frame had none, 1006 for an abnormal end.
    pub fn code(&self) -> CloseCode {
        self.code
    }

    /// The reason text (possibly empty).
    pub fn reason(&self) -> &str {
        core::str::from_utf8(&self.reason[..usize::from(self.reason_len)]).unwrap_or_default()
    }

    /// The payload length this frame encodes to: 0 for 1005, else 2 + reason.
    pub fn encoded_len(&self) -> usize {
        if self.code == CloseCode::NO_STATUS {
            0
        } else {
            2 + usize::from(self.reason_len)
        }
    }

    /// Writes the Close payload (code and reason; nothing for 1005) into `out`.
    pub fn encode<O: Output + ?Sized>(&self, out: &mut O) -> Result<usize, BufferTooSmall> {
        let len = self.encoded_len();
        let buf = claim(out, len)?;
        self.write_into(buf);
        Ok(len)
    }

    pub(crate) fn write_into(&self, buf: &mut [u8]) {
        if let [hi, lo, rest @ ..] = buf {
            [*hi, *lo] = self.code.0.to_be_bytes();
            rest.copy_from_slice(&self.reason[..usize::from(self.reason_len)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_ranges_follow_rfc6455_7_4() {
        let valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
        let invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
        for c in valid {
            assert!(CloseCode(c).is_valid_on_wire(), "{c}");
        }
        for c in invalid {
            assert!(!CloseCode(c).is_valid_on_wire(), "{c}");
        }
    }

    #[test]
    fn decode_rules() {
        assert_eq!(CloseFrame::decode(&[]).map(|f| f.code()), Ok(CloseCode::NO_STATUS));
        assert_eq!(CloseFrame::decode(&[0x03]), Err(ClosePayloadError::TooShort));
        assert_eq!(CloseFrame::decode(&[0x03, 0xED]), Err(ClosePayloadError::InvalidCode(1005)));
        assert_eq!(CloseFrame::decode(&[0x03, 0xE8, 0xFF]), Err(ClosePayloadError::InvalidReason));
        let mut long = [b'a'; 126];
        long[..2].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(CloseFrame::decode(&long), Err(ClosePayloadError::TooLong));
        let ok = CloseFrame::decode(&long[..125]).expect("125 bytes is the maximum");
        assert_eq!(ok.reason().len(), 123);
    }

    #[test]
    fn encode_round_trips_and_truncates_on_char_boundary() {
        let frame = CloseFrame::new(CloseCode(4001), "ok");
        let mut buf = [0u8; 125];
        let n = frame.encode(&mut buf[..]).expect("fits");
        assert_eq!(&buf[..n], &[0x0F, 0xA1, b'o', b'k']);
        assert_eq!(CloseFrame::decode(&buf[..n]), Ok(frame));
        let long = "é".repeat(100); // 200 bytes
        let truncated = CloseFrame::new(CloseCode::NORMAL, &long);
        assert_eq!(truncated.reason().len(), 122);
        assert_eq!(CloseFrame::new(CloseCode::NO_STATUS, "").encoded_len(), 0);
    }
}
