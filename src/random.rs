//! Randomness as an input: client masking keys and handshake nonces.
//!
//! RFC 6455 §10.3 requires client masking keys to be unpredictable to the
//! application that chooses the payload, and §4.1 requires a fresh random
//! `Sec-WebSocket-Key` per handshake. The core never reaches for an RNG by
//! itself: it asks the [`RandomSource`] the caller handed it.
//!
//! [`SecureRandom`] is the source most callers want: a ChaCha12 keystream
//! (the construction `rand`'s `StdRng` uses) seeded once, from the operating
//! system with [`SecureRandom::from_os`] (feature `std`) or from a 32-byte
//! seed the caller obtained from its own entropy source (`no_std` targets).
//! Drawing a mask key then costs a few nanoseconds instead of a system call
//! per frame.

/// A source of random bytes for masking keys and handshake nonces.
///
/// Implementations MUST be unpredictable to whoever chooses the payload
/// (RFC 6455 §10.3): a counter, a fixed key or a clock is a security bug.
/// Deterministic implementations belong in tests only.
pub trait RandomSource {
    /// Fills `dest` entirely with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);

    /// A fresh 4-byte masking key. The default draws it with
    /// [`fill_bytes`](Self::fill_bytes); sources may provide a faster path,
    /// as a client draws one per frame.
    fn mask_key(&mut self) -> [u8; 4] {
        let mut key = [0u8; 4];
        self.fill_bytes(&mut key);
        key
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        (**self).fill_bytes(dest)
    }

    fn mask_key(&mut self) -> [u8; 4] {
        (**self).mask_key()
    }
}

/// A ChaCha12 keystream generator: a cryptographically secure, fast
/// [`RandomSource`] seeded once.
///
/// ```
/// use wsmachine::{RandomSource, SecureRandom};
/// // On a no_std target, the seed comes from the platform's entropy source.
/// let mut rng = SecureRandom::from_seed([42; 32]);
/// let mut key = [0u8; 4];
/// rng.fill_bytes(&mut key);
/// ```
#[derive(Clone)]
pub struct SecureRandom {
    key: [u32; 8],
    counter: u64,
    /// Keystream block; bytes `buf[pos..]` have not been handed out yet.
    buf: [u8; 64],
    pos: usize,
}

impl core::fmt::Debug for SecureRandom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.debug_struct("SecureRandom").finish_non_exhaustive()
    }
}

/// The operating system's random source failed.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsRandomError(getrandom::Error);

#[cfg(feature = "std")]
impl core::fmt::Display for OsRandomError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "operating system random source failed: {}", self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OsRandomError {}

impl SecureRandom {
    /// A generator keyed with `seed`. The seed MUST come from a secure
    /// entropy source; anyone who knows it can predict every mask key.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut key = [0u32; 8];
        for (k, chunk) in key.iter_mut().zip(seed.chunks_exact(4)) {
            *k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        SecureRandom { key, counter: 0, buf: [0; 64], pos: 64 }
    }

    /// A generator seeded from the operating system (`getrandom`).
    ///
    /// ```
    /// # fn main() -> Result<(), wsmachine::OsRandomError> {
    /// let rng = wsmachine::SecureRandom::from_os()?;
    /// # let _ = rng; Ok(()) }
    /// ```
    #[cfg(feature = "std")]
    pub fn from_os() -> Result<Self, OsRandomError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(OsRandomError)?;
        Ok(Self::from_seed(seed))
    }

    fn refill(&mut self) {
        self.buf = chacha_block::<6>(&self.key, self.counter, [0, 0]);
        self.counter = self.counter.wrapping_add(1);
        self.pos = 0;
    }
}

impl RandomSource for SecureRandom {
    fn fill_bytes(&mut self, mut dest: &mut [u8]) {
        while !dest.is_empty() {
            if self.pos == self.buf.len() {
                self.refill();
            }
            let n = dest.len().min(self.buf.len() - self.pos);
            let (head, tail) = dest.split_at_mut(n);
            head.copy_from_slice(&self.buf[self.pos..self.pos + n]);
            // Erase handed-out bytes so a later copy of the state cannot replay them.
            self.buf[self.pos..self.pos + n].fill(0);
            self.pos += n;
            dest = tail;
        }
    }

