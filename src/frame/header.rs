//! Frame header decode and encode (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! ```

use super::OpCode;
use crate::output::{claim, BufferTooSmall, Output};

/// The longest possible header: 2 fixed bytes, an 8-byte length, a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
///
/// ```
/// use wsmachine::{FrameHeader, HeaderStatus, OpCode};
/// // RFC 6455 §5.7: a single-frame masked text message "Hello".
/// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let HeaderStatus::Complete { header, len } = FrameHeader::decode(&bytes)? else { unreachable!() };
/// assert_eq!(len, 6);
/// assert!(header.fin);
/// assert_eq!(header.opcode, OpCode::Text);
/// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
/// assert_eq!(header.payload_len, 5);
/// # Ok::<(), wsmachine::HeaderError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// This is the final fragment of a message.
    pub fin: bool,
    /// RSV1, claimed by extensions such as permessage-deflate.
    pub rsv1: bool,
    /// RSV2.
    pub rsv2: bool,
    /// RSV3.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes. Never above `i64::MAX` (§5.2: the most
    /// significant bit of the 64-bit form MUST be 0).
    pub payload_len: u64,
}

/// The result of [`FrameHeader::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStatus {
    /// The header is complete and used the first `len` bytes of the input.
    Complete {
        /// The decoded header.
        header: FrameHeader,
        /// How many input bytes the header occupies.
        len: usize,
    },
    /// The input ends inside the header; at least `needed` more bytes are
    /// required before decoding can make progress.
    Partial {
        /// How many more bytes to supply (at least 1).
        needed: usize,
    },
}

