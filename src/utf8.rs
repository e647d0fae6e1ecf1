//! Incremental, fail-fast UTF-8 validation (RFC 6455 §8.1).
//!
//! A text message arrives in frames and reads of any size, so a code point
//! can be split anywhere. The validator keeps the bytes of an unfinished
//! code point between calls (at most three) and reports an invalid byte in
//! the chunk where it arrives, not at the end of the message: a sequence
//! that can no longer become valid (an overlong prefix such as `E0 80`, a
//! surrogate such as `ED A0`, a value above U+10FFFF such as `F4 90`) fails
//! as soon as its offending byte is seen.

/// Validates a stream of UTF-8 fed in arbitrary pieces.
///
/// ```
/// use wsmachine::Utf8Validator;
/// let text = "κόσμε".as_bytes();
/// let mut v = Utf8Validator::new();
/// v.feed(&text[..3])?;          // splits the second character
/// v.feed(&text[3..])?;
/// v.finish()?;                  // nothing left unfinished
///
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(&[0xED, 0xA0]).is_err()); // a surrogate fails at its second byte
/// # Ok::<(), wsmachine::Utf8Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Bytes of an unfinished code point from earlier chunks; `pending[..pending_len]`.
    pending: [u8; 4],
    pending_len: u8,
}

/// Invalid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    /// Bytes of the failing chunk that were valid before the error.
    pub valid_up_to: usize,
}

