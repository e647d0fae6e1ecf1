//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs byte `i` of the payload with byte `i % 4` of the key, so the
//! same function masks and unmasks. Payloads arrive in pieces, so the
//! functions take the offset of the piece inside the payload.

// The one module with `unsafe` code: the large-buffer path compiled for
// AVX2, chosen at run time (which needs `std`).
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
#[allow(unsafe_code)]
mod simd;

/// XORs `buf` in place with `key`, as bytes `offset..offset + buf.len()` of a
/// frame's payload. Returns the offset just past `buf`, to pass to the next
/// call for the same payload.
///
/// Small buffers go through 32-byte blocks the compiler turns into vector
/// instructions, with a byte loop for the tail. Large ones are masked in
/// 8 KiB pieces from the last to the first, each from a 64-byte
/// boundary on: a buffer just filled by a read (or a copy) still has its
/// end in the fastest cache, so that end is masked before it is evicted,
/// and aligned vector stores never straddle two cache lines. With `std` on
/// x86 and x86-64, large buffers use AVX2 when the CPU has it (detected at
/// run time); elsewhere the same code runs with the target's baseline
/// instructions.
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
    if buf.len() < LARGE {
        mask_words(buf, rotate_key(key, offset));
    } else {
        mask_large(buf, key, offset);
    }
    offset.wrapping_add(buf.len())
}

/// From this many bytes on, [`apply_mask`] takes the large-buffer path:
/// below it the set-up (alignment, pieces) costs more than it saves, and
/// small frames keep the inline loop.
const LARGE: usize = 256;

/// The piece size of the large-buffer path: two pages, small enough that
/// several stay in the first-level cache.
const PIECE: usize = 8192;

/// The large-buffer path of [`apply_mask`], out of line so that small
/// frames do not carry its code.
#[inline(never)]
fn mask_large(buf: &mut [u8], key: [u8; 4], offset: usize) {
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    if simd::mask_pieces(buf, key, offset) {
        return;
    }
    mask_pieces(buf, key, offset);
}

/// Masks `buf` (bytes `offset..` of a payload) in pieces bounded by
/// addresses that are multiples of [`PIECE`], the last piece first.
#[inline(always)]
fn mask_pieces(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let base = buf.as_ptr() as usize;
    let mut end = buf.len();
    while end > 0 {
        // The piece starts at the multiple of `PIECE` below its last byte,
        // or at the start of `buf`.
        let start = ((base + end - 1) & !(PIECE - 1)).saturating_sub(base);
        mask_aligned(&mut buf[start..end], rotate_key(key, offset.wrapping_add(start)));
        end = start;
    }
}

/// Masks `buf` with `rotated` (the key seen from its first byte): the bytes
/// up to the first 64-byte boundary, then the aligned rest.
#[inline(always)]
fn mask_aligned(buf: &mut [u8], rotated: [u8; 4]) {
    let head = (buf.as_ptr() as usize).wrapping_neg() % 64;
    let (head, rest) = buf.split_at_mut(head.min(buf.len()));
    mask_words(head, rotated);
    mask_words(rest, rotate_key(rotated, head.len()));
}

/// XORs `buf` with `rotated` from key byte 0: 32-byte blocks of machine
/// words (vector instructions once compiled), then words, then bytes.
#[inline(always)]
fn mask_words(buf: &mut [u8], rotated: [u8; 4]) {
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
}

/// Copies `src` into `dst` (same length) masking as it goes with `key`
/// (as seen from `src`'s first byte): one pass over the bytes instead of a
/// copy followed by an in-place mask. With `std` on x86 and x86-64, copies
/// of [`LARGE`] bytes and more use AVX2 when the CPU has it, as
/// [`apply_mask`] does.
#[inline]
pub(crate) fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    debug_assert_eq!(dst.len(), src.len());
    if src.len() >= LARGE {
        copy_masked_long(dst, src, key);
        return;
    }
    copy_masked_words(dst, src, key);
}

/// [`copy_masked`] from [`LARGE`] bytes on, out of line so that small
/// frames do not carry its code.
#[inline(never)]
fn copy_masked_long(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    if simd::copy_masked(dst, src, key) {
        return;
    }
    copy_masked_wide(dst, src, key);
}

/// The block [`copy_masked_wide`] and the AVX2 append copy take at a
/// time: four 256-bit vectors.
const WIDE_BLOCK: usize = 128;

