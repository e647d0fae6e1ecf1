//! The 4-bit frame opcode (RFC 6455 §5.2, §11.8).

/// A frame opcode. Unknown values are kept in [`OpCode::Reserved`] so a
/// decoder can report exactly what arrived.
///
/// ```
/// use wsmachine::OpCode;
/// assert_eq!(OpCode::from_bits(0x9), OpCode::Ping);
/// assert!(OpCode::Ping.is_control());
/// assert!(OpCode::from_bits(0x3).is_reserved());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: continues a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: connection close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
    /// `0x3`–`0x7` (reserved data) or `0xB`–`0xF` (reserved control). Always
    /// below 16.
    Reserved(u8),
}

impl OpCode {
    /// Maps the low four bits of `bits` to an opcode.
    pub const fn from_bits(bits: u8) -> OpCode {
        match bits & 0x0F {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => OpCode::Reserved(other),
        }
    }

    /// The 4-bit wire value.
    pub const fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(b) => b & 0x0F,
        }
    }

    /// Control frames have the high bit of the opcode set (§5.5).
    pub const fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }

    /// Data frames: continuation, text, binary and the reserved `0x3`–`0x7`.
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }

    /// Opcodes RFC 6455 reserves for future use; receiving one without an
    /// extension that defines it fails the connection (§5.2).
    pub const fn is_reserved(self) -> bool {
        matches!(self, OpCode::Reserved(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_round_trips() {
        for b in 0u8..16 {
            let op = OpCode::from_bits(b);
            assert_eq!(op.bits(), b);
            assert_eq!(op.is_control(), b >= 8);
            assert_eq!(op.is_reserved(), matches!(b, 3..=7 | 0xB..=0xF));
        }
    }
}
