//! Copies of payload-sized runs of bytes that keep memory speed wherever
//! the destination lies relative to the source.
//!
//! glibc's `memcpy` copies runs from a few KiB up to about the size of the
//! L2 cache with `rep movsb`. On CPUs that have fast short `rep movsb`
//! (AMD Zen 4, where this was measured) it runs about 20 times slower when
//! the destination starts 1 to 15 bytes past the source modulo 4 KiB, and
//! up to twice as slow from 16 to 31 bytes past: 16 KiB landing 8 bytes
//! past its source took 7.1 µs instead of 0.26–0.31 µs, 256 KiB 110 µs
//! instead of 5.3 µs. A payload copied behind a frame header, or from
//! behind one to the start of a buffer, lands just so whenever the two
//! buffers start at the same offset in their pages, as two large
//! allocations do. Such a copy goes in pieces of [`PIECE`] bytes instead,
//! each short enough for vector loads and stores, whose speed does not
//! depend on it (0.4 µs and 6.5 µs there, about 1.2–1.3 times a plain
//! copy that lands elsewhere, which is why only these copies go in pieces).
//! `benches/copies.rs` measures it through the encoder.
//!
//! Shorter runs keep one copy, with the length's comparison inline; the
//! check for longer ones is a subtraction and two comparisons. Runs of up
//! to 32 bytes (a small frame's payload) are copied without calling
//! `memcpy`: a server's 16-byte frame into a slice took about a quarter
//! less time so (`cargo bench -p wsmachine-benches --bench output`).

#[cfg(feature = "alloc")]
use alloc::{string::String, vec::Vec};

/// Runs of at most this many bytes are copied by [`copy_short`], without
/// a call.
const SHORT: usize = 32;

/// Runs shorter than this are copied whole: glibc turns to `rep movsb`
/// only for longer ones.
const PIECEWISE_FROM: usize = 2 * 1024;

/// The pieces a copy that would land just past its source is made in:
/// below every length from which glibc uses `rep movsb`.
const PIECE: usize = 1024;

/// How far past its source, modulo 4 KiB, a destination makes `rep movsb`
/// slower than the pieces are (measured: 1 to 31 bytes; from 32 on a
/// copy in one piece takes about as long or less).
const NEAR: usize = 32;

/// Whether a copy of `len` bytes from `src` to `dst` (addresses) goes in
/// pieces: long enough for `rep movsb`, landing 1 to 31 bytes past its
/// source modulo 4 KiB.
#[inline]
fn piecewise(dst: usize, src: usize, len: usize) -> bool {
    if len < PIECEWISE_FROM {
        return false;
    }
    let past = dst.wrapping_sub(src) % 4096;
    past != 0 && past < NEAR
}

/// Copies `src` into `dst` (of the same length), as `copy_from_slice`.
#[inline]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    if src.len() >= PIECEWISE_FROM {
        copy_long(dst, src);
    } else if src.len() <= SHORT {
        copy_short(dst, src);
    } else {
        dst.copy_from_slice(src);
    }
}