/// The large-payload body of [`copy_masked`]: [`WIDE_BLOCK`]-byte blocks
/// of machine words, then [`copy_masked_words`] for the rest. The
/// compiler unrolled the 32-byte loop of `copy_masked_words` four times
/// by itself, behind a check that source and destination do not overlap;
/// written in wide blocks, the loop is unrolled as written.
#[inline(always)]
fn copy_masked_wide(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = key_word(key);
    let mut d_blocks = dst.chunks_exact_mut(WIDE_BLOCK);
    let mut s_blocks = src.chunks_exact(WIDE_BLOCK);
    for (d, s) in (&mut d_blocks).zip(&mut s_blocks) {
        for (d, s) in d.chunks_exact_mut(8).zip(s.chunks_exact(8)) {
            copy_word(d, s, word);
        }
    }
    // A multiple of 4: the rest starts at the key's phase.
    copy_masked_words(d_blocks.into_remainder(), s_blocks.remainder(), key);
}

/// Appends `src` to `vec` masking it as it goes with `key` (as seen from
/// `src`'s first byte), without zero-filling the room first. Short
/// payloads are appended and masked in place; longer ones are appended
/// as the XOR of each block with the key repeated over a block-sized
/// array, which the compiler turns into vector loads, XORs and stores
/// straight into the vector's spare room. With `std` on x86 and x86-64,
/// payloads of [`LARGE`] bytes and more use AVX2 when the CPU has it.
///
/// The short path is inlined into its caller and the long one is not:
/// called as one function, with the long path's 256-byte key pattern in
/// its stack frame, it was not inlined, and the call took about a tenth
/// of the time a client's 16-byte frame into a `Vec` takes.
#[cfg(feature = "alloc")]
#[inline(always)]
pub(crate) fn extend_masked(vec: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4]) {
    if src.len() < LARGE {
        let start = vec.len();
        vec.extend_from_slice(src);
        let appended = &mut vec[start..];
        match appended.len() {
            4..=7 => mask_ends::<4>(appended, key),
            8..=16 => mask_ends::<8>(appended, key),
            17..=32 => mask_ends::<16>(appended, key),
            _ => mask_words(appended, key),
        }
        return;
    }
    extend_masked_long(vec, src, key);
}

/// Masks `buf` (from `N` to `2 * N` bytes, from key byte 0) as its first
/// `N` and its last `N` bytes, both loaded before either is stored (they
/// may overlap), in the two accesses of a fixed size that `memcpy` and
/// the short copies of `crate::copy` make for such a length.
///
/// So the masked bytes are stored as they were just appended, and as
/// the next copy of the message (an echo sending it back) reads them:
/// each load finds one store that holds all of it and takes its bytes
/// from there. Masked a word at a time, a 20-byte message sent back at
/// once was read by 16-byte loads over 8-byte and 1-byte stores, and each
/// of those loads waited for the stores to reach the cache.
#[cfg(feature = "alloc")]
#[inline(always)]
fn mask_ends<const N: usize>(buf: &mut [u8], key: [u8; 4]) {
    let n = buf.len();
    let mut head = [0u8; N];
    let mut tail = [0u8; N];
    head.copy_from_slice(&buf[..N]);
    tail.copy_from_slice(&buf[n - N..]);
    xor_block(&mut head, key_word(key));
    xor_block(&mut tail, key_word(rotate_key(key, n - N)));
    buf[..N].copy_from_slice(&head);
    buf[n - N..].copy_from_slice(&tail);
}

/// XORs a block of 4 bytes or of whole 8-byte words with `word` (the key
/// repeated), a word at a time: XORed a byte at a time with the key's
/// bytes, the block was taken apart into bytes and put together again.
#[cfg(feature = "alloc")]
#[inline(always)]
fn xor_block(block: &mut [u8], word: u64) {
    if let Ok(four) = <&mut [u8; 4]>::try_from(&mut *block) {
        // Both halves of `word` are the key.
        *four = (u32::from_ne_bytes(*four) ^ word as u32).to_ne_bytes();
        return;
    }
    for chunk in block.chunks_exact_mut(8) {
        xor_word(chunk, word);
    }
}

/// [`extend_masked`] from [`LARGE`] bytes on.
#[cfg(feature = "alloc")]
#[inline(never)]
fn extend_masked_long(vec: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4]) {
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    if simd::extend_masked(vec, src, key) {
        return;
    }
    extend_masked_blocks(vec, src, key);
}

/// The block [`extend_masked_blocks`] appends at a time, and the length
/// of the repeated key it XORs each block with.
#[cfg(feature = "alloc")]
const EXTEND_BLOCK: usize = 256;