    #[inline]
    fn mask_key(&mut self) -> [u8; 4] {
        // Fixed-size copies: no call into memcpy/memset for four bytes.
        if self.pos > self.buf.len() - 4 {
            self.refill();
        }
        let at = self.pos;
        let mut key = [0u8; 4];
        if let Some(bytes) = self.buf.get_mut(at..at + 4) {
            key = [bytes[0], bytes[1], bytes[2], bytes[3]];
            bytes.copy_from_slice(&[0; 4]);
        }
        self.pos = at + 4;
        key
    }
}

#[inline(always)]
fn quarter_round(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// One ChaCha block with `DOUBLE_ROUNDS * 2` rounds, a 64-bit block counter
/// and a 64-bit nonce (the original Bernstein layout).
fn chacha_block<const DOUBLE_ROUNDS: usize>(key: &[u32; 8], counter: u64, nonce: [u32; 2]) -> [u8; 64] {
    let mut input = [0u32; 16];
    input[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    input[4..12].copy_from_slice(key);
    input[12] = counter as u32;
    input[13] = (counter >> 32) as u32;
    input[14] = nonce[0];
    input[15] = nonce[1];
    let mut s = input;
    for _ in 0..DOUBLE_ROUNDS {
        quarter_round(&mut s, 0, 4, 8, 12);
        quarter_round(&mut s, 1, 5, 9, 13);
        quarter_round(&mut s, 2, 6, 10, 14);
        quarter_round(&mut s, 3, 7, 11, 15);
        quarter_round(&mut s, 0, 5, 10, 15);
        quarter_round(&mut s, 1, 6, 11, 12);
        quarter_round(&mut s, 2, 7, 8, 13);
        quarter_round(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&s[i].wrapping_add(input[i]).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8439 §2.3.2 block test vector. RFC 8439 uses a 32-bit counter and
    /// a 96-bit nonce; with counter word 1 and nonce words (0x09000000,
    /// 0x4a000000, 0) the layouts coincide when the counter's high word
    /// carries the first nonce word.
    #[test]
    fn chacha20_matches_rfc8439_block_vector() {
        let key_bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
        let mut key = [0u32; 8];
        for (k, c) in key.iter_mut().zip(key_bytes.chunks_exact(4)) {
            *k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let counter = 1u64 | (0x0900_0000u64 << 32);
        let block = chacha_block::<10>(&key, counter, [0x4a00_0000, 0]);
        let expected_start =
            [0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4];
        let expected_end =
            [0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e];
        assert_eq!(block[..16], expected_start);
        assert_eq!(block[48..], expected_end);
    }

    #[test]
    fn mask_keys_come_from_the_keystream() {
        let mut a = SecureRandom::from_seed([5; 32]);
        let mut b = SecureRandom::from_seed([5; 32]);
        let mut stream = [0u8; 200];
        a.fill_bytes(&mut stream);
        for chunk in stream.chunks_exact(4).take(16) {
            assert_eq!(b.mask_key(), chunk);
        }
        // Near the end of the buffer, a key never straddles two refills.
        let mut c = SecureRandom::from_seed([5; 32]);
        c.fill_bytes(&mut [0u8; 62]);
        assert_eq!(c.mask_key(), stream[64..68]);
    }

    #[test]
    fn keystream_is_continuous_across_calls_and_seeds_differ() {
        let mut a = SecureRandom::from_seed([1; 32]);
        let mut whole = [0u8; 100];
        a.fill_bytes(&mut whole);
        let mut b = SecureRandom::from_seed([1; 32]);
        let mut pieces = [0u8; 100];
        for chunk in pieces.chunks_mut(7) {
            b.fill_bytes(chunk);
        }
        assert_eq!(whole, pieces);
        let mut c = SecureRandom::from_seed([2; 32]);
        let mut other = [0u8; 100];
        c.fill_bytes(&mut other);
        assert_ne!(whole, other);
        assert_ne!(whole[..32], whole[64..96]);
    }
}
