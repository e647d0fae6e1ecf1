//! Negotiation of permessage-deflate (RFC 7692 §5, §7.1): the client's
//! offers, the server's pick and answer, and the client's check of that
//! answer.

use alloc::string::String;
use core::fmt::Write as _;

use crate::conn::Role;
use crate::handshake::{Extension, ExtensionParam};

/// The extension token (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The smallest LZ77 window a peer may ask for (RFC 7692 §7.1.2: 8–15).
pub const MIN_WINDOW_BITS: u8 = 8;
/// The largest LZ77 window, 32 KiB, and the default.
pub const MAX_WINDOW_BITS: u8 = 15;

/// What one end wants from permessage-deflate, and the limits it inflates
/// under. The same type serves both roles:
///
/// - a **client** builds its offer from it ([`offer`](Self::offer)) and
///   checks the server's answer against it ([`check_response`](Self::check_response));
/// - a **server** picks the first acceptable client offer with it
///   ([`accept`](Self::accept)) and answers with
///   [`DeflateParams::answer`].
///
/// Window sizes are in bits, 8–15 (values outside are clamped). This
/// implementation keeps every window from 8 to 15 when compressing (see the
/// module docs), so it never has to decline or round a requested size.
///
/// ```
/// use wsmachine::ext::deflate::DeflateConfig;
/// let config = DeflateConfig::default();
/// assert_eq!(config.offer(), "permessage-deflate; client_max_window_bits");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Ask (client) or announce (server) that the server compresses every
    /// message with a fresh context. Default `false`: context takeover
    /// compresses a stream of similar messages much better.
    pub server_no_context_takeover: bool,
    /// Ask (server) or announce (client) that the client compresses every
    /// message with a fresh context. Default `false`.
    pub client_no_context_takeover: bool,
    /// Client: the largest window the server may compress with (offered as
    /// `server_max_window_bits` when below 15). Server: the largest window
    /// it compresses with (answered as `server_max_window_bits` when below
    /// 15 or below what the client asked). Default 15.
    pub server_max_window_bits: u8,
    /// Server: the window it asks the client to compress with (answered as
    /// `client_max_window_bits` when the client offered that parameter and
    /// this is smaller). Client: the largest window it compresses with
    /// (offered as `client_max_window_bits=N` when below 15, bare
    /// otherwise). Default 15.
    pub client_max_window_bits: u8,
    /// DEFLATE effort, 0 (stored blocks only) to 9 (best), as zlib. Default
    /// 2: on JSON-like text in 1–16 KiB messages four to five times as
    /// fast as 6, for output about 5 points of ratio larger (1 is 1.3–1.6
    /// times as fast as 2, with output about 3 points larger and 64 KiB
    /// less memory at window 15).
    pub level: u8,
    /// Largest ratio of inflated to compressed bytes accepted in a message,
    /// checked once a message has inflated past 64 KiB; 0 turns the check
    /// off. Default 0 (off): `Config::max_message_size` already bounds what
    /// a message may inflate to, and DEFLATE itself cannot exceed about
    /// 1032:1. Set it (e.g. to 100) to refuse highly repetitive payloads
    /// early; exceeding it fails the connection with 1009.
    pub max_ratio: u32,
    /// Size of the pieces inflated data is handed out in (and of the buffer
    /// that holds one). Default 16 KiB.
    pub chunk_size: usize,
    /// Whole messages ([`Deflate::send_text`](super::Deflate::send_text),
    /// [`Deflate::send_binary`](super::Deflate::send_binary)) shorter than
    /// this many bytes are sent uncompressed, with RSV1 clear, as RFC 7692
    /// §6 allows per message; longer ones are compressed. Default 1024
    /// bytes, as Node's `ws`: below that, compressing costs 2–7 µs per
    /// message (against well under 0.1 µs to send it as it is) to save at
    /// most a few hundred bytes, and a connection that only sends short
    /// messages never allocates a compressor. Lower it to save bandwidth
    /// on small messages with context takeover (JSON of 256 bytes shrinks
    /// to about 80); 0 compresses every message. Fragments
    /// ([`Deflate::send_fragment`](super::Deflate::send_fragment)) are
    /// always compressed, their message's size being unknown.
    pub threshold: usize,
    /// Free the compressor and the inflater after every message, and
    /// re-create them at the next compressed one, in each direction without
    /// context takeover (ours when `*_no_context_takeover` applies to this
    /// end, the peer's when it applies to the peer); directions with context
    /// takeover keep their state, since it is the context. Also frees the
    /// inflate buffer ([`chunk_size`](Self::chunk_size)) and the compressed
    /// output between messages. Default `false`.
    ///
    /// This is the memory-lean setting, see
    /// [`memory_lean`](Self::memory_lean): a connection then holds nothing
    /// for permessage-deflate between messages, instead of about 253 KiB
    /// at window 15 (the compressor's window and hash chains, the
    /// inflater's 32 KiB window and the buffers). What it costs: setting up
    /// the compressor (about 190 KiB) and the inflater (about 43 KiB) again
    /// for every compressed message, about 2 µs per message measured,
    /// and, through no context takeover, larger output for streams of
    /// similar messages (JSON of 1 KiB: about 400 bytes instead of 270). Drain every
    /// [`Decode`](super::Decode) until `None`: the last call frees the
    /// inflate buffer.
    pub free_idle_state: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
            level: 2,
            max_ratio: 0,
            chunk_size: 16 * 1024,
            threshold: 1024,
            free_idle_state: false,
        }
    }
}

