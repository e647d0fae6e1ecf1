//! Where a handshake machine keeps the head while it arrives: storage of a
//! fixed size the caller provides, or a buffer that grows with the head.

/// Storage for the head a handshake machine collects: any fixed-size byte
/// storage (an array, `&mut [u8]`, a `Vec<u8>` of the wanted length), or,
/// with `alloc`, a [`HeadBuffer`] that grows to the head's length.
///
/// Sealed: implemented for every `AsRef<[u8]> + AsMut<[u8]>` type and for
/// [`HeadBuffer`], so the machines can rely on how it stores bytes.
pub trait HeadStorage: sealed::Sealed {
    /// The most bytes this storage can hold.
    fn max_len(&self) -> usize;

    /// Keeps `bytes` right after the first `at` bytes held, forgetting any
    /// held beyond `at`, and returns everything held. The machines call it
    /// with `at + bytes.len()` at most [`max_len`](Self::max_len).
    fn put(&mut self, at: usize, bytes: &[u8]) -> &[u8];

    /// The first `len` bytes held (fewer if it holds fewer).
    fn held(&self, len: usize) -> &[u8];
}

mod sealed {
    /// Keeps [`HeadStorage`](super::HeadStorage) to the implementations
    /// here.
    pub trait Sealed {}

    impl<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized> Sealed for T {}

    #[cfg(feature = "alloc")]
    impl Sealed for super::HeadBuffer {}

    #[cfg(feature = "alloc")]
    impl Sealed for &mut super::HeadBuffer {}
}

impl<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized> HeadStorage for T {
    fn max_len(&self) -> usize {
        self.as_ref().len()
    }

    fn put(&mut self, at: usize, bytes: &[u8]) -> &[u8] {
        let storage = self.as_mut();
        let end = at.saturating_add(bytes.len()).min(storage.len());
        if let (Some(room), Some(bytes)) = (storage.get_mut(at..end), bytes.get(..end.saturating_sub(at))) {
            room.copy_from_slice(bytes);
        }
        storage.get(..end).unwrap_or(&[])
    }

    fn held(&self, len: usize) -> &[u8] {
        let storage = self.as_ref();
        storage.get(..len).unwrap_or(storage)
    }
}

/// Head storage that grows with the head, up to
/// [`HandshakeConfig::max_head_len`](super::HandshakeConfig::max_head_len):
/// a machine holding one allocates only what the peer sent (a browser's
/// request is under 1 KiB) instead of zeroing and holding a fixed array of
/// [`DEFAULT_MAX_HEAD_LEN`](super::DEFAULT_MAX_HEAD_LEN) bytes. The
/// machines behind [`ServerStart`](crate::ServerStart) and
/// [`ClientStart`](crate::ClientStart), and so the adapters, use it.
///
/// ```
/// use wsmachine::handshake::{HandshakeConfig, Header, HeadBuffer, ServerHandshake, Status};
///
/// let mut server = ServerHandshake::with_storage(HandshakeConfig::new(), HeadBuffer::new());
/// let mut headers = [Header::EMPTY; 16];
/// let request = b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let Ok(Status::Complete(request)) = server.receive(request, &mut headers) else { panic!() };
/// assert_eq!(request.host(), "example.com");
/// ```
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadBuffer {
    bytes: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl HeadBuffer {
    /// An empty buffer; it allocates when the first bytes arrive.
    pub const fn new() -> Self {
        HeadBuffer { bytes: alloc::vec::Vec::new() }
    }

    /// The bytes it holds allocated (its capacity).
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(feature = "alloc")]
impl HeadStorage for HeadBuffer {
    fn max_len(&self) -> usize {
        usize::MAX
    }

    fn put(&mut self, at: usize, bytes: &[u8]) -> &[u8] {
        if self.bytes.capacity() == 0 {
            // The first bytes, usually the whole head: allocated to size,
            // without `Vec`'s growth arithmetic.
            self.bytes = bytes.to_vec();
            return &self.bytes;
        }
        self.bytes.truncate(at);
        // Left to `Vec`, growing doubles: feeding a head a byte at a time
        // stays linear in total, and the capacity stays under twice the
        // head limit (the machines never put more than the limit).
        self.bytes.extend_from_slice(bytes);
        &self.bytes
    }

    fn held(&self, len: usize) -> &[u8] {
        self.bytes.get(..len).unwrap_or(&self.bytes)
    }
}

/// A buffer lent for one handshake and kept for the next: what it
/// allocated serves again.
#[cfg(feature = "alloc")]
impl HeadStorage for &mut HeadBuffer {
    fn max_len(&self) -> usize {
        usize::MAX
    }

    fn put(&mut self, at: usize, bytes: &[u8]) -> &[u8] {
        (**self).put(at, bytes)
    }

    fn held(&self, len: usize) -> &[u8] {
        (**self).held(len)
    }
}
