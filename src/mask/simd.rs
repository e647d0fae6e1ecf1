//! Masking with AVX2, chosen at run time: the only `unsafe` code in the
//! crate (compiled with `std` on x86 and x86-64 only).
//!
//! Masking in place and copying into a slice are the portable path's safe
//! code ([`super::mask_pieces`], [`super::copy_masked_wide`]), compiled a
//! second time with AVX2 enabled so that its blocks of machine words
//! become 256-bit loads, XORs and stores. What is unsafe is calling that copy: a
//! function compiled for a target feature may only run on a CPU that has
//! it. Appending to a `Vec` has a body of its own, which writes into the
//! vector's spare room and then sets its length (see
//! [`extend_masked_avx2`]). `is_x86_feature_detected!` checks at run
//! time; the standard library caches its answer, so each call costs one
//! load and a bit test. Measured on the decode benchmark (a 64 KiB read
//! copied into a buffer, then unmasked), AVX2 takes about a tenth off the
//! x86-64 baseline's (SSE2) time, which is what brings decoding to the
//! speed of a plain copy. Copying while masking (whole messages are
//! unmasked on their way into their buffer, client frames on their way
//! into the output) gains more: the baseline's 8-byte words cost about
//! twice a plain copy.

/// Masks `buf` (bytes `offset..` of a payload) as
/// [`mask_pieces`](super::mask_pieces) does, with AVX2 if this CPU has it.
/// Returns false, with `buf` untouched, if it does not.
#[inline]
pub(super) fn mask_pieces(buf: &mut [u8], key: [u8; 4], offset: usize) -> bool {
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: `mask_pieces_avx2` has no requirement but its target
        // feature, AVX2, and the check above found it on this CPU.
        unsafe { mask_pieces_avx2(buf, key, offset) };
        return true;
    }
    false
}

/// [`super::mask_pieces`] compiled for AVX2 (everything it calls is
/// `#[inline(always)]`, so all of it is).
///
/// # Safety
///
/// The CPU MUST support AVX2. The body is safe code.
#[target_feature(enable = "avx2")]
unsafe fn mask_pieces_avx2(buf: &mut [u8], key: [u8; 4], offset: usize) {
    super::mask_pieces(buf, key, offset);
}

/// Copies `src` into `dst` masking as it goes, as
/// [`copy_masked_wide`](super::copy_masked_wide) does, with AVX2 if this
/// CPU has it. Returns false, with `dst` untouched, if it does not.
#[inline]
pub(super) fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4]) -> bool {
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: `copy_masked_avx2` has no requirement but its target
        // feature, AVX2, and the check above found it on this CPU.
        unsafe { copy_masked_avx2(dst, src, key) };
        return true;
    }
    false
}

/// [`super::copy_masked_wide`] compiled for AVX2 (everything it calls is
/// `#[inline(always)]`, so all of it is).
///
/// # Safety
///
/// The CPU MUST support AVX2. The body is safe code.
#[target_feature(enable = "avx2")]
unsafe fn copy_masked_avx2(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    super::copy_masked_wide(dst, src, key);
}

/// Appends `src` to `vec` masking it as it goes, as
/// [`extend_masked_blocks`](super::extend_masked_blocks) does, with AVX2 if
/// this CPU has it. Returns false, with `vec` untouched, if it does not.
#[cfg(feature = "alloc")]
#[inline]
pub(super) fn extend_masked(vec: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4]) -> bool {
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: `extend_masked_avx2` has no requirement but its target
        // feature, AVX2, and the check above found it on this CPU.
        unsafe { extend_masked_avx2(vec, src, key) };
        return true;
    }
    false
}

/// Appends `src` to `vec` masking it as it goes, with AVX2: each block's
/// XOR with the key is written straight into the vector's spare room,
/// four 256-bit loads, XORs and stores for each 128-byte block, then one
/// for each 32-byte block of the rest, then bytes, and the length is set
/// once at the end. [`super::extend_masked_blocks`], the safe path,
/// appends with `Vec::extend` a 256-byte block at a time instead;
/// compiled for AVX2, that took about 8 % more time for a client's 64 KiB
/// frame encoded into a `Vec` and 10 % more at 1 KiB (the `output`
/// bench). One 32-byte block a loop turn, as this copy first was, took
/// about a tenth more time than four for a client's frame of 64 KiB or
/// 1 MiB. This is the copy that masks a client's frames into its output
/// and unmasks whole binary messages into their buffers.
///
/// # Safety
///
/// The CPU MUST support AVX2.
#[cfg(feature = "alloc")]
#[target_feature(enable = "avx2")]
unsafe fn extend_masked_avx2(vec: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4]) {
    let pattern = super::repeated_key::<{ super::WIDE_BLOCK }>(key);
    vec.reserve(src.len());
    let len = vec.len();
    let room = &mut vec.spare_capacity_mut()[..src.len()];
    // The bytes written from the start of `room` on, without a gap. Every
    // block is a multiple of 4 bytes, so each starts at the key's phase.
    let mut written = write_masked_blocks::<{ super::WIDE_BLOCK }>(room, src, &pattern);
    let short_pattern = super::repeated_key::<32>(key);
    written += write_masked_blocks::<32>(&mut room[written..], &src[written..], &short_pattern);
    for ((dst, byte), k) in room[written..].iter_mut().zip(&src[written..]).zip(&pattern) {
        dst.write(byte ^ k);
        written += 1;
    }
    // SAFETY: the writes above covered the first `written` bytes of the
    // spare room, in order from its start (whole blocks, then the bytes
    // left, each counted as written), and `room` is within the capacity
    // `reserve` made, so `len + written` bytes are initialised and within
    // capacity.
    unsafe { vec.set_len(len + written) };
}

/// Writes each whole `N`-byte block of `src`, XORed with `pattern`, into
/// the same place in `room`, and returns how many bytes that wrote, from
/// the start of `room` on. The pattern is typed as long as a block, so
/// that each block's `N` bytes are written, as the count says.
#[cfg(feature = "alloc")]
#[inline(always)]
fn write_masked_blocks<const N: usize>(
    room: &mut [core::mem::MaybeUninit<u8>],
    src: &[u8],
    pattern: &[u8; N],
) -> usize {
    let mut written = 0;
    for (dst, block) in room.chunks_exact_mut(N).zip(src.chunks_exact(N)) {
        for ((dst, byte), k) in dst.iter_mut().zip(block).zip(pattern) {
            dst.write(byte ^ k);
        }
        written += N;
    }
    written
}
