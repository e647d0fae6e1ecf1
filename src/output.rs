//! Where encoded bytes go: a caller-owned slice, an array, or (with `alloc`) a `Vec`.

/// A destination for bytes the machines produce (frames, handshake answers).
///
/// Every writer in this crate asks for exactly the room it needs with
/// [`Output::claim`] and fills it completely, or fails without writing
/// anything. The three implementations:
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
}

impl Output for [u8] {
    fn claim(&mut self, len: usize) -> Option<&mut [u8]> {
        self.get_mut(..len)
    }
}

impl<const N: usize> Output for [u8; N] {
    fn claim(&mut self, len: usize) -> Option<&mut [u8]> {
        self.get_mut(..len)
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