/// Copies `src` into `dst` (of the same length) for a short run: up to
/// 32 bytes as two copies of a fixed size that may overlap, inline, where
/// `copy_from_slice` calls `memcpy` for any length not known when
/// compiled; longer runs as `copy_from_slice`.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let dst = &mut dst[..n];
    match n {
        0..=3 => {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = *s;
            }
        }
        4..=7 => copy_ends::<4>(dst, src),
        8..=16 => copy_ends::<8>(dst, src),
        17..=32 => copy_ends::<16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Copies the first `N` and the last `N` bytes of `src` into `dst` (of
/// the same length, from `N` to `2 * N` bytes): all of it.
#[inline(always)]
fn copy_ends<const N: usize>(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    dst[..N].copy_from_slice(&src[..N]);
    dst[n - N..].copy_from_slice(&src[n - N..]);
}

/// [`copy`] of a run long enough for `rep movsb`. Out of line, as the
/// others below: the short copies that messages mostly make keep only
/// the length's comparison inline.
#[inline(never)]
fn copy_long(dst: &mut [u8], src: &[u8]) {
    if piecewise(dst.as_ptr() as usize, src.as_ptr() as usize, src.len()) {
        debug_assert_eq!(dst.len(), src.len());
        for (d, s) in dst.chunks_mut(PIECE).zip(src.chunks(PIECE)) {
            d.copy_from_slice(s);
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// Appends `src` to `vec`, as `extend_from_slice`.
#[cfg(feature = "alloc")]
#[inline]
pub(crate) fn extend(vec: &mut Vec<u8>, src: &[u8]) {
    if src.len() >= PIECEWISE_FROM {
        extend_long(vec, src);
    } else {
        vec.extend_from_slice(src);
    }
}

/// [`extend`] with a run long enough for `rep movsb`.
#[cfg(feature = "alloc")]
#[inline(never)]
fn extend_long(vec: &mut Vec<u8>, src: &[u8]) {
    // Where the bytes land is known once the room is there.
    vec.reserve(src.len());
    if piecewise(vec.as_ptr() as usize + vec.len(), src.as_ptr() as usize, src.len()) {
        for piece in src.chunks(PIECE) {
            vec.extend_from_slice(piece);
        }
    } else {
        vec.extend_from_slice(src);
    }
}

/// `src` in a new vector of exactly its length, as `to_vec`.
#[cfg(feature = "alloc")]
#[inline]
pub(crate) fn to_vec(src: &[u8]) -> Vec<u8> {
    if src.len() >= PIECEWISE_FROM {
        let mut vec = Vec::with_capacity(src.len());
        extend_long(&mut vec, src);
        return vec;
    }
    src.to_vec()
}

/// Appends `src` to `string`, as `push_str`; pieces end on character
/// boundaries.
#[cfg(feature = "alloc")]
#[inline]
pub(crate) fn push_str(string: &mut String, src: &str) {
    if src.len() >= PIECEWISE_FROM {
        push_str_long(string, src);
    } else {
        string.push_str(src);
    }
}

/// [`push_str`] with a run long enough for `rep movsb`.
#[cfg(feature = "alloc")]
#[inline(never)]
fn push_str_long(string: &mut String, src: &str) {
    string.reserve(src.len());
    if !piecewise(string.as_ptr() as usize + string.len(), src.as_ptr() as usize, src.len()) {
        string.push_str(src);
        return;
    }
    let mut rest = src;
    while !rest.is_empty() {
        // A character is at most 4 bytes, so a boundary is at most 3 bytes
        // before the piece's end.
        let mut end = rest.len().min(PIECE);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        string.push_str(piece);
        rest = tail;
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn short_copies_write_every_byte_and_no_more() {
        let src: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37).wrapping_add(1)).collect();
        for len in 0..=70 {
            for start in 0..3 {
                let mut dst = vec![0xEEu8; len + 2];
                copy_short(&mut dst[..len], &src[start..start + len]);
                assert_eq!(&dst[..len], &src[start..start + len], "len {len} start {start}");
                assert_eq!(dst[len..], [0xEE, 0xEE], "len {len}: nothing written past the run");
                let mut dst = vec![0xEEu8; len + 2];
                copy(&mut dst[..len], &src[start..start + len]);
                assert_eq!(&dst[..len], &src[start..start + len], "copy: len {len} start {start}");
                assert_eq!(dst[len..], [0xEE, 0xEE], "copy: len {len}: nothing written past the run");
            }
        }
    }

    #[test]
    fn pieces_only_for_long_runs_landing_just_past_their_source() {
        let src = 0x1_0000;
        // Landing 1 to 31 bytes past, modulo 4 KiB, whatever the page.
        for past in [1, 8, 15, 16, 31] {
            for page in [0, 4096, 5 * 4096] {
                assert!(piecewise(src + page + past, src, PIECEWISE_FROM), "{past} past, +{page}");
            }
            assert!(!piecewise(src + past, src, PIECEWISE_FROM - 1), "{past} past, short");
        }
        // On the same offset, further past, or before the source.
        for past in [0, 32, 40, 64, 100, 2048, 4095] {
            assert!(!piecewise(src + past, src, 1 << 20), "{past} past");
        }
        assert!(!piecewise(src - 8, src, 1 << 20));
        // Destinations below the source wrap around.
        assert!(piecewise(src - 4096 + 8, src, 1 << 20));
        assert!(piecewise(8, usize::MAX - 4095, 1 << 20));
    }

    /// The index in a buffer starting at `base` at which a copy of `src`
    /// lands `past` bytes past it, modulo 4 KiB.
    fn landing(base: *const u8, src: *const u8, past: usize) -> usize {
        (src as usize + past).wrapping_sub(base as usize) % 4096
    }

    /// Bytes that differ from each other and from their neighbours'.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// Every length around the thresholds and pieces, landing at every
    /// offset from just before to well past the source, modulo 4 KiB.
    fn cases() -> impl Iterator<Item = (usize, usize)> {
        let lens = [0, 1, 1023, 1024, 1025, PIECEWISE_FROM - 1, PIECEWISE_FROM, PIECEWISE_FROM + 1, 5000, 70_001];
        lens.into_iter().flat_map(|len| (0..80).chain([4090, 4095]).map(move |past| (len, past)))
    }

    #[test]
    fn copy_is_copy_from_slice_at_every_offset() {
        let source = pattern(70_001 + 4096);
        let mut room = vec![0u8; 70_001 + 2 * 4096];
        for (len, past) in cases() {
            let src = &source[..len];
            let at = landing(room.as_ptr(), src.as_ptr(), past);
            room.fill(0);
            copy(&mut room[at..at + len], src);
            assert_eq!(&room[at..at + len], src, "{len} bytes, {past} past");
            assert!(room[..at].iter().chain(&room[at + len..]).all(|&b| b == 0), "{len} bytes, {past} past");
        }
    }

    #[test]
    fn extend_and_to_vec_are_extend_from_slice_at_every_offset() {
        let source = pattern(70_001 + 4096);
        let mut vec: Vec<u8> = Vec::with_capacity(70_001 + 2 * 4096);
        for (len, past) in cases() {
            let src = &source[..len];
            let filled = landing(vec.as_ptr(), src.as_ptr(), past);
            vec.clear();
            vec.resize(filled, 0xAA);
            extend(&mut vec, src);
            assert_eq!(vec.len(), filled + len);
            assert!(vec[..filled].iter().all(|&b| b == 0xAA));
            assert_eq!(&vec[filled..], src, "{len} bytes, {past} past");
            assert_eq!(to_vec(src), src);
        }
    }

    #[test]
    fn push_str_keeps_characters_whole_at_every_offset() {
        // Characters of 1 to 4 bytes, so piece ends fall inside some.
        let text: String = "aé€😀".chars().cycle().take(30_000).collect();
        let mut string = String::with_capacity(text.len() + 2 * 4096);
        for len in [0, 1000, PIECEWISE_FROM + 3, 10_000, text.len()] {
            let mut end = len;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let src = &text[..end];
            for past in (0..70).chain([4095]) {
                let filled = landing(string.as_ptr(), src.as_ptr(), past);
                string.clear();
                string.push_str(&"x".repeat(filled));
                push_str(&mut string, src);
                assert_eq!(&string[..filled], "x".repeat(filled));
                assert_eq!(&string[filled..], src, "{end} bytes, {past} past");
            }
        }
    }
}
