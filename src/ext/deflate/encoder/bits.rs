//! The bit order of DEFLATE (RFC 1951 §3.1.1): values are packed starting
//! at the least significant bit of each byte.

use alloc::vec::Vec;

/// Appends bits to a byte vector, least significant bit first.
pub(super) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Bits not yet written out, the oldest in the lowest position.
    pending: u64,
    /// How many bits of `pending` are used; below 32 between calls.
    count: u32,
}

impl<'a> BitWriter<'a> {
    /// Starts writing at the end of `out`, which must end on a byte
    /// boundary (every compressed call ends with a sync flush).
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter { out, pending: 0, count: 0 }
    }

    /// Appends the low `count` bits of `bits` (`count` ≤ 32; the other bits
    /// of `bits` must be zero).
    #[inline]
    pub(super) fn put(&mut self, bits: u32, count: u32) {
        debug_assert!(count <= 32 && (count == 32 || bits >> count == 0));
        self.pending |= u64::from(bits) << self.count;
        self.count += count;
        if self.count >= 32 {
            // Whole 32-bit words go out at once: one append per several codes.
            self.out.extend_from_slice(&(self.pending as u32).to_le_bytes());
            self.pending >>= 32;
            self.count -= 32;
        }
    }

    /// Pads with zero bits to the next byte boundary and writes out
    /// everything pending.
    pub(super) fn align(&mut self) {
        while self.count > 0 {
            self.out.push(self.pending as u8);
            self.pending >>= 8;
            self.count = self.count.saturating_sub(8);
        }
        self.pending = 0;
    }

    /// Appends whole bytes; only on a byte boundary (after [`align`](Self::align)).
    pub(super) fn put_bytes(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.count, 0);
        crate::copy::extend(self.out, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_least_significant_bit_first() {
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        w.put(0b1, 1);
        w.put(0b01, 2);
        w.put(0b11111, 5);
        w.put(0x1234_5678, 32);
        w.put(0b101, 3);
        w.align();
        assert_eq!(out, [0b1111_1011, 0x78, 0x56, 0x34, 0x12, 0b101]);
    }
}