/// The large-payload body of [`extend_masked`].
#[cfg(feature = "alloc")]
#[inline(always)]
fn extend_masked_blocks(vec: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4]) {
    let pattern = repeated_key::<EXTEND_BLOCK>(key);
    vec.reserve(src.len());
    // `Zip` of two slices has an exact length, so `extend` writes the
    // bytes straight into the spare room in a loop the compiler
    // vectorises. A multiple of 4: every block starts at the key's phase.
    for block in src.chunks(EXTEND_BLOCK) {
        vec.extend(block.iter().zip(&pattern).map(|(b, k)| b ^ k));
    }
}

/// The portable body of [`copy_masked`]: 32-byte blocks of machine words
/// (vector instructions once compiled), then words, then bytes.
#[inline(always)]
fn copy_masked_words(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = key_word(key);
    let mut d_blocks = dst.chunks_exact_mut(32);
    let mut s_blocks = src.chunks_exact(32);
    for (d, s) in (&mut d_blocks).zip(&mut s_blocks) {
        for (d, s) in d.chunks_exact_mut(8).zip(s.chunks_exact(8)) {
            copy_word(d, s, word);
        }
    }
    let mut d_words = d_blocks.into_remainder().chunks_exact_mut(8);
    let mut s_words = s_blocks.remainder().chunks_exact(8);
    for (d, s) in (&mut d_words).zip(&mut s_words) {
        copy_word(d, s, word);
    }
    // Whole words keep the key's phase, so the last 0-7 bytes start at key byte 0.
    for (i, (d, s)) in d_words.into_remainder().iter_mut().zip(s_words.remainder()).enumerate() {
        *d = s ^ key[i & 3];
    }
}

/// Writes the 8-byte chunk `src` XORed with `word` to `dst`; compiles to
/// one load, xor and store.
#[inline(always)]
fn copy_word(dst: &mut [u8], src: &[u8], word: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(src);
    dst.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
}