impl DeflateConfig {
    /// The memory-lean setting: no context takeover in either direction
    /// (asked of the peer and promised by this end) and
    /// [`free_idle_state`](Self::free_idle_state), so a connection holds no
    /// permessage-deflate state between messages. Other fields as
    /// [`Default`].
    ///
    /// A client offering it requires `server_no_context_takeover` from the
    /// server, which may then decline compression altogether: offer it
    /// first and the default second with [`offer_all`] to fall back. A
    /// server answers `client_no_context_takeover` to every client (RFC 7692
    /// §7.1.1.2 allows it unasked).
    ///
    /// ```
    /// use wsmachine::ext::deflate::DeflateConfig;
    /// let lean = DeflateConfig::memory_lean();
    /// assert_eq!(
    ///     lean.offer(),
    ///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"
    /// );
    /// ```
    pub fn memory_lean() -> Self {
        DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            free_idle_state: true,
            ..DeflateConfig::default()
        }
    }
}

fn clamp_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// The parameters both ends agreed on: what each end's compressor must
/// keep to. A window of `None` means the parameter is absent: 15 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with.
    pub server_max_window_bits: Option<u8>,
    /// The largest window the client compresses with.
    pub client_max_window_bits: Option<u8>,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value a server answers with
    /// (pass it as `Accept { extensions: Some(&answer), .. }`).
    ///
    /// ```
    /// use wsmachine::ext::deflate::DeflateParams;
    /// let params = DeflateParams { server_max_window_bits: Some(10), ..DeflateParams::default() };
    /// assert_eq!(params.answer(), "permessage-deflate; server_max_window_bits=10");
    /// ```
    pub fn answer(&self) -> String {
        let mut s = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            let _ = write!(s, "; server_max_window_bits={bits}");
        }
        if let Some(bits) = self.client_max_window_bits {
            let _ = write!(s, "; client_max_window_bits={bits}");
        }
        s
    }

    /// The window, in bits, the end in `role` compresses with (15 when
    /// the parameter is absent).
    pub fn window_bits(&self, role: Role) -> u8 {
        let bits = match role {
            Role::Server => self.server_max_window_bits,
            Role::Client => self.client_max_window_bits,
        };
        clamp_bits(bits.unwrap_or(MAX_WINDOW_BITS))
    }

    /// Whether the end in `role` resets its compression context after every
    /// message.
    pub fn no_context_takeover(&self, role: Role) -> bool {
        match role {
            Role::Server => self.server_no_context_takeover,
            Role::Client => self.client_no_context_takeover,
        }
    }
}

/// Why a client refuses the server's permessage-deflate answer (RFC 7692
/// §5.1: the client MUST fail the connection). The opening handshake has
/// failed: close the transport without speaking WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter RFC 7692 does not define for this direction.
    UnknownParameter,
    /// The same parameter twice in one element (§7.1).
    DuplicateParameter,
    /// A parameter value that is invalid: a value on a parameter that has
    /// none, or a window size that is not a decimal 8–15 without leading zeros.
    InvalidValue,
    /// permessage-deflate answered more than once.
    DuplicateExtension,
    /// The answer does not fit the offer: a window larger than offered,
    /// `client_max_window_bits` that was not offered, or a requested
    /// `server_no_context_takeover` / `server_max_window_bits` missing.
    NotOffered,
}

impl core::fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            NegotiationError::UnknownParameter => "permessage-deflate answer has an unknown parameter",
            NegotiationError::DuplicateParameter => "permessage-deflate answer repeats a parameter",
            NegotiationError::InvalidValue => "permessage-deflate answer has an invalid parameter value",
            NegotiationError::DuplicateExtension => "permessage-deflate answered more than once",
            NegotiationError::NotOffered => "permessage-deflate answer does not match the offer",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NegotiationError {}

