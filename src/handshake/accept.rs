//! `Sec-WebSocket-Accept` computation and `Sec-WebSocket-Key` checks (RFC 6455 §4.2.2 step 5.4).

use base64::Engine;

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A `Sec-WebSocket-Accept` value: 28 base64 characters.
///
/// ```
/// let accept = wsmachine::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII: the bytes come from the base64 encoder.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The value as bytes.
    pub fn as_bytes(&self) -> &[u8; 28] {
        &self.0
    }

    /// Compares with a received header value, in time independent of where
    /// the first difference is.
    pub fn matches(&self, value: &[u8]) -> bool {
        value.len() == self.0.len() && self.0.iter().zip(value).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl core::fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("AcceptKey").field(&self.as_str()).finish()
    }
}

impl core::fmt::Display for AcceptKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` value:
/// base64(SHA-1(key ++ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
///
/// `key` is the header value as sent (the base64 text, not its decoding),
/// without surrounding whitespace.
pub fn accept_key(key: &[u8]) -> AcceptKey {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    let digest = sha.digest().bytes();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 characters.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut out);
    AcceptKey(out)
}

/// Whether `key` is a base64 encoding of exactly 16 bytes (RFC 6455 §4.2.1
/// item 5): 22 characters of the standard alphabet and `==`. The unused
/// low bits of the last character are not checked: RFC 6455 §4.1 itself
/// gives `AQIDBAUGBwgJCgsMDQ4PEC==` as an example key, whose last character
/// carries non-zero unused bits.
/// Checked directly rather than decoded: nothing uses the 16 bytes.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    let is_base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    match key {
        [chars @ .., b'=', b'='] if chars.len() == 22 => chars.iter().fold(true, |ok, &b| ok & is_base64(b)),
        _ => false,
    }
}

/// Encodes 16 random bytes as a `Sec-WebSocket-Key` value.
pub(crate) fn encode_key(nonce: &[u8; 16]) -> [u8; 24] {
    let mut out = [0u8; 24];
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(nonce, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::alphabet;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

    /// Standard alphabet with canonical padding, trailing bits allowed: the
    /// decoding `is_valid_key` stands for.
    const KEY_ENGINE: GeneralPurpose =
        GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true));

    #[test]
    fn rfc6455_section_1_3_example() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn second_known_pair() {
        assert_eq!(accept_key(b"uRovscZjNol/umbTt5uKmw==").as_str(), "rLHCkw/SKsO9GAH/ZSFhBATDKrU=");
    }

    #[test]
    fn key_validation() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key(b"AQIDBAUGBwgJCgsMDQ4PEC=="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=!"));
        assert!(!is_valid_key(b""));
    }

    #[test]
    fn key_validation_agrees_with_decoding() {
        // Every byte in each position of a valid key, and each position
        // dropped: the direct check says what decoding to 16 bytes says.
        let decodes_to_16 = |key: &[u8]| {
            let mut decoded = [0u8; 18];
            key.len() == 24 && matches!(KEY_ENGINE.decode_slice(key, &mut decoded), Ok(16))
        };
        let valid = *b"dGhlIHNhbXBsZSBub25jZQ==";
        for at in 0..24 {
            for b in 0..=255u8 {
                let mut key = valid;
                key[at] = b;
                assert_eq!(is_valid_key(&key), decodes_to_16(&key), "{:?}", core::str::from_utf8(&key));
            }
            let mut short = valid.to_vec();
            short.remove(at);
            assert!(!is_valid_key(&short));
        }
    }

    #[test]
    fn encode_then_validate() {
        let key = encode_key(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        assert_eq!(&key, b"AQIDBAUGBwgJCgsMDQ4PEA==");
        assert!(is_valid_key(&key));
    }

    #[test]
    fn matches_compares_whole_value() {
        let a = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert!(a.matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert!(!a.matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo"));
        assert!(!a.matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOp="));
    }
}