/// A header that can never be valid, whatever follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The 64-bit length has its most significant bit set (§5.2).
    LengthMsbSet,
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HeaderError::LengthMsbSet => f.write_str("64-bit payload length has its most significant bit set"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HeaderError {}

impl FrameHeader {
    /// Decodes a header from the start of `buf`.
    ///
    /// Incomplete input is [`HeaderStatus::Partial`], never an error. The
    /// only error is a length that no frame can have. Whether the length used
    /// its shortest form is a separate question: see
    /// [`FrameHeader::is_minimal_length`].
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<HeaderStatus, HeaderError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(HeaderStatus::Partial { needed: 2 - buf.len() }),
        };
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let len = 2 + ext + if masked { 4 } else { 0 };
        let Some(rest) = buf.get(2..len) else {
            return Ok(HeaderStatus::Partial { needed: len - buf.len() });
        };
        let (payload_len, key) = match ext {
            2 => (u64::from(u16::from_be_bytes([rest[0], rest[1]])), &rest[2..]),
            8 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&rest[..8]);
                let n = u64::from_be_bytes(be);
                if n >> 63 != 0 {
                    return Err(HeaderError::LengthMsbSet);
                }
                (n, &rest[8..])
            }
            _ => (u64::from(len7), rest),
        };
        let mask = match key {
            [a, b, c, d] => Some([*a, *b, *c, *d]),
            _ => None,
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode: OpCode::from_bits(b0),
            mask,
            payload_len,
        };
        Ok(HeaderStatus::Complete { header, len })
    }

    /// The number of bytes this header encodes to.
    pub const fn encoded_len(&self) -> usize {
        Self::encoded_len_for(self.payload_len, self.mask.is_some())
    }

    /// The encoded header size for a payload of `payload_len` bytes, using
    /// the shortest length form.
    pub const fn encoded_len_for(payload_len: u64, masked: bool) -> usize {
        let ext = if payload_len < 126 {
            0
        } else if payload_len <= 0xFFFF {
            2
        } else {
            8
        };
        2 + ext + if masked { 4 } else { 0 }
    }

    /// Whether a header that decoded from `decoded_len` bytes used the
    /// shortest length form, as RFC 6455 §5.2 requires ("the minimal number
    /// of bytes MUST be used to encode the length").
    pub const fn is_minimal_length(&self, decoded_len: usize) -> bool {
        decoded_len == self.encoded_len()
    }

    /// Writes the header (shortest length form) into `out`.
    ///
    /// Returns the number of bytes written, or [`BufferTooSmall`] with
    /// nothing written. A `payload_len` above `i64::MAX` has no encoding;
    /// it is reported as `BufferTooSmall { needed: usize::MAX }`.
    ///
    /// ```
    /// use wsmachine::{FrameHeader, OpCode};
    /// let header = FrameHeader::new(true, OpCode::Binary, None, 256);
    /// let mut buf = [0u8; 14];
    /// let n = header.encode(&mut buf[..])?;
    /// assert_eq!(&buf[..n], &[0x82, 0x7E, 0x01, 0x00]); // RFC 6455 §5.7
    /// # Ok::<(), wsmachine::BufferTooSmall>(())
    /// ```
    pub fn encode<O: Output + ?Sized>(&self, out: &mut O) -> Result<usize, BufferTooSmall> {
        if self.payload_len >> 63 != 0 {
            return Err(BufferTooSmall { needed: usize::MAX });
        }
        let len = self.encoded_len();
        let buf = claim(out, len)?;
        self.write_into(buf);
        Ok(len)
    }

    /// Writes the header into `buf`, which is exactly `encoded_len()` long.
    pub(crate) fn write_into(&self, buf: &mut [u8]) {
        let b0 = (u8::from(self.fin) << 7)
            | (u8::from(self.rsv1) << 6)
            | (u8::from(self.rsv2) << 5)
            | (u8::from(self.rsv3) << 4)
            | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        buf[0] = b0;
        let key_at = if self.payload_len < 126 {
            buf[1] = mask_bit | self.payload_len as u8;
            2
        } else if self.payload_len <= 0xFFFF {
            buf[1] = mask_bit | 126;
            buf[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            4
        } else {
            buf[1] = mask_bit | 127;
            buf[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            buf[key_at..key_at + 4].copy_from_slice(&key);
        }
    }

    /// A header with no RSV bits set.
    pub const fn new(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> Self {
        FrameHeader { fin, rsv1: false, rsv2: false, rsv3: false, opcode, mask, payload_len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (FrameHeader, usize) {
        match FrameHeader::decode(buf) {
            Ok(HeaderStatus::Complete { header, len }) => (header, len),
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    #[test]
    fn partial_says_how_many_more() {
        assert_eq!(FrameHeader::decode(&[]), Ok(HeaderStatus::Partial { needed: 2 }));
        assert_eq!(FrameHeader::decode(&[0x81]), Ok(HeaderStatus::Partial { needed: 1 }));
        assert_eq!(FrameHeader::decode(&[0x81, 0x85]), Ok(HeaderStatus::Partial { needed: 4 }));
        assert_eq!(FrameHeader::decode(&[0x82, 0x7F, 0]), Ok(HeaderStatus::Partial { needed: 7 }));
        assert_eq!(FrameHeader::decode(&[0x82, 0xFE, 0, 1]), Ok(HeaderStatus::Partial { needed: 4 }));
    }

    #[test]
    fn reject_length_msb() {
        let buf = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(FrameHeader::decode(&buf), Err(HeaderError::LengthMsbSet));
        let max = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(complete(&max).0.payload_len, i64::MAX as u64);
    }

    #[test]
    fn non_minimal_lengths_are_flagged() {
        let (h, len) = complete(&[0x82, 0x7E, 0x00, 0x05]);
        assert_eq!(h.payload_len, 5);
        assert!(!h.is_minimal_length(len));
        let (h, len) = complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
        assert!(!h.is_minimal_length(len));
        let (h, len) = complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert!(h.is_minimal_length(len));
    }

    #[test]
    fn encode_decode_round_trip_at_length_boundaries() {
        for len in [0u64, 1, 125, 126, 127, 0xFFFF, 0x1_0000, u32::MAX as u64 + 1, i64::MAX as u64] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for (fin, rsv) in [(true, false), (false, true)] {
                    let h = FrameHeader {
                        fin,
                        rsv1: rsv,
                        rsv2: !rsv,
                        rsv3: rsv,
                        opcode: OpCode::Binary,
                        mask,
                        payload_len: len,
                    };
                    let mut buf = [0u8; MAX_HEADER_LEN];
                    let n = h.encode(&mut buf[..]).expect("fits");
                    assert_eq!(n, h.encoded_len());
                    assert_eq!(complete(&buf[..n]), (h, n));
                    assert!(h.is_minimal_length(n));
                }
            }
        }
    }

    #[test]
    fn encode_into_small_buffer_writes_nothing() {
        let h = FrameHeader::new(true, OpCode::Text, Some([9; 4]), 300);
        let mut buf = [0xAAu8; 7];
        assert_eq!(h.encode(&mut buf[..]), Err(BufferTooSmall { needed: 8 }));
        assert_eq!(buf, [0xAA; 7]);
    }
}