impl core::fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid UTF-8 after {} valid bytes of the chunk", self.valid_up_to)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Utf8Error {}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator { pending: [0; 4], pending_len: 0 }
    }

    /// Whether the bytes fed so far end on a character boundary.
    pub const fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    /// Validates the next piece of the stream. Fails if `chunk` contains a
    /// byte that makes the stream invalid whatever follows.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        // Short ASCII chunks (small chat-style frames) skip the SIMD
        // validator's set-up cost; `is_ascii` works a word at a time.
        if self.pending_len == 0 && chunk.len() < 128 && is_ascii(chunk) {
            return Ok(());
        }
        let mut rest = chunk;
        if self.pending_len > 0 {
            rest = self.finish_pending(chunk, &mut |_| {})?;
        }
        match validate(rest) {
            Ok(()) => Ok(()),
            Err(e) => {
                let consumed = chunk.len() - rest.len();
                if e.invalid {
                    return Err(Utf8Error { valid_up_to: consumed + e.valid_up_to });
                }
                // A valid prefix of a code point ends the chunk: keep it.
                self.keep(&rest[e.valid_up_to..]);
                Ok(())
            }
        }
    }

    /// Validates the next piece as [`feed`](Self::feed) does, and appends
    /// its complete characters to `text`: a character split between pieces
    /// is appended by the piece that completes it, and the bytes of an
    /// unfinished one stay in [`pending`](Self::pending). Each byte is
    /// validated once, and the validation is what makes the `&str` that is
    /// appended, so whole text messages are built without checking them a
    /// second time. On error `text` holds the characters before the piece's
    /// invalid byte, or fewer.
    #[cfg(feature = "alloc")]
    pub(crate) fn feed_into(&mut self, chunk: &[u8], text: &mut alloc::string::String) -> Result<(), Utf8Error> {
        let mut rest = chunk;
        if self.pending_len > 0 {
            rest = self.finish_pending(chunk, &mut |c| text.push_str(c))?;
        }
        let consumed = chunk.len() - rest.len();
        // Split off a trailing unfinished sequence first, so the rest is
        // validated into a `&str` in one pass.
        let (head, tail) = rest.split_at(complete_prefix_len(rest));
        // Short pieces (small chat-style frames): `core`'s validator has no
        // set-up cost.
        let valid = if head.len() < 128 {
            core::str::from_utf8(head).map_err(|e| Stop { valid_up_to: e.valid_up_to(), invalid: true })
        } else {
            validate_str(head)
        };
        match valid {
            Ok(s) => crate::copy::push_str(text, s),
            Err(e) => {
                // `head` ends on a sequence boundary, so a stop inside it is
                // an invalid byte (an unfinished sequence counts as one).
                return Err(Utf8Error { valid_up_to: consumed + e.valid_up_to });
            }
        }
        match validate(tail) {
            Ok(()) => {}
            Err(e) if !e.invalid => self.keep(&tail[e.valid_up_to..]),
            Err(e) => return Err(Utf8Error { valid_up_to: consumed + head.len() + e.valid_up_to }),
        }
        Ok(())
    }

    /// The bytes of an unfinished code point that ended the pieces fed so
    /// far (at most three): a valid prefix of a character.
    #[cfg(feature = "alloc")]
    pub(crate) fn pending(&self) -> &[u8] {
        &self.pending[..usize::from(self.pending_len)]
    }

    /// Keeps `tail`, a valid prefix of a code point (at most three bytes).
    fn keep(&mut self, tail: &[u8]) {
        let n = tail.len().min(3);
        self.pending[..n].copy_from_slice(&tail[..n]);
        self.pending_len = n as u8;
    }

    /// Ends the message: fails if it stopped inside a code point. Resets the
    /// validator for the next message either way.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let complete = self.is_complete();
        self.reset();
        if complete {
            Ok(())
        } else {
            Err(Utf8Error { valid_up_to: 0 })
        }
    }

    /// Forgets any unfinished code point.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }

    /// Completes the pending code point with the first bytes of `chunk`
    /// (handing it to `completed` once whole); returns the rest of `chunk`.
    fn finish_pending<'c>(&mut self, chunk: &'c [u8], completed: &mut dyn FnMut(&str)) -> Result<&'c [u8], Utf8Error> {
        let have = usize::from(self.pending_len);
        let want = sequence_len(self.pending[0]);
        let take = (want - have).min(chunk.len());
        let mut buf = self.pending;
        buf[have..have + take].copy_from_slice(&chunk[..take]);
        match validate_str(&buf[..have + take]) {
            Ok(c) => {
                completed(c);
                self.pending_len = 0;
                Ok(&chunk[take..])
            }
            Err(e) if !e.invalid => {
                // Still unfinished: the chunk was too short to complete it.
                self.pending = buf;
                self.pending_len = (have + take) as u8;
                Ok(&[])
            }
            Err(e) => {
                self.pending_len = 0;
                Err(Utf8Error { valid_up_to: e.valid_up_to.saturating_sub(have) })
            }
        }
    }
}

/// The length of the sequence a valid leading byte starts; pending bytes
/// always start with one, as the validator only keeps valid prefixes.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}

/// How many bytes of `bytes` come before a trailing unfinished sequence:
/// all of them, unless one of the last three bytes is a leading byte whose
/// sequence needs more bytes than follow it (or a byte that can never
/// lead, which the validator then refuses).
#[cfg(feature = "alloc")]
fn complete_prefix_len(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(3) {
        let b = bytes[n - back];
        if b & 0xC0 != 0x80 {
            let needs = match b {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            return if needs > back { n - back } else { n };
        }
    }
    n
}

/// Whether `bytes` is valid UTF-8 by itself (a whole message), with the
/// same short-ASCII shortcut as [`Utf8Validator::feed`].
#[inline]
pub(crate) fn is_valid(bytes: &[u8]) -> bool {
    (bytes.len() < 128 && is_ascii(bytes)) || validate(bytes).is_ok()
}

/// Whether every byte is below 0x80, a word at a time with no early exit,
/// so the compiler can vectorise it (`<[u8]>::is_ascii` goes byte by byte
/// on short slices).
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        acc |= u64::from_ne_bytes(w);
    }
    let tail = words.remainder().iter().fold(0u8, |a, b| a | b);
    acc & 0x8080_8080_8080_8080 == 0 && tail < 0x80
}

