//! Where encoded bytes go: a caller-owned slice, an array, or (with `alloc`) a `Vec`.

/// A destination for bytes the machines produce (frames, handshake answers).
///
/// Every writer in this crate asks for exactly the room it needs with
/// [`Output::claim`] and fills it completely, or fails without writing
/// anything; frames go through [`Output::write_frame`], which a destination
/// may override to avoid preparing room that is overwritten at once. The
/// three implementations:
///
/// - `[u8]` and `[u8; N]`: the bytes are written at the *start* of the slice;
///   the writer returns how many it wrote. To write several frames into one
///   buffer, pass `&mut buf[pos..]` and advance `pos`.
/// - `Vec<u8>` (feature `alloc`): the bytes are *appended*; the vector grows
///   (with `try_reserve`, so an allocation failure is an error, not an abort).
///
/// ```
/// use wsmachine::Output;
/// let mut buf = [0u8; 8];
/// let room = buf.claim(3).expect("8 bytes have room for 3");
/// room.copy_from_slice(b"abc");
/// assert_eq!(&buf[..3], b"abc");
/// assert!(buf.claim(9).is_none());
/// ```
pub trait Output {
    /// Returns a writable region of exactly `len` bytes, or `None` when the
    /// destination cannot hold that many. The region's previous contents are
    /// unspecified; callers overwrite all of it.
    fn claim(&mut self, len: usize) -> Option<&mut [u8]>;

    /// Whether `len` more bytes fit, as far as the destination can tell
    /// without writing (making room for them if it grows); nothing is
    /// written. A `false` lets a writer fail before doing any work (a
    /// client then draws no masking key). The provided method cannot tell
    /// and says `true`: [`write_frame`](Self::write_frame) reports the
    /// failure.
    fn reserve(&mut self, len: usize) -> bool {
        let _ = len;
        true
    }

    /// Writes one frame in one piece: `head` (its encoded header), then
    /// `payload`, XORed with `mask` when given (RFC 6455 §5.3: byte `i`
    /// with `mask[i % 4]`). Returns `false`, having written nothing, when
    /// the destination cannot hold `head.len() + payload.len()` bytes.
    ///
    /// The provided method claims the room and masks while copying. The
    /// `Vec<u8>` implementation appends instead, so the room is never
    /// zero-filled first. An override MUST write exactly these bytes.
    ///
    /// ```
    /// use wsmachine::Output;
    /// let mut buf = [0u8; 8];
    /// assert!(buf.write_frame(&[0x82, 0x03], b"abc", None));
    /// assert_eq!(&buf[..5], [0x82, 0x03, b'a', b'b', b'c']);
    /// let mut v = Vec::new();
    /// assert!(v.write_frame(&[0x82, 0x83, 1, 2, 3, 4], b"abc", Some([1, 2, 3, 4])));
    /// assert_eq!(v, [0x82, 0x83, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]);
    /// ```
    // Always inline: out of line, a client's small frame passed its header
    // and key through the stack, stored a byte at a time and loaded back
    // as wider words, which the CPU cannot forward from those stores; the
    // stall was about 2 ns of a 16-byte frame's 10 into a slice.
    #[inline(always)]
    fn write_frame(&mut self, head: &[u8], payload: &[u8], mask: Option<[u8; 4]>) -> bool {
        let Some(buf) = head.len().checked_add(payload.len()).and_then(|len| self.claim(len)) else {
            return false;
        };
        let (head_room, body) = buf.split_at_mut(head.len());
        copy_head(head_room, head);
        match mask {
            Some(key) => copy_masked(body, payload, key),
            None => crate::copy::copy(body, payload),
        }
        true
    }
}

impl Output for [u8] {
    fn claim(&mut self, len: usize) -> Option<&mut [u8]> {
        self.get_mut(..len)
    }

    fn reserve(&mut self, len: usize) -> bool {
        len <= self.len()
    }
}

impl<const N: usize> Output for [u8; N] {
    fn claim(&mut self, len: usize) -> Option<&mut [u8]> {
        self.get_mut(..len)
    }

    fn reserve(&mut self, len: usize) -> bool {
        len <= N
    }
}

#[cfg(feature = "alloc")]
impl Output for alloc::vec::Vec<u8> {
    fn claim(&mut self, len: usize) -> Option<&mut [u8]> {
        self.try_reserve(len).ok()?;
        let start = self.len();
        self.resize(start + len, 0);
        self.get_mut(start..)
    }

    #[inline]
    fn reserve(&mut self, len: usize) -> bool {
        self.try_reserve(len).is_ok()
    }