/// One offer or answer element, parsed and checked (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Element {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the bare form (offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// A window size: "a decimal integer value without leading zeros between
/// 8 to 15, inclusive" (RFC 7692 §7.1.2.1), token or quoted-string.
fn window_value(p: &ExtensionParam<'_>) -> Option<u8> {
    let mut digits = [0u8; 2];
    let mut n = 0;
    for b in p.unescaped()? {
        *digits.get_mut(n)? = b;
        n += 1;
    }
    let bits = match &digits[..n] {
        [d @ b'8'..=b'9'] => d - b'0',
        [b'1', d @ b'0'..=b'5'] => 10 + d - b'0',
        _ => return None,
    };
    Some(bits)
}

fn parse_element(ext: &Extension<'_>, offer: bool) -> Result<Element, NegotiationError> {
    use NegotiationError as E;
    let mut e = Element::default();
    let mut seen = [false; 4];
    for p in ext.params() {
        let name = p.name();
        let slot = [
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits",
            "client_max_window_bits",
        ]
        .iter()
        .position(|known| name.eq_ignore_ascii_case(known))
        .ok_or(E::UnknownParameter)?;
        if core::mem::replace(&mut seen[slot], true) {
            return Err(E::DuplicateParameter);
        }
        match slot {
            0 | 1 => {
                // §7.1.1: these parameters have no value.
                if p.value().is_some() {
                    return Err(E::InvalidValue);
                }
                if slot == 0 {
                    e.server_no_context_takeover = true;
                } else {
                    e.client_no_context_takeover = true;
                }
            }
            2 => e.server_max_window_bits = Some(window_value(&p).ok_or(E::InvalidValue)?),
            _ => {
                // §7.1.2.2: the value may be absent in an offer, not in an answer.
                e.client_max_window_bits = match p.value() {
                    None if offer => Some(None),
                    None => return Err(E::InvalidValue),
                    Some(_) => Some(Some(window_value(&p).ok_or(E::InvalidValue)?)),
                };
            }
        }
    }
    Ok(e)
}

fn is_deflate(ext: &Extension<'_>) -> bool {
    ext.name().eq_ignore_ascii_case(EXTENSION_NAME)
}

impl DeflateConfig {
    fn write_offer(&self, s: &mut String) {
        s.push_str(EXTENSION_NAME);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        let server_bits = clamp_bits(self.server_max_window_bits);
        if server_bits < MAX_WINDOW_BITS {
            let _ = write!(s, "; server_max_window_bits={server_bits}");
        }
        // Always offered: the server may then ask for any window, all of
        // which this implementation keeps.
        let client_bits = clamp_bits(self.client_max_window_bits);
        if client_bits < MAX_WINDOW_BITS {
            let _ = write!(s, "; client_max_window_bits={client_bits}");
        } else {
            s.push_str("; client_max_window_bits");
        }
    }

    /// The client's `Sec-WebSocket-Extensions` offer (pass it as
    /// `ClientOptions { extensions: Some(&offer), .. }`). For several
    /// offers in order of preference, see [`offer_all`].
    pub fn offer(&self) -> String {
        let mut s = String::new();
        self.write_offer(&mut s);
        s
    }