/// `bytes` as text if valid UTF-8, with the fastest validator compiled in:
/// `simdutf8` at every length when it is, since on short text `core`'s
/// validator goes a byte at a time from a start that is not word-aligned
/// (such as a message lent from the read buffer), which costs more than
/// `simdutf8`'s set-up.
#[inline]
pub(crate) fn as_str(bytes: &[u8]) -> Option<&str> {
    #[cfg(feature = "simdutf8")]
    let text = simdutf8::basic::from_utf8(bytes).ok();
    #[cfg(not(feature = "simdutf8"))]
    let text = core::str::from_utf8(bytes).ok();
    text
}

/// Where validation stopped: `valid_up_to` bytes are valid; `invalid` is
/// true for a byte that can never be valid, false when the input merely
/// ends inside a code point.
struct Stop {
    valid_up_to: usize,
    invalid: bool,
}

/// Validates `bytes` with the fastest validator compiled in: `simdutf8`
/// (feature `simdutf8`, with run-time CPU detection under `std`) or
/// `core::str::from_utf8`. Both report errors identically.
#[inline]
fn validate(bytes: &[u8]) -> Result<(), Stop> {
    validate_str(bytes).map(drop)
}

/// As [`validate`], handing back the validated text.
#[inline]
fn validate_str(bytes: &[u8]) -> Result<&str, Stop> {
    #[cfg(feature = "simdutf8")]
    let result = simdutf8::compat::from_utf8(bytes)
        .map_err(|e| Stop { valid_up_to: e.valid_up_to(), invalid: e.error_len().is_some() });
    #[cfg(not(feature = "simdutf8"))]
    let result = core::str::from_utf8(bytes)
        .map_err(|e| Stop { valid_up_to: e.valid_up_to(), invalid: e.error_len().is_some() });
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_ok(pieces: &[&[u8]]) -> Result<(), Utf8Error> {
        let mut v = Utf8Validator::new();
        for p in pieces {
            v.feed(p)?;
        }
        v.finish()
    }

    #[test]
    fn agrees_with_core_on_every_split_of_samples() {
        let samples: &[&[u8]] = &[
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "κόσμε".as_bytes(),
            "\u{10FFFF}\u{FFFF}\u{0800}\u{0080}\u{007F}".as_bytes(),
            &[0xED, 0x9F, 0xBF],
            &[0xF4, 0x90, 0x80, 0x80],
            &[0xED, 0xA0, 0x80],
            &[0xE0, 0x80, 0xAF],
            &[0xC0, 0xAF],
            &[0xCE, 0xBA, 0xE1, 0xBD],
            &[0xFE],
            &[0x80],
            &[0xF0, 0x9F, 0x98],
            &[0x61, 0xF5],
        ];
        for s in samples {
            let expected = core::str::from_utf8(s).is_ok();
            for a in 0..=s.len() {
                for b in a..=s.len() {
                    let got = stream_ok(&[&s[..a], &s[a..b], &s[b..]]).is_ok();
                    assert_eq!(got, expected, "{s:x?} split at {a},{b}");
                }
            }
        }
    }

    /// Feeds `pieces` with `feed_into`; the text built, or the error.
    #[cfg(feature = "alloc")]
    fn stream_into(pieces: &[&[u8]]) -> Result<alloc::string::String, Utf8Error> {
        let mut v = Utf8Validator::new();
        let mut text = alloc::string::String::new();
        for p in pieces {
            let mut checked = v.clone();
            let expected = checked.feed(p);
            let got = v.feed_into(p, &mut text);
            // Same verdict as `feed`, error position included.
            assert_eq!(got, expected, "{pieces:x?}");
            got?;
            assert_eq!(v.pending(), checked.pending());
        }
        v.finish()?;
        Ok(text)
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn feed_into_builds_the_text_on_every_split_of_samples() {
        let samples: &[&[u8]] = &[
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "κόσμε".as_bytes(),
            "\u{10FFFF}\u{FFFF}\u{0800}\u{0080}\u{007F}".as_bytes(),
            "🦀 日本語 привет".as_bytes(),
            &[0xED, 0x9F, 0xBF],
            &[0xF4, 0x90, 0x80, 0x80],
            &[0xED, 0xA0, 0x80],
            &[0xE0, 0x80, 0xAF],
            &[0xC0, 0xAF],
            &[0xCE, 0xBA, 0xE1, 0xBD],
            &[0xFE],
            &[0x80],
            &[0x61, 0x80, 0x80, 0x80],
            &[0xF0, 0x9F, 0x98],
            &[0x61, 0xF5],
            &[0x61, 0xF8, 0x80],
        ];
        for s in samples {
            let expected = core::str::from_utf8(s).ok();
            for a in 0..=s.len() {
                for b in a..=s.len() {
                    let got = stream_into(&[&s[..a], &s[a..b], &s[b..]]).ok();
                    assert_eq!(got.as_deref(), expected, "{s:x?} split at {a},{b}");
                }
            }
        }
        // Long enough for the SIMD path, split everywhere near a character.
        let long = "ab🦀κό".repeat(40);
        for at in 0..long.len() {
            let (x, y) = long.as_bytes().split_at(at);
            assert_eq!(stream_into(&[x, y]).as_deref(), Ok(long.as_str()), "split at {at}");
        }
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn feed_into_matches_core_on_random_bytes() {
        let mut x = 7u32;
        for _ in 0..3000 {
            let len = (x % 300) as usize;
            let bytes: alloc::vec::Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Mostly valid text, with now and then an odd byte.
                    if x % 97 == 0 {
                        x as u8
                    } else {
                        [0x41, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0xA6, 0x80][(x % 10) as usize]
                    }
                })
                .collect();
            let cut = (x as usize) % (len + 1);
            let (a, b) = bytes.split_at(cut);
            let expected = core::str::from_utf8(&bytes).ok();
            assert_eq!(stream_into(&[a, b]).ok().as_deref(), expected, "{bytes:x?} cut {cut}");
        }
    }

    #[test]
    fn ascii_check_matches_core_at_every_length_and_position() {
        for len in 0..40 {
            let mut bytes = alloc::vec![b'a'; len];
            assert!(is_ascii(&bytes));
            for i in 0..len {
                bytes[i] = 0x80;
                assert!(!is_ascii(&bytes), "len {len} high byte at {i}");
                bytes[i] = b'a';
            }
        }
    }

    #[test]
    fn fails_fast_at_the_offending_byte() {
        // Surrogate, overlong and out-of-range prefixes fail at their second byte.
        for bad in [[0xED, 0xA0], [0xE0, 0x80], [0xF4, 0x90], [0xF0, 0x80]] {
            let mut v = Utf8Validator::new();
            assert!(v.feed(&bad[..1]).is_ok());
            assert_eq!(v.feed(&bad[1..]), Err(Utf8Error { valid_up_to: 0 }));
        }
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ab\xFFcd"), Err(Utf8Error { valid_up_to: 2 }));
        // Valid prefix held across chunks, then a bad continuation.
        let mut v = Utf8Validator::new();
        v.feed(b"x\xF0\x9F").expect("valid prefix");
        assert_eq!(v.feed(b"\x41"), Err(Utf8Error { valid_up_to: 0 }));
    }

    #[test]
    fn one_byte_at_a_time_matches_core() {
        let mut x = 99u32;
        for _ in 0..2000 {
            let len = (x % 9) as usize;
            let bytes: alloc::vec::Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Bias towards the interesting range.
                    [0x41, 0x80, 0xBF, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xA0, 0x90, x as u8][(x % 11) as usize]
                })
                .collect();
            let pieces: alloc::vec::Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(stream_ok(&pieces).is_ok(), core::str::from_utf8(&bytes).is_ok(), "{bytes:x?}");
        }
    }
}