    /// Appends without zero-filling: the header and the payload are copied
    /// in; a masked payload is appended as the XOR of each 256-byte block
    /// with the key repeated, written straight into the spare room in one
    /// pass (with AVX2 when the CPU has it, as into a slice).
    #[inline(always)]
    fn write_frame(&mut self, head: &[u8], payload: &[u8], mask: Option<[u8; 4]>) -> bool {
        let Some(len) = head.len().checked_add(payload.len()) else { return false };
        if self.try_reserve(len).is_err() {
            return false;
        }
        // The header lengths of frames up to 64 KiB as fixed-size copies
        // (see `copy_head`).
        match head.len() {
            2 => self.extend_from_slice(&head[..2]),
            4 => self.extend_from_slice(&head[..4]),
            6 => self.extend_from_slice(&head[..6]),
            8 => self.extend_from_slice(&head[..8]),
            _ => self.extend_from_slice(head),
        }
        match mask {
            None => crate::copy::extend(self, payload),
            Some(key) => crate::mask::extend_masked(self, payload, key),
        }
        true
    }
}

/// The destination was too small for what had to be written; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// How many bytes the write needed in one piece.
    pub needed: usize,
}

impl core::fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "output buffer too small: {} bytes needed", self.needed)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BufferTooSmall {}

use crate::mask::copy_masked;

/// Copies a frame header (`dst` as long as `head`): the lengths of small
/// frames' headers (2 bytes, 6 masked) as fixed-size moves rather than a
/// `memcpy` call, which costs as much as the rest of a 16-byte frame.
#[inline(always)]
fn copy_head(dst: &mut [u8], head: &[u8]) {
    match (dst, head) {
        ([d0, d1], [h0, h1]) => [*d0, *d1] = [*h0, *h1],
        ([d0, d1, d2, d3, d4, d5], [h0, h1, h2, h3, h4, h5]) => {
            [*d0, *d1, *d2, *d3, *d4, *d5] = [*h0, *h1, *h2, *h3, *h4, *h5];
        }
        (dst, head) => dst.copy_from_slice(head),
    }
}

/// Claims `len` bytes of `out`, mapping failure to [`BufferTooSmall`].
pub(crate) fn claim<O: Output + ?Sized>(out: &mut O, len: usize) -> Result<&mut [u8], BufferTooSmall> {
    out.claim(len).ok_or(BufferTooSmall { needed: len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_claims_prefix_or_nothing() {
        let mut buf = [7u8; 4];
        assert_eq!(buf[..].claim(4).map(|r| r.len()), Some(4));
        assert!(buf[..].claim(5).is_none());
        assert_eq!(claim(&mut buf[..], 5), Err(BufferTooSmall { needed: 5 }));
    }

    /// A frame written into a `Vec` (appended) is byte for byte the frame
    /// written into a slice, masked or not, at every size around the
    /// block and word boundaries of both paths, after existing bytes.
    #[cfg(feature = "alloc")]
    #[test]
    fn vec_frames_match_slice_frames() {
        let payload: alloc::vec::Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let head = [0x82, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let mut lens: alloc::vec::Vec<usize> = (0..140).collect();
        // The masked path's 256-byte blocks (from which it may take
        // AVX2), and a block of reads.
        for edge in [64usize, 128, 256, 512, 1024, 65_536] {
            lens.extend(edge.saturating_sub(9)..edge + 9);
        }
        lens.push(payload.len());
        for len in lens {
            for mask in [None, Some([0x37, 0xfa, 0x21, 0x3d]), Some([0xff, 0, 0x80, 1])] {
                for head_len in [0, 2, 6, 14] {
                    let mut slice = alloc::vec![0xEEu8; head_len + len + 3];
                    assert!(slice[..].write_frame(&head[..head_len], &payload[..len], mask));
                    let mut vec = alloc::vec![9u8, 8, 7];
                    assert!(vec.write_frame(&head[..head_len], &payload[..len], mask));
                    assert_eq!(&vec[..3], [9, 8, 7]);
                    assert_eq!(&vec[3..], &slice[..head_len + len], "len {len} mask {mask:?} head {head_len}");
                    let mut naive = payload[..len].to_vec();
                    if let Some(key) = mask {
                        crate::mask::apply_mask_naive(&mut naive, key, 0);
                    }
                    assert_eq!(&vec[3 + head_len..], &naive[..], "len {len} mask {mask:?}");
                }
            }
        }
        // No room: nothing written.
        let mut small = [0u8; 4];
        assert!(!small[..].write_frame(&head[..2], b"abc", None));
        assert_eq!(small, [0; 4]);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn vec_appends() {
        let mut v = alloc::vec![1u8];
        if let Some(room) = v.claim(2) {
            room.copy_from_slice(&[2, 3]);
        }
        assert_eq!(v, [1, 2, 3]);
    }
}