    /// Server side: picks the first permessage-deflate offer among
    /// `offered` (e.g. `request.extensions()`) that this configuration can
    /// accept, and returns the agreed parameters; answer them with
    /// [`DeflateParams::answer`]. `None`: decline (answer no
    /// permessage-deflate).
    ///
    /// An offer with an unknown or repeated parameter, or an invalid value,
    /// is declined (RFC 7692 §5) and the next one considered.
    ///
    /// ```
    /// use wsmachine::ext::deflate::DeflateConfig;
    /// use wsmachine::handshake::Extensions;
    /// let offers = Extensions::parse(
    ///     "permessage-deflate; server_max_window_bits=8; x=1, permessage-deflate; server_max_window_bits=10",
    /// ).unwrap();
    /// let params = DeflateConfig::default().accept(offers).unwrap();
    /// assert_eq!(params.answer(), "permessage-deflate; server_max_window_bits=10");
    /// ```
    pub fn accept<'b>(&self, offered: impl IntoIterator<Item = Extension<'b>>) -> Option<DeflateParams> {
        offered.into_iter().filter(is_deflate).find_map(|ext| {
            let offer = parse_element(&ext, true).ok()?;
            let own_server_bits = clamp_bits(self.server_max_window_bits);
            // §7.1.2.1: answer with the same or a smaller value when asked;
            // otherwise announce our own limit if it is below 15.
            let server_max_window_bits = match offer.server_max_window_bits {
                Some(asked) => Some(asked.min(own_server_bits)),
                None if own_server_bits < MAX_WINDOW_BITS => Some(own_server_bits),
                None => None,
            };
            // §7.1.2.2: only if the client offered the parameter.
            let own_client_bits = clamp_bits(self.client_max_window_bits);
            let client_max_window_bits = match offer.client_max_window_bits {
                Some(limit) if own_client_bits < limit.unwrap_or(MAX_WINDOW_BITS) => Some(own_client_bits),
                _ => None,
            };
            Some(DeflateParams {
                server_no_context_takeover: offer.server_no_context_takeover || self.server_no_context_takeover,
                // §7.1.1.2: offered, it is the client's promise; echoing it
                // makes both ends' parameters the same.
                client_no_context_takeover: offer.client_no_context_takeover || self.client_no_context_takeover,
                server_max_window_bits,
                client_max_window_bits,
            })
        })
    }

    /// Client side: checks the server's answer (e.g. `response.extensions()`)
    /// against this configuration's offer. `Ok(None)`: the server declined
    /// permessage-deflate; `Ok(Some(params))`: it is in use with these
    /// parameters.
    ///
    /// # Errors
    ///
    /// A [`NegotiationError`] when the answer is malformed or does not fit
    /// the offer (RFC 7692 §5.1): fail the connection.
    pub fn check_response<'b>(
        &self,
        answered: impl IntoIterator<Item = Extension<'b>>,
    ) -> Result<Option<DeflateParams>, NegotiationError> {
        check_response_any(core::slice::from_ref(self), answered).map(|agreed| agreed.map(|(_, params)| params))
    }

    fn agree(&self, answer: &Element) -> Result<DeflateParams, NegotiationError> {
        let own_server_bits = clamp_bits(self.server_max_window_bits);
        let own_client_bits = clamp_bits(self.client_max_window_bits);
        // §7.1.1.1 and §7.1.2.1: what we asked of the server must be granted.
        if self.server_no_context_takeover && !answer.server_no_context_takeover {
            return Err(NegotiationError::NotOffered);
        }
        match answer.server_max_window_bits {
            Some(bits) if bits > own_server_bits => return Err(NegotiationError::NotOffered),
            None if own_server_bits < MAX_WINDOW_BITS => return Err(NegotiationError::NotOffered),
            _ => {}
        }
        // §7.1.2.2: at most what we offered (our offers always carry the parameter).
        let client_bits = match answer.client_max_window_bits {
            Some(Some(bits)) if bits > own_client_bits => return Err(NegotiationError::NotOffered),
            Some(Some(bits)) => bits,
            _ => own_client_bits,
        };
        Ok(DeflateParams {
            server_no_context_takeover: answer.server_no_context_takeover,
            client_no_context_takeover: answer.client_no_context_takeover || self.client_no_context_takeover,
            server_max_window_bits: answer.server_max_window_bits,
            client_max_window_bits: (client_bits < MAX_WINDOW_BITS).then_some(client_bits),
        })
    }
}

/// Several client offers, in order of preference, as one
/// `Sec-WebSocket-Extensions` value.
///
/// ```
/// use wsmachine::ext::deflate::{offer_all, DeflateConfig};
/// let small = DeflateConfig { server_max_window_bits: 10, ..DeflateConfig::default() };
/// assert_eq!(
///     offer_all(&[small, DeflateConfig::default()]),
///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits, \
///      permessage-deflate; client_max_window_bits"
/// );
/// ```
pub fn offer_all(offers: &[DeflateConfig]) -> String {
    let mut s = String::new();
    for (i, offer) in offers.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        offer.write_offer(&mut s);
    }
    s
}

/// Client side, for several offers ([`offer_all`]): checks the server's
/// answer and returns which offer it accepted (the first one it fits) with
/// the agreed parameters, or `Ok(None)` if permessage-deflate was declined.
///
/// # Errors
///
/// As for [`DeflateConfig::check_response`]; when the answer fits no
/// offer, the error is the one the first offer gave.
pub fn check_response_any<'b>(
    offers: &[DeflateConfig],
    answered: impl IntoIterator<Item = Extension<'b>>,
) -> Result<Option<(usize, DeflateParams)>, NegotiationError> {
    let mut answer = None;
    for ext in answered.into_iter().filter(is_deflate) {
        if answer.is_some() {
            return Err(NegotiationError::DuplicateExtension);
        }
        answer = Some(parse_element(&ext, false)?);
    }
    let Some(answer) = answer else { return Ok(None) };
    let mut first_error = NegotiationError::NotOffered;
    for (i, offer) in offers.iter().enumerate() {
        match offer.agree(&answer) {
            Ok(params) => return Ok(Some((i, params))),
            Err(e) if i == 0 => first_error = e,
            Err(_) => {}
        }
    }
    Err(first_error)
}
