//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs byte `i` of the payload with byte `i % 4` of the key, so the
//! same function masks and unmasks. Payloads arrive in pieces, so the
//! functions take the offset of the piece inside the payload.

/// XORs `buf` in place with `key`, as bytes `offset..offset + buf.len()` of a
/// frame's payload. Returns the offset just past `buf`, to pass to the next
/// call for the same payload.
///
/// Works on 32-byte blocks the compiler turns into vector instructions on
/// common targets, with a byte loop for the tail.
///
/// ```
/// use wsmachine::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = *b"Hello";
/// // Mask in two pieces: the offset carries across the split.
/// let next = apply_mask(&mut payload[..2], key, 0);
/// apply_mask(&mut payload[2..], key, next);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    let rotated = rotate_key(key, offset);
    let word = key_word(rotated);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for chunk in block.chunks_exact_mut(8) {
            xor_word(chunk, word);
        }
    }
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for chunk in &mut words {
        xor_word(chunk, word);
    }
    // Whole words keep the key's phase, so the last 0-7 bytes start at key byte 0.
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= rotated[i & 3];
    }
    offset.wrapping_add(buf.len())
}

/// Copies `src` into `dst` (same length) masking as it goes: one pass over
/// the bytes instead of a copy followed by an in-place mask.
#[inline]
pub(crate) fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = key_word(key);
    let mut d_words = dst.chunks_exact_mut(8);
    let mut s_words = src.chunks_exact(8);
    for (d, s) in (&mut d_words).zip(&mut s_words) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(s);
        d.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    let d_tail = d_words.into_remainder();
    for (i, (d, s)) in d_tail.iter_mut().zip(s_words.remainder()).enumerate() {
        *d = s ^ key[i & 3];
    }
}

/// The 4-byte key repeated to fill a machine word, in memory order.
#[inline(always)]
fn key_word(key: [u8; 4]) -> u64 {
    u64::from(u32::from_ne_bytes(key)) * 0x0000_0001_0000_0001
}

/// XORs an 8-byte chunk with `word`; compiles to one load, xor and store.
#[inline(always)]
fn xor_word(chunk: &mut [u8], word: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
}

/// The key as seen from `offset` bytes into the payload: byte `i` of the
/// result is byte `(offset + i) % 4` of the key.
#[inline(always)]
pub(crate) fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // In little-endian order, moving byte k to position k - n is a right rotation by 8n bits.
    u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32).to_le_bytes()
}

/// The obvious byte loop, kept as the reference for differential tests.
#[doc(hidden)]
pub fn apply_mask_naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random_bytes(len: usize, seed: u32) -> alloc::vec::Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn matches_naive_at_every_length_and_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..200 {
            for offset in 0..8 {
                let data = pseudo_random_bytes(len, (len * 8 + offset) as u32);
                let mut fast = data.clone();
                let mut slow = data.clone();
                assert_eq!(apply_mask(&mut fast, key, offset), offset + len);
                apply_mask_naive(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                let mut copied = alloc::vec![0u8; len];
                copy_masked(&mut copied, &data, rotate_key(key, offset));
                assert_eq!(copied, slow, "copy_masked len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn any_split_equals_whole() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let data = pseudo_random_bytes(1000, 7);
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in [1usize, 3, 5, 31, 33, 64, 999] {
            let mut pieces = data.clone();
            let mut offset = 0;
            for chunk in pieces.chunks_mut(split) {
                offset = apply_mask(chunk, key, offset);
            }
            assert_eq!(pieces, whole, "split {split}");
        }
    }

    #[test]
    fn masking_twice_is_identity() {
        let data = pseudo_random_bytes(77, 3);
        let mut buf = data.clone();
        apply_mask(&mut buf, [1, 2, 3, 4], 2);
        apply_mask(&mut buf, [1, 2, 3, 4], 2);
        assert_eq!(buf, data);
    }
}