/// The 4-byte key repeated over `N` bytes (a multiple of 8), in memory
/// order: what a block that starts at the key's phase is XORed with.
#[cfg(feature = "alloc")]
#[inline(always)]
fn repeated_key<const N: usize>(key: [u8; 4]) -> [u8; N] {
    let word = key_word(key).to_ne_bytes();
    let mut pattern = [0u8; N];
    for chunk in pattern.chunks_exact_mut(8) {
        chunk.copy_from_slice(&word);
    }
    pattern
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
        // Every length under Miri too, but with fewer offsets.
        let offsets = if cfg!(miri) { 3..4 } else { 0..8 };
        for len in 0..200 {
            for offset in offsets.clone() {
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

    /// Masks `data[start..]` from `offset` with the byte loop and with
    /// every other path that can run here (`apply_mask`, the portable
    /// large-buffer path at any length, the AVX2 one when the CPU has it),
    /// and compares.
    fn check_against_naive(data: &[u8], start: usize, key: [u8; 4], offset: usize) {
        let len = data.len() - start;
        let mut slow = data.to_vec();
        apply_mask_naive(&mut slow[start..], key, offset);
        let mut fast = data.to_vec();
        assert_eq!(apply_mask(&mut fast[start..], key, offset), offset + len);
        assert!(fast == slow, "apply_mask: len {len} start {start} offset {offset}");
        let mut portable = data.to_vec();
        mask_pieces(&mut portable[start..], key, offset);
        assert!(portable == slow, "portable: len {len} start {start} offset {offset}");
        #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
        {
            let mut simd = data.to_vec();
            if simd::mask_pieces(&mut simd[start..], key, offset) {
                assert!(simd == slow, "AVX2: len {len} start {start} offset {offset}");
            } else {
                assert!(simd == data, "AVX2 missing: buffer untouched");
            }
        }
        // Copies, into a destination whose alignment differs from the
        // source's.
        let to = (start * 7 + 3) % 32;
        let rotated = rotate_key(key, offset);
        let mut copied = alloc::vec![0u8; to + len];
        copy_masked(&mut copied[to..], &data[start..], rotated);
        assert!(copied[to..] == slow[start..], "copy_masked: len {len} start {start} to {to} offset {offset}");
        let mut portable = alloc::vec![0u8; to + len];
        copy_masked_words(&mut portable[to..], &data[start..], rotated);
        assert!(portable[to..] == slow[start..], "portable copy: len {len} start {start} to {to} offset {offset}");
        let mut wide = alloc::vec![0u8; to + len];
        copy_masked_wide(&mut wide[to..], &data[start..], rotated);
        assert!(wide[to..] == slow[start..], "portable wide copy: len {len} start {start} to {to} offset {offset}");
        #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
        {
            let mut simd = alloc::vec![0u8; to + len];
            if simd::copy_masked(&mut simd[to..], &data[start..], rotated) {
                assert!(simd[to..] == slow[start..], "AVX2 copy: len {len} start {start} to {to} offset {offset}");
            } else {
                assert!(simd.iter().all(|&b| b == 0), "AVX2 missing: destination untouched");
            }
        }
        // Appends, after bytes already there.
        let mut appended = alloc::vec![0xA5u8; to];
        extend_masked(&mut appended, &data[start..], rotated);
        assert!(appended[to..] == slow[start..], "extend_masked: len {len} start {start} to {to} offset {offset}");
        assert!(appended[..to].iter().all(|&b| b == 0xA5), "extend_masked: bytes before kept");
        let mut portable = alloc::vec![0xA5u8; to];
        extend_masked_blocks(&mut portable, &data[start..], rotated);
        assert!(portable[to..] == slow[start..], "portable extend: len {len} start {start} to {to} offset {offset}");
        #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
        {
            let mut simd = alloc::vec![0xA5u8; to];
            if simd::extend_masked(&mut simd, &data[start..], rotated) {
                assert!(simd[to..] == slow[start..], "AVX2 extend: len {len} start {start} to {to} offset {offset}");
            } else {
                assert_eq!(simd.len(), to, "AVX2 missing: vector untouched");
            }
            // Into room the vector already has: no reallocation first.
            let mut roomy = alloc::vec::Vec::with_capacity(to + len + 40);
            roomy.resize(to, 0xA5u8);
            if simd::extend_masked(&mut roomy, &data[start..], rotated) {
                assert!(
                    roomy[to..] == slow[start..],
                    "AVX2 extend into room: len {len} start {start} to {to} offset {offset}"
                );
                assert!(roomy[..to].iter().all(|&b| b == 0xA5), "AVX2 extend into room: bytes before kept");
            }
        }
    }

    #[test]
    fn matches_naive_at_every_phase_length_and_start() {
        let key = [0x9a, 0x0b, 0xfe, 0x71];
        let data = pseudo_random_bytes(300 + 64, 11);
        // Every key phase and length up to 300, from starts at every
        // position inside a 16-byte line. Under Miri, one unaligned start
        // and one phase per length (all four phases across lengths).
        let starts = if cfg!(miri) { 1..2 } else { 0..16 };
        for start in starts {
            for len in 0..=300 {
                let offsets = if cfg!(miri) { len % 4..len % 4 + 1 } else { 0..4 };
                for offset in offsets {
                    check_against_naive(&data[..start + len], start, key, offset);
                }
            }
        }
    }

    #[test]
    fn matches_naive_on_large_buffers() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let lens: &[usize] = if cfg!(miri) {
            &[LARGE, PIECE + 65]
        } else {
            &[LARGE - 1, LARGE, 1000, 4095, 4096, 4097, PIECE - 1, PIECE + 1, 3 * PIECE + 17, 65536, 65536 + 7, 200_003]
        };
        let data = pseudo_random_bytes(200_003 + 64, 5);
        for &len in lens {
            let starts: &[usize] = if cfg!(miri) { &[6] } else { &[0, 1, 2, 3, 6, 14, 31, 32, 63] };
            for &start in starts {
                let offsets = if cfg!(miri) { 1..3 } else { 0..4 };
                for offset in offsets {
                    check_against_naive(&data[..start + len], start, key, offset);
                }
            }
        }
    }

    /// Which path the tests above took: AVX2 whenever the build enables it
    /// (then run-time detection answers yes without asking the CPU); under
    /// Miri, which reports only the features enabled at compile time, never
    /// otherwise. CI runs Miri both ways.
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    #[test]
    fn avx2_path_taken_as_expected() {
        let mut buf = pseudo_random_bytes(LARGE + 3, 1);
        let taken = simd::mask_pieces(&mut buf, [1, 2, 3, 4], 0);
        let mut copy = alloc::vec![0u8; buf.len()];
        assert_eq!(simd::copy_masked(&mut copy, &buf, [1, 2, 3, 4]), taken, "both paths detect alike");
        assert_eq!(simd::extend_masked(&mut copy, &buf, [1, 2, 3, 4]), taken, "all paths detect alike");
        if cfg!(target_feature = "avx2") {
            assert!(taken, "AVX2 enabled at compile time, yet not used");
        } else if cfg!(miri) {
            assert!(!taken, "Miri reported AVX2 not enabled at compile time");
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
